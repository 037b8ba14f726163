//! The mirror against the in-process recorder: restarts, lost answers, echoes,
//! standby, receipts and Meta's notices.

use std::sync::Arc;

use bot::discord::recorder::Recorder;
use serde_json::json;

use bot::config::Database;

use crate::harness::{postgres_db, sqlite_db, Harness, CHANNEL};

#[tokio::test]
async fn a_restart_mid_backlog_during_an_outage_loses_nothing_and_posts_once() {
    a_restart_mid_backlog(sqlite_db("mirror-restart")).await;
}

/// The same on Postgres: the end-to-end path (webhook, store, mirror, restart) on the
/// other backend.
#[tokio::test]
async fn postgres_a_restart_mid_backlog_during_an_outage_loses_nothing_and_posts_once() {
    a_restart_mid_backlog(postgres_db()).await;
}

async fn a_restart_mid_backlog(db: Database) {
    let discord = Recorder::new();
    discord.set_outage(true);
    let h = Harness::open(Arc::new(discord.clone()), &db).await;
    h.admin(
        "/_mock/faults",
        json!({"duplicate_rate": 0.5, "reorder_rate": 0.5}),
    )
    .await;
    let mut psids = Vec::new();
    for i in 0..20 {
        let psid = h.customer(&format!("Customer {i}")).await;
        h.say(&psid, &format!("message {i}")).await;
        psids.push(psid);
    }
    let t = h.tick().await;
    assert_eq!(t.events, 20, "duplicates were stored once");
    assert_eq!(t.work.done, 0, "Discord is down");
    let mock = h.crash().await;
    drop(mock);

    // Discord comes back, and answers are lost once: the work was done but the bot
    // never heard. A new bot opens the same database.
    discord.set_outage(false);
    discord.drop_answers_next(3);
    let h = Harness::open(Arc::new(discord.clone()), &db).await;
    for _ in 0..12 {
        h.advance("5m").await;
        h.tick().await;
    }
    assert_eq!(h.engine.store.work_pending().unwrap(), 0);
    let threads = discord.threads();
    assert_eq!(threads.len(), 20, "one thread per conversation");
    let starters = discord.messages_in(CHANNEL);
    let mut texts: Vec<String> = starters
        .iter()
        .map(|m| {
            m.body["embeds"][0]["description"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    texts.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("message {i}")).collect();
    expected.sort();
    assert_eq!(texts, expected, "every message posted exactly once");
    for psid in &psids {
        let t = h.engine.store.thread(psid).unwrap().unwrap();
        assert!(threads.iter().any(|d| Some(d.id) == t.discord_thread));
    }
}

#[tokio::test]
async fn echoes_standby_receipts_and_notices() {
    echoes_standby_receipts_and_notices_on(sqlite_db("mirror-echoes")).await;
}

#[tokio::test]
async fn postgres_echoes_standby_receipts_and_notices() {
    echoes_standby_receipts_and_notices_on(postgres_db()).await;
}

async fn echoes_standby_receipts_and_notices_on(db: Database) {
    let discord = Recorder::new();
    let h = Harness::open(Arc::new(discord.clone()), &db).await;
    let ada = h.customer("Ada Lovelace").await;
    h.say(&ada, "hi").await;
    h.tick().await;
    let thread = h.engine.store.thread(&ada).unwrap().unwrap();
    let opened = thread.state.last_opened;
    let id = thread.discord_thread.unwrap();

    // Another app answers: mirrored and marked, and the window doesn't move.
    h.advance("1h").await;
    h.admin(
        "/_mock/other-app/sends",
        json!({"psid": ada, "text": "Hello from the inbox app"}),
    )
    .await;
    h.tick().await;
    let posted = discord.messages_in(id);
    let last = &posted.last().unwrap().body["embeds"][0];
    assert_eq!(last["description"], "Hello from the inbox app");
    assert!(last["footer"]["text"]
        .as_str()
        .unwrap()
        .starts_with("↩ echo"));
    assert_eq!(
        h.engine
            .store
            .thread(&ada)
            .unwrap()
            .unwrap()
            .state
            .last_opened,
        opened
    );

    // The customer reads it: the echo's state follows.
    h.admin(&format!("/_mock/customers/{ada}/read"), json!({}))
        .await;
    h.tick().await;
    let msgs = h.engine.store.messages(&ada).unwrap();
    let echo = msgs
        .iter()
        .find(|m| m.text == "Hello from the inbox app")
        .unwrap();
    assert_eq!(echo.state, "read");

    // Meta restricts the page: the team hears of it in the channel, and the bot's
    // record of the page follows.
    // A clean page's first offence is a warning; the second is a restriction.
    h.advance("25h").await;
    h.admin(
        "/_mock/other-app/sends",
        json!({"psid": ada, "text": "Sale: 20% off today", "tag": "HUMAN_AGENT"}),
    )
    .await;
    h.tick().await;
    let before = discord.messages_in(CHANNEL).len();
    h.admin(
        "/_mock/other-app/sends",
        json!({"psid": ada, "text": "Buy now, 50% off", "tag": "HUMAN_AGENT"}),
    )
    .await;
    h.tick().await;
    let notices = discord.messages_in(CHANNEL);
    assert_eq!(notices.len(), before + 1, "{notices:#?}");
    let notice = &notices.last().unwrap().body;
    assert!(notice["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .starts_with("⛔ Meta restricted the page's tagged messages (1d)"));
    let page = h.engine.store.page().unwrap();
    assert!(page.enforcement.active(h.now()).is_some());
    // The human-agent thread now shows the restriction.
    assert!(discord
        .thread(id)
        .unwrap()
        .name
        .starts_with("⛔ page restricted"));
}

#[tokio::test]
async fn a_burst_of_messages_joins_one_waiting_post() {
    let discord = Recorder::new();
    let mut h = Harness::new(Arc::new(discord.clone()), None).await;
    let mut settings = (*h.engine.settings).clone();
    settings.coalesce = jiff::SignedDuration::from_secs(10);
    h.engine.settings = Arc::new(settings);
    let ada = h.customer("Ada Lovelace").await;
    h.say(&ada, "hi").await;
    h.tick().await;
    h.advance("4s").await;
    h.say(&ada, "are you there").await;
    h.tick().await;
    h.advance("4s").await;
    h.say(&ada, "my order 1234").await;
    h.tick().await;
    assert_eq!(
        discord.call_count(),
        0,
        "nothing posted before the burst settles"
    );
    h.advance("3s").await;
    h.tick().await;
    assert_eq!(discord.call_count(), 2, "one starter post and its thread");
    let starter = &discord.messages_in(CHANNEL)[0].body;
    assert_eq!(starter["embeds"].as_array().unwrap().len(), 3);
    // A message after the post went out starts a new one.
    h.say(&ada, "thanks").await;
    h.tick().await;
    h.advance("10s").await;
    h.tick().await;
    assert_eq!(discord.call_count(), 3);
}

#[tokio::test]
async fn an_alert_waits_for_its_thread_and_links_to_it() {
    let discord = Recorder::new();
    discord.set_outage(true);
    let h = Harness::new(Arc::new(discord.clone()), None).await;
    let psid = h.customer("Ada Lovelace").await;
    h.say(&psid, "hello?").await;
    h.tick().await;
    // Discord is down past the alert (22 hours later): no thread, so no alert yet.
    h.advance("22h 30m").await;
    h.tick().await;
    assert!(discord.messages_in(CHANNEL).is_empty());
    discord.set_outage(false);
    for _ in 0..3 {
        h.advance("1m").await;
        h.tick().await;
    }
    let thread = h.engine.store.thread(&psid).unwrap().unwrap();
    let id = thread.discord_thread.expect("the thread opened");
    let alert = discord
        .messages_in(CHANNEL)
        .into_iter()
        .map(|m| m.body["content"].as_str().unwrap_or_default().to_owned())
        .find(|c| c.starts_with('⏰'))
        .expect("the alert went out once the thread existed");
    assert!(alert.contains(&format!("<#{id}>")), "{alert}");
}

#[tokio::test]
async fn a_thread_that_cannot_be_opened_is_said_once_and_appears_when_fixed() {
    let discord = Recorder::new();
    discord.set_thread_permission_missing(true);
    let h = Harness::new(Arc::new(discord.clone()), None).await;
    let psid = h.customer("Ada Lovelace").await;
    h.say(&psid, "first").await;
    h.tick().await;
    for i in 0..6 {
        h.advance("5m").await;
        h.say(&psid, &format!("meanwhile {i}")).await;
        h.tick().await;
    }
    assert!(discord.threads().is_empty());
    let notices: Vec<String> = discord
        .messages_in(CHANNEL)
        .iter()
        .map(|m| m.body.to_string())
        .filter(|b| b.contains("Create Public Threads"))
        .collect();
    assert_eq!(notices.len(), 1, "said once: {notices:#?}");
    assert_eq!(
        h.engine.store.problems().unwrap().len(),
        1,
        "and /status has it"
    );

    discord.set_thread_permission_missing(false);
    for _ in 0..4 {
        h.advance("5m").await;
        h.tick().await;
    }
    let id = h
        .engine
        .store
        .thread(&psid)
        .unwrap()
        .unwrap()
        .discord_thread
        .expect("the conversation appeared");
    let mut lines: Vec<String> = Vec::new();
    let starter = discord.messages().into_iter().find(|m| m.id == id).unwrap();
    for m in std::iter::once(starter).chain(discord.messages_in(id)) {
        for e in m.body["embeds"].as_array().unwrap() {
            lines.push(e["description"].as_str().unwrap().to_owned());
        }
    }
    let mut expected = vec!["first".to_owned()];
    expected.extend((0..6).map(|i| format!("meanwhile {i}")));
    assert_eq!(lines, expected, "every message, in order");
    assert!(h.engine.store.problems().unwrap().is_empty());
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_before_a_long_outage_is_not_posted_again() {
    let discord = Recorder::new();
    let h = Harness::new(Arc::new(discord.clone()), None).await;
    // Discord honours a nonce for a few minutes only.
    discord.forget_nonces_after(h.engine.clock.clone(), jiff::SignedDuration::from_mins(5));
    let ada = h.customer("Ada Lovelace").await;
    h.say(&ada, "hello").await;
    h.tick().await;
    let thread = h
        .engine
        .store
        .thread(&ada)
        .unwrap()
        .unwrap()
        .discord_thread
        .unwrap();
    // The next post reaches Discord but its answer is lost; then Discord is down for
    // half an hour, long past the nonce's memory.
    h.say(&ada, "are you there?").await;
    discord.drop_answers_next(1);
    h.tick().await;
    discord.set_outage(true);
    for _ in 0..6 {
        h.advance("5m").await;
        h.tick().await;
    }
    discord.set_outage(false);
    for _ in 0..3 {
        h.advance("5m").await;
        h.tick().await;
    }
    assert_eq!(h.engine.store.work_pending().unwrap(), 0);
    let copies = discord
        .messages_in(thread)
        .iter()
        .filter(|m| m.body.to_string().contains("are you there?"))
        .count();
    assert_eq!(copies, 1, "posted once");
}

/// The text channel of the page's alerts when conversations are forum posts.
const ALERTS: u64 = 901;

/// A bot whose conversations are posts in the forum `CHANNEL`.
async fn forum_bot(discord: &Recorder) -> Harness {
    discord.set_forum(CHANNEL);
    let mut h = Harness::new(Arc::new(discord.clone()), None).await;
    let mut s = (*h.engine.settings).clone();
    s.layout = bot::settings::Layout::Forum { alerts: ALERTS };
    h.engine.settings = Arc::new(s);
    h
}

#[tokio::test]
async fn in_a_forum_one_call_opens_a_conversation_and_alerts_go_to_their_channel() {
    let discord = Recorder::new();
    let h = forum_bot(&discord).await;
    let psid = h.customer("Ada Lovelace").await;
    h.say(&psid, "where is my order?").await;
    h.tick().await;

    let calls = discord.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(
        calls[0].path,
        format!("/api/v10/channels/{CHANNEL}/threads")
    );
    let post = h.engine.store.thread(&psid).unwrap().unwrap();
    let id = post
        .discord_thread
        .expect("the post is the conversation's thread");
    let first = discord.messages_in(id);
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].id, id,
        "a forum post's first message shares its id"
    );
    assert_eq!(
        first[0].body["embeds"][0]["description"],
        "where is my order?"
    );
    assert!(
        discord.thread(id).unwrap().name.contains("Ada Lovelace"),
        "{:?}",
        discord.thread(id)
    );

    // Later messages go into the post; the closing alert goes to the alert channel.
    h.advance("1m").await;
    h.say(&psid, "hello?").await;
    h.tick().await;
    assert_eq!(discord.messages_in(id).len(), 2);
    h.advance("22h30m").await;
    h.tick().await;
    let alerts = discord.messages_in(ALERTS);
    assert_eq!(alerts.len(), 1, "{:#?}", discord.calls());
    assert!(
        alerts[0].body.to_string().contains(&format!("<#{id}>")),
        "{:?}",
        alerts[0].body
    );
    assert!(
        discord.messages_in(CHANNEL).is_empty(),
        "a forum takes no messages"
    );
}

#[tokio::test]
async fn a_forum_post_whose_answer_was_lost_is_found_not_made_again() {
    let discord = Recorder::new();
    let h = forum_bot(&discord).await;
    let ada = h.customer("Ada Lovelace").await;
    h.say(&ada, "first").await;
    // Discord makes the post, but the bot never hears so.
    discord.drop_answers_next(1);
    h.tick().await;
    assert_eq!(discord.threads().len(), 1);
    assert_eq!(
        h.engine.store.thread(&ada).unwrap().unwrap().discord_thread,
        None
    );

    h.advance("1m").await;
    h.say(&ada, "second").await;
    h.tick().await;
    let threads = discord.threads();
    assert_eq!(
        threads.len(),
        1,
        "found among the forum's active threads: {threads:#?}"
    );
    let id = h.engine.store.thread(&ada).unwrap().unwrap().discord_thread;
    assert_eq!(id, Some(threads[0].id));
    let texts: Vec<String> = discord
        .messages_in(threads[0].id)
        .iter()
        .map(|m| {
            m.body["embeds"][0]["description"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(texts, ["first", "second"]);
    assert!(discord
        .calls()
        .iter()
        .any(|c| c.path.ends_with("/threads/active")));
}

#[tokio::test]
async fn two_lost_forum_posts_of_customers_with_one_name_each_find_their_own() {
    let discord = Recorder::new();
    let h = forum_bot(&discord).await;
    let first = h.customer("Sam Smith").await;
    h.say(&first, "I'm the first Sam").await;
    let second = h.customer("Sam Smith").await;
    h.say(&second, "I'm the other Sam").await;
    discord.drop_answers_next(2);
    h.tick().await;
    // The first lost answer looks like Discord failing, so the other Sam waits for
    // the next probe. He goes first from now on: his post is made (and its answer
    // lost too), and when he retries, both posts are candidates by name and only the
    // first message tells which is his.
    h.engine.store.work_to_front(&second).unwrap();
    h.advance("20s").await;
    h.tick().await;
    assert_eq!(discord.threads().len(), 2);
    assert!(h
        .engine
        .store
        .thread(&first)
        .unwrap()
        .unwrap()
        .discord_thread
        .is_none());
    h.advance("1m").await;
    h.tick().await;
    assert_eq!(discord.threads().len(), 2, "neither was made twice");
    for (psid, text) in [
        (&first, "I'm the first Sam"),
        (&second, "I'm the other Sam"),
    ] {
        let id = h
            .engine
            .store
            .thread(psid)
            .unwrap()
            .unwrap()
            .discord_thread
            .unwrap();
        assert_eq!(
            discord.messages_in(id)[0].body["embeds"][0]["description"],
            text
        );
    }
}

#[tokio::test]
async fn a_forum_backlog_after_an_outage_reads_the_active_posts_once_a_pass_not_once_a_post() {
    use bot::discord::pacing::Paced;
    use bot::discord::ratelimit::Limits;

    let discord = Recorder::new();
    let mut h = forum_bot(&discord).await;
    let clock: Arc<dyn bot::clock::Clock> = Arc::new(h.clock.clone());
    discord.enforce_limits(Limits::default(), clock.clone());
    h.engine.discord = Arc::new(Paced::new(Arc::new(discord.clone()), clock));
    discord.set_outage(true);
    let mut psids = Vec::new();
    for i in 0..30 {
        let psid = h.customer(&format!("Customer {i}")).await;
        h.say(&psid, &format!("message {i}")).await;
        psids.push(psid);
    }
    // Every post is tried during the outage: each may have gone through, for all the
    // bot can tell from a 503, so each must be looked for before it is made.
    for _ in 0..5 {
        h.tick().await;
        h.advance("1m").await;
    }
    discord.set_outage(false);
    for _ in 0..120 {
        h.advance("1s").await;
        h.tick().await;
    }

    let threads = discord.threads();
    assert_eq!(threads.len(), 30, "each conversation posted once");
    for psid in &psids {
        assert!(h
            .engine
            .store
            .thread(psid)
            .unwrap()
            .unwrap()
            .discord_thread
            .is_some());
    }
    let reads = discord
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/threads/active") && c.outcome.is_ok())
        .count();
    // Forum posts wait on Discord's 10-per-10-seconds thread bucket: one read per
    // pass serves the posts being retried, and a post the pacer held back (nothing
    // left) isn't looked for again. Read once per post per pass, it was 30 and more.
    assert!(reads <= 3, "{reads} reads of the active threads");
    assert_eq!(discord.invalid_requests(), 0);
}

#[tokio::test]
async fn answers_to_agents_go_through_when_the_bots_global_budget_is_spent() {
    use bot::clock::ManualClock;
    use bot::discord::ratelimit::Limits;
    use bot::discord::{DiscordApi, Effect, Post};

    let discord = Recorder::new();
    let clock = ManualClock::new("2026-11-23T09:00:00Z".parse().unwrap());
    discord.enforce_limits(Limits::default(), Arc::new(clock));
    let post = Post {
        content: "routine".into(),
        ..Post::default()
    };
    // Posts in many channels, all in one instant, until Discord says the global
    // budget is spent.
    let mut refused = None;
    for channel in 1..=100u64 {
        let nonce = channel.to_string();
        let effect = Effect::SendMessage {
            channel,
            post: &post,
            nonce: &nonce,
        };
        if let Err(e) = discord.perform(&effect).await {
            refused = Some(e);
            break;
        }
    }
    assert_eq!(
        refused.map(|e| e.status),
        Some(429),
        "the global limit binds"
    );
    // Discord exempts interaction answers from the global limit: an agent still hears
    // what became of their reply.
    let answer = json!({"content": "✅ Sent."});
    let effect = Effect::EditOriginal {
        application_id: 1,
        token: "interaction-token",
        message: &answer,
    };
    assert!(discord.perform(&effect).await.is_ok());
}

/// A Discord that asks the tick to stop as soon as its first call is made: a shutdown
/// signal arriving mid-pass.
struct StopOnFirstCall {
    inner: Recorder,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl bot::discord::DiscordApi for StopOnFirstCall {
    fn perform<'a>(
        &'a self,
        effect: &'a bot::discord::Effect<'a>,
    ) -> bot::discord::BoxFuture<'a, Result<bot::discord::Performed, bot::discord::DiscordError>>
    {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.inner.perform(effect)
    }

    fn recent_messages(
        &self,
        channel: u64,
        limit: u8,
    ) -> bot::discord::BoxFuture<'_, Result<Vec<serde_json::Value>, bot::discord::DiscordError>>
    {
        self.inner.recent_messages(channel, limit)
    }

    fn active_threads(
        &self,
        guild: u64,
    ) -> bot::discord::BoxFuture<'_, Result<Vec<serde_json::Value>, bot::discord::DiscordError>>
    {
        self.inner.active_threads(guild)
    }
}

#[tokio::test]
async fn a_tick_told_to_stop_finishes_the_work_in_hand_and_starts_no_other() {
    let discord = Recorder::new();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = Harness::new(
        Arc::new(StopOnFirstCall {
            inner: discord.clone(),
            stop: stop.clone(),
        }),
        None,
    )
    .await;
    for name in ["Ada Lovelace", "Ben Okri", "Cy Twombly"] {
        let psid = h.customer(name).await;
        h.say(&psid, "hello?").await;
    }
    h.clock.set(h.mock.state.lock().now());
    let ticked = h.engine.tick_until(&stop).await.unwrap();
    // The events were processed before any call; the first conversation's opening (a
    // post, then its thread) was finished once begun; the other two wait, untried.
    assert_eq!(ticked.events, 3);
    assert_eq!(ticked.work.done, 1, "{ticked:?}");
    assert_eq!(discord.threads().len(), 1);
    assert_eq!(h.engine.store.work_pending().unwrap(), 2);
    // Whoever ticks next (this process restarted, or another replica) does the rest at
    // once: nothing was left leased.
    let ticked = h.tick().await;
    assert_eq!(ticked.work.done, 2, "{ticked:?}");
    assert_eq!(discord.threads().len(), 3);
}
