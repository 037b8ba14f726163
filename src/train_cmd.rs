//! `tagdesk train`: a scripted trainee through an exercise, or several trainees'
//! scorecards as a table.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use tagdesk::train::{self, exercise, scores, session, trainee};

/// `tagdesk train` arguments.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// The exercise: a name in `training/` (`first-reply`) or a file.
    exercise: Option<String>,
    /// A scripted trainee: their commands at virtual times (training/README.md).
    #[arg(long, value_name = "FILE")]
    trainee: Option<PathBuf>,
    /// Write the scorecard (Markdown and JSON), the transcript and the session as a
    /// scenario file into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// `tagdesk train` subcommands.
#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Tabulate the JSON scorecards in a directory: trainee, exercise, score, mistakes.
    Scores {
        /// Where the scorecards are (a `--out` directory, or several trainees' together).
        dir: PathBuf,
    },
}

/// Runs the command: exit 0 when done (whatever the score), 2 on unusable input.
pub fn run(args: &Args) -> ExitCode {
    let result = match &args.command {
        Some(Sub::Scores { dir }) => scores::read(dir).map(|rows| {
            print!("{}", scores::table(&rows));
        }),
        None => scripted(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn scripted(args: &Args) -> anyhow::Result<()> {
    let (Some(name), Some(trainee_path)) = (&args.exercise, &args.trainee) else {
        anyhow::bail!(
            "tagdesk train EXERCISE --trainee FILE [--out DIR], or tagdesk train scores DIR"
        );
    };
    let path = exercise::find(name, Path::new("training"));
    let ex = exercise::load(&path)?;
    let ids: Vec<&str> = ex.customers.keys().map(String::as_str).collect();
    let t = trainee::load(trainee_path, &ids)?;
    if let Some(written_for) = t.exercise.as_deref().filter(|e| *e != ex.name) {
        anyhow::bail!(
            "{} is written for the exercise {written_for:?}, not {:?}",
            trainee_path.display(),
            ex.name
        );
    }
    let rt = tagdesk::scenario::runtime().context("starting the async runtime")?;
    let s = rt.block_on(session::run(&ex, &t))?;
    print!("{}", train::card::markdown(&s.scorecard));
    if let Some(dir) = &args.out {
        for p in train::write(&s, dir)? {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}
