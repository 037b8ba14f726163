//! The weekend backlog end to end, at scale: `scenarios/weekend-backlog.toml` with its
//! generated crowd grown to 2,000 and then 10,000 customers, replayed through mock-graph,
//! the bot's real pipeline with its SQLite store, and the recording Discord.
//!
//! `cargo run --release --example bench-weekend` (or `-- 2000` for one size)
//! `cargo run --release --example bench-weekend -- --postgres 2000`: each size on
//! SQLite and then on Postgres (a throwaway server with Postgres's durable defaults,
//! started from Debian's binaries as the tests start theirs), the ratio printed.
//!
//! Prints, per size, the wall time beside the virtual time it covers (virtual hours per
//! wall second), and the Discord REST calls the bot made per inbound customer message;
//! then how the time grew from the smallest size to the largest, beside linear growth.
//! The scenario's own expectations are checked too, except those that count customers.

use std::path::Path;

use bot::config::Database;
use tagdesk::scenario::run;
use tagdesk::scenario::settings::Options;

fn scenario(customers: u32) -> scenario_format::Scenario {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/weekend-backlog.toml"
    ));
    let text = std::fs::read_to_string(path).expect("the weekend scenario");
    let mut doc: toml::Value = toml::from_str(&text).expect("valid TOML");
    doc["generate"]["count"] = toml::Value::Integer(customers.into());
    for step in doc["step"].as_array_mut().expect("steps") {
        if let Some(expect) = step.get_mut("expect").and_then(toml::Value::as_table_mut) {
            for counted in ["threads", "alerts"] {
                expect.remove(counted);
            }
        }
    }
    let text = toml::to_string(&doc).expect("serializable");
    scenario_format::load::parse(path, &text, Some(&bot::commands::definitions::all()))
        .expect("a valid scenario")
}

fn main() {
    let rt = tagdesk::scenario::runtime().expect("runtime");
    println!("weekend backlog, Friday 18:00 to Monday 09:10, end to end, release build:");
    // Sizes may be given on the command line (`-- 2000`); by default both.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let postgres = args.iter().any(|a| a == "--postgres");
    let sizes: Vec<u32> = args
        .iter()
        .filter(|a| *a != "--postgres")
        .map(|a| a.parse().expect("a number of customers"))
        .collect();
    let server = postgres.then(|| {
        bot::store::test_server::TestServer::start(true).unwrap_or_else(|e| panic!("{e}"))
    });
    let sizes = if sizes.is_empty() {
        vec![2_000, 10_000]
    } else {
        sizes
    };
    // Each size's wall time, for how time grows with customers (measured in this run).
    let mut walls: Vec<(u32, f64)> = Vec::new();
    for customers in sizes {
        let s = scenario(customers);
        let report = rt.block_on(run::run(&s, s.seed, &mut || {}));
        assert!(report.passed(), "{:?} {:?}", report.failures, report.error);
        let wall = report.wall.as_secs_f64();
        if let Some(server) = &server {
            let options = Options {
                database: Some(Database::Postgres(server.database())),
                ..Options::default()
            };
            let on_pg = rt.block_on(run::run_with(&s, s.seed, &options, &mut || {}));
            assert!(on_pg.passed(), "{:?} {:?}", on_pg.failures, on_pg.error);
            assert_eq!(
                on_pg.transcript, report.transcript,
                "the same world on either store"
            );
            let pg = on_pg.wall.as_secs_f64();
            println!(
                "  {customers:>6} customers: {wall:>6.2} s on SQLite, {pg:>6.2} s on Postgres ({:.1}x), the same transcript",
                pg / wall
            );
            continue;
        }
        let virtual_hours = report.span.as_secs_f64() / 3600.0;
        println!(
            "  {customers:>6} customers, {:>6} messages: {wall:>6.2} s wall for {virtual_hours:.1} virtual hours ({:.0} virtual hours per wall second; goal under 10 s)",
            report.customer_messages,
            virtual_hours / wall,
        );
        println!(
            "  {:>6} Discord REST calls: {:.2} per inbound message (goal 0.3 or fewer)",
            report.discord_calls,
            report.discord_calls as f64 / report.customer_messages as f64,
        );
        for (route, n) in &report.discord_calls_by_route {
            println!("           {n:>7}  {route}");
        }
        walls.push((customers, wall));
    }
    if let [(small, small_wall), .., (large, large_wall)] = walls[..] {
        let more = f64::from(large) / f64::from(small);
        println!(
            "  growth: {more:.1}x the customers cost {:.1}x the time (linear: {more:.1}x)",
            large_wall / small_wall,
        );
    }
}
