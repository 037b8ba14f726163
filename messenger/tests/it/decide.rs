//! `decide` at every edge of every window.

use super::*;
use messenger::guard::PromoLexicon;
use messenger::policy::{Alternative, Decision, Reason, Warning};
use messenger::restriction::{Enforcement, Offense, Penalty};
use messenger::rules::{LEGACY_2020, META_2026};
use messenger::window::CustomerAction;
use messenger::wire::MessagingType;
use messenger::{decide, Tag, ThreadState};

const WROTE: &str = "2026-11-20T10:00:00Z";

fn wrote_at(s: &str) -> ThreadState {
    let mut th = ThreadState::default();
    th.customer_acted(CustomerAction::Message, t(s));
    th
}

/// The messaging type and tag of a send, or the refusal's reason.
fn outcome(d: &Decision) -> Result<(MessagingType, Option<Tag>), Reason> {
    match d {
        Decision::Send(s) => Ok((s.messaging_type, s.tag)),
        Decision::Refused(r) => Err(r.reason.clone()),
    }
}

fn reply_at(
    thread: &ThreadState,
    now: &str,
    page: &PageState,
) -> Result<(MessagingType, Option<Tag>), Reason> {
    let lx = PromoLexicon::default();
    outcome(&decide(
        thread,
        &human(Request::Reply, "Thanks for waiting!"),
        t(now),
        &ctx(&META_2026, page, &lx),
    ))
}

#[test]
fn reply_edges() {
    let th = wrote_at(WROTE);
    let p = page();
    let response = Ok((MessagingType::Response, None));
    let human_agent = Ok((MessagingType::MessageTag, Some(Tag::HumanAgent)));
    assert_eq!(reply_at(&th, "2026-11-20T10:00:00Z", &p), response);
    assert_eq!(reply_at(&th, "2026-11-21T09:59:59Z", &p), response);
    // Exactly 24 hours: the standard window has closed.
    assert_eq!(reply_at(&th, "2026-11-21T10:00:00Z", &p), human_agent);
    assert_eq!(reply_at(&th, "2026-11-21T10:00:01Z", &p), human_agent);
    assert_eq!(reply_at(&th, "2026-11-27T09:59:59Z", &p), human_agent);
    // Exactly 7 days: the human-agent window has closed too.
    assert_eq!(
        reply_at(&th, "2026-11-27T10:00:00Z", &p),
        Err(Reason::WindowClosed)
    );
    assert_eq!(
        reply_at(&th, "2026-11-27T10:00:01Z", &p),
        Err(Reason::WindowClosed)
    );
}

#[test]
fn no_human_agent_feature_means_24_hours_only() {
    let th = wrote_at(WROTE);
    let p = PageState::default();
    assert_eq!(
        reply_at(&th, "2026-11-21T09:59:59Z", &p),
        Ok((MessagingType::Response, None))
    );
    assert_eq!(
        reply_at(&th, "2026-11-21T10:00:00Z", &p),
        Err(Reason::WindowClosed)
    );
}

#[test]
fn automated_sender_never_gets_human_agent() {
    let th = wrote_at(WROTE);
    let p = page();
    let lx = PromoLexicon::default();
    let bot = Intent {
        sender: Sender::Automated,
        ..human(Request::Reply, "hi")
    };
    let d = decide(
        &th,
        &bot,
        t("2026-11-22T10:00:00Z"),
        &ctx(&META_2026, &p, &lx),
    );
    assert_eq!(outcome(&d), Err(Reason::WindowClosed));
    let tag = Intent {
        sender: Sender::Automated,
        ..human(Request::Tag(Tag::HumanAgent), "hi")
    };
    let d = decide(
        &th,
        &tag,
        t("2026-11-22T10:00:00Z"),
        &ctx(&META_2026, &p, &lx),
    );
    assert_eq!(outcome(&d), Err(Reason::TagNeedsHuman(Tag::HumanAgent)));
}

#[test]
fn customer_reply_reopens() {
    let mut th = wrote_at(WROTE);
    let p = page();
    assert_eq!(
        reply_at(&th, "2026-12-01T10:00:00Z", &p),
        Err(Reason::WindowClosed)
    );
    th.customer_acted(CustomerAction::Message, t("2026-12-01T10:00:00Z"));
    assert_eq!(
        reply_at(&th, "2026-12-01T10:00:00Z", &p),
        Ok((MessagingType::Response, None))
    );
    // A reaction opens the standard window, but not the human-agent window.
    th.customer_acted(CustomerAction::Other, t("2026-12-10T10:00:00Z"));
    assert_eq!(
        reply_at(&th, "2026-12-11T09:00:00Z", &p),
        Ok((MessagingType::Response, None))
    );
    assert_eq!(
        reply_at(&th, "2026-12-11T10:00:00Z", &p),
        Err(Reason::WindowClosed)
    );
}

#[test]
fn refusal_offers_what_is_allowed() {
    let th = wrote_at(WROTE);
    let p = page();
    let lx = PromoLexicon::default();
    let d = decide(
        &th,
        &human(Request::Reply, "hi"),
        t("2026-12-01T10:00:00Z"),
        &ctx(&LEGACY_2020, &p, &lx),
    );
    let Decision::Refused(r) = d else {
        panic!("refused")
    };
    // A plain reply is never handed a tag for a purpose the agent hasn't stated.
    assert_eq!(r.instead.first(), Some(&Alternative::TagByPurpose));
    assert!(!r.instead.iter().any(|a| matches!(a, Alternative::Tag(..))));
    assert_eq!(r.instead.last(), Some(&Alternative::Park));
    // Asking for a tag that doesn't apply does offer the others, by purpose.
    let d = decide(
        &th,
        &human(Request::Tag(Tag::NonPromotionalSubscription), "hi"),
        t("2026-12-01T10:00:00Z"),
        &ctx(&LEGACY_2020, &p, &lx),
    );
    let Decision::Refused(r) = d else {
        panic!("refused")
    };
    assert_eq!(
        r.instead.first(),
        Some(&Alternative::Tag(
            Tag::ConfirmedEventUpdate,
            LEGACY_2020.tag(Tag::ConfirmedEventUpdate).unwrap().purpose
        ))
    );
    let d = decide(
        &th,
        &human(Request::Reply, "hi"),
        t("2026-12-01T10:00:00Z"),
        &ctx(&META_2026, &p, &lx),
    );
    let Decision::Refused(r) = d else {
        panic!("refused")
    };
    assert_eq!(r.instead, vec![Alternative::Park]);
    assert!(r.to_string().contains("park the reply"), "{r}");
}

#[test]
fn retired_tags_under_meta_2026_but_not_legacy() {
    let th = wrote_at(WROTE);
    let p = page();
    let lx = PromoLexicon::default();
    let now = t("2026-11-23T10:00:00Z");
    let req = human(
        Request::Tag(Tag::AccountUpdate),
        "Your password was changed.",
    );
    let d = decide(&th, &req, now, &ctx(&META_2026, &p, &lx));
    assert!(matches!(
        outcome(&d),
        Err(Reason::TagRetired {
            tag: Tag::AccountUpdate,
            since: "2026-04-27",
            ..
        })
    ));
    let d = decide(&th, &req, now, &ctx(&LEGACY_2020, &p, &lx));
    let Decision::Send(s) = d else {
        panic!("legacy allows it")
    };
    assert_eq!(s.tag, Some(Tag::AccountUpdate));
    assert!(matches!(s.warnings[..], [Warning::TagHint(h)] if h.contains("recurring")));
}

#[test]
fn tag_inside_the_window_is_not_needed() {
    let th = wrote_at(WROTE);
    let p = page();
    let lx = PromoLexicon::default();
    let d = decide(
        &th,
        &human(Request::Tag(Tag::HumanAgent), "hi"),
        t("2026-11-20T12:00:00Z"),
        &ctx(&META_2026, &p, &lx),
    );
    let Decision::Refused(r) = d else { panic!() };
    assert_eq!(
        (r.reason, r.instead),
        (Reason::TagNotNeeded, vec![Alternative::Reply])
    );
}

#[test]
fn guard_promotional_and_consecutive() {
    let mut th = wrote_at(WROTE);
    let p = page();
    let lx = PromoLexicon::default();
    let c = ctx(&META_2026, &p, &lx);
    let now = t("2026-11-22T10:00:00Z");
    let d = decide(
        &th,
        &human(Request::Reply, "Use code XMAS for 20% off!"),
        now,
        &c,
    );
    assert_eq!(
        outcome(&d),
        Err(Reason::Promotional {
            phrases: vec!["20%".into()]
        })
    );
    // Promotion inside the 24-hour window is allowed: the guard is for tagged sends.
    let d = decide(
        &th,
        &human(Request::Reply, "Use code XMAS for 20% off!"),
        t("2026-11-20T11:00:00Z"),
        &c,
    );
    assert_eq!(outcome(&d), Ok((MessagingType::Response, None)));

    let text = "We found your parcel.";
    th.page_sent(true);
    let Decision::Send(second) = decide(&th, &human(Request::Reply, text), now, &c) else {
        panic!()
    };
    assert_eq!(second.warnings, vec![Warning::SecondConsecutiveTag]);
    assert!(second.to_string().contains("combine into one message"));
    th.page_sent(true);
    assert_eq!(
        outcome(&decide(&th, &human(Request::Reply, text), now, &c)),
        Err(Reason::TagSpam { nth: 3 })
    );
    // The customer answering resets the count.
    th.customer_acted(CustomerAction::Message, t("2026-11-22T11:00:00Z"));
    th.page_sent(false);
    assert_eq!(th.tagged_since_customer, 0);
}

#[test]
fn restriction_blocks_tags_until_it_ends_but_not_replies() {
    let th = wrote_at(WROTE);
    let mut record = Enforcement::default();
    let Penalty::Restricted(r) = record.record(
        &Offense::Promotional { recipients: 3 },
        t("2026-11-20T12:00:00Z"),
    ) else {
        panic!()
    };
    let p = PageState {
        restriction: Some(r),
        ..page()
    };
    // In the standard window a reply still works.
    assert_eq!(
        reply_at(&th, "2026-11-20T13:00:00Z", &p),
        Ok((MessagingType::Response, None))
    );
    let blocked = reply_at(&th, "2026-11-21T11:59:59Z", &p);
    assert!(
        matches!(blocked, Err(Reason::PageRestricted { until: Some(u), .. }) if u == t("2026-11-21T12:00:00Z")),
        "{blocked:?}"
    );
    // The restriction ends at exactly its end.
    assert_eq!(
        reply_at(&th, "2026-11-21T12:00:00Z", &p),
        Ok((MessagingType::MessageTag, Some(Tag::HumanAgent)))
    );
}

#[test]
fn customer_feedback_needs_its_template() {
    let th = wrote_at(WROTE);
    let p = page();
    let lx = PromoLexicon::default();
    let c = ctx(&META_2026, &p, &lx);
    let now = t("2026-11-22T10:00:00Z");
    let free = human(Request::Tag(Tag::CustomerFeedback), "How did we do?");
    assert_eq!(
        outcome(&decide(&th, &free, now, &c)),
        Err(Reason::TemplateOnly(Tag::CustomerFeedback))
    );
    let template = Intent {
        template: true,
        ..free
    };
    assert_eq!(
        outcome(&decide(&th, &template, now, &c)),
        Ok((MessagingType::MessageTag, Some(Tag::CustomerFeedback)))
    );
    let legacy = decide(&th, &template, now, &ctx(&LEGACY_2020, &p, &lx));
    assert_eq!(
        outcome(&legacy),
        Err(Reason::TagUnknownToEra(Tag::CustomerFeedback))
    );
}
