//! The records the store keeps, as plain values.

use jiff::Timestamp;
use messenger::restriction::Enforcement;
use messenger::ThreadState;
use serde::{Deserialize, Serialize};

use crate::discord::Post;

/// A customer, with the profile fetched once from the Graph API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Customer {
    /// The page-scoped id.
    pub psid: String,
    /// "First Last"; `None` when Meta gave no name.
    pub name: Option<String>,
    /// The avatar URL.
    pub profile_pic: Option<String>,
    /// Whether the profile was fetched (an empty profile counts).
    pub fetched: bool,
}

impl Customer {
    /// The name to show: the profile's, or one made from the PSID's end.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            // The last four characters, not bytes: a PSID is whatever the delivery
            // said, and slicing inside a character panicked the bot's processing.
            let start = self.psid.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
            format!("Customer …{}", &self.psid[start..])
        })
    }
}

/// One Messenger conversation and its Discord thread.
///
/// As read from the store, `state.tagged_since_customer` counts the tagged messages
/// sent since the customer last acted *and* those approved and still in flight (see
/// [`IN_FLIGHT`]): a send reserves its place in the count when it is approved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    /// The customer.
    pub psid: String,
    /// What the policy needs: the windows and the tagged-message count.
    pub state: ThreadState,
    /// The Discord thread, once opened.
    pub discord_thread: Option<u64>,
    /// Whether opening the Discord thread is queued.
    pub opening: bool,
    /// The agent (Discord user id) who claimed it.
    pub claimed_by: Option<u64>,
    /// Closed by the team; the customer's next message reopens it.
    pub closed: bool,
    /// Another app owns the conversation (handover); events arrive as standby.
    pub standby: bool,
    /// The team's last reply.
    pub last_team_reply: Option<Timestamp>,
    /// The customer's last message text, for the inbox.
    pub last_text: Option<String>,
    /// The label the Discord thread's name shows now.
    pub label: Option<String>,
    /// When the label must next be recomputed.
    pub label_due: Option<Timestamp>,
    /// The customer message an alert went out for, and for which window.
    pub alerted: Option<(Timestamp, AlertKind)>,
    /// When the next alert is due.
    pub alert_due: Option<Timestamp>,
}

/// Which window an alert warns about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The 24-hour window.
    Standard,
    /// The human-agent window.
    HumanAgent,
}

impl AlertKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Standard => "standard",
            AlertKind::HumanAgent => "human_agent",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<AlertKind> {
        match s {
            "standard" => Some(AlertKind::Standard),
            "human_agent" => Some(AlertKind::HumanAgent),
            _ => None,
        }
    }
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer.
    In,
    /// From the team, through tagdesk.
    Out,
    /// From the page outside tagdesk (Meta Business Suite, another app), seen as an echo.
    Echo,
}

impl Direction {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Echo => "echo",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Direction {
        match s {
            "in" => Direction::In,
            "out" => Direction::Out,
            _ => Direction::Echo,
        }
    }
}

/// One message in or out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The store's id (0 before it is stored).
    pub id: i64,
    /// The customer.
    pub psid: String,
    /// Which way.
    pub direction: Direction,
    /// Meta's message id, once known.
    pub mid: Option<String>,
    /// `text`, `postback`, `reaction`, `referral`.
    pub kind: String,
    /// The text, or a description of the action.
    pub text: String,
    /// Attachment URLs.
    pub attachments: Vec<String>,
    /// When.
    pub at: Timestamp,
    /// `RESPONSE`, `MESSAGE_TAG`, ... for outgoing messages.
    pub messaging_type: Option<String>,
    /// The tag, for tagged messages.
    pub tag: Option<String>,
    /// The agent who sent it.
    pub agent: Option<String>,
    /// What the guard decided, in words.
    pub decision: Option<String>,
    /// `received`, `queued`, `sending`, `retrying`, `uncertain` (sent to Meta, answer
    /// lost), `echoed`, `sent`, `delivered`, `read`, `refused`, `failed`, `parked`.
    pub state: String,
    /// Meta's error, in words, for failed sends.
    pub error: Option<String>,
    /// Why a send ended refused or failed, as a stable name: the policy's reason
    /// (`window_closed`, `promotional`, ...) or Meta's code (`meta_551`).
    pub reason: Option<String>,
    /// Arrived as standby (another app owns the conversation).
    pub standby: bool,
    /// The app that sent an echo.
    pub app_id: Option<u64>,
    /// The Discord interaction that sent it: a retried interaction finds it here and
    /// never sends twice.
    pub interaction_id: Option<String>,
    /// What the agent asked for, so every later attempt decides again as they would.
    pub asked: Option<Asked>,
}

/// What an agent asked for when a send was approved. Every attempt at the send runs
/// the policy again with it, so a send approved before a restriction, a closing
/// window or another tagged message never goes out on the strength of a stale answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Asked {
    /// `/reply`: whatever the windows allow.
    Reply {
        /// The agent confirmed a second tagged message in a row.
        confirmed_second: bool,
    },
    /// `/tag`, or a tag picked from a menu.
    Tag {
        /// The tag.
        tag: messenger::Tag,
        /// The agent confirmed a second tagged message in a row.
        confirmed_second: bool,
    },
    /// A parked reply, released when the customer wrote: RESPONSE or nothing.
    Parked,
}

/// The states of a send that hold a place in the tagged-message count: approved and
/// not yet definitely sent or refused.
pub const IN_FLIGHT: &[&str] = &["queued", "sending", "retrying", "uncertain", "echoed"];

/// A change to an outgoing message, found by its interaction id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageUpdate {
    /// The interaction that sent it.
    pub interaction_id: String,
    /// The new state.
    pub state: String,
    /// Meta's message id, once sent.
    pub mid: Option<String>,
    /// Meta's error, in words.
    pub error: Option<String>,
    /// The messaging type it finally went as (a parked reply goes as RESPONSE).
    pub messaging_type: Option<String>,
    /// The tag it finally went as, when that changed (`Some(None)`: untagged; a send
    /// approved as tagged goes as RESPONSE if the customer wrote meanwhile).
    pub retag: Option<Option<String>>,
    /// When it was sent.
    pub at: Option<Timestamp>,
    /// Why it ended refused or failed, as [`MessageRecord::reason`].
    pub reason: Option<String>,
    /// Apply only if the message is still in this state (a failure must not overwrite
    /// an echo that proved the send went through).
    pub if_state: Option<String>,
}

/// A reply an agent wrote that is waiting on a decision (a confirmation, a tag choice,
/// parking): the state of a multi-step command, kept here rather than in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The interaction that wrote it.
    pub id: String,
    /// The customer.
    pub psid: String,
    /// The text.
    pub text: String,
    /// The agent.
    pub agent: String,
    /// The tag chosen, if any.
    pub tag: Option<String>,
}

/// A saved reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// Its name, as typed after `/`.
    pub name: String,
    /// The text.
    pub text: String,
    /// Who saved it last.
    pub author: String,
}

/// The page as the bot knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Warnings and restrictions, from Meta's notices.
    pub enforcement: Enforcement,
}

/// A unit of work for Discord or the Graph API, retried until done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Work {
    /// Post the first messages of a conversation in the channel and start its thread.
    OpenThread {
        /// The customer.
        psid: String,
        /// The thread's name.
        name: String,
        /// The starter post.
        post: Post,
    },
    /// Post in a conversation's thread.
    Post {
        /// The customer.
        psid: String,
        /// What to post.
        post: Post,
    },
    /// Rename, archive or unarchive a conversation's thread.
    EditThread {
        /// The customer.
        psid: String,
        /// The new name.
        name: Option<String>,
        /// Archive or unarchive.
        archived: Option<bool>,
    },
    /// Post an alert in the parent channel.
    Alert {
        /// What to post.
        post: Post,
    },
    /// Send a team message through the Send API.
    GraphSend {
        /// The customer.
        psid: String,
        /// The interaction that sent it, which finds the message.
        interaction_id: String,
    },
}

impl Work {
    /// The lane the work is ordered in: one per conversation, one for the page.
    pub fn lane(&self) -> String {
        match self {
            Work::OpenThread { psid, .. }
            | Work::Post { psid, .. }
            | Work::EditThread { psid, .. } => psid.clone(),
            Work::Alert { .. } => "page".into(),
            // Sends don't wait for Discord work, nor Discord work for sends.
            Work::GraphSend { psid, .. } => format!("graph:{psid}"),
        }
    }
}

/// Work to enqueue. Work whose `key` is already pending replaces it (a newer rename
/// supersedes an older one); keys are released when work finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWork {
    /// The deduplication key, if any.
    pub key: Option<String>,
    /// The work.
    pub work: Work,
    /// When it may first run.
    pub due: Timestamp,
}

/// Queued work as the worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedWork {
    /// The store's id; also the Discord nonce's basis, so retries dedupe.
    pub id: i64,
    /// The work.
    pub work: Work,
    /// Progress of multi-step work (the starter message of an opening thread).
    pub progress: Option<u64>,
    /// Attempts so far.
    pub attempts: u32,
    /// When it may run.
    pub due: Timestamp,
    /// Someone asked for it to go ahead of the queue.
    pub front: bool,
}

/// Delivery and read receipts: the customer's device got, or read, messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Delivered: these mids, or everything up to the watermark.
    Delivered {
        /// The customer.
        psid: String,
        /// The mids, when Meta listed them.
        mids: Vec<String>,
        /// Everything sent up to here.
        watermark: Timestamp,
    },
    /// Read up to the watermark.
    Read {
        /// The customer.
        psid: String,
        /// Everything sent up to here.
        watermark: Timestamp,
    },
}

/// A change to the page's enforcement record, applied inside the committing
/// transaction to the record as it is then, so concurrent writers never undo each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOp {
    /// Meta warned the page (reported at `at`: the 613 answer and the notice for one
    /// offence are one warning).
    Warn {
        /// When it was reported.
        at: Timestamp,
    },
    /// Meta restricted the page.
    Impose {
        /// The rung, if Meta named it; else one above the highest so far.
        level: Option<messenger::restriction::Level>,
        /// Meta's reason.
        reason: String,
        /// When.
        at: Timestamp,
        /// Only if no restriction is known to be in force at `at` (a refusal that
        /// reveals one).
        unless_active: bool,
    },
    /// Meta lifted the restriction.
    Lift {
        /// When.
        at: Timestamp,
    },
}

impl PageOp {
    /// Applies the change to `page`.
    pub fn apply(&self, page: &mut Page) {
        let e = &mut page.enforcement;
        match self {
            PageOp::Warn { at } => {
                e.warned_at(*at);
            }
            PageOp::Impose {
                level,
                reason,
                at,
                unless_active,
            } => {
                if !(*unless_active && e.active(*at).is_some()) {
                    e.impose(*level, reason.clone(), *at);
                }
            }
            PageOp::Lift { at } => e.lift(*at),
        }
    }
}

/// A change to a few fields of a conversation, applied in place. Commands and the
/// outbox change threads only this way, so they never overwrite what the ticker wrote
/// meanwhile (and it never overwrites theirs: whole-record writes leave these fields
/// alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadPatch {
    /// The customer acted: the tagged-message count restarts, and a closed
    /// conversation reopens.
    CustomerActed {
        /// The customer.
        psid: String,
        /// When, by the event's own timestamp: an action older than the page's last
        /// tagged message doesn't restart the count.
        at: Timestamp,
    },
    /// Opening the Discord thread is queued.
    Opening {
        /// The customer.
        psid: String,
    },
    /// The Discord thread exists.
    Opened {
        /// The customer.
        psid: String,
        /// Its id.
        discord_thread: u64,
    },
    /// The page's message went out (through tagdesk, or seen as an echo from another
    /// app): one more tagged message if it was tagged, and no alert is owed any more
    /// for customer messages before it.
    TeamReplied {
        /// The customer.
        psid: String,
        /// Whether it was tagged.
        tagged: bool,
        /// When.
        at: Timestamp,
    },
    /// Claimed by an agent, or released (`None`).
    Claim {
        /// The customer.
        psid: String,
        /// The agent.
        by: Option<u64>,
        /// Only if nobody has claimed it (replying claims an unclaimed conversation).
        if_unclaimed: bool,
    },
    /// Closed by the team: no labels or alerts until the customer writes.
    Close {
        /// The customer.
        psid: String,
    },
    /// Meta warned about tagged messages to this customer (613/2018338): Meta counts
    /// at least two in a row, so the next tagged message is refused until they write.
    TagSpamWarned {
        /// The customer.
        psid: String,
        /// When.
        at: Timestamp,
    },
}

/// A condition a commit needs, checked inside its transaction: if it doesn't hold, the
/// commit changes nothing and fails with [`super::StoreError::Conflict`], and the
/// caller decides again on fresh state (optimistic concurrency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// The conversation's tagged-message count, reservations included, is exactly this:
    /// two agents approved against the same count can't both reserve a place.
    TaggedCount {
        /// The customer.
        psid: String,
        /// The count the decision read.
        is: u32,
    },
    /// No message is recorded under this key yet: a second press of the same button
    /// sends nothing.
    NoMessageFor {
        /// The key.
        interaction_id: String,
    },
    /// The conversation's claim is exactly this (`None`: unclaimed).
    ClaimedBy {
        /// The customer.
        psid: String,
        /// The agent.
        is: Option<u64>,
    },
}

/// Everything one processing step changes, committed atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// What must hold for any of this to apply.
    pub preconditions: Vec<Precondition>,
    /// Inbound events now processed.
    pub processed: Vec<i64>,
    /// Customers to insert or update.
    pub customers: Vec<Customer>,
    /// Failed profile lookups, applied after `customers`: the customer and when to try
    /// again (`None`: never; the placeholder name stays).
    pub profile_failures: Vec<(String, Option<Timestamp>)>,
    /// Threads to insert or update (whole records, except the fields [`ThreadPatch`]es
    /// own: the Discord thread, the claim, the team's last reply, the tagged count,
    /// closed; those are written on insert only).
    pub threads: Vec<Thread>,
    /// Field-level changes to threads, applied after the whole records.
    pub patches: Vec<ThreadPatch>,
    /// Messages to insert; `id` is ignored.
    pub messages: Vec<MessageRecord>,
    /// Outgoing messages whose state changed.
    pub message_updates: Vec<MessageUpdate>,
    /// Echoes of our own sends, as (interaction id, mid): a send still queued or
    /// retrying went through after all. It is marked `echoed`, and the outbox finishes
    /// it (the thread's line, the counts) as if Meta had answered.
    pub echo_confirms: Vec<(String, String)>,
    /// When the echoes were processed: their sends' work falls due then.
    pub echoes_seen_at: Option<Timestamp>,
    /// Drafts to keep.
    pub drafts: Vec<Draft>,
    /// Receipts to apply to outgoing messages.
    pub receipts: Vec<Receipt>,
    /// Changes to the page's record, applied in order to the record as stored.
    pub page_ops: Vec<PageOp>,
    /// Work to enqueue.
    pub work: Vec<NewWork>,
    /// Pending work to replace, by id (a post that absorbed newer messages); skipped
    /// if it started meanwhile.
    pub work_updates: Vec<(i64, Work)>,
    /// Relabel every open thread at this instant (the page's restriction changed).
    pub relabel_all: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_name_ends_with_the_psids_last_four_characters() {
        let named = |psid: &str| {
            Customer {
                psid: psid.into(),
                ..Customer::default()
            }
            .display_name()
        };
        assert_eq!(named("5490253282974471"), "Customer …4471");
        assert_eq!(named("12"), "Customer …12");
        // Found by fuzzing the webhook: this panicked slicing inside '\u{202e}'.
        assert_eq!(
            named("💥\u{202e}\u{feff}x"),
            "Customer …💥\u{202e}\u{feff}x"
        );
        assert_eq!(
            named("a💥\u{202e}\u{feff}x"),
            "Customer …💥\u{202e}\u{feff}x"
        );
    }
}

/// What the store can say about itself in counts, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Webhook events stored since the database was made.
    pub events: u64,
    /// Pending outbox work by kind (`open_thread`, `post`, `graph_send`, ...).
    pub pending: std::collections::BTreeMap<String, u64>,
    /// The team's sends and customers' messages by state (`sent`, `refused`,
    /// `failed`, `parked`, ...), by direction: `("out", "sent")`.
    pub messages: std::collections::BTreeMap<(String, String), u64>,
    /// Conversations whose window closed on an unanswered customer message.
    pub expired_unanswered: u64,
    /// The team's sends that ended without going out, by state (`refused`, `failed`)
    /// and reason (`MessageRecord::reason`; `unknown` for sends recorded before
    /// reasons were).
    pub ended: std::collections::BTreeMap<(String, String), u64>,
    /// Lanes (conversations, the page) held by each live replica, by its name: empty
    /// where one process works everything (SQLite).
    pub lanes: std::collections::BTreeMap<String, u64>,
}
