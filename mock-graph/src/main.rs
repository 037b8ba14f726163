//! `mock-graph`: start the Messenger Platform emulator.

use clap::Parser;
use mock_graph::Settings;

/// A Messenger Platform emulator: Meta's URLs, JSON and error codes on a virtual clock.
#[derive(Parser)]
#[command(name = "mock-graph", version, about)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let mock = mock_graph::start(cli.settings.clone()).await?;
    println!("mock-graph listening on http://{}", mock.addr);
    // A scenario's start, seed and rules replace the flags': show what is in force.
    let settings = mock.state.lock().settings.describe();
    println!("{settings}");
    println!(
        "admin API: http://{}/_mock/ (see mock-graph/README.md)",
        mock.addr
    );
    println!("inspector: http://{}/", mock.addr);
    tokio::signal::ctrl_c().await?;
    println!("mock-graph stopped");
    Ok(())
}
