//! What an operator watches: `/metrics` in Prometheus' text format, `/healthz` (the
//! process is up) and `/readyz` (the store answers, and Discord and the Graph API are
//! reachable).
//!
//! Calls are counted as they happen, by [`MeteredDiscord`] and [`MeteredGraph`] around
//! the production clients. Everything else is read from the store at each scrape, so
//! the figures survive restarts and agree with what the bot will act on: pending work,
//! messages by state, the page's warnings and restriction, windows that closed on an
//! unanswered customer. Each metric's meaning is in its help text and in the README.
//!
//! A deployment may serve several pages: every figure that belongs to one page (its
//! store's, and its Graph calls, made with its token) is one series per page, labelled
//! `page` with the page's id; sums and maxima are the query's to take. Discord calls
//! (one bot for every page) and replicas' lanes are not per page. A page whose id isn't
//! known is labelled `page=""`, which Prometheus reads as no `page` label at all.

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
use crate::pages::Pages;
use crate::settings::Settings;
use crate::store::Store;

/// Labels of one series: name and value pairs.
type Labels = Vec<(String, String)>;

/// The label naming the page a series is about: its id, empty if unknown.
fn page_label(id: &str) -> (String, String) {
    ("page".to_owned(), id.to_owned())
}

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
    events: Family<Labels, Counter>,
    /// Held while a scrape brings the figures up to the store and writes them out, so
    /// two scrapes at once neither both add the same events nor see each other's
    /// half-cleared families.
    scraping: std::sync::Mutex<()>,
    pending: Family<Labels, Gauge>,
    messages: Family<Labels, Gauge>,
    ended: Family<Labels, Gauge>,
    lanes: Family<Labels, Gauge>,
    expired_unanswered: Family<Labels, Gauge>,
    warnings: Family<Labels, Gauge>,
    restricted: Family<Labels, Gauge>,
    rung: Family<Labels, Gauge>,
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
            "Graph API calls by page, call (`send`, `profile`, `get`) and outcome (`ok`, `meta_<code>` for Meta's error code, `unavailable`)",
            graph_calls.clone(),
        );
        let events = Family::<Labels, Counter>::default();
        registry.register(
            "events_ingested",
            "Webhook events stored by page (each once, however often Meta delivered it)",
            events.clone(),
        );
        let pending = Family::<Labels, Gauge>::default();
        registry.register(
            "work_pending",
            "Outbox work waiting, by page and kind (`open_thread`, `post`, `edit_thread`, `alert`, `graph_send`)",
            pending.clone(),
        );
        let messages = Family::<Labels, Gauge>::default();
        registry.register(
            "messages",
            "Messages stored by page, direction (`in` from customers, `out` from the team, `echo` sent from the page outside tagdesk) and state; the team's by outcome: `sent`, `refused` (by the policy guard), `failed` (by Meta), `parked`, and those in flight",
            messages.clone(),
        );
        let ended = Family::<Labels, Gauge>::default();
        registry.register(
            "sends_ended",
            "The team's sends that ended without going out, by page, state (`refused` by the policy guard, before sending or when its turn came; `failed` at Meta) and reason: the guard's (`window_closed`, `promotional`, `tag_spam`, `page_restricted`, `tag_window_closed`, ...; `tag_would_change`, `second_tag_unconfirmed`, `conversation_gone` when its turn came), or Meta's code (`meta_<code>` or `meta_<code>_<subcode>`; `unavailable`, `unconfirmed` when Meta never answered)",
            ended.clone(),
        );
        let lanes = Family::<Labels, Gauge>::default();
        registry.register(
            "lanes_held",
            "Lanes (a conversation each, and each page's) held by each live replica, by its name, all pages together; on Postgres only (with SQLite one process works everything)",
            lanes.clone(),
        );
        let expired_unanswered = Family::<Labels, Gauge>::default();
        registry.register(
            "windows_expired_unanswered",
            "Conversations whose messaging window closed on a customer message nobody answered, by page",
            expired_unanswered.clone(),
        );
        let warnings = Family::<Labels, Gauge>::default();
        registry.register(
            "page_warnings",
            "Warnings Meta gave each page, from its notices",
            warnings.clone(),
        );
        let restricted = Family::<Labels, Gauge>::default();
        registry.register(
            "page_restricted",
            "1 while Meta restricts a page's tagged messages, else 0",
            restricted.clone(),
        );
        let rung = Family::<Labels, Gauge>::default();
        registry.register(
            "page_restriction_rung",
            "The highest restriction a page reached: 0 none, 1 one day, 2 three days, 3 seven days, 4 a year, 5 permanent",
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

    fn graph_call(
        &self,
        page: &str,
        call: &str,
        result: Result<(), &GraphFailure>,
        now: Timestamp,
    ) {
        let outcome = match result {
            Ok(()) => "ok".to_owned(),
            Err(GraphFailure::Meta(e)) => format!("meta_{}", e.code),
            Err(GraphFailure::Unavailable(_)) => "unavailable".to_owned(),
        };
        self.graph_calls
            .get_or_create(&vec![
                page_label(page),
                ("call".into(), call.into()),
                ("outcome".into(), outcome),
            ])
            .inc();
        match result {
            Err(GraphFailure::Unavailable(_)) => self.graph.unreachable(now),
            _ => self.graph.answered(),
        }
    }

    /// The text `/metrics` serves for one page whose id isn't known (labelled
    /// `page=""`): the counters, and the store's figures read now.
    pub fn render(
        &self,
        store: &dyn Store,
        settings: &Settings,
        now: Timestamp,
    ) -> Result<String, crate::store::StoreError> {
        self.render_pages(&[("", store, settings)], now)
    }

    /// The text `/metrics` serves: the counters, and each page's figures read now from
    /// its store, labelled with its id (`pages` holds each page's id, store and
    /// settings).
    pub fn render_pages(
        &self,
        pages: &[(&str, &dyn Store, &Settings)],
        now: Timestamp,
    ) -> Result<String, crate::store::StoreError> {
        // Every store is read before anything is written: a store that doesn't answer
        // fails the scrape without leaving the families half cleared.
        let mut read = Vec::with_capacity(pages.len());
        for (id, store, settings) in pages {
            let window = if settings.human_agent {
                HUMAN_AGENT_WINDOW
            } else {
                STANDARD_WINDOW
            };
            read.push((*id, store.stats(now - window)?, store.page()?));
        }
        let _one = self.scraping.lock().unwrap_or_else(|e| e.into_inner());
        self.pending.clear();
        self.messages.clear();
        self.ended.clear();
        let mut lanes: BTreeMap<String, u64> = BTreeMap::new();
        for (id, stats, page) in read {
            let labels = |more: &[(&str, &str)]| -> Labels {
                std::iter::once(page_label(id))
                    .chain(more.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
                    .collect()
            };
            // The store's count only grows; the counter catches up with it.
            let events = self.events.get_or_create(&labels(&[]));
            events.inc_by(stats.events.saturating_sub(events.get()));
            for (kind, n) in &stats.pending {
                self.pending
                    .get_or_create(&labels(&[("kind", kind)]))
                    .set(*n as i64);
            }
            for ((direction, state), n) in &stats.messages {
                self.messages
                    .get_or_create(&labels(&[("direction", direction), ("state", state)]))
                    .set(*n as i64);
            }
            for ((state, reason), n) in &stats.ended {
                self.ended
                    .get_or_create(&labels(&[("state", state), ("reason", reason)]))
                    .set(*n as i64);
            }
            // A replica's lanes are counted over every page's store: lanes are the
            // replica's, not the page's.
            for (replica, n) in stats.lanes {
                *lanes.entry(replica).or_default() += n;
            }
            self.expired_unanswered
                .get_or_create(&labels(&[]))
                .set(stats.expired_unanswered as i64);
            let e = &page.enforcement;
            self.warnings
                .get_or_create(&labels(&[]))
                .set(i64::from(e.warnings));
            self.restricted
                .get_or_create(&labels(&[]))
                .set(i64::from(e.active(now).is_some()));
            self.rung
                .get_or_create(&labels(&[]))
                .set(e.rung().map_or(0, |level| level as i64 + 1));
        }
        self.lanes.clear();
        for (replica, n) in &lanes {
            self.lanes
                .get_or_create(&vec![("replica".into(), replica.clone())])
                .set(*n as i64);
        }
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
    /// The pages served: each page's id (its series' `page` label), store, and
    /// settings (the window length, for windows expired unanswered).
    pub pages: Pages,
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
    let pages: Vec<(&str, &dyn Store, &Settings)> = (h.pages.all().iter())
        .map(|p| (p.id.as_str(), &*p.engine.store, &*p.engine.settings))
        .collect();
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
    for page in h.pages.all() {
        if let Err(e) = page.engine.store.work_pending() {
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

/// A Graph API client whose calls are counted, as one page's: each page has its own
/// client (its own token).
pub struct MeteredGraph {
    page: String,
    inner: Arc<dyn GraphApi>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
}

impl MeteredGraph {
    /// Counts `inner`'s calls into `metrics` as the calls of the page `page` (its id).
    pub fn new(
        page: &str,
        inner: Arc<dyn GraphApi>,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        MeteredGraph {
            page: page.to_owned(),
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
            self.metrics.graph_call(
                &self.page,
                "profile",
                result.as_ref().map(drop),
                self.clock.now(),
            );
            result
        })
    }

    fn send<'a>(
        &'a self,
        request: &'a SendRequest,
    ) -> BoxFuture<'a, Result<SendResponse, GraphFailure>> {
        Box::pin(async move {
            let result = self.inner.send(request).await;
            self.metrics.graph_call(
                &self.page,
                "send",
                result.as_ref().map(drop),
                self.clock.now(),
            );
            result
        })
    }

    fn get<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<serde_json::Value, GraphFailure>> {
        Box::pin(async move {
            let result = self.inner.get(path).await;
            self.metrics.graph_call(
                &self.page,
                "get",
                result.as_ref().map(drop),
                self.clock.now(),
            );
            result
        })
    }
}
