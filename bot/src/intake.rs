//! From a webhook delivery to the events the store keeps.
//!
//! Meta delivers at least once and in no particular order, so every event gets a key
//! that is the same on every redelivery (the `mid` where there is one), and keeps its
//! own timestamp so the mirror can order by it.

use messenger::wire::{EventKind, MessagingEvent, WebhookDelivery};

/// One event as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    /// Identical on every redelivery of the same event.
    pub dedupe_key: String,
    /// `message`, `echo`, `delivery`, `read`, `reaction`, `postback`, `referral`,
    /// `policy_enforcement`, or `unparsed` for a signed body that didn't parse.
    pub kind: &'static str,
    /// The customer's PSID; `None` for page-wide events.
    pub psid: Option<String>,
    /// When it happened, epoch milliseconds.
    pub timestamp: i64,
    /// Arrived in `standby[]`: another app owns the thread.
    pub standby: bool,
    /// The event's JSON, as received.
    pub payload: String,
}

/// Splits a delivery into storable events. Unknown kinds are logged and left out:
/// acknowledging them keeps Meta from retrying forever.
pub fn events(delivery: &WebhookDelivery) -> Vec<InboundEvent> {
    let mut out = Vec::new();
    for entry in &delivery.entry {
        let all = entry
            .messaging
            .iter()
            .map(|e| (e, false))
            .chain(entry.standby.iter().map(|e| (e, true)));
        for (event, standby) in all {
            match classify(event) {
                Some((kind, key)) => out.push(InboundEvent {
                    dedupe_key: key,
                    kind,
                    psid: customer(event, kind),
                    timestamp: event.timestamp,
                    standby,
                    payload: serde_json::to_string(event).expect("wire types always serialize"),
                }),
                None => tracing::info!(
                    fields = ?event.other.keys().collect::<Vec<_>>(),
                    "unknown webhook event kind acknowledged and skipped"
                ),
            }
        }
    }
    out
}

/// A signed delivery that didn't parse, kept whole; its signature identifies it.
pub fn unparsed(body: &[u8], signature: &str) -> InboundEvent {
    InboundEvent {
        dedupe_key: format!("unparsed:{signature}"),
        kind: "unparsed",
        psid: None,
        timestamp: 0,
        standby: false,
        payload: String::from_utf8_lossy(body).into_owned(),
    }
}

/// The customer of an event: the sender, except on echoes where the page sends.
fn customer(event: &MessagingEvent, kind: &str) -> Option<String> {
    match kind {
        "policy_enforcement" => None,
        "echo" => Some(event.recipient.id.clone()),
        _ => event.sender.as_ref().map(|s| s.id.clone()),
    }
}

fn classify(event: &MessagingEvent) -> Option<(&'static str, String)> {
    let who = event.sender.as_ref().map_or("", |s| s.id.as_str());
    let ts = event.timestamp;
    Some(match event.kind() {
        EventKind::Message(m) => ("message", format!("mid:{}", m.mid)),
        EventKind::Echo(m) => ("echo", format!("mid:{}", m.mid)),
        EventKind::Delivery(d) => ("delivery", format!("delivery:{who}:{}", d.watermark)),
        EventKind::Read(r) => ("read", format!("read:{who}:{}", r.watermark)),
        EventKind::Reaction(r) => (
            "reaction",
            format!("reaction:{who}:{}:{}:{ts}", r.mid, r.action),
        ),
        EventKind::Postback(p) => (
            "postback",
            p.mid
                .as_ref()
                .map_or_else(|| format!("postback:{who}:{ts}"), |m| format!("mid:{m}")),
        ),
        EventKind::Referral(_) => ("referral", format!("referral:{who}:{ts}")),
        EventKind::PolicyEnforcement(p) => {
            ("policy_enforcement", format!("policy:{:?}:{ts}", p.action))
        }
        EventKind::Unknown(_) => return None,
    })
}
