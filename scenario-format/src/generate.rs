//! Customers generated from the seed: arrivals over a span, bursts of messages from
//! templates in several languages.

use jiff::SignedDuration;
use messenger::timefmt::parse_duration;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use toml::Spanned;

use crate::format::GenerateSection;
use crate::load::{Action, LoadError, TimedStep};

/// Makes a load error at a byte offset.
pub type ErrAt<'a> = dyn Fn(usize, String, Option<String>) -> LoadError + 'a;

/// The most messages `[generate]` may make (`count` times the most per customer): far
/// more than a scenario runs in reasonable time, and a bound on what a file of a few
/// bytes can make the loader allocate (`count = 4000000000` asked for 32 GB at once).
pub const MAX_GENERATED: u64 = 100_000;

/// The ids generated customers get: `c0001`, `c0002`, ...
pub fn id(n: u32) -> String {
    format!("c{n:04}")
}

/// The customers and their messages, from `g` and the seed.
pub fn expand(
    err: &ErrAt<'_>,
    g: &Spanned<GenerateSection>,
    seed: u64,
) -> Result<(Vec<String>, Vec<TimedStep>), LoadError> {
    let at = g.span().start;
    let g = g.get_ref();
    let dur = |s: &Spanned<String>, what: &str| {
        parse_duration(s.get_ref()).map_err(|e| {
            err(
                s.span().start,
                format!("bad {what} {:?}: {e}", s.get_ref()),
                Some("like \"62h\"".into()),
            )
        })
    };
    let from = g
        .from
        .as_ref()
        .map(|f| dur(f, "generate.from"))
        .transpose()?
        .unwrap_or(SignedDuration::ZERO);
    let until = dur(&g.until, "generate.until")?;
    let gap = g
        .gap
        .as_ref()
        .map(|f| dur(f, "generate.gap"))
        .transpose()?
        .unwrap_or(SignedDuration::from_secs(40));
    if until <= from {
        return Err(err(
            at,
            "generate.until must come after generate.from".into(),
            None,
        ));
    }
    if g.count == 0 {
        return Err(err(at, "generate.count must be at least 1".into(), None));
    }
    let [min, max] = g.messages;
    if min == 0 || min > max {
        return Err(err(
            at,
            format!("generate.messages = [{min}, {max}] must be [min, max] with 1 <= min <= max"),
            None,
        ));
    }
    if u64::from(g.count) * u64::from(max) > MAX_GENERATED {
        return Err(err(
            at,
            format!(
                "generate.count = {} with up to {max} messages each is more than {MAX_GENERATED} generated messages",
                g.count
            ),
            Some("fewer customers, or fewer messages each".into()),
        ));
    }
    let languages: Vec<(&String, &Vec<String>)> =
        g.templates.iter().filter(|(_, t)| !t.is_empty()).collect();
    if languages.is_empty() {
        return Err(err(
            at,
            "generate.templates has no messages".into(),
            Some("templates.en = [\"Hi, where is my order {order}?\"]".into()),
        ));
    }
    let poisson = match g.arrival.get_ref().as_str() {
        "uniform" => false,
        "poisson" => true,
        other => {
            return Err(err(
                g.arrival.span().start,
                format!("unknown arrival {other:?}"),
                Some("\"uniform\" or \"poisson\"".into()),
            ))
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7A9D_E5C0);
    // Under a millisecond apart (`until = "999us"`), the span rounds to 0 and an empty
    // range can't be sampled: every arrival is then at `from`.
    let span = ((until - from).as_millis() as f64).max(f64::MIN_POSITIVE);
    let mut arrivals: Vec<f64> = if poisson {
        // Exponential gaps at the rate that fits `count` arrivals in the span.
        let mean = span / g.count as f64;
        let mut t = 0.0;
        (0..g.count)
            .map(|_| {
                let u: f64 = rng.random_range(f64::EPSILON..1.0);
                t += -mean * u.ln();
                t.min(span)
            })
            .collect()
    } else {
        (0..g.count).map(|_| rng.random_range(0.0..span)).collect()
    };
    arrivals.sort_by(|a, b| a.total_cmp(b));
    let mut ids = Vec::new();
    let mut steps = Vec::new();
    for (n, arrival) in arrivals.into_iter().enumerate() {
        let id = id(n as u32 + 1);
        let (_, templates) = languages[rng.random_range(0..languages.len())];
        let k = rng.random_range(min..=max);
        let mut t = from + SignedDuration::from_millis(arrival as i64);
        for _ in 0..k {
            let template = &templates[rng.random_range(0..templates.len())];
            let order: u32 = rng.random_range(10_000..99_999);
            steps.push(TimedStep {
                at: t,
                concurrent: false,
                line: 0,
                customer: Some(id.clone()),
                page: None,
                action: Action::Says(template.replace("{order}", &order.to_string())),
                expect: None,
            });
            t += SignedDuration::from_millis(
                rng.random_range(2_000..=gap.as_millis().max(2_000) as i64),
            );
        }
        ids.push(id);
    }
    Ok((ids, steps))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// A scenario of `[generate]` with these keys and one template.
    fn load(generate: &str) -> Result<crate::Scenario, crate::LoadError> {
        let text = format!(
            "name = \"g\"\ndescription = \"d\"\n[generate]\ntemplates.en = [\"hi {{order}}\"]\n{generate}"
        );
        crate::load::parse(Path::new("g.toml"), &text, None)
    }

    #[test]
    fn generated_messages_are_bounded() {
        // Found by fuzzing: this allocated 32 GB for the arrivals before anything else.
        let err = load("count = 4000000000\nuntil = \"1h\"\n").unwrap_err();
        assert!(
            err.message.contains("more than 100000 generated messages"),
            "{err}"
        );
        let err = load("count = 1000\nuntil = \"1h\"\nmessages = [1, 4294967295]\n").unwrap_err();
        assert!(err.message.contains("more than 100000"), "{err}");
        assert_eq!(
            load("count = 25000\nuntil = \"1h\"\nmessages = [1, 4]\n")
                .unwrap()
                .customers
                .len(),
            25_000
        );
    }

    #[test]
    fn arrivals_less_than_a_millisecond_apart() {
        // This panicked sampling the empty range 0.0..0.0.
        for arrival in ["uniform", "poisson"] {
            let s = load(&format!(
                "count = 3\nfrom = \"1h\"\nuntil = \"1h 999us\"\narrival = \"{arrival}\"\n"
            ))
            .unwrap();
            // Every customer arrives at `from`; later messages of a burst follow.
            let first: Vec<_> = s.steps.iter().take(3).map(|step| step.at).collect();
            assert_eq!(first, [jiff::SignedDuration::from_hours(1); 3]);
        }
    }
}
