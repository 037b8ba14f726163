//! The fuzzing harness, briefly: every target takes a few hundred seeded mutations of
//! its valid inputs without a panic, a hang, an unbounded allocation or a broken
//! invariant. The long run is `cargo run --release --example fuzz` (RELIABILITY.md).

use tagdesk::fuzz::{self, Budget, Generator, Input, Report, Target};

// Inputs' allocations are bounded only where this is the global allocator; outside
// an input (every other test in this binary) it is the system allocator as it is.
#[global_allocator]
static ALLOC: fuzz::alloc::BoundedAlloc = fuzz::alloc::BoundedAlloc;

/// Fixed, so a failure here is the same input on every machine.
const SEED: u64 = 20_260_427;

fn check(target: Target, inputs: u64) -> Report {
    let report = fuzz::run(target, SEED, Budget::Inputs(inputs));
    println!(
        "{target}: {} inputs in {:.1}s, {} accepted, {} refused, slowest {:?}",
        report.tried, report.secs, report.accepted, report.refused, report.slowest
    );
    if let Some(f) = &report.first_failure {
        panic!(
            "{target} input {} failed ({:?}): {}\n  saved: {:?}\n  reproduce: {}",
            f.index,
            f.kind,
            f.message,
            f.saved,
            fuzz::reproduce_command(target, SEED, f.index)
        );
    }
    assert_eq!(report.tried, inputs);
    assert_eq!(report.failures(), 0);
    assert!(report.alloc_bounded, "the bounded allocator is installed");
    // Both sides are reached: mutations that still pass the parser, and ones it refuses.
    assert!(report.accepted > 0, "{report:?}");
    assert!(report.refused > 0, "{report:?}");
    report
}

#[test]
fn webhook_deliveries() {
    check(Target::Webhook, 250);
}

#[test]
fn interactions() {
    check(Target::Interaction, 400);
}

#[test]
fn scenario_files() {
    check(Target::Scenario, 300);
}

#[test]
fn config_files() {
    check(Target::Config, 300);
}

#[test]
fn mock_graph_requests() {
    check(Target::MockGraph, 400);
}

#[test]
fn oversized_bodies_are_refused_without_being_read_whole() {
    let checks = fuzz::limits::check_body_limits().expect("the endpoints start");
    assert_eq!(checks.len(), 6);
    for c in &checks {
        assert!(c.holds(), "{c}");
    }
}

#[test]
fn inputs_are_a_function_of_target_seed_and_number() {
    let a = Generator::new(Target::Webhook, 5);
    let b = Generator::new(Target::Webhook, 5);
    let first = a.seeds();
    let same = (first..first + 50).all(|i| a.input(i) == b.input(i));
    assert!(same, "the same seed makes the same inputs");
    // Reproducible out of order: input n doesn't depend on the inputs before it.
    assert_eq!(a.input(first + 40), b.input(first + 40));
    let other = Generator::new(Target::Webhook, 6);
    assert!((first..first + 50).any(|i| a.input(i) != other.input(i)));
    // The first inputs are the seeds themselves.
    assert_eq!(a.input(0), fuzz::corpus::seeds(Target::Webhook)[0]);
}

#[test]
fn a_saved_input_reads_back() {
    let input = Input::new("valid", b"{\n\"a\": [1, 2]\n}\xff".to_vec());
    assert_eq!(Input::from_file(&input.to_file()), input);
    let bare = Input::new("", b"name = 1".to_vec());
    assert_eq!(Input::from_file(&bare.to_file()), bare);
}

#[test]
fn the_webhook_corpus_has_every_kind_of_event() {
    let mut kinds = std::collections::BTreeSet::new();
    for seed in fuzz::corpus::seeds(Target::Webhook) {
        let delivery: messenger::wire::WebhookDelivery =
            serde_json::from_slice(&seed.body).expect("mock-graph's deliveries parse");
        for event in bot::intake::events(&delivery) {
            kinds.insert(if event.standby { "standby" } else { event.kind });
        }
    }
    let every = [
        "delivery",
        "echo",
        "message",
        "policy_enforcement",
        "postback",
        "reaction",
        "read",
        "referral",
        "standby",
    ];
    assert_eq!(kinds, every.into_iter().collect());
}

#[test]
fn each_input_is_noted_before_it_runs() {
    // What the long command's parent reads to name the input a crashed child was on.
    let file = std::env::temp_dir().join(format!("tagdesk-fuzz-{}.running", std::process::id()));
    let options = fuzz::Options {
        index_file: Some(file.clone()),
        ..fuzz::Options::default()
    };
    let report = fuzz::run_with(Target::Config, SEED, Budget::Inputs(5), &options, |_| {});
    assert_eq!(report.tried, 5);
    assert_eq!(fuzz::read_index(&file), Some(4));
    let _ = std::fs::remove_file(file);
}
