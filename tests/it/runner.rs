//! The runner's own mechanics, on small inline scenarios: steps at the same instant, a
//! double press, a press with no button, and expectations that read the step's own
//! Send API calls.

use tagdesk::scenario::run::{self, FailureKind};
use tagdesk::scenario::settings::{Options, TeamConfig};
use tagdesk::scenario::{self, report};

/// Writes `text` as `{name}.toml` in this run's scratch directory.
fn scratch_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tagdesk-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `text` as a scenario file named `name`, with `options`.
fn run_file_with(name: &str, text: &str, options: &Options) -> run::Report {
    let s = scenario::load(&scratch_file(name, text)).unwrap();
    let rt = scenario::runtime().unwrap();
    rt.block_on(run::run_with(&s, s.seed, options, &mut || {}))
}

fn run_text(name: &str, text: &str) -> run::Report {
    run_file_with(name, text, &Options::default())
}

const HEAD: &str = r#"
name = "runner"
description = "Runner mechanics."

[agents.grace]
[agents.alan]

[customers.ada]
name = "Ada Lovelace"

[[step]]
at = "0s"
customer = "ada"
says = "Where is my parcel?"
"#;

#[test]
fn a_group_runs_at_one_instant_and_reads_the_same() {
    let text = format!(
        r#"{HEAD}
[[step]]
at = "26h"
customer = "ada"
agent = "grace"
does = "/reply It left the warehouse."

[[step]]
concurrent = true
customer = "ada"
agent = "alan"
does = "/reply It ships today."

[[step]]
concurrent = true
customer = "ada"
says = "Hello?"
"#
    );
    let a = run_text("group", &text);
    assert!(a.error.is_none(), "{:?}", a.error);
    assert_eq!(a.steps, 4);
    let t = &a.transcript;
    let header = t.find("  at the same instant:\n").expect(t);
    let customer = t.find("• ada (Ada Lovelace) says “Hello?”").expect(t);
    let grace = t.find("• grace in ada's thread: /reply It left").expect(t);
    let alan = t.find("• alan in ada's thread: /reply It ships").expect(t);
    assert!(header < customer && customer < grace && grace < alan, "{t}");
    assert!(
        t.contains("grace (/reply It left the warehouse.):\n"),
        "{t}"
    );
    assert!(t.contains("alan (/reply It ships today.):\n"), "{t}");
    let b = run_text("group", &text);
    assert_eq!(a.transcript, b.transcript, "the same seed, the same bytes");
}

#[test]
fn presses_use_the_answer_from_before_the_group_and_a_missing_button_is_its_own_failure() {
    let text = format!(
        r#"{HEAD}
[[step]]
at = "26h"
customer = "ada"
agent = "grace"
does = "/reply It left the warehouse."

[[step]]
at = "26h 5m"
customer = "ada"
agent = "grace"
does = "/reply And it comes with a charger."
expect = {{ outcome = "warned" }}

# A double click: both presses find the warning's button.
[[step]]
at = "26h 6m"
customer = "ada"
agent = "grace"
does = "press confirm"

[[step]]
concurrent = true
customer = "ada"
agent = "grace"
does = "press confirm"

# The answer took the warning's place: there is nothing to press any more.
[[step]]
at = "26h 7m"
customer = "ada"
agent = "grace"
does = "press confirm"
expect = {{ outcome = "sent" }}

[[step]]
at = "26h 8m"
customer = "ada"
agent = "grace"
does = "/status"
expect = {{ tag = "none" }}
"#
    );
    let r = run_text("presses", &text);
    assert!(r.error.is_none(), "the run goes on: {:?}", r.error);
    assert_eq!(r.steps, 7);
    let kinds: Vec<(usize, &FailureKind)> = r.failures.iter().map(|f| (f.line, &f.kind)).collect();
    assert_eq!(
        kinds,
        [
            (
                43,
                &FailureKind::NoSuchButton(
                    "grace's last answer has no button “confirm” (it has none)".into()
                )
            ),
            (
                50,
                &FailureKind::Expectation(tagdesk::scenario::expect::Miss {
                    field: "tag",
                    expected: "none".into(),
                    actual: "no Send API call (this step caused none)".into(),
                })
            ),
        ],
        "{}",
        r.transcript
    );
    assert!(
        r.transcript
            .contains("✗ no such button: grace's last answer has no button “confirm”"),
        "{}",
        r.transcript
    );
    assert_eq!(r.count("no such button"), 1);
    let table = report::table(std::slice::from_ref(&r));
    assert!(
        table.contains("FAILED (1 of 3, 1 press with no such button)"),
        "{table}"
    );
    let failures = report::failures(std::slice::from_ref(&r), "");
    assert!(
        failures.contains("presses.toml:43 (at 1d 2h): no such button: grace's last answer"),
        "{failures}"
    );
    let xml = report::junit(std::slice::from_ref(&r));
    assert!(
        xml.contains(
            r#"<failure message="1 expectation(s) failed, 1 press(es) with no such button" type="expectation, no such button">"#
        ),
        "{xml}"
    );
    assert!(xml.contains("errors=\"0\""), "{xml}");
}

/// A team's tagdesk.toml: the example configuration with `edit` applied.
fn team_config(name: &str, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tagdesk.example.toml"))
            .unwrap();
    scratch_file(name, &edit(example))
}

fn run_with_config(name: &str, text: &str, config: &std::path::Path) -> run::Report {
    let options = Options {
        team: Some(TeamConfig::load(config).unwrap()),
        ..Options::default()
    };
    run_file_with(name, text, &options)
}

#[test]
fn a_teams_configuration_applies_unless_the_scenario_says_otherwise() {
    // The team believes it lacks the Human Agent feature: after 24 hours its bot
    // refuses a plain reply instead of sending it as HUMAN_AGENT.
    let no_human_agent = team_config("team-no-ha", |t| {
        t.replace("human_agent = true", "human_agent = false")
            .replace(
                "promo_phrases = [\"flash sale\", \"saldi\"]",
                "promo_phrases = [\"mega deal\"]",
            )
    });
    let steps = r#"
[[step]]
at = "26h"
customer = "ada"
agent = "grace"
does = "/reply Your parcel is on its way."
expect = { outcome = "refused" }

"#;
    let r = run_with_config("team-config", &format!("{HEAD}{steps}"), &no_human_agent);
    assert!(r.passed(), "{}", r.transcript);
    assert!(
        r.transcript
            .contains("human_agent = false (policy.human_agent in"),
        "{}",
        r.transcript
    );
    assert!(r
        .settings
        .iter()
        .any(|l| l.starts_with("extra promotional phrases = mega deal")));

    // The scenario's own [page] key wins over the team's file.
    let page = HEAD.replace(
        "[agents.grace]",
        "[page]\nhuman_agent = true\n\n[agents.grace]",
    );
    let steps = r#"
[[step]]
at = "26h"
customer = "ada"
agent = "grace"
does = "/reply Your parcel is on its way."
expect = { outcome = "sent", tag = "HUMAN_AGENT" }

# The team's own promotional phrase stops a tagged message.
[[step]]
at = "26h 1m"
customer = "ada"
agent = "grace"
does = "/reply A mega deal for you!"
expect = { outcome = "refused", says = "mega deal" }
"#;
    let r = run_with_config(
        "team-config-page",
        &format!("{page}{steps}"),
        &no_human_agent,
    );
    assert!(r.passed(), "{}", r.transcript);
    assert!(
        r.transcript.contains("human_agent = true (scenario)"),
        "{}",
        r.transcript
    );
}

#[test]
fn scenario_run_says_which_settings_were_in_force() {
    let config = team_config("team-cli", |t| {
        t.replace("coalesce = \"10s\"", "coalesce = \"30s\"")
    });
    let path = scratch_file("cli-config", HEAD);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tagdesk"))
        .args(["scenario", "run", "--config"])
        .arg(&config)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("settings in force, with "), "{stdout}");
    assert!(
        stdout.contains("coalesce = 30s (discord.coalesce in"),
        "{stdout}"
    );
}
