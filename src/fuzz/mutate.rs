//! Mutations: from a valid input to one that is almost valid, or not at all.
//!
//! Byte-level mutations (flips, truncation, insertions of tokens parsers trip on,
//! invalid UTF-8, deep nesting, splicing two inputs) find what a parser does with
//! bytes it never expected; structured ones (parse the JSON or TOML, change one value's
//! type, drop a key, repeat an array) get past the syntax to the checks behind it. All
//! choices come from the caller's seeded generator.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value as Json;

/// The syntax an input is written in, which decides the tokens and structured
/// mutations that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// JSON bodies.
    Json,
    /// TOML files.
    Toml,
}

/// Tokens JSON parsers and the code behind them trip on.
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    ",",
    ":",
    "null",
    "true",
    "-0",
    "1e999",
    "-1e999",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "1E400",
    "0.000000000000000000000000000001",
    "NaN",
    "Infinity",
    "\\u0000",
    "\\ud800",
    "\\udfff\\ud800",
    "\"\\u0000\"",
    "\"\"",
    "{}",
    "[]",
    ",,",
    "\"a\":1,\"a\":2,",
    "\u{feff}",
    "\u{202e}",
    "😀",
    "\r\n",
];

/// Tokens TOML parsers and the code behind them trip on, durations and instants at
/// the edges of what `jiff` represents among them.
const TOML_TOKENS: &[&str] = &[
    "=",
    "[",
    "]",
    "[[",
    "]]",
    "[[step]]\n",
    "[generate]\n",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "\n",
    "\\",
    "#",
    ".",
    ",",
    "{",
    "}",
    "inf",
    "-inf",
    "nan",
    "-0",
    "1e999",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "4294967296",
    "0x7fffffffffffffff",
    "0o777",
    "0b1",
    "1979-05-27T07:32:00Z",
    "9999-12-31T23:59:59Z",
    "\"1ns\"",
    "\"0s\"",
    "\"-1d\"",
    "\"7304484d\"",
    "\"175307616h\"",
    "\"PT1S\"",
    "\"9999-12-31T23:59:59Z\"",
    "\"-009999-01-02T00:00:00Z\"",
    "\u{feff}",
    "😀",
    "\r\n",
];

/// Bytes that are never valid UTF-8, or valid only in the wrong place.
const BAD_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xfe\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x80",
    b"\xe2\x82",
    b"\x00",
];

/// Replacement values for structured JSON mutations: another type, or the same type
/// at an edge.
fn json_values(rng: &mut ChaCha8Rng) -> Json {
    if rng.random_bool(0.05) {
        return Json::String("x".repeat(rng.random_range(1_000..200_000)));
    }
    let choices = [
        Json::Null,
        Json::Bool(true),
        Json::Bool(false),
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(i64::MIN),
        serde_json::json!(i64::MAX),
        serde_json::json!(u64::MAX),
        serde_json::json!(1.0e308),
        serde_json::json!(-0.5),
        serde_json::json!(""),
        serde_json::json!("0"),
        serde_json::json!("-1"),
        serde_json::json!("18446744073709551616"),
        serde_json::json!("\u{0}"),
        serde_json::json!("💥\u{202e}\u{feff}"),
        serde_json::json!("<@&everyone> @here"),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!([null]),
        serde_json::json!({"": null}),
    ];
    choices.choose(rng).cloned().unwrap_or(Json::Null)
}

/// Replacement values for structured TOML mutations.
fn toml_values(rng: &mut ChaCha8Rng) -> toml::Value {
    use toml::Value as T;
    let strings = [
        "",
        "0s",
        "1ns",
        "999us",
        "-1d",
        "-7d",
        "7304484d",
        "175307616h",
        "PT1S",
        "1h 1h",
        "9999-12-31T23:59:59Z",
        "-009999-01-02T00:00:00Z",
        "2026-13-40T25:61:61Z",
        "/reply text:",
        "/tag tag:NOPE text:x",
        "/snippet add name: text:",
        "press ",
        "pick ",
        "poisson",
        "uniform",
        "legacy-2020",
        "meta-2019",
        "agent",
        "team",
        "\u{0}",
        "💥\u{202e}",
        "127.0.0.1:0",
        "[::1]:99999",
        "http",
        "gateway",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ];
    match rng.random_range(0..6) {
        0 => T::String(strings.choose(rng).copied().unwrap_or_default().to_owned()),
        1 => T::String("y".repeat(rng.random_range(1_000..100_000))),
        2 => T::Integer(
            [
                0,
                -1,
                1,
                i64::MIN,
                i64::MAX,
                u32::MAX as i64,
                u32::MAX as i64 + 1,
                4_000_000_000,
                1_000_000,
            ]
            .choose(rng)
            .copied()
            .unwrap_or(0),
        ),
        3 => T::Float(
            [
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                -0.0,
                1e308,
                0.5,
                2.0,
            ]
            .choose(rng)
            .copied()
            .unwrap_or(0.0),
        ),
        4 => T::Boolean(rng.random()),
        _ => match rng.random_range(0..3) {
            0 => T::Array(Vec::new()),
            1 => T::Table(toml::Table::new()),
            _ => T::Datetime("1979-05-27T07:32:00Z".parse().expect("a valid datetime")),
        },
    }
}

/// Mutates `input` in place: a few stacked mutations, structured where the input still
/// parses, and at most `max` bytes in the end. `other` is a second valid input to
/// splice with.
pub fn mutate(rng: &mut ChaCha8Rng, input: &mut Vec<u8>, other: &[u8], syntax: Syntax, max: usize) {
    // Mostly one or two mutations, sometimes many: a single change keeps the input near
    // the valid ones, a pile of them reaches states no single change does.
    let rounds = if rng.random_bool(0.8) {
        rng.random_range(1..=2)
    } else {
        rng.random_range(3..=10)
    };
    for _ in 0..rounds {
        let structured = rng.random_bool(0.4)
            && match syntax {
                Syntax::Json => structured_json(rng, input),
                Syntax::Toml => structured_toml(rng, input),
            };
        if !structured {
            bytes(rng, input, other, syntax, max);
        }
        input.truncate(max);
    }
}

/// A random position in `len` bytes, `len` included.
fn pos(rng: &mut ChaCha8Rng, len: usize) -> usize {
    rng.random_range(0..=len)
}

/// A random range of at most `most` bytes within `len`.
fn range(rng: &mut ChaCha8Rng, len: usize, most: usize) -> (usize, usize) {
    let start = pos(rng, len);
    let end = start + rng.random_range(0..=most.min(len - start));
    (start, end)
}

fn bytes(rng: &mut ChaCha8Rng, input: &mut Vec<u8>, other: &[u8], syntax: Syntax, max: usize) {
    let len = input.len();
    match rng.random_range(0..14) {
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            input[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            input[i] = rng.random();
        }
        2 => {
            let (a, b) = range(rng, len, 64);
            input.drain(a..b);
        }
        3 => input.truncate(pos(rng, len)),
        4 | 5 => {
            let tokens = match syntax {
                Syntax::Json => JSON_TOKENS,
                Syntax::Toml => TOML_TOKENS,
            };
            let token = tokens.choose(rng).copied().unwrap_or_default();
            let at = near_syntax(rng, input);
            input.splice(at..at, token.bytes());
        }
        6 => {
            let bad = BAD_UTF8.choose(rng).copied().unwrap_or_default();
            let at = pos(rng, len);
            input.splice(at..at, bad.iter().copied());
        }
        7 => {
            // A chunk copied elsewhere: duplicated keys, tables, steps, entries.
            let (a, b) = range(rng, len, 256);
            let chunk = input[a..b].to_vec();
            let at = pos(rng, len);
            input.splice(at..at, chunk);
        }
        8 => {
            // A chunk repeated many times: unbounded arrays and lists.
            let (a, b) = range(rng, len, 64);
            if b > a {
                let times = rng.random_range(2..5_000).min(max / (b - a) + 1);
                let chunk = input[a..b].repeat(times);
                input.splice(b..b, chunk);
            }
        }
        9 => deep_nesting(rng, input, syntax),
        10 => {
            // A very long string where a short one was.
            let at = near_syntax(rng, input);
            let n = rng.random_range(1_000..(max / 2).max(1_001));
            let filler = [b'a', b' ', b'\\', 0xc3][rng.random_range(0..4)];
            input.splice(at..at, std::iter::repeat_n(filler, n));
        }
        11 if !other.is_empty() => {
            // Splicing: the head of one valid input, the tail of another.
            let cut = pos(rng, len);
            let from = rng.random_range(0..other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        12 => {
            let at = pos(rng, len);
            let n = rng.random_range(1..16);
            let junk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            input.splice(at..at, junk);
        }
        _ => {
            // A number made large: ids, counts, timestamps and lengths.
            if let Some(at) = digit_position(rng, input) {
                let digits = "9".repeat(rng.random_range(1..40));
                input.splice(at..at, digits.bytes());
            }
        }
    }
}

/// A position next to a syntax character when there is one, so inserted tokens land
/// between values more often than inside them.
fn near_syntax(rng: &mut ChaCha8Rng, input: &[u8]) -> usize {
    let marks: Vec<usize> = input
        .iter()
        .enumerate()
        .filter(|(_, b)| b"{}[],:=\"\n".contains(b))
        .map(|(i, _)| i + 1)
        .collect();
    match marks.choose(rng) {
        Some(&i) if rng.random_bool(0.7) => i,
        _ => pos(rng, input.len()),
    }
}

fn digit_position(rng: &mut ChaCha8Rng, input: &[u8]) -> Option<usize> {
    let digits: Vec<usize> = input
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    digits.choose(rng).copied()
}

/// Nesting up to 10,000 levels deep, closed or not: arrays, objects or inline tables,
/// and for TOML dotted keys and table headers as deep.
fn deep_nesting(rng: &mut ChaCha8Rng, input: &mut Vec<u8>, syntax: Syntax) {
    let depth = *[64usize, 129, 1_000, 10_000]
        .choose(rng)
        .expect("a non-empty list");
    let closed = rng.random_bool(0.5);
    let mut text = String::new();
    match (syntax, rng.random_range(0..4)) {
        (Syntax::Toml, 0) => {
            text.push_str("\na");
            text.push_str(&".a".repeat(depth));
            text.push_str(" = 1\n");
        }
        (Syntax::Toml, 1) => {
            text.push_str("\n[a");
            text.push_str(&".a".repeat(depth));
            text.push_str("]\n");
        }
        (Syntax::Toml, 2) => {
            text.push_str("\nx = ");
            text.push_str(&"{a=".repeat(depth));
            if closed {
                text.push('1');
                text.push_str(&"}".repeat(depth));
            }
            text.push('\n');
        }
        (Syntax::Toml, _) => {
            text.push_str("\nx = ");
            text.push_str(&"[".repeat(depth));
            if closed {
                text.push_str(&"]".repeat(depth));
            }
            text.push('\n');
        }
        (Syntax::Json, 0) => {
            text.push_str(&"{\"a\":".repeat(depth));
            if closed {
                text.push('1');
                text.push_str(&"}".repeat(depth));
            }
        }
        (Syntax::Json, _) => {
            text.push_str(&"[".repeat(depth));
            if closed {
                text.push_str(&"]".repeat(depth));
            }
        }
    }
    let at = near_syntax(rng, input);
    input.splice(at..at, text.bytes());
}

/// A path to a value inside a document: keys and indices.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn json_paths(v: &Json, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Json::Object(m) => {
            for (k, child) in m {
                here.push(Step::Key(k.clone()));
                json_paths(child, here, out);
                here.pop();
            }
        }
        Json::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(Step::Index(i));
                json_paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn json_at<'a>(v: &'a mut Json, path: &[Step]) -> Option<&'a mut Json> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// One structured mutation of a JSON document; `false` if it doesn't parse (then a
/// byte-level mutation is made instead).
fn structured_json(rng: &mut ChaCha8Rng, input: &mut Vec<u8>) -> bool {
    let Ok(mut doc) = serde_json::from_slice::<Json>(input) else {
        return false;
    };
    let mut paths = Vec::new();
    json_paths(&doc, &mut Vec::new(), &mut paths);
    let Some(path) = paths.choose(rng).cloned() else {
        return false;
    };
    let mut duplicate_key = false;
    let op = rng.random_range(0..7);
    match op {
        0 | 1 => {
            if let Some(v) = json_at(&mut doc, &path) {
                *v = json_values(rng);
            }
        }
        2 => {
            // Drop the value: a missing key or a shorter array.
            if let Some((last, parent)) = path.split_last() {
                match (json_at(&mut doc, parent), last) {
                    (Some(Json::Object(m)), Step::Key(k)) => {
                        m.remove(k);
                    }
                    (Some(Json::Array(a)), Step::Index(i)) if *i < a.len() => {
                        a.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        3 => {
            // An array made long: one element repeated up to thousands of times.
            let times = *[2usize, 100, 5_000].choose(rng).expect("non-empty");
            if let Some(Json::Array(a)) = json_at(&mut doc, &path) {
                if let Some(first) = a.first().cloned() {
                    a.extend(std::iter::repeat_n(first, times));
                }
            } else if let Some(v) = json_at(&mut doc, &path) {
                *v = Json::Array(vec![v.clone(); times]);
            }
        }
        4 => {
            // Wrapped a few levels deeper than a parser's recursion limit.
            let depth = rng.random_range(1..200);
            if let Some(v) = json_at(&mut doc, &path) {
                let mut wrapped = v.take();
                for _ in 0..depth {
                    wrapped = Json::Array(vec![wrapped]);
                }
                *v = wrapped;
            }
        }
        5 => {
            // A number nudged: off by one, negated, scaled out of range.
            if let Some(v @ Json::Number(_)) = json_at(&mut doc, &path) {
                let n = v.as_f64().unwrap_or(0.0);
                *v = match rng.random_range(0..4) {
                    0 => serde_json::json!(v.as_i64().unwrap_or(0).wrapping_add(1)),
                    1 => serde_json::json!(v.as_i64().unwrap_or(0).wrapping_sub(1)),
                    2 => serde_json::json!(-n),
                    _ => serde_json::json!(n * 1e18),
                };
            } else if let Some(v) = json_at(&mut doc, &path) {
                *v = json_values(rng);
            }
        }
        _ => duplicate_key = true,
    }
    input.clear();
    let mut dup = duplicate_key.then(|| rng.random_range(0..paths.len().max(1)));
    emit_json(&doc, input, &mut dup);
    true
}

/// Writes `v` as JSON; the `dup`-th object met with any key gets its first key written
/// twice (serde's maps can't hold a duplicate, the wire can).
fn emit_json(v: &Json, out: &mut Vec<u8>, dup: &mut Option<usize>) {
    match v {
        Json::Object(m) => {
            let twice = match dup {
                Some(0) if !m.is_empty() => {
                    *dup = None;
                    true
                }
                Some(n) => {
                    *n = n.saturating_sub(1);
                    false
                }
                None => false,
            };
            out.push(b'{');
            let mut first = true;
            for (i, (k, child)) in m.iter().enumerate() {
                let copies = if twice && i == 0 { 2 } else { 1 };
                for _ in 0..copies {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    let _ = serde_json::to_writer(&mut *out, k);
                    out.push(b':');
                    emit_json(child, out, dup);
                }
            }
            out.push(b'}');
        }
        Json::Array(a) => {
            out.push(b'[');
            for (i, child) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                emit_json(child, out, dup);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

fn toml_paths(v: &toml::Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        toml::Value::Table(t) => {
            for (k, child) in t {
                here.push(Step::Key(k.clone()));
                toml_paths(child, here, out);
                here.pop();
            }
        }
        toml::Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(Step::Index(i));
                toml_paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn toml_at<'a>(v: &'a mut toml::Value, path: &[Step]) -> Option<&'a mut toml::Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// One structured mutation of a TOML document; `false` if it doesn't parse.
fn structured_toml(rng: &mut ChaCha8Rng, input: &mut Vec<u8>) -> bool {
    let Ok(text) = std::str::from_utf8(input) else {
        return false;
    };
    // A document nested thousands deep is the parser's to survive, not this walker's
    // (which recurses): those are left to byte-level mutations.
    let nested = |line: &str| line.bytes().filter(|b| b".[{".contains(b)).count() > 64;
    if text.lines().any(nested) {
        return false;
    }
    if rng.random_bool(0.3) {
        return toml_lines(rng, input);
    }
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    let mut doc = toml::Value::Table(table);
    let mut paths = Vec::new();
    toml_paths(&doc, &mut Vec::new(), &mut paths);
    // The root can't be replaced: a TOML document is a table.
    paths.retain(|p| !p.is_empty());
    let Some(path) = paths.choose(rng).cloned() else {
        return false;
    };
    match rng.random_range(0..4) {
        0 | 1 => {
            if let Some(v) = toml_at(&mut doc, &path) {
                *v = toml_values(rng);
            }
        }
        2 => {
            if let Some((last, parent)) = path.split_last() {
                match (toml_at(&mut doc, parent), last) {
                    (Some(toml::Value::Table(t)), Step::Key(k)) => {
                        t.remove(k);
                    }
                    (Some(toml::Value::Array(a)), Step::Index(i)) if *i < a.len() => {
                        a.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        _ => {
            let times = *[2usize, 100, 3_000].choose(rng).expect("non-empty");
            if let Some(toml::Value::Array(a)) = toml_at(&mut doc, &path) {
                if let Some(first) = a.first().cloned() {
                    a.extend(std::iter::repeat_n(first, times));
                }
            } else if let Some(v) = toml_at(&mut doc, &path) {
                *v = toml::Value::Array(vec![v.clone(); times]);
            }
        }
    }
    match toml::to_string(&doc) {
        Ok(text) => {
            *input = text.into_bytes();
            true
        }
        // Some values have no TOML spelling where they ended up; mutate bytes instead.
        Err(_) => false,
    }
}

/// Line-level TOML mutations: a duplicated line is a duplicated key, a duplicated
/// `[[step]]` block is one more step.
fn toml_lines(rng: &mut ChaCha8Rng, input: &mut Vec<u8>) -> bool {
    let text = String::from_utf8_lossy(input).into_owned();
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return false;
    }
    let i = rng.random_range(0..lines.len());
    match rng.random_range(0..4) {
        0 => lines.insert(i, lines[i]),
        1 => {
            lines.remove(i);
        }
        2 => {
            let j = rng.random_range(0..lines.len());
            lines.swap(i, j);
        }
        _ => {
            // A table or array-of-tables block, repeated.
            let Some(start) = (0..=i)
                .rev()
                .find(|&k| lines[k].trim_start().starts_with('['))
            else {
                return false;
            };
            let end = (start + 1..lines.len())
                .find(|&k| lines[k].trim_start().starts_with('['))
                .unwrap_or(lines.len());
            let block: Vec<&str> = lines[start..end].to_vec();
            let times = *[1usize, 50, 2_000].choose(rng).expect("non-empty");
            for _ in 0..times {
                lines.extend(block.iter().copied());
            }
        }
    }
    *input = lines.join("\n").into_bytes();
    input.push(b'\n');
    true
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn mutations_are_deterministic_and_bounded() {
        let seed = br#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[]}]}"#;
        let run = |s: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(s);
            let mut out = Vec::new();
            for _ in 0..200 {
                let mut input = seed.to_vec();
                mutate(&mut rng, &mut input, b"[1,2,3]", Syntax::Json, 4096);
                assert!(input.len() <= 4096);
                out.push(input);
            }
            out
        };
        assert_eq!(run(7), run(7));
        let a = run(7);
        assert!(a.iter().any(|i| i.as_slice() != seed), "something changed");
        assert!(
            a.iter().any(|i| serde_json::from_slice::<Json>(i).is_err()),
            "some are no longer JSON"
        );
        assert!(
            a.iter()
                .any(|i| i.as_slice() != seed && serde_json::from_slice::<Json>(i).is_ok()),
            "some are different JSON"
        );
    }

    #[test]
    fn a_duplicate_key_is_written_twice() {
        let doc: Json = serde_json::json!({"a": {"b": 1}});
        let mut out = Vec::new();
        emit_json(&doc, &mut out, &mut Some(1));
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":{"b":1,"b":1}}"#);
    }
}
