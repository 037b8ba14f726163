//! Running one scenario end to end.

use std::time::{Duration, Instant};

use jiff::SignedDuration;
use messenger::wire::{MessagingType, SendRequest};
use mock_graph::platform::Faults;
use serde_json::Value;

use super::expect::{self, Miss};
use super::transcript::Transcript;
use super::world::{World, AGENT_ROLE, TEAM_ROLE};
use scenario_format::{Action, Scenario};

/// An expectation that didn't hold, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step's line in the file.
    pub line: usize,
    /// The step's time from the start.
    pub at: String,
    /// What didn't hold.
    pub miss: Miss,
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
    /// Expectations that failed.
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
    /// Customer messages Meta received.
    pub customer_messages: usize,
}

impl Report {
    /// Whether everything held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.error.is_none()
    }
}

/// Runs `s` under `seed`, end to end; `on_step` is called after each step (progress).
pub async fn run(s: &Scenario, seed: u64, on_step: &mut dyn FnMut()) -> Report {
    let started = Instant::now();
    let mut transcript = Transcript::new(&s.name, &s.description, seed);
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
        customer_messages: 0,
    };
    match World::start(s, seed).await {
        Ok(mut w) => {
            if let Err(e) = steps(s, &mut w, &mut transcript, &mut report, on_step).await {
                transcript.note(&format!("ERROR: {e:#}"));
                report.error = Some(format!("{e:#}"));
            }
            report.discord_calls = w.discord.call_count();
            report.customer_messages = w
                .mock
                .lock()
                .customers()
                .map(|c| c.messages.iter().filter(|m| m.from_customer).count())
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
    for step in &s.steps {
        let target = s.start + step.at;
        while let Some(stop) = w.next_stop(target)? {
            w.step_to(stop).await?;
            if t.has_activity(w) {
                t.line(stop, "tagdesk, on its own:");
                t.activity(w);
            }
        }
        w.jump_to(target).await;
        let now = w.now();
        let customer = step.customer.as_deref();
        let psid = customer
            .and_then(|c| w.psids.get(c))
            .cloned()
            .unwrap_or_default();
        let who = customer.map(|c| {
            let name = w
                .mock
                .lock()
                .customer(&psid)
                .and_then(|x| x.profile.display_name())
                .unwrap_or_default();
            format!("{c} ({name})")
        });
        let who = who.unwrap_or_default();
        let mut answer: Option<Value> = None;
        {
            match &step.action {
                Action::Wait => {
                    if step.expect.is_some() {
                        t.line(now, "check");
                    }
                }
                Action::Says(text) => {
                    t.line(now, &format!("{who} says “{text}”"));
                    w.mock.lock().customer_message(&psid, text)?;
                }
                Action::Postback(title) => {
                    t.line(now, &format!("{who} presses “{title}”"));
                    w.mock.lock().customer_postback(&psid, title, title)?;
                }
                Action::Reaction(emoji) => {
                    t.line(now, &format!("{who} reacts {emoji}"));
                    let mut p = w.mock.lock();
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
                Action::Referral(r) => {
                    t.line(now, &format!("{who} arrives from link “{r}”"));
                    w.mock.lock().customer_referral(&psid, r, "SHORTLINK")?;
                }
                Action::Reads => {
                    t.line(now, &format!("{who} reads the conversation"));
                    w.mock.lock().customer_read(&psid)?;
                }
                Action::Blocks(b) => {
                    t.line(
                        now,
                        &format!("{who} {} the page", if *b { "blocks" } else { "unblocks" }),
                    );
                    w.mock.lock().set_blocked(&psid, *b)?;
                }
                Action::Handover(b) => {
                    t.line(
                        now,
                        &format!(
                            "another app {} {who}'s conversation",
                            if *b { "takes" } else { "hands back" }
                        ),
                    );
                    w.mock.lock().set_other_app_owns(&psid, *b)?;
                }
                Action::OtherApp { text, tag } => {
                    t.line(
                        now,
                        &format!(
                            "another app sends {who} “{text}”{}",
                            tag.as_ref()
                                .map(|t| format!(" tagged {t}"))
                                .unwrap_or_default()
                        ),
                    );
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
                    let _ = w.mock.lock().send_as_other_app(&SendRequest::text(
                        psid.clone(),
                        kind,
                        tag,
                        text.clone(),
                    ));
                }
                Action::Faults(f) => {
                    t.line(now, &format!("faults: graph errors {}, 613 burst {}, latency {}, webhooks dropped {}, duplicated {}, reordered {}", f.graph_errors, f.rate_limit_burst, f.latency.as_deref().unwrap_or("0ms"), f.drop, f.duplicate, f.reorder));
                    w.mock.lock().faults = Faults::from(f);
                }
                Action::DiscordOutage(on) => {
                    t.line(
                        now,
                        if *on {
                            "Discord goes down"
                        } else {
                            "Discord is back"
                        },
                    );
                    w.discord.set_outage(*on);
                }
                Action::Restart => {
                    t.line(now, "the bot crashes and restarts on the same database");
                    w.restart().await?;
                }
                Action::Agent {
                    agent,
                    typed,
                    action,
                } => {
                    t.line(
                        now,
                        &format!(
                            "{agent}{}: {typed}",
                            customer
                                .map(|c| format!(" in {c}'s thread"))
                                .unwrap_or_default()
                        ),
                    );
                    let def = &s.agents[agent];
                    let mut roles = Vec::new();
                    if def.agent {
                        roles.push(AGENT_ROLE);
                    }
                    if def.team {
                        roles.push(TEAM_ROLE);
                    }
                    let a = w.act(agent, def.user_id, &roles, action, customer).await?;
                    t.answer(&a);
                    answer = Some(a);
                }
            }
        }
        w.settle().await?;
        t.activity(w);
        report.steps += 1;
        if let Some(x) = &step.expect {
            report.checked += 1;
            for miss in expect::check(w, x, customer, answer.as_ref())? {
                t.note(&format!(
                    "✗ expected {} = {}, got {}",
                    miss.field, miss.expected, miss.actual
                ));
                report.failures.push(super::run::Failure {
                    line: step.line,
                    at: messenger::timefmt::human(step.at),
                    miss,
                });
            }
        }
        on_step();
    }
    Ok(())
}
