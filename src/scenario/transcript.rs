//! A readable account of a run: who said what when, what was sent as what, what was
//! refused and why, and what Discord showed. The same seed gives the same bytes.

use jiff::Timestamp;
use serde_json::Value;

use super::world::World;

/// The transcript being written.
#[derive(Debug, Default)]
pub struct Transcript {
    text: String,
    calls_seen: usize,
    /// Send API calls seen, per page.
    sent_seen: Vec<usize>,
}

fn when(t: Timestamp) -> String {
    t.strftime("%a %d %b %H:%M:%S").to_string()
}

fn quote(s: &str) -> String {
    let one_line = s.replace('\n', " ⏎ ");
    let short: String = one_line.chars().take(120).collect();
    if short.len() < one_line.len() {
        format!("“{short}…”")
    } else {
        format!("“{short}”")
    }
}

impl Transcript {
    /// A transcript headed with the scenario.
    pub fn new(name: &str, description: &str, seed: u64) -> Self {
        let mut t = Transcript::default();
        t.text
            .push_str(&format!("# {name} (seed {seed})\n# {description}\n\n"));
        t
    }

    /// A line at `at`.
    pub fn line(&mut self, at: Timestamp, what: &str) {
        self.text.push_str(&format!("{}  {what}\n", when(at)));
    }

    /// An indented line under the last.
    pub fn note(&mut self, what: &str) {
        self.text.push_str(&format!("                    {what}\n"));
    }

    /// What the bot answered an agent. `→` marks a new message; `↻` an
    /// UPDATE_MESSAGE, which replaced the message whose button was pressed.
    pub fn answer(&mut self, answer: &Value) {
        let text = super::expect::answer_text(answer);
        let first = if answer["type"] == 7 { "↻" } else { "→" };
        for (i, l) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let mark = if i == 0 { first } else { " " };
            self.note(&format!("{mark} {l}"));
        }
        let buttons: Vec<String> = answer["data"]["components"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["components"].as_array().cloned().unwrap_or_default())
            .map(|c| match c["type"].as_u64() {
                Some(3) => format!(
                    "[menu: {}]",
                    c["options"]
                        .as_array()
                        .map(|o| o
                            .iter()
                            .filter_map(|x| x["value"].as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                ),
                _ => format!("[{}]", c["label"].as_str().unwrap_or_default()),
            })
            .collect();
        if !buttons.is_empty() {
            self.note(&format!("  {}", buttons.join(" ")));
        }
    }

    /// Whether anything reached Meta or Discord since the last [`Transcript::activity`].
    pub fn has_activity(&self, w: &World) -> bool {
        w.sent_marks() != self.seen(w) || w.discord.call_count() > self.calls_seen
    }

    /// What reached Meta and Discord since the last call.
    pub fn activity(&mut self, w: &World) {
        let seen = self.seen(w);
        self.sent_seen = w.sent_marks();
        let upto = self.sent_seen.clone();
        for ((page, from), to) in w.pages.iter().zip(seen).zip(&upto) {
            let (sent, app_id): (Vec<Value>, u64) = {
                let p = page.mock.lock();
                let sent = p.sent[from.min(*to)..*to]
                    .iter()
                    .filter_map(|r| serde_json::to_value(r).ok())
                    .collect();
                (sent, p.settings.app_id)
            };
            // With several pages, each line names its page (the first is "page 1").
            let on = match (w.pages.len(), page.name.as_str()) {
                (1, _) => String::new(),
                (_, "") => " (page 1)".to_owned(),
                (_, name) => format!(" ({name})"),
            };
            for s in sent {
                self.sent_line(&s, app_id, &on);
            }
        }
        let calls = w.discord.calls_since(self.calls_seen);
        self.calls_seen += calls.len();
        for c in &calls {
            let line = describe(w, c);
            self.note(&format!("discord: {line}"));
        }
    }

    /// Send API calls seen so far, per page (none yet for a page not looked at).
    fn seen(&self, w: &World) -> Vec<usize> {
        (0..w.pages.len())
            .map(|i| self.sent_seen.get(i).copied().unwrap_or(0))
            .collect()
    }

    /// One Send API call, as Meta logged it, on the page `on` names.
    fn sent_line(&mut self, s: &Value, app_id: u64, on: &str) {
        let req = &s["request"];
        let what = match (req["messaging_type"].as_str(), req["tag"].as_str()) {
            (Some(m), Some(t)) => format!("{m} {t}"),
            (Some(m), None) => m.to_owned(),
            _ => "?".into(),
        };
        let app = if s["app_id"] == app_id {
            ""
        } else {
            "another app: "
        };
        let text = req["message"]["text"].as_str().unwrap_or_default();
        let result = match s["error"]["message"].as_str() {
            Some(m) => format!("✗ {m}"),
            None => "✓ accepted".into(),
        };
        self.note(&format!("meta{on}: {app}{what} {} {result}", quote(text)));
    }

    /// A finished transcript.
    pub fn finish(self) -> String {
        self.text
    }
}

fn count(lines: usize) -> String {
    match lines {
        1 => "1 line".into(),
        n => format!("{n} lines"),
    }
}

fn describe(w: &World, c: &bot::discord::recorder::Call) -> String {
    if let Err(status) = c.outcome {
        return format!("✗ {} {} failed with {status}; will retry", c.method, c.path);
    }
    let channel: Option<u64> = c.path.split('/').nth(4).and_then(|id| id.parse().ok());
    let who = |id: u64| {
        w.by_discord_thread(id)
            .ok()
            .flatten()
            .and_then(|(page, t)| page.engine.store.customer(&t.psid).ok().flatten())
            .map(|c| c.display_name())
            .unwrap_or_else(|| "?".into())
    };
    let body = &c.body;
    if c.path.ends_with("/threads/active") {
        return "read the forum's active posts, for a post an earlier attempt may have made"
            .to_owned();
    }
    // A page's channel (or its alerts' channel), as the transcript names it.
    let page_channel = match channel {
        None => Some("the channel".to_owned()),
        Some(id) => channel_name(w, id),
    };
    if c.method == "GET" {
        let place = match (&page_channel, channel) {
            (None, Some(id)) => format!("{}'s thread", who(id)),
            (place, _) => place.clone().unwrap_or_default(),
        };
        return format!(
            "read the recent messages of {place}, for a post an earlier attempt may have made"
        );
    }
    if c.method == "PATCH" {
        let id = channel.unwrap_or_default();
        return match (body["name"].as_str(), body["archived"].as_bool()) {
            (Some(n), _) => format!("renamed {}'s thread “{n}”", who(id)),
            (None, Some(true)) => format!("archived {}'s thread", who(id)),
            (None, Some(false)) => format!("unarchived {}'s thread", who(id)),
            _ => "edited a thread".into(),
        };
    }
    // A thread started from a message is `/channels/{c}/messages/{m}/threads`; a forum
    // post is `/channels/{forum}/threads`.
    let forum_post = !c.path.contains("/messages/") && c.path.ends_with("/threads");
    if c.path.ends_with("/threads") && !forum_post {
        return format!(
            "opened thread “{}”",
            body["name"].as_str().unwrap_or_default()
        );
    }
    // A forum post carries its first message inside.
    let body = if forum_post { &body["message"] } else { body };
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    let lines: Vec<String> = embeds
        .iter()
        .map(|e| {
            let author = e["author"]["name"]
                .as_str()
                .map(|a| format!("{a}: "))
                .unwrap_or_default();
            let footer = e["footer"]["text"]
                .as_str()
                .map(|f| format!(" [{f}]"))
                .unwrap_or_default();
            format!(
                "{author}{}{footer}",
                quote(e["description"].as_str().unwrap_or_default())
            )
        })
        .collect();
    let content = body["content"].as_str().unwrap_or_default();
    if forum_post {
        return format!(
            "new forum post “{}” ({}): {}",
            c.body["name"].as_str().unwrap_or_default(),
            count(lines.len()),
            lines.join(" · ")
        );
    }
    match (page_channel, channel) {
        (Some(place), Some(_)) if !content.is_empty() && embeds.is_empty() => {
            let alerts: Vec<&str> = content.lines().collect();
            format!(
                "alert in {place}:\n{}",
                alerts
                    .iter()
                    .map(|a| format!("                      {a}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        (Some(place), Some(_)) if content.starts_with("<@&") => {
            format!("notice in {place}: {}", lines.join(" · "))
        }
        (Some(place), Some(_)) => format!(
            "new conversation in {place} ({}): {}",
            count(lines.len()),
            lines.join(" · ")
        ),
        (None, Some(id)) => format!(
            "in {}'s thread ({}): {}",
            who(id),
            count(lines.len()),
            lines.join(" · ")
        ),
        (_, None) => format!("{} {}", c.method, c.path),
    }
}

/// How the transcript names channel `id` if it is a page's (its conversations' or, in
/// forum layout, its alerts'): "the channel" in a one-page world, else the page's name
/// ("page 1" for the first).
fn channel_name(w: &World, id: u64) -> Option<String> {
    let page = w.pages.iter().find(|p| {
        let s = &p.engine.settings;
        id == s.channel_id || id == s.alert_channel()
    })?;
    Some(match (w.pages.len(), page.name.as_str()) {
        (1, _) => "the channel".to_owned(),
        (_, "") => "page 1's channel".to_owned(),
        (_, name) => format!("{name}'s channel"),
    })
}
