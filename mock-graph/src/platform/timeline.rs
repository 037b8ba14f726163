//! A scenario's customer side, replayed by the emulator on its own clock.
//!
//! Loaded with `--scenario FILE` or `POST /_mock/scenario`, a scenario's customers are
//! created and their steps (messages, postbacks, reactions, referrals, reads, blocks,
//! handovers, other apps' sends, faults) fire in order as the virtual clock passes
//! them. Agents' steps and expectations are the scenario runner's business, not Meta's:
//! they are skipped, and counted so the caller knows.

use std::collections::{BTreeMap, VecDeque};

use jiff::{SignedDuration, Timestamp};
use messenger::guard::PromoLexicon;
use messenger::timefmt::parse_duration;
use messenger::wire::{MessagingType, SendRequest};
use scenario_format::format::FaultSection;
use scenario_format::{Action, Scenario};
use serde::Serialize;

use super::{AdminError, Faults, Platform, LATEST};

/// One scheduled customer-side event.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// When it fires.
    pub at: Timestamp,
    /// The customer's PSID.
    pub psid: String,
    /// What happens.
    pub action: Action,
}

/// What loading a scenario did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loaded {
    /// The scenario's name.
    pub name: String,
    /// Its customers: scenario id → PSID.
    pub customers: BTreeMap<String, String>,
    /// Events scheduled.
    pub scheduled: usize,
    /// Steps skipped: agents' actions, Discord outages and restarts, which need a bot.
    pub skipped: usize,
}

impl From<&FaultSection> for Faults {
    /// A scenario's `faults = {...}` as the emulator's faults. The loader has checked
    /// the durations parse and aren't negative.
    fn from(f: &FaultSection) -> Self {
        let duration = |d: &Option<String>| {
            d.as_deref()
                .and_then(|d| parse_duration(d).ok())
                .unwrap_or_default()
                .max(SignedDuration::ZERO)
        };
        Faults {
            error_rate: f.graph_errors,
            rate_limit_burst: f.rate_limit_burst,
            latency_ms: duration(&f.latency).as_millis() as u64,
            drop_rate: f.drop,
            duplicate_rate: f.duplicate,
            reorder_rate: f.reorder,
            echo_lag: duration(&f.echo_lag),
            late_redelivery: duration(&f.late_redelivery),
            profile_latency_ms: duration(&f.profile_latency).as_millis() as u64,
            profile_error_rate: f.profile_errors,
        }
    }
}

/// The scheduled events, in order.
pub type Timeline = VecDeque<Scheduled>;

/// A scheduled step in words: its kind (`says`, `postback`, `reaction`, `referral`,
/// `reads`, `blocks`, `unblocks`, `hands_over`, `takes_back`, `other_app`, `faults`)
/// and what it carries.
pub fn describe(action: &Action) -> (&'static str, String) {
    match action {
        Action::Says(text) => ("says", text.clone()),
        Action::Postback(title) => ("postback", title.clone()),
        Action::Reaction(emoji) => ("reaction", emoji.clone()),
        Action::Referral(r) => ("referral", r.clone()),
        Action::Reads => ("reads", String::new()),
        Action::Blocks(true) => ("blocks", String::new()),
        Action::Blocks(false) => ("unblocks", String::new()),
        Action::Handover(true) => ("hands_over", String::new()),
        Action::Handover(false) => ("takes_back", String::new()),
        Action::OtherApp {
            text,
            tag,
            recipients,
        } => {
            let mut detail = text.clone();
            if let Some(tag) = tag {
                detail.push_str(&format!(" [{tag}]"));
            }
            if let Some(n) = recipients {
                detail.push_str(&format!(" to {n} customers"));
            }
            ("other_app", detail)
        }
        Action::Faults(_) => ("faults", String::new()),
        // Never scheduled: the loader skips them.
        Action::Wait
        | Action::Agent { .. }
        | Action::DiscordOutage(_)
        | Action::DiscordFaults(_)
        | Action::Restart => ("skipped", String::new()),
    }
}

impl Platform {
    /// Starts over with `scenario`'s start, seed, rules and page, creates its
    /// customers, and schedules its customer-side steps.
    pub fn load_scenario(&mut self, scenario: &Scenario) -> Result<Loaded, AdminError> {
        check_bounds(scenario)?;
        self.settings.start = scenario.start;
        self.settings.seed = scenario.seed;
        self.settings.rules = scenario.era;
        self.settings.human_agent = scenario.human_agent;
        if let Some(r) = scenario.rate_limit {
            self.settings.rate_limit = r;
        }
        self.reset();
        if let Some(words) = &scenario.judge {
            self.judge = PromoLexicon::new(words);
        }
        let mut customers = BTreeMap::new();
        for (id, name) in &scenario.customers {
            customers.insert(id.clone(), self.add_customer(name.as_deref()));
        }
        let mut skipped = 0;
        for step in &scenario.steps {
            let psid = step
                .customer
                .as_ref()
                .and_then(|c| customers.get(c))
                .cloned();
            match (&step.action, psid) {
                (Action::Faults(_), _) => {}
                (Action::Wait, _) => continue,
                (
                    Action::Agent { .. }
                    | Action::DiscordOutage(_)
                    | Action::DiscordFaults(_)
                    | Action::Restart,
                    _,
                ) => {
                    skipped += 1;
                    continue;
                }
                (_, None) => {
                    skipped += 1;
                    continue;
                }
                _ => {}
            }
            self.timeline.push_back(Scheduled {
                at: scenario.start + step.at,
                psid: step
                    .customer
                    .as_ref()
                    .and_then(|c| customers.get(c))
                    .cloned()
                    .unwrap_or_default(),
                action: step.action.clone(),
            });
        }
        let scheduled = self.timeline.len();
        let loaded = Loaded {
            name: scenario.name.clone(),
            customers,
            scheduled,
            skipped,
        };
        self.scenario = Some(loaded.clone());
        self.fire_due(self.now);
        Ok(loaded)
    }

    /// When the next scheduled event fires.
    pub fn next_scheduled(&self) -> Option<Timestamp> {
        self.timeline.front().map(|s| s.at)
    }

    /// Fires scheduled events up to `until`, each at its own instant.
    pub(super) fn fire_due(&mut self, until: Timestamp) {
        while self.timeline.front().is_some_and(|s| s.at <= until) {
            let s = self.timeline.pop_front().expect("checked above");
            self.now = self.now.max(s.at);
            if let Err(e) = self.fire(&s) {
                tracing::warn!(error = %e, "scheduled scenario step failed");
            }
        }
    }

    fn fire(&mut self, s: &Scheduled) -> Result<(), AdminError> {
        let psid = s.psid.as_str();
        match &s.action {
            Action::Says(text) => self.customer_message(psid, text).map(drop),
            Action::Postback(title) => self.customer_postback(psid, title, title).map(drop),
            Action::Reaction(emoji) => {
                let mid = self
                    .customer(psid)
                    .and_then(|c| c.messages.last())
                    .map(|m| m.mid.clone())
                    .unwrap_or_default();
                self.customer_reaction(psid, &mid, emoji)
            }
            Action::Referral(r) => self.customer_referral(psid, r, "SHORTLINK"),
            Action::Reads => self.customer_read(psid),
            Action::Blocks(b) => self.set_blocked(psid, *b),
            Action::Handover(b) => self.set_other_app_owns(psid, *b),
            Action::OtherApp {
                text,
                tag,
                recipients,
            } => {
                let tag = tag.as_deref().and_then(|t| t.parse().ok());
                let kind = if tag.is_some() {
                    MessagingType::MessageTag
                } else {
                    MessagingType::Response
                };
                match recipients {
                    None => {
                        let request = SendRequest::text(psid, kind, tag, text.clone());
                        let _ = self.send_as_other_app(&request);
                    }
                    Some(n) => {
                        let psids = self.broadcast_recipients(Some(psid), *n as usize)?;
                        let _ = self.broadcast_as_other_app(&psids, kind, tag, text);
                    }
                }
                Ok(())
            }
            Action::Faults(f) => {
                self.faults = Faults::from(f);
                Ok(())
            }
            Action::Wait
            | Action::Agent { .. }
            | Action::DiscordOutage(_)
            | Action::DiscordFaults(_)
            | Action::Restart => Ok(()),
        }
    }
}

/// What the emulator can't take, refused before anything changes: a start or a step
/// past [`LATEST`], faults out of bounds.
fn check_bounds(scenario: &Scenario) -> Result<(), AdminError> {
    let out_of_range = |field, reason| AdminError::OutOfRange { field, reason };
    if scenario.start > LATEST {
        return Err(out_of_range(
            "start",
            format!(
                "{} is past {LATEST}, the latest instant the clock may show",
                scenario.start
            ),
        ));
    }
    for step in &scenario.steps {
        let at = scenario
            .start
            .checked_add(step.at)
            .ok()
            .filter(|at| *at <= LATEST);
        if at.is_none() {
            return Err(out_of_range(
                "at",
                format!("a step at {:#} from the start is past {LATEST}", step.at),
            ));
        }
        if let Action::Faults(f) = &step.action {
            Faults::from(f)
                .check_bounds()
                .map_err(|e| out_of_range("faults", e))?;
        }
    }
    Ok(())
}
