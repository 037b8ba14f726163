//! `tagdesk scenario run`: the QA suite; `tagdesk scenario explore`: generated worlds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use tagdesk::scenario::defects::Defect;
use tagdesk::scenario::settings::{Options, TeamConfig};
use tagdesk::scenario::{self, report, run};

/// `tagdesk scenario` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Replay scenarios end to end and check their expectations.
    Run(RunArgs),
    /// Generate seeded random worlds, run them, check the product's promises after
    /// every step, and shrink any world that breaks one into a scenario file.
    Explore(crate::explore_cmd::ExploreArgs),
}

/// `tagdesk scenario run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files or directories of them.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Run under this seed instead of each scenario's own (repeatable).
    #[arg(long)]
    seed: Vec<u64>,
    /// Write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write each run's transcript into this directory.
    #[arg(long)]
    transcript: Option<PathBuf>,
    /// Only scenarios whose name or file contains this.
    #[arg(long)]
    filter: Option<String>,
    #[command(flatten)]
    with: WithArgs,
}

/// What `scenario run` and `scenario explore` may apply to every world.
#[derive(Debug, clap::Args)]
pub struct WithArgs {
    /// The team's own tagdesk.toml: its policy and mirror settings (rules, Human Agent
    /// flag, extra promotional phrases, coalescing, alert lead time) apply to the bot
    /// in every scenario, except those the scenario file gives itself.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Give the bot a known defect, to see the checks catch it (for testing the tools
    /// themselves).
    #[arg(long, value_enum, value_name = "DEFECT")]
    inject_defect: Option<Defect>,
}

impl WithArgs {
    /// The run options these arguments give.
    pub fn options(&self) -> anyhow::Result<Options> {
        let team = match &self.config {
            Some(path) => Some(TeamConfig::load(path)?),
            None => None,
        };
        Ok(Options {
            team,
            defect: self.inject_defect,
            ..Options::default()
        })
    }
}

/// Runs the command: exit 0 when everything held, 1 when an expectation failed, 2 on
/// unusable input.
pub fn run(cmd: &Command) -> ExitCode {
    let args = match cmd {
        Command::Run(args) => args,
        Command::Explore(args) => return crate::explore_cmd::run(args),
    };
    match run_suite(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_suite(args: &RunArgs) -> anyhow::Result<bool> {
    let options = args.with.options()?;
    let files = scenario::files(&args.paths).context("listing scenarios")?;
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match scenario::load(&f) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "{} unusable scenario file(s):\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
    if let Some(f) = &args.filter {
        scenarios.retain(|s| {
            s.name.contains(f.as_str()) || s.path.display().to_string().contains(f.as_str())
        });
    }
    if scenarios.is_empty() {
        anyhow::bail!("no scenarios to run in {:?}", args.paths);
    }
    let runs: Vec<(usize, u64)> = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            let seeds = if args.seed.is_empty() {
                vec![s.seed]
            } else {
                args.seed.clone()
            };
            seeds.into_iter().map(move |seed| (i, seed))
        })
        .collect();
    let total_steps: u64 = runs
        .iter()
        .map(|(i, _)| scenarios[*i].steps.len() as u64)
        .sum();
    let bar = ProgressBar::new(total_steps);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:24} [{bar:30}] {pos}/{len} steps")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let rt = tagdesk::scenario::runtime().context("starting the async runtime")?;
    let mut reports = Vec::new();
    for (i, seed) in runs {
        let s = &scenarios[i];
        bar.set_message(s.name.clone());
        let mut tick = || bar.inc(1);
        reports.push(rt.block_on(run::run_with(s, seed, &options, &mut tick)));
    }
    bar.finish_and_clear();
    if let Some(team) = &options.team {
        print!("{}", settings_in_force(&team.path, &reports));
    }
    if let Some(dir) = &args.transcript {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for r in &reports {
            let path = dir.join(scenario::transcript_name(&r.path, r.seed));
            std::fs::write(&path, &r.transcript)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(&reports))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{}", report::table(&reports));
    let failures = report::failures(&reports, &options.flags());
    if !failures.is_empty() {
        eprint!("{failures}");
    }
    Ok(reports.iter().all(run::Report::passed))
}

/// Which settings were in force with a team's file applied, each distinct set once with
/// the scenarios that ran under it (a scenario's own keys override the file's).
fn settings_in_force(path: &std::path::Path, reports: &[run::Report]) -> String {
    use std::fmt::Write as _;
    let mut sets: Vec<(&Vec<String>, Vec<&str>)> = Vec::new();
    for r in reports {
        match sets.iter_mut().find(|(s, _)| **s == r.settings) {
            Some((_, names)) => names.push(&r.name),
            None => sets.push((&r.settings, vec![&r.name])),
        }
    }
    let mut out = format!("settings in force, with {} applied:\n", path.display());
    for (lines, names) in sets {
        let mut names = names;
        names.dedup();
        let _ = writeln!(out, "  for {}:", names.join(", "));
        for l in lines {
            let _ = writeln!(out, "    {l}");
        }
    }
    out
}
