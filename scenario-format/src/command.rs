//! What an agent does, written as they would type it: `/reply text:Thanks!`,
//! `/snippet add name:ship text:...`, `press park`, `pick HUMAN_AGENT`.
//!
//! Commands and their options are checked against the definitions the bot registers
//! with Discord, so a scenario can only do what an agent could.

use serde_json::{json, Value};

/// A parsed agent action.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentAction {
    /// A slash command.
    Slash {
        /// The command.
        command: String,
        /// The subcommand, if any.
        sub: Option<String>,
        /// Options, typed as Discord sends them.
        options: Vec<(String, Value)>,
    },
    /// Press the button whose `custom_id` starts with this, under the agent's last answer.
    Press(String),
    /// Pick this value in the select menu under the agent's last answer.
    Pick(String),
    /// Submit the form (modal) with this `custom_id`, with these fields.
    Submit {
        /// The form's `custom_id` (`reply-modal:PSID`).
        custom_id: String,
        /// Its text inputs by `custom_id`.
        fields: Vec<(String, String)>,
    },
    /// A slash command read without the bot's definitions to check it against.
    Unchecked(String),
}

/// Why an action can't be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCommand {
    /// What is wrong.
    pub message: String,
    /// What would work.
    pub hint: Option<String>,
}

fn bad(message: impl Into<String>, hint: Option<String>) -> BadCommand {
    BadCommand {
        message: message.into(),
        hint,
    }
}

/// The option a command's free text goes to when no `name:` is given.
fn default_option(command: &str) -> Option<&'static str> {
    match command {
        "reply" | "tag" => Some("text"),
        "inbox" => Some("filter"),
        _ => None,
    }
}

/// Parses what an agent types, checking slash commands against `definitions` (the
/// bot's commands as registered with Discord) when given.
pub fn parse(typed: &str, definitions: Option<&Value>) -> Result<AgentAction, BadCommand> {
    let typed = typed.trim();
    if let Some(rest) = typed.strip_prefix("press ") {
        return Ok(AgentAction::Press(rest.trim().to_owned()));
    }
    if let Some(rest) = typed.strip_prefix("pick ") {
        return Ok(AgentAction::Pick(rest.trim().to_owned()));
    }
    if let Some(rest) = typed.strip_prefix("submit ") {
        return Ok(AgentAction::Submit {
            custom_id: rest.trim().to_owned(),
            fields: Vec::new(),
        });
    }
    let Some(body) = typed.strip_prefix('/') else {
        return Err(bad(format!("can't understand {typed:?}"), Some("a slash command like \"/reply text:Thanks!\", or \"press park\", or \"pick HUMAN_AGENT\"".into())));
    };
    let Some(defs) = definitions.and_then(Value::as_array) else {
        return Ok(AgentAction::Unchecked(typed.to_owned()));
    };
    let commands: Vec<&Value> = defs.iter().collect();
    let mut words = body.split(' ').filter(|w| !w.is_empty()).peekable();
    let name = words.next().unwrap_or_default();
    let Some(def) = commands.iter().find(|c| c["name"] == name) else {
        let known: Vec<String> = commands
            .iter()
            .map(|c| format!("/{}", c["name"].as_str().unwrap_or_default()))
            .collect();
        return Err(bad(
            format!("unknown command /{name}"),
            Some(format!("commands: {}", known.join(" "))),
        ));
    };
    let all_options = def["options"].as_array().cloned().unwrap_or_default();
    let subs: Vec<&Value> = all_options.iter().filter(|o| o["type"] == 1).collect();
    let (sub, options) = if subs.is_empty() {
        (None, all_options.clone())
    } else {
        let given = words.next().unwrap_or_default();
        let Some(s) = subs.iter().find(|s| s["name"] == given) else {
            let names: Vec<&str> = subs.iter().filter_map(|s| s["name"].as_str()).collect();
            return Err(bad(
                format!("/{name} needs a subcommand"),
                Some(format!("one of: {}", names.join(", "))),
            ));
        };
        (
            Some(given.to_owned()),
            s["options"].as_array().cloned().unwrap_or_default(),
        )
    };
    let option_names: Vec<&str> = options.iter().filter_map(|o| o["name"].as_str()).collect();
    let mut parsed: Vec<(String, String)> = Vec::new();
    for word in words {
        let key = word
            .split_once(':')
            .filter(|(k, _)| option_names.contains(k));
        match key {
            Some((k, v)) => parsed.push((k.to_owned(), v.to_owned())),
            None => match parsed.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(word);
                }
                None => match default_option(name) {
                    Some(d) => parsed.push((d.to_owned(), word.to_owned())),
                    None => {
                        return Err(bad(
                            format!("/{name} has no option for {word:?}"),
                            Some(format!("options: {}", option_names.join(", "))),
                        ))
                    }
                },
            },
        }
    }
    let mut typed_options = Vec::new();
    for (k, v) in parsed {
        let def = options
            .iter()
            .find(|o| o["name"] == k.as_str())
            .expect("matched above");
        let value = if def["type"] == 5 {
            match v.as_str() {
                "true" | "yes" => json!(true),
                "false" | "no" => json!(false),
                other => {
                    return Err(bad(
                        format!("{k}: expected true or false, got {other:?}"),
                        None,
                    ))
                }
            }
        } else {
            json!(v)
        };
        typed_options.push((k, value));
    }
    for required in options.iter().filter(|o| o["required"] == true) {
        let n = required["name"].as_str().unwrap_or_default();
        if !typed_options.iter().any(|(k, _)| k == n) {
            return Err(bad(format!("/{name} needs {n}:"), None));
        }
    }
    Ok(AgentAction::Slash {
        command: name.to_owned(),
        sub,
        options: typed_options,
    })
}

/// An action whose options (or a form's fields) are given exactly, as a table beside
/// `does` (`options = { text = "…" }`), rather than typed after it: what a live
/// training session records, since typed text can't carry every value (a `text:`
/// inside a reply, runs of spaces). `typed` names the command (and subcommand) or the
/// form (`submit reply-modal:PSID`); anything typed after that is for people reading
/// the scenario and is not used. Options are checked against `definitions` as typed
/// ones are.
pub fn with_options(
    typed: &str,
    given: &[(String, Value)],
    definitions: Option<&Value>,
) -> Result<AgentAction, BadCommand> {
    match parse(typed, None)? {
        AgentAction::Submit { custom_id, .. } => {
            let mut fields = Vec::new();
            for (k, v) in given {
                let Some(v) = v.as_str() else {
                    return Err(bad(format!("form field {k}: expected text"), None));
                };
                fields.push((k.clone(), v.to_owned()));
            }
            Ok(AgentAction::Submit { custom_id, fields })
        }
        AgentAction::Unchecked(_) => {
            let mut words = typed.split_whitespace();
            let command = words
                .next()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned();
            // A subcommand is the next word when the command has subcommands.
            let has_subs = definitions
                .and_then(Value::as_array)
                .and_then(|defs| defs.iter().find(|c| c["name"] == command.as_str()))
                .and_then(|def| def["options"].as_array())
                .is_some_and(|o| o.iter().any(|o| o["type"] == 1));
            let sub = has_subs.then(|| words.next().unwrap_or_default().to_owned());
            check_options(&command, sub.as_deref(), given, definitions)?;
            Ok(AgentAction::Slash {
                command,
                sub,
                options: given.to_vec(),
            })
        }
        _ => Err(bad(
            "`options` go with a slash command or `submit FORM`",
            Some("press and pick take no options".into()),
        )),
    }
}

/// Checks options given exactly against the command's definition.
fn check_options(
    command: &str,
    sub: Option<&str>,
    given: &[(String, Value)],
    definitions: Option<&Value>,
) -> Result<(), BadCommand> {
    let Some(defs) = definitions.and_then(Value::as_array) else {
        return Ok(());
    };
    let Some(def) = defs.iter().find(|c| c["name"] == command) else {
        return Err(bad(format!("unknown command /{command}"), None));
    };
    let mut options = def["options"].as_array().cloned().unwrap_or_default();
    if let Some(sub) = sub {
        let Some(found) = options.iter().find(|o| o["type"] == 1 && o["name"] == sub) else {
            return Err(bad(format!("/{command} has no subcommand {sub:?}"), None));
        };
        options = found["options"].as_array().cloned().unwrap_or_default();
    }
    for (k, v) in given {
        let Some(def) = options.iter().find(|o| o["name"] == k.as_str()) else {
            let names: Vec<&str> = options.iter().filter_map(|o| o["name"].as_str()).collect();
            return Err(bad(
                format!("/{command} has no option {k:?}"),
                Some(format!("options: {}", names.join(", "))),
            ));
        };
        let boolean = def["type"] == 5;
        if boolean != v.is_boolean() || (!boolean && !v.is_string()) {
            let want = if boolean { "true or false" } else { "text" };
            return Err(bad(format!("{k}: expected {want}"), None));
        }
    }
    for required in options.iter().filter(|o| o["required"] == true) {
        let n = required["name"].as_str().unwrap_or_default();
        if !given.iter().any(|(k, _)| k == n) {
            return Err(bad(format!("/{command} needs {n}"), None));
        }
    }
    Ok(())
}

/// The `data` of the interaction a slash command becomes.
pub fn interaction_data(command: &str, sub: Option<&str>, options: &[(String, Value)]) -> Value {
    let options: Vec<Value> = options
        .iter()
        .map(|(k, v)| json!({"name": k, "type": if v.is_boolean() { 5 } else { 3 }, "value": v}))
        .collect();
    match sub {
        Some(sub) => {
            json!({"name": command, "options": [{"type": 1, "name": sub, "options": options}]})
        }
        None => json!({"name": command, "options": options}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slice of the bot's definitions, enough for these tests.
    fn definitions() -> Value {
        let text =
            |name: &str, required: bool| json!({"type": 3, "name": name, "required": required});
        json!([
            {"name": "reply", "options": [text("text", false), {"type": 5, "name": "split"}, text("customer", false)]},
            {"name": "tag", "options": [text("text", false), text("tag", false)]},
            {"name": "claim", "options": [text("customer", false)]},
            {"name": "snippet", "options": [
                {"type": 1, "name": "add", "options": [text("name", true), text("text", true)]},
                {"type": 1, "name": "list"}]},
        ])
    }

    fn parse(typed: &str) -> Result<AgentAction, BadCommand> {
        super::parse(typed, Some(&definitions()))
    }

    #[test]
    fn options_given_exactly_are_taken_as_they_are_and_checked() {
        let defs = definitions();
        let text = "Hi  there: the text: of the SMS";
        let exact = with_options(
            "/reply text:whatever is shown",
            &[("text".into(), json!(text))],
            Some(&defs),
        )
        .unwrap();
        assert_eq!(
            exact,
            AgentAction::Slash {
                command: "reply".into(),
                sub: None,
                options: vec![("text".into(), json!(text))]
            }
        );
        let sub = with_options(
            "/snippet add",
            &[
                ("name".into(), json!("ship")),
                ("text".into(), json!("Soon.")),
            ],
            Some(&defs),
        )
        .unwrap();
        assert!(matches!(sub, AgentAction::Slash { sub: Some(ref s), .. } if s == "add"));
        let e = with_options("/reply", &[("txet".into(), json!("x"))], Some(&defs)).unwrap_err();
        assert!(e.message.contains("no option \"txet\""), "{e:?}");
        let e = with_options("/reply", &[("split".into(), json!("yes"))], Some(&defs)).unwrap_err();
        assert!(e.message.contains("true or false"), "{e:?}");
        let e =
            with_options("/snippet add", &[("name".into(), json!("x"))], Some(&defs)).unwrap_err();
        assert!(e.message.contains("needs text"), "{e:?}");
        let form = with_options(
            "submit reply-modal:U1",
            &[("text".into(), json!("Hi"))],
            None,
        )
        .unwrap();
        assert_eq!(
            form,
            AgentAction::Submit {
                custom_id: "reply-modal:U1".into(),
                fields: vec![("text".into(), "Hi".into())]
            }
        );
    }

    #[test]
    fn commands_as_typed() {
        assert_eq!(
            parse("/reply Sorry for the wait, it ships today").unwrap(),
            AgentAction::Slash {
                command: "reply".into(),
                sub: None,
                options: vec![("text".into(), json!("Sorry for the wait, it ships today"))]
            }
        );
        assert_eq!(
            parse("/tag tag:HUMAN_AGENT text:Your refund: done").unwrap(),
            AgentAction::Slash {
                command: "tag".into(),
                sub: None,
                options: vec![
                    ("tag".into(), json!("HUMAN_AGENT")),
                    ("text".into(), json!("Your refund: done"))
                ]
            }
        );
        assert_eq!(
            parse("/snippet add name:ship text:Ships in 2 days").unwrap(),
            AgentAction::Slash {
                command: "snippet".into(),
                sub: Some("add".into()),
                options: vec![
                    ("name".into(), json!("ship")),
                    ("text".into(), json!("Ships in 2 days"))
                ]
            }
        );
        assert_eq!(
            parse("press park").unwrap(),
            AgentAction::Press("park".into())
        );
    }

    #[test]
    fn mistakes_are_named() {
        assert!(parse("/repyl hi")
            .unwrap_err()
            .message
            .contains("unknown command /repyl"));
        assert!(parse("/snippet nope")
            .unwrap_err()
            .message
            .contains("needs a subcommand"));
        assert!(parse("/claim hi")
            .unwrap_err()
            .message
            .contains("no option"));
        assert!(parse("/snippet add name:x")
            .unwrap_err()
            .message
            .contains("needs text:"));
        assert!(parse("/reply split:maybe hi")
            .unwrap_err()
            .message
            .contains("true or false"));
    }
}
