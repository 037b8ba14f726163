//! Training exercises: a scenario's customer side, how those customers react to what
//! the trainee does, and how the trainee is scored.
//!
//! An exercise file reuses the scenario format's tables (`[page]`, `[customers.ID]`,
//! `[[step]]`, read by `scenario-format` and checked by its loader, so errors name the
//! file, line and column the same way) and adds `goal`, `ends`, reactions on each
//! customer and a `[scoring]` table. `training/README.md` documents it.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::SignedDuration;
use messenger::timefmt::parse_duration;
use scenario_format::format::{AgentSection, CustomerSection, File, PageSection, Step};
use scenario_format::{LoadError, Scenario};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The name the trainee has in an exercise's world before a trainee file names them.
pub const TRAINEE: &str = "trainee";

/// An exercise file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExerciseFile {
    name: String,
    goal: Spanned<String>,
    description: String,
    #[serde(default = "one")]
    seed: u64,
    #[serde(default)]
    start: Option<Spanned<String>>,
    #[serde(default)]
    rules: Option<Spanned<String>>,
    ends: Spanned<String>,
    #[serde(default)]
    page: PageSection,
    #[serde(default)]
    customers: BTreeMap<String, CustomerFile>,
    #[serde(default)]
    step: Vec<Spanned<Step>>,
    #[serde(default)]
    scoring: Scoring,
}

fn one() -> u64 {
    1
}

/// `[customers.ID]` in an exercise: the scenario's customer, what is expected of the
/// trainee for them, and how they react.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    task: Option<Spanned<String>>,
    #[serde(default)]
    on_reply: OneOrMany,
    #[serde(default)]
    reply_delay: Option<Spanned<String>>,
    #[serde(default)]
    if_silent_for: Option<Spanned<String>>,
    #[serde(default)]
    if_silent: Option<String>,
    #[serde(default)]
    on_park: Option<String>,
    #[serde(default)]
    park_delay: Option<Spanned<String>>,
    #[serde(default)]
    on_promo: Option<String>,
}

/// A string, or a list of them.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

/// What the trainee is expected to achieve for a customer; the scorer checks it in
/// the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Every message answered inside its 24-hour window.
    Answer,
    /// Every message answered within 7 days (as HUMAN_AGENT once the 24 hours are over).
    HumanAgent,
    /// Every window has closed: park a reply, and it goes out when they write again.
    Park,
    /// Nothing can reach them (they blocked the page): don't push.
    Leave,
}

impl Task {
    /// How long after a customer's message an answer still counts, for the tasks that
    /// ask for one.
    pub fn window(self) -> Option<SignedDuration> {
        match self {
            Task::Answer => Some(SignedDuration::from_hours(24)),
            Task::HumanAgent => Some(SignedDuration::from_hours(24 * 7)),
            Task::Park | Task::Leave => None,
        }
    }
}

/// How a customer reacts to what the page does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reactions {
    /// What they say after the page's first, second, ... message reaches them.
    pub on_reply: Vec<String>,
    /// How long after a message reaches them they answer it (default 5 minutes).
    pub reply_delay: SignedDuration,
    /// If nothing reaches them this long after their message, they say `if_silent`.
    pub if_silent_for: Option<(SignedDuration, String)>,
    /// When a reply to them is parked, they come back this long later saying this.
    pub on_park: Option<(SignedDuration, String)>,
    /// What they say (instead of `on_reply`) when a message that reaches them is
    /// promotional (by Meta's judge).
    pub on_promo: Option<String>,
}

/// A customer of an exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// What the trainee should achieve.
    pub task: Task,
    /// How they react.
    pub reactions: Reactions,
}

/// `[scoring]`: points for what the trainee achieves, and points lost per mistake.
/// A key left out is worth nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    /// Per customer to answer (`task = "answer"` or `"human_agent"`): every message
    /// answered before its window closed.
    #[serde(default)]
    pub answered_in_window: u32,
    /// Per customer to answer: the first reply reached them within `first_reply_within`.
    #[serde(default)]
    pub fast_first_reply: u32,
    /// The time-to-first-reply target, as a duration (`"1h"`).
    #[serde(default)]
    pub first_reply_within: Option<String>,
    /// Per customer to park for (`task = "park"`): a parked reply went out when they
    /// wrote again.
    #[serde(default)]
    pub parked_reply_sent: u32,
    /// Lost per refusal hit and then fixed (a park or a send that went out after it).
    #[serde(default)]
    pub refusal_fixed: u32,
    /// Lost per refusal left unfixed.
    #[serde(default)]
    pub refusal_ignored: u32,
    /// Lost per tag the conversation didn't allow (retired, outside its window, a
    /// template's, not needed in the 24-hour window).
    #[serde(default)]
    pub wrong_tag: u32,
    /// Lost per tagged promotion attempted.
    #[serde(default)]
    pub tagged_promotion: u32,
    /// Lost per send that would have cost the page a restriction.
    #[serde(default)]
    pub would_restrict: u32,
    /// Lost per customer to answer whose window closed on an unanswered message.
    #[serde(default)]
    pub window_missed: u32,
    /// Lost per send tried again to a customer Meta had said can't receive it.
    #[serde(default)]
    pub pushed_unreachable: u32,
}

/// An exercise, checked and ready to run.
#[derive(Debug, Clone)]
pub struct Exercise {
    /// Its name (the file's stem by convention).
    pub name: String,
    /// What the trainee should learn, in one line.
    pub goal: String,
    /// The customers' side as a scenario, with the trainee as its one agent.
    pub scenario: Scenario,
    /// When the exercise ends, from the start.
    pub ends: SignedDuration,
    /// Customers by id.
    pub customers: BTreeMap<String, Customer>,
    /// How it is scored.
    pub scoring: Scoring,
    /// `scoring.first_reply_within`, parsed.
    pub first_reply_within: Option<SignedDuration>,
}

/// Reads and checks an exercise file.
pub fn load(path: &Path) -> Result<Exercise, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::at(path, "", 0, format!("can't read: {e}"), None))?;
    parse(path, &text)
}

/// Where errors point: the file and its text.
struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, offset: usize, message: String, hint: Option<&str>) -> LoadError {
        LoadError::at(
            self.path,
            self.text,
            offset,
            message,
            hint.map(str::to_owned),
        )
    }

    fn duration(&self, s: &Spanned<String>, what: &str) -> Result<SignedDuration, LoadError> {
        parse_duration(s.get_ref()).map_err(|e| {
            self.err(
                s.span().start,
                format!("bad {what} {:?}: {e}", s.get_ref()),
                Some("durations look like \"30s\", \"36h\", \"2h 30m\" or \"7d\""),
            )
        })
    }
}

/// Checks an exercise's text; `path` names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Exercise, LoadError> {
    let cx = Ctx { path, text };
    let err = |offset, message, hint| cx.err(offset, message, hint);
    let duration = |s: &Spanned<String>, what: &str| cx.duration(s, what);
    let file: ExerciseFile = toml::from_str(text).map_err(|e| {
        let mut error = scenario_format::load::toml_error(path, text, &e);
        if error.hint.is_some() {
            error.hint = Some("training/README.md lists every key".into());
        }
        error
    })?;
    if file.goal.get_ref().trim().is_empty() || file.goal.get_ref().contains('\n') {
        return Err(err(
            file.goal.span().start,
            "`goal` is one line".into(),
            Some("what the trainee should learn, in a sentence"),
        ));
    }
    for step in &file.step {
        let s = step.get_ref();
        if let Some(does) = s
            .does
            .as_ref()
            .map(Spanned::span)
            .or(s.agent.as_ref().map(Spanned::span))
        {
            return Err(err(
                does.start,
                "an exercise's steps are the customers' side".into(),
                Some("the trainee's commands go in a trainee file (training/trainees/)"),
            ));
        }
        if s.faults.is_some()
            || s.discord_outage.is_some()
            || s.discord_faults.is_some()
            || s.restart
            || s.expect.is_some()
        {
            return Err(err(
                step.span().start,
                "an exercise step is what a customer or another app does".into(),
                Some("faults, outages, restarts and expectations belong in scenarios/"),
            ));
        }
    }
    let ends = duration(&file.ends, "ends")?;
    let mut customers = BTreeMap::new();
    for (id, c) in &file.customers {
        customers.insert(id.clone(), customer(c, &cx)?);
    }
    let first_reply_within = match &file.scoring.first_reply_within {
        Some(d) => Some(parse_duration(d).map_err(|e| {
            err(
                0,
                format!("bad scoring.first_reply_within {d:?}: {e}"),
                Some("a duration like \"1h\""),
            )
        })?),
        None if file.scoring.fast_first_reply > 0 => {
            return Err(err(
                0,
                "`scoring.fast_first_reply` needs `scoring.first_reply_within`".into(),
                Some("first_reply_within = \"1h\""),
            ))
        }
        None => None,
    };
    let agents = BTreeMap::from([(
        TRAINEE.to_owned(),
        AgentSection {
            roles: ["agent", "team"]
                .map(|r| Spanned::new(0..0, r.to_owned()))
                .to_vec(),
        },
    )]);
    let scenario_file = File {
        name: file.name.clone(),
        description: file.description,
        seed: file.seed,
        start: file.start,
        rules: file.rules,
        page: file.page,
        // An exercise is one page's: a trainee learns the desk before the business.
        pages: Default::default(),
        agents,
        customers: file
            .customers
            .iter()
            .map(|(id, c)| {
                let section = CustomerSection {
                    name: c.name.clone(),
                    page: None,
                };
                (id.clone(), section)
            })
            .collect(),
        generate: None,
        step: file.step,
    };
    let scenario = scenario_format::load::from_file(path, text, scenario_file, None)?;
    let last = scenario.steps.last().map_or(SignedDuration::ZERO, |s| s.at);
    if ends < last {
        return Err(err(
            file.ends.span().start,
            format!("the exercise ends before its last step ({})", exact(last)),
            None,
        ));
    }
    Ok(Exercise {
        name: file.name,
        goal: file.goal.into_inner(),
        scenario,
        ends,
        customers,
        scoring: file.scoring,
        first_reply_within,
    })
}

fn customer(c: &CustomerFile, cx: &Ctx<'_>) -> Result<Customer, LoadError> {
    let err = |offset, message, hint| cx.err(offset, message, hint);
    let duration = |s: &Spanned<String>, what: &str| cx.duration(s, what);
    let task = match &c.task {
        None => Task::Answer,
        Some(t) => match t.get_ref().as_str() {
            "answer" => Task::Answer,
            "human_agent" => Task::HumanAgent,
            "park" => Task::Park,
            "leave" => Task::Leave,
            other => {
                return Err(err(
                    t.span().start,
                    format!("unknown task {other:?}"),
                    Some("\"answer\", \"human_agent\", \"park\" or \"leave\""),
                ))
            }
        },
    };
    let reply_delay = match &c.reply_delay {
        Some(d) => duration(d, "reply_delay")?,
        None => SignedDuration::from_mins(5),
    };
    let if_silent_for = match (&c.if_silent_for, &c.if_silent) {
        (Some(d), Some(says)) => Some((duration(d, "if_silent_for")?, says.clone())),
        (None, None) => None,
        (Some(d), None) => {
            return Err(err(
                d.span().start,
                "`if_silent_for` needs `if_silent`, what they say then".into(),
                None,
            ))
        }
        (None, Some(_)) => {
            return Err(err(
                0,
                "`if_silent` needs `if_silent_for`, how long they wait".into(),
                None,
            ))
        }
    };
    let park_delay = match &c.park_delay {
        Some(d) => duration(d, "park_delay")?,
        None => SignedDuration::from_hours(24),
    };
    let on_reply = match &c.on_reply {
        OneOrMany::None => Vec::new(),
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    };
    Ok(Customer {
        task,
        reactions: Reactions {
            on_reply,
            reply_delay,
            if_silent_for,
            on_park: c.on_park.clone().map(|says| (park_delay, says)),
            on_promo: c.on_promo.clone(),
        },
    })
}

/// A duration exactly, in the scenario format's words: `"1d 2h 3m 4s"`, `"0s"`.
pub fn exact(d: SignedDuration) -> String {
    let ms = d.as_millis().max(0);
    let (secs, ms) = (ms / 1000, ms % 1000);
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (ms, "ms"),
    ];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if words.is_empty() {
        "0s".into()
    } else {
        words.join(" ")
    }
}

/// Finds an exercise by name in `dir` (`first-reply` is `dir/first-reply.toml`), or
/// takes `name` as a path when it is one.
pub fn find(name: &str, dir: &Path) -> std::path::PathBuf {
    let as_path = Path::new(name);
    if as_path.extension().is_some_and(|e| e == "toml") || as_path.is_file() {
        return as_path.to_owned();
    }
    dir.join(format!("{name}.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
name = "t"
goal = "Answer."
description = "A test."
ends = "1d"

[customers.ada]
name = "Ada"
on_reply = "Thanks!"
if_silent_for = "20h"
if_silent = "Hello?"

[[step]]
at = "0s"
customer = "ada"
says = "Hi"

[scoring]
answered_in_window = 10
"#;

    fn refused(text: &str) -> LoadError {
        parse(Path::new("x.toml"), text).expect_err("refused")
    }

    #[test]
    fn an_exercise_reads_into_a_scenario_and_reactions() {
        let e = parse(Path::new("x.toml"), OK).unwrap();
        assert_eq!(e.goal, "Answer.");
        assert_eq!(e.scenario.steps.len(), 1);
        assert!(e.scenario.agents.contains_key(TRAINEE));
        let ada = &e.customers["ada"];
        assert_eq!(ada.task, Task::Answer);
        assert_eq!(ada.reactions.on_reply, ["Thanks!"]);
        assert_eq!(
            ada.reactions.if_silent_for,
            Some((SignedDuration::from_hours(20), "Hello?".into()))
        );
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = refused(&OK.replace("on_reply", "on_rely"));
        assert_eq!((e.line, e.column), (9, 1), "{e}");
        assert!(e.message.contains("unknown field `on_rely`"), "{e}");
        let e = refused(&OK.replace("says = \"Hi\"", "agent = \"grace\"\ndoes = \"/reply hi\""));
        assert!(e.message.contains("customers' side"), "{e}");
        assert_eq!((e.line, e.column), (17, 8), "{e}");
        let e = refused(&OK.replace("customer = \"ada\"", "customer = \"bob\""));
        assert!(e.message.contains("unknown customer \"bob\""), "{e}");
        assert_eq!((e.line, e.column), (15, 12), "{e}");
        let e = refused(&OK.replace("ends = \"1d\"", "ends = \"soon\""));
        assert!(e.message.starts_with("bad ends"), "{e}");
        let e = refused(&OK.replace("[customers.ada]", "[customers.ada]\ntask = \"ignore\""));
        assert!(e.message.contains("unknown task"), "{e}");
    }

    #[test]
    fn durations_are_written_exactly() {
        assert_eq!(exact(SignedDuration::ZERO), "0s");
        assert_eq!(exact(SignedDuration::from_secs(93_784)), "1d 2h 3m 4s");
        let d = SignedDuration::from_millis(7_200_500);
        assert_eq!(parse_duration(&exact(d)).unwrap(), d);
    }
}
