//! Several pages in one deployment, end to end: mock-graph emulating two pages
//! (`--pages 2`) over loopback, delivering to one `/webhook` split by page; an engine
//! and a store per page, each with its token, channel, rules and Human Agent flag; the
//! team's interactions routed to the page they belong to.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use bot::clock::{Clock, ManualClock};
use bot::config::Secret;
use bot::discord::recorder::Recorder;
use bot::discord::DiscordApi;
use bot::engine::Engine;
use bot::graph::HttpGraph;
use bot::interactions;
use bot::metrics::{self, Health, MeteredDiscord, MeteredGraph, Metrics};
use bot::pages::{Page, Pages, NO_PAGE};
use bot::settings::Settings;
use bot::store::sqlite::SqliteStore;
use bot::store::Store;
use bot::webhook::{router_for_pages, WebhookConfig};
use ed25519_dalek::{Signer, SigningKey};
use messenger::signature::sign;
use messenger::Era;
use mock_graph::MockGraph;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::harness::ROLE;

/// The first page: meta-2026 rules, Human Agent.
const SHOES: &str = "104857600000001";
/// The second page (mock-graph's page 2): legacy-2020 rules, no Human Agent.
const BOOKS: &str = "104857600000002";
const SHOES_CHANNEL: u64 = 900;
const BOOKS_CHANNEL: u64 = 901;

fn webhook_config() -> WebhookConfig {
    WebhookConfig {
        app_secret: "mock-app-secret".into(),
        verify_token: "mock-verify-token".into(),
        wake: None,
    }
}

fn store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::in_memory().unwrap())
}

/// The PSIDs of a store's pending events.
fn pending(store: &dyn Store) -> Vec<String> {
    store
        .pending(100)
        .unwrap()
        .into_iter()
        .filter_map(|p| p.event.psid)
        .collect()
}

#[tokio::test]
async fn one_delivery_for_two_pages_lands_in_two_stores_and_an_unknown_page_stores_nothing() {
    let (shoes, books) = (store(), store());
    let app = router_for_pages(
        webhook_config(),
        vec![(SHOES.into(), shoes.clone()), (BOOKS.into(), books.clone())],
    );
    let entry = |page: &str, psid: &str, mid: &str| {
        json!({"id": page, "time": 1, "messaging": [
            {"sender": {"id": psid}, "recipient": {"id": page}, "timestamp": 1_700_000_000_000i64,
             "message": {"mid": mid, "text": "hi"}}]})
    };
    let post = |body: String| {
        let signature = sign(b"mock-app-secret", body.as_bytes());
        Request::post("/webhook")
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(Body::from(body))
            .unwrap()
    };
    let body = json!({"object": "page", "entry": [
        entry(SHOES, "ada", "m_1"),
        entry("999999", "stranger", "m_2"),
        entry(BOOKS, "ben", "m_3"),
        entry(SHOES, "cy", "m_4"),
    ]})
    .to_string();
    let answer = app.clone().oneshot(post(body)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(pending(&*shoes), ["ada", "cy"]);
    assert_eq!(pending(&*books), ["ben"]);

    // A delivery only for a page not configured: acknowledged (Meta would retry it for
    // hours), nothing stored.
    let body = json!({"object": "page", "entry": [entry("999999", "stranger", "m_5")]});
    let answer = app.clone().oneshot(post(body.to_string())).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(pending(&*shoes).len() + pending(&*books).len(), 3);

    // A forged delivery still stores nothing anywhere.
    let forged = json!({"object": "page", "entry": [entry(BOOKS, "eve", "m_6")]}).to_string();
    let request = Request::post("/webhook")
        .header("x-hub-signature-256", sign(b"guess", forged.as_bytes()))
        .body(Body::from(forged))
        .unwrap();
    let answer = app.oneshot(request).await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(pending(&*books), ["ben"]);
}

/// Two pages' bots in one deployment, mock-graph as Meta for both.
struct Desk {
    mock: MockGraph,
    base: String,
    http: reqwest::Client,
    pages: Pages,
    clock: ManualClock,
    discord: Recorder,
    app: axum::Router,
    key: SigningKey,
    next: std::cell::Cell<u64>,
    metrics: Arc<Metrics>,
}

impl Desk {
    async fn new() -> Desk {
        let (shoes, books) = (store(), store());
        let webhook = router_for_pages(
            webhook_config(),
            vec![(SHOES.into(), shoes.clone()), (BOOKS.into(), books.clone())],
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, webhook).await.unwrap() });
        let mut settings = mock_graph::Settings::defaults();
        settings.listen = "127.0.0.1:0".into();
        settings.webhook_url = Some(url);
        settings.pages = 2;
        let mock = mock_graph::start(settings).await.unwrap();
        {
            // Meta enforces the books page's era too, and it has no Human Agent.
            let mut books = mock.pages[1].lock();
            assert_eq!(books.settings.page_id, BOOKS);
            books.settings.rules = Era::Legacy2020;
            books.settings.human_agent = false;
        }
        let base = format!("http://{}", mock.addr);
        let clock = ManualClock::new(mock.state.lock().now());
        let discord = Recorder::new();
        // Calls counted as production counts them: Discord's for the one bot, Graph's
        // as each page's.
        let metrics = Arc::new(Metrics::new());
        let metered_discord: Arc<dyn DiscordApi> = Arc::new(MeteredDiscord::new(
            Arc::new(discord.clone()),
            metrics.clone(),
            Arc::new(clock.clone()),
        ));
        let engine = |page: &str, store: Arc<dyn Store>, token: &str, settings: Settings| Engine {
            store,
            graph: Arc::new(MeteredGraph::new(
                page,
                Arc::new(HttpGraph::new(&base, "v21.0", Secret::new(token))),
                metrics.clone(),
                Arc::new(clock.clone()),
            )),
            discord: metered_discord.clone(),
            clock: Arc::new(clock.clone()),
            settings: Arc::new(settings),
        };
        let mut books_settings = Settings::new(BOOKS_CHANNEL, ROLE, Era::Legacy2020);
        books_settings.human_agent = false;
        let pages = Pages::new(vec![
            Page {
                id: SHOES.into(),
                engine: engine(
                    SHOES,
                    shoes,
                    "mock-page-token",
                    Settings::new(SHOES_CHANNEL, ROLE, Era::Meta2026),
                ),
            },
            Page {
                id: BOOKS.into(),
                engine: engine(BOOKS, books, "mock-page-token-2", books_settings),
            },
        ]);
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = hex::encode(key.verifying_key().to_bytes());
        let app = interactions::router(pages.clone(), interactions::public_key(&public).unwrap());
        Desk {
            mock,
            base,
            http: reqwest::Client::new(),
            pages,
            clock,
            discord,
            app,
            key,
            next: std::cell::Cell::new(1_000),
            metrics,
        }
    }

    /// What `/metrics` serves now.
    async fn metrics(&self) -> String {
        let app = metrics::router(Health {
            pages: self.pages.clone(),
            metrics: self.metrics.clone(),
            clock: Arc::new(self.clock.clone()),
        });
        let answer = app
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let bytes = to_bytes(answer.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn store(&self, page: usize) -> &dyn Store {
        &*self.pages.all()[page].engine.store
    }

    /// `/_mock/...` of the first page (`page` `None`) or of the page named.
    async fn admin(&self, page: Option<&str>, path: &str, body: Value) -> Value {
        let prefix = page.map_or(String::new(), |id| format!("/pages/{id}"));
        self.http
            .post(format!("{}{prefix}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Meta's Send API log of the page named.
    async fn sent(&self, page: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/pages/{page}/_mock/sent", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"].as_array().cloned().unwrap_or_default()
    }

    /// A customer of `page` who writes, and their conversation's Discord thread.
    async fn customer(&self, page: &str, name: &str) -> (String, u64) {
        let c = self
            .admin(Some(page), "/_mock/customers", json!({ "name": name }))
            .await;
        let psid = c["psid"].as_str().unwrap().to_owned();
        self.admin(
            Some(page),
            &format!("/_mock/customers/{psid}/messages"),
            json!({"text": "hello, where is my order?"}),
        )
        .await;
        self.tick().await;
        let index = if page == SHOES { 0 } else { 1 };
        let thread = self.store(index).thread(&psid).unwrap().unwrap();
        (psid, thread.discord_thread.unwrap())
    }

    /// Every page's engine ticks, as production's loop does.
    async fn tick(&self) {
        self.clock.set(self.mock.state.lock().now());
        for page in self.pages.all() {
            page.engine.tick().await.unwrap();
        }
    }

    /// One clock for every page.
    async fn advance(&self, by: &str) {
        self.admin(None, "/_mock/clock", json!({ "advance": by }))
            .await;
        let now = self.mock.state.lock().now();
        for page in &self.mock.pages {
            assert_eq!(page.lock().now(), now);
        }
        self.tick().await;
    }

    /// `/name options` typed in `channel`, answered through `/interactions`.
    async fn command(&self, name: &str, options: Value, channel: u64) -> Value {
        self.next.set(self.next.get() + 1);
        let body = json!({
            "id": self.next.get().to_string(), "type": 2, "token": "tok", "application_id": "1",
            "channel_id": channel.to_string(),
            "member": {"user": {"id": "900001", "username": "grace", "global_name": "Grace"},
                       "roles": [ROLE.to_string()]},
            "data": {"name": name, "options": options},
        })
        .to_string();
        let ts = self.clock.now().as_second().to_string();
        let mut signed = ts.clone().into_bytes();
        signed.extend_from_slice(body.as_bytes());
        let signature = hex::encode(self.key.sign(&signed).to_bytes());
        let request = Request::post("/interactions")
            .header("content-type", "application/json")
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", ts)
            .body(Body::from(body))
            .unwrap();
        let answer = self.app.clone().oneshot(request).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let bytes = to_bytes(answer.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}

fn opt(name: &str, value: &str) -> Value {
    json!({"name": name, "type": 3, "value": value})
}

fn content(answer: &Value) -> &str {
    answer["data"]["content"].as_str().unwrap_or_default()
}

fn inbox_text(answer: &Value) -> String {
    answer["data"]["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn two_pages_end_to_end_each_with_its_token_channel_rules_and_human_agent() {
    let desk = Desk::new().await;
    let (ada, ada_thread) = desk.customer(SHOES, "Ada Lovelace").await;
    let (ben, ben_thread) = desk.customer(BOOKS, "Ben Okri").await;

    // Each page's webhook landed in its own store, and its conversation in its channel.
    assert!(desk.store(0).thread(&ben).unwrap().is_none());
    assert!(desk.store(1).thread(&ada).unwrap().is_none());
    let parent = |id| desk.discord.thread(id).unwrap().parent;
    assert_eq!(parent(ada_thread), SHOES_CHANNEL);
    assert_eq!(parent(ben_thread), BOOKS_CHANNEL);
    // /inbox answers for the page whose channel it is typed in.
    let books_inbox = inbox_text(&desk.command("inbox", json!([]), BOOKS_CHANNEL).await);
    assert!(books_inbox.contains("Ben Okri"), "{books_inbox}");
    assert!(!books_inbox.contains("Ada"), "{books_inbox}");
    let shoes_inbox = inbox_text(&desk.command("inbox", json!([]), SHOES_CHANNEL).await);
    assert!(shoes_inbox.contains("Ada Lovelace"), "{shoes_inbox}");
    assert!(!shoes_inbox.contains("Ben"), "{shoes_inbox}");
    // /status too: each page's rules and Human Agent flag.
    let status = desk.command("status", json!([]), BOOKS_CHANNEL).await;
    assert!(
        content(&status).ends_with("Human Agent feature: no"),
        "{status}"
    );
    let status = desk.command("status", json!([]), SHOES_CHANNEL).await;
    assert!(
        content(&status).ends_with("Human Agent feature: yes"),
        "{status}"
    );
    let nowhere = desk.command("inbox", json!([]), 999).await;
    assert_eq!(content(&nowhere), NO_PAGE);

    // A reply from a page's thread goes out as that page (with its token: mock-graph
    // routes by token), never as the other.
    let answer = desk
        .command("reply", json!([opt("text", "It ships today.")]), ada_thread)
        .await;
    assert_eq!(content(&answer), "✅ Sent as RESPONSE.");
    let shoes_sent = desk.sent(SHOES).await;
    assert_eq!(shoes_sent.len(), 1, "{shoes_sent:#?}");
    assert_eq!(shoes_sent[0]["request"]["recipient"]["id"], ada.as_str());
    assert!(desk.sent(BOOKS).await.is_empty());
    let answer = desk
        .command("reply", json!([opt("text", "In stock again.")]), ben_thread)
        .await;
    assert_eq!(content(&answer), "✅ Sent as RESPONSE.");
    let books_sent = desk.sent(BOOKS).await;
    assert_eq!(books_sent.len(), 1, "{books_sent:#?}");
    assert_eq!(books_sent[0]["request"]["recipient"]["id"], ben.as_str());
    assert_eq!(desk.sent(SHOES).await.len(), 1);

    // Past 24 hours each page's rules and Human Agent flag hold: shoes has Human Agent
    // and meta-2026 (ACCOUNT_UPDATE retired); books has neither Human Agent nor the
    // 2026 retirement.
    desk.advance("25h").await;
    let tag = |tag: &str, thread| {
        desk.command(
            "tag",
            json!([opt("text", "Your account was updated."), opt("tag", tag)]),
            thread,
        )
    };
    let answer = tag("HUMAN_AGENT", ada_thread).await;
    assert!(
        content(&answer).starts_with("✅ Sent as HUMAN_AGENT."),
        "{answer}"
    );
    let answer = tag("HUMAN_AGENT", ben_thread).await;
    assert!(content(&answer).starts_with("🚫 Not sent"), "{answer}");
    let answer = tag("ACCOUNT_UPDATE", ada_thread).await;
    assert!(content(&answer).starts_with("🚫 Not sent"), "{answer}");
    let answer = tag("ACCOUNT_UPDATE", ben_thread).await;
    assert!(
        content(&answer).starts_with("✅ Sent as MESSAGE_TAG (ACCOUNT_UPDATE)."),
        "{answer}"
    );
    let books_sent = desk.sent(BOOKS).await;
    assert_eq!(books_sent.len(), 2, "{books_sent:#?}");
    assert_eq!(books_sent[1]["request"]["tag"], "ACCOUNT_UPDATE");
    assert!(
        books_sent[1]["sent"]["message_id"].is_string(),
        "{books_sent:#?}"
    );
    assert_eq!(desk.sent(SHOES).await.len(), 2);
}

/// The value of the series `series` (its name and labels, as written) in `text`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_show_each_page_apart_and_the_one_bots_discord_calls_together() {
    let desk = Desk::new().await;
    let (ada, _) = desk.customer(SHOES, "Ada Lovelace").await;
    let (ben, _) = desk.customer(BOOKS, "Ben Okri").await;
    for text in ["are you there?", "hello??"] {
        desk.admin(
            Some(BOOKS),
            &format!("/_mock/customers/{ben}/messages"),
            json!({ "text": text }),
        )
        .await;
    }
    desk.tick().await;
    // A day and more later: another app's promotion earns the shoes page a warning,
    // and the books page (no Human Agent: a 24-hour window) has left Ben unanswered,
    // while Ada's window (Human Agent: 7 days) is still open.
    desk.advance("25h").await;
    desk.admin(
        Some(SHOES),
        "/_mock/other-app/sends",
        json!({"psid": ada, "text": "Sale: 20% off today", "tag": "HUMAN_AGENT"}),
    )
    .await;
    desk.tick().await;

    let text = desk.metrics().await;
    let of = |page: &str, name: &str, labels: &str| {
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!(",{labels}")
        };
        value(&text, &format!(r#"{name}{{page="{page}"{labels}}}"#))
    };
    let received = r#"direction="in",state="received""#;
    assert_eq!(of(SHOES, "tagdesk_messages", received), Some(1.0), "{text}");
    assert_eq!(of(BOOKS, "tagdesk_messages", received), Some(3.0), "{text}");
    // Each page's events are its store's (for shoes, besides Ada's message, what Meta
    // delivered of the other app's send); books has Ben's three messages.
    for (i, page) in [SHOES, BOOKS].into_iter().enumerate() {
        let stored = desk.store(i).count_events().unwrap() as f64;
        assert_eq!(
            of(page, "tagdesk_events_ingested_total", ""),
            Some(stored),
            "{text}"
        );
    }
    assert_eq!(
        of(BOOKS, "tagdesk_events_ingested_total", ""),
        Some(3.0),
        "{text}"
    );
    assert_eq!(of(SHOES, "tagdesk_page_warnings", ""), Some(1.0), "{text}");
    assert_eq!(of(BOOKS, "tagdesk_page_warnings", ""), Some(0.0), "{text}");
    for page in [SHOES, BOOKS] {
        assert_eq!(of(page, "tagdesk_page_restricted", ""), Some(0.0), "{text}");
        assert_eq!(
            of(page, "tagdesk_page_restriction_rung", ""),
            Some(0.0),
            "{text}"
        );
    }
    assert_eq!(
        of(SHOES, "tagdesk_windows_expired_unanswered", ""),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        of(BOOKS, "tagdesk_windows_expired_unanswered", ""),
        Some(1.0),
        "{text}"
    );
    // Each page's Graph calls are its own (its token): one profile lookup each.
    let profile = r#"call="profile",outcome="ok""#;
    assert_eq!(
        of(SHOES, "tagdesk_graph_calls_total", profile),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        of(BOOKS, "tagdesk_graph_calls_total", profile),
        Some(1.0),
        "{text}"
    );
    // Discord is one bot for both pages: its calls carry no page. Each conversation
    // opened with a post and a thread.
    assert_eq!(
        value(
            &text,
            r#"tagdesk_discord_calls_total{call="start_thread",answer="200"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        !text.contains(r#"tagdesk_discord_calls_total{page="#),
        "{text}"
    );
}
