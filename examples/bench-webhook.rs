//! Webhook intake throughput: the bot's `/webhook` (signature check, parsing,
//! deduplication, a durable SQLite commit before the 200) beside a bare axum handler
//! that only answers 200, the floor, measured in the same run over loopback.
//!
//! `cargo run --release --example bench-webhook`
//!
//! Each request is one signed delivery holding one customer message, each with its own
//! `mid`: the worst case, since Meta batches several events per delivery when it can.

use std::sync::Arc;
use std::time::Instant;

use axum::routing::post;
use bot::store::sqlite::SqliteStore;
use bot::store::Store;
use bot::webhook::{router, WebhookConfig};
use messenger::signature::{sign, HEADER};

const SECRET: &str = "bench-secret";
const CLIENTS: usize = 32;
const EVENTS: usize = 40_000;

fn deliveries() -> Vec<(String, String)> {
    (0..EVENTS)
        .map(|i| {
            let body = serde_json::json!({
                "object": "page",
                "entry": [{"id": "P", "time": 1, "messaging": [{
                    "sender": {"id": format!("U{}", i % 2000)},
                    "recipient": {"id": "P"},
                    "timestamp": 1_763_629_200_000i64 + i as i64,
                    "message": {"mid": format!("m_{i}"), "text": "Hi, where is my order 48213?"}
                }]}]
            })
            .to_string();
            let signature = sign(SECRET.as_bytes(), body.as_bytes());
            (body, signature)
        })
        .collect()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/webhook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    url
}

async fn saturate(url: &str, deliveries: &Arc<Vec<(String, String)>>) -> f64 {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, url, deliveries) = (client.clone(), url.to_owned(), deliveries.clone());
        tasks.push(tokio::spawn(async move {
            for (body, signature) in deliveries.iter().skip(c).step_by(CLIENTS) {
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(HEADER, signature)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("loopback request");
                assert!(r.status().is_success(), "{}", r.status());
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    EVENTS as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let deliveries = Arc::new(deliveries());
    let dir = std::env::temp_dir().join(format!("tagdesk-bench-webhook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.join("bench.db")).expect("database"));
    let bot = serve(router(
        WebhookConfig {
            app_secret: SECRET.into(),
            verify_token: "v".into(),
            wake: None,
        },
        store.clone(),
    ))
    .await;
    let floor = serve(axum::Router::new().route("/webhook", post(|| async { "" }))).await;

    // Warm both up, then measure each in turn.
    saturate(&floor, &Arc::new(deliveries[..2000].to_vec())).await;
    let floor_rate = saturate(&floor, &deliveries).await;
    let bot_rate = saturate(&bot, &deliveries).await;
    let stored = store.count_events().expect("count");
    assert_eq!(stored, EVENTS as u64, "every event stored once");
    println!(
        "webhook intake, {EVENTS} signed deliveries of one event, {CLIENTS} clients, loopback:"
    );
    println!("  bare axum 200 (floor)     {floor_rate:>9.0} events/s");
    println!(
        "  tagdesk /webhook + SQLite {bot_rate:>9.0} events/s   ({:.2}x the floor)",
        bot_rate / floor_rate
    );
    let _ = std::fs::remove_dir_all(&dir);
}
