//! `tagdesk train`: every exercise with a good trainee (full marks) and a careless one
//! (the expected mistakes, each named), the scorecards' exact text, and every session
//! replaying as a normal scenario.

use std::path::{Path, PathBuf};
use std::process::Command;

use tagdesk::scenario::{self, run};
use tagdesk::train::{card, exercise, session, trainee};

/// Each exercise and the mistakes its careless trainee makes, in time order.
const CARELESS: &[(&str, &[&str])] = &[
    (
        "blocked-and-handover",
        &["pushed_unreachable", "pushed_unreachable", "window_missed"],
    ),
    ("expired-window", &["wrong_tag", "wrong_tag"]),
    ("first-reply", &["wrong_tag", "window_missed"]),
    (
        "human-agent-7-days",
        &["wrong_tag", "window_missed", "refusal_ignored"],
    ),
    (
        "monday-backlog",
        &["window_missed", "wrong_tag", "window_missed"],
    ),
    (
        "promo-rewrite",
        &[
            "tagged_promotion",
            "tagged_promotion",
            "wrong_tag",
            "window_missed",
            "window_missed",
        ],
    ),
    (
        "restricted-day",
        &[
            "refusal_ignored",
            "refusal_ignored",
            "wrong_tag",
            "window_missed",
            "window_missed",
            "window_missed",
        ],
    ),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn session_of(name: &str, kind: &str) -> session::Session {
    let ex = exercise::load(&root().join(format!("training/{name}.toml"))).unwrap();
    let ids: Vec<&str> = ex.customers.keys().map(String::as_str).collect();
    let path = root().join(format!("training/trainees/{name}-{kind}.toml"));
    let t = trainee::load(&path, &ids).unwrap();
    assert_eq!(t.exercise.as_deref(), Some(name), "{}", path.display());
    let rt = scenario::runtime().unwrap();
    rt.block_on(session::run(&ex, &t)).unwrap()
}

#[test]
fn every_exercise_has_a_good_and_a_careless_trainee() {
    let mut found: Vec<String> = std::fs::read_dir(root().join("training"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let listed: Vec<&str> = CARELESS.iter().map(|(n, _)| *n).collect();
    assert_eq!(found, listed, "every exercise in training/ is tested here");
    assert!(found.len() >= 6);
    for name in &found {
        let ex = exercise::load(&root().join(format!("training/{name}.toml"))).unwrap();
        assert_eq!(&ex.name, name, "an exercise is named as its file");
        assert!(!ex.goal.contains('\n'));
    }
}

#[test]
fn a_good_trainee_gets_full_marks() {
    for (name, _) in CARELESS {
        let s = session_of(name, "good");
        let card = &s.scorecard;
        assert!(card.max > 0, "{name}: something to earn");
        assert!(
            card.full_marks(),
            "{name}: {:?}\n{}",
            card.mistake_kinds(),
            card::markdown(card)
        );
        insta::assert_snapshot!(format!("scorecard-{name}-good"), card::markdown(card));
    }
}

#[test]
fn a_careless_trainee_gets_the_expected_penalties_each_named() {
    for (name, expected) in CARELESS {
        let s = session_of(name, "careless");
        let card = &s.scorecard;
        assert!(
            !card.full_marks(),
            "{name}: a careless trainee isn't given full marks"
        );
        assert!(card.score < i64::from(card.max), "{name}");
        assert_eq!(
            card.mistake_kinds(),
            *expected,
            "{name}\n{}",
            card::markdown(card)
        );
        for m in &card.mistakes {
            assert!(!m.cost.is_empty() && !m.instead.is_empty(), "{name}: {m:?}");
        }
        insta::assert_snapshot!(format!("scorecard-{name}-careless"), card::markdown(card));
    }
}

#[test]
fn a_recorded_session_replays_as_a_scenario_and_holds() {
    let definitions = bot::commands::definitions::all();
    for (name, _) in CARELESS {
        for kind in ["good", "careless"] {
            let s = session_of(name, kind);
            let path = PathBuf::from(format!("{}.toml", s.recorded_name));
            let replay = scenario_format::load::parse(&path, &s.recorded, Some(&definitions))
                .unwrap_or_else(|e| panic!("{e}\n{}", s.recorded));
            let rt = scenario::runtime().unwrap();
            let report = rt.block_on(run::run(&replay, replay.seed, &mut || {}));
            assert!(
                report.passed(),
                "{name}-{kind}: {:?} {:?}\n{}",
                report.failures,
                report.error,
                s.recorded
            );
            assert!(report.checked > 0, "the replay checks what happened");
            assert_eq!(
                report.transcript, s.transcript,
                "{name}-{kind}: the same world"
            );
        }
    }
}

fn tagdesk(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tagdesk"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_command_line_trains_writes_replays_and_tabulates() {
    let dir = std::env::temp_dir().join(format!("tagdesk-train-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.to_string_lossy().into_owned();
    for kind in ["good", "careless"] {
        let trainee = format!("training/trainees/first-reply-{kind}.toml");
        let o = tagdesk(&["train", "first-reply", "--trainee", &trainee, "--out", &out]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains(&format!("## Scorecard: {kind} · first-reply")),
            "{text}"
        );
    }
    for file in [
        "first-reply.good.scorecard.md",
        "first-reply.good.scorecard.json",
        "first-reply.careless.transcript.txt",
        "training-first-reply-careless.toml",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let o = tagdesk(&["scenario", "run", &out, "--filter", "training-first-reply"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let o = tagdesk(&["train", "scores", &out]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    insta::assert_snapshot!("train-scores-table", table);
    let bad = dir.join("bad-trainee.toml");
    std::fs::write(
        &bad,
        "trainee = \"sam\"\n\n[[command]]\nat = \"10m\"\ncustomer = \"ada\"\ndoes = \"/replay hi\"\n",
    )
    .unwrap();
    let o = tagdesk(&["train", "first-reply", "--trainee", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad-trainee.toml:6:8: unknown command /replay"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Friday evening and a Monday morning, for the live clock.
const WEEKEND: &str = r#"
name = "weekend"
goal = "Answer Friday's customer, then Monday's."
description = "Nothing happens in between."
start = "2026-11-20T17:00:00Z"
ends = "2d 18h"

[customers.ada]
name = "Ada Lovelace"
on_reply = "Thanks, have a nice weekend!"

[customers.ben]
name = "Ben Okafor"
if_silent_for = "1h"
if_silent = "Hello?"

[[step]]
at = "0s"
customer = "ada"
says = "Is my order 20931 on its way?"

[[step]]
at = "2d 16h"
customer = "ben"
says = "Can I return the lamp?"
"#;

const WEEKEND_TRAINEE: &str = r#"
trainee = "sam"

[[command]]
at = "5m"
customer = "ada"
does = "/reply It is: it arrives on Monday."

[[command]]
at = "15m"
customer = "ada"
does = "/reply You too!"

[[command]]
at = "2d 16h 10m"
customer = "ben"
does = "/reply Yes, within 30 days."
"#;

/// A live session's clock, with a scripted trainee typing when the clock reaches each
/// command: the quiet weekend is jumped with a word, the rest runs at speed. No real
/// time passes: each turn of the loop is told 30 real seconds went by.
#[test]
fn the_compressed_clock_runs_a_desk_and_jumps_quiet_stretches() {
    use jiff::SignedDuration;
    use tagdesk::train::pace::{self, Move, Pace, Situation};

    let ex = exercise::parse(Path::new("weekend.toml"), WEEKEND).unwrap();
    let t = trainee::parse(Path::new("sam.toml"), WEEKEND_TRAINEE, &["ada", "ben"]).unwrap();
    let rt = scenario::runtime().unwrap();
    let (card, announced, turns) = rt.block_on(async {
        let mut desk = session::Desk::open(&ex, &t.name).await.unwrap();
        let pace = Pace::default();
        let mut commands = t.commands.iter().peekable();
        let (mut announced, mut turns) = (Vec::new(), 0);
        loop {
            turns += 1;
            let at = Situation {
                now: desk.now(),
                next_event: desk.next_event(),
                waiting: desk.waiting().unwrap(),
                ends: desk.ends(),
            };
            let to = match pace::next(&pace, &at, SignedDuration::from_secs(30)) {
                Move::End => break,
                Move::To(to) => to,
                Move::Jump { to, announce } => {
                    announced.push((desk.now(), announce));
                    to
                }
            };
            match commands.peek() {
                Some(c) if desk.start() + c.at <= to => {
                    desk.run_until(desk.start() + c.at).await.unwrap();
                    let outcome = desk
                        .act(c.customer.clone(), &c.typed, c.action.clone())
                        .await
                        .unwrap()
                        .outcome;
                    assert_eq!(outcome, Some("sent"), "{}", c.typed);
                    commands.next();
                }
                _ => desk.run_until(to).await.unwrap(),
            }
        }
        (desk.finish().await.unwrap().scorecard, announced, turns)
    });
    assert!(card.full_marks(), "{}", card::markdown(&card));
    let announced: Vec<(String, &str)> = announced
        .iter()
        .map(|(at, a)| (at.strftime("%a %H:%M").to_string(), a.as_str()))
        .collect();
    assert_eq!(
        announced,
        [
            (
                "Fri 17:15".to_owned(),
                "Next customer arrives Monday 09:00. ⏩"
            ),
            (
                "Mon 09:10".to_owned(),
                "Nothing more happens: the exercise ends. ⏩"
            ),
        ]
    );
    assert!(turns < 20, "{turns} turns");
}
