//! Team messages through the Send API, from the outbox.
//!
//! A send is retried while Meta is unreachable, answers 5xx or rate-limits. A timeout
//! is ambiguous (Meta may have sent it), so the retry waits for the send's echo first:
//! every send carries `metadata` naming its interaction, and an echo with it marks the
//! message sent, so the retry finds nothing left to do. Meta's refusals are final; the
//! message stays in the thread's log, marked, with what to do next.

use jiff::{SignedDuration, Timestamp};
use messenger::meta_error::MetaError;
use messenger::wire::SendRequest;

use super::Attempt;
use crate::discord::Post;
use crate::graph::{find_sent, GraphApi, GraphFailure, Lookup};
use crate::mirror::alerts;
use crate::mirror::posts::{self, colour};
use crate::mirror::process::OUR_METADATA;
use crate::policy::{redecide, Redecided};
use crate::settings::Settings;
use crate::store::{Changes, MessageRecord, MessageUpdate, NewWork, Store, StoreError, Work};
use crate::store::{PageOp, ThreadPatch};

/// Attempts before a send that keeps failing transiently is given up.
pub const MAX_ATTEMPTS: u32 = 8;

/// How long a retry after a timeout waits for the echo of a send that went through.
pub const ECHO_GRACE: SignedDuration = SignedDuration::from_secs(60);

/// The metadata a send carries, naming its interaction.
pub fn metadata(interaction_id: &str) -> String {
    format!("{OUR_METADATA}:{interaction_id}")
}

/// The outbox lane a customer's sends go through, one at a time and in order: the
/// agent's own command performs its send through it too.
pub fn lane(psid: &str) -> String {
    Work::GraphSend {
        psid: psid.to_owned(),
        interaction_id: String::new(),
    }
    .lane()
}

/// One attempt at sending the message of `interaction_id`.
///
/// In order: claim the send (so nobody else attempts it at once); if an earlier attempt
/// may have reached Meta (its answer was lost), look for the message in the
/// conversation before sending it again; run the policy again on the state as it is
/// now; then send.
pub async fn perform(
    store: &dyn Store,
    graph: &dyn GraphApi,
    s: &Settings,
    interaction_id: &str,
    attempts: u32,
    now: Timestamp,
) -> Result<Attempt, StoreError> {
    let Some(msg) = store.message_by_interaction(interaction_id)? else {
        return Ok(Attempt::Fail(format!(
            "no message for interaction {interaction_id}"
        )));
    };
    // Claim the send first, so two performers (a retried interaction racing the first,
    // or the agent's attempt and the outbox's) never both send it.
    if msg.state == "echoed" {
        // Its echo came back while we waited for an answer: it went through.
        if !store.claim_send(interaction_id, &["echoed"])? {
            return Ok(Attempt::Done(Box::default()));
        }
        let mid = msg.mid.clone();
        return Ok(Attempt::Done(Box::new(sent(store, s, &msg, mid, now)?)));
    }
    // Whoever performs a send holds its work's lease, so a send left "sending" was
    // left by a crash or an abandoned attempt: it is retried, after a look.
    let claimable = &["queued", "retrying", "sending", "uncertain"];
    if !store.claim_send(interaction_id, claimable)? {
        // Settled already, or someone else is sending it now.
        return Ok(Attempt::Done(Box::default()));
    }
    if matches!(msg.state.as_str(), "sending" | "uncertain") {
        // An earlier attempt may have gone through: its answer was lost, and its echo
        // may come minutes late. Look before sending again.
        let known = |mid: &str| store.mid_known(mid).unwrap_or(true);
        match find_sent(graph, &msg.psid, &msg.text, msg.at, &known).await {
            Ok(Lookup::Found(mid)) => {
                return Ok(Attempt::Done(Box::new(sent(
                    store,
                    s,
                    &msg,
                    Some(mid),
                    now,
                )?)))
            }
            Ok(Lookup::Absent) => {}
            // Nobody can tell whether it went out: never risk a copy. Wait for its
            // echo; after long enough, tell the agent instead of guessing.
            Ok(Lookup::Unknown) if now.duration_since(msg.at) < UNKNOWABLE_AFTER => {
                let f = GraphFailure::Unavailable(
                    "can't see far enough back in the conversation; waiting for Meta's echo".into(),
                );
                return retry(store, &msg, "uncertain", &f, Some(ECHO_GRACE));
            }
            Ok(Lookup::Unknown) => {
                return Ok(Attempt::Done(Box::new(unconfirmed(&msg, now))));
            }
            Err(f) => return retry(store, &msg, "uncertain", &f, Some(ECHO_GRACE)),
        }
    }
    let (messaging_type, tag) = match redecide(store, s, &msg, now)? {
        Redecided::Send {
            messaging_type,
            tag,
        } => (messaging_type, tag),
        Redecided::Stop { reason, why } => {
            return Ok(Attempt::Done(Box::new(stopped(&msg, reason, why, now))))
        }
    };
    let mut msg = msg;
    msg.messaging_type = Some(messaging_type.as_str().into());
    msg.tag = tag.map(|t| t.as_str().to_owned());
    let mut request = SendRequest::text(msg.psid.clone(), messaging_type, tag, msg.text.clone());
    if let Some(m) = request.message.as_mut() {
        m.metadata = Some(metadata(interaction_id));
    }
    match graph.send(&request).await {
        Ok(answer) => Ok(Attempt::Done(Box::new(sent(
            store,
            s,
            &msg,
            answer.message_id,
            now,
        )?))),
        // No answer: Meta may have sent it. The next attempt looks first; a lost answer
        // is never taken for a failure, however many attempts came before.
        Err(f @ GraphFailure::Unavailable(_)) => {
            retry(store, &msg, "uncertain", &f, Some(ECHO_GRACE))
        }
        Err(f) if f.is_transient() && attempts + 1 < MAX_ATTEMPTS => retry(
            store,
            &msg,
            "retrying",
            &f,
            Some(SignedDuration::from_secs(30)),
        ),
        Err(f) => Ok(Attempt::Done(Box::new(failed(store, s, &msg, &f, now)?))),
    }
}

/// How long a send whose fate can't be seen waits for its echo before the agent is
/// told to check by hand.
pub const UNKNOWABLE_AFTER: SignedDuration = SignedDuration::from_hours(1);

/// How long after tagdesk's clock says a tagged send went out Meta may have counted
/// it (the Graph client's timeout): a customer action stamped within this slack
/// doesn't restart the count, since it may have come before the send in Meta's order.
const COUNTED_SLACK: SignedDuration = SignedDuration::from_secs(10);

/// A send tagdesk can't confirm or rule out: not sent again (that could make a copy),
/// and the thread says what to check.
fn unconfirmed(msg: &MessageRecord, now: Timestamp) -> Changes {
    let why = "Meta never answered and the conversation has moved on too far to check \
               whether it went out; look in Meta Business Suite before sending it again";
    let line = format!("❓ not confirmed: {why}");
    ended(msg, "failed", "unconfirmed", why, line, now)
}

/// A claimed send that ends without going out: its state and reason (a stable name,
/// and words), and a line in the thread.
fn ended(
    msg: &MessageRecord,
    state: &str,
    reason: &str,
    why: &str,
    line: String,
    now: Timestamp,
) -> Changes {
    let mut changes = Changes::default();
    changes.message_updates.push(MessageUpdate {
        interaction_id: msg.interaction_id.clone().unwrap_or_default(),
        state: state.into(),
        error: Some(why.into()),
        reason: Some(reason.into()),
        if_state: Some("sending".into()),
        ..MessageUpdate::default()
    });
    changes
        .work
        .push(team_line(msg, line, colour::REFUSED, now));
    changes
}

/// Leaves a claimed send in `state` to be tried again.
fn retry(
    store: &dyn Store,
    msg: &MessageRecord,
    state: &str,
    f: &GraphFailure,
    after: Option<SignedDuration>,
) -> Result<Attempt, StoreError> {
    store.commit(&Changes {
        message_updates: vec![MessageUpdate {
            interaction_id: msg.interaction_id.clone().unwrap_or_default(),
            state: state.into(),
            error: Some(f.to_string()),
            if_state: Some("sending".into()),
            ..MessageUpdate::default()
        }],
        ..Changes::default()
    })?;
    Ok(Attempt::Retry {
        error: f.to_string(),
        after,
    })
}

/// A send the policy stops when its turn comes: not made, its place in the count
/// given back, and the thread says why.
fn stopped(msg: &MessageRecord, reason: &str, why: String, now: Timestamp) -> Changes {
    ended(
        msg,
        "refused",
        reason,
        &why,
        format!("🚫 not sent: {why}"),
        now,
    )
}

/// What a successful send changes: the message, the thread's tag count and last reply,
/// and a line in the Discord thread.
fn sent(
    store: &dyn Store,
    s: &Settings,
    msg: &MessageRecord,
    mid: Option<String>,
    now: Timestamp,
) -> Result<Changes, StoreError> {
    let mut changes = Changes::default();
    let interaction_id = msg.interaction_id.clone().unwrap_or_default();
    changes.message_updates.push(MessageUpdate {
        interaction_id,
        state: "sent".into(),
        mid,
        at: Some(now),
        messaging_type: msg.messaging_type.clone(),
        retag: Some(msg.tag.clone()),
        ..MessageUpdate::default()
    });
    let mut footer = format!("✅ sent as {}", how(msg));
    let tagged = msg.tag.is_some();
    changes.patches.push(ThreadPatch::TeamReplied {
        psid: msg.psid.clone(),
        tagged,
        at: if tagged { now + COUNTED_SLACK } else { now },
    });
    if let Some(thread) = store.thread(&msg.psid)? {
        if msg.tag.as_deref() == Some("HUMAN_AGENT") {
            if let Some(closes) =
                alerts::closes(&thread, crate::store::AlertKind::HumanAgent, now, s)
            {
                footer.push_str(&format!(
                    " · the window closes {}",
                    closes.strftime("%a %d %b %H:%M UTC")
                ));
            }
        }
    }
    changes.work.push(team_line(msg, footer, colour::TEAM, now));
    Ok(changes)
}

/// What a refused send changes: the message marked failed, in words, and the page's
/// restriction if Meta says there is one.
fn failed(
    store: &dyn Store,
    _s: &Settings,
    msg: &MessageRecord,
    f: &GraphFailure,
    now: Timestamp,
) -> Result<Changes, StoreError> {
    let mut changes = Changes::default();
    let reason = match f.meta() {
        Some(e) => match e.code() {
            (code, Some(sub)) => format!("meta_{code}_{sub}"),
            (code, None) => format!("meta_{code}"),
        },
        None => "unavailable".to_owned(),
    };
    let words = match f.meta() {
        Some(e) => {
            let (what, next) = e.explain();
            let (code, sub) = e.code();
            let code = sub.map_or(code.to_string(), |sub| format!("{code}/{sub}"));
            if e == MetaError::PageRestricted && store.page()?.enforcement.active(now).is_none() {
                tracing::warn!("Meta reports a restriction tagdesk hadn't heard of");
                changes.page_ops.push(PageOp::Impose {
                    level: None,
                    reason: "Meta refused a tagged message: the page is restricted".into(),
                    at: now,
                    unless_active: true,
                });
                changes.relabel_all = Some(now);
            }
            if e == MetaError::TagSpamWarning {
                // Meta counts at least two tagged messages in a row here and has warned
                // the page: the next tagged message must be refused before it leaves.
                changes.patches.push(ThreadPatch::TagSpamWarned {
                    psid: msg.psid.clone(),
                    at: now,
                });
                changes.page_ops.push(PageOp::Warn { at: now });
            }
            format!("{what} ({code}). Next: {next}")
        }
        None => format!("{f}. Meta kept failing; try again later"),
    };
    changes.message_updates.push(MessageUpdate {
        interaction_id: msg.interaction_id.clone().unwrap_or_default(),
        state: "failed".into(),
        error: Some(words.clone()),
        reason: Some(reason),
        if_state: Some("sending".into()),
        ..MessageUpdate::default()
    });
    changes.work.push(team_line(
        msg,
        format!("❌ not sent: {words}"),
        colour::REFUSED,
        now,
    ));
    Ok(changes)
}

/// "RESPONSE", "HUMAN_AGENT", "MESSAGE_TAG (ACCOUNT_UPDATE)".
pub fn how(msg: &MessageRecord) -> String {
    match (msg.messaging_type.as_deref(), msg.tag.as_deref()) {
        (_, Some("HUMAN_AGENT")) => "HUMAN_AGENT".into(),
        (Some(mt), Some(tag)) => format!("{mt} ({tag})"),
        (Some(mt), None) => mt.into(),
        (None, _) => "RESPONSE".into(),
    }
}

/// The team's message as a line in the Discord thread.
fn team_line(msg: &MessageRecord, footer: String, color: u32, now: Timestamp) -> NewWork {
    let agent = msg.agent.clone().unwrap_or_else(|| "team".into());
    let embed = posts::entry(Some((&agent, None)), &msg.text, Some(footer), now, color);
    NewWork {
        key: None,
        work: Work::Post {
            psid: msg.psid.clone(),
            post: Post {
                embeds: vec![embed],
                ..Post::default()
            },
        },
        due: now,
    }
}
