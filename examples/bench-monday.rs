//! A Monday backlog under Discord's rate limits: 300 conversations waiting at once,
//! mirrored most urgent first.
//!
//! `cargo run --release --example bench-monday`
//!
//! Discord is down from Sunday 08:00; 300 customers write between Sunday 08:30 and
//! Monday 07:59 (so their 24-hour windows close from Monday 08:30 on); Discord is back
//! at Monday 08:00. The recording Discord enforces its limits on virtual time (5
//! messages per 5 s per channel, 10 thread starts per 10 s per channel, 50 calls per
//! second). Printed, in virtual time from Discord's return: when the 20 conversations
//! closing soonest are all visible (their threads open), when all 300 are, Discord
//! calls per conversation, and calls refused 429. The bot pacing itself by the
//! rate-limit headers (as it does in the scenario world, and as serenity's limiter does
//! in production) is measured beside the same bot unpaced, answering each 429 only by
//! its `retry_after`, in the same run; and in both layouts: a thread per conversation
//! under a text channel (two calls to open one), and a post per conversation in a
//! forum channel (one call).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use bot::config::FileConfig;
use jiff::{SignedDuration, Timestamp};
use tagdesk::scenario::run;
use tagdesk::scenario::settings::{Options, TeamConfig};
use tagdesk::scenario::world::World;

const CUSTOMERS: usize = 300;
const URGENT: usize = 20;

/// The scenario: Discord down, 300 customers over a day, Discord back Monday 08:00.
fn scenario() -> scenario_format::Scenario {
    let mut t = String::from(
        "name = \"monday-backlog\"\ndescription = \"300 conversations waiting on Discord.\"\n\
         start = \"2026-11-22T08:00:00Z\"\n",
    );
    for i in 0..CUSTOMERS {
        let _ = writeln!(t, "\n[customers.c{i:03}]");
    }
    t.push_str("\n[[step]]\nat = \"0s\"\ndiscord_outage = true\n");
    // Spread over Sunday 08:30 to Monday 07:59, in an order unrelated to urgency.
    let span = 23 * 3600 + 29 * 60;
    let mut arrivals: Vec<(usize, usize)> = (0..CUSTOMERS)
        .map(|i| (30 * 60 + (i * 7919) % CUSTOMERS * span / CUSTOMERS, i))
        .collect();
    arrivals.sort_unstable();
    for (secs, i) in arrivals {
        let _ = write!(
            t,
            "\n[[step]]\nat = \"{secs}s\"\ncustomer = \"c{i:03}\"\nsays = \"Where is my order?\"\n"
        );
    }
    let _ = write!(
        t,
        "\n[[step]]\nat = \"24h\"\ndiscord_outage = false\n\n[[step]]\nat = \"25h\"\nexpect = {{ threads = {CUSTOMERS}, nothing_lost = true }}\n"
    );
    scenario_format::load::parse(
        Path::new("monday-backlog.toml"),
        &t,
        Some(&bot::commands::definitions::all()),
    )
    .expect("a valid scenario")
}

/// What one run measured.
struct Figures {
    /// Whether every conversation was in Discord an hour after it came back.
    passed: bool,
    /// Conversations visible an hour after Discord came back.
    visible: usize,
    /// Invalid requests Discord counted (429s and 403s).
    invalid: u64,
    urgent_visible: SignedDuration,
    all_visible: SignedDuration,
    calls_per_conversation: f64,
    refused: usize,
    calls: usize,
}

/// A team whose conversations are posts in a forum channel, its alerts in a text
/// channel.
fn forum_team() -> TeamConfig {
    let path = Path::new("forum.toml");
    let text = "[discord]\napplication_id = 1\nguild_id = 1\nchannel_id = 1\nagent_role_id = 1\n\
                layout = \"forum\"\nalert_channel_id = 2\n[meta]\npage_id = \"1\"\n";
    TeamConfig {
        path: path.to_owned(),
        file: FileConfig::parse(path, text).expect("a valid configuration"),
    }
}

fn measure(s: &scenario_format::Scenario, unpaced: bool, forum: bool) -> Figures {
    let rt = tagdesk::scenario::runtime().expect("runtime");
    let back: Timestamp = s.start + SignedDuration::from_hours(24);
    let mut figures = None;
    let options = Options {
        unpaced,
        team: forum.then(forum_team),
        ..Options::default()
    };
    let report = rt.block_on(run::run_then(
        s,
        s.seed,
        &options,
        &mut || {},
        &mut |w: &World| {
            figures = Some(from_world(w, back));
        },
    ));
    if std::env::var_os("BENCH_MONDAY_DEBUG").is_some() {
        eprintln!("{:?}", report.discord_calls_by_route);
        eprintln!(
            "{}",
            &report.transcript[report.transcript.len().saturating_sub(4000)..]
        );
    }
    let mut f = figures.expect("measured");
    f.passed = report.passed();
    f
}

fn from_world(w: &World, back: Timestamp) -> Figures {
    // When each conversation's thread opened, and when its window closes.
    let mut opened: HashMap<u64, Timestamp> = HashMap::new();
    let calls = w.discord.calls();
    let after: Vec<_> = calls
        .iter()
        .filter(|c| c.at.is_some_and(|at| at >= back))
        .collect();
    for c in &after {
        if c.path.ends_with("/threads") {
            if let (Ok(id), Some(at)) = (c.outcome, c.at) {
                opened.entry(id).or_insert(at);
            }
        }
    }
    let mut conversations: Vec<(Timestamp, Option<Timestamp>)> = Vec::new();
    for psid in w.psids.values() {
        let t = w.engine().store.thread(psid).unwrap().expect("a thread");
        let closes =
            t.state.last_customer_message.expect("a message") + SignedDuration::from_hours(24);
        let visible = t.discord_thread.and_then(|id| opened.get(&id).copied());
        conversations.push((closes, visible));
    }
    conversations.sort();
    let latest = |cs: &[(Timestamp, Option<Timestamp>)]| {
        cs.iter()
            .map(|(_, v)| v.map_or(SignedDuration::MAX, |v| v.duration_since(back)))
            .max()
            .unwrap_or_default()
    };
    let all_visible = latest(&conversations);
    // The calls it took to make them all visible (later ones are renames as windows
    // step down, and the day's traffic).
    let until = back + all_visible.min(SignedDuration::from_hours(1));
    let calls: Vec<_> = after
        .iter()
        .filter(|c| c.at.is_some_and(|at| at <= until))
        .collect();
    if std::env::var_os("BENCH_MONDAY_DEBUG").is_some() {
        let mut by: std::collections::BTreeMap<String, usize> = Default::default();
        for c in &calls {
            let kind = c
                .path
                .split('/')
                .filter(|p| p.parse::<u64>().is_err())
                .collect::<Vec<_>>()
                .join("/");
            *by.entry(format!("{} {kind} {:?}", c.method, c.outcome.map(|_| ())))
                .or_default() += 1;
        }
        eprintln!("{by:#?}");
    }
    Figures {
        passed: true,
        visible: conversations.iter().filter(|(_, v)| v.is_some()).count(),
        invalid: w.discord.invalid_requests(),
        urgent_visible: latest(&conversations[..URGENT]),
        all_visible,
        calls_per_conversation: calls.len() as f64 / CUSTOMERS as f64,
        refused: calls.iter().filter(|c| c.outcome == Err(429)).count(),
        calls: calls.len(),
    }
}

fn main() {
    let s = scenario();
    println!(
        "Monday backlog: {CUSTOMERS} conversations waiting when Discord comes back, under its rate limits (virtual time):"
    );
    println!(
        "  {:<30} {:>16} {:>16} {:>12} {:>14}",
        "", "20 most urgent", "all 300", "calls/conv.", "429s"
    );
    for (name, unpaced, forum) in [
        ("forum posts, paced (tagdesk)", false, true),
        ("threads, paced (tagdesk)", false, false),
        ("threads, unpaced (reference)", true, false),
    ] {
        let f = measure(&s, unpaced, forum);
        let shown = |d: SignedDuration| {
            if d == SignedDuration::MAX {
                "not in 1h".to_owned()
            } else {
                messenger::timefmt::human(d)
            }
        };
        println!(
            "  {name:<30} {:>16} {:>16} {:>12.2} {:>7} ({:.1}%)",
            shown(f.urgent_visible),
            shown(f.all_visible),
            f.calls_per_conversation,
            f.refused,
            100.0 * f.refused as f64 / f.calls.max(1) as f64
        );
        if !f.passed {
            println!(
                "  {:<30} {} of {CUSTOMERS} visible after 1h; {} invalid requests{}",
                "",
                f.visible,
                f.invalid,
                if f.invalid >= 10_000 {
                    ": Discord banned the bot's address for an hour"
                } else {
                    ""
                }
            );
        }
    }
    println!("  goals: 20 most urgent within 1m; all within 10m; at most 2 calls per conversation; 429s under 1%");
}
