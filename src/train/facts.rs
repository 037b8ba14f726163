//! Reading a session's [`Facts`] out of its world: Meta's side from mock-graph (what
//! customers wrote, what reached them, what Meta refused), the trainee's sends from
//! the bot's store (what tagdesk refused and why, what was parked).

use std::collections::BTreeMap;

use bot::store::model::{Asked, Direction};
use jiff::Timestamp;
use mock_graph::platform::{Outcome, RequestRecord};

use super::score::{CustomerFacts, Facts, MetaRefusal, Reply, SendRecord};
use crate::scenario::world::World;

/// What happened in `w`, a session that ends at `ends`.
pub fn read(w: &World, ends: Timestamp) -> anyhow::Result<Facts> {
    let mut customers = BTreeMap::new();
    {
        let p = w.mock().lock();
        let app = p.settings.app_id;
        for (id, psid) in &w.psids {
            let Some(c) = p.customer(psid) else { continue };
            let mut facts = CustomerFacts {
                name: c.profile.display_name().unwrap_or_else(|| id.clone()),
                wrote: c
                    .messages
                    .iter()
                    .filter(|m| m.from_customer)
                    .map(|m| m.at)
                    .collect(),
                ..CustomerFacts::default()
            };
            for call in p.sent.iter().filter(|r| r.app_id == app) {
                let RequestRecord::Parsed(req) = &call.request else {
                    continue;
                };
                if req.recipient.id.as_deref() != Some(psid.as_str()) {
                    continue;
                }
                match &call.outcome {
                    Outcome::Sent(_) => {
                        let Some(text) = req.message.as_ref().and_then(|m| m.text.as_deref())
                        else {
                            continue;
                        };
                        facts.replies.push(Reply {
                            at: call.at,
                            tag: req.tag.map(|t| t.to_string()),
                            promotional: !p.judge.find(text).is_empty(),
                        });
                    }
                    Outcome::Error(e) => facts.meta_refused.push(MetaRefusal {
                        at: call.at,
                        code: (e.code, e.error_subcode),
                    }),
                }
            }
            customers.insert(id.clone(), facts);
        }
    }
    for (id, psid) in &w.psids {
        let Some(facts) = customers.get_mut(id) else {
            continue;
        };
        facts.sends = w
            .engine()
            .store
            .messages(psid)?
            .into_iter()
            .filter(|m| m.direction == Direction::Out)
            .map(|m| SendRecord {
                at: m.at,
                state: m.state,
                decision: m.decision,
                reason: m.reason,
                parked: m.asked == Some(Asked::Parked),
            })
            .collect();
    }
    Ok(Facts {
        start: w.mock().lock().settings.start,
        ends,
        customers,
    })
}
