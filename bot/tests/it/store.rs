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
);
