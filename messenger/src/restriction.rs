//! Page restrictions: warnings, then a ladder of bans.
//!
//! Meta publishes no ladder. The seed guide reports five levels seen in practice
//! (1 day, 3 days, 7 days, 365 days, permanent), a warning usually first, and severity
//! mattering more than count: a 7-day ban for promotional tagged messages to 100
//! customers on a second offence. This module is that model; mock-graph enforces it and
//! the bot uses it to tell the team where the page stands.

use jiff::{SignedDuration, Timestamp};

/// A rung of the ladder.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Level {
    /// One day.
    #[serde(rename = "1d")]
    Day1,
    /// Three days.
    #[serde(rename = "3d")]
    Days3,
    /// Seven days.
    #[serde(rename = "7d")]
    Days7,
    /// A year.
    #[serde(rename = "365d")]
    Days365,
    /// For good (an appeal is the only way back).
    #[serde(rename = "permanent")]
    Permanent,
}

/// A level name that isn't one of `1d`, `3d`, `7d`, `365d`, `permanent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown restriction level {0:?}; known: 1d, 3d, 7d, 365d, permanent")]
pub struct UnknownLevel(pub String);

impl Level {
    /// Every level, lowest first.
    pub const LADDER: [Level; 5] = [
        Level::Day1,
        Level::Days3,
        Level::Days7,
        Level::Days365,
        Level::Permanent,
    ];

    /// How long it lasts; `None` for permanent.
    pub fn duration(self) -> Option<SignedDuration> {
        let days = match self {
            Level::Day1 => 1,
            Level::Days3 => 3,
            Level::Days7 => 7,
            Level::Days365 => 365,
            Level::Permanent => return None,
        };
        Some(SignedDuration::from_hours(24 * days))
    }

    /// The next rung up; permanent stays permanent.
    pub fn next(self) -> Level {
        match self {
            Level::Day1 => Level::Days3,
            Level::Days3 => Level::Days7,
            Level::Days7 => Level::Days365,
            Level::Days365 | Level::Permanent => Level::Permanent,
        }
    }

    /// Short name: `1d`, `3d`, `7d`, `365d`, `permanent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Day1 => "1d",
            Level::Days3 => "3d",
            Level::Days7 => "7d",
            Level::Days365 => "365d",
            Level::Permanent => "permanent",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = UnknownLevel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::LADDER
            .into_iter()
            .find(|l| l.as_str() == s.trim())
            .ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One restriction of the page's tagged messaging.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Restriction {
    /// Its rung.
    pub level: Level,
    /// When it began.
    pub since: Timestamp,
    /// When it ends; `None` for permanent.
    pub until: Option<Timestamp>,
    /// Why, as Meta's notice put it.
    pub reason: String,
}

impl Restriction {
    /// Whether it is in force at `now` (it ends exactly at `until`).
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// A policy violation, as Meta's judge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offense {
    /// Promotional content in tagged messages, to this many people within 24 hours.
    Promotional {
        /// Distinct recipients of promotional tagged messages in the last 24 hours.
        recipients: u32,
    },
    /// A third consecutive tagged message to one person.
    TagSpam,
    /// A violation Meta reported without details (a block notice the bot received).
    Reported {
        /// Meta's reason, if it gave one.
        reason: String,
    },
}

/// Promotional tagged messages to this many people in a day are severe.
pub const MASS_PROMOTION_RECIPIENTS: u32 = 100;

impl Offense {
    /// The lowest rung this offence can land on, whatever the history.
    pub fn floor(&self) -> Level {
        match self {
            Offense::Promotional { recipients } if *recipients >= MASS_PROMOTION_RECIPIENTS => {
                Level::Days7
            }
            _ => Level::Day1,
        }
    }

    /// Whether a page with a clean record gets a warning instead.
    pub fn warns_first(&self) -> bool {
        matches!(self, Offense::TagSpam)
    }

    /// In words, for notices and logs.
    pub fn reason(&self) -> String {
        match self {
            Offense::Promotional { recipients } => format!(
                "promotional content sent with a message tag ({recipients} recipients in 24 hours)"
            ),
            Offense::TagSpam => "too many consecutive tagged messages to one person".into(),
            Offense::Reported { reason } => reason.clone(),
        }
    }
}

/// What an offence cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Penalty {
    /// A warning; nothing is blocked.
    Warning,
    /// A restriction.
    Restricted(Restriction),
}

/// A page's record: its warnings and every restriction it has had.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Enforcement {
    /// Warnings received.
    pub warnings: u32,
    /// Restrictions, oldest first.
    pub history: Vec<Restriction>,
    /// When the last warning was given, as far as the record knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_warning: Option<Timestamp>,
}

/// Two reports of a warning this close together are one warning told twice: Meta
/// answers the offending send with 613 and sends its notice for the same offence.
pub const SAME_WARNING: SignedDuration = SignedDuration::from_mins(10);

impl Enforcement {
    /// Records an offence at `now` and returns its penalty: one rung above the highest
    /// reached so far, or the offence's floor if that is higher.
    pub fn record(&mut self, offense: &Offense, now: Timestamp) -> Penalty {
        if offense.warns_first() && self.warnings == 0 && self.history.is_empty() {
            self.warnings += 1;
            return Penalty::Warning;
        }
        let climbed = self.rung().map_or(Level::Day1, Level::next);
        let level = climbed.max(offense.floor());
        let restriction = Restriction {
            level,
            since: now,
            until: level.duration().map(|d| now + d),
            reason: offense.reason(),
        };
        self.history.push(restriction.clone());
        Penalty::Restricted(restriction)
    }

    /// Records a restriction Meta announced. Meta's notice rarely names the rung, so
    /// `level` is `None` unless it did; then the page is taken one rung above its
    /// highest so far, the ladder's usual step.
    pub fn impose(&mut self, level: Option<Level>, reason: String, now: Timestamp) -> Restriction {
        let level = level.unwrap_or_else(|| self.rung().map_or(Level::Day1, Level::next));
        let restriction = Restriction {
            level,
            since: now,
            until: level.duration().map(|d| now + d),
            reason,
        };
        self.history.push(restriction.clone());
        restriction
    }

    /// Records a warning Meta sent.
    pub fn warn(&mut self) {
        self.warnings += 1;
    }

    /// Records a warning reported at `at`, unless it is one already recorded (a
    /// warning reported within [`SAME_WARNING`] of the last). Returns whether it was new.
    pub fn warned_at(&mut self, at: Timestamp) -> bool {
        let same = self
            .last_warning
            .is_some_and(|last| at.duration_since(last).abs() <= SAME_WARNING);
        if same {
            return false;
        }
        self.warnings += 1;
        self.last_warning = Some(at);
        true
    }

    /// Lifts the restriction in force, as an unblock notice does.
    pub fn lift(&mut self, now: Timestamp) {
        if let Some(r) = self.history.last_mut().filter(|r| r.active_at(now)) {
            r.until = Some(now);
        }
    }

    /// The highest rung reached.
    pub fn rung(&self) -> Option<Level> {
        self.history.iter().map(|r| r.level).max()
    }

    /// The restriction in force at `now`.
    pub fn active(&self, now: Timestamp) -> Option<&Restriction> {
        self.history.iter().rev().find(|r| r.active_at(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn ladder_climbs_to_permanent_with_a_warning_first() {
        let mut e = Enforcement::default();
        let now = t("2026-11-01T00:00:00Z");
        assert_eq!(e.record(&Offense::TagSpam, now), Penalty::Warning);
        let mut levels = Vec::new();
        for _ in 0..6 {
            match e.record(&Offense::TagSpam, now) {
                Penalty::Restricted(r) => levels.push(r.level),
                Penalty::Warning => panic!("only the first is a warning"),
            }
        }
        assert_eq!(
            levels,
            [
                Level::Day1,
                Level::Days3,
                Level::Days7,
                Level::Days365,
                Level::Permanent,
                Level::Permanent
            ]
        );
        assert!(e.active(t("2100-01-01T00:00:00Z")).is_some());
    }

    #[test]
    fn mass_promotion_skips_rungs_and_restrictions_end() {
        let mut e = Enforcement::default();
        let now = t("2026-11-01T00:00:00Z");
        let Penalty::Restricted(first) = e.record(&Offense::Promotional { recipients: 1 }, now)
        else {
            panic!("promotion is never just a warning");
        };
        assert_eq!(first.level, Level::Day1);
        assert!(e.active(t("2026-11-01T23:59:59Z")).is_some());
        assert!(e.active(t("2026-11-02T00:00:00Z")).is_none());
        let later = t("2026-11-05T00:00:00Z");
        let Penalty::Restricted(second) =
            e.record(&Offense::Promotional { recipients: 100 }, later)
        else {
            panic!()
        };
        assert_eq!(second.level, Level::Days7);
        assert_eq!(second.until, Some(t("2026-11-12T00:00:00Z")));
        e.lift(t("2026-11-06T00:00:00Z"));
        assert!(e.active(t("2026-11-06T00:00:00Z")).is_none());
        assert_eq!(e.rung(), Some(Level::Days7));
    }

    #[test]
    fn one_warning_reported_twice_is_one_warning() {
        let t: Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
        let mut e = Enforcement::default();
        assert!(e.warned_at(t));
        assert!(
            !e.warned_at(t + SignedDuration::from_secs(5)),
            "the notice after the 613"
        );
        assert!(
            !e.warned_at(t - SignedDuration::from_secs(5)),
            "or before it"
        );
        assert_eq!(e.warnings, 1);
        assert!(
            e.warned_at(t + SignedDuration::from_hours(1)),
            "a later warning is new"
        );
        assert_eq!(e.warnings, 2);
    }
}
