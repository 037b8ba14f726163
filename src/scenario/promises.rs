//! What agents were told, kept so the runner can check it was true (`answers_true`)
//! and kept (`replies_kept`).
//!
//! Every answer to an agent's send is a promise: `sent` says Meta has the reply,
//! `refused`, `warned`, `parked` and `denied` say nothing went out, `pending` says
//! tagdesk will send it or say why not. The ledger notes each promise with the send it
//! is about (its key: the `metadata` tagdesk puts on the Send API call), and what Meta
//! had accepted of it when the agent was told; the checks compare the ledger with
//! Meta's log of sends and the bot's store.

use std::collections::HashMap;

use bot::commands::interaction::{Action, Invocation};
use bot::commands::send::OUTSIDE_ONLY;
use bot::outbox::sends::metadata;
use bot::store::Store;
use mock_graph::platform::{Outcome, RequestRecord, SentRecord};

/// One answer to an agent about a send.
#[derive(Debug, Clone)]
pub struct Told {
    /// The send's key: the interaction that made it, or `{draft}:done` for a press on
    /// a draft's buttons. The parts of a split reply are `{key}/{n}`.
    pub key: String,
    /// The answer, as [`super::expect::outcome_of`] names it.
    pub outcome: &'static str,
    /// The step's line in the file.
    pub line: usize,
    /// The group of steps it was told in (one instant): replies told in one group may
    /// reach Meta in either order.
    pub group: usize,
}

/// Every promise so far, and the answers found untrue when they were given.
#[derive(Debug, Default)]
pub struct Ledger {
    told: Vec<Told>,
    untrue: Vec<String>,
}

/// The outcomes that say nothing went out.
const NOTHING_WENT: [&str; 6] = ["refused", "warned", "parked", "denied", "failed", "error"];

/// The outcomes that promise the reply reaches Meta (or, queued, a posted outcome).
const PROMISED: [&str; 3] = ["sent", "partial", "pending"];

/// Store states of a send no longer in the outbox's hands.
const UNSETTLED: [&str; 4] = ["queued", "sending", "retrying", "uncertain"];

impl Ledger {
    /// The key of the send `invocation` makes or acts on, if it is about a send: a
    /// `/reply`, `/tag` or the reply form is its own send; `confirm`, `park`, `split`
    /// and a tag picked act on their draft's send.
    pub fn key_of(invocation: &Invocation) -> Option<String> {
        match &invocation.action {
            Action::Command { name, .. } if name == "reply" || name == "tag" => {
                Some(invocation.id.clone())
            }
            Action::Modal { .. } => Some(invocation.id.clone()),
            Action::Component { custom_id, .. } => {
                let (kind, draft) = custom_id.split_once(':')?;
                let draft = draft.strip_suffix(OUTSIDE_ONLY).unwrap_or(draft);
                matches!(kind, "confirm" | "park" | "split" | "tagpick")
                    .then(|| format!("{draft}:done"))
            }
            _ => None,
        }
    }

    /// Notes an answer given at `line` in `group`, checking what it says against
    /// `sent`, Meta's log as it was when the agent read it (before anything else ran).
    pub fn told(&mut self, told: Told, sent: &[SentRecord], app_id: u64) {
        let accepted = accepted(sent, app_id, &told.key);
        if matches!(told.outcome, "sent" | "partial") && accepted.is_empty() {
            self.untrue.push(format!(
                "line {}: told {:?}, but Meta had accepted no message {}",
                told.line,
                told.outcome,
                metadata(&told.key)
            ));
        }
        self.told.push(told);
    }

    /// Once the group of steps `group` has settled: an answer saying nothing went out
    /// is untrue if Meta accepted the send during the group (`sent` is the group's own
    /// calls). A parked reply may go out later, when the customer writes; not now.
    pub fn settled(&mut self, group: usize, sent: &[SentRecord], app_id: u64) {
        for t in self.told.iter().filter(|t| t.group == group) {
            if NOTHING_WENT.contains(&t.outcome) && !accepted(sent, app_id, &t.key).is_empty() {
                self.untrue.push(format!(
                    "line {}: told {:?}, but Meta accepted {} at that step",
                    t.line,
                    t.outcome,
                    metadata(&t.key)
                ));
            }
        }
    }

    /// `answers_true`: the first answer found untrue, or a `pending` one that hasn't
    /// ended (still in the outbox, or ended with no line in the customer's thread).
    /// `posted(psid, text)` says whether the customer's thread shows the reply; the
    /// sends' records are looked for in `stores`, every page's.
    pub fn first_untrue(
        &self,
        stores: &[&dyn Store],
        posted: &dyn Fn(&str, &str) -> bool,
    ) -> anyhow::Result<Option<String>> {
        if let Some(u) = self.untrue.first() {
            return Ok(Some(u.clone()));
        }
        for t in self.told.iter().filter(|t| t.outcome == "pending") {
            for m in records(stores, &t.key)? {
                if UNSETTLED.contains(&m.state.as_str()) {
                    return Ok(Some(format!(
                        "line {}: told \"pending\", and {} is still {}",
                        t.line,
                        m.interaction_id.as_deref().unwrap_or(&t.key),
                        m.state
                    )));
                }
                if !posted(&m.psid, &m.text) {
                    return Ok(Some(format!(
                        "line {}: told \"pending\"; it ended {} with no line in the thread",
                        t.line, m.state
                    )));
                }
            }
        }
        Ok(None)
    }

    /// `replies_kept`: the first reply told `sent`, `partial` or `pending` that reached
    /// Meta twice, that was told `sent` and never did, or that reached Meta out of the
    /// order the agents were told (replies to one customer, parts of one reply).
    pub fn first_broken(&self, sent: &[SentRecord], app_id: u64) -> Option<String> {
        let promised: Vec<&Told> = self
            .told
            .iter()
            .filter(|t| PROMISED.contains(&t.outcome))
            .collect();
        // Several answers may be about one send (a double press): its first promise.
        let mut first: HashMap<&str, &Told> = HashMap::new();
        for t in &promised {
            first.entry(t.key.as_str()).or_insert(t);
        }
        for t in first.values() {
            let calls = accepted(sent, app_id, &t.key);
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for c in &calls {
                *seen.entry(c.0).or_default() += 1;
            }
            if let Some((m, n)) = seen.iter().find(|(_, n)| **n > 1) {
                return Some(format!(
                    "line {}: {m} reached Meta {n} times (told {:?})",
                    t.line, t.outcome
                ));
            }
            if t.outcome == "sent" && calls.is_empty() {
                return Some(format!(
                    "line {}: told \"sent\", and Meta never accepted {}",
                    t.line,
                    metadata(&t.key)
                ));
            }
        }
        // Order: per customer, Meta's accepted sends of promised replies, in Meta's
        // order, must follow the order they were promised in (group, then part).
        let mut last: HashMap<&str, (usize, &str, u32)> = HashMap::new();
        for r in sent.iter().filter(|r| is_accepted(r, app_id)) {
            let Some((psid, md)) = psid_and_metadata(r) else {
                continue;
            };
            let Some((key, part)) = split_key(md) else {
                continue;
            };
            let Some(t) = first.get(key) else {
                continue;
            };
            if let Some(&(group, prev_key, prev_part)) = last.get(psid) {
                let earlier_group = t.group < group;
                let earlier_part = prev_key == key && part < prev_part;
                if earlier_group || earlier_part {
                    let prev = match prev_part {
                        0 => metadata(prev_key),
                        n => metadata(&format!("{prev_key}/{n}")),
                    };
                    return Some(format!(
                        "line {}: {md} reached Meta after {prev}, a later step's or part",
                        t.line
                    ));
                }
            }
            last.insert(psid, (t.group, t.key.as_str(), part));
        }
        None
    }
}

/// The accepted calls of this app whose metadata names `key` or one of its parts, as
/// (metadata, part).
fn accepted<'a>(sent: &'a [SentRecord], app_id: u64, key: &str) -> Vec<(&'a str, u32)> {
    sent.iter()
        .filter(|r| is_accepted(r, app_id))
        .filter_map(psid_and_metadata)
        .filter_map(|(_, md)| {
            let (k, part) = split_key(md)?;
            (k == key).then_some((md, part))
        })
        .collect()
}

fn is_accepted(r: &SentRecord, app_id: u64) -> bool {
    r.app_id == app_id && matches!(r.outcome, Outcome::Sent(_))
}

/// A call's recipient and metadata.
fn psid_and_metadata(r: &SentRecord) -> Option<(&str, &str)> {
    let RequestRecord::Parsed(req) = &r.request else {
        return None;
    };
    let md = req.message.as_ref()?.metadata.as_deref()?;
    Some((req.recipient.id.as_deref()?, md))
}

/// `tagdesk:{key}` → (key, 0); `tagdesk:{key}/{n}` → (key, n).
fn split_key(md: &str) -> Option<(&str, u32)> {
    let key = md.strip_prefix(&metadata(""))?;
    match key.rsplit_once('/') {
        Some((k, n)) => Some((k, n.parse().ok()?)),
        None => Some((key, 0)),
    }
}

/// The records of the send `key`, itself or its parts, from the one of `stores` (one
/// per page) that has it.
fn records(stores: &[&dyn Store], key: &str) -> anyhow::Result<Vec<bot::store::MessageRecord>> {
    for store in stores {
        if let Some(m) = store.message_by_interaction(key)? {
            return Ok(vec![m]);
        }
        let mut parts = Vec::new();
        for n in 1.. {
            match store.message_by_interaction(&format!("{key}/{n}"))? {
                Some(m) => parts.push(m),
                None => break,
            }
        }
        if !parts.is_empty() {
            return Ok(parts);
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger::wire::{MessagingType, SendRequest, SendResponse};

    const APP: u64 = 7;

    fn accepted_call(psid: &str, key: &str) -> SentRecord {
        let mut request =
            SendRequest::text(psid, MessagingType::Response, None, "hello".to_owned());
        if let Some(m) = request.message.as_mut() {
            m.metadata = Some(metadata(key));
        }
        SentRecord {
            at: "2026-11-23T09:00:00Z".parse().unwrap(),
            app_id: APP,
            request: RequestRecord::Parsed(request),
            outcome: Outcome::Sent(SendResponse {
                recipient_id: psid.into(),
                message_id: Some(format!("m_{key}")),
            }),
        }
    }

    fn told(key: &str, outcome: &'static str, group: usize) -> Told {
        Told {
            key: key.into(),
            outcome,
            line: 10 + group,
            group,
        }
    }

    #[test]
    fn sent_is_true_only_if_meta_had_accepted_it() {
        let mut l = Ledger::default();
        l.told(told("1", "sent", 0), &[accepted_call("p", "1")], APP);
        assert!(l.untrue.is_empty());
        l.told(told("2", "sent", 1), &[accepted_call("p", "1")], APP);
        assert_eq!(l.untrue.len(), 1, "{:?}", l.untrue);
        assert!(l.untrue[0].contains("told \"sent\""));
    }

    #[test]
    fn nothing_went_out_is_untrue_if_it_went_out_at_that_step() {
        let mut l = Ledger::default();
        l.told(told("1", "refused", 0), &[], APP);
        l.told(told("2", "parked", 0), &[], APP);
        l.settled(0, &[accepted_call("p", "2")], APP);
        assert_eq!(l.untrue.len(), 1, "{:?}", l.untrue);
        assert!(l.untrue[0].contains("parked"));
        // Another app's send with the same key is not ours.
        let mut l = Ledger::default();
        l.told(told("1", "refused", 0), &[], APP);
        l.settled(0, &[accepted_call("p", "1")], APP + 1);
        assert!(l.untrue.is_empty());
    }

    #[test]
    fn replies_reach_meta_once_and_in_the_order_promised() {
        let mut l = Ledger::default();
        l.told(told("1", "pending", 0), &[], APP);
        l.told(told("2", "pending", 1), &[], APP);
        l.told(told("3", "sent", 2), &[accepted_call("q", "3")], APP);
        let in_order = [
            accepted_call("p", "1"),
            accepted_call("p", "2"),
            accepted_call("q", "3"),
        ];
        assert_eq!(l.first_broken(&in_order, APP), None);
        let reversed = [
            accepted_call("p", "2"),
            accepted_call("p", "1"),
            accepted_call("q", "3"),
        ];
        assert!(l
            .first_broken(&reversed, APP)
            .unwrap()
            .contains("after tagdesk:2,"));
        let twice = [
            accepted_call("p", "1"),
            accepted_call("p", "1"),
            accepted_call("p", "2"),
            accepted_call("q", "3"),
        ];
        assert!(l.first_broken(&twice, APP).unwrap().contains("2 times"));
        let never = [accepted_call("p", "1"), accepted_call("p", "2")];
        assert!(l
            .first_broken(&never, APP)
            .unwrap()
            .contains("never accepted"));
    }

    #[test]
    fn the_parts_of_one_reply_reach_meta_in_order() {
        let mut l = Ledger::default();
        l.told(told("9", "pending", 0), &[], APP);
        let ok = [accepted_call("p", "9/1"), accepted_call("p", "9/2")];
        assert_eq!(l.first_broken(&ok, APP), None);
        let swapped = [accepted_call("p", "9/2"), accepted_call("p", "9/1")];
        assert!(l.first_broken(&swapped, APP).is_some());
    }

    #[test]
    fn a_press_acts_on_its_drafts_send() {
        let press = Invocation {
            id: "5".into(),
            token: String::new(),
            agent: bot::commands::interaction::Agent {
                id: 1,
                name: "grace".into(),
                roles: vec![],
            },
            channel_id: None,
            action: Action::Component {
                custom_id: "confirm:120".into(),
                values: vec![],
            },
        };
        assert_eq!(Ledger::key_of(&press).as_deref(), Some("120:done"));
    }

    #[test]
    fn keys_and_parts_read_back() {
        assert_eq!(split_key(&metadata("120")), Some(("120", 0)));
        assert_eq!(split_key(&metadata("120/2")), Some(("120", 2)));
        assert_eq!(split_key(&metadata("120:done/1")), Some(("120:done", 1)));
        assert_eq!(split_key("someone-else:120"), None);
    }
}
