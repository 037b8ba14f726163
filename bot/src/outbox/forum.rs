//! Opening a conversation as a forum post: one call makes the post, its thread and
//! its first message, where thread layout takes two (a post in the channel, then a
//! thread from it).
//!
//! Thread layout is safe to repeat because its first call carries a nonce and its
//! second is keyed by the first's message id. Discord takes no nonce for a forum
//! post, so safety comes from the store instead: before the call the work is marked
//! as asked (which also freezes its name and first message), and an attempt that
//! finds the mark first looks for the post among the forum's active threads. It only
//! costs that look on the rare retry (a crash or a lost answer mid-call, or an outage)
//! and the look is shared: one read per outbox pass serves every post being retried.
//! A call Discord refused (a 4xx, or held back by the pacer before it left) made
//! nothing, so it leaves no mark: a backlog waiting on a spent bucket doesn't look.

use super::LookBack;
use crate::discord::{is_post, DiscordApi, DiscordError, Effect, Performed, Post};
use crate::settings::Settings;
use crate::store::{QueuedWork, Store, StoreError};

/// The progress mark of a forum post that Discord was asked to create.
const ASKED: u64 = 0;

/// Opens the conversation of `item` as a post named `name` whose first message is
/// `post`, or finds the one an earlier attempt made. The post's id is its thread's.
pub(crate) async fn open(
    store: &dyn Store,
    discord: &dyn DiscordApi,
    seen: &mut LookBack,
    s: &Settings,
    item: &QueuedWork,
    name: &str,
    post: &Post,
) -> Result<Result<u64, DiscordError>, StoreError> {
    if item.progress.is_some() {
        match made_earlier(store, discord, seen, s, name, post).await? {
            Ok(Some(id)) => {
                tracing::info!(thread = id, %name, "forum post made by an earlier attempt, adopted");
                return Ok(Ok(id));
            }
            // Read after the earlier attempt, and it isn't there: that attempt made
            // nothing. The mark stays for the call about to be made.
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
    } else {
        store.work_progress(item.id, ASKED)?;
    }
    let made = discord
        .perform(&Effect::CreateForumPost {
            forum: s.channel_id,
            name,
            post,
        })
        .await;
    if made.as_ref().is_err_and(DiscordError::refused) {
        // Nothing was made (most often a spent bucket, held back by the pacer before
        // the call left): the next attempt has nothing to look for. Left marked, every
        // attempt behind a spent bucket would pay a read of the active threads first.
        store.work_progress_undone(item.id)?;
    }
    Ok(made.map(|p| match p {
        Performed::Message(id) | Performed::Thread(id) => id,
        Performed::Edited => 0,
    }))
}

/// The forum post an earlier attempt made, if it went through: an active thread of
/// the forum with this name that no conversation owns. Where several match (two
/// customers of one name, both mid-opening), the one whose first message is `post`.
async fn made_earlier(
    store: &dyn Store,
    discord: &dyn DiscordApi,
    seen: &mut LookBack,
    s: &Settings,
    name: &str,
    post: &Post,
) -> Result<Result<Option<u64>, DiscordError>, StoreError> {
    let active = match seen.active_threads(discord, s.guild_id).await {
        Ok(active) => active,
        Err(e) => return Ok(Err(e)),
    };
    let id = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<u64>().ok());
    let mut candidates = Vec::new();
    for t in active {
        let Some(thread) = id(&t["id"]) else { continue };
        if id(&t["parent_id"]) == Some(s.channel_id)
            && t["name"].as_str() == Some(name)
            && store.thread_by_discord(thread)?.is_none()
        {
            candidates.push(thread);
        }
    }
    if candidates.len() <= 1 {
        return Ok(Ok(candidates.first().copied()));
    }
    for thread in candidates {
        // Nobody posts in a post no conversation owns: its only message is the first.
        match discord.recent_messages(thread, 1).await {
            Ok(first) if first.first().is_some_and(|m| is_post(m, post)) => {
                return Ok(Ok(Some(thread)))
            }
            Ok(_) => {}
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(None))
}
