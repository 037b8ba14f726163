//! The gateway transport end to end, as production runs it (`gateway::run`): serenity's
//! client asks a wiremock Discord for the gateway (`GET /gateway/bot`), connects to a
//! stand-in gateway on loopback, identifies, gets READY and an INTERACTION_CREATE for
//! `/reply` in a mirrored conversation's thread; the reply reaches mock-graph and the
//! answer goes back through Discord's REST API. The HTTP transport's counterpart is
//! `commands::a_reply_over_http_interactions_reaches_meta_and_discords_rest_api`.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use flate2::write::ZlibEncoder;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{Request as Upgrade, Response};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::harness::{self, Harness, ROLE, STARTER};

const TOKEN: &str = "gateway-test-token";
const APP: u64 = 1_300_000_000_000_000_001;
const GUILD: u64 = 1_300_000_000_000_000_002;
const INTERACTION: u64 = 1_300_000_000_000_000_123;
const INTERACTION_TOKEN: &str = "interaction-token";
/// Only a failing test waits this long: everything else is awaited as it happens.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the stand-in gateway saw.
struct StandIn {
    /// Where it listens, as `GET /gateway/bot` gives it out.
    url: String,
    /// The path and query the client connected with.
    connected: mpsc::UnboundedReceiver<String>,
    /// The IDENTIFY payload.
    identify: mpsc::UnboundedReceiver<Value>,
    /// The heartbeat the stand-in asked for, as the client sent it.
    heartbeat: mpsc::UnboundedReceiver<Value>,
    /// The code the client closed the connection with (`None`: closed without one).
    closed: mpsc::UnboundedReceiver<Option<u16>>,
}

/// The stand-in's ends of [`StandIn`]'s channels.
struct Report {
    connected: mpsc::UnboundedSender<String>,
    identify: mpsc::UnboundedSender<Value>,
    heartbeat: mpsc::UnboundedSender<Value>,
    closed: mpsc::UnboundedSender<Option<u16>>,
}

impl StandIn {
    /// A gateway on loopback that serves one session and delivers `interaction` in it.
    async fn start(interaction: Value) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let (connected, connected_rx) = mpsc::unbounded_channel();
        let (identify, identify_rx) = mpsc::unbounded_channel();
        let (heartbeat, heartbeat_rx) = mpsc::unbounded_channel();
        let (closed, closed_rx) = mpsc::unbounded_channel();
        let report = Report {
            connected,
            identify,
            heartbeat,
            closed,
        };
        tokio::spawn(serve(listener, url.clone(), interaction, report));
        StandIn {
            url,
            connected: connected_rx,
            identify: identify_rx,
            heartbeat: heartbeat_rx,
            closed: closed_rx,
        }
    }
}

/// One session, in Discord's order: HELLO; the client's IDENTIFY; READY; a heartbeat
/// asked for (op 1) and acknowledged (op 11); the interaction; then every heartbeat
/// acknowledged until the client goes (its close frame's code reported).
async fn serve(listener: TcpListener, url: String, interaction: Value, report: Report) {
    let (socket, _) = listener.accept().await.unwrap();
    let connected = report.connected.clone();
    let upgrade = move |request: &Upgrade, response: Response| {
        let _ = connected.send(request.uri().to_string());
        Ok(response)
    };
    let mut ws = tokio_tungstenite::accept_hdr_async(socket, upgrade)
        .await
        .unwrap();

    // Discord's own interval: no heartbeat falls due on the client's timer while the
    // test runs, so the one heartbeat comes when asked for, at a known point.
    send(
        &mut ws,
        json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": 41_250}}),
    )
    .await;
    let identify = receive(&mut ws).await;
    let compress = identify["d"]["compress"] == true;
    let _ = report.identify.send(identify);

    let ready = json!({"op": 0, "s": 1, "t": "READY", "d": ready(&url)});
    if compress {
        // Asked for payload compression, Discord sends large payloads such as READY as
        // zlib in binary frames; serenity reads both kinds.
        ws.send(Message::Binary(zlib(&ready))).await.unwrap();
    } else {
        send(&mut ws, ready).await;
    }

    send(&mut ws, json!({"op": 1, "s": null, "t": null, "d": null})).await;
    let beat = receive(&mut ws).await;
    let _ = report.heartbeat.send(beat);
    send(&mut ws, json!({"op": 11, "s": null, "t": null, "d": null})).await;

    send(
        &mut ws,
        json!({"op": 0, "s": 2, "t": "INTERACTION_CREATE", "d": interaction}),
    )
    .await;

    while let Some(Ok(message)) = ws.next().await {
        if let Message::Close(frame) = &message {
            let _ = report
                .closed
                .send(frame.as_ref().map(|f| u16::from(f.code)));
        }
        let Message::Text(text) = message else {
            continue;
        };
        let payload: Value = serde_json::from_str(&text).unwrap_or_default();
        if payload["op"] == 1 {
            send(&mut ws, json!({"op": 11, "s": null, "t": null, "d": null})).await;
        }
    }
}

/// READY with what serenity needs to read it: the bot's user, its guilds (unavailable
/// until their GUILD_CREATE), the session to resume and the application.
fn ready(url: &str) -> Value {
    json!({
        "v": 10,
        "user": {
            "id": APP.to_string(), "username": "tagdesk", "discriminator": "0",
            "global_name": null, "avatar": null, "bot": true, "verified": true,
            "mfa_enabled": false, "flags": 0
        },
        "guilds": [{"id": GUILD.to_string(), "unavailable": true}],
        "session_id": "stand-in-session",
        "resume_gateway_url": url,
        "shard": [0, 1],
        "application": {"id": APP.to_string(), "flags": 0}
    })
}

/// `/reply text:…` typed by an agent in `thread`, as the gateway delivers it.
fn reply_interaction(thread: u64, text: &str) -> Value {
    json!({
        "id": INTERACTION.to_string(),
        "application_id": APP.to_string(),
        "type": 2,
        "data": {
            "id": "1300000000000000077",
            "name": "reply",
            "type": 1,
            "options": [{"name": "text", "type": 3, "value": text}]
        },
        "guild_id": GUILD.to_string(),
        "channel_id": thread.to_string(),
        "member": {
            "user": {"id": "900001", "username": "grace", "global_name": "Grace", "discriminator": "0", "avatar": null},
            "roles": [ROLE.to_string()],
            "joined_at": "2026-01-01T00:00:00.000000+00:00",
            "deaf": false,
            "mute": false,
            "flags": 0,
            "permissions": "2147483647"
        },
        "token": INTERACTION_TOKEN,
        "version": 1,
        "app_permissions": "2147483647",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0,
        // serenity requires it: without it the event is dropped as unknown, silently.
        "attachment_size_limit": 10_485_760
    })
}

async fn send(ws: &mut WebSocketStream<TcpStream>, payload: Value) {
    ws.send(Message::Text(payload.to_string())).await.unwrap();
}

/// The client's next payload (it sends JSON text frames).
async fn receive(ws: &mut WebSocketStream<TcpStream>) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("the client sent {other:?}"),
        }
    }
}

fn zlib(payload: &Value) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(payload.to_string().as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// A wiremock answer that also hands the request to the test, so it can await it.
struct Tell {
    to: mpsc::UnboundedSender<Request>,
    answer: ResponseTemplate,
}

impl Respond for Tell {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let _ = self.to.send(request.clone());
        self.answer.clone()
    }
}

/// The requests one mounted route received, as they come.
type Told = mpsc::UnboundedReceiver<Request>;

/// Answers `verb route` with `answer`, and hands each such request to the receiver.
async fn tell(server: &MockServer, verb: &str, route: &str, answer: ResponseTemplate) -> Told {
    let (to, requests) = mpsc::unbounded_channel();
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(Tell { to, answer })
        .mount(server)
        .await;
    requests
}

/// `gateway::run` in a task, stopped when dropped.
struct Running(JoinHandle<anyhow::Result<()>>);

impl Running {
    /// Waits for `what`: failing if it doesn't come within [`PATIENCE`], or if the
    /// gateway client stops first.
    async fn wait<T>(&mut self, what: &str, next: impl Future<Output = Option<T>>) -> T {
        tokio::select! {
            got = tokio::time::timeout(PATIENCE, next) => match got {
                Ok(Some(v)) => v,
                Ok(None) => panic!("{what}: its sender is gone"),
                Err(_) => panic!("{what}: nothing within {PATIENCE:?}"),
            },
            ended = &mut self.0 => panic!("{what}: gateway::run ended first: {ended:?}"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Discord's REST side of a gateway session: `GET /gateway/bot` naming the stand-in,
/// and the command registration and interaction callback, each told to the test.
async fn mount(server: &MockServer, gateway: &StandIn) -> (Told, Told) {
    Mock::given(method("GET"))
        .and(path("/api/v10/gateway/bot"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "url": gateway.url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        })))
        .mount(server)
        .await;
    // serenity's builder asks `GET /gateway` too. Its answer names another path on the
    // stand-in: the path connected to shows which answer was used, and nothing leaves
    // loopback whichever it is.
    Mock::given(method("GET"))
        .and(path("/api/v10/gateway"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"url": format!("{}/from-get-gateway", gateway.url)})),
        )
        .mount(server)
        .await;
    let registered = tell(
        server,
        "PUT",
        &format!("/api/v10/applications/{APP}/guilds/{GUILD}/commands"),
        ResponseTemplate::new(200).set_body_json(json!([])),
    )
    .await;
    let answered = tell(
        server,
        "POST",
        &format!("/api/v10/interactions/{INTERACTION}/{INTERACTION_TOKEN}/callback"),
        ResponseTemplate::new(204),
    )
    .await;
    (registered, answered)
}

#[tokio::test]
async fn a_reply_over_the_gateway_reaches_meta_and_discords_rest_api() {
    let server = harness::discord().await;
    let h = Harness::new(harness::serenity_client(&server), None).await;
    let psid = h.customer("Ada Lovelace").await;
    h.say(&psid, "hello").await;
    h.tick().await;
    let thread = h.engine.store.thread(&psid).unwrap().unwrap();
    assert_eq!(thread.discord_thread, Some(STARTER));

    let mut gateway = StandIn::start(reply_interaction(STARTER, "Hi Ada, how can we help?")).await;
    let (mut registered, mut answered) = mount(&server, &gateway).await;

    let (engine, api) = (h.engine.clone(), server.uri());
    let mut bot = Running(tokio::spawn(async move {
        bot::gateway::run(engine, TOKEN, APP, GUILD, &api).await
    }));

    let at = bot.wait("the connection", gateway.connected.recv()).await;
    assert_eq!(at, "/?v=10", "GET /gateway/bot's URL, with the API version");

    let identify = bot.wait("IDENTIFY", gateway.identify.recv()).await;
    assert_eq!(identify["op"], 2);
    assert_eq!(identify["d"]["token"], format!("Bot {TOKEN}"));
    assert_eq!(
        identify["d"]["intents"], 1,
        "GUILDS alone: interactions need no intent, and no privileged one is asked for"
    );
    assert_eq!(identify["d"]["shard"], json!([0, 1]));
    assert_eq!(
        identify["d"]["compress"], true,
        "so READY came zlib-compressed, through serenity's decompression"
    );

    let commands = bot.wait("the commands", registered.recv()).await;
    assert_eq!(commands.headers["authorization"], format!("Bot {TOKEN}"));
    assert_eq!(
        commands.body_json::<Value>().unwrap(),
        bot::commands::definitions::all()
    );

    let beat = bot.wait("a heartbeat", gateway.heartbeat.recv()).await;
    assert_eq!(
        beat,
        json!({"op": 1, "d": 1}),
        "the heartbeat carries READY's s"
    );

    let answer = bot.wait("the interaction's answer", answered.recv()).await;
    let answer: Value = answer.body_json().unwrap();
    assert_eq!(
        answer["type"], 4,
        "answered at once, not deferred: {answer}"
    );
    assert_eq!(answer["data"]["content"], "✅ Sent as RESPONSE.");

    let sent: Value = h
        .http
        .get(format!("{}/_mock/sent", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = sent["data"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["request"]["recipient"]["id"], psid.as_str());
    assert_eq!(sent[0]["request"]["messaging_type"], "RESPONSE");
    assert_eq!(
        sent[0]["request"]["message"]["text"],
        "Hi Ada, how can we help?"
    );

    // The thread shows it, as the agent the gateway named.
    h.tick().await;
    let posts: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == format!("/api/v10/channels/{STARTER}/messages"))
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert_eq!(posts[0]["embeds"][0]["author"]["name"], "Grace");
    assert_eq!(
        posts[0]["embeds"][0]["description"],
        "Hi Ada, how can we help?"
    );
}

/// Discord adds fields to interactions faster than a pinned serenity learns them, and
/// serenity drops an interaction it can't read as an unknown event: the agent would
/// see "This interaction failed". The bot serves it from the raw JSON instead.
#[tokio::test]
async fn an_interaction_serenity_cannot_read_is_served_from_its_json() {
    let server = harness::discord().await;
    let h = Harness::new(harness::serenity_client(&server), None).await;
    let psid = h.customer("Ada Lovelace").await;
    h.say(&psid, "hello").await;
    h.tick().await;

    let mut unreadable = reply_interaction(STARTER, "Hi Ada!");
    unreadable
        .as_object_mut()
        .unwrap()
        .remove("attachment_size_limit");
    let mut gateway = StandIn::start(unreadable).await;
    let (_registered, mut answered) = mount(&server, &gateway).await;
    let (engine, api) = (h.engine.clone(), server.uri());
    let mut bot = Running(tokio::spawn(async move {
        bot::gateway::run(engine, TOKEN, APP, GUILD, &api).await
    }));
    let _ = bot.wait("the connection", gateway.connected.recv()).await;
    let answer: Value = bot
        .wait("the interaction's answer", answered.recv())
        .await
        .body_json()
        .unwrap();
    assert_eq!(answer["data"]["content"], "✅ Sent as RESPONSE.");
    let sent: Value = h
        .http
        .get(format!("{}/_mock/sent", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["data"].as_array().unwrap().len(), 1, "{sent:#}");
}

#[tokio::test]
async fn stopping_closes_the_connection_and_the_client_returns() {
    let server = harness::discord().await;
    let h = Harness::new(harness::serenity_client(&server), None).await;
    let psid = h.customer("Ada Lovelace").await;
    h.say(&psid, "hello").await;
    h.tick().await;
    let mut gateway = StandIn::start(reply_interaction(STARTER, "Hi Ada!")).await;
    let (_registered, mut answered) = mount(&server, &gateway).await;
    let (engine, api) = (h.engine.clone(), server.uri());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut bot = Running(tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.await;
        };
        bot::gateway::run_until(std::sync::Arc::new(engine), TOKEN, APP, GUILD, &api, stop).await
    }));
    let _ = bot.wait("the interaction's answer", answered.recv()).await;

    // A stopping bot closes its session as Discord asks (1000, a normal close)...
    stop.send(()).unwrap();
    let closed = tokio::time::timeout(PATIENCE, gateway.closed.recv()).await;
    assert_eq!(closed, Ok(Some(Some(1000))), "closed with a normal close");
    // ...and the client returns, so the bot goes on to let its stores go.
    let ended = tokio::time::timeout(PATIENCE, &mut bot.0).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
}
