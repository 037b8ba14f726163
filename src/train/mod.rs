//! `tagdesk train`: new agents practise on simulated customers and get a scorecard.
//!
//! An exercise (`training/*.toml`) is a scenario's customer side with reactions and
//! scoring; a session plays it in the scenario runner's in-process world with a
//! trainee's commands, lets the customers react to what actually reached them, and
//! scores what actually happened.
//! - [`exercise`]: the exercise format, read through `scenario-format`'s loader.
//! - [`trainee`]: a scripted trainee, commands at virtual times.
//! - [`session`]: the driver: customers, reactions, commands, on the virtual clock.
//! - [`facts`] reads what happened out of the world; [`score`] scores it (pure);
//!   [`card`] renders the scorecard (Markdown, JSON).
//! - [`record`]: the session as a scenario file that `scenario run` replays.
//! - [`scores`]: several trainees' scorecards as one table.
//! - [`pace`]: the compressed clock a live session runs on, as a pure function of
//!   virtual time.
//! - [`live`]: a session in the team's practice Discord server, the trainee's commands
//!   arriving over the gateway; [`live_config`] is its `tagdesk-training.toml`;
//!   [`presented`] shows the world's roles and trainee as the server's; [`trainer`]
//!   lets a trainer play customers through mock-graph's admin API, recorded.

pub mod card;
pub mod exercise;
pub mod facts;
pub mod live;
pub mod live_config;
pub mod pace;
pub mod presented;
pub mod record;
pub mod score;
pub mod scores;
pub mod session;
pub mod trainee;
pub mod trainer;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// What `--out` receives from one session, by file name.
pub fn outputs(session: &session::Session) -> Vec<(String, String)> {
    let card = &session.scorecard;
    let stem = format!("{}.{}", card.exercise, card.trainee);
    vec![
        (format!("{stem}.scorecard.md"), card::markdown(card)),
        (format!("{stem}.scorecard.json"), card::json(card)),
        (format!("{stem}.transcript.txt"), session.transcript.clone()),
        (
            format!("{}.toml", session.recorded_name),
            session.recorded.clone(),
        ),
    ]
}

/// Writes a session's outputs into `dir`, returning the paths written.
pub fn write(session: &session::Session, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, text) in outputs(session) {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
