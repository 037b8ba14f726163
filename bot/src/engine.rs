//! The bot's heart: one [`Engine::tick`] processes stored events, brings labels and
//! alerts up to date, and performs due Discord work.
//!
//! The engine owns no state besides its store, and reads the time only from its
//! [`Clock`]; in production a loop ticks it after each webhook and every few seconds,
//! in the scenario runner the runner ticks it as virtual time passes.

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
        let now = self.clock.now();
        let events = self.process_inbound(now).await?;
        let refreshed = self.refresh_due(now)?;
        let work = self.drain(now).await?;
        Ok(Ticked {
            events,
            refreshed,
            work,
        })
    }

    /// Applies stored webhook events, oldest first, one committed batch at a time.
    pub async fn process_inbound(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
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
            let mut fresh = Vec::new();
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
                let (customer, new) = self.customer(psid).await?;
                if new {
                    fresh.push(customer.clone());
                }
                loaded.customers.insert(psid.to_owned(), customer);
            }
            let mut changes = process::process(&batch, loaded, now, &self.settings);
            // Only profiles fetched just now need storing.
            changes.customers = fresh;
            self.store.commit(&changes)?;
            total += batch.len();
        }
    }

    /// A customer, with the profile fetched from the Graph API the first time. A
    /// failed fetch is retried on the customer's next event; the name falls back to
    /// one made from the PSID meanwhile.
    /// The second value says whether the record is new and must be stored.
    async fn customer(&self, psid: &str) -> Result<(Customer, bool), StoreError> {
        if let Some(c) = self.store.customer(psid)? {
            if c.fetched {
                return Ok((c, false));
            }
        }
        let fetched = match self.graph.profile(psid).await {
            Ok(p) => Customer {
                psid: psid.to_owned(),
                name: p.display_name(),
                profile_pic: p.profile_pic,
                fetched: true,
            },
            Err(e) => {
                tracing::warn!(%psid, %e, "profile fetch failed; will retry");
                Customer {
                    psid: psid.to_owned(),
                    ..Customer::default()
                }
            }
        };
        Ok((fetched, true))
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
        )
        .await
    }

    /// The earliest instant the engine has something to do on its own.
    pub fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.store.next_due()
    }
}
