//! Which due work goes first when Discord can't take it all at once: the page's
//! alerts and Meta sends, then conversations someone asked for from `/inbox`, then
//! conversations by how soon their reply window closes, then conversations whose
//! windows have closed, and renames last. On a Monday with
//! hundreds of conversations waiting on one channel's rate limit, the ones about to
//! expire are in Discord first, and a spent bucket never holds an alert behind
//! routine posts.

use std::collections::HashMap;

use jiff::Timestamp;
use messenger::window::Window;

use crate::settings::Settings;
use crate::store::{QueuedWork, Store, StoreError, Work};

/// How urgent a piece of work is: lower first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// The page's alerts and notices, and sends to Meta.
    Page,
    /// A conversation someone asked for from `/inbox`.
    Asked,
    /// A conversation whose reply window closes then.
    Closes(Timestamp),
    /// A conversation no reply can reach now.
    Closed,
    /// A thread's rename: its label can wait for its posts.
    Rename,
}

/// Sorts `due` most urgent first; equal urgency keeps the queue's order.
pub fn sort(
    store: &dyn Store,
    s: &Settings,
    due: &mut [QueuedWork],
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut closes: HashMap<String, Urgency> = HashMap::new();
    let mut keyed = Vec::with_capacity(due.len());
    for item in due.iter() {
        let u = match &item.work {
            Work::Alert { .. } | Work::GraphSend { .. } => Urgency::Page,
            _ if item.front => Urgency::Asked,
            Work::EditThread { .. } => Urgency::Rename,
            Work::OpenThread { psid, .. } | Work::Post { psid, .. } => match closes.get(psid) {
                Some(u) => *u,
                None => {
                    let u = window_urgency(store, s, psid, now)?;
                    closes.insert(psid.clone(), u);
                    u
                }
            },
        };
        keyed.push(u);
    }
    let mut order: Vec<usize> = (0..due.len()).collect();
    order.sort_by_key(|i| keyed[*i]);
    let sorted: Vec<QueuedWork> = order.iter().map(|i| due[*i].clone()).collect();
    due.clone_from_slice(&sorted);
    Ok(())
}

/// A conversation's urgency: when its window closes.
fn window_urgency(
    store: &dyn Store,
    s: &Settings,
    psid: &str,
    now: Timestamp,
) -> Result<Urgency, StoreError> {
    let Some(thread) = store.thread(psid)? else {
        return Ok(Urgency::Closed);
    };
    Ok(
        match Window::at(&thread.state, now, s.rules_at(now), s.human_agent) {
            Window::Standard { closes_at, .. } | Window::HumanAgent { closes_at, .. } => {
                Urgency::Closes(closes_at)
            }
            Window::Expired { .. } => Urgency::Closed,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_first_then_what_was_asked_for_then_the_soonest_to_close_then_the_closed_then_renames()
    {
        let t = |h: i64| Timestamp::from_second(1_800_000_000 + h * 3600).unwrap();
        let mut v = vec![
            Urgency::Rename,
            Urgency::Closed,
            Urgency::Closes(t(20)),
            Urgency::Page,
            Urgency::Closes(t(2)),
            Urgency::Asked,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Urgency::Page,
                Urgency::Asked,
                Urgency::Closes(t(2)),
                Urgency::Closes(t(20)),
                Urgency::Closed,
                Urgency::Rename
            ]
        );
    }
}
