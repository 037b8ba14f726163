//! Input fuzzing on stable Rust: every parser that takes outside input, fed valid
//! inputs made almost valid.
//!
//! Each [`Target`] starts from a corpus of valid inputs ([`corpus`]), then draws
//! mutations of them ([`mutate`]) from a ChaCha8 generator seeded by the run's seed
//! and the input's number, so input *n* of seed *s* is the same bytes on every
//! machine and can be made again from those two numbers alone. Each input runs under
//! `catch_unwind` with its wall time measured and, where [`alloc::BoundedAlloc`] is the
//! global allocator, its allocations bounded; the target checks its own invariants
//! (a refused delivery stored nothing, an error names the file). The first failure is
//! saved to a file that `--replay` runs again.
//!
//! - [`run`] / [`run_with`]: fuzz one target; [`replay`]: run one saved input.
//! - [`limits`]: the HTTP endpoints refuse oversized bodies without buffering them.
//!
//! Not coverage-guided: that needs nightly (`cargo fuzz`). RELIABILITY.md says what
//! was run and found.

pub mod alloc;
pub mod corpus;
pub mod limits;
pub mod mutate;
mod targets;

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use rand::seq::IndexedRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use mutate::Syntax;

/// The largest input tried: the webhook's own limit, and far beyond any real file.
pub const MAX_INPUT: usize = 1024 * 1024;

/// Exit status of a process ended by the harness on an input it couldn't survive (an
/// allocation past the bound, an input stuck past [`Options::stuck`]).
pub const EXIT_ABORTED: i32 = 3;

/// A parser taking outside input, and the path the input takes to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The bot's `/webhook` router, with a valid signature over the mutated bytes (a
    /// few forged), then the bot's processing of what it stored.
    Webhook,
    /// Discord interaction JSON through `commands::interaction::parse` and the command
    /// pipeline; a few at `/interactions` with forged signatures.
    Interaction,
    /// Scenario files through `scenario_format::load::parse`.
    Scenario,
    /// The bot's configuration file through `config::FileConfig::parse`.
    Config,
    /// mock-graph's Send API and `/_mock/` admin API through its router.
    MockGraph,
}

impl Target {
    /// Every target, in the order runs take them.
    pub const ALL: [Target; 5] = [
        Target::Webhook,
        Target::Interaction,
        Target::Scenario,
        Target::Config,
        Target::MockGraph,
    ];

    /// The name on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Target::Webhook => "webhook",
            Target::Interaction => "interaction",
            Target::Scenario => "scenario",
            Target::Config => "config",
            Target::MockGraph => "mock-graph",
        }
    }

    fn syntax(self) -> Syntax {
        match self {
            Target::Webhook | Target::Interaction | Target::MockGraph => Syntax::Json,
            Target::Scenario | Target::Config => Syntax::Toml,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
                format!("unknown target {s:?}; known: {}", names.join(", "))
            })
    }
}

/// One input: the bytes, and how they are sent (the `head`: a signature kind for the
/// webhook, `METHOD /path content-type` for mock-graph, empty where there is no choice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// How the body is sent; one line.
    pub head: String,
    /// The bytes under test.
    pub body: Vec<u8>,
}

impl Input {
    /// An input.
    pub fn new(head: impl Into<String>, body: Vec<u8>) -> Self {
        Input {
            head: head.into(),
            body,
        }
    }

    /// As saved for reproduction: the head, a newline, the body.
    pub fn to_file(&self) -> Vec<u8> {
        let mut out = self.head.clone().into_bytes();
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out
    }

    /// Reads what [`Input::to_file`] wrote.
    pub fn from_file(bytes: &[u8]) -> Input {
        let (head, body) = match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (&bytes[..0], bytes),
        };
        Input::new(String::from_utf8_lossy(head), body.to_vec())
    }
}

/// Makes a target's inputs: first its seeds unchanged (each must be accepted, or the
/// corpus no longer reaches past the parser), then mutations of them.
pub struct Generator {
    target: Target,
    seed: u64,
    seeds: Vec<Input>,
    max_input: usize,
}

impl Generator {
    /// The inputs of `target` under `seed`.
    pub fn new(target: Target, seed: u64) -> Self {
        Generator {
            target,
            seed,
            seeds: corpus::seeds(target),
            max_input: MAX_INPUT,
        }
    }

    /// How many of the first inputs are the seeds themselves.
    pub fn seeds(&self) -> u64 {
        self.seeds.len() as u64
    }

    /// Input number `index`: a function of the target, the seed and `index` only.
    pub fn input(&self, index: u64) -> Input {
        if let Some(seed) = usize::try_from(index).ok().and_then(|i| self.seeds.get(i)) {
            return seed.clone();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        // One stream per input: reproducible without replaying the inputs before it.
        rng.set_stream(index);
        let base = self
            .seeds
            .choose(&mut rng)
            .cloned()
            .unwrap_or_else(|| Input::new("", Vec::new()));
        let other = self
            .seeds
            .choose(&mut rng)
            .map(|i| i.body.as_slice())
            .unwrap_or_default();
        let mut input = base;
        mutate::mutate(
            &mut rng,
            &mut input.body,
            other,
            self.target.syntax(),
            self.max_input,
        );
        input.head = targets::mutate_head(self.target, &mut rng, &input.head);
        input
    }
}

/// How long a run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// This many inputs.
    Inputs(u64),
    /// Until this much wall time has passed (and at least every seed).
    For(Duration),
}

/// A run's bounds and where its failures go.
#[derive(Debug, Clone)]
pub struct Options {
    /// Inputs longer than this are cut to it.
    pub max_input: usize,
    /// An input taking longer than this is reported as a hang.
    pub slow: Duration,
    /// An input still running after this long ends the process (it may never return).
    pub stuck: Duration,
    /// The most one input may allocate, net, when [`alloc::BoundedAlloc`] is installed.
    pub max_alloc: usize,
    /// Where failing inputs are saved.
    pub failures: PathBuf,
    /// The stack inputs run on: tokio's worker threads have 2 MiB, and that is where
    /// the HTTP targets' parsers run in production.
    pub stack: usize,
    /// If set, each input's number is written here before it runs, so a supervising
    /// process knows which input a crash (a stack overflow) died on.
    pub index_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_input: MAX_INPUT,
            slow: Duration::from_secs(2),
            stuck: Duration::from_secs(30),
            max_alloc: 256 * 1024 * 1024,
            failures: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures"),
            stack: 2 * 1024 * 1024,
            index_file: None,
        }
    }
}

/// What kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The code under test panicked.
    Panic,
    /// An input took longer than [`Options::slow`].
    Hang,
    /// A target's invariant broke (a refused body was stored, an error without a file).
    Violation,
    /// The target couldn't be set up.
    Setup,
}

/// The first failure of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The input's number.
    pub index: u64,
    /// What went wrong.
    pub kind: FailureKind,
    /// In words: the panic message, the broken invariant.
    pub message: String,
    /// Where the input was saved.
    pub saved: Option<PathBuf>,
}

/// The slowest input of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slowest {
    /// Its number.
    pub index: u64,
    /// How long it took, in seconds.
    pub secs: f64,
    /// Its length in bytes.
    pub len: usize,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The target.
    pub target: Target,
    /// The seed.
    pub seed: u64,
    /// Inputs run.
    pub tried: u64,
    /// Inputs the target took (parsed, answered 2xx).
    pub accepted: u64,
    /// Inputs the target refused with an error, as it should.
    pub refused: u64,
    /// Inputs the code under test panicked on.
    pub panics: u64,
    /// Inputs slower than the bound.
    pub hangs: u64,
    /// Inputs that broke an invariant of the target.
    pub violations: u64,
    /// The slowest input.
    pub slowest: Option<Slowest>,
    /// Wall time, in seconds.
    pub secs: f64,
    /// Whether allocations were bounded (the allocator was installed).
    pub alloc_bounded: bool,
    /// The first failure.
    pub first_failure: Option<Failure>,
}

impl Report {
    /// A report of nothing run yet.
    pub fn new(target: Target, seed: u64) -> Self {
        Report {
            target,
            seed,
            tried: 0,
            accepted: 0,
            refused: 0,
            panics: 0,
            hangs: 0,
            violations: 0,
            slowest: None,
            secs: 0.0,
            alloc_bounded: alloc::installed(),
            first_failure: None,
        }
    }

    /// Failing inputs, of every kind.
    pub fn failures(&self) -> u64 {
        let setup = self
            .first_failure
            .as_ref()
            .is_some_and(|f| f.kind == FailureKind::Setup);
        self.panics + self.hangs + self.violations + u64::from(setup)
    }

    /// Inputs per second.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.tried as f64 / self.secs
        } else {
            0.0
        }
    }

    fn fail(&mut self, index: u64, kind: FailureKind, message: String, input: &Input, dir: &Path) {
        match kind {
            FailureKind::Panic => self.panics += 1,
            FailureKind::Hang => self.hangs += 1,
            FailureKind::Violation => self.violations += 1,
            FailureKind::Setup => {}
        }
        if self.first_failure.is_none() {
            let saved = save(dir, self.target, self.seed, index, input).ok();
            self.first_failure = Some(Failure {
                index,
                kind,
                message,
                saved,
            });
        }
    }
}

/// Saves an input for reproduction; returns the file.
pub fn save(
    dir: &Path,
    target: Target,
    seed: u64,
    index: u64,
    input: &Input,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{target}-seed{seed}-input{index}.bin"));
    std::fs::write(&path, input.to_file())?;
    Ok(path)
}

/// What a target made of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Taken.
    Accepted,
    /// Refused with an error, as it should be.
    Refused,
    /// An invariant broke.
    Violation(String),
}

/// Fuzzes `target` under `seed` for `budget`, with default options.
pub fn run(target: Target, seed: u64, budget: Budget) -> Report {
    run_with(target, seed, budget, &Options::default(), |_| {})
}

/// Fuzzes `target`; `progress` is called with the report so far about every 200 ms.
pub fn run_with(
    target: Target,
    seed: u64,
    budget: Budget,
    options: &Options,
    progress: impl FnMut(&Report) + Send,
) -> Report {
    let generator = Generator {
        max_input: options.max_input,
        ..Generator::new(target, seed)
    };
    let inputs = Inputs::Generated(&generator, budget);
    on_fuzz_thread(options, || fuzz(target, seed, inputs, options, progress))
}

/// Runs one saved input (see [`Input::from_file`]), reported as input `index`.
pub fn replay(target: Target, input: Input, index: u64, options: &Options) -> Report {
    let inputs = Inputs::One(input, index);
    on_fuzz_thread(options, || fuzz(target, 0, inputs, options, |_| {}))
}

enum Inputs<'a> {
    Generated(&'a Generator, Budget),
    One(Input, u64),
}

/// Runs `f` on a thread with the stack inputs get in production.
fn on_fuzz_thread<R: Send>(options: &Options, f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("fuzz".into())
            .stack_size(options.stack)
            .spawn_scoped(s, f)
            .expect("a thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

thread_local! {
    /// Set while an input runs: its panics are counted and kept, not printed.
    static IN_INPUT: Cell<bool> = const { Cell::new(false) };
    /// Panics on this thread while inputs ran, including in tasks a runtime spawned
    /// on it, which `catch_unwind` around the input doesn't see.
    static PANICS: Cell<u64> = const { Cell::new(0) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The input running on this thread, for the allocation bound's message: target,
    /// seed, number, and whether the number makes it again (not a replayed file).
    static CURRENT: Cell<Option<(Target, u64, u64, bool)>> = const { Cell::new(None) };
}

/// Where the allocation bound's hook saves the input that passed it.
static FAILURES: Mutex<Option<PathBuf>> = Mutex::new(None);

fn install_hooks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_INPUT.with(Cell::get) {
                PANICS.with(|p| p.set(p.get() + 1));
                LAST_PANIC.with(|m| *m.borrow_mut() = Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
        alloc::on_exceeded(allocation_exceeded);
    });
}

/// The command that runs input `index` of `seed` again.
pub fn reproduce_command(target: Target, seed: u64, index: u64) -> String {
    format!("cargo run --release --example fuzz -- --target {target} --seed {seed} --replay-index {index}")
}

/// Called by the allocator, bound lifted, when an input allocates past its bound: the
/// process can't go on (the allocation would fail and abort it), so say which input
/// it was, save it, and end.
fn allocation_exceeded(net: usize) {
    let Some((target, seed, index, generated)) = CURRENT.with(Cell::get) else {
        return;
    };
    let saved = FAILURES
        .try_lock()
        .ok()
        .and_then(|dir| dir.clone())
        .filter(|_| generated)
        .and_then(|dir| {
            save(
                &dir,
                target,
                seed,
                index,
                &Generator::new(target, seed).input(index),
            )
            .ok()
        });
    eprintln!(
        "fuzz: {target} input {index} (seed {seed}) allocated {net} bytes, past the bound: an unbounded allocation\n  saved: {}\n  reproduce: {}",
        saved.map_or_else(|| "(not saved)".into(), |p| p.display().to_string()),
        reproduce_command(target, seed, index)
    );
    std::process::exit(EXIT_ABORTED);
}

/// Ends the process if one input runs past `stuck`: it may never return. Its thread
/// ends once the run drops the watchdog.
struct Watchdog {
    running: Mutex<Option<(u64, Instant)>>,
}

impl Watchdog {
    fn spawn(
        target: Target,
        seed: u64,
        input_of: impl Fn(u64) -> Option<Input> + Send + 'static,
        options: &Options,
    ) -> Arc<Watchdog> {
        let dog = Arc::new(Watchdog {
            running: Mutex::new(None),
        });
        let (watched, stuck, dir) = (
            Arc::downgrade(&dog),
            options.stuck,
            options.failures.clone(),
        );
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(50));
            let Some(watched) = watched.upgrade() else {
                return;
            };
            let running = *watched.running.lock().unwrap_or_else(|e| e.into_inner());
            let Some((index, since)) = running.filter(|(_, since)| since.elapsed() > stuck) else {
                continue;
            };
            let saved = input_of(index).and_then(|i| save(&dir, target, seed, index, &i).ok());
            eprintln!(
                "fuzz: {target} input {index} (seed {seed}) still running after {:.0?}: a hang\n  saved: {}\n  reproduce: {}",
                since.elapsed(),
                saved.map_or_else(|| "(not saved)".into(), |p| p.display().to_string()),
                reproduce_command(target, seed, index)
            );
            std::process::exit(EXIT_ABORTED);
        });
        dog
    }

    fn start(&self, index: u64) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some((index, Instant::now()));
    }

    fn stop(&self) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

fn fuzz(
    target: Target,
    seed: u64,
    inputs: Inputs<'_>,
    options: &Options,
    mut progress: impl FnMut(&Report),
) -> Report {
    install_hooks();
    *FAILURES.lock().unwrap_or_else(|e| e.into_inner()) = Some(options.failures.clone());
    let mut report = Report::new(target, seed);
    let started = Instant::now();
    let mut harness = match targets::build(target) {
        Ok(h) => h,
        Err(e) => {
            report.fail(
                0,
                FailureKind::Setup,
                format!("{e:#}"),
                &Input::new("", Vec::new()),
                &options.failures,
            );
            return report;
        }
    };
    let input_of = {
        let one = match &inputs {
            Inputs::One(input, _) => Some(input.clone()),
            Inputs::Generated(..) => None,
        };
        move |index: u64| match &one {
            Some(input) => Some(input.clone()),
            None => Some(Generator::new(target, seed).input(index)),
        }
    };
    // Watched from its own thread: this one may be the one stuck.
    let dog = Watchdog::spawn(target, seed, input_of, options);
    let index_file = options
        .index_file
        .as_ref()
        .and_then(|p| std::fs::File::create(p).ok());
    let mut last_progress = Instant::now();
    let mut index = 0u64;
    loop {
        let (input, this, is_seed) = match &inputs {
            Inputs::One(input, i) if report.tried == 0 => (input.clone(), *i, false),
            Inputs::One(..) => break,
            Inputs::Generated(generator, budget) => {
                let is_seed = index < generator.seeds();
                let over = match budget {
                    Budget::Inputs(n) => index >= *n,
                    Budget::For(d) => !is_seed && started.elapsed() >= *d,
                };
                if over {
                    break;
                }
                (generator.input(index), index, is_seed)
            }
        };
        index += 1;
        let mut input = input;
        input.body.truncate(options.max_input);
        if let Some(f) = &index_file {
            note_index(f, this);
        }
        let panics_before = PANICS.with(Cell::get);
        let generated = matches!(inputs, Inputs::Generated(..));
        CURRENT.with(|c| c.set(Some((target, seed, this, generated))));
        IN_INPUT.with(|f| f.set(true));
        dog.start(this);
        alloc::begin(options.max_alloc);
        let t0 = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness.run(&input)));
        let took = t0.elapsed();
        alloc::end();
        dog.stop();
        IN_INPUT.with(|f| f.set(false));
        CURRENT.with(|c| c.set(None));
        report.tried += 1;
        let panicked = result.is_err() || PANICS.with(Cell::get) != panics_before;
        if panicked {
            let message = LAST_PANIC
                .with(|m| m.borrow_mut().take())
                .unwrap_or_else(|| "a panic".into());
            report.fail(this, FailureKind::Panic, message, &input, &options.failures);
            // Whatever it held may be half-changed: start it again.
            match targets::build(target) {
                Ok(h) => harness = h,
                Err(e) => {
                    report.fail(
                        this,
                        FailureKind::Setup,
                        format!("{e:#}"),
                        &input,
                        &options.failures,
                    );
                    break;
                }
            }
        } else {
            match result {
                Ok(Ok(Verdict::Accepted)) => report.accepted += 1,
                Ok(Ok(Verdict::Refused)) if is_seed => {
                    report.refused += 1;
                    let message =
                        "a seed input was refused: the corpus no longer reaches past the parser"
                            .to_owned();
                    report.fail(
                        this,
                        FailureKind::Violation,
                        message,
                        &input,
                        &options.failures,
                    );
                }
                Ok(Ok(Verdict::Refused)) => report.refused += 1,
                Ok(Ok(Verdict::Violation(message))) => report.fail(
                    this,
                    FailureKind::Violation,
                    message,
                    &input,
                    &options.failures,
                ),
                Ok(Err(e)) => {
                    let message = format!("the harness failed: {e:#}");
                    report.fail(
                        this,
                        FailureKind::Violation,
                        message,
                        &input,
                        &options.failures,
                    )
                }
                Err(_) => unreachable!("a panic is handled above"),
            }
        }
        if took > options.slow {
            let message = format!("took {took:.2?}, more than {:.0?}", options.slow);
            report.fail(this, FailureKind::Hang, message, &input, &options.failures);
        }
        if report
            .slowest
            .as_ref()
            .is_none_or(|s| took.as_secs_f64() > s.secs)
        {
            report.slowest = Some(Slowest {
                index: this,
                secs: took.as_secs_f64(),
                len: input.body.len(),
            });
        }
        if last_progress.elapsed() > Duration::from_millis(200) {
            report.secs = started.elapsed().as_secs_f64();
            progress(&report);
            last_progress = Instant::now();
        }
    }
    report.secs = started.elapsed().as_secs_f64();
    progress(&report);
    report
}

/// Writes the input's number where a supervising process reads it after a crash: one
/// positioned write, no allocation, so it costs next to nothing per input.
fn note_index(file: &std::fs::File, index: u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let _ = file.write_all_at(&index.to_le_bytes(), 0);
    }
    #[cfg(not(unix))]
    let _ = (file, index);
}

/// Reads the number [`note_index`] wrote: the input a crashed run was on.
pub fn read_index(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}
