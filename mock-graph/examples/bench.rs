//! Send API throughput and latency: mock-graph beside wiremock serving a static stub,
//! measured in the same run over loopback.
//!
//! `cargo run --release -p mock-graph --example bench`
//!
//! Two figures per server: the saturated rate (requests/s with 32 concurrent clients)
//! and the p99 latency at a paced 1,000 requests/s. mock-graph does its full work on
//! every call: token, body, recipient, window and tag checks, the judge, the echo and
//! receipt. wiremock only matches a route and returns fixed JSON: the floor.

use std::time::{Duration, Instant};

use mock_graph::Settings;
use serde_json::json;

const CLIENTS: usize = 32;
const ROUNDS: usize = 5;
const SATURATED: usize = 20_000;
const PACED_RATE: u64 = 1_000;
const PACED: usize = 3_000;

struct Figures {
    rate: f64,
    p99_paced: Duration,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn saturate(client: &reqwest::Client, url: &str, bodies: &[String]) -> f64 {
    let start = Instant::now();
    let per_client = SATURATED / CLIENTS;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, url) = (client.clone(), url.to_owned());
        let bodies: Vec<String> = bodies.iter().skip(c).step_by(CLIENTS).cloned().collect();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_client {
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(bodies[i % bodies.len()].clone())
                    .send()
                    .await
                    .expect("loopback request");
                assert!(
                    r.status().is_success(),
                    "{}",
                    r.text().await.unwrap_or_default()
                );
                r.bytes().await.expect("body");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    (per_client * CLIENTS) as f64 / start.elapsed().as_secs_f64()
}

async fn paced_p99(client: &reqwest::Client, url: &str, bodies: &[String]) -> Duration {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / PACED_RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for i in 0..PACED {
        tick.tick().await;
        let (client, url, body) = (
            client.clone(),
            url.to_owned(),
            bodies[i % bodies.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("request");
            r.bytes().await.expect("body");
            start.elapsed()
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.push(t.await.expect("task"));
    }
    latencies.sort();
    latencies[latencies.len() * 99 / 100]
}

async fn measure(url: &str, bodies: &[String]) -> Figures {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS * 2)
        .build()
        .expect("client");
    // Warm the connection pool and both servers.
    saturate_n(&client, url, bodies, 2_000).await;
    let rate = saturate(&client, url, bodies).await;
    let p99_paced = paced_p99(&client, url, bodies).await;
    Figures { rate, p99_paced }
}

async fn saturate_n(client: &reqwest::Client, url: &str, bodies: &[String], n: usize) {
    for i in 0..n.min(bodies.len().max(1) * 4) {
        client
            .post(url)
            .header("content-type", "application/json")
            .body(bodies[i % bodies.len()].clone())
            .send()
            .await
            .expect("warm-up");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut settings = Settings::defaults();
    settings.listen = "127.0.0.1:0".into();
    settings.webhook_url = None;
    // The benchmark measures the policy path, not the rate limiter's refusals.
    settings.rate_limit = u32::MAX;
    let mock = mock_graph::start(settings).await?;
    let bodies: Vec<String> = {
        let mut p = mock.state.lock();
        (0..1_000)
            .map(|_| {
                let psid = p.add_customer(None);
                p.customer_message(&psid, "Where is my order?").expect("customer exists");
                json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "It ships today."}}).to_string()
            })
            .collect()
    };
    let mock_url = format!(
        "http://{}/v25.0/me/messages?access_token=mock-page-token",
        mock.addr
    );

    let stub = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v25.0/me/messages"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(json!({"recipient_id": "1", "message_id": "m_1"})),
        )
        .mount(&stub)
        .await;
    let stub_url = format!(
        "{}/v25.0/me/messages?access_token=mock-page-token",
        stub.uri()
    );

    // Alternate the two servers over several rounds and take medians: background load
    // then moves both figures alike instead of favouring whichever ran in a quiet moment.
    let mut ours = measure(&mock_url, &bodies).await;
    let mut floor = measure(&stub_url, &bodies).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS * 2)
        .build()?;
    let (mut ours_rates, mut floor_rates, mut ratios) = (
        vec![ours.rate],
        vec![floor.rate],
        vec![ours.rate / floor.rate],
    );
    for round in 1..ROUNDS {
        let (a, b) = if round % 2 == 0 {
            let a = saturate(&client, &mock_url, &bodies).await;
            (a, saturate(&client, &stub_url, &bodies).await)
        } else {
            let b = saturate(&client, &stub_url, &bodies).await;
            (saturate(&client, &mock_url, &bodies).await, b)
        };
        ours_rates.push(a);
        floor_rates.push(b);
        ratios.push(a / b);
    }
    ours.rate = median(&mut ours_rates);
    floor.rate = median(&mut floor_rates);
    let ratio = median(&mut ratios);
    println!("Send API over loopback, {CLIENTS} clients, {SATURATED} requests per round, medians of {ROUNDS} alternating rounds; p99 at a paced {PACED_RATE} req/s");
    println!("{:<28} {:>12} {:>14}", "", "requests/s", "p99 @1000/s");
    println!(
        "{:<28} {:>12.0} {:>11.2} ms",
        "mock-graph (full policy)",
        ours.rate,
        ours.p99_paced.as_secs_f64() * 1e3
    );
    println!(
        "{:<28} {:>12.0} {:>11.2} ms",
        "wiremock (static stub)",
        floor.rate,
        floor.p99_paced.as_secs_f64() * 1e3
    );
    println!(
        "ratio mock-graph / wiremock: {ratio:.2}x (median of the rounds' ratios; goal: at least 1.0x; p99 goal: under 2 ms)"
    );
    Ok(())
}
