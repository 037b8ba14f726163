//! `tagdesk scenario explore`: generated worlds are valid scenario files, the same seed
//! gives the same file, calm worlds keep every promise, and a failing world shrinks to
//! a small file that still fails when run as written.

use tagdesk::scenario::defects::Defect;
use tagdesk::scenario::explore::{self, generate, Invariant, Profile};
use tagdesk::scenario::settings::Options;
use tagdesk::scenario::{self, run};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tagdesk-explore-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_same_seed_gives_the_same_scenario_bytes() {
    for profile in [Profile::Calm, Profile::All] {
        for seed in 1..=5 {
            let a = explore::load(&generate::world(seed, profile), "")
                .unwrap()
                .0;
            let b = explore::load(&generate::world(seed, profile), "")
                .unwrap()
                .0;
            assert_eq!(a, b, "seed {seed}, {profile:?}");
        }
    }
    // And different seeds give different worlds.
    let one = generate::world(1, Profile::All).render("");
    let two = generate::world(2, Profile::All).render("");
    assert_ne!(one, two);
}

#[test]
fn every_profile_generates_worlds_that_load() {
    for profile in [
        Profile::Calm,
        Profile::BusyMonday,
        Profile::HostileMeta,
        Profile::FlakyDiscord,
        Profile::All,
    ] {
        for seed in 1..=20 {
            let plan = generate::world(seed, profile);
            let (_, s) = explore::load(&plan, "").unwrap();
            // Each event is a step, plus the settling steps and the final check.
            assert_eq!(s.steps.len(), plan.step_count(), "{profile:?} seed {seed}");
            assert_eq!(s.seed, seed);
        }
    }
}

#[test]
fn calm_worlds_keep_every_promise() {
    for seed in 1..=5 {
        let r = explore::run_seed(seed, Profile::Calm, None, &Options::default()).unwrap();
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
        let report = r.report.expect("no panic");
        assert!(report.error.is_none(), "{:?}", report.error);
        // The final check ran, with nothing_lost among its expectations.
        assert!(report.checked > 0);
    }
}

#[test]
fn a_world_runs_the_same_twice() {
    let a = explore::run_seed(3, Profile::All, None, &Options::default()).unwrap();
    let b = explore::run_seed(3, Profile::All, None, &Options::default()).unwrap();
    let (a, b) = (a.report.unwrap(), b.report.unwrap());
    assert!(!a.transcript.is_empty());
    assert_eq!(a.transcript, b.transcript);
}

#[test]
fn a_failing_world_shrinks_to_a_small_file_that_fails_the_same_way() {
    // `sends = 0` at the end fails exactly when some reply reached Meta: the shrinker
    // must keep a customer's message and an agent's reply, and may drop the rest.
    let seed = 4;
    let r = explore::run_seed(seed, Profile::Calm, Some("sends = 0"), &Options::default()).unwrap();
    let first = r.first().expect("the impossible expectation fails").clone();
    assert_eq!(first.invariant, Invariant::Other);
    let out = temp_dir("shrink");
    let found = explore::shrink_and_write(&r, Profile::Calm, &out, 200, &Options::default())
        .unwrap()
        .expect("a finding");
    assert!(found.reproduces);
    assert!(
        found.shrunk.groups.len() <= 3 && found.shrunk.step_count() < r.plan.step_count(),
        "not shrunk enough:\n{}",
        found.shrunk.outline()
    );
    assert!(found
        .shrunk
        .events()
        .any(|e| matches!(e, explore::plan::Event::Agent { .. })));
    assert_eq!(found.shrunk.customers.len(), 1);

    // The file as written: a normal scenario, whose header says how to reproduce it,
    // failing on the same expectation under `scenario run`.
    let text = std::fs::read_to_string(&found.path).unwrap();
    assert!(
        text.starts_with("# Found by `tagdesk scenario explore --from 4"),
        "{text}"
    );
    assert!(
        text.contains("# Reproduce: tagdesk scenario run "),
        "{text}"
    );
    let s = scenario::load(&found.path).unwrap();
    let rt = scenario::runtime().unwrap();
    let report = rt.block_on(run::run(&s, s.seed, &mut || {}));
    let fields: Vec<&str> = report
        .failures
        .iter()
        .filter_map(|f| match &f.kind {
            run::FailureKind::Expectation(m) => Some(m.field),
            run::FailureKind::NoSuchButton(_) => None,
        })
        .collect();
    assert_eq!(fields, ["sends"], "{}", report.transcript);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_command_exits_1_and_writes_a_reproducing_file_on_a_violation() {
    let bin = env!("CARGO_BIN_EXE_tagdesk");
    let ok = std::process::Command::new(bin)
        .args(["scenario", "explore", "--seeds", "3", "--profile", "calm"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8(ok.stdout).unwrap();
    assert!(stdout.contains("violations: none"), "{stdout}");

    let out = temp_dir("cli");
    let junit = out.with_extension("xml");
    let failed = std::process::Command::new(bin)
        .args([
            "scenario",
            "explore",
            "--seeds",
            "1",
            "--from",
            "3",
            "--profile",
            "calm",
        ])
        .args(["--expect-final", "sends = 0", "--out"])
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8(failed.stderr).unwrap();
    assert!(stderr.contains("✗ seed 3"), "{stderr}");
    let file = out.join("seed-3-other.toml");
    assert!(stderr.contains(&format!(
        "reproduce: tagdesk scenario run {}",
        file.display()
    )));
    assert!(std::fs::read_to_string(&junit)
        .unwrap()
        .contains("failures=\"1\""));
    let rerun = std::process::Command::new(bin)
        .args(["scenario", "run"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(rerun.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(&junit);
}

/// The first seed from 1 whose world breaks a promise with `defect` injected.
fn first_failing(profile: Profile, options: &Options, within: u64) -> explore::SeedRun {
    (1..=within)
        .map(|seed| explore::run_seed(seed, profile, None, options).unwrap())
        .find(|r| !r.violations.is_empty())
        .unwrap_or_else(|| panic!("no seed up to {within} found the defect"))
}

#[test]
fn a_reintroduced_defect_is_found_and_shrunk_to_a_few_steps() {
    // The guard losing its count of tagged messages: a third tagged message in a row
    // goes out, Meta warns the page, and the explorer must say so and shrink the
    // world to the few steps that do it.
    let with_defect = Options {
        defect: Some(Defect::NoTagCount),
        ..Options::default()
    };
    let r = first_failing(Profile::BusyMonday, &with_defect, 20);
    let first = r.first().unwrap().clone();
    assert_eq!(first.invariant, Invariant::NoPenalty, "{first:?}");
    let out = temp_dir("defect");
    let found = explore::shrink_and_write(&r, Profile::BusyMonday, &out, 120, &with_defect)
        .unwrap()
        .expect("a finding");
    assert!(
        found.reproduces,
        "the written file fails again with the defect"
    );
    let agent_steps = found
        .shrunk
        .events()
        .filter(|e| matches!(e, explore::plan::Event::Agent { .. }))
        .count();
    assert!(
        found.shrunk.step_count() <= 10 && agent_steps >= 3,
        "not a few steps:\n{}",
        found.shrunk.outline()
    );
    let text = std::fs::read_to_string(&found.path).unwrap();
    assert!(
        text.contains("# Reproduce: tagdesk scenario run --inject-defect no-tag-count "),
        "{text}"
    );
    // The same file without the defect keeps every promise: the bot refuses or warns
    // where the defective one sent.
    let s = scenario::load(&found.path).unwrap();
    let rt = scenario::runtime().unwrap();
    let healthy = rt.block_on(run::run(&s, s.seed, &mut || {}));
    assert!(healthy.passed(), "{}", healthy.transcript);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn without_the_reservation_the_re_decision_still_keeps_the_page_safe() {
    // Tagged sends in flight not holding their place: agents decide on a count that
    // misses them, but every attempt decides again on the count as it is, through the
    // customer's lane one send at a time, so no promise breaks. (If this ever fails,
    // the re-decision has stopped guarding on its own.)
    let options = Options {
        defect: Some(Defect::NoTagReservation),
        ..Options::default()
    };
    for seed in 1..=12 {
        let r = explore::run_seed(seed, Profile::BusyMonday, None, &options).unwrap();
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
    }
}

#[test]
fn a_forum_that_forgets_it_asked_is_found_posting_a_conversation_twice() {
    // Forum posts carry no nonce: only the "asked" mark sends a retry to look among the
    // forum's active posts first. Without it, a lost answer or a crash mid-call opens
    // the conversation twice, and `nothing_lost` must see the second post, which no
    // conversation owns.
    let path = std::path::PathBuf::from("forum.toml");
    let text = "[discord]\napplication_id = 1\nguild_id = 1\nchannel_id = 1\nagent_role_id = 1\n\
                layout = \"forum\"\nalert_channel_id = 2\n[meta]\npage_id = \"1\"\n";
    let team = tagdesk::scenario::settings::TeamConfig {
        file: bot::config::FileConfig::parse(&path, text).unwrap(),
        path,
    };
    let with_defect = Options {
        team: Some(team.clone()),
        defect: Some(Defect::NoProgressMarks),
        ..Options::default()
    };
    let r = first_failing(Profile::FlakyDiscord, &with_defect, 30);
    let first = r.first().unwrap().clone();
    assert_eq!(first.invariant, Invariant::NothingLost, "{first:?}");
    assert!(
        first.detail.contains("outside its conversation's thread"),
        "{first:?}"
    );
    // The same world with the marks kept keeps every promise.
    let healthy = Options {
        team: Some(team),
        ..Options::default()
    };
    let again = explore::run_seed(r.seed, Profile::FlakyDiscord, None, &healthy).unwrap();
    assert!(again.violations.is_empty(), "{:?}", again.violations);
}

/// The first seed of `profile` whose world has a second page.
fn two_page_world(profile: Profile) -> explore::Plan {
    (1..=60)
        .map(|seed| generate::world(seed, profile))
        .find(|p| p.second_page.is_some() && p.on_second_page.contains(&true))
        .expect("some world in 60 has a second page")
}

#[test]
fn a_second_page_is_served_beside_the_first_and_checked_on_its_own() {
    let plan = two_page_world(Profile::All);
    let (text, s) = explore::load(&plan, "").unwrap();
    assert!(text.contains("[pages.outlet]"), "{text}");
    let outlet: Vec<&String> = plan
        .customers
        .iter()
        .enumerate()
        .filter(|(i, _)| plan.on_second(*i))
        .map(|(_, c)| c)
        .collect();
    for c in &outlet {
        assert_eq!(s.customer_page(c), 1, "{c} writes to the outlet");
    }
    // The last step checks the outlet's own record.
    let last = s.steps.last().unwrap();
    assert_eq!(last.page.as_deref(), Some("outlet"));
    assert_eq!(
        last.expect.as_ref().and_then(|x| x.record_agrees),
        Some(true)
    );
    let r = explore::run_plan(plan, &Options::default()).unwrap();
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let transcript = r.report.unwrap().transcript;
    assert!(
        transcript.contains("new conversation in outlet's channel"),
        "{transcript}"
    );
}

#[test]
fn shrinking_keeps_each_customer_on_their_page() {
    // An outlet customer, when the first customer writes to the first page: once the
    // shrinker drops the others, they are renumbered first, and their page must follow.
    let (plan, keep) = (1..=100)
        .map(|seed| generate::world(seed, Profile::All))
        .find_map(|p| {
            let keep = (1..p.customers.len()).find(|&i| p.on_second(i) && !p.on_second(0))?;
            let says = p.events().any(
                |e| matches!(e, explore::plan::Event::Says { customer, .. } if *customer == keep),
            );
            says.then(|| {
                let name = p.customers[keep].clone();
                (p, name)
            })
        })
        .expect("such a world among 100");
    // "Fails" while the outlet's customer still writes: everything else may go.
    let shrunk = explore::shrink::shrink(plan, 300, &mut |p: &explore::Plan| {
        p.events().any(|e| match e {
            explore::plan::Event::Says { customer, .. } => {
                p.customers[*customer] == keep && p.on_second(*customer)
            }
            _ => false,
        })
    })
    .plan;
    assert_eq!(shrunk.customers.len(), 1, "{}", shrunk.outline());
    assert!(shrunk.on_second(0), "{}", shrunk.outline());
    assert!(shrunk.second_page.is_some());
    let (text, _) = explore::load(&shrunk, "").unwrap();
    assert!(text.contains("page = \"outlet\""), "{text}");
}

#[test]
fn a_failure_that_needs_no_second_page_shrinks_to_one() {
    let plan = two_page_world(Profile::All);
    let outlet = (0..plan.customers.len())
        .find(|&c| plan.on_second(c))
        .unwrap();
    let keep = plan.customers[outlet].clone();
    // "Fails" while the outlet's customer writes, to whichever page: one is enough.
    let shrunk = explore::shrink::shrink(plan, 300, &mut |p: &explore::Plan| {
        p.events().any(|e| match e {
            explore::plan::Event::Says { customer, .. } => p.customers[*customer] == keep,
            _ => false,
        })
    })
    .plan;
    assert!(shrunk.second_page.is_none(), "{}", shrunk.outline());
    let (text, _) = explore::load(&shrunk, "").unwrap();
    assert!(!text.contains("[pages."), "{text}");
}
