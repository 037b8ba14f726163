//! Round trips of payloads shaped exactly like Meta's documentation, and bad input.

use messenger::wire::webhook::EnforcementAction;
use messenger::wire::*;
use serde_json::{json, Value};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(doc: Value) -> T {
    let parsed: T = serde_json::from_value(doc.clone()).expect("documented payload parses");
    assert_eq!(serde_json::to_value(&parsed).unwrap(), doc, "round trip");
    parsed
}

#[test]
fn send_request_text_and_tag() {
    let req: SendRequest = round_trip(json!({
        "recipient": {"id": "1254459154682919"},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "hello, world!", "metadata": "DEVELOPER_DEFINED_METADATA"},
        "notification_type": "SILENT_PUSH"
    }));
    assert_eq!(req.tag, Some(messenger::Tag::HumanAgent));
}

#[test]
fn send_request_attachment_quick_replies_sender_action() {
    round_trip::<SendRequest>(json!({
        "recipient": {"id": "1254459154682919"},
        "messaging_type": "RESPONSE",
        "message": {
            "attachment": {"type": "image", "payload": {"url": "https://example.com/a.png", "is_reusable": true}},
            "quick_replies": [{"content_type": "text", "title": "Red", "payload": "RED"}]
        },
        "reply_to": {"mid": "m_abc"}
    }));
    let action: SendRequest = round_trip(json!({
        "recipient": {"id": "1254459154682919"},
        "sender_action": "typing_on"
    }));
    assert_eq!(action.sender_action, Some(SenderAction::TypingOn));
}

#[test]
fn send_response_and_error() {
    round_trip::<SendResponse>(
        json!({"recipient_id": "1254477777772919", "message_id": "m_AG5Hz2U"}),
    );
    let env: ErrorEnvelope = round_trip(json!({"error": {
        "message": "(#613) Calls to this api have exceeded the rate limit.",
        "type": "OAuthException", "code": 613, "error_subcode": 2534040,
        "is_transient": true, "fbtrace_id": "AxIIVeNpuf3y2jeXdufRcEX"}}));
    assert_eq!(env.error.code, 613);
}

#[test]
fn webhook_message_with_attachments_and_quick_reply() {
    let d: WebhookDelivery = round_trip(
        json!({"object": "page", "entry": [{"id": "PAGE_ID", "time": 1458692752478_i64, "messaging": [{
        "sender": {"id": "PSID"}, "recipient": {"id": "PAGE_ID"}, "timestamp": 1458692752478_i64,
        "message": {"mid": "m_1", "text": "hello, world!", "quick_reply": {"payload": "P"},
                    "reply_to": {"mid": "m_0"},
                    "attachments": [{"type": "image", "payload": {"url": "https://x/y.png"}}]}}]}]}),
    );
    let ev = &d.entry[0].messaging[0];
    let EventKind::Message(m) = ev.kind() else {
        panic!("a message")
    };
    assert_eq!(m.attachments[0].url(), Some("https://x/y.png"));
    assert!(ev.opens_window());
}

#[test]
fn webhook_every_kind() {
    let d: WebhookDelivery = round_trip(
        json!({"object": "page", "entry": [{"id": "P", "time": 1, "messaging": [
            {"sender": {"id": "P"}, "recipient": {"id": "U"}, "timestamp": 1,
             "message": {"mid": "m_e", "is_echo": true, "app_id": 1517776481860111_u64, "metadata": "meta", "text": "hi"}},
            {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 2,
             "delivery": {"mids": ["m_e"], "watermark": 1458668856253_i64}},
            {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 3, "read": {"watermark": 1458668856253_i64}},
            {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 4,
             "reaction": {"reaction": "love", "emoji": "\u{2764}\u{fe0f}", "action": "react", "mid": "m_e"}},
            {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 5,
             "postback": {"mid": "m_p", "title": "Get Started", "payload": "GS",
                          "referral": {"ref": "r", "source": "SHORTLINK", "type": "OPEN_THREAD"}}},
            {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 6,
             "referral": {"ref": "r", "source": "ADS", "type": "OPEN_THREAD", "ad_id": "9"}},
            {"recipient": {"id": "P"}, "timestamp": 7,
             "policy_enforcement": {"action": "block", "reason": "spam"}},
            {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 8,
             "message_edit": {"mid": "m_1", "text": "edited"}}
        ], "standby": [
            {"sender": {"id": "U"}, "recipient": {"id": "P"}, "timestamp": 9, "message": {"mid": "m_s", "text": "other app"}}
        ]}]}),
    );
    let ev = &d.entry[0].messaging;
    assert!(matches!(ev[0].kind(), EventKind::Echo(_)));
    assert!(!ev[0].opens_window(), "echoes never open the window");
    assert!(matches!(ev[1].kind(), EventKind::Delivery(_)));
    assert!(matches!(ev[2].kind(), EventKind::Read(_)));
    assert!(matches!(ev[3].kind(), EventKind::Reaction(_)) && ev[3].opens_window());
    assert!(matches!(ev[4].kind(), EventKind::Postback(_)) && ev[4].opens_window());
    assert!(matches!(ev[5].kind(), EventKind::Referral(_)) && ev[5].opens_window());
    let EventKind::PolicyEnforcement(p) = ev[6].kind() else {
        panic!()
    };
    assert_eq!(p.action, EnforcementAction::Block);
    assert_eq!(ev[7].kind(), EventKind::Unknown(vec!["message_edit"]));
    assert_eq!(d.entry[0].standby.len(), 1);
}

#[test]
fn conversations_and_profiles() {
    round_trip::<ConversationList>(
        json!({"data": [{"id": "t_10", "updated_time": "2026-11-20T17:02:11+0000"}],
        "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}, "next": "https://graph.facebook.com/v25.0/P/conversations?after=QVFJ"}}),
    );
    round_trip::<Conversation>(
        json!({"messages": {"data": [{"id": "m_1", "created_time": "2026-11-20T17:02:11+0000"}]},
        "participants": {"data": [{"id": "U", "name": "Peter Chang", "email": "u@facebook.com"}, {"id": "P", "name": "Shop"}]},
        "id": "t_10"}),
    );
    round_trip::<MessageDetail>(
        json!({"id": "m_1", "created_time": "2026-11-20T17:02:11+0000",
        "from": {"id": "U", "name": "Peter Chang"}, "to": {"data": [{"id": "P", "name": "Shop"}]}, "message": "hi"}),
    );
    let p: UserProfile = round_trip(
        json!({"first_name": "Peter", "last_name": "Chang", "profile_pic": "https://x", "id": "U"}),
    );
    assert_eq!(p.display_name().as_deref(), Some("Peter Chang"));
    let empty: UserProfile = round_trip(json!({}));
    assert_eq!(empty.display_name(), None);
}

#[test]
fn bad_input_is_a_typed_error_not_a_panic() {
    for bad in [
        r#"{"recipient":{"id":"1"},"messaging_type":"MESSAGE_TAG","tag":"SHIPPING_UPDATE","message":{"text":"x"}}"#,
        r#"{"recipient":{"id":"1"},"messaging_type":"SOMETIMES","message":{"text":"x"}}"#,
        r#"{"recipient":{"id":"1"},"message":{"text":"x"},"surprise":true}"#,
        r#"{"recipient":"#,
        r#"[]"#,
    ] {
        assert!(serde_json::from_str::<SendRequest>(bad).is_err(), "{bad}");
    }
    assert!(serde_json::from_str::<WebhookDelivery>(r#"{"object":"page"}"#).is_err());
    assert!(
        serde_json::from_str::<WebhookDelivery>(r#"{"object":"page","entry":[{"id":"P"}]}"#)
            .is_err()
    );
}
