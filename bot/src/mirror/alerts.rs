//! Alerts before a window closes on a customer nobody answered.
//!
//! One alert per window: before the 24-hour window closes, then before the human-agent
//! window closes, each only if the team hasn't replied since the customer last acted.
//! Alerts go out in rounds, every quarter of an hour: an alert is due at the round
//! before its window is `alert_before` from closing (so between that and a quarter hour
//! more). Alerts of one round go out as one post in the parent channel, pinging the
//! claimed agents or else the agent role: a weekend backlog pings once a round, not
//! once per customer.

use jiff::Timestamp;
use messenger::rules::HUMAN_AGENT_WINDOW;
use messenger::timefmt::human;

use crate::discord::Post;
use crate::settings::Settings;
use crate::store::{AlertKind, Thread};

/// The next alert a thread is owed: when, and for which window.
pub fn next(thread: &Thread, s: &Settings) -> Option<(Timestamp, AlertKind)> {
    if thread.closed {
        return None;
    }
    let answered = |since: Timestamp| thread.last_team_reply.is_some_and(|r| r >= since);
    let after_last = |due: Timestamp| thread.alerted.is_none_or(|(last, _)| due > last);
    let standard = thread
        .state
        .last_opened
        .filter(|&opened| !answered(opened))
        .map(|opened| {
            (
                round(opened + s.rules_at(opened).standard_window - s.alert_before),
                AlertKind::Standard,
            )
        });
    let human = thread
        .state
        .last_customer_message
        .filter(|&m| s.human_agent && !answered(m))
        .map(|m| {
            (
                round(m + HUMAN_AGENT_WINDOW - s.alert_before),
                AlertKind::HumanAgent,
            )
        });
    [standard, human]
        .into_iter()
        .flatten()
        .filter(|&(due, _)| after_last(due))
        .min_by_key(|&(due, _)| due)
}

/// The length of an alert round.
pub const ROUND_SECS: i64 = 15 * 60;

/// The start of the round `t` falls in.
fn round(t: Timestamp) -> Timestamp {
    let secs = t.as_second();
    Timestamp::from_second(secs - secs.rem_euclid(ROUND_SECS)).unwrap_or(t)
}

/// When the window an alert is about closes, if it is still open at `now`.
pub fn closes(thread: &Thread, kind: AlertKind, now: Timestamp, s: &Settings) -> Option<Timestamp> {
    let end = match kind {
        AlertKind::Standard => thread
            .state
            .last_opened
            .map(|t| t + s.rules_at(t).standard_window),
        AlertKind::HumanAgent => thread
            .state
            .last_customer_message
            .filter(|_| s.human_agent)
            .map(|t| t + HUMAN_AGENT_WINDOW),
    };
    end.filter(|&end| now < end)
}

/// One line of an alert post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLine {
    /// The Discord thread, if opened.
    pub discord_thread: Option<u64>,
    /// The customer's name.
    pub customer: String,
    /// Which window.
    pub kind: AlertKind,
    /// When it closes.
    pub closes_at: Timestamp,
    /// Who to ping: the claimed agent.
    pub claimed_by: Option<u64>,
}

/// Discord's limit on a message's content.
const CONTENT_LIMIT: usize = 2000;

/// Alert lines as posts, each within Discord's limit, pinging exactly the people named.
pub fn render(lines: &[AlertLine], now: Timestamp, s: &Settings) -> Vec<Post> {
    let mut posts: Vec<Post> = Vec::new();
    for line in lines {
        let place = line.discord_thread.map_or_else(
            || line.customer.clone(),
            |id| format!("<#{id}> {}", line.customer),
        );
        let window = match line.kind {
            AlertKind::Standard => "24-hour window",
            AlertKind::HumanAgent => "human-agent window",
        };
        let who = match line.claimed_by {
            Some(user) => format!("<@{user}>"),
            None => format!("<@&{}>", s.agent_role_id),
        };
        let text = format!(
            "⏰ {place}: the {window} closes in {} ({}) and nobody has replied · {who}\n",
            human(line.closes_at.duration_since(now)),
            line.closes_at.strftime("%a %H:%M UTC"),
        );
        let fits = posts
            .last()
            .is_some_and(|p| p.content.chars().count() + text.chars().count() <= CONTENT_LIMIT);
        if !fits {
            posts.push(Post::default());
        }
        let post = posts.last_mut().expect("pushed above");
        post.content.push_str(&text);
        match line.claimed_by {
            Some(user) if !post.ping_users.contains(&user) => post.ping_users.push(user),
            None if !post.ping_roles.contains(&s.agent_role_id) => {
                post.ping_roles.push(s.agent_role_id)
            }
            _ => {}
        }
    }
    posts
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger::window::CustomerAction;
    use messenger::Era;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn standard_then_human_agent_then_nothing() {
        let s = Settings::new(1, 2, Era::Meta2026);
        let mut t = Thread::default();
        let m = at("2026-11-20T09:00:00Z");
        t.state.customer_acted(CustomerAction::Message, m);
        assert_eq!(
            next(&t, &s),
            Some((at("2026-11-21T07:00:00Z"), AlertKind::Standard))
        );
        t.alerted = Some((at("2026-11-21T07:00:00Z"), AlertKind::Standard));
        assert_eq!(
            next(&t, &s),
            Some((at("2026-11-27T07:00:00Z"), AlertKind::HumanAgent))
        );
        t.alerted = Some((at("2026-11-27T07:00:00Z"), AlertKind::HumanAgent));
        assert_eq!(next(&t, &s), None);
        // The customer writes again: a fresh pair of alerts.
        t.state
            .customer_acted(CustomerAction::Message, at("2026-11-28T10:00:00Z"));
        assert_eq!(
            next(&t, &s),
            Some((at("2026-11-29T08:00:00Z"), AlertKind::Standard))
        );
    }

    #[test]
    fn alerts_come_in_quarter_hour_rounds() {
        let s = Settings::new(1, 2, Era::Meta2026);
        let mut t = Thread::default();
        t.state
            .customer_acted(CustomerAction::Message, at("2026-11-20T09:07:30Z"));
        // 2 hours before 09:07:30 the next day is 07:07:30: the 07:00 round.
        assert_eq!(
            next(&t, &s),
            Some((at("2026-11-21T07:00:00Z"), AlertKind::Standard))
        );
    }

    #[test]
    fn a_reply_or_closing_silences_alerts() {
        let s = Settings::new(1, 2, Era::Meta2026);
        let mut t = Thread::default();
        t.state
            .customer_acted(CustomerAction::Message, at("2026-11-20T09:00:00Z"));
        t.last_team_reply = Some(at("2026-11-20T10:00:00Z"));
        assert_eq!(next(&t, &s), None);
        t.last_team_reply = None;
        t.closed = true;
        assert_eq!(next(&t, &s), None);
    }

    #[test]
    fn pings_claimed_agents_else_the_role() {
        let s = Settings::new(1, 77, Era::Meta2026);
        let now = at("2026-11-21T07:00:00Z");
        let line = |claimed_by| AlertLine {
            discord_thread: Some(5),
            customer: "Ada".into(),
            kind: AlertKind::Standard,
            closes_at: at("2026-11-21T09:00:00Z"),
            claimed_by,
        };
        let posts = render(&[line(Some(9)), line(None)], now, &s);
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].ping_users, [9]);
        assert_eq!(posts[0].ping_roles, [77]);
        assert!(
            posts[0]
                .content
                .starts_with("⏰ <#5> Ada: the 24-hour window closes in 2h"),
            "{}",
            posts[0].content
        );
    }
}
