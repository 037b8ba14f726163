//! The admin API: clear errors naming the field, and the clock.

use super::*;
use serde_json::json;

#[tokio::test]
async fn clock_moves_forward_only() {
    let m = Mock::new();
    let (_, now) = m.get("/_mock/clock").await;
    assert_eq!(now["now"], "2026-11-20T09:00:00Z");
    let (_, v) = m.post("/_mock/clock", json!({"advance": "36h"})).await;
    assert_eq!(v["now"], "2026-11-21T21:00:00Z");
    let (_, v) = m.post("/_mock/clock", json!({"advance": "2h 30m"})).await;
    assert_eq!(v["now"], "2026-11-21T23:30:00Z");
    let (_, v) = m
        .post("/_mock/clock", json!({"to": "2026-11-25T00:00:00Z"}))
        .await;
    assert_eq!(v["now"], "2026-11-25T00:00:00Z");
    let (s, v) = m
        .post("/_mock/clock", json!({"to": "2026-11-01T00:00:00Z"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("only moves forward"));
}

#[tokio::test]
async fn mistakes_name_the_field() {
    let m = Mock::new();
    let (s, v) = m.post("/_mock/clock", json!({"advance": "a while"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("field `advance`"),
        "{v}"
    );
    let (s, v) = m.post("/_mock/customers", json!({"nmae": "x"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `nmae`"),
        "{v}"
    );
    let (s, v) = m
        .post("/_mock/customers/123/messages", json!({"text": "x"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no customer"),
        "{v}"
    );
    let (_, c) = m.post("/_mock/customers", json!({})).await;
    let psid = c["psid"].as_str().unwrap();
    let (s, v) = m
        .post(&format!("/_mock/customers/{psid}/messages"), json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing field `text`"),
        "{v}"
    );
    let (s, v) = m.post("/_mock/faults", json!({"drop_rate": 2})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("drop_rate"),
        "{v}"
    );
    let (s, _) = m.call("POST", "/_mock/customers", Some("{not json")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reset_forgets_everything_and_replays_identically() {
    let m = Mock::new();
    let first = m.customer_who_wrote("hi").await;
    m.post("/_mock/reset", json!({})).await;
    let (_, list) = m.get("/_mock/customers").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    assert_eq!(
        m.customer_who_wrote("hi").await,
        first,
        "same seed, same ids"
    );
}
