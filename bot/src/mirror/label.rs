//! The window, at a glance, in a Discord thread's name.
//!
//! Discord allows about two renames per thread every ten minutes, so a thread's name
//! can't count down. It shows an upper bound that moves in steps instead: the 24-hour
//! window as "24h", "12h", "6h" left, the human-agent window in whole days ("6d" …
//! "1d"), and "⏰ closing" from the moment the alert fires (`alert_before` ahead of the
//! end). Each step is a rename, so a thread is renamed at most 4 times in its 24-hour
//! window and 7 in the human-agent window, and a name never says more time is left
//! than there is: "12h left" means at most 12 hours. `/inbox` and autocomplete, which
//! aren't rate-limited, show the time left to the minute ([`precise`]).

use jiff::{SignedDuration, Timestamp};
use messenger::restriction::Restriction;
use messenger::window::Window;

/// Discord's limit on a channel name.
const NAME_LIMIT: usize = 100;

/// The steps of the 24-hour window's label, longest first, ending at the alert.
fn standard_steps(alert_before: SignedDuration) -> Vec<SignedDuration> {
    let hours = [24, 12, 6].map(SignedDuration::from_hours);
    steps(&hours, alert_before)
}

/// The steps of the human-agent window's label: whole days, ending at the alert.
fn human_agent_steps(alert_before: SignedDuration) -> Vec<SignedDuration> {
    let days = [7, 6, 5, 4, 3, 2, 1].map(|d| SignedDuration::from_hours(24 * d));
    steps(&days, alert_before)
}

fn steps(grid: &[SignedDuration], alert_before: SignedDuration) -> Vec<SignedDuration> {
    let mut out: Vec<SignedDuration> = grid.iter().copied().filter(|g| *g > alert_before).collect();
    out.push(alert_before);
    out
}

/// The step a window with `left` shows: the smallest step that is at least `left`.
fn bound(left: SignedDuration, steps: &[SignedDuration]) -> SignedDuration {
    steps
        .iter()
        .rev()
        .copied()
        .find(|s| left <= *s)
        .unwrap_or(steps[0])
}

/// The label a thread's name shows for a window: "🟢 12h left", "⏰ closing · 2h left",
/// "🟡 human agent · 6d", "⏰ human agent closing · 2h left", "🔴 expired",
/// "⛔ page restricted". Times are upper bounds, in steps (see the module's docs).
///
/// A restriction blocks tagged messages only, so it shows on threads that could only be
/// answered with a tag; a thread inside its 24-hour window still shows green.
pub fn label(window: &Window, restricted: bool, alert_before: SignedDuration) -> String {
    match window {
        Window::Standard { left, .. } => match bound(*left, &standard_steps(alert_before)) {
            b if b == alert_before => format!("⏰ closing · {} left", short(b, false)),
            b => format!("🟢 {} left", short(b, false)),
        },
        Window::HumanAgent { .. } if restricted => "⛔ page restricted".into(),
        Window::HumanAgent { left, .. } => match bound(*left, &human_agent_steps(alert_before)) {
            b if b == alert_before => {
                format!("⏰ human agent closing · {} left", short(b, false))
            }
            b => format!("🟡 human agent · {}", short(b, true)),
        },
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

/// A step as written: "7d" (in `days`), "12h", "90m".
fn short(d: SignedDuration, days: bool) -> String {
    let secs = d.as_secs();
    if days && secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else if secs % 3600 == 0 {
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

/// When a thread's label next changes on its own: the next step of its window, the
/// window's end, or the end of the restriction that colours it.
pub fn next_change(
    window: &Window,
    restriction: Option<&Restriction>,
    alert_before: SignedDuration,
) -> Option<Timestamp> {
    let next_step = |closes_at: Timestamp, left: SignedDuration, steps: Vec<SignedDuration>| {
        let shown = bound(left, &steps);
        match steps.iter().find(|s| **s < shown) {
            Some(lower) => closes_at - *lower,
            None => closes_at,
        }
    };
    let window_end = match window {
        Window::Standard { closes_at, left } => {
            Some(next_step(*closes_at, *left, standard_steps(alert_before)))
        }
        Window::HumanAgent { closes_at, left } => Some(next_step(
            *closes_at,
            *left,
            human_agent_steps(alert_before),
        )),
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
    fn labels_step_down_and_never_claim_more_time_than_is_left() {
        let h = SignedDuration::from_hours;
        let s = SignedDuration::from_secs;
        assert_eq!(label_after(s(0), false), "🟢 24h left");
        assert_eq!(label_after(s(1), false), "🟢 24h left");
        assert_eq!(label_after(h(12), false), "🟢 12h left");
        assert_eq!(label_after(h(12) + s(1), false), "🟢 12h left");
        assert_eq!(label_after(h(18), false), "🟢 6h left");
        assert_eq!(label_after(h(22), false), "⏰ closing · 2h left");
        assert_eq!(label_after(h(24) - s(1), false), "⏰ closing · 2h left");
        assert_eq!(label_after(h(24), false), "🟡 human agent · 6d");
        assert_eq!(label_after(h(24), true), "⛔ page restricted");
        assert_eq!(label_after(h(24) + s(1), false), "🟡 human agent · 6d");
        assert_eq!(label_after(h(24 * 6), false), "🟡 human agent · 1d");
        assert_eq!(
            label_after(h(24 * 7) - h(2), false),
            "⏰ human agent closing · 2h left"
        );
        assert_eq!(label_after(h(24 * 7), false), "🔴 expired");
        assert_eq!(label_after(h(24 * 7), true), "🔴 expired");
        assert_eq!(label_after(h(2), true), "🟢 24h left");
    }

    #[test]
    fn each_step_is_one_rename_at_the_moment_it_is_due() {
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
                "🟢 24h left",
                "🟢 12h left",
                "🟢 6h left",
                "⏰ closing · 2h left",
                "🟡 human agent · 6d",
                "🟡 human agent · 5d",
                "🟡 human agent · 4d",
                "🟡 human agent · 3d",
                "🟡 human agent · 2d",
                "🟡 human agent · 1d",
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
