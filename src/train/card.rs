//! The scorecard in words: Markdown that reads the same in a terminal, a file and a
//! Discord message (bold and lists, no tables, which Discord doesn't draw), and JSON
//! for `tagdesk train scores`.

use std::fmt::Write as _;

use super::score::Scorecard;

/// The scorecard as Markdown.
pub fn markdown(card: &Scorecard) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Scorecard: {} · {}", card.trainee, card.exercise);
    let _ = writeln!(out, "**Goal:** {}", card.goal);
    let verdict = if card.full_marks() {
        "✅ full marks".to_owned()
    } else {
        match card.mistakes.len() {
            0 => "no mistakes, some points not earned".to_owned(),
            1 => "1 mistake".to_owned(),
            n => format!("{n} mistakes"),
        }
    };
    let _ = writeln!(out, "**Score: {} / {}** · {verdict}", card.score, card.max);
    let earned: Vec<_> = card.objectives.iter().filter(|o| o.earned).collect();
    if !earned.is_empty() {
        let _ = writeln!(out, "\n**Earned**");
        for o in earned {
            let _ = writeln!(out, "- ✅ +{} {}: {}", o.points, o.customer, o.what);
        }
    }
    let missed: Vec<_> = card.objectives.iter().filter(|o| !o.earned).collect();
    if !missed.is_empty() {
        let _ = writeln!(out, "\n**Not earned**");
        for o in missed {
            let _ = writeln!(out, "- ▫️ +{} {}: {}", o.points, o.customer, o.what);
        }
    }
    if !card.mistakes.is_empty() {
        let _ = writeln!(out, "\n**Mistakes**");
        for m in &card.mistakes {
            let _ = writeln!(
                out,
                "- ❌ −{} `{}` · {} · {}: {}",
                m.points,
                m.kind.name(),
                m.customer,
                m.at,
                m.what
            );
            let _ = writeln!(out, "  - On a real page: {}.", m.cost);
            let _ = writeln!(out, "  - Instead: {}.", m.instead);
        }
    }
    if !card.recovered.is_empty() {
        let _ = writeln!(out, "\n**Refusals hit and fixed**");
        for r in &card.recovered {
            let cost = if r.points > 0 {
                format!(" (−{})", r.points)
            } else {
                String::new()
            };
            let _ = writeln!(out, "- 🔁 {} · {}: {}{cost}", r.customer, r.at, r.what);
        }
    }
    if !card.first_replies.is_empty() {
        let times: Vec<String> = card
            .first_replies
            .iter()
            .map(|(who, after)| format!("{who} {}", after.as_deref().unwrap_or("never")))
            .collect();
        let _ = writeln!(out, "\n**Time to first reply:** {}", times.join(" · "));
    }
    out
}

/// The scorecard as JSON (pretty, with a trailing newline).
pub fn json(card: &Scorecard) -> String {
    let mut v = serde_json::to_value(card).unwrap_or_default();
    v["full_marks"] = card.full_marks().into();
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}
