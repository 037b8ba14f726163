//! `/webhook`: Meta's subscription handshake and its signed deliveries.
//!
//! A delivery is answered 200 only once its events are durably stored; processing
//! happens afterwards, from the store. The signature is checked over the exact bytes
//! received before anything else, and a forged delivery stores nothing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use messenger::signature::{self, HEADER};
use messenger::wire::WebhookDelivery;

use tokio::sync::oneshot;

use crate::intake::{self, InboundEvent};
use crate::store::{Ingested, Store};

/// Deliveries larger than this are refused: Meta's batches are far smaller.
pub const MAX_BODY: usize = 1024 * 1024;

/// What the endpoint needs.
pub struct WebhookConfig {
    /// The app secret deliveries are signed with.
    pub app_secret: String,
    /// The token of the subscription handshake.
    pub verify_token: String,
    /// Woken after each stored delivery, so processing starts at once.
    pub wake: Option<Arc<tokio::sync::Notify>>,
}

struct WebhookState {
    config: WebhookConfig,
    routes: Routes,
}

/// Where a delivery's events are stored.
enum Routes {
    /// One page: every entry is its own, whatever its id (a single-page deployment).
    One(GroupCommit),
    /// Several pages: each entry goes to the store of the page its `entry[].id` names,
    /// in the order configured (the first also keeps what names no page, below).
    ByPage(Vec<(String, GroupCommit)>),
}

/// The `/webhook` routes of a single-page deployment.
pub fn router(config: WebhookConfig, store: Arc<dyn Store>) -> Router {
    with_routes(config, Routes::One(GroupCommit::new(store)))
}

/// The `/webhook` routes of a deployment serving several pages, each `(page id,
/// store)`: one app secret signs them all, so a delivery is verified once and its
/// entries are then split by page. An entry for a page not configured is logged and
/// acknowledged, storing nothing: Meta would retry a refused delivery for hours, and
/// no retry makes the page configured.
pub fn router_for_pages(config: WebhookConfig, pages: Vec<(String, Arc<dyn Store>)>) -> Router {
    let pages = pages
        .into_iter()
        .map(|(id, store)| (id, GroupCommit::new(store)))
        .collect();
    with_routes(config, Routes::ByPage(pages))
}

fn with_routes(config: WebhookConfig, routes: Routes) -> Router {
    Router::new()
        .route("/webhook", get(handshake).post(deliver))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::new(WebhookState { config, routes }))
}

impl Routes {
    fn page(&self, id: &str) -> Option<&GroupCommit> {
        match self {
            Routes::One(one) => Some(one),
            Routes::ByPage(pages) => pages.iter().find(|(p, _)| p == id).map(|(_, g)| g),
        }
    }

    /// The delivery's events, by the store that keeps them.
    fn split(&self, body: &[u8], signature: &str) -> Vec<(&GroupCommit, Vec<InboundEvent>)> {
        let pages = match self {
            Routes::One(one) => return vec![(one, events_of(body, signature))],
            Routes::ByPage(pages) => pages,
        };
        // Entries by page, in the order they came; what names no page (a body that
        // isn't a delivery, an entry without an id) is the first page's to keep raw.
        let Ok(serde_json::Value::Object(mut delivery)) = serde_json::from_slice(body) else {
            return vec![(&pages[0].1, events_of(body, signature))];
        };
        let Some(serde_json::Value::Array(entries)) = delivery.remove("entry") else {
            return vec![(&pages[0].1, events_of(body, signature))];
        };
        let mut groups: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
        for entry in entries {
            let id = entry["id"].as_str().unwrap_or(&pages[0].0).to_owned();
            match groups.iter_mut().find(|(g, _)| *g == id) {
                Some((_, group)) => group.push(entry),
                None => groups.push((id, vec![entry])),
            }
        }
        let mut out = Vec::new();
        for (id, entries) in groups {
            let Some(store) = self.page(&id) else {
                tracing::warn!(
                    page = %id,
                    entries = entries.len(),
                    "webhook entries for a page not configured: acknowledged, nothing stored"
                );
                continue;
            };
            delivery.insert("entry".into(), entries.into());
            let part = serde_json::to_vec(&delivery).expect("JSON values always serialize");
            out.push((store, events_of(&part, signature)));
        }
        out
    }
}

/// A delivery's events: parsed whole, or salvaged event by event.
fn events_of(body: &[u8], signature: &str) -> Vec<InboundEvent> {
    match serde_json::from_slice::<WebhookDelivery>(body) {
        Ok(delivery) => intake::events(&delivery),
        Err(e) => {
            // Signed by Meta but partly unreadable to us: retrying won't help, so keep
            // what parses, keep the rest raw for a person to look at, and acknowledge.
            tracing::error!(error = %e, "signed webhook delivery could not be parsed whole; salvaging it event by event");
            intake::salvage(body, signature)
        }
    }
}

/// A delivery waiting to be committed, with where to send its result.
type Waiting = (Vec<InboundEvent>, oneshot::Sender<Result<Ingested, String>>);

/// Group commit: deliveries arriving together are stored in one transaction, and each
/// is answered only once that transaction has committed. Whoever holds the writer lock
/// commits everything queued so far; alone, a delivery is committed at once by its own
/// task. The commit runs inline: a WAL commit takes microseconds, less than handing it
/// to another thread and back.
struct GroupCommit {
    store: Arc<dyn Store>,
    queue: std::sync::Mutex<Vec<Waiting>>,
    writer: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    fn new(store: Arc<dyn Store>) -> Self {
        GroupCommit {
            store,
            queue: std::sync::Mutex::new(Vec::new()),
            writer: tokio::sync::Mutex::new(()),
        }
    }

    async fn ingest(&self, events: Vec<InboundEvent>) -> Result<Ingested, String> {
        let (reply, mut answer) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((events, reply));
        let _writer = self.writer.lock().await;
        // A previous writer may have committed ours already.
        if let Ok(result) = answer.try_recv() {
            return result;
        }
        let group = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        let mut replies = Vec::with_capacity(group.len());
        let mut events = Vec::new();
        for (e, reply) in group {
            events.extend(e);
            replies.push(reply);
        }
        // The commit waits on the disk (it is synced before Meta's 200): off the async
        // workers, so requests keep being verified and parsed meanwhile and join the
        // next group.
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || store.ingest(&events))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        for reply in replies {
            let _ = reply.send(result.clone());
        }
        answer
            .try_recv()
            .unwrap_or_else(|_| Err("the commit was lost".to_owned()))
    }
}

async fn handshake(
    State(state): State<Arc<WebhookState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mode = q.get("hub.mode").map(String::as_str);
    let token = q.get("hub.verify_token");
    match (mode, token, q.get("hub.challenge")) {
        (Some("subscribe"), Some(t), Some(challenge)) if *t == state.config.verify_token => {
            challenge.clone().into_response()
        }
        _ => StatusCode::FORBIDDEN.into_response(),
    }
}

async fn deliver(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = headers.get(HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(state.config.app_secret.as_bytes(), &body, header) {
        tracing::warn!(error = %e, "webhook refused");
        return (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    for (store, events) in state.routes.split(&body, header.unwrap_or_default()) {
        match store.ingest(events).await {
            Ok(ingested) => {
                tracing::debug!(
                    stored = ingested.stored,
                    duplicates = ingested.duplicates,
                    "webhook stored"
                );
            }
            // Not stored: a 500 makes Meta deliver again, so nothing is lost (what
            // another page stored meanwhile is recognised as a duplicate then).
            Err(e) => {
                tracing::error!(error = %e, "webhook could not be stored");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    }
    if let Some(wake) = &state.config.wake {
        wake.notify_one();
    }
    StatusCode::OK.into_response()
}
