//! The emulated platform: every customer, conversation, send and restriction, on a
//! virtual clock.
//!
//! This is the emulator's core and it does no IO: HTTP handlers call into it under one
//! lock and carry out what it returns (webhook deliveries to POST). All randomness comes
//! from [`Ids`], drawn in request order, so the same seed and the same requests give the
//! same bytes.

mod faults;
pub mod journal;
mod judge;
mod send;
pub mod timeline;
pub mod views;
pub mod webhooks;

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use messenger::guard::PromoLexicon;
use messenger::restriction::{Enforcement, Restriction};
use messenger::timefmt::to_millis;
use messenger::window::{CustomerAction, ThreadState};
use messenger::wire::webhook::{
    EnforcementAction, PolicyEnforcement, Postback, Reaction, Referral, WebhookMessage,
};
use messenger::wire::{MessagingEvent, Party, Persona, UserProfile};
use serde::Serialize;

use crate::config::Settings;
use crate::ids::Ids;
pub use faults::Faults;
use journal::{Logged, Notice, ThreadEvent};
pub use send::{missing_parameter, Outcome, RequestRecord, SentRecord};
use webhooks::Outbox;

/// One person who writes to the page.
#[derive(Debug, Clone)]
pub struct Customer {
    /// Page-scoped id.
    pub psid: String,
    /// The conversation's id.
    pub conversation_id: String,
    /// Profile as the User Profile API returns it.
    pub profile: UserProfile,
    /// What the windows know.
    pub thread: ThreadState,
    /// The person blocked the page.
    pub blocked: bool,
    /// Another app owns the thread (handover protocol).
    pub other_app_owns: bool,
    /// Every message, both ways, oldest first.
    pub messages: Vec<StoredMessage>,
    /// Everything that happened in the conversation, oldest first, for the inspector.
    pub journal: Vec<Logged>,
}

/// A message in a conversation.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMessage {
    /// `m_...`.
    pub mid: String,
    /// When.
    pub at: Timestamp,
    /// Whether the customer wrote it (else the page).
    pub from_customer: bool,
    /// The text, if any.
    pub text: Option<String>,
}

/// The latest instant the virtual clock may reach (9000-01-01T00:00:00Z): far enough
/// for any test, and far enough from jiff's limit that a restriction, a retry or a held
/// echo scheduled from it never overflows.
pub const LATEST: Timestamp = Timestamp::constant(221_845_392_000, 0);

/// The longest delay a fault may ask for (a year).
pub const LONGEST_DELAY: SignedDuration = SignedDuration::from_hours(24 * 365);

/// The emulated Messenger Platform.
#[derive(Debug)]
pub struct Platform {
    /// The settings it was started with.
    pub settings: Settings,
    ids: Ids,
    now: Timestamp,
    customers: BTreeMap<String, Customer>,
    /// PSIDs in the order the customers were created.
    order: Vec<String>,
    /// The page's personas, by id.
    pub personas: BTreeMap<String, Persona>,
    /// Recipients of a broadcast being sent: their promotional tagged messages are
    /// judged together, as one offence, when it is done.
    broadcast: Option<Vec<String>>,
    /// The page's enforcement record.
    pub enforcement: Enforcement,
    /// Meta's judge of promotional content.
    pub judge: PromoLexicon,
    /// Every Send API call and its outcome.
    pub sent: Vec<SentRecord>,
    /// Faults in force.
    pub faults: Faults,
    /// Webhook deliveries pending or retrying.
    pub outbox: Outbox,
    /// Promotional tagged sends of the last day: (when, to whom).
    promo_sends: Vec<(Timestamp, String)>,
    /// Send API calls in the current second, for rate limiting.
    rate_window: (i64, u32),
    /// Whether the app's subscription ended after an hour of failed deliveries.
    pub unsubscribed: bool,
    /// Whether a restriction's end has been announced.
    unblock_sent: bool,
    /// A loaded scenario's customer-side steps still to fire.
    pub timeline: timeline::Timeline,
    /// The scenario loaded last, if any.
    pub scenario: Option<timeline::Loaded>,
    /// Every warning, block and unblock sent to the page, oldest first.
    pub notices: Vec<Notice>,
}

/// A mistake in an admin request, named for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No such customer.
    #[error("no customer with psid {0:?}")]
    UnknownCustomer(String),
    /// The clock only moves forward.
    #[error("the clock only moves forward: {0} is before now")]
    ClockBackwards(Timestamp),
    /// The clock can't go that far (past [`LATEST`]).
    #[error("the clock can't move that far: {0} is past {LATEST}, the latest instant it may show")]
    ClockOverflow(String),
    /// A field's value is outside what the emulator can take.
    #[error("field `{field}`: {reason}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Why, and what is allowed.
        reason: String,
    },
}

impl Platform {
    /// A fresh platform: no customers, a clean page, the clock at `settings.start`.
    pub fn new(settings: Settings) -> Self {
        Platform {
            ids: Ids::new(settings.seed),
            now: settings.start,
            customers: BTreeMap::new(),
            order: Vec::new(),
            personas: BTreeMap::new(),
            broadcast: None,
            enforcement: Enforcement::default(),
            judge: judge::default_lexicon(),
            sent: Vec::new(),
            faults: Faults::default(),
            outbox: Outbox::default(),
            promo_sends: Vec::new(),
            rate_window: (i64::MIN, 0),
            unsubscribed: false,
            timeline: Default::default(),
            scenario: None,
            notices: Vec::new(),
            unblock_sent: true,
            settings,
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Moves the clock to `to`, announcing a restriction's end on the way.
    pub fn advance_to(&mut self, to: Timestamp) -> Result<Timestamp, AdminError> {
        if to < self.now {
            return Err(AdminError::ClockBackwards(to));
        }
        if to > LATEST {
            return Err(AdminError::ClockOverflow(to.to_string()));
        }
        // Scheduled steps and a restriction's end happen in time order on the way.
        loop {
            let step = self.next_scheduled().filter(|&at| at <= to);
            let end = self.restriction_end().filter(|&end| end <= to);
            match (step, end) {
                (Some(at), Some(end)) if end <= at => {
                    self.now = end;
                    self.announce_unblock();
                }
                (Some(at), _) => self.fire_due(at),
                (None, Some(end)) => {
                    self.now = end;
                    self.announce_unblock();
                }
                (None, None) => break,
            }
        }
        self.now = to;
        Ok(self.now)
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&mut self, by: SignedDuration) -> Result<Timestamp, AdminError> {
        let to = self
            .now
            .checked_add(by)
            .map_err(|_| AdminError::ClockOverflow(format!("{:#} from {}", by, self.now)))?;
        self.advance_to(to)
    }

    fn restriction_end(&self) -> Option<Timestamp> {
        if self.unblock_sent {
            return None;
        }
        self.enforcement.history.last().and_then(|r| r.until)
    }

    fn announce_unblock(&mut self) {
        self.unblock_sent = true;
        self.push_enforcement(EnforcementAction::Unblock, None, None);
    }

    /// The restriction in force now.
    pub fn restriction(&self) -> Option<&Restriction> {
        self.enforcement.active(self.now)
    }

    /// A new customer; a name is generated from the seed when none is given.
    pub fn add_customer(&mut self, name: Option<&str>) -> String {
        let psid = self.ids.psid();
        let conversation_id = self.ids.conversation();
        let (first, last) = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => match n.split_once(' ') {
                Some((f, l)) => (f.to_owned(), l.to_owned()),
                None => (n.to_owned(), String::new()),
            },
            None => self.ids.name(),
        };
        let profile = UserProfile {
            profile_pic: Some(format!(
                "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid={psid}"
            )),
            first_name: Some(first),
            last_name: (!last.is_empty()).then_some(last),
            id: Some(psid.clone()),
        };
        self.order.push(psid.clone());
        self.customers.insert(
            psid.clone(),
            Customer {
                psid: psid.clone(),
                conversation_id,
                profile,
                thread: ThreadState::default(),
                blocked: false,
                other_app_owns: false,
                messages: Vec::new(),
                journal: Vec::new(),
            },
        );
        psid
    }

    /// A customer by PSID.
    /// Whether a profile lookup fails now, by the `profile_error_rate` fault (a seeded
    /// draw, made only when the fault is on so other seeds replay unchanged).
    pub fn profile_fails(&mut self) -> bool {
        let rate = self.faults.profile_error_rate;
        rate > 0.0 && self.ids.chance(rate)
    }

    pub fn customer(&self, psid: &str) -> Option<&Customer> {
        self.customers.get(psid)
    }

    /// Every customer, by PSID.
    pub fn customers(&self) -> impl Iterator<Item = &Customer> {
        self.customers.values()
    }

    /// Every customer's PSID, in the order they were created.
    pub fn psids_in_order(&self) -> &[String] {
        &self.order
    }

    /// A new persona of the page, as `POST /{page-id}/personas` makes one.
    pub fn add_persona(&mut self, name: String, profile_picture_url: String) -> String {
        let id = self.ids.persona();
        self.personas.insert(
            id.clone(),
            Persona {
                name,
                profile_picture_url,
                id: Some(id.clone()),
            },
        );
        id
    }

    fn customer_mut(&mut self, psid: &str) -> Result<&mut Customer, AdminError> {
        self.customers
            .get_mut(psid)
            .ok_or_else(|| AdminError::UnknownCustomer(psid.to_owned()))
    }

    /// The customer writes `text`: the windows open and a webhook is queued.
    pub fn customer_message(&mut self, psid: &str, text: &str) -> Result<String, AdminError> {
        let mid = self.ids.mid();
        let now = self.now;
        let customer = self.customer_mut(psid)?;
        customer.thread.customer_acted(CustomerAction::Message, now);
        customer.messages.push(StoredMessage {
            mid: mid.clone(),
            at: now,
            from_customer: true,
            text: Some(text.to_owned()),
        });
        customer.journal.push(Logged {
            at: now,
            event: ThreadEvent::CustomerMessage {
                mid: mid.clone(),
                text: text.to_owned(),
            },
        });
        let mut event = self.customer_event(psid);
        event.message = Some(WebhookMessage {
            mid: mid.clone(),
            text: Some(text.to_owned()),
            ..WebhookMessage::default()
        });
        self.queue_customer_event(psid, event);
        Ok(mid)
    }

    /// The customer taps a button.
    pub fn customer_postback(
        &mut self,
        psid: &str,
        title: &str,
        payload: &str,
    ) -> Result<String, AdminError> {
        let mid = self.ids.mid();
        self.customer_acted(psid)?;
        self.log(
            psid,
            ThreadEvent::Postback {
                mid: mid.clone(),
                title: title.to_owned(),
                payload: payload.to_owned(),
            },
        );
        let mut event = self.customer_event(psid);
        event.postback = Some(Postback {
            mid: Some(mid.clone()),
            title: Some(title.to_owned()),
            payload: Some(payload.to_owned()),
            referral: None,
        });
        self.queue_customer_event(psid, event);
        Ok(mid)
    }

    /// The customer reacts to a message: the window opens.
    pub fn customer_reaction(
        &mut self,
        psid: &str,
        mid: &str,
        emoji: &str,
    ) -> Result<(), AdminError> {
        self.customer_acted(psid)?;
        self.log(
            psid,
            ThreadEvent::Reaction {
                mid: mid.to_owned(),
                emoji: Some(emoji.to_owned()),
            },
        );
        let mut event = self.customer_event(psid);
        event.reaction = Some(Reaction {
            reaction: Some(if emoji == "❤️" { "love" } else { "other" }.into()),
            emoji: Some(emoji.to_owned()),
            action: "react".into(),
            mid: mid.to_owned(),
        });
        self.queue_customer_event(psid, event);
        Ok(())
    }

    /// The customer removes a reaction. Meta's webhook says only `action: unreact` and
    /// the message; taking something back is not an action that opens the window or
    /// resets the tag count.
    pub fn customer_unreaction(&mut self, psid: &str, mid: &str) -> Result<(), AdminError> {
        self.customer_mut(psid)?;
        self.log(
            psid,
            ThreadEvent::Reaction {
                mid: mid.to_owned(),
                emoji: None,
            },
        );
        let mut event = self.customer_event(psid);
        event.reaction = Some(Reaction {
            reaction: None,
            emoji: None,
            action: "unreact".into(),
            mid: mid.to_owned(),
        });
        self.queue_customer_event(psid, event);
        Ok(())
    }

    /// The customer follows an m.me link or an ad into the thread. A link into the
    /// thread opens the window; an ad (`source: ADS`) doesn't by itself: the message the
    /// person then writes does.
    pub fn customer_referral(
        &mut self,
        psid: &str,
        reference: &str,
        source: &str,
    ) -> Result<(), AdminError> {
        if source == "ADS" {
            self.customer_mut(psid)?;
        } else {
            self.customer_acted(psid)?;
        }
        self.log(
            psid,
            ThreadEvent::Referral {
                reference: reference.to_owned(),
                source: source.to_owned(),
            },
        );
        let mut event = self.customer_event(psid);
        event.referral = Some(Referral {
            reference: Some(reference.to_owned()),
            source: Some(source.to_owned()),
            kind: Some("OPEN_THREAD".into()),
            ad_id: None,
        });
        self.queue_customer_event(psid, event);
        Ok(())
    }

    /// The customer reads everything so far.
    pub fn customer_read(&mut self, psid: &str) -> Result<(), AdminError> {
        self.customer_mut(psid)?;
        self.log(psid, ThreadEvent::Read);
        let mut event = self.customer_event(psid);
        event.read = Some(messenger::wire::webhook::Read {
            watermark: to_millis(self.now),
        });
        self.queue_customer_event(psid, event);
        Ok(())
    }

    /// The customer blocks (or unblocks) the page.
    pub fn set_blocked(&mut self, psid: &str, blocked: bool) -> Result<(), AdminError> {
        let customer = self.customer_mut(psid)?;
        if customer.blocked != blocked {
            customer.blocked = blocked;
            self.log(psid, ThreadEvent::Blocked { blocked });
        }
        Ok(())
    }

    /// Another app takes (or hands back) the thread.
    pub fn set_other_app_owns(&mut self, psid: &str, owns: bool) -> Result<(), AdminError> {
        let customer = self.customer_mut(psid)?;
        if customer.other_app_owns != owns {
            customer.other_app_owns = owns;
            self.log(
                psid,
                ThreadEvent::Handover {
                    other_app_owns: owns,
                },
            );
        }
        Ok(())
    }

    /// Notes `event` in `psid`'s conversation at the current instant; an unknown
    /// customer has no conversation to note it in.
    fn log(&mut self, psid: &str, event: ThreadEvent) {
        let at = self.now;
        if let Some(c) = self.customers.get_mut(psid) {
            c.journal.push(Logged { at, event });
        }
    }

    fn customer_acted(&mut self, psid: &str) -> Result<(), AdminError> {
        let now = self.now;
        self.customer_mut(psid)?
            .thread
            .customer_acted(CustomerAction::Other, now);
        Ok(())
    }

    fn customer_event(&self, psid: &str) -> MessagingEvent {
        MessagingEvent::new(
            Some(Party::new(psid)),
            Party::new(&self.settings.page_id),
            to_millis(self.now),
        )
    }

    /// Queues an event from the customer, as standby if another app owns the thread.
    fn queue_customer_event(&mut self, psid: &str, event: MessagingEvent) {
        let standby = self.customers.get(psid).is_some_and(|c| c.other_app_owns);
        self.queue(event, standby);
    }

    /// Queues a webhook event; without a subscriber there is nobody to tell.
    fn queue(&mut self, event: MessagingEvent, standby: bool) {
        if self.settings.webhook_url.is_some() && !self.unsubscribed {
            self.outbox.push(event, standby);
        }
    }

    /// Queues a webhook event to go out at `at`, not before.
    fn queue_at(&mut self, at: Timestamp, event: MessagingEvent, standby: bool) {
        if self.settings.webhook_url.is_some() && !self.unsubscribed {
            self.outbox.push_at(at, event, standby);
        }
    }

    /// Tells the page of a warning, block or unblock by webhook, and notes it in
    /// [`Platform::notices`]; `restriction` is the block's, if it is one.
    fn push_enforcement(
        &mut self,
        action: EnforcementAction,
        reason: Option<String>,
        restriction: Option<&Restriction>,
    ) {
        self.notices.push(Notice {
            at: self.now,
            action: match action {
                EnforcementAction::Warning => "warning",
                EnforcementAction::Block => "block",
                EnforcementAction::Unblock => "unblock",
            },
            level: restriction.map(|r| r.level),
            until: restriction.and_then(|r| r.until),
            reason: reason.clone(),
        });
        let mut event = MessagingEvent::new(
            None,
            Party::new(&self.settings.page_id),
            to_millis(self.now),
        );
        event.policy_enforcement = Some(PolicyEnforcement { action, reason });
        self.queue(event, false);
    }

    /// Forgets everything, as at start.
    pub fn reset(&mut self) {
        *self = Platform::new(self.settings.clone());
    }

    /// Draws a fresh trace id.
    pub fn fbtrace(&mut self) -> String {
        self.ids.fbtrace()
    }
}
