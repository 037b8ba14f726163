//! The Send API, every answer to the exact code, subcode and message.

use super::*;
use serde_json::json;

const OUTSIDE: &str = "(#10) This message is sent outside of allowed window.";

#[tokio::test]
async fn response_inside_the_window_then_refused_after_24h() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    let (s, ok) = m
        .send(text(&psid, "RESPONSE", None, "Hi! How can we help?"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ok["recipient_id"], psid.as_str());
    assert!(ok["message_id"].as_str().unwrap().starts_with("m_"));
    m.advance("24h").await;
    let r = m.send(text(&psid, "RESPONSE", None, "still there?")).await;
    assert_meta_error(&r, 400, 10, Some(2018278), OUTSIDE);
    // HUMAN_AGENT works until 7 days after the last message.
    let (s, _) = m
        .send(text(
            &psid,
            "MESSAGE_TAG",
            Some("HUMAN_AGENT"),
            "Update on your case",
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    m.advance("144h").await;
    let r = m
        .send(text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), "late"))
        .await;
    assert_meta_error(&r, 400, 10, Some(2018278), OUTSIDE);
}

#[tokio::test]
async fn retired_unknown_and_malformed_are_code_100() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    m.advance("30h").await;
    let r = m
        .send(text(
            &psid,
            "MESSAGE_TAG",
            Some("ACCOUNT_UPDATE"),
            "Your account changed",
        ))
        .await;
    // Meta's real answer: "Invalid parameter", told apart by its subcode.
    assert_meta_error(&r, 400, 100, Some(1893061), "(#100) Invalid parameter");
    assert!(r.1["error"]["error_user_msg"]
        .as_str()
        .unwrap()
        .contains("retired on 2026-04-27"));
    let mut wire: messenger::wire::GraphError =
        serde_json::from_value(r.1["error"].clone()).unwrap();
    wire.error_user_msg = None;
    assert!(matches!(
        messenger::meta_error::MetaError::classify(&wire),
        messenger::meta_error::MetaError::RetiredTag(_)
    ));
    let r = m
        .send(text(&psid, "MESSAGE_TAG", Some("SHIPPING_UPDATE"), "x"))
        .await;
    assert_meta_error(&r, 400, 100, None, "(#100) Invalid parameter");
    let r = m
        .call(
            "POST",
            "/v25.0/me/messages?access_token=mock-page-token",
            Some("{\"recipient\":"),
        )
        .await;
    assert_meta_error(&r, 400, 100, None, "(#100) Invalid parameter");
    let r = m
        .send(text(&psid, "RESPONSE", None, &"x".repeat(2001)))
        .await;
    assert_meta_error(
        &r,
        400,
        100,
        None,
        "(#100) Length of param message[text] must be less than or equal to 2000",
    );
    // Wrong content type and oversized bodies are Meta-shaped too.
    let r = m
        .call(
            "POST",
            "/v25.0/me/messages?access_token=mock-page-token",
            None,
        )
        .await;
    assert_meta_error(&r, 400, 100, None, "(#100) Invalid parameter");
    let big =
        json!({"recipient": {"id": psid}, "message": {"text": "x".repeat(300_000)}}).to_string();
    let r = m
        .call(
            "POST",
            "/v25.0/me/messages?access_token=mock-page-token",
            Some(&big),
        )
        .await;
    assert_meta_error(&r, 400, 100, None, "(#100) Invalid parameter");
}

#[tokio::test]
async fn legacy_era_accepts_the_classic_tags() {
    let m = Mock::with(|s| s.rules = messenger::Era::Legacy2020);
    let psid = m.customer_who_wrote("hello").await;
    m.advance("30d").await;
    let (s, _) = m
        .send(text(
            &psid,
            "MESSAGE_TAG",
            Some("ACCOUNT_UPDATE"),
            "Your application was approved",
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn recipients_actions_tokens() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    let r = m.send(text("999", "RESPONSE", None, "hi")).await;
    assert_meta_error(&r, 400, 100, Some(2018001), "(#100) No matching user found");
    let r = m.send(json!({"recipient": {"id": psid}, "sender_action": "typing_on", "message": {"text": "x"}})).await;
    assert_meta_error(
        &r,
        400,
        100,
        Some(2018014),
        "(#100) Cannot send both message and state at the same time.",
    );
    for action in ["typing_on", "typing_off", "mark_seen"] {
        let (s, v) = m
            .send(json!({"recipient": {"id": psid}, "sender_action": action}))
            .await;
        assert_eq!((s, v), (StatusCode::OK, json!({"recipient_id": psid})));
    }
    let r = m
        .post(
            "/v25.0/me/messages?access_token=wrong",
            text(&psid, "RESPONSE", None, "hi"),
        )
        .await;
    assert_meta_error(&r, 400, 190, None, "(#190) Invalid OAuth access token.");
    // A Bearer header works as well as the query parameter, on any version and on the page path.
    let req = axum::http::Request::post("/v23.0/104857600000001/messages")
        .header("content-type", "application/json")
        .header("authorization", "Bearer mock-page-token")
        .body(Body::from(text(&psid, "RESPONSE", None, "hi").to_string()))
        .unwrap();
    let resp = m.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn blocked_handover_and_human_agent_feature() {
    let m = Mock::with(|s| s.human_agent = false);
    let psid = m.customer_who_wrote("hello").await;
    m.post(
        &format!("/_mock/customers/{psid}/handover"),
        json!({"owner": "other"}),
    )
    .await;
    let r = m.send(text(&psid, "RESPONSE", None, "hi")).await;
    assert_meta_error(
        &r,
        400,
        10,
        Some(2018300),
        "(#10) Message failed to send because another app is controlling this thread now.",
    );
    m.post(
        &format!("/_mock/customers/{psid}/handover"),
        json!({"owner": "us"}),
    )
    .await;
    m.post(&format!("/_mock/customers/{psid}/block"), json!({}))
        .await;
    let r = m.send(text(&psid, "RESPONSE", None, "hi")).await;
    assert_meta_error(
        &r,
        400,
        551,
        Some(1545041),
        "(#551) This person isn't available right now.",
    );
    m.post(&format!("/_mock/customers/{psid}/unblock"), json!({}))
        .await;
    m.advance("25h").await;
    let r = m
        .send(text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), "hi"))
        .await;
    // Graph's classic permission error, and the bot's classifier explains it as the
    // missing Human Agent permission.
    assert_meta_error(
        &r,
        400,
        10,
        None,
        "(#10) Application does not have permission for this action",
    );
    let wire: messenger::wire::GraphError = serde_json::from_value(r.1["error"].clone()).unwrap();
    let known = messenger::meta_error::MetaError::classify(&wire);
    assert_eq!(
        known,
        messenger::meta_error::MetaError::HumanAgentNotPermitted(10)
    );
    assert!(known.explain().0.contains("Human Agent"));
    let m = Mock::with(|s| {
        s.human_agent = false;
        s.human_agent_error = 100;
    });
    let psid = m.customer_who_wrote("hello").await;
    m.advance("25h").await;
    let r = m
        .send(text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), "hi"))
        .await;
    assert_eq!(r.1["error"]["code"], 100);
    let wire: messenger::wire::GraphError = serde_json::from_value(r.1["error"].clone()).unwrap();
    assert_eq!(
        messenger::meta_error::MetaError::classify(&wire),
        messenger::meta_error::MetaError::HumanAgentNotPermitted(100)
    );
}

#[tokio::test]
async fn rate_limits_and_faults() {
    let m = Mock::with(|s| s.rate_limit = 3);
    let psid = m.customer_who_wrote("hello").await;
    for _ in 0..3 {
        assert_eq!(
            m.send(text(&psid, "RESPONSE", None, "hi")).await.0,
            StatusCode::OK
        );
    }
    let r = m.send(text(&psid, "RESPONSE", None, "hi")).await;
    assert_meta_error(&r, 400, 80006, None, "(#80006) There have been too many messenger api calls to this Page account. Wait a bit and try again.");
    assert_eq!(r.1["error"]["is_transient"], true);
    m.advance("1s").await;
    assert_eq!(
        m.send(text(&psid, "RESPONSE", None, "hi")).await.0,
        StatusCode::OK
    );
    m.post("/_mock/faults", json!({"rate_limit_burst": 1}))
        .await;
    let r = m.send(text(&psid, "RESPONSE", None, "hi")).await;
    assert_meta_error(
        &r,
        400,
        613,
        Some(2534040),
        "(#613) Calls to this api have exceeded the rate limit.",
    );
    m.post("/_mock/faults", json!({"error_rate": 1.0})).await;
    let r = m.send(text(&psid, "RESPONSE", None, "hi")).await;
    assert_meta_error(
        &r,
        500,
        2,
        None,
        "(#2) An unexpected error has occurred. Please retry your request later.",
    );
}

#[tokio::test]
async fn tag_spam_third_in_a_row_refused_warning_first() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    m.advance("30h").await;
    for _ in 0..2 {
        assert_eq!(
            m.send(text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), "an update"))
                .await
                .0,
            StatusCode::OK
        );
    }
    let r = m
        .send(text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), "another"))
        .await;
    assert_meta_error(
        &r,
        400,
        613,
        Some(2018338),
        &messenger::meta_error::MetaError::TagSpamWarning.message(),
    );
    let (_, page) = m.get("/_mock/page").await;
    assert_eq!(page["warnings"], 1);
    assert_eq!(page["restriction"], Value::Null);
    // The second such case is a violation: a one-day restriction.
    m.send(text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), "again"))
        .await;
    let (_, page) = m.get("/_mock/page").await;
    assert_eq!(page["restriction"]["level"], "1d");
    let r = m
        .send(text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), "x"))
        .await;
    assert_meta_error(
        &r,
        400,
        10,
        Some(1893063),
        "(#10) You are temporarily restricted from sending messages.",
    );
}

#[tokio::test]
async fn sent_log_lists_every_call() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    m.send(text(&psid, "RESPONSE", None, "one")).await;
    m.send(text("nobody", "RESPONSE", None, "two")).await;
    let (_, sent) = m.get("/_mock/sent").await;
    let data = sent["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(data[0]["sent"]["message_id"].is_string());
    assert_eq!(data[1]["error"]["code"], 100);
}
