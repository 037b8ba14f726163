//! `tagdesk scenario explore`: runs generated worlds seed after seed, prints a summary,
//! and shrinks each world that breaks a promise into a scenario file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use tagdesk::scenario::explore::{self, Invariant, Profile, SeedRun};
use tagdesk::scenario::run::FailureKind;
use tagdesk::scenario::settings::Options;
use tagdesk::scenario::{report, run};

/// `tagdesk scenario explore` arguments.
#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// How many seeds to run (default 100, unless --for is given).
    #[arg(long, conflicts_with = "for_")]
    seeds: Option<u64>,
    /// Run seeds for this long of wall time instead (`30s`, `10m`, `1h`); which seeds
    /// get run then depends on the machine's speed, each seed's world doesn't.
    #[arg(long = "for", value_name = "DURATION")]
    for_: Option<String>,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Where shrunk failing worlds are written, as scenario files.
    #[arg(long, default_value = "explore-failures")]
    out: PathBuf,
    /// What the worlds are made of.
    #[arg(long, value_enum, default_value = "all")]
    profile: Profile,
    /// Write JUnit XML here: one testcase per seed.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Worlds run at once (default: the machine's cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Candidate worlds the shrinker may run per failing seed.
    #[arg(long, default_value_t = explore::SHRINK_BUDGET)]
    shrink_budget: usize,
    /// Failing seeds shrunk per broken promise (the rest are listed, not shrunk).
    #[arg(long, default_value_t = 2)]
    shrink_per_invariant: usize,
    /// One more expectation for the final check, as in a scenario file (`"sends = 0"`):
    /// a promise of your own, or a way to see the explorer fail and shrink on purpose.
    #[arg(long, value_name = "KEY = VALUE")]
    expect_final: Option<String>,
    /// Print each seed's generated scenario file instead of running it.
    #[arg(long)]
    print: bool,
    #[command(flatten)]
    with: crate::scenario_cmd::WithArgs,
}

/// Runs the command: exit 0 when every world kept every promise, 1 when one broke,
/// 2 on unusable arguments or an explorer error.
pub fn run(args: &ExploreArgs) -> ExitCode {
    match explore_all(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// When to stop taking new seeds.
enum Until {
    Seeds(u64),
    Wall(Duration),
}

fn explore_all(args: &ExploreArgs) -> anyhow::Result<bool> {
    let options = args.with.options()?;
    let until = match (&args.for_, args.seeds) {
        (Some(d), _) => {
            let d = messenger::timefmt::parse_duration(d).context("--for")?;
            Until::Wall(d.try_into().context("--for must be positive")?)
        }
        (None, n) => Until::Seeds(n.unwrap_or(100)),
    };
    if args.print {
        let Until::Seeds(n) = until else {
            anyhow::bail!("--print takes --seeds, not --for");
        };
        for seed in args.from..args.from.saturating_add(n) {
            let mut plan = explore::generate::world(seed, args.profile);
            plan.extra_final.clone_from(&args.expect_final);
            print!("{}", explore::load(&plan, "")?.0);
        }
        return Ok(true);
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let bar = match until {
        Until::Seeds(n) => ProgressBar::new(n),
        Until::Wall(_) => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template(match until {
            Until::Seeds(_) => "{spinner} explore {msg} [{bar:30}] {pos}/{len} seeds ({elapsed})",
            Until::Wall(_) => "{spinner} explore {msg} {pos} seeds ({elapsed})",
        })
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(args.profile.name());
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let runs = run_seeds(args, &options, &until, jobs, &bar, started)?;
    bar.finish_and_clear();
    let wall = started.elapsed();
    print!("{}", summary(args, &runs, wall, jobs));
    if options.team.is_some() || options.defect.is_some() {
        if let Some(report) = runs.first().and_then(|r| r.report.as_ref()) {
            println!("bot settings in force ({}):", options.flags().trim());
            for line in &report.settings {
                println!("  {line}");
            }
        }
    }

    let mut shrunk_per: BTreeMap<Invariant, usize> = BTreeMap::new();
    let mut paths: BTreeMap<u64, PathBuf> = BTreeMap::new();
    for r in runs.iter().filter(|r| !r.violations.is_empty()) {
        let v = r.first().expect("a violation");
        eprintln!(
            "\n✗ seed {}: {} [{}]\n  {}{}",
            r.seed,
            v.invariant.describe(),
            v.invariant.name(),
            if v.line > 0 {
                format!("at {} (line {}): ", v.at, v.line)
            } else {
                String::new()
            },
            v.detail
        );
        let n = shrunk_per.entry(v.invariant).or_default();
        if *n >= args.shrink_per_invariant {
            eprintln!("  (not shrunk: already {n} of this promise shrunk)");
            continue;
        }
        *n += 1;
        let Some(found) =
            explore::shrink_and_write(r, args.profile, &args.out, args.shrink_budget, &options)?
        else {
            continue;
        };
        eprintln!(
            "  shrunk from {} to {} steps ({} worlds tried); the steps that lead to it:\n{}  written: {}{}\n  reproduce: tagdesk scenario run{} {}",
            r.plan.step_count(),
            found.shrunk.step_count(),
            found.shrink_runs,
            found.shrunk.outline(),
            found.path.display(),
            if found.reproduces {
                ""
            } else {
                " (WARNING: the written file did not fail the same way when run again)"
            },
            options.flags(),
            found.path.display()
        );
        paths.insert(r.seed, found.path);
    }
    if let Some(path) = &args.junit {
        let reports = junit_reports(runs, &paths);
        std::fs::write(path, report::junit(&reports))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(shrunk_per.is_empty())
}

/// Runs seeds on `jobs` threads, each world on its own runtime, and returns them in
/// seed order (so the output doesn't depend on which thread finished first).
fn run_seeds(
    args: &ExploreArgs,
    options: &Options,
    until: &Until,
    jobs: usize,
    bar: &ProgressBar,
    started: Instant,
) -> anyhow::Result<Vec<SeedRun>> {
    let next = AtomicU64::new(args.from);
    let results: Mutex<BTreeMap<u64, anyhow::Result<SeedRun>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if let Until::Wall(d) = until {
                    if started.elapsed() >= *d {
                        break;
                    }
                }
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if let Until::Seeds(n) = until {
                    if seed >= args.from.saturating_add(*n) {
                        break;
                    }
                }
                let mut result =
                    explore::run_seed(seed, args.profile, args.expect_final.as_deref(), options);
                if let Ok(r) = &mut result {
                    // Only failing seeds' transcripts are worth keeping in memory.
                    if r.violations.is_empty() {
                        if let Some(report) = &mut r.report {
                            report.transcript.clear();
                        }
                    }
                }
                results
                    .lock()
                    .expect("no panics holding it")
                    .insert(seed, result);
                bar.inc(1);
            });
        }
    });
    results
        .into_inner()
        .expect("no panics holding it")
        .into_values()
        .collect()
}

/// The summary table: seeds, simulated hours, steps, speed, violations by promise.
fn summary(args: &ExploreArgs, runs: &[SeedRun], wall: Duration, jobs: usize) -> String {
    use std::fmt::Write as _;
    let seeds = runs.len();
    let steps: usize = runs.iter().map(|r| r.steps).sum();
    let hours = runs.iter().map(|r| r.span_secs).sum::<u64>() as f64 / 3600.0;
    let secs = wall.as_secs_f64().max(1e-9);
    let range = match (runs.first(), runs.last()) {
        (Some(a), Some(b)) => format!("{}..={}", a.seed, b.seed),
        _ => "none".into(),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "explore: profile {}, seeds {range}, {jobs} job(s)",
        args.profile.name()
    );
    let _ = writeln!(
        out,
        "{:>8}  {:>10}  {:>8}  {:>8}  {:>8}  {:>12}",
        "seeds", "simulated", "steps", "wall", "seeds/s", "sim h/wall s"
    );
    let _ = writeln!(
        out,
        "{seeds:>8}  {:>9.0}h  {steps:>8}  {:>7.1}s  {:>8.2}  {:>12.0}",
        hours,
        secs,
        seeds as f64 / secs,
        hours / secs
    );
    let mut by: BTreeMap<Invariant, Vec<u64>> = BTreeMap::new();
    for r in runs {
        if let Some(v) = r.first() {
            by.entry(v.invariant).or_default().push(r.seed);
        }
    }
    if by.is_empty() {
        let _ = writeln!(out, "violations: none");
    } else {
        let _ = writeln!(out, "violations by invariant (seeds, by the first broken):");
        for (inv, seeds) in &by {
            let shown: Vec<String> = seeds.iter().take(10).map(u64::to_string).collect();
            let more = if seeds.len() > 10 { ", ..." } else { "" };
            let _ = writeln!(
                out,
                "  {:<14} {:>5}  (seeds {}{more})",
                inv.name(),
                seeds.len(),
                shown.join(", ")
            );
        }
    }
    out
}

/// The runs as the scenario runner's reports, for its JUnit writer: presses with no
/// button aren't failures here, and a shrunk world's file names the testcase.
fn junit_reports(runs: Vec<SeedRun>, paths: &BTreeMap<u64, PathBuf>) -> Vec<run::Report> {
    runs.into_iter()
        .filter_map(|r| {
            let seed = r.seed;
            let mut report = r.report?;
            report
                .failures
                .retain(|f| matches!(f.kind, FailureKind::Expectation(_)));
            if let Some(p) = paths.get(&seed) {
                report.path = p.clone();
            }
            Some(report)
        })
        .collect()
}
