//! Reading a scenario file into a [`Scenario`], or an error that names the file, line
//! and column, with a hint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use messenger::text::line_column;
use messenger::timefmt::parse_duration;
use messenger::Era;
use toml::Spanned;

use crate::command::{self, AgentAction};
use crate::format::{DiscordFaults, Expect, FaultSection, File, Step};
use crate::generate;

/// A scenario file that can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}{}", path.display(), hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// A team member in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDef {
    /// Their Discord user id (made up, stable).
    pub user_id: u64,
    /// May send.
    pub agent: bool,
    /// May look.
    pub team: bool,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing: a point in time to check expectations at.
    Wait,
    /// The customer writes.
    Says(String),
    /// The customer presses a button.
    Postback(String),
    /// The customer reacts.
    Reaction(String),
    /// The customer arrives through a link.
    Referral(String),
    /// The customer reads.
    Reads,
    /// The customer blocks or unblocks the page.
    Blocks(bool),
    /// Another app takes the conversation or gives it back.
    Handover(bool),
    /// Another app sends.
    OtherApp {
        /// The text.
        text: String,
        /// The tag.
        tag: Option<String>,
        /// To this many customers at once (`other_app_recipients`); `None` is the
        /// step's customer alone.
        recipients: Option<u32>,
    },
    /// An agent acts.
    Agent {
        /// Who.
        agent: String,
        /// What, as typed.
        typed: String,
        /// Parsed.
        action: AgentAction,
    },
    /// Meta misbehaves from now on.
    Faults(FaultSection),
    /// Discord goes down or comes back.
    DiscordOutage(bool),
    /// Discord loses answers or refuses calls for a while.
    DiscordFaults(DiscordFaults),
    /// The bot crashes and restarts.
    Restart,
}

/// One step of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedStep {
    /// When, from the start.
    pub at: SignedDuration,
    /// Happens at once with the step before it (same `at`): a run of concurrent steps
    /// is a group with the step before them.
    pub concurrent: bool,
    /// The line it is on (0 for generated steps).
    pub line: usize,
    /// The customer it concerns.
    pub customer: Option<String>,
    /// The further page it names (`page = "NAME"`), if it names one: a step with a
    /// customer concerns their page, and one with neither the first page.
    pub page: Option<String>,
    /// What happens.
    pub action: Action,
    /// What must hold after.
    pub expect: Option<Expect>,
}

/// A scenario, checked and ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Its seed.
    pub seed: u64,
    /// Where virtual time starts.
    pub start: Timestamp,
    /// The rules era.
    pub era: Era,
    /// The Human Agent feature.
    pub human_agent: bool,
    /// Which of the page's settings the file gives itself: those override a team's
    /// configuration applied to the run (`scenario run --config`).
    pub given: Given,
    /// Meta's judge's word list, if not the default.
    pub judge: Option<Vec<String>>,
    /// Extra phrases for the bot's guard.
    pub guard: Vec<String>,
    /// Meta's rate limit.
    pub rate_limit: Option<u32>,
    /// The team.
    pub agents: BTreeMap<String, AgentDef>,
    /// Customers in creation order: (id, name).
    pub customers: Vec<(String, Option<String>)>,
    /// Further pages (`[pages.NAME]`), by name; none for a one-page scenario.
    pub pages: Vec<PageDef>,
    /// The customers of further pages, by id, to their page's name (the others write
    /// to the first page).
    pub customer_pages: BTreeMap<String, String>,
    /// The timeline, in time order.
    pub steps: Vec<TimedStep>,
}

/// A further page of the business, as `[pages.NAME]` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageDef {
    /// Its name in the file.
    pub name: String,
    /// Its rules era.
    pub era: Era,
    /// The Human Agent feature.
    pub human_agent: bool,
    /// Meta's judge's word list, if not the default.
    pub judge: Option<Vec<String>>,
    /// Extra phrases for the bot's guard.
    pub guard: Vec<String>,
    /// Meta's rate limit.
    pub rate_limit: Option<u32>,
}

impl Scenario {
    /// Which page a step concerns: 0 for the first, `n` for `pages[n - 1]`.
    pub fn page_of(&self, step: &TimedStep) -> usize {
        match &step.customer {
            Some(c) => self.customer_page(c),
            None => self.page_index(step.page.as_deref()),
        }
    }

    /// Which page a customer writes to: 0 for the first, `n` for `pages[n - 1]`.
    pub fn customer_page(&self, customer: &str) -> usize {
        self.page_index(self.customer_pages.get(customer).map(String::as_str))
    }

    /// The page named `name` (0 for none or a name not declared).
    fn page_index(&self, name: Option<&str>) -> usize {
        name.and_then(|n| self.pages.iter().position(|p| p.name == n))
            .map_or(0, |i| i + 1)
    }
}

/// The default start: a Friday morning.
pub const DEFAULT_START: &str = "2026-11-20T09:00:00Z";

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, offset: usize, message: impl Into<String>, hint: Option<String>) -> LoadError {
        let (line, column) = line_column(self.text, offset);
        LoadError {
            path: self.path.to_owned(),
            line,
            column,
            message: message.into(),
            hint,
        }
    }

    fn duration(&self, s: &Spanned<String>, what: &str) -> Result<SignedDuration, LoadError> {
        parse_duration(s.get_ref()).map_err(|e| {
            self.err(
                s.span().start,
                format!("bad {what} {:?}: {e}", s.get_ref()),
                Some("durations look like \"30s\", \"36h\", \"2h 30m\" or \"7d\"".into()),
            )
        })
    }
}

/// Reads and checks `path`. Agents' commands are checked against `commands` (the bot's
/// command definitions, as registered with Discord); without them they are only parsed.
pub fn load(path: &Path, commands: Option<&serde_json::Value>) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: format!("can't read: {e}"),
        hint: None,
    })?;
    parse(path, &text, commands)
}

/// Checks a scenario's text; `path` names it in errors.
pub fn parse(
    path: &Path,
    text: &str,
    commands: Option<&serde_json::Value>,
) -> Result<Scenario, LoadError> {
    let file: File = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    from_file(path, text, file, commands)
}

/// A TOML error in `text` (read from `path`) as a [`LoadError`] at its line and column.
pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> LoadError {
    let offset = e.span().map_or(0, |s| s.start);
    let hint = e
        .message()
        .contains("unknown field")
        .then(|| "scenarios/README.md lists every key".to_owned());
    LoadError::at(path, text, offset, e.message().trim(), hint)
}

impl LoadError {
    /// An error at byte `offset` of `text`, the contents of `path`.
    pub fn at(
        path: &Path,
        text: &str,
        offset: usize,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> LoadError {
        Ctx { path, text }.err(offset, message, hint)
    }
}

/// Checks a file already read from TOML, whose spans point into `text`: for formats
/// that embed a scenario's tables in a file of their own (training exercises).
pub fn from_file(
    path: &Path,
    text: &str,
    file: File,
    commands: Option<&serde_json::Value>,
) -> Result<Scenario, LoadError> {
    let cx = Ctx { path, text };
    let start = match &file.start {
        Some(s) => s.get_ref().parse::<Timestamp>().map_err(|e| {
            cx.err(
                s.span().start,
                format!("bad start {:?}: {e}", s.get_ref()),
                Some(format!("an RFC 3339 instant like {DEFAULT_START:?}")),
            )
        })?,
        None => DEFAULT_START.parse().expect("valid default"),
    };
    let era = match &file.rules {
        Some(r) => rules_era(&cx, r)?,
        None => Era::default(),
    };
    let mut agents = BTreeMap::new();
    for (i, (name, a)) in file.agents.iter().enumerate() {
        let mut def = AgentDef {
            user_id: 500_001 + i as u64,
            agent: false,
            team: false,
        };
        for role in &a.roles {
            match role.get_ref().as_str() {
                "agent" => def.agent = true,
                "team" => def.team = true,
                other => {
                    return Err(cx.err(
                        role.span().start,
                        format!("unknown role {other:?}"),
                        Some("roles are \"agent\" (may send) and \"team\" (may look)".into()),
                    ));
                }
            }
        }
        agents.insert(name.clone(), def);
    }
    if let Some(r) = &file.page.rules {
        return Err(cx.err(
            r.span().start,
            "the first page's rules era is the file's `rules`",
            Some("move it above [page]: rules = \"meta-2026\"".into()),
        ));
    }
    let pages = other_pages(&cx, &file, era)?;
    let page_names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
    let known_page = |name: &Spanned<String>| -> Result<String, LoadError> {
        if page_names.contains(&name.get_ref().as_str()) {
            Ok(name.get_ref().clone())
        } else {
            Err(cx.err(
                name.span().start,
                format!("unknown page {:?}", name.get_ref()),
                Some(if page_names.is_empty() {
                    "further pages are declared as [pages.NAME]; the first is [page]".into()
                } else {
                    hint_list("further pages", &page_names)
                }),
            ))
        }
    };
    let mut customer_pages = BTreeMap::new();
    for (id, c) in &file.customers {
        if let Some(page) = &c.page {
            customer_pages.insert(id.clone(), known_page(page)?);
        }
    }
    let mut customers: Vec<(String, Option<String>)> = file
        .customers
        .iter()
        .map(|(id, c)| (id.clone(), c.name.clone()))
        .collect();
    let mut steps = Vec::new();
    if let Some(g) = &file.generate {
        let err = |offset, message, hint| cx.err(offset, message, hint);
        let (generated, gen_steps) = generate::expand(&err, g, file.seed)?;
        for step in &gen_steps {
            on_the_clock(
                &cx,
                start,
                step.at,
                g.span().start,
                "[generate] makes a message at",
            )?;
        }
        customers.extend(generated.into_iter().map(|id| (id, None)));
        steps.extend(gen_steps);
    }
    let known: Vec<&str> = customers.iter().map(|(id, _)| id.as_str()).collect();
    let mut previous: Option<SignedDuration> = None;
    let mut explicit = Vec::new();
    for step in &file.step {
        let offset = step.span().start;
        let s = step.get_ref();
        let at = step_time(&cx, s, offset, previous)?;
        let at_offset = s.at.as_ref().map_or(offset, |a| a.span().start);
        on_the_clock(&cx, start, at, at_offset, "a step at")?;
        previous = Some(at);
        let customer = match &s.customer {
            Some(c) if !known.contains(&c.get_ref().as_str()) => {
                return Err(cx.err(
                    c.span().start,
                    format!("unknown customer {:?}", c.get_ref()),
                    Some(hint_list("customers", &known)),
                ));
            }
            c => c.as_ref().map(|c| c.get_ref().clone()),
        };
        let page = s.page.as_ref().map(&known_page).transpose()?;
        if let (Some(c), Some(named)) = (&customer, &s.page) {
            let theirs = customer_pages.get(c);
            if theirs != Some(named.get_ref()) {
                return Err(cx.err(
                    named.span().start,
                    format!(
                        "customer {c:?} writes to {}, not to page {:?}",
                        theirs.map_or("the first page".to_owned(), |p| format!("page {p:?}")),
                        named.get_ref()
                    ),
                    Some("a customer's step concerns their page: leave `page` out".into()),
                ));
            }
        }
        let action = action(&cx, s, offset, &agents, commands)?;
        let needs_customer = matches!(
            action,
            Action::Says(_)
                | Action::Postback(_)
                | Action::Reaction(_)
                | Action::Referral(_)
                | Action::Reads
                | Action::Blocks(_)
                | Action::Handover(_)
                | Action::OtherApp { .. }
        );
        if needs_customer && customer.is_none() {
            return Err(cx.err(offset, "this step needs a `customer`", None));
        }
        let expect = match &s.expect {
            Some(e) => Some(check_expect(
                &cx,
                e,
                customer.is_some(),
                matches!(action, Action::Agent { .. }),
            )?),
            None => None,
        };
        let ends = expect.as_ref().and_then(|e| e.restriction_ends.as_deref());
        if let (Some(d), Some(e)) = (ends.and_then(|d| parse_duration(d).ok()), &s.expect) {
            on_the_clock(&cx, start, d, e.span().start, "expect.restriction_ends at")?;
        }
        let (line, _) = line_column(text, offset);
        explicit.push(TimedStep {
            at,
            concurrent: s.concurrent,
            line,
            customer,
            page,
            action,
            expect,
        });
    }
    // Generated traffic first at equal times, then the file's steps, each in order: a
    // concurrent group stays together, since its steps share one time.
    steps.extend(explicit);
    steps.sort_by_key(|s| s.at);
    Ok(Scenario {
        path: path.to_owned(),
        name: file.name,
        description: file.description,
        seed: file.seed,
        start,
        era,
        human_agent: file.page.human_agent.unwrap_or(true),
        given: Given {
            rules: file.rules.is_some(),
            human_agent: file.page.human_agent.is_some(),
        },
        judge: file.page.judge,
        guard: file.page.guard,
        rate_limit: file.page.rate_limit,
        agents,
        customers,
        pages,
        customer_pages,
        steps,
    })
}

/// A `rules = "..."` value.
fn rules_era(cx: &Ctx<'_>, rules: &Spanned<String>) -> Result<Era, LoadError> {
    rules.get_ref().parse::<Era>().map_err(|e| {
        cx.err(
            rules.span().start,
            e.to_string(),
            Some("\"meta-2026\" or \"legacy-2020\"".into()),
        )
    })
}

/// The file's `[pages.NAME]`, each with the file's era where it gives none.
fn other_pages(cx: &Ctx<'_>, file: &File, era: Era) -> Result<Vec<PageDef>, LoadError> {
    file.pages
        .iter()
        .map(|(name, section)| {
            let p = section.get_ref();
            let era = match &p.rules {
                Some(r) => rules_era(cx, r)?,
                None => era,
            };
            Ok(PageDef {
                name: name.clone(),
                era,
                human_agent: p.human_agent.unwrap_or(true),
                judge: p.judge.clone(),
                guard: p.guard.clone(),
                rate_limit: p.rate_limit,
            })
        })
        .collect()
}

/// The page settings a scenario file gives itself (the others take their defaults,
/// or a team's configuration when one is applied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given {
    /// `rules = ...`.
    pub rules: bool,
    /// `[page] human_agent = ...`.
    pub human_agent: bool,
}

/// A time from the start must be an instant a clock can show: the runner and
/// mock-graph add it to the start, and outside jiff's years -9999 to 9999 that panics.
fn on_the_clock(
    cx: &Ctx<'_>,
    start: Timestamp,
    at: SignedDuration,
    offset: usize,
    what: &str,
) -> Result<(), LoadError> {
    match start.checked_add(at) {
        Ok(_) => Ok(()),
        Err(_) => Err(cx.err(
            offset,
            format!(
                "{what} {at:#} from the start ({start}) is outside the instants a clock can show"
            ),
            Some("the years -9999 to 9999: a scenario lasts days, not millennia".into()),
        )),
    }
}

/// When a step happens: its own `at`, in time order, or, for a concurrent step, the
/// time of the step before it (which its `at`, if given, must repeat).
fn step_time(
    cx: &Ctx<'_>,
    s: &Step,
    offset: usize,
    previous: Option<SignedDuration>,
) -> Result<SignedDuration, LoadError> {
    let given =
        s.at.as_ref()
            .map(|at| cx.duration(at, "time").map(|d| (d, at)))
            .transpose()?;
    if s.concurrent {
        let Some(leader) = previous else {
            return Err(cx.err(
                offset,
                "a concurrent step happens at once with the step before it, and this one is first",
                Some("remove `concurrent`, or put the step after the one it happens with".into()),
            ));
        };
        return match given {
            Some((at, spanned)) if at != leader => Err(cx.err(
                spanned.span().start,
                format!(
                    "a concurrent step happens at the same instant as the step before it ({}), not at {:?}",
                    messenger::timefmt::human(leader),
                    spanned.get_ref()
                ),
                Some("leave `at` out of a concurrent step, or give the same time as the step before".into()),
            )),
            _ => Ok(leader),
        };
    }
    let Some((at, spanned)) = given else {
        return Err(cx.err(
            offset,
            "this step needs `at`",
            Some("when it happens, from the start: at = \"30s\"; or `concurrent = true` to happen at once with the step before".into()),
        ));
    };
    if previous.is_some_and(|p| at < p) {
        return Err(cx.err(
            spanned.span().start,
            format!(
                "step at {:?} comes before the step above it",
                spanned.get_ref()
            ),
            Some("steps are in time order".into()),
        ));
    }
    Ok(at)
}

fn hint_list(what: &str, known: &[&str]) -> String {
    let shown: Vec<&str> = known.iter().take(8).copied().collect();
    let more = if known.len() > 8 {
        format!(" and {} more", known.len() - 8)
    } else {
        String::new()
    };
    format!("known {what}: {}{more}", shown.join(", "))
}

fn action(
    cx: &Ctx<'_>,
    s: &Step,
    offset: usize,
    agents: &BTreeMap<String, AgentDef>,
    commands: Option<&serde_json::Value>,
) -> Result<Action, LoadError> {
    let mut found: Vec<Action> = Vec::new();
    if let Some(t) = &s.says {
        found.push(Action::Says(t.clone()));
    }
    if let Some(t) = &s.postback {
        found.push(Action::Postback(t.clone()));
    }
    if let Some(t) = &s.reaction {
        found.push(Action::Reaction(t.clone()));
    }
    if let Some(t) = &s.referral {
        found.push(Action::Referral(t.clone()));
    }
    if s.reads {
        found.push(Action::Reads);
    }
    if let Some(b) = s.blocks {
        found.push(Action::Blocks(b));
    }
    if let Some(b) = s.handover {
        found.push(Action::Handover(b));
    }
    if s.other_app_recipients == Some(0) {
        return Err(cx.err(
            offset,
            "`other_app_recipients` must be at least 1",
            Some("other_app_recipients = 100".into()),
        ));
    }
    if let Some(t) = &s.other_app {
        found.push(Action::OtherApp {
            text: t.clone(),
            tag: s.tag.clone(),
            recipients: s.other_app_recipients,
        });
    } else if s.other_app_recipients.is_some() {
        return Err(cx.err(offset, "`other_app_recipients` goes with `other_app`", None));
    } else if s.tag.is_some() {
        return Err(cx.err(
            offset,
            "`tag` goes with `other_app`",
            Some("agents tag with `does = \"/tag ...\"`".into()),
        ));
    }
    if let Some(f) = &s.faults {
        check_faults(cx, f, offset)?;
        found.push(Action::Faults(f.clone()));
    }
    if let Some(b) = s.discord_outage {
        found.push(Action::DiscordOutage(b));
    }
    if let Some(f) = s.discord_faults {
        found.push(Action::DiscordFaults(f));
    }
    if s.restart {
        found.push(Action::Restart);
    }
    match (&s.agent, &s.does) {
        (Some(agent), Some(does)) => {
            if !agents.contains_key(agent.get_ref()) {
                let known: Vec<&str> = agents.keys().map(String::as_str).collect();
                return Err(cx.err(
                    agent.span().start,
                    format!("unknown agent {:?}", agent.get_ref()),
                    Some(hint_list("agents", &known)),
                ));
            }
            let parsed = match &s.options {
                Some(options) => {
                    let mut given = Vec::new();
                    for (k, v) in options.get_ref() {
                        let v = match v {
                            toml::Value::String(t) => serde_json::Value::from(t.as_str()),
                            toml::Value::Boolean(b) => serde_json::Value::from(*b),
                            _ => {
                                return Err(cx.err(
                                    options.span().start,
                                    format!("option {k}: text or true/false"),
                                    None,
                                ))
                            }
                        };
                        given.push((k.clone(), v));
                    }
                    command::with_options(does.get_ref(), &given, commands)
                        .map_err(|e| cx.err(options.span().start, e.message, e.hint))?
                }
                None => command::parse(does.get_ref(), commands)
                    .map_err(|e| cx.err(does.span().start, e.message, e.hint))?,
            };
            found.push(Action::Agent {
                agent: agent.get_ref().clone(),
                typed: does.get_ref().clone(),
                action: parsed,
            });
        }
        (Some(a), None) => {
            return Err(cx.err(
                a.span().start,
                "an `agent` step needs `does`",
                Some("e.g. does = \"/reply text:Thanks!\"".into()),
            ))
        }
        (None, Some(d)) => return Err(cx.err(d.span().start, "`does` needs an `agent`", None)),
        (None, None) if s.options.is_some() => {
            let at = s.options.as_ref().map_or(0, |o| o.span().start);
            return Err(cx.err(at, "`options` go with an agent's `does`", None));
        }
        (None, None) => {}
    }
    match found.len() {
        0 => Ok(Action::Wait),
        1 => Ok(found.remove(0)),
        _ => Err(cx.err(
            offset,
            "a step does one thing",
            Some("split it into several steps at the same time".into()),
        )),
    }
}

/// A `faults = {...}` table's durations parse and aren't negative, and its
/// probabilities are probabilities.
fn check_faults(cx: &Ctx<'_>, f: &FaultSection, offset: usize) -> Result<(), LoadError> {
    for (name, value, like) in [
        ("latency", &f.latency, "\"400ms\""),
        ("echo_lag", &f.echo_lag, "\"5m\""),
        ("late_redelivery", &f.late_redelivery, "\"1h\""),
        ("profile_latency", &f.profile_latency, "\"5s\""),
    ] {
        let Some(text) = value else { continue };
        match parse_duration(text) {
            Ok(d) if !d.is_negative() => {}
            Ok(_) => {
                return Err(cx.err(
                    offset,
                    format!("faults.{name} = {text:?} is negative"),
                    Some(format!("a duration like {like}, or \"0s\" for none")),
                ))
            }
            Err(e) => {
                return Err(cx.err(
                    offset,
                    format!("bad {name} {text:?}: {e}"),
                    Some(format!("like {like}")),
                ))
            }
        }
    }
    for (name, p) in [
        ("graph_errors", f.graph_errors),
        ("drop", f.drop),
        ("duplicate", f.duplicate),
        ("reorder", f.reorder),
        ("profile_errors", f.profile_errors),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(cx.err(
                offset,
                format!("faults.{name} = {p} is not a probability"),
                Some("between 0 and 1".into()),
            ));
        }
    }
    Ok(())
}

const OUTCOMES: [&str; 10] = [
    "sent", "partial", "refused", "warned", "parked", "failed", "pending", "denied", "error",
    "done",
];
const WINDOWS: [&str; 3] = ["standard", "human_agent", "expired"];
const LEVELS: [&str; 6] = ["none", "1d", "3d", "7d", "365d", "permanent"];

fn check_expect(
    cx: &Ctx<'_>,
    e: &Spanned<Expect>,
    has_customer: bool,
    has_agent: bool,
) -> Result<Expect, LoadError> {
    let at = e.span().start;
    let x = e.get_ref();
    let per_customer = [
        ("window", x.window.is_some()),
        ("label", x.label.is_some()),
        ("thread_posts", x.thread_posts.is_some()),
    ];
    for (field, set) in per_customer {
        if set && !has_customer {
            return Err(cx.err(
                at,
                format!("`expect.{field}` is about a customer, and this step has none"),
                Some("add `customer = ...` to the step".into()),
            ));
        }
    }
    for (field, set) in [("outcome", x.outcome.is_some()), ("says", x.says.is_some())] {
        if set && !has_agent {
            return Err(cx.err(
                at,
                format!("`expect.{field}` is about an agent's action, and this step has none"),
                Some("add `agent` and `does` to the step".into()),
            ));
        }
    }
    let one_of = |field: &str, value: &Option<String>, allowed: &[&str]| -> Result<(), LoadError> {
        match value {
            Some(v) if !allowed.contains(&v.as_str()) => Err(cx.err(
                at,
                format!("`expect.{field}` can't be {v:?}"),
                Some(format!("one of {}", allowed.join(", "))),
            )),
            _ => Ok(()),
        }
    };
    one_of("outcome", &x.outcome, &OUTCOMES)?;
    one_of("window", &x.window, &WINDOWS)?;
    one_of("restriction", &x.restriction, &LEVELS)?;
    one_of("bot_restriction", &x.bot_restriction, &LEVELS)?;
    one_of("worst_restriction", &x.worst_restriction, &LEVELS)?;
    // A promise broken can't be expected: only `true` checks something.
    for (field, value) in [
        ("nothing_lost", x.nothing_lost),
        ("answers_true", x.answers_true),
        ("replies_kept", x.replies_kept),
        ("record_agrees", x.record_agrees),
    ] {
        if value == Some(false) {
            return Err(cx.err(
                at,
                format!(
                    "`expect.{field} = false` checks nothing: a broken promise can't be expected"
                ),
                Some(format!("write `{field} = true`, or leave it out")),
            ));
        }
    }
    if let Some(d) = &x.restriction_ends {
        parse_duration(d).map_err(|err| {
            cx.err(
                at,
                format!("bad expect.restriction_ends {d:?}: {err}"),
                None,
            )
        })?;
    }
    Ok(x.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"
name = "t"
description = "A test."

[agents.grace]
[agents.alan]

[customers.ada]
"#;

    fn load(steps: &str) -> Result<Scenario, LoadError> {
        parse(Path::new("t.toml"), &format!("{HEAD}{steps}"), None)
    }

    fn refused(steps: &str) -> LoadError {
        load(steps).expect_err("refused")
    }

    #[test]
    fn a_concurrent_step_shares_the_time_of_the_step_before() {
        let s = load(
            r#"
[[step]]
at = "26h"
customer = "ada"
agent = "grace"
does = "/reply One"

[[step]]
concurrent = true
customer = "ada"
agent = "alan"
does = "/reply Two"

[[step]]
at = "26h"
concurrent = true
customer = "ada"
agent = "grace"
does = "press confirm"
"#,
        )
        .unwrap();
        let times: Vec<_> = s.steps.iter().map(|s| (s.at, s.concurrent)).collect();
        let at = SignedDuration::from_hours(26);
        assert_eq!(times, [(at, false), (at, true), (at, true)]);
    }

    #[test]
    fn a_concurrent_step_at_another_time_is_refused() {
        let e = refused(
            r#"
[[step]]
at = "26h"
customer = "ada"
agent = "grace"
does = "/reply One"

[[step]]
at = "26h 1m"
concurrent = true
customer = "ada"
agent = "alan"
does = "/reply Two"
"#,
        );
        assert_eq!((e.line, e.column), (17, 6), "{e}");
        assert!(
            e.message
                .contains("same instant as the step before it (1d 2h), not at \"26h 1m\""),
            "{e}"
        );
        assert!(e.hint.unwrap().contains("leave `at` out"));
    }

    #[test]
    fn a_first_concurrent_step_and_a_step_without_time_are_refused() {
        let e = refused("[[step]]\nconcurrent = true\ncustomer = \"ada\"\nsays = \"hi\"\n");
        assert!(e.message.contains("this one is first"), "{e}");
        let e = refused(
            "[[step]]\nat = \"0s\"\ncustomer = \"ada\"\nsays = \"hi\"\n\n[[step]]\ncustomer = \"ada\"\nsays = \"again\"\n",
        );
        assert_eq!(e.line, 14, "{e}");
        assert_eq!(e.message, "this step needs `at`");
    }

    #[test]
    fn nothing_lost_false_is_refused() {
        let e = refused("[[step]]\nat = \"1h\"\nexpect = { nothing_lost = false }\n");
        assert!(
            e.message.contains("nothing_lost = false` checks nothing"),
            "{e}"
        );
        assert!(load("[[step]]\nat = \"1h\"\nexpect = { nothing_lost = true }\n").is_ok());
    }

    #[test]
    fn new_expectations_are_checked() {
        let s = load(
            "[[step]]\nat = \"1h\"\nexpect = { duplicates = 0, worst_restriction = \"1d\", warnings = 1 }\n",
        )
        .unwrap();
        let x = s.steps[0].expect.as_ref().unwrap();
        assert_eq!(x.duplicates, Some(0));
        assert_eq!(x.worst_restriction.as_deref(), Some("1d"));
        let e = refused("[[step]]\nat = \"1h\"\nexpect = { worst_restriction = \"2d\" }\n");
        assert!(
            e.message
                .contains("`expect.worst_restriction` can't be \"2d\""),
            "{e}"
        );
        let e = refused(
            "[[step]]\nat = \"1h\"\ncustomer = \"ada\"\nagent = \"grace\"\ndoes = \"/status\"\nexpect = { outcome = \"oops\" }\n",
        );
        assert!(e.hint.unwrap().contains("partial") && e.message.contains("oops"));
    }

    #[test]
    fn echo_lag_and_late_redelivery_are_faults() {
        let s = load(
            "[[step]]\nat = \"0s\"\nfaults = { latency = \"400ms\", echo_lag = \"5m\", late_redelivery = \"1h\", drop = 1.0 }\n",
        )
        .unwrap();
        let Action::Faults(f) = &s.steps[0].action else {
            panic!("{:?}", s.steps[0].action)
        };
        assert_eq!(f.echo_lag.as_deref(), Some("5m"));
        assert_eq!(f.late_redelivery.as_deref(), Some("1h"));
        assert_eq!(f.drop, 1.0);
        let e = refused("[[step]]\nat = \"0s\"\nfaults = { echo_lag = \"later\" }\n");
        assert!(e.message.starts_with("bad echo_lag \"later\""), "{e}");
        let e = refused("[[step]]\nat = \"0s\"\nfaults = { late_redelivery = \"-1h\" }\n");
        assert!(e.message.contains("is negative"), "{e}");
        let e = refused("[[step]]\nat = \"0s\"\nfaults = { echo_delay = \"5m\" }\n");
        assert!(e.message.contains("unknown field `echo_delay`"), "{e}");
    }

    #[test]
    fn times_past_the_clock_are_refused() {
        // Found by fuzzing: these loaded, and `tagdesk scenario run` then panicked
        // adding them to the start.
        let e = refused("[[step]]\nat = \"699999993h\"\ncustomer = \"ada\"\nsays = \"hi\"\n");
        assert!(
            e.message.contains("outside the instants a clock can show"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (10, 6), "{e}");
        let e = refused(
            "[[step]]\nat = \"0s\"\ncustomer = \"ada\"\nexpect = { restriction_ends = \"-175000000h\" }\n",
        );
        assert!(e.message.starts_with("expect.restriction_ends at"), "{e}");
        let far = "[generate]\ncount = 1\nfrom = \"70000000h\"\nuntil = \"70000001h\"\ntemplates.en = [\"hi\"]\n";
        let e = refused(far);
        assert!(
            e.message.starts_with("[generate] makes a message at"),
            "{e}"
        );
        assert!(load("[[step]]\nat = \"3650d\"\ncustomer = \"ada\"\nsays = \"hi\"\n").is_ok());
    }

    #[test]
    fn further_pages_have_their_customers_and_steps() {
        let text = r#"
name = "t"
description = "Two pages."
rules = "meta-2026"

[pages.outlet]
rules = "legacy-2020"
human_agent = false

[agents.grace]

[customers.ada]

[customers.ben]
page = "outlet"

[[step]]
at = "0s"
customer = "ben"
says = "hi"

[[step]]
at = "1m"
page = "outlet"
agent = "grace"
does = "/status"

[[step]]
at = "2m"
agent = "grace"
does = "/status"
"#;
        let s = parse(Path::new("t.toml"), text, None).expect("loads");
        assert_eq!(s.pages.len(), 1);
        let outlet = &s.pages[0];
        assert_eq!(
            (outlet.name.as_str(), outlet.era),
            ("outlet", Era::Legacy2020)
        );
        assert!(!outlet.human_agent);
        assert_eq!((s.customer_page("ada"), s.customer_page("ben")), (0, 1));
        let pages: Vec<usize> = s.steps.iter().map(|st| s.page_of(st)).collect();
        assert_eq!(pages, [1, 1, 0], "ben's page, the page named, the first");
    }

    #[test]
    fn unknown_pages_and_a_customer_on_another_page_are_refused() {
        let e = refused(
            "[[step]]\nat = \"0s\"\npage = \"outlet\"\nagent = \"grace\"\ndoes = \"/status\"\n",
        );
        assert!(e.message.contains("unknown page \"outlet\""), "{e}");
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .contains("[pages.NAME]"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (11, 8), "{e}");

        let text = "name = \"t\"\ndescription = \"d\"\n[pages.outlet]\n[customers.ada]\n[customers.ben]\npage = \"outlt\"\n";
        let e = parse(Path::new("t.toml"), text, None).expect_err("refused");
        assert!(e.message.contains("unknown page \"outlt\""), "{e}");
        assert!(
            e.hint.as_deref().unwrap_or_default().contains("outlet"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (6, 8), "{e}");

        let text = "name = \"t\"\ndescription = \"d\"\n[pages.outlet]\n[customers.ada]\n[[step]]\nat = \"0s\"\ncustomer = \"ada\"\npage = \"outlet\"\nsays = \"hi\"\n";
        let e = parse(Path::new("t.toml"), text, None).expect_err("refused");
        assert!(
            e.message
                .contains("customer \"ada\" writes to the first page, not to page \"outlet\""),
            "{e}"
        );
        let text = "name = \"t\"\ndescription = \"d\"\n[pages.outlet]\nrules = \"2020\"\n";
        let e = parse(Path::new("t.toml"), text, None).expect_err("refused");
        assert_eq!((e.line, e.column), (4, 9), "{e}");
        // The first page's era is the file's own key, not a second one in [page].
        let text = "name = \"t\"\ndescription = \"d\"\n[page]\nrules = \"legacy-2020\"\n";
        let e = parse(Path::new("t.toml"), text, None).expect_err("refused");
        assert!(e.message.contains("the file's `rules`"), "{e}");
        assert_eq!((e.line, e.column), (4, 9), "{e}");
    }
}
