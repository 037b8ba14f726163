//! `tagdesk`: answering Facebook Messenger from Discord without getting the page banned.
//!
//! This binary is glue: it parses the command line and hands over to the crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bot_cmd;
mod explore_cmd;
mod rules_cmd;
mod scenario_cmd;
mod train_cmd;

/// Answer Facebook Messenger from Discord, inside Meta's policy.
#[derive(Debug, Parser)]
#[command(name = "tagdesk", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print what a rules era allows: its tags, their purposes and limits, and what a
    /// reply would be sent as at each point of a conversation.
    Rules(rules_cmd::Args),
    /// Run the Discord bot: the Messenger webhook, the mirror into Discord threads,
    /// and the team's commands.
    Bot(bot_cmd::Args),
    /// QA scenarios: replay Messenger traffic end to end on a virtual clock.
    #[command(subcommand)]
    Scenario(scenario_cmd::Command),
    /// Practise on simulated customers: a scripted trainee through an exercise, with a
    /// scorecard; `train scores DIR` tabulates several trainees.
    Train(train_cmd::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rules(args) => rules_cmd::run(&args),
        Command::Bot(args) => bot_cmd::run(&args),
        Command::Scenario(cmd) => return scenario_cmd::run(&cmd),
        Command::Train(args) => return train_cmd::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
