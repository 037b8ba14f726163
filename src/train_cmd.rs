//! `tagdesk train`: a scripted trainee through an exercise, or several trainees'
//! scorecards as a table.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::Context as _;
use bot::clock::SystemClock;
use bot::discord::serenity_http::discord_for;
use bot::gateway;
use tagdesk::train::live::{self, Front, Inbound, Practice};
use tagdesk::train::live_config::TrainingConfig;
use tagdesk::train::trainer::Trainer;
use tagdesk::train::{self, exercise, scores, session, trainee};

/// `tagdesk train` arguments.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// The exercise: a name in `training/` (`first-reply`) or a file. Live, several (or
    /// none: the configuration's, else the whole curriculum).
    exercises: Vec<String>,
    /// Train live in a practice Discord server, as this configuration says
    /// (`tagdesk-training.example.toml`); the bot token from TAGDESK_DISCORD_TOKEN.
    #[arg(long, value_name = "FILE", conflicts_with = "trainee")]
    config: Option<PathBuf>,
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
        None => match &args.config {
            Some(config) => live(config, &args.exercises),
            None => scripted(args),
        },
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
    let ([name], Some(trainee_path)) = (args.exercises.as_slice(), &args.trainee) else {
        anyhow::bail!(
            "tagdesk train EXERCISE --trainee FILE [--out DIR], tagdesk train --config FILE [EXERCISE...], or tagdesk train scores DIR"
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

/// A live session: every exercise in turn in the practice server, a scorecard after
/// each, and the trainee's table at the end.
fn live(config: &Path, given: &[String]) -> anyhow::Result<()> {
    let cfg = TrainingConfig::load(config)?;
    let exercises = cfg
        .exercises(given)
        .iter()
        .map(|name| exercise::load(&exercise::find(name, Path::new("training"))))
        .collect::<Result<Vec<_>, _>>()?;
    let token = std::env::var(bot::config::env::DISCORD_TOKEN).map_err(|_| {
        anyhow::anyhow!(
            "missing secret: set the environment variable {} to the practice bot's token",
            bot::config::env::DISCORD_TOKEN
        )
    })?;
    let d = cfg.discord.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let discord = discord_for(&token, d.application_id, &d.api_base, Arc::new(SystemClock));
        let (front, interactions) = Front::new(discord.clone());
        let mut inbound = Inbound {
            interactions,
            trainer: None,
        };
        if let Some(addr) = cfg.trainer_listen {
            let (door, acts) = Trainer::new();
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("trainer_listen = {addr}"))?;
            eprintln!("a trainer plays customers at http://{addr}/ (mock-graph's inspector and admin API)");
            let app = door.router();
            tokio::spawn(async move { axum::serve(listener, app).await });
            inbound.trainer = Some((door, acts));
        }
        let mut gateway = tokio::spawn({
            let (token, api) = (token.clone(), d.api_base.clone());
            async move {
                gateway::run_with(Arc::new(front), &token, d.application_id, d.guild_id, &api)
                    .await
            }
        });
        let practice = Practice {
            discord,
            channel: d.channel_id,
            pace: cfg.pace(),
            agent_role: d.agent_role_id,
            trainee_user: d.trainee_user_id,
            run: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let sessions = async {
            for ex in &exercises {
                eprintln!("exercise {}: {}", ex.name, ex.goal);
                let s = live::session(ex, &cfg.trainee, &practice, &mut inbound).await?;
                print!("{}", train::card::markdown(&s.scorecard));
                for p in train::write(&s, &cfg.out)? {
                    eprintln!("wrote {}", p.display());
                }
            }
            let rows = scores::read(&cfg.out)?;
            live::announce(&practice, "scores", &format!("```\n{}```", scores::table(&rows)))
                .await
        };
        tokio::select! {
            done = sessions => done,
            ended = &mut gateway => match ended {
                Ok(Ok(())) => anyhow::bail!("the connection to Discord's gateway ended"),
                Ok(Err(e)) => Err(e.context("Discord's gateway")),
                Err(e) => Err(e.into()),
            },
        }
    })
}
