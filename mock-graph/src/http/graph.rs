//! Graph endpoints: the Send API, conversations, messages, profiles, subscriptions.

use std::collections::HashMap;

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use messenger::meta_error::MetaError;
use messenger::timefmt::graph_time;
use messenger::wire::graph::{ConversationRef, Cursors, DataList, MessageRef, Paging, Participant};
use messenger::wire::{Conversation, ConversationList, Created, MessageDetail};
use serde_json::{json, Map, Value};

use super::{AppState, MetaResponse};
use crate::platform::{missing_parameter, Platform};

/// Send API bodies above this size are refused.
pub const MAX_BODY: usize = 256 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/{version}/me/messages", post(send_me))
        .route("/{version}/{page}/messages", post(send_page))
        .route("/{version}/{page}/conversations", get(conversations))
        .route("/{version}/{page}/subscribed_apps", post(subscribe))
        .route("/{version}/{page}/personas", post(create_persona))
        .route("/{version}/{id}", get(object))
}

type Params = Query<HashMap<String, String>>;

fn meta_error(platform: &mut Platform, e: MetaError) -> Response {
    MetaResponse(e.to_graph_error(platform.fbtrace())).into_response()
}

/// Graph accepts any `vNN.N` version.
fn check_version(version: &str) -> Result<(), MetaError> {
    let ok = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major
                    .chars()
                    .chain(minor.chars())
                    .all(|c| c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(MetaError::Other {
            code: 2500,
            subcode: None,
            message: format!("(#2500) Unknown path components: /{version}"),
        })
    }
}

/// The token, from `?access_token=` or `Authorization: Bearer`.
fn token<'a>(params: &'a HashMap<String, String>, headers: &'a HeaderMap) -> Option<&'a str> {
    params.get("access_token").map(String::as_str).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    })
}

/// The checks every read and subscription shares: a Graph version and the page token.
fn authorize(
    p: &Platform,
    version: &str,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(), MetaError> {
    check_version(version)?;
    if token(params, headers) != Some(p.settings.page_token.as_str()) {
        return Err(MetaError::InvalidToken);
    }
    Ok(())
}

async fn send_me(
    state: State<AppState>,
    Path(version): Path<String>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Response {
    send(state, version, None, params, headers, body).await
}

async fn send_page(
    state: State<AppState>,
    Path((version, page)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    body: Body,
) -> Response {
    send(state, version, Some(page), params, headers, body).await
}

async fn send(
    State(state): State<AppState>,
    version: String,
    page: Option<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = to_bytes(body, MAX_BODY).await;
    let (result, latency) = {
        let mut p = state.lock();
        let latency = p.faults.latency_ms;
        let checked = check_version(&version)
            .and_then(|()| match &page {
                Some(id) if *id != p.settings.page_id => Err(MetaError::Other {
                    code: 100,
                    subcode: Some(33),
                    message: format!("(#100) Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"),
                }),
                _ => Ok(()),
            })
            .and_then(|()| body_kind(&headers))
            .and_then(|kind| {
                let bytes = bytes
                    .as_ref()
                    .map_err(|_| MetaError::InvalidParameter(format!("the request body is larger than {MAX_BODY} bytes")))?;
                Ok(match kind {
                    BodyKind::Json => bytes.to_vec(),
                    BodyKind::Form => form_to_json(bytes),
                })
            });
        let result = match checked {
            Err(e) => Err(meta_error(&mut p, e)),
            Ok(body) => p
                .send(token(&params, &headers), &body)
                .map_err(|e| MetaResponse(e).into_response()),
        };
        (result, latency)
    };
    if latency > 0 {
        // A fault a scenario asked for: real latency, to exercise the caller's timeouts.
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    state.flush().await;
    match result {
        Ok(ok) => Json(ok).into_response(),
        Err(e) => e,
    }
}

/// The bodies the Send API takes.
enum BodyKind {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded` (what `curl -d` sends): each parameter a
    /// field, objects JSON-encoded.
    Form,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, MetaError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        Ok(BodyKind::Json)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Ok(BodyKind::Form)
    } else {
        Err(MetaError::InvalidParameter(
            "the body must be JSON (Content-Type: application/json) or form-encoded (application/x-www-form-urlencoded)".into(),
        ))
    }
}

/// A form-encoded Send API body as the JSON it stands for. Meta reads `recipient`,
/// `message` and the other object parameters as JSON text (`recipient={"id":"..."}`)
/// and the rest (`messaging_type=RESPONSE`) as strings. A value that isn't valid JSON
/// stays a string, so the usual checks refuse it, naming the parameter.
fn form_to_json(bytes: &[u8]) -> Vec<u8> {
    let mut object = Map::new();
    for (key, value) in form_urlencoded::parse(bytes) {
        let value = match value.trim_start().chars().next() {
            Some('{' | '[') => {
                serde_json::from_str(&value).unwrap_or(Value::String(value.into_owned()))
            }
            _ => Value::String(value.into_owned()),
        };
        object.insert(key.into_owned(), value);
    }
    serde_json::to_vec(&Value::Object(object)).expect("a JSON object serializes")
}

/// `POST /{v}/{page-id}/personas` with `name` and `profile_picture_url` (JSON, form
/// or query parameters) → `{"id": ...}`.
async fn create_persona(
    State(state): State<AppState>,
    Path((version, page)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = to_bytes(body, MAX_BODY).await;
    let mut p = state.lock();
    if let Err(e) = authorize(&p, &version, &params, &headers) {
        return meta_error(&mut p, e);
    }
    if page != p.settings.page_id && page != "me" {
        return meta_error(&mut p, unknown_object(&page));
    }
    let mut fields: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| *k != "access_token")
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if let Ok(bytes) = &bytes {
        let parsed = match body_kind(&headers) {
            Ok(BodyKind::Json) if !bytes.is_empty() => serde_json::from_slice::<Value>(bytes).ok(),
            Ok(BodyKind::Form) => serde_json::from_slice::<Value>(&form_to_json(bytes)).ok(),
            _ => None,
        };
        if let Some(Value::Object(o)) = parsed {
            fields.extend(o);
        }
    }
    let text = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .filter(|s| !s.trim().is_empty())
    };
    let Some(name) = text("name") else {
        return meta_error(&mut p, missing_parameter("name"));
    };
    let Some(picture) = text("profile_picture_url") else {
        return meta_error(&mut p, missing_parameter("profile_picture_url"));
    };
    let id = p.add_persona(name, picture);
    Json(Created { id }).into_response()
}

fn unknown_object(id: &str) -> MetaError {
    MetaError::Other {
        code: 100,
        subcode: Some(33),
        message: format!("(#100) Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
    }
}

async fn subscribe(
    State(state): State<AppState>,
    Path((version, page)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let mut p = state.lock();
    if let Err(e) = authorize(&p, &version, &params, &headers) {
        return meta_error(&mut p, e);
    }
    if page != p.settings.page_id {
        return meta_error(
            &mut p,
            MetaError::InvalidParameter(format!("unknown page {page}")),
        );
    }
    p.subscribe();
    Json(json!({"success": true})).into_response()
}

async fn conversations(
    State(state): State<AppState>,
    Path((version, page)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let mut p = state.lock();
    if let Err(e) = authorize(&p, &version, &params, &headers) {
        return meta_error(&mut p, e);
    }
    // `me` is the page the token belongs to, as on Graph.
    let this_page = page == p.settings.page_id || page == "me";
    if !this_page || params.get("platform").map(String::as_str) != Some("messenger") {
        return meta_error(
            &mut p,
            MetaError::InvalidParameter(
                "conversations need platform=messenger on this page".into(),
            ),
        );
    }
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => 25,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            return meta_error(
                &mut p,
                MetaError::InvalidParameter("param limit must be between 1 and 100".into()),
            )
        }
    };
    let mut all: Vec<(jiff::Timestamp, &str)> = p
        .customers()
        .filter(|c| params.get("user_id").is_none_or(|u| *u == c.psid))
        .filter_map(|c| {
            c.messages
                .last()
                .map(|m| (m.at, c.conversation_id.as_str()))
        })
        .collect();
    all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let cursor = |i: usize| format!("QVFI{i:08x}");
    let parse_cursor = |c: &str| {
        c.strip_prefix("QVFI")
            .and_then(|h| usize::from_str_radix(h, 16).ok())
    };
    let start = match (params.get("after"), params.get("before")) {
        (Some(a), _) => parse_cursor(a).map(|i| i + 1),
        (None, Some(b)) => parse_cursor(b).map(|i| i.saturating_sub(limit)),
        (None, None) => Some(0),
    };
    let Some(start) = start else {
        return meta_error(
            &mut p,
            MetaError::InvalidParameter("invalid paging cursor".into()),
        );
    };
    let page_items: Vec<ConversationRef> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|(at, id)| ConversationRef {
            id: (*id).to_owned(),
            updated_time: graph_time(*at),
        })
        .collect();
    let end = start + page_items.len();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let paging = (!page_items.is_empty()).then(|| Paging {
        cursors: Cursors {
            before: cursor(start),
            after: cursor(end - 1),
        },
        next: (end < all.len()).then(|| {
            format!(
                "http://{host}/{version}/{page}/conversations?platform=messenger&limit={limit}&after={}",
                cursor(end - 1)
            )
        }),
        previous: None,
    });
    Json(ConversationList {
        data: page_items,
        paging,
    })
    .into_response()
}

/// `GET /{v}/{id}`: a conversation, a message, a profile or the page, by id.
async fn object(
    state: State<AppState>,
    path: Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Response {
    // Profile faults: a slow or failing profile service, answered after the wait.
    let (latency, fail) = {
        let mut p = state.lock();
        if p.customer(&path.1).is_some() {
            (p.faults.profile_latency_ms, p.profile_fails())
        } else {
            (0, false)
        }
    };
    let answer = if fail {
        meta_error(&mut state.lock(), MetaError::Unexpected)
    } else {
        object_now(state, path, params, headers)
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    answer
}

/// `GET /{v}/{id}`, answered at once.
fn object_now(
    State(state): State<AppState>,
    Path((version, id)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let mut p = state.lock();
    if let Err(e) = authorize(&p, &version, &params, &headers) {
        return meta_error(&mut p, e);
    }
    let fields: Vec<&str> = params
        .get("fields")
        .map(|f| f.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let page_name = "tagdesk Test Page";
    if id == p.settings.page_id {
        return Json(json!({"name": page_name, "id": id})).into_response();
    }
    if let Some(persona) = p.personas.get(&id) {
        return Json(persona.clone()).into_response();
    }
    // A PSID first: profiles are what bots ask for most, and it is a keyed lookup.
    if let Some(c) = p.customer(&id) {
        let full = serde_json::to_value(&c.profile).unwrap_or_default();
        let wanted = if fields.is_empty() {
            vec!["first_name", "last_name", "profile_pic"]
        } else {
            fields
        };
        let mut out = Map::new();
        for f in wanted {
            if let Some(v) = full.get(f) {
                out.insert(f.to_owned(), v.clone());
            }
        }
        out.insert("id".into(), Value::String(id));
        return Json(Value::Object(out)).into_response();
    }
    if let Some(c) = p.customers().find(|c| c.conversation_id == id) {
        let name = c.profile.display_name();
        let want = |f: &str| fields.is_empty() || fields.contains(&f);
        let convo = Conversation {
            messages: want("messages").then(|| DataList {
                data: c
                    .messages
                    .iter()
                    .rev()
                    .take(20)
                    .map(|m| MessageRef {
                        id: m.mid.clone(),
                        created_time: graph_time(m.at),
                    })
                    .collect(),
            }),
            participants: want("participants").then(|| DataList {
                data: vec![
                    Participant {
                        id: c.psid.clone(),
                        name,
                        email: Some(format!("{}@facebook.com", c.psid)),
                    },
                    Participant {
                        id: p.settings.page_id.clone(),
                        name: Some(page_name.into()),
                        email: None,
                    },
                ],
            }),
            id: id.clone(),
        };
        return Json(convo).into_response();
    }
    for c in p.customers() {
        if let Some(m) = c.messages.iter().find(|m| m.mid == id) {
            let customer = Participant {
                id: c.psid.clone(),
                name: c.profile.display_name(),
                email: None,
            };
            let page = Participant {
                id: p.settings.page_id.clone(),
                name: Some(page_name.into()),
                email: None,
            };
            let (from, to) = if m.from_customer {
                (customer, page)
            } else {
                (page, customer)
            };
            let detail = MessageDetail {
                id: m.mid.clone(),
                created_time: Some(graph_time(m.at)),
                from: Some(from),
                to: Some(DataList { data: vec![to] }),
                message: m.text.clone(),
            };
            return Json(detail).into_response();
        }
    }
    meta_error(&mut p, unknown_object(&id))
}
