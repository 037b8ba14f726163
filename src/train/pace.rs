//! Live training's compressed clock, as a pure function of virtual time.
//!
//! The virtual clock runs at `speed` virtual seconds per real second while something
//! is waiting for the trainee, and jumps to the next thing that will happen when
//! nothing is ("Next customer arrives Mon 09:00. ⏩"). Only the loop that calls
//! [`next`] reads the real clock: it passes the real time elapsed since its last call.

use jiff::{SignedDuration, Timestamp};

/// How the clock is compressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Virtual seconds per real second (60: a virtual minute per real second).
    pub speed: f64,
    /// Jump only over quiet stretches at least this long (in virtual time); shorter
    /// ones just run at `speed`.
    pub jump_over: SignedDuration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            speed: 60.0,
            jump_over: SignedDuration::from_mins(15),
        }
    }
}

/// What the session looks like to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// Virtual now.
    pub now: Timestamp,
    /// The next scheduled thing (a customer's message, a reaction, the bot's own due
    /// work), if any.
    pub next_event: Option<Timestamp>,
    /// Something waits for the trainee: a customer message unanswered in an open
    /// window, a parked reply, an answer they haven't acted on.
    pub waiting: bool,
    /// When the exercise ends.
    pub ends: Timestamp,
}

/// What the clock does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Run to this instant.
    To(Timestamp),
    /// Jump to this instant, and tell the trainee so.
    Jump {
        /// Where.
        to: Timestamp,
        /// What to post: "Next customer arrives Mon 09:00. ⏩".
        announce: String,
    },
    /// The exercise is over.
    End,
}

/// Where the clock goes after `real` elapsed real time in `at`.
pub fn next(pace: &Pace, at: &Situation, real: SignedDuration) -> Move {
    if at.now >= at.ends {
        return Move::End;
    }
    let horizon = at.next_event.unwrap_or(at.ends).min(at.ends);
    if !at.waiting && horizon.duration_since(at.now) >= pace.jump_over {
        let announce = match at.next_event.filter(|&e| e <= at.ends) {
            Some(e) => format!("Next customer arrives {}. ⏩", e.strftime("%A %H:%M")),
            None => "Nothing more happens: the exercise ends. ⏩".to_owned(),
        };
        return Move::Jump {
            to: horizon,
            announce,
        };
    }
    // Stop at the next event, so it happens at its own time (and never compute an
    // instant past it, however fast the clock).
    let left = horizon.duration_since(at.now).as_millis() as f64;
    let ms = (real.as_millis() as f64 * pace.speed).clamp(0.0, left.max(0.0));
    Move::To(at.now + SignedDuration::from_millis(ms.round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn situation(waiting: bool, next_event: Option<&str>) -> Situation {
        Situation {
            now: t("2026-11-20T17:00:00Z"),
            next_event: next_event.map(t),
            waiting,
            ends: t("2026-11-24T09:00:00Z"),
        }
    }

    #[test]
    fn time_runs_at_speed_while_the_trainee_has_work() {
        let pace = Pace::default();
        let at = situation(true, Some("2026-11-23T09:00:00Z"));
        let m = next(&pace, &at, SignedDuration::from_secs(2));
        assert_eq!(
            m,
            Move::To(t("2026-11-20T17:02:00Z")),
            "2 real seconds: 2 virtual minutes"
        );
    }

    #[test]
    fn a_quiet_weekend_is_jumped_with_a_word() {
        let pace = Pace::default();
        let at = situation(false, Some("2026-11-23T09:00:00Z"));
        let m = next(&pace, &at, SignedDuration::from_millis(100));
        assert_eq!(
            m,
            Move::Jump {
                to: t("2026-11-23T09:00:00Z"),
                announce: "Next customer arrives Monday 09:00. ⏩".into()
            }
        );
    }

    #[test]
    fn the_clock_stops_at_the_next_event_and_at_the_end() {
        let pace = Pace::default();
        // Quiet, but the next customer is 10 virtual minutes away: no jump, and no
        // running past them.
        let at = situation(false, Some("2026-11-20T17:10:00Z"));
        let m = next(&pace, &at, SignedDuration::from_secs(60));
        assert_eq!(m, Move::To(t("2026-11-20T17:10:00Z")));
        let done = Situation { now: at.ends, ..at };
        assert_eq!(next(&pace, &done, SignedDuration::from_secs(1)), Move::End);
        let last = situation(false, None);
        assert!(matches!(
            next(&pace, &last, SignedDuration::ZERO),
            Move::Jump { to, .. } if to == last.ends
        ));
    }
}
