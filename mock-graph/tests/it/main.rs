//! mock-graph's tests: every endpoint in-process, webhooks over a real loopback socket.

mod admin;
mod admin_props;
mod conformance;
mod faults;
mod inspect;
mod inspector;
mod ladder;
mod reading;
mod scenario;
mod send;
mod webhooks;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use mock_graph::http::AppState;
use mock_graph::Settings;
use serde_json::Value;
use tower::ServiceExt;

/// An emulator driven in-process through its router.
pub struct Mock {
    pub router: axum::Router,
    pub state: AppState,
}

impl Default for Mock {
    fn default() -> Self {
        Mock::with(|_| {})
    }
}

impl Mock {
    pub fn new() -> Self {
        Mock::default()
    }

    pub fn with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut s = Settings::defaults();
        s.webhook_url = None;
        tweak(&mut s);
        let (router, state) = mock_graph::app(s);
        Mock { router, state }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(Body::from(body.unwrap_or("").to_owned())).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, json)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(&body.to_string())).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, None).await
    }

    /// A new customer who has written `text` just now.
    pub async fn customer_who_wrote(&self, text: &str) -> String {
        let (_, c) = self.post("/_mock/customers", serde_json::json!({})).await;
        let psid = c["psid"].as_str().unwrap().to_owned();
        let (s, _) = self
            .post(
                &format!("/_mock/customers/{psid}/messages"),
                serde_json::json!({"text": text}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        psid
    }

    pub async fn advance(&self, by: &str) {
        let (s, v) = self
            .post("/_mock/clock", serde_json::json!({"advance": by}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    /// A Send API call with the right token.
    pub async fn send(&self, body: Value) -> (StatusCode, Value) {
        self.post("/v25.0/me/messages?access_token=mock-page-token", body)
            .await
    }
}

/// Asserts Meta's envelope to the exact code, subcode and message.
pub fn assert_meta_error(
    resp: &(StatusCode, Value),
    status: u16,
    code: u64,
    subcode: Option<u64>,
    message: &str,
) {
    let (s, v) = resp;
    assert_eq!(s.as_u16(), status, "{v}");
    let e = &v["error"];
    assert_eq!(e["code"], code, "{v}");
    assert_eq!(e["error_subcode"].as_u64(), subcode, "{v}");
    assert_eq!(e["message"], message, "{v}");
    assert_eq!(e["type"], "OAuthException");
    assert_eq!(e["fbtrace_id"].as_str().unwrap().len(), 23);
}

pub fn text(psid: &str, kind: &str, tag: Option<&str>, text: &str) -> Value {
    let mut v = serde_json::json!({"recipient": {"id": psid}, "messaging_type": kind, "message": {"text": text}});
    if let Some(tag) = tag {
        v["tag"] = tag.into();
    }
    v
}
