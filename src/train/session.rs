//! A training session in the in-process world: the exercise's customers, their
//! reactions to what reaches them, and the trainee's commands, all on the virtual
//! clock, through mock-graph, the bot's real pipeline and the recording Discord.
//!
//! Every step is played through the scenario runner's own `play`, one step per group,
//! and kept: the session is then a scenario file (`record.rs`) whose replay takes the
//! same steps in the same order, and so the same world.

use std::collections::{BTreeMap, HashMap};

use bot::store::model::Direction;
use jiff::{SignedDuration, Timestamp};
use mock_graph::platform::{Outcome, RequestRecord};
use scenario_format::command::AgentAction;
use scenario_format::format::Expect;
use scenario_format::{Action, AgentDef, Scenario, TimedStep};

use super::exercise::{Exercise, TRAINEE};
use super::score::{self, Scorecard};
use super::trainee::{Command, Trainee};
use super::{facts, record};
use crate::scenario::expect::outcome_of;
use crate::scenario::run::{self, Report};
use crate::scenario::settings::Options;
use crate::scenario::transcript::Transcript;
use crate::scenario::world::World;

/// Why a step was played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The exercise's timeline.
    Exercise,
    /// A customer reacting, and to what.
    Reaction(String),
    /// The trainee's command: its line in the trainee file, 0 when typed at the desk.
    Trainee(usize),
    /// A trainer playing a customer (or another app) live.
    Trainer,
    /// The end of the exercise.
    End,
}

/// A step as it was played.
#[derive(Debug, Clone)]
pub struct Played {
    /// The step.
    pub step: TimedStep,
    /// Why.
    pub origin: Origin,
    /// For an agent's step, the answer's kind (`sent`, `refused`, ...); `None` when a
    /// press found no button.
    pub outcome: Option<&'static str>,
    /// For an agent's step, the bot's answer as Discord's interaction response JSON.
    pub answer: Option<serde_json::Value>,
}

/// How a session went.
#[derive(Debug)]
pub struct Session {
    /// The scorecard.
    pub scorecard: Scorecard,
    /// What happened, as the scenario runner writes it.
    pub transcript: String,
    /// Every step played, in order.
    pub played: Vec<Played>,
    /// The session as a scenario file (see [`record::scenario_file`]).
    pub recorded: String,
    /// The recorded scenario's name.
    pub recorded_name: String,
}

/// Something waiting to happen, at a time from the start.
#[derive(Debug)]
enum Pending {
    Step(Box<TimedStep>, Origin),
    /// If nothing has reached the customer since `since`, they say their `if_silent`.
    SilenceCheck {
        customer: String,
        since: Timestamp,
    },
}

/// Pending work in the order it happens: by time, then the exercise's own steps,
/// then customers' reactions, then the trainee, each in the order they were added.
type Queue = BTreeMap<(SignedDuration, u8, u64), Pending>;

/// The order of pending work at one instant: what the exercise scripts, then the
/// customers reacting to it, then the trainee, who sees both.
const SCRIPTED: u8 = 0;
const REACTION: u8 = 1;
const TRAINEE_TURN: u8 = 2;

/// What each customer has reacted to so far.
#[derive(Debug, Default)]
struct Seen {
    replies: usize,
    wrote: usize,
    parked: bool,
    silence_fired: bool,
    promo_fired: bool,
}

/// The scenario the session runs: the exercise's, with the trainee as its agent.
pub fn scenario_for(ex: &Exercise, trainee: &str) -> Scenario {
    let mut s = ex.scenario.clone();
    let def = s.agents.remove(TRAINEE).unwrap_or(AgentDef {
        user_id: 500_001,
        agent: true,
        team: true,
    });
    s.agents.insert(trainee.to_owned(), def);
    s.name = record::name(ex, trainee);
    s.description = record::description(ex, trainee);
    s
}

/// Runs `trainee` through `ex` and scores them.
pub async fn run(ex: &Exercise, trainee: &Trainee) -> anyhow::Result<Session> {
    let mut desk = Desk::open(ex, &trainee.name).await?;
    for c in &trainee.commands {
        desk.schedule(c);
    }
    let ends = desk.start() + ex.ends;
    desk.run_until(ends).await?;
    desk.finish().await
}

/// An exercise in progress: its world, what is waiting to happen, and what has.
/// The scripted trainee queues its commands ahead ([`Desk::schedule`]); a live one
/// would [`Desk::act`] as they type, with the clock moved by [`super::pace`].
pub struct Desk<'a> {
    ex: &'a Exercise,
    s: Scenario,
    w: World,
    t: Transcript,
    report: Report,
    queue: Queue,
    added: u64,
    seen: HashMap<String, Seen>,
    played: Vec<Played>,
    trainee: String,
}

impl<'a> Desk<'a> {
    /// Starts the exercise's world with `trainee` as its agent, the exercise's steps
    /// waiting to happen.
    pub async fn open(ex: &'a Exercise, trainee: &str) -> anyhow::Result<Desk<'a>> {
        Desk::open_with(ex, trainee, &Options::default()).await
    }

    /// [`Desk::open`] with the world's options: live training gives it the practice
    /// server's Discord.
    pub async fn open_with(
        ex: &'a Exercise,
        trainee: &str,
        options: &Options,
    ) -> anyhow::Result<Desk<'a>> {
        let s = scenario_for(ex, trainee);
        let w = World::start(&s, s.seed, options).await?;
        let mut t = Transcript::new(&s.name, &s.description, s.seed);
        if let Some(warning) = messenger::RulesChoice::Fixed(s.era).contradiction(s.start) {
            t.note(&format!("⚠️ {warning}"));
        }
        let mut desk = Desk {
            ex,
            report: empty_report(&s),
            w,
            t,
            queue: Queue::new(),
            added: 0,
            seen: HashMap::new(),
            played: Vec::new(),
            trainee: trainee.to_owned(),
            s,
        };
        for step in desk.s.steps.clone() {
            let origin = Origin::Exercise;
            desk.add(step.at, SCRIPTED, Pending::Step(Box::new(step), origin));
        }
        Ok(desk)
    }

    fn add(&mut self, at: SignedDuration, kind: u8, p: Pending) {
        self.added += 1;
        self.queue.insert((at, kind, self.added), p);
    }

    /// Where the exercise's clock started.
    pub fn start(&self) -> Timestamp {
        self.s.start
    }

    /// Virtual now.
    pub fn now(&self) -> Timestamp {
        self.w.now()
    }

    /// When the exercise ends.
    pub fn ends(&self) -> Timestamp {
        self.s.start + self.ex.ends
    }

    /// Queues one of the trainee's commands at its time.
    pub fn schedule(&mut self, c: &Command) {
        let step = self.command_step(c.at, c.customer.clone(), &c.typed, c.action.clone(), c.line);
        let origin = Origin::Trainee(c.line);
        self.add(c.at, TRAINEE_TURN, Pending::Step(Box::new(step), origin));
    }

    fn command_step(
        &self,
        at: SignedDuration,
        customer: Option<String>,
        typed: &str,
        action: AgentAction,
        line: usize,
    ) -> TimedStep {
        TimedStep {
            at,
            concurrent: false,
            line,
            customer,
            page: None,
            action: Action::Agent {
                agent: self.trainee.clone(),
                typed: typed.to_owned(),
                action,
            },
            expect: None,
        }
    }

    /// The trainee acts now: what they typed in `customer`'s thread. Returns the step
    /// as played, with the answer they got.
    pub async fn act(
        &mut self,
        customer: Option<String>,
        typed: &str,
        action: AgentAction,
    ) -> anyhow::Result<&Played> {
        let at = self.now().duration_since(self.s.start);
        let step = self.command_step(at, customer, typed, action, 0);
        self.play(step, Origin::Trainee(0)).await?;
        Ok(self.played.last().expect("just played"))
    }

    /// A trainer plays a customer (by PSID) now: `action` is what they do. Returns
    /// what was played, or why it can't be.
    pub async fn customer_acts(
        &mut self,
        psid: &str,
        action: Action,
    ) -> anyhow::Result<Result<serde_json::Value, String>> {
        let Some(customer) = self
            .w
            .psids
            .iter()
            .find(|(_, p)| p.as_str() == psid)
            .map(|(c, _)| c.clone())
        else {
            let known: Vec<String> = self
                .w
                .psids
                .iter()
                .map(|(c, p)| format!("{p} ({c})"))
                .collect();
            return Ok(Err(format!(
                "no customer {psid:?} in this exercise; its customers: {}",
                known.join(", ")
            )));
        };
        let at = self.now().duration_since(self.s.start);
        let step = TimedStep {
            at,
            concurrent: false,
            line: 0,
            customer: Some(customer.clone()),
            page: None,
            action,
            expect: None,
        };
        self.play(step, Origin::Trainer).await?;
        Ok(Ok(serde_json::json!({
            "played": customer,
            "at": self.now().to_string(),
        })))
    }

    /// The world the session runs in.
    pub fn world(&self) -> &World {
        &self.w
    }

    /// The trainee as the world's bot sees them (their roles are the world's).
    pub fn trainee(&self) -> crate::scenario::world::Actor {
        let def = &self.s.agents[&self.trainee];
        crate::scenario::world::Actor::new(&self.trainee, def)
    }

    /// The exercise.
    pub fn exercise(&self) -> &Exercise {
        self.ex
    }

    /// The next thing scheduled to happen before the end: a customer's message or
    /// reaction, a patience that will run out (one already answered won't), or a
    /// command the trainee queued.
    pub fn next_event(&self) -> Option<Timestamp> {
        let (at, _, _) = self.queue.iter().find_map(|(key, p)| match p {
            Pending::Step(..) => Some(key),
            Pending::SilenceCheck { customer, since } => {
                let fired = self.seen.get(customer).is_some_and(|s| s.silence_fired);
                let psid = self.w.psids.get(customer)?;
                let answered = replies(&self.w, psid).iter().any(|(t, _)| t >= since);
                (!fired && !answered).then_some(key)
            }
        })?;
        (*at <= self.ex.ends).then(|| self.s.start + *at)
    }

    /// Whether a conversation waits for the trainee: a customer's latest message has
    /// nothing of theirs after it that reached the customer, was parked, or was refused
    /// by Meta (tagdesk's own refusals leave it waiting: the customer still has no
    /// answer). What the trainee can see, not the exercise's tasks.
    pub fn waiting(&self) -> anyhow::Result<bool> {
        for psid in self.w.psids.values() {
            let latest = {
                let p = self.w.mock().lock();
                // A customer nothing can reach (they blocked the page, another app
                // holds the conversation) waits for nobody: leaving them be is right.
                let reachable = p.customer(psid).filter(|c| !c.blocked && !c.other_app_owns);
                reachable.and_then(|c| {
                    c.messages
                        .iter()
                        .filter(|m| m.from_customer)
                        .map(|m| m.at)
                        .max()
                })
            };
            let Some(latest) = latest else { continue };
            let reached = replies(&self.w, psid).iter().any(|(at, _)| *at >= latest);
            let handled = self.w.engine().store.messages(psid)?.iter().any(|m| {
                m.direction == Direction::Out
                    && m.at >= latest
                    && matches!(m.state.as_str(), "parked" | "failed")
            });
            if !reached && !handled {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Plays everything due up to `until` in order, letting customers react, and
    /// moves the world's clock there.
    pub async fn run_until(&mut self, until: Timestamp) -> anyhow::Result<()> {
        let until = until.min(self.ends());
        while let Some(next) = self.queue.first_entry() {
            if self.s.start + next.key().0 > until {
                break;
            }
            let ((at, _, _), pending) = next.remove_entry();
            let (step, origin) = match pending {
                Pending::Step(step, origin) => (*step, origin),
                Pending::SilenceCheck { customer, since } => {
                    let Some(step) =
                        silence(self.ex, &self.w, &mut self.seen, &customer, since, at)
                    else {
                        continue;
                    };
                    (step, Origin::Reaction("nothing reached them".into()))
                }
            };
            self.play(step, origin).await?;
        }
        run::advance(&self.w, &mut self.t, until).await
    }

    /// Plays one step, keeps it, and schedules what customers do about it.
    async fn play(&mut self, mut step: TimedStep, origin: Origin) -> anyhow::Result<()> {
        // Never back in time: a scenario's steps are in time order.
        step.at = step.at.max(self.now().duration_since(self.s.start));
        let group = self.played.len();
        let (s, w, t, report) = (&self.s, &mut self.w, &mut self.t, &mut self.report);
        let p = play(s, w, t, report, step, origin, group).await?;
        self.played.push(p);
        for (at, p) in reactions(self.ex, &self.w, &mut self.seen)? {
            self.add(at, REACTION, p);
        }
        Ok(())
    }

    /// Ends the exercise: lets the world settle at its end, scores what happened, and
    /// writes the session as a scenario.
    pub async fn finish(mut self) -> anyhow::Result<Session> {
        let end = TimedStep {
            at: self.ex.ends,
            concurrent: false,
            line: 0,
            customer: None,
            page: None,
            action: Action::Wait,
            expect: Some(Expect::default()),
        };
        let group = self.played.len();
        let (s, w, t, report) = (&self.s, &mut self.w, &mut self.t, &mut self.report);
        let p = play(s, w, t, report, end, Origin::End, group).await?;
        self.played.push(p);
        let facts = facts::read(&self.w, self.ends())?;
        let scorecard = score::score(self.ex, &self.trainee, &facts);
        let recorded =
            record::scenario_file(&self.s, &self.played, &record::final_expect(&self.w)?);
        Ok(Session {
            scorecard,
            transcript: self.t.finish(),
            played: self.played,
            recorded,
            recorded_name: self.s.name.clone(),
        })
    }
}

/// Plays one step as a group of its own, as the scenario runner would.
async fn play(
    s: &Scenario,
    w: &mut World,
    t: &mut Transcript,
    report: &mut Report,
    step: TimedStep,
    origin: Origin,
    group_no: usize,
) -> anyhow::Result<Played> {
    run::advance(w, t, s.start + step.at).await?;
    let answers = run::play(s, w, t, report, std::slice::from_ref(&step), group_no).await?;
    let answer = answers.into_iter().flatten().next();
    Ok(Played {
        step,
        origin,
        outcome: answer.as_ref().map(outcome_of),
        answer,
    })
}

/// The customer's `if_silent` step, if nothing of the page's has reached them since
/// `since` and they haven't said it yet.
fn silence(
    ex: &Exercise,
    w: &World,
    seen: &mut HashMap<String, Seen>,
    customer: &str,
    since: Timestamp,
    at: SignedDuration,
) -> Option<TimedStep> {
    let (_, says) = ex
        .customers
        .get(customer)?
        .reactions
        .if_silent_for
        .clone()?;
    let state = seen.entry(customer.to_owned()).or_default();
    let psid = w.psids.get(customer)?;
    let answered = replies(w, psid).iter().any(|(t, _)| *t >= since);
    if state.silence_fired || answered {
        return None;
    }
    state.silence_fired = true;
    Some(says_step(customer, at, says))
}

/// The customers' reactions to what happened since the last look: a message that
/// reached them is answered (`on_reply`, or `on_promo` if it was promotional), a new
/// message of theirs starts their patience (`if_silent_for`), and a reply parked for
/// them brings them back (`on_park`).
fn reactions(
    ex: &Exercise,
    w: &World,
    seen: &mut HashMap<String, Seen>,
) -> anyhow::Result<Vec<(SignedDuration, Pending)>> {
    let start = w.mock().lock().settings.start;
    let mut out = Vec::new();
    for (id, psid) in &w.psids {
        let Some(def) = ex.customers.get(id) else {
            continue;
        };
        let r = &def.reactions;
        let state = seen.entry(id.clone()).or_default();
        let got = replies(w, psid);
        let (promotional, wrote): (Vec<(Timestamp, bool)>, Vec<Timestamp>) = {
            let p = w.mock().lock();
            let got = got
                .into_iter()
                .map(|(at, text)| (at, !p.judge.find(&text).is_empty()))
                .collect();
            let wrote = p
                .customer(psid)
                .map(|c| {
                    c.messages
                        .iter()
                        .filter(|m| m.from_customer)
                        .map(|m| m.at)
                        .collect()
                })
                .unwrap_or_default();
            (got, wrote)
        };
        for (k, &(at, promo)) in promotional.iter().enumerate().skip(state.replies) {
            let says = match &r.on_promo {
                Some(text) if promo && !state.promo_fired => {
                    state.promo_fired = true;
                    Some(text.clone())
                }
                _ => r.on_reply.get(k).cloned(),
            };
            if let Some(says) = says {
                let when = at.duration_since(start) + r.reply_delay;
                out.push((
                    when,
                    Pending::Step(
                        Box::new(says_step(id, when, says)),
                        Origin::Reaction("a message reached them".into()),
                    ),
                ));
            }
        }
        state.replies = promotional.len();
        if let Some((patience, _)) = &r.if_silent_for {
            for &m in wrote.iter().skip(state.wrote) {
                out.push((
                    m.duration_since(start) + *patience,
                    Pending::SilenceCheck {
                        customer: id.clone(),
                        since: m,
                    },
                ));
            }
        }
        state.wrote = wrote.len();
        if let Some((delay, says)) = &r.on_park {
            if !state.parked && !w.engine().store.parked(psid)?.is_empty() {
                state.parked = true;
                let when = w.now().duration_since(start) + *delay;
                let step = says_step(id, when, says.clone());
                out.push((
                    when,
                    Pending::Step(
                        Box::new(step),
                        Origin::Reaction("a reply was parked for them".into()),
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// This app's messages Meta accepted for `psid`, with their text, in order.
fn replies(w: &World, psid: &str) -> Vec<(Timestamp, String)> {
    let p = w.mock().lock();
    let app = p.settings.app_id;
    p.sent
        .iter()
        .filter(|r| r.app_id == app && matches!(r.outcome, Outcome::Sent(_)))
        .filter_map(|r| match &r.request {
            RequestRecord::Parsed(req) if req.recipient.id.as_deref() == Some(psid) => {
                let text = req.message.as_ref()?.text.clone()?;
                Some((r.at, text))
            }
            _ => None,
        })
        .collect()
}

fn says_step(customer: &str, at: SignedDuration, says: String) -> TimedStep {
    TimedStep {
        at,
        concurrent: false,
        line: 0,
        customer: Some(customer.to_owned()),
        page: None,
        action: Action::Says(says),
        expect: None,
    }
}

/// A report for `run::play` to add failures to: a session has no expectations, and a
/// press that found no button is the only failure it can have.
fn empty_report(s: &Scenario) -> Report {
    Report {
        name: s.name.clone(),
        path: s.path.clone(),
        seed: s.seed,
        steps: 0,
        checked: 0,
        failures: Vec::new(),
        error: None,
        transcript: String::new(),
        span: SignedDuration::ZERO,
        wall: std::time::Duration::ZERO,
        discord_calls: 0,
        discord_calls_by_route: BTreeMap::new(),
        customer_messages: 0,
        settings: Vec::new(),
    }
}
