//! An allocator that bounds what one fuzz input may allocate.
//!
//! A parser that allocates in proportion to a number it read (`count = 4000000000`)
//! rather than to the bytes it was given would take the whole machine down, and
//! `catch_unwind` can't catch that: the allocation fails and the process aborts. So a
//! binary that fuzzes installs [`BoundedAlloc`] as its global allocator; while an input
//! runs, the bytes it allocates on its thread (net of what it frees) are counted, and
//! passing the bound calls the hook set with [`on_exceeded`] (which names the input and
//! exits) before anything is asked of the system. Outside an input, and on other
//! threads, it is the system allocator plus one thread-local read.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// The system allocator, with a per-thread bound while a fuzz input runs.
pub struct BoundedAlloc;

thread_local! {
    /// The bound on this thread's net allocation, in bytes; 0 while no input runs.
    static LIMIT: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed on this thread since the input started.
    static NET: Cell<isize> = const { Cell::new(0) };
    /// Set while probing whether this allocator is installed.
    static PROBE: Cell<bool> = const { Cell::new(false) };
}

static SEEN_PROBE: AtomicBool = AtomicBool::new(false);

/// What to do when an input passes its bound: given the bytes it asked for in all.
/// Stored as a plain function pointer so the allocator takes no lock.
static HOOK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Sets what happens when an input allocates more than its bound. The hook runs inside
/// the allocator with the bound lifted, so it may allocate; the process aborts if it
/// returns.
pub fn on_exceeded(hook: fn(usize)) {
    HOOK.store(hook as *mut (), Ordering::SeqCst);
}

/// Whether [`BoundedAlloc`] is this binary's global allocator.
pub fn installed() -> bool {
    PROBE.with(|p| p.set(true));
    drop(std::hint::black_box(Box::new(0u64)));
    PROBE.with(|p| p.set(false));
    SEEN_PROBE.load(Ordering::Relaxed)
}

/// Bounds this thread's net allocation to `limit` bytes until [`end`].
pub fn begin(limit: usize) {
    NET.with(|n| n.set(0));
    LIMIT.with(|l| l.set(limit));
}

/// Lifts the bound; returns the input's net allocation at its end.
pub fn end() -> isize {
    LIMIT.with(|l| l.set(0));
    NET.with(Cell::get)
}

fn account(delta: isize) {
    // `try_with`: const-initialised thread-locals without destructors never fail, but
    // an allocator must not panic whatever happens.
    let _ = LIMIT.try_with(|limit| {
        let bound = limit.get();
        if bound == 0 {
            return;
        }
        let net = NET.with(|n| {
            let v = n.get().saturating_add(delta);
            n.set(v);
            v
        });
        if net > bound as isize {
            // Lifted first: the hook allocates, and must not come back here.
            limit.set(0);
            let hook = HOOK.load(Ordering::SeqCst);
            if !hook.is_null() {
                // SAFETY: only `on_exceeded` stores here, always a `fn(usize)`.
                let hook: fn(usize) = unsafe { std::mem::transmute(hook) };
                hook(net as usize);
            }
            std::process::abort();
        }
    });
}

// SAFETY: every call is passed on to `System` unchanged; the bookkeeping only reads
// and writes thread-locals.
unsafe impl GlobalAlloc for BoundedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if PROBE.try_with(Cell::get).unwrap_or(false) {
            SEEN_PROBE.store(true, Ordering::Relaxed);
        }
        account(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        account(layout.size() as isize);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        account(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        account(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}
