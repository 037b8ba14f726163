//! What the pipeline answers, and its Discord JSON.

use serde_json::{json, Value};

use crate::discord::Embed;

/// An answer to an interaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// To a ping.
    Pong,
    /// A new message (usually only the agent sees it).
    Message(Msg),
    /// Replace the message a component is on (pagination).
    Update(Msg),
    /// Open a modal with one long text input.
    Modal {
        /// Carries the state to the submission.
        custom_id: String,
        /// The modal's title.
        title: String,
        /// The text input's label.
        label: String,
    },
    /// Autocomplete choices, as (shown, value).
    Choices(Vec<(String, String)>),
}

/// A message's content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Msg {
    /// Text.
    pub content: String,
    /// Embeds.
    pub embeds: Vec<Embed>,
    /// Action rows of buttons and select menus, as Discord's JSON.
    pub components: Vec<Value>,
    /// Only the invoking agent sees it.
    pub ephemeral: bool,
}

impl Msg {
    /// An ephemeral text answer.
    pub fn private(content: impl Into<String>) -> Msg {
        Msg {
            content: content.into(),
            ephemeral: true,
            ..Msg::default()
        }
    }

    /// Adds an action row.
    pub fn row(mut self, components: Vec<Value>) -> Msg {
        if !components.is_empty() {
            self.components
                .push(json!({"type": 1, "components": components}));
        }
        self
    }
}

/// A button: style 1 primary, 2 secondary, 3 success, 4 danger.
pub fn button(custom_id: &str, label: &str, style: u8) -> Value {
    // Discord allows 80 characters in a button's label.
    json!({"type": 2, "style": style, "label": truncate(label, 80), "custom_id": custom_id})
}

/// A select menu of (label, value, description).
pub fn select(custom_id: &str, placeholder: &str, options: &[(String, String, String)]) -> Value {
    let options: Vec<Value> = options
        .iter()
        .map(|(label, value, description)| {
            // Discord allows 100 characters in each.
            json!({"label": truncate(label, 100), "value": value, "description": truncate(description, 100)})
        })
        .collect();
    json!({"type": 3, "custom_id": custom_id, "placeholder": placeholder, "options": options})
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Discord's interaction response JSON.
pub fn render(r: &Response) -> Value {
    match r {
        Response::Pong => json!({"type": 1}),
        Response::Message(m) => json!({"type": 4, "data": message(m)}),
        Response::Update(m) => json!({"type": 7, "data": message(m)}),
        Response::Modal {
            custom_id,
            title,
            label,
        } => json!({
            "type": 9,
            "data": {
                "custom_id": custom_id,
                "title": truncate(title, 45),
                "components": [{"type": 1, "components": [{
                    "type": 4, "custom_id": "text", "style": 2, "label": truncate(label, 45),
                    "min_length": 1, "max_length": 4000, "required": true
                }]}]
            }
        }),
        Response::Choices(choices) => {
            let choices: Vec<Value> = choices
                .iter()
                .take(25)
                .map(|(name, value)| json!({"name": truncate(name, 100), "value": value}))
                .collect();
            json!({"type": 8, "data": {"choices": choices}})
        }
    }
}

fn message(m: &Msg) -> Value {
    let mut data = json!({
        "content": m.content,
        "allowed_mentions": {"parse": []},
        "components": m.components,
        "embeds": m.embeds.iter().map(crate::discord::render::embed).collect::<Vec<_>>(),
    });
    if m.ephemeral {
        data["flags"] = json!(64);
    }
    data
}
