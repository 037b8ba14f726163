//! Faults a test or scenario asks for: Meta misbehaving, seeded.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

/// Faults to inject. Every random choice is drawn from the platform's seeded `Ids`;
/// the delays are on the virtual clock, except `latency_ms`, which is real (tokio) time.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Probability that a Send API call fails with a 500 (code 2).
    pub error_rate: f64,
    /// The next this-many Send API calls fail with 613 rate limiting.
    pub rate_limit_burst: u32,
    /// Real milliseconds added to every Send API answer. Meta has accepted (or refused)
    /// the send before the wait, so a caller that gives up first has lost an answer,
    /// not a send.
    pub latency_ms: u64,
    /// Probability that a webhook delivery is lost in transit (and retried later).
    pub drop_rate: f64,
    /// Probability that a webhook delivery arrives twice.
    pub duplicate_rate: f64,
    /// Probability that a batch's events arrive in reverse order.
    pub reorder_rate: f64,
    /// The echo of a message this app sends through the Send API is delivered this long
    /// after the send, on the virtual clock; other events are on time. Written as a
    /// duration: `"5m"`, `"90s"`; zero is off.
    #[serde(with = "duration_text")]
    pub echo_lag: SignedDuration,
    /// Every webhook delivery that reaches the subscriber is delivered once more this
    /// long later, the same bytes (at-least-once delivery with a late duplicate); a
    /// delivery lost to `drop_rate` isn't retried on the usual schedule but only this
    /// late, after later events. Zero is off.
    #[serde(with = "duration_text")]
    pub late_redelivery: SignedDuration,
    /// Real milliseconds added to every profile lookup (`GET /{psid}`), answered after
    /// the wait: a slow profile service, as on a busy Monday.
    pub profile_latency_ms: u64,
    /// Probability that a profile lookup fails with a 500 (code 2).
    pub profile_error_rate: f64,
}

impl Faults {
    /// Checks what serde can't: probabilities between 0 and 1, delays not negative.
    /// The error names the field.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
            ("duplicate_rate", self.duplicate_rate),
            ("reorder_rate", self.reorder_rate),
            ("profile_error_rate", self.profile_error_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("field `{name}`: a probability between 0 and 1"));
            }
        }
        for (name, d) in [
            ("echo_lag", self.echo_lag),
            ("late_redelivery", self.late_redelivery),
        ] {
            if d.is_negative() {
                return Err(format!("field `{name}`: a delay can't be negative"));
            }
        }
        Ok(())
    }

    /// [`Faults::check`], and what the emulator can take: a latency of at most 10
    /// minutes, delays of at most a year. The error names the field.
    pub fn check_bounds(&self) -> Result<(), String> {
        self.check()?;
        for (name, ms) in [
            ("latency_ms", self.latency_ms),
            ("profile_latency_ms", self.profile_latency_ms),
        ] {
            if ms > MAX_LATENCY_MS {
                return Err(format!(
                    "field `{name}`: at most {MAX_LATENCY_MS} (10 minutes)"
                ));
            }
        }
        for (name, d) in [
            ("echo_lag", self.echo_lag),
            ("late_redelivery", self.late_redelivery),
        ] {
            if d > super::LONGEST_DELAY {
                return Err(format!("field `{name}`: at most a year (\"365d\")"));
            }
        }
        Ok(())
    }
}

/// The longest latency a fault may add to a Send API answer.
pub const MAX_LATENCY_MS: u64 = 10 * 60 * 1000;

/// A duration as people write it (`"5m"`, `"1h 30m"`, `"PT5M"`), read with
/// `messenger::timefmt::parse_duration` and written in jiff's compact friendly form.
mod duration_text {
    use std::fmt;

    use jiff::SignedDuration;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &SignedDuration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{d:#}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
        d.deserialize_str(Text)
    }

    struct Text;

    impl Visitor<'_> for Text {
        type Value = SignedDuration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"5m\" or \"1h\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<SignedDuration, E> {
            messenger::timefmt::parse_duration(text).map_err(E::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_and_write_as_durations() {
        let f: Faults =
            serde_json::from_str(r#"{"echo_lag": "5m", "late_redelivery": "1h"}"#).unwrap();
        assert_eq!(f.echo_lag, SignedDuration::from_mins(5));
        assert_eq!(f.late_redelivery, SignedDuration::from_hours(1));
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["echo_lag"], "5m");
        assert_eq!(v["late_redelivery"], "1h");
        assert_eq!(
            serde_json::to_value(Faults::default()).unwrap()["echo_lag"],
            "0s"
        );
        let e = serde_json::from_str::<Faults>(r#"{"echo_lag": "soon"}"#).unwrap_err();
        assert!(e.to_string().contains("invalid duration \"soon\""), "{e}");
        let negative = Faults {
            late_redelivery: SignedDuration::from_secs(-1),
            ..Faults::default()
        };
        assert_eq!(
            negative.check(),
            Err("field `late_redelivery`: a delay can't be negative".into())
        );
    }
}
