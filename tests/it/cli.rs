//! The `tagdesk` command line, run as a user would run it.

use std::process::Command;

fn tagdesk(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tagdesk"))
        .args(args)
        .output()
        .expect("the tagdesk binary runs")
}

#[test]
fn rules_prints_each_era() {
    for era in ["meta-2026", "legacy-2020"] {
        let out = tagdesk(&["rules", "--era", era]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        insta::assert_snapshot!(format!("rules-{era}"), text);
    }
}

#[test]
fn unknown_era_is_a_clear_error() {
    let out = tagdesk(&["rules", "--era", "meta-2030"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown rules era \"meta-2030\""), "{err}");
}

#[test]
fn the_example_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tagdesk.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let c = bot::config::FileConfig::parse(std::path::Path::new(path), &text).unwrap();
    assert_eq!(c.policy.rules, messenger::RulesChoice::Auto);
}

#[test]
fn bot_config_errors_name_the_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("tagdesk-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[discord]\napplication_id = \"one\"\n").unwrap();
    let out = tagdesk(&["bot", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.toml:2:18"), "{err}");
    assert!(err.contains("invalid type"), "{err}");

    let out = tagdesk(&[
        "bot",
        "--config",
        dir.join("missing.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("missing.toml"), "{err}");

    let good = dir.join("good.toml");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/tagdesk.example.toml");
    std::fs::copy(example, &good).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tagdesk"))
        .args(["bot", "--config", good.to_str().unwrap()])
        .env_remove("TAGDESK_DISCORD_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("TAGDESK_DISCORD_TOKEN"), "{err}");
}

#[test]
fn the_example_training_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tagdesk-training.example.toml");
    let c = tagdesk::train::live_config::TrainingConfig::load(std::path::Path::new(path)).unwrap();
    assert_eq!(c.trainee, "sam");
    assert_eq!(c.pace(), tagdesk::train::pace::Pace::default());
}

#[test]
fn live_training_says_what_is_missing_before_connecting() {
    let dir = std::env::temp_dir().join(format!("tagdesk-cli-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("training.toml");
    std::fs::write(
        &bad,
        "trainee = \"sam\"\n[discord]\napplication_id = 1\nguild_id = 2\nchannel = 3\n",
    )
    .unwrap();
    let out = tagdesk(&["train", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("training.toml:5:1: unknown field `channel`"),
        "{err}"
    );

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/tagdesk-training.example.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_tagdesk"))
        .args(["train", "--config", example, "no-such-exercise"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TAGDESK_DISCORD_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no-such-exercise"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_tagdesk"))
        .args(["train", "--config", example, "first-reply"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TAGDESK_DISCORD_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("TAGDESK_DISCORD_TOKEN"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_compose_trials_config_is_valid_and_uses_postgres() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/tagdesk.compose.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let c = bot::config::FileConfig::parse(std::path::Path::new(path), &text).unwrap();
    assert!(
        matches!(c.database, bot::config::Database::Postgres(_)),
        "{:?}",
        c.database
    );
    assert_eq!(c.meta.graph_base, "http://mock-graph:8787");
    let compose =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/compose.yaml")).unwrap();
    assert!(compose.contains("./deploy/tagdesk.compose.toml:/etc/tagdesk/tagdesk.toml:ro"));
}
