//! The bot's durable store, behind one interface.
//!
//! Handlers only see [`Store`]; SQLite ([`sqlite::SqliteStore`]) is the embedded
//! default, and a Postgres backend can implement the same trait without touching them.

pub mod sqlite;

use crate::intake::InboundEvent;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
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
    /// Stores events atomically and durably; events already stored are skipped.
    fn ingest(&self, events: &[InboundEvent]) -> Result<Ingested, StoreError>;

    /// Unprocessed events, oldest first by the event's own timestamp.
    fn pending(&self, limit: usize) -> Result<Vec<PendingEvent>, StoreError>;

    /// Marks events as processed.
    fn mark_processed(&self, ids: &[i64]) -> Result<(), StoreError>;

    /// How many events are stored in all.
    fn count_events(&self) -> Result<u64, StoreError>;
}
