//! The outbox worker: performs queued Discord work and Graph sends until they are done.
//!
//! Work is retried with backoff while Discord is down or rate-limiting, so an outage
//! loses nothing. Every message carries a nonce derived from its outbox id with
//! `enforce_nonce`, and a thread's id is its starter message's, so a retry after a
//! crash or a lost answer never posts twice.

use std::sync::atomic::{AtomicBool, Ordering};

use jiff::{SignedDuration, Timestamp};

pub mod forum;
pub mod sends;
pub mod urgency;

use crate::discord::{DiscordApi, DiscordError, Effect, Performed, Post, THREAD_ALREADY_CREATED};
use crate::graph::GraphApi;
use crate::mirror::posts::{self, colour};
use crate::settings::{Layout, Settings};
use crate::store::{Changes, NewWork, QueuedWork, Store, StoreError, ThreadPatch, Work};

/// How long to wait before attempt `n + 1`: 1 s doubling to 5 minutes, or what
/// the other side asked for if longer.
pub fn backoff(attempts: u32, retry_after: Option<SignedDuration>) -> SignedDuration {
    let exp = SignedDuration::from_secs(1i64 << attempts.min(9)).min(SignedDuration::from_mins(5));
    retry_after.map_or(exp, |r| r.max(exp))
}

/// How long a 429 without a `retry_after` is waited out.
const RATE_LIMIT_DEFAULT_WAIT: SignedDuration = SignedDuration::from_secs(1);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Work completed.
    pub done: usize,
    /// Work that failed for now and will be retried.
    pub retried: usize,
    /// Work given up on.
    pub failed: usize,
}

/// How one attempt at a piece of work ended.
pub enum Attempt {
    /// Done; commit these changes with it.
    Done(Box<Changes>),
    /// Not now: try again after the backoff (or at least `after`).
    Retry {
        /// What went wrong.
        error: String,
        /// A wait the other side asked for.
        after: Option<SignedDuration>,
    },
    /// Not attempted, or refused by a rate limit (429: nothing happened): run it again
    /// after `after`, exactly, without counting an attempt.
    Wait {
        /// Discord's `retry_after`, or the wait the pacer knows of.
        after: SignedDuration,
    },
    /// Discord is down (unreachable, or answering 5xx): retried like
    /// [`Attempt::Retry`], and the pass's other Discord work waits for the next probe
    /// instead of failing the same way one call each.
    DiscordDown(String),
    /// Never: give up.
    Fail(String),
}

/// While Discord is down, how often one piece of work probes it: the rest of the
/// backlog waits untried, and follows within this long of Discord's return.
const DOWN_PROBE: SignedDuration = SignedDuration::from_secs(15);

/// How long Discord work is leased for an attempt. The lease marks it as asked: a
/// post cut short by a crash may be in Discord already (its nonce would return that
/// version), so new messages never join it. A crash on SQLite delays it this long.
const DISCORD_LEASE: SignedDuration = SignedDuration::from_secs(15);

/// The code of [`waiting_for_thread`]'s error: transient, but not Discord's fault.
const NOT_OPEN_YET: i64 = -1;

impl From<Result<Changes, DiscordError>> for Attempt {
    fn from(r: Result<Changes, DiscordError>) -> Self {
        match r {
            Ok(changes) => Attempt::Done(Box::new(changes)),
            Err(e) if e.status == 429 => Attempt::Wait {
                after: e.retry_after.unwrap_or(RATE_LIMIT_DEFAULT_WAIT),
            },
            Err(e) if e.status >= 500 || (e.status == 0 && e.code != Some(NOT_OPEN_YET)) => {
                Attempt::DiscordDown(e.to_string())
            }
            Err(e) if e.is_transient() => Attempt::Retry {
                error: e.to_string(),
                after: e.retry_after,
            },
            Err(e) => Attempt::Fail(e.to_string()),
        }
    }
}

/// Performs the work due at `now`, most urgent first, as many passes as it takes for
/// work unblocked by earlier work (a post waiting for its thread) to run too. Work
/// whose Discord bucket is spent waits, untried, until the bucket resets.
///
/// Once `stop` is set (the process is shutting down) no further work is attempted:
/// what was attempted is settled, the rest stays queued, untried and unleased, for
/// whichever replica takes its lane next.
pub async fn drain(
    store: &dyn Store,
    discord: &dyn DiscordApi,
    graph: &dyn GraphApi,
    s: &Settings,
    now: Timestamp,
    stop: &AtomicBool,
) -> Result<Drained, StoreError> {
    let mut total = Drained::default();
    loop {
        // Asking for work would take more lanes, which a stopping process must not.
        if stop.load(Ordering::Relaxed) {
            return Ok(total);
        }
        let mut due = store.work_due(now, 256)?;
        if due.is_empty() {
            return Ok(total);
        }
        urgency::sort(store, s, &mut due, now)?;
        let mut seen = LookBack::default();
        let mut waiting: Vec<(Timestamp, i64)> = Vec::new();
        let mut progressed = false;
        let mut recovered = false;
        let mut down_until: Option<Timestamp> = None;
        for item in due {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let is_discord = !matches!(item.work, Work::GraphSend { .. });
            if let Some(until) = down_until.filter(|_| is_discord) {
                waiting.push((until, item.id));
                total.retried += 1;
                continue;
            }
            let settled = match attempt(store, discord, graph, s, &item, now, &mut seen).await {
                Ok(Some(Attempt::Wait { after })) => {
                    waiting.push((now + after, item.id));
                    total.retried += 1;
                    continue;
                }
                Ok(Some(down @ Attempt::DiscordDown(_))) => {
                    down_until = Some(now + DOWN_PROBE);
                    settle(store, &item, down, now)
                }
                Ok(Some(attempt)) => settle(store, &item, attempt, now),
                // Leased by an agent's command: theirs to perform.
                Ok(None) => continue,
                Err(e) => Err(e),
            };
            match settled {
                Ok(Settled::Done) => {
                    total.done += 1;
                    // Discord work that had been failing went through: Discord is
                    // back, and the rest of the backlog needn't wait out its backoff.
                    recovered |= item.attempts > 0 && !matches!(item.work, Work::GraphSend { .. });
                }
                Ok(Settled::Failed) => total.failed += 1,
                Ok(Settled::Retried) => {
                    total.retried += 1;
                    continue;
                }
                // One item's trouble with the store holds only its own lane: it is
                // tried again later, and the rest of the pass goes on.
                Err(e) => {
                    tracing::error!(id = item.id, %e, "work failed in the store; will retry");
                    store.work_retry(
                        item.id,
                        now + backoff(item.attempts, None),
                        &e.to_string(),
                    )?;
                    total.retried += 1;
                    continue;
                }
            }
            progressed = true;
        }
        if recovered && store.work_resume_discord(now)? > 0 {
            progressed = true;
        }
        // Deferred in one write per instant: a Monday backlog waits on one bucket.
        waiting.sort_unstable();
        for group in waiting.chunk_by(|a, b| a.0 == b.0) {
            let ids: Vec<i64> = group.iter().map(|(_, id)| *id).collect();
            store.work_defer(&ids, group[0].0)?;
        }
        if !progressed {
            return Ok(total);
        }
    }
}

/// One attempt at `item`; `None` if someone else holds it (an agent's command).
async fn attempt(
    store: &dyn Store,
    discord: &dyn DiscordApi,
    graph: &dyn GraphApi,
    s: &Settings,
    item: &QueuedWork,
    now: Timestamp,
    seen: &mut LookBack,
) -> Result<Option<Attempt>, StoreError> {
    if !matches!(item.work, Work::GraphSend { .. })
        && !store.lease_work(item.id, now, now + DISCORD_LEASE)?
    {
        return Ok(None);
    }
    Ok(Some(match &item.work {
        Work::GraphSend { interaction_id, .. } => {
            // An agent's command may be sending in this lane right now.
            if !store.lease_work(item.id, now, now + sends::ECHO_GRACE)? {
                return Ok(None);
            }
            sends::perform(store, graph, s, interaction_id, item.attempts, now).await?
        }
        Work::OpenThread { .. } => match discord_work(store, discord, s, item, seen).await? {
            Err(e) if e.status == 403 || e.status == 404 => {
                // Not transient, but fixable by a person: say so once, keep trying,
                // and the conversation appears once it is fixed.
                announce_blocked(store, s, &e, now)?;
                Attempt::Retry {
                    error: e.to_string(),
                    after: None,
                }
            }
            Ok(changes) => {
                if store.clear_problem(OPEN_THREAD)? {
                    tracing::info!("threads open again");
                }
                Attempt::Done(Box::new(changes))
            }
            other => other.into(),
        },
        _ => discord_work(store, discord, s, item, seen).await?.into(),
    }))
}

/// How an attempt left its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Done, its changes committed.
    Done,
    /// To be tried again after a backoff.
    Retried,
    /// Given up.
    Failed,
}

/// Records how an attempt at `item` ended: done with its changes, retried after a
/// backoff, or given up.
pub fn settle(
    store: &dyn Store,
    item: &QueuedWork,
    attempt: Attempt,
    now: Timestamp,
) -> Result<Settled, StoreError> {
    Ok(match attempt {
        Attempt::DiscordDown(error) => {
            retry(store, item, &error, now + backoff(item.attempts, None))?
        }
        Attempt::Done(changes) => {
            store.work_done(item.id, &changes)?;
            Settled::Done
        }
        Attempt::Retry { error, after } => {
            retry(store, item, &error, now + backoff(item.attempts, after))?
        }
        Attempt::Wait { after } => {
            store.work_defer(&[item.id], now + after)?;
            Settled::Retried
        }
        Attempt::Fail(error) => {
            tracing::error!(id = item.id, %error, work = ?item.work, "work refused; giving up");
            store.work_failed(item.id, &error)?;
            Settled::Failed
        }
    })
}

/// Schedules another attempt at `item` at `due`.
fn retry(
    store: &dyn Store,
    item: &QueuedWork,
    error: &str,
    due: Timestamp,
) -> Result<Settled, StoreError> {
    tracing::warn!(id = item.id, attempts = item.attempts + 1, %error, "work failed; will retry");
    store.work_retry(item.id, due, error)?;
    Ok(Settled::Retried)
}

/// The problem key for conversations whose threads can't be opened.
const OPEN_THREAD: &str = "open-thread";

/// A conversation's thread can't be opened for a reason a person must fix (403: a
/// missing permission; 404: the channel is gone): noted for `/status`, and said once in
/// the channel (which may fail too; the log has it then).
fn announce_blocked(
    store: &dyn Store,
    s: &Settings,
    e: &DiscordError,
    now: Timestamp,
) -> Result<(), StoreError> {
    let channel = s.channel_id;
    let text = match e.status {
        404 => format!(
            "tagdesk can't open conversation threads: the channel <#{channel}> doesn't exist \
             (Discord answered 404: {}). Set `discord.channel_id` to an existing channel \
             and restart tagdesk; waiting conversations then appear with every message, in order.",
            e.message
        ),
        _ => format!(
            "tagdesk can't open conversation threads in <#{channel}> (Discord answered {}: {}). \
             Give the bot's role {} on that channel; waiting conversations appear as soon as it \
             can, with every message, in order.",
            e.status,
            e.message,
            match s.layout {
                Layout::Threads =>
                    "View Channel, Send Messages, Create Public Threads and Send Messages in Threads",
                Layout::Forum { .. } => "View Channel, Create Posts and Send Messages in Posts",
            }
        ),
    };
    if !store.note_problem(OPEN_THREAD, &text, now)? {
        return Ok(());
    }
    tracing::error!("{text}");
    store.commit(&Changes {
        work: vec![NewWork {
            key: Some(format!("problem:{OPEN_THREAD}")),
            work: Work::Alert {
                post: Post {
                    embeds: vec![posts::entry(
                        None,
                        &format!("⚠️ {text}"),
                        Some("tagdesk needs a fix".into()),
                        now,
                        colour::NOTICE,
                    )],
                    ..Post::default()
                },
            },
            due: now,
        }],
        ..Changes::default()
    })
}

/// A nonce Discord deduplicates on: stable across retries and restarts, unique across
/// databases (their random instance name) and at most 25 characters (8 for the
/// instance, a dash, and the outbox id).
fn nonce(instance: &str, id: i64) -> String {
    format!("{instance}-{id}")
}

/// Performs Discord work; Graph sends are [`sends::perform`]'s.
async fn discord_work(
    store: &dyn Store,
    discord: &dyn DiscordApi,
    s: &Settings,
    item: &QueuedWork,
    seen: &mut LookBack,
) -> Result<Result<Changes, DiscordError>, StoreError> {
    let nonce = nonce(store.instance(), item.id);
    let mut changes = Changes::default();
    let result = match &item.work {
        Work::OpenThread { psid, name, post } if matches!(s.layout, Layout::Forum { .. }) => {
            forum::open(store, discord, seen, s, item, name, post)
                .await?
                .map(|discord_thread| {
                    changes.patches.push(ThreadPatch::Opened {
                        psid: psid.clone(),
                        discord_thread,
                    });
                    changes
                })
        }
        Work::OpenThread { psid, name, post } => {
            let starter = match item.progress {
                Some(id) => Ok(id),
                None => post_once(discord, seen, s.channel_id, post, &nonce, item.attempts).await,
            };
            match starter {
                Err(e) => Err(e),
                Ok(message) => {
                    store.work_progress(item.id, message)?;
                    let opened = discord
                        .perform(&Effect::StartThread {
                            channel: s.channel_id,
                            message,
                            name,
                        })
                        .await;
                    // Opened by an earlier attempt whose answer was lost: the thread's
                    // id is its starter message's, so it is known all the same.
                    let opened = match opened {
                        Err(e) if e.code == Some(THREAD_ALREADY_CREATED) => {
                            Ok(Performed::Thread(message))
                        }
                        other => other,
                    };
                    match opened {
                        Ok(p) => {
                            changes.patches.push(ThreadPatch::Opened {
                                psid: psid.clone(),
                                discord_thread: id_of(p),
                            });
                            Ok(changes)
                        }
                        Err(e) => Err(e),
                    }
                }
            }
        }
        Work::Post { psid, post } => match store.thread(psid)?.and_then(|t| t.discord_thread) {
            None => Err(waiting_for_thread()),
            Some(thread) => post_once(discord, seen, thread, post, &nonce, item.attempts)
                .await
                .map(|_| changes),
        },
        Work::EditThread {
            psid,
            name,
            archived,
        } => match store.thread(psid)?.and_then(|t| t.discord_thread) {
            None => Err(waiting_for_thread()),
            Some(thread) => discord
                .perform(&Effect::EditThread {
                    thread,
                    name: name.as_deref(),
                    archived: *archived,
                })
                .await
                .map(|_| changes),
        },
        Work::Alert { post } => post_once(
            discord,
            seen,
            s.alert_channel(),
            post,
            &nonce,
            item.attempts,
        )
        .await
        .map(|_| changes),
        Work::GraphSend { .. } => Err(DiscordError {
            status: 400,
            code: None,
            message: "a Graph send is not Discord work".into(),
            retry_after: None,
        }),
    };
    Ok(result)
}

/// How many recent messages a retried post is looked for among.
const LOOK_BACK: u8 = 50;

/// What a pass read of Discord to find what earlier attempts made: the recent messages
/// of each channel, and the guild's active threads (forum posts), each read once per
/// pass: a backlog of retried posts costs one read, not one each. A pass's own posts
/// needn't be in them: each item looks only for its own earlier attempts, made in
/// earlier passes. A read that failed for now fails the pass's other items that needed
/// it too, without asking again.
#[derive(Default)]
pub(crate) struct LookBack {
    channels: std::collections::HashMap<u64, Result<Vec<serde_json::Value>, DiscordError>>,
    active_threads: Option<Result<Vec<serde_json::Value>, DiscordError>>,
}

impl LookBack {
    /// The guild's active threads, read at the pass's first need.
    pub(crate) async fn active_threads(
        &mut self,
        discord: &dyn DiscordApi,
        guild: u64,
    ) -> Result<&[serde_json::Value], DiscordError> {
        if self.active_threads.is_none() {
            self.active_threads = Some(discord.active_threads(guild).await);
        }
        match self.active_threads.as_ref().expect("just read") {
            Ok(active) => Ok(active),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Posts `post` in `channel`, once. The nonce makes a retry within minutes return the
/// first message; but Discord forgets nonces after a few minutes, so a post whose
/// earlier attempt failed (its answer may have been lost, and an outage may have lasted
/// longer than that) is first looked for among the channel's recent messages.
async fn post_once(
    discord: &dyn DiscordApi,
    seen: &mut LookBack,
    channel: u64,
    post: &Post,
    nonce: &str,
    attempts: u32,
) -> Result<u64, DiscordError> {
    if attempts > 0 {
        if let std::collections::hash_map::Entry::Vacant(slot) = seen.channels.entry(channel) {
            let recent = match discord.recent_messages(channel, LOOK_BACK).await {
                Ok(recent) => Ok(recent),
                Err(e) if e.is_transient() => Err(e),
                // Can't read the channel (no Read Message History): the nonce is all
                // there is.
                Err(e) => {
                    tracing::warn!(%e, channel, "can't read recent messages before posting again");
                    Ok(Vec::new())
                }
            };
            slot.insert(recent);
        }
        let recent = match &seen.channels[&channel] {
            Ok(recent) => recent,
            Err(e) => return Err(e.clone()),
        };
        let found = recent
            .iter()
            .find(|m| crate::discord::is_post(m, post))
            .and_then(|m| m["id"].as_str()?.parse().ok());
        if let Some(id) = found {
            return Ok(id);
        }
    }
    discord
        .perform(&Effect::SendMessage {
            channel,
            post,
            nonce,
        })
        .await
        .map(id_of)
}

fn id_of(p: Performed) -> u64 {
    match p {
        Performed::Message(id) | Performed::Thread(id) => id,
        Performed::Edited => 0,
    }
}

/// Work in a lane whose thread isn't open yet: the opening failed for good or is
/// itself retrying. Treated as transient.
fn waiting_for_thread() -> DiscordError {
    DiscordError {
        status: 0,
        code: Some(NOT_OPEN_YET),
        message: "the conversation's Discord thread isn't open yet".into(),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_fit_discords_limit_and_name_their_database() {
        let n = nonce("k3j9x2ab", i64::from(u32::MAX) * 1000);
        assert!(n.len() <= 25, "{n}");
        assert_ne!(nonce("k3j9x2ab", 1), nonce("0z0z0z0z", 1));
    }

    #[test]
    fn backoff_doubles_to_five_minutes_and_honours_retry_after() {
        let secs = |n| backoff(n, None).as_secs();
        assert_eq!(
            [secs(0), secs(1), secs(2), secs(8), secs(20)],
            [1, 2, 4, 256, 300]
        );
        let wait = Some(SignedDuration::from_secs(30));
        assert_eq!(backoff(0, wait).as_secs(), 30);
    }
}
