//! Properties of `decide` that hold for every history and instant.

use super::*;
use messenger::guard::PromoLexicon;
use messenger::policy::Decision;
use messenger::rules::{Era, TagStatus, META_2026};
use messenger::tags::ALL;
use messenger::window::{CustomerAction, Window};
use messenger::wire::MessagingType;
use messenger::{decide, ThreadState};
use proptest::prelude::*;

const BASE: i64 = 1_795_000_000; // 2026-11-18, in seconds

fn thread() -> impl Strategy<Value = ThreadState> {
    (
        prop::option::of(0i64..30 * 86_400),
        0i64..5 * 86_400,
        0u32..4,
    )
        .prop_map(|(msg, extra, tagged)| {
            let mut th = ThreadState::default();
            if let Some(m) = msg {
                th.customer_acted(
                    CustomerAction::Message,
                    Timestamp::from_second(BASE + m).unwrap(),
                );
                th.customer_acted(
                    CustomerAction::Other,
                    Timestamp::from_second(BASE + m + extra).unwrap(),
                );
            }
            for _ in 0..tagged {
                th.page_sent(true);
            }
            th
        })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Reply),
        prop::sample::select(ALL.to_vec()).prop_map(Request::Tag)
    ]
}

fn sender() -> impl Strategy<Value = Sender> {
    prop_oneof![Just(Sender::Human), Just(Sender::Automated)]
}

proptest! {
    #[test]
    fn response_never_after_24_hours(th in thread(), offset in 0i64..40 * 86_400, feature: bool, req in request(), s in sender()) {
        let now = Timestamp::from_second(BASE + offset).unwrap();
        let p = PageState { human_agent: feature, ..PageState::default() };
        let lx = PromoLexicon::default();
        let intent = Intent { sender: s, ..human(req, "thanks") };
        if let Decision::Send(send) = decide(&th, &intent, now, &ctx(&META_2026, &p, &lx)) {
            if send.messaging_type == MessagingType::Response {
                let opened = th.last_opened.expect("a response needs a customer action");
                prop_assert!(now < opened + messenger::rules::STANDARD_WINDOW);
            }
        }
    }

    #[test]
    fn human_agent_never_for_automation(th in thread(), offset in 0i64..40 * 86_400, req in request(), era in prop::sample::select(Era::ALL.to_vec())) {
        let now = Timestamp::from_second(BASE + offset).unwrap();
        let p = page();
        let lx = PromoLexicon::default();
        let intent = Intent { sender: Sender::Automated, ..human(req, "thanks") };
        if let Decision::Send(send) = decide(&th, &intent, now, &ctx(era.rules(), &p, &lx)) {
            prop_assert_ne!(send.tag, Some(messenger::Tag::HumanAgent));
        }
    }

    #[test]
    fn time_alone_never_reopens(th in thread(), a in 0i64..40 * 86_400, gap in 0i64..40 * 86_400, feature: bool) {
        let early = Timestamp::from_second(BASE + a).unwrap();
        let late = Timestamp::from_second(BASE + a + gap).unwrap();
        let rank = |w: Window| match w { Window::Standard { .. } => 2, Window::HumanAgent { .. } => 1, Window::Expired { .. } => 0 };
        let before = Window::at(&th, early, &META_2026, feature);
        let after = Window::at(&th, late, &META_2026, feature);
        prop_assert!(rank(after) <= rank(before), "{before:?} then {after:?}");
    }

    #[test]
    fn retired_tag_never_chosen_in_2026(th in thread(), offset in 0i64..40 * 86_400, req in request(), s in sender(), feature: bool, template: bool) {
        let now = Timestamp::from_second(BASE + offset).unwrap();
        let p = PageState { human_agent: feature, ..PageState::default() };
        let lx = PromoLexicon::default();
        let intent = Intent { sender: s, template, ..human(req, "thanks") };
        if let Decision::Send(send) = decide(&th, &intent, now, &ctx(&META_2026, &p, &lx)) {
            if let Some(tag) = send.tag {
                let retired = matches!(META_2026.tag(tag).unwrap().status, TagStatus::Retired { .. });
                prop_assert!(!retired, "retired tag {} chosen", tag);
            }
        }
    }

    #[test]
    fn third_tag_in_a_row_never_sent(th in thread(), offset in 0i64..40 * 86_400, req in request()) {
        let now = Timestamp::from_second(BASE + offset).unwrap();
        let p = page();
        let lx = PromoLexicon::default();
        if let Decision::Send(send) = decide(&th, &human(req, "thanks"), now, &ctx(&META_2026, &p, &lx)) {
            if send.tag.is_some() {
                prop_assert!(th.tagged_since_customer < 2);
            }
        }
    }
}
