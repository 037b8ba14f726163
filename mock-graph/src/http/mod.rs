//! The HTTP face of the emulator: Graph endpoints answering as Meta does, and the
//! `/_mock/` admin API.

mod admin;
mod graph;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use messenger::wire::{ErrorEnvelope, GraphError};

use crate::deliver::Deliverer;
use crate::platform::Platform;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The platform, behind one lock; handlers hold it briefly and never across IO.
    pub platform: Arc<Mutex<Platform>>,
    /// Posts webhook deliveries.
    pub deliverer: Deliverer,
}

impl AppState {
    /// Locks the platform. A panic while holding the lock is a bug in the emulator;
    /// the state is still usable, so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Platform> {
        self.platform.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers every webhook now due, then returns.
    pub async fn flush(&self) {
        self.deliverer.flush(&self.platform).await;
    }
}

/// The whole emulator: Graph endpoints under any `/vNN.N/` prefix, and `/_mock/`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(admin::router())
        .merge(graph::router())
        .with_state(state)
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
