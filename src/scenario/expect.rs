//! Checking a step's expectations against the world.

use std::collections::{HashMap, HashSet};

use bot::commands::{views, Action, Agent, Ctx, Invocation};
use bot::mirror::posts::colour;
use jiff::SignedDuration;
use messenger::restriction::Enforcement;
use messenger::timefmt::parse_duration;
use messenger::window::Window;
use mock_graph::platform::{Outcome, RequestRecord, SentRecord};
use serde_json::Value;

use super::world::{PageWorld, World, ALERT_CHANNEL, CHANNEL, PAGE_CHANNEL_STEP};
use scenario_format::format::Expect;

/// One expectation that didn't hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// The field.
    pub field: &'static str,
    /// What the scenario expected.
    pub expected: String,
    /// What happened.
    pub actual: String,
}

/// The answer tagdesk gives when a command fails inside (the store, a bug):
/// `commands::handle`'s apology.
const INTERNAL_ERROR: &str = "⚠️ tagdesk couldn't do that";

/// How an answer to an agent reads, one word per kind of answer, from the leading emoji
/// and wording `bot/src/commands` gives each: `sent` (✅), `partial` ("1 of 2 sent":
/// some parts went, whatever the emoji), `refused` (🚫), `warned` (⚠️, a second
/// tagged message to confirm), `error` (⚠️ tagdesk couldn't do that), `parked` (🅿️),
/// `failed` (❌ Meta refused), `pending` (⏳), `denied` (🔒), and `done` for anything
/// else (a view, a confirmation in words).
pub fn outcome_of(answer: &Value) -> &'static str {
    let content = answer["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .trim();
    if content.starts_with(INTERNAL_ERROR) {
        return "error";
    }
    if partly_sent(content) {
        return "partial";
    }
    match content.chars().next() {
        // ✅ also marks answers that send nothing ("No restriction in force", a
        // conversation closed): only one that says it sent is a send.
        Some('✅') if says_sent(content) => "sent",
        Some('🚫') => "refused",
        Some('⚠') => "warned",
        Some('🅿') => "parked",
        Some('❌') => "failed",
        Some('⏳') => "pending",
        Some('🔒') => "denied",
        _ => "done",
    }
}

/// Whether an answer says something was sent ("Sent as RESPONSE", "all 3 sent").
fn says_sent(content: &str) -> bool {
    content
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case("sent"))
}

/// Whether an answer says "N of M sent" with N short of M but not nothing: a split
/// reply only partly sent.
fn partly_sent(content: &str) -> bool {
    let words: Vec<&str> = content
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(4).any(|w| {
        let (n, of, m, sent) = (w[0].parse::<u32>(), w[1], w[2].parse::<u32>(), w[3]);
        matches!((n, m), (Ok(n), Ok(m)) if of == "of" && sent.starts_with("sent") && 0 < n && n < m)
    })
}

/// The text of an answer: content and embed descriptions.
pub fn answer_text(answer: &Value) -> String {
    let mut t = answer["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for e in answer["data"]["embeds"].as_array().into_iter().flatten() {
        t.push('\n');
        t.push_str(e["description"].as_str().unwrap_or_default());
    }
    t
}

/// What a step did, for the expectations that read it rather than the world.
#[derive(Debug, Clone, Copy, Default)]
pub struct Effects<'a> {
    /// The answer to the step's agent; `None` when the step isn't an agent's, or when
    /// their press found no button (a failure of its own, so nothing to check).
    pub answer: Option<&'a Value>,
    /// The Send API calls the step caused: its group's, from the group's start until it
    /// settled, less the calls another agent's action in the group made.
    pub calls: &'a [SentRecord],
}

/// Checks `x` after a step about `customer` on page `page` (its index in
/// [`World::pages`]) that had `effects`. What an expectation says about the page (Meta's
/// record and the bot's, sends, alerts, the inbox) is about that page; `nothing_lost`,
/// `answers_true` and `replies_kept` are about every page.
pub fn check(
    w: &World,
    x: &Expect,
    customer: Option<&str>,
    page: usize,
    effects: Effects<'_>,
) -> anyhow::Result<Vec<Miss>> {
    let on = &w.pages[page];
    let mut misses = Vec::new();
    let mut cmp = |field: &'static str, expected: &str, actual: String| {
        if expected != actual {
            misses.push(Miss {
                field,
                expected: expected.to_owned(),
                actual,
            });
        }
    };
    if let Some(answer) = effects.answer {
        if let Some(o) = &x.outcome {
            cmp("outcome", o, outcome_of(answer).to_owned());
        }
        if let Some(s) = &x.says {
            let text = answer_text(answer);
            if !text.contains(s.as_str()) {
                cmp("says", &format!("…{s}…"), text);
            }
        }
    }
    let calls: Vec<Value> = effects
        .calls
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    if let Some(m) = &x.messaging_type {
        cmp("messaging_type", m, every_call(&calls, messaging_type));
    }
    if let Some(t) = &x.tag {
        cmp("tag", t, every_call(&calls, tag));
    }
    if let Some(e) = &x.meta_error {
        cmp("meta_error", e, every_call(&calls, meta_error));
    }
    let record = PageRecord::of(on);
    if let Some(r) = &x.restriction {
        let actual = record
            .restriction
            .as_ref()
            .map_or("none".into(), |(l, _)| l.clone());
        cmp("restriction", r, actual);
    }
    if let Some(d) = &x.restriction_ends {
        let start = on.mock.lock().settings.start;
        let expected = parse_duration(d)
            .map(|d| (start + d).to_string())
            .unwrap_or_default();
        let actual = record
            .restriction
            .as_ref()
            .and_then(|(_, u)| *u)
            .map_or("none".into(), |u| u.to_string());
        cmp("restriction_ends", &expected, actual);
    }
    if let Some(r) = &x.worst_restriction {
        cmp("worst_restriction", r, record.worst.clone());
    }
    if let Some(n) = x.warnings {
        cmp("warnings", &n.to_string(), record.warnings.to_string());
    }
    if let Some(r) = &x.bot_restriction {
        let page = on.engine.store.page()?;
        let actual = page
            .enforcement
            .active(w.now())
            .map_or("none".into(), |r| r.level.to_string());
        cmp("bot_restriction", r, actual);
    }
    if let Some(n) = x.sends {
        cmp("sends", &n.to_string(), record.sends.to_string());
    }
    if let Some(n) = x.duplicates {
        let (count, which) = {
            let p = on.mock.lock();
            duplicates(&p.sent, p.settings.app_id)
        };
        let actual = match which.first() {
            Some(first) if count > 0 => format!("{count} ({first})"),
            _ => count.to_string(),
        };
        if n != count {
            cmp("duplicates", &n.to_string(), actual);
        }
    }
    if let Some(n) = x.threads {
        cmp(
            "threads",
            &n.to_string(),
            w.discord.threads().len().to_string(),
        );
    }
    if let Some(n) = x.alerts {
        let step = PAGE_CHANNEL_STEP * page as u64;
        let alerts: usize = [CHANNEL + step, ALERT_CHANNEL + step]
            .into_iter()
            .flat_map(|c| w.discord.messages_in(c))
            .map(|m| {
                m.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.starts_with('⏰'))
                    .count()
            })
            .sum();
        cmp("alerts", &n.to_string(), alerts.to_string());
    }
    if let Some(n) = x.parked {
        let mut parked = 0;
        for psid in w.psids.values() {
            parked += on.engine.store.parked(psid)?.len();
        }
        cmp("parked", &n.to_string(), parked.to_string());
    }
    let psid = customer.and_then(|c| w.psids.get(c));
    let thread = match psid {
        Some(p) => on.engine.store.thread(p)?,
        None => None,
    };
    let discord_thread = thread.as_ref().and_then(|t| t.discord_thread);
    if let Some(win) = &x.window {
        let s = &on.engine.settings;
        let actual = match thread
            .as_ref()
            .map(|t| Window::at(&t.state, w.now(), s.rules_at(w.now()), s.human_agent))
        {
            Some(Window::Standard { .. }) => "standard",
            Some(Window::HumanAgent { .. }) => "human_agent",
            Some(Window::Expired { .. }) | None => "expired",
        };
        cmp("window", win, actual.into());
    }
    if let Some(l) = &x.label {
        let name = discord_thread
            .and_then(|id| w.discord.thread(id))
            .map(|t| t.name)
            .unwrap_or_else(|| "(no thread)".into());
        if !name.starts_with(l.as_str()) {
            cmp("label", &format!("{l}…"), name);
        }
    }
    if let Some(n) = x.thread_posts {
        let actual = discord_thread.map_or(0, |id| {
            w.discord
                .messages()
                .iter()
                .filter(|m| m.channel == id || m.id == id)
                .count()
        });
        cmp("thread_posts", &n.to_string(), actual.to_string());
    }
    if let Some(first) = &x.inbox_first {
        cmp("inbox_first", first, inbox_first(w, page)?);
    }
    if x.answers_true == Some(true) {
        let posted = |psid: &str, text: &str| thread_shows(w, psid, text);
        let stores: Vec<&dyn bot::store::Store> =
            w.pages.iter().map(|p| p.engine.store.as_ref()).collect();
        let untrue = w.ledger().first_untrue(&stores, &posted)?;
        cmp(
            "answers_true",
            "every answer true",
            untrue.unwrap_or_else(|| "every answer true".into()),
        );
    }
    if x.replies_kept == Some(true) {
        let broken = w.with_sent(|sent, app_id| w.ledger().first_broken(sent, app_id));
        cmp(
            "replies_kept",
            "every reply once, in order",
            broken.unwrap_or_else(|| "every reply once, in order".into()),
        );
    }
    if x.record_agrees == Some(true) {
        let ours = on.engine.store.page()?.enforcement;
        let differs = record_differs(on, &ours);
        cmp(
            "record_agrees",
            "the bot's record is Meta's",
            differs.unwrap_or_else(|| "the bot's record is Meta's".into()),
        );
    }
    if x.nothing_lost == Some(true) {
        cmp(
            "nothing_lost",
            "0 lost, 0 twice",
            nothing_lost(w)?.to_string(),
        );
    }
    Ok(misses)
}

/// How the bot's record of the page differs from Meta's, if it does: warnings, the
/// worst rung, and the restriction in force with its end. Where another app has sent,
/// Meta may have penalised the page for it without tagdesk hearing of it, so there the
/// bot may know less than Meta, never more.
fn record_differs(on: &PageWorld, ours: &Enforcement) -> Option<String> {
    let p = on.mock.lock();
    let now = p.now();
    let theirs = &p.enforcement;
    let others = p.sent.iter().any(|r| r.app_id != p.settings.app_id);
    let show = |e: &Enforcement| {
        let active = e.active(now).map_or("none".to_owned(), |r| {
            let until = r
                .until
                .map_or("for good".to_owned(), |u| format!("until {u}"));
            format!("{} {until}", r.level)
        });
        let rung = e.rung().map_or("none", |l| l.as_str());
        format!("{} warnings, worst {rung}, in force {active}", e.warnings)
    };
    let same = ours.warnings == theirs.warnings
        && ours.rung() == theirs.rung()
        && ours.active(now).map(|r| (r.level, r.until))
            == theirs.active(now).map(|r| (r.level, r.until));
    let knows_less = ours.warnings <= theirs.warnings
        && ours.rung() <= theirs.rung()
        && ours.active(now).is_none_or(|r| {
            theirs
                .active(now)
                .is_some_and(|t| (t.level, t.until) == (r.level, r.until))
        });
    if same || (others && knows_less) {
        None
    } else {
        Some(format!("bot: {}; Meta: {}", show(ours), show(theirs)))
    }
}

/// The customer's conversation, from whichever page's store has it (PSIDs are
/// page-scoped: one page knows each).
fn thread_of(w: &World, psid: &str) -> anyhow::Result<Option<bot::store::Thread>> {
    for page in &w.pages {
        if let Some(t) = page.engine.store.thread(psid)? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// Whether the customer's Discord thread shows `text` (in a post's content or embeds).
fn thread_shows(w: &World, psid: &str, text: &str) -> bool {
    let Ok(Some(thread)) = thread_of(w, psid) else {
        return false;
    };
    let Some(id) = thread.discord_thread else {
        return false;
    };
    w.discord
        .messages()
        .iter()
        .filter(|m| m.channel == id || m.id == id)
        .any(|m| has_text(&m.body, text))
}

/// Whether any string in `v` contains `text`.
fn has_text(v: &Value, text: &str) -> bool {
    match v {
        Value::String(s) => s.contains(text),
        Value::Array(a) => a.iter().any(|v| has_text(v, text)),
        Value::Object(o) => o.values().any(|v| has_text(v, text)),
        _ => false,
    }
}

/// Meta's record of the page and its sends, read under one lock.
struct PageRecord {
    /// The restriction in force: its level and end.
    restriction: Option<(String, Option<jiff::Timestamp>)>,
    /// The worst level ever imposed, or `none`.
    worst: String,
    warnings: u32,
    /// Send API calls accepted, in all.
    sends: usize,
}

impl PageRecord {
    fn of(on: &PageWorld) -> PageRecord {
        let p = on.mock.lock();
        PageRecord {
            restriction: p
                .restriction()
                .filter(|r| r.active_at(p.now()))
                .map(|r| (r.level.to_string(), r.until)),
            worst: p
                .enforcement
                .rung()
                .map_or("none".into(), |l| l.as_str().to_owned()),
            warnings: p.enforcement.warnings,
            sends: p
                .sent
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Sent(_)))
                .count(),
        }
    }
}

/// What the calls say in one field, when they all say the same; otherwise each
/// different value in order, comma-separated, which no expectation equals.
fn every_call(calls: &[Value], field: fn(&Value) -> String) -> String {
    if calls.is_empty() {
        return "no Send API call (this step caused none)".into();
    }
    let mut values: Vec<String> = Vec::new();
    for v in calls.iter().map(field) {
        if !values.contains(&v) {
            values.push(v);
        }
    }
    values.join(", ")
}

fn messaging_type(call: &Value) -> String {
    call["request"]["messaging_type"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

fn tag(call: &Value) -> String {
    call["request"]["tag"].as_str().unwrap_or("none").to_owned()
}

fn meta_error(call: &Value) -> String {
    let err = &call["error"];
    match (err["code"].as_u64(), err["error_subcode"].as_u64()) {
        (Some(c), Some(s)) => format!("{c}/{s}"),
        (Some(c), None) => c.to_string(),
        _ => "none".into(),
    }
}

/// How long apart two accepted calls without `metadata`, to one person with one text,
/// may be to count as one message sent twice.
pub const DUPLICATE_WITHIN: SignedDuration = SignedDuration::from_mins(10);

/// Copies Meta accepted of a message of app `app_id` it had already accepted, and a
/// description of each: an accepted call with the same `metadata` (tagdesk's send,
/// naming its interaction) as an earlier accepted call, or, for calls without
/// metadata, the same recipient and text as an accepted call at most
/// [`DUPLICATE_WITHIN`] before it. Other apps' sends aren't tagdesk's and don't count.
pub fn duplicates(sent: &[SentRecord], app_id: u64) -> (usize, Vec<String>) {
    let mut by_metadata: HashSet<&str> = HashSet::new();
    let mut by_text: HashMap<(&str, &str), jiff::Timestamp> = HashMap::new();
    let mut copies = Vec::new();
    for r in sent {
        let (Outcome::Sent(_), RequestRecord::Parsed(req)) = (&r.outcome, &r.request) else {
            continue;
        };
        let Some(message) = req.message.as_ref().filter(|_| r.app_id == app_id) else {
            continue;
        };
        let text = message.text.as_deref().unwrap_or_default();
        let copy = match &message.metadata {
            Some(m) => !by_metadata.insert(m.as_str()),
            None => {
                let key = (req.recipient.id.as_deref().unwrap_or_default(), text);
                let earlier = by_text.insert(key, r.at);
                earlier.is_some_and(|e| r.at.duration_since(e) <= DUPLICATE_WITHIN)
            }
        };
        if copy {
            let short: String = text.chars().take(40).collect();
            copies.push(format!(
                "“{short}” again at {}",
                r.at.strftime("%a %H:%M:%S")
            ));
        }
    }
    (copies.len(), copies)
}

/// The customer at the top of page `page`'s `/inbox`, as the team sees it now.
fn inbox_first(w: &World, page: usize) -> anyhow::Result<String> {
    let inv = Invocation {
        id: "expect".into(),
        token: String::new(),
        agent: Agent {
            id: 0,
            name: "qa".into(),
            roles: vec![],
        },
        channel_id: None,
        action: Action::Ping,
    };
    let ctx = Ctx {
        engine: &w.pages[page].engine,
        inv: &inv,
        now: w.now(),
    };
    let rows = views::triage(&ctx, "all")?;
    Ok(rows
        .first()
        .and_then(|row| {
            w.psids
                .iter()
                .find(|(_, p)| **p == row.psid)
                .map(|(id, _)| id.clone())
        })
        .unwrap_or_else(|| "(empty)".into()))
}

/// Customer messages that aren't exactly once in the bot's store and exactly once in
/// Discord, each described.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Missing from the store or from Discord.
    pub lost: Vec<String>,
    /// There more than once.
    pub twice: Vec<String>,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} lost, {} twice", self.lost.len(), self.twice.len())?;
        let shown: Vec<&str> = self
            .lost
            .iter()
            .chain(&self.twice)
            .take(3)
            .map(String::as_str)
            .collect();
        if !shown.is_empty() {
            write!(f, ": {}", shown.join("; "))?;
        }
        Ok(())
    }
}

/// Checks every customer text message Meta holds, one by one: in the bot's store once
/// (by Meta's message id), and in Discord once (a customer entry in their thread with
/// its text and time), and no customer entry in Discord outside a conversation's
/// thread (a conversation opened twice). A message lost and another duplicated never
/// cancel out.
pub fn nothing_lost(w: &World) -> anyhow::Result<Tally> {
    let (posted, elsewhere) = customer_entries(w)?;
    let mut tally = Tally::default();
    for (customer, psid) in &w.psids {
        let on = w.page_of(Some(customer));
        let meta: Vec<(String, String, String)> = {
            let p = on.mock.lock();
            p.customer(psid)
                .map(|c| {
                    c.messages
                        .iter()
                        .filter(|m| m.from_customer)
                        .filter_map(|m| Some((m.mid.clone(), m.text.clone()?, m.at.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let stored: Vec<String> = on
            .engine
            .store
            .messages(psid)?
            .into_iter()
            .filter(|m| m.kind == "text" && m.direction == bot::store::Direction::In)
            .filter_map(|m| m.mid)
            .collect();
        for (mid, text, at) in meta {
            let short: String = text.chars().take(40).collect();
            let in_store = stored.iter().filter(|s| **s == mid).count();
            let key = (psid.clone(), shown(&text), at);
            let in_discord = posted.get(&key).copied().unwrap_or(0);
            for (place, n) in [("the store", in_store), ("Discord", in_discord)] {
                match n {
                    0 => tally.lost.push(format!("“{short}” not in {place}")),
                    1 => {}
                    n => tally.twice.push(format!("“{short}” {n} times in {place}")),
                }
            }
            // Shown, but in another page's channel: that page's team sees it, its own
            // team never does.
            if in_discord > 0 && elsewhere.contains(&key) {
                tally
                    .lost
                    .push(format!("“{short}” not in its page's channel"));
            }
        }
    }
    for ((psid, text, _), n) in &posted {
        if psid.is_empty() {
            let short: String = text.chars().take(40).collect();
            tally.twice.push(format!(
                "“{short}” {n} times in Discord outside its conversation's thread"
            ));
        }
    }
    Ok(tally)
}

/// A customer message's text as its Discord entry shows it.
fn shown(text: &str) -> String {
    if text.is_empty() {
        "*(no text)*".into()
    } else {
        text.chars().take(4096).collect()
    }
}

/// A customer entry in Discord: (PSID, text, time).
type Entry = (String, String, String);

/// Customer entries in Discord, counted by (PSID, text, time): a thread's posts and its
/// starter message in the channel both belong to the thread's customer; entries in a
/// post or thread no conversation owns are counted under an empty PSID. With them, the
/// entries shown under a channel other than their customer's page's (the channel the
/// world gave that page, whatever the bot was told).
fn customer_entries(w: &World) -> anyhow::Result<(HashMap<Entry, usize>, HashSet<Entry>)> {
    let mut psid_of: HashMap<u64, Option<String>> = HashMap::new();
    let mut counts = HashMap::new();
    let mut elsewhere = HashSet::new();
    // Each customer's page's channel: the world's, as it gave them out.
    let home: HashMap<&str, u64> = w
        .psids
        .iter()
        .map(|(c, p)| {
            let page = w.page_index(Some(c)) as u64;
            (p.as_str(), CHANNEL + PAGE_CHANNEL_STEP * page)
        })
        .collect();
    for m in w.discord.messages() {
        // The channel the entry is under: its thread's (or forum post's) parent.
        let under = w.discord.thread(m.channel).map_or(m.channel, |t| t.parent);
        let mut psid = None;
        for id in [m.channel, m.id] {
            if psid.is_none() {
                psid = match psid_of.get(&id) {
                    Some(p) => p.clone(),
                    None => {
                        let p = w.by_discord_thread(id)?.map(|(_, t)| t.psid);
                        psid_of.insert(id, p.clone());
                        p
                    }
                };
            }
        }
        // A customer entry no conversation owns (a second starter post in the channel,
        // a second forum post) is a message shown twice, however the owned one looks.
        let psid = psid.unwrap_or_default();
        for e in m.body["embeds"].as_array().into_iter().flatten() {
            let customers = e["color"] == colour::CUSTOMER
                && e["footer"]["text"]
                    .as_str()
                    .is_none_or(|f| f.starts_with("standby"));
            if !customers {
                continue;
            }
            let key = (
                psid.clone(),
                e["description"].as_str().unwrap_or_default().to_owned(),
                e["timestamp"].as_str().unwrap_or_default().to_owned(),
            );
            if home
                .get(psid.as_str())
                .is_some_and(|&channel| channel != under)
            {
                elsewhere.insert(key.clone());
            }
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    Ok((counts, elsewhere))
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger::wire::{MessagingType, SendRequest, SendResponse};
    use serde_json::json;

    fn answer(content: &str) -> Value {
        json!({"type": 4, "data": {"content": content}})
    }

    #[test]
    fn every_kind_of_answer_has_its_word() {
        let cases = [
            ("✅ Sent as HUMAN_AGENT.", "sent"),
            (
                "✅ Split into 2 messages; all 2 sent as RESPONSE, in order.",
                "sent",
            ),
            (
                "⏳ Split into 2 messages; 1 of 2 sent, the rest queued in order.",
                "partial",
            ),
            (
                "❌ Split into 3 messages; 2 of 3 sent, 1 not sent: see the thread.",
                "partial",
            ),
            (
                "❌ Split into 2 messages; 0 of 2 sent, 2 not sent.",
                "failed",
            ),
            ("🚫 Not sent: #3 in a row.", "refused"),
            (
                "⚠️ This would be the second tagged message in a row",
                "warned",
            ),
            ("⚠️ tagdesk couldn't do that: the store is locked", "error"),
            ("🅿️ Parked: it goes out as RESPONSE", "parked"),
            ("❌ Meta refused it: (#10) outside the window", "failed"),
            ("⏳ Not sent yet: Meta is slow to answer.", "pending"),
            ("🔒 Only members with the agent role can do that.", "denied"),
            ("Claimed.", "done"),
            ("✅ No restriction in force.", "done"),
            (
                "✅ ana closed this conversation. The customer's next message reopens it.",
                "done",
            ),
            (
                "✅ Split into 2 messages; all 2 sent as RESPONSE, in order.",
                "sent",
            ),
            (
                "✅ Sent: Meta's echo confirms it; the thread shows how it went.",
                "sent",
            ),
        ];
        for (content, word) in cases {
            assert_eq!(outcome_of(&answer(content)), word, "{content}");
        }
        let update = json!({"type": 7, "data": {"content": "✅ Sent as RESPONSE."}});
        assert_eq!(outcome_of(&update), "sent");
    }

    fn call(at: &str, app_id: u64, text: &str, metadata: Option<&str>, ok: bool) -> SentRecord {
        let mut request = SendRequest::text("123", MessagingType::Response, None, text.to_owned());
        if let Some(m) = request.message.as_mut() {
            m.metadata = metadata.map(str::to_owned);
        }
        let outcome = if ok {
            Outcome::Sent(SendResponse {
                recipient_id: "123".into(),
                message_id: Some("m_1".into()),
            })
        } else {
            Outcome::Error(
                messenger::meta_error::MetaError::Unexpected.to_graph_error("x".to_owned()),
            )
        };
        SentRecord {
            at: at.parse().unwrap(),
            app_id,
            request: RequestRecord::Parsed(request),
            outcome,
        }
    }

    #[test]
    fn duplicates_are_copies_of_one_send_accepted_again() {
        const US: u64 = 1;
        let sent = [
            call("2026-11-20T09:00:00Z", US, "Hi", Some("tagdesk:1"), true),
            // The same interaction's send, accepted again after a lost answer.
            call("2026-11-20T09:01:00Z", US, "Hi", Some("tagdesk:1"), true),
            // Refused calls aren't messages.
            call("2026-11-20T09:02:00Z", US, "Hi", Some("tagdesk:1"), false),
            // Another interaction with the same words is another message.
            call("2026-11-20T09:03:00Z", US, "Hi", Some("tagdesk:2"), true),
            // Without metadata: the same text to the same person within 10 minutes...
            call("2026-11-20T10:00:00Z", US, "Thanks", None, true),
            call("2026-11-20T10:10:00Z", US, "Thanks", None, true),
            // ...but not later than that, nor another app's.
            call("2026-11-20T11:00:00Z", US, "Thanks", None, true),
            call("2026-11-20T11:01:00Z", 2, "Thanks", None, true),
        ];
        let (n, which) = duplicates(&sent, US);
        assert_eq!(n, 2, "{which:?}");
        assert_eq!(which[0], "“Hi” again at Fri 09:01:00");
        assert_eq!(which[1], "“Thanks” again at Fri 10:10:00");
    }

    #[test]
    fn a_lost_and_a_doubled_message_never_cancel_out() {
        let tally = Tally {
            lost: vec!["“a” not in Discord".into()],
            twice: vec!["“b” 2 times in Discord".into()],
        };
        assert_eq!(
            tally.to_string(),
            "1 lost, 1 twice: “a” not in Discord; “b” 2 times in Discord"
        );
        assert_eq!(Tally::default().to_string(), "0 lost, 0 twice");
    }
}
