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
//!   virtual clock; the answer is the first page's;
//! - everything else (`/_mock/...`, `/`) to the first page.
//!
//! Webhooks are the pages' own: each delivery carries its page's `entry[].id`, signed
//! with the app secret they share.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;

use crate::http::AppState;

/// Admin bodies are small; this is generous.
const MAX_ADMIN_BODY: usize = 1024 * 1024;

struct Page {
    token: String,
    router: Router,
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
        routed.push(Page { token, router });
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
        let mut first = None;
        for page in pages.iter() {
            let mut copy = Request::new(Body::from(bytes.clone()));
            *copy.method_mut() = parts.method.clone();
            *copy.uri_mut() = parts.uri.clone();
            *copy.headers_mut() = parts.headers.clone();
            let answer = page.router.clone().oneshot(copy).await.into_response();
            first.get_or_insert(answer);
        }
        return first.expect("at least one page");
    }
    let token = token(&request);
    let page = token
        .and_then(|t| pages.iter().find(|p| p.token == t))
        .unwrap_or(&pages[0]);
    page.router.clone().oneshot(request).await.into_response()
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
