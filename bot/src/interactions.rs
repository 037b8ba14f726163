//! `/interactions`: Discord's HTTP interactions transport.
//!
//! Every request is verified against the application's Ed25519 public key over the
//! timestamp and the exact body, and refused with 401 otherwise: Discord probes with
//! bad signatures and drops endpoints that accept them. Timestamps more than five
//! minutes from the engine's clock are refused too, so a captured request can't be
//! replayed later. PING is answered with PONG; everything else goes through the same
//! pipeline as the gateway, within Discord's deadline ([`deadline`]): the HTTP answer is
//! the interaction's initial response, so an answer not ready in time is a deferral and
//! the real one is edited in afterwards.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use crate::commands::interaction;
use crate::discord::deadline;
use crate::gateway::Answerer;
use crate::pages::Pages;

/// How far a request's timestamp may be from now.
pub const MAX_AGE_SECS: i64 = 300;

/// Interactions are small; this is generous.
const MAX_BODY: usize = 256 * 1024;

/// Why a public key can't be used.
#[derive(Debug, thiserror::Error)]
#[error("discord.public_key must be 64 hex characters (the application's Ed25519 public key): {0}")]
pub struct BadKey(String);

/// Parses the application's public key from hex.
pub fn public_key(hex_key: &str) -> Result<VerifyingKey, BadKey> {
    let bytes = hex::decode(hex_key.trim()).map_err(|e| BadKey(e.to_string()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| BadKey("wrong length".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| BadKey(e.to_string()))
}

struct Endpoint {
    pages: Pages,
    key: VerifyingKey,
    deadline: Duration,
}

/// The `/interactions` route, for one page's engine or several pages (each
/// interaction answered by the page it belongs to, [`Pages::route`]).
pub fn router(pages: impl Into<Pages>, key: VerifyingKey) -> Router {
    router_within(pages, key, deadline::DEADLINE)
}

/// The `/interactions` route, deferring answers not ready within `deadline` (tests use
/// one shorter than the commands' own budget for Meta).
pub fn router_within(pages: impl Into<Pages>, key: VerifyingKey, deadline: Duration) -> Router {
    Router::new()
        .route("/interactions", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::new(Endpoint {
            pages: pages.into(),
            key,
            deadline,
        }))
}

fn verify(
    key: &VerifyingKey,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = header("x-signature-ed25519").ok_or("missing signature")?;
    let timestamp = header("x-signature-timestamp").ok_or("missing timestamp")?;
    let signature = hex::decode(signature).map_err(|_| "malformed signature")?;
    let signature = Signature::from_slice(&signature).map_err(|_| "malformed signature")?;
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    key.verify(&signed, &signature)
        .map_err(|_| "invalid request signature")?;
    let at: i64 = timestamp.parse().map_err(|_| "malformed timestamp")?;
    // `abs_diff`: a signed timestamp of -9223372036854775808 overflowed `now - at`.
    if now.abs_diff(at) > MAX_AGE_SECS.unsigned_abs() {
        return Err("timestamp too old or in the future");
    }
    Ok(())
}

async fn receive(State(ep): State<Arc<Endpoint>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = ep.pages.first().clock.now().as_second();
    if let Err(why) = verify(&ep.key, &headers, &body, now) {
        tracing::warn!(why, "interaction refused");
        return (StatusCode::UNAUTHORIZED, why).into_response();
    }
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")).into_response()
        }
    };
    let inv = match interaction::parse(&json) {
        Ok(inv) => inv,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let application_id = json["application_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .or_else(|| json["application_id"].as_u64())
        .unwrap_or(0);
    let started = match ep.pages.route(&inv) {
        Ok(Some(engine)) => deadline::start_within(engine, inv, application_id, ep.deadline).await,
        // Belongs to no page, or the stores couldn't say: the routing answerer says so.
        _ => ep.pages.answer(inv, application_id).await,
    };
    if let Some(deferred) = started.deferred {
        // The deferral is this very answer, on its way.
        deferred.delivered(true);
    }
    Json(started.body).into_response()
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn signed(key: &SigningKey, timestamp: &str, body: &[u8]) -> HeaderMap {
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        let mut headers = HeaderMap::new();
        let signature = hex::encode(key.sign(&message).to_bytes());
        headers.insert("x-signature-ed25519", signature.parse().unwrap());
        headers.insert("x-signature-timestamp", timestamp.parse().unwrap());
        headers
    }

    #[test]
    fn timestamps_at_the_ends_of_i64_are_too_old_not_an_overflow() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let now = 1_800_000_000;
        for at in [i64::MIN, i64::MAX, now - MAX_AGE_SECS - 1] {
            let headers = signed(&key, &at.to_string(), b"{}");
            let refused = verify(&key.verifying_key(), &headers, b"{}", now);
            assert_eq!(refused, Err("timestamp too old or in the future"), "{at}");
        }
        let headers = signed(&key, &now.to_string(), b"{}");
        assert_eq!(verify(&key.verifying_key(), &headers, b"{}", now), Ok(()));
    }
}
