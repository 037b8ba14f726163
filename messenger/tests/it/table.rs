//! A readable decision table, snapshotted: a reviewer sees every policy change as a diff.

use super::*;
use messenger::guard::PromoLexicon;
use messenger::restriction::{Level, Restriction};
use messenger::rules::Era;
use messenger::window::CustomerAction;
use messenger::{decide, Tag, ThreadState};

#[test]
fn decision_table() {
    let wrote = t("2026-11-20T10:00:00Z");
    let mut th = ThreadState::default();
    th.customer_acted(CustomerAction::Message, wrote);
    let mut twice = th;
    twice.page_sent(true);
    let restricted = PageState {
        restriction: Some(Restriction {
            level: Level::Days3,
            since: wrote,
            until: Some(t("2026-11-25T10:00:00Z")),
            reason: "test".into(),
        }),
        ..page()
    };
    let plain = page();
    let no_feature = PageState::default();
    let situations: [(&str, &ThreadState, &PageState, &str); 8] = [
        ("1h after", &th, &plain, "2026-11-20T11:00:00Z"),
        ("24h after", &th, &plain, "2026-11-21T10:00:00Z"),
        (
            "24h after, no feature",
            &th,
            &no_feature,
            "2026-11-21T10:00:00Z",
        ),
        (
            "3d after, 1 tag sent",
            &twice,
            &plain,
            "2026-11-23T10:00:00Z",
        ),
        (
            "3d after, restricted",
            &th,
            &restricted,
            "2026-11-23T10:00:00Z",
        ),
        ("7d after", &th, &plain, "2026-11-27T10:00:00Z"),
        (
            "never wrote",
            &ThreadState::default(),
            &plain,
            "2026-11-23T10:00:00Z",
        ),
        ("6d after", &th, &plain, "2026-11-26T10:00:00Z"),
    ];
    let requests = [
        Request::Reply,
        Request::Tag(Tag::HumanAgent),
        Request::Tag(Tag::AccountUpdate),
        Request::Tag(Tag::PostPurchaseUpdate),
    ];
    let lx = PromoLexicon::default();
    let mut out = String::new();
    for era in [Era::Meta2026, Era::Legacy2020] {
        out.push_str(&format!("== {era}\n"));
        for (name, thread, page, now) in situations {
            for req in requests {
                for text in [
                    "Your parcel left the warehouse.",
                    "Free shipping on your next order!",
                ] {
                    let d = decide(
                        thread,
                        &human(req, text),
                        t(now),
                        &ctx(era.rules(), page, &lx),
                    );
                    let req = match req {
                        Request::Reply => "reply".to_string(),
                        Request::Tag(tag) => format!("tag {tag}"),
                    };
                    out.push_str(&format!("{name} | {req} | {text:?}\n    {d}\n"));
                }
            }
        }
    }
    insta::assert_snapshot!(out);
}
