//! Conversations, messages, profiles and subscriptions.

use super::*;
use serde_json::json;

const TOKEN: &str = "access_token=mock-page-token";

#[tokio::test]
async fn conversations_page_with_cursors() {
    let m = Mock::new();
    let mut psids = Vec::new();
    for i in 0..5 {
        psids.push(m.customer_who_wrote(&format!("message {i}")).await);
        m.advance("1m").await;
    }
    let (s, first) = m
        .get(&format!(
            "/v25.0/104857600000001/conversations?platform=messenger&limit=2&{TOKEN}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    // Most recently updated first.
    let newest = m
        .state
        .lock()
        .customer(&psids[4])
        .unwrap()
        .conversation_id
        .clone();
    assert_eq!(first["data"][0]["id"], newest.as_str());
    assert!(first["data"][0]["updated_time"]
        .as_str()
        .unwrap()
        .ends_with("+0000"));
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    assert!(first["paging"]["next"].as_str().unwrap().contains(after));
    let (_, second) = m
        .get(&format!(
            "/v25.0/104857600000001/conversations?platform=messenger&limit=2&after={after}&{TOKEN}"
        ))
        .await;
    let after = second["paging"]["cursors"]["after"].as_str().unwrap();
    let (_, last) = m
        .get(&format!(
            "/v25.0/104857600000001/conversations?platform=messenger&limit=2&after={after}&{TOKEN}"
        ))
        .await;
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    assert!(
        last["paging"].get("next").is_none(),
        "no next on the last page"
    );
    let (_, one) = m
        .get(&format!(
            "/v25.0/104857600000001/conversations?platform=messenger&user_id={}&{TOKEN}",
            psids[0]
        ))
        .await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn conversation_message_and_profile() {
    let m = Mock::new();
    let (_, c) = m
        .post("/_mock/customers", json!({"name": "Peter Chang"}))
        .await;
    let psid = c["psid"].as_str().unwrap();
    let (_, msg) = m
        .post(
            &format!("/_mock/customers/{psid}/messages"),
            json!({"text": "Where is my order?"}),
        )
        .await;
    let mid = msg["mid"].as_str().unwrap();
    let convo = c["conversation_id"].as_str().unwrap();
    let (_, detail) = m
        .get(&format!(
            "/v25.0/{convo}?fields=messages,participants&{TOKEN}"
        ))
        .await;
    assert_eq!(detail["messages"]["data"][0]["id"], mid);
    assert_eq!(detail["participants"]["data"][0]["name"], "Peter Chang");
    let (_, message) = m
        .get(&format!(
            "/v25.0/{mid}?fields=id,created_time,from,to,message&{TOKEN}"
        ))
        .await;
    assert_eq!(message["message"], "Where is my order?");
    assert_eq!(message["from"]["id"], psid);
    let (_, profile) = m
        .get(&format!(
            "/v25.0/{psid}?fields=first_name,last_name,profile_pic&{TOKEN}"
        ))
        .await;
    assert_eq!(profile["first_name"], "Peter");
    assert_eq!(profile["last_name"], "Chang");
    assert_eq!(profile["id"], psid);
    let (_, generated) = m.post("/_mock/customers", json!({})).await;
    assert!(
        generated["name"].as_str().unwrap().contains(' '),
        "seeded names"
    );
    let r = m.get(&format!("/v25.0/123?{TOKEN}")).await;
    assert_eq!(r.1["error"]["code"], 100);
    assert_eq!(r.1["error"]["error_subcode"], 33);
    let r = m.get(&format!("/v25.0/{psid}?access_token=nope")).await;
    assert_eq!(r.1["error"]["code"], 190);
    let r = m.get(&format!("/latest/{psid}?{TOKEN}")).await;
    assert_eq!(r.1["error"]["code"], 2500);
}

#[tokio::test]
async fn subscribed_apps() {
    let m = Mock::new();
    let (s, v) = m
        .post(
            &format!("/v25.0/104857600000001/subscribed_apps?subscribed_fields=messages&{TOKEN}"),
            json!({}),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"success": true})));
}
