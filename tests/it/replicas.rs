//! Two `tagdesk bot` processes on one Postgres database, one stopped in the middle of a
//! backlog: killed (`kill -9`), the other takes its lanes over within the lease; stopped
//! cleanly (SIGTERM, as `docker stop` does), it finishes the step in hand, lets go of
//! its lanes and exits, and the other takes them over at once, however long the lease.
//! Either way every customer message reaches Discord once, and every reply reaches Meta
//! once, in order.
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

/// How replica A stopped.
struct Stopped {
    /// When it was told to (killed, or signalled).
    at: Instant,
    /// How long after that it exited.
    exited: Duration,
    /// The lanes it held with work waiting when it was told.
    lanes: Vec<String>,
}

/// The backlog's world: the database, the Discord stand-in, mock-graph behind the
/// front, two replicas, and the customers who wrote.
struct Backlog {
    /// The test's own view of the database: it reads, and queues replies as commands
    /// do; it never asks for work, so it holds no lane.
    store: PostgresStore,
    shown: Arc<Mutex<Discord>>,
    graph_base: String,
    psids: Vec<String>,
    a: Replica,
    b: Replica,
    dir: std::path::PathBuf,
    _mock: mock_graph::MockGraph,
}

fn text(i: usize, j: usize) -> String {
    format!("question-{i:02}-{j} ?")
}

fn answer(i: usize, k: usize) -> String {
    format!("answer-{i:02}-{k}")
}

impl Backlog {
    /// Starts everything with `lane_lease = lease`, and has every customer write.
    async fn start(lease: &str) -> Backlog {
        let conninfo = bot::store::test_server::TestServer::shared().database();
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

        let dir =
            std::env::temp_dir().join(format!("tagdesk-replicas-{}-{port_a}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
        let a = Replica::start(&config_a);
        let b = Replica::start(&config_b);
        let mock = mock_graph::start(settings).await.unwrap();

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
        for j in 0..MESSAGES_EACH {
            for (i, psid) in psids.iter().enumerate() {
                http.post(format!("{graph_base}/_mock/customers/{psid}/messages"))
                    .json(&json!({"text": text(i, j)}))
                    .send()
                    .await
                    .unwrap();
            }
        }
        Backlog {
            store,
            shown,
            graph_base,
            psids,
            a,
            b,
            dir,
            _mock: mock,
        }
    }

    /// Queues the team's replies as each conversation appears, and stops replica A
    /// with `stop` once it holds at least two lanes with work waiting; returns once
    /// every reply is queued and A has exited (within 10 s).
    async fn stop_a_mid_backlog(&mut self, stop: impl FnOnce(&mut Replica)) -> Stopped {
        let mut stop = Some(stop);
        let mut queued = [false; CUSTOMERS];
        let mut stopped: Option<Instant> = None;
        let started = Instant::now();
        let mut a_lanes = Vec::new();
        let mut exited = None;
        while stopped.is_none() || queued.contains(&false) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the backlog never got going:\n{}",
                self.a.log()
            );
            for (i, psid) in self.psids.iter().enumerate() {
                if queued[i] || self.store.thread(psid).unwrap().is_none() {
                    continue;
                }
                let now = jiff::Timestamp::now();
                for k in 0..REPLIES_EACH {
                    self.store
                        .commit(&reply(psid, &format!("r-{i}-{k}"), &answer(i, k), now))
                        .unwrap();
                }
                queued[i] = true;
            }
            if let (Some(at), None) = (stopped, exited) {
                if self.a.child.try_wait().unwrap().is_some() {
                    exited = Some(at.elapsed());
                }
            }
            // Stopped while it holds lanes with work waiting in them.
            if stopped.is_none() {
                a_lanes = (self.store.lanes().unwrap().into_iter())
                    .filter(|l| l.holder == self.a.name && l.waiting)
                    .map(|l| l.lane)
                    .collect();
                if a_lanes.len() >= 2 {
                    (stop.take().unwrap())(&mut self.a);
                    stopped = Some(Instant::now());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stopped = stopped.unwrap();
        // The stop's time to exit, from here if it hasn't yet.
        let exited = match exited {
            Some(after) => after,
            None => loop {
                if self.a.child.try_wait().unwrap().is_some() {
                    break stopped.elapsed();
                }
                assert!(
                    stopped.elapsed() < Duration::from_secs(10),
                    "still running 10 s after it was stopped:\n{}",
                    self.a.log()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            },
        };
        Stopped {
            at: stopped,
            exited,
            lanes: a_lanes,
        }
    }

    /// How long after `stopped` replica B held every lane of `lanes` still waiting
    /// for work: none is left held by A, or held by nobody while work waits in it.
    async fn taken_over(&mut self, stopped: Instant, lanes: &[String]) -> Duration {
        let b = self.b.name.clone();
        let store = &self.store;
        let mut took_over = None;
        until(Duration::from_secs(40), || {
            let held_by_b: Vec<String> = (store.lanes().unwrap().into_iter())
                .filter(|l| l.holder == b)
                .map(|l| l.lane)
                .collect();
            let done = lanes
                .iter()
                .all(|l| held_by_b.contains(l) || !store.waiting(l).unwrap());
            if done {
                took_over = Some(stopped.elapsed());
            }
            done
        })
        .await;
        took_over.unwrap_or_else(|| panic!("never taken over:\n{}", self.b.log()))
    }

    /// Waits for B to finish the backlog, then checks that every customer message was
    /// shown once and every reply sent once, in order per conversation.
    async fn finished_once_each(&mut self) {
        let shown_texts = || -> Vec<String> {
            let d = self.shown.lock().unwrap();
            d.messages.iter().map(|(_, m)| m.to_string()).collect()
        };
        let graph_base = self.graph_base.clone();
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
            if delivered >= all_replies
                && missing.is_empty()
                && self.store.work_pending().unwrap() == 0
            {
                break;
            }
            if Instant::now() >= deadline {
                let i: usize = missing.first().map_or(0, |t| t[9..11].parse().unwrap());
                panic!(
                    "the backlog wasn't finished: {delivered} replies sent, {} work pending, \
                     not shown: {missing:?}\nstored for customer {i}: {:#?}\nin Discord: {posts:#?}\n{}",
                    self.store.work_pending().unwrap(),
                    self.store.messages(&self.psids[i]).unwrap(),
                    self.b.log()
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
        for (i, psid) in self.psids.iter().enumerate() {
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
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_backlog_loses_nothing_and_repeats_nothing() {
    let lease = lease();
    let mut w = Backlog::start(&lease).await;
    let killed = w
        .stop_a_mid_backlog(|a| {
            a.child.kill().unwrap();
            a.child.wait().unwrap();
        })
        .await;
    let took_over = w.taken_over(killed.at, &killed.lanes).await;
    w.finished_once_each().await;
    assert!(
        took_over < Duration::from_secs(10),
        "the dead replica's lanes were taken over {took_over:?} after the kill"
    );
    eprintln!(
        "failover: lane_lease {lease}, {} lanes of the killed replica with work waiting, \
         taken over {:.0} ms after kill -9",
        killed.lanes.len(),
        took_over.as_secs_f64() * 1000.0
    );
}

/// The lease in the clean-stop test: far longer than the takeover may take, so a
/// takeover within it can only come from the stopping replica letting go.
const LONG_LEASE: &str = "30s";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stopped_by_sigterm_mid_backlog_hands_its_lanes_over_at_once() {
    let mut w = Backlog::start(LONG_LEASE).await;
    let stopped = w
        .stop_a_mid_backlog(|a| {
            let term = Command::new("kill")
                .args(["-TERM", &a.child.id().to_string()])
                .status()
                .unwrap();
            assert!(term.success());
        })
        .await;
    // It exited on its own (within docker stop's 10 s grace), cleanly, and let go.
    let exit = w.a.child.wait().unwrap();
    let log = w.a.log();
    assert!(exit.success(), "exited with {exit}:\n{log}");
    assert!(log.contains("tagdesk bot stopped"), "{log}");
    let held: Vec<_> = (w.store.lanes().unwrap().into_iter())
        .filter(|l| l.holder == w.a.name)
        .collect();
    assert!(
        held.is_empty(),
        "still held by the stopped replica: {held:?}"
    );

    let took_over = w.taken_over(stopped.at, &stopped.lanes).await;
    w.finished_once_each().await;
    assert!(
        took_over < Duration::from_secs(5),
        "the stopped replica's lanes were taken over {took_over:?} after SIGTERM, \
         with a lease of {LONG_LEASE}"
    );
    eprintln!(
        "clean stop: lane_lease {LONG_LEASE}, {} lanes of the stopped replica with work \
         waiting, exited {:.0} ms and taken over {:.0} ms after SIGTERM",
        stopped.lanes.len(),
        stopped.exited.as_secs_f64() * 1000.0,
        took_over.as_secs_f64() * 1000.0
    );
}
