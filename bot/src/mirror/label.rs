//! The window, at a glance, in a Discord thread's name.
//!
//! Discord allows about two renames per thread every ten minutes, so a thread is
//! renamed when its window changes state (standard → human agent → expired, or the page
//! restricted), when the customer writes, and when its alert fires; not every hour.

use jiff::{SignedDuration, Timestamp};
use messenger::restriction::Restriction;
use messenger::window::Window;

/// Discord's limit on a channel name.
const NAME_LIMIT: usize = 100;

/// The label for a window: "🟢 23h left", "🟡 human agent · 6d", "🔴 expired",
/// "⛔ page restricted".
///
/// A restriction blocks tagged messages only, so it shows on threads that could only be
/// answered with a tag; a thread inside its 24-hour window still shows green.
pub fn label(window: &Window, restricted: bool) -> String {
    match window {
        Window::Standard { left, .. } => format!("🟢 {} left", coarse(*left, 3600)),
        Window::HumanAgent { .. } if restricted => "⛔ page restricted".into(),
        Window::HumanAgent { left, .. } => {
            format!("🟡 human agent · {}", coarse(*left, 86_400))
        }
        Window::Expired { .. } => "🔴 expired".into(),
    }
}

/// Time left, rounded down to the largest unit up to `largest` seconds: "6d", "23h",
/// "45m".
fn coarse(left: SignedDuration, largest: i64) -> String {
    let secs = left.as_secs().max(0);
    match secs {
        s if s >= 86_400 && largest >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s => format!("{}m", (s / 60).max(1)),
    }
}

/// The thread's full name: the label, then the customer, within Discord's limit.
pub fn thread_name(label: &str, customer: &str) -> String {
    let name = format!("{label} · {customer}");
    name.chars().take(NAME_LIMIT).collect()
}

/// When a thread's label next changes state on its own: the end of its current window,
/// or of the restriction that colours it.
pub fn next_change(window: &Window, restriction: Option<&Restriction>) -> Option<Timestamp> {
    let window_end = match window {
        Window::Standard { closes_at, .. } | Window::HumanAgent { closes_at, .. } => {
            Some(*closes_at)
        }
        Window::Expired { .. } => None,
    };
    let restriction_end = restriction.and_then(|r| r.until);
    match (window_end, restriction_end) {
        (Some(w), Some(r)) => Some(w.min(r)),
        (w, r) => w.or(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger::rules::META_2026;
    use messenger::ThreadState;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn label_after(since_message: SignedDuration, restricted: bool) -> String {
        let start = at("2026-11-20T09:00:00Z");
        let mut state = ThreadState::default();
        state.customer_acted(messenger::window::CustomerAction::Message, start);
        label(
            &Window::at(&state, start + since_message, &META_2026, true),
            restricted,
        )
    }

    #[test]
    fn labels_at_the_edges() {
        let h = SignedDuration::from_hours;
        let s = SignedDuration::from_secs;
        assert_eq!(label_after(s(0), false), "🟢 24h left");
        assert_eq!(label_after(s(1), false), "🟢 23h left");
        assert_eq!(label_after(h(23) + s(1), false), "🟢 59m left");
        assert_eq!(label_after(h(24) - s(1), false), "🟢 1m left");
        assert_eq!(label_after(h(24), false), "🟡 human agent · 6d");
        assert_eq!(label_after(h(24), true), "⛔ page restricted");
        assert_eq!(label_after(h(24 * 7) - s(1), false), "🟡 human agent · 1m");
        assert_eq!(label_after(h(24 * 7), false), "🔴 expired");
        assert_eq!(label_after(h(24 * 7), true), "🔴 expired");
        assert_eq!(label_after(h(2), true), "🟢 22h left");
    }

    #[test]
    fn names_fit_discord() {
        let long = "x".repeat(300);
        assert_eq!(thread_name("🔴 expired", &long).chars().count(), NAME_LIMIT);
        assert_eq!(thread_name("🔴 expired", "Ada"), "🔴 expired · Ada");
    }
}
