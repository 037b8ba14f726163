//! Two `tagdesk bot` processes on one Postgres database, one killed (`kill -9`) in the
//! middle of a backlog: the other takes its lanes over within the lease, every
//! customer message reaches Discord once, and every reply reaches Meta once, in order.
//!
//! Everything runs on loopback or a Unix socket: the throwaway Postgres server, a
//! Discord stand-in, mock-graph (on the wall clock) delivering webhooks through a
//! front that takes turns between the replicas, and the two real binaries.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::any;
use axum::{Json, Router};
use bot::store::postgres::PostgresStore;
use bot::store::{Changes, Direction, MessageRecord, NewWork, Store, Work};
use serde_json::{json, Value};

const CUSTOMERS: usize = 24;
const MESSAGES_EACH: usize = 4;
const REPLIES_EACH: usize = 3;
/// The lanes' lease in this test (`lane_lease`): short, so the test is;
/// `TAGDESK_FAILOVER_LEASE` measures another (the default, `3s`).
fn lease() -> String {
    std::env::var("TAGDESK_FAILOVER_LEASE").unwrap_or_else(|_| "1s".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Discord as far as the mirror needs it: messages (deduplicated by nonce), threads
/// opened on them, renames, and each channel's recent messages. Every call takes a
/// little while, as Discord's do, so the backlog lasts long enough to be cut.
#[derive(Default)]
struct Discord {
    next_id: u64,
    messages: Vec<(u64, Value)>,
    by_nonce: HashMap<String, Value>,
    threads: Vec<u64>,
}

async fn discord(
    State(d): State<Arc<Mutex<Discord>>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    tokio::time::sleep(Duration::from_millis(40)).await;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let parts: Vec<&str> = uri
        .path()
        .trim_start_matches("/api/v10/")
        .split('/')
        .collect();
    let mut d = d.lock().unwrap();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["channels", c, "messages"]) => {
            let nonce = request["nonce"].as_str().map(str::to_owned);
            if let Some(earlier) = nonce.as_ref().and_then(|n| d.by_nonce.get(n)) {
                return (StatusCode::OK, Json(earlier.clone()));
            }
            d.next_id += 1;
            let m = json!({
                "id": d.next_id.to_string(),
                "channel_id": c,
                "type": 0,
                "content": request["content"].as_str().unwrap_or_default(),
                "embeds": request.get("embeds").cloned().unwrap_or(json!([])),
                "nonce": request["nonce"],
            });
            let channel = c.parse().unwrap_or(0);
            d.messages.push((channel, m.clone()));
            if let Some(n) = nonce {
                d.by_nonce.insert(n, m.clone());
            }
            (StatusCode::OK, Json(m))
        }
        ("GET", ["channels", c, "messages"]) => {
            let channel: u64 = c.parse().unwrap_or(0);
            let recent: Vec<Value> = (d.messages.iter().rev())
                .filter(|(ch, _)| *ch == channel)
                .take(50)
                .map(|(_, m)| m.clone())
                .collect();
            (StatusCode::OK, Json(Value::Array(recent)))
        }
        ("POST", ["channels", c, "messages", m, "threads"]) => {
            let id: u64 = m.parse().unwrap_or(0);
            if d.threads.contains(&id) {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(
                        json!({"code": 160004, "message": "A thread has already been created for this message"}),
                    ),
                );
            }
            d.threads.push(id);
            let thread = json!({"id": m, "type": 11, "parent_id": c, "name": request["name"]});
            (StatusCode::CREATED, Json(thread))
        }
        ("PATCH", ["channels", c]) => (
            StatusCode::OK,
            Json(json!({"id": c, "type": 11, "name": request["name"]})),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"code": 0, "message": "404: Not Found"})),
        ),
    }
}

/// The load balancer in front of the replicas: their base URLs, and whose turn it is.
#[derive(Clone)]
struct Front {
    http: reqwest::Client,
    bots: Arc<Vec<String>>,
    turn: Arc<Mutex<usize>>,
}

/// Meta's webhooks, handed to the replicas in turn; one that doesn't answer is
/// skipped, as a load balancer would.
async fn front(
    State(Front { http, bots, turn }): State<Front>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let first = {
        let mut t = turn.lock().unwrap();
        *t += 1;
        *t
    };
    for i in 0..bots.len() {
        let bot = &bots[(first + i) % bots.len()];
        let mut request = http.request(method.clone(), format!("{bot}{uri}"));
        for (name, value) in &headers {
            if name != "host" && name != "content-length" {
                request = request.header(name, value);
            }
        }
        if let Ok(answer) = request.body(body.clone()).send().await {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            return (status, answer.bytes().await.unwrap_or_default());
        }
    }
    (StatusCode::BAD_GATEWAY, Bytes::new())
}

/// A running replica and its log lines.
struct Replica {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    name: String,
}

impl Replica {
    fn start(config: &std::path::Path) -> Replica {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tagdesk"))
            .args(["bot", "--config"])
            .arg(config)
            .env("TAGDESK_DISCORD_TOKEN", "discord-token")
            .env("TAGDESK_PAGE_TOKEN", "mock-page-token")
            .env("TAGDESK_APP_SECRET", "mock-app-secret")
            .env("TAGDESK_VERIFY_TOKEN", "mock-verify-token")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tagdesk binary runs");
        let (tx, lines) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut replica = Replica {
            child,
            lines,
            seen: Vec::new(),
            name: String::new(),
        };
        while let Ok(line) = replica.lines.recv_timeout(Duration::from_secs(30)) {
            replica.seen.push(line.clone());
            let Ok(log) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if log["fields"]["message"] == "tagdesk bot started" {
                replica.name = log["fields"]["replica"].as_str().unwrap().to_owned();
                return replica;
            }
        }
        panic!("the replica didn't start:\n{}", replica.log());
    }

    fn log(&mut self) -> String {
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A reply the team approved, recorded and queued as a command does.
fn reply(psid: &str, key: &str, text: &str, now: jiff::Timestamp) -> Changes {
    Changes {
        messages: vec![MessageRecord {
            id: 0,
            psid: psid.into(),
            direction: Direction::Out,
            mid: None,
            kind: "text".into(),
            text: text.into(),
            attachments: Vec::new(),
            at: now,
            messaging_type: Some("RESPONSE".into()),
            tag: None,
            agent: Some("grace".into()),
            decision: Some("allowed as a standard reply".into()),
            state: "queued".into(),
            error: None,
            reason: None,
            standby: false,
            app_id: None,
            interaction_id: Some(key.into()),
            asked: None,
        }],
        work: vec![NewWork {
            key: None,
            work: Work::GraphSend {
                psid: psid.into(),
                interaction_id: key.into(),
            },
            due: now,
        }],
        ..Changes::default()
    }
}

/// Polls `done` every 20 ms for at most `limit`; whether it came true.
async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_backlog_loses_nothing_and_repeats_nothing() {
    let conninfo = bot::store::test_server::TestServer::shared().database();
    // The test's own view of the database: it reads, and queues replies as commands
    // do; it never asks for work, so it holds no lane.
    let store = PostgresStore::open(&conninfo).unwrap();

    let shown = Arc::new(Mutex::new(Discord::default()));
    let discord_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let discord_base = format!("http://{}", discord_listener.local_addr().unwrap());
    let app = Router::new().fallback(discord).with_state(shown.clone());
    tokio::spawn(async move { axum::serve(discord_listener, app).await });

    let (port_a, port_b, graph_port) = (free_port(), free_port(), free_port());
    let graph_base = format!("http://127.0.0.1:{graph_port}");
    let front_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_url = format!("http://{}/webhook", front_listener.local_addr().unwrap());
    let bots = Arc::new(vec![
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    ]);
    let app = Router::new()
        .route("/{*path}", any(front))
        .with_state(Front {
            http: reqwest::Client::new(),
            bots,
            turn: Arc::new(Mutex::new(0)),
        });
    tokio::spawn(async move { axum::serve(front_listener, app).await });

    let mut settings = mock_graph::Settings::defaults();
    settings.listen = format!("127.0.0.1:{graph_port}");
    settings.webhook_url = Some(front_url);
    settings.realtime = true;
    settings.start = jiff::Timestamp::now();
    let page_id = settings.page_id.clone();

    let dir = std::env::temp_dir().join(format!("tagdesk-replicas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lease = lease();
    let config = |port: u16| {
        let path = dir.join(format!("tagdesk-{port}.toml"));
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndatabase = {conninfo:?}\nlane_lease = \"{lease}\"\n\
                 json_logs = true\n\
                 [discord]\napi_base = \"{discord_base}\"\napplication_id = 1\nguild_id = 2\n\
                 channel_id = 3\nagent_role_id = 4\ncoalesce = \"0s\"\n\
                 [meta]\ngraph_base = \"{graph_base}\"\npage_id = \"{page_id}\"\n"
            ),
        )
        .unwrap();
        path
    };
    let (config_a, config_b) = (config(port_a), config(port_b));
    let mut a = Replica::start(&config_a);
    let mut b = Replica::start(&config_b);
    let _mock = mock_graph::start(settings).await.unwrap();

    // The backlog: customers write, and as each conversation appears the team's
    // replies are queued.
    let http = reqwest::Client::new();
    let mut psids = Vec::new();
    for i in 0..CUSTOMERS {
        let customer: Value = http
            .post(format!("{graph_base}/_mock/customers"))
            .json(&json!({"name": format!("Customer {i}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        psids.push(customer["psid"].as_str().unwrap().to_owned());
    }
    let text = |i: usize, j: usize| format!("question-{i:02}-{j} ?");
    for j in 0..MESSAGES_EACH {
        for (i, psid) in psids.iter().enumerate() {
            http.post(format!("{graph_base}/_mock/customers/{psid}/messages"))
                .json(&json!({"text": text(i, j)}))
                .send()
                .await
                .unwrap();
        }
    }
    let answer = |i: usize, k: usize| format!("answer-{i:02}-{k}");
    let mut queued = [false; CUSTOMERS];
    let mut killed = None;
    let started = Instant::now();
    let mut a_lanes = Vec::new();
    while killed.is_none() || queued.contains(&false) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the backlog never got going:\n{}",
            a.log()
        );
        for (i, psid) in psids.iter().enumerate() {
            if queued[i] || store.thread(psid).unwrap().is_none() {
                continue;
            }
            let now = jiff::Timestamp::now();
            for k in 0..REPLIES_EACH {
                store
                    .commit(&reply(psid, &format!("r-{i}-{k}"), &answer(i, k), now))
                    .unwrap();
            }
            queued[i] = true;
        }
        // Killed while it holds lanes with work waiting in them.
        if killed.is_none() {
            a_lanes = (store.lanes().unwrap().into_iter())
                .filter(|l| l.holder == a.name && l.waiting)
                .map(|l| l.lane)
                .collect();
            if a_lanes.len() >= 2 {
                a.child.kill().unwrap();
                a.child.wait().unwrap();
                killed = Some(Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = killed.unwrap();

    // Taken over: no lane with work waiting is held by the dead replica.
    let mut took_over = None;
    let dead = a.name.clone();
    until(Duration::from_secs(20), || {
        let held_by_dead = store
            .lanes()
            .unwrap()
            .into_iter()
            .any(|l| l.holder == dead && l.waiting);
        if !held_by_dead {
            took_over = Some(killed.elapsed());
        }
        !held_by_dead
    })
    .await;
    let took_over = took_over.unwrap_or_else(|| panic!("never taken over:\n{}", b.log()));

    // Then the survivor finishes the backlog.
    let shown_texts = || -> Vec<String> {
        let d = shown.lock().unwrap();
        d.messages.iter().map(|(_, m)| m.to_string()).collect()
    };
    let sent = || async {
        let log: Value = reqwest::get(format!("{graph_base}/_mock/sent"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["data"].as_array().cloned().unwrap_or_default()
    };
    let all_replies = CUSTOMERS * REPLIES_EACH;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered = sent()
            .await
            .iter()
            .filter(|s| s["sent"]["message_id"].is_string())
            .count();
        let posts = shown_texts();
        let missing: Vec<String> = (0..CUSTOMERS)
            .flat_map(|i| (0..MESSAGES_EACH).map(move |j| (i, j)))
            .map(|(i, j)| text(i, j))
            .filter(|t| !posts.iter().any(|p| p.contains(t.as_str())))
            .collect();
        if delivered >= all_replies && missing.is_empty() && store.work_pending().unwrap() == 0 {
            break;
        }
        if Instant::now() >= deadline {
            let i: usize = missing.first().map_or(0, |t| t[9..11].parse().unwrap());
            panic!(
                "the backlog wasn't finished: {delivered} replies sent, {} work pending, \
                 not shown: {missing:?}\nstored for customer {i}: {:#?}\nin Discord: {posts:#?}\n{}",
                store.work_pending().unwrap(),
                store.messages(&psids[i]).unwrap(),
                b.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every customer message shown once.
    let posts = shown_texts();
    for i in 0..CUSTOMERS {
        for j in 0..MESSAGES_EACH {
            let t = text(i, j);
            let n: usize = posts.iter().map(|p| p.matches(&t).count()).sum();
            assert_eq!(n, 1, "{t:?} shown {n} times");
        }
    }
    // Every reply sent once, in order per conversation.
    let sent = sent().await;
    for (i, psid) in psids.iter().enumerate() {
        let to_them: Vec<&str> = sent
            .iter()
            .filter(|s| {
                s["sent"]["message_id"].is_string() && s["request"]["recipient"]["id"] == **psid
            })
            .filter_map(|s| s["request"]["message"]["text"].as_str())
            .collect();
        let expected: Vec<String> = (0..REPLIES_EACH).map(|k| answer(i, k)).collect();
        assert_eq!(to_them, expected, "to customer {i}");
    }
    assert!(
        took_over < Duration::from_secs(10),
        "the dead replica's lanes were taken over {took_over:?} after the kill"
    );
    eprintln!(
        "failover: lane_lease {lease}, {} lanes of the killed replica with work waiting, \
         taken over {:.0} ms after kill -9",
        a_lanes.len(),
        took_over.as_secs_f64() * 1000.0
    );
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
