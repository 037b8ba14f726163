//! `tagdesk train scores DIR`: several trainees' JSON scorecards as one table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

/// The parts of a JSON scorecard the table shows.
#[derive(Debug, Clone, Deserialize)]
pub struct Row {
    /// The trainee.
    pub trainee: String,
    /// The exercise.
    pub exercise: String,
    /// Their score.
    pub score: i64,
    /// Out of.
    pub max: u32,
    /// Their mistakes.
    pub mistakes: Vec<MistakeRow>,
}

/// A mistake, by kind.
#[derive(Debug, Clone, Deserialize)]
pub struct MistakeRow {
    /// `window_missed`, `wrong_tag`, ...
    pub kind: String,
}

/// Reads every JSON scorecard in `dir` (other JSON files are skipped), sorted by
/// trainee then exercise.
pub fn read(dir: &Path) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if let Ok(row) = serde_json::from_str::<Row>(&text) {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| (&a.trainee, &a.exercise).cmp(&(&b.trainee, &b.exercise)));
    Ok(rows)
}

/// The table: one line per scorecard, then each trainee's total.
pub fn table(rows: &[Row]) -> String {
    let mut lines: Vec<[String; 4]> = vec![[
        "trainee".into(),
        "exercise".into(),
        "score".into(),
        "mistakes".into(),
    ]];
    for r in rows {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &r.mistakes {
            *kinds.entry(m.kind.as_str()).or_default() += 1;
        }
        let mistakes: Vec<String> = kinds
            .iter()
            .map(|(k, n)| {
                if *n > 1 {
                    format!("{k} ×{n}")
                } else {
                    (*k).to_owned()
                }
            })
            .collect();
        lines.push([
            r.trainee.clone(),
            r.exercise.clone(),
            format!("{}/{}", r.score, r.max),
            if mistakes.is_empty() {
                "none".into()
            } else {
                mistakes.join(", ")
            },
        ]);
    }
    let mut totals: BTreeMap<&str, (i64, u32, usize)> = BTreeMap::new();
    for r in rows {
        let t = totals.entry(&r.trainee).or_default();
        t.0 += r.score;
        t.1 += r.max;
        t.2 += r.mistakes.len();
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    if !totals.is_empty() {
        let _ = writeln!(out);
        for (who, (score, max, mistakes)) in totals {
            let _ = writeln!(out, "{who}: {score}/{max} in all, {mistakes} mistake(s)");
        }
    }
    out
}
