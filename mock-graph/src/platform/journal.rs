//! What happened, kept for people to look at: each conversation's events as Messenger
//! shows them, the page's enforcement notices, and every webhook delivery with its
//! attempts.
//!
//! Nothing here decides anything: Meta's rules read [`Customer::thread`] and the
//! [`Enforcement`] record. The journal is written beside them, in the same calls, so
//! the inspector (and anyone reading the admin API) sees the history that led there.
//! Writing it draws nothing from the seed, so ids and bytes are as they were without it.
//!
//! [`Customer::thread`]: super::Customer::thread
//! [`Enforcement`]: messenger::restriction::Enforcement

use jiff::Timestamp;
use messenger::restriction::Level;
use messenger::window::{CustomerAction, ThreadState};
use messenger::wire::{MessagingEvent, MessagingType, SenderAction};
use messenger::Tag;
use serde::Serialize;

/// One thing that happened in a conversation, at a virtual instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Logged {
    /// When.
    pub at: Timestamp,
    /// What.
    #[serde(flatten)]
    pub event: ThreadEvent,
}

/// What can happen in a conversation, as Messenger would show it (and what Meta
/// refused, which Messenger wouldn't).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ThreadEvent {
    /// The customer wrote.
    CustomerMessage {
        /// The message's id.
        mid: String,
        /// What they wrote.
        text: String,
    },
    /// The page sent a message, through this app or another (Meta Business Suite).
    PageMessage {
        /// The message's id.
        mid: String,
        /// Its text; `None` for an attachment.
        text: Option<String>,
        /// Why it could be sent.
        messaging_type: MessagingType,
        /// The tag, with `MESSAGE_TAG`.
        tag: Option<Tag>,
        /// The app that sent it.
        app_id: u64,
        /// The persona it was sent as.
        persona_id: Option<String>,
        /// The sender's `metadata`, echoed back to it.
        metadata: Option<String>,
    },
    /// A Send API call Meta refused; nothing reached the customer.
    Refused {
        /// The app that tried.
        app_id: u64,
        /// The messaging type asked for.
        messaging_type: Option<MessagingType>,
        /// The tag asked for.
        tag: Option<Tag>,
        /// The text that didn't go.
        text: Option<String>,
        /// Meta's code.
        code: u32,
        /// Meta's subcode.
        subcode: Option<u32>,
        /// Meta's message.
        message: String,
    },
    /// The page showed typing or marked the conversation seen.
    SenderAction {
        /// Which.
        action: SenderAction,
    },
    /// The customer tapped a button.
    Postback {
        /// The postback's id.
        mid: String,
        /// The button's title.
        title: String,
        /// What the button carries.
        payload: String,
    },
    /// The customer reacted to a message, or took a reaction back.
    Reaction {
        /// The message reacted to.
        mid: String,
        /// The emoji; `None` when taken back.
        emoji: Option<String>,
    },
    /// The customer came in through a link or an ad.
    Referral {
        /// The link's `ref`.
        reference: String,
        /// `SHORTLINK`, `ADS`, ...
        source: String,
    },
    /// The customer read everything up to now.
    Read,
    /// The customer blocked the page (or unblocked it).
    Blocked {
        /// Blocked now.
        blocked: bool,
    },
    /// Another app took the conversation (or handed it back).
    Handover {
        /// Another app owns it now.
        other_app_owns: bool,
    },
}

impl ThreadEvent {
    /// The window-relevant part of the event, as the platform applied it when it
    /// happened: replaying a journal through this gives the thread state of any instant.
    pub fn apply(&self, at: Timestamp, thread: &mut ThreadState) {
        match self {
            ThreadEvent::CustomerMessage { .. } => {
                thread.customer_acted(CustomerAction::Message, at)
            }
            ThreadEvent::Postback { .. } | ThreadEvent::Reaction { emoji: Some(_), .. } => {
                thread.customer_acted(CustomerAction::Other, at)
            }
            // An ad opens nothing by itself: the message the person then writes does.
            ThreadEvent::Referral { source, .. } if source != "ADS" => {
                thread.customer_acted(CustomerAction::Other, at)
            }
            ThreadEvent::PageMessage { messaging_type, .. } => {
                thread.page_sent(*messaging_type == MessagingType::MessageTag)
            }
            _ => {}
        }
    }
}

/// The thread state after the journal's events up to and including `until`.
pub fn thread_at(journal: &[Logged], until: Timestamp) -> ThreadState {
    let mut thread = ThreadState::default();
    for entry in journal.iter().take_while(|e| e.at <= until) {
        entry.event.apply(entry.at, &mut thread);
    }
    thread
}

/// A warning, block or unblock Meta sent the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// When.
    pub at: Timestamp,
    /// `warning`, `block` or `unblock`.
    pub action: &'static str,
    /// The rung of a block.
    pub level: Option<Level>,
    /// When a block ends; `None` for permanent (and for warnings and unblocks).
    pub until: Option<Timestamp>,
    /// Why, as the notice says.
    pub reason: Option<String>,
}

/// One webhook delivery (a signed POST of one batch) and every attempt at it.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryLog {
    /// The delivery's number, in the order they were made.
    pub id: u64,
    /// When the batch was made.
    pub created: Timestamp,
    /// What it carries, one line per event.
    pub events: Vec<EventLine>,
    /// A late copy (`late_redelivery`) of this earlier delivery.
    pub late_copy_of: Option<u64>,
    /// Attempts, oldest first.
    pub attempts: Vec<AttemptLog>,
    /// Where it stands.
    pub state: DeliveryState,
    /// The exact body POSTed.
    pub body: String,
}

/// One event of a delivery, in a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventLine {
    /// `message`, `echo`, `delivery`, `read`, `reaction`, `postback`, `referral`,
    /// `policy_enforcement`.
    pub kind: &'static str,
    /// The customer it concerns, if any.
    pub psid: Option<String>,
    /// In `standby[]`: another app owns the conversation.
    pub standby: bool,
}

impl EventLine {
    /// The line for one event.
    pub fn of(event: &MessagingEvent, page_id: &str, standby: bool) -> Self {
        use messenger::wire::EventKind;
        let kind = match event.kind() {
            EventKind::Message(_) => "message",
            EventKind::Echo(_) => "echo",
            EventKind::Delivery(_) => "delivery",
            EventKind::Read(_) => "read",
            EventKind::Reaction(_) => "reaction",
            EventKind::Postback(_) => "postback",
            EventKind::Referral(_) => "referral",
            EventKind::PolicyEnforcement(_) => "policy_enforcement",
            EventKind::Unknown(_) => "other",
        };
        // The customer is whichever party isn't the page.
        let psid = [event.sender.as_ref(), Some(&event.recipient)]
            .into_iter()
            .flatten()
            .map(|p| p.id.as_str())
            .find(|id| *id != page_id)
            .map(str::to_owned);
        EventLine {
            kind,
            psid,
            standby,
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptLog {
    /// When, on the virtual clock.
    pub at: Timestamp,
    /// Lost in transit by the `drop_rate` fault: never sent.
    pub dropped: bool,
    /// Sent twice by the `duplicate_rate` fault.
    pub duplicated: bool,
    /// The subscriber's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why there was no answer (a timeout, a refused connection), if there wasn't.
    pub error: Option<String>,
    /// Whether it counted as delivered; `None` while it is under way.
    pub ok: Option<bool>,
    /// Other pages' deliveries it went out with, in one POST (an app on several
    /// pages); empty when it went alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batched_with: Vec<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Made, not attempted yet.
    Pending,
    /// Being attempted now.
    Sending,
    /// The subscriber took it.
    Delivered,
    /// Failed; the next attempt is due then.
    Retrying {
        /// When.
        next_at: Timestamp,
    },
    /// Lost in transit under `late_redelivery`: not retried, but sent again late as
    /// delivery `copy`.
    LateCopy {
        /// The copy's number.
        copy: u64,
        /// When the copy is due.
        next_at: Timestamp,
    },
    /// Failed for an hour: Meta gave up and unsubscribed the app.
    Abandoned,
}

/// How a subscriber answered one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It answered with this HTTP status.
    Status(u16),
    /// It didn't answer: a timeout, a refused connection.
    NoAnswer(String),
    /// The attempt was lost in transit by a fault and never sent.
    Lost,
}

impl Answer {
    /// Whether Meta counts it as delivered (a 2xx).
    pub fn ok(&self) -> bool {
        matches!(self, Answer::Status(s) if (200..300).contains(s))
    }
}
