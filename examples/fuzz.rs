//! The long fuzzing run: every parser that takes outside input, fed seeded mutations
//! of valid inputs for as long as you give it.
//!
//! ```text
//! cargo run --release --example fuzz -- --for 10m             # all targets, 10 minutes in all
//! cargo run --release --example fuzz -- --target webhook --inputs 100000 --seed 7
//! cargo run --release --example fuzz -- --target scenario --replay target/fuzz-failures/scenario-seed1-input123.bin
//! cargo run --release --example fuzz -- --target scenario --seed 1 --replay-index 123
//! ```
//!
//! Each target runs in a child process of this one, so an input that kills the process
//! (a stack overflow, an allocation past the bound) is still reported, with its input
//! saved: the child notes each input's number before running it. Exits 1 if any input
//! failed, after printing where it was saved and the command that runs it again.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use tagdesk::fuzz::{self, Budget, FailureKind, Input, Options, Report, Target};

#[global_allocator]
static ALLOC: fuzz::alloc::BoundedAlloc = fuzz::alloc::BoundedAlloc;

#[derive(Parser)]
#[command(about = "Fuzz tagdesk's parsers with seeded mutations of valid inputs")]
struct Args {
    /// A target (webhook, interaction, scenario, config, mock-graph); repeat for
    /// several. Default: all.
    #[arg(long = "target")]
    targets: Vec<Target>,
    /// The seed: input N of seed S is the same bytes on every run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How long to run in all, split evenly between the targets ("10m", "1h").
    #[arg(long = "for", value_parser = parse_duration, conflicts_with = "inputs")]
    duration: Option<Duration>,
    /// Inputs per target (default 10000 when --for isn't given).
    #[arg(long)]
    inputs: Option<u64>,
    /// Where failing inputs are saved.
    #[arg(long, default_value = "target/fuzz-failures")]
    out: PathBuf,
    /// Run one saved input (needs one --target).
    #[arg(long, conflicts_with_all = ["replay_index", "duration", "inputs"])]
    replay: Option<PathBuf>,
    /// Run input N of --seed again (needs one --target).
    #[arg(long, conflicts_with_all = ["duration", "inputs"])]
    replay_index: Option<u64>,
    /// Run targets in this process, not in a child each: a crash then ends the run
    /// without naming its input.
    #[arg(long)]
    in_process: bool,
    /// Internal: run one target and print reports as JSON lines.
    #[arg(long, hide = true)]
    child: bool,
    /// Internal: where the child notes the input it is on.
    #[arg(long, hide = true)]
    index_file: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = messenger::timefmt::parse_duration(s).map_err(|e| e.to_string())?;
    Duration::try_from(d).map_err(|_| format!("{s:?} is negative"))
}

fn options(args: &Args) -> Options {
    Options {
        failures: args.out.clone(),
        index_file: args.index_file.clone(),
        ..Options::default()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let targets = if args.targets.is_empty() {
        Target::ALL.to_vec()
    } else {
        args.targets.clone()
    };
    if args.replay.is_some() || args.replay_index.is_some() {
        return replay(&args, &targets);
    }
    let budget = match (args.duration, args.inputs) {
        (Some(d), _) => Budget::For(d / targets.len() as u32),
        (None, n) => Budget::Inputs(n.unwrap_or(10_000)),
    };
    if args.child {
        let report = fuzz::run_with(targets[0], args.seed, budget, &options(&args), |r| {
            println!("{}", serde_json::to_string(r).expect("a report serializes"));
        });
        println!(
            "{}",
            serde_json::to_string(&report).expect("a report serializes")
        );
        return ExitCode::SUCCESS;
    }
    if !fuzz::alloc::installed() {
        eprintln!("warning: allocations are not bounded (BoundedAlloc isn't the global allocator)");
    }
    // Before any input: bodies over each endpoint's limit are refused unread.
    let limits_hold = match fuzz::limits::check_body_limits() {
        Ok(checks) => {
            println!("oversized bodies:");
            for c in &checks {
                println!("  {} {c}", if c.holds() { "ok  " } else { "FAIL" });
            }
            checks.iter().all(|c| c.holds())
        }
        Err(e) => {
            eprintln!("the body-limit checks couldn't run: {e:#}");
            false
        }
    };
    let mut reports = Vec::new();
    for &target in &targets {
        let report = if args.in_process {
            in_process(&args, target, budget)
        } else {
            in_child(&args, target, budget)
        };
        reports.push(report);
    }
    summary(&reports, true);
    if limits_hold && reports.iter().all(|r| r.failures() == 0) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn bar(target: Target) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message(format!("{target}: starting"));
    bar
}

fn describe(r: &Report) -> String {
    format!(
        "{}: {} inputs, {:.0}/s, {} accepted, {} refused, {} failures",
        r.target,
        r.tried,
        r.rate(),
        r.accepted,
        r.refused,
        r.failures()
    )
}

fn in_process(args: &Args, target: Target, budget: Budget) -> Report {
    let bar = bar(target);
    let report = fuzz::run_with(target, args.seed, budget, &options(args), |r| {
        bar.set_message(describe(r))
    });
    bar.finish_with_message(describe(&report));
    report
}

/// Runs one target in a child process and follows its reports; if it dies, names and
/// saves the input it was on.
fn in_child(args: &Args, target: Target, budget: Budget) -> Report {
    let bar = bar(target);
    let _ = std::fs::create_dir_all(&args.out);
    let index_file = args.out.join(format!("{target}.running"));
    let mut cmd = Command::new(std::env::current_exe().expect("this program's path"));
    cmd.args([
        "--child",
        "--target",
        target.name(),
        "--seed",
        &args.seed.to_string(),
    ])
    .arg("--out")
    .arg(&args.out)
    .arg("--index-file")
    .arg(&index_file)
    .stdout(Stdio::piped());
    match budget {
        Budget::Inputs(n) => cmd.args(["--inputs", &n.to_string()]),
        Budget::For(d) => cmd.args(["--for", &format!("{}ms", d.as_millis())]),
    };
    let mut child = cmd.spawn().expect("the child starts");
    let mut last: Option<Report> = None;
    let stdout = child.stdout.take().expect("piped");
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        if let Ok(r) = serde_json::from_str::<Report>(&line) {
            bar.set_message(describe(&r));
            last = Some(r);
        }
    }
    let status = child.wait().expect("the child ends");
    let mut report = last.unwrap_or_else(|| Report::new(target, args.seed));
    if !status.success() {
        // The child died on an input: the number it noted last.
        let index = fuzz::read_index(&index_file).unwrap_or(0);
        let input = fuzz::Generator::new(target, args.seed).input(index);
        let saved = fuzz::save(&args.out, target, args.seed, index, &input).ok();
        report.tried = report.tried.max(index + 1);
        report.panics += 1;
        if report.first_failure.is_none() {
            report.first_failure = Some(fuzz::Failure {
                index,
                kind: FailureKind::Panic,
                message: format!("the process died ({status}) on this input"),
                saved,
            });
        }
    }
    let _ = std::fs::remove_file(&index_file);
    bar.finish_with_message(describe(&report));
    report
}

fn replay(args: &Args, targets: &[Target]) -> ExitCode {
    let [target] = targets else {
        eprintln!("--replay and --replay-index need exactly one --target");
        return ExitCode::FAILURE;
    };
    let (input, index) = match (&args.replay, args.replay_index) {
        (Some(path), _) => match std::fs::read(path) {
            Ok(bytes) => (Input::from_file(&bytes), 0),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        (None, Some(i)) => (fuzz::Generator::new(*target, args.seed).input(i), i),
        (None, None) => unreachable!("replay is asked for"),
    };
    println!(
        "{target}: input {index}, {} bytes, sent as {:?}",
        input.body.len(),
        input.head
    );
    let report = fuzz::replay(*target, input, index, &options(args));
    summary(std::slice::from_ref(&report), args.replay.is_none());
    if report.failures() == 0 {
        println!("no failure");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints the table and each target's first failure; `generated` when the inputs came
/// from seeds (so their numbers make them again), not from a replayed file.
fn summary(reports: &[Report], generated: bool) {
    println!(
        "\n{:<12} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6} {:>10}  slowest",
        "target",
        "inputs",
        "time",
        "inputs/s",
        "accepted",
        "refused",
        "panics",
        "hangs",
        "violations"
    );
    for r in reports {
        let slowest = r.slowest.as_ref().map_or_else(String::new, |s| {
            format!("{:.3}s (input {}, {} bytes)", s.secs, s.index, s.len)
        });
        println!(
            "{:<12} {:>10} {:>8.1}s {:>9.0} {:>9} {:>9} {:>7} {:>6} {:>10}  {slowest}",
            r.target.name(),
            r.tried,
            r.secs,
            r.rate(),
            r.accepted,
            r.refused,
            r.panics,
            r.hangs,
            r.violations
        );
    }
    for r in reports {
        if let Some(f) = &r.first_failure {
            println!(
                "\n{} input {}: {:?}: {}",
                r.target, f.index, f.kind, f.message
            );
            if let Some(saved) = &f.saved {
                println!("  saved: {}", saved.display());
                println!(
                    "  reproduce: cargo run --release --example fuzz -- --target {} --replay {}",
                    r.target,
                    saved.display()
                );
            }
            if generated {
                println!(
                    "  or: {}",
                    fuzz::reproduce_command(r.target, r.seed, f.index)
                );
            }
        }
    }
}
