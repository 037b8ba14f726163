//! Webhook deliveries, at least once, as Meta makes them.
//!
//! Pending events are batched into one POST, one entry per event (`entry[].messaging[]`
//! holds exactly one, as Meta documents). A delivery that fails (non-200, or no
//! answer within 5 seconds) is retried with backoff on the virtual clock; after an hour
//! of failure the app is unsubscribed from the page. Faults drop, duplicate or reorder
//! deliveries, decided by the seeded generator; hold an echo back (`echo_lag`); or
//! deliver everything once more, late (`late_redelivery`).

use jiff::{SignedDuration, Timestamp};
use messenger::signature::{sign, to_meta_json};
use messenger::timefmt::to_millis;
use messenger::wire::{Entry, MessagingEvent, WebhookDelivery};

use super::journal::{Answer, AttemptLog, DeliveryLog, DeliveryState, EventLine};
use super::Platform;

/// Meta gives up on a subscriber after this long.
pub const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(1);

/// Events waiting to go out, and deliveries waiting to be retried.
#[derive(Debug, Default)]
pub struct Outbox {
    pending: Vec<(MessagingEvent, bool)>,
    /// Events a fault holds back until their time (a lagging echo), in queued order.
    held: Vec<(Timestamp, MessagingEvent, bool)>,
    /// Failed deliveries waiting for their retry, and late copies waiting for theirs.
    retrying: Vec<Delivery>,
    next_id: u64,
    /// Deliveries that reached the subscriber.
    pub delivered: u64,
    /// Events ever queued.
    pub queued: u64,
    /// Every delivery made and what became of it, oldest first.
    pub log: Vec<DeliveryLog>,
}

impl Outbox {
    /// Queues an event, in `standby` if another app owns its thread.
    pub fn push(&mut self, event: MessagingEvent, standby: bool) {
        self.queued += 1;
        self.pending.push((event, standby));
    }

    /// Queues an event to go out at `at`, not before (a fault holding it back).
    pub fn push_at(&mut self, at: Timestamp, event: MessagingEvent, standby: bool) {
        self.queued += 1;
        self.held.push((at, event, standby));
    }

    /// Whether anything waits to be delivered or retried.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.held.is_empty() && self.retrying.is_empty()
    }

    /// When the next retry (or late redelivery) is due.
    pub fn next_retry(&self) -> Option<Timestamp> {
        self.retrying.iter().map(|d| d.next_at).min()
    }

    /// When Meta next delivers something on its own schedule: a retry, a late
    /// redelivery, or an event held back by a fault. A driver moving the clock stops
    /// there so the delivery happens at its own time.
    pub fn next_due(&self) -> Option<Timestamp> {
        let held = self.held.iter().map(|(at, _, _)| *at).min();
        match (self.next_retry(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves held-back events whose time has come to the pending batch, earliest
    /// first (in queued order at equal times).
    fn release_held(&mut self, now: Timestamp) {
        let (mut due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(at, _, _)| *at <= now);
        self.held = later;
        due.sort_by_key(|(at, _, _)| *at);
        self.pending
            .extend(due.into_iter().map(|(_, event, standby)| (event, standby)));
    }

    /// Events waiting for the next batch, and deliveries waiting for their retry or
    /// late copy.
    pub fn waiting(&self) -> (usize, usize) {
        (self.pending.len() + self.held.len(), self.retrying.len())
    }

    /// The log of delivery `id`; ids are given in increasing order, as entries are made.
    fn log_mut(&mut self, id: u64) -> Option<&mut DeliveryLog> {
        let i = self.log.binary_search_by_key(&id, |d| d.id).ok()?;
        self.log.get_mut(i)
    }

    fn clear(&mut self) {
        self.pending.clear();
        self.held.clear();
        self.retrying.clear();
    }
}

/// One signed POST body.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Identifies the delivery when its result is reported.
    pub id: u64,
    /// The exact bytes to POST.
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` value for `body`.
    pub signature: String,
    /// Attempts so far, including this one.
    pub attempts: u32,
    next_at: Timestamp,
    first_failure: Option<Timestamp>,
    /// A late copy (`late_redelivery`): it is the fault already, so it is never lost,
    /// duplicated or copied again.
    late: bool,
    /// Its last attempt was lost in transit by a fault.
    lost: bool,
}

/// What the shell should do with one delivery.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The delivery.
    pub delivery: Delivery,
    /// Lost in transit by a fault: don't send, report failure.
    pub dropped: bool,
    /// Sent twice by a fault.
    pub duplicated: bool,
}

/// Backoff after `attempts` failures: at once, then 30 s doubling to 15 minutes.
fn backoff(attempts: u32) -> SignedDuration {
    if attempts <= 1 {
        return SignedDuration::ZERO;
    }
    let secs = 30i64 << (attempts - 2).min(5);
    SignedDuration::from_secs(secs.min(15 * 60))
}

impl Platform {
    /// The deliveries due now: one new batch of every pending event, and due retries.
    pub fn take_deliveries(&mut self) -> Vec<Attempt> {
        if self.settings.webhook_url.is_none() || self.unsubscribed {
            self.outbox.clear();
            return Vec::new();
        }
        let now = self.now;
        self.outbox.release_held(now);
        let mut due: Vec<Delivery> = Vec::new();
        let (ready, later): (Vec<Delivery>, Vec<Delivery>) =
            std::mem::take(&mut self.outbox.retrying)
                .into_iter()
                .partition(|d| d.next_at <= now);
        self.outbox.retrying = later;
        due.extend(ready);
        if !self.outbox.pending.is_empty() {
            let mut events = std::mem::take(&mut self.outbox.pending);
            if self.ids.chance(self.faults.reorder_rate) {
                events.reverse();
            }
            // Meta's documented shape: `messaging` (or `standby`) holds exactly one
            // event, and a batch is several entries.
            let page_id = self.settings.page_id.clone();
            let lines = events
                .iter()
                .map(|(event, standby)| EventLine::of(event, &page_id, *standby))
                .collect();
            let batch = WebhookDelivery {
                object: "page".into(),
                entry: events
                    .into_iter()
                    .map(|(event, standby)| {
                        let (messaging, standby) = if standby {
                            (Vec::new(), vec![event])
                        } else {
                            (vec![event], Vec::new())
                        };
                        Entry {
                            id: page_id.clone(),
                            time: to_millis(now),
                            messaging,
                            standby,
                        }
                    })
                    .collect(),
            };
            let body = to_meta_json(&batch).expect("wire types always serialize");
            let signature = sign(self.settings.app_secret.as_bytes(), &body);
            self.outbox.next_id += 1;
            self.outbox.log.push(DeliveryLog {
                id: self.outbox.next_id,
                created: now,
                events: lines,
                late_copy_of: None,
                attempts: Vec::new(),
                state: DeliveryState::Pending,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            due.push(Delivery {
                id: self.outbox.next_id,
                body,
                signature,
                attempts: 0,
                next_at: now,
                first_failure: None,
                late: false,
                lost: false,
            });
        }
        due.into_iter()
            .map(|mut delivery| {
                delivery.attempts += 1;
                // Drawn in this order, so a seed replays the same faults.
                let dropped = !delivery.late && self.ids.chance(self.faults.drop_rate);
                let duplicated = !delivery.late && self.ids.chance(self.faults.duplicate_rate);
                delivery.lost = dropped;
                if let Some(log) = self.outbox.log_mut(delivery.id) {
                    log.attempts.push(AttemptLog {
                        at: now,
                        dropped,
                        duplicated,
                        status: None,
                        error: None,
                        ok: None,
                        batched_with: Vec::new(),
                    });
                    log.state = DeliveryState::Sending;
                }
                Attempt {
                    dropped,
                    duplicated,
                    delivery,
                }
            })
            .collect()
    }

    /// Reports how the subscriber answered a delivery, for the log, then goes on as
    /// [`Platform::delivery_result`].
    pub fn delivery_answered(&mut self, delivery: Delivery, answer: Answer) {
        if let Some(attempt) = self
            .outbox
            .log_mut(delivery.id)
            .and_then(|log| log.attempts.last_mut())
        {
            match &answer {
                Answer::Status(status) => attempt.status = Some(*status),
                Answer::NoAnswer(why) => attempt.error = Some(why.clone()),
                Answer::Lost => attempt.error = Some("lost in transit (drop_rate fault)".into()),
            }
        }
        self.delivery_result(delivery, answer.ok());
    }

    /// Reports how a delivery went; failures are retried, and an hour of them ends the
    /// subscription. With `late_redelivery`, a delivery that arrived is copied to arrive
    /// again that much later, and one lost in transit is retried only that late.
    pub fn delivery_result(&mut self, mut delivery: Delivery, ok: bool) {
        let state = self.delivery_outcome(&mut delivery, ok);
        if let Some(log) = self.outbox.log_mut(delivery.id) {
            if let Some(attempt) = log.attempts.last_mut() {
                attempt.ok = Some(ok);
            }
            log.state = state;
        }
        if let DeliveryState::Retrying { .. } = state {
            self.outbox.retrying.push(delivery);
        }
    }

    /// What becomes of a delivery after an attempt: delivered (and perhaps copied to
    /// arrive late), retried, or abandoned with the subscription.
    fn delivery_outcome(&mut self, delivery: &mut Delivery, ok: bool) -> DeliveryState {
        let copy_late = !delivery.late && self.faults.late_redelivery.is_positive();
        if ok {
            self.outbox.delivered += 1;
            if copy_late {
                self.redeliver_late(delivery);
            }
            return DeliveryState::Delivered;
        }
        if copy_late && delivery.lost {
            let next_at = self.redeliver_late(delivery);
            return DeliveryState::LateCopy {
                copy: self.outbox.next_id,
                next_at,
            };
        }
        let now = self.now;
        let first = *delivery.first_failure.get_or_insert(now);
        if now.duration_since(first) >= GIVE_UP_AFTER {
            tracing::warn!("webhook failing for an hour: the app is unsubscribed from the page");
            self.unsubscribed = true;
            self.outbox.retrying.clear();
            return DeliveryState::Abandoned;
        }
        delivery.next_at = now + backoff(delivery.attempts);
        DeliveryState::Retrying {
            next_at: delivery.next_at,
        }
    }

    /// Schedules `delivery`'s bytes to arrive again `late_redelivery` from now, as a
    /// new delivery that is retried like any if it fails; returns when.
    fn redeliver_late(&mut self, delivery: &Delivery) -> Timestamp {
        self.outbox.next_id += 1;
        let next_at = self.now + self.faults.late_redelivery;
        if let Some(original) = self.outbox.log_mut(delivery.id).cloned() {
            self.outbox.log.push(DeliveryLog {
                id: self.outbox.next_id,
                created: self.now,
                late_copy_of: Some(delivery.id),
                attempts: Vec::new(),
                state: DeliveryState::Retrying { next_at },
                ..original
            });
        }
        self.outbox.retrying.push(Delivery {
            id: self.outbox.next_id,
            attempts: 0,
            next_at,
            first_failure: None,
            late: true,
            lost: false,
            ..delivery.clone()
        });
        next_at
    }

    /// Notes that a delivery's current attempt went out in one POST with `with`
    /// (other pages' deliveries).
    pub fn note_batched(&mut self, delivery: u64, with: Vec<String>) {
        if let Some(attempt) = self
            .outbox
            .log_mut(delivery)
            .and_then(|log| log.attempts.last_mut())
        {
            attempt.batched_with = with;
        }
    }

    /// Subscribes the app again, as `POST /{page-id}/subscribed_apps` does.
    pub fn subscribe(&mut self) {
        self.unsubscribed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_fifteen_minutes() {
        let secs: Vec<i64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [0, 30, 60, 120, 240, 480, 900, 900, 900]);
    }
}
