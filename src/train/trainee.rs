//! A scripted trainee: agent commands at virtual times, written as agents type them
//! (the same syntax as a scenario step's `does`), for tests, demos and comparing
//! answers to an exercise without Discord.

use std::path::Path;

use jiff::SignedDuration;
use messenger::timefmt::parse_duration;
use scenario_format::command::{self, AgentAction};
use scenario_format::LoadError;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TraineeFile {
    trainee: Spanned<String>,
    #[serde(default)]
    exercise: Option<Spanned<String>>,
    #[serde(default)]
    command: Vec<Spanned<CommandFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandFile {
    at: Spanned<String>,
    #[serde(default)]
    customer: Option<Spanned<String>>,
    does: Spanned<String>,
}

/// One command of the trainee's.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// When, from the exercise's start.
    pub at: SignedDuration,
    /// The customer whose thread they type in (none for `/inbox`, `/status`).
    pub customer: Option<String>,
    /// As typed.
    pub typed: String,
    /// Parsed and checked against the bot's commands.
    pub action: AgentAction,
    /// Its line in the trainee file.
    pub line: usize,
}

/// A scripted trainee.
#[derive(Debug, Clone, PartialEq)]
pub struct Trainee {
    /// Their name, as the world's Discord shows them.
    pub name: String,
    /// The exercise the file is written for, if it says.
    pub exercise: Option<String>,
    /// Their commands, in time order.
    pub commands: Vec<Command>,
}

/// Reads and checks a trainee file; `customers` are the exercise's customer ids, which
/// commands must name.
pub fn load(path: &Path, customers: &[&str]) -> Result<Trainee, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::at(path, "", 0, format!("can't read: {e}"), None))?;
    parse(path, &text, customers)
}

/// Checks a trainee file's text; `path` names it in errors.
pub fn parse(path: &Path, text: &str, customers: &[&str]) -> Result<Trainee, LoadError> {
    let err = |offset: usize, message: String, hint: Option<String>| {
        LoadError::at(path, text, offset, message, hint)
    };
    let file: TraineeFile = toml::from_str(text).map_err(|e| {
        let mut error = scenario_format::load::toml_error(path, text, &e);
        if error.hint.is_some() {
            error.hint = Some("training/README.md lists every key".into());
        }
        error
    })?;
    let name = file.trainee.get_ref().trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        return Err(err(
            file.trainee.span().start,
            format!("the trainee's name {name:?} isn't a plain name"),
            Some("letters, digits, - and _, as in \"sam\"".into()),
        ));
    }
    let definitions = bot::commands::definitions::all();
    let mut commands: Vec<Command> = Vec::new();
    for c in &file.command {
        let offset = c.span().start;
        let c = c.get_ref();
        let at = parse_duration(c.at.get_ref()).map_err(|e| {
            err(
                c.at.span().start,
                format!("bad time {:?}: {e}", c.at.get_ref()),
                Some("durations from the exercise's start, like \"10m\" or \"1d 2h\"".into()),
            )
        })?;
        if at.is_negative() {
            return Err(err(
                c.at.span().start,
                "a command before the start".into(),
                None,
            ));
        }
        if commands.last().is_some_and(|last| at < last.at) {
            return Err(err(
                c.at.span().start,
                format!(
                    "command at {:?} comes before the one above it",
                    c.at.get_ref()
                ),
                Some("commands are in time order".into()),
            ));
        }
        let customer = match &c.customer {
            Some(who) if !customers.contains(&who.get_ref().as_str()) => {
                return Err(err(
                    who.span().start,
                    format!("unknown customer {:?}", who.get_ref()),
                    Some(format!(
                        "the exercise's customers: {}",
                        customers.join(", ")
                    )),
                ))
            }
            who => who.as_ref().map(|w| w.get_ref().clone()),
        };
        let action = command::parse(c.does.get_ref(), Some(&definitions))
            .map_err(|e| err(c.does.span().start, e.message, e.hint))?;
        commands.push(Command {
            at,
            customer,
            typed: c.does.get_ref().clone(),
            action,
            line: messenger::text::line_column(text, offset).0,
        });
    }
    Ok(Trainee {
        name: name.to_owned(),
        exercise: file.exercise.map(Spanned::into_inner),
        commands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"trainee = "sam"
exercise = "first-reply"

[[command]]
at = "10m"
customer = "ada"
does = "/reply Hi Ada!"

[[command]]
at = "11m"
does = "/inbox"
"#;

    #[test]
    fn commands_are_parsed_as_agents_type_them() {
        let t = parse(Path::new("t.toml"), OK, &["ada"]).unwrap();
        assert_eq!(t.name, "sam");
        assert_eq!(t.commands.len(), 2);
        assert_eq!(t.commands[0].at, SignedDuration::from_mins(10));
        assert_eq!(t.commands[0].line, 4);
        assert!(matches!(t.commands[1].action, AgentAction::Slash { .. }));
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = parse(
            Path::new("t.toml"),
            &OK.replace("/reply", "/replay"),
            &["ada"],
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (7, 8), "{e}");
        assert!(e.message.contains("unknown command /replay"), "{e}");
        let e = parse(Path::new("t.toml"), OK, &["ben"]).unwrap_err();
        assert_eq!((e.line, e.column), (6, 12), "{e}");
        let e = parse(Path::new("t.toml"), &OK.replace("11m", "1m"), &["ada"]).unwrap_err();
        assert!(e.message.contains("comes before"), "{e}");
    }
}
