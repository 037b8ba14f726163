//! A generated world as data: the explorer's own small model of a scenario, which the
//! generator builds, the shrinker edits and [`Plan::render`] writes as a scenario file
//! in the public format (so every world the explorer runs is a file anyone can run).

use std::fmt::Write as _;

/// Meta's faults in force from a step on (the scenario format's `faults = {...}`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Share of Send API calls failing with a 500.
    pub graph_errors: f64,
    /// The next this-many Send API calls refused 613.
    pub rate_limit_burst: u32,
    /// Send API latency in milliseconds (past 150 ms the answer is lost).
    pub latency_ms: u32,
    /// Share of webhook deliveries lost (and retried).
    pub drop: f64,
    /// Share of webhook deliveries arriving twice.
    pub duplicate: f64,
    /// Share of batches with their events reversed.
    pub reorder: f64,
    /// Echoes of the bot's sends arrive this many seconds late.
    pub echo_lag_secs: u32,
    /// Every delivery arrives once more this many seconds later.
    pub late_redelivery_secs: u32,
}

impl Faults {
    /// Whether nothing is set: `faults = {}`.
    pub fn is_empty(&self) -> bool {
        *self == Faults::default()
    }

    /// The inline table, with only the keys that are set.
    fn render(&self) -> String {
        let mut keys = Vec::new();
        if self.graph_errors > 0.0 {
            keys.push(format!("graph_errors = {}", self.graph_errors));
        }
        if self.rate_limit_burst > 0 {
            keys.push(format!("rate_limit_burst = {}", self.rate_limit_burst));
        }
        if self.latency_ms > 0 {
            keys.push(format!("latency = \"{}ms\"", self.latency_ms));
        }
        if self.drop > 0.0 {
            keys.push(format!("drop = {}", self.drop));
        }
        if self.duplicate > 0.0 {
            keys.push(format!("duplicate = {}", self.duplicate));
        }
        if self.reorder > 0.0 {
            keys.push(format!("reorder = {}", self.reorder));
        }
        if self.echo_lag_secs > 0 {
            keys.push(format!(
                "echo_lag = \"{}\"",
                duration(self.echo_lag_secs.into())
            ));
        }
        if self.late_redelivery_secs > 0 {
            keys.push(format!(
                "late_redelivery = \"{}\"",
                duration(self.late_redelivery_secs.into())
            ));
        }
        if keys.is_empty() {
            "{}".into()
        } else {
            format!("{{ {} }}", keys.join(", "))
        }
    }
}

/// What happens in one step of a generated world.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A customer (by index into [`Plan::customers`]) writes.
    Says {
        /// Who.
        customer: usize,
        /// What.
        text: String,
    },
    /// An agent (by index into [`Plan::agents`]) acts in a customer's thread, as typed:
    /// `/reply ...`, `press confirm`, `press park`.
    Agent {
        /// Who acts.
        agent: usize,
        /// Whose thread.
        customer: usize,
        /// What they type or press.
        does: String,
    },
    /// Another app sends to a customer, tagged or not.
    OtherApp {
        /// To whom.
        customer: usize,
        /// What.
        text: String,
        /// With this tag.
        tag: Option<String>,
    },
    /// A customer does something other than write.
    Acts {
        /// Who.
        customer: usize,
        /// What.
        act: CustomerAct,
    },
    /// Meta's faults from now on.
    Faults(Faults),
    /// Discord goes down (true) or comes back (false).
    DiscordOutage(bool),
    /// Discord's next calls: this many take effect with their answers lost, then this
    /// many are refused 429.
    DiscordFaults {
        /// Answers lost.
        lost_answers: u32,
        /// Calls refused 429.
        rate_limited: u32,
    },
    /// The bot crashes and restarts.
    Restart,
}

impl Event {
    /// The customer the event concerns, if any.
    pub fn customer(&self) -> Option<usize> {
        match self {
            Event::Says { customer, .. }
            | Event::Agent { customer, .. }
            | Event::Acts { customer, .. }
            | Event::OtherApp { customer, .. } => Some(*customer),
            _ => None,
        }
    }
}

/// What a customer does besides writing: the scenario format's customer keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerAct {
    /// Presses a button (`postback = "..."`).
    Postback(String),
    /// Reacts to the page's last message (`reaction = "..."`).
    Reaction(String),
    /// Arrives through a link (`referral = "..."`).
    Referral(String),
    /// Reads the conversation (`reads = true`).
    Reads,
    /// Blocks (true) or unblocks the page (`blocks = ...`).
    Blocks(bool),
    /// Another app takes the conversation (true) or gives it back (`handover = ...`).
    Handover(bool),
}

impl CustomerAct {
    /// The step's key and value, as in the file.
    fn render(&self) -> String {
        match self {
            CustomerAct::Postback(p) => format!("postback = {}", quote(p)),
            CustomerAct::Reaction(r) => format!("reaction = {}", quote(r)),
            CustomerAct::Referral(r) => format!("referral = {}", quote(r)),
            CustomerAct::Reads => "reads = true".into(),
            CustomerAct::Blocks(on) => format!("blocks = {on}"),
            CustomerAct::Handover(on) => format!("handover = {on}"),
        }
    }
}

/// The generated team member without the agent role: may look, may not send.
pub const TEAM_ONLY: &str = "ada";

/// Events at one virtual instant; more than one is a group of `concurrent = true`
/// steps, run at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Seconds from the start.
    pub at: u64,
    /// What happens, in file order.
    pub events: Vec<Event>,
}

/// The invariants written into the file as expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// `duplicates = 0` after every step and at the end.
    pub duplicates: bool,
    /// `warnings = 0, worst_restriction = "none"` after every step and at the end
    /// (only meaningful when no other app sends: another app's tagged or
    /// promotional send may earn the page a warning that isn't tagdesk's).
    pub no_penalty: bool,
    /// `nothing_lost = true` once everything has settled.
    pub nothing_lost: bool,
    /// `replies_kept = true, answers_true = true, record_agrees = true` once
    /// everything has settled.
    pub promises: bool,
}

/// How long after the last event the final check runs: Meta retries a webhook for
/// about an hour, `late_redelivery` is at most an hour, and the outbox backs off in
/// minutes, so three hours is settled.
pub const SETTLE_SECS: u64 = 3 * 3600;

/// A generated world: who is in it and what happens when.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The scenario's seed (mock-graph's ids and random fault choices).
    pub seed: u64,
    /// The scenario's name.
    pub name: String,
    /// What it is, for the file's description.
    pub description: String,
    /// Where virtual time starts (RFC 3339), and with it the rules era: worlds fall on
    /// both sides of the retirement of 2026-04-27.
    pub start: String,
    /// Agents' names (all with the `agent` and `team` roles, but [`TEAM_ONLY`]).
    pub agents: Vec<String>,
    /// Customers' ids.
    pub customers: Vec<String>,
    /// A second page served by the same deployment (`[pages.outlet]`), if the world
    /// has one; the first page has the Human Agent feature.
    pub second_page: Option<SecondPage>,
    /// For each customer (as [`Plan::customers`]), whether they write to the second
    /// page.
    pub on_second_page: Vec<bool>,
    /// The timeline, in time order.
    pub groups: Vec<Group>,
    /// An extra expectation written on the final check, for tests of the explorer
    /// itself (a deliberately impossible one makes a world fail on purpose).
    pub extra_final: Option<String>,
}

/// The second page of a world with two, named [`SECOND_PAGE`] in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondPage {
    /// Whether it has the Human Agent feature (pages are approved for it one by one).
    pub human_agent: bool,
}

/// The second page's name in generated files.
pub const SECOND_PAGE: &str = "outlet";

impl Plan {
    /// Whether customer `c` writes to the second page.
    pub fn on_second(&self, c: usize) -> bool {
        self.on_second_page.get(c).copied().unwrap_or(false)
    }

    /// The rules era Meta applies at the start.
    pub fn era(&self) -> messenger::Era {
        self.start
            .parse::<jiff::Timestamp>()
            .map(messenger::Era::at)
            .unwrap_or_default()
    }

    /// Whether nothing in the world goes wrong on purpose: no faults, outages or
    /// restarts, no customer blocking the page or handed to another app, no other app
    /// sending. Then tagdesk has no reason to log an error.
    pub fn is_quiet(&self) -> bool {
        !self.events().any(|e| match e {
            Event::Faults(f) => !f.is_empty(),
            Event::DiscordOutage(_)
            | Event::DiscordFaults { .. }
            | Event::Restart
            | Event::OtherApp { .. } => true,
            Event::Acts { act, .. } => {
                matches!(act, CustomerAct::Blocks(_) | CustomerAct::Handover(_))
            }
            Event::Says { .. } | Event::Agent { .. } => false,
        })
    }

    /// Whether another app sends anywhere in the world.
    pub fn has_other_app(&self) -> bool {
        self.events().any(|e| matches!(e, Event::OtherApp { .. }))
    }

    /// Every event, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.groups.iter().flat_map(|g| g.events.iter())
    }

    /// Steps the file has (the settling steps included, with the second page's
    /// final check).
    pub fn step_count(&self) -> usize {
        let second = usize::from(self.second_page.is_some());
        self.groups.iter().map(|g| g.events.len()).sum::<usize>() + 3 + second
    }

    /// The invariants this world is checked against.
    pub fn checks(&self) -> Checks {
        Checks {
            duplicates: true,
            no_penalty: !self.has_other_app(),
            nothing_lost: true,
            promises: true,
        }
    }

    /// The last event's time, in seconds from the start.
    pub fn last_at(&self) -> u64 {
        self.groups.last().map_or(0, |g| g.at)
    }

    /// Simulated seconds the file covers, the settling included.
    pub fn span_secs(&self) -> u64 {
        self.last_at() + 60 + SETTLE_SECS
    }

    /// The scenario file, in the public format, preceded by `header` (comment lines).
    ///
    /// Every step carries the cheap invariants as expectations; after the last event
    /// faults end and Discord comes back, and [`SETTLE_SECS`] later the final check
    /// adds `nothing_lost` and the promises made to agents.
    pub fn render(&self, header: &str) -> String {
        let checks = self.checks();
        let mut out = String::new();
        out.push_str(header);
        let _ = writeln!(out, "name = {}", quote(&self.name));
        let _ = writeln!(out, "description = {}", quote(&self.description));
        let _ = writeln!(out, "seed = {}", self.seed);
        let _ = writeln!(out, "start = {}", quote(&self.start));
        let _ = writeln!(out, "rules = \"{}\"", self.era());
        // Only the agents who act: a shrunk world reads better without the others.
        for (i, a) in self.agents.iter().enumerate() {
            let acts = self
                .events()
                .any(|e| matches!(e, Event::Agent { agent, .. } if *agent == i));
            let roles = if a == TEAM_ONLY {
                "[\"team\"]"
            } else {
                "[\"agent\", \"team\"]"
            };
            if acts {
                let _ = writeln!(out, "\n[agents.{a}]\nroles = {roles}");
            }
        }
        if let Some(p) = self.second_page {
            let _ = writeln!(
                out,
                "\n[pages.{SECOND_PAGE}]\nhuman_agent = {}",
                p.human_agent
            );
        }
        for (i, c) in self.customers.iter().enumerate() {
            let _ = writeln!(out, "\n[customers.{c}]");
            if self.on_second(i) {
                let _ = writeln!(out, "page = \"{SECOND_PAGE}\"");
            }
        }
        let every_step = step_expect(checks, false, None);
        for g in &self.groups {
            for (i, e) in g.events.iter().enumerate() {
                out.push_str("\n[[step]]\n");
                if i == 0 {
                    let _ = writeln!(out, "at = \"{}\"", duration(g.at));
                } else {
                    out.push_str("concurrent = true\n");
                }
                self.render_event(&mut out, e);
                if let Some(x) = &every_step {
                    let _ = writeln!(out, "expect = {x}");
                }
            }
        }
        let end = self.last_at() + 60;
        let _ = write!(
            out,
            "\n# Settling: faults end and Discord is back; then time for every retry.\n\
             [[step]]\nat = \"{}\"\nfaults = {{}}\n\n[[step]]\nat = \"{}\"\ndiscord_outage = false\n",
            duration(end),
            duration(end)
        );
        let last = step_expect(checks, true, self.extra_final.as_deref()).unwrap_or_default();
        let _ = write!(
            out,
            "\n[[step]]\nat = \"{}\"\nexpect = {last}\n",
            duration(end + SETTLE_SECS)
        );
        // The final check's promises about a page are the first page's: the second
        // page's record, sends and penalties are checked on their own.
        if self.second_page.is_some() {
            let _ = write!(
                out,
                "\n[[step]]\nat = \"{}\"\npage = \"{SECOND_PAGE}\"\nexpect = {}\n",
                duration(end + SETTLE_SECS),
                page_expect(checks)
            );
        }
        out
    }

    /// One line per event, for a terminal: `26h 5m  grace in c1's thread: /reply ...`;
    /// events at one instant are marked `+`.
    pub fn outline(&self) -> String {
        let mut out = String::new();
        for g in &self.groups {
            for (i, e) in g.events.iter().enumerate() {
                let when = if i == 0 { duration(g.at) } else { "  +".into() };
                let c = |c: &usize| {
                    let on = if self.on_second(*c) {
                        format!(" (on {SECOND_PAGE})")
                    } else {
                        String::new()
                    };
                    format!("{}{on}", self.customers[*c])
                };
                let what = match e {
                    Event::Says { customer, text } => format!("{} says {text:?}", c(customer)),
                    Event::Agent {
                        agent,
                        customer,
                        does,
                    } => format!(
                        "{} in {}'s thread: {does}",
                        self.agents[*agent],
                        c(customer)
                    ),
                    Event::OtherApp {
                        customer,
                        text,
                        tag,
                    } => format!(
                        "another app sends {} {text:?}{}",
                        c(customer),
                        tag.as_ref()
                            .map(|t| format!(" tagged {t}"))
                            .unwrap_or_default()
                    ),
                    Event::Acts { customer, act } => format!("{} {}", c(customer), act.render()),
                    Event::Faults(f) => format!("faults = {}", f.render()),
                    Event::DiscordOutage(true) => "Discord goes down".into(),
                    Event::DiscordOutage(false) => "Discord is back".into(),
                    Event::DiscordFaults {
                        lost_answers,
                        rate_limited,
                    } => format!(
                        "Discord loses the next {lost_answers} answers, refuses the next {rate_limited} calls 429"
                    ),
                    Event::Restart => "the bot restarts".into(),
                };
                let _ = writeln!(out, "  {when:>12}  {what}");
            }
        }
        out
    }

    fn render_event(&self, out: &mut String, e: &Event) {
        let customer = |out: &mut String, c: usize| {
            let _ = writeln!(out, "customer = \"{}\"", self.customers[c]);
        };
        match e {
            Event::Says { customer: c, text } => {
                customer(out, *c);
                let _ = writeln!(out, "says = {}", quote(text));
            }
            Event::Agent {
                agent,
                customer: c,
                does,
            } => {
                customer(out, *c);
                let _ = writeln!(out, "agent = \"{}\"", self.agents[*agent]);
                let _ = writeln!(out, "does = {}", quote(does));
            }
            Event::OtherApp {
                customer: c,
                text,
                tag,
            } => {
                customer(out, *c);
                let _ = writeln!(out, "other_app = {}", quote(text));
                if let Some(t) = tag {
                    let _ = writeln!(out, "tag = \"{t}\"");
                }
            }
            Event::Acts { customer: c, act } => {
                customer(out, *c);
                let _ = writeln!(out, "{}", act.render());
            }
            Event::Faults(f) => {
                let _ = writeln!(out, "faults = {}", f.render());
            }
            Event::DiscordOutage(on) => {
                let _ = writeln!(out, "discord_outage = {on}");
            }
            Event::DiscordFaults {
                lost_answers,
                rate_limited,
            } => {
                let _ = writeln!(
                    out,
                    "discord_faults = {{ lost_answers = {lost_answers}, rate_limited = {rate_limited} }}"
                );
            }
            Event::Restart => out.push_str("restart = true\n"),
        }
    }
}

/// The expectation table for a step: the cheap invariants, and at the end
/// `nothing_lost` (and `extra`, verbatim).
fn step_expect(c: Checks, last: bool, extra: Option<&str>) -> Option<String> {
    let mut keys = Vec::new();
    if c.duplicates {
        keys.push("duplicates = 0".to_owned());
    }
    if c.no_penalty {
        keys.push("warnings = 0".to_owned());
        keys.push("worst_restriction = \"none\"".to_owned());
    }
    if last && c.nothing_lost {
        keys.push("nothing_lost = true".to_owned());
    }
    if last && c.promises {
        keys.extend(
            [
                "replies_kept = true",
                "answers_true = true",
                "record_agrees = true",
            ]
            .map(str::to_owned),
        );
    }
    if last {
        keys.extend(extra.map(str::to_owned));
    }
    (!keys.is_empty()).then(|| format!("{{ {} }}", keys.join(", ")))
}

/// The expectation table for the second page's final check: the promises about a
/// page (the others are about every page and are on the first page's final check).
fn page_expect(c: Checks) -> String {
    let mut keys = Vec::new();
    if c.duplicates {
        keys.push("duplicates = 0");
    }
    if c.no_penalty {
        keys.extend(["warnings = 0", "worst_restriction = \"none\""]);
    }
    if c.promises {
        keys.push("record_agrees = true");
    }
    format!("{{ {} }}", keys.join(", "))
}

/// Seconds as the format's durations: `0s`, `26h 5m`, `1d 2h 3m 4s`.
pub fn duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back() {
        for secs in [0, 1, 59, 60, 3661, 86_400, 90_061] {
            let d = messenger::timefmt::parse_duration(&duration(secs)).unwrap();
            assert_eq!(d.as_secs(), secs as i64, "{}", duration(secs));
        }
    }
}
