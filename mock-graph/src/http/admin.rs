//! The `/_mock/` admin API: drive the clock and the customers, inject faults, inspect.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use jiff::Timestamp;
use messenger::guard::PromoLexicon;
use messenger::timefmt::parse_duration;
use messenger::wire::{MessagingType, SendRequest};
use messenger::Tag;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AppState, FrontDelivers, MetaResponse};
use crate::platform::{AdminError, Faults};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/_mock/clock", get(clock).post(move_clock))
        .route("/_mock/customers", get(list_customers).post(add_customer))
        .route("/_mock/customers/{psid}/{action}", post(customer_action))
        .route("/_mock/other-app/sends", post(other_app_send))
        .route("/_mock/sent", get(sent))
        .route("/_mock/page", get(page))
        .route("/_mock/faults", get(faults).post(set_faults))
        .route("/_mock/judge", post(set_judge))
        .route("/_mock/reset", post(reset))
        .route(
            "/_mock/scenario",
            get(super::inspect::scenario).post(load_scenario),
        )
}

/// A mistake in an admin call: `{"error": {"message": ...}}`, naming the field.
pub(super) struct AdminErr(pub(super) StatusCode, pub(super) String);

impl IntoResponse for AdminErr {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": {"message": self.1}}))).into_response()
    }
}

impl From<AdminError> for AdminErr {
    fn from(e: AdminError) -> Self {
        let status = match e {
            AdminError::UnknownCustomer(_) => StatusCode::NOT_FOUND,
            AdminError::ClockBackwards(_)
            | AdminError::ClockOverflow(_)
            | AdminError::OutOfRange { .. } => StatusCode::BAD_REQUEST,
        };
        AdminErr(status, e.to_string())
    }
}

/// Parses a JSON body; an empty body is `{}`. The message names the field at fault.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, AdminErr> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = if path == "." || path == "?" {
            format!("invalid request body: {}", e.inner())
        } else {
            format!("field `{path}`: {}", e.inner())
        };
        AdminErr(StatusCode::BAD_REQUEST, message)
    })?;
    // Trailing characters after the value are a mistake too.
    de.end().map_err(|e| {
        AdminErr(
            StatusCode::BAD_REQUEST,
            format!("invalid request body: {e}"),
        )
    })?;
    Ok(parsed)
}

/// The virtual time, and what the clock will meet next: a scenario's step, Meta's own
/// delivery schedule (a retry, a late copy, a held echo).
async fn clock(State(state): State<AppState>) -> Json<Value> {
    let p = state.lock();
    Json(json!({
        "now": p.now(),
        "start": p.settings.start,
        "realtime": p.settings.realtime,
        "next_step": p.next_scheduled(),
        "next_delivery": p.outbox.next_due(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    advance: Option<String>,
    to: Option<String>,
}

async fn move_clock(
    State(state): State<AppState>,
    front: Option<Extension<FrontDelivers>>,
    bytes: Bytes,
) -> Result<Json<Value>, AdminErr> {
    let req: ClockMove = body(&bytes)?;
    let bad =
        |field: &str, e: String| AdminErr(StatusCode::BAD_REQUEST, format!("field `{field}`: {e}"));
    // Past the latest instant, the answer names the field that asked for it.
    let named = |field: &'static str| {
        move |e: AdminError| match e {
            AdminError::ClockOverflow(_) | AdminError::ClockBackwards(_) => {
                bad(field, e.to_string())
            }
            other => other.into(),
        }
    };
    let now = {
        let mut p = state.lock();
        match (req.advance, req.to) {
            (Some(a), None) => {
                let by = parse_duration(&a).map_err(|e| bad("advance", e.to_string()))?;
                if by.is_negative() {
                    return Err(bad("advance", "the clock only moves forward".into()));
                }
                p.advance(by).map_err(named("advance"))?
            }
            (None, Some(to)) => {
                let to: Timestamp = to
                    .parse()
                    .map_err(|e: jiff::Error| bad("to", format!("{e} (an RFC 3339 instant)")))?;
                p.advance_to(to).map_err(named("to"))?
            }
            _ => {
                return Err(AdminErr(
                    StatusCode::BAD_REQUEST,
                    "give exactly one of `advance` or `to`".into(),
                ))
            }
        }
    };
    if front.is_none() {
        state.flush().await;
    }
    Ok(Json(json!({"now": now})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCustomer {
    name: Option<String>,
}

async fn add_customer(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<Json<Value>, AdminErr> {
    let req: NewCustomer = body(&bytes)?;
    let mut p = state.lock();
    let psid = p.add_customer(req.name.as_deref());
    let c = p.customer(&psid).expect("just added");
    Ok(Json(
        json!({"psid": psid, "conversation_id": c.conversation_id, "name": c.profile.display_name()}),
    ))
}

async fn list_customers(State(state): State<AppState>) -> Json<Value> {
    let p = state.lock();
    let list: Vec<Value> = p
        .customers()
        .map(|c| json!({"psid": c.psid, "name": c.profile.display_name(), "blocked": c.blocked, "other_app_owns": c.other_app_owns, "messages": c.messages.len()}))
        .collect();
    Json(json!({"data": list}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostbackReq {
    title: String,
    #[serde(default)]
    payload: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReactionReq {
    mid: String,
    #[serde(default = "heart")]
    emoji: String,
    /// `react` (the default) or `unreact`, as Meta's webhook says it.
    #[serde(default)]
    action: ReactionAction,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum ReactionAction {
    #[default]
    React,
    Unreact,
}

fn heart() -> String {
    "❤️".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferralReq {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default = "shortlink")]
    source: String,
}

fn shortlink() -> String {
    "SHORTLINK".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoverReq {
    owner: Owner,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Owner {
    Us,
    Other,
}

async fn customer_action(
    State(state): State<AppState>,
    Path((psid, action)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<Value>, AdminErr> {
    let answer = {
        let mut p = state.lock();
        match action.as_str() {
            "messages" => {
                let r: Text = body(&bytes)?;
                json!({"mid": p.customer_message(&psid, &r.text)?})
            }
            "postbacks" => {
                let r: PostbackReq = body(&bytes)?;
                json!({"mid": p.customer_postback(&psid, &r.title, &r.payload)?})
            }
            "reactions" => {
                let r: ReactionReq = body(&bytes)?;
                match r.action {
                    ReactionAction::React => p.customer_reaction(&psid, &r.mid, &r.emoji)?,
                    ReactionAction::Unreact => p.customer_unreaction(&psid, &r.mid)?,
                }
                json!({"ok": true})
            }
            "referrals" => {
                let r: ReferralReq = body(&bytes)?;
                p.customer_referral(&psid, &r.reference, &r.source)?;
                json!({"ok": true})
            }
            "read" => {
                p.customer_read(&psid)?;
                json!({"ok": true})
            }
            "block" | "unblock" => {
                p.set_blocked(&psid, action == "block")?;
                json!({"ok": true})
            }
            "handover" => {
                let r: HandoverReq = body(&bytes)?;
                p.set_other_app_owns(&psid, r.owner == Owner::Other)?;
                json!({"ok": true})
            }
            other => {
                return Err(AdminErr(
                    StatusCode::NOT_FOUND,
                    format!("unknown customer action {other:?}; known: messages, postbacks, reactions, referrals, read, block, unblock, handover"),
                ))
            }
        }
    };
    state.flush().await;
    Ok(Json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtherAppSend {
    psid: Option<String>,
    text: String,
    tag: Option<String>,
    /// A broadcast: to this many customers (`psid` first, then the others in the order
    /// they were created), or to these PSIDs.
    recipients: Option<Recipients>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Recipients {
    Count(u64),
    List(Vec<String>),
}

/// A send by another app (Meta Business Suite), judged by the same rules; with
/// `recipients`, one broadcast to many customers at once, judged as one offence.
async fn other_app_send(State(state): State<AppState>, bytes: Bytes) -> Result<Response, AdminErr> {
    let r: OtherAppSend = body(&bytes)?;
    let tag: Option<Tag> = r
        .tag
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| AdminErr(StatusCode::BAD_REQUEST, format!("field `tag`: {e}")))?;
    let kind = if tag.is_some() {
        MessagingType::MessageTag
    } else {
        MessagingType::Response
    };
    let bad =
        |field: &str, e: &str| AdminErr(StatusCode::BAD_REQUEST, format!("field `{field}`: {e}"));
    let answer = match (r.recipients, r.psid) {
        (None, None) => return Err(bad("psid", "give `psid`, `recipients` or both")),
        (None, Some(psid)) => {
            let result = state
                .lock()
                .send_as_other_app(&SendRequest::text(psid, kind, tag, r.text));
            match result {
                Ok(ok) => Json(ok).into_response(),
                Err(e) => MetaResponse(e).into_response(),
            }
        }
        (Some(recipients), first) => {
            let mut p = state.lock();
            let psids = match recipients {
                Recipients::Count(n) => p.broadcast_recipients(
                    first.as_deref(),
                    usize::try_from(n).unwrap_or(usize::MAX),
                )?,
                Recipients::List(list) => {
                    if first.is_some() {
                        return Err(bad("psid", "goes with a count of `recipients`, not a list"));
                    }
                    if list.is_empty() {
                        return Err(bad("recipients", "at least 1 recipient"));
                    }
                    let mut seen = std::collections::BTreeSet::new();
                    for psid in &list {
                        if !seen.insert(psid) {
                            return Err(bad("recipients", &format!("{psid:?} is listed twice")));
                        }
                        if p.customer(psid).is_none() {
                            return Err(AdminError::UnknownCustomer(psid.clone()).into());
                        }
                    }
                    list
                }
            };
            let results = p.broadcast_as_other_app(&psids, kind, tag, &r.text);
            let data: Vec<Value> = results
                .into_iter()
                .map(|r| match r {
                    Ok(ok) => json!(ok),
                    Err(e) => json!({"error": e}),
                })
                .collect();
            let sent = data.iter().filter(|d| d.get("error").is_none()).count();
            Json(json!({"sent": sent, "data": data})).into_response()
        }
    };
    state.flush().await;
    Ok(answer)
}

async fn sent(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"data": state.lock().sent}))
}

async fn page(State(state): State<AppState>) -> Json<Value> {
    let p = state.lock();
    let restriction = p
        .restriction()
        .map(|r| json!({"level": r.level.as_str(), "until": r.until}));
    let violations: Vec<Value> = p
        .enforcement
        .history
        .iter()
        .map(|r| json!({"level": r.level.as_str(), "since": r.since, "until": r.until, "reason": r.reason}))
        .collect();
    Json(json!({
        "restriction": restriction,
        "warnings": p.enforcement.warnings,
        "violations": violations,
        "subscribed": !p.unsubscribed,
        "rules": p.settings.rules.as_str(),
    }))
}

async fn faults(State(state): State<AppState>) -> Json<Faults> {
    Json(state.lock().faults.clone())
}

async fn set_faults(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Faults>, AdminErr> {
    let f: Faults = body(&bytes)?;
    f.check_bounds()
        .map_err(|e| AdminErr(StatusCode::BAD_REQUEST, e))?;
    state.lock().faults = f.clone();
    Ok(Json(f))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Judge {
    phrases: Vec<String>,
}

async fn set_judge(State(state): State<AppState>, bytes: Bytes) -> Result<Json<Value>, AdminErr> {
    let j: Judge = body(&bytes)?;
    state.lock().judge = PromoLexicon::new(&j.phrases);
    Ok(Json(json!({"phrases": j.phrases.len()})))
}

/// `POST /_mock/scenario` with a scenario file's TOML: start over with its page and
/// customers, and replay its customer side as the clock moves.
async fn load_scenario(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<Json<Value>, AdminErr> {
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        AdminErr(
            StatusCode::BAD_REQUEST,
            "the scenario must be UTF-8 TOML".into(),
        )
    })?;
    let scenario = scenario_format::load::parse(std::path::Path::new("scenario.toml"), text, None)
        .map_err(|e| AdminErr(StatusCode::BAD_REQUEST, e.to_string()))?;
    let loaded = state.lock().load_scenario(&scenario)?;
    state.flush().await;
    Ok(Json(serde_json::to_value(loaded).expect("serializable")))
}

async fn reset(State(state): State<AppState>) -> Json<Value> {
    let mut p = state.lock();
    p.reset();
    Json(json!({"now": p.now()}))
}
