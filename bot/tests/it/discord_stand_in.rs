//! Discord's REST API over loopback, as strict as Discord: an axum server on
//! 127.0.0.1 that serves the routes the bot calls from in-memory state and enforces
//! Discord's rate limits with the bot's own model of them (`bot::discord::ratelimit`'s
//! `Buckets`) on a virtual clock shared with the bot.
//!
//! Every answer on a limited route carries `X-RateLimit-Limit`, `-Remaining`, `-Reset`,
//! `-Reset-After` and `-Bucket`; a call past a limit gets a 429 with `Retry-After`,
//! `X-RateLimit-Scope` (and `X-RateLimit-Global` for the global limit) and the body
//! `{"message", "retry_after", "global"}`, exactly as Discord's developer documentation
//! shows them ("Rate Limits": Header Format, Exceeding A Rate Limit, Invalid Request
//! Limit; <https://discord.com/developers/docs/topics/rate-limits>,
//! `docs/topics/rate-limits.md` in `discord/discord-api-docs`). Interaction endpoints
//! are not bound by the global limit there, and aren't here. Invalid requests (401,
//! 403, and 429 but `shared` ones) are counted; too many and the address is refused.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bot::clock::{Clock, ManualClock};
use bot::discord::ratelimit::{Buckets, Limits, RateLimit, Refused, Route, RouteKind, Scope};
use jiff::Timestamp;
use serde_json::{json, Value};

/// The token the stand-in accepts (`Authorization: Bot …`).
pub const TOKEN: &str = "Bot test-token";

/// The first id handed out; ids count up from it.
const FIRST_ID: u64 = 1_400_000_000_000_000_000;

/// One request as it reached the stand-in.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET`, `POST`, `PATCH`.
    pub method: String,
    /// The path, e.g. `/api/v10/channels/900/messages`.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// When, virtually.
    pub at: Timestamp,
    /// The 429's scope, if it was one.
    pub scope: Option<Scope>,
}

/// A message as it stands.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its id.
    pub id: u64,
    /// The channel or thread it is in.
    pub channel: u64,
    /// Discord's JSON for it.
    pub json: Value,
}

/// A thread (or forum post) as it stands.
#[derive(Debug, Clone)]
pub struct Thread {
    /// Its id.
    pub id: u64,
    /// The channel it is in.
    pub parent: u64,
    /// Its name.
    pub name: String,
    /// Whether it is archived.
    pub archived: bool,
}

struct State0 {
    clock: ManualClock,
    limits: Limits,
    buckets: Buckets,
    next_id: u64,
    messages: Vec<Message>,
    by_nonce: HashMap<String, u64>,
    threads: BTreeMap<u64, Thread>,
    forums: HashSet<u64>,
    denied: HashSet<u64>,
    calls: Vec<Call>,
}

type Shared = Arc<Mutex<State0>>;

/// The stand-in; it serves until dropped.
pub struct DiscordStandIn {
    /// Its API base, for `SerenityDiscord::new` (`http://127.0.0.1:port`).
    pub url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for DiscordStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DiscordStandIn {
    /// A Discord enforcing `limits` on `clock`'s time.
    pub async fn start(limits: Limits, clock: ManualClock) -> DiscordStandIn {
        let state = Arc::new(Mutex::new(State0 {
            clock,
            limits,
            buckets: Buckets::default(),
            next_id: FIRST_ID,
            messages: Vec::new(),
            by_nonce: HashMap::new(),
            threads: BTreeMap::new(),
            forums: HashSet::new(),
            denied: HashSet::new(),
            calls: Vec::new(),
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        DiscordStandIn { url, state, server }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State0> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `channel` a forum: it takes posts, not messages.
    #[allow(dead_code)]
    pub fn set_forum(&self, channel: u64) {
        self.state().forums.insert(channel);
    }

    /// The bot may not post in `channel` (403 Missing Permissions) until allowed again.
    pub fn deny(&self, channel: u64, denied: bool) {
        let mut s = self.state();
        if denied {
            s.denied.insert(channel);
        } else {
            s.denied.remove(&channel);
        }
    }

    /// Someone else spends what is left of the shared bucket `route` (a busy channel's
    /// thread creation, say) at the present instant.
    pub fn spend_shared(&self, route: Route) {
        let mut s = self.state();
        let now = s.clock.now();
        let limits = s.limits;
        while let Ok(Some(l)) = s.buckets.admit(&limits, Some(route), now) {
            if l.remaining == 0 {
                break;
            }
        }
    }

    /// Every request so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Invalid requests (401, 403, 429 but `shared` ones) so far.
    pub fn invalid_requests(&self) -> u64 {
        self.state().buckets.invalid_total()
    }

    /// Messages posted in `channel`, oldest first.
    pub fn messages_in(&self, channel: u64) -> Vec<Message> {
        let s = self.state();
        s.messages
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }

    /// Every thread, by id.
    pub fn threads(&self) -> Vec<Thread> {
        self.state().threads.values().cloned().collect()
    }
}

/// What a request asks for.
enum Op {
    PostMessage(u64),
    GetMessages(u64),
    StartThread {
        channel: u64,
        message: u64,
    },
    ForumPost(u64),
    EditChannel(u64),
    ActiveThreads,
    /// An interaction callback, `@original` edit or follow-up.
    Interaction {
        answer_id: bool,
    },
}

impl Op {
    fn parse(method: &Method, path: &str) -> Option<Op> {
        let rest = path.strip_prefix("/api/v10/")?;
        let parts: Vec<&str> = rest.split('/').collect();
        let id = |s: &str| s.parse::<u64>().ok();
        Some(match (method.as_str(), parts.as_slice()) {
            ("POST", ["channels", c, "messages"]) => Op::PostMessage(id(c)?),
            ("GET", ["channels", c, "messages"]) => Op::GetMessages(id(c)?),
            ("POST", ["channels", c, "messages", m, "threads"]) => Op::StartThread {
                channel: id(c)?,
                message: id(m)?,
            },
            ("POST", ["channels", c, "threads"]) => Op::ForumPost(id(c)?),
            ("PATCH", ["channels", c]) => Op::EditChannel(id(c)?),
            ("GET", ["guilds", _, "threads", "active"]) => Op::ActiveThreads,
            ("POST", ["interactions", _, _, "callback"]) => Op::Interaction { answer_id: false },
            ("PATCH", ["webhooks", _, _, "messages", "@original"])
            | ("POST", ["webhooks", _, _]) => Op::Interaction { answer_id: true },
            _ => return None,
        })
    }

    /// Its rate-limit bucket (as the bot's own model names them); `None` is the
    /// global limit alone.
    fn route(&self) -> Option<Route> {
        let (kind, channel) = match *self {
            Op::PostMessage(c) => (RouteKind::Messages, c),
            Op::StartThread { channel, .. } => (RouteKind::Threads, channel),
            Op::ForumPost(c) => (RouteKind::Threads, c),
            Op::EditChannel(c) => (RouteKind::Edit, c),
            _ => return None,
        };
        Some(Route { kind, channel })
    }
}

/// Seconds as Discord writes them: a float, to the millisecond.
fn secs(d: jiff::SignedDuration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

/// The `X-RateLimit-*` headers of a bucket, at `now`.
fn bucket_headers(h: &mut HeaderMap, l: &RateLimit, now: Timestamp) {
    let reset = now + l.reset_after;
    let mut set = |k: &'static str, v: String| {
        h.insert(k, HeaderValue::from_str(&v).unwrap());
    };
    set("x-ratelimit-limit", l.limit.to_string());
    set("x-ratelimit-remaining", l.remaining.to_string());
    set(
        "x-ratelimit-reset",
        format!("{:.3}", reset.as_millisecond() as f64 / 1000.0),
    );
    set(
        "x-ratelimit-reset-after",
        format!("{:.3}", secs(l.reset_after)),
    );
    set("x-ratelimit-bucket", l.bucket.clone());
}

/// A 429 as Discord answers it: the bucket's headers (none for the global limit),
/// `Retry-After` in whole seconds rounded up, the scope, and the JSON body.
fn too_many(refused: &Refused, now: Timestamp) -> Response {
    let l = &refused.limit;
    let mut h = HeaderMap::new();
    if !l.global {
        bucket_headers(&mut h, l, now);
    } else {
        h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
    }
    let scope = l.scope.unwrap_or(Scope::User);
    h.insert(
        "x-ratelimit-scope",
        HeaderValue::from_static(scope.as_str()),
    );
    let ms = l.reset_after.as_millis();
    h.insert(
        "retry-after",
        HeaderValue::from_str(&((ms + 999) / 1000).to_string()).unwrap(),
    );
    let message = if refused.banned {
        "You are being blocked from accessing our API temporarily due to exceeding our rate \
         limits frequently."
    } else if scope == Scope::Shared {
        "The resource is being rate limited."
    } else {
        "You are being rate limited."
    };
    let body = json!({"message": message, "retry_after": secs(l.reset_after), "global": l.global});
    (StatusCode::TOO_MANY_REQUESTS, h, axum::Json(body)).into_response()
}

fn error(status: StatusCode, code: i64, message: &str) -> (StatusCode, Value) {
    (status, json!({"code": code, "message": message}))
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let now = s.clock.now();
    let limits = s.limits;
    let path = uri.path().to_owned();
    let record = |s: &mut State0, status: StatusCode, scope: Option<Scope>| {
        s.calls.push(Call {
            method: method.to_string(),
            path: path.clone(),
            status: status.as_u16(),
            at: now,
            scope,
        });
    };
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(TOKEN) {
        s.buckets.invalid_request(&limits, now);
        record(&mut s, StatusCode::UNAUTHORIZED, None);
        let (status, body) = error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
        return (status, axum::Json(body)).into_response();
    }
    let Some(op) = Op::parse(&method, uri.path()) else {
        record(&mut s, StatusCode::NOT_FOUND, None);
        let (status, body) = error(StatusCode::NOT_FOUND, 0, "404: Not Found");
        return (status, axum::Json(body)).into_response();
    };
    let mut h = HeaderMap::new();
    // Interaction endpoints aren't bound by the bot's global limit (nor its buckets).
    if !matches!(op, Op::Interaction { .. }) {
        match s.buckets.admit(&limits, op.route(), now) {
            Err(refused) => {
                record(&mut s, StatusCode::TOO_MANY_REQUESTS, refused.limit.scope);
                return too_many(&refused, now);
            }
            Ok(Some(l)) => bucket_headers(&mut h, &l, now),
            Ok(None) => {}
        }
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let limit = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("limit=")))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(50);
    let (status, answer) = s.apply(&op, &request, limit);
    if status == StatusCode::FORBIDDEN {
        s.buckets.invalid_request(&limits, now);
    }
    record(&mut s, status, None);
    if status == StatusCode::NO_CONTENT {
        return (status, h).into_response();
    }
    (status, h, axum::Json(answer)).into_response()
}

impl State0 {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn message(&mut self, channel: u64, id: u64, request: &Value) -> Value {
        let mut m = json!({
            "id": id.to_string(),
            "channel_id": channel.to_string(),
            "type": 0,
            "content": request["content"].as_str().unwrap_or_default(),
            "embeds": request.get("embeds").cloned().unwrap_or(json!([])),
            "components": request.get("components").cloned().unwrap_or(json!([])),
            "timestamp": self.clock.now().to_string(),
        });
        if let Some(nonce) = request.get("nonce") {
            m["nonce"] = nonce.clone();
        }
        self.messages.push(Message {
            id,
            channel,
            json: m.clone(),
        });
        m
    }

    fn thread_json(&self, t: &Thread) -> Value {
        json!({
            "id": t.id.to_string(),
            "type": 11,
            "parent_id": t.parent.to_string(),
            "name": t.name,
            "thread_metadata": {"archived": t.archived, "auto_archive_duration": 10080},
        })
    }

    fn apply(&mut self, op: &Op, request: &Value, limit: usize) -> (StatusCode, Value) {
        let denied = |c: u64| self.denied.contains(&c);
        match *op {
            Op::PostMessage(channel) if denied(channel) => {
                error(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
            }
            Op::PostMessage(channel) if self.forums.contains(&channel) => error(
                StatusCode::BAD_REQUEST,
                40058,
                "Cannot send a message in a forum channel",
            ),
            Op::PostMessage(channel) => {
                let nonce = request["nonce"].as_str().map(str::to_owned);
                let enforce = request["enforce_nonce"].as_bool() == Some(true);
                if let Some(earlier) = nonce
                    .as_ref()
                    .filter(|_| enforce)
                    .and_then(|n| self.by_nonce.get(n))
                {
                    let m = self.messages.iter().find(|m| m.id == *earlier).unwrap();
                    return (StatusCode::OK, m.json.clone());
                }
                let id = self.id();
                if let Some(n) = nonce.filter(|_| enforce) {
                    self.by_nonce.insert(n, id);
                }
                (StatusCode::OK, self.message(channel, id, request))
            }
            Op::GetMessages(channel) => {
                let recent: Vec<Value> = self
                    .messages
                    .iter()
                    .rev()
                    .filter(|m| m.channel == channel)
                    .take(limit)
                    .map(|m| m.json.clone())
                    .collect();
                (StatusCode::OK, Value::Array(recent))
            }
            Op::StartThread { channel, .. } if denied(channel) => {
                error(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
            }
            Op::StartThread { channel, message } => {
                if !self
                    .messages
                    .iter()
                    .any(|m| m.id == message && m.channel == channel)
                {
                    return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
                }
                if self.threads.contains_key(&message) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        160004,
                        "A thread has already been created for this message",
                    );
                }
                let t = Thread {
                    id: message,
                    parent: channel,
                    name: request["name"].as_str().unwrap_or_default().to_owned(),
                    archived: false,
                };
                let json = self.thread_json(&t);
                self.threads.insert(t.id, t);
                (StatusCode::CREATED, json)
            }
            Op::ForumPost(forum) if denied(forum) => {
                error(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
            }
            Op::ForumPost(forum) => {
                // A forum post's starter message has the thread's id.
                let id = self.id();
                let t = Thread {
                    id,
                    parent: forum,
                    name: request["name"].as_str().unwrap_or_default().to_owned(),
                    archived: false,
                };
                let mut json = self.thread_json(&t);
                self.threads.insert(id, t);
                json["message"] = self.message(id, id, &request["message"]);
                (StatusCode::CREATED, json)
            }
            Op::EditChannel(channel) => {
                let Some(t) = self.threads.get_mut(&channel) else {
                    return error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
                };
                if let Some(name) = request["name"].as_str() {
                    t.name = name.to_owned();
                }
                if let Some(archived) = request["archived"].as_bool() {
                    t.archived = archived;
                }
                let t = t.clone();
                (StatusCode::OK, self.thread_json(&t))
            }
            Op::ActiveThreads => {
                let threads: Vec<Value> = self
                    .threads
                    .values()
                    .filter(|t| !t.archived)
                    .map(|t| self.thread_json(t))
                    .collect();
                (StatusCode::OK, json!({"threads": threads, "members": []}))
            }
            Op::Interaction { answer_id: false } => (StatusCode::NO_CONTENT, Value::Null),
            Op::Interaction { answer_id: true } => {
                let id = self.id();
                (StatusCode::OK, json!({"id": id.to_string()}))
            }
        }
    }
}
