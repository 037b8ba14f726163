//! What an operator watches: `/metrics` in Prometheus' text format, `/healthz` (the
//! process is up) and `/readyz` (the store answers, and Discord and the Graph API are
//! reachable).
//!
//! Calls are counted as they happen, by [`MeteredDiscord`] and [`MeteredGraph`] around
//! the production clients. Everything else is read from the store at each scrape, so
//! the figures survive restarts and agree with what the bot will act on: pending work,
//! messages by state, the page's warnings and restriction, windows that closed on an
//! unanswered customer. Each metric's meaning is in its help text and in the README.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use jiff::{SignedDuration, Timestamp};
use messenger::rules::{HUMAN_AGENT_WINDOW, STANDARD_WINDOW};
use messenger::wire::{SendRequest, SendResponse, UserProfile};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::clock::Clock;
use crate::discord::ratelimit::{RateLimit, Route};
use crate::discord::{BoxFuture, DiscordApi, DiscordError, Effect, Performed};
use crate::graph::{GraphApi, GraphFailure};
use crate::settings::Settings;
use crate::store::Store;

/// Labels of one series: name and value pairs.
type Labels = Vec<(String, String)>;

/// How long Discord or the Graph API may fail to answer, without one success, before
/// `/readyz` says the bot isn't ready: longer than a blip, shorter than an outage.
pub const UNREACHABLE_AFTER: SignedDuration = SignedDuration::from_mins(2);

/// Whether a service answers: since when every call has failed to reach it.
#[derive(Debug, Default)]
struct Reach(Mutex<Option<Timestamp>>);

impl Reach {
    fn answered(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn unreachable(&self, now: Timestamp) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(now);
    }

    /// Since when it has been failing, if for longer than [`UNREACHABLE_AFTER`].
    fn down_since(&self, now: Timestamp) -> Option<Timestamp> {
        let since = (*self.0.lock().unwrap_or_else(|e| e.into_inner()))?;
        (now.duration_since(since) > UNREACHABLE_AFTER).then_some(since)
    }
}

/// The bot's metrics.
pub struct Metrics {
    registry: Registry,
    discord_calls: Family<Labels, Counter>,
    graph_calls: Family<Labels, Counter>,
    events: Counter,
    /// Held while a scrape brings the figures up to the store and writes them out, so
    /// two scrapes at once neither both add the same events nor see each other's
    /// half-cleared families.
    scraping: std::sync::Mutex<()>,
    pending: Family<Labels, Gauge>,
    messages: Family<Labels, Gauge>,
    ended: Family<Labels, Gauge>,
    lanes: Family<Labels, Gauge>,
    expired_unanswered: Gauge,
    warnings: Gauge,
    restricted: Gauge,
    rung: Gauge,
    discord: Reach,
    graph: Reach,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered and at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tagdesk");
        let discord_calls = Family::<Labels, Counter>::default();
        registry.register(
            "discord_calls",
            "Discord REST calls by call and answer (HTTP status, or `unreachable`)",
            discord_calls.clone(),
        );
        let graph_calls = Family::<Labels, Counter>::default();
        registry.register(
            "graph_calls",
            "Graph API calls by call (`send`, `profile`, `get`) and outcome (`ok`, `meta_<code>` for Meta's error code, `unavailable`)",
            graph_calls.clone(),
        );
        let events = Counter::default();
        registry.register(
            "events_ingested",
            "Webhook events stored (each once, however often Meta delivered it)",
            events.clone(),
        );
        let pending = Family::<Labels, Gauge>::default();
        registry.register(
            "work_pending",
            "Outbox work waiting, by kind (`open_thread`, `post`, `edit_thread`, `alert`, `graph_send`)",
            pending.clone(),
        );
        let messages = Family::<Labels, Gauge>::default();
        registry.register(
            "messages",
            "Messages stored by direction (`in` from customers, `out` from the team) and state; the team's by outcome: `sent`, `refused` (by the policy guard), `failed` (by Meta), `parked`, and those in flight",
            messages.clone(),
        );
        let ended = Family::<Labels, Gauge>::default();
        registry.register(
            "sends_ended",
            "The team's sends that ended without going out, by state (`refused` by the policy guard, before sending or when its turn came; `failed` at Meta) and reason: the guard's (`window_closed`, `promotional`, `tag_spam`, `page_restricted`, `tag_window_closed`, ...; `tag_would_change`, `second_tag_unconfirmed`, `conversation_gone` when its turn came), or Meta's code (`meta_<code>` or `meta_<code>_<subcode>`; `unavailable`, `unconfirmed` when Meta never answered)",
            ended.clone(),
        );
        let lanes = Family::<Labels, Gauge>::default();
        registry.register(
            "lanes_held",
            "Lanes (a conversation each, and the page's) held by each live replica, by its name; on Postgres only (with SQLite one process works everything)",
            lanes.clone(),
        );
        let expired_unanswered = Gauge::default();
        registry.register(
            "windows_expired_unanswered",
            "Conversations whose messaging window closed on a customer message nobody answered",
            expired_unanswered.clone(),
        );
        let warnings = Gauge::default();
        registry.register(
            "page_warnings",
            "Warnings Meta gave the page, from its notices",
            warnings.clone(),
        );
        let restricted = Gauge::default();
        registry.register(
            "page_restricted",
            "1 while Meta restricts the page's tagged messages, else 0",
            restricted.clone(),
        );
        let rung = Gauge::default();
        registry.register(
            "page_restriction_rung",
            "The highest restriction reached: 0 none, 1 one day, 2 three days, 3 seven days, 4 a year, 5 permanent",
            rung.clone(),
        );
        Metrics {
            registry,
            discord_calls,
            graph_calls,
            events,
            scraping: std::sync::Mutex::new(()),
            pending,
            messages,
            ended,
            lanes,
            expired_unanswered,
            warnings,
            restricted,
            rung,
            discord: Reach::default(),
            graph: Reach::default(),
        }
    }

    fn discord_call(&self, call: &str, result: Result<(), &DiscordError>, now: Timestamp) {
        let answer = match result {
            Ok(()) => "200".to_owned(),
            Err(e) if e.status == 0 => "unreachable".to_owned(),
            Err(e) => e.status.to_string(),
        };
        self.discord_calls
            .get_or_create(&vec![
                ("call".into(), call.into()),
                ("answer".into(), answer),
            ])
            .inc();
        match result {
            // The pacer's own holds (a 429 that never left) say nothing of Discord.
            Err(e) if e.status == 0 || e.status >= 500 => self.discord.unreachable(now),
            _ => self.discord.answered(),
        }
    }

    fn graph_call(&self, call: &str, result: Result<(), &GraphFailure>, now: Timestamp) {
        let outcome = match result {
            Ok(()) => "ok".to_owned(),
            Err(GraphFailure::Meta(e)) => format!("meta_{}", e.code),
            Err(GraphFailure::Unavailable(_)) => "unavailable".to_owned(),
        };
        self.graph_calls
            .get_or_create(&vec![
                ("call".into(), call.into()),
                ("outcome".into(), outcome),
            ])
            .inc();
        match result {
            Err(GraphFailure::Unavailable(_)) => self.graph.unreachable(now),
            _ => self.graph.answered(),
        }
    }

    /// The text `/metrics` serves: the counters, and the store's figures read now.
    pub fn render(
        &self,
        store: &dyn Store,
        settings: &Settings,
        now: Timestamp,
    ) -> Result<String, crate::store::StoreError> {
        self.render_pages(&[(store, settings)], now)
    }

    /// [`Metrics::render`] for several pages, each with its store: the figures are the
    /// pages' sums (`page_restricted` counts the pages restricted, `page_restriction_rung`
    /// is the highest rung any page reached).
    pub fn render_pages(
        &self,
        pages: &[(&dyn Store, &Settings)],
        now: Timestamp,
    ) -> Result<String, crate::store::StoreError> {
        let mut events = 0;
        let mut pending: BTreeMap<String, u64> = BTreeMap::new();
        let mut messages: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut ended: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut lanes: BTreeMap<String, u64> = BTreeMap::new();
        let (mut expired, mut warnings, mut restricted, mut rung) = (0, 0, 0, 0);
        for (store, settings) in pages {
            let window = if settings.human_agent {
                HUMAN_AGENT_WINDOW
            } else {
                STANDARD_WINDOW
            };
            let stats = store.stats(now - window)?;
            events += stats.events;
            for (kind, n) in stats.pending {
                *pending.entry(kind).or_default() += n;
            }
            for (key, n) in stats.messages {
                *messages.entry(key).or_default() += n;
            }
            for (key, n) in stats.ended {
                *ended.entry(key).or_default() += n;
            }
            for (replica, n) in stats.lanes {
                *lanes.entry(replica).or_default() += n;
            }
            expired += stats.expired_unanswered as i64;
            let page = store.page()?;
            let e = &page.enforcement;
            warnings += i64::from(e.warnings);
            restricted += i64::from(e.active(now).is_some());
            rung = rung.max(e.rung().map_or(0, |level| level as i64 + 1));
        }
        let _one = self.scraping.lock().unwrap_or_else(|e| e.into_inner());
        // The store's count only grows; the counter catches up with it.
        self.events.inc_by(events.saturating_sub(self.events.get()));
        self.pending.clear();
        for (kind, n) in &pending {
            self.pending
                .get_or_create(&vec![("kind".into(), kind.clone())])
                .set(*n as i64);
        }
        self.messages.clear();
        for ((direction, state), n) in &messages {
            self.messages
                .get_or_create(&vec![
                    ("direction".into(), direction.clone()),
                    ("state".into(), state.clone()),
                ])
                .set(*n as i64);
        }
        self.ended.clear();
        for ((state, reason), n) in &ended {
            self.ended
                .get_or_create(&vec![
                    ("state".into(), state.clone()),
                    ("reason".into(), reason.clone()),
                ])
                .set(*n as i64);
        }
        self.lanes.clear();
        for (replica, n) in &lanes {
            self.lanes
                .get_or_create(&vec![("replica".into(), replica.clone())])
                .set(*n as i64);
        }
        self.expired_unanswered.set(expired);
        self.warnings.set(warnings);
        self.restricted.set(restricted);
        self.rung.set(rung);
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String can't fail");
        Ok(text)
    }

    /// Why the bot isn't ready, if it isn't: Discord or the Graph API unreachable for
    /// longer than [`UNREACHABLE_AFTER`].
    pub fn not_ready(&self, now: Timestamp) -> Option<String> {
        let mut why = Vec::new();
        if let Some(since) = self.discord.down_since(now) {
            why.push(format!("Discord unreachable since {since}"));
        }
        if let Some(since) = self.graph.down_since(now) {
            why.push(format!("the Graph API unreachable since {since}"));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// What the health routes need.
#[derive(Clone)]
pub struct Health {
    /// Each page's store, with its settings (the window length, for windows expired
    /// unanswered); one for a single-page deployment.
    pub pages: Vec<(Arc<dyn Store>, Arc<Settings>)>,
    /// The metrics the metered clients count into.
    pub metrics: Arc<Metrics>,
    /// The bot's clock.
    pub clock: Arc<dyn Clock>,
}

/// `/metrics`, `/healthz` and `/readyz`.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(health)
}

async fn metrics(State(h): State<Health>) -> impl IntoResponse {
    let pages: Vec<(&dyn Store, &Settings)> =
        h.pages.iter().map(|(s, set)| (&**s, &**set)).collect();
    match h.metrics.render_pages(&pages, h.clock.now()) {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("the store didn't answer: {e}\n"),
        ),
    }
}

async fn readyz(State(h): State<Health>) -> (StatusCode, String) {
    for (store, _) in &h.pages {
        if let Err(e) = store.work_pending() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: the store didn't answer: {e}\n"),
            );
        }
    }
    match h.metrics.not_ready(h.clock.now()) {
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
        None => (StatusCode::OK, "ready\n".into()),
    }
}

/// A Discord client whose calls are counted.
pub struct MeteredDiscord {
    inner: Arc<dyn DiscordApi>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
}

impl MeteredDiscord {
    /// Counts `inner`'s calls into `metrics`.
    pub fn new(inner: Arc<dyn DiscordApi>, metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> Self {
        MeteredDiscord {
            inner,
            metrics,
            clock,
        }
    }
}

fn call_name(effect: &Effect<'_>) -> &'static str {
    match effect {
        Effect::SendMessage { .. } => "post",
        Effect::StartThread { .. } => "start_thread",
        Effect::CreateForumPost { .. } => "forum_post",
        Effect::EditThread { .. } => "edit_thread",
        Effect::EditOriginal { .. } => "edit_answer",
        Effect::FollowUp { .. } => "follow_up",
    }
}

impl DiscordApi for MeteredDiscord {
    fn perform<'a>(
        &'a self,
        effect: &'a Effect<'a>,
    ) -> BoxFuture<'a, Result<Performed, DiscordError>> {
        Box::pin(async move {
            let result = self.inner.perform(effect).await;
            self.metrics.discord_call(
                call_name(effect),
                result.as_ref().map(drop),
                self.clock.now(),
            );
            result
        })
    }

    fn recent_messages(
        &self,
        channel: u64,
        limit: u8,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>> {
        Box::pin(async move {
            let result = self.inner.recent_messages(channel, limit).await;
            self.metrics
                .discord_call("read_messages", result.as_ref().map(drop), self.clock.now());
            result
        })
    }

    fn active_threads(
        &self,
        guild: u64,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>> {
        Box::pin(async move {
            let result = self.inner.active_threads(guild).await;
            self.metrics.discord_call(
                "active_threads",
                result.as_ref().map(drop),
                self.clock.now(),
            );
            result
        })
    }

    fn rate_limit(&self, route: Option<Route>) -> Option<RateLimit> {
        self.inner.rate_limit(route)
    }
}

/// A Graph API client whose calls are counted.
pub struct MeteredGraph {
    inner: Arc<dyn GraphApi>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
}

impl MeteredGraph {
    /// Counts `inner`'s calls into `metrics`.
    pub fn new(inner: Arc<dyn GraphApi>, metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> Self {
        MeteredGraph {
            inner,
            metrics,
            clock,
        }
    }
}

impl GraphApi for MeteredGraph {
    fn profile<'a>(&'a self, psid: &'a str) -> BoxFuture<'a, Result<UserProfile, GraphFailure>> {
        Box::pin(async move {
            let result = self.inner.profile(psid).await;
            self.metrics
                .graph_call("profile", result.as_ref().map(drop), self.clock.now());
            result
        })
    }

    fn send<'a>(
        &'a self,
        request: &'a SendRequest,
    ) -> BoxFuture<'a, Result<SendResponse, GraphFailure>> {
        Box::pin(async move {
            let result = self.inner.send(request).await;
            self.metrics
                .graph_call("send", result.as_ref().map(drop), self.clock.now());
            result
        })
    }

    fn get<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<serde_json::Value, GraphFailure>> {
        Box::pin(async move {
            let result = self.inner.get(path).await;
            self.metrics
                .graph_call("get", result.as_ref().map(drop), self.clock.now());
            result
        })
    }
}
