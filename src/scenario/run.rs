//! Running one scenario end to end.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use messenger::wire::{MessagingType, SendRequest};
use mock_graph::platform::{Faults, RequestRecord, SentRecord};
use scenario_format::format::{DiscordFaults, FaultSection};
use serde_json::Value;

use super::expect::{self, Effects, Miss};
use super::promises::{Ledger, Told};
use super::settings::{bot_settings, page_settings, Options};
use super::transcript::Transcript;
use super::world::{Actor, Prepared, World};
use scenario_format::{Action, Scenario, TimedStep};

/// Something that went wrong at a step, where. The scenario goes on after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step's line in the file.
    pub line: usize,
    /// The step's time from the start.
    pub at: String,
    /// What went wrong.
    pub kind: FailureKind,
}

/// The kinds of failure a step can have (a step that can't be carried out at all is a
/// runner error, [`Report::error`], and ends the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// An expectation didn't hold.
    Expectation(Miss),
    /// An agent pressed a button (or picked from a menu) their last answer doesn't
    /// have, in words: nothing reached the bot.
    NoSuchButton(String),
}

impl FailureKind {
    /// A short name for reports: `expectation`, `no such button`.
    pub fn name(&self) -> &'static str {
        match self {
            FailureKind::Expectation(_) => "expectation",
            FailureKind::NoSuchButton(_) => "no such button",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureKind::Expectation(m) => {
                write!(f, "{}: expected {}, got {}", m.field, m.expected, m.actual)
            }
            FailureKind::NoSuchButton(why) => write!(f, "no such button: {why}"),
        }
    }
}

/// How a scenario went.
#[derive(Debug)]
pub struct Report {
    /// The scenario.
    pub name: String,
    /// The file.
    pub path: std::path::PathBuf,
    /// The seed it ran under.
    pub seed: u64,
    /// Steps run.
    pub steps: usize,
    /// Expectations checked.
    pub checked: usize,
    /// Expectations that failed and presses that found no button, in step order.
    pub failures: Vec<Failure>,
    /// A step that couldn't be carried out.
    pub error: Option<String>,
    /// The transcript.
    pub transcript: String,
    /// Virtual time covered.
    pub span: SignedDuration,
    /// Wall time taken.
    pub wall: Duration,
    /// Discord REST calls made.
    pub discord_calls: usize,
    /// Discord REST calls by route (`POST /channels/{id}/messages`).
    pub discord_calls_by_route: std::collections::BTreeMap<String, usize>,
    /// Customer messages Meta received.
    pub customer_messages: usize,
    /// The bot's settings in force, each with where it came from.
    pub settings: Vec<String>,
}

impl Report {
    /// Whether everything held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.error.is_none()
    }

    /// Checked steps with an expectation that didn't hold (of [`Report::checked`]).
    pub fn failed_checks(&self) -> usize {
        let mut lines: Vec<usize> = self
            .failures
            .iter()
            .filter(|f| matches!(f.kind, FailureKind::Expectation(_)))
            .map(|f| f.line)
            .collect();
        lines.dedup();
        lines.len()
    }

    /// Failures of one kind (by [`FailureKind::name`]).
    pub fn count(&self, kind: &str) -> usize {
        self.failures
            .iter()
            .filter(|f| f.kind.name() == kind)
            .count()
    }
}

/// Runs `s` under `seed`, end to end; `on_step` is called after each step (progress).
pub async fn run(s: &Scenario, seed: u64, on_step: &mut dyn FnMut()) -> Report {
    run_with(s, seed, &Options::default(), on_step).await
}

/// [`run`], with a team's configuration applied or a defect injected.
pub async fn run_with(
    s: &Scenario,
    seed: u64,
    options: &Options,
    on_step: &mut dyn FnMut(),
) -> Report {
    run_then(s, seed, options, on_step, &mut |_| {}).await
}

/// [`run_with`], handing the world to `then` once the last step has run (for
/// benchmarks that measure what happened in it).
pub async fn run_then(
    s: &Scenario,
    seed: u64,
    options: &Options,
    on_step: &mut dyn FnMut(),
    then: &mut dyn FnMut(&World),
) -> Report {
    let started = Instant::now();
    let mut transcript = Transcript::new(&s.name, &s.description, seed);
    let (_, mut settings) = bot_settings(s, options.team.as_ref());
    // A further page's settings where they differ from the first page's, named.
    for (i, page) in s.pages.iter().enumerate() {
        let (_, lines) = page_settings(s, i + 1, options.team.as_ref());
        let own: Vec<String> = lines
            .into_iter()
            .filter(|l| !settings.contains(l))
            .map(|l| format!("page {}: {l}", page.name))
            .collect();
        settings.extend(own);
    }
    if let Some(team) = &options.team {
        transcript.note(&format!(
            "settings in force, with {} applied:",
            team.path.display()
        ));
        for line in &settings {
            transcript.note(&format!("• {line}"));
        }
    }
    // Replaying old traffic under a fixed era is allowed, and said once.
    if let Some(warning) = messenger::RulesChoice::Fixed(s.era).contradiction(s.start) {
        transcript.note(&format!("⚠️ {warning}"));
    }
    for page in s.pages.iter().filter(|p| p.era != s.era) {
        if let Some(warning) = messenger::RulesChoice::Fixed(page.era).contradiction(s.start) {
            transcript.note(&format!("⚠️ page {}: {warning}", page.name));
        }
    }
    let mut report = Report {
        name: s.name.clone(),
        path: s.path.clone(),
        seed,
        steps: 0,
        checked: 0,
        failures: Vec::new(),
        error: None,
        transcript: String::new(),
        span: s.steps.last().map_or(SignedDuration::ZERO, |st| st.at),
        wall: Duration::ZERO,
        discord_calls: 0,
        discord_calls_by_route: Default::default(),
        customer_messages: 0,
        settings,
    };
    match World::start(s, seed, options).await {
        Ok(mut w) => {
            if let Err(e) = steps(s, &mut w, &mut transcript, &mut report, on_step).await {
                transcript.note(&format!("ERROR: {e:#}"));
                report.error = Some(format!("{e:#}"));
            }
            then(&w);
            report.discord_calls = w.discord.call_count();
            for call in w.discord.calls() {
                *report
                    .discord_calls_by_route
                    .entry(route(call.method, &call.path))
                    .or_default() += 1;
            }
            report.customer_messages = w
                .pages
                .iter()
                .map(|page| {
                    page.mock
                        .lock()
                        .customers()
                        .map(|c| c.messages.iter().filter(|m| m.from_customer).count())
                        .sum::<usize>()
                })
                .sum();
        }
        Err(e) => report.error = Some(format!("starting the world: {e:#}")),
    }
    report.transcript = transcript.finish();
    report.wall = started.elapsed();
    report
}

async fn steps(
    s: &Scenario,
    w: &mut World,
    t: &mut Transcript,
    report: &mut Report,
    on_step: &mut dyn FnMut(),
) -> anyhow::Result<()> {
    // A step and the concurrent steps right after it happen at once.
    for (n, group) in s.steps.chunk_by(|_, next| next.concurrent).enumerate() {
        advance(w, t, s.start + group[0].at).await?;
        play(s, w, t, report, group, n).await?;
        for _ in group {
            report.steps += 1;
            on_step();
        }
    }
    Ok(())
}

/// Moves time to `target`, stopping wherever the bot or Meta has something to do on
/// its own first, so it happens at its own time.
pub async fn advance(w: &World, t: &mut Transcript, target: Timestamp) -> anyhow::Result<()> {
    while let Some(stop) = w.next_stop(target)? {
        w.step_to(stop).await?;
        if t.has_activity(w) {
            t.line(stop, "tagdesk, on its own:");
            t.activity(w);
        }
    }
    w.jump_to(target).await;
    Ok(())
}

/// An agent's step, made ready, and once performed, the bot's answer.
struct Turn<'a> {
    step: &'a TimedStep,
    agent: &'a str,
    typed: &'a str,
    prepared: Prepared,
    answer: Option<Value>,
}

impl Turn<'_> {
    /// The interaction it makes, if it reaches the bot.
    fn interaction(&self) -> Option<&str> {
        match &self.prepared {
            Prepared::Interaction { invocation, .. } => Some(&invocation.id),
            Prepared::NoSuchButton(_) => None,
        }
    }
}

/// How a group's lines go into the transcript: a step alone gets a timed line; a group
/// gets one `at the same instant:` line and a bullet per step.
#[derive(Clone, Copy)]
struct Lines {
    now: Timestamp,
    together: bool,
}

impl Lines {
    fn step(self, t: &mut Transcript, what: &str) {
        if self.together {
            t.note(&format!("• {what}"));
        } else {
            t.line(self.now, what);
        }
    }
}

/// Plays one group of steps at one instant: first everything that isn't an agent's
/// action, in order (customers act first); then the agents' actions, all at once, with
/// presses resolved against each agent's last answer from before the group. Every
/// step's expectations are checked once the whole group has settled. Returns the
/// bot's answer to each agent's step, in step order (`None` where a press found no
/// button), for callers that judge what agents did (training).
pub async fn play(
    s: &Scenario,
    w: &mut World,
    t: &mut Transcript,
    report: &mut Report,
    group: &[TimedStep],
    group_no: usize,
) -> anyhow::Result<Vec<Option<Value>>> {
    let lines = Lines {
        now: w.now(),
        together: group.len() > 1,
    };
    let calls_before = w.sent_marks();
    let last_answers = w.last_answers();
    if lines.together {
        t.line(lines.now, "at the same instant:");
    }
    for step in group.iter().filter(|st| !is_agent(st)) {
        if let Some(line) = describe(w, step) {
            lines.step(t, &line);
        }
        apply(w, step).await?;
    }
    let mut turns = prepare(s, w, t, lines, group, &last_answers)?;
    perform_all(w, &mut turns).await;
    for turn in &turns {
        answered(w, t, report, lines, turn);
    }
    promised(w, &turns, group_no);
    w.settle().await?;
    t.activity(w);
    let calls = w.sent_since(&calls_before);
    let app_id = w.mock().lock().settings.app_id;
    w.ledger().settled(group_no, &calls, app_id);
    for step in group.iter().filter(|st| st.expect.is_some()) {
        check(w, t, report, lines, step, &turns, &calls)?;
    }
    Ok(turns.into_iter().map(|turn| turn.answer).collect())
}

/// The group's agents' actions as interactions, in step order, so interaction ids
/// don't depend on who finishes first; presses use `last_answers`.
fn prepare<'a>(
    s: &Scenario,
    w: &World,
    t: &mut Transcript,
    lines: Lines,
    group: &'a [TimedStep],
    last_answers: &HashMap<String, Value>,
) -> anyhow::Result<Vec<Turn<'a>>> {
    let mut turns = Vec::new();
    for step in group {
        let Action::Agent {
            agent,
            typed,
            action,
        } = &step.action
        else {
            continue;
        };
        let customer = step.customer.as_deref();
        let page = w.step_page(step);
        let place = match customer {
            Some(_) => in_thread(customer),
            None => in_channel(w, page),
        };
        lines.step(t, &format!("{agent}{place}: {typed}"));
        let actor = Actor::new(agent, &s.agents[agent]);
        let prepared = w.prepare(&actor, action, customer, page, last_answers.get(agent))?;
        turns.push(Turn {
            step,
            agent,
            typed,
            prepared,
            answer: None,
        });
    }
    Ok(turns)
}

/// Runs the turns' interactions at once through the bot's pipeline; a turn whose
/// button wasn't there gets no answer.
async fn perform_all(w: &World, turns: &mut [Turn<'_>]) {
    futures::future::join_all(turns.iter_mut().map(|turn| async move {
        if let Prepared::Interaction { invocation, .. } = &turn.prepared {
            turn.answer = Some(w.perform(invocation).await);
        }
    }))
    .await;
}

/// What a turn's agent now sees, in the world and the transcript; a press that found
/// no button is a failure of its own.
fn answered(w: &World, t: &mut Transcript, report: &mut Report, lines: Lines, turn: &Turn<'_>) {
    if lines.together {
        t.note(&format!("{} ({}):", turn.agent, turn.typed));
    }
    match (&turn.prepared, &turn.answer) {
        (
            Prepared::Interaction {
                invocation,
                pressed_on,
            },
            Some(answer),
        ) => {
            w.remember(turn.agent, invocation, pressed_on.as_ref(), answer);
            t.answer(answer);
        }
        (Prepared::NoSuchButton(why), _) => {
            t.note(&format!("✗ no such button: {why}"));
            report.failures.push(Failure {
                line: turn.step.line,
                at: messenger::timefmt::human(turn.step.at),
                kind: FailureKind::NoSuchButton(why.clone()),
            });
        }
        (Prepared::Interaction { .. }, None) => {}
    }
}

/// Notes in the world's ledger what each turn's agent was told about a send, against
/// Meta's log as it is when they read it.
fn promised(w: &World, turns: &[Turn<'_>], group: usize) {
    w.with_sent(|sent, app_id| promised_in(w, sent, app_id, turns, group));
}

fn promised_in(w: &World, sent: &[SentRecord], app_id: u64, turns: &[Turn<'_>], group: usize) {
    let mut ledger = w.ledger();
    for turn in turns {
        let (Prepared::Interaction { invocation, .. }, Some(answer)) =
            (&turn.prepared, &turn.answer)
        else {
            continue;
        };
        let Some(key) = Ledger::key_of(invocation) else {
            continue;
        };
        let told = Told {
            key,
            outcome: expect::outcome_of(answer),
            line: turn.step.line,
            group,
        };
        ledger.told(told, sent, app_id);
    }
}

/// Checks a step's expectations against the world and its own effects: its answer and
/// the Send API calls it caused, of the group's `calls`.
fn check(
    w: &World,
    t: &mut Transcript,
    report: &mut Report,
    lines: Lines,
    step: &TimedStep,
    turns: &[Turn<'_>],
    calls: &[SentRecord],
) -> anyhow::Result<()> {
    let Some(x) = &step.expect else {
        return Ok(());
    };
    let turn = turns.iter().find(|turn| std::ptr::eq(turn.step, step));
    let own = turn.and_then(Turn::interaction);
    let effects = Effects {
        answer: turn.and_then(|turn| turn.answer.as_ref()),
        calls: &calls_of(calls, own, turns),
    };
    report.checked += 1;
    let page = w.step_page(step);
    for miss in expect::check(w, x, step.customer.as_deref(), page, effects)? {
        // In a group, which step's expectation it was.
        let mark = if lines.together {
            format!("✗ line {}: ", step.line)
        } else {
            "✗ ".to_owned()
        };
        t.note(&format!(
            "{mark}expected {} = {}, got {}",
            miss.field, miss.expected, miss.actual
        ));
        report.failures.push(Failure {
            line: step.line,
            at: messenger::timefmt::human(step.at),
            kind: FailureKind::Expectation(miss),
        });
    }
    Ok(())
}

/// The calls a step caused, of those its group caused: an agent's step owns the calls
/// naming its interaction in their `metadata` (every tagdesk send does); calls naming
/// no interaction of the group (another app's, a parked reply released, a retry of
/// an earlier send) belong to every step of the group.
fn calls_of(calls: &[SentRecord], own: Option<&str>, turns: &[Turn<'_>]) -> Vec<SentRecord> {
    let group: Vec<&str> = turns.iter().filter_map(Turn::interaction).collect();
    calls
        .iter()
        .filter(|call| match interaction_of(call) {
            Some(i) if group.contains(&i) => Some(i) == own,
            _ => true,
        })
        .cloned()
        .collect()
}

/// The interaction a call's `metadata` names: tagdesk writes `...:{interaction}`, or
/// `...:{interaction}/{part}` for the parts of a split reply.
fn interaction_of(call: &SentRecord) -> Option<&str> {
    let RequestRecord::Parsed(req) = &call.request else {
        return None;
    };
    let metadata = req.message.as_ref()?.metadata.as_deref()?;
    let last = metadata.rsplit(':').next()?;
    last.split('/').next()
}

/// A REST call's route, its ids replaced: `PATCH /channels/{id}`.
fn route(method: &str, path: &str) -> String {
    let path = path.strip_prefix("/api/v10").unwrap_or(path);
    let parts: Vec<&str> = path
        .split('/')
        .map(|p| {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                p
            }
        })
        .collect();
    format!("{method} {}", parts.join("/"))
}

fn is_agent(step: &TimedStep) -> bool {
    matches!(step.action, Action::Agent { .. })
}

/// Where an agent types with no customer: nowhere named with one page; with several,
/// the page's channel, named as the transcript's Discord lines name it.
fn in_channel(w: &World, page: usize) -> String {
    match (w.pages.len(), w.pages[page].name.as_str()) {
        (1, _) => String::new(),
        (_, "") => " in page 1's channel".to_owned(),
        (_, name) => format!(" in {name}'s channel"),
    }
}

fn in_thread(customer: Option<&str>) -> String {
    customer
        .map(|c| format!(" in {c}'s thread"))
        .unwrap_or_default()
}

/// The customer as the transcript names them: `ada (Ada Lovelace)`.
fn who(w: &World, customer: Option<&str>) -> String {
    let Some(c) = customer else {
        return String::new();
    };
    let psid = w.psids.get(c).cloned().unwrap_or_default();
    let name = w
        .page_of(customer)
        .mock
        .lock()
        .customer(&psid)
        .and_then(|x| x.profile.display_name())
        .unwrap_or_default();
    format!("{c} ({name})")
}

/// A step that isn't an agent's, in the transcript's words; `None` for a bare wait.
fn describe(w: &World, step: &TimedStep) -> Option<String> {
    let who = who(w, step.customer.as_deref());
    Some(match &step.action {
        Action::Wait if step.expect.is_some() => "check".into(),
        Action::Wait | Action::Agent { .. } => return None,
        Action::Says(text) => format!("{who} says “{text}”"),
        Action::Postback(title) => format!("{who} presses “{title}”"),
        Action::Reaction(emoji) => format!("{who} reacts {emoji}"),
        Action::Referral(r) => format!("{who} arrives from link “{r}”"),
        Action::Reads => format!("{who} reads the conversation"),
        Action::Blocks(b) => format!("{who} {} the page", if *b { "blocks" } else { "unblocks" }),
        Action::Handover(b) => format!(
            "another app {} {who}'s conversation",
            if *b { "takes" } else { "hands back" }
        ),
        Action::OtherApp {
            text,
            tag,
            recipients,
        } => format!(
            "another app sends {who}{} “{text}”{}",
            match recipients {
                Some(n) if *n > 1 => format!(" and {} other customers", n - 1),
                _ => String::new(),
            },
            tag.as_ref()
                .map(|t| format!(" tagged {t}"))
                .unwrap_or_default()
        ),
        Action::Faults(f) => {
            // With several pages, faults of one page's Meta name it.
            let named = step.customer.is_some() || step.page.is_some();
            let whose = match (w.pages.len(), w.pages[w.step_page(step)].name.as_str()) {
                (1, _) => String::new(),
                _ if !named => String::new(),
                (_, "") => "page 1's Meta: ".to_owned(),
                (_, name) => format!("{name}'s Meta: "),
            };
            format!("{whose}{}", describe_faults(f))
        }
        Action::DiscordOutage(true) => "Discord goes down".into(),
        Action::DiscordOutage(false) => "Discord is back".into(),
        Action::DiscordFaults(f) => describe_discord_faults(f),
        Action::Restart => "the bot crashes and restarts on the same database".into(),
    })
}

fn describe_discord_faults(f: &DiscordFaults) -> String {
    format!(
        "Discord: the next {} calls' answers lost, the next {} refused 429",
        f.lost_answers, f.rate_limited
    )
}

fn describe_faults(f: &FaultSection) -> String {
    let mut line = format!(
        "faults: graph errors {}, 613 burst {}, latency {}, webhooks dropped {}, duplicated {}, reordered {}",
        f.graph_errors,
        f.rate_limit_burst,
        f.latency.as_deref().unwrap_or("0ms"),
        f.drop,
        f.duplicate,
        f.reorder
    );
    // Named only when set, so transcripts without them read as before.
    if let Some(lag) = &f.echo_lag {
        line.push_str(&format!(", echoes {lag} late"));
    }
    if let Some(late) = &f.late_redelivery {
        line.push_str(&format!(", every webhook again {late} later"));
    }
    line
}

/// Carries out a step that isn't an agent's.
async fn apply(w: &mut World, step: &TimedStep) -> anyhow::Result<()> {
    let psid = step
        .customer
        .as_deref()
        .and_then(|c| w.psids.get(c))
        .cloned()
        .unwrap_or_default();
    let mock = &w.pages[w.step_page(step)].mock;
    match &step.action {
        Action::Wait | Action::Agent { .. } => {}
        Action::Says(text) => {
            mock.lock().customer_message(&psid, text)?;
        }
        Action::Postback(title) => {
            mock.lock().customer_postback(&psid, title, title)?;
        }
        Action::Reaction(emoji) => {
            let mut p = mock.lock();
            let mid = p
                .customer(&psid)
                .and_then(|c| {
                    c.messages
                        .iter()
                        .rev()
                        .find(|m| !m.from_customer)
                        .or(c.messages.last())
                        .map(|m| m.mid.clone())
                })
                .unwrap_or_default();
            p.customer_reaction(&psid, &mid, emoji)?;
        }
        Action::Referral(r) => mock.lock().customer_referral(&psid, r, "SHORTLINK")?,
        Action::Reads => mock.lock().customer_read(&psid)?,
        Action::Blocks(b) => mock.lock().set_blocked(&psid, *b)?,
        Action::Handover(b) => mock.lock().set_other_app_owns(&psid, *b)?,
        Action::OtherApp {
            text,
            tag,
            recipients,
        } => {
            let tag = tag
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let kind = if tag.is_some() {
                MessagingType::MessageTag
            } else {
                MessagingType::Response
            };
            let mut mock = mock.lock();
            match recipients {
                None => {
                    let request = SendRequest::text(psid.clone(), kind, tag, text.clone());
                    let _ = mock.send_as_other_app(&request);
                }
                Some(n) => {
                    let psids = mock.broadcast_recipients(Some(&psid), *n as usize)?;
                    let _ = mock.broadcast_as_other_app(&psids, kind, tag, text);
                }
            }
        }
        Action::Faults(f) => {
            // Meta misbehaves for the page the step names, or for every page.
            let named = step.customer.is_some() || step.page.is_some();
            for page in &w.pages {
                if !named || std::ptr::eq(&page.mock, mock) {
                    page.mock.lock().faults = Faults::from(f);
                }
            }
        }
        Action::DiscordOutage(on) => w.discord.set_outage(*on),
        Action::DiscordFaults(f) => {
            w.discord.drop_answers_next(f.lost_answers);
            w.discord.rate_limit_next(f.rate_limited);
        }
        Action::Restart => w.restart().await?,
    }
    Ok(())
}
