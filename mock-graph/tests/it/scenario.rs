//! `POST /_mock/scenario` and `--scenario`: a scenario's customer side replayed on the
//! virtual clock, for a bot under test.

use super::*;

const SCENARIO: &str = r#"
name = "replay"
description = "Customers write, another app sends a promotion, a customer blocks the page."
start = "2026-12-01T08:00:00Z"
seed = 4

[agents.grace]

[customers.ada]
name = "Ada Lovelace"

[[step]]
at = "0s"
customer = "ada"
says = "Hello"

[[step]]
at = "2h"
customer = "ada"
says = "Anyone there?"

[[step]]
at = "2h"
customer = "ada"
agent = "grace"
does = "/reply Hi!"

[[step]]
at = "30h"
customer = "ada"
other_app = "Black Friday deal: 50% off"
tag = "HUMAN_AGENT"

[[step]]
at = "31h"
customer = "ada"
blocks = true
"#;

async fn load(m: &Mock, text: &str) -> (StatusCode, Value) {
    m.call("POST", "/_mock/scenario", Some(text)).await
}

#[tokio::test]
async fn a_scenario_replays_as_the_clock_moves() {
    let m = Mock::new();
    let (s, v) = load(&m, SCENARIO).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "replay");
    assert_eq!(v["scheduled"], 4);
    assert_eq!(v["skipped"], 1, "the agent's step needs a bot");
    let psid = v["customers"]["ada"].as_str().unwrap().to_owned();
    let (_, now) = m.get("/_mock/clock").await;
    assert_eq!(now["now"], "2026-12-01T08:00:00Z", "the scenario's start");

    let messages = |m: &Mock| {
        let p = m.state.lock();
        p.customer(&psid)
            .unwrap()
            .messages
            .iter()
            .map(|x| x.text.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(messages(&m), ["Hello"]);
    m.advance("2h").await;
    assert_eq!(messages(&m), ["Hello", "Anyone there?"]);

    // The other app's promotion fires on the way past 30 hours: the page's first
    // offence, so Meta warns.
    m.advance("29h 30m").await;
    let (_, page) = m.get("/_mock/page").await;
    assert_eq!(page["warnings"], 1, "{page}");
    assert_eq!(page["restriction"], Value::Null, "{page}");
    assert!(m.state.lock().customer(&psid).unwrap().blocked);
    assert!(m.state.lock().timeline.is_empty());
}

#[tokio::test]
async fn a_bad_scenario_is_refused_naming_line_and_column() {
    let m = Mock::new();
    let (s, v) = load(
        &m,
        &SCENARIO.replace("says = \"Hello\"", "sayz = \"Hello\""),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("scenario.toml:15:1: unknown field `sayz`"),
        "{msg}"
    );
}
