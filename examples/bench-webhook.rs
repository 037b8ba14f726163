//! Webhook intake throughput: the bot's `/webhook` (signature check, parsing,
//! deduplication, a durable commit before the 200) on SQLite and on Postgres, beside a
//! bare axum handler that only answers 200, the floor, measured in the same run over
//! loopback. Postgres is a throwaway server started for the run (Debian's binaries,
//! durable settings: every commit fsynced), on a Unix socket; without the binaries its
//! line says so and the rest runs.
//!
//! `cargo run --release --example bench-webhook`
//!
//! Each request is one signed delivery holding one customer message, each with its own
//! `mid`: the worst case, since Meta batches several events per delivery when it can.

use std::sync::Arc;
use std::time::Instant;

use axum::routing::post;
use bot::store::postgres::PostgresStore;
use bot::store::sqlite::SqliteStore;
use bot::store::test_server::TestServer;
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

fn webhook(store: Arc<dyn Store>) -> axum::Router {
    router(
        WebhookConfig {
            app_secret: SECRET.into(),
            verify_token: "v".into(),
            wake: None,
        },
        store,
    )
}

#[tokio::main]
async fn main() {
    let deliveries = Arc::new(deliveries());
    let dir = std::env::temp_dir().join(format!("tagdesk-bench-webhook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.join("bench.db")).expect("database"));
    let bot = serve(webhook(store.clone())).await;
    let floor = serve(axum::Router::new().route("/webhook", post(|| async { "" }))).await;
    // Stopped when dropped, at the end.
    let pg = TestServer::start(true).map(|server| {
        let store: Arc<dyn Store> =
            Arc::new(PostgresStore::open(&server.database()).expect("postgres database"));
        (server, store)
    });
    let pg_url = match &pg {
        Ok((_, store)) => Some(serve(webhook(store.clone())).await),
        Err(_) => None,
    };

    // Warm both up, then measure each in turn.
    saturate(&floor, &Arc::new(deliveries[..2000].to_vec())).await;
    let floor_rate = saturate(&floor, &deliveries).await;
    let bot_rate = saturate(&bot, &deliveries).await;
    let stored = store.count_events().expect("count");
    assert_eq!(stored, EVENTS as u64, "every event stored once");
    let pg_rate = match (&pg, &pg_url) {
        (Ok((_, store)), Some(url)) => {
            let rate = saturate(url, &deliveries).await;
            assert_eq!(store.count_events().expect("count"), EVENTS as u64);
            Some(rate)
        }
        _ => None,
    };
    println!(
        "webhook intake, {EVENTS} signed deliveries of one event, {CLIENTS} clients, loopback:"
    );
    println!("  bare axum 200 (floor)       {floor_rate:>9.0} events/s");
    println!(
        "  tagdesk /webhook + SQLite   {bot_rate:>9.0} events/s   ({:.2}x the floor)",
        bot_rate / floor_rate
    );
    match (pg_rate, &pg) {
        (Some(rate), _) => println!(
            "  tagdesk /webhook + Postgres {rate:>9.0} events/s   ({:.2}x the floor)",
            rate / floor_rate
        ),
        (None, Err(e)) => println!("  tagdesk /webhook + Postgres: not measured: {e}"),
        (None, Ok(_)) => {}
    }
    let _ = std::fs::remove_dir_all(&dir);
}
