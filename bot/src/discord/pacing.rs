//! A Discord client that paces itself by what Discord announced, for where serenity's
//! own rate limiter isn't in front of Discord (the scenario world, training, and the
//! bot itself when `discord.api_base` isn't Discord: `serenity_http::discord_for`).
//!
//! Every answer's rate-limit headers say how much of its bucket is left and when it
//! resets; a bucket that is spent, or every bucket while a global limit lasts, is held
//! until then: a call on it fails at once with a 429 of our own, carrying the wait,
//! without reaching Discord. So the outbox never makes a call Discord would refuse
//! (each refusal counts toward Discord's invalid-request ban), and work waiting on a
//! spent bucket is tried again exactly when it resets, not on a backoff of its own.

use std::sync::{Arc, Mutex};

use super::ratelimit::{Pacer, RateLimit, Route};
use super::{BoxFuture, DiscordApi, DiscordError, Effect, Performed};
use crate::clock::Clock;

/// `inner`, paced.
pub struct Paced {
    inner: Arc<dyn DiscordApi>,
    clock: Arc<dyn Clock>,
    pacer: Mutex<Pacer>,
}

impl Paced {
    /// Paces calls to `inner` on `clock`'s time.
    pub fn new(inner: Arc<dyn DiscordApi>, clock: Arc<dyn Clock>) -> Self {
        Paced {
            inner,
            clock,
            pacer: Mutex::default(),
        }
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer> {
        self.pacer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Learns what the last answer announced about `route` and the global limit.
    fn learn(&self, route: Option<Route>) {
        let now = self.clock.now();
        let mut pacer = self.pacer();
        if let Some(limit) = route.and_then(|r| self.inner.rate_limit(Some(r))) {
            pacer.learn(route, &limit, now);
        }
        if let Some(global) = self.inner.rate_limit(None) {
            pacer.learn(None, &global, now);
        }
    }
}

/// The 429 a held call fails with: nothing reached Discord.
fn held(wait: jiff::SignedDuration) -> DiscordError {
    DiscordError {
        status: 429,
        code: None,
        message: "held back: Discord said this bucket is spent until it resets".into(),
        retry_after: Some(wait),
    }
}

impl DiscordApi for Paced {
    fn perform<'a>(
        &'a self,
        effect: &'a Effect<'a>,
    ) -> BoxFuture<'a, Result<Performed, DiscordError>> {
        Box::pin(async move {
            let route = Route::of(effect);
            let now = self.clock.now();
            if let Some(until) = self.pacer().wait(route, now) {
                return Err(held(until.duration_since(now)));
            }
            let result = self.inner.perform(effect).await;
            self.learn(route);
            result
        })
    }

    fn recent_messages(
        &self,
        channel: u64,
        limit: u8,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>> {
        Box::pin(async move {
            let now = self.clock.now();
            if let Some(until) = self.pacer().wait(None, now) {
                return Err(held(until.duration_since(now)));
            }
            let result = self.inner.recent_messages(channel, limit).await;
            self.learn(None);
            result
        })
    }

    fn active_threads(
        &self,
        guild: u64,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>> {
        Box::pin(async move {
            let now = self.clock.now();
            if let Some(until) = self.pacer().wait(None, now) {
                return Err(held(until.duration_since(now)));
            }
            let result = self.inner.active_threads(guild).await;
            self.learn(None);
            result
        })
    }

    fn rate_limit(&self, route: Option<Route>) -> Option<RateLimit> {
        self.inner.rate_limit(route)
    }
}
