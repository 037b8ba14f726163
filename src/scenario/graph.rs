//! The Graph API served by mock-graph's router in-process: the bot's calls reach
//! mock-graph's real handlers as HTTP requests, without a socket.

use std::time::Duration;

use bot::discord::BoxFuture;
use bot::graph::{decode, GraphApi, GraphFailure};
use messenger::wire::{SendRequest, SendResponse, UserProfile};
use tower::ServiceExt;

/// mock-graph's router as the bot's Graph API.
pub struct InProcessGraph {
    /// mock-graph's router.
    pub router: axum::Router,
    /// The page token the bot sends.
    pub token: String,
    /// How long the bot waits for an answer.
    pub timeout: Duration,
}

impl InProcessGraph {
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: axum::http::Request<axum::body::Body>,
    ) -> Result<T, GraphFailure> {
        // A request on the network lets others run while it travels: agents acting at
        // the same instant interleave here, as they would against the real Graph API.
        tokio::task::yield_now().await;
        let answer = tokio::time::timeout(self.timeout, self.router.clone().oneshot(request)).await;
        let response = match answer {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(GraphFailure::Unavailable(e.to_string())),
            Err(_) => {
                return Err(GraphFailure::Unavailable(
                    "no answer in time (timed out)".into(),
                ))
            }
        };
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| GraphFailure::Unavailable(e.to_string()))?;
        decode(status, &body)
    }
}

/// A request that can't be made (a PSID from a webhook too long for a URI, found by
/// fuzzing) fails as the real client's does, rather than panicking.
fn unsendable(e: axum::http::Error) -> GraphFailure {
    GraphFailure::Unavailable(format!("the request can't be made: {e}"))
}

impl GraphApi for InProcessGraph {
    fn profile<'a>(&'a self, psid: &'a str) -> BoxFuture<'a, Result<UserProfile, GraphFailure>> {
        Box::pin(async move {
            let request = axum::http::Request::get(format!(
                "/v21.0/{psid}?fields=first_name,last_name,profile_pic"
            ))
            .header("authorization", format!("Bearer {}", self.token))
            .body(axum::body::Body::empty())
            .map_err(unsendable)?;
            self.call(request).await
        })
    }

    fn send<'a>(
        &'a self,
        request: &'a SendRequest,
    ) -> BoxFuture<'a, Result<SendResponse, GraphFailure>> {
        Box::pin(async move {
            let body = serde_json::to_vec(request).expect("wire types always serialize");
            let request = axum::http::Request::post("/v21.0/me/messages")
                .header("authorization", format!("Bearer {}", self.token))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .expect("a valid request");
            self.call(request).await
        })
    }

    fn get<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<serde_json::Value, GraphFailure>> {
        Box::pin(async move {
            let request = axum::http::Request::get(format!("/v21.0/{path}"))
                .header("authorization", format!("Bearer {}", self.token))
                .body(axum::body::Body::empty())
                .map_err(unsendable)?;
            self.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_psid_too_long_for_a_uri_is_a_failure_not_a_panic() {
        let (router, _) = mock_graph::app(mock_graph::Settings::defaults());
        let graph = InProcessGraph {
            router,
            token: "mock-page-token".into(),
            timeout: Duration::from_secs(1),
        };
        let psid = "7".repeat(70_000);
        let failure = graph.profile(&psid).await.unwrap_err();
        assert!(matches!(failure, GraphFailure::Unavailable(_)), "{failure}");
        assert!(graph.get(&psid).await.is_err());
    }
}
