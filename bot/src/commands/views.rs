//! `/inbox`, `/thread`, `/status`, `/audit`, and autocomplete: what the team looks at.

use jiff::Timestamp;
use messenger::policy::Decision;
use messenger::timefmt::human;
use messenger::window::Window;
use messenger::Request;

use super::response::button;
use super::send::decision;
use super::{Ctx, Msg, Response};
use crate::discord::Embed;
use crate::mirror::label;
use crate::mirror::posts::colour;
use crate::outbox::sends::how;
use crate::store::{Direction, StoreError, Thread};

/// Rows per inbox page.
pub const PAGE_SIZE: usize = 10;

/// The inbox filters.
pub const FILTERS: [&str; 6] = [
    "all",
    "mine",
    "unclaimed",
    "expiring",
    "needs-tag",
    "expired",
];

/// Whether the customer is waiting for the team: they acted after the page's last
/// reply (from tagdesk or, seen as an echo, from any other sender).
pub fn awaiting_answer(t: &Thread) -> bool {
    match (t.state.last_opened, t.last_team_reply) {
        (Some(acted), Some(replied)) => acted > replied,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Sorting key: conversations waiting for an answer first; within each group the
/// standard window closing soonest, then human-agent windows, then expired
/// conversations (most recently expired first).
fn urgency(t: &Thread, w: &Window) -> (bool, u8, i64) {
    let (kind, at) = match w {
        Window::Standard { closes_at, .. } => (0, closes_at.as_second()),
        Window::HumanAgent { closes_at, .. } => (1, closes_at.as_second()),
        Window::Expired { since } => (2, -since.map_or(0, |s| s.as_second())),
    };
    (!awaiting_answer(t), kind, at)
}

/// How many conversations triage reads from the store at a time.
const SCAN_BATCH: usize = 500;

/// One conversation's place in the triage: what sorts and shows it, not the whole
/// thread (a page's threads are read again to show them), so an inbox over 100,000
/// conversations holds a few dozen bytes for each.
#[derive(Debug, Clone, PartialEq)]
pub struct Triaged {
    /// The customer.
    pub psid: String,
    /// Their window now.
    pub window: Window,
    key: (bool, u8, i64),
}

/// The open conversations matching `filter`, most urgent first, with their windows.
pub fn triage(ctx: &Ctx<'_>, filter: &str) -> Result<Vec<Triaged>, StoreError> {
    let s = &ctx.engine.settings;
    let me = ctx.inv.agent.id;
    let rules = s.rules_at(ctx.now);
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = ctx
            .engine
            .store
            .threads_after(after.as_deref(), SCAN_BATCH)?;
        let full = batch.len() == SCAN_BATCH;
        after = batch.last().map(|t| t.psid.clone());
        for t in batch {
            if t.closed || t.state.last_opened.is_none() {
                continue;
            }
            let w = Window::at(&t.state, ctx.now, rules, s.human_agent);
            let wanted = match filter {
                "mine" => t.claimed_by == Some(me),
                "unclaimed" => t.claimed_by.is_none(),
                "expiring" => match w {
                    Window::Standard { left, .. } | Window::HumanAgent { left, .. } => {
                        left <= s.alert_before
                    }
                    Window::Expired { .. } => false,
                },
                "needs-tag" => matches!(w, Window::HumanAgent { .. }),
                "expired" => matches!(w, Window::Expired { .. }),
                _ => true,
            };
            if wanted {
                rows.push(Triaged {
                    key: urgency(&t, &w),
                    psid: t.psid,
                    window: w,
                });
            }
        }
        if !full {
            break;
        }
    }
    rows.sort_by(|a, b| (a.key, &a.psid).cmp(&(b.key, &b.psid)));
    Ok(rows)
}

/// `/inbox [filter]`, one page.
pub fn inbox(
    ctx: &Ctx<'_>,
    filter: &str,
    page: usize,
    update: bool,
) -> Result<Response, StoreError> {
    let filter = if FILTERS.contains(&filter) {
        filter
    } else {
        "all"
    };
    let rows = triage(ctx, filter)?;
    let pages = rows.len().div_ceil(PAGE_SIZE).max(1);
    let page = page.min(pages - 1);
    let restricted = ctx
        .engine
        .store
        .page()?
        .enforcement
        .active(ctx.now)
        .is_some();
    let mut lines = Vec::new();
    let mut waiting = Vec::new();
    for row in rows.iter().skip(page * PAGE_SIZE).take(PAGE_SIZE) {
        let (Some(t), w) = (ctx.engine.store.thread(&row.psid)?, &row.window) else {
            continue;
        };
        let name = name_of(ctx, &t.psid)?;
        let place = match t.discord_thread {
            Some(id) => format!(" <#{id}>"),
            None => {
                waiting.push(button(
                    &format!("front:{}", t.psid),
                    &format!("⏩ {name}"),
                    2,
                ));
                " · ⏳ not in Discord yet".to_owned()
            }
        };
        let claimed = t
            .claimed_by
            .map_or_else(|| "unclaimed".to_owned(), |id| format!("<@{id}>"));
        let last = t
            .last_text
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect::<String>();
        lines.push(format!(
            "{} **{name}**{place} · {claimed}\n  “{last}”",
            label::precise(w, restricted)
        ));
    }
    let description = if lines.is_empty() {
        "Nothing here. 🎉".to_owned()
    } else {
        lines.join("\n")
    };
    let embed = Embed {
        title: Some(format!(
            "Inbox · {filter} · {} conversations · page {}/{pages}",
            rows.len(),
            page + 1
        )),
        description,
        color: colour::TEAM,
        ..Embed::default()
    };
    let mut buttons = Vec::new();
    if page > 0 {
        buttons.push(button(
            &format!("inbox:{filter}:{}", page - 1),
            "◀ Previous",
            2,
        ));
    }
    if page + 1 < pages {
        buttons.push(button(&format!("inbox:{filter}:{}", page + 1), "Next ▶", 2));
    }
    // Discord allows five buttons to a row: a page's conversations not yet in
    // Discord get up to two rows of "move to the front" buttons.
    let mut msg = Msg {
        embeds: vec![embed],
        ephemeral: true,
        ..Msg::default()
    };
    for row in waiting.chunks(5) {
        msg = msg.row(row.to_vec());
    }
    let msg = msg.row(buttons);
    Ok(if update {
        Response::Update(msg)
    } else {
        Response::Message(msg)
    })
}

/// The "⏩" button on `/inbox`: a conversation not yet in Discord goes ahead of the
/// queue (after the page's own alerts), so the agent who asked sees it next.
pub fn to_front(ctx: &Ctx<'_>, psid: &str) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    let Some(thread) = store.thread(psid)? else {
        return Ok(Response::Message(Msg::private("No such conversation.")));
    };
    let name = name_of(ctx, psid)?;
    let text = if let Some(id) = thread.discord_thread {
        format!("**{name}** is already in Discord: <#{id}>")
    } else if store.work_to_front(psid)? > 0 {
        tracing::info!(
            psid,
            agent = ctx.inv.agent.id,
            "conversation moved to the front"
        );
        format!("⏩ **{name}** goes to Discord next; its thread will open here shortly.")
    } else {
        format!("**{name}** has nothing waiting to go to Discord.")
    };
    Ok(Response::Message(Msg::private(text)))
}

fn name_of(ctx: &Ctx<'_>, psid: &str) -> Result<String, StoreError> {
    Ok(ctx
        .engine
        .store
        .customer(psid)?
        .map(|c| c.display_name())
        .unwrap_or_else(|| psid.to_owned()))
}

fn when(t: Timestamp) -> String {
    t.strftime("%a %d %b %H:%M").to_string()
}

/// `/thread [customer]`: the transcript, the window, and what a reply would go as now.
pub fn thread(ctx: &Ctx<'_>, customer: Option<&str>) -> Result<Response, StoreError> {
    let Some(thread) = ctx.thread(customer)? else {
        return Ok(Response::Message(Msg::private(
            "Use this inside a customer's thread, or pick the customer.",
        )));
    };
    let s = &ctx.engine.settings;
    let name = name_of(ctx, &thread.psid)?;
    let messages = ctx.engine.store.messages(&thread.psid)?;
    let mut lines: Vec<String> = Vec::new();
    for m in messages.iter().rev().take(15).rev() {
        let who = match m.direction {
            Direction::In => name.clone(),
            Direction::Out => format!(
                "{} ({}, {})",
                m.agent.as_deref().unwrap_or("team"),
                how(m),
                m.state
            ),
            Direction::Echo => "page, outside tagdesk".into(),
        };
        lines.push(format!(
            "`{}` **{who}**: {}",
            when(m.at),
            m.text.chars().take(200).collect::<String>()
        ));
    }
    let window = Window::at(&thread.state, ctx.now, s.rules_at(ctx.now), s.human_agent);
    let now_as = match decision(
        ctx,
        &thread,
        crate::store::Asked::Reply {
            confirmed_second: false,
        },
        "",
    )? {
        Decision::Send(send) => match send.tag {
            Some(t) => format!("A reply now goes as MESSAGE_TAG {}.", t.as_str()),
            None => format!("A reply now goes as {}.", send.messaging_type.as_str()),
        },
        Decision::Refused(r) => format!("A reply now would be refused: {}.", r.reason),
    };
    let claimed = thread.claimed_by.map_or_else(
        || "unclaimed".to_owned(),
        |id| format!("claimed by <@{id}>"),
    );
    let embed = Embed {
        title: Some(format!("{name} · {window}")),
        description: if lines.is_empty() {
            "No messages.".into()
        } else {
            lines.join("\n")
        },
        footer: Some(format!("{now_as} · {claimed}")),
        color: colour::TEAM,
        ..Embed::default()
    };
    let msg = Msg {
        embeds: vec![embed],
        ephemeral: true,
        ..Msg::default()
    }
    .row(vec![button(&format!("reply:{}", thread.psid), "Reply", 1)]);
    Ok(Response::Message(msg))
}

/// `/status`: the page's standing with Meta.
pub fn status(ctx: &Ctx<'_>) -> Result<Response, StoreError> {
    let s = &ctx.engine.settings;
    let page = ctx.engine.store.page()?;
    let e = &page.enforcement;
    let now_line = match e.active(ctx.now) {
        Some(r) => format!(
            "⛔ **Restricted** ({}) {}: {}\nTagged messages (HUMAN_AGENT included) are refused; replies inside the 24-hour window still work.",
            r.level,
            r.until.map_or_else(|| "for good".to_owned(), |u| format!("until {} (in {})", when(u), human(u.duration_since(ctx.now)))),
            r.reason
        ),
        None => "✅ No restriction in force.".to_owned(),
    };
    let rung = e.rung().map_or_else(
        || "none yet".to_owned(),
        |l| format!("{l} (next: {})", l.next()),
    );
    let history = if e.history.is_empty() {
        "none".to_owned()
    } else {
        e.history
            .iter()
            .map(|r| format!("• {} from {}: {}", r.level, when(r.since), r.reason))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let problems: String = ctx
        .engine
        .store
        .problems()?
        .iter()
        .map(|(text, since)| format!("\n⚠️ **Needs a fix** (since {}): {text}", when(*since)))
        .collect();
    let text = format!(
        "{now_line}{problems}\n**Ladder:** 1d → 3d → 7d → 365d → permanent; highest rung reached: {rung}\n\
         **Warnings:** {}\n**History:**\n{history}\n**Rules:** {} · Human Agent feature: {}",
        e.warnings,
        s.rules_at(ctx.now).era,
        if s.human_agent { "yes" } else { "no" }
    );
    Ok(Response::Message(Msg::private(text)))
}

/// `/audit [customer]`: who sent what, as what, and what the guard decided.
pub fn audit(ctx: &Ctx<'_>, customer: Option<&str>) -> Result<Response, StoreError> {
    let psid = match customer {
        Some(c) => Some(c.to_owned()),
        None => ctx.thread(None)?.map(|t| t.psid),
    };
    let rows = ctx.engine.store.audit(psid.as_deref(), 20)?;
    let mut lines = Vec::new();
    for m in rows {
        let who = match m.direction {
            Direction::Echo => format!(
                "page outside tagdesk{}",
                m.app_id.map(|a| format!(" (app {a})")).unwrap_or_default()
            ),
            _ => m.agent.clone().unwrap_or_else(|| "team".into()),
        };
        let to = name_of(ctx, &m.psid)?;
        let guard = m.decision.as_deref().unwrap_or("-");
        let error = m
            .error
            .as_deref()
            .map(|e| format!(" · {e}"))
            .unwrap_or_default();
        lines.push(format!(
            "`{}` **{who}** → {to}: {} · **{}** · guard: {guard}{error}\n  “{}”",
            when(m.at),
            how(&m),
            m.state,
            m.text.chars().take(80).collect::<String>()
        ));
    }
    let text = if lines.is_empty() {
        "Nothing sent yet.".to_owned()
    } else {
        lines.join("\n")
    };
    Ok(Response::Message(Msg::private(
        text.chars().take(1990).collect::<String>(),
    )))
}

/// Choices for the option being typed: customers or snippets.
pub fn autocomplete(
    ctx: &Ctx<'_>,
    _command: &str,
    focused: &str,
    typed: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let typed = typed.to_lowercase();
    let store = &ctx.engine.store;
    Ok(match focused {
        "customer" => {
            let s = &ctx.engine.settings;
            let restricted = store.page()?.enforcement.active(ctx.now).is_some();
            let mut out = Vec::new();
            for c in store.customers()? {
                let name = c.display_name();
                if !name.to_lowercase().contains(&typed) {
                    continue;
                }
                let shown = match store.thread(&c.psid)? {
                    Some(t) => format!(
                        "{name} · {}",
                        label::precise(
                            &Window::at(&t.state, ctx.now, s.rules_at(ctx.now), s.human_agent),
                            restricted
                        )
                    ),
                    None => name,
                };
                out.push((shown, c.psid));
                if out.len() == 25 {
                    break;
                }
            }
            out
        }
        "tag" => {
            let s = &ctx.engine.settings;
            let tags: Vec<(messenger::Tag, &str)> = match ctx.thread(None)? {
                Some(t) => {
                    let page = crate::commands::send::page_state(ctx)?;
                    let policy = messenger::policy::Context {
                        rules: s.rules_at(ctx.now),
                        page: &page,
                        lexicon: &s.lexicon,
                    };
                    let intent = messenger::Intent {
                        sender: messenger::Sender::Human,
                        request: Request::Reply,
                        text: "",
                        template: false,
                    };
                    messenger::policy::allowed_tags(&t.state, &intent, ctx.now, &policy)
                }
                None => s
                    .rules_at(ctx.now)
                    .tags
                    .iter()
                    .map(|r| (r.tag, r.purpose))
                    .collect(),
            };
            tags.into_iter()
                .filter(|(t, _)| t.as_str().to_lowercase().contains(&typed))
                .map(|(t, purpose)| (format!("{} · {purpose}", t.as_str()), t.as_str().to_owned()))
                .collect()
        }
        "snippet" | "name" => store
            .snippets()?
            .into_iter()
            .filter(|s| s.name.to_lowercase().contains(&typed))
            .map(|s| {
                (
                    format!(
                        "/{} · {}",
                        s.name,
                        s.text.chars().take(60).collect::<String>()
                    ),
                    s.name,
                )
            })
            .collect(),
        _ => Vec::new(),
    })
}
