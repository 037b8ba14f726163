//! Deliberate defects, injected around the bot's store, so a test (or QA, with
//! `--inject-defect`) can see the explorer find a broken guard and shrink it.
//!
//! A defect wraps the real store and changes what the bot reads from it; the bot's own
//! code is untouched and carries no switch for it. Everything not named below passes
//! straight through.

use std::sync::Arc;

use bot::intake::InboundEvent;
use bot::store::{
    Changes, Customer, Direction, Draft, Ingested, MessageRecord, Page, PendingEvent, Precondition,
    QueuedWork, Snippet, Store, StoreError, StoreStats, Thread, IN_FLIGHT,
};
use jiff::Timestamp;

/// A defect the bot can be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Defect {
    /// The guard forgets the tagged messages already sent: every decision, and every
    /// attempt's re-decision, sees none since the customer last wrote (as if the count
    /// were lost on the way to the store). Nothing else stands between an agent and a
    /// third tagged message in a row.
    NoTagCount,
    /// Tagged sends still in flight don't hold their place in the count: decisions
    /// count only what Meta has accepted. The re-decision before each attempt still
    /// counts, so the page stays safe; agents are told less up front.
    NoTagReservation,
    /// Multi-step Discord work forgets its progress marks: a forum post's "asked" mark
    /// and a thread's starter message are never stored, so a retry after a lost answer
    /// or a crash can't know that an earlier attempt may have gone through, and in a
    /// forum posts the conversation again.
    NoProgressMarks,
}

impl Defect {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Defect::NoTagCount => "no-tag-count",
            Defect::NoTagReservation => "no-tag-reservation",
            Defect::NoProgressMarks => "no-progress-marks",
        }
    }
}

/// `inner`, with `defect`.
pub fn inject(inner: Arc<dyn Store>, defect: Defect) -> Arc<dyn Store> {
    Arc::new(Defective { inner, defect })
}

struct Defective {
    inner: Arc<dyn Store>,
    defect: Defect,
}

impl Defective {
    /// The tagged count as the defect shows it: `counted` is the store's (sent since
    /// the customer acted, plus those in flight with an id below `before`).
    fn tagged(&self, psid: &str, counted: u32, before: i64) -> Result<u32, StoreError> {
        Ok(match self.defect {
            Defect::NoTagCount => 0,
            Defect::NoProgressMarks => counted,
            Defect::NoTagReservation => {
                let in_flight = self
                    .inner
                    .messages(psid)?
                    .iter()
                    .filter(|m| {
                        m.id < before
                            && m.direction == Direction::Out
                            && m.tag.is_some()
                            && IN_FLIGHT.contains(&m.state.as_str())
                    })
                    .count() as u32;
                counted.saturating_sub(in_flight)
            }
        })
    }

    fn thread_as_read(&self, mut t: Thread) -> Result<Thread, StoreError> {
        t.state.tagged_since_customer =
            self.tagged(&t.psid, t.state.tagged_since_customer, i64::MAX)?;
        Ok(t)
    }

    fn threads_as_read(&self, ts: Vec<Thread>) -> Result<Vec<Thread>, StoreError> {
        ts.into_iter().map(|t| self.thread_as_read(t)).collect()
    }

    /// The changes without the tagged-count preconditions, for the defects that change
    /// the count: the count they were read against is the defect's, which the real
    /// store would never match.
    fn unchecked(&self, changes: &Changes) -> Changes {
        let mut c = changes.clone();
        if self.defect == Defect::NoProgressMarks {
            return c;
        }
        c.preconditions
            .retain(|p| !matches!(p, Precondition::TaggedCount { .. }));
        c
    }
}

impl Store for Defective {
    fn instance(&self) -> &str {
        self.inner.instance()
    }
    fn replica(&self) -> Option<&str> {
        self.inner.replica()
    }
    fn release_lanes(&self, now: Timestamp) -> Result<(), StoreError> {
        self.inner.release_lanes(now)
    }
    fn leave(&self) -> Result<(), StoreError> {
        self.inner.leave()
    }
    fn ingest(&self, events: &[InboundEvent]) -> Result<Ingested, StoreError> {
        self.inner.ingest(events)
    }
    fn pending(&self, limit: usize) -> Result<Vec<PendingEvent>, StoreError> {
        self.inner.pending(limit)
    }
    fn count_events(&self) -> Result<u64, StoreError> {
        self.inner.count_events()
    }
    fn commit(&self, changes: &Changes) -> Result<(), StoreError> {
        self.inner.commit(&self.unchecked(changes))
    }
    fn customer(&self, psid: &str) -> Result<Option<Customer>, StoreError> {
        self.inner.customer(psid)
    }
    fn thread(&self, psid: &str) -> Result<Option<Thread>, StoreError> {
        self.inner
            .thread(psid)?
            .map(|t| self.thread_as_read(t))
            .transpose()
    }
    fn threads_after(&self, after: Option<&str>, limit: usize) -> Result<Vec<Thread>, StoreError> {
        self.threads_as_read(self.inner.threads_after(after, limit)?)
    }
    fn threads_due(&self, now: Timestamp) -> Result<Vec<Thread>, StoreError> {
        self.threads_as_read(self.inner.threads_due(now)?)
    }
    fn messages(&self, psid: &str) -> Result<Vec<MessageRecord>, StoreError> {
        self.inner.messages(psid)
    }
    fn mid_known(&self, mid: &str) -> Result<bool, StoreError> {
        self.inner.mid_known(mid)
    }
    fn message_by_interaction(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        self.inner.message_by_interaction(id)
    }
    fn claim_send(&self, interaction_id: &str, from: &[&str]) -> Result<bool, StoreError> {
        self.inner.claim_send(interaction_id, from)
    }
    fn tagged_before(&self, psid: &str, before: i64) -> Result<u32, StoreError> {
        let counted = self.inner.tagged_before(psid, before)?;
        self.tagged(psid, counted, before)
    }
    fn parked(&self, psid: &str) -> Result<Vec<MessageRecord>, StoreError> {
        self.inner.parked(psid)
    }
    fn audit(&self, psid: Option<&str>, limit: usize) -> Result<Vec<MessageRecord>, StoreError> {
        self.inner.audit(psid, limit)
    }
    fn thread_by_discord(&self, discord_thread: u64) -> Result<Option<Thread>, StoreError> {
        self.inner
            .thread_by_discord(discord_thread)?
            .map(|t| self.thread_as_read(t))
            .transpose()
    }
    fn profiles_due(&self, now: Timestamp, limit: usize) -> Result<Vec<(String, u32)>, StoreError> {
        self.inner.profiles_due(now, limit)
    }
    fn profile_failed(&self, psid: &str, next: Option<Timestamp>) -> Result<(), StoreError> {
        self.inner.profile_failed(psid, next)
    }
    fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        self.inner.customers()
    }
    fn draft(&self, id: &str) -> Result<Option<Draft>, StoreError> {
        self.inner.draft(id)
    }
    fn snippet_put(&self, snippet: &Snippet) -> Result<(), StoreError> {
        self.inner.snippet_put(snippet)
    }
    fn snippet_remove(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.snippet_remove(name)
    }
    fn snippets(&self) -> Result<Vec<Snippet>, StoreError> {
        self.inner.snippets()
    }
    fn page(&self) -> Result<Page, StoreError> {
        self.inner.page()
    }
    fn work_due(&self, now: Timestamp, limit: usize) -> Result<Vec<QueuedWork>, StoreError> {
        self.inner.work_due(now, limit)
    }
    fn open_post(&self, psid: &str) -> Result<Option<QueuedWork>, StoreError> {
        self.inner.open_post(psid)
    }
    fn lease_lane_head(
        &self,
        lane: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<QueuedWork>, StoreError> {
        self.inner.lease_lane_head(lane, now, until)
    }
    fn lease_work(&self, id: i64, now: Timestamp, until: Timestamp) -> Result<bool, StoreError> {
        self.inner.lease_work(id, now, until)
    }
    fn note_problem(&self, key: &str, text: &str, at: Timestamp) -> Result<bool, StoreError> {
        self.inner.note_problem(key, text, at)
    }
    fn clear_problem(&self, key: &str) -> Result<bool, StoreError> {
        self.inner.clear_problem(key)
    }
    fn problems(&self) -> Result<Vec<(String, Timestamp)>, StoreError> {
        self.inner.problems()
    }
    fn work_progress(&self, id: i64, progress: u64) -> Result<(), StoreError> {
        if self.defect == Defect::NoProgressMarks {
            return Ok(());
        }
        self.inner.work_progress(id, progress)
    }
    fn stats(&self, unanswered_before: Timestamp) -> Result<StoreStats, StoreError> {
        self.inner.stats(unanswered_before)
    }
    fn work_progress_undone(&self, id: i64) -> Result<(), StoreError> {
        self.inner.work_progress_undone(id)
    }
    fn work_done(&self, id: i64, changes: &Changes) -> Result<(), StoreError> {
        self.inner.work_done(id, &self.unchecked(changes))
    }
    fn work_retry(&self, id: i64, due: Timestamp, error: &str) -> Result<(), StoreError> {
        self.inner.work_retry(id, due, error)
    }
    fn work_defer(&self, ids: &[i64], due: Timestamp) -> Result<(), StoreError> {
        self.inner.work_defer(ids, due)
    }
    fn work_to_front(&self, lane: &str) -> Result<u64, StoreError> {
        self.inner.work_to_front(lane)
    }
    fn work_resume_discord(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.work_resume_discord(now)
    }
    fn work_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.inner.work_failed(id, error)
    }
    fn work_pending(&self) -> Result<u64, StoreError> {
        self.inner.work_pending()
    }
    fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.inner.next_due()
    }
}
