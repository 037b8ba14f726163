//! A session written as a normal scenario file: the exercise's page and customers,
//! every step played (the customers' messages and reactions, the trainee's commands at
//! their virtual times) in the order it was played, and as expectations what actually
//! happened: each command's outcome, and at the end Meta's record of the page. A
//! trainee's real mistake becomes a QA regression that `tagdesk scenario run` replays.

use std::fmt::Write as _;

use mock_graph::platform::Outcome;
use scenario_format::{Action, Scenario};

use super::exercise::{exact, Exercise};
use super::session::{Origin, Played};
use crate::scenario::world::World;
use scenario_format::command::AgentAction;

/// The recorded scenario's name: `training-EXERCISE-TRAINEE`.
pub fn name(ex: &Exercise, trainee: &str) -> String {
    format!("training-{}-{trainee}", ex.name)
}

/// The recorded scenario's description.
pub fn description(ex: &Exercise, trainee: &str) -> String {
    format!("{trainee}'s training session of {}: {}", ex.name, ex.goal)
}

/// What holds at the end of a session, as the final step's expectations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Final {
    /// Send API calls Meta accepted, in all.
    pub sends: usize,
    /// Meta's warnings to the page.
    pub warnings: u32,
    /// The worst restriction Meta imposed.
    pub worst: String,
    /// Replies parked and not yet sent.
    pub parked: usize,
}

/// Reads [`Final`] from the world.
pub fn final_expect(w: &World) -> anyhow::Result<Final> {
    let (sends, warnings, worst) = {
        let p = w.mock().lock();
        let sends = p
            .sent
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Sent(_)))
            .count();
        let worst = p
            .enforcement
            .rung()
            .map_or("none".to_owned(), |l| l.as_str().to_owned());
        (sends, p.enforcement.warnings, worst)
    };
    let mut parked = 0;
    for psid in w.psids.values() {
        parked += w.engine().store.parked(psid)?.len();
    }
    Ok(Final {
        sends,
        warnings,
        worst,
        parked,
    })
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        name.to_owned()
    } else {
        quoted(name)
    }
}

/// The scenario file of a session of `s` that played `played`.
pub fn scenario_file(s: &Scenario, played: &[Played], end: &Final) -> String {
    let mut out = String::new();
    let trainee = s.agents.keys().next().cloned().unwrap_or_default();
    let commands = played
        .iter()
        .filter(|p| matches!(p.origin, Origin::Trainee(_)))
        .count();
    let _ = writeln!(
        out,
        "# Recorded by `tagdesk train`: {trainee}'s session, {commands} command(s).\n\
         # Replay it with `tagdesk scenario run FILE`: each expectation is what happened."
    );
    let _ = writeln!(out, "name = {}", quoted(&s.name));
    let _ = writeln!(out, "description = {}", quoted(&s.description));
    let _ = writeln!(out, "seed = {}", s.seed);
    let _ = writeln!(out, "start = {}", quoted(&s.start.to_string()));
    let _ = writeln!(out, "rules = {}", quoted(s.era.as_str()));
    let _ = writeln!(out, "\n[page]\nhuman_agent = {}", s.human_agent);
    if let Some(judge) = &s.judge {
        let _ = writeln!(out, "judge = {}", list(judge));
    }
    if !s.guard.is_empty() {
        let _ = writeln!(out, "guard = {}", list(&s.guard));
    }
    if let Some(r) = s.rate_limit {
        let _ = writeln!(out, "rate_limit = {r}");
    }
    for (name, def) in &s.agents {
        let roles: Vec<String> = [(def.agent, "agent"), (def.team, "team")]
            .into_iter()
            .filter(|(has, _)| *has)
            .map(|(_, r)| r.to_owned())
            .collect();
        let _ = writeln!(out, "\n[agents.{}]\nroles = {}", key(name), list(&roles));
    }
    for (id, name) in &s.customers {
        let _ = writeln!(out, "\n[customers.{id}]");
        if let Some(name) = name {
            let _ = writeln!(out, "name = {}", quoted(name));
        }
    }
    for p in played {
        out.push('\n');
        out.push_str(&step(p, &trainee, end));
    }
    out
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quoted(i)).collect();
    format!("[{}]", quoted.join(", "))
}

/// One played step as a `[[step]]` table, with a comment saying where it came from.
fn step(p: &Played, trainee: &str, end: &Final) -> String {
    let s = &p.step;
    let mut lines = vec![match &p.origin {
        Origin::Exercise => "# the exercise".to_owned(),
        Origin::Reaction(why) => format!("# the customer reacts: {why}"),
        Origin::Trainee(0) => format!("# {trainee}, at the desk"),
        Origin::Trainee(line) => format!("# {trainee}, trainee file line {line}"),
        Origin::Trainer => "# the trainer, playing the customer live".to_owned(),
        Origin::End => "# the end of the exercise: what Meta and tagdesk hold".to_owned(),
    }];
    lines.push("[[step]]".into());
    lines.push(format!("at = {}", quoted(&exact(s.at))));
    if let Some(c) = &s.customer {
        lines.push(format!("customer = {}", quoted(c)));
    }
    let mut expect = Vec::new();
    match &s.action {
        Action::Wait => {}
        Action::Says(t) => lines.push(format!("says = {}", quoted(t))),
        Action::Postback(t) => lines.push(format!("postback = {}", quoted(t))),
        Action::Reaction(t) => lines.push(format!("reaction = {}", quoted(t))),
        Action::Referral(t) => lines.push(format!("referral = {}", quoted(t))),
        Action::Reads => lines.push("reads = true".into()),
        Action::Blocks(b) => lines.push(format!("blocks = {b}")),
        Action::Handover(b) => lines.push(format!("handover = {b}")),
        Action::OtherApp {
            text,
            tag,
            recipients,
        } => {
            lines.push(format!("other_app = {}", quoted(text)));
            if let Some(tag) = tag {
                lines.push(format!("tag = {}", quoted(tag)));
            }
            if let Some(n) = recipients {
                lines.push(format!("other_app_recipients = {n}"));
            }
        }
        Action::Agent {
            agent,
            typed,
            action,
        } => match p.outcome {
            Some(outcome) => {
                lines.push(format!("agent = {}", quoted(agent)));
                lines.push(format!("does = {}", quoted(typed)));
                if let Some(options) = exact_options(typed, action) {
                    lines.push(format!("options = {options}"));
                }
                expect.push(format!("outcome = {}", quoted(outcome)));
            }
            // Nothing reached the bot: the replay only lets it work at this instant.
            None => lines.insert(1, format!("# ({typed}: no such button, nothing happened)")),
        },
        // Exercises refuse these when they are loaded.
        Action::Faults(_)
        | Action::DiscordOutage(_)
        | Action::DiscordFaults(_)
        | Action::Restart => {}
    }
    if p.origin == Origin::End {
        expect.extend([
            format!("sends = {}", end.sends),
            format!("warnings = {}", end.warnings),
            format!("worst_restriction = {}", quoted(&end.worst)),
            format!("parked = {}", end.parked),
            "answers_true = true".into(),
            "replies_kept = true".into(),
        ]);
    }
    if !expect.is_empty() {
        lines.push(format!("expect = {{ {} }}", expect.join(", ")));
    }
    lines.join("\n") + "\n"
}

/// The `options` table a step needs when what was done can't be read back from how it
/// is shown (a live session's command with a `text:` inside its text, a form):
/// `None` when `typed` alone replays as `action`.
fn exact_options(typed: &str, action: &AgentAction) -> Option<String> {
    let definitions = bot::commands::definitions::all();
    if scenario_format::command::parse(typed, Some(&definitions)).as_ref() == Ok(action) {
        return None;
    }
    let pairs: Vec<String> = match action {
        AgentAction::Slash { options, .. } => options
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::Bool(b) => format!("{k} = {b}"),
                other => format!("{k} = {}", quoted(other.as_str().unwrap_or_default())),
            })
            .collect(),
        AgentAction::Submit { fields, .. } => fields
            .iter()
            .map(|(k, v)| format!("{k} = {}", quoted(v)))
            .collect(),
        _ => return None,
    };
    Some(format!("{{ {} }}", pairs.join(", ")))
}
