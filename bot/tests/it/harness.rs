//! A bot wired to mock-graph over loopback, with a chosen Discord, on mock-graph's
//! virtual clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bot::clock::{Clock, ManualClock};
use bot::config::Secret;
use bot::discord::serenity_http::SerenityDiscord;
use bot::discord::DiscordApi;
use bot::engine::{Engine, Ticked};
use bot::graph::HttpGraph;
use bot::settings::Settings;
use bot::store::sqlite::SqliteStore;
use bot::store::Store;
use bot::webhook::{router, WebhookConfig};
use messenger::Era;
use mock_graph::MockGraph;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The parent channel conversations become threads under.
pub const CHANNEL: u64 = 900;
/// The agent role.
pub const ROLE: u64 = 77;

/// A unique database file for one test.
pub fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tagdesk-bot-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tagdesk.db");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    path
}

/// A fresh SQLite database file for one test.
pub fn sqlite_db(name: &str) -> bot::config::Database {
    bot::config::Database::Sqlite(temp_db(name))
}

/// A fresh database in the tests' throwaway Postgres server (started on first use;
/// fails, saying how to install it, without Debian's `postgresql` package).
pub fn postgres_db() -> bot::config::Database {
    bot::config::Database::Postgres(bot::store::test_server::TestServer::shared().database())
}

pub struct Harness {
    pub mock: MockGraph,
    pub base: String,
    pub http: reqwest::Client,
    pub engine: Engine,
    pub clock: ManualClock,
    server: tokio::task::JoinHandle<()>,
}

impl Harness {
    /// A bot on `db` (in memory if `None`) answering mock-graph's webhooks.
    pub async fn new(discord: Arc<dyn DiscordApi>, db: Option<&Path>) -> Harness {
        Harness::with(|_| async move { discord }, db).await
    }

    /// A bot whose Discord is made on the bot's own clock (a stand-in keeping time with
    /// it, a client pacing itself by it).
    pub async fn with<F, Fut>(discord: F, db: Option<&Path>) -> Harness
    where
        F: FnOnce(ManualClock) -> Fut,
        Fut: std::future::Future<Output = Arc<dyn DiscordApi>>,
    {
        let store: Arc<dyn Store> = Arc::new(match db {
            Some(p) => SqliteStore::open(p).unwrap(),
            None => SqliteStore::in_memory().unwrap(),
        });
        Harness::on_with(discord, store).await
    }

    /// A bot on `db` (either backend) answering mock-graph's webhooks.
    pub async fn open(discord: Arc<dyn DiscordApi>, db: &bot::config::Database) -> Harness {
        Harness::on(discord, bot::store::open(db).unwrap()).await
    }

    /// A bot on `store`, any backend, answering mock-graph's webhooks.
    pub async fn on(discord: Arc<dyn DiscordApi>, store: Arc<dyn Store>) -> Harness {
        Harness::on_with(|_| async move { discord }, store).await
    }

    /// A bot on `store` whose Discord is made on the bot's own clock.
    async fn on_with<F, Fut>(discord: F, store: Arc<dyn Store>) -> Harness
    where
        F: FnOnce(ManualClock) -> Fut,
        Fut: std::future::Future<Output = Arc<dyn DiscordApi>>,
    {
        let app = router(
            WebhookConfig {
                app_secret: "mock-app-secret".into(),
                verify_token: "mock-verify-token".into(),
                wake: None,
            },
            store.clone(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut settings = mock_graph::Settings::defaults();
        settings.listen = "127.0.0.1:0".into();
        settings.webhook_url = Some(url);
        let mock = mock_graph::start(settings).await.unwrap();
        let base = format!("http://{}", mock.addr);
        let clock = ManualClock::new(mock.state.lock().now());
        let discord = discord(clock.clone()).await;
        let engine = Engine {
            store: store.clone(),
            graph: Arc::new(HttpGraph::new(
                &base,
                "v21.0",
                Secret::new("mock-page-token"),
            )),
            discord,
            clock: Arc::new(clock.clone()),
            settings: Arc::new(Settings::new(CHANNEL, ROLE, Era::Meta2026)),
        };
        Harness {
            mock,
            base,
            http: reqwest::Client::new(),
            engine,
            clock,
            server,
        }
    }

    pub async fn admin(&self, path: &str, body: Value) -> Value {
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

    pub async fn customer(&self, name: &str) -> String {
        let c = self
            .admin("/_mock/customers", json!({ "name": name }))
            .await;
        c["psid"].as_str().unwrap().to_owned()
    }

    pub async fn say(&self, psid: &str, text: &str) {
        self.admin(
            &format!("/_mock/customers/{psid}/messages"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Moves mock-graph's clock, and the bot's with it.
    pub async fn advance(&self, by: &str) {
        self.admin("/_mock/clock", json!({ "advance": by })).await;
        self.clock.set(self.mock.state.lock().now());
    }

    pub async fn tick(&self) -> Ticked {
        self.clock.set(self.mock.state.lock().now());
        self.engine.tick().await.unwrap()
    }

    /// Moves mock-graph's clock, and the bot's with it, to `to`.
    pub async fn advance_to(&self, to: jiff::Timestamp) {
        self.admin("/_mock/clock", json!({ "to": to.to_string() }))
            .await;
        self.clock.set(self.mock.state.lock().now());
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// Stops the bot's webhook server, as a crash would.
    pub async fn crash(self) -> MockGraph {
        self.server.abort();
        let _ = self.server.await;
        self.mock
    }
}

/// The starter message (and thread) id the Discord stand-in answers with.
pub const STARTER: u64 = 5001;

/// wiremock as Discord's REST API: a channel post, a thread from it, posts in the
/// thread, thread edits.
pub async fn discord() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v10/channels/{CHANNEL}/messages")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": STARTER.to_string()})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/v10/channels/{CHANNEL}/messages/{STARTER}/threads"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": STARTER.to_string()})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v10/channels/{STARTER}/messages")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "6001"})))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/api/v10/channels/{STARTER}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": STARTER.to_string()})))
        .mount(&server)
        .await;
    server
}

/// serenity's `Http` pointed at the stand-in.
pub fn serenity_client(server: &MockServer) -> Arc<SerenityDiscord> {
    Arc::new(SerenityDiscord::new("Bot test-token", 1, &server.uri()))
}
