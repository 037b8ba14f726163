//! The rules of an era, as data.
//!
//! Meta changes which tags exist and what they allow; tools that hard-coded the tags
//! broke on 2026-04-27. Here an era is a table: adding one is a new `static`, and
//! nothing else in the code base names a tag's window or status.

use jiff::{SignedDuration, Timestamp};

use crate::tags::Tag;

/// The length of the standard messaging window.
pub const STANDARD_WINDOW: SignedDuration = SignedDuration::from_hours(24);
/// How long after the person's last message a human agent may answer.
pub const HUMAN_AGENT_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A named set of rules.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Era {
    /// The four-tag world of 2020 to April 2026, as the seed guide describes it.
    #[serde(rename = "legacy-2020")]
    Legacy2020,
    /// After 2026-04-27: three of the four classic tags retired. The default.
    #[default]
    #[serde(rename = "meta-2026")]
    Meta2026,
}

/// A rules era name that isn't known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rules era {0:?}; known: auto, meta-2026, legacy-2020")]
pub struct UnknownEra(pub String);

impl Era {
    /// Every era, newest first.
    pub const ALL: [Era; 2] = [Era::Meta2026, Era::Legacy2020];

    /// The era's name, as in `meta-2026`.
    pub fn as_str(self) -> &'static str {
        match self {
            Era::Legacy2020 => "legacy-2020",
            Era::Meta2026 => "meta-2026",
        }
    }

    /// The era's table.
    pub fn rules(self) -> &'static Rules {
        match self {
            Era::Legacy2020 => &LEGACY_2020,
            Era::Meta2026 => &META_2026,
        }
    }
}

/// The first instant of 2026-04-27 (UTC), when Meta retired three of the four classic
/// tags: the `meta-2026` rules apply from here on, `legacy-2020` before.
pub const RETIREMENT: Timestamp = Timestamp::constant(1_777_248_000, 0);

impl Era {
    /// The era whose rules Meta applied at `at`.
    pub fn at(at: Timestamp) -> Era {
        if at < RETIREMENT {
            Era::Legacy2020
        } else {
            Era::Meta2026
        }
    }
}

/// Which rules apply: the calendar's (`auto`, the default), or one era whatever the
/// date, for replaying old traffic under the rules of its time or testing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RulesChoice {
    /// `legacy-2020` before 2026-04-27, `meta-2026` from then on.
    #[default]
    Auto,
    /// This era at every instant.
    Fixed(Era),
}

impl RulesChoice {
    /// The era in force at `at`.
    pub fn era_at(self, at: Timestamp) -> Era {
        match self {
            RulesChoice::Auto => Era::at(at),
            RulesChoice::Fixed(era) => era,
        }
    }

    /// The rules in force at `at`.
    pub fn at(self, at: Timestamp) -> &'static Rules {
        self.era_at(at).rules()
    }

    /// A fixed era that contradicts the calendar at `at`, in words: allowed (a replay),
    /// but worth a warning.
    pub fn contradiction(self, at: Timestamp) -> Option<String> {
        match self {
            RulesChoice::Fixed(era) if era != Era::at(at) => Some(format!(
                "rules = \"{era}\" at {}, when Meta applied {}: fine for a replay, wrong for live traffic",
                at.strftime("%Y-%m-%d"),
                Era::at(at)
            )),
            _ => None,
        }
    }

    /// The choice's name, as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            RulesChoice::Auto => "auto",
            RulesChoice::Fixed(era) => era.as_str(),
        }
    }
}

impl std::str::FromStr for RulesChoice {
    type Err = UnknownEra;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(RulesChoice::Auto),
            other => other.parse().map(RulesChoice::Fixed),
        }
    }
}

impl<'de> serde::Deserialize<'de> for RulesChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Era {
    type Err = UnknownEra;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Era::ALL
            .into_iter()
            .find(|e| e.as_str() == s.trim())
            .ok_or_else(|| UnknownEra(s.to_owned()))
    }
}

impl std::fmt::Display for Era {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an era allows.
#[derive(Debug, PartialEq, Eq)]
pub struct Rules {
    /// Which era this is.
    pub era: Era,
    /// The standard window after the person's last window-opening action.
    pub standard_window: SignedDuration,
    /// Every tag the era knows, in the order an agent should consider them.
    pub tags: &'static [TagRule],
}

/// One tag in one era.
#[derive(Debug, PartialEq, Eq)]
pub struct TagRule {
    /// The tag.
    pub tag: Tag,
    /// What it is for, in an agent's words.
    pub purpose: &'static str,
    /// Whether it can be used, and how.
    pub status: TagStatus,
    /// A warning about a common misuse, shown when the tag is chosen.
    pub hint: Option<&'static str>,
}

/// Whether a tag can be used in an era.
#[derive(Debug, PartialEq, Eq)]
pub enum TagStatus {
    /// Usable under these conditions.
    Available(TagLimits),
    /// Meta answers code 100.
    Retired {
        /// Since when, as a date.
        since: &'static str,
        /// What to use instead.
        instead: &'static str,
    },
}

/// The conditions on an available tag.
#[derive(Debug, PartialEq, Eq)]
pub struct TagLimits {
    /// How long after the person's last message it may be used; `None` for no limit.
    pub within: Option<SignedDuration>,
    /// Only a human may send it, never an automation.
    pub humans_only: bool,
    /// The page needs the Human Agent feature (an app-review permission).
    pub needs_human_agent_feature: bool,
    /// Only with Meta's template for this tag.
    pub template_only: bool,
    /// Only for registered news pages.
    pub news_pages_only: bool,
}

const NO_LIMITS: TagLimits = TagLimits {
    within: None,
    humans_only: false,
    needs_human_agent_feature: false,
    template_only: false,
    news_pages_only: false,
};

const HUMAN_AGENT_RULE: TagRule = TagRule {
    tag: Tag::HumanAgent,
    purpose: "a person on the team answering an inquiry that needed more than 24 hours",
    status: TagStatus::Available(TagLimits {
        within: Some(HUMAN_AGENT_WINDOW),
        humans_only: true,
        needs_human_agent_feature: true,
        ..NO_LIMITS
    }),
    hint: Some("only for answering the customer's inquiry; never automated or unrelated content"),
};

const RETIRED_2026: &str = "2026-04-27";
const UTILITY_INSTEAD: &str = "a template-based Utility Message";

/// The rules since 2026-04-27.
pub static META_2026: Rules = Rules {
    era: Era::Meta2026,
    standard_window: STANDARD_WINDOW,
    tags: &[
        HUMAN_AGENT_RULE,
        TagRule {
            tag: Tag::CustomerFeedback,
            purpose: "the customer-feedback survey template, within 7 days of the last message",
            status: TagStatus::Available(TagLimits {
                within: Some(HUMAN_AGENT_WINDOW),
                template_only: true,
                ..NO_LIMITS
            }),
            hint: Some("only with Meta's customer feedback template, not free text"),
        },
        TagRule {
            tag: Tag::NonPromotionalSubscription,
            purpose: "regular news updates, for registered news pages",
            status: TagStatus::Available(TagLimits {
                news_pages_only: true,
                ..NO_LIMITS
            }),
            hint: None,
        },
        TagRule {
            tag: Tag::ConfirmedEventUpdate,
            purpose: "reminders and updates for an event the customer registered for",
            status: TagStatus::Retired {
                since: RETIRED_2026,
                instead: UTILITY_INSTEAD,
            },
            hint: None,
        },
        TagRule {
            tag: Tag::PostPurchaseUpdate,
            purpose: "receipts, shipping and order updates for a purchase",
            status: TagStatus::Retired {
                since: RETIRED_2026,
                instead: UTILITY_INSTEAD,
            },
            hint: None,
        },
        TagRule {
            tag: Tag::AccountUpdate,
            purpose: "a non-recurring change to the customer's account or application",
            status: TagStatus::Retired {
                since: RETIRED_2026,
                instead: UTILITY_INSTEAD,
            },
            hint: None,
        },
    ],
};

/// The four-tag rules of 2020 to 2026-04-27, as the seed guide lists them.
pub static LEGACY_2020: Rules = Rules {
    era: Era::Legacy2020,
    standard_window: STANDARD_WINDOW,
    tags: &[
        HUMAN_AGENT_RULE,
        TagRule {
            tag: Tag::ConfirmedEventUpdate,
            purpose: "reminders or updates for an event the customer registered for, such as an appointment reminder or a booking confirmation",
            status: TagStatus::Available(NO_LIMITS),
            hint: None,
        },
        TagRule {
            tag: Tag::PostPurchaseUpdate,
            purpose: "an update on a recent purchase: invoices, receipts, shipping updates",
            status: TagStatus::Available(NO_LIMITS),
            hint: None,
        },
        TagRule {
            tag: Tag::AccountUpdate,
            purpose: "a non-recurring change to the customer's application or account, such as an application status or a fraud alert",
            status: TagStatus::Available(NO_LIMITS),
            hint: Some("not for recurring content such as a monthly statement being ready"),
        },
    ],
};

impl Rules {
    /// The era's rule for `tag`, or `None` where the era never had the tag.
    pub fn tag(&self, tag: Tag) -> Option<&'static TagRule> {
        self.tags.iter().find(|r| r.tag == tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_calendar_and_a_contradicting_era_is_named() {
        let before: Timestamp = "2026-04-26T23:59:59Z".parse().unwrap();
        assert_eq!(RulesChoice::Auto.era_at(before), Era::Legacy2020);
        assert_eq!(RulesChoice::Auto.era_at(RETIREMENT), Era::Meta2026);
        assert_eq!("auto".parse::<RulesChoice>(), Ok(RulesChoice::Auto));
        let old = RulesChoice::Fixed(Era::Legacy2020);
        assert!(old.contradiction(before).is_none());
        let warning = old.contradiction(RETIREMENT).unwrap();
        assert!(warning.contains("meta-2026"), "{warning}");
    }

    #[test]
    fn eras_parse_and_own_their_tables() {
        for era in Era::ALL {
            assert_eq!(era.as_str().parse::<Era>(), Ok(era));
            assert_eq!(era.rules().era, era);
        }
        assert!("meta-2025".parse::<Era>().is_err());
    }

    #[test]
    fn retired_tags_in_2026() {
        for tag in [
            Tag::ConfirmedEventUpdate,
            Tag::PostPurchaseUpdate,
            Tag::AccountUpdate,
        ] {
            assert!(matches!(
                META_2026.tag(tag).unwrap().status,
                TagStatus::Retired { .. }
            ));
            assert!(matches!(
                LEGACY_2020.tag(tag).unwrap().status,
                TagStatus::Available(_)
            ));
        }
        assert!(LEGACY_2020.tag(Tag::CustomerFeedback).is_none());
    }
}
