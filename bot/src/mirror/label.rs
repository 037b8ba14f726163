//! The window, at a glance, in a Discord thread's name.
//!
//! Discord allows about two renames per thread every ten minutes, and every rename is
//! a call against the bot's global budget: on a weekend backlog of 10,000
//! conversations, names counting down in steps (24h, 12h, 6h, then days) cost 4.4
//! renames a conversation, more calls than posting the messages. So a name shows only
//! what changes what the team must do, and no time that would need counting down:
//! "🟢 open" while the 24-hour window is open, "⏰ closing · 2h left" from the moment
//! the alert fires (`alert_before` ahead of the end), "🟡 human agent until Fri 09:00
//! UTC" (a fixed instant, not a countdown), "⏰ human agent closing · 2h left", "🔴
//! expired". A thread is renamed at most four times in a conversation's week, and a
//! name never says more time is left than there is. `/inbox` and autocomplete, which
//! aren't rate-limited, show the time left to the minute ([`precise`]).

use jiff::{SignedDuration, Timestamp};
use messenger::restriction::Restriction;
use messenger::window::Window;

/// Discord's limit on a channel name.
const NAME_LIMIT: usize = 100;

/// The label a thread's name shows for a window: "🟢 open", "⏰ closing · 2h left",
/// "🟡 human agent until Fri 09:00 UTC", "⏰ human agent closing · 2h left",
/// "🔴 expired", "⛔ page restricted" (see the module's docs).
///
/// A restriction blocks tagged messages only, so it shows on threads that could only be
/// answered with a tag; a thread inside its 24-hour window still shows green.
pub fn label(window: &Window, restricted: bool, alert_before: SignedDuration) -> String {
    match window {
        Window::Standard { left, .. } if *left <= alert_before => {
            format!("⏰ closing · {} left", short(alert_before))
        }
        Window::Standard { .. } => "🟢 open".into(),
        Window::HumanAgent { .. } if restricted => "⛔ page restricted".into(),
        Window::HumanAgent { left, .. } if *left <= alert_before => {
            format!("⏰ human agent closing · {} left", short(alert_before))
        }
        Window::HumanAgent { closes_at, .. } => format!(
            "🟡 human agent until {}",
            closes_at.strftime("%a %H:%M UTC")
        ),
        Window::Expired { .. } => "🔴 expired".into(),
    }
}

/// The window now, to the minute, for views that aren't rate-limited: "🟢 23h left",
/// "🟡 human agent · 6d", "🟡 human agent · 5h".
pub fn precise(window: &Window, restricted: bool) -> String {
    match window {
        Window::Standard { left, .. } => format!("🟢 {} left", coarse(*left, 3600)),
        Window::HumanAgent { .. } if restricted => "⛔ page restricted".into(),
        Window::HumanAgent { left, .. } => {
            format!("🟡 human agent · {}", coarse(*left, 86_400))
        }
        Window::Expired { .. } => "🔴 expired".into(),
    }
}

/// The alert's lead as written: "2h", "90m".
fn short(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else {
        format!("{}m", secs / 60)
    }
}

/// Time left, rounded down to the largest unit up to `largest` seconds: "6d", "23h",
/// "45m".
fn coarse(left: SignedDuration, largest: i64) -> String {
    let secs = left.as_secs().max(0);
    match secs {
        s if s >= 86_400 && largest >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s => format!("{}m", (s / 60).max(1)),
    }
}

/// The thread's full name: the label, then the customer, within Discord's limit.
pub fn thread_name(label: &str, customer: &str) -> String {
    let name = format!("{label} · {customer}");
    name.chars().take(NAME_LIMIT).collect()
}

/// When a thread's label next changes on its own: when its window's alert fires, the
/// window's end, or the end of the restriction that colours it.
pub fn next_change(
    window: &Window,
    restriction: Option<&Restriction>,
    alert_before: SignedDuration,
) -> Option<Timestamp> {
    let window_end = match window {
        Window::Standard { closes_at, left } | Window::HumanAgent { closes_at, left } => {
            Some(if *left > alert_before {
                *closes_at - alert_before
            } else {
                *closes_at
            })
        }
        Window::Expired { .. } => None,
    };
    let restriction_end = restriction.and_then(|r| r.until);
    match (window_end, restriction_end) {
        (Some(w), Some(r)) => Some(w.min(r)),
        (w, r) => w.or(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger::rules::META_2026;
    use messenger::ThreadState;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn window_after(since_message: SignedDuration) -> Window {
        let start = at("2026-11-20T09:00:00Z");
        let mut state = ThreadState::default();
        state.customer_acted(messenger::window::CustomerAction::Message, start);
        Window::at(&state, start + since_message, &META_2026, true)
    }

    fn label_after(since_message: SignedDuration, restricted: bool) -> String {
        label(
            &window_after(since_message),
            restricted,
            SignedDuration::from_hours(2),
        )
    }

    #[test]
    fn labels_say_what_changes_and_never_claim_more_time_than_is_left() {
        let h = SignedDuration::from_hours;
        let s = SignedDuration::from_secs;
        assert_eq!(label_after(s(0), false), "🟢 open");
        assert_eq!(label_after(h(12), false), "🟢 open");
        assert_eq!(label_after(h(22) - s(1), false), "🟢 open");
        assert_eq!(label_after(h(22), false), "⏰ closing · 2h left");
        assert_eq!(label_after(h(24) - s(1), false), "⏰ closing · 2h left");
        // The message was Friday 09:00: the human-agent window ends a week later.
        assert_eq!(
            label_after(h(24), false),
            "🟡 human agent until Fri 09:00 UTC"
        );
        assert_eq!(label_after(h(24), true), "⛔ page restricted");
        assert_eq!(
            label_after(h(24 * 6), false),
            "🟡 human agent until Fri 09:00 UTC"
        );
        assert_eq!(
            label_after(h(24 * 7) - h(2), false),
            "⏰ human agent closing · 2h left"
        );
        assert_eq!(label_after(h(24 * 7), false), "🔴 expired");
        assert_eq!(label_after(h(24 * 7), true), "🔴 expired");
        assert_eq!(label_after(h(2), true), "🟢 open");
    }

    #[test]
    fn each_change_is_one_rename_at_the_moment_it_is_due() {
        let h = SignedDuration::from_hours;
        let start = at("2026-11-20T09:00:00Z");
        let alert = h(2);
        let mut t = SignedDuration::ZERO;
        let mut names = vec![label_after(t, false)];
        // Follow the renames the way the bot schedules them.
        while let Some(next) = next_change(&window_after(t), None, alert) {
            t = next.duration_since(start);
            names.push(label_after(t, false));
            assert!(names.len() < 20, "{names:?}");
        }
        assert_eq!(
            names,
            [
                "🟢 open",
                "⏰ closing · 2h left",
                "🟡 human agent until Fri 09:00 UTC",
                "⏰ human agent closing · 2h left",
                "🔴 expired",
            ]
        );
    }

    #[test]
    fn names_fit_discord() {
        let long = "x".repeat(300);
        assert_eq!(thread_name("🔴 expired", &long).chars().count(), NAME_LIMIT);
        assert_eq!(thread_name("🔴 expired", "Ada"), "🔴 expired · Ada");
    }
}
