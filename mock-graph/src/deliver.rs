//! The IO side of webhooks: POSTs the deliveries the platform hands out (see
//! [`crate::pages::flush`], which asks for them and reports back).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use messenger::signature::HEADER;

use crate::platform::journal::Answer;
use crate::platform::webhooks::Attempt;

/// Meta counts a delivery as failed when the subscriber takes longer than this.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Posts webhook deliveries, one flush at a time so batches arrive in order.
#[derive(Clone)]
pub struct Deliverer {
    /// Whether there is a subscriber at all; without one, flushing is free.
    enabled: bool,
    client: reqwest::Client,
    /// An in-process subscriber, if one was given: deliveries go to its router
    /// directly, the same bytes and headers, without a socket. Clones share it.
    in_process: Arc<Mutex<Option<axum::Router>>>,
    serial: Arc<tokio::sync::Mutex<()>>,
}

impl Deliverer {
    /// A deliverer; `enabled` is whether a webhook URL is set.
    pub fn new(enabled: bool) -> Self {
        Deliverer {
            enabled,
            client: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .expect("a client without custom TLS always builds"),
            in_process: Arc::default(),
            serial: Arc::default(),
        }
    }

    /// From now on, delivers to `subscriber` in-process (its `POST /webhook`) instead of
    /// over HTTP; the scenario runner uses this to replay weekends without sockets.
    pub fn deliver_in_process(&self, subscriber: axum::Router) {
        *self.in_process.lock().unwrap_or_else(|e| e.into_inner()) = Some(subscriber);
    }

    /// Makes one attempt: lost in transit, or posted (twice if duplicated).
    pub(crate) async fn attempt(&self, url: &str, attempt: &Attempt) -> Answer {
        if attempt.dropped {
            return Answer::Lost;
        }
        let d = &attempt.delivery;
        let answer = self.post(url, &d.body, &d.signature, d.attempts).await;
        if attempt.duplicated {
            self.post(url, &d.body, &d.signature, d.attempts).await;
        }
        answer
    }

    /// Holds this deliverer's turn: one flush at a time, so batches arrive in order.
    pub(crate) async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.serial.lock().await
    }

    /// Whether there is a subscriber at all.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Posts a signed body once.
    pub(crate) async fn post(
        &self,
        url: &str,
        body: &[u8],
        signature: &str,
        attempts: u32,
    ) -> Answer {
        let subscriber = self
            .in_process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(router) = subscriber {
            return post_in_process(router, body, signature, attempts).await;
        }
        let result = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER, signature)
            .body(body.to_vec())
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => Answer::Status(r.status().as_u16()),
            Ok(r) => {
                tracing::warn!(status = %r.status(), attempt = attempts, "webhook refused");
                Answer::Status(r.status().as_u16())
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt = attempts, "webhook failed");
                Answer::NoAnswer(if e.is_timeout() {
                    no_answer_in_time()
                } else if e.is_connect() {
                    "could not connect".into()
                } else {
                    e.to_string()
                })
            }
        }
    }
}

/// What the log says of a subscriber that took longer than Meta waits.
fn no_answer_in_time() -> String {
    format!("no answer within {} s", TIMEOUT.as_secs())
}

/// Posts a delivery to an in-process router, with Meta's headers and a timeout.
async fn post_in_process(
    router: axum::Router,
    body: &[u8],
    signature: &str,
    attempts: u32,
) -> Answer {
    use tower::ServiceExt;
    let request = axum::http::Request::post("/webhook")
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header(HEADER, signature)
        .body(axum::body::Body::from(body.to_vec()))
        .expect("a valid request");
    match tokio::time::timeout(TIMEOUT, router.oneshot(request)).await {
        Ok(Ok(r)) if r.status().is_success() => Answer::Status(r.status().as_u16()),
        Ok(Ok(r)) => {
            tracing::warn!(status = %r.status(), attempt = attempts, "webhook refused");
            Answer::Status(r.status().as_u16())
        }
        Ok(Err(never)) => match never {},
        Err(_) => Answer::NoAnswer(no_answer_in_time()),
    }
}

impl Deliverer {
    /// The subscription handshake: GET the webhook URL with a challenge and check the
    /// echo.
    pub async fn verify(
        &self,
        url: &str,
        verify_token: &str,
        challenge: &str,
    ) -> Result<(), String> {
        let r = self
            .client
            .get(url)
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", verify_token),
                ("hub.challenge", challenge),
            ])
            .send()
            .await
            .map_err(|e| format!("webhook verification failed: {e}"))?;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        if status.is_success() && body == challenge {
            Ok(())
        } else {
            Err(format!("webhook verification failed: {status}, body {body:?} (expected the challenge {challenge:?})"))
        }
    }
}
