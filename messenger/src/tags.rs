//! Message tags: every tag Meta has defined, whatever the era. Which of them a page may
//! use, and for what, is data in [`crate::rules`].

use serde::{Deserialize, Serialize};

/// A message tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tag {
    /// A human agent answering within 7 days of the person's last message.
    HumanAgent,
    /// The customer-feedback survey template.
    CustomerFeedback,
    /// Reminders and updates for an event the person registered for (retired 2026-04-27).
    ConfirmedEventUpdate,
    /// Receipts and shipping updates for a purchase (retired 2026-04-27).
    PostPurchaseUpdate,
    /// A non-recurring change to the person's account (retired 2026-04-27).
    AccountUpdate,
    /// Regular news content, for news pages only.
    NonPromotionalSubscription,
}

/// Every tag, in a stable order.
pub const ALL: [Tag; 6] = [
    Tag::HumanAgent,
    Tag::CustomerFeedback,
    Tag::ConfirmedEventUpdate,
    Tag::PostPurchaseUpdate,
    Tag::AccountUpdate,
    Tag::NonPromotionalSubscription,
];

/// A tag name that Meta never defined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown message tag {0:?}")]
pub struct UnknownTag(pub String);

impl Tag {
    /// The wire name, as in `HUMAN_AGENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::HumanAgent => "HUMAN_AGENT",
            Tag::CustomerFeedback => "CUSTOMER_FEEDBACK",
            Tag::ConfirmedEventUpdate => "CONFIRMED_EVENT_UPDATE",
            Tag::PostPurchaseUpdate => "POST_PURCHASE_UPDATE",
            Tag::AccountUpdate => "ACCOUNT_UPDATE",
            Tag::NonPromotionalSubscription => "NON_PROMOTIONAL_SUBSCRIPTION",
        }
    }
}

impl std::str::FromStr for Tag {
    type Err = UnknownTag;

    /// Parses a wire name; case and `-`/`_` are forgiven, since agents type them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_uppercase().replace(['-', ' '], "_");
        ALL.into_iter()
            .find(|t| t.as_str() == norm)
            .ok_or_else(|| UnknownTag(s.to_owned()))
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip_and_unknown() {
        for t in ALL {
            assert_eq!(t.as_str().parse::<Tag>(), Ok(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!("human-agent".parse::<Tag>(), Ok(Tag::HumanAgent));
        assert_eq!(
            "ISSUE_RESOLUTION".parse::<Tag>(),
            Err(UnknownTag("ISSUE_RESOLUTION".into()))
        );
        assert!(serde_json::from_str::<Tag>("\"SHIPPING_UPDATE\"").is_err());
    }
}
