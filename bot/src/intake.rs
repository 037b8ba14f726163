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
        out.extend(all.filter_map(|(event, standby)| one(event, standby)));
    }
    out
}

/// One typed event, ready to store; `None` for a kind nobody knows.
fn one(event: &MessagingEvent, standby: bool) -> Option<InboundEvent> {
    match classify(event) {
        Some((kind, key)) => Some(InboundEvent {
            dedupe_key: key,
            kind,
            psid: customer(event, kind),
            timestamp: event.timestamp,
            standby,
            payload: serde_json::to_string(event).expect("wire types always serialize"),
        }),
        None => {
            tracing::info!(
                fields = ?event.other.keys().collect::<Vec<_>>(),
                "unknown webhook event kind acknowledged and skipped"
            );
            None
        }
    }
}

/// A signed delivery that didn't parse as a whole, taken apart event by event: the
/// events that parse are stored as usual, and each one that doesn't is kept on its own
/// as `unparsed` (and announced), so one bad event loses only itself. A body that isn't
/// a delivery at all is kept whole.
pub fn salvage(body: &[u8], signature: &str) -> Vec<InboundEvent> {
    let Ok(serde_json::Value::Object(delivery)) = serde_json::from_slice(body) else {
        return vec![unparsed(body, signature)];
    };
    let Some(entries) = delivery.get("entry").and_then(|e| e.as_array()) else {
        return vec![unparsed(body, signature)];
    };
    let mut out = Vec::new();
    for entry in entries {
        for (field, standby) in [("messaging", false), ("standby", true)] {
            for raw in entry
                .get(field)
                .and_then(|m| m.as_array())
                .into_iter()
                .flatten()
            {
                match serde_json::from_value::<MessagingEvent>(raw.clone()) {
                    Ok(event) => out.extend(one(&event, standby)),
                    Err(e) => {
                        tracing::error!(error = %e, "a webhook event could not be parsed; kept as unparsed");
                        out.push(unparsed_event(raw, standby));
                    }
                }
            }
        }
    }
    out
}

/// One event that didn't parse, kept as received; its content identifies it, so a
/// redelivery is recognised.
fn unparsed_event(raw: &serde_json::Value, standby: bool) -> InboundEvent {
    use sha2::{Digest, Sha256};
    let payload = raw.to_string();
    let digest = hex::encode(Sha256::digest(payload.as_bytes()));
    InboundEvent {
        dedupe_key: format!("unparsed:{digest}"),
        kind: "unparsed",
        psid: raw["sender"]["id"].as_str().map(str::to_owned),
        timestamp: raw["timestamp"].as_i64().unwrap_or(0),
        standby,
        payload,
    }
}

/// What an unparsed event was, as far as its fields tell: `message`, `delivery`,
/// `policy_enforcement`, ... or `delivery body` for a body kept whole.
pub fn unparsed_kind(payload: &str) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(payload) else {
        return "delivery body".into();
    };
    if fields.contains_key("entry") {
        return "delivery body".into();
    }
    fields
        .keys()
        .find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp"))
        .cloned()
        .unwrap_or_else(|| "event".into())
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
        // A receipt is identified by all it says: two with one watermark (a delivery
        // of other mids, a second read) are two receipts; a redelivery is the same.
        EventKind::Delivery(d) => (
            "delivery",
            format!(
                "delivery:{who}:{}:{ts}:{}",
                d.watermark,
                d.mids.as_deref().unwrap_or_default().join(",")
            ),
        ),
        EventKind::Read(r) => ("read", format!("read:{who}:{}:{ts}", r.watermark)),
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
