//! Webhook deliveries: what Meta POSTs to the subscriber.
//!
//! One messaging event carries exactly one kind (message, delivery, read, ...). The kinds
//! are kept as optional fields plus a catch-all map rather than a closed enum, so that a
//! kind this crate does not know yet still parses and can be acknowledged, as Meta
//! expects; [`MessagingEvent::kind`] gives the typed view.

use serde::{Deserialize, Serialize};

use super::Party;

/// One POST body: `{"object": "page", "entry": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Always `page` for Messenger.
    pub object: String,
    /// One entry per page and batch.
    pub entry: Vec<Entry>,
}

/// The events of one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The page id.
    pub id: String,
    /// When Meta built the entry, in epoch milliseconds.
    pub time: i64,
    /// Events of threads this app owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messaging: Vec<MessagingEvent>,
    /// Events of threads another app owns (handover protocol).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standby: Vec<MessagingEvent>,
}

/// One messaging event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagingEvent {
    /// The person, or the page for echoes; absent on policy enforcement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Party>,
    /// The page, or the person for echoes.
    pub recipient: Party,
    /// When it happened, in epoch milliseconds.
    pub timestamp: i64,
    /// A message or an echo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<WebhookMessage>,
    /// A delivery receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// A read receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<Read>,
    /// A reaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    /// A postback (a tapped button).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postback: Option<Postback>,
    /// A referral into an existing thread (m.me link, ad, plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    /// A warning, block or unblock of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_enforcement: Option<PolicyEnforcement>,
    /// Fields of kinds this crate does not model.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// The typed view of an event's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind<'a> {
    /// A message from the person.
    Message(&'a WebhookMessage),
    /// A message the page sent, from this app or another tool.
    Echo(&'a WebhookMessage),
    /// Delivery receipt.
    Delivery(&'a Delivery),
    /// Read receipt.
    Read(&'a Read),
    /// Reaction to a message.
    Reaction(&'a Reaction),
    /// Button tap.
    Postback(&'a Postback),
    /// Referral.
    Referral(&'a Referral),
    /// Policy enforcement on the page.
    PolicyEnforcement(&'a PolicyEnforcement),
    /// Something else; its field names are given.
    Unknown(Vec<&'a str>),
}

impl MessagingEvent {
    /// What this event is.
    pub fn kind(&self) -> EventKind<'_> {
        if let Some(m) = &self.message {
            return if m.is_echo {
                EventKind::Echo(m)
            } else {
                EventKind::Message(m)
            };
        }
        if let Some(d) = &self.delivery {
            return EventKind::Delivery(d);
        }
        if let Some(r) = &self.read {
            return EventKind::Read(r);
        }
        if let Some(r) = &self.reaction {
            return EventKind::Reaction(r);
        }
        if let Some(p) = &self.postback {
            return EventKind::Postback(p);
        }
        if let Some(r) = &self.referral {
            return EventKind::Referral(r);
        }
        if let Some(p) = &self.policy_enforcement {
            return EventKind::PolicyEnforcement(p);
        }
        EventKind::Unknown(self.other.keys().map(String::as_str).collect())
    }

    /// An empty event between two parties; set one kind field on it.
    pub fn new(sender: Option<Party>, recipient: Party, timestamp: i64) -> Self {
        MessagingEvent {
            sender,
            recipient,
            timestamp,
            message: None,
            delivery: None,
            read: None,
            reaction: None,
            postback: None,
            referral: None,
            policy_enforcement: None,
            other: serde_json::Map::new(),
        }
    }

    /// Whether this action by the person opens the standard 24-hour window.
    ///
    /// Messages, postbacks, reactions and referrals do; echoes, receipts and policy
    /// events don't.
    pub fn opens_window(&self) -> bool {
        matches!(
            self.kind(),
            EventKind::Message(_)
                | EventKind::Postback(_)
                | EventKind::Reaction(_)
                | EventKind::Referral(_)
        )
    }
}

/// A message or an echo in a webhook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookMessage {
    /// The message id.
    pub mid: String,
    /// Set on echoes of the page's own sends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_echo: bool,
    /// The app that sent an echo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<u64>,
    /// The send's metadata, on echoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A tapped quick reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_reply: Option<QuickReplyPayload>,
    /// The message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<super::send::MidRef>,
    /// Attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<WebhookAttachment>,
}

/// A quick reply's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReplyPayload {
    /// What the button carried.
    pub payload: String,
}

/// An attachment in a webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookAttachment {
    /// `image`, `video`, `audio`, `file`, `location`, `fallback`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Usually `{"url": ...}`.
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl WebhookAttachment {
    /// The attachment's URL, where it has one.
    pub fn url(&self) -> Option<&str> {
        self.payload.get("url").and_then(|u| u.as_str())
    }
}

/// A delivery receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The delivered messages; may be absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mids: Option<Vec<String>>,
    /// Everything sent before this instant (epoch ms) was delivered.
    pub watermark: i64,
}

/// A read receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Read {
    /// Everything sent before this instant (epoch ms) was read.
    pub watermark: i64,
}

/// A reaction to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// `love`, `like`, `smile`, ... or `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
    /// The emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// `react` or `unreact`.
    pub action: String,
    /// The message reacted to.
    pub mid: String,
}

/// A postback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Postback {
    /// The postback's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
    /// The button's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The button's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Where the person came from, for Get Started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
}

/// A referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// The `ref` parameter.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `SHORTLINK`, `ADS`, `CUSTOMER_CHAT_PLUGIN`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `OPEN_THREAD`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The ad, for ad referrals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
}

/// A policy enforcement notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEnforcement {
    /// `warning`, `block` or `unblock`.
    pub action: EnforcementAction,
    /// Why; absent on unblock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What Meta did to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementAction {
    /// A warning.
    Warning,
    /// A restriction began.
    Block,
    /// A restriction ended.
    Unblock,
}
