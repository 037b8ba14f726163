//! Faults on the virtual clock: a late answer that was a send all the same, an echo
//! that lags, and deliveries that come again an hour late.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_graph::platform::Outcome;
use serde_json::json;

use super::*;

/// An emulator whose webhooks go to an in-process subscriber that records each body's
/// events (`entry[].messaging`) as one short line per event.
fn with_subscriber() -> (Mock, Arc<Mutex<Vec<String>>>) {
    let m = Mock::with(|s| s.webhook_url = Some("http://subscriber.test/webhook".into()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let subscriber = axum::Router::new().route(
        "/webhook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap();
                for entry in v["entry"].as_array().unwrap() {
                    for e in entry["messaging"].as_array().unwrap() {
                        log.lock().unwrap().push(describe(e));
                    }
                }
                StatusCode::OK
            }
        }),
    );
    m.state.deliverer.deliver_in_process(subscriber);
    (m, seen)
}

/// `message “hi”`, `echo “hello” @09:00:00`, `delivery`.
fn describe(e: &Value) -> String {
    let at = mock_graph_time(e["timestamp"].as_i64().unwrap());
    match (&e["message"], &e["delivery"]) {
        (m, _) if m["is_echo"] == true => format!("echo “{}” @{at}", m["text"].as_str().unwrap()),
        (m, _) if m.is_object() => format!("message “{}” @{at}", m["text"].as_str().unwrap()),
        (_, d) if d.is_object() => "delivery".into(),
        _ => "other".into(),
    }
}

fn mock_graph_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%H:%M:%S")
        .to_string()
}

fn take(seen: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    std::mem::take(&mut *seen.lock().unwrap())
}

async fn faults(m: &Mock, f: Value) {
    let (s, v) = m.post("/_mock/faults", f).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test(start_paused = true)]
async fn latency_delays_the_answer_not_the_send() {
    let m = Mock::new();
    faults(&m, json!({"latency_ms": 400})).await;
    let psid = m.customer_who_wrote("Where is my order?").await;
    let request = axum::http::Request::post("/v25.0/me/messages?access_token=mock-page-token")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            text(&psid, "RESPONSE", None, "It ships today.").to_string(),
        ))
        .unwrap();
    // A caller that waits 150 ms gives up before Meta answers...
    let answer = tokio::time::timeout(
        Duration::from_millis(150),
        m.router.clone().oneshot(request),
    )
    .await;
    assert!(answer.is_err(), "timed out");
    // ...but Meta had already accepted it: the answer was lost, not the message.
    let p = m.state.lock();
    assert!(matches!(p.sent[0].outcome, Outcome::Sent(_)));
    let sent = p.customer(&psid).unwrap().messages.last().unwrap();
    assert_eq!(sent.text.as_deref(), Some("It ships today."));
}

#[tokio::test]
async fn a_lagging_echo_comes_late_and_only_for_this_apps_sends() {
    let (m, seen) = with_subscriber();
    faults(&m, json!({"echo_lag": "5m"})).await;
    let (_, f) = m.get("/_mock/faults").await;
    assert_eq!(f["echo_lag"], "5m");
    let psid = m.customer_who_wrote("hi").await;
    m.send(text(&psid, "RESPONSE", None, "hello")).await;
    assert_eq!(
        take(&seen),
        ["message “hi” @09:00:00", "delivery"],
        "the receipt is on time, the echo isn't"
    );
    assert_eq!(
        m.state.lock().outbox.next_due(),
        Some("2026-11-20T09:05:00Z".parse().unwrap()),
        "a driver knows when to come back for it"
    );
    // Another app's send is echoed at once.
    let (s, _) = m
        .post(
            "/_mock/other-app/sends",
            json!({"psid": psid, "text": "from the inbox"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(take(&seen), ["echo “from the inbox” @09:00:00", "delivery"]);
    m.advance("4m 59s").await;
    assert!(take(&seen).is_empty());
    m.advance("1s").await;
    assert_eq!(
        take(&seen),
        ["echo “hello” @09:00:00"],
        "five minutes late, with the time of the send"
    );
}

#[tokio::test]
async fn every_delivery_comes_again_late_after_later_events() {
    let (m, seen) = with_subscriber();
    faults(&m, json!({"late_redelivery": "1h"})).await;
    let (_, c) = m.post("/_mock/customers", json!({})).await;
    let psid = c["psid"].as_str().unwrap().to_owned();
    let says = |text: &'static str| {
        let psid = psid.clone();
        let m = &m;
        async move {
            m.post(
                &format!("/_mock/customers/{psid}/messages"),
                json!({"text": text}),
            )
            .await
        }
    };
    says("one").await;
    m.advance("30m").await;
    says("two").await;
    m.advance("30m").await;
    m.advance("30m").await;
    m.advance("2h").await;
    assert_eq!(
        take(&seen),
        [
            "message “one” @09:00:00",
            "message “two” @09:30:00",
            "message “one” @09:00:00",
            "message “two” @09:30:00",
        ],
        "each once more, an hour late, and only once"
    );
}

#[tokio::test]
async fn a_lost_delivery_with_late_redelivery_arrives_after_later_events() {
    let (m, seen) = with_subscriber();
    faults(&m, json!({"drop_rate": 1.0, "late_redelivery": "1h"})).await;
    let psid = m.customer_who_wrote("first").await;
    assert!(take(&seen).is_empty(), "lost, and not retried at once");
    faults(&m, json!({"late_redelivery": "1h"})).await;
    m.advance("10m").await;
    m.post(
        &format!("/_mock/customers/{psid}/messages"),
        json!({"text": "second"}),
    )
    .await;
    m.advance("50m").await;
    assert_eq!(
        take(&seen),
        ["message “second” @09:10:00", "message “first” @09:00:00"],
        "the lost one comes an hour late, after the later one"
    );
    m.advance("10m").await;
    assert_eq!(
        take(&seen),
        ["message “second” @09:10:00"],
        "the late copy of the second; the first's late delivery isn't copied again"
    );
    m.advance("3h").await;
    assert!(take(&seen).is_empty());
}

#[tokio::test]
async fn faults_refuse_negative_delays() {
    let m = Mock::new();
    let (s, v) = m
        .post("/_mock/faults", json!({"late_redelivery": "-1h"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"]["message"],
        "field `late_redelivery`: a delay can't be negative"
    );
    let (s, v) = m.post("/_mock/faults", json!({"echo_lag": 5})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected a duration such as \"5m\""),
        "{v}"
    );
}
