//! The HTTP face of the emulator: Graph endpoints answering as Meta does, the
//! `/_mock/` admin API, and the inspector page that reads it.

mod admin;
mod graph;
mod inspect;
mod inspector;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use messenger::wire::{ErrorEnvelope, GraphError};
use tokio::sync::watch;

use crate::deliver::Deliverer;
use crate::platform::Platform;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The platform, behind one lock; handlers hold it briefly and never across IO.
    pub platform: Arc<Mutex<Platform>>,
    /// Posts webhook deliveries.
    pub deliverer: Deliverer,
    /// Tells watchers (the inspector's event stream) that something changed.
    pub changes: Changes,
}

/// A counter of changes, watched by `GET /_mock/events`. Watchers see the latest value
/// only, so a burst of requests is one wake-up, not a queue.
/// Marks a clock move the front of several pages makes on every page: the page
/// doesn't deliver on its own, the front delivers every page's due webhooks together
/// once all clocks have moved (see [`crate::pages::flush`]). A request extension, so
/// only the front can set it.
#[derive(Clone, Copy)]
pub(crate) struct FrontDelivers;

#[derive(Clone)]
pub struct Changes(Arc<watch::Sender<u64>>);

impl Default for Changes {
    fn default() -> Self {
        Changes(Arc::new(watch::channel(0).0))
    }
}

impl Changes {
    /// Something changed.
    pub fn announce(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that wakes on the next change.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl AppState {
    /// Locks the platform. A panic while holding the lock is a bug in the emulator;
    /// the state is still usable, so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Platform> {
        self.platform.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers every webhook now due, then returns.
    pub async fn flush(&self) {
        crate::pages::flush([self]).await;
    }
}

/// The whole emulator: Graph endpoints under any `/vNN.N/` prefix, `/_mock/`, and
/// the inspector at `/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(admin::router())
        .merge(inspect::router())
        .merge(inspector::router())
        .merge(graph::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            announce_writes,
        ))
        .with_state(state)
}

/// Every request that may change something (any method but GET and HEAD: admin
/// calls, sends, subscriptions) is announced once answered, with the webhooks it
/// caused already flushed. Reads change nothing anyone watches.
async fn announce_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let response = next.run(request).await;
    if writes {
        state.changes.announce();
    }
    response
}

/// A Graph error, answered exactly as Meta shapes it.
pub struct MetaResponse(pub GraphError);

impl IntoResponse for MetaResponse {
    fn into_response(self) -> Response {
        let status = match self.0.code {
            1 | 2 => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, axum::Json(ErrorEnvelope { error: self.0 })).into_response()
    }
}
