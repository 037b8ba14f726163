//! The scenario library, end to end: every transcript snapshotted, the same seed giving
//! the same bytes, and the runner's exit codes and reports.

use std::path::Path;
use std::process::Command;

use tagdesk::scenario::{self, run};

fn run_file(path: &Path, seed: Option<u64>) -> run::Report {
    let s = scenario::load(path).unwrap();
    let seed = seed.unwrap_or(s.seed);
    let rt = tagdesk::scenario::runtime().unwrap();
    rt.block_on(run::run(&s, seed, &mut || {}))
}

#[test]
fn every_scenario_holds_and_its_transcript_is_stable() {
    insta::glob!("../..", "scenarios/*.toml", |path| {
        let report = run_file(path, None);
        assert!(
            report.passed(),
            "{}:\n{:#?}\n{:?}",
            path.display(),
            report.failures,
            report.error
        );
        insta::assert_snapshot!(report.transcript);
    });
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/flaky-graph-and-discord.toml"
    ));
    let a = run_file(path, Some(99));
    let b = run_file(path, Some(99));
    for (x, y) in a.transcript.lines().zip(b.transcript.lines()) {
        assert_eq!(x, y);
    }
    assert_eq!(a.transcript, b.transcript);
    let c = run_file(path, Some(100));
    assert_ne!(a.transcript, c.transcript, "another seed, another weekend");
}

fn tagdesk(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tagdesk"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tagdesk-scenario-cli-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const GOOD: &str = r#"
name = "tiny"
description = "One customer, one reply."

[agents.grace]

[customers.ada]
name = "Ada Lovelace"

[[step]]
at = "0s"
customer = "ada"
says = "hello"

[[step]]
at = "1m"
customer = "ada"
agent = "grace"
does = "/reply hi Ada"
expect = { outcome = "sent", messaging_type = "RESPONSE" }
"#;

#[test]
fn unusable_files_exit_2_naming_file_line_and_column() {
    let dir = temp("bad");
    let cases = [
        (
            GOOD.replace("says = \"hello\"", "sayz = \"hello\""),
            "bad.toml:13:1: unknown field `sayz`",
        ),
        (
            GOOD.replace("at = \"1m\"", "at = \"soon\""),
            "bad.toml:16:6: bad time \"soon\"",
        ),
        (
            GOOD.replace("customer = \"ada\"\nagent", "customer = \"bob\"\nagent"),
            "bad.toml:17:12: unknown customer \"bob\"",
        ),
        (
            GOOD.replace("agent = \"grace\"", "agent = \"grase\""),
            "bad.toml:18:9: unknown agent \"grase\"",
        ),
        (
            GOOD.replace("outcome = \"sent\"", "outcome = \"sended\""),
            "`expect.outcome` can't be \"sended\"",
        ),
        (
            GOOD.replace("messaging_type = \"RESPONSE\"", "colour = \"blue\""),
            "unknown field `colour`",
        ),
        (
            GOOD.replace("/reply hi Ada", "/replay hi Ada"),
            "unknown command /replay",
        ),
    ];
    for (text, expected) in cases {
        let file = dir.join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let out = tagdesk(&["scenario", "run", file.to_str().unwrap()]);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
        assert!(
            err.contains("hint:") || expected.contains("can't be"),
            "a hint: {err}"
        );
    }
}

#[test]
fn a_failed_expectation_exits_1_with_expected_actual_and_how_to_reproduce() {
    let dir = temp("fail");
    let file = dir.join("tiny.toml");
    std::fs::write(
        &file,
        GOOD.replace("outcome = \"sent\"", "outcome = \"refused\""),
    )
    .unwrap();
    let junit = dir.join("junit.xml");
    let transcripts = dir.join("transcripts");
    let out = tagdesk(&[
        "scenario",
        "run",
        file.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--transcript",
        transcripts.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("tiny.toml:15 (at 1m 0s): outcome: expected refused, got sent"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "reproduce: cargo run --release -- scenario run {} --seed 1",
            file.display()
        )),
        "{err}"
    );
    // Run under a team's settings, the reproduce line applies them too.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tagdesk.example.toml");
    let out = tagdesk(&[
        "scenario",
        "run",
        file.to_str().unwrap(),
        "--config",
        config,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let with_config = String::from_utf8(out.stderr).unwrap();
    assert!(
        with_config.contains(&format!(
            "reproduce: cargo run --release -- scenario run {} --seed 1 --config {config}",
            file.display()
        )),
        "{with_config}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"tagdesk scenarios\" tests=\"1\" failures=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("outcome: expected refused, got sent"), "{xml}");
    let transcript = std::fs::read_to_string(transcripts.join("tiny.seed-1.txt")).unwrap();
    assert!(
        transcript.contains("grace in ada's thread: /reply hi Ada"),
        "{transcript}"
    );

    std::fs::write(&file, GOOD).unwrap();
    let out = tagdesk(&[
        "scenario",
        "run",
        file.to_str().unwrap(),
        "--seed",
        "1",
        "--seed",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("2 scenarios, 2 passed, 0 failed"), "{table}");
}
