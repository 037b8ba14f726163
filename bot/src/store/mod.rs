//! The bot's durable store, behind one interface.
//!
//! Handlers only see [`Store`]; SQLite ([`sqlite::SqliteStore`]) is the embedded
//! default, and Postgres ([`postgres::PostgresStore`]) implements the same trait for a
//! database server; [`open`] picks one from the configured `database`.
//! Every processing step hands the store one [`Changes`] value, committed atomically,
//! so a crash between steps loses nothing and repeats nothing.
//!
//! # Replicas
//!
//! On Postgres several processes may share one database. Work is divided in lanes: one
//! per conversation (its events, profile, label, alerts, Discord work and sends) and
//! one for the page. A process works a lane only while it holds it: the queries that
//! hand out work (`pending`, `work_due`, `threads_due`, `profiles_due`) take the lanes
//! of what they return, skipping lanes another live process holds, and
//! [`Store::release_lanes`] lets go of lanes with nothing left to do. A process is live
//! while its store renews its heartbeat (every third of the lease): one killed loses its
//! lanes, and the leases on work it took, one lease later; one that stops cleanly
//! ([`Store::leave`]) loses them at once. SQLite is opened by one process only (an
//! exclusive lock), which so holds every lane.

pub mod model;
pub mod postgres;
pub mod sqlite;
pub mod test_server;

use jiff::Timestamp;

pub use model::*;

use crate::intake::InboundEvent;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Postgres refused, or the connection failed.
    #[error("postgres error: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// The store can't be reached at all.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored value didn't decode.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A commit's precondition no longer held: someone else changed the state first.
    #[error("changed meanwhile: {0}")]
    Conflict(String),
}

/// The result of storing one delivery's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ingested {
    /// Events new to the store.
    pub stored: usize,
    /// Events already there (a redelivery).
    pub duplicates: usize,
}

/// A stored event waiting to be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// The store's id.
    pub id: i64,
    /// The event.
    pub event: InboundEvent,
}

/// The bot's durable state.
pub trait Store: Send + Sync + 'static {
    /// This database's name, drawn at random when it was created: unique across
    /// databases, the same across restarts.
    fn instance(&self) -> &str;

    /// This process's name among the processes sharing the database (Postgres), drawn
    /// when the store is opened; `None` where one process has the database to itself.
    fn replica(&self) -> Option<&str>;

    /// Lets go of the lanes this process holds that have nothing left to do at `now`
    /// (no event to process, no work due), so that another replica can take them when
    /// they have. Called between ticks, when nothing in them is being worked.
    fn release_lanes(&self, now: Timestamp) -> Result<(), StoreError>;

    /// This process stops working: it lets go of every lane it holds (and so of its
    /// leases on work) and ends its heartbeat, so that other replicas take its lanes at
    /// once instead of one lease later; it takes no lane afterwards. Called on a clean
    /// shutdown, once the ticker has stopped; leaving twice changes nothing.
    fn leave(&self) -> Result<(), StoreError>;

    /// Stores events atomically and durably; events already stored are skipped.
    fn ingest(&self, events: &[InboundEvent]) -> Result<Ingested, StoreError>;

    /// Unprocessed events, oldest first by the event's own timestamp, in lanes this
    /// process holds or takes now (see the module's comment): each lane's events come
    /// whole up to `limit`, so a lane is processed in order, by one process at a time.
    fn pending(&self, limit: usize) -> Result<Vec<PendingEvent>, StoreError>;

    /// How many events are stored in all.
    fn count_events(&self) -> Result<u64, StoreError>;

    /// Applies one processing step's changes atomically.
    fn commit(&self, changes: &Changes) -> Result<(), StoreError>;

    /// A customer.
    fn customer(&self, psid: &str) -> Result<Option<Customer>, StoreError>;

    /// A conversation.
    fn thread(&self, psid: &str) -> Result<Option<Thread>, StoreError>;

    /// Up to `limit` conversations in PSID order, those after `after` (from the first
    /// when `None`): every conversation, a page at a time, so nothing reading them all
    /// holds them all.
    fn threads_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<Thread>, StoreError>;

    /// Conversations whose label or alert is due at `now`.
    fn threads_due(&self, now: Timestamp) -> Result<Vec<Thread>, StoreError>;

    /// A conversation's messages, oldest first.
    fn messages(&self, psid: &str) -> Result<Vec<MessageRecord>, StoreError>;

    /// Whether a message with Meta's id `mid` is stored (any direction).
    fn mid_known(&self, mid: &str) -> Result<bool, StoreError>;

    /// One message by the interaction that sent it.
    fn message_by_interaction(&self, id: &str) -> Result<Option<MessageRecord>, StoreError>;

    /// Marks a send as being sent, if its state is one of `from`; whether it was.
    /// Exactly one of several concurrent callers gets `true`.
    fn claim_send(&self, interaction_id: &str, from: &[&str]) -> Result<bool, StoreError>;

    /// The tagged-message count a send decides against when its turn comes: tagged
    /// messages sent since the customer last acted, plus the tagged sends approved
    /// before message `before` (by id) and still in flight. Later reservations don't
    /// count against an earlier send: they were approved knowing about it.
    fn tagged_before(&self, psid: &str, before: i64) -> Result<u32, StoreError>;

    /// A conversation's parked replies, oldest first.
    fn parked(&self, psid: &str) -> Result<Vec<MessageRecord>, StoreError>;

    /// Outgoing messages (the team's and echoes), newest first; one customer's or all.
    fn audit(&self, psid: Option<&str>, limit: usize) -> Result<Vec<MessageRecord>, StoreError>;

    /// The conversation mirrored in a Discord thread.
    fn thread_by_discord(&self, discord_thread: u64) -> Result<Option<Thread>, StoreError>;

    /// Customers whose profile is still to be looked up at `now` (never tried, or due
    /// again after a failure), with the lookups tried so far.
    fn profiles_due(&self, now: Timestamp, limit: usize) -> Result<Vec<(String, u32)>, StoreError>;

    /// A profile lookup failed: try again at `next`, or (`None`) give up and keep the
    /// placeholder name.
    fn profile_failed(&self, psid: &str, next: Option<Timestamp>) -> Result<(), StoreError>;

    /// Every customer, by name.
    fn customers(&self) -> Result<Vec<Customer>, StoreError>;

    /// A draft.
    fn draft(&self, id: &str) -> Result<Option<Draft>, StoreError>;

    /// Saves or replaces a snippet.
    fn snippet_put(&self, snippet: &Snippet) -> Result<(), StoreError>;

    /// Removes a snippet; whether it existed.
    fn snippet_remove(&self, name: &str) -> Result<bool, StoreError>;

    /// Every snippet, by name.
    fn snippets(&self) -> Result<Vec<Snippet>, StoreError>;

    /// The page.
    fn page(&self) -> Result<Page, StoreError>;

    /// Work due at `now`, oldest first, at most one per lane: later work in a lane
    /// waits for earlier work, so a conversation's posts stay in order.
    fn work_due(&self, now: Timestamp, limit: usize) -> Result<Vec<QueuedWork>, StoreError>;

    /// The last pending post for a conversation that hasn't been attempted yet: new
    /// messages can join it instead of costing another Discord call.
    fn open_post(&self, psid: &str) -> Result<Option<QueuedWork>, StoreError>;

    /// Leases the first pending work of `lane` until `until`, if it is due at `now` and
    /// nobody holds a lease on it: whoever holds the lease performs it, so an agent's
    /// command and the outbox never attempt the same send at once, and a lane's sends
    /// go out in order. Done, retried or failed work loses its lease.
    fn lease_lane_head(
        &self,
        lane: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<QueuedWork>, StoreError>;

    /// Leases one piece of work as [`Store::lease_lane_head`] does; whether it was.
    fn lease_work(&self, id: i64, now: Timestamp, until: Timestamp) -> Result<bool, StoreError>;

    /// Notes a standing problem an operator must fix (a missing Discord permission),
    /// under `key`; whether it is new (so it is announced once).
    fn note_problem(&self, key: &str, text: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// The problem under `key` is fixed; whether there was one.
    fn clear_problem(&self, key: &str) -> Result<bool, StoreError>;

    /// Standing problems, in words, with when they started.
    fn problems(&self) -> Result<Vec<(String, Timestamp)>, StoreError>;

    /// Records a step of multi-step work.
    fn work_progress(&self, id: i64, progress: u64) -> Result<(), StoreError>;

    /// Counts for `/metrics`: conversations count as expired unanswered when the
    /// customer's last message is older than `unanswered_before` and no team reply
    /// came after it.
    fn stats(&self, unanswered_before: Timestamp) -> Result<StoreStats, StoreError>;

    /// Forgets the step recorded by [`Store::work_progress`]: the call it announced was
    /// refused, so nothing came of it.
    fn work_progress_undone(&self, id: i64) -> Result<(), StoreError>;

    /// Marks work done and applies what it changed, atomically.
    fn work_done(&self, id: i64, changes: &Changes) -> Result<(), StoreError>;

    /// Schedules another attempt.
    fn work_retry(&self, id: i64, due: Timestamp, error: &str) -> Result<(), StoreError>;

    /// Puts off work that wasn't attempted (its Discord bucket is spent until `due`):
    /// no attempt is counted, so it runs then as if for the first time.
    fn work_defer(&self, ids: &[i64], due: Timestamp) -> Result<(), StoreError>;

    /// Moves a lane's pending work ahead of everything but the page's own (a button on
    /// `/inbox` for a conversation not yet in Discord). Returns how many items moved.
    fn work_to_front(&self, lane: &str) -> Result<u64, StoreError>;

    /// Discord answers again: Discord work backing off after failures (not Graph
    /// sends) is due at `now` instead of when its backoff ends. Returns how many.
    fn work_resume_discord(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// Gives up on work that can never succeed.
    fn work_failed(&self, id: i64, error: &str) -> Result<(), StoreError>;

    /// How much work is waiting.
    fn work_pending(&self) -> Result<u64, StoreError>;

    /// The earliest instant anything is due: work, a label, an alert, a profile lookup.
    fn next_due(&self) -> Result<Option<Timestamp>, StoreError>;
}

/// How long a replica's hold on its lanes outlives its last heartbeat, unless
/// configured (`lane_lease`): another replica takes a dead one's lanes this long after.
pub const LANE_LEASE: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens (creating or migrating) the configured database.
pub fn open(database: &crate::config::Database) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    open_with(database, LANE_LEASE)
}

/// [`open`], holding lanes (Postgres) for `lane_lease` past each heartbeat.
pub fn open_with(
    database: &crate::config::Database,
    lane_lease: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    use crate::config::Database;
    Ok(match database {
        Database::Sqlite(path) => std::sync::Arc::new(sqlite::SqliteStore::open(path)?),
        Database::Postgres(conninfo) => std::sync::Arc::new(
            postgres::PostgresStore::open_with_lease(conninfo, lane_lease)?,
        ),
    })
}
