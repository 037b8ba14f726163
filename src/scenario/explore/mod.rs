//! `tagdesk scenario explore`: seeded worlds, generated rather than written, run
//! through the same runner as the scenario library, with the product's promises
//! checked after every step; a world that breaks one is shrunk and written as a
//! scenario file that reproduces it.
//!
//! - [`generate`]: seed and profile → a [`plan::Plan`].
//! - [`plan`]: the world as data, rendered in the public scenario format.
//! - [`invariants`]: the promises, and running a world against them; [`error_log`]
//!   catches error-level logs while it runs.
//! - [`shrink`]: the smallest world that still breaks the same promise.

pub mod error_log;
pub mod generate;
pub mod invariants;
pub mod plan;
pub mod shrink;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use scenario_format::Scenario;

use super::settings::Options;

pub use generate::Profile;
pub use invariants::{Invariant, Violation};
pub use plan::Plan;

/// Candidate worlds the shrinker runs at most, per failing seed.
pub const SHRINK_BUDGET: usize = 300;

/// A plan as a checked scenario, read from its own rendered text, exactly as
/// `scenario run` would read the file.
pub fn load(plan: &Plan, header: &str) -> anyhow::Result<(String, Scenario)> {
    let text = plan.render(header);
    let path = PathBuf::from(format!("{}.toml", plan.name));
    let s = scenario_format::load::parse(&path, &text, Some(&bot::commands::definitions::all()))
        .with_context(|| format!("a generated world doesn't load:\n{text}"))?;
    Ok((text, s))
}

/// How one seed went.
#[derive(Debug)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// The world generated from it.
    pub plan: Plan,
    /// Steps run.
    pub steps: usize,
    /// Simulated seconds covered.
    pub span_secs: u64,
    /// Broken promises, in step order (empty: it passed).
    pub violations: Vec<Violation>,
    /// The runner's report.
    pub report: Option<crate::scenario::run::Report>,
}

impl SeedRun {
    /// The first promise broken, which the shrinker keeps broken.
    pub fn first(&self) -> Option<&Violation> {
        self.violations.first()
    }
}

/// Generates and runs the world of `seed` under `profile`; `extra_final` is an
/// expectation added to the final check (`"sends = 0"`), verbatim.
pub fn run_seed(
    seed: u64,
    profile: Profile,
    extra_final: Option<&str>,
    options: &Options,
) -> anyhow::Result<SeedRun> {
    let mut plan = generate::world(seed, profile);
    plan.extra_final = extra_final.map(str::to_owned);
    run_plan(plan, options)
}

/// Runs a world against the promises.
pub fn run_plan(plan: Plan, options: &Options) -> anyhow::Result<SeedRun> {
    let (_, s) = load(&plan, "")?;
    let outcome = invariants::check(&s, options, plan.is_quiet());
    Ok(SeedRun {
        seed: plan.seed,
        steps: s.steps.len(),
        span_secs: plan.span_secs(),
        plan,
        violations: outcome.violations,
        report: outcome.report,
    })
}

/// Whether `plan` breaks `invariant`.
pub fn breaks(plan: &Plan, invariant: Invariant, options: &Options) -> bool {
    match load(plan, "") {
        Ok((_, s)) => invariants::check(&s, options, plan.is_quiet())
            .violations
            .iter()
            .any(|v| v.invariant == invariant),
        Err(_) => false,
    }
}

/// A failing seed's world, shrunk and written.
#[derive(Debug)]
pub struct Finding {
    /// The promise broken.
    pub violation: Violation,
    /// The smallest world found that still breaks it.
    pub shrunk: Plan,
    /// Worlds the shrinker ran.
    pub shrink_runs: usize,
    /// The file written.
    pub path: PathBuf,
    /// Whether the written file, read back from disk, breaks the promise again.
    pub reproduces: bool,
}

/// Shrinks a failing run's world (at most `budget` candidates) and writes it into
/// `out` as a scenario file whose header names the seed, the promise and the command
/// that reproduces it; then runs the file as written to confirm it fails the same way.
pub fn shrink_and_write(
    run: &SeedRun,
    profile: Profile,
    out: &Path,
    budget: usize,
    options: &Options,
) -> anyhow::Result<Option<Finding>> {
    let Some(first) = run.first() else {
        return Ok(None);
    };
    let invariant = first.invariant;
    let shrunk = shrink::shrink(run.plan.clone(), budget, &mut |p| {
        breaks(p, invariant, options)
    });
    let mut plan = shrunk.plan;
    let file = format!("seed-{}-{}.toml", run.seed, invariant.name());
    plan.name = format!("explore-seed-{}-{}", run.seed, invariant.name());
    plan.description = format!(
        "Found by `tagdesk scenario explore` from seed {} (profile {}): {}.",
        run.seed,
        profile.name(),
        invariant.describe()
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join(file);
    let flags = options.flags();
    let header = format!(
        "# Found by `tagdesk scenario explore --from {seed} --seeds 1 --profile {profile}{flags}`,\n\
         # shrunk from {before} steps to {after} ({runs} worlds tried).\n\
         # Broken: {what} [{name}]\n\
         # First seen: {detail}\n\
         # Reproduce: tagdesk scenario run{flags} {path}\n\
         #   (or: cargo run --release -- scenario run{flags} {path})\n\n",
        seed = run.seed,
        profile = profile.name(),
        before = run.plan.step_count(),
        after = plan.step_count(),
        runs = shrunk.runs,
        what = invariant.describe(),
        name = invariant.name(),
        detail = first.detail,
        path = path.display(),
    );
    let (text, _) = load(&plan, &header)?;
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    let reproduces = match crate::scenario::load(&path) {
        Ok(s) => invariants::check(&s, options, plan.is_quiet())
            .violations
            .iter()
            .any(|v| v.invariant == invariant),
        Err(_) => false,
    };
    Ok(Some(Finding {
        violation: first.clone(),
        shrunk: plan,
        shrink_runs: shrunk.runs,
        path,
        reproduces,
    }))
}
