//! The admin API's read side for people and the inspector: conversations with their
//! windows, a conversation's timeline, the Send API log, webhook deliveries, the page's
//! record, the scenario's pending steps, and a stream of change announcements.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use jiff::Timestamp;
use serde_json::{json, Value};

use super::admin::AdminErr;
use super::AppState;
use crate::platform::views::SendFilter;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/_mock/conversations", get(conversations))
        .route("/_mock/conversations/{id}", get(conversation))
        .route("/_mock/send-log", get(send_log))
        .route("/_mock/webhooks", get(webhooks))
        .route("/_mock/record", get(record))
        .route("/_mock/events", get(events))
}

type Params = Query<HashMap<String, String>>;

/// The query parameters, refusing any not in `known` so a typo isn't a filter
/// silently ignored.
fn params(Query(params): Params, known: &[&str]) -> Result<HashMap<String, String>, AdminErr> {
    if let Some(unknown) = params.keys().find(|k| !known.contains(&k.as_str())) {
        let known = if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        };
        return Err(bad(format!(
            "unknown parameter `{unknown}`; known: {known}"
        )));
    }
    Ok(params)
}

fn bad(message: String) -> AdminErr {
    AdminErr(StatusCode::BAD_REQUEST, message)
}

/// A parameter that must be one of `allowed`, if given.
fn one_of(
    params: &HashMap<String, String>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<String>, AdminErr> {
    match params.get(name) {
        None => Ok(None),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v.clone())),
        Some(v) => Err(bad(format!(
            "parameter `{name}`: {v:?} is not one of {}",
            allowed.join(", ")
        ))),
    }
}

fn limit(params: &HashMap<String, String>) -> Result<Option<usize>, AdminErr> {
    params
        .get("limit")
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| bad(format!("parameter `limit`: {v:?} is not a count")))
        })
        .transpose()
}

/// `GET /_mock/conversations`: every conversation, its window and marks.
async fn conversations(State(state): State<AppState>, q: Params) -> Result<Json<Value>, AdminErr> {
    params(q, &[])?;
    let p = state.lock();
    Ok(Json(json!({"now": p.now(), "data": p.conversations()})))
}

/// `GET /_mock/conversations/{psid or scenario id}[?at=RFC3339]`: the conversation's
/// timeline, as it stood at `at` (now if absent or later).
async fn conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> Result<Response, AdminErr> {
    let q = params(q, &["at"])?;
    let at: Option<Timestamp> = q
        .get("at")
        .map(|v| {
            v.parse()
                .map_err(|e| bad(format!("parameter `at`: {e} (an RFC 3339 instant)")))
        })
        .transpose()?;
    let p = state.lock();
    match p.conversation(&id, at) {
        Some(view) => Ok(Json(view).into_response()),
        None => Err(AdminErr(
            StatusCode::NOT_FOUND,
            format!("no customer with psid or scenario id {id:?}"),
        )),
    }
}

/// `GET /_mock/send-log[?psid=&outcome=sent|refused&app=this|other&limit=N]`.
async fn send_log(State(state): State<AppState>, q: Params) -> Result<Json<Value>, AdminErr> {
    let q = params(q, &["psid", "outcome", "app", "limit"])?;
    let filter = SendFilter {
        psid: q.get("psid").filter(|p| !p.is_empty()).cloned(),
        outcome: one_of(&q, "outcome", &["sent", "refused"])?,
        app: one_of(&q, "app", &["this", "other"])?,
        limit: limit(&q)?,
    };
    let p = state.lock();
    Ok(Json(json!(p.send_log(&filter))))
}

/// `GET /_mock/webhooks[?limit=N]`: deliveries and their attempts.
async fn webhooks(State(state): State<AppState>, q: Params) -> Result<Json<Value>, AdminErr> {
    let q = params(q, &["limit"])?;
    let limit = limit(&q)?;
    let p = state.lock();
    Ok(Json(json!(p.webhook_log(limit))))
}

/// `GET /_mock/record`: warnings, restrictions, the ladder and every notice.
async fn record(State(state): State<AppState>, q: Params) -> Result<Json<Value>, AdminErr> {
    params(q, &[])?;
    let p = state.lock();
    Ok(Json(json!(p.record_view())))
}

/// `GET /_mock/scenario`: the loaded scenario and its steps still to fire.
pub(super) async fn scenario(State(state): State<AppState>) -> Json<Value> {
    let p = state.lock();
    Json(json!(p.scenario_view()))
}

/// `GET /_mock/events`: server-sent events. A `hello` on connecting, then a `change`
/// after every request that may have changed something, each with the change counter
/// and the virtual time: `{"rev": 7, "now": "2026-11-20T09:00:00Z"}`. Changes close
/// together may arrive as one.
async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.changes.watch();
    let stream = futures::stream::unfold((state, rx, true), |(state, mut rx, first)| async move {
        if !first {
            // The sender lives as long as the state this stream holds.
            rx.changed().await.ok()?;
        }
        let rev = *rx.borrow_and_update();
        let now = state.lock().now();
        let event = Event::default()
            .event(if first { "hello" } else { "change" })
            .data(json!({"rev": rev, "now": now}).to_string());
        Some((Ok(event), (state, rx, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
