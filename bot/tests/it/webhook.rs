//! `/webhook` in-process and, with mock-graph as Meta, over loopback.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use bot::store::sqlite::SqliteStore;
use bot::store::Store;
use bot::webhook::{router, WebhookConfig};
use messenger::signature::sign;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::harness::temp_db;

const SECRET: &str = "mock-app-secret";

fn config() -> WebhookConfig {
    WebhookConfig {
        app_secret: SECRET.into(),
        verify_token: "mock-verify-token".into(),
        wake: None,
    }
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(body: &str, signature: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/webhook").header("content-type", "application/json");
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

fn message(psid: &str, mid: &str, ts: i64) -> Value {
    json!({"sender": {"id": psid}, "recipient": {"id": "P"}, "timestamp": ts, "message": {"mid": mid, "text": "hi"}})
}

fn delivery(events: Vec<Value>) -> String {
    json!({"object": "page", "entry": [{"id": "P", "time": 1, "messaging": events}]}).to_string()
}

#[tokio::test]
async fn handshake() {
    let app = router(config(), Arc::new(SqliteStore::in_memory().unwrap()));
    let ok = Request::get(
        "/webhook?hub.mode=subscribe&hub.verify_token=mock-verify-token&hub.challenge=1158201444",
    )
    .body(Body::empty())
    .unwrap();
    assert_eq!(call(&app, ok).await, (StatusCode::OK, "1158201444".into()));
    let wrong = Request::get("/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, wrong).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn forged_deliveries_store_nothing() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let app = router(config(), store.clone());
    let body = delivery(vec![message("U", "m_1", 1)]);
    assert_eq!(
        call(&app, post(&body, None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(
            &app,
            post(&body, Some(&sign(b"wrong secret", body.as_bytes())))
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, post(&body, Some("sha256=00"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Signed, then altered by one byte.
    let sig = sign(SECRET.as_bytes(), body.as_bytes());
    let altered = body.replace("hi", "ho");
    assert_eq!(
        call(&app, post(&altered, Some(&sig))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(store.count_events().unwrap(), 0);
    // Signed but not a delivery: kept whole for inspection, acknowledged, stored once.
    let odd = r#"{"object":"page","entry":"surprise"}"#;
    let odd_sig = sign(SECRET.as_bytes(), odd.as_bytes());
    for _ in 0..2 {
        assert_eq!(
            call(&app, post(odd, Some(&odd_sig))).await.0,
            StatusCode::OK
        );
    }
    let kept = store.pending(10).unwrap();
    assert_eq!(
        (
            kept.len(),
            kept[0].event.kind,
            kept[0].event.payload.as_str()
        ),
        (1, "unparsed", odd)
    );
    let too_big = "x".repeat(bot::webhook::MAX_BODY + 1);
    assert_eq!(
        call(
            &app,
            post(&too_big, Some(&sign(SECRET.as_bytes(), too_big.as_bytes())))
        )
        .await
        .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn deduplicated_by_mid_ordered_by_timestamp_unknown_acknowledged() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let app = router(config(), store.clone());
    let unknown = json!({"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 5, "message_edit": {"mid": "m_1"}});
    let first = delivery(vec![
        message("U", "m_2", 20),
        message("U", "m_1", 10),
        unknown,
    ]);
    let again = delivery(vec![message("U", "m_1", 10), message("V", "m_3", 15)]);
    for body in [&first, &again, &first] {
        let sig = sign(SECRET.as_bytes(), body.as_bytes());
        assert_eq!(call(&app, post(body, Some(&sig))).await.0, StatusCode::OK);
    }
    assert_eq!(
        store.count_events().unwrap(),
        3,
        "each mid once; the unknown kind skipped"
    );
    let pending = store.pending(10).unwrap();
    let keys: Vec<&str> = pending
        .iter()
        .map(|p| p.event.dedupe_key.as_str())
        .collect();
    assert_eq!(
        keys,
        ["mid:m_1", "mid:m_3", "mid:m_2"],
        "by the events' own timestamps"
    );
    store.mark_processed(&[pending[0].id]).unwrap();
    assert_eq!(store.pending(10).unwrap().len(), 2);
}

async fn serve_bot(
    path: &std::path::Path,
) -> (String, Arc<SqliteStore>, tokio::task::JoinHandle<()>) {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let app = router(config(), store.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, store, handle)
}

#[tokio::test]
async fn mock_graph_delivers_duplicated_reordered_and_a_restart_loses_nothing() {
    let path = temp_db("restart");
    let (url, store, handle) = serve_bot(&path).await;
    let mut settings = mock_graph::Settings::defaults();
    settings.listen = "127.0.0.1:0".into();
    settings.webhook_url = Some(url);
    let mock = mock_graph::start(settings).await.unwrap();
    let base = format!("http://{}", mock.addr);
    let http = reqwest::Client::new();
    let admin = |path: String, body: Value| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    admin(
        "/_mock/faults".into(),
        json!({"duplicate_rate": 0.5, "reorder_rate": 0.5}),
    )
    .await;
    let mut psids = Vec::new();
    for _ in 0..10 {
        let c = admin("/_mock/customers".into(), json!({})).await;
        psids.push(c["psid"].as_str().unwrap().to_owned());
    }
    for (i, psid) in psids.iter().enumerate() {
        admin(
            format!("/_mock/customers/{psid}/messages"),
            json!({"text": format!("message {i}")}),
        )
        .await;
    }
    assert_eq!(store.count_events().unwrap(), 10, "duplicates stored once");

    // The bot goes down mid-backlog; Meta keeps retrying; a new bot opens the same file.
    handle.abort();
    let _ = handle.await;
    drop(store);
    for psid in &psids[..5] {
        admin(
            format!("/_mock/customers/{psid}/messages"),
            json!({"text": "anyone there?"}),
        )
        .await;
    }
    let (url, store, _handle) = serve_bot(&path).await;
    assert_eq!(
        store.count_events().unwrap(),
        10,
        "the first ten survived the restart"
    );
    // mock-graph delivers to the new address on its next retry.
    mock.state.lock().settings.webhook_url = Some(url);
    admin("/_mock/clock".into(), json!({"advance": "31s"})).await;
    assert_eq!(
        store.count_events().unwrap(),
        15,
        "nothing lost, nothing twice"
    );
}

#[tokio::test]
async fn one_unreadable_event_loses_only_itself_and_is_announced() {
    use bot::engine::Engine;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let app = router(config(), store.clone());
    // An enforcement action nobody knows, and a reply_to without its mid, between two
    // good messages.
    let body = json!({"object": "page", "entry": [
        {"id": "P", "time": 1, "messaging": [message("U1", "m_1", 1_000)]},
        {"id": "P", "time": 2, "messaging": [{"recipient": {"id": "P"}, "timestamp": 2_000,
            "policy_enforcement": {"action": "suspend", "reason": "new"}}]},
        {"id": "P", "time": 3, "messaging": [{"sender": {"id": "U2"}, "recipient": {"id": "P"},
            "timestamp": 3_000, "message": {"mid": "m_2", "text": "re", "reply_to": {}}}]},
        {"id": "P", "time": 4, "messaging": [message("U3", "m_3", 4_000)]},
    ]})
    .to_string();
    let signature = sign(SECRET.as_bytes(), body.as_bytes());
    assert_eq!(
        call(&app, post(&body, Some(&signature))).await.0,
        StatusCode::OK
    );
    // A redelivery stores nothing new.
    assert_eq!(
        call(&app, post(&body, Some(&signature))).await.0,
        StatusCode::OK
    );
    assert_eq!(store.count_events().unwrap(), 4);

    let discord = bot::discord::recorder::Recorder::new();
    let clock = bot::clock::ManualClock::new("2026-11-20T09:00:00Z".parse().unwrap());
    let engine = Engine {
        store: store.clone(),
        graph: Arc::new(bot::graph::HttpGraph::new(
            "http://127.0.0.1:9",
            "v25.0",
            bot::config::Secret::new("t"),
        )),
        discord: Arc::new(discord.clone()),
        clock: Arc::new(clock),
        settings: Arc::new(bot::settings::Settings::new(1, 2, messenger::Era::Meta2026)),
    };
    engine.process_inbound(engine.clock.now()).await.unwrap();
    assert!(store.thread("U1").unwrap().is_some());
    assert!(
        store.thread("U3").unwrap().is_some(),
        "the event after the bad ones"
    );
    engine.drain(engine.clock.now()).await.unwrap();
    let said: Vec<String> = discord
        .messages_in(1)
        .iter()
        .map(|m| m.body.to_string())
        .collect();
    let announced = |kind: &str| said.iter().any(|b| b.contains(&format!("`{kind}` event")));
    assert!(announced("policy_enforcement"), "{said:#?}");
    assert!(announced("message"), "{said:#?}");
}

#[tokio::test]
async fn two_receipts_with_one_watermark_are_two_receipts() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let app = router(config(), store.clone());
    let receipt = |mids: &[&str], ts: i64| {
        json!({"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": ts,
               "delivery": {"mids": mids, "watermark": 5_000}})
    };
    for body in [
        delivery(vec![receipt(&["m_1"], 6_000)]),
        delivery(vec![receipt(&["m_2"], 7_000)]),
        delivery(vec![receipt(&["m_2"], 7_000)]),
    ] {
        let signature = sign(SECRET.as_bytes(), body.as_bytes());
        assert_eq!(
            call(&app, post(&body, Some(&signature))).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        store.count_events().unwrap(),
        2,
        "the third is a redelivery"
    );
}
