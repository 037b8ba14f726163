//! Meta's Graph API, as the bot uses it: profiles and the Send API.
//!
//! [`GraphApi`] is the seam; [`HttpGraph`] talks to graph.facebook.com or to
//! mock-graph, which answers the same URLs.

use std::time::Duration;

use jiff::Timestamp;
use messenger::meta_error::MetaError;
use messenger::timefmt::parse_graph_time;
use messenger::wire::{
    Conversation, ConversationList, ErrorEnvelope, GraphError, MessageDetail, SendRequest,
    SendResponse, UserProfile,
};

use crate::config::Secret;
use crate::discord::BoxFuture;

/// A failed Graph call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphFailure {
    /// Meta answered with an error.
    #[error("Meta refused: {}", .0.message)]
    Meta(GraphError),
    /// Meta couldn't be reached, timed out, or answered 5xx without an error body.
    #[error("Graph API unavailable: {0}")]
    Unavailable(String),
}

impl GraphFailure {
    /// The Meta error, recognised.
    pub fn meta(&self) -> Option<MetaError> {
        match self {
            GraphFailure::Meta(e) => Some(MetaError::classify(e)),
            GraphFailure::Unavailable(_) => None,
        }
    }

    /// Worth retrying later: an outage, a 5xx, a rate limit, or an error Meta marks
    /// transient.
    pub fn is_transient(&self) -> bool {
        match self {
            GraphFailure::Unavailable(_) => true,
            GraphFailure::Meta(e) => {
                let known = MetaError::classify(e);
                // A policy answer is final whatever else the envelope says: retrying a
                // tag-spam warning is what turns it into a restriction.
                let policy = matches!(
                    known,
                    MetaError::TagSpamWarning
                        | MetaError::PageRestricted
                        | MetaError::OutsideWindow
                        | MetaError::Abusive
                );
                !policy && (e.is_transient == Some(true) || known.is_transient())
            }
        }
    }
}

/// What the bot asks of the Graph API.
pub trait GraphApi: Send + Sync + 'static {
    /// `GET /{psid}?fields=first_name,last_name,profile_pic`.
    fn profile<'a>(&'a self, psid: &'a str) -> BoxFuture<'a, Result<UserProfile, GraphFailure>>;

    /// `POST /me/messages`.
    fn send<'a>(
        &'a self,
        request: &'a SendRequest,
    ) -> BoxFuture<'a, Result<SendResponse, GraphFailure>>;

    /// `GET /{path}`, where `path` is relative to the version and may carry a query:
    /// the reading endpoints (conversations, messages).
    fn get<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<serde_json::Value, GraphFailure>>;
}

/// What a look for a send in the conversation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// It is there, with Meta's id: it went through.
    Found(String),
    /// The conversation is visible back to before the send and it isn't there: it
    /// didn't go through, and sending it now makes no copy.
    Absent,
    /// Too many messages since the send to see that far back (the Conversations API
    /// shows the 20 most recent in detail): nobody can tell.
    Unknown,
}

/// How many recent messages the Conversations API shows in detail.
const VISIBLE: usize = 20;

/// Looks for a message the page sent to `psid` with exactly `text`, created at or
/// after `since`, whose id `known` doesn't already account for (another send of the
/// same text, an echo already stored). The oldest such message is taken: of two sends
/// with one text, the earlier was approved first.
///
/// This settles a send whose answer was lost (a timeout, a crash mid-call) without
/// waiting for its echo, which Meta may deliver minutes late.
pub async fn find_sent(
    graph: &dyn GraphApi,
    psid: &str,
    text: &str,
    since: Timestamp,
    known: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Lookup, GraphFailure> {
    let list: ConversationList = read(
        graph
            .get(&format!(
                "me/conversations?platform=messenger&user_id={psid}"
            ))
            .await?,
    )?;
    let Some(conversation) = list.data.first() else {
        return Ok(Lookup::Absent);
    };
    let convo: Conversation = read(
        graph
            .get(&format!("{}?fields=messages", conversation.id))
            .await?,
    )?;
    let messages = convo.messages.map(|l| l.data).unwrap_or_default();
    // Graph times have whole seconds.
    let since = since - jiff::SignedDuration::from_secs(1);
    let newer: Vec<_> = messages
        .iter()
        .filter(|m| parse_graph_time(&m.created_time).is_none_or(|at| at >= since))
        .collect();
    // Newest first: look from the oldest candidate up.
    for m in newer.iter().rev() {
        if known(&m.id) {
            continue;
        }
        let detail: MessageDetail = read(
            graph
                .get(&format!("{}?fields=id,created_time,from,to,message", m.id))
                .await?,
        )?;
        let from_page = detail.from.as_ref().is_some_and(|f| f.id != psid);
        if from_page && detail.message.as_deref() == Some(text) {
            return Ok(Lookup::Found(detail.id));
        }
    }
    // Every visible message is newer than the send: it may be further back.
    if newer.len() >= VISIBLE && newer.len() == messages.len() {
        return Ok(Lookup::Unknown);
    }
    Ok(Lookup::Absent)
}

fn read<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, GraphFailure> {
    serde_json::from_value(v)
        .map_err(|e| GraphFailure::Unavailable(format!("unreadable answer: {e}")))
}

/// The Graph API over HTTP.
#[derive(Clone)]
pub struct HttpGraph {
    client: reqwest::Client,
    base: String,
    token: Secret,
}

impl HttpGraph {
    /// A client for `base` (e.g. `https://graph.facebook.com`) at `version`.
    pub fn new(base: &str, version: &str, token: Secret) -> Self {
        Self::with_timeout(base, version, token, Duration::from_secs(10))
    }

    /// The same, giving up on an answer after `timeout`.
    pub fn with_timeout(base: &str, version: &str, token: Secret, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("a TLS backend is compiled in");
        HttpGraph {
            client,
            base: format!("{}/{}", base.trim_end_matches('/'), version),
            token,
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, GraphFailure> {
        // Without the URL: it names a host and port that change between runs, and the
        // token must never be logged.
        let unavailable = |e: reqwest::Error| {
            GraphFailure::Unavailable(if e.is_timeout() {
                "no answer in time (timed out)".to_owned()
            } else {
                e.without_url().to_string()
            })
        };
        let response = request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unavailable)?;
        decode(status.as_u16(), &bytes)
    }
}

/// Reads a Graph answer: the value on success, Meta's error envelope otherwise, and
/// anything else (a bare 5xx from a proxy) as unavailability.
pub fn decode<T: serde::de::DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, GraphFailure> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body)
            .map_err(|e| GraphFailure::Unavailable(format!("unreadable answer: {e}")));
    }
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => Err(GraphFailure::Meta(envelope.error)),
        Err(_) => Err(GraphFailure::Unavailable(format!("HTTP {status}"))),
    }
}

impl GraphApi for HttpGraph {
    fn profile<'a>(&'a self, psid: &'a str) -> BoxFuture<'a, Result<UserProfile, GraphFailure>> {
        Box::pin(async move {
            let url = format!("{}/{psid}", self.base);
            self.call(
                self.client
                    .get(url)
                    .query(&[("fields", "first_name,last_name,profile_pic")]),
            )
            .await
        })
    }

    fn send<'a>(
        &'a self,
        request: &'a SendRequest,
    ) -> BoxFuture<'a, Result<SendResponse, GraphFailure>> {
        Box::pin(async move {
            let url = format!("{}/me/messages", self.base);
            self.call(self.client.post(url).json(request)).await
        })
    }

    fn get<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<serde_json::Value, GraphFailure>> {
        Box::pin(async move {
            let url = format!("{}/{path}", self.base);
            self.call(self.client.get(url)).await
        })
    }
}
