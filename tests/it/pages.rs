//! Several pages in one scenario world: what the world and its checks must see that a
//! real deployment serving several pages would show.

use std::sync::Arc;

use jiff::SignedDuration;
use tagdesk::scenario::settings::Options;
use tagdesk::scenario::transcript::Transcript;
use tagdesk::scenario::world::World;
use tagdesk::scenario::{self, expect, run};

const TWO_PAGES: &str = r#"
name = "pages"
description = "Two pages."
seed = 3

[pages.outlet]
human_agent = false

[agents.grace]
roles = ["agent", "team"]

[customers.ada]
name = "Ada Lovelace"

[customers.ben]
name = "Ben Okafor"
page = "outlet"

[[step]]
at = "0s"
"#;

/// Loads `text` as a scenario file named `name`.
fn load(name: &str, text: &str) -> scenario_format::Scenario {
    let dir = std::env::temp_dir().join(format!("tagdesk-pages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    scenario::load(&path).unwrap()
}

/// Ben writes to the outlet and Ada to the shop, at the same instant, before Meta
/// delivers either.
fn both_write(w: &World) {
    let ben = &w.psids["ben"];
    w.pages[1]
        .mock
        .lock()
        .customer_message(ben, "Is the outlet open on Sunday?")
        .unwrap();
    let ada = &w.psids["ada"];
    w.pages[0]
        .mock
        .lock()
        .customer_message(ada, "Has my order shipped?")
        .unwrap();
}

#[test]
fn a_conversation_shown_in_another_pages_channel_is_lost_to_its_team() {
    let s = load("wrong-channel", TWO_PAGES);
    let rt = scenario::runtime().unwrap();
    rt.block_on(async {
        let mut w = World::start(&s, s.seed, &Options::default()).await.unwrap();
        // A bot that mixed its pages up: the outlet's conversations open in the shop's
        // channel, where the outlet's team never looks.
        let mut settings = (*w.pages[1].engine.settings).clone();
        settings.channel_id = w.pages[0].engine.settings.channel_id;
        w.pages[1].engine.settings = Arc::new(settings);
        both_write(&w);
        let mut t = Transcript::default();
        for minute in 1..=5 {
            w.settle().await.unwrap();
            run::advance(&w, &mut t, s.start + SignedDuration::from_mins(minute))
                .await
                .unwrap();
        }
        w.settle().await.unwrap();
        let tally = expect::nothing_lost(&w).unwrap();
        assert_eq!(
            tally.to_string(),
            "1 lost, 0 twice: “Is the outlet open on Sunday?” not in its page's channel",
            "{tally:?}"
        );
    });
}

#[test]
fn the_transcript_says_which_pages_channel_an_agent_types_in() {
    let text = format!(
        "{TWO_PAGES}\n[[step]]\nat = \"1m\"\npage = \"outlet\"\nagent = \"grace\"\ndoes = \"/status\"\n\
         \n[[step]]\nat = \"2m\"\nagent = \"grace\"\ndoes = \"/inbox\"\n\
         \n[[step]]\nat = \"3m\"\npage = \"outlet\"\nfaults = {{ drop = 0.5 }}\n"
    );
    let s = load("transcript-pages", &text);
    let rt = scenario::runtime().unwrap();
    let report = rt.block_on(run::run_with(&s, s.seed, &Options::default(), &mut || {}));
    assert!(report.passed(), "{}", report.transcript);
    for line in [
        "grace in outlet's channel: /status",
        "grace in page 1's channel: /inbox",
        "outlet's Meta: faults:",
    ] {
        assert!(
            report.transcript.contains(line),
            "{line:?} in:\n{}",
            report.transcript
        );
    }
}

#[test]
fn a_press_goes_where_the_pressed_message_is_as_discord_sends_it() {
    // Grace's warning is in Ada's thread on the shop; she presses "Send anyway" while
    // the step is about Ben on the outlet. Discord says where the message is, so the
    // press reaches the shop, which knows the draft.
    let text = format!(
        "{TWO_PAGES}customer = \"ada\"\nsays = \"hi\"\n\
         \n[[step]]\nat = \"0s\"\ncustomer = \"ben\"\nsays = \"hi\"\n\
         \n[[step]]\nat = \"30h\"\ncustomer = \"ada\"\nagent = \"grace\"\ndoes = \"/tag tag:HUMAN_AGENT text:One\"\n\
         \n[[step]]\nat = \"30h 1m\"\ncustomer = \"ada\"\nagent = \"grace\"\ndoes = \"/tag tag:HUMAN_AGENT text:Two\"\nexpect = {{ outcome = \"warned\" }}\n\
         \n[[step]]\nat = \"30h 2m\"\ncustomer = \"ben\"\nagent = \"grace\"\ndoes = \"press confirm\"\nexpect = {{ outcome = \"sent\", sends = 0 }}\n\
         \n[[step]]\nat = \"30h 3m\"\ncustomer = \"ada\"\nexpect = {{ sends = 2, replies_kept = true, answers_true = true }}\n"
    );
    let s = load("press-elsewhere", &text);
    let rt = scenario::runtime().unwrap();
    let report = rt.block_on(run::run_with(&s, s.seed, &Options::default(), &mut || {}));
    assert!(
        report.passed(),
        "{:?}\n{}",
        report.failures,
        report.transcript
    );
}

#[test]
fn both_pages_entries_in_one_delivery_are_split_between_their_stores() {
    let s = load("one-post", TWO_PAGES);
    let rt = scenario::runtime().unwrap();
    rt.block_on(async {
        let w = World::start(&s, s.seed, &Options::default()).await.unwrap();
        // Both customers write at the same instant: Meta sends the app one POST.
        both_write(&w);
        let (ada, ben) = (w.psids["ada"].clone(), w.psids["ben"].clone());
        let mut t = Transcript::default();
        w.settle().await.unwrap();
        run::advance(&w, &mut t, s.start + SignedDuration::from_mins(5))
            .await
            .unwrap();
        w.settle().await.unwrap();
        for page in &w.pages {
            let log = serde_json::json!(page.mock.lock().webhook_log(None));
            let first = &log["data"][0]["attempts"][0];
            assert_eq!(
                first["batched_with"].as_array().map(Vec::len),
                Some(1),
                "{log}"
            );
        }
        let tally = expect::nothing_lost(&w).unwrap();
        assert_eq!(tally.to_string(), "0 lost, 0 twice", "{tally:?}");
        for (page, psid, other) in [(0, &ada, &ben), (1, &ben, &ada)] {
            let store = &w.pages[page].engine.store;
            assert!(store.customer(psid).unwrap().is_some());
            assert!(
                store.customer(other).unwrap().is_none(),
                "kept by its own page"
            );
        }
    });
}
