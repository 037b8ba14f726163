//! What the admin API's read endpoints answer (and the inspector shows): the
//! platform's state and history as JSON-ready values, computed at the virtual instant.
//!
//! Windows, tags and the ladder are `messenger`'s: these views only say what it
//! decides, so the page never computes a window length of its own.

use std::collections::HashMap;

use jiff::Timestamp;
use messenger::meta_error::MetaError;
use messenger::restriction::{Level, Restriction};
use messenger::rules::TagStatus;
use messenger::window::{ThreadState, Window};
use messenger::wire::{GraphError, MessagingType, SenderAction};
use messenger::Tag;
use serde::Serialize;

use super::journal::{thread_at, DeliveryLog, Logged, Notice, ThreadEvent};
use super::send::{Outcome, RequestRecord};
use super::timeline::{describe, Loaded};
use super::{Customer, Platform};

/// A conversation's window at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowView {
    /// `standard`, `human_agent` or `expired`.
    pub state: &'static str,
    /// When an open window closes.
    pub closes_at: Option<Timestamp>,
    /// When an expired window closed; `None` if the customer never opened one.
    pub since: Option<Timestamp>,
}

impl WindowView {
    fn of(window: Window) -> Self {
        match window {
            Window::Standard { closes_at, .. } => WindowView {
                state: "standard",
                closes_at: Some(closes_at),
                since: None,
            },
            Window::HumanAgent { closes_at, .. } => WindowView {
                state: "human_agent",
                closes_at: Some(closes_at),
                since: None,
            },
            Window::Expired { since } => WindowView {
                state: "expired",
                closes_at: None,
                since,
            },
        }
    }
}

/// The last thing said in a conversation, for the list.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// When.
    pub at: Timestamp,
    /// `customer` or `page`.
    pub from: &'static str,
    /// The text, or a postback's title.
    pub text: String,
}

/// One conversation in the list.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    /// The customer's PSID.
    pub psid: String,
    /// The customer's id in the loaded scenario (`c0042`), if any.
    pub label: Option<String>,
    /// The conversation's id (`t_...`).
    pub conversation_id: String,
    /// The customer's name.
    pub name: Option<String>,
    /// The window now.
    pub window: WindowView,
    /// Customer messages and postbacks since the page last answered or marked the
    /// conversation seen.
    pub unread: usize,
    /// The customer blocked the page.
    pub blocked: bool,
    /// Another app owns the conversation.
    pub handed_over: bool,
    /// Tagged messages since the customer last acted (Meta refuses the third).
    pub tagged_in_a_row: u32,
    /// The last message or postback.
    pub last: Option<Preview>,
    /// When anything last happened in it.
    pub last_activity: Option<Timestamp>,
}

/// One entry of a conversation, with what later entries say of it.
#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    /// The entry.
    #[serde(flatten)]
    pub entry: Logged,
    /// The customer's reaction to this message, as it stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
    /// For the page's messages: whether the customer has read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<bool>,
    /// For the page's messages and refusals: sent by another app (an echo this app
    /// didn't cause).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_app: Option<bool>,
}

/// A conversation as Messenger shows it, at an instant.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    /// The virtual time now.
    pub now: Timestamp,
    /// The instant shown, when it isn't now.
    pub as_of: Option<Timestamp>,
    /// The conversation in the list's terms, at that instant.
    #[serde(flatten)]
    pub summary: ConversationSummary,
    /// The customer's profile picture URL.
    pub profile_pic: Option<String>,
    /// Everything that happened up to that instant, oldest first.
    pub entries: Vec<EntryView>,
}

/// A Send API error, with what it means.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    /// Meta's code.
    pub code: u32,
    /// Meta's subcode.
    pub subcode: Option<u32>,
    /// Meta's message.
    pub message: String,
    /// What it means, in words.
    pub meaning: &'static str,
    /// What an integration should do about it.
    pub next: &'static str,
    /// Whether the same call may succeed later.
    pub transient: bool,
}

impl ErrorView {
    fn of(e: &GraphError) -> Self {
        let known = MetaError::classify(e);
        let (meaning, next) = known.explain();
        ErrorView {
            code: e.code,
            subcode: e.error_subcode,
            message: e.message.clone(),
            meaning,
            next,
            transient: known.is_transient(),
        }
    }
}

/// One Send API call in the log.
#[derive(Debug, Clone, Serialize)]
pub struct SendView {
    /// Its place in the log, from 1.
    pub seq: usize,
    /// When.
    pub at: Timestamp,
    /// The app that called.
    pub app_id: u64,
    /// Another app (Meta Business Suite) called, not this one.
    pub other_app: bool,
    /// The recipient, if the request named one.
    pub psid: Option<String>,
    /// The recipient's id in the loaded scenario.
    pub label: Option<String>,
    /// The messaging type asked for.
    pub messaging_type: Option<MessagingType>,
    /// The tag asked for.
    pub tag: Option<Tag>,
    /// The text.
    pub text: Option<String>,
    /// The sender action, instead of a message.
    pub sender_action: Option<SenderAction>,
    /// `sent` or `refused`.
    pub outcome: &'static str,
    /// The new message's id, when sent.
    pub message_id: Option<String>,
    /// Meta's error, when refused.
    pub error: Option<ErrorView>,
    /// The body as received, when it didn't parse.
    pub raw: Option<String>,
}

/// Which Send API calls to list.
#[derive(Debug, Clone, Default)]
pub struct SendFilter {
    /// Only to this customer (PSID or scenario id).
    pub psid: Option<String>,
    /// Only `sent` or only `refused`.
    pub outcome: Option<String>,
    /// Only `this` app's calls or only the `other` app's.
    pub app: Option<String>,
    /// Only the most recent this-many (after the other filters).
    pub limit: Option<usize>,
}

/// The Send API log.
#[derive(Debug, Clone, Serialize)]
pub struct SendLog {
    /// The virtual time now.
    pub now: Timestamp,
    /// Calls matching the filter, before `limit`.
    pub total: usize,
    /// The calls, oldest first.
    pub data: Vec<SendView>,
}

/// Webhook deliveries.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookLog<'a> {
    /// The virtual time now.
    pub now: Timestamp,
    /// Where deliveries go; `None` means events are only recorded, never delivered.
    pub url: Option<&'a str>,
    /// Whether the app is still subscribed (Meta unsubscribes after an hour of failures).
    pub subscribed: bool,
    /// Events waiting for the next batch (including echoes a fault holds back).
    pub waiting: usize,
    /// Deliveries waiting for a retry or a late copy.
    pub retrying: usize,
    /// When Meta next delivers something on its own schedule.
    pub next_due: Option<Timestamp>,
    /// Deliveries made, before `limit`.
    pub total: usize,
    /// The deliveries, oldest first.
    pub data: &'a [DeliveryLog],
}

/// One rung of the ladder, as it stands for the page.
#[derive(Debug, Clone, Serialize)]
pub struct Rung {
    /// The rung.
    pub level: Level,
    /// How long it lasts, in hours; `None` for permanent.
    pub hours: Option<i64>,
    /// The page has been restricted at this rung.
    pub reached: bool,
    /// A restriction at this rung is in force now.
    pub in_force: bool,
}

/// The page's record: warnings, restrictions and the ladder.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView<'a> {
    /// The virtual time now.
    pub now: Timestamp,
    /// The clock's first instant.
    pub start: Timestamp,
    /// The rules era.
    pub rules: &'static str,
    /// Warnings received.
    pub warnings: u32,
    /// The restriction in force now.
    pub in_force: Option<&'a Restriction>,
    /// The highest rung reached.
    pub rung: Option<Level>,
    /// What the page's next offence brings: `warning` for a clean record, else the
    /// next rung (a severe offence may land higher).
    pub next_offence: String,
    /// The ladder, lowest first.
    pub ladder: Vec<Rung>,
    /// Every restriction, oldest first.
    pub restrictions: &'a [Restriction],
    /// Every warning, block and unblock sent to the page, oldest first.
    pub notices: &'a [Notice],
    /// Every tag Meta ever defined, and whether this era takes it.
    pub tags: Vec<TagView>,
}

/// A tag, and whether the rules era takes it.
#[derive(Debug, Clone, Serialize)]
pub struct TagView {
    /// The tag.
    pub tag: Tag,
    /// Usable in this era (not retired, not unknown to it).
    pub available: bool,
}

/// A scenario step still to fire.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// When it fires.
    pub at: Timestamp,
    /// The customer's PSID (empty for page-wide steps).
    pub psid: String,
    /// The customer's id in the scenario.
    pub label: Option<String>,
    /// What kind of step (see [`describe`]).
    pub kind: &'static str,
    /// What it carries.
    pub detail: String,
}

/// The loaded scenario and its steps still to fire.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioView<'a> {
    /// The virtual time now.
    pub now: Timestamp,
    /// What was loaded, if anything.
    pub loaded: Option<&'a Loaded>,
    /// When the next step fires.
    pub next: Option<Timestamp>,
    /// Steps still to fire, in order.
    pub pending: Vec<StepView>,
}

impl Platform {
    /// A customer by PSID, or by their id in the loaded scenario (`c0042`).
    pub fn find_customer(&self, id: &str) -> Option<&Customer> {
        self.customer(id).or_else(|| {
            let psid = self.scenario.as_ref()?.customers.get(id)?;
            self.customer(psid)
        })
    }

    /// The customer's id in the loaded scenario.
    fn label(&self, psid: &str) -> Option<String> {
        let loaded = self.scenario.as_ref()?;
        loaded
            .customers
            .iter()
            .find(|(_, p)| p.as_str() == psid)
            .map(|(id, _)| id.clone())
    }

    fn window_view(&self, thread: &ThreadState, at: Timestamp) -> WindowView {
        let rules = self.settings.rules.rules();
        WindowView::of(Window::at(thread, at, rules, self.settings.human_agent))
    }

    /// Every conversation, in the order the customers were created.
    pub fn conversations(&self) -> Vec<ConversationSummary> {
        self.order
            .iter()
            .filter_map(|psid| self.customer(psid))
            .map(|c| self.summary(c, None))
            .collect()
    }

    /// The conversation with `c` as it stood at `as_of` (now if `None`).
    fn summary(&self, c: &Customer, as_of: Option<Timestamp>) -> ConversationSummary {
        let at = as_of.unwrap_or(self.now);
        let journal = upto(&c.journal, at);
        // Now, the live state; earlier, the state the journal's events had made then.
        let (thread, blocked, handed_over) = match as_of {
            None => (c.thread, c.blocked, c.other_app_owns),
            Some(at) => {
                let flag = |pick: fn(&ThreadEvent) -> Option<bool>| {
                    journal
                        .iter()
                        .rev()
                        .find_map(|e| pick(&e.event))
                        .unwrap_or(false)
                };
                (
                    thread_at(&c.journal, at),
                    flag(|e| match e {
                        ThreadEvent::Blocked { blocked } => Some(*blocked),
                        _ => None,
                    }),
                    flag(|e| match e {
                        ThreadEvent::Handover { other_app_owns } => Some(*other_app_owns),
                        _ => None,
                    }),
                )
            }
        };
        let last = journal.iter().rev().find_map(|e| {
            let (from, text) = match &e.event {
                ThreadEvent::CustomerMessage { text, .. } => ("customer", text.clone()),
                ThreadEvent::Postback { title, .. } => ("customer", title.clone()),
                ThreadEvent::PageMessage { text, .. } => (
                    "page",
                    text.clone().unwrap_or_else(|| "(attachment)".into()),
                ),
                _ => return None,
            };
            Some(Preview {
                at: e.at,
                from,
                text,
            })
        });
        ConversationSummary {
            psid: c.psid.clone(),
            label: self.label(&c.psid),
            conversation_id: c.conversation_id.clone(),
            name: c.profile.display_name(),
            window: self.window_view(&thread, at),
            unread: unread(journal),
            blocked,
            handed_over,
            tagged_in_a_row: thread.tagged_since_customer,
            last,
            last_activity: journal.last().map(|e| e.at),
        }
    }

    /// One conversation (by PSID or scenario id) as it stood at `as_of`, or now;
    /// `None` for an unknown customer.
    pub fn conversation(&self, id: &str, as_of: Option<Timestamp>) -> Option<ConversationView> {
        let c = self.find_customer(id)?;
        let as_of = as_of.filter(|&at| at < self.now);
        let journal = upto(&c.journal, as_of.unwrap_or(self.now));
        let read_up_to = journal
            .iter()
            .filter(|e| e.event == ThreadEvent::Read)
            .map(|e| e.at)
            .max();
        // A reaction replaces the one before it; taking it back leaves none.
        let mut reactions: HashMap<&str, Option<&str>> = HashMap::new();
        for e in journal {
            if let ThreadEvent::Reaction { mid, emoji } = &e.event {
                reactions.insert(mid, emoji.as_deref());
            }
        }
        let entries = journal
            .iter()
            .map(|e| {
                let (mid, app_id) = match &e.event {
                    ThreadEvent::CustomerMessage { mid, .. } => (Some(mid), None),
                    ThreadEvent::PageMessage { mid, app_id, .. } => (Some(mid), Some(*app_id)),
                    ThreadEvent::Refused { app_id, .. } => (None, Some(*app_id)),
                    _ => (None, None),
                };
                let is_page = matches!(e.event, ThreadEvent::PageMessage { .. });
                EntryView {
                    entry: e.clone(),
                    reaction: mid
                        .and_then(|m| reactions.get(m.as_str()).copied().flatten())
                        .map(str::to_owned),
                    seen: is_page.then(|| read_up_to.is_some_and(|r| r >= e.at)),
                    other_app: app_id.map(|a| a != self.settings.app_id),
                }
            })
            .collect();
        Some(ConversationView {
            now: self.now,
            as_of,
            summary: self.summary(c, as_of),
            profile_pic: c.profile.profile_pic.clone(),
            entries,
        })
    }

    /// The Send API log, filtered.
    pub fn send_log(&self, filter: &SendFilter) -> SendLog {
        let psid = filter
            .psid
            .as_deref()
            .map(|id| self.find_customer(id).map_or(id, |c| c.psid.as_str()));
        let mut data: Vec<SendView> = self
            .sent
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let req = match &r.request {
                    RequestRecord::Parsed(req) => Some(req),
                    RequestRecord::Raw(_) => None,
                };
                let to = req.and_then(|q| q.recipient.id.clone());
                let (outcome, message_id, error) = match &r.outcome {
                    Outcome::Sent(ok) => ("sent", ok.message_id.clone(), None),
                    Outcome::Error(e) => ("refused", None, Some(ErrorView::of(e))),
                };
                SendView {
                    seq: i + 1,
                    at: r.at,
                    app_id: r.app_id,
                    other_app: r.app_id != self.settings.app_id,
                    label: to.as_deref().and_then(|p| self.label(p)),
                    psid: to,
                    messaging_type: req.and_then(|q| q.messaging_type),
                    tag: req.and_then(|q| q.tag),
                    text: req
                        .and_then(|q| q.message.as_ref())
                        .and_then(|m| m.text.clone()),
                    sender_action: req.and_then(|q| q.sender_action),
                    outcome,
                    message_id,
                    error,
                    raw: match &r.request {
                        RequestRecord::Raw(raw) => Some(raw.clone()),
                        RequestRecord::Parsed(_) => None,
                    },
                }
            })
            .filter(|s| psid.is_none_or(|p| s.psid.as_deref() == Some(p)))
            .filter(|s| filter.outcome.as_deref().is_none_or(|o| s.outcome == o))
            .filter(|s| {
                filter.app.as_deref().is_none_or(|a| match a {
                    "other" => s.other_app,
                    _ => !s.other_app,
                })
            })
            .collect();
        let total = data.len();
        if let Some(limit) = filter.limit {
            data.drain(..total.saturating_sub(limit));
        }
        SendLog {
            now: self.now,
            total,
            data,
        }
    }

    /// Webhook deliveries, the most recent `limit` of them (all if `None`).
    pub fn webhook_log(&self, limit: Option<usize>) -> WebhookLog<'_> {
        let log = &self.outbox.log;
        let from = limit.map_or(0, |l| log.len().saturating_sub(l));
        let (waiting, retrying) = self.outbox.waiting();
        WebhookLog {
            now: self.now,
            url: self.settings.webhook_url.as_deref(),
            subscribed: !self.unsubscribed,
            waiting,
            retrying,
            next_due: self.outbox.next_due(),
            total: log.len(),
            data: &log[from..],
        }
    }

    /// The page's record.
    pub fn record_view(&self) -> RecordView<'_> {
        let e = &self.enforcement;
        let in_force = self.restriction();
        let rung = e.rung();
        let next_offence = if e.warnings == 0 && e.history.is_empty() {
            "warning".to_owned()
        } else {
            rung.map_or(Level::Day1, Level::next).to_string()
        };
        let ladder = Level::LADDER
            .into_iter()
            .map(|level| Rung {
                level,
                hours: level.duration().map(|d| d.as_hours()),
                reached: e.history.iter().any(|r| r.level == level),
                in_force: in_force.is_some_and(|r| r.level == level),
            })
            .collect();
        RecordView {
            now: self.now,
            start: self.settings.start,
            rules: self.settings.rules.as_str(),
            warnings: e.warnings,
            in_force,
            rung,
            next_offence,
            ladder,
            restrictions: &e.history,
            notices: &self.notices,
            tags: messenger::tags::ALL
                .into_iter()
                .map(|tag| TagView {
                    tag,
                    available: self
                        .settings
                        .rules
                        .rules()
                        .tag(tag)
                        .is_some_and(|r| matches!(r.status, TagStatus::Available(_))),
                })
                .collect(),
        }
    }

    /// The loaded scenario and its steps still to fire.
    pub fn scenario_view(&self) -> ScenarioView<'_> {
        let pending = self
            .timeline
            .iter()
            .map(|s| {
                let (kind, detail) = describe(&s.action);
                StepView {
                    at: s.at,
                    psid: s.psid.clone(),
                    label: self.label(&s.psid),
                    kind,
                    detail,
                }
            })
            .collect();
        ScenarioView {
            now: self.now,
            loaded: self.scenario.as_ref(),
            next: self.next_scheduled(),
            pending,
        }
    }
}

/// The journal's entries up to and including `at`.
fn upto(journal: &[Logged], at: Timestamp) -> &[Logged] {
    &journal[..journal.partition_point(|e| e.at <= at)]
}

/// Customer messages and postbacks after the page's last message or mark-seen.
fn unread(journal: &[Logged]) -> usize {
    journal
        .iter()
        .rev()
        .take_while(|e| {
            !matches!(
                e.event,
                ThreadEvent::PageMessage { .. }
                    | ThreadEvent::SenderAction {
                        action: SenderAction::MarkSeen
                    }
            )
        })
        .filter(|e| {
            matches!(
                e.event,
                ThreadEvent::CustomerMessage { .. } | ThreadEvent::Postback { .. }
            )
        })
        .count()
}
