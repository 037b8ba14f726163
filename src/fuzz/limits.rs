//! Oversized bodies are refused, not buffered: each HTTP endpoint that takes outside
//! input is offered a 64 MiB body in 64 KiB chunks, and must answer with a refusal
//! having read no more than its limit and one chunk.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, Request, StatusCode};
use bot::store::sqlite::SqliteStore;
use bot::store::Store;
use bot::webhook::{router, WebhookConfig};
use tower::ServiceExt;

const CHUNK: usize = 64 * 1024;
const OFFERED: usize = 64 * 1024 * 1024;
static FILLER: [u8; CHUNK] = [b'x'; CHUNK];

/// mock-graph's Send API limit (`http::graph::MAX_BODY`, private to it).
pub const SEND_API_LIMIT: usize = 256 * 1024;
/// The bot's `/interactions` limit (private to `bot::interactions`).
pub const INTERACTIONS_LIMIT: usize = 256 * 1024;
/// axum's default body limit, which mock-graph's admin API keeps.
pub const AXUM_DEFAULT_LIMIT: usize = 2 * 1024 * 1024;

/// What one endpoint did with an oversized body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCheck {
    /// `POST /webhook`, ...
    pub endpoint: String,
    /// Its documented limit, in bytes.
    pub limit: usize,
    /// Its answer.
    pub status: StatusCode,
    /// Bytes it pulled from the body before answering.
    pub read: usize,
    /// Events stored meanwhile (the webhook only).
    pub stored: u64,
}

impl LimitCheck {
    /// Refused (413, or Meta's 400 for the Send API), having read at most the limit
    /// and the chunk that crossed it, and stored nothing.
    pub fn holds(&self) -> bool {
        matches!(
            self.status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::BAD_REQUEST
        ) && self.read <= self.limit + CHUNK
            && self.stored == 0
    }
}

impl std::fmt::Display for LimitCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} after reading {} KiB of {} MiB offered (limit {} KiB){}",
            self.endpoint,
            self.status,
            self.read / 1024,
            OFFERED / (1024 * 1024),
            self.limit / 1024,
            if self.stored > 0 {
                format!(", {} events stored", self.stored)
            } else {
                String::new()
            }
        )
    }
}

/// A body of [`OFFERED`] bytes, counting what is pulled from it.
fn oversized(read: Arc<AtomicUsize>) -> Body {
    let chunks = (0..OFFERED / CHUNK).map(move |_| {
        read.fetch_add(CHUNK, Ordering::Relaxed);
        Ok::<_, std::convert::Infallible>(Bytes::from_static(&FILLER))
    });
    Body::from_stream(futures::stream::iter(chunks))
}

async fn offer(
    app: axum::Router,
    endpoint: &str,
    path: &str,
    limit: usize,
    headers: &[(&str, &str)],
) -> anyhow::Result<LimitCheck> {
    let read = Arc::new(AtomicUsize::new(0));
    let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.oneshot(req.body(oversized(read.clone()))?).await?;
    Ok(LimitCheck {
        endpoint: endpoint.to_owned(),
        limit,
        status: resp.status(),
        read: read.load(Ordering::Relaxed),
        stored: 0,
    })
}

/// Offers every HTTP endpoint an oversized body.
pub fn check_body_limits() -> anyhow::Result<Vec<LimitCheck>> {
    let rt = crate::scenario::runtime()?;
    rt.block_on(async {
        let mut out = Vec::new();
        let store = Arc::new(SqliteStore::in_memory()?);
        let defaults = mock_graph::Settings::defaults();
        let webhook = router(
            WebhookConfig {
                app_secret: defaults.app_secret.clone(),
                verify_token: defaults.verify_token.clone(),
                wake: None,
            },
            store.clone(),
        );
        let mut check = offer(
            webhook,
            "POST /webhook",
            "/webhook",
            bot::webhook::MAX_BODY,
            &[(messenger::signature::HEADER, "sha256=00")],
        )
        .await?;
        check.stored = store.count_events()?;
        out.push(check);

        let app = super::targets::Bot::start()?;
        let key = bot::interactions::public_key(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        )?;
        let interactions = bot::interactions::router(app.engine.clone(), key);
        out.push(
            offer(
                interactions,
                "POST /interactions",
                "/interactions",
                INTERACTIONS_LIMIT,
                &[
                    ("x-signature-ed25519", "00"),
                    ("x-signature-timestamp", "0"),
                ],
            )
            .await?,
        );

        let (mock, _) = mock_graph::app(defaults.clone());
        let send = format!("/v21.0/me/messages?access_token={}", defaults.page_token);
        out.push(
            offer(
                mock.clone(),
                "POST /{v}/me/messages",
                &send,
                SEND_API_LIMIT,
                &[],
            )
            .await?,
        );
        for path in ["/_mock/customers", "/_mock/scenario", "/_mock/faults"] {
            let endpoint = format!("POST {path}");
            out.push(offer(mock.clone(), &endpoint, path, AXUM_DEFAULT_LIMIT, &[]).await?);
        }
        Ok(out)
    })
}
