//! The bot's heart: one [`Engine::tick`] processes stored events, brings labels and
//! alerts up to date, and performs due Discord work.
//!
//! The engine owns no state besides its store, and reads the time only from its
//! [`Clock`]; in production a loop ticks it after each webhook and every few seconds,
//! in the scenario runner the runner ticks it as virtual time passes. Replicas sharing
//! a Postgres database each tick their own engine: the store hands each only the
//! lanes it holds (see [`crate::store`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::discord::DiscordApi;
use crate::graph::GraphApi;
use crate::mirror::alerts::{self, AlertLine};
use crate::mirror::process::{self, Loaded};
use crate::outbox::{self, Drained};
use crate::settings::Settings;
use crate::store::{Changes, Customer, NewWork, Store, StoreError, Work};

/// Profile lookups per tick.
const PROFILE_BATCH: usize = 32;

/// Profile lookups in flight at once.
const PROFILE_LOOKUPS_AT_ONCE: usize = 4;

/// How long one profile lookup may take.
const PROFILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long profile lookups may hold one tick in all.
const PROFILE_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// Lookups of one profile before the placeholder name stays: about a day of trying.
pub const PROFILE_ATTEMPTS: u32 = 30;

/// How long after `tried` failed lookups the next one is: a minute, doubling to an hour.
fn profile_backoff(tried: u32) -> jiff::SignedDuration {
    jiff::SignedDuration::from_mins(1i64 << tried.min(6)).min(jiff::SignedDuration::from_hours(1))
}

/// How long a due alert waits before looking again for its conversation's thread.
const ALERT_WAITS_FOR_THREAD: jiff::SignedDuration = jiff::SignedDuration::from_mins(1);

/// How many stored events one processing step takes.
const BATCH: usize = 1000;

/// The bot's logic, with its collaborators.
#[derive(Clone)]
pub struct Engine {
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// Meta's Graph API.
    pub graph: Arc<dyn GraphApi>,
    /// Discord.
    pub discord: Arc<dyn DiscordApi>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The settings.
    pub settings: Arc<Settings>,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticked {
    /// Webhook events processed.
    pub events: usize,
    /// Labels and alerts refreshed.
    pub refreshed: usize,
    /// Discord work performed.
    pub work: Drained,
}

impl Engine {
    /// Processes everything pending, refreshes due threads, and drains due work.
    pub async fn tick(&self) -> Result<Ticked, StoreError> {
        self.tick_until(&AtomicBool::new(false)).await
    }

    /// [`Engine::tick`], cut short once `stop` is set (the process is shutting down):
    /// it finishes the step in hand (a batch of events committed, a piece of work
    /// attempted and settled) and starts no other: it looks up no profiles, refreshes
    /// no labels or alerts, and asks for no more work, so it takes no more lanes. What it didn't reach stays stored for
    /// whichever replica takes its lane next. A pass over a backlog can last longer
    /// than a container's grace period (docker stop waits 10 s), which is why the
    /// steps are the unit, not the whole tick.
    pub async fn tick_until(&self, stop: &AtomicBool) -> Result<Ticked, StoreError> {
        let stopping = || stop.load(Ordering::Relaxed);
        let now = self.clock.now();
        let events = self.process_until(now, stop).await?;
        let mut refreshed = 0;
        if !stopping() {
            self.look_up_profiles(now).await?;
            refreshed = self.refresh_due(now)?;
        }
        let work = outbox::drain(
            &*self.store,
            &*self.discord,
            &*self.graph,
            &self.settings,
            now,
            stop,
        )
        .await?;
        // Between ticks nothing is being worked: lanes left with nothing to do are let
        // go, for whichever replica their next work finds.
        self.store.release_lanes(now)?;
        Ok(Ticked {
            events,
            refreshed,
            work,
        })
    }

    /// Applies stored webhook events, oldest first, one committed batch at a time.
    pub async fn process_inbound(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.process_until(now, &AtomicBool::new(false)).await
    }

    /// [`Engine::process_inbound`], taking no batch once `stop` is set.
    async fn process_until(&self, now: Timestamp, stop: &AtomicBool) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(total);
            }
            let batch = self.store.pending(BATCH)?;
            if batch.is_empty() {
                return Ok(total);
            }
            let mut loaded = Loaded {
                page: self.store.page()?,
                ..Loaded::default()
            };
            let mut psids: Vec<&str> = batch
                .iter()
                .filter_map(|p| p.event.psid.as_deref())
                .collect();
            psids.sort_unstable();
            psids.dedup();
            // New customers are stored under a placeholder name at once, then their
            // profiles are looked up within a short budget: when Meta is quick the
            // first post already has the name, when it is slow the mirror goes on.
            let mut fresh = Vec::new();
            for psid in &psids {
                match self.store.customer(psid)? {
                    Some(c) => {
                        loaded.customers.insert((*psid).to_owned(), c);
                    }
                    None => fresh.push(Customer {
                        psid: (*psid).to_owned(),
                        ..Customer::default()
                    }),
                }
            }
            // New customers' profiles are looked up before the batch is processed, and
            // stored in the same commit as it: one write instead of three.
            let mut looked_up = Changes::default();
            if !fresh.is_empty() {
                let names: Vec<&str> = fresh.iter().map(|c| c.psid.as_str()).collect();
                looked_up = self.profile_round(now, &names).await?;
                let mut named: HashMap<&str, &Customer> = looked_up
                    .customers
                    .iter()
                    .map(|c| (c.psid.as_str(), c))
                    .collect();
                // The placeholders, named where a profile arrived in time.
                for c in &fresh {
                    let c = named.remove(c.psid.as_str()).unwrap_or(c).clone();
                    loaded.customers.insert(c.psid.clone(), c);
                }
            }
            for psid in psids {
                if let Some(t) = self.store.thread(psid)? {
                    loaded.threads.insert(psid.to_owned(), t);
                }
                if let Some(open) = self.store.open_post(psid)? {
                    loaded.open_posts.insert(psid.to_owned(), open);
                }
                let parked = self.store.parked(psid)?;
                if !parked.is_empty() {
                    loaded.parked.insert(psid.to_owned(), parked);
                }
            }
            let mut changes = process::process(&batch, loaded, now, &self.settings);
            if !fresh.is_empty() {
                // As if committed before the batch: the placeholders, then what the
                // lookups found, then the batch's own changes.
                let mut customers = fresh;
                customers.append(&mut looked_up.customers);
                customers.append(&mut changes.customers);
                changes.customers = customers;
                changes.profile_failures = looked_up.profile_failures;
                looked_up.work.append(&mut changes.work);
                changes.work = looked_up.work;
            }
            self.store.commit(&changes)?;
            total += batch.len();
            if batch.len() < BATCH {
                // Everything this replica could take was taken: no need to ask again.
                // (Beside other replicas it takes a few lanes at a time; what is left
                // is due at once, so the next tick, or another replica, comes soon.)
                return Ok(total);
            }
        }
    }

    /// Looks up the profiles of new customers, a few at once, each with a short
    /// timeout; a customer whose lookup fails is tried again later with backoff, and
    /// after [`PROFILE_ATTEMPTS`] keeps the placeholder. A name that arrives renames the
    /// conversation's thread.
    ///
    /// All of it fits in [`PROFILE_BUDGET`] per call: the tick it runs in (and the
    /// posts waiting in it) is never held longer than that.
    pub async fn look_up_profiles(&self, now: Timestamp) -> Result<usize, StoreError> {
        let changes = self.profile_round(now, &[]).await?;
        let looked = changes.customers.len() + changes.profile_failures.len();
        if looked > 0 {
            self.store.commit(&changes)?;
        }
        Ok(looked)
    }

    /// One round of [`Engine::look_up_profiles`], not yet committed: the customers due,
    /// with `fresh` (new customers not stored yet, as if stored under a placeholder)
    /// among them in the order the store gives placeholders (by PSID, before the
    /// retries). The changes hold the names found, the renames they cause, and the
    /// failed lookups.
    async fn profile_round(&self, now: Timestamp, fresh: &[&str]) -> Result<Changes, StoreError> {
        let mut due = self.store.profiles_due(now, PROFILE_BATCH)?;
        if !fresh.is_empty() {
            // Never looked up (tried 0) sorts first, by PSID, as the store orders them.
            // Retries follow, in the store's order (by when they fell due).
            let (mut first, retries): (Vec<_>, Vec<_>) = due.into_iter().partition(|d| d.1 == 0);
            first.extend(fresh.iter().map(|p| ((*p).to_owned(), 0)));
            first.sort_unstable();
            first.dedup_by(|a, b| a.0 == b.0);
            first.extend(retries);
            first.truncate(PROFILE_BATCH);
            due = first;
        }
        let deadline = tokio::time::Instant::now() + PROFILE_BUDGET;
        let mut changes = Changes::default();
        for chunk in due.chunks(PROFILE_LOOKUPS_AT_ONCE) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let wait = left.min(PROFILE_TIMEOUT);
            let mut lookups = tokio::task::JoinSet::new();
            for (psid, tried) in chunk.iter().cloned() {
                let graph = self.graph.clone();
                lookups.spawn(async move {
                    let answer = tokio::time::timeout(wait, graph.profile(&psid)).await;
                    (psid, tried, answer)
                });
            }
            let mut answers = lookups.join_all().await;
            // In a stable order, whichever answered first.
            answers.sort_by(|a, b| a.0.cmp(&b.0));
            for (psid, tried, answer) in answers {
                match answer {
                    Ok(Ok(profile)) => {
                        let customer = Customer {
                            psid: psid.clone(),
                            name: profile.display_name(),
                            profile_pic: profile.profile_pic,
                            fetched: true,
                        };
                        if let Some(rename) = self.renamed(&customer, now)? {
                            changes.work.push(rename);
                        }
                        changes.customers.push(customer);
                    }
                    failed => {
                        let why = match failed {
                            Ok(Err(e)) => e.to_string(),
                            _ => "no answer in time".to_owned(),
                        };
                        let next =
                            (tried + 1 < PROFILE_ATTEMPTS).then(|| now + profile_backoff(tried));
                        tracing::warn!(%psid, %why, ?next, "profile lookup failed");
                        changes.profile_failures.push((psid, next));
                    }
                }
            }
        }
        Ok(changes)
    }

    /// The rename a conversation's thread needs now that its customer has a name.
    fn renamed(&self, customer: &Customer, now: Timestamp) -> Result<Option<NewWork>, StoreError> {
        let Some(thread) = self.store.thread(&customer.psid)? else {
            return Ok(None);
        };
        let (Some(label), true) = (
            thread.label,
            thread.opening || thread.discord_thread.is_some(),
        ) else {
            return Ok(None);
        };
        Ok(Some(NewWork {
            key: Some(format!("rename:{}", customer.psid)),
            work: Work::EditThread {
                psid: customer.psid.clone(),
                name: Some(crate::mirror::label::thread_name(
                    &label,
                    &customer.display_name(),
                )),
                archived: None,
            },
            due: now,
        }))
    }

    /// Renames threads whose window changed state and sends alerts that fell due.
    pub fn refresh_due(&self, now: Timestamp) -> Result<usize, StoreError> {
        let s = &*self.settings;
        let due = self.store.threads_due(now)?;
        if due.is_empty() {
            return Ok(0);
        }
        let restriction = self.store.page()?.enforcement.active(now).cloned();
        let mut changes = Changes::default();
        let mut lines: Vec<AlertLine> = Vec::new();
        let mut renames = Vec::new();
        let n = due.len();
        for mut thread in due {
            let name = self
                .store
                .customer(&thread.psid)?
                .unwrap_or_else(|| Customer {
                    psid: thread.psid.clone(),
                    ..Customer::default()
                })
                .display_name();
            if thread.alert_due.is_some_and(|d| d <= now) && thread.discord_thread.is_none() {
                // An alert links to its conversation: it waits (a minute at a time)
                // until the thread exists.
                thread.alert_due = Some(now + ALERT_WAITS_FOR_THREAD);
            } else if thread.alert_due.is_some_and(|d| d <= now) {
                if let Some((due_at, kind)) = alerts::next(&thread, s) {
                    if due_at <= now {
                        thread.alerted = Some((due_at, kind));
                        if let Some(closes_at) = alerts::closes(&thread, kind, now, s) {
                            lines.push(AlertLine {
                                discord_thread: thread.discord_thread,
                                customer: name.clone(),
                                kind,
                                closes_at,
                                claimed_by: thread.claimed_by,
                            });
                        }
                    }
                }
                thread.alert_due = alerts::next(&thread, s).map(|(d, _)| d);
            }
            if thread.label_due.is_some_and(|d| d <= now) || thread.label.is_none() {
                if let Some(w) = process::relabel(&mut thread, &name, now, s, restriction.as_ref())
                {
                    renames.push(w);
                }
            }
            changes.threads.push(thread);
        }
        for post in alerts::render(&lines, now, s) {
            changes.work.push(NewWork {
                key: None,
                work: Work::Alert { post },
                due: now,
            });
        }
        // Alerts first: they are what someone must act on.
        changes.work.extend(renames);
        self.store.commit(&changes)?;
        Ok(n)
    }

    /// Performs the Discord work and Graph sends due at `now`.
    pub async fn drain(&self, now: Timestamp) -> Result<Drained, StoreError> {
        outbox::drain(
            &*self.store,
            &*self.discord,
            &*self.graph,
            &self.settings,
            now,
            &AtomicBool::new(false),
        )
        .await
    }

    /// The earliest instant the engine has something to do on its own.
    pub fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.store.next_due()
    }
}
