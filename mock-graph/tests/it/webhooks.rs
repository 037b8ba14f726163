//! Webhooks over a real loopback socket: signed, batched, at least once.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::*;

/// A received POST: its exact body and its signature header.
type Received = (Vec<u8>, String);

/// A webhook subscriber that records what it receives and answers with a set status.
#[derive(Clone, Default)]
struct Subscriber {
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Subscriber {
    async fn start() -> (Subscriber, String) {
        let sub = Subscriber::default();
        sub.status.store(200, Ordering::SeqCst);
        let app =
            axum::Router::new()
                .route(
                    "/webhook",
                    get(
                        |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                            q.get("hub.challenge").cloned().unwrap_or_default()
                        },
                    )
                    .post(
                        |State(s): State<Subscriber>,
                         headers: HeaderMap,
                         body: axum::body::Bytes| async move {
                            let sig = headers
                                .get("x-hub-signature-256")
                                .unwrap()
                                .to_str()
                                .unwrap()
                                .to_owned();
                            s.received.lock().unwrap().push((body.to_vec(), sig));
                            StatusCode::from_u16(s.status.load(Ordering::SeqCst)).unwrap()
                        },
                    ),
                )
                .with_state(sub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (sub, url)
    }

    fn bodies(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| serde_json::from_slice(b).unwrap())
            .collect()
    }
}

/// Verifies a signature with the hmac crate directly, not with the code that made it.
fn independently_signed(secret: &str, body: &[u8], header: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    header == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

struct Live {
    base: String,
    http: reqwest::Client,
}

impl Live {
    async fn start(webhook: &str, seed: u64) -> Live {
        let mut s = mock_graph::Settings::defaults();
        s.listen = "127.0.0.1:0".into();
        s.webhook_url = Some(webhook.to_owned());
        s.seed = seed;
        let mock = mock_graph::start(s).await.unwrap();
        Live {
            base: format!("http://{}", mock.addr),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn signed_escaped_batched_over_a_real_socket() {
    let (sub, url) = Subscriber::start().await;
    let live = Live::start(&url, 1).await;
    let c = live
        .post("/_mock/customers", json!({"name": "Giulia Rossi"}))
        .await;
    let psid = c["psid"].as_str().unwrap();
    live.post(
        &format!("/_mock/customers/{psid}/messages"),
        json!({"text": "Il mio ordine è in ritardo ❤️"}),
    )
    .await;
    let (body, sig) = sub.received.lock().unwrap()[0].clone();
    assert!(independently_signed("mock-app-secret", &body, &sig));
    let raw = String::from_utf8(body).unwrap();
    assert!(
        raw.contains(r"ritardo \u2764\ufe0f") && raw.contains(r"\u00e8"),
        "{raw}"
    );
    // A send produces an echo and a delivery receipt, batched into one POST across
    // `entry[]`: each entry's `messaging` holds exactly one event, as Meta documents.
    let ok = live
        .post(
            "/v25.0/me/messages?access_token=mock-page-token",
            text(psid, "RESPONSE", None, "Ci scusi!"),
        )
        .await;
    let bodies = sub.bodies();
    assert_eq!(bodies.len(), 2);
    let entries = bodies[1]["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for entry in entries {
        assert_eq!(entry["id"], "104857600000001");
        assert!(entry["time"].is_i64());
        assert_eq!(entry["messaging"].as_array().unwrap().len(), 1, "{entry}");
        assert!(entry.get("standby").is_none());
    }
    let echo = &entries[0]["messaging"][0];
    assert_eq!(echo["message"]["is_echo"], true);
    assert_eq!(echo["message"]["mid"], ok["message_id"]);
    assert_eq!(
        entries[1]["messaging"][0]["delivery"]["mids"][0],
        ok["message_id"]
    );
}

#[tokio::test]
async fn retries_with_backoff_then_unsubscribes_after_an_hour() {
    let (sub, url) = Subscriber::start().await;
    let live = Live::start(&url, 1).await;
    let c = live.post("/_mock/customers", json!({})).await;
    let psid = c["psid"].as_str().unwrap();
    sub.status.store(500, Ordering::SeqCst);
    live.post(
        &format!("/_mock/customers/{psid}/messages"),
        json!({"text": "one"}),
    )
    .await;
    assert_eq!(
        sub.received.lock().unwrap().len(),
        2,
        "a first attempt and an immediate retry"
    );
    live.post("/_mock/clock", json!({"advance": "10s"})).await;
    assert_eq!(
        sub.received.lock().unwrap().len(),
        2,
        "the next retry waits 30 s"
    );
    sub.status.store(200, Ordering::SeqCst);
    live.post("/_mock/clock", json!({"advance": "20s"})).await;
    let bodies = sub.bodies();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[2], bodies[0], "the same delivery, retried");

    sub.status.store(503, Ordering::SeqCst);
    live.post(
        &format!("/_mock/customers/{psid}/messages"),
        json!({"text": "two"}),
    )
    .await;
    for _ in 0..8 {
        live.post("/_mock/clock", json!({"advance": "15m"})).await;
    }
    let page: Value = live
        .http
        .get(format!("{}/_mock/page", live.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["subscribed"], false);
}

#[tokio::test]
async fn faults_duplicate_and_reorder_deliveries() {
    let (sub, url) = Subscriber::start().await;
    let live = Live::start(&url, 3).await;
    live.post(
        "/_mock/faults",
        json!({"duplicate_rate": 1.0, "reorder_rate": 1.0}),
    )
    .await;
    let c = live.post("/_mock/customers", json!({})).await;
    let psid = c["psid"].as_str().unwrap();
    live.post(
        &format!("/_mock/customers/{psid}/messages"),
        json!({"text": "hi"}),
    )
    .await;
    live.post(
        "/v25.0/me/messages?access_token=mock-page-token",
        text(psid, "RESPONSE", None, "hello"),
    )
    .await;
    let bodies = sub.bodies();
    assert_eq!(bodies.len(), 4, "every delivery twice");
    assert_eq!(bodies[0], bodies[1]);
    let events = bodies[2]["entry"][0]["messaging"].as_array().unwrap();
    assert!(
        events[0].get("delivery").is_some(),
        "reversed: the receipt before the echo"
    );
}

#[tokio::test]
async fn same_seed_same_bytes() {
    async fn run(seed: u64) -> (Vec<Vec<u8>>, Vec<Value>) {
        let (sub, url) = Subscriber::start().await;
        let live = Live::start(&url, seed).await;
        let mut answers = Vec::new();
        for i in 0..3 {
            let c = live.post("/_mock/customers", json!({})).await;
            let psid = c["psid"].as_str().unwrap().to_owned();
            answers.push(c);
            answers.push(
                live.post(
                    &format!("/_mock/customers/{psid}/messages"),
                    json!({"text": format!("hi {i}")}),
                )
                .await,
            );
            answers.push(
                live.post(
                    "/v25.0/me/messages?access_token=mock-page-token",
                    text(&psid, "RESPONSE", None, "hello"),
                )
                .await,
            );
            answers.push(
                live.post(
                    "/v25.0/me/messages?access_token=mock-page-token",
                    text("nobody", "RESPONSE", None, "x"),
                )
                .await,
            );
        }
        let bodies = sub
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| b.clone())
            .collect();
        (bodies, answers)
    }
    let (a, b) = (run(42).await, run(42).await);
    assert_eq!(a, b);
    assert_ne!(a.1, run(43).await.1);
}

#[tokio::test]
async fn standby_when_another_app_owns_the_thread() {
    let (sub, url) = Subscriber::start().await;
    let live = Live::start(&url, 1).await;
    let c = live.post("/_mock/customers", json!({})).await;
    let psid = c["psid"].as_str().unwrap();
    live.post(
        &format!("/_mock/customers/{psid}/handover"),
        json!({"owner": "other"}),
    )
    .await;
    live.post(
        &format!("/_mock/customers/{psid}/messages"),
        json!({"text": "hi"}),
    )
    .await;
    let bodies = sub.bodies();
    assert!(bodies[0]["entry"][0].get("messaging").is_none());
    assert_eq!(bodies[0]["entry"][0]["standby"][0]["message"]["text"], "hi");
}

/// An app on two pages: deliveries of both falling due at once go out in one POST,
/// their entries side by side, and each page's log says what it went with.
#[tokio::test]
async fn two_pages_due_at_once_share_one_post() {
    let (sub, url) = Subscriber::start().await;
    let mut s = mock_graph::Settings::defaults();
    s.listen = "127.0.0.1:0".into();
    s.webhook_url = Some(url);
    s.pages = 2;
    let mock = mock_graph::start(s).await.unwrap();
    let live = Live {
        base: format!("http://{}", mock.addr),
        http: reqwest::Client::new(),
    };
    let ids: Vec<String> = mock
        .pages
        .iter()
        .map(|p| p.lock().settings.page_id.clone())
        .collect();
    // Both pages' first deliveries fail, so both are retried 30 s later, together.
    sub.status.store(500, Ordering::SeqCst);
    for (n, id) in ids.iter().enumerate() {
        let prefix = if n == 0 {
            String::new()
        } else {
            format!("/pages/{id}")
        };
        let c = live
            .post(&format!("{prefix}/_mock/customers"), json!({}))
            .await;
        let psid = c["psid"].as_str().unwrap();
        live.post(
            &format!("{prefix}/_mock/customers/{psid}/messages"),
            json!({"text": format!("hello page {}", n + 1)}),
        )
        .await;
    }
    assert_eq!(sub.received.lock().unwrap().len(), 4, "each alone, twice");
    sub.status.store(200, Ordering::SeqCst);
    // The front moves every page's clock, then delivers what fell due, together.
    live.post("/_mock/clock", json!({"advance": "30s"})).await;

    let received = sub.received.lock().unwrap().clone();
    assert_eq!(received.len(), 5, "one POST for both retries");
    let (body, sig) = &received[4];
    assert!(independently_signed("mock-app-secret", body, sig));
    let batch: Value = serde_json::from_slice(body).unwrap();
    let entry_ids: Vec<&str> = batch["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(entry_ids, [ids[0].as_str(), ids[1].as_str()]);
    assert_eq!(
        batch["entry"][1]["messaging"][0]["message"]["text"],
        "hello page 2"
    );
    for (n, page) in mock.pages.iter().enumerate() {
        let log = json!(page.lock().webhook_log(None));
        let last = &log["data"][0]["attempts"].as_array().unwrap()[2];
        assert_eq!(last["ok"], true, "{log}");
        let other = &ids[1 - n];
        let with = last["batched_with"][0].as_str().unwrap();
        assert!(
            with.starts_with(&format!("page {other}'s delivery")),
            "{with}"
        );
    }
}

/// Two pages behind one front, delivering to `url`; their page ids.
async fn two_pages(url: String) -> (mock_graph::MockGraph, Vec<String>) {
    let mut s = mock_graph::Settings::defaults();
    s.listen = "127.0.0.1:0".into();
    s.webhook_url = Some(url);
    s.pages = 2;
    let mock = mock_graph::start(s).await.unwrap();
    let ids = mock
        .pages
        .iter()
        .map(|p| p.lock().settings.page_id.clone())
        .collect();
    (mock, ids)
}

/// How many POSTs the subscriber got that carry `text`.
fn posts_carrying(sub: &Subscriber, text: &str) -> usize {
    sub.received
        .lock()
        .unwrap()
        .iter()
        .filter(|(body, _)| String::from_utf8_lossy(body).contains(text))
        .count()
}

/// A duplicate fault of page 1's delivery is page 1's: that delivery goes alone, twice,
/// and page 2's goes once, as its log says.
#[tokio::test]
async fn a_duplicated_delivery_goes_alone_and_doubles_no_other_pages_entries() {
    let (sub, url) = Subscriber::start().await;
    let (mock, _ids) = two_pages(url).await;
    mock.pages[0].lock().faults.duplicate_rate = 1.0;
    for (n, page) in mock.pages.iter().enumerate() {
        let mut p = page.lock();
        let psid = p.add_customer(None);
        p.customer_message(&psid, &format!("hello page {}", n + 1))
            .unwrap();
    }
    mock_graph::pages::flush(&mock.pages).await;
    assert_eq!(posts_carrying(&sub, "hello page 1"), 2, "page 1's fault");
    assert_eq!(sub.received.lock().unwrap().len(), 3, "page 2's alone");
    let page2_posts = posts_carrying(&sub, "hello page 2");
    let log = json!(mock.pages[1].lock().webhook_log(None));
    let attempt = &log["data"][0]["attempts"][0];
    let logged = if attempt["duplicated"] == true { 2 } else { 1 };
    assert_eq!(
        logged, page2_posts,
        "page 2's log says its delivery was POSTed {logged} time(s); the subscriber got it {page2_posts} times: {log}"
    );
}

/// A late copy (`late_redelivery`) "is the fault already, so it is never lost,
/// duplicated or copied again": batched with another page's duplicated delivery, it
/// is sent twice all the same.
#[tokio::test]
async fn a_late_copy_is_never_duplicated_even_when_batched() {
    let (sub, url) = Subscriber::start().await;
    let (mock, _ids) = two_pages(url).await;
    let late = jiff::SignedDuration::from_mins(1);
    mock.pages[1].lock().faults.late_redelivery = late;
    {
        let mut p = mock.pages[1].lock();
        let psid = p.add_customer(None);
        p.customer_message(&psid, "page 2, once and late once")
            .unwrap();
    }
    mock_graph::pages::flush(&mock.pages).await;
    assert_eq!(posts_carrying(&sub, "page 2, once and late once"), 1);

    // The late copy falls due together with a new delivery of page 1, which a fault
    // duplicates.
    for page in &mock.pages {
        let mut p = page.lock();
        let to = p.now() + late;
        p.advance_to(to).unwrap();
    }
    {
        let mut p = mock.pages[0].lock();
        p.faults.duplicate_rate = 1.0;
        let psid = p.add_customer(None);
        p.customer_message(&psid, "page 1, duplicated").unwrap();
    }
    mock_graph::pages::flush(&mock.pages).await;
    assert_eq!(posts_carrying(&sub, "page 1, duplicated"), 2);
    assert_eq!(
        posts_carrying(&sub, "page 2, once and late once"),
        2,
        "the original and its late copy, the copy never duplicated"
    );
}
