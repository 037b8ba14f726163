//! The store conformance suite: every case is written once, against [`Store`], and runs
//! on both backends (`store::sqlite::*` on a SQLite file, `store::postgres::*` on a
//! database of its own in a throwaway Postgres server, see
//! [`bot::store::test_server`]). Among them, the store under concurrent writers: the
//! ticker writes whole thread records, commands and the outbox write field-level
//! patches, and neither undoes the other.
//!
//! SQLite-only checks (its pragmas) are in `sqlite_only` at the end.

use bot::config::Database;
use bot::store::sqlite::SqliteStore;
use bot::store::{Changes, Store, Thread, ThreadPatch};
use jiff::Timestamp;
use messenger::window::CustomerAction;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn a_stale_whole_record_never_undoes_a_patch(db: &Database) {
    let store = bot::store::open(db).unwrap();
    let mut thread = Thread {
        psid: "U1".into(),
        ..Thread::default()
    };
    thread
        .state
        .customer_acted(CustomerAction::Message, at("2026-11-20T09:00:00Z"));
    store
        .commit(&Changes {
            threads: vec![thread.clone()],
            ..Changes::default()
        })
        .unwrap();

    // The ticker loaded the thread (`thread`, now stale); meanwhile an agent's tagged
    // reply went out and another agent claimed the conversation.
    store
        .commit(&Changes {
            patches: vec![
                ThreadPatch::TeamReplied {
                    psid: "U1".into(),
                    tagged: true,
                    at: at("2026-11-21T10:00:00Z"),
                },
                ThreadPatch::Claim {
                    psid: "U1".into(),
                    by: Some(7),
                    if_unclaimed: true,
                },
                ThreadPatch::Opened {
                    psid: "U1".into(),
                    discord_thread: 99,
                },
            ],
            ..Changes::default()
        })
        .unwrap();
    // The ticker writes its stale record back (a read receipt changed nothing).
    thread.label = Some("🟡 human agent · 5d".into());
    store
        .commit(&Changes {
            threads: vec![thread],
            ..Changes::default()
        })
        .unwrap();

    let now = store.thread("U1").unwrap().unwrap();
    assert_eq!(
        now.state.tagged_since_customer, 1,
        "the tagged reply still counts"
    );
    assert_eq!(now.claimed_by, Some(7));
    assert_eq!(now.discord_thread, Some(99));
    assert_eq!(now.last_team_reply, Some(at("2026-11-21T10:00:00Z")));
    assert_eq!(
        now.label.as_deref(),
        Some("🟡 human agent · 5d"),
        "the ticker's own field"
    );

    // A second claim only if unclaimed leaves the first; the customer writing resets
    // the count.
    store
        .commit(&Changes {
            patches: vec![
                ThreadPatch::Claim {
                    psid: "U1".into(),
                    by: Some(8),
                    if_unclaimed: true,
                },
                ThreadPatch::CustomerActed {
                    psid: "U1".into(),
                    at: at("2026-11-21T11:00:00Z"),
                },
            ],
            ..Changes::default()
        })
        .unwrap();
    let now = store.thread("U1").unwrap().unwrap();
    assert_eq!(now.claimed_by, Some(7));
    assert_eq!(now.state.tagged_since_customer, 0);
}

fn only_one_performer_claims_a_send(db: &Database) {
    use bot::store::{Direction, MessageRecord};
    let store = bot::store::open(db).unwrap();
    let message = MessageRecord {
        id: 0,
        psid: "U1".into(),
        direction: Direction::Out,
        mid: None,
        kind: "text".into(),
        text: "hi".into(),
        attachments: vec![],
        at: at("2026-11-20T09:00:00Z"),
        messaging_type: Some("RESPONSE".into()),
        tag: None,
        agent: Some("grace".into()),
        decision: None,
        state: "queued".into(),
        error: None,
        reason: None,
        standby: false,
        app_id: None,
        interaction_id: Some("I1".into()),
        asked: None,
    };
    store
        .commit(&Changes {
            messages: vec![message],
            ..Changes::default()
        })
        .unwrap();
    assert!(store.claim_send("I1", &["queued"]).unwrap());
    assert!(
        !store.claim_send("I1", &["queued"]).unwrap(),
        "the second agent attempt"
    );
    assert!(
        store
            .claim_send("I1", &["queued", "retrying", "sending"])
            .unwrap(),
        "the outbox, after a crash"
    );
}

fn page_changes_apply_to_the_record_as_stored(db: &Database) {
    use bot::store::PageOp;
    use messenger::restriction::Level;
    let store = bot::store::open(db).unwrap();
    let block = |level, unless_active| PageOp::Impose {
        level,
        reason: "promotional content".into(),
        at: at("2026-11-20T09:00:00Z"),
        unless_active,
    };
    // Meta's notice names 3 days; a refusal that reveals "a restriction" while one is
    // known changes nothing; a warning adds up.
    for ops in [
        vec![block(Some(Level::Days3), false)],
        vec![block(None, true)],
        vec![PageOp::Warn {
            at: at("2026-11-20T09:00:00Z"),
        }],
        // The same warning told again (Meta's notice after its 613) is not another.
        vec![PageOp::Warn {
            at: at("2026-11-20T09:00:05Z"),
        }],
    ] {
        store
            .commit(&Changes {
                page_ops: ops,
                ..Changes::default()
            })
            .unwrap();
    }
    let page = store.page().unwrap();
    assert_eq!(page.enforcement.history.len(), 1);
    assert_eq!(page.enforcement.history[0].level, Level::Days3);
    assert_eq!(page.enforcement.warnings, 1);
}

/// A tagged send to U1, approved and queued under `key`.
fn tagged_send(key: &str) -> bot::store::MessageRecord {
    use bot::store::{Asked, Direction, MessageRecord};
    MessageRecord {
        id: 0,
        psid: "U1".into(),
        direction: Direction::Out,
        mid: None,
        kind: "text".into(),
        text: format!("reply {key}"),
        attachments: vec![],
        at: at("2026-11-22T09:00:00Z"),
        messaging_type: Some("MESSAGE_TAG".into()),
        tag: Some("HUMAN_AGENT".into()),
        agent: Some("grace".into()),
        decision: None,
        state: "queued".into(),
        error: None,
        reason: None,
        standby: false,
        app_id: None,
        interaction_id: Some(key.into()),
        asked: Some(Asked::Reply {
            confirmed_second: false,
        }),
    }
}

fn customer_wrote(store: &dyn Store, when: &str) {
    let mut thread = Thread {
        psid: "U1".into(),
        ..Thread::default()
    };
    thread
        .state
        .customer_acted(CustomerAction::Message, at(when));
    store
        .commit(&Changes {
            threads: vec![thread],
            ..Changes::default()
        })
        .unwrap();
}

fn a_send_in_flight_holds_its_place_and_two_reservations_on_one_count_conflict(db: &Database) {
    use bot::store::{Precondition, StoreError};
    let store = bot::store::open(db).unwrap();
    customer_wrote(&*store, "2026-11-20T09:00:00Z");
    // Two agents decided against a count of 0; each reserves on that condition.
    let reserve = |key: &str| {
        store.commit(&Changes {
            preconditions: vec![Precondition::TaggedCount {
                psid: "U1".into(),
                is: 0,
            }],
            messages: vec![tagged_send(key)],
            ..Changes::default()
        })
    };
    reserve("A").unwrap();
    assert!(matches!(reserve("B"), Err(StoreError::Conflict(_))));
    assert!(
        store.message_by_interaction("B").unwrap().is_none(),
        "nothing of B stored"
    );
    let t = store.thread("U1").unwrap().unwrap();
    assert_eq!(t.state.tagged_since_customer, 1, "A's reservation counts");
    // A definite failure gives the place back.
    store
        .commit(&Changes {
            message_updates: vec![bot::store::MessageUpdate {
                interaction_id: "A".into(),
                state: "failed".into(),
                ..Default::default()
            }],
            ..Changes::default()
        })
        .unwrap();
    let t = store.thread("U1").unwrap().unwrap();
    assert_eq!(t.state.tagged_since_customer, 0);
}

fn a_customer_action_older_than_the_last_tagged_send_keeps_the_count(db: &Database) {
    let store = bot::store::open(db).unwrap();
    customer_wrote(&*store, "2026-11-20T09:00:00Z");
    let patch = |p| {
        store
            .commit(&Changes {
                patches: vec![p],
                ..Changes::default()
            })
            .unwrap()
    };
    patch(ThreadPatch::TeamReplied {
        psid: "U1".into(),
        tagged: true,
        at: at("2026-11-21T12:00:00Z"),
    });
    // A message from before the tagged send, delivered an hour late.
    patch(ThreadPatch::CustomerActed {
        psid: "U1".into(),
        at: at("2026-11-21T11:30:00Z"),
    });
    assert_eq!(
        store
            .thread("U1")
            .unwrap()
            .unwrap()
            .state
            .tagged_since_customer,
        1
    );
    patch(ThreadPatch::CustomerActed {
        psid: "U1".into(),
        at: at("2026-11-21T12:00:01Z"),
    });
    assert_eq!(
        store
            .thread("U1")
            .unwrap()
            .unwrap()
            .state
            .tagged_since_customer,
        0
    );
}

fn one_performer_holds_a_lane_and_later_work_waits_behind_it(db: &Database) {
    use bot::store::{NewWork, Work};
    let store = bot::store::open(db).unwrap();
    let now = at("2026-11-22T09:00:00Z");
    let send = |key: &str| NewWork {
        key: None,
        work: Work::GraphSend {
            psid: "U1".into(),
            interaction_id: key.into(),
        },
        due: now,
    };
    store
        .commit(&Changes {
            work: vec![send("A"), send("B")],
            ..Changes::default()
        })
        .unwrap();
    let lane = "graph:U1";
    let until = now + jiff::SignedDuration::from_secs(60);
    let head = store.lease_lane_head(lane, now, until).unwrap().unwrap();
    assert!(
        store.lease_lane_head(lane, now, until).unwrap().is_none(),
        "the head is leased and B waits behind it"
    );
    assert!(!store.lease_work(head.id, now, until).unwrap());
    assert!(
        store.work_due(now, 10).unwrap().is_empty(),
        "the outbox skips it"
    );
    store.work_done(head.id, &Changes::default()).unwrap();
    let next = store.lease_lane_head(lane, now, until).unwrap().unwrap();
    assert!(
        matches!(next.work, Work::GraphSend { ref interaction_id, .. } if interaction_id == "B")
    );
    // A lease that expires (its holder crashed) frees the work.
    assert!(store
        .lease_work(next.id, until, until + jiff::SignedDuration::from_secs(60))
        .unwrap());
}

fn a_post_asked_of_discord_takes_no_more_messages(db: &Database) {
    use bot::discord::Post;
    use bot::store::{NewWork, Work};
    let store = bot::store::open(db).unwrap();
    let now = at("2026-11-22T09:00:00Z");
    store
        .commit(&Changes {
            work: vec![NewWork {
                key: None,
                work: Work::Post {
                    psid: "U1".into(),
                    post: Post::default(),
                },
                due: now,
            }],
            ..Changes::default()
        })
        .unwrap();
    let open = store.open_post("U1").unwrap().expect("not attempted yet");
    // Leased for an attempt that a crash cut short: Discord may have it as it was.
    assert!(store
        .lease_work(open.id, now, now + jiff::SignedDuration::from_secs(15))
        .unwrap());
    assert!(store.open_post("U1").unwrap().is_none());
}

fn event(key: &str, psid: &str, timestamp: i64) -> bot::intake::InboundEvent {
    bot::intake::InboundEvent {
        dedupe_key: key.into(),
        kind: "message",
        psid: Some(psid.into()),
        timestamp,
        standby: false,
        payload: format!("{{\"key\":\"{key}\"}}"),
    }
}

fn events_are_stored_once_and_come_back_oldest_first(db: &Database) {
    let store = bot::store::open(db).unwrap();
    let got = store
        .ingest(&[
            event("a", "U1", 30),
            event("b", "U2", 10),
            event("a", "U1", 30),
        ])
        .unwrap();
    assert_eq!((got.stored, got.duplicates), (2, 1));
    let again = store
        .ingest(&[event("b", "U2", 10), event("c", "U1", 20)])
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (1, 1), "a redelivery");
    assert_eq!(store.count_events().unwrap(), 3);
    let pending = store.pending(10).unwrap();
    let keys: Vec<&str> = pending
        .iter()
        .map(|p| p.event.dedupe_key.as_str())
        .collect();
    assert_eq!(keys, ["b", "c", "a"], "by the event's own timestamp");
    assert_eq!(pending[0].event, event("b", "U2", 10), "stored as received");
    assert_eq!(store.pending(1).unwrap().len(), 1);
    store
        .commit(&Changes {
            processed: vec![pending[0].id],
            ..Changes::default()
        })
        .unwrap();
    let keys: Vec<String> = store
        .pending(10)
        .unwrap()
        .into_iter()
        .map(|p| p.event.dedupe_key)
        .collect();
    assert_eq!(keys, ["c", "a"]);
}

fn customers_snippets_drafts_and_problems_read_back_as_written(db: &Database) {
    use bot::store::{Customer, Draft, Snippet};
    let store = bot::store::open(db).unwrap();
    let customer = |psid: &str, name: Option<&str>| Customer {
        psid: psid.into(),
        name: name.map(Into::into),
        profile_pic: None,
        fetched: name.is_some(),
    };
    store
        .commit(&Changes {
            customers: vec![
                customer("U3", Some("bob")),
                customer("U1", Some("Zoe")),
                customer("U2", None),
            ],
            drafts: vec![Draft {
                id: "D1".into(),
                psid: "U1".into(),
                text: "first".into(),
                agent: "grace".into(),
                tag: None,
            }],
            ..Changes::default()
        })
        .unwrap();
    // Unnamed first, then bytewise (upper case before lower), as SQLite sorts.
    let order: Vec<String> = store
        .customers()
        .unwrap()
        .into_iter()
        .map(|c| c.psid)
        .collect();
    assert_eq!(order, ["U2", "U1", "U3"]);
    assert_eq!(
        store.customer("U1").unwrap(),
        Some(customer("U1", Some("Zoe")))
    );
    assert_eq!(store.customer("U9").unwrap(), None);

    // Profiles: U2 is due; a failure counts it and puts it off, giving up fetches it.
    let now = at("2026-11-22T09:00:00Z");
    assert_eq!(store.profiles_due(now, 10).unwrap(), [("U2".to_owned(), 0)]);
    let later = now + jiff::SignedDuration::from_mins(5);
    store.profile_failed("U2", Some(later)).unwrap();
    assert!(store.profiles_due(now, 10).unwrap().is_empty());
    assert_eq!(store.next_due().unwrap(), Some(later));
    assert_eq!(
        store.profiles_due(later, 10).unwrap(),
        [("U2".to_owned(), 1)]
    );
    store.profile_failed("U2", None).unwrap();
    assert!(store.profiles_due(later, 10).unwrap().is_empty());
    assert!(store.customer("U2").unwrap().unwrap().fetched);
    assert_eq!(store.next_due().unwrap(), None);

    // A draft saved again replaces the first.
    store
        .commit(&Changes {
            drafts: vec![Draft {
                id: "D1".into(),
                psid: "U1".into(),
                text: "second".into(),
                agent: "ada".into(),
                tag: Some("HUMAN_AGENT".into()),
            }],
            ..Changes::default()
        })
        .unwrap();
    let d = store.draft("D1").unwrap().unwrap();
    assert_eq!((d.text.as_str(), d.agent.as_str()), ("second", "ada"));
    assert_eq!(d.tag.as_deref(), Some("HUMAN_AGENT"));
    assert!(store.draft("D2").unwrap().is_none());

    let snippet = |name: &str, text: &str| Snippet {
        name: name.into(),
        text: text.into(),
        author: "grace".into(),
    };
    store.snippet_put(&snippet("refund", "old")).unwrap();
    store.snippet_put(&snippet("hours", "9 to 5")).unwrap();
    store.snippet_put(&snippet("refund", "new")).unwrap();
    assert_eq!(
        store.snippets().unwrap(),
        [snippet("hours", "9 to 5"), snippet("refund", "new")]
    );
    assert!(store.snippet_remove("refund").unwrap());
    assert!(!store.snippet_remove("refund").unwrap());

    assert!(store
        .note_problem("perm", "missing permission", now)
        .unwrap());
    assert!(
        !store.note_problem("perm", "again", later).unwrap(),
        "announced once"
    );
    assert_eq!(
        store.problems().unwrap(),
        [("missing permission".to_owned(), now)]
    );
    assert!(store.clear_problem("perm").unwrap());
    assert!(!store.clear_problem("perm").unwrap());
    assert!(store.problems().unwrap().is_empty());
}

fn the_outbox_orders_lanes_supersedes_keys_and_backs_off(db: &Database) {
    use bot::store::{NewWork, Work};
    let store = bot::store::open(db).unwrap();
    let now = at("2026-11-22T09:00:00Z");
    let mins = |n| now + jiff::SignedDuration::from_mins(n);
    let rename = |psid: &str, name: &str| Work::EditThread {
        psid: psid.into(),
        name: Some(name.into()),
        archived: None,
    };
    let new = |key: Option<&str>, work: Work, due| NewWork {
        key: key.map(Into::into),
        work,
        due,
    };
    store
        .commit(&Changes {
            work: vec![
                new(Some("name:U1"), rename("U1", "first"), now),
                new(None, rename("U1", "behind"), now),
                new(None, rename("U2", "other lane"), now),
                new(None, rename("U3", "later"), mins(10)),
            ],
            ..Changes::default()
        })
        .unwrap();
    // A newer rename under the same key replaces the pending one.
    store
        .commit(&Changes {
            work: vec![new(Some("name:U1"), rename("U1", "second"), now)],
            ..Changes::default()
        })
        .unwrap();
    assert_eq!(store.work_pending().unwrap(), 4);
    let due = store.work_due(now, 10).unwrap();
    let works: Vec<&Work> = due.iter().map(|w| &w.work).collect();
    assert_eq!(
        works,
        [&rename("U1", "second"), &rename("U2", "other lane")]
    );
    assert_eq!(store.work_due(now, 1).unwrap().len(), 1);

    // A lane moved to the front goes first.
    assert_eq!(store.work_to_front("U2").unwrap(), 1);
    let due = store.work_due(now, 10).unwrap();
    assert!(due[0].front && due[0].work == rename("U2", "other lane"));

    // Progress is recorded and forgotten; retries count attempts and back off.
    let head = store.work_due(now, 10).unwrap()[1].clone();
    store.work_progress(head.id, 7).unwrap();
    assert_eq!(store.work_due(now, 10).unwrap()[1].progress, Some(7));
    store.work_progress_undone(head.id).unwrap();
    store
        .work_retry(head.id, mins(30), "Discord said no")
        .unwrap();
    let due = store.work_due(now, 10).unwrap();
    assert_eq!(due.len(), 1, "U1's lane waits behind its head");
    assert_eq!(store.next_due().unwrap(), Some(now), "U2 is due");
    // Discord answers again: its backed-off work is due now.
    assert_eq!(store.work_resume_discord(now).unwrap(), 1);
    let again = store.work_due(now, 10).unwrap();
    let retried = again.iter().find(|w| w.id == head.id).unwrap();
    assert_eq!(retried.attempts, 1);
    // Deferred work isn't an attempt.
    store.work_defer(&[head.id], mins(20)).unwrap();
    assert!(store
        .work_due(now, 10)
        .unwrap()
        .iter()
        .all(|w| w.id != head.id));
    assert_eq!(
        store
            .work_due(mins(20), 10)
            .unwrap()
            .iter()
            .find(|w| w.id == head.id)
            .unwrap()
            .attempts,
        1
    );
    // Failed: gone from the lane, and the key is free again.
    store.work_failed(head.id, "never").unwrap();
    let lane_u1: Vec<Work> = store
        .work_due(mins(20), 10)
        .unwrap()
        .into_iter()
        .map(|w| w.work)
        .filter(|w| w.lane() == "U1")
        .collect();
    assert_eq!(lane_u1, [rename("U1", "behind")]);
    store
        .commit(&Changes {
            work: vec![new(Some("name:U1"), rename("U1", "third"), mins(20))],
            ..Changes::default()
        })
        .unwrap();
    assert_eq!(store.work_pending().unwrap(), 4);
    // The last untried post of a conversation is open to join; a rename is not.
    assert!(store.open_post("U1").unwrap().is_none());
    assert!(store.open_post("U9").unwrap().is_none());
}

fn an_echo_finishes_a_send_and_receipts_follow(db: &Database) {
    use bot::store::{MessageUpdate, NewWork, Receipt, Work};
    let store = bot::store::open(db).unwrap();
    customer_wrote(&*store, "2026-11-22T08:00:00Z");
    let now = at("2026-11-22T09:00:00Z");
    let mut a = tagged_send("A");
    a.at = now;
    let mut b = tagged_send("B");
    b.at = now;
    let send = |key: &str, due| NewWork {
        key: None,
        work: Work::GraphSend {
            psid: "U1".into(),
            interaction_id: key.into(),
        },
        due,
    };
    let grace = now + jiff::SignedDuration::from_mins(10);
    store
        .commit(&Changes {
            messages: vec![a, b],
            work: vec![send("A", grace)],
            ..Changes::default()
        })
        .unwrap();
    let b_id = store.message_by_interaction("B").unwrap().unwrap().id;
    assert_eq!(
        store.tagged_before("U1", b_id).unwrap(),
        1,
        "A, approved first"
    );
    assert_eq!(store.tagged_before("U1", i64::MAX).unwrap(), 2);
    assert_eq!(store.tagged_before("U9", i64::MAX).unwrap(), 0);
    // B was given up on; A's fate is being waited for.
    store
        .commit(&Changes {
            message_updates: vec![MessageUpdate {
                interaction_id: "B".into(),
                state: "failed".into(),
                error: Some("unknown".into()),
                ..Default::default()
            }],
            ..Changes::default()
        })
        .unwrap();
    // Meta's echoes prove both went out.
    store
        .commit(&Changes {
            echo_confirms: vec![("A".into(), "m.A".into()), ("B".into(), "m.B".into())],
            echoes_seen_at: Some(now),
            ..Changes::default()
        })
        .unwrap();
    for (key, mid) in [("A", "m.A"), ("B", "m.B")] {
        let m = store.message_by_interaction(key).unwrap().unwrap();
        assert_eq!((m.state.as_str(), m.mid.as_deref()), ("echoed", Some(mid)));
        assert!(m.error.is_none());
        assert!(store.mid_known(mid).unwrap());
    }
    assert!(!store.mid_known("m.C").unwrap());
    // A's work runs now; B's revival queued a send's work to finish it.
    let due = store.work_due(now, 10).unwrap();
    assert_eq!(due.len(), 1, "one lane: A first, then B's");
    assert!(
        matches!(&due[0].work, Work::GraphSend { interaction_id, .. } if interaction_id == "A")
    );
    assert_eq!(store.work_pending().unwrap(), 2);

    // Sent, then delivered by mid and read by watermark.
    store
        .commit(&Changes {
            message_updates: ["A", "B"]
                .into_iter()
                .map(|k| MessageUpdate {
                    interaction_id: k.into(),
                    state: "sent".into(),
                    if_state: Some("echoed".into()),
                    ..Default::default()
                })
                .collect(),
            receipts: vec![Receipt::Delivered {
                psid: "U1".into(),
                mids: vec!["m.A".into()],
                watermark: now - jiff::SignedDuration::from_hours(1),
            }],
            ..Changes::default()
        })
        .unwrap();
    let state = |k: &str| store.message_by_interaction(k).unwrap().unwrap().state;
    assert_eq!(
        (state("A"), state("B")),
        ("delivered".into(), "sent".into())
    );
    store
        .commit(&Changes {
            receipts: vec![Receipt::Read {
                psid: "U1".into(),
                watermark: now,
            }],
            ..Changes::default()
        })
        .unwrap();
    assert_eq!((state("A"), state("B")), ("read".into(), "read".into()));
    let audit = store.audit(Some("U1"), 10).unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(
        audit[0].interaction_id.as_deref(),
        Some("B"),
        "newest first"
    );
    assert_eq!(store.audit(None, 1).unwrap().len(), 1);
    assert!(store.audit(Some("U9"), 10).unwrap().is_empty());
    assert_eq!(store.messages("U1").unwrap().len(), 2);
    assert!(store.parked("U1").unwrap().is_empty());
}

fn threads_are_found_by_discord_thread_and_when_due(db: &Database) {
    let store = bot::store::open(db).unwrap();
    let now = at("2026-11-22T09:00:00Z");
    let thread = |psid: &str, label_due, alert_due| Thread {
        psid: psid.into(),
        label_due,
        alert_due,
        ..Thread::default()
    };
    store
        .commit(&Changes {
            threads: vec![
                thread("U2", Some(now), Some(now)),
                thread("U1", None, Some(now)),
                thread("U3", Some(now + jiff::SignedDuration::from_mins(1)), None),
            ],
            patches: vec![ThreadPatch::Opened {
                psid: "U3".into(),
                discord_thread: u64::MAX - 1,
            }],
            ..Changes::default()
        })
        .unwrap();
    let due: Vec<String> = store
        .threads_due(now)
        .unwrap()
        .into_iter()
        .map(|t| t.psid)
        .collect();
    assert_eq!(due, ["U1", "U2"], "each once, by psid");
    assert_eq!(
        store.thread_by_discord(u64::MAX - 1).unwrap().unwrap().psid,
        "U3",
        "Discord ids use all 64 bits"
    );
    assert!(store.thread_by_discord(5).unwrap().is_none());
    // Every conversation, a page at a time: in PSID order, each once.
    let first = store.threads_after(None, 2).unwrap();
    let rest = store.threads_after(Some(&first[1].psid), 2).unwrap();
    let paged: Vec<&str> = first.iter().chain(&rest).map(|t| t.psid.as_str()).collect();
    assert_eq!(paged, ["U1", "U2", "U3"]);
    assert!(store.threads_after(Some("U3"), 2).unwrap().is_empty());
    // Closing stops what was due; relabelling all makes the open ones due.
    store
        .commit(&Changes {
            patches: vec![ThreadPatch::Close { psid: "U1".into() }],
            ..Changes::default()
        })
        .unwrap();
    let later = now + jiff::SignedDuration::from_mins(5);
    store
        .commit(&Changes {
            relabel_all: Some(later),
            ..Changes::default()
        })
        .unwrap();
    let u1 = store.thread("U1").unwrap().unwrap();
    assert!(u1.closed && u1.label_due.is_none() && u1.alert_due.is_none());
    assert_eq!(store.thread("U3").unwrap().unwrap().label_due, Some(later));
    assert_eq!(store.next_due().unwrap(), Some(now), "U2's alert");
}

fn every_database_has_its_own_name_and_keeps_it(db: &Database, other: &Database) {
    let first = bot::store::open(db).unwrap().instance().to_owned();
    let again = bot::store::open(db).unwrap().instance().to_owned();
    assert_eq!(first, again);
    let other = bot::store::open(other).unwrap();
    assert_ne!(first, other.instance());
    assert_eq!(first.len(), 8);
}

#[test]
fn sqlite_only_commits_are_synced_to_disk_before_they_return() {
    let store = SqliteStore::open(crate::harness::temp_db("durable")).unwrap();
    // 2 = FULL: in WAL mode the log is fsynced at every commit, so an acknowledged
    // webhook survives a power cut, not only a crash of the process.
    assert_eq!(store.pragma("synchronous").unwrap(), 2);
}

/// One `#[test]` per case per backend, each on a fresh database.
fn stats_count_events_pending_work_and_unanswered_windows(db: &Database) {
    use bot::store::{NewWork, Work};
    let store = bot::store::open(db).unwrap();
    let t0 = at("2026-11-20T09:00:00Z");
    store
        .ingest(&[event("a", "U1", 10), event("b", "U2", 20)])
        .unwrap();
    let mut waiting = Thread {
        psid: "U1".into(),
        ..Thread::default()
    };
    waiting.state.customer_acted(CustomerAction::Message, t0);
    let mut answered = Thread {
        psid: "U2".into(),
        ..Thread::default()
    };
    answered.state.customer_acted(CustomerAction::Message, t0);
    store
        .commit(&Changes {
            threads: vec![waiting, answered],
            patches: vec![ThreadPatch::TeamReplied {
                psid: "U2".into(),
                tagged: false,
                at: t0 + jiff::SignedDuration::from_hours(1),
            }],
            work: vec![
                NewWork {
                    key: None,
                    work: Work::EditThread {
                        psid: "U1".into(),
                        name: Some("x".into()),
                        archived: None,
                    },
                    due: t0,
                },
                NewWork {
                    key: None,
                    work: Work::EditThread {
                        psid: "U2".into(),
                        name: Some("y".into()),
                        archived: None,
                    },
                    due: t0,
                },
            ],
            ..Changes::default()
        })
        .unwrap();
    let stats = store
        .stats(t0 + jiff::SignedDuration::from_hours(24))
        .unwrap();
    assert_eq!(stats.events, 2);
    assert_eq!(stats.pending.get("edit_thread"), Some(&2), "{stats:?}");
    assert_eq!(stats.expired_unanswered, 1, "U2 was answered: {stats:?}");
    // Before the cutoff reaches the customer's message, the window isn't over.
    assert_eq!(store.stats(t0).unwrap().expired_unanswered, 0);

    // Lanes held, by replica: where there are replicas, the two conversations whose
    // events this store took are its own.
    assert_eq!(store.pending(10).unwrap().len(), 2);
    let lanes = store.stats(t0).unwrap().lanes;
    match store.replica() {
        Some(me) => assert_eq!(lanes.get(me), Some(&2), "{lanes:?}"),
        None => assert!(lanes.is_empty(), "{lanes:?}"),
    }

    // Sends that ended without going out, by why: recorded refused, or updated to
    // failed when Meta refused them.
    let refused = bot::store::MessageRecord {
        state: "refused".into(),
        reason: Some("promotional".into()),
        ..tagged_send("r1")
    };
    store
        .commit(&Changes {
            messages: vec![refused, tagged_send("f1"), tagged_send("old")],
            message_updates: vec![
                bot::store::MessageUpdate {
                    interaction_id: "f1".into(),
                    state: "failed".into(),
                    reason: Some("meta_551".into()),
                    ..Default::default()
                },
                bot::store::MessageUpdate {
                    interaction_id: "old".into(),
                    state: "failed".into(),
                    ..Default::default()
                },
            ],
            ..Changes::default()
        })
        .unwrap();
    let ended: Vec<((String, String), u64)> = store.stats(t0).unwrap().ended.into_iter().collect();
    let pair = |s: &str, r: &str| ((s.to_owned(), r.to_owned()), 1);
    assert_eq!(
        ended,
        [
            pair("failed", "meta_551"),
            pair("failed", "unknown"),
            pair("refused", "promotional")
        ]
    );
    let kept = store.message_by_interaction("f1").unwrap().unwrap();
    assert_eq!(kept.reason.as_deref(), Some("meta_551"));
}

/// Replicas: two stores on one Postgres database are two processes. Whatever one takes
/// (a conversation's events, work, due threads, profile lookups) the other doesn't get
/// while the first lives, and an event committed twice conflicts the second time.
mod replicas {
    use super::{at, event};
    use bot::store::postgres::PostgresStore;
    use bot::store::{Changes, Customer, NewWork, Store, StoreError, Thread, Work};
    use std::time::{Duration, Instant};

    fn conninfo() -> String {
        match crate::harness::postgres_db() {
            bot::config::Database::Postgres(conninfo) => conninfo,
            other => panic!("not Postgres: {other}"),
        }
    }

    fn keys(store: &dyn Store) -> Vec<String> {
        let mut keys: Vec<String> = store
            .pending(100)
            .unwrap()
            .into_iter()
            .map(|p| p.event.dedupe_key)
            .collect();
        keys.sort();
        keys
    }

    fn post(psid: &str) -> NewWork {
        NewWork {
            key: None,
            work: Work::EditThread {
                psid: psid.into(),
                name: Some(format!("thread of {psid}")),
                archived: None,
            },
            due: at("2026-11-22T09:00:00Z"),
        }
    }

    fn send(psid: &str, key: &str) -> NewWork {
        NewWork {
            key: None,
            work: Work::GraphSend {
                psid: psid.into(),
                interaction_id: key.into(),
            },
            due: at("2026-11-22T09:00:00Z"),
        }
    }

    fn lanes_of(work: &[bot::store::QueuedWork]) -> Vec<String> {
        let mut lanes: Vec<String> = work.iter().map(|w| w.work.lane()).collect();
        lanes.sort();
        lanes
    }

    #[test]
    fn two_replicas_never_get_the_same_lane() {
        let conninfo = conninfo();
        let a = PostgresStore::open(&conninfo).unwrap();
        let b = PostgresStore::open(&conninfo).unwrap();
        assert_ne!(a.replica(), b.replica());
        assert_eq!(
            a.instance(),
            b.instance(),
            "one database, one name for nonces"
        );
        let now = at("2026-11-22T09:00:00Z");

        a.ingest(&[
            event("k1", "U1", 1),
            event("k2", "U2", 2),
            event("k3", "U1", 3),
        ])
        .unwrap();
        let taken = a.pending(100).unwrap();
        assert_eq!(taken.len(), 3);
        assert!(keys(&b).is_empty(), "A holds U1 and U2");
        b.ingest(&[event("k4", "U3", 4), event("k5", "U1", 5)])
            .unwrap();
        assert_eq!(keys(&b), ["k4"], "U3 is free, U1 is A's");
        assert_eq!(keys(&a), ["k1", "k2", "k3", "k5"]);

        // Two replicas that processed the same event: the second commit changes nothing.
        let k1 = taken[0].id;
        let processed = |id| Changes {
            processed: vec![id],
            customers: vec![Customer {
                psid: "U1".into(),
                name: Some("late".into()),
                ..Customer::default()
            }],
            ..Changes::default()
        };
        a.commit(&Changes {
            processed: vec![k1],
            ..Changes::default()
        })
        .unwrap();
        assert!(matches!(
            b.commit(&processed(k1)),
            Err(StoreError::Conflict(_))
        ));
        assert!(a.customer("U1").unwrap().is_none(), "rolled back whole");

        // Work, due threads and profile lookups follow the conversation's holder; a
        // customer's sends are their conversation's.
        a.commit(&Changes {
            work: vec![post("U1"), send("U1", "i1"), post("U3"), send("U3", "i3")],
            threads: ["U1", "U3"]
                .map(|psid| Thread {
                    psid: psid.into(),
                    label_due: Some(now),
                    ..Thread::default()
                })
                .to_vec(),
            customers: ["U1", "U3"]
                .map(|psid| Customer {
                    psid: psid.into(),
                    ..Customer::default()
                })
                .to_vec(),
            ..Changes::default()
        })
        .unwrap();
        assert_eq!(lanes_of(&a.work_due(now, 10).unwrap()), ["U1", "graph:U1"]);
        assert_eq!(lanes_of(&b.work_due(now, 10).unwrap()), ["U3", "graph:U3"]);
        let psids = |t: Vec<Thread>| t.into_iter().map(|t| t.psid).collect::<Vec<_>>();
        assert_eq!(psids(a.threads_due(now).unwrap()), ["U1"]);
        assert_eq!(psids(b.threads_due(now).unwrap()), ["U3"]);
        assert_eq!(a.profiles_due(now, 10).unwrap(), [("U1".into(), 0)]);
        assert_eq!(b.profiles_due(now, 10).unwrap(), [("U3".into(), 0)]);
        // Nor does anyone lease work the other leased.
        let i1 = a.work_due(now, 10).unwrap();
        let i1 = i1.iter().find(|w| w.work.lane() == "graph:U1").unwrap();
        let until = now + jiff::SignedDuration::from_secs(60);
        assert!(a.lease_work(i1.id, now, until).unwrap());
        assert!(!b.lease_work(i1.id, now, until).unwrap());
        assert!(b.lease_lane_head("graph:U1", now, until).unwrap().is_none());

        // Work done twice (a replica that lost its lane meanwhile) conflicts.
        let u3 = b.work_due(now, 10).unwrap();
        let u3 = u3.iter().find(|w| w.work.lane() == "U3").unwrap();
        b.work_done(u3.id, &Changes::default()).unwrap();
        assert!(matches!(
            a.work_done(u3.id, &Changes::default()),
            Err(StoreError::Conflict(_))
        ));

        // A lane with nothing left is let go, and the other replica may take it.
        let u2: Vec<i64> = a
            .pending(100)
            .unwrap()
            .into_iter()
            .filter(|p| p.event.psid.as_deref() == Some("U2"))
            .map(|p| p.id)
            .collect();
        a.commit(&Changes {
            processed: u2,
            ..Changes::default()
        })
        .unwrap();
        a.release_lanes(now).unwrap();
        b.ingest(&[event("k6", "U2", 6)]).unwrap();
        assert_eq!(keys(&b), ["k4", "k6"]);
        let holders: Vec<(String, String)> = a
            .lanes()
            .unwrap()
            .into_iter()
            .map(|l| (l.lane, l.holder))
            .collect();
        let (ra, rb) = (a.replica().unwrap(), b.replica().unwrap());
        assert_eq!(
            holders,
            [("U1", ra), ("U2", rb), ("U3", rb)].map(|(l, h)| (l.to_owned(), h.to_owned()))
        );
    }

    #[test]
    fn a_dead_replicas_lanes_and_leases_are_taken_over_after_its_lease() {
        let conninfo = conninfo();
        let lease = Duration::from_millis(300);
        let open = || PostgresStore::open_with_lease(&conninfo, lease).unwrap();
        let (a, b, c) = (open(), open(), open());
        let now = at("2026-11-22T09:00:00Z");
        a.ingest(&[event("a1", "U1", 1)]).unwrap();
        assert_eq!(keys(&a), ["a1"]);
        c.ingest(&[event("c1", "U9", 2)]).unwrap();
        assert_eq!(keys(&c), ["c1"]);
        // A leases a send for a minute, as the outbox does, and dies mid-send.
        a.commit(&Changes {
            work: vec![send("U1", "i1")],
            ..Changes::default()
        })
        .unwrap();
        let until = now + jiff::SignedDuration::from_secs(60);
        let leased = a.lease_lane_head("graph:U1", now, until).unwrap().unwrap();
        assert!(keys(&b).is_empty());
        assert!(b.work_due(now, 10).unwrap().is_empty());
        let killed = Instant::now();
        a.abandon();

        // B polls as its ticks would; C beats on.
        let taken_over = loop {
            let got = keys(&b);
            assert!(!got.contains(&"c1".to_owned()), "C lives: U9 stays C's");
            if !got.is_empty() {
                assert_eq!(got, ["a1"]);
                break killed.elapsed();
            }
            assert!(
                killed.elapsed() < Duration::from_secs(5),
                "never taken over"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(
            taken_over <= lease + Duration::from_millis(200),
            "{taken_over:?}"
        );
        let due = b.work_due(now, 10).unwrap();
        assert_eq!(
            due.iter().map(|w| w.id).collect::<Vec<_>>(),
            [leased.id],
            "A's lease died with A, a minute early"
        );
        assert!(b.lease_work(leased.id, now, until).unwrap());
        // Three leases on, C still holds its lane.
        while killed.elapsed() < lease * 3 {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(keys(&b), ["a1"]);
        assert_eq!(keys(&c), ["c1"]);
        // A replica that stops (its store dropped) lets go at once.
        drop(c);
        assert_eq!(keys(&b), ["a1", "c1"]);
    }

    #[test]
    fn a_replica_that_leaves_hands_its_lanes_and_leases_over_at_once() {
        let conninfo = conninfo();
        // A lease far longer than the test: whatever B gets, it gets because A left.
        let open = |lease| PostgresStore::open_with_lease(&conninfo, lease).unwrap();
        let lease = Duration::from_secs(30);
        let now = at("2026-11-22T09:00:00Z");
        let events = |from: usize| -> Vec<_> {
            (from..from + 20)
                .map(|i| event(&format!("e{i:02}"), &format!("U{i:02}"), i as i64))
                .collect()
        };
        let a = open(lease);
        a.ingest(&events(0)).unwrap();
        assert_eq!(keys(&a).len(), 20, "alone, A takes every lane");
        a.commit(&Changes {
            work: vec![send("U00", "i0")],
            ..Changes::default()
        })
        .unwrap();
        let until = now + jiff::SignedDuration::from_secs(60);
        let leased = a.lease_lane_head("graph:U00", now, until).unwrap().unwrap();
        let b = open(lease);
        assert!(keys(&b).is_empty(), "A lives and holds them all");

        a.leave().unwrap();
        assert!(a.lanes().unwrap().is_empty(), "A holds nothing");
        // B, alone again, takes them all in one call (beside a live replica it would
        // take a few at a time), and the send A had leased.
        assert_eq!(keys(&b).len(), 20);
        assert!(b.lease_work(leased.id, now, until).unwrap());
        // A, still open, takes no lane any more, not even one nobody holds.
        b.ingest(&[event("late", "U99", 99)]).unwrap();
        assert!(keys(&a).is_empty());
        assert!(a.work_due(now, 10).unwrap().is_empty());
        assert_eq!(keys(&b).len(), 21);
        a.leave().unwrap();

        // A replica that left beats no more: four of C's heartbeats later it still
        // isn't live, so B still counts as alone and takes 20 new lanes at once.
        let c = open(Duration::from_millis(300));
        c.leave().unwrap();
        std::thread::sleep(Duration::from_millis(400));
        b.ingest(&events(20)).unwrap();
        assert_eq!(keys(&b).len(), 41);
        assert!(keys(&c).is_empty());
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $case() {
                super::$case(&crate::harness::sqlite_db(concat!("conf-", stringify!($case))));
            })*

            #[test]
            fn every_database_has_its_own_name_and_keeps_it() {
                super::every_database_has_its_own_name_and_keeps_it(
                    &crate::harness::sqlite_db("conf-instance"),
                    &crate::harness::sqlite_db("conf-instance-other"),
                );
            }
        }
        mod postgres {
            $(#[test]
            fn $case() {
                super::$case(&crate::harness::postgres_db());
            })*

            #[test]
            fn every_database_has_its_own_name_and_keeps_it() {
                super::every_database_has_its_own_name_and_keeps_it(
                    &crate::harness::postgres_db(),
                    &crate::harness::postgres_db(),
                );
            }
        }
    };
}

conformance!(
    a_stale_whole_record_never_undoes_a_patch,
    only_one_performer_claims_a_send,
    page_changes_apply_to_the_record_as_stored,
    a_send_in_flight_holds_its_place_and_two_reservations_on_one_count_conflict,
    a_customer_action_older_than_the_last_tagged_send_keeps_the_count,
    one_performer_holds_a_lane_and_later_work_waits_behind_it,
    a_post_asked_of_discord_takes_no_more_messages,
    events_are_stored_once_and_come_back_oldest_first,
    customers_snippets_drafts_and_problems_read_back_as_written,
    the_outbox_orders_lanes_supersedes_keys_and_backs_off,
    an_echo_finishes_a_send_and_receipts_follow,
    threads_are_found_by_discord_thread_and_when_due,
    stats_count_events_pending_work_and_unanswered_windows,
);
