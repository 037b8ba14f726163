//! Several pages at once (`--pages N`): one [`Platform`](crate::Platform) per page,
//! behind one front router, as one Meta app subscribed to several pages.
//!
//! Each page is a whole emulator of its own (customers, sent log, record, webhook
//! outbox), so nothing in the platform knows about pages. The front routes:
//!
//! - Graph calls by their access token: `/me/messages` acts as the token's page, as on
//!   Meta (an unknown token goes to the first page, which answers 190);
//! - `/pages/{page-id}/...` to that page (its admin API and inspector);
//! - `POST /_mock/clock` and `POST /_mock/reset` to every page, so they share one
//!   virtual clock; the answer is the first page's; after a clock move the front
//!   delivers every page's due webhooks at once ([`flush`]);
//! - everything else (`/_mock/...`, `/`) to the first page.
//!
//! Webhooks are the pages' own: each delivery carries its page's `entry[].id`, signed
//! with the app secret they share. [`flush`] delivers them as Meta does for an app on
//! several pages: what falls due for several pages at once goes out in one POST.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

use crate::http::{AppState, FrontDelivers};
use crate::platform::journal::Answer;
use crate::platform::webhooks::Attempt;

/// Admin bodies are small; this is generous.
const MAX_ADMIN_BODY: usize = 1024 * 1024;

struct Page {
    token: String,
    router: Router,
    state: AppState,
}

/// The front router over `pages` (the first is page 1).
pub fn router(pages: &[AppState]) -> Router {
    let mut front: Router<Arc<Vec<Page>>> = Router::new();
    let mut routed = Vec::new();
    for state in pages {
        let (id, token) = {
            let p = state.lock();
            (p.settings.page_id.clone(), p.settings.page_token.clone())
        };
        let router = crate::http::router(state.clone());
        front = front.nest_service(&format!("/pages/{id}"), router.clone());
        routed.push(Page {
            token,
            router,
            state: state.clone(),
        });
    }
    front.fallback(dispatch).with_state(Arc::new(routed))
}

async fn dispatch(State(pages): State<Arc<Vec<Page>>>, request: Request) -> Response {
    let everyone = request.method() == Method::POST
        && matches!(request.uri().path(), "/_mock/clock" | "/_mock/reset");
    if everyone {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_ADMIN_BODY).await else {
            return (axum::http::StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
        };
        let clock = parts.uri.path() == "/_mock/clock";
        let mut first = None;
        for page in pages.iter() {
            let mut copy = Request::new(Body::from(bytes.clone()));
            *copy.method_mut() = parts.method.clone();
            *copy.uri_mut() = parts.uri.clone();
            *copy.headers_mut() = parts.headers.clone();
            if clock {
                copy.extensions_mut().insert(FrontDelivers);
            }
            let answer = page.router.clone().oneshot(copy).await.into_response();
            first.get_or_insert(answer);
        }
        if clock {
            flush(pages.iter().map(|p| &p.state)).await;
        }
        return first.expect("at least one page");
    }
    let token = token(&request);
    let page = token
        .and_then(|t| pages.iter().find(|p| p.token == t))
        .unwrap_or(&pages[0]);
    page.router.clone().oneshot(request).await.into_response()
}

/// Delivers every page's webhooks now due, as Meta does for one app subscribed to
/// several pages: a delivery of each page falling due at once goes out in one POST,
/// its `entry` array the pages' entries in page order, signed with the app secret
/// they share (Meta's docs: "entries may be batched"; a subscriber must split them by
/// `entry[].id`). Each page's delivery then fares as that POST did: delivered, or
/// retried on its own page's schedule, so a later retry may go alone or with another
/// page's. A delivery its page's faults lose in transit or send twice goes alone, so
/// the fault stays that page's (another page's entries aren't doubled, nor a late copy,
/// which is never doubled); so does a page with another URL or secret. With one page
/// this is that page's own flush.
pub async fn flush<'a>(pages: impl IntoIterator<Item = &'a AppState>) {
    let pages: Vec<&AppState> = (pages.into_iter())
        .filter(|p| p.deliverer.enabled())
        .collect();
    let mut turns = Vec::with_capacity(pages.len());
    for page in &pages {
        turns.push(page.deliverer.turn().await);
    }
    // Two passes, as a page's own flush: a failed first attempt is due again at once.
    for _ in 0..2 {
        let mut queues: Vec<Queue<'_>> = pages
            .iter()
            .filter_map(|&page| {
                let mut p = page.lock();
                let attempts = p.take_deliveries();
                let url = p.settings.webhook_url.clone()?;
                (!attempts.is_empty()).then(|| Queue {
                    page,
                    url,
                    secret: p.settings.app_secret.clone(),
                    attempts: attempts.into(),
                })
            })
            .collect();
        if queues.is_empty() {
            return;
        }
        // Round by round: the next delivery of every page that has one.
        loop {
            let round: Vec<(&Queue<'_>, Attempt)> = queues
                .iter_mut()
                .filter_map(|q| q.attempts.pop_front().map(|a| (&*q, a)))
                .collect();
            if round.is_empty() {
                break;
            }
            deliver_round(round).await;
        }
    }
}

/// One page's deliveries due in a pass, and where they go.
struct Queue<'a> {
    page: &'a AppState,
    url: String,
    secret: String,
    attempts: std::collections::VecDeque<Attempt>,
}

/// Delivers one delivery per page: those going to one URL under one secret together.
async fn deliver_round(round: Vec<(&Queue<'_>, Attempt)>) {
    let mut rest = round;
    while let Some((first, _)) = rest.first() {
        let (url, secret) = (first.url.clone(), first.secret.clone());
        let (mut together, others): (Vec<_>, Vec<_>) = rest
            .into_iter()
            .partition(|(q, a)| q.url == url && q.secret == secret && !a.dropped && !a.duplicated);
        rest = others;
        let alone = match together.len() {
            // The first has a fault: it goes as its page's own flush would send it.
            0 => Some(rest.remove(0)),
            1 => together.pop(),
            _ => None,
        };
        if let Some((q, attempt)) = alone {
            let answer = q.page.deliverer.attempt(&q.url, &attempt).await;
            q.page.lock().delivery_answered(attempt.delivery, answer);
            continue;
        }
        let answer = post_together(&url, &secret, &together).await;
        for (q, attempt) in together {
            q.page
                .lock()
                .delivery_answered(attempt.delivery, answer.clone());
        }
    }
}

/// Posts several pages' deliveries (none with a fault) as one body, through the first
/// page's deliverer, noting in each page's log what it went with.
async fn post_together(url: &str, secret: &str, together: &[(&Queue<'_>, Attempt)]) -> Answer {
    let bodies: Vec<&[u8]> = together.iter().map(|(_, a)| &a.delivery.body[..]).collect();
    let body = joined(&bodies).expect("the platform writes every body as PREFIX…SUFFIX");
    for (q, attempt) in together {
        let with: Vec<String> = together
            .iter()
            .filter(|(other, _)| !std::ptr::eq(*other, *q))
            .map(|(other, a)| {
                let page = other.page.lock().settings.page_id.clone();
                format!("page {page}'s delivery {}", a.delivery.id)
            })
            .collect();
        q.page.lock().note_batched(attempt.delivery.id, with);
    }
    let signature = messenger::signature::sign(secret.as_bytes(), &body);
    let attempts = together.iter().map(|(_, a)| a.delivery.attempts).max();
    together[0]
        .0
        .page
        .deliverer
        .post(url, &body, &signature, attempts.unwrap_or(1))
        .await
}

/// How the platform writes a delivery's body (`to_meta_json` of a `WebhookDelivery`).
const PREFIX: &str = r#"{"object":"page","entry":["#;
const SUFFIX: &str = "]}";

/// Several delivery bodies as one: their `entry` arrays joined, byte for byte.
fn joined(bodies: &[&[u8]]) -> Option<Vec<u8>> {
    let mut out = PREFIX.as_bytes().to_vec();
    for (n, body) in bodies.iter().enumerate() {
        let entries = body
            .strip_prefix(PREFIX.as_bytes())?
            .strip_suffix(SUFFIX.as_bytes())?;
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(entries);
    }
    out.extend_from_slice(SUFFIX.as_bytes());
    Some(out)
}

/// The request's access token: `?access_token=` or `Authorization: Bearer`.
fn token(request: &Request) -> Option<String> {
    let query = request.uri().query().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "access_token")
        .map(|(_, value)| value.into_owned())
        .or_else(|| {
            request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        })
}
