//! `/reply`, `/tag`, and the buttons that finish them: the policy runs here, before
//! anything reaches Meta.
//!
//! Every send is keyed by the interaction that made it: a retried interaction finds its
//! message and answers with its outcome instead of sending again.

use std::collections::HashMap;

use messenger::policy::{allowed_tags, Alternative, Context, Decision, Send, Warning};
use messenger::text::{MessageText, TextError};
use messenger::{decide, Intent, PageState, Request, Sender, Tag};
use serde_json::Value;

use super::response::{button, select};
use super::{opt, Ctx, Msg, Response};
use crate::discord::Post;
use crate::mirror::posts::{self, colour};
use crate::outbox::sends::{self, how};
use crate::outbox::Attempt;
use crate::store::{
    AlertKind, Changes, Direction, Draft, MessageRecord, MessageUpdate, NewWork, StoreError,
    Thread, ThreadPatch, Work,
};

/// How long a send waits in the outbox before the outbox tries it again: as long as a
/// retry after a timeout waits for the echo of a send that went through.
const FIRST_RETRY: jiff::SignedDuration = sends::ECHO_GRACE;

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
    reply_text(ctx, &thread.psid, &text, split).await
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
            Ok(tag) => decide_and_send(ctx, &thread, Request::Tag(tag), &text, false).await,
            Err(e) => private(format!("🚫 {e}")),
        },
        None => {
            let s = &ctx.engine.settings;
            let page = page_state(ctx)?;
            let intent = intent(Request::Reply, &text);
            let policy = Context {
                rules: s.rules,
                page: &page,
                lexicon: &s.lexicon,
            };
            let tags = allowed_tags(&thread.state, &intent, ctx.now, &policy);
            let window =
                messenger::window::Window::at(&thread.state, ctx.now, s.rules, s.human_agent);
            if window.is_standard() {
                return private(
                    "🚫 No tag needed: the 24-hour window is open. Reply normally with /reply.",
                );
            }
            if tags.is_empty() {
                return private(format!(
                    "🚫 No tag the {} rules allow applies to this conversation now ({window}). \
                     Park the reply for when the customer writes.",
                    s.rules.era
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
                s.rules.era
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
            "🚫 Too long for one Messenger message: {} characters; the limit is 1999. \
             Shorten it, or split it into several messages.",
            text.chars().count()
        ),
    }
}

/// A reply to `psid`: checked, then sent as the windows allow.
pub async fn reply_text(
    ctx: &Ctx<'_>,
    psid: &str,
    text: &str,
    split: bool,
) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    if let Some(done) = store.message_by_interaction(&ctx.inv.id)? {
        return Ok(outcome(ctx, &done));
    }
    if let Some(done) = store.message_by_interaction(&part_id(&ctx.inv.id, 1))? {
        return Ok(outcome(ctx, &done));
    }
    let Some(thread) = store.thread(psid)? else {
        return private("That customer has no conversation.");
    };
    let text = text.trim();
    match MessageText::parse(text) {
        Ok(_) => decide_and_send(ctx, &thread, Request::Reply, text, false).await,
        Err(TextError::Empty) => private("Nothing to send."),
        Err(_) if split => send_split(ctx, &thread, text).await,
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
/// part would count as a tagged message in a row.
async fn send_split(ctx: &Ctx<'_>, thread: &Thread, text: &str) -> Result<Response, StoreError> {
    let s = &ctx.engine.settings;
    let window = messenger::window::Window::at(&thread.state, ctx.now, s.rules, s.human_agent);
    if !window.is_standard() {
        return private(format!(
            "🚫 Not split: outside the 24-hour window ({window}) each part would count as \
             another tagged message in a row. Shorten it to one message under 2000 characters."
        ));
    }
    let parts = MessageText::split(text).unwrap_or_default();
    let n = parts.len();
    let mut outcomes = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let id = part_id(&ctx.inv.id, i + 1);
        let send = Send {
            messaging_type: messenger::wire::MessagingType::Response,
            tag: None,
            window,
            warnings: Vec::new(),
        };
        let m = dispatch(ctx, thread, part.as_str(), &send, &id).await?;
        outcomes.push(m.state);
    }
    let sent = outcomes.iter().filter(|s| *s == "sent").count();
    private(format!(
        "✅ Split into {n} messages; {sent} of {n} sent as RESPONSE, in order."
    ))
}

fn intent(request: Request, text: &str) -> Intent<'_> {
    Intent {
        sender: Sender::Human,
        request,
        text,
        template: false,
    }
}

/// The page as the policy sees it now.
pub fn page_state(ctx: &Ctx<'_>) -> Result<PageState, StoreError> {
    let page = ctx.engine.store.page()?;
    Ok(PageState {
        human_agent: ctx.engine.settings.human_agent,
        news_page: false,
        restriction: page.enforcement.active(ctx.now).cloned(),
    })
}

/// What the policy decides for `request` in `thread` now.
pub fn decision(
    ctx: &Ctx<'_>,
    thread: &Thread,
    request: Request,
    text: &str,
) -> Result<Decision, StoreError> {
    let s = &ctx.engine.settings;
    let page = page_state(ctx)?;
    let policy = Context {
        rules: s.rules,
        page: &page,
        lexicon: &s.lexicon,
    };
    Ok(decide(
        &thread.state,
        &intent(request, text),
        ctx.now,
        &policy,
    ))
}

async fn decide_and_send(
    ctx: &Ctx<'_>,
    thread: &Thread,
    request: Request,
    text: &str,
    confirmed: bool,
) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    if let Some(done) = store.message_by_interaction(&ctx.inv.id)? {
        return Ok(outcome(ctx, &done));
    }
    match decision(ctx, thread, request, text)? {
        Decision::Send(send) => {
            let second = send.warnings.contains(&Warning::SecondConsecutiveTag);
            if second && !confirmed {
                save_draft(ctx, &thread.psid, text, send.tag)?;
                let msg = Msg::private(format!(
                    "⚠️ This would be the second tagged message in a row with no answer from \
                     the customer: combine it with the previous one into one message if you \
                     can. A third in a row is refused, and Meta may restrict the page.\n\
                     It would go as {}.",
                    describe(&send)
                ))
                .row(vec![
                    button(&format!("confirm:{}", ctx.inv.id), "Send anyway", 4),
                    button(&format!("park:{}", ctx.inv.id), "Park it", 2),
                ]);
                return Ok(Response::Message(msg));
            }
            let m = dispatch(ctx, thread, text, &send, &ctx.inv.id).await?;
            let mut answer = outcome(ctx, &m);
            if let (Response::Message(msg), Some(hint)) = (&mut answer, hint(&send)) {
                msg.content.push_str(&format!("\nℹ️ {hint}"));
            }
            Ok(answer)
        }
        Decision::Refused(refusal) => {
            let record = record(ctx, thread, text, "refused", &ctx.inv.id);
            let record = MessageRecord {
                decision: Some(refusal.to_string()),
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
            }
            Ok(Response::Message(msg))
        }
    }
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
        standby: false,
        app_id: None,
        interaction_id: Some(interaction_id.to_owned()),
    }
}

/// Records the send, queues it durably, and makes the first attempt at once.
async fn dispatch(
    ctx: &Ctx<'_>,
    thread: &Thread,
    text: &str,
    send: &Send,
    interaction_id: &str,
) -> Result<MessageRecord, StoreError> {
    let engine = ctx.engine;
    let store = &engine.store;
    let mut m = record(ctx, thread, text, "queued", interaction_id);
    m.messaging_type = Some(send.messaging_type.as_str().into());
    m.tag = send.tag.map(|t| t.as_str().to_owned());
    m.decision = Some(format!("allowed as {}", describe(send)));
    store.commit(&Changes {
        messages: vec![m],
        // Replying claims an unclaimed conversation.
        patches: vec![ThreadPatch::Claim {
            psid: thread.psid.clone(),
            by: Some(ctx.inv.agent.id),
            if_unclaimed: true,
        }],
        work: vec![NewWork {
            key: None,
            work: Work::GraphSend {
                psid: thread.psid.clone(),
                interaction_id: interaction_id.to_owned(),
            },
            due: ctx.now + FIRST_RETRY,
        }],
        ..Changes::default()
    })?;
    let attempt = sends::perform(
        &**store,
        &*engine.graph,
        &engine.settings,
        interaction_id,
        0,
        ctx.now,
        sends::Performer::Agent,
    );
    match tokio::time::timeout(INTERACTIVE_BUDGET, attempt).await {
        Ok(attempt) => {
            if let Attempt::Done(changes) = attempt? {
                store.commit(&changes)?;
            }
        }
        // Meta is slow: the request may still go through, so the outbox waits for
        // its echo before trying again.
        Err(_) => store.commit(&Changes {
            message_updates: vec![MessageUpdate {
                interaction_id: interaction_id.to_owned(),
                state: "retrying".into(),
                error: Some("Meta is slow to answer".into()),
                if_state: Some("sending".into()),
                ..MessageUpdate::default()
            }],
            ..Changes::default()
        })?,
    }
    Ok(store
        .message_by_interaction(interaction_id)?
        .expect("committed above"))
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

/// "Park it": the reply goes out as RESPONSE when the customer next writes.
pub fn park(ctx: &Ctx<'_>, draft: &str) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    if let Some(done) = store.message_by_interaction(&ctx.inv.id)? {
        return Ok(outcome(ctx, &done));
    }
    let Some((draft, thread)) = load_draft(ctx, draft)? else {
        return private(EXPIRED);
    };
    let mut m = record(ctx, &thread, &draft.text, "parked", &ctx.inv.id);
    m.decision = Some("parked until the customer writes".into());
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
    let m2 = m.clone();
    store.commit(&Changes {
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
    })?;
    Ok(outcome(ctx, &m2))
}

/// "Send anyway" on a second consecutive tag.
pub async fn confirm(ctx: &Ctx<'_>, draft: &str) -> Result<Response, StoreError> {
    let Some((draft, thread)) = load_draft(ctx, draft)? else {
        return private(EXPIRED);
    };
    let request = match draft.tag.as_deref().and_then(|t| t.parse::<Tag>().ok()) {
        Some(Tag::HumanAgent) | None => Request::Reply,
        Some(t) => Request::Tag(t),
    };
    decide_and_send(ctx, &thread, request, &draft.text, true).await
}

/// "Split and send" on a long reply.
pub async fn split(ctx: &Ctx<'_>, draft: &str) -> Result<Response, StoreError> {
    let Some((draft, thread)) = load_draft(ctx, draft)? else {
        return private(EXPIRED);
    };
    reply_text(ctx, &thread.psid, &draft.text, true).await
}

/// A tag chosen from the menu.
pub async fn tag_picked(
    ctx: &Ctx<'_>,
    draft: &str,
    tag: Option<&str>,
) -> Result<Response, StoreError> {
    let Some((draft, thread)) = load_draft(ctx, draft)? else {
        return private(EXPIRED);
    };
    match tag.map(str::parse::<Tag>) {
        Some(Ok(tag)) => decide_and_send(ctx, &thread, Request::Tag(tag), &draft.text, false).await,
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
        "queued" | "retrying" | "sending" => format!(
            "⏳ Not sent yet: {}. tagdesk keeps trying and will post the outcome in the thread.",
            m.error.as_deref().unwrap_or("waiting for Meta")
        ),
        "refused" => format!("🚫 Not sent: {}.", m.decision.as_deref().unwrap_or("refused")),
        "parked" => "🅿️ Parked: it goes out as RESPONSE when the customer next writes, and the thread will say so.".into(),
        other => format!("Its state: {other}."),
    };
    Response::Message(Msg::private(text))
}
