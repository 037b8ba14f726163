//! Discord interactions as the command pipeline sees them, parsed from Discord's JSON.
//!
//! Both transports (the gateway and the HTTP endpoint) hand over the same JSON, so
//! there is one parser and one pipeline.

use std::collections::HashMap;

use serde_json::Value;

/// Who invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Discord user id.
    pub id: u64,
    /// The name to show.
    pub name: String,
    /// The member's roles in the guild.
    pub roles: Vec<u64>,
}

/// What was invoked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Discord checking the endpoint.
    Ping,
    /// A slash command; a subcommand's name is `command/sub`.
    Command {
        /// `reply`, `snippet/add`, ...
        name: String,
        /// The options given.
        options: HashMap<String, Value>,
    },
    /// An option being typed, for autocomplete.
    Autocomplete {
        /// The command, as in [`Action::Command`].
        name: String,
        /// The focused option's name.
        focused: String,
        /// What has been typed so far.
        typed: String,
    },
    /// A button press or a select menu choice.
    Component {
        /// The component's `custom_id`, which carries the state.
        custom_id: String,
        /// A select menu's chosen values.
        values: Vec<String>,
    },
    /// A modal submitted.
    Modal {
        /// The modal's `custom_id`.
        custom_id: String,
        /// Text inputs by their `custom_id`.
        fields: HashMap<String, String>,
    },
}

/// One interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The interaction's id: sends are idempotent on it.
    pub id: String,
    /// The token for follow-ups.
    pub token: String,
    /// Who.
    pub agent: Agent,
    /// Where: a mirrored thread implies its customer.
    pub channel_id: Option<u64>,
    /// What.
    pub action: Action,
}

/// Why an interaction's JSON can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unusable interaction: {0}")]
pub struct BadInteraction(pub String);

fn id(v: &Value) -> Option<u64> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64())
}

/// Parses an interaction.
pub fn parse(v: &Value) -> Result<Invocation, BadInteraction> {
    let bad = |what: &str| BadInteraction(what.to_owned());
    let kind = v["type"].as_u64().ok_or_else(|| bad("no type"))?;
    let user = if v["member"].is_object() {
        &v["member"]["user"]
    } else {
        &v["user"]
    };
    let agent = Agent {
        id: id(&user["id"]).unwrap_or(0),
        name: user["global_name"]
            .as_str()
            .or(user["username"].as_str())
            .unwrap_or("someone")
            .to_owned(),
        roles: v["member"]["roles"]
            .as_array()
            .map(|r| r.iter().filter_map(id).collect())
            .unwrap_or_default(),
    };
    let data = &v["data"];
    let action = match kind {
        1 => Action::Ping,
        2 | 4 => {
            let (name, options) = command(data);
            if kind == 2 {
                Action::Command {
                    name,
                    options: flatten(options),
                }
            } else {
                let focused = options
                    .iter()
                    .find(|o| o["focused"].as_bool() == Some(true))
                    .ok_or_else(|| bad("autocomplete without a focused option"))?;
                Action::Autocomplete {
                    name,
                    focused: focused["name"].as_str().unwrap_or_default().to_owned(),
                    typed: focused["value"].as_str().unwrap_or_default().to_owned(),
                }
            }
        }
        3 => Action::Component {
            custom_id: data["custom_id"]
                .as_str()
                .ok_or_else(|| bad("no custom_id"))?
                .to_owned(),
            values: data["values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        },
        5 => {
            let mut fields = HashMap::new();
            for row in data["components"].as_array().into_iter().flatten() {
                for input in row["components"].as_array().into_iter().flatten() {
                    if let (Some(k), Some(val)) =
                        (input["custom_id"].as_str(), input["value"].as_str())
                    {
                        fields.insert(k.to_owned(), val.to_owned());
                    }
                }
            }
            Action::Modal {
                custom_id: data["custom_id"]
                    .as_str()
                    .ok_or_else(|| bad("no custom_id"))?
                    .to_owned(),
                fields,
            }
        }
        other => return Err(bad(&format!("unknown interaction type {other}"))),
    };
    Ok(Invocation {
        id: v["id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| v["id"].as_u64().map(|n| n.to_string()))
            .ok_or_else(|| bad("no id"))?,
        token: v["token"].as_str().unwrap_or_default().to_owned(),
        agent,
        channel_id: id(&v["channel_id"]).or_else(|| id(&v["channel"]["id"])),
        action,
    })
}

/// The command's full name and its leaf options (a subcommand's own options).
fn command(data: &Value) -> (String, Vec<Value>) {
    let mut name = data["name"].as_str().unwrap_or_default().to_owned();
    let mut options = data["options"].as_array().cloned().unwrap_or_default();
    // Subcommands (type 1) nest their options one level down.
    if let Some(sub) = options
        .first()
        .filter(|o| o["type"].as_u64() == Some(1))
        .cloned()
    {
        name = format!("{name}/{}", sub["name"].as_str().unwrap_or_default());
        options = sub["options"].as_array().cloned().unwrap_or_default();
    }
    (name, options)
}

fn flatten(options: Vec<Value>) -> HashMap<String, Value> {
    options
        .into_iter()
        .filter_map(|o| Some((o["name"].as_str()?.to_owned(), o["value"].clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slash_command_with_subcommand() {
        let v = json!({
            "id": "1", "type": 2, "token": "t", "channel_id": "55",
            "member": {"user": {"id": "9", "username": "grace", "global_name": "Grace"}, "roles": ["77"]},
            "data": {"name": "snippet", "options": [{"type": 1, "name": "add", "options": [
                {"name": "name", "type": 3, "value": "hours"},
                {"name": "text", "type": 3, "value": "We open at 9."}]}]}
        });
        let inv = parse(&v).unwrap();
        assert_eq!(
            inv.agent,
            Agent {
                id: 9,
                name: "Grace".into(),
                roles: vec![77]
            }
        );
        assert_eq!(inv.channel_id, Some(55));
        let Action::Command { name, options } = inv.action else {
            panic!()
        };
        assert_eq!(name, "snippet/add");
        assert_eq!(options["text"], "We open at 9.");
    }

    #[test]
    fn modal_fields() {
        let v = json!({"id": "2", "type": 5, "data": {"custom_id": "reply-modal:U1", "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "long reply"}]}]}});
        let inv = parse(&v).unwrap();
        assert_eq!(
            inv.action,
            Action::Modal {
                custom_id: "reply-modal:U1".into(),
                fields: [("text".to_owned(), "long reply".to_owned())].into()
            }
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(&json!({"id": "3"})).is_err());
        assert!(parse(&json!({"id": "3", "type": 42})).is_err());
    }
}
