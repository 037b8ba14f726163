//! Webhook deliveries, at least once, as Meta makes them.
//!
//! Pending events are batched into one POST. A delivery that fails (non-200, or no
//! answer within 5 seconds) is retried with backoff on the virtual clock; after an hour
//! of failure the app is unsubscribed from the page. Faults drop, duplicate or reorder
//! deliveries, decided by the seeded generator.

use jiff::{SignedDuration, Timestamp};
use messenger::signature::{sign, to_meta_json};
use messenger::timefmt::to_millis;
use messenger::wire::{Entry, MessagingEvent, WebhookDelivery};

use super::Platform;

/// Meta gives up on a subscriber after this long.
pub const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(1);

/// Events waiting to go out, and deliveries waiting to be retried.
#[derive(Debug, Default)]
pub struct Outbox {
    pending: Vec<(MessagingEvent, bool)>,
    retrying: Vec<Delivery>,
    next_id: u64,
    /// Deliveries that reached the subscriber.
    pub delivered: u64,
    /// Events ever queued.
    pub queued: u64,
}

impl Outbox {
    /// Queues an event, in `standby` if another app owns its thread.
    pub fn push(&mut self, event: MessagingEvent, standby: bool) {
        self.queued += 1;
        self.pending.push((event, standby));
    }

    /// Whether anything waits to be delivered or retried.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.retrying.is_empty()
    }

    /// When the next retry is due.
    pub fn next_retry(&self) -> Option<Timestamp> {
        self.retrying.iter().map(|d| d.next_at).min()
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
            self.outbox.pending.clear();
            self.outbox.retrying.clear();
            return Vec::new();
        }
        let now = self.now;
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
            let (standby, messaging): (Vec<_>, Vec<_>) = events.into_iter().partition(|(_, s)| *s);
            let batch = WebhookDelivery {
                object: "page".into(),
                entry: vec![Entry {
                    id: self.settings.page_id.clone(),
                    time: to_millis(now),
                    messaging: messaging.into_iter().map(|(e, _)| e).collect(),
                    standby: standby.into_iter().map(|(e, _)| e).collect(),
                }],
            };
            let body = to_meta_json(&batch).expect("wire types always serialize");
            let signature = sign(self.settings.app_secret.as_bytes(), &body);
            self.outbox.next_id += 1;
            due.push(Delivery {
                id: self.outbox.next_id,
                body,
                signature,
                attempts: 0,
                next_at: now,
                first_failure: None,
            });
        }
        due.into_iter()
            .map(|mut delivery| {
                delivery.attempts += 1;
                Attempt {
                    dropped: self.ids.chance(self.faults.drop_rate),
                    duplicated: self.ids.chance(self.faults.duplicate_rate),
                    delivery,
                }
            })
            .collect()
    }

    /// Reports how a delivery went; failures are retried, and an hour of them ends the
    /// subscription.
    pub fn delivery_result(&mut self, mut delivery: Delivery, ok: bool) {
        if ok {
            self.outbox.delivered += 1;
            return;
        }
        let now = self.now;
        let first = *delivery.first_failure.get_or_insert(now);
        if now.duration_since(first) >= GIVE_UP_AFTER {
            tracing::warn!("webhook failing for an hour: the app is unsubscribed from the page");
            self.unsubscribed = true;
            self.outbox.retrying.clear();
            return;
        }
        delivery.next_at = now + backoff(delivery.attempts);
        self.outbox.retrying.push(delivery);
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
