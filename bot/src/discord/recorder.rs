//! An in-process Discord for the scenario runner, training and tests.
//!
//! It answers like Discord's REST API for the calls the bot makes (ids, nonce
//! deduplication, threads started from messages) and records each call with the exact
//! JSON production would send. Outages and rate limits can be switched on, to show that
//! the outbox loses nothing and posts nothing twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use serde_json::Value;

use super::ratelimit::{Buckets, Limits, RateLimit, Route};
use super::{
    render, BoxFuture, DiscordApi, DiscordError, Effect, Performed, THREAD_ALREADY_CREATED,
};

/// The first id the recorder hands out; ids then count up, so runs are reproducible.
const FIRST_ID: u64 = 1_300_000_000_000_000_000;

/// One call as it reached "Discord".
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `POST`, `PATCH`.
    pub method: &'static str,
    /// The REST path, e.g. `/api/v10/channels/123/messages`.
    pub path: String,
    /// The JSON body.
    pub body: Value,
    /// What the recorder answered: `Ok(id)` or the HTTP status of a failure.
    pub outcome: Result<u64, u16>,
    /// When, by the clock the recorder was given (nonce memory or rate limits).
    pub at: Option<jiff::Timestamp>,
}

/// A message as it now stands in "Discord".
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its id.
    pub id: u64,
    /// The channel or thread it is in.
    pub channel: u64,
    /// The body it was posted with.
    pub body: Value,
}

/// A thread as it now stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// Its id (the starter message's).
    pub id: u64,
    /// The parent channel.
    pub parent: u64,
    /// Its current name.
    pub name: String,
    /// Whether it is archived.
    pub archived: bool,
}

/// How long the recorder, like Discord, honours a nonce.
#[derive(Clone)]
struct NonceMemory {
    clock: Arc<dyn crate::clock::Clock>,
    keep: SignedDuration,
}

impl std::fmt::Debug for NonceMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NonceMemory({})", self.keep)
    }
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    calls: Vec<Call>,
    messages: Vec<Message>,
    /// Nonces Discord still remembers: the message they made, and when.
    by_nonce: HashMap<String, (u64, Option<jiff::Timestamp>)>,
    /// The clock nonces age by, and how long Discord remembers one; without it, for
    /// ever.
    nonce_memory: Option<NonceMemory>,
    threads: HashMap<u64, Thread>,
    /// Channels that are forums: they take posts (threads), not messages.
    forums: std::collections::HashSet<u64>,
    outage: bool,
    no_thread_permission: bool,
    rate_limited: u32,
    lost_answers: u32,
    /// Discord's rate limits, enforced on the clock's time, when switched on.
    limits: Option<Enforced>,
}

/// Rate limits being enforced: the limits, the clock they run on, the buckets' use,
/// and what the last answer on each bucket announced.
struct Enforced {
    limits: Limits,
    clock: Arc<dyn crate::clock::Clock>,
    buckets: Buckets,
    announced: HashMap<Option<Route>, RateLimit>,
}

impl std::fmt::Debug for Enforced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Enforced({:?})", self.limits)
    }
}

/// The in-process Discord. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<State>>);

impl Recorder {
    /// An empty Discord.
    pub fn new() -> Self {
        Recorder::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// While on, every call fails with 503, as in an outage.
    pub fn set_outage(&self, on: bool) {
        self.state().outage = on;
    }

    /// Makes `channel` a forum channel: conversations open as posts in it, and a
    /// message posted to it directly is refused, as on Discord.
    pub fn set_forum(&self, channel: u64) {
        self.state().forums.insert(channel);
    }

    /// While on, starting a thread fails with 403 Missing Permissions, as when the bot's
    /// role lacks Create Public Threads.
    pub fn set_thread_permission_missing(&self, on: bool) {
        self.state().no_thread_permission = on;
    }

    /// Discord honours a nonce only for a few minutes: from now on, a nonce older than
    /// `memory` by `clock` posts again, as on Discord.
    pub fn forget_nonces_after(&self, clock: Arc<dyn crate::clock::Clock>, memory: SignedDuration) {
        self.state().nonce_memory = Some(NonceMemory {
            clock,
            keep: memory,
        });
    }

    /// From now on, Discord's rate limits are enforced on `clock`'s time: calls past a
    /// bucket's limit get 429 with `retry_after` and the bucket's scope, and invalid
    /// requests are counted (too many and every call is refused for an hour).
    pub fn enforce_limits(&self, limits: Limits, clock: Arc<dyn crate::clock::Clock>) {
        self.state().limits = Some(Enforced {
            limits,
            clock,
            buckets: Buckets::default(),
            announced: HashMap::new(),
        });
    }

    /// Invalid requests (401, 403, 429) so far, when limits are enforced.
    pub fn invalid_requests(&self) -> u64 {
        self.state()
            .limits
            .as_ref()
            .map_or(0, |e| e.buckets.invalid_total())
    }

    /// The next `n` calls get 429 with a one-second `Retry-After`.
    pub fn rate_limit_next(&self, n: u32) {
        self.state().rate_limited = n;
    }

    /// The next `n` calls take effect but their answers are lost (502), as when a
    /// connection drops or the bot crashes mid-call.
    pub fn drop_answers_next(&self, n: u32) {
        self.state().lost_answers = n;
    }

    /// Every call so far, failed ones included.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Calls after the first `n`, without copying the rest.
    pub fn calls_since(&self, n: usize) -> Vec<Call> {
        let s = self.state();
        s.calls[n.min(s.calls.len())..].to_vec()
    }

    /// How many calls reached Discord (failed ones included).
    pub fn call_count(&self) -> usize {
        self.state().calls.len()
    }

    /// Every message posted, in order.
    pub fn messages(&self) -> Vec<Message> {
        self.state().messages.clone()
    }

    /// Messages posted in one channel or thread.
    pub fn messages_in(&self, channel: u64) -> Vec<Message> {
        let s = self.state();
        s.messages
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }

    /// Every thread, by id.
    pub fn threads(&self) -> Vec<Thread> {
        let s = self.state();
        let mut v: Vec<Thread> = s.threads.values().cloned().collect();
        v.sort_by_key(|t| t.id);
        v
    }

    /// One thread.
    pub fn thread(&self, id: u64) -> Option<Thread> {
        self.state().threads.get(&id).cloned()
    }
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id = self.next_id.max(FIRST_ID) + 1;
        self.next_id
    }

    fn refuse(&mut self) -> Option<DiscordError> {
        if self.outage {
            return Some(DiscordError {
                status: 503,
                code: None,
                message: "Service Unavailable".into(),
                retry_after: None,
            });
        }
        if self.rate_limited > 0 {
            self.rate_limited -= 1;
            return Some(DiscordError {
                status: 429,
                code: Some(0),
                message: "You are being rate limited.".into(),
                retry_after: Some(SignedDuration::from_secs(1)),
            });
        }
        None
    }

    /// Now, by whichever clock the recorder was given.
    fn now(&self) -> Option<jiff::Timestamp> {
        self.limits
            .as_ref()
            .map(|e| e.clock.now())
            .or_else(|| self.nonce_memory.as_ref().map(|m| m.clock.now()))
    }

    /// Counts a call against the rate limits, if enforced: a 429 if it is past one.
    fn admit(&mut self, route: Option<Route>) -> Option<DiscordError> {
        let e = self.limits.as_mut()?;
        let now = e.clock.now();
        let result = e.buckets.admit(&e.limits, route, now);
        e.announced
            .insert(None, e.buckets.global_left(&e.limits, now));
        match result {
            Ok(announced) => {
                if let Some(l) = announced {
                    e.announced.insert(route, l);
                }
                None
            }
            Err(refused) => {
                let retry_after = refused.limit.reset_after;
                if refused.limit.global {
                    e.announced.insert(None, refused.limit.clone());
                }
                e.announced.insert(route, refused.limit);
                Some(DiscordError {
                    status: 429,
                    code: (!refused.banned).then_some(0),
                    message: if refused.banned {
                        "You are being blocked from accessing our API temporarily due to \
                         exceeding our rate limits frequently."
                            .into()
                    } else {
                        "You are being rate limited.".into()
                    },
                    retry_after: Some(retry_after),
                })
            }
        }
    }

    fn perform(&mut self, effect: &Effect<'_>) -> (Call, Result<Performed, DiscordError>) {
        let (method, path, body) = describe(effect);
        // Answers to interactions are limited per interaction token, not by the bot's
        // buckets, and Discord exempts them from the global limit.
        let interaction = matches!(
            effect,
            Effect::EditOriginal { .. } | Effect::FollowUp { .. }
        );
        let limited = if interaction {
            None
        } else {
            self.admit(Route::of(effect))
        };
        let refused = match limited {
            Some(e) => Some(e),
            None => self.refuse(),
        };
        let result = match refused {
            Some(e) => Err(e),
            None => self.apply(effect, &body).and_then(|done| {
                if self.lost_answers == 0 {
                    return Ok(done);
                }
                self.lost_answers -= 1;
                Err(DiscordError {
                    status: 502,
                    code: None,
                    message: "Bad Gateway (the call took effect)".into(),
                    retry_after: None,
                })
            }),
        };
        let outcome = match &result {
            Ok(Performed::Message(id) | Performed::Thread(id)) => Ok(*id),
            Ok(Performed::Edited) => Ok(0),
            Err(e) => Err(e.status),
        };
        let call = Call {
            method,
            path,
            body,
            outcome,
            at: self.now(),
        };
        (call, result)
    }

    /// 403 Missing Permissions, counted as an invalid request.
    fn missing_permissions(&mut self) -> DiscordError {
        if let Some(e) = self.limits.as_mut() {
            let now = e.clock.now();
            e.buckets.invalid_request(&e.limits, now);
        }
        DiscordError {
            status: 403,
            code: Some(50013),
            message: "Missing Permissions".into(),
            retry_after: None,
        }
    }

    fn apply(&mut self, effect: &Effect<'_>, body: &Value) -> Result<Performed, DiscordError> {
        let not_found = |what: &str| DiscordError {
            status: 404,
            code: Some(10003),
            message: format!("Unknown {what}"),
            retry_after: None,
        };
        let wrong_kind = || DiscordError {
            status: 400,
            code: Some(50024),
            message: "Cannot execute action on this channel type".into(),
            retry_after: None,
        };
        match *effect {
            Effect::SendMessage { channel, .. } | Effect::StartThread { channel, .. }
                if self.forums.contains(&channel) =>
            {
                Err(wrong_kind())
            }
            Effect::CreateForumPost { forum, .. } if !self.forums.contains(&forum) => {
                Err(wrong_kind())
            }
            Effect::CreateForumPost { forum, name, .. } => {
                if self.no_thread_permission {
                    return Err(self.missing_permissions());
                }
                // The post's thread and its first message share one id, as on Discord.
                let id = self.id();
                self.threads.insert(
                    id,
                    Thread {
                        id,
                        parent: forum,
                        name: name.to_owned(),
                        archived: false,
                    },
                );
                self.messages.push(Message {
                    id,
                    channel: id,
                    body: body["message"].clone(),
                });
                Ok(Performed::Thread(id))
            }
            Effect::SendMessage { channel, nonce, .. } => {
                let now = self.nonce_memory.as_ref().map(|m| m.clock.now());
                let remembered = |at: Option<jiff::Timestamp>| match (&self.nonce_memory, at, now) {
                    (Some(m), Some(at), Some(now)) => now.duration_since(at) < m.keep,
                    _ => true,
                };
                if let Some(&(id, at)) = self.by_nonce.get(nonce) {
                    if remembered(at) {
                        return Ok(Performed::Message(id));
                    }
                }
                let id = self.id();
                self.by_nonce.insert(nonce.to_owned(), (id, now));
                if let Some(t) = self.threads.get_mut(&channel) {
                    // Posting in an archived thread unarchives it, as on Discord.
                    t.archived = false;
                }
                self.messages.push(Message {
                    id,
                    channel,
                    body: body.clone(),
                });
                Ok(Performed::Message(id))
            }
            Effect::StartThread {
                channel,
                message,
                name,
            } => {
                if self.no_thread_permission {
                    return Err(self.missing_permissions());
                }
                // The starter is a recent message: looked for from the newest.
                if !self.messages.iter().rev().any(|m| m.id == message) {
                    return Err(not_found("Message"));
                }
                if self.threads.contains_key(&message) {
                    return Err(DiscordError {
                        status: 400,
                        code: Some(THREAD_ALREADY_CREATED),
                        message: "A thread has already been created for this message".into(),
                        retry_after: None,
                    });
                }
                self.threads.insert(
                    message,
                    Thread {
                        id: message,
                        parent: channel,
                        name: name.to_owned(),
                        archived: false,
                    },
                );
                Ok(Performed::Thread(message))
            }
            Effect::EditThread {
                thread,
                name,
                archived,
            } => {
                let t = self
                    .threads
                    .get_mut(&thread)
                    .ok_or_else(|| not_found("Channel"))?;
                if let Some(name) = name {
                    t.name = name.to_owned();
                }
                if let Some(archived) = archived {
                    t.archived = archived;
                }
                Ok(Performed::Edited)
            }
            // Interaction answers are recorded as calls; they aren't channel messages.
            Effect::EditOriginal { .. } => Ok(Performed::Edited),
            Effect::FollowUp { .. } => Ok(Performed::Message(self.id())),
        }
    }
}

/// The method, path and body production would send.
fn describe(effect: &Effect<'_>) -> (&'static str, String, Value) {
    match *effect {
        Effect::SendMessage {
            channel,
            post,
            nonce,
        } => (
            "POST",
            format!("/api/v10/channels/{channel}/messages"),
            render::message_body(post, nonce),
        ),
        Effect::StartThread {
            channel,
            message,
            name,
        } => (
            "POST",
            format!("/api/v10/channels/{channel}/messages/{message}/threads"),
            render::start_thread_body(name),
        ),
        Effect::CreateForumPost { forum, name, post } => (
            "POST",
            format!("/api/v10/channels/{forum}/threads"),
            render::forum_post_body(name, post),
        ),
        Effect::EditThread {
            thread,
            name,
            archived,
        } => (
            "PATCH",
            format!("/api/v10/channels/{thread}"),
            render::edit_thread_body(name, archived),
        ),
        Effect::EditOriginal {
            application_id,
            token,
            message,
        } => (
            "PATCH",
            format!("/api/v10/webhooks/{application_id}/{token}/messages/@original"),
            render::edit_original_body(message),
        ),
        Effect::FollowUp {
            application_id,
            token,
            message,
        } => (
            "POST",
            format!("/api/v10/webhooks/{application_id}/{token}"),
            render::follow_up_body(message),
        ),
    }
}

impl DiscordApi for Recorder {
    fn perform<'a>(
        &'a self,
        effect: &'a Effect<'a>,
    ) -> BoxFuture<'a, Result<Performed, DiscordError>> {
        let mut s = self.state();
        let (call, result) = s.perform(effect);
        s.calls.push(call);
        drop(s);
        Box::pin(std::future::ready(result))
    }

    fn recent_messages(
        &self,
        channel: u64,
        limit: u8,
    ) -> BoxFuture<'_, Result<Vec<Value>, DiscordError>> {
        let mut s = self.state();
        let refused = match s.admit(None) {
            Some(e) => Some(e),
            None => s.refuse(),
        };
        let result = match refused {
            Some(e) => Err(e),
            None => Ok(s
                .messages
                .iter()
                .rev()
                .filter(|m| m.channel == channel)
                .take(usize::from(limit))
                .map(|m| {
                    let mut v = m.body.clone();
                    v["id"] = Value::String(m.id.to_string());
                    v
                })
                .collect()),
        };
        let at = s.now();
        s.calls.push(Call {
            method: "GET",
            path: format!("/api/v10/channels/{channel}/messages?limit={limit}"),
            body: Value::Null,
            outcome: result.as_ref().map(|_| 0).map_err(|e| e.status),
            at,
        });
        drop(s);
        Box::pin(std::future::ready(result))
    }

    fn active_threads(&self, guild: u64) -> BoxFuture<'_, Result<Vec<Value>, DiscordError>> {
        let mut s = self.state();
        let refused = match s.admit(None) {
            Some(e) => Some(e),
            None => s.refuse(),
        };
        let result = match refused {
            Some(e) => Err(e),
            None => {
                let mut active: Vec<&Thread> = s.threads.values().filter(|t| !t.archived).collect();
                active.sort_by_key(|t| t.id);
                Ok(active
                    .into_iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id.to_string(),
                            "type": 11,
                            "guild_id": guild.to_string(),
                            "parent_id": t.parent.to_string(),
                            "name": t.name,
                            "thread_metadata": {"archived": false},
                        })
                    })
                    .collect())
            }
        };
        let at = s.now();
        s.calls.push(Call {
            method: "GET",
            path: format!("/api/v10/guilds/{guild}/threads/active"),
            body: Value::Null,
            outcome: result.as_ref().map(|_| 0).map_err(|e| e.status),
            at,
        });
        drop(s);
        Box::pin(std::future::ready(result))
    }

    fn rate_limit(&self, route: Option<Route>) -> Option<RateLimit> {
        let s = self.state();
        let e = s.limits.as_ref()?;
        e.announced.get(&route).cloned()
    }
}
