//! Discord's rate limits, as data: which bucket a call falls in, the limits as Discord
//! announces them (`X-RateLimit-*` headers, 429 bodies with `retry_after` and `global`,
//! `X-RateLimit-Scope`), a model of Discord enforcing them ([`Buckets`], used by the
//! recording Discord), and a client that paces itself by what Discord announced
//! ([`Pacer`], used where serenity's own limiter isn't in front of Discord).
//!
//! Sources: Discord's developer documentation, "Rate Limits"
//! (<https://discord.com/developers/docs/topics/rate-limits>, `docs/topics/rate-limits.md`
//! in `discord/discord-api-docs`): per-route buckets keyed by a top-level resource (the
//! channel), a global limit of 50 requests per second per bot that interaction endpoints
//! are not bound by, `X-RateLimit-Limit`, `-Remaining`, `-Reset`, `-Reset-After`,
//! `-Bucket`, and on a 429 `X-RateLimit-Scope` (`user`, `global`, `shared`),
//! `X-RateLimit-Global` and `Retry-After`; 429 bodies `{"message", "retry_after"
//! (seconds, a float), "global"}`; and 10,000 invalid requests (401, 403, 429) in 10
//! minutes restricting the bot's address, "429 errors returned with
//! `X-RateLimit-Scope: shared` are not counted against you". Per-route figures aren't
//! published; the defaults are those commonly observed (5 messages per 5 s per channel,
//! 2 renames per 10 minutes per channel) and are settings, not constants of the code.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use super::Effect;

/// Whose limit a 429 is about (`X-RateLimit-Scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This bot's own limit on the route.
    User,
    /// This bot's global limit, across routes.
    Global,
    /// A limit shared by everyone on the resource (the channel's thread creation).
    Shared,
}

impl Scope {
    /// As the header says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Global => "global",
            Scope::Shared => "shared",
        }
    }
}

/// At most `per` calls in each `window`, counted from the window's first call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Calls allowed per window.
    pub per: u32,
    /// The window.
    pub window: SignedDuration,
}

/// The limits a Discord enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// All of a bot's calls.
    pub global: Limit,
    /// Creating messages, per channel or thread.
    pub messages: Limit,
    /// Renaming or archiving a channel or thread, per channel.
    pub edits: Limit,
    /// Starting threads, per parent channel (shared).
    pub threads: Limit,
    /// Invalid requests (401, 403, 429) allowed in `invalid.window` before the bot's
    /// address is refused for [`Limits::ban`].
    pub invalid: Limit,
    /// How long such a ban lasts.
    pub ban: SignedDuration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            global: Limit {
                per: 50,
                window: SignedDuration::from_secs(1),
            },
            messages: Limit {
                per: 5,
                window: SignedDuration::from_secs(5),
            },
            edits: Limit {
                per: 2,
                window: SignedDuration::from_mins(10),
            },
            threads: Limit {
                per: 10,
                window: SignedDuration::from_secs(10),
            },
            invalid: Limit {
                per: 10_000,
                window: SignedDuration::from_mins(10),
            },
            ban: SignedDuration::from_hours(1),
        }
    }
}

/// The kind of call, for its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// `POST /channels/{id}/messages`.
    Messages,
    /// `PATCH /channels/{id}`.
    Edit,
    /// `POST /channels/{id}/messages/{id}/threads`, and forum posts
    /// (`POST /channels/{forum}/threads`).
    Threads,
}

/// A rate-limit bucket: the kind of call and its major parameter (the channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// The kind of call.
    pub kind: RouteKind,
    /// The channel or thread.
    pub channel: u64,
}

impl Route {
    /// The bucket `effect` falls in; `None` for interaction answers, which are limited
    /// per interaction token, not by the bot's buckets.
    pub fn of(effect: &Effect<'_>) -> Option<Route> {
        let (kind, channel) = match *effect {
            Effect::SendMessage { channel, .. } => (RouteKind::Messages, channel),
            Effect::EditThread { thread, .. } => (RouteKind::Edit, thread),
            Effect::StartThread { channel, .. } => (RouteKind::Threads, channel),
            // A forum post is a thread start in its forum, and counts as one.
            Effect::CreateForumPost { forum, .. } => (RouteKind::Threads, forum),
            Effect::EditOriginal { .. } | Effect::FollowUp { .. } => return None,
        };
        Some(Route { kind, channel })
    }

    /// Its name, as `X-RateLimit-Bucket` would carry an opaque one.
    pub fn bucket(&self) -> String {
        let kind = match self.kind {
            RouteKind::Messages => "messages",
            RouteKind::Edit => "edit",
            RouteKind::Threads => "threads",
        };
        format!("{kind}:{}", self.channel)
    }

    fn limit(&self, limits: &Limits) -> (Limit, Scope) {
        match self.kind {
            RouteKind::Messages => (limits.messages, Scope::User),
            RouteKind::Edit => (limits.edits, Scope::User),
            RouteKind::Threads => (limits.threads, Scope::Shared),
        }
    }
}

/// What Discord announced about a bucket with an answer: the `X-RateLimit-*` headers,
/// and for a 429 its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-RateLimit-Bucket`.
    pub bucket: String,
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining`.
    pub remaining: u32,
    /// `X-RateLimit-Reset-After` (or the 429's `retry_after`).
    pub reset_after: SignedDuration,
    /// `X-RateLimit-Scope`, on a 429.
    pub scope: Option<Scope>,
    /// The 429's `global`: every route must wait.
    pub global: bool,
}

impl RateLimit {
    /// What an answer announced, read as a client reads it: a 429's body
    /// (`retry_after`, `global`) and its `Retry-After`, `X-RateLimit-Scope` and
    /// `X-RateLimit-Global` headers, or another answer's `X-RateLimit-Limit`,
    /// `-Remaining`, `-Reset-After` and `-Bucket` headers (`header` looks one up by its
    /// lower-case name). `None` for an answer that announced no limit.
    pub fn read<'h>(
        status: u16,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &serde_json::Value,
    ) -> Option<RateLimit> {
        let number = |name: &str| header(name).and_then(|v| v.trim().parse::<f64>().ok());
        // Rounded up to the millisecond: waiting a hair too long is harmless, calling a
        // hair too early is another 429.
        let seconds = |s: f64| {
            s.is_finite()
                .then(|| SignedDuration::from_millis((s.max(0.0) * 1000.0 - 1e-6).ceil() as i64))
        };
        let scope = header("x-ratelimit-scope").and_then(|v| match v.trim() {
            "user" => Some(Scope::User),
            "global" => Some(Scope::Global),
            "shared" => Some(Scope::Shared),
            _ => None,
        });
        let count = |name: &str| number(name).map(|n| n.max(0.0) as u32);
        if status == 429 {
            let global = body["global"].as_bool() == Some(true)
                || header("x-ratelimit-global").is_some_and(|v| v.trim() == "true")
                || scope == Some(Scope::Global);
            // The body's `retry_after` is the precise one; `Retry-After` is whole
            // seconds, rounded up.
            let wait = body["retry_after"]
                .as_f64()
                .or_else(|| number("retry-after"))
                .or_else(|| number("x-ratelimit-reset-after"))
                .and_then(seconds)?;
            return Some(RateLimit {
                bucket: header("x-ratelimit-bucket")
                    .map(str::to_owned)
                    .unwrap_or_else(|| if global { "global" } else { "" }.into()),
                limit: count("x-ratelimit-limit").unwrap_or(0),
                remaining: count("x-ratelimit-remaining").unwrap_or(0),
                reset_after: wait,
                scope: Some(scope.unwrap_or(if global { Scope::Global } else { Scope::User })),
                global,
            });
        }
        Some(RateLimit {
            bucket: header("x-ratelimit-bucket").unwrap_or_default().to_owned(),
            limit: count("x-ratelimit-limit")?,
            remaining: count("x-ratelimit-remaining")?,
            reset_after: number("x-ratelimit-reset-after").and_then(seconds)?,
            scope: None,
            global: false,
        })
    }
}

/// One fixed window's use.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Timestamp,
    used: u32,
}

impl Window {
    /// Counts a call at `now` against `limit`: `Ok(remaining)` or `Err(retry_after)`.
    fn take(
        slot: &mut Option<Window>,
        limit: Limit,
        now: Timestamp,
    ) -> Result<(u32, SignedDuration), SignedDuration> {
        let w = match slot {
            Some(w) if now < w.start + limit.window => w,
            _ => slot.insert(Window {
                start: now,
                used: 0,
            }),
        };
        let reset_after = (w.start + limit.window).duration_since(now);
        if w.used >= limit.per {
            return Err(reset_after);
        }
        w.used += 1;
        Ok((limit.per - w.used, reset_after))
    }
}

/// Discord's side: the windows of every bucket, the global one, and invalid requests.
#[derive(Debug, Default)]
pub struct Buckets {
    windows: HashMap<Route, Option<Window>>,
    global: Option<Window>,
    invalid: Vec<Timestamp>,
    invalid_total: u64,
    banned_until: Option<Timestamp>,
}

/// A call refused by a limit: the 429 Discord answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// What the 429 announces.
    pub limit: RateLimit,
    /// Whether the bot's address is refused outright (too many invalid requests).
    pub banned: bool,
}

impl Buckets {
    /// Admits a call on `route` (`None`: counted against the global limit only) at
    /// `now`, or refuses it with a 429. A refusal counts as an invalid request, unless
    /// its scope is `shared` (Discord doesn't count those).
    pub fn admit(
        &mut self,
        limits: &Limits,
        route: Option<Route>,
        now: Timestamp,
    ) -> Result<Option<RateLimit>, Refused> {
        if let Some(until) = self.banned_until.filter(|u| now < *u) {
            self.invalid_request(limits, now);
            return Err(Refused {
                limit: RateLimit {
                    bucket: "ban".into(),
                    limit: 0,
                    remaining: 0,
                    reset_after: until.duration_since(now),
                    scope: Some(Scope::Global),
                    global: true,
                },
                banned: true,
            });
        }
        if let Err(retry_after) = Window::take(&mut self.global, limits.global, now) {
            self.invalid_request(limits, now);
            return Err(Refused {
                limit: RateLimit {
                    bucket: "global".into(),
                    limit: limits.global.per,
                    remaining: 0,
                    reset_after: retry_after,
                    scope: Some(Scope::Global),
                    global: true,
                },
                banned: false,
            });
        }
        let Some(route) = route else {
            return Ok(None);
        };
        let (limit, scope) = route.limit(limits);
        let slot = self.windows.entry(route).or_default();
        match Window::take(slot, limit, now) {
            Ok((remaining, reset_after)) => Ok(Some(RateLimit {
                bucket: route.bucket(),
                limit: limit.per,
                remaining,
                reset_after,
                scope: None,
                global: false,
            })),
            Err(retry_after) => {
                if scope != Scope::Shared {
                    self.invalid_request(limits, now);
                }
                Err(Refused {
                    limit: RateLimit {
                        bucket: route.bucket(),
                        limit: limit.per,
                        remaining: 0,
                        reset_after: retry_after,
                        scope: Some(scope),
                        global: false,
                    },
                    banned: false,
                })
            }
        }
    }

    /// What's left of the global limit's window at `now`, as the headers would say.
    pub fn global_left(&self, limits: &Limits, now: Timestamp) -> RateLimit {
        let (remaining, reset_after) = match self.global {
            Some(w) if now < w.start + limits.global.window => (
                limits.global.per.saturating_sub(w.used),
                (w.start + limits.global.window).duration_since(now),
            ),
            _ => (limits.global.per, limits.global.window),
        };
        RateLimit {
            bucket: "global".into(),
            limit: limits.global.per,
            remaining,
            reset_after,
            scope: None,
            global: false,
        }
    }

    /// Counts an invalid request (a 401, 403 or 429) at `now`; too many in the window
    /// and the bot's address is refused for the ban's length.
    pub fn invalid_request(&mut self, limits: &Limits, now: Timestamp) {
        self.invalid_total += 1;
        let since = now - limits.invalid.window;
        self.invalid.retain(|t| *t > since);
        self.invalid.push(now);
        if self.invalid.len() as u64 >= u64::from(limits.invalid.per)
            && self.banned_until.is_none_or(|u| u <= now)
        {
            self.banned_until = Some(now + limits.ban);
        }
    }

    /// Invalid requests so far.
    pub fn invalid_total(&self) -> u64 {
        self.invalid_total
    }
}

/// The bot's side: holds each bucket Discord said is spent until it resets, and every
/// bucket while a global limit lasts, so no call is made that Discord would refuse.
#[derive(Debug, Default)]
pub struct Pacer {
    held: HashMap<Route, Timestamp>,
    global_until: Option<Timestamp>,
}

impl Pacer {
    /// When a call on `route` may be made, if not now.
    pub fn wait(&self, route: Option<Route>, now: Timestamp) -> Option<Timestamp> {
        let global = self.global_until.filter(|u| now < *u);
        let own = route
            .and_then(|r| self.held.get(&r).copied())
            .filter(|u| now < *u);
        match (global, own) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Learns what Discord announced about `route` with an answer at `now`.
    /// `route` `None` is the global limit: spent, it holds every route. A 429 (it has a
    /// scope) holds its route whatever its `Remaining` says: a `shared` one announces
    /// the bot's own bucket, which may have calls left, while the resource waits.
    pub fn learn(&mut self, route: Option<Route>, limit: &RateLimit, now: Timestamp) {
        let until = now + limit.reset_after;
        let spent = limit.remaining == 0 || limit.scope.is_some();
        match route {
            _ if limit.global => {
                self.global_until = Some(self.global_until.map_or(until, |g| g.max(until)));
            }
            None if spent => {
                self.global_until = Some(self.global_until.map_or(until, |g| g.max(until)));
            }
            None => {}
            Some(r) if spent => {
                self.held.insert(r, until);
            }
            Some(r) => {
                self.held.remove(&r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    const CHANNEL: Route = Route {
        kind: RouteKind::Messages,
        channel: 1,
    };

    #[test]
    fn a_bucket_admits_its_limit_per_window_then_says_when_it_resets() {
        let limits = Limits::default();
        let mut b = Buckets::default();
        for n in 0..5 {
            let l = b.admit(&limits, Some(CHANNEL), at(0)).unwrap().unwrap();
            assert_eq!(l.remaining, 4 - n);
            assert_eq!(l.reset_after, SignedDuration::from_secs(5));
        }
        let refused = b.admit(&limits, Some(CHANNEL), at(2)).unwrap_err();
        assert_eq!(refused.limit.reset_after, SignedDuration::from_secs(3));
        assert_eq!(refused.limit.scope, Some(Scope::User));
        assert_eq!(b.invalid_total(), 1);
        // Another channel has its own bucket; the first one resets after its window.
        let other = Route {
            channel: 2,
            ..CHANNEL
        };
        assert!(b.admit(&limits, Some(other), at(2)).is_ok());
        assert!(b.admit(&limits, Some(CHANNEL), at(5)).is_ok());
    }

    #[test]
    fn the_global_limit_covers_every_route() {
        let limits = Limits {
            global: Limit {
                per: 3,
                window: SignedDuration::from_secs(1),
            },
            ..Limits::default()
        };
        let mut b = Buckets::default();
        for channel in 1..=3 {
            assert!(b
                .admit(&limits, Some(Route { channel, ..CHANNEL }), at(0))
                .is_ok());
        }
        let refused = b.admit(&limits, None, at(0)).unwrap_err();
        assert!(refused.limit.global);
        assert_eq!(refused.limit.scope, Some(Scope::Global));
    }

    #[test]
    fn too_many_invalid_requests_ban_the_address_for_an_hour() {
        let limits = Limits {
            invalid: Limit {
                per: 3,
                window: SignedDuration::from_mins(10),
            },
            ..Limits::default()
        };
        let mut b = Buckets::default();
        for _ in 0..3 {
            b.invalid_request(&limits, at(0));
        }
        let refused = b.admit(&limits, Some(CHANNEL), at(60)).unwrap_err();
        assert!(refused.banned);
        assert_eq!(refused.limit.reset_after, SignedDuration::from_secs(3540));
        assert!(b.admit(&limits, Some(CHANNEL), at(3600)).is_ok());
    }

    #[test]
    fn the_pacer_holds_a_spent_bucket_until_it_resets() {
        let mut p = Pacer::default();
        let spent = RateLimit {
            bucket: CHANNEL.bucket(),
            limit: 5,
            remaining: 0,
            reset_after: SignedDuration::from_secs(4),
            scope: None,
            global: false,
        };
        p.learn(Some(CHANNEL), &spent, at(0));
        assert_eq!(p.wait(Some(CHANNEL), at(1)), Some(at(4)));
        assert_eq!(
            p.wait(
                Some(Route {
                    channel: 2,
                    ..CHANNEL
                }),
                at(1)
            ),
            None
        );
        assert_eq!(p.wait(Some(CHANNEL), at(4)), None);
        let global = RateLimit {
            global: true,
            reset_after: SignedDuration::from_secs(1),
            ..spent
        };
        p.learn(None, &global, at(10));
        assert_eq!(
            p.wait(
                Some(Route {
                    channel: 2,
                    ..CHANNEL
                }),
                at(10)
            ),
            Some(at(11))
        );
    }

    /// Discord's documented examples ("Rate Limits", Header Format and Exceeding A
    /// Rate Limit), read as the bot reads them.
    #[test]
    fn the_documented_headers_and_429_bodies_read_as_discord_means_them() {
        let headers = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            }
        };
        let ok = RateLimit::read(
            200,
            headers(&[
                ("X-RateLimit-Limit", "5"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", "1470173023"),
                ("X-RateLimit-Reset-After", "1"),
                ("X-RateLimit-Bucket", "abcd1234"),
            ]),
            &serde_json::Value::Null,
        )
        .unwrap();
        assert_eq!((ok.limit, ok.remaining, ok.scope), (5, 0, None));
        assert_eq!(ok.reset_after, SignedDuration::from_secs(1));
        assert_eq!(ok.bucket, "abcd1234");

        let shared = RateLimit::read(
            429,
            headers(&[
                ("Retry-After", "1337"),
                ("X-RateLimit-Limit", "10"),
                ("X-RateLimit-Remaining", "9"),
                ("X-RateLimit-Reset-After", "64.57"),
                ("X-RateLimit-Bucket", "abcd1234"),
                ("X-RateLimit-Scope", "shared"),
            ]),
            &serde_json::json!({"message": "The resource is being rate limited.",
                "retry_after": 1336.57, "global": false}),
        )
        .unwrap();
        assert_eq!(shared.scope, Some(Scope::Shared));
        assert_eq!(shared.reset_after, SignedDuration::from_millis(1_336_570));
        assert!(!shared.global);
        // Its `Remaining` is the bot's own bucket: the route is held all the same.
        let mut p = Pacer::default();
        p.learn(Some(CHANNEL), &shared, at(0));
        assert_eq!(
            p.wait(Some(CHANNEL), at(0)),
            Some(at(0) + shared.reset_after)
        );

        let global = RateLimit::read(
            429,
            headers(&[
                ("Retry-After", "65"),
                ("X-RateLimit-Global", "true"),
                ("X-RateLimit-Scope", "global"),
            ]),
            &serde_json::json!({"message": "You are being rate limited.",
                "retry_after": 64.57, "global": true}),
        )
        .unwrap();
        assert!(global.global);
        assert_eq!(global.scope, Some(Scope::Global));
        assert_eq!(global.reset_after, SignedDuration::from_millis(64_570));

        // Without a body, `Retry-After` says how long; without headers, nothing.
        let bare = RateLimit::read(
            429,
            headers(&[("Retry-After", "3")]),
            &serde_json::Value::Null,
        )
        .unwrap();
        assert_eq!(bare.reset_after, SignedDuration::from_secs(3));
        assert_eq!(
            RateLimit::read(200, headers(&[]), &serde_json::Value::Null),
            None
        );
    }

    #[test]
    fn a_shared_429_is_not_an_invalid_request() {
        let limits = Limits {
            threads: Limit {
                per: 1,
                window: SignedDuration::from_secs(60),
            },
            ..Limits::default()
        };
        let threads = Route {
            kind: RouteKind::Threads,
            channel: 1,
        };
        let mut b = Buckets::default();
        assert!(b.admit(&limits, Some(threads), at(0)).is_ok());
        let refused = b.admit(&limits, Some(threads), at(1)).unwrap_err();
        assert_eq!(refused.limit.scope, Some(Scope::Shared));
        assert_eq!(b.invalid_total(), 0);
    }
}
