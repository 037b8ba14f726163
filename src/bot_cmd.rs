//! `tagdesk bot`: the Discord bot, from a TOML file and secrets in the environment.

use std::path::PathBuf;

use anyhow::Context;
use bot::config::Config;

/// `tagdesk bot` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file; `tagdesk.example.toml` documents every key.
    #[arg(long, default_value = "tagdesk.toml")]
    config: PathBuf,
}

/// Loads the configuration, then runs the bot until Ctrl-C or SIGTERM (see
/// [`bot::server::run`] for how it stops).
pub fn run(args: &Args) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    init_logs(config.file.json_logs);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(bot::server::run(config))
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
