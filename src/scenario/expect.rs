//! Checking a step's expectations against the world.

use bot::commands::{views, Action, Agent, Ctx, Invocation};
use bot::mirror::posts::colour;
use messenger::timefmt::parse_duration;
use messenger::window::Window;
use mock_graph::platform::Outcome;
use serde_json::Value;

use super::world::{World, CHANNEL};
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

/// How an answer to an agent reads: `sent`, `refused`, ...
pub fn outcome_of(answer: &Value) -> &'static str {
    let content = answer["data"]["content"].as_str().unwrap_or_default();
    match content.chars().next() {
        Some('✅') => "sent",
        Some('🚫') => "refused",
        Some('⚠') => "warned",
        Some('🅿') => "parked",
        Some('❌') => "failed",
        Some('⏳') => "pending",
        Some('🔒') => "denied",
        _ => "done",
    }
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

/// Checks `x` after a step about `customer`, whose agent (if any) got `answer`.
pub fn check(
    w: &World,
    x: &Expect,
    customer: Option<&str>,
    answer: Option<&Value>,
) -> anyhow::Result<Vec<Miss>> {
    let mut misses = Vec::new();
    let mut cmp = |field: &'static str, expected: String, actual: String| {
        if expected != actual {
            misses.push(Miss {
                field,
                expected,
                actual,
            });
        }
    };
    let null = Value::Null;
    let answer = answer.unwrap_or(&null);
    if let Some(o) = &x.outcome {
        cmp("outcome", o.clone(), outcome_of(answer).to_owned());
    }
    if let Some(s) = &x.says {
        let text = answer_text(answer);
        if !text.contains(s.as_str()) {
            cmp("says", format!("…{s}…"), text);
        }
    }
    let (last, sends, warnings, restriction) = {
        let p = w.mock.lock();
        let last = p
            .sent
            .last()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null));
        let sends = p
            .sent
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Sent(_)))
            .count();
        let restriction = p
            .restriction()
            .filter(|r| r.active_at(p.now()))
            .map(|r| (r.level.to_string(), r.until));
        (last, sends, p.enforcement.warnings, restriction)
    };
    let last = last.unwrap_or(Value::Null);
    if let Some(m) = &x.messaging_type {
        cmp(
            "messaging_type",
            m.clone(),
            last["request"]["messaging_type"]
                .as_str()
                .unwrap_or("none")
                .to_owned(),
        );
    }
    if let Some(t) = &x.tag {
        cmp(
            "tag",
            t.clone(),
            last["request"]["tag"].as_str().unwrap_or("none").to_owned(),
        );
    }
    if let Some(e) = &x.meta_error {
        let err = &last["error"];
        let actual = match (err["code"].as_u64(), err["error_subcode"].as_u64()) {
            (Some(c), Some(s)) => format!("{c}/{s}"),
            (Some(c), None) => c.to_string(),
            _ => "none".into(),
        };
        cmp("meta_error", e.clone(), actual);
    }
    if let Some(r) = &x.restriction {
        cmp(
            "restriction",
            r.clone(),
            restriction
                .as_ref()
                .map_or("none".into(), |(l, _)| l.clone()),
        );
    }
    if let Some(d) = &x.restriction_ends {
        let start = w.mock.lock().settings.start;
        let expected = parse_duration(d)
            .map(|d| (start + d).to_string())
            .unwrap_or_default();
        let actual = restriction
            .as_ref()
            .and_then(|(_, u)| *u)
            .map_or("none".into(), |u| u.to_string());
        cmp("restriction_ends", expected, actual);
    }
    if let Some(n) = x.warnings {
        cmp("warnings", n.to_string(), warnings.to_string());
    }
    if let Some(r) = &x.bot_restriction {
        let page = w.engine.store.page()?;
        let actual = page
            .enforcement
            .active(w.now())
            .map_or("none".into(), |r| r.level.to_string());
        cmp("bot_restriction", r.clone(), actual);
    }
    if let Some(n) = x.sends {
        cmp("sends", n.to_string(), sends.to_string());
    }
    if let Some(n) = x.threads {
        cmp(
            "threads",
            n.to_string(),
            w.discord.threads().len().to_string(),
        );
    }
    if let Some(n) = x.alerts {
        let alerts: usize = w
            .discord
            .messages_in(CHANNEL)
            .iter()
            .map(|m| {
                m.body["content"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.starts_with('⏰'))
                    .count()
            })
            .sum();
        cmp("alerts", n.to_string(), alerts.to_string());
    }
    if let Some(n) = x.parked {
        let mut parked = 0;
        for psid in w.psids.values() {
            parked += w.engine.store.parked(psid)?.len();
        }
        cmp("parked", n.to_string(), parked.to_string());
    }
    let psid = customer.and_then(|c| w.psids.get(c));
    let thread = match psid {
        Some(p) => w.engine.store.thread(p)?,
        None => None,
    };
    let discord_thread = thread.as_ref().and_then(|t| t.discord_thread);
    if let Some(win) = &x.window {
        let s = &w.engine.settings;
        let actual = match thread
            .as_ref()
            .map(|t| Window::at(&t.state, w.now(), s.rules, s.human_agent))
        {
            Some(Window::Standard { .. }) => "standard",
            Some(Window::HumanAgent { .. }) => "human_agent",
            Some(Window::Expired { .. }) | None => "expired",
        };
        cmp("window", win.clone(), actual.into());
    }
    if let Some(l) = &x.label {
        let name = discord_thread
            .and_then(|id| w.discord.thread(id))
            .map(|t| t.name)
            .unwrap_or_else(|| "(no thread)".into());
        if !name.starts_with(l.as_str()) {
            cmp("label", format!("{l}…"), name);
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
        cmp("thread_posts", n.to_string(), actual.to_string());
    }
    if let Some(first) = &x.inbox_first {
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
            engine: &w.engine,
            inv: &inv,
            now: w.now(),
        };
        let rows = views::triage(&ctx, "all")?;
        let actual = rows
            .first()
            .and_then(|(t, _)| {
                w.psids
                    .iter()
                    .find(|(_, p)| **p == t.psid)
                    .map(|(id, _)| id.clone())
            })
            .unwrap_or_else(|| "(empty)".into());
        cmp("inbox_first", first.clone(), actual);
    }
    if x.nothing_lost == Some(true) {
        let (lost, twice) = nothing_lost(w)?;
        cmp(
            "nothing_lost",
            "0 lost, 0 twice".into(),
            format!("{lost} lost, {twice} twice"),
        );
    }
    Ok(misses)
}

/// Customer messages Meta holds that the bot's store or Discord lacks, and ones they
/// hold more than once.
pub fn nothing_lost(w: &World) -> anyhow::Result<(usize, usize)> {
    let (mut lost, mut twice) = (0, 0);
    let mut expected_posts = 0;
    for psid in w.psids.values() {
        let meta: Vec<String> = {
            let p = w.mock.lock();
            p.customer(psid)
                .map(|c| {
                    c.messages
                        .iter()
                        .filter(|m| m.from_customer && m.text.is_some())
                        .map(|m| m.mid.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        expected_posts += meta.len();
        let stored: Vec<String> = w
            .engine
            .store
            .messages(psid)?
            .into_iter()
            .filter(|m| m.kind == "text" && m.direction == bot::store::Direction::In)
            .filter_map(|m| m.mid)
            .collect();
        for mid in &meta {
            match stored.iter().filter(|s| *s == mid).count() {
                0 => lost += 1,
                1 => {}
                _ => twice += 1,
            }
        }
    }
    let posted: usize = w
        .discord
        .messages()
        .iter()
        .flat_map(|m| m.body["embeds"].as_array().cloned().unwrap_or_default())
        .filter(|e| {
            e["color"] == colour::CUSTOMER
                && e["footer"]["text"]
                    .as_str()
                    .is_none_or(|f| f.starts_with("standby"))
        })
        .count();
    if posted < expected_posts {
        lost += expected_posts - posted;
    } else {
        twice += posted - expected_posts;
    }
    Ok((lost, twice))
}
