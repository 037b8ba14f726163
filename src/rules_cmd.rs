//! `tagdesk rules`: the rules of an era, and the decisions they lead to over a week.

use std::fmt::Write;

use jiff::{SignedDuration, Timestamp};
use messenger::guard::PromoLexicon;
use messenger::policy::Context;
use messenger::rules::{TagStatus, STANDARD_WINDOW};
use messenger::timefmt::human;
use messenger::window::CustomerAction;
use messenger::{decide, Era, Intent, PageState, Request, Sender, ThreadState};

/// Arguments of `tagdesk rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rules era: meta-2026 or legacy-2020.
    #[arg(long, default_value = "meta-2026")]
    era: Era,
    /// Whether the page has the Human Agent feature.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    human_agent: bool,
}

/// Prints the era's table.
pub fn run(args: &Args) -> anyhow::Result<()> {
    print!("{}", render(args.era, args.human_agent));
    Ok(())
}

/// The text `tagdesk rules` prints; deterministic, so it can be snapshotted.
pub fn render(era: Era, human_agent: bool) -> String {
    let rules = era.rules();
    let mut out = String::new();
    let _ = writeln!(out, "rules era: {era}");
    let _ = writeln!(
        out,
        "standard window: {}h after the customer's last message, postback, reaction or referral\n",
        rules.standard_window.as_hours()
    );
    let _ = writeln!(out, "tags:");
    for rule in rules.tags {
        let status = match &rule.status {
            TagStatus::Available(limits) => {
                let mut notes = Vec::new();
                if let Some(w) = limits.within {
                    notes.push(format!("within {} of the last message", human(w)));
                }
                if limits.humans_only {
                    notes.push("humans only".into());
                }
                if limits.needs_human_agent_feature {
                    notes.push("needs the Human Agent feature".into());
                }
                if limits.template_only {
                    notes.push("template only".into());
                }
                if limits.news_pages_only {
                    notes.push("news pages only".into());
                }
                if notes.is_empty() {
                    "available".to_string()
                } else {
                    format!("available: {}", notes.join(", "))
                }
            }
            TagStatus::Retired { since, instead } => {
                format!("retired on {since} (Meta answers code 100); use {instead}")
            }
        };
        let _ = writeln!(
            out,
            "  {:<28} {status}\n  {:<28} for {}",
            rule.tag.as_str(),
            "",
            rule.purpose
        );
    }
    let _ = writeln!(
        out,
        "\na human agent's reply, by time since the customer's last message (Human Agent feature: {}):",
        if human_agent { "yes" } else { "no" }
    );
    let wrote: Timestamp = "2026-11-20T10:00:00Z".parse().expect("valid constant");
    let mut thread = ThreadState::default();
    thread.customer_acted(CustomerAction::Message, wrote);
    let page = PageState {
        human_agent,
        ..PageState::default()
    };
    let lexicon = PromoLexicon::default();
    let ctx = Context {
        rules,
        page: &page,
        lexicon: &lexicon,
    };
    let second = SignedDuration::from_secs(1);
    let points = [
        SignedDuration::ZERO,
        STANDARD_WINDOW - second,
        STANDARD_WINDOW,
        SignedDuration::from_hours(72),
        SignedDuration::from_hours(168) - second,
        SignedDuration::from_hours(168),
    ];
    for after in points {
        let intent = Intent {
            sender: Sender::Human,
            request: Request::Reply,
            text: "Thanks for your patience, here is the update.",
            template: false,
        };
        let d = decide(&thread, &intent, wrote + after, &ctx);
        let _ = writeln!(out, "  +{:<9} {d}", human(after));
    }
    out
}
