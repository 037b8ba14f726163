//! The rules of an era, as data.
//!
//! Meta changes which tags exist and what they allow; tools that hard-coded the tags
//! broke on 2026-04-27. Here an era is a table: adding one is a new `static`, and
//! nothing else in the code base names a tag's window or status.

use jiff::SignedDuration;

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
#[error("unknown rules era {0:?}; known: meta-2026, legacy-2020")]
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
