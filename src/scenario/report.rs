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
            format!("FAILED ({} of {})", r.failures.len(), r.checked)
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

/// What failed, expected against actual, and how to reproduce it.
pub fn failures(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports.iter().filter(|r| !r.passed()) {
        let _ = writeln!(out, "\n{} ({}) failed:", r.name, r.path.display());
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  error: {e}");
        }
        for f in &r.failures {
            let _ = writeln!(
                out,
                "  {}:{} (at {}): {}: expected {}, got {}",
                r.path.display(),
                f.line,
                f.at,
                f.miss.field,
                f.miss.expected,
                f.miss.actual
            );
        }
        let _ = writeln!(
            out,
            "  reproduce: cargo run --release -- scenario run {} --seed {}",
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

/// JUnit XML: one testcase per scenario run.
pub fn junit(reports: &[Report]) -> String {
    let failed = reports.iter().filter(|r| !r.passed()).count();
    let total: f64 = reports.iter().map(|r| r.wall.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuite name=\"tagdesk scenarios\" tests=\"{}\" failures=\"{failed}\" time=\"{total:.3}\">", reports.len());
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
        let mut body = String::new();
        if let Some(e) = &r.error {
            let _ = writeln!(body, "error: {e}");
        }
        for f in &r.failures {
            let _ = writeln!(
                body,
                "line {} (at {}): {}: expected {}, got {}",
                f.line, f.at, f.miss.field, f.miss.expected, f.miss.actual
            );
        }
        let _ = writeln!(
            out,
            "    <failure message=\"{} expectation(s) failed\">{}</failure>",
            r.failures.len().max(1),
            xml(&body)
        );
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}
