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
