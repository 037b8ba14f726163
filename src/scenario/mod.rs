//! Scenarios: whole stretches of Messenger traffic replayed end to end on a virtual
//! clock, with expectations checked after any step.
//!
//! The format itself (reading, checking, generating customers) is the
//! `scenario-format` crate, which mock-graph shares. Here:
//! - [`world`]: mock-graph, the bot and the recording Discord, in-process; [`graph`]
//!   is the bot's Graph API as mock-graph's router, without a socket.
//! - [`run`], [`expect`], [`transcript`], [`report`]: running, checking, telling;
//!   [`promises`] keeps what agents were told, to check it was true and kept;
//!   [`settings`] is the bot's settings in a world (a team's `--config` applied);
//!   [`defects`] gives the bot a known defect, to see the checks catch it.
//! - [`explore`]: generated worlds checked against the product's promises, and
//!   shrunk to a scenario file when one breaks.

pub mod defects;
pub mod expect;
pub mod explore;
pub mod graph;
pub mod promises;
pub mod report;
pub mod run;
pub mod settings;
pub mod transcript;
pub mod world;

use std::path::{Path, PathBuf};

use scenario_format::{LoadError, Scenario};

/// The runtime scenarios run on: one thread, with tokio's clock paused. Timers then
/// elapse only when nothing else can run, instantly and in order, so a latency fault in
/// mock-graph and the bot's Graph timeout race on virtual time, not the wall clock.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
}

/// Reads a scenario file, checking agents' commands against the bot's own.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    scenario_format::load::load(path, Some(&bot::commands::definitions::all()))
}

/// The scenario files under `paths` (files as given, directories' `*.toml`), sorted.
pub fn files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// A transcript's file name for a scenario at a seed.
pub fn transcript_name(path: &Path, seed: u64) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{stem}.seed-{seed}.txt")
}
