//! A readable account of a run: who said what when, what was sent as what, what was
//! refused and why, and what Discord showed. The same seed gives the same bytes.

use jiff::Timestamp;
use serde_json::Value;

use super::world::{World, ALERT_CHANNEL, CHANNEL};

/// The transcript being written.
#[derive(Debug, Default)]
pub struct Transcript {
    text: String,
    calls_seen: usize,
    sent_seen: usize,
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
        w.mock.lock().sent.len() > self.sent_seen || w.discord.call_count() > self.calls_seen
    }

    /// What reached Meta and Discord since the last call.
    pub fn activity(&mut self, w: &World) {
        let sent: Vec<Value> = {
            let p = w.mock.lock();
            p.sent[self.sent_seen.min(p.sent.len())..]
                .iter()
                .filter_map(|r| serde_json::to_value(r).ok())
                .collect()
        };
        self.sent_seen += sent.len();
        for s in sent {
            let req = &s["request"];
            let what = match (req["messaging_type"].as_str(), req["tag"].as_str()) {
                (Some(m), Some(t)) => format!("{m} {t}"),
                (Some(m), None) => m.to_owned(),
                _ => "?".into(),
            };
            let app = if s["app_id"] == w.mock.lock().settings.app_id {
                ""
            } else {
                "another app: "
            };
            let text = req["message"]["text"].as_str().unwrap_or_default();
            let result = match s["error"]["message"].as_str() {
                Some(m) => format!("✗ {m}"),
                None => "✓ accepted".into(),
            };
            self.note(&format!("meta: {app}{what} {} {result}", quote(text)));
        }
        let calls = w.discord.calls_since(self.calls_seen);
        self.calls_seen += calls.len();
        for c in &calls {
            let line = describe(w, c);
            self.note(&format!("discord: {line}"));
        }
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
        w.engine
            .store
            .thread_by_discord(id)
            .ok()
            .flatten()
            .and_then(|t| w.engine.store.customer(&t.psid).ok().flatten())
            .map(|c| c.display_name())
            .unwrap_or_else(|| "?".into())
    };
    let body = &c.body;
    if c.path.ends_with("/threads/active") {
        return "read the forum's active posts, for a post an earlier attempt may have made"
            .to_owned();
    }
    if c.method == "GET" {
        let place = match channel {
            Some(CHANNEL) | None => "the channel".to_owned(),
            Some(id) => format!("{}'s thread", who(id)),
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
    // In forum layout, the page's alerts and notices have a channel of their own.
    let channel = channel.map(|id| if id == ALERT_CHANNEL { CHANNEL } else { id });
    match channel {
        Some(CHANNEL) if !content.is_empty() && embeds.is_empty() => {
            let alerts: Vec<&str> = content.lines().collect();
            format!(
                "alert in the channel:\n{}",
                alerts
                    .iter()
                    .map(|a| format!("                      {a}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        Some(CHANNEL) if content.starts_with("<@&") => {
            format!("notice in the channel: {}", lines.join(" · "))
        }
        Some(CHANNEL) => format!(
            "new conversation in the channel ({}): {}",
            count(lines.len()),
            lines.join(" · ")
        ),
        Some(id) => format!(
            "in {}'s thread ({}): {}",
            who(id),
            count(lines.len()),
            lines.join(" · ")
        ),
        None => format!("{} {}", c.method, c.path),
    }
}
