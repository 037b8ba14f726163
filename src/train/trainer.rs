//! A trainer playing customers live, through mock-graph's admin API.
//!
//! During a live session the running exercise's mock-graph is served on the trainer's
//! address: its inspector and every read of the admin API as mock-graph itself answers
//! them, and the admin writes that are a customer's (or another app's) doing, which
//! become steps of the session, played at the virtual instant they arrive and recorded
//! like the trainee's commands, so the recorded session still replays exactly. Other
//! writes (moving the clock, faults, new customers, resets) would make the session
//! something its record can't replay, and are refused with a word saying so.
//!
//! The customer writes taken, as mock-graph's README documents them:
//! `POST /_mock/customers/{psid}/messages {"text"}`, `…/read`, `…/block`, `…/unblock`,
//! `…/handover {"owner": "us" | "other"}`, and `POST /_mock/other-app/sends {"psid",
//! "text", "tag"}`.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use mock_graph::http::AppState;
use scenario_format::Action;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tower::ServiceExt as _;

/// The biggest admin body taken.
const BODY_LIMIT: usize = 64 * 1024;

/// A customer's doing, as the trainer asked for it, for the running session to play.
#[derive(Debug)]
pub struct TrainerAct {
    /// The customer's PSID.
    pub psid: String,
    /// What they do.
    pub action: Action,
    /// The answer: what was played, or why not.
    pub answer: oneshot::Sender<Result<Value, String>>,
}

/// The trainer's door into live sessions. Clones share the session shown.
#[derive(Clone)]
pub struct Trainer {
    current: Arc<Mutex<Option<AppState>>>,
    acts: mpsc::Sender<TrainerAct>,
}

impl Trainer {
    /// A door, and the receiving end sessions read the trainer's acts from.
    pub fn new() -> (Trainer, mpsc::Receiver<TrainerAct>) {
        let (acts, received) = mpsc::channel(16);
        let trainer = Trainer {
            current: Arc::default(),
            acts,
        };
        (trainer, received)
    }

    /// Shows the running session's mock-graph (`None` between exercises).
    pub fn show(&self, mock: Option<AppState>) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = mock;
    }

    /// The HTTP routes the trainer uses.
    pub fn router(&self) -> Router {
        Router::new().fallback(serve).with_state(self.clone())
    }
}

async fn serve(State(t): State<Trainer>, request: Request) -> Response {
    let current = t.current.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(mock) = current else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "no exercise is running now",
        );
    };
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        if !readable(request.uri().path()) {
            return refuse(
                StatusCode::FORBIDDEN,
                "the Graph API is the bot's: a trainer reads the inspector and /_mock/",
            );
        }
        return match mock_graph::http::router(mock).oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
    }
    let path = request.uri().path().to_owned();
    let bytes = match axum::body::to_bytes(request.into_body(), BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("reading the body: {e}")),
    };
    let (psid, action) = match customer_act(&path, &bytes) {
        Ok(act) => act,
        Err((status, why)) => return refuse(status, &why),
    };
    let (answer, answered) = oneshot::channel();
    let act = TrainerAct {
        psid,
        action,
        answer,
    };
    if t.acts.send(act).await.is_err() {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the session has ended");
    }
    match answered.await {
        Ok(Ok(played)) => Json(played).into_response(),
        Ok(Err(why)) => refuse(StatusCode::BAD_REQUEST, &why),
        Err(_) => refuse(StatusCode::SERVICE_UNAVAILABLE, "the exercise ended first"),
    }
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({"error": why}))).into_response()
}

/// `{"text"}`, as mock-graph takes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    text: String,
}

/// `{"owner": "us" | "other"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Handover {
    owner: String,
}

/// Another app's send, as mock-graph takes it (a broadcast only by count: the record
/// names its recipients as the scenario format does).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtherAppSend {
    psid: String,
    text: String,
    tag: Option<String>,
    recipients: Option<u32>,
}

type Refusal = (StatusCode, String);

/// The body as `T`, refused as mock-graph refuses it (unknown keys included).
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    let bytes = if bytes.is_empty() {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| (StatusCode::BAD_REQUEST, format!("the body: {e}")))
}

/// The customer and the step a write of the admin API is, or why it isn't one a
/// session can record.
fn customer_act(path: &str, bytes: &[u8]) -> Result<(String, Action), Refusal> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["_mock", "customers", psid, action] => {
            let act = match *action {
                "messages" => Action::Says(body::<Text>(bytes)?.text),
                "read" => Action::Reads,
                "block" => Action::Blocks(true),
                "unblock" => Action::Blocks(false),
                "handover" => match body::<Handover>(bytes)?.owner.as_str() {
                    "other" => Action::Handover(true),
                    "us" => Action::Handover(false),
                    other => {
                        return Err((
                            StatusCode::BAD_REQUEST,
                            format!("owner is \"us\" or \"other\", not {other:?}"),
                        ))
                    }
                },
                other => {
                    return Err((
                        StatusCode::FORBIDDEN,
                        format!("in a live session a trainer's customer writes, reads, blocks, unblocks or hands over (not {other:?}), so the session's record replays"),
                    ))
                }
            };
            Ok(((*psid).to_owned(), act))
        }
        ["_mock", "other-app", "sends"] => {
            let send: OtherAppSend = body(bytes)?;
            if let Some(tag) = &send.tag {
                if tag.parse::<messenger::tags::Tag>().is_err() {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        format!("unknown message tag {tag:?}"),
                    ));
                }
            }
            let action = Action::OtherApp {
                text: send.text,
                tag: send.tag,
                recipients: send.recipients,
            };
            Ok((send.psid, action))
        }
        _ => Err((
            StatusCode::FORBIDDEN,
            format!("{path}: in a live session the trainer plays customers and other apps only; moving the clock, faults or new customers would make a session its record can't replay"),
        )),
    }
}

/// Whether a read may go to the session's mock-graph: the inspector and the admin
/// API's reads. Graph API calls are the bot's: even a read draws from the world's
/// seeded ids when it fails, and the recording wouldn't.
fn readable(path: &str) -> bool {
    let graph = path
        .strip_prefix("/v")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    !graph
}

/// A request to the trainer's door, for tests: the method, path and JSON body.
pub fn request(method: Method, path: &str, body: Option<Value>) -> Request {
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body)
        .expect("a valid request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customers_writes_are_steps() {
        let act = |path: &str, body: &str| customer_act(path, body.as_bytes());
        assert_eq!(
            act("/_mock/customers/P1/messages", r#"{"text": "Hello?"}"#).unwrap(),
            ("P1".to_owned(), Action::Says("Hello?".into()))
        );
        assert_eq!(
            act("/_mock/customers/P1/block", "").unwrap(),
            ("P1".to_owned(), Action::Blocks(true))
        );
        assert_eq!(
            act("/_mock/customers/P1/handover", r#"{"owner": "other"}"#).unwrap(),
            ("P1".to_owned(), Action::Handover(true))
        );
        assert_eq!(
            act(
                "/_mock/other-app/sends",
                r#"{"psid": "P1", "text": "Sale!", "tag": "ACCOUNT_UPDATE"}"#
            )
            .unwrap()
            .1,
            Action::OtherApp {
                text: "Sale!".into(),
                tag: Some("ACCOUNT_UPDATE".into()),
                recipients: None
            }
        );
    }

    #[test]
    fn writes_a_record_cannot_replay_are_refused_with_why() {
        let (status, why) = customer_act("/_mock/clock", br#"{"advance": "1d"}"#).unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(why.contains("moving the clock"), "{why}");
        let (status, why) = customer_act("/_mock/customers/P1/messages", b"{}").unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(why.contains("missing field `text`"), "{why}");
    }
}
