//! The bot's real HTTP client (`SerenityDiscord`, serenity's limiter off, paced as
//! production paces it there) against a Discord stand-in that enforces Discord's rate
//! limits on the bot's virtual clock: a backlog drains as fast as the limits allow
//! and no faster, a `shared` or global 429 is waited out for its `retry_after`, and a
//! client that ignores the headers is refused and counted.

use std::sync::Arc;

use bot::clock::{Clock, ManualClock};
use bot::discord::ratelimit::{Limit, Limits, Route, RouteKind, Scope};
use bot::discord::serenity_http::{discord_for, SerenityDiscord};
use bot::discord::DiscordApi;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use crate::discord_stand_in::{Call, DiscordStandIn, TOKEN};
use crate::harness::{Harness, CHANNEL};

/// A bot whose Discord is the stand-in enforcing `limits`, reached through the
/// client production builds for a Discord without serenity's limiter (`paced`), or
/// through serenity's `Http` alone.
async fn bot_against(limits: Limits, paced: bool) -> (Harness, DiscordStandIn) {
    let mut stand_in = None;
    let slot = &mut stand_in;
    let h = Harness::with(
        |clock: ManualClock| async move {
            let s = DiscordStandIn::start(limits, clock.clone()).await;
            let discord: Arc<dyn DiscordApi> = if paced {
                discord_for(TOKEN, 1, &s.url, Arc::new(clock))
            } else {
                Arc::new(SerenityDiscord::new(TOKEN, 1, &s.url))
            };
            *slot = Some(s);
            discord
        },
        None,
    )
    .await;
    (h, stand_in.unwrap())
}

/// `n` customers, each writing once.
async fn backlog(h: &Harness, n: usize) -> Vec<(String, String)> {
    let mut customers = Vec::new();
    for i in 0..n {
        let psid = h.customer(&format!("Customer {i:02}")).await;
        let text = format!("hello, I am customer {i:02}");
        h.say(&psid, &text).await;
        customers.push((psid, text));
    }
    customers
}

/// Ticks, moving the clock to the next due work each time, until no work is left.
async fn drain(h: &Harness) {
    for _ in 0..2000 {
        h.tick().await;
        if h.engine.store.work_pending().unwrap() == 0 {
            return;
        }
        let due = h
            .engine
            .next_due()
            .unwrap()
            .expect("pending work falls due");
        let next = due.max(h.now() + SignedDuration::from_millis(1));
        h.advance_to(next).await;
    }
    panic!("the outbox never drained");
}

fn is_thread_start(c: &Call) -> bool {
    c.method == "POST" && c.path.ends_with("/threads")
}

fn too_many(calls: &[Call]) -> usize {
    calls.iter().filter(|c| c.status == 429).count()
}

/// Seconds from `start` to `at`.
fn after(start: Timestamp, at: Timestamp) -> f64 {
    at.duration_since(start).as_secs_f64()
}

/// Drains a backlog of `n` new conversations against `limits` and checks every one is
/// in Discord exactly once; returns the calls made and when the last thread opened.
async fn drain_backlog(n: usize, limits: Limits, paced: bool) -> (Vec<Call>, f64, DiscordStandIn) {
    let (h, d) = bot_against(limits, paced).await;
    let customers = backlog(&h, n).await;
    let start = h.now();
    drain(&h).await;

    // Every conversation is posted once, as one thread under the channel.
    let starters = d.messages_in(CHANNEL);
    assert_eq!(starters.len(), n, "one starter post each");
    for (psid, text) in &customers {
        let posted = starters
            .iter()
            .filter(|m| m.json["embeds"][0]["description"] == text.as_str())
            .count();
        assert_eq!(posted, 1, "{text} posted once");
        let thread = h.engine.store.thread(psid).unwrap().unwrap();
        assert!(thread.discord_thread.is_some(), "{psid} has its thread");
    }
    let threads = d.threads();
    assert_eq!(threads.len(), n);
    assert!(threads.iter().all(|t| t.parent == CHANNEL));

    let calls = d.calls();
    let opened = calls
        .iter()
        .filter(|c| is_thread_start(c) && c.status == 201)
        .map(|c| c.at)
        .max()
        .unwrap();
    (calls, after(start, opened), d)
}

#[tokio::test]
async fn a_backlog_drains_as_fast_as_discords_limits_allow_and_no_faster() {
    // 5 messages per 5 s in the channel (and Discord's other defaults).
    let limits = Limits {
        messages: Limit {
            per: 5,
            window: SignedDuration::from_secs(5),
        },
        ..Limits::default()
    };
    let (calls, took, d) = drain_backlog(50, limits, true).await;
    let refused = too_many(&calls);
    eprintln!(
        "paced: 50 conversations opened in {took} s of virtual time, {} calls, {refused} answered 429, {} invalid",
        calls.len(),
        d.invalid_requests()
    );
    assert!(
        refused * 100 < calls.len(),
        "429s under 1% of calls: {refused} of {}",
        calls.len()
    );
    assert_eq!(d.invalid_requests(), refused as u64);
    // 50 posts at 5 per 5 s: the last five go at 45 s.
    assert!(
        (44.0..=50.0).contains(&took),
        "the backlog took {took} s; the limit allows 45"
    );
}

#[tokio::test]
async fn without_pacing_the_same_backlog_is_refused_over_and_over() {
    // What the stand-in does to a client that doesn't read the headers: the bot's
    // HTTP client with serenity's limiter off and nothing pacing it.
    let limits = Limits {
        messages: Limit {
            per: 5,
            window: SignedDuration::from_secs(5),
        },
        ..Limits::default()
    };
    let (calls, took, d) = drain_backlog(50, limits, false).await;
    let refused = too_many(&calls);
    eprintln!(
        "unpaced: 50 conversations opened in {took} s of virtual time, {} calls, {refused} answered 429, {} invalid",
        calls.len(),
        d.invalid_requests()
    );
    assert!(refused * 100 >= calls.len(), "{refused} of {}", calls.len());
    assert_eq!(d.invalid_requests(), refused as u64);
}

#[tokio::test]
async fn a_shared_429_holds_thread_starts_for_its_retry_after() {
    // Thread starts in the channel are a shared limit, and someone else spent it: the
    // next window opens in two minutes.
    let limits = Limits {
        threads: Limit {
            per: 10,
            window: SignedDuration::from_secs(120),
        },
        ..Limits::default()
    };
    let (h, d) = bot_against(limits, true).await;
    d.spend_shared(Route {
        kind: RouteKind::Threads,
        channel: CHANNEL,
    });
    backlog(&h, 3).await;
    let start = h.now();
    drain(&h).await;

    let calls = d.calls();
    let refusals: Vec<&Call> = calls.iter().filter(|c| c.status == 429).collect();
    assert_eq!(
        refusals.len(),
        1,
        "one 429, then the route is held: {calls:#?}"
    );
    assert_eq!(refusals[0].scope, Some(Scope::Shared));
    assert!(is_thread_start(refusals[0]));
    let refused_at = refusals[0].at;
    // The posts went on; the next thread start waited the whole retry_after.
    assert_eq!(d.messages_in(CHANNEL).len(), 3);
    let next = calls
        .iter()
        .filter(|c| is_thread_start(c) && c.at > refused_at)
        .map(|c| c.at)
        .min()
        .unwrap();
    assert_eq!(after(refused_at, next), 120.0);
    assert_eq!(d.threads().len(), 3);
    assert_eq!(after(start, h.now()), 120.0);
    // Discord doesn't count a shared 429 as an invalid request.
    assert_eq!(d.invalid_requests(), 0);
}

#[tokio::test]
async fn a_global_429_holds_every_call_for_its_retry_after() {
    // Three calls per 30 s in all: the fourth is refused globally.
    let limits = Limits {
        global: Limit {
            per: 3,
            window: SignedDuration::from_secs(30),
        },
        ..Limits::default()
    };
    let (h, d) = bot_against(limits, true).await;
    backlog(&h, 3).await;
    drain(&h).await;

    let calls = d.calls();
    let refusals: Vec<&Call> = calls.iter().filter(|c| c.status == 429).collect();
    assert_eq!(
        refusals.len(),
        1,
        "one 429, then every route is held: {calls:#?}"
    );
    assert_eq!(refusals[0].scope, Some(Scope::Global));
    let refused_at = refusals[0].at;
    let next = calls
        .iter()
        .filter(|c| c.at > refused_at)
        .map(|c| c.at)
        .min()
        .unwrap();
    assert_eq!(
        after(refused_at, next),
        30.0,
        "nothing reached Discord before the retry_after: {calls:#?}"
    );
    assert_eq!(d.threads().len(), 3);
    assert_eq!(d.invalid_requests(), 1);
}

#[tokio::test]
async fn the_stand_in_refuses_a_client_that_ignores_its_headers_and_counts_it() {
    let clock = ManualClock::new("2026-05-04T09:00:00Z".parse().unwrap());
    let limits = Limits {
        invalid: Limit {
            per: 10,
            window: SignedDuration::from_mins(10),
        },
        ..Limits::default()
    };
    let d = DiscordStandIn::start(limits, clock.clone()).await;
    let http = reqwest::Client::new();
    let post = |channel: u64, token: &'static str| {
        http.post(format!("{}/api/v10/channels/{channel}/messages", d.url))
            .header("authorization", token)
            .json(&json!({"content": "hi"}))
            .send()
    };
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // Five go through, each saying how many are left and when the bucket resets.
    for left in (0..5).rev() {
        let r = post(CHANNEL, TOKEN).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit").as_deref(), Some("5"));
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(left.to_string()));
        assert_eq!(
            header(&r, "x-ratelimit-reset-after").as_deref(),
            Some("5.000")
        );
        let reset = clock.now() + SignedDuration::from_secs(5);
        assert_eq!(
            header(&r, "x-ratelimit-reset"),
            Some(format!("{}.000", reset.as_second()))
        );
        assert_eq!(
            header(&r, "x-ratelimit-bucket"),
            Some(format!("messages:{CHANNEL}"))
        );
    }
    // A second later, the client that ignored `Remaining: 0` is refused.
    clock.advance(SignedDuration::from_secs(1));
    for n in 1..=7u64 {
        let r = post(CHANNEL, TOKEN).await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(header(&r, "retry-after").as_deref(), Some("4"));
        assert_eq!(header(&r, "x-ratelimit-scope").as_deref(), Some("user"));
        assert_eq!(header(&r, "x-ratelimit-remaining").as_deref(), Some("0"));
        assert_eq!(
            header(&r, "x-ratelimit-reset-after").as_deref(),
            Some("4.000")
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({"message": "You are being rate limited.", "retry_after": 4.0, "global": false})
        );
        assert_eq!(d.invalid_requests(), n);
    }
    // A wrong token is invalid too.
    let r = post(CHANNEL, "Bot stolen").await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(d.invalid_requests(), 8);
    // So is a post where the bot may not post.
    d.deny(901, true);
    let r = post(901, TOKEN).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(d.invalid_requests(), 9);
    d.deny(901, false);
    // The tenth invalid request in ten minutes bans the address: even a fresh bucket
    // is refused, for an hour.
    let r = post(CHANNEL, TOKEN).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(d.invalid_requests(), 10);
    let r = post(902, TOKEN).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-global").as_deref(), Some("true"));
    assert_eq!(header(&r, "x-ratelimit-scope").as_deref(), Some("global"));
    assert_eq!(header(&r, "retry-after").as_deref(), Some("3600"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["global"], true);
    clock.advance(SignedDuration::from_hours(1));
    assert_eq!(post(902, TOKEN).await.unwrap().status(), 200);
    assert_eq!(d.messages_in(CHANNEL).len(), 5);
}
