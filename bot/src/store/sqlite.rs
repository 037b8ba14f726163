//! SQLite, the embedded default: one file, created and migrated at start, WAL mode.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::{Ingested, PendingEvent, Store, StoreError};
use crate::intake::InboundEvent;

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE inbound_events (
    id          INTEGER PRIMARY KEY,
    dedupe_key  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    psid        TEXT,
    timestamp   INTEGER NOT NULL,
    standby     INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    processed   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX inbound_pending ON inbound_events (processed, timestamp, id);
"#];

/// The SQLite store. One connection behind a mutex: SQLite serializes writers anyway,
/// and WAL lets the file be read while it is written.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::setup(Connection::open(path)?)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // With WAL, NORMAL is durable across application crashes; only a power loss
        // can drop the last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            conn.execute_batch(migration)?;
            conn.pragma_update(None, "user_version", i + 1)?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for SqliteStore {
    fn ingest(&self, events: &[InboundEvent]) -> Result<Ingested, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut result = Ingested::default();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO inbound_events (dedupe_key, kind, psid, timestamp, standby, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (dedupe_key) DO NOTHING",
            )?;
            for e in events {
                let n = insert.execute(params![
                    e.dedupe_key,
                    e.kind,
                    e.psid,
                    e.timestamp,
                    e.standby,
                    e.payload
                ])?;
                if n == 1 {
                    result.stored += 1;
                } else {
                    result.duplicates += 1;
                }
            }
        }
        tx.commit()?;
        Ok(result)
    }

    fn pending(&self, limit: usize) -> Result<Vec<PendingEvent>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT id, dedupe_key, kind, psid, timestamp, standby, payload FROM inbound_events
             WHERE processed = 0 ORDER BY timestamp, id LIMIT ?1",
        )?;
        let rows = q.query_map([limit as i64], |r| {
            let kind: String = r.get(2)?;
            Ok(PendingEvent {
                id: r.get(0)?,
                event: InboundEvent {
                    dedupe_key: r.get(1)?,
                    kind: intern(&kind),
                    psid: r.get(3)?,
                    timestamp: r.get(4)?,
                    standby: r.get(5)?,
                    payload: r.get(6)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn mark_processed(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut q =
                tx.prepare_cached("UPDATE inbound_events SET processed = 1 WHERE id = ?1")?;
            for id in ids {
                q.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn count_events(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn()
            .query_row("SELECT COUNT(*) FROM inbound_events", [], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0) as u64)
    }
}

/// Maps a stored kind back to the static name intake uses.
fn intern(kind: &str) -> &'static str {
    const KINDS: [&str; 9] = [
        "unparsed",
        "message",
        "echo",
        "delivery",
        "read",
        "reaction",
        "postback",
        "referral",
        "policy_enforcement",
    ];
    KINDS.into_iter().find(|k| *k == kind).unwrap_or("unknown")
}
