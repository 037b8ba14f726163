//! The bot's resident memory with 100,000 conversations in its store, beside the same
//! bot with an empty store, measured in the same run.
//!
//! `cargo run --release --example bench-memory` (or `-- 20000` for another size)
//!
//! A child process fills a SQLite store with the conversations (each with its customer,
//! thread, label and three messages, windows spread over the last eight days). Then,
//! each in a fresh process so neither inherits the other's heap, the bot is built from
//! a configuration as `tagdesk bot` builds it (its store, metered Graph and Discord
//! clients, settings) on the empty store and on the full one, and does what touches
//! every conversation: engine ticks (processing, labels and alerts due, the outbox),
//! a `/metrics` scrape, `/inbox` and `/status` as an agent would ask for them. Meta and
//! Discord are unreachable addresses on loopback: the bot backs off from them, as it
//! would in an outage. Each process reports its peak resident memory (`VmHWM` in
//! `/proc/self/status`), and the figure is the full store's beside the empty one's and
//! beside the goal (64 MB: nothing per conversation is kept in memory).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bot::commands::{self, interaction};
use bot::config::Config;
use bot::metrics::Metrics;
use bot::store::model::{Customer, Direction, MessageRecord, Thread};
use bot::store::sqlite::SqliteStore;
use bot::store::{Changes, Store};
use jiff::{SignedDuration, Timestamp};
use messenger::window::CustomerAction;

const GOAL_MB: f64 = 64.0;
const CHANNEL: u64 = 1_000_000_000_000_000_001;
const AGENT_ROLE: u64 = 1_000_000_000_000_000_002;

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("fill") => {
            let db = PathBuf::from(args.next().expect("a database path"));
            let n: u32 = args.next().expect("a count").parse().expect("a number");
            fill(&db, n);
        }
        Some("measure") => {
            let db = PathBuf::from(args.next().expect("a database path"));
            for (step, kb) in measure(&db) {
                println!("{step} {kb}");
            }
        }
        size => {
            let n: u32 = size.map_or(100_000, |s| s.parse().expect("a number of conversations"));
            compare(n);
        }
    }
}

/// Fills, measures both, prints.
fn compare(n: u32) {
    let dir = std::env::temp_dir().join(format!("tagdesk-bench-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let empty = dir.join("empty.db");
    let full = dir.join("full.db");
    let me = std::env::current_exe().expect("this program");
    let run = |args: &[&str]| {
        let out = Command::new(&me)
            .args(args)
            .output()
            .expect("a child process");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let started = std::time::Instant::now();
    run(&["fill", full.to_str().unwrap(), &n.to_string()]);
    run(&["fill", empty.to_str().unwrap(), "0"]);
    let filled = started.elapsed();
    // Each step's peak so far, in MB.
    let steps = |db: &Path| -> Vec<(String, f64)> {
        run(&["measure", db.to_str().unwrap()])
            .lines()
            .map(|l| {
                let (step, kb) = l.rsplit_once(' ').expect("step and kilobytes");
                (
                    step.to_owned(),
                    kb.parse::<f64>().expect("kilobytes") / 1024.0,
                )
            })
            .collect()
    };
    let (base, with) = (steps(&empty), steps(&full));
    let size = std::fs::metadata(&full).map_or(0, |m| m.len()) as f64 / 1e6;
    println!("the bot's peak resident memory, release build (filled in {filled:.1?}, {size:.0} MB store):");
    println!(
        "  {:<24} {:>12} {:>20}",
        "peak after",
        "empty store",
        format!("{n} conversations")
    );
    for ((step, b), (_, w)) in base.iter().zip(&with) {
        println!("  {step:<24} {b:>9.1} MB {w:>17.1} MB");
    }
    let (b, w) = (base.last().unwrap().1, with.last().unwrap().1);
    println!(
        "  the bot with {n} conversations: {w:.1} MB, {:+.1} MB over the empty store's {b:.1} MB ({:.2} KB per conversation); goal {GOAL_MB} MB or less",
        w - b,
        (w - b) * 1024.0 / f64::from(n.max(1)),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `n` conversations, committed in batches as the bot's processing would leave them.
fn fill(db: &Path, n: u32) {
    let store = SqliteStore::open(db).expect("the store");
    let now = Timestamp::now();
    let batch = 2_000;
    for first in (0..n).step_by(batch) {
        let mut changes = Changes::default();
        for i in first..(first + batch as u32).min(n) {
            let psid = format!("{}", 7_000_000_000_000_000u64 + u64::from(i));
            // Spread over the last eight days: open windows, human-agent ones, expired.
            let wrote = now - SignedDuration::from_secs(i64::from(i % 691_200));
            let mut thread = Thread {
                psid: psid.clone(),
                discord_thread: Some(1_300_000_000_000_000_000 + u64::from(i)),
                last_text: Some(format!(
                    "Hello, this is about order {i}: has it shipped yet?"
                )),
                label: Some("🟢 open".into()),
                label_due: Some(wrote + SignedDuration::from_hours(22)),
                ..Thread::default()
            };
            thread.state.customer_acted(CustomerAction::Message, wrote);
            changes.customers.push(Customer {
                psid: psid.clone(),
                name: Some(format!("Customer {i}")),
                profile_pic: None,
                fetched: true,
            });
            for (k, direction) in [Direction::In, Direction::Out, Direction::In]
                .into_iter()
                .enumerate()
            {
                let out = direction == Direction::Out;
                changes.messages.push(MessageRecord {
                    id: 0,
                    psid: psid.clone(),
                    direction,
                    mid: Some(format!("m_{i}_{k}")),
                    kind: "text".into(),
                    text: format!(
                        "Message {k} of conversation {i}, about an order and its delivery."
                    ),
                    attachments: Vec::new(),
                    at: wrote - SignedDuration::from_mins(10 * (3 - k as i64)),
                    messaging_type: out.then(|| "RESPONSE".into()),
                    tag: None,
                    agent: out.then(|| "agent".into()),
                    decision: None,
                    state: if out { "sent" } else { "received" }.into(),
                    error: None,
                    reason: None,
                    standby: false,
                    app_id: None,
                    interaction_id: None,
                    asked: None,
                });
            }
            changes.threads.push(thread);
        }
        store.commit(&changes).expect("a commit");
    }
}

/// Builds the bot on `db`, works it, and returns its peak resident memory in KB after
/// each step.
fn measure(db: &Path) -> Vec<(&'static str, u64)> {
    let dir = db.parent().expect("a directory");
    let config_path = dir.join(format!(
        "{}.toml",
        db.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(
        &config_path,
        format!(
            "database = {db:?}\n[discord]\napi_base = \"http://127.0.0.1:9\"\napplication_id = 1\nguild_id = 2\nchannel_id = {CHANNEL}\nagent_role_id = {AGENT_ROLE}\n[meta]\ngraph_base = \"http://127.0.0.1:9\"\npage_id = \"1\"\n"
        ),
    )
    .expect("a configuration");
    for (name, value) in [
        ("TAGDESK_DISCORD_TOKEN", "bench"),
        ("TAGDESK_PAGE_TOKEN", "bench"),
        ("TAGDESK_APP_SECRET", "bench"),
        ("TAGDESK_VERIFY_TOKEN", "bench"),
    ] {
        // A fresh single-threaded child: nothing else reads the environment.
        unsafe { std::env::set_var(name, value) };
    }
    let config = Config::load(&config_path).expect("the configuration");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut peaks = vec![("start", hwm())];
    rt.block_on(async {
        let metrics = Arc::new(Metrics::new());
        let pages = bot::server::pages(&config, &metrics).expect("the engine");
        let engine = pages.first();
        for _ in 0..3 {
            engine.tick().await.expect("a tick");
        }
        peaks.push(("3 engine ticks", hwm()));
        let now = engine.clock.now();
        metrics
            .render(&*engine.store, &engine.settings, now)
            .expect("a scrape");
        peaks.push(("a /metrics scrape", hwm()));
        for (n, (command, step)) in [("inbox", "/inbox"), ("status", "/status")]
            .into_iter()
            .enumerate()
        {
            let inv = interaction::parse(&serde_json::json!({
                "id": format!("{}", 1_200_000_000_000_000_000u64 + n as u64),
                "type": 2,
                "data": {"name": command, "options": []},
                "token": "bench",
                "application_id": "1",
                "channel_id": CHANNEL.to_string(),
                "member": {"user": {"id": "42", "username": "agent"}, "roles": [AGENT_ROLE.to_string()]},
            }))
            .expect("an interaction");
            let answer = commands::handle(engine, &inv).await;
            let shown = commands::response::render(&answer);
            assert!(!shown.is_null());
            peaks.push((step, hwm()));
        }
    });
    peaks
}

fn hwm() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux's /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}
