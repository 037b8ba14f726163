//! SQLite, the embedded default: one file, created and migrated at start, WAL mode.

use std::path::Path;
use std::sync::Mutex;

use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{
    AlertKind, Changes, Customer, Direction, Draft, Ingested, MessageRecord, Page, PendingEvent,
    Precondition, QueuedWork, Receipt, Snippet, Store, StoreError, StoreStats, Thread, ThreadPatch,
    Work,
};
use crate::intake::InboundEvent;
use messenger::ThreadState;

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
CREATE TABLE customers (
    psid        TEXT PRIMARY KEY,
    name        TEXT,
    profile_pic TEXT,
    fetched     INTEGER NOT NULL
);
CREATE TABLE threads (
    psid            TEXT PRIMARY KEY,
    last_opened     INTEGER,
    last_customer   INTEGER,
    tagged_since    INTEGER NOT NULL,
    discord_thread  INTEGER,
    opening         INTEGER NOT NULL,
    claimed_by      INTEGER,
    closed          INTEGER NOT NULL,
    standby         INTEGER NOT NULL,
    last_team_reply INTEGER,
    last_text       TEXT,
    label           TEXT,
    label_due       INTEGER,
    alerted_at      INTEGER,
    alerted_kind    TEXT,
    alert_due       INTEGER
);
CREATE INDEX threads_label_due ON threads (label_due);
CREATE INDEX threads_alert_due ON threads (alert_due);
CREATE TABLE messages (
    id             INTEGER PRIMARY KEY,
    psid           TEXT NOT NULL,
    direction      TEXT NOT NULL,
    mid            TEXT UNIQUE,
    kind           TEXT NOT NULL,
    text           TEXT NOT NULL,
    attachments    TEXT NOT NULL,
    at             INTEGER NOT NULL,
    messaging_type TEXT,
    tag            TEXT,
    agent          TEXT,
    decision       TEXT,
    state          TEXT NOT NULL,
    error          TEXT,
    standby        INTEGER NOT NULL,
    app_id         INTEGER
);
CREATE INDEX messages_thread ON messages (psid, at, id);
CREATE TABLE page (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    enforcement TEXT NOT NULL
);
CREATE TABLE outbox (
    id        INTEGER PRIMARY KEY,
    key       TEXT UNIQUE,
    lane      TEXT NOT NULL,
    work      TEXT NOT NULL,
    progress  INTEGER,
    attempts  INTEGER NOT NULL DEFAULT 0,
    due       INTEGER NOT NULL,
    state     TEXT NOT NULL DEFAULT 'pending',
    error     TEXT
);
CREATE INDEX outbox_pending ON outbox (state, lane, id);
CREATE INDEX outbox_due ON outbox (state, due);
"#,
    r#"
ALTER TABLE messages ADD COLUMN interaction_id TEXT;
CREATE UNIQUE INDEX messages_interaction ON messages (interaction_id);
CREATE INDEX messages_state ON messages (psid, state);
CREATE INDEX threads_discord ON threads (discord_thread);
CREATE TABLE drafts (
    id     TEXT PRIMARY KEY,
    psid   TEXT NOT NULL,
    text   TEXT NOT NULL,
    agent  TEXT NOT NULL,
    tag    TEXT
);
CREATE TABLE snippets (
    name   TEXT PRIMARY KEY,
    text   TEXT NOT NULL,
    author TEXT NOT NULL
);
"#,
    r#"
ALTER TABLE threads ADD COLUMN last_tagged INTEGER;
ALTER TABLE messages ADD COLUMN asked TEXT;
ALTER TABLE outbox ADD COLUMN leased_until INTEGER;
"#,
    r#"
CREATE TABLE instance (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL
);
CREATE TABLE problems (
    key   TEXT PRIMARY KEY,
    text  TEXT NOT NULL,
    since INTEGER NOT NULL
);
"#,
    r#"
ALTER TABLE customers ADD COLUMN lookups INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN next_lookup INTEGER;
CREATE INDEX customers_to_fetch ON customers (fetched, next_lookup);
"#,
    r#"
ALTER TABLE outbox ADD COLUMN front INTEGER NOT NULL DEFAULT 0;
"#,
    // The hot indexes hold only the rows the hot queries look for (pending work,
    // unprocessed events, threads with something due): done rows leave them, so they
    // stay small however long the bot has run, and fewer pages are written per commit.
    r#"
DROP INDEX outbox_pending;
DROP INDEX outbox_due;
DROP INDEX inbound_pending;
DROP INDEX threads_label_due;
DROP INDEX threads_alert_due;
DROP INDEX threads_discord;
CREATE INDEX outbox_pending ON outbox (lane, id) WHERE state = 'pending';
CREATE INDEX outbox_due ON outbox (due) WHERE state = 'pending';
CREATE INDEX inbound_pending ON inbound_events (timestamp, id) WHERE processed = 0;
CREATE INDEX threads_label_due ON threads (label_due) WHERE label_due IS NOT NULL;
CREATE INDEX threads_alert_due ON threads (alert_due) WHERE alert_due IS NOT NULL;
CREATE INDEX threads_discord ON threads (discord_thread) WHERE discord_thread IS NOT NULL;
"#,
    // Only the team's sends have an interaction: a customer's message adds no entry.
    r#"
DROP INDEX messages_interaction;
CREATE UNIQUE INDEX messages_interaction ON messages (interaction_id)
    WHERE interaction_id IS NOT NULL;
"#,
    // Why a send ended refused or failed, as a stable name (for /metrics).
    r#"
ALTER TABLE messages ADD COLUMN reason TEXT;
"#,
];

/// A database in this process's memory, by name, for simulations: every
/// [`SqliteStore::open_memory`] of it sees the same database, and it lasts as long as
/// this value, however many stores come and go. A simulated crash drops its store and
/// opens another, as a real one reopens the file: what was committed is all there is.
/// Nothing is written to a file, so a simulated weekend doesn't wait on the kernel.
///
/// It lives in SQLite's `memdb` VFS (the one `sqlite3_deserialize` uses), not in a
/// `mode=memory` database: a `mode=memory` database keeps every page in its page
/// cache, and SQLite scans that whole cache at the commit after any b-tree balance
/// that reorders pages (it parks a page at the pending-byte page number meanwhile),
/// so commits grew dearer with the database. On `memdb` the file is a buffer and the
/// page cache is bounded as a file's is.
pub struct MemoryDatabase {
    uri: String,
    /// Keeps the database alive between stores (never used: behind a mutex only so
    /// the value can be shared between threads, as a world is).
    _keeper: Mutex<Connection>,
}

impl MemoryDatabase {
    /// A new, empty database named `name` (unique in the process: a name already in use
    /// would share that database).
    pub fn new(name: &str) -> Result<Self, StoreError> {
        // A leading `/` makes the memdb database shared by name within the process.
        let uri = format!("file:/{name}?vfs=memdb");
        let keeper = Self::open_uri(&uri)?;
        Ok(MemoryDatabase {
            uri,
            _keeper: Mutex::new(keeper),
        })
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        Self::open_uri(&self.uri)
    }

    fn open_uri(uri: &str) -> Result<Connection, StoreError> {
        use rusqlite::OpenFlags;
        Ok(Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?)
    }
}

/// The SQLite store. One connection behind a mutex: SQLite serializes writers anyway,
/// and WAL lets the file be read while it is written.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    instance: String,
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

    /// Opens (creating if needed) and migrates the database `db` holds in memory.
    pub fn open_memory(db: &MemoryDatabase) -> Result<Self, StoreError> {
        // memdb refuses WAL and keeps its rollback journal in memory too: enough for
        // what a simulation does to a store (drop it mid-work, as a crash would).
        Self::setup(db.connect()?)
    }

    fn setup(conn: Connection) -> Result<Self, StoreError> {
        // The database belongs to one bot: a second process on the same file would
        // break the one-ticker rule and could post twice, so it is refused. Holding
        // the lock also spares a lock syscall per transaction.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A 200 to Meta promises the events survive a power cut, so every commit is
        // synced (FULL in WAL mode fsyncs the log at each commit; NORMAL would only
        // survive a crash of the process). Group commit amortises the fsync over the
        // deliveries that arrive together.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        // Checkpoint less often: the hot pages (the outbox, threads) are rewritten
        // many times between checkpoints, and each checkpoint copies them once.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            conn.execute_batch(migration)?;
            conn.pragma_update(None, "user_version", i + 1)?;
        }
        // Every statement the store runs stays prepared (rusqlite keeps 16 by default,
        // fewer than the store has, and re-preparing costs more than running).
        conn.set_prepared_statement_cache_capacity(64);
        // A name for this database, drawn once when it is created: Discord nonces carry
        // it, so a fresh database (or another one on the same bot token) never repeats
        // a nonce Discord still remembers.
        conn.execute(
            "INSERT INTO instance (id, name) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
            [instance_name(rand::random::<u64>())],
        )?;
        let instance =
            conn.query_row("SELECT name FROM instance WHERE id = 1", [], |r| r.get(0))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            instance,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pragma's value, for tests and diagnostics.
    pub fn pragma(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.conn().pragma_query_value(None, name, |r| r.get(0))?)
    }

    /// Marks events processed without other changes (tests and tools).
    pub fn mark_processed(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.commit(&Changes {
            processed: ids.to_vec(),
            ..Changes::default()
        })
    }
}

fn apply_patch(tx: &Transaction<'_>, patch: &ThreadPatch) -> rusqlite::Result<usize> {
    match patch {
        ThreadPatch::CustomerActed { psid, at } => run(
            tx,
            "UPDATE threads SET closed = 0,
                 tagged_since = CASE WHEN last_tagged IS NULL OR last_tagged < ?2
                                     THEN 0 ELSE tagged_since END
             WHERE psid = ?1",
            params![psid, ms(*at)],
        ),
        ThreadPatch::Opening { psid } => {
            run(tx, "UPDATE threads SET opening = 1 WHERE psid = ?1", [psid])
        }
        ThreadPatch::Opened {
            psid,
            discord_thread,
        } => run(
            tx,
            "UPDATE threads SET discord_thread = ?2, opening = 0 WHERE psid = ?1",
            params![psid, *discord_thread as i64],
        ),
        ThreadPatch::TeamReplied { psid, tagged, at } => run(
            tx,
            "UPDATE threads SET tagged_since = tagged_since + ?2,
                 last_tagged = CASE WHEN ?2 THEN MAX(COALESCE(last_tagged, 0), ?3)
                                    ELSE last_tagged END,
                 last_team_reply = MAX(COALESCE(last_team_reply, 0), ?3),
                 alert_due = CASE WHEN ?3 >= COALESCE(last_customer, 0) THEN NULL
                                  ELSE alert_due END
             WHERE psid = ?1",
            params![psid, u32::from(*tagged), ms(*at)],
        ),
        ThreadPatch::TagSpamWarned { psid, at } => run(
            tx,
            "UPDATE threads SET tagged_since = MAX(tagged_since, 2),
                 last_tagged = MAX(COALESCE(last_tagged, 0), ?2)
             WHERE psid = ?1",
            params![psid, ms(*at)],
        ),
        ThreadPatch::Claim {
            psid,
            by,
            if_unclaimed,
        } => run(
            tx,
            "UPDATE threads SET claimed_by = CASE WHEN ?3 THEN COALESCE(claimed_by, ?2) ELSE ?2 END
             WHERE psid = ?1",
            params![psid, by.map(|b| b as i64), if_unclaimed],
        ),
        ThreadPatch::Close { psid } => run(
            tx,
            "UPDATE threads SET closed = 1, label_due = NULL, alert_due = NULL WHERE psid = ?1",
            [psid],
        ),
    }
}

fn read_page(conn: &Connection) -> Result<Page, StoreError> {
    let json: Option<String> = conn
        .prepare_cached("SELECT enforcement FROM page WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let enforcement = match json {
        Some(j) => serde_json::from_str(&j).map_err(corrupt)?,
        None => Default::default(),
    };
    Ok(Page { enforcement })
}

/// Runs one statement, kept prepared.
fn run(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

pub(super) fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(super) fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.and_then(|ms| Timestamp::from_millisecond(ms).ok())
}

pub(super) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

const THREAD_COLUMNS: &str = "psid, last_opened, last_customer, tagged_since, discord_thread,
    opening, claimed_by, closed, standby, last_team_reply, last_text, label, label_due,
    alerted_at, alerted_kind, alert_due, last_tagged";

/// A thread as read: the tagged count includes the tagged sends still in flight (their
/// reservations), so every decision counts them.
const THREAD_SELECT: &str = "psid, last_opened, last_customer,
    tagged_since + (SELECT COUNT(*) FROM messages m WHERE m.psid = threads.psid
                    AND m.direction = 'out' AND m.tag IS NOT NULL
                    AND m.state IN ('queued', 'sending', 'retrying', 'uncertain', 'echoed')),
    discord_thread, opening, claimed_by, closed, standby, last_team_reply, last_text, label,
    label_due, alerted_at, alerted_kind, alert_due, last_tagged";

/// The tagged count a send decides against: sent since the customer acted, plus the
/// tagged sends in flight with a message id below `?2` (`i64::MAX`: all of them, as
/// [`THREAD_SELECT`] counts).
const TAGGED_BEFORE: &str = "SELECT tagged_since + (SELECT COUNT(*) FROM messages m
        WHERE m.psid = threads.psid AND m.direction = 'out' AND m.tag IS NOT NULL
          AND m.id < ?2
          AND m.state IN ('queued', 'sending', 'retrying', 'uncertain', 'echoed'))
    FROM threads WHERE psid = ?1";

/// [`TAGGED_BEFORE`] on `conn`: 0 for a conversation not stored yet.
fn tagged_before(conn: &Connection, psid: &str, before: i64) -> rusqlite::Result<u32> {
    let n: Option<u32> = conn
        .prepare_cached(TAGGED_BEFORE)?
        .query_row(params![psid, before], |r| r.get(0))
        .optional()?;
    Ok(n.unwrap_or(0))
}

fn thread_from(r: &Row<'_>) -> rusqlite::Result<Thread> {
    let alerted_kind: Option<String> = r.get(14)?;
    Ok(Thread {
        psid: r.get(0)?,
        state: ThreadState {
            last_opened: ts(r.get(1)?),
            last_customer_message: ts(r.get(2)?),
            tagged_since_customer: r.get(3)?,
            last_tagged: ts(r.get(16)?),
        },
        discord_thread: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
        opening: r.get(5)?,
        claimed_by: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        closed: r.get(7)?,
        standby: r.get(8)?,
        last_team_reply: ts(r.get(9)?),
        last_text: r.get(10)?,
        label: r.get(11)?,
        label_due: ts(r.get(12)?),
        alerted: ts(r.get(13)?).zip(alerted_kind.as_deref().and_then(AlertKind::parse)),
        alert_due: ts(r.get(15)?),
    })
}

const MESSAGE_COLUMNS: &str = "id, psid, direction, mid, kind, text, attachments, at,
    messaging_type, tag, agent, decision, state, error, standby, app_id, interaction_id, asked,
    reason";

fn message_from(r: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    let direction: String = r.get(2)?;
    let attachments: String = r.get(6)?;
    Ok(MessageRecord {
        id: r.get(0)?,
        psid: r.get(1)?,
        direction: Direction::parse(&direction),
        mid: r.get(3)?,
        kind: r.get(4)?,
        text: r.get(5)?,
        attachments: serde_json::from_str(&attachments).unwrap_or_default(),
        at: ts(r.get(7)?).unwrap_or_default(),
        messaging_type: r.get(8)?,
        tag: r.get(9)?,
        agent: r.get(10)?,
        decision: r.get(11)?,
        state: r.get(12)?,
        error: r.get(13)?,
        reason: r.get(18)?,
        standby: r.get(14)?,
        app_id: r.get::<_, Option<i64>>(15)?.map(|v| v as u64),
        interaction_id: r.get(16)?,
        asked: r
            .get::<_, Option<String>>(17)?
            .and_then(|a| serde_json::from_str(&a).ok()),
    })
}

/// Fails with [`StoreError::Conflict`] unless `p` holds.
fn check(tx: &Transaction<'_>, p: &Precondition) -> Result<(), StoreError> {
    let holds = match p {
        Precondition::TaggedCount { psid, is } => tagged_before(tx, psid, i64::MAX)? == *is,
        Precondition::NoMessageFor { interaction_id } => tx
            .prepare_cached("SELECT 1 FROM messages WHERE interaction_id = ?1")?
            .query_row([interaction_id], |_| Ok(()))
            .optional()?
            .is_none(),
        Precondition::ClaimedBy { psid, is } => {
            let by: Option<Option<i64>> = tx
                .prepare_cached("SELECT claimed_by FROM threads WHERE psid = ?1")?
                .query_row([psid], |r| r.get(0))
                .optional()?;
            by.flatten().map(|v| v as u64) == *is
        }
    };
    if holds {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!("{p:?}")))
    }
}

/// A failed profile lookup: counted, and tried again at `?2` (never if NULL).
const PROFILE_FAILED: &str = "UPDATE customers SET lookups = lookups + 1, next_lookup = ?2,
        fetched = CASE WHEN ?2 IS NULL THEN 1 ELSE fetched END
    WHERE psid = ?1";

fn apply(tx: &Transaction<'_>, c: &Changes) -> Result<(), StoreError> {
    for p in &c.preconditions {
        check(tx, p)?;
    }
    {
        let mut q = tx.prepare_cached("UPDATE inbound_events SET processed = 1 WHERE id = ?1")?;
        for id in &c.processed {
            q.execute([id])?;
        }
    }
    {
        let mut q = tx.prepare_cached(
            "INSERT INTO customers (psid, name, profile_pic, fetched) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (psid) DO UPDATE SET name = ?2, profile_pic = ?3, fetched = ?4",
        )?;
        for cu in &c.customers {
            q.execute(params![cu.psid, cu.name, cu.profile_pic, cu.fetched])?;
        }
        for (psid, next) in &c.profile_failures {
            run(tx, PROFILE_FAILED, params![psid, next.map(ms)])?;
        }
    }
    {
        let mut q = tx.prepare_cached(&format!(
            "INSERT INTO threads ({THREAD_COLUMNS}) VALUES
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
             ON CONFLICT (psid) DO UPDATE SET
                 last_opened = CASE WHEN last_opened IS NULL OR ?2 > last_opened
                                    THEN ?2 ELSE last_opened END,
                 last_customer = CASE WHEN last_customer IS NULL OR ?3 > last_customer
                                      THEN ?3 ELSE last_customer END,
                 standby = ?9, last_text = ?11, label = ?12, label_due = ?13,
                 alerted_at = ?14, alerted_kind = ?15, alert_due = ?16"
        ))?;
        for t in &c.threads {
            q.execute(params![
                t.psid,
                t.state.last_opened.map(ms),
                t.state.last_customer_message.map(ms),
                t.state.tagged_since_customer,
                t.discord_thread.map(|v| v as i64),
                t.opening,
                t.claimed_by.map(|v| v as i64),
                t.closed,
                t.standby,
                t.last_team_reply.map(ms),
                t.last_text,
                t.label,
                t.label_due.map(ms),
                t.alerted.map(|(at, _)| ms(at)),
                t.alerted.map(|(_, k)| k.as_str()),
                t.alert_due.map(ms),
                t.state.last_tagged.map(ms),
            ])?;
        }
    }
    for patch in &c.patches {
        apply_patch(tx, patch)?;
    }
    {
        let mut q = tx.prepare_cached(
            "INSERT INTO messages (psid, direction, mid, kind, text, attachments, at,
                 messaging_type, tag, agent, decision, state, error, standby, app_id,
                 interaction_id, asked, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18)
             ON CONFLICT DO NOTHING",
        )?;
        for m in &c.messages {
            q.execute(params![
                m.psid,
                m.direction.as_str(),
                m.mid,
                m.kind,
                m.text,
                serde_json::to_string(&m.attachments).map_err(corrupt)?,
                ms(m.at),
                m.messaging_type,
                m.tag,
                m.agent,
                m.decision,
                m.state,
                m.error,
                m.standby,
                m.app_id.map(|v| v as i64),
                m.interaction_id,
                m.asked
                    .map(|a| serde_json::to_string(&a))
                    .transpose()
                    .map_err(corrupt)?,
                m.reason,
            ])?;
        }
    }
    {
        let mut q = tx.prepare_cached(
            "UPDATE messages SET state = ?2, mid = COALESCE(?3, mid), error = ?4,
                 messaging_type = COALESCE(?5, messaging_type), at = COALESCE(?6, at),
                 tag = CASE WHEN ?8 THEN ?9 ELSE tag END, reason = ?10
             WHERE interaction_id = ?1 AND (?7 IS NULL OR state = ?7)",
        )?;
        for u in &c.message_updates {
            q.execute(params![
                u.interaction_id,
                u.state,
                u.mid,
                u.error,
                u.messaging_type,
                u.at.map(ms),
                u.if_state,
                u.retag.is_some(),
                u.retag.clone().flatten(),
                u.reason,
            ])?;
        }
    }
    {
        let mut q = tx.prepare_cached(
            "UPDATE messages SET state = 'echoed', mid = ?2
             WHERE interaction_id = ?1 AND state IN ('queued', 'retrying', 'sending', 'uncertain')",
        )?;
        for (interaction_id, mid) in &c.echo_confirms {
            q.execute(params![interaction_id, mid])?;
        }
        // A send given up on (its fate couldn't be told) that Meta's echo proves went
        // out: it is finished as sent after all, counted, and the thread corrected.
        let mut revived = tx.prepare_cached(
            "UPDATE messages SET state = 'echoed', mid = ?2, error = NULL
             WHERE interaction_id = ?1 AND state = 'failed' RETURNING psid",
        )?;
        for (interaction_id, mid) in &c.echo_confirms {
            let psid: Option<String> = revived
                .query_row(params![interaction_id, mid], |r| r.get(0))
                .optional()?;
            if let (Some(psid), Some(at)) = (psid, c.echoes_seen_at) {
                let work = Work::GraphSend {
                    psid,
                    interaction_id: interaction_id.clone(),
                };
                run(
                    tx,
                    "INSERT INTO outbox (lane, work, due) VALUES (?1, ?2, ?3)",
                    params![
                        work.lane(),
                        serde_json::to_string(&work).map_err(corrupt)?,
                        ms(at)
                    ],
                )?;
            }
        }
        // The send's outcome is known: its work runs now (it posts the line in the
        // thread) instead of at the end of the echo grace.
        let mut due = tx.prepare_cached(
            "UPDATE outbox SET due = MIN(due, ?2)
             WHERE state = 'pending' AND json_extract(work, '$.interaction_id') = ?1",
        )?;
        for (interaction_id, _) in &c.echo_confirms {
            if let Some(at) = c.echoes_seen_at {
                due.execute(params![interaction_id, ms(at)])?;
            }
        }
    }
    {
        let mut q = tx.prepare_cached(
            "INSERT OR REPLACE INTO drafts (id, psid, text, agent, tag) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for d in &c.drafts {
            q.execute(params![d.id, d.psid, d.text, d.agent, d.tag])?;
        }
    }
    for r in &c.receipts {
        // Read beats delivered; neither overrides a failure.
        match r {
            Receipt::Delivered {
                psid,
                mids,
                watermark,
            } => {
                run(
                    tx,
                    "UPDATE messages SET state = 'delivered' WHERE psid = ?1
                     AND direction != 'in' AND state = 'sent' AND at <= ?2",
                    params![psid, ms(*watermark)],
                )?;
                let mut q = tx.prepare_cached(
                    "UPDATE messages SET state = 'delivered' WHERE mid = ?1 AND state = 'sent'",
                )?;
                for mid in mids {
                    q.execute([mid])?;
                }
            }
            Receipt::Read { psid, watermark } => {
                run(
                    tx,
                    "UPDATE messages SET state = 'read' WHERE psid = ?1 AND direction != 'in'
                     AND state IN ('sent', 'delivered') AND at <= ?2",
                    params![psid, ms(*watermark)],
                )?;
            }
        }
    }
    if !c.page_ops.is_empty() {
        // Read, change and write the record inside this transaction: the exclusive
        // write lock makes it atomic against every other writer.
        let mut page = read_page(tx)?;
        for op in &c.page_ops {
            op.apply(&mut page);
        }
        run(
            tx,
            "INSERT INTO page (id, enforcement) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET enforcement = ?1",
            [serde_json::to_string(&page.enforcement).map_err(corrupt)?],
        )?;
    }
    for w in &c.work {
        let work = serde_json::to_string(&w.work).map_err(corrupt)?;
        match &w.key {
            // A pending item with the key is superseded; a done one stays done.
            Some(key) => run(
                tx,
                "INSERT INTO outbox (key, lane, work, due) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET work = ?3, due = ?4 WHERE state = 'pending'",
                params![key, w.work.lane(), work, ms(w.due)],
            )?,
            None => run(
                tx,
                "INSERT INTO outbox (lane, work, due) VALUES (?1, ?2, ?3)",
                params![w.work.lane(), work, ms(w.due)],
            )?,
        };
    }
    {
        let mut q = tx.prepare_cached(
            "UPDATE outbox SET work = ?2
             WHERE id = ?1 AND state = 'pending' AND attempts = 0 AND progress IS NULL",
        )?;
        for (id, work) in &c.work_updates {
            q.execute(params![id, serde_json::to_string(work).map_err(corrupt)?])?;
        }
    }
    if let Some(at) = c.relabel_all {
        run(
            tx,
            "UPDATE threads SET label_due = ?1 WHERE closed = 0",
            [ms(at)],
        )?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn replica(&self) -> Option<&str> {
        None
    }

    fn release_lanes(&self, _now: Timestamp) -> Result<(), StoreError> {
        // The only process: every lane is its own.
        Ok(())
    }

    fn leave(&self) -> Result<(), StoreError> {
        // No other process can open the file while this one has it: nobody to hand
        // lanes to.
        Ok(())
    }

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

    fn count_events(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn()
            .query_row("SELECT COUNT(*) FROM inbound_events", [], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0) as u64)
    }

    fn commit(&self, changes: &Changes) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        apply(&tx, changes)?;
        tx.commit()?;
        Ok(())
    }

    fn customer(&self, psid: &str) -> Result<Option<Customer>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT psid, name, profile_pic, fetched FROM customers WHERE psid = ?1",
        )?;
        Ok(q.query_row([psid], |r| {
            Ok(Customer {
                psid: r.get(0)?,
                name: r.get(1)?,
                profile_pic: r.get(2)?,
                fetched: r.get(3)?,
            })
        })
        .optional()?)
    }

    fn thread(&self, psid: &str) -> Result<Option<Thread>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {THREAD_SELECT} FROM threads WHERE psid = ?1"
        ))?;
        Ok(q.query_row([psid], thread_from).optional()?)
    }

    fn threads_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<Thread>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {THREAD_SELECT} FROM threads WHERE psid > ?1 ORDER BY psid LIMIT ?2"
        ))?;
        let rows = q.query_map(params![after.unwrap_or(""), limit as i64], thread_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn threads_due(&self, now: Timestamp) -> Result<Vec<Thread>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {THREAD_SELECT} FROM threads INDEXED BY threads_label_due WHERE label_due <= ?1
             UNION SELECT {THREAD_SELECT} FROM threads INDEXED BY threads_alert_due
                   WHERE alert_due <= ?1
             ORDER BY psid"
        ))?;
        let rows = q.query_map([ms(now)], thread_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn messages(&self, psid: &str) -> Result<Vec<MessageRecord>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE psid = ?1 ORDER BY at, id"
        ))?;
        let rows = q.query_map([psid], message_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn mid_known(&self, mid: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT 1 FROM messages WHERE mid = ?1")?
            .query_row([mid], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn message_by_interaction(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE interaction_id = ?1"
        ))?;
        Ok(q.query_row([id], message_from).optional()?)
    }

    fn claim_send(&self, interaction_id: &str, from: &[&str]) -> Result<bool, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "UPDATE messages SET state = 'sending'
             WHERE interaction_id = ?1 AND state IN (SELECT value FROM json_each(?2))",
        )?;
        let from = serde_json::to_string(from).map_err(corrupt)?;
        Ok(q.execute(params![interaction_id, from])? == 1)
    }

    fn tagged_before(&self, psid: &str, before: i64) -> Result<u32, StoreError> {
        Ok(tagged_before(&self.conn(), psid, before)?)
    }

    fn parked(&self, psid: &str) -> Result<Vec<MessageRecord>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE psid = ?1 AND state = 'parked'
             ORDER BY id"
        ))?;
        let rows = q.query_map([psid], message_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit(&self, psid: Option<&str>, limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE direction != 'in' AND (?1 IS NULL OR psid = ?1)
             ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = q.query_map(params![psid, limit as i64], message_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn thread_by_discord(&self, discord_thread: u64) -> Result<Option<Thread>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(&format!(
            "SELECT {THREAD_SELECT} FROM threads WHERE discord_thread = ?1"
        ))?;
        Ok(q.query_row([discord_thread as i64], thread_from)
            .optional()?)
    }

    fn profiles_due(&self, now: Timestamp, limit: usize) -> Result<Vec<(String, u32)>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT psid, lookups FROM customers
             WHERE fetched = 0 AND (next_lookup IS NULL OR next_lookup <= ?1)
             ORDER BY COALESCE(next_lookup, 0), psid LIMIT ?2",
        )?;
        let rows = q.query_map(params![ms(now), limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn profile_failed(&self, psid: &str, next: Option<Timestamp>) -> Result<(), StoreError> {
        run(&self.conn(), PROFILE_FAILED, params![psid, next.map(ms)])?;
        Ok(())
    }

    fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT psid, name, profile_pic, fetched FROM customers ORDER BY name, psid",
        )?;
        let rows = q.query_map([], |r| {
            Ok(Customer {
                psid: r.get(0)?,
                name: r.get(1)?,
                profile_pic: r.get(2)?,
                fetched: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn draft(&self, id: &str) -> Result<Option<Draft>, StoreError> {
        let conn = self.conn();
        let mut q =
            conn.prepare_cached("SELECT id, psid, text, agent, tag FROM drafts WHERE id = ?1")?;
        Ok(q.query_row([id], |r| {
            Ok(Draft {
                id: r.get(0)?,
                psid: r.get(1)?,
                text: r.get(2)?,
                agent: r.get(3)?,
                tag: r.get(4)?,
            })
        })
        .optional()?)
    }

    fn snippet_put(&self, snippet: &Snippet) -> Result<(), StoreError> {
        run(
            &self.conn(),
            "INSERT OR REPLACE INTO snippets (name, text, author) VALUES (?1, ?2, ?3)",
            params![snippet.name, snippet.text, snippet.author],
        )?;
        Ok(())
    }

    fn snippet_remove(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM snippets WHERE name = ?1", [name])?
            == 1)
    }

    fn snippets(&self) -> Result<Vec<Snippet>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached("SELECT name, text, author FROM snippets ORDER BY name")?;
        let rows = q.query_map([], |r| {
            Ok(Snippet {
                name: r.get(0)?,
                text: r.get(1)?,
                author: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn page(&self) -> Result<Page, StoreError> {
        read_page(&self.conn())
    }

    fn work_due(&self, now: Timestamp, limit: usize) -> Result<Vec<QueuedWork>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT o.id, o.work, o.progress, o.attempts, o.due, o.front FROM outbox o
             WHERE o.state = 'pending' AND o.due <= ?1
               AND (o.leased_until IS NULL OR o.leased_until <= ?1)
               AND NOT EXISTS (SELECT 1 FROM outbox p
                               WHERE p.state = 'pending' AND p.lane = o.lane AND p.id < o.id)
             ORDER BY o.front DESC, o.id LIMIT ?2",
        )?;
        let rows = q.query_map(params![ms(now), limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(queued(row?)?);
        }
        Ok(out)
    }

    fn lease_lane_head(
        &self,
        lane: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<QueuedWork>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let head = tx
            .prepare_cached(
                "SELECT id, work, progress, attempts, due, front FROM outbox
                 WHERE state = 'pending' AND lane = ?1 AND due <= ?2
                   AND (leased_until IS NULL OR leased_until <= ?2)
                   AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending'
                                   AND p.lane = ?1 AND p.id < outbox.id)",
            )?
            .query_row(params![lane, ms(now)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .optional()?;
        let Some(row) = head else { return Ok(None) };
        run(
            &tx,
            "UPDATE outbox SET leased_until = ?2 WHERE id = ?1",
            params![row.0, ms(until)],
        )?;
        tx.commit()?;
        queued(row).map(Some)
    }

    fn note_problem(&self, key: &str, text: &str, at: Timestamp) -> Result<bool, StoreError> {
        Ok(run(
            &self.conn(),
            "INSERT INTO problems (key, text, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO NOTHING",
            params![key, text, ms(at)],
        )? == 1)
    }

    fn clear_problem(&self, key: &str) -> Result<bool, StoreError> {
        Ok(run(&self.conn(), "DELETE FROM problems WHERE key = ?1", [key])? == 1)
    }

    fn problems(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached("SELECT text, since FROM problems ORDER BY since, key")?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                ts(Some(r.get(1)?)).unwrap_or_default(),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn lease_work(&self, id: i64, now: Timestamp, until: Timestamp) -> Result<bool, StoreError> {
        Ok(run(
            &self.conn(),
            "UPDATE outbox SET leased_until = ?3
             WHERE id = ?1 AND state = 'pending' AND due <= ?2
               AND (leased_until IS NULL OR leased_until <= ?2)",
            params![id, ms(now), ms(until)],
        )? == 1)
    }

    fn open_post(&self, psid: &str) -> Result<Option<QueuedWork>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT id, work, progress, attempts, leased_until IS NOT NULL FROM outbox
             WHERE state = 'pending' AND lane = ?1 ORDER BY id DESC LIMIT 1",
        )?;
        let row = q
            .query_row([psid], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })
            .optional()?;
        let Some((id, work, progress, attempts, asked)) = row else {
            return Ok(None);
        };
        // Asked of Discord already (leased for an attempt a crash cut short): Discord
        // may hold it as it was, so nothing joins it.
        if progress.is_some() || attempts > 0 || asked {
            return Ok(None);
        }
        let work: Work = serde_json::from_str(&work).map_err(corrupt)?;
        Ok(
            matches!(work, Work::Post { .. } | Work::OpenThread { .. }).then_some(QueuedWork {
                id,
                work,
                progress: None,
                attempts,
                due: Timestamp::default(),
                front: false,
            }),
        )
    }

    fn work_progress(&self, id: i64, progress: u64) -> Result<(), StoreError> {
        run(
            &self.conn(),
            "UPDATE outbox SET progress = ?2 WHERE id = ?1",
            params![id, progress as i64],
        )?;
        Ok(())
    }

    fn stats(&self, unanswered_before: Timestamp) -> Result<StoreStats, StoreError> {
        let conn = self.conn();
        let events: i64 =
            conn.query_row("SELECT count(*) FROM inbound_events", [], |r| r.get(0))?;
        let mut stats = StoreStats {
            events: events as u64,
            ..StoreStats::default()
        };
        let mut q = conn.prepare_cached(
            "SELECT json_extract(work, '$.kind'), count(*) FROM outbox
             WHERE state = 'pending' GROUP BY 1",
        )?;
        for row in q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (kind, n) = row?;
            stats.pending.insert(kind, n as u64);
        }
        let mut q = conn.prepare_cached(
            "SELECT direction, state, count(*) FROM messages GROUP BY direction, state",
        )?;
        for row in q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })? {
            let (direction, state, n) = row?;
            stats.messages.insert((direction, state), n as u64);
        }
        let mut q = conn.prepare_cached(
            "SELECT state, COALESCE(reason, 'unknown'), count(*) FROM messages
             WHERE direction = 'out' AND state IN ('refused', 'failed') GROUP BY 1, 2",
        )?;
        for row in q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })? {
            let (state, reason, n) = row?;
            stats.ended.insert((state, reason), n as u64);
        }
        let unanswered: i64 = conn.query_row(
            "SELECT count(*) FROM threads WHERE last_customer < ?1
               AND (last_team_reply IS NULL OR last_team_reply < last_customer)",
            params![ms(unanswered_before)],
            |r| r.get(0),
        )?;
        stats.expired_unanswered = unanswered as u64;
        Ok(stats)
    }

    fn work_progress_undone(&self, id: i64) -> Result<(), StoreError> {
        run(
            &self.conn(),
            "UPDATE outbox SET progress = NULL WHERE id = ?1",
            params![id],
        )?;
        Ok(())
    }

    fn work_done(&self, id: i64, changes: &Changes) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        run(
            &tx,
            "UPDATE outbox SET state = 'done', error = NULL, leased_until = NULL WHERE id = ?1",
            [id],
        )?;
        // Apart, so that work without a key leaves the key index alone.
        run(
            &tx,
            "UPDATE outbox SET key = NULL WHERE id = ?1 AND key IS NOT NULL",
            [id],
        )?;
        apply(&tx, changes)?;
        tx.commit()?;
        Ok(())
    }

    fn work_retry(&self, id: i64, due: Timestamp, error: &str) -> Result<(), StoreError> {
        run(
            &self.conn(),
            "UPDATE outbox SET attempts = attempts + 1, due = ?2, error = ?3, leased_until = NULL
             WHERE id = ?1",
            params![id, ms(due), error],
        )?;
        Ok(())
    }

    fn work_defer(&self, ids: &[i64], due: Timestamp) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut q =
                tx.prepare_cached("UPDATE outbox SET due = ?2, leased_until = NULL WHERE id = ?1")?;
            for id in ids {
                q.execute(params![id, ms(due)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn work_to_front(&self, lane: &str) -> Result<u64, StoreError> {
        let n = self
            .conn()
            .prepare_cached("UPDATE outbox SET front = 1 WHERE state = 'pending' AND lane = ?1")?
            .execute([lane])?;
        Ok(n as u64)
    }

    fn work_resume_discord(&self, now: Timestamp) -> Result<u64, StoreError> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE outbox SET due = ?1
                 WHERE state = 'pending' AND attempts > 0 AND due > ?1
                   AND lane NOT LIKE 'graph:%'",
            )?
            .execute([ms(now)])?;
        Ok(n as u64)
    }

    fn work_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        run(
            &self.conn(),
            "UPDATE outbox SET attempts = attempts + 1, state = 'failed', key = NULL, error = ?2,
                 leased_until = NULL
             WHERE id = ?1",
            params![id, error],
        )?;
        Ok(())
    }

    fn work_pending(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let v: Option<i64> = self
            .conn()
            .prepare_cached(
                "SELECT MIN(t) FROM (
                SELECT MIN(MAX(o.due, COALESCE(o.leased_until, 0))) AS t FROM outbox o
                WHERE o.state = 'pending'
                  AND NOT EXISTS (SELECT 1 FROM outbox p
                                  WHERE p.state = 'pending' AND p.lane = o.lane AND p.id < o.id)
                UNION ALL SELECT MIN(COALESCE(next_lookup, 0)) FROM customers WHERE fetched = 0
                UNION ALL SELECT MIN(label_due) FROM threads WHERE label_due IS NOT NULL
                UNION ALL SELECT MIN(alert_due) FROM threads WHERE alert_due IS NOT NULL)",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(ts(v))
    }
}

/// Eight base-36 characters (41 bits) from `n`.
pub(super) fn instance_name(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..8)
        .map(|_| {
            let d = DIGITS[(n % 36) as usize] as char;
            n /= 36;
            d
        })
        .collect()
}

/// Queued work from its row: id, work, progress, attempts, due.
pub(super) fn queued(
    row: (i64, String, Option<i64>, u32, i64, bool),
) -> Result<QueuedWork, StoreError> {
    let (id, work, progress, attempts, due, front) = row;
    Ok(QueuedWork {
        id,
        work: serde_json::from_str(&work).map_err(corrupt)?,
        progress: progress.map(|v| v as u64),
        attempts,
        due: ts(Some(due)).unwrap_or_default(),
        front,
    })
}

/// Maps a stored kind back to the static name intake uses.
pub(super) fn intern(kind: &str) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_database_outlives_its_stores_and_keeps_no_file() {
        let db = MemoryDatabase::new("store-tests-outlives").unwrap();
        let first = SqliteStore::open_memory(&db).unwrap();
        let greeting = Snippet {
            name: "greeting".into(),
            text: "Hello!".into(),
            author: "ana".into(),
        };
        first.snippet_put(&greeting).unwrap();
        let instance = first.instance.clone();
        drop(first);
        let second = SqliteStore::open_memory(&db).unwrap();
        assert_eq!(second.snippets().unwrap(), vec![greeting]);
        assert_eq!(
            second.instance, instance,
            "the same database, not a new one"
        );
        let journal: String = second
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "memory", "no log in a file");
        assert!(!Path::new("/store-tests-outlives-wal").exists());
        assert!(!Path::new("/store-tests-outlives-journal").exists());
    }

    #[test]
    fn reservations_count_every_in_flight_state() {
        let listed = |sql: &str| {
            super::super::IN_FLIGHT
                .iter()
                .all(|state| sql.contains(&format!("'{state}'")))
        };
        assert!(listed(THREAD_SELECT));
        assert!(listed(TAGGED_BEFORE));
    }
}
