//! The product's promises, as the explorer checks them, and how a run's failures map
//! onto them.
//!
//! The promises are written into the generated file as expectations (see
//! [`super::plan::Plan::render`]), so the runner checks them after every step and
//! once everything has settled; here a failure is named by the promise it breaks.

use std::panic::AssertUnwindSafe;

use super::super::run::{self, FailureKind};
use super::super::settings::Options;
use super::error_log::ErrorLog;

/// A promise tagdesk makes when no other app misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// No message of tagdesk's accepted by Meta twice (`duplicates = 0`).
    NoDuplicates,
    /// No Meta warning or restriction (`warnings = 0`, `worst_restriction = "none"`),
    /// checked only in worlds where no other app sends.
    NoPenalty,
    /// Every customer message stored once and shown in Discord once, once settled
    /// (`nothing_lost = true`).
    NothingLost,
    /// Every reply an agent was told is sent or queued reached Meta once (at most once
    /// if queued and then stopped), in the order promised (`replies_kept = true`).
    RepliesKept,
    /// Every answer to an agent was true (`answers_true = true`).
    AnswersTrue,
    /// The bot's record of the page equals Meta's (`record_agrees = true`).
    RecordAgrees,
    /// The run itself went through: no step the runner couldn't carry out.
    RunCompletes,
    /// Nothing panicked.
    NoPanic,
    /// No error-level log in a world where nothing goes wrong on purpose.
    NoErrorLog,
    /// Any other expectation that failed (the explorer's own tests add one).
    Other,
}

impl Invariant {
    /// Its short name, for the summary and file names.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::NoDuplicates => "no-duplicates",
            Invariant::NoPenalty => "no-penalty",
            Invariant::NothingLost => "nothing-lost",
            Invariant::RepliesKept => "replies-kept",
            Invariant::AnswersTrue => "answers-true",
            Invariant::RecordAgrees => "record-agrees",
            Invariant::RunCompletes => "run-completes",
            Invariant::NoPanic => "no-panic",
            Invariant::NoErrorLog => "no-error-log",
            Invariant::Other => "other",
        }
    }

    /// What it promises, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Invariant::NoDuplicates => "no message accepted by Meta twice (duplicates = 0)",
            Invariant::NoPenalty => {
                "no Meta warning or restriction caused by tagdesk (warnings = 0, worst_restriction = none)"
            }
            Invariant::NothingLost => {
                "every customer message stored once and in Discord once after settling (nothing_lost = true)"
            }
            Invariant::RepliesKept => {
                "every reply told sent or queued reaches Meta exactly once, in order (replies_kept = true)"
            }
            Invariant::AnswersTrue => {
                "every answer to an agent is true: sent was accepted, refused and parked sent nothing, queued ended with a posted outcome (answers_true = true)"
            }
            Invariant::RecordAgrees => {
                "the bot's record of the page (warnings, rung, restriction) equals Meta's (record_agrees = true)"
            }
            Invariant::RunCompletes => "the run completes without a runner error",
            Invariant::NoPanic => "nothing panics",
            Invariant::NoErrorLog => {
                "no error-level log without an injected fault to explain it"
            }
            Invariant::Other => "an expectation of the file",
        }
    }

    /// The invariant an expectation's field checks.
    fn of_field(field: &str) -> Invariant {
        match field {
            "duplicates" => Invariant::NoDuplicates,
            "warnings" | "worst_restriction" => Invariant::NoPenalty,
            "nothing_lost" => Invariant::NothingLost,
            "replies_kept" => Invariant::RepliesKept,
            "answers_true" => Invariant::AnswersTrue,
            "record_agrees" => Invariant::RecordAgrees,
            _ => Invariant::Other,
        }
    }
}

/// One broken promise: which, where, and in the runner's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The promise.
    pub invariant: Invariant,
    /// The step's line in the file (0 when the run stopped or panicked).
    pub line: usize,
    /// The step's time from the start.
    pub at: String,
    /// Expected and actual, or the error.
    pub detail: String,
}

/// The outcome of running one world.
#[derive(Debug)]
pub struct Outcome {
    /// Broken promises, in step order (empty: the world passed).
    pub violations: Vec<Violation>,
    /// The runner's report (`None` if the run panicked).
    pub report: Option<run::Report>,
}

/// Runs `s` on a fresh runtime (a panic or leftover task can't leak into the next
/// world) and names what broke. A press that found no button is the generator's
/// guess missing, not a broken promise: it is ignored.
///
/// `quiet`: nothing in the world goes wrong on purpose, so an error-level log is a
/// broken promise too.
pub fn check(s: &scenario_format::Scenario, options: &Options, quiet: bool) -> Outcome {
    let log = ErrorLog::default();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        log.capture(|| {
            let rt = super::super::runtime().expect("a current-thread runtime");
            rt.block_on(run::run_with(s, s.seed, options, &mut || {}))
        })
    }));
    let report = match result {
        Ok(r) => r,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".into());
            return Outcome {
                violations: vec![Violation {
                    invariant: Invariant::NoPanic,
                    line: 0,
                    at: String::new(),
                    detail,
                }],
                report: None,
            };
        }
    };
    let mut violations: Vec<Violation> = report
        .failures
        .iter()
        .filter_map(|f| match &f.kind {
            FailureKind::Expectation(m) => Some(Violation {
                invariant: Invariant::of_field(m.field),
                line: f.line,
                at: f.at.clone(),
                detail: format!("{}: expected {}, got {}", m.field, m.expected, m.actual),
            }),
            FailureKind::NoSuchButton(_) => None,
        })
        .collect();
    if quiet {
        if let Some(first) = log.events().first() {
            violations.push(Violation {
                invariant: Invariant::NoErrorLog,
                line: 0,
                at: String::new(),
                detail: first.clone(),
            });
        }
    }
    if let Some(e) = &report.error {
        violations.push(Violation {
            invariant: Invariant::RunCompletes,
            line: 0,
            at: String::new(),
            detail: e.clone(),
        });
    }
    Outcome {
        violations,
        report: Some(report),
    }
}
