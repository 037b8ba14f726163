//! Live training: a session in the team's practice Discord server, on a compressed
//! clock.
//!
//! The session's world is the scripted one's ([`Desk`]: mock-graph as Meta, the bot's
//! pipeline and store, the virtual clock), with the practice server in place of the
//! recording Discord: the trainee sees the threads, labels, alerts and answers the bot
//! makes there. Their commands come from the gateway ([`Front`], an
//! [`Answerer`](bot::gateway::Answerer)) and are played in the world as the trainee's
//! steps at the virtual instant they arrive, so the session is recorded exactly as a
//! scripted one and replays offline as a scenario.
//!
//! The loop ([`session`]) is the only code that reads the real clock (tokio's): each
//! turn it hands the real time elapsed to [`pace::next`], which says how far the
//! virtual clock moves, or that it jumps a quiet stretch (announced in the channel).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bot::commands::{response, Action, Invocation, Msg, Response};
use bot::discord::{deadline, BoxFuture, DiscordApi, Effect, Post};
use bot::gateway::Answerer;
use scenario_format::command::AgentAction;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::card;
use super::exercise::Exercise;
use super::pace::{self, Move, Pace, Situation};
use super::presented::{People, Presented};
use super::session::{Desk, Session};
use super::trainer::{Trainer, TrainerAct};
use crate::scenario::settings::{LiveDiscord, Options};
use crate::scenario::world::{AGENT_ROLE, TEAM_ROLE};

/// How often the loop looks at the real clock when nothing arrives.
pub const BEAT: Duration = Duration::from_millis(250);

/// Discord's limit on a message's content.
const MESSAGE_LIMIT: usize = 2000;

/// An interaction for the running session, and where its answer goes.
pub struct Incoming {
    /// The interaction, as the bot parsed it.
    pub invocation: Invocation,
    /// The answer: Discord's interaction response JSON.
    pub answer: oneshot::Sender<Value>,
}

/// The gateway's side of a live session: each interaction goes to the running session
/// and its answer back to Discord within the deadline (deferred and edited in if the
/// world is busy, say posting a backlog at Discord's pace).
#[derive(Clone)]
pub struct Front {
    to_session: mpsc::Sender<Incoming>,
    discord: Arc<dyn DiscordApi>,
}

impl Front {
    /// A front whose deferred answers go through `discord`, and the receiving end the
    /// session reads.
    pub fn new(discord: Arc<dyn DiscordApi>) -> (Front, mpsc::Receiver<Incoming>) {
        let (to_session, incoming) = mpsc::channel(64);
        (
            Front {
                to_session,
                discord,
            },
            incoming,
        )
    }
}

impl Answerer for Front {
    fn answer(&self, inv: Invocation, application_id: u64) -> BoxFuture<'_, deadline::Started> {
        let to_session = self.to_session.clone();
        let asked = inv.clone();
        let answer = async move {
            let (answer, answered) = oneshot::channel();
            let fallback = between_exercises(&asked);
            let incoming = Incoming {
                invocation: asked,
                answer,
            };
            if to_session.send(incoming).await.is_err() {
                return fallback;
            }
            answered.await.unwrap_or(fallback)
        };
        // Autocomplete can't be deferred: it is answered in time, empty if need be.
        let answer = {
            let empty = between_exercises(&inv);
            let autocomplete = matches!(inv.action, Action::Autocomplete { .. });
            async move {
                if !autocomplete {
                    return answer.await;
                }
                tokio::time::timeout(deadline::DEADLINE, answer)
                    .await
                    .unwrap_or(empty)
            }
        };
        Box::pin(async move {
            deadline::answer_within(
                self.discord.clone(),
                &inv,
                answer,
                application_id,
                deadline::DEADLINE,
            )
            .await
        })
    }
}

/// The answer to what arrived when no exercise was running: an interaction of the
/// kind Discord expects (autocomplete gets an empty list of choices).
fn between_exercises(inv: &Invocation) -> Value {
    match inv.action {
        Action::Autocomplete { .. } => serde_json::json!({"type": 8, "data": {"choices": []}}),
        _ => private("That was typed between exercises; try again now."),
    }
}

/// An ephemeral message, as an interaction response.
fn private(text: &str) -> Value {
    response::render(&Response::Message(Msg::private(text)))
}

/// Where a live session runs.
#[derive(Clone)]
pub struct Practice {
    /// The practice server's Discord (paced as it needs).
    pub discord: Arc<dyn DiscordApi>,
    /// The trainee's channel.
    pub channel: u64,
    /// How the clock is compressed.
    pub pace: Pace,
    /// The role alerts ping in the server, if any.
    pub agent_role: Option<u64>,
    /// The trainee's account: only their commands count. `None`: anyone's do.
    pub trainee_user: Option<u64>,
    /// This run, among the practice server's runs (the real time it started, say):
    /// what the session posts is told apart from an earlier run's by it.
    pub run: u64,
}

/// What reaches a live session from outside: the trainee's interactions, and a
/// trainer's customers if a trainer's door is open.
pub struct Inbound {
    /// From the gateway ([`Front`]).
    pub interactions: mpsc::Receiver<Incoming>,
    /// From the trainer's door, and the door (shown each session's mock-graph).
    pub trainer: Option<(Trainer, mpsc::Receiver<TrainerAct>)>,
}

/// What arrived while the clock ran.
enum Arrived {
    Interaction(Incoming),
    Trainer(TrainerAct),
    Beat,
}

impl Inbound {
    /// Waits at most `beat` for something to arrive.
    async fn next(&mut self, beat: Duration) -> anyhow::Result<Arrived> {
        let trainer = async {
            match &mut self.trainer {
                Some((_, acts)) => acts.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            got = self.interactions.recv() => match got {
                Some(i) => Ok(Arrived::Interaction(i)),
                None => anyhow::bail!("the connection to Discord closed"),
            },
            Some(act) = trainer => Ok(Arrived::Trainer(act)),
            () = tokio::time::sleep(beat) => Ok(Arrived::Beat),
        }
    }

    /// Something that has already arrived, without waiting.
    fn ready(&mut self) -> Option<Arrived> {
        if let Ok(i) = self.interactions.try_recv() {
            return Some(Arrived::Interaction(i));
        }
        let (_, acts) = self.trainer.as_mut()?;
        acts.try_recv().ok().map(Arrived::Trainer)
    }

    /// Answers what arrived before the exercise started: it belongs to none.
    fn refuse_stale(&mut self) {
        while let Ok(stale) = self.interactions.try_recv() {
            let _ = stale.answer.send(between_exercises(&stale.invocation));
        }
        if let Some((_, acts)) = &mut self.trainer {
            while let Ok(stale) = acts.try_recv() {
                let _ = stale.answer.send(Err("no exercise was running".into()));
            }
        }
    }

    fn show(&self, mock: Option<mock_graph::http::AppState>) {
        if let Some((door, _)) = &self.trainer {
            door.show(mock);
        }
    }
}

/// Runs `ex` live for `trainee` in the practice server: announces it, plays the
/// trainee's commands (and a trainer's customers) as they arrive, moves the clock by
/// [`pace::next`], and posts the scorecard at the end.
pub async fn session(
    ex: &Exercise,
    trainee: &str,
    practice: &Practice,
    inbound: &mut Inbound,
) -> anyhow::Result<Session> {
    let mut desk = Desk::open_with(ex, trainee, &options(practice, trainee, ex)).await?;
    let mut said = Said::new(practice, &ex.name);
    inbound.refuse_stale();
    inbound.show(Some(desk.world().mock().clone()));
    let session = run(&mut desk, &mut said, practice, inbound, ex).await;
    inbound.show(None);
    session?;
    let session = desk.finish().await?;
    for part in split(&card::markdown(&session.scorecard), MESSAGE_LIMIT) {
        said.say(&part).await?;
    }
    Ok(session)
}

/// The session's loop, until the exercise ends.
async fn run(
    desk: &mut Desk<'_>,
    said: &mut Said,
    practice: &Practice,
    inbound: &mut Inbound,
    ex: &Exercise,
) -> anyhow::Result<()> {
    said.say(&intro(ex, desk, &practice.pace)).await?;
    let mut last = Instant::now();
    loop {
        // What arrived while the clock ran is played before it moves again (a jump
        // would otherwise carry a command typed at 10:00 to Monday), and at the end
        // everything typed before the end is played.
        while let Some(arrived) = inbound.ready() {
            take(desk, practice, arrived).await?;
        }
        let now = Instant::now();
        let at = Situation {
            now: desk.now(),
            next_event: desk.next_event(),
            waiting: desk.waiting()?,
            ends: desk.ends(),
        };
        last = match pace::next(&practice.pace, &at, (now - last).try_into()?) {
            Move::End => return Ok(()),
            Move::To(to) => {
                desk.run_until(to).await?;
                now
            }
            Move::Jump { to, announce } => {
                said.say(&announce).await?;
                desk.run_until(to).await?;
                // The jump took no virtual time of the trainee's.
                Instant::now()
            }
        };
        let arrived = inbound.next(BEAT).await?;
        take(desk, practice, arrived).await?;
    }
}

/// Plays what arrived.
async fn take(desk: &mut Desk<'_>, practice: &Practice, arrived: Arrived) -> anyhow::Result<()> {
    match arrived {
        Arrived::Interaction(i) => serve(desk, practice, i).await,
        Arrived::Trainer(act) => {
            tracing::info!(psid = %act.psid, action = ?act.action, "the trainer plays a customer");
            let played = desk.customer_acts(&act.psid, act.action).await?;
            let _ = act.answer.send(played);
            Ok(())
        }
        Arrived::Beat => Ok(()),
    }
}

/// The world's options for a live session: the practice server as its Discord, with
/// the world's agent role and trainee shown as the server's.
fn options(practice: &Practice, trainee: &str, ex: &Exercise) -> Options {
    let world_trainee = super::session::scenario_for(ex, trainee)
        .agents
        .get(trainee)
        .map(|a| a.user_id);
    let people = People {
        roles: vec![(AGENT_ROLE, practice.agent_role), (TEAM_ROLE, None)],
        users: world_trainee
            .map(|id| vec![(id, practice.trainee_user)])
            .unwrap_or_default(),
    };
    Options {
        live: Some(LiveDiscord {
            api: Arc::new(Presented {
                inner: practice.discord.clone(),
                people,
            }),
            channel: practice.channel,
        }),
        ..Options::default()
    }
}

/// Sessions' announcements so far in this process, for their nonces.
static SAID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What the session says in the trainee's channel, each message once.
struct Said {
    discord: Arc<dyn DiscordApi>,
    channel: u64,
    prefix: String,
    count: usize,
}

/// Posts `text` in the trainee's channel (split into messages Discord takes); `key`
/// tells its nonces from other posts'.
pub async fn announce(practice: &Practice, key: &str, text: &str) -> anyhow::Result<()> {
    let mut said = Said::new(practice, key);
    for part in split(text, MESSAGE_LIMIT) {
        said.say(&part).await?;
    }
    Ok(())
}

impl Said {
    fn new(practice: &Practice, key: &str) -> Said {
        Said {
            discord: practice.discord.clone(),
            channel: practice.channel,
            // Discord takes nonces of at most 25 characters.
            // Discord remembers a nonce for minutes: the same exercise taken again, in
            // this run or the next, must not reuse one.
            prefix: format!(
                "t{:x}-{}",
                fnv(&format!("{key}:{}", practice.run)) & 0xffff_ffff,
                SAID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            count: 0,
        }
    }

    async fn say(&mut self, text: &str) -> anyhow::Result<()> {
        self.count += 1;
        let post = Post {
            content: text.to_owned(),
            ..Post::default()
        };
        let nonce = format!("{}-{}", self.prefix, self.count);
        let effect = Effect::SendMessage {
            channel: self.channel,
            post: &post,
            nonce: &nonce,
        };
        // A message lost to a hiccup is retried; the nonce keeps it from showing twice.
        let mut tries = 0;
        loop {
            match self.discord.perform(&effect).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_transient() && tries < 5 => {
                    tries += 1;
                    let wait = e
                        .retry_after
                        .map_or(Duration::from_secs(1), |d| d.unsigned_abs());
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e).context("posting in the trainee's channel"),
            }
        }
    }
}

/// A small stable hash, for nonces.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The exercise's opening message.
fn intro(ex: &Exercise, desk: &Desk<'_>, pace: &Pace) -> String {
    format!(
        "🎓 **Exercise: {}**\n**Goal:** {}\nIt starts {} (virtual) and ends {}. The clock runs {} while something waits for you, and jumps ahead when nothing does. Customers' conversations open as threads here; answer them with the usual commands.",
        ex.name,
        ex.goal,
        desk.start().strftime("%A %d %B %H:%M"),
        desk.ends().strftime("%A %d %B %H:%M"),
        speed_words(pace.speed),
    )
}

/// "1 virtual minute per second", "2 virtual hours per second", ...
fn speed_words(speed: f64) -> String {
    let (n, unit) = if speed >= 3600.0 {
        (speed / 3600.0, "hour")
    } else if speed >= 60.0 {
        (speed / 60.0, "minute")
    } else {
        (speed, "second")
    };
    let n = (n * 10.0).round() / 10.0;
    let plural = if n == 1.0 { "" } else { "s" };
    format!("{n} virtual {unit}{plural} per second")
}

/// Splits `text` at line ends into messages of at most `limit` characters.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if !current.is_empty() && current.chars().count() + 1 + line.chars().count() > limit {
            parts.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        // A line longer than a message goes in pieces.
        let mut rest: Vec<char> = line.chars().collect();
        while current.chars().count() + rest.len() > limit {
            let room = limit - current.chars().count();
            current.extend(rest.drain(..room));
            parts.push(std::mem::take(&mut current));
        }
        current.extend(rest);
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
}

/// What an interaction comes to in the session.
#[derive(Debug, PartialEq)]
pub enum Heard {
    /// A step of the trainee's, recorded: what they did, as a scenario writes it.
    Step {
        /// The customer whose thread it was in (or who it named).
        customer: Option<String>,
        /// As typed (`/reply text:Hello`, `press park`, `pick HUMAN_AGENT`).
        typed: String,
        /// The parsed action.
        action: AgentAction,
    },
    /// Something that changes nothing (autocomplete, opening the reply form): answered
    /// by the world's bot, not recorded.
    Look(Box<Invocation>),
    /// Not played, with why.
    Refused(String),
}

/// Serves one interaction: plays it (or looks), and answers.
async fn serve(desk: &mut Desk<'_>, practice: &Practice, i: Incoming) -> anyhow::Result<()> {
    let heard = hear(desk, practice, &i.invocation)
        .unwrap_or_else(|e| Heard::Refused(format!("That couldn't be played here: {e:#}")));
    let answer = match heard {
        Heard::Step {
            customer,
            typed,
            action,
        } => {
            tracing::info!(%typed, ?customer, "the trainee acts");
            let played = desk.act(customer, &typed, action).await?;
            played
                .answer
                .clone()
                .unwrap_or_else(|| private("That button isn't there any more."))
        }
        Heard::Look(inv) => desk.world().perform(&inv).await,
        Heard::Refused(why) => private(&why),
    };
    let _ = i.answer.send(answer);
    Ok(())
}

/// What `inv`, from the practice server, comes to in the session's world: the
/// trainee's action exactly as they took it (every option's value as sent, the button
/// pressed by its `custom_id`, the form submitted as a form), so that the recorded
/// step replays to the same outcome. `typed` is only how transcripts show it.
pub fn hear(desk: &Desk<'_>, practice: &Practice, inv: &Invocation) -> anyhow::Result<Heard> {
    let trainee = desk.trainee();
    if practice.trainee_user.is_some_and(|id| id != inv.agent.id) {
        return Ok(Heard::Refused(format!(
            "This practice desk is {}'s session: only their commands count.",
            trainee.name
        )));
    }
    let w = desk.world();
    let by_psid: BTreeMap<&str, &str> = w
        .psids
        .iter()
        .map(|(c, p)| (p.as_str(), c.as_str()))
        .collect();
    let customer_of = |psid: &str| by_psid.get(psid).map(|c| (*c).to_owned());
    let in_thread = match inv.channel_id {
        Some(channel) => w
            .engine()
            .store
            .thread_by_discord(channel)?
            .and_then(|t| customer_of(&t.psid)),
        None => None,
    };
    // The world's bot checks the world's roles: the trainee acts as the world knows
    // them.
    let as_trainee = || {
        let mut seen = inv.clone();
        seen.agent.id = trainee.user_id;
        seen.agent.roles = trainee.roles.clone();
        Heard::Look(Box::new(seen))
    };
    let step = |customer: Option<String>, typed: String, action: AgentAction| Heard::Step {
        customer,
        typed,
        action,
    };
    Ok(match &inv.action {
        Action::Ping => Heard::Refused(String::new()),
        Action::Autocomplete { .. } => as_trainee(),
        Action::Command { name, options } => {
            let mut customer = in_thread;
            let (command, sub) = match name.split_once('/') {
                Some((c, s)) => (c.to_owned(), Some(s.to_owned())),
                None => (name.clone(), None),
            };
            let mut given: Vec<(String, Value)> = Vec::new();
            let mut options: Vec<(&String, &Value)> = options.iter().collect();
            // Free text last, as people type it.
            options.sort_by_key(|(k, _)| (k.as_str() == "text", k.as_str()));
            for (k, v) in options {
                // A customer picked from the list is the step's customer.
                if let Some(named) = (k == "customer")
                    .then(|| v.as_str().and_then(customer_of))
                    .flatten()
                {
                    customer = Some(named);
                    continue;
                }
                given.push((k.clone(), v.clone()));
            }
            let mut typed = format!("/{}", name.replace('/', " "));
            for (k, v) in &given {
                match v {
                    Value::String(t) => typed.push_str(&format!(" {k}:{t}")),
                    other => typed.push_str(&format!(" {k}:{other}")),
                }
            }
            let action = AgentAction::Slash {
                command,
                sub,
                options: given,
            };
            step(customer, typed, action)
        }
        Action::Component { custom_id, values } => {
            if custom_id.starts_with("reply:") {
                return Ok(as_trainee()); // Opens the reply form.
            }
            let last = w.last_answers().remove(&trainee.name);
            if !last.as_ref().is_some_and(|m| has_component(m, custom_id)) {
                return Ok(Heard::Refused(
                    "That button is under an earlier answer. Here, use the buttons under your latest answer, or type the command again.".into(),
                ));
            }
            match values.first() {
                Some(v) => step(in_thread, format!("pick {v}"), AgentAction::Pick(v.clone())),
                None => step(
                    in_thread,
                    format!("press {custom_id}"),
                    AgentAction::Press(custom_id.clone()),
                ),
            }
        }
        Action::Modal { custom_id, fields } => {
            let customer = custom_id
                .strip_prefix("reply-modal:")
                .and_then(customer_of)
                .or(in_thread);
            let mut fields: Vec<(String, String)> =
                fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            fields.sort();
            let action = AgentAction::Submit {
                custom_id: custom_id.clone(),
                fields,
            };
            step(customer, format!("submit {custom_id}"), action)
        }
    })
}

/// Whether `message` (an interaction response) has a component with `custom_id`.
fn has_component(message: &Value, custom_id: &str) -> bool {
    message["data"]["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().into_iter().flatten())
        .any(|c| c["custom_id"] == custom_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_scorecard_goes_in_messages_discord_takes() {
        let text = format!(
            "{}\n{}\n{}",
            "a".repeat(1500),
            "b".repeat(800),
            "c".repeat(4500)
        );
        let parts = split(&text, 2000);
        assert!(parts.iter().all(|p| p.chars().count() <= 2000));
        assert_eq!(parts.concat().replace('\n', ""), text.replace('\n', ""));
        assert_eq!(parts[0], "a".repeat(1500));
    }

    #[test]
    fn the_speed_in_words() {
        assert_eq!(speed_words(60.0), "1 virtual minute per second");
        assert_eq!(speed_words(120.0), "2 virtual minutes per second");
        assert_eq!(speed_words(7200.0), "2 virtual hours per second");
        assert_eq!(speed_words(30.0), "30 virtual seconds per second");
    }
}
