//! Discord, as the bot uses it: a handful of effects behind one interface.
//!
//! [`DiscordApi`] has two implementations: [`serenity_http::SerenityDiscord`] (serenity's
//! `Http`, for production) and [`recorder::Recorder`] (in-process, for the scenario
//! runner, training and tests). The mirror only ever builds [`Effect`]s, so both see
//! exactly the same calls.

pub mod deadline;
pub mod pacing;
pub mod ratelimit;
pub mod recorder;
pub mod render;
pub mod serenity_http;

use std::future::Future;
use std::pin::Pin;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

/// A boxed future, so [`DiscordApi`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message the bot posts: text, embeds, and exactly who may be pinged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Plain text (pings go here).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// Rich cards, at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Embed>,
    /// Users this post may ping; nobody else is, whatever the text says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ping_users: Vec<u64>,
    /// Roles this post may ping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ping_roles: Vec<u64>,
    /// A "Reply" button under the post, opening a reply form for this customer (PSID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// One embed: a customer message, a note, an alert line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Embed {
    /// A title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The author line (the customer's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The author's avatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_icon: Option<String>,
    /// The body.
    pub description: String,
    /// A footer (what kind of event, which app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// When it happened, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The side colour.
    #[serde(default)]
    pub color: u32,
}

/// One call to Discord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect<'a> {
    /// `POST /channels/{channel}/messages`, deduplicated by `nonce`.
    SendMessage {
        /// The channel or thread.
        channel: u64,
        /// What to post.
        post: &'a Post,
        /// Discord refuses a second message with the same nonce (`enforce_nonce`).
        nonce: &'a str,
    },
    /// `POST /channels/{channel}/messages/{message}/threads`: the thread's id is the
    /// message's, which makes opening it idempotent.
    StartThread {
        /// The parent channel.
        channel: u64,
        /// The starter message.
        message: u64,
        /// The thread's name.
        name: &'a str,
    },
    /// `POST /channels/{forum}/threads`: a forum post, its thread and first message in
    /// one call. Discord takes no nonce here, so the outbox makes it safe to repeat
    /// (see `outbox::forum`).
    CreateForumPost {
        /// The forum channel.
        forum: u64,
        /// The post's (thread's) name.
        name: &'a str,
        /// Its first message.
        post: &'a Post,
    },
    /// `PATCH /channels/{thread}`: rename, archive or unarchive.
    EditThread {
        /// The thread.
        thread: u64,
        /// A new name.
        name: Option<&'a str>,
        /// Archive (close) or unarchive.
        archived: Option<bool>,
    },
    /// `PATCH /webhooks/{application_id}/{token}/messages/@original`: the answer to a
    /// deferred interaction, in place of its "thinking…" (or of the message a button
    /// was on, after a deferred update).
    EditOriginal {
        /// The application the interaction was for.
        application_id: u64,
        /// The interaction's token (valid for 15 minutes).
        token: &'a str,
        /// The message, as an interaction response's `data`.
        message: &'a serde_json::Value,
    },
    /// `POST /webhooks/{application_id}/{token}`: a follow-up message to an interaction
    /// (a new message, after a deferred update whose answer isn't an update).
    FollowUp {
        /// The application the interaction was for.
        application_id: u64,
        /// The interaction's token (valid for 15 minutes).
        token: &'a str,
        /// The message, as an interaction response's `data` (its flags are kept).
        message: &'a serde_json::Value,
    },
}

/// What a successful call produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Performed {
    /// A message was posted (or had been: same nonce).
    Message(u64),
    /// A thread exists with this id.
    Thread(u64),
    /// An edit went through.
    Edited,
}

/// Discord's JSON error code for "a thread has already been created for this message".
pub const THREAD_ALREADY_CREATED: i64 = 160004;

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(self))]
pub struct DiscordError {
    /// The HTTP status; 0 when Discord couldn't be reached.
    pub status: u16,
    /// Discord's JSON error code, if any.
    pub code: Option<i64>,
    /// Discord's message.
    pub message: String,
    /// How long Discord asked us to wait (429).
    pub retry_after: Option<SignedDuration>,
}

fn describe(e: &DiscordError) -> String {
    match e.status {
        0 => format!("Discord unreachable: {}", e.message),
        status => format!("Discord answered {status}: {}", e.message),
    }
}

impl DiscordError {
    /// Worth retrying: unreachable, rate-limited, or a server error.
    pub fn is_transient(&self) -> bool {
        self.status == 0 || self.status == 429 || self.status >= 500
    }

    /// Discord answered and did not act: a 4xx, 429s included (and the pacer's own
    /// holds, which never reach Discord). Unlike a 5xx or no answer, which leave it
    /// unknown whether the call took effect.
    pub fn refused(&self) -> bool {
        (400..500).contains(&self.status)
    }
}

/// Everything the bot does to Discord.
pub trait DiscordApi: Send + Sync + 'static {
    /// Performs one call.
    fn perform<'a>(
        &'a self,
        effect: &'a Effect<'a>,
    ) -> BoxFuture<'a, Result<Performed, DiscordError>>;

    /// The last `limit` messages of a channel or thread, newest first, as Discord's
    /// JSON: how the outbox checks what was already posted before posting again after
    /// Discord may have forgotten a nonce.
    fn recent_messages(
        &self,
        channel: u64,
        limit: u8,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>>;

    /// `GET /guilds/{guild}/threads/active`: the guild's active threads (forum posts
    /// included) as Discord's JSON channel objects: how a forum post whose creation
    /// may have gone through is found before creating it again.
    fn active_threads(
        &self,
        guild: u64,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>>;

    /// What Discord's rate-limit headers (or 429 body) said with the last answer on
    /// `route` (`None`: the global limit), for a client that paces itself
    /// ([`pacing::Paced`]). `None` where something else already paces the calls
    /// (serenity's own limiter).
    fn rate_limit(&self, _route: Option<ratelimit::Route>) -> Option<ratelimit::RateLimit> {
        None
    }
}

/// Whether `posted` (a message as Discord returns it) is `post`: the same content and
/// the same embeds (text, footer, and the instant each line happened), in order.
pub fn is_post(posted: &serde_json::Value, post: &Post) -> bool {
    let instant = |v: Option<&str>| v.and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let embeds = posted["embeds"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    posted["content"].as_str().unwrap_or_default() == post.content
        && embeds.len() == post.embeds.len()
        && embeds.iter().zip(&post.embeds).all(|(got, want)| {
            got["description"].as_str() == Some(want.description.as_str())
                && got["footer"]["text"].as_str() == want.footer.as_deref()
                && instant(got["timestamp"].as_str()) == instant(want.timestamp.as_deref())
        })
}
