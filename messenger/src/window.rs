//! The windows of one conversation: when the page may answer, and how.

use jiff::{SignedDuration, Timestamp};

use crate::rules::{Rules, HUMAN_AGENT_WINDOW};

/// What the policy needs to know about one conversation.
///
/// Shells keep this up to date with [`ThreadState::customer_acted`] and
/// [`ThreadState::page_sent`] as events arrive; it is a value, so a test can build any
/// history directly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadState {
    /// The person's last window-opening action: message, postback, reaction, referral.
    pub last_opened: Option<Timestamp>,
    /// The person's last message, which the human-agent window counts from.
    pub last_customer_message: Option<Timestamp>,
    /// Tagged messages the page sent since the person last acted.
    pub tagged_since_customer: u32,
    /// When the page's last tagged message went out, as far as the shell knows: a
    /// customer action older than it (a late or redelivered webhook) doesn't restart
    /// the count.
    pub last_tagged: Option<Timestamp>,
}

/// A window-opening action by the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerAction {
    /// A message: opens both windows.
    Message,
    /// A postback, reaction or referral: opens the standard window only.
    Other,
}

impl ThreadState {
    /// Records an action by the person at `at`. Out-of-order events never move a window
    /// backwards, and an action older than the page's last tagged message (arriving
    /// late) doesn't restart the tagged-message count: Meta counted that message after
    /// it.
    pub fn customer_acted(&mut self, action: CustomerAction, at: Timestamp) {
        self.last_opened = self.last_opened.max(Some(at));
        if action == CustomerAction::Message {
            self.last_customer_message = self.last_customer_message.max(Some(at));
        }
        if self.last_tagged.is_none_or(|tagged| at > tagged) {
            self.tagged_since_customer = 0;
        }
    }

    /// Records a message sent by the page, in the order the page sent them (Meta's own
    /// view); only tagged ones count towards tag spam.
    pub fn page_sent(&mut self, tagged: bool) {
        if tagged {
            self.tagged_since_customer += 1;
        }
    }

    /// Records a message the page sent at `at`, seen by an observer whose events may
    /// arrive out of order (the bot).
    pub fn page_sent_at(&mut self, tagged: bool, at: Timestamp) {
        if tagged {
            self.tagged_since_customer += 1;
            self.last_tagged = self.last_tagged.max(Some(at));
        }
    }
}

/// Where a conversation stands at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Inside the standard window: any reply goes as RESPONSE.
    Standard {
        /// When it closes.
        closes_at: Timestamp,
        /// Time left.
        left: SignedDuration,
    },
    /// Past 24 hours but inside the human-agent window, and the page has the feature.
    HumanAgent {
        /// When it closes.
        closes_at: Timestamp,
        /// Time left.
        left: SignedDuration,
    },
    /// No window is open.
    Expired {
        /// When the last window closed; `None` if the person never wrote.
        since: Option<Timestamp>,
    },
}

impl Window {
    /// The window of `thread` at `now`.
    ///
    /// A window is open strictly before its end: at exactly 24 hours it has closed.
    pub fn at(thread: &ThreadState, now: Timestamp, rules: &Rules, human_agent: bool) -> Window {
        let standard_end = thread.last_opened.map(|t| t + rules.standard_window);
        if let Some(end) = standard_end.filter(|&end| now < end) {
            return Window::Standard {
                closes_at: end,
                left: end.duration_since(now),
            };
        }
        let human_end = thread.last_customer_message.map(|t| t + HUMAN_AGENT_WINDOW);
        if human_agent {
            if let Some(end) = human_end.filter(|&end| now < end) {
                return Window::HumanAgent {
                    closes_at: end,
                    left: end.duration_since(now),
                };
            }
        }
        let since = if human_agent {
            standard_end.max(human_end)
        } else {
            standard_end
        };
        Window::Expired { since }
    }

    /// Whether the standard window is open.
    pub fn is_standard(&self) -> bool {
        matches!(self, Window::Standard { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::META_2026;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn out_of_order_events_never_shrink_the_window() {
        let mut th = ThreadState::default();
        th.customer_acted(CustomerAction::Message, t("2026-11-20T10:00:00Z"));
        th.customer_acted(CustomerAction::Message, t("2026-11-20T09:00:00Z"));
        assert_eq!(th.last_opened, Some(t("2026-11-20T10:00:00Z")));
        th.customer_acted(CustomerAction::Other, t("2026-11-20T11:00:00Z"));
        assert_eq!(th.last_opened, Some(t("2026-11-20T11:00:00Z")));
        assert_eq!(th.last_customer_message, Some(t("2026-11-20T10:00:00Z")));
    }

    #[test]
    fn a_late_customer_action_does_not_restart_the_tag_count() {
        let mut th = ThreadState::default();
        th.customer_acted(CustomerAction::Message, t("2026-11-20T10:00:00Z"));
        th.page_sent_at(true, t("2026-11-21T12:00:00Z"));
        // The customer's reaction from before the tagged send arrives an hour late.
        th.customer_acted(CustomerAction::Other, t("2026-11-21T11:00:00Z"));
        assert_eq!(th.tagged_since_customer, 1);
        th.customer_acted(CustomerAction::Message, t("2026-11-21T12:00:01Z"));
        assert_eq!(th.tagged_since_customer, 0);
    }

    #[test]
    fn never_wrote_is_expired_without_a_date() {
        let w = Window::at(
            &ThreadState::default(),
            t("2026-11-20T10:00:00Z"),
            &META_2026,
            true,
        );
        assert_eq!(w, Window::Expired { since: None });
    }
}
