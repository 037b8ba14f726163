//! `/reply`, `/tag`, and the buttons that finish them: the policy runs here, before
//! anything reaches Meta.
//!
//! Every send is keyed: by the interaction that made it, or, for the buttons that
//! finish a draft (Send anyway, Park, a tag from the menu, Split), by the draft. A
//! retried interaction or a second press finds the message and answers with its
//! outcome instead of sending again.
//!
//! An approved send reserves its place in the tagged-message count in the same commit
//! that records it, on condition that the count is still the one the decision read;
//! if another send got there first, the policy runs again. The send then goes through
//! the customer's one ordered lane, which the agent's command works itself for up to
//! two seconds before answering.

use std::collections::HashMap;

use std::sync::Mutex;

use messenger::policy::{allowed_tags, Alternative, Context, Decision, Send, Warning};
use messenger::text::{MessageText, TextError};
use messenger::{decide, Intent, PageState, Tag};
use serde_json::Value;

use super::response::{button, select};
use super::{opt, Ctx, Msg, Response};
use crate::discord::Post;
use crate::mirror::posts::{self, colour};
use crate::outbox::sends::{self, how};
use crate::outbox::{settle, Settled};
use crate::policy::request_of;
use crate::store::{
    AlertKind, Asked, Changes, Direction, Draft, MessageRecord, MessageUpdate, NewWork,
    Precondition, StoreError, Thread, ThreadPatch, Work,
};

/// How long the agent waits on Meta before the answer says "not sent yet": Discord
/// drops an interaction not answered within 3 seconds. The outbox carries on after.
const INTERACTIVE_BUDGET: std::time::Duration = std::time::Duration::from_millis(2_000);

fn private(text: impl Into<String>) -> Result<Response, StoreError> {
    Ok(Response::Message(Msg::private(text)))
}

const WHICH_CUSTOMER: &str =
    "Use this inside a customer's thread, or pick the customer with the `customer` option.";

/// The conversation and the text a `/reply` or `/tag` is about, or the answer saying
/// why there is none.
fn thread_and_text(
    ctx: &Ctx<'_>,
    options: &HashMap<String, Value>,
) -> Result<Result<(Thread, String), Response>, StoreError> {
    let Some(thread) = ctx.thread(opt(options, "customer"))? else {
        return private(WHICH_CUSTOMER).map(Err);
    };
    Ok(
        match compose(ctx, opt(options, "text"), opt(options, "snippet"))? {
            Ok(text) => Ok((thread, text)),
            Err(e) => Err(Response::Message(Msg::private(e))),
        },
    )
}

/// `/reply text [snippet] [split] [customer]`.
pub async fn reply_command(
    ctx: &Ctx<'_>,
    options: &HashMap<String, Value>,
) -> Result<Response, StoreError> {
    let (thread, text) = match thread_and_text(ctx, options)? {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let split = options
        .get("split")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    reply_text(ctx, &thread.psid, &text, split, &ctx.inv.id).await
}

/// `/tag [tag] text [snippet] [customer]`: without a tag, a menu of the tags allowed now.
pub async fn tag_command(
    ctx: &Ctx<'_>,
    options: &HashMap<String, Value>,
) -> Result<Response, StoreError> {
    let (thread, text) = match thread_and_text(ctx, options)? {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    if let Err(e) = MessageText::parse(text.as_str()) {
        return private(too_long_words(&e, &text));
    }
    match opt(options, "tag") {
        Some(tag) => match tag.parse::<Tag>() {
            Ok(tag) => {
                let asked = Asked::Tag {
                    tag,
                    confirmed_second: false,
                };
                decide_and_send(ctx, &thread.psid, asked, &text, &ctx.inv.id, false).await
            }
            Err(e) => private(format!("🚫 {e}")),
        },
        None => {
            let s = &ctx.engine.settings;
            let page = page_state(ctx)?;
            let intent = intent(
                Asked::Reply {
                    confirmed_second: false,
                },
                &text,
            );
            let policy = policy_now(ctx, &page);
            let tags = allowed_tags(&thread.state, &intent, ctx.now, &policy);
            let window = messenger::window::Window::at(
                &thread.state,
                ctx.now,
                s.rules_at(ctx.now),
                s.human_agent,
            );
            if window.is_standard() {
                return private(
                    "🚫 No tag needed: the 24-hour window is open. Reply normally with /reply.",
                );
            }
            if tags.is_empty() {
                return private(format!(
                    "🚫 No tag the {} rules allow applies to this conversation now ({window}). \
                     Park the reply for when the customer writes.",
                    s.rules_at(ctx.now).era
                ));
            }
            save_draft(ctx, &thread.psid, &text, None)?;
            let options: Vec<(String, String, String)> = tags
                .iter()
                .map(|(t, purpose)| {
                    (
                        t.as_str().to_owned(),
                        t.as_str().to_owned(),
                        (*purpose).to_owned(),
                    )
                })
                .collect();
            let msg = Msg::private(format!(
                "Which tag? Only the tags the {} rules allow here, now, are listed.",
                s.rules_at(ctx.now).era
            ))
            .row(vec![select(
                &format!("tagpick:{}", ctx.inv.id),
                "Choose a tag",
                &options,
            )]);
            Ok(Response::Message(msg))
        }
    }
}

/// The text to send: typed, a snippet, or both (typed first). `/name` as the whole
/// text means the snippet of that name.
fn compose(
    ctx: &Ctx<'_>,
    text: Option<&str>,
    snippet: Option<&str>,
) -> Result<Result<String, String>, StoreError> {
    let snippets = ctx.engine.store.snippets()?;
    let find = |name: &str| {
        snippets
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.text.clone())
    };
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    let typed = match text {
        Some(t) if t.starts_with('/') && find(&t[1..]).is_some() => find(&t[1..]),
        t => t.map(str::to_owned),
    };
    let saved = match snippet {
        Some(name) => match find(name) {
            Some(s) => Some(s),
            None => {
                return Ok(Err(format!(
                    "No snippet named `{name}`; /snippet list shows them."
                )))
            }
        },
        None => None,
    };
    Ok(match (typed, saved) {
        (Some(t), Some(s)) => Ok(format!("{t}\n\n{s}")),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err("Nothing to send: write a text or pick a snippet.".into()),
    })
}

fn too_long_words(e: &TextError, text: &str) -> String {
    match e {
        TextError::Empty => "Nothing to send.".into(),
        _ => format!(
            "🚫 Too long for one Messenger message: {} characters; the limit is {}. \
             Shorten it, or split it into several messages.",
            text.chars().count(),
            messenger::text::MAX_CHARS
        ),
    }
}

/// A reply to `psid`: checked, then sent as the windows allow. `key` names the send:
/// the interaction, or the draft a button finishes.
pub async fn reply_text(
    ctx: &Ctx<'_>,
    psid: &str,
    text: &str,
    split: bool,
    key: &str,
) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    if let Some(done) = store.message_by_interaction(key)? {
        return Ok(outcome(ctx, &done));
    }
    if store.message_by_interaction(&part_id(key, 1))?.is_some() {
        return split_outcome(ctx, key);
    }
    if store.thread(psid)?.is_none() {
        return private("That customer has no conversation.");
    }
    let text = text.trim();
    let asked = Asked::Reply {
        confirmed_second: false,
    };
    match MessageText::parse(text) {
        Ok(_) => decide_and_send(ctx, psid, asked, text, key, false).await,
        Err(TextError::Empty) => private("Nothing to send."),
        Err(_) if split => send_split(ctx, psid, text, key).await,
        Err(e) => {
            save_draft(ctx, psid, text, None)?;
            let msg = Msg::private(too_long_words(&e, text)).row(vec![button(
                &format!("split:{}", ctx.inv.id),
                "Split and send",
                1,
            )]);
            Ok(Response::Message(msg))
        }
    }
}

fn part_id(interaction: &str, n: usize) -> String {
    format!("{interaction}/{n}")
}

/// A long reply in several messages. Only inside the 24-hour window: outside it every
/// part would count as a tagged message in a row. The parts go through the customer's
/// lane in order, recorded and queued together.
async fn send_split(
    ctx: &Ctx<'_>,
    psid: &str,
    text: &str,
    key: &str,
) -> Result<Response, StoreError> {
    let s = &ctx.engine.settings;
    let Some(thread) = ctx.engine.store.thread(psid)? else {
        return private("That customer has no conversation.");
    };
    let window =
        messenger::window::Window::at(&thread.state, ctx.now, s.rules_at(ctx.now), s.human_agent);
    if !window.is_standard() {
        return private(format!(
            "🚫 Not split: outside the 24-hour window ({window}) each part would count as \
             another tagged message in a row. Shorten it to one message of at most {} characters.",
            messenger::text::MAX_CHARS
        ));
    }
    let parts = MessageText::split(text).unwrap_or_default();
    let send = Send {
        messaging_type: messenger::wire::MessagingType::Response,
        tag: None,
        window,
        warnings: Vec::new(),
    };
    let asked = Asked::Reply {
        confirmed_second: false,
    };
    let keyed: Vec<(String, &str)> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| (part_id(key, i + 1), part.as_str()))
        .collect();
    match reserve(ctx, &thread, &send, asked, &keyed) {
        Ok(()) => {}
        // A double press: the first one's parts are on their way.
        Err(StoreError::Conflict(_)) => return split_outcome(ctx, key),
        Err(e) => return Err(e),
    }
    let keys: Vec<String> = keyed.into_iter().map(|(k, _)| k).collect();
    work_the_lane(ctx, psid, &keys).await?;
    split_outcome(ctx, key)
}

/// Where the parts of a split reply stand, in words that never claim more than is true.
fn split_outcome(ctx: &Ctx<'_>, key: &str) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    let mut states = Vec::new();
    while let Some(m) = store.message_by_interaction(&part_id(key, states.len() + 1))? {
        states.push(m.state);
    }
    let n = states.len();
    let sent = states
        .iter()
        .filter(|st| matches!(st.as_str(), "sent" | "delivered" | "read"))
        .count();
    let stopped = states
        .iter()
        .filter(|st| matches!(st.as_str(), "failed" | "refused"))
        .count();
    let text = if sent == n {
        format!("✅ Split into {n} messages; all {n} sent as RESPONSE, in order.")
    } else if stopped > 0 {
        format!(
            "❌ Split into {n} messages; {sent} of {n} sent, {stopped} not sent: the thread \
             says why."
        )
    } else {
        format!(
            "⏳ Split into {n} messages; {sent} of {n} sent, the rest queued in order. \
             tagdesk keeps trying and posts each in the thread."
        )
    };
    private(text)
}

fn intent(asked: Asked, text: &str) -> Intent<'_> {
    let (request, sender) = request_of(asked);
    Intent {
        sender,
        request,
        text,
        template: false,
    }
}

/// What the policy reads besides the conversation, now, over `page`.
fn policy_now<'a>(ctx: &'a Ctx<'_>, page: &'a PageState) -> Context<'a> {
    let s = &ctx.engine.settings;
    Context {
        rules: s.rules_at(ctx.now),
        page,
        lexicon: &s.lexicon,
    }
}

/// The page as the policy sees it now.
pub fn page_state(ctx: &Ctx<'_>) -> Result<PageState, StoreError> {
    crate::policy::page_state(&*ctx.engine.store, &ctx.engine.settings, ctx.now)
}

/// What the policy decides for `asked` in `thread` now.
pub fn decision(
    ctx: &Ctx<'_>,
    thread: &Thread,
    asked: Asked,
    text: &str,
) -> Result<Decision, StoreError> {
    let page = page_state(ctx)?;
    let policy = policy_now(ctx, &page);
    Ok(decide(
        &thread.state,
        &intent(asked, text),
        ctx.now,
        &policy,
    ))
}

/// How many times a send decides again when other sends keep taking the place it
/// read before it could reserve it.
const RESERVE_TRIES: usize = 8;

/// Decides, and sends what is allowed under `key`; a second call with the same key
/// answers with the first one's outcome.
async fn decide_and_send(
    ctx: &Ctx<'_>,
    psid: &str,
    asked: Asked,
    text: &str,
    key: &str,
    outside_confirmed: bool,
) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    for _ in 0..RESERVE_TRIES {
        if let Some(done) = store.message_by_interaction(key)? {
            return Ok(outcome(ctx, &done));
        }
        let Some(thread) = store.thread(psid)? else {
            return private("That customer has no conversation.");
        };
        match decision(ctx, &thread, asked, text)? {
            Decision::Send(send) => {
                let confirmed = match asked {
                    Asked::Reply { confirmed_second }
                    | Asked::Tag {
                        confirmed_second, ..
                    } => confirmed_second,
                    Asked::Parked => false,
                };
                let second = send.warnings.contains(&Warning::SecondConsecutiveTag);
                let unseen = match send.tag {
                    Some(_) if !confirmed && !outside_confirmed => {
                        sent_by_others_in_window(ctx, psid, &thread)?
                    }
                    _ => 0,
                };
                if (second || unseen > 0) && !confirmed {
                    return tag_warning(ctx, psid, text, &send, second, unseen);
                }
                match reserve(ctx, &thread, &send, asked, &[(key.to_owned(), text)]) {
                    Ok(()) => {}
                    // Someone else changed the count first (or sent this very draft):
                    // decide again on what is there now.
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
                work_the_lane(ctx, psid, &[key.to_owned()]).await?;
                let m = store.message_by_interaction(key)?.expect("reserved above");
                let mut answer = outcome(ctx, &m);
                if let (Response::Message(msg), Some(hint)) = (&mut answer, hint(&send)) {
                    msg.content.push_str(&format!("\nℹ️ {hint}"));
                }
                return Ok(answer);
            }
            Decision::Refused(refusal) => return refused(ctx, &thread, text, &refusal),
        }
    }
    private("⏳ Other sends to this customer keep changing the count; try again in a moment.")
}

/// Messages someone outside tagdesk (Meta Business Suite, another app) sent the
/// customer since they last acted, inside the standard window. Meta's echoes don't say
/// whether a message carried a tag, and inside the window one may: tagdesk can't count
/// them towards three tagged messages in a row, so a tagged send asks first. (Outside
/// the window an echo can only have been tagged, and is counted as such.)
fn sent_by_others_in_window(
    ctx: &Ctx<'_>,
    psid: &str,
    thread: &Thread,
) -> Result<usize, StoreError> {
    let Some(opened) = thread.state.last_opened else {
        return Ok(0);
    };
    let closed = opened + ctx.engine.settings.rules_at(ctx.now).standard_window;
    let messages = ctx.engine.store.messages(psid)?;
    Ok(messages
        .iter()
        .filter(|m| m.direction == Direction::Echo && m.at > opened && m.at < closed)
        .count())
}

/// Asks the agent to confirm a tagged send that is, or may be, the second in a row:
/// `second` when tagdesk counted one before it, `unseen` for messages sent from
/// outside tagdesk inside the window, whose tags tagdesk can't see.
fn tag_warning(
    ctx: &Ctx<'_>,
    psid: &str,
    text: &str,
    send: &Send,
    second: bool,
    unseen: usize,
) -> Result<Response, StoreError> {
    save_draft(ctx, psid, text, send.tag)?;
    let mut why = Vec::new();
    if second {
        why.push(
            "⚠️ This would be the second tagged message in a row with no answer from \
             the customer: combine it with the previous one into one message if you \
             can. A third in a row is refused, and Meta may restrict the page."
                .to_owned(),
        );
    }
    if unseen > 0 {
        let times = if unseen == 1 {
            "once".to_owned()
        } else {
            format!("{unseen} times")
        };
        let lead = if second {
            "Also, someone"
        } else {
            "⚠️ Someone"
        };
        why.push(format!(
            "{lead} outside tagdesk (Meta Business Suite or another app) wrote \
             to this customer {times} since they last got in touch, inside the 24-hour window. \
             Meta's echoes don't say whether that carried a tag: if it did, this could \
             be the next tagged message in a row, and a third gets the page restricted. \
             Check in Business Suite, or park it for when the customer writes."
        ));
    }
    let outside_only = if second { "" } else { OUTSIDE_ONLY };
    let msg = Msg::private(format!(
        "{}\nIt would go as {}.",
        why.join("\n"),
        describe(send)
    ))
    .row(vec![
        button(
            &format!("confirm:{}{outside_only}", ctx.inv.id),
            "Send anyway",
            4,
        ),
        button(&format!("park:{}", ctx.inv.id), "Park it", 2),
    ]);
    Ok(Response::Message(msg))
}

/// A refusal: recorded under this interaction (a draft stays open for another try),
/// with the buttons for what is allowed instead.
fn refused(
    ctx: &Ctx<'_>,
    thread: &Thread,
    text: &str,
    refusal: &messenger::policy::Refusal,
) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    let record = record(ctx, thread, text, "refused", &ctx.inv.id);
    let record = MessageRecord {
        decision: Some(refusal.to_string()),
        reason: Some(refusal.reason.code().to_owned()),
        messaging_type: None,
        ..record
    };
    store.commit(&Changes {
        messages: vec![record],
        ..Changes::default()
    })?;
    save_draft(ctx, &thread.psid, text, None)?;
    let mut components = Vec::new();
    if refusal.instead.contains(&Alternative::Park) {
        components.push(button(
            &format!("park:{}", ctx.inv.id),
            "Park it until they write",
            1,
        ));
    }
    let tags: Vec<(String, String, String)> = refusal
        .instead
        .iter()
        .filter_map(|a| match a {
            Alternative::Tag(t, purpose) => Some((
                t.as_str().to_owned(),
                t.as_str().to_owned(),
                (*purpose).to_owned(),
            )),
            _ => None,
        })
        .collect();
    let mut msg = Msg::private(format!("🚫 Not sent: {refusal}."));
    msg = msg.row(components);
    if !tags.is_empty() {
        msg = msg.row(vec![select(
            &format!("tagpick:{}", ctx.inv.id),
            "Send with a tag instead",
            &tags,
        )]);
    } else if refusal.instead.contains(&Alternative::TagByPurpose) {
        // The agent states the purpose; the tag follows from it.
        let page = page_state(ctx)?;
        let policy = policy_now(ctx, &page);
        let asked = Asked::Reply {
            confirmed_second: false,
        };
        let purposes: Vec<(String, String, String)> =
            allowed_tags(&thread.state, &intent(asked, text), ctx.now, &policy)
                .into_iter()
                .map(|(t, purpose)| {
                    (
                        purpose.to_owned(),
                        t.as_str().to_owned(),
                        t.as_str().to_owned(),
                    )
                })
                .collect();
        msg = msg.row(vec![select(
            &format!("tagpick:{}", ctx.inv.id),
            "It is one of these purposes: send with its tag",
            &purposes,
        )]);
    }
    Ok(Response::Message(msg))
}

fn describe(send: &Send) -> String {
    match send.tag {
        Some(Tag::HumanAgent) => format!("HUMAN_AGENT ({})", send.window),
        Some(t) => format!("MESSAGE_TAG {} ({})", t.as_str(), send.window),
        None => format!("{} ({})", send.messaging_type.as_str(), send.window),
    }
}

fn hint(send: &Send) -> Option<String> {
    send.warnings.iter().find_map(|w| match w {
        Warning::TagHint(h) => Some((*h).to_owned()),
        Warning::SecondConsecutiveTag => None,
    })
}

fn record(
    ctx: &Ctx<'_>,
    thread: &Thread,
    text: &str,
    state: &str,
    interaction_id: &str,
) -> MessageRecord {
    MessageRecord {
        id: 0,
        psid: thread.psid.clone(),
        direction: Direction::Out,
        mid: None,
        kind: "text".into(),
        text: text.to_owned(),
        attachments: Vec::new(),
        at: ctx.now,
        messaging_type: None,
        tag: None,
        agent: Some(ctx.inv.agent.name.clone()),
        decision: None,
        state: state.into(),
        error: None,
        reason: None,
        standby: false,
        app_id: None,
        interaction_id: Some(interaction_id.to_owned()),
        asked: None,
    }
}

/// Records approved sends, reserves their places in the tagged-message count and
/// queues them in the customer's lane, in one commit that holds only if the count is
/// still the one `thread` was read with and none of the keys is taken. Otherwise
/// [`StoreError::Conflict`], and nothing changed.
fn reserve(
    ctx: &Ctx<'_>,
    thread: &Thread,
    send: &Send,
    asked: Asked,
    parts: &[(String, &str)],
) -> Result<(), StoreError> {
    let mut changes = Changes {
        preconditions: vec![Precondition::TaggedCount {
            psid: thread.psid.clone(),
            is: thread.state.tagged_since_customer,
        }],
        // Replying claims an unclaimed conversation.
        patches: vec![ThreadPatch::Claim {
            psid: thread.psid.clone(),
            by: Some(ctx.inv.agent.id),
            if_unclaimed: true,
        }],
        ..Changes::default()
    };
    for (key, text) in parts {
        let mut m = record(ctx, thread, text, "queued", key);
        m.messaging_type = Some(send.messaging_type.as_str().into());
        m.tag = send.tag.map(|t| t.as_str().to_owned());
        m.decision = Some(format!("allowed as {}", describe(send)));
        m.asked = Some(asked);
        changes.preconditions.push(Precondition::NoMessageFor {
            interaction_id: key.clone(),
        });
        changes.messages.push(m);
        changes.work.push(NewWork {
            key: None,
            work: Work::GraphSend {
                psid: thread.psid.clone(),
                interaction_id: key.clone(),
            },
            due: ctx.now,
        });
    }
    ctx.engine.store.commit(&changes)
}

/// The agent's command works the customer's send lane, in order, until its own sends
/// (`keys`) have been attempted, for at most [`INTERACTIVE_BUDGET`]: Discord drops an
/// interaction not answered within 3 seconds. A send still out with Meta then is left
/// to the outbox, which looks for it in the conversation before it sends again.
async fn work_the_lane(ctx: &Ctx<'_>, psid: &str, keys: &[String]) -> Result<(), StoreError> {
    let engine = ctx.engine;
    let store = &*engine.store;
    let lane = sends::lane(psid);
    let (now, grace) = (ctx.now, sends::ECHO_GRACE);
    // The work being attempted when the budget ran out.
    let current: Mutex<Option<(i64, String)>> = Mutex::new(None);
    let work = async {
        while let Some(item) = store.lease_lane_head(&lane, now, now + grace)? {
            let Work::GraphSend { interaction_id, .. } = &item.work else {
                break;
            };
            *current.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((item.id, interaction_id.clone()));
            let attempt = sends::perform(
                store,
                &*engine.graph,
                &engine.settings,
                interaction_id,
                item.attempts,
                now,
            )
            .await?;
            current.lock().unwrap_or_else(|e| e.into_inner()).take();
            let settled = settle(store, &item, attempt, now)?;
            if settled == Settled::Retried || keys.last() == Some(interaction_id) {
                break;
            }
        }
        Ok::<(), StoreError>(())
    };
    match tokio::time::timeout(INTERACTIVE_BUDGET, work).await {
        Ok(done) => done,
        Err(_) => {
            // Meta is slow: the request may still go through, so it counts as sent
            // until the outbox has looked.
            let Some((id, interaction_id)) =
                current.lock().unwrap_or_else(|e| e.into_inner()).take()
            else {
                return Ok(());
            };
            store.work_retry(id, now + grace, "Meta is slow to answer")?;
            store.commit(&Changes {
                message_updates: vec![MessageUpdate {
                    interaction_id,
                    state: "uncertain".into(),
                    error: Some("Meta is slow to answer".into()),
                    if_state: Some("sending".into()),
                    ..MessageUpdate::default()
                }],
                ..Changes::default()
            })
        }
    }
}

fn save_draft(ctx: &Ctx<'_>, psid: &str, text: &str, tag: Option<Tag>) -> Result<(), StoreError> {
    ctx.engine.store.commit(&Changes {
        drafts: vec![Draft {
            id: ctx.inv.id.clone(),
            psid: psid.to_owned(),
            text: text.to_owned(),
            agent: ctx.inv.agent.name.clone(),
            tag: tag.map(|t| t.as_str().to_owned()),
        }],
        ..Changes::default()
    })
}

fn load_draft(ctx: &Ctx<'_>, id: &str) -> Result<Option<(Draft, Thread)>, StoreError> {
    let store = &ctx.engine.store;
    let Some(draft) = store.draft(id)? else {
        return Ok(None);
    };
    Ok(store.thread(&draft.psid)?.map(|t| (draft, t)))
}

const EXPIRED: &str = "That draft is gone; write the reply again.";

/// The key of whatever finishes a draft: its send or its parking. One key per draft,
/// so of two presses (twice the same button, or Park then Send anyway) one acts.
fn finishing(draft: &str) -> String {
    format!("{draft}:done")
}

/// "Park it": the reply goes out as RESPONSE when the customer next writes.
pub fn park(ctx: &Ctx<'_>, draft: &str) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    let key = finishing(draft);
    if let Some(done) = store.message_by_interaction(&key)? {
        return Ok(outcome(ctx, &done));
    }
    let Some((draft, thread)) = load_draft(ctx, draft)? else {
        return private(EXPIRED);
    };
    let mut m = record(ctx, &thread, &draft.text, "parked", &key);
    m.decision = Some("parked until the customer writes".into());
    m.asked = Some(Asked::Parked);
    let note = format!(
        "🅿️ {} parked a reply; it goes out as RESPONSE when the customer next writes.",
        ctx.inv.agent.name
    );
    let embed = posts::entry(
        Some((&ctx.inv.agent.name, None)),
        &draft.text,
        Some(note),
        ctx.now,
        colour::TEAM,
    );
    let parked = store.commit(&Changes {
        preconditions: vec![Precondition::NoMessageFor {
            interaction_id: key.clone(),
        }],
        messages: vec![m],
        work: vec![NewWork {
            key: None,
            work: Work::Post {
                psid: thread.psid.clone(),
                post: Post {
                    embeds: vec![embed],
                    ..Post::default()
                },
            },
            due: ctx.now,
        }],
        ..Changes::default()
    });
    match parked {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    let m = store.message_by_interaction(&key)?.expect("recorded");
    Ok(outcome(ctx, &m))
}

/// "Send anyway" on a second consecutive tag.
pub async fn confirm(ctx: &Ctx<'_>, pressed: &str) -> Result<Response, StoreError> {
    // The warning said only that someone outside tagdesk wrote: confirming it doesn't
    // confirm a second tagged message in a row by tagdesk's own count, which the agent
    // wasn't shown (another send may go first meanwhile).
    let (draft_id, outside_only) = match pressed.strip_suffix(OUTSIDE_ONLY) {
        Some(draft_id) => (draft_id, true),
        None => (pressed, false),
    };
    let Some((draft, thread)) = load_draft(ctx, draft_id)? else {
        return private(EXPIRED);
    };
    let confirmed_second = !outside_only;
    let asked = match draft.tag.as_deref().and_then(|t| t.parse::<Tag>().ok()) {
        Some(Tag::HumanAgent) | None => Asked::Reply { confirmed_second },
        Some(tag) => Asked::Tag {
            tag,
            confirmed_second,
        },
    };
    let key = finishing(draft_id);
    decide_and_send(ctx, &thread.psid, asked, &draft.text, &key, true).await
}

/// Ends a confirm button's id when the warning it answers was only about messages
/// sent from outside tagdesk (`confirm:{draft}:outside`).
pub const OUTSIDE_ONLY: &str = ":outside";

/// "Split and send" on a long reply.
pub async fn split(ctx: &Ctx<'_>, draft_id: &str) -> Result<Response, StoreError> {
    let Some((draft, thread)) = load_draft(ctx, draft_id)? else {
        return private(EXPIRED);
    };
    reply_text(ctx, &thread.psid, &draft.text, true, &finishing(draft_id)).await
}

/// A tag chosen from the menu.
pub async fn tag_picked(
    ctx: &Ctx<'_>,
    draft_id: &str,
    tag: Option<&str>,
) -> Result<Response, StoreError> {
    let Some((draft, thread)) = load_draft(ctx, draft_id)? else {
        return private(EXPIRED);
    };
    match tag.map(str::parse::<Tag>) {
        Some(Ok(tag)) => {
            let asked = Asked::Tag {
                tag,
                confirmed_second: false,
            };
            let key = finishing(draft_id);
            decide_and_send(ctx, &thread.psid, asked, &draft.text, &key, false).await
        }
        _ => private("Pick a tag from the list."),
    }
}

/// Where a send stands, in words, for the agent who made it.
pub fn outcome(ctx: &Ctx<'_>, m: &MessageRecord) -> Response {
    let s = &ctx.engine.settings;
    let text = match m.state.as_str() {
        "sent" | "delivered" | "read" => {
            let mut t = format!("✅ Sent as {}.", how(m));
            if m.tag.as_deref() == Some("HUMAN_AGENT") {
                let thread = ctx.engine.store.thread(&m.psid).ok().flatten();
                if let Some(closes) = thread.and_then(|t| crate::mirror::alerts::closes(&t, AlertKind::HumanAgent, ctx.now, s)) {
                    t.push_str(&format!(
                        " The human-agent window closes {} (in {}).",
                        closes.strftime("%a %d %b %H:%M UTC"),
                        messenger::timefmt::human(closes.duration_since(ctx.now))
                    ));
                }
            }
            t
        }
        "failed" => format!("❌ Meta refused it: {}", m.error.as_deref().unwrap_or("no details")),
        "echoed" => "✅ Sent: Meta's echo confirms it; the thread shows how it went.".into(),
        "sending" => "⏳ Being sent to Meta right now; the thread will show the outcome.".into(),
        "queued" | "retrying" => format!(
            "⏳ Not sent yet: {}. tagdesk keeps trying and will post the outcome in the thread.",
            m.error
                .as_deref()
                .unwrap_or("it waits behind an earlier message to this customer")
        ),
        "uncertain" => "⏳ Not confirmed yet: Meta didn't answer in time, so it may have gone \
            out. tagdesk looks for it in the conversation before trying again, never sends it \
            twice, and will post the outcome in the thread."
            .into(),
        // Approved, then stopped by the policy when its turn came.
        "refused" if m.error.is_some() => {
            format!("🚫 Not sent: {}.", m.error.as_deref().unwrap_or_default())
        }
        "refused" => format!("🚫 Not sent: {}.", m.decision.as_deref().unwrap_or("refused")),
        "parked" => "🅿️ Parked: it goes out as RESPONSE when the customer next writes, and the thread will say so.".into(),
        other => format!("Its state: {other}."),
    };
    Response::Message(Msg::private(text))
}
