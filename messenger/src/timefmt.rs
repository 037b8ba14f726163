//! Time conversions between Meta's formats and [`jiff::Timestamp`], and durations in
//! words an agent reads at a glance.

use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};

/// A duration that didn't parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (write it like \"36h\", \"2h 30m\" or \"7d\")")]
pub struct DurationError {
    /// What was given.
    pub input: String,
    /// Why it was refused.
    pub reason: String,
}

/// Parses a duration as people write them: `36h`, `2h 30m`, `7d`, `1w 2d`, or ISO 8601
/// (`PT36H`). A day is 24 hours: virtual time has no daylight saving.
pub fn parse_duration(input: &str) -> Result<SignedDuration, DurationError> {
    let err = |reason: String| DurationError {
        input: input.to_owned(),
        reason,
    };
    let span: Span = input
        .trim()
        .parse()
        .map_err(|e: jiff::Error| err(e.to_string()))?;
    span.to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|e| err(e.to_string()))
}

/// Epoch milliseconds, as in webhook `timestamp` fields.
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A timestamp as epoch milliseconds.
pub fn to_millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// Graph's time format: `2026-11-20T17:02:11+0000`.
pub fn graph_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// Reads Graph's time format back; `None` if it isn't one.
pub fn parse_graph_time(s: &str) -> Option<Timestamp> {
    Timestamp::strptime("%Y-%m-%dT%H:%M:%S%z", s).ok()
}

/// A duration rounded down to its two largest units: `6d 23h`, `23h 59m`, `4m 10s`;
/// a zero second unit is left out of day counts (`7d`).
pub fn human(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (days, hours, mins, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m {s}s"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("36h"), Ok(SignedDuration::from_hours(36)));
        assert_eq!(parse_duration("2h 30m"), Ok(SignedDuration::from_mins(150)));
        assert_eq!(parse_duration("7d"), Ok(SignedDuration::from_hours(168)));
        assert_eq!(parse_duration("1w 1d"), Ok(SignedDuration::from_hours(192)));
        assert_eq!(parse_duration("PT1S"), Ok(SignedDuration::from_secs(1)));
        let e = parse_duration("a while").unwrap_err();
        assert!(
            e.to_string().starts_with("invalid duration \"a while\""),
            "{e}"
        );
    }

    #[test]
    fn formats() {
        let t: Timestamp = "2026-11-20T17:02:11Z".parse().unwrap();
        assert_eq!(graph_time(t), "2026-11-20T17:02:11+0000");
        assert_eq!(from_millis(to_millis(t)), t);
        assert_eq!(human(SignedDuration::from_secs(7 * 86_400 - 1)), "6d 23h");
        assert_eq!(human(SignedDuration::from_secs(86_399)), "23h 59m");
        assert_eq!(human(SignedDuration::from_secs(250)), "4m 10s");
        assert_eq!(human(SignedDuration::from_secs(-5)), "0s");
        assert_eq!(human(SignedDuration::from_hours(168)), "7d");
    }
}
