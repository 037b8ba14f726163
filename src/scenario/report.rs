//! The suite's results: a summary table for people, JUnit XML for CI.

use std::fmt::Write as _;

use super::run::Report;

/// The summary table.
pub fn table(reports: &[Report]) -> String {
    let width = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = format!(
        "{:<width$}  {:>6}  {:>5}  {:>7}  {:>9}  {:>8}  result\n",
        "scenario", "seed", "steps", "checks", "virtual", "wall"
    );
    for r in reports {
        let result = if r.passed() {
            "ok".to_owned()
        } else if let Some(e) = &r.error {
            format!("ERROR: {e}")
        } else {
            failed(r)
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:>6}  {:>5}  {:>7}  {:>9}  {:>7.2}s  {result}",
            r.name,
            r.seed,
            r.steps,
            r.checked,
            messenger::timefmt::human(r.span),
            r.wall.as_secs_f64()
        );
    }
    let failed = reports.iter().filter(|r| !r.passed()).count();
    let _ = writeln!(
        out,
        "{} scenarios, {} passed, {failed} failed",
        reports.len(),
        reports.len() - failed
    );
    out
}

/// `FAILED (2 of 9)`: checked steps whose expectations didn't all hold, of those
/// checked, and presses that found no button, if any.
fn failed(r: &Report) -> String {
    let mut out = format!("FAILED ({} of {}", r.failed_checks(), r.checked);
    match r.count("no such button") {
        0 => {}
        1 => out.push_str(", 1 press with no such button"),
        n => out.push_str(&format!(", {n} presses with no such button")),
    }
    out.push(')');
    out
}

/// What failed (expected against actual, or the button that wasn't there), and how to
/// reproduce it: the same file and seed, with `flags`, the options the run was given
/// (` --config FILE`, see [`super::settings::Options::flags`]).
pub fn failures(reports: &[Report], flags: &str) -> String {
    let mut out = String::new();
    for r in reports.iter().filter(|r| !r.passed()) {
        let _ = writeln!(out, "\n{} ({}) failed:", r.name, r.path.display());
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  error: {e}");
        }
        for f in &r.failures {
            let _ = writeln!(
                out,
                "  {}:{} (at {}): {}",
                r.path.display(),
                f.line,
                f.at,
                f.kind
            );
        }
        let _ = writeln!(
            out,
            "  reproduce: cargo run --release -- scenario run {} --seed {}{flags}",
            r.path.display(),
            r.seed
        );
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one testcase per scenario run. Failed expectations and presses with no
/// such button are its `<failure>` (typed by kind); a run that stopped is an `<error>`.
pub fn junit(reports: &[Report]) -> String {
    let failed = reports.iter().filter(|r| !r.failures.is_empty()).count();
    let errors = reports.iter().filter(|r| r.error.is_some()).count();
    let total: f64 = reports.iter().map(|r| r.wall.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuite name=\"tagdesk scenarios\" tests=\"{}\" failures=\"{failed}\" errors=\"{errors}\" time=\"{total:.3}\">", reports.len());
    for r in reports {
        let _ = write!(
            out,
            "  <testcase classname=\"scenarios\" name=\"{} (seed {})\" file=\"{}\" time=\"{:.3}\"",
            xml(&r.name),
            r.seed,
            xml(&r.path.display().to_string()),
            r.wall.as_secs_f64()
        );
        if r.passed() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        if !r.failures.is_empty() {
            let _ = writeln!(
                out,
                "    <failure message=\"{}\" type=\"{}\">{}</failure>",
                xml(&summary(r)),
                xml(&kinds(r)),
                xml(&failure_lines(r))
            );
        }
        if let Some(e) = &r.error {
            let _ = writeln!(
                out,
                "    <error message=\"the run stopped\">{}</error>",
                xml(e)
            );
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

/// `2 expectation(s) failed, 1 press(es) with no such button`.
fn summary(r: &Report) -> String {
    let mut parts = Vec::new();
    match r.count("expectation") {
        0 => {}
        n => parts.push(format!("{n} expectation(s) failed")),
    }
    match r.count("no such button") {
        0 => {}
        n => parts.push(format!("{n} press(es) with no such button")),
    }
    parts.join(", ")
}

/// The kinds of failure a report has: `expectation`, `no such button`, or both.
fn kinds(r: &Report) -> String {
    let mut names: Vec<&str> = r.failures.iter().map(|f| f.kind.name()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

fn failure_lines(r: &Report) -> String {
    let mut body = String::new();
    for f in &r.failures {
        let _ = writeln!(body, "line {} (at {}): {}", f.line, f.at, f.kind);
    }
    body
}
