//! Closer to Meta: the text limit, `messaging_type`, personas, form bodies, ads
//! referrals and unreactions, each as Meta's documentation and real responses show it.

use super::*;
use axum::http::Request;
use serde_json::json;
use tower::ServiceExt;

const TOO_LONG: &str = "(#100) Length of param message[text] must be less than or equal to 2000";

#[tokio::test]
async fn text_of_exactly_2000_characters_goes_and_2001_is_refused() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    let (s, v) = m
        .send(text(&psid, "RESPONSE", None, &"x".repeat(2000)))
        .await;
    assert_eq!(s, StatusCode::OK, "at most 2000: {v}");
    // Characters, not bytes.
    let (s, v) = m
        .send(text(&psid, "RESPONSE", None, &"è".repeat(2000)))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = m
        .send(text(&psid, "RESPONSE", None, &"x".repeat(2001)))
        .await;
    assert_meta_error(&r, 400, 100, None, TOO_LONG);
}

#[tokio::test]
async fn a_message_without_messaging_type_is_refused_naming_it() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    let r = m
        .send(json!({"recipient": {"id": psid}, "message": {"text": "hi"}}))
        .await;
    assert_meta_error(
        &r,
        400,
        100,
        None,
        "(#100) The parameter messaging_type is required",
    );
    // A sender action needs none.
    let (s, v) = m
        .send(json!({"recipient": {"id": psid}, "sender_action": "typing_on"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Nothing was delivered for the refused message.
    assert_eq!(m.state.lock().customer(&psid).unwrap().messages.len(), 1);
}

#[tokio::test]
async fn personas_are_created_read_and_sent_as() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    let (s, v) = m
        .post(
            "/v25.0/104857600000001/personas?access_token=mock-page-token",
            json!({"name": "Grace (support)", "profile_picture_url": "https://example.com/g.png"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v.as_object().unwrap().len(), 1, "just the id: {v}");
    let (s, v) = m
        .get(&format!("/v25.0/{id}?access_token=mock-page-token"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"name": "Grace (support)", "profile_picture_url": "https://example.com/g.png", "id": id})
    );
    let mut body = text(&psid, "RESPONSE", None, "Hi, Grace here");
    body["persona_id"] = id.clone().into();
    let (s, v) = m.send(body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    body["persona_id"] = "1".into();
    let (s, v) = m.send(body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], 100);
    // A persona needs a name and a picture.
    let r = m
        .post(
            "/v25.0/104857600000001/personas?access_token=mock-page-token",
            json!({"name": "No picture"}),
        )
        .await;
    assert_meta_error(
        &r,
        400,
        100,
        None,
        "(#100) The parameter profile_picture_url is required",
    );
}

#[tokio::test]
async fn form_encoded_bodies_are_accepted_with_json_encoded_objects() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    let form = |fields: &[(&str, String)]| {
        let mut f = String::new();
        for (k, v) in fields {
            if !f.is_empty() {
                f.push('&');
            }
            f.push_str(k);
            f.push('=');
            for b in v.bytes() {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        f.push(b as char)
                    }
                    b' ' => f.push('+'),
                    _ => f.push_str(&format!("%{b:02X}")),
                }
            }
        }
        f
    };
    let post = |body: String| {
        let req = Request::post("/v25.0/me/messages?access_token=mock-page-token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .unwrap();
        let router = m.router.clone();
        async move {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (s, v) = post(form(&[
        ("recipient", json!({"id": psid}).to_string()),
        ("messaging_type", "RESPONSE".into()),
        ("message", json!({"text": "Ciao, è in arrivo!"}).to_string()),
    ]))
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["recipient_id"], psid.as_str());
    let last = m
        .state
        .lock()
        .customer(&psid)
        .unwrap()
        .messages
        .last()
        .cloned();
    assert_eq!(last.unwrap().text.as_deref(), Some("Ciao, è in arrivo!"));
    // Without messaging_type, refused as in JSON.
    let r = post(form(&[
        ("recipient", json!({"id": psid}).to_string()),
        ("message", json!({"text": "hi"}).to_string()),
    ]))
    .await;
    assert_meta_error(
        &r,
        400,
        100,
        None,
        "(#100) The parameter messaging_type is required",
    );
    // A message that isn't JSON is a malformed parameter.
    let r = post(form(&[
        ("recipient", json!({"id": psid}).to_string()),
        ("messaging_type", "RESPONSE".into()),
        ("message", "hi".into()),
    ]))
    .await;
    assert_meta_error(&r, 400, 100, None, "(#100) Invalid parameter");
}

const OUTSIDE: &str = "(#10) This message is sent outside of allowed window.";

#[tokio::test]
async fn an_ad_referral_without_a_message_does_not_open_the_window() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    m.advance("25h").await;
    let (s, _) = m
        .post(
            &format!("/_mock/customers/{psid}/referrals"),
            json!({"ref": "winter-ad", "source": "ADS"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = m.send(text(&psid, "RESPONSE", None, "Welcome!")).await;
    assert_meta_error(&r, 400, 10, Some(2018278), OUTSIDE);
    // A link into the thread does open it.
    m.post(
        &format!("/_mock/customers/{psid}/referrals"),
        json!({"ref": "m.me", "source": "SHORTLINK"}),
    )
    .await;
    let (s, v) = m.send(text(&psid, "RESPONSE", None, "Welcome!")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn an_unreaction_neither_opens_the_window_nor_resets_the_tag_count() {
    let (m, bodies) = {
        let m = Mock::with(|s| s.webhook_url = Some("http://subscriber.test/webhook".into()));
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
        let log = bodies.clone();
        let subscriber = axum::Router::new().route(
            "/webhook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let log = log.clone();
                async move {
                    log.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    StatusCode::OK
                }
            }),
        );
        m.state.deliverer.deliver_in_process(subscriber);
        (m, bodies)
    };
    let psid = m.customer_who_wrote("hello").await;
    m.advance("25h").await;
    let tagged = |t: &str| text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), t);
    let (_, first) = m.send(tagged("We're on it")).await;
    let mid = first["message_id"].as_str().unwrap().to_owned();
    m.send(tagged("Still on it")).await;
    bodies.lock().unwrap().clear();
    let (s, v) = m
        .post(
            &format!("/_mock/customers/{psid}/reactions"),
            json!({"mid": mid, "action": "unreact"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The webhook is Meta's: action unreact and the message, nothing else.
    let sent = bodies.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["entry"][0]["messaging"][0]["reaction"],
        json!({"action": "unreact", "mid": mid})
    );
    // The window stays closed and the count stays at two: the third tag is spam.
    let r = m.send(text(&psid, "RESPONSE", None, "Hi")).await;
    assert_meta_error(&r, 400, 10, Some(2018278), OUTSIDE);
    let r = m.send(tagged("Any news?")).await;
    assert_eq!(r.1["error"]["error_subcode"], 2018338, "{}", r.1);
    // A reaction, by contrast, is an action that opens the window.
    m.post(
        &format!("/_mock/customers/{psid}/reactions"),
        json!({"mid": mid, "emoji": "👍"}),
    )
    .await;
    let (s, _) = m.send(text(&psid, "RESPONSE", None, "Glad to help")).await;
    assert_eq!(s, StatusCode::OK);
    // And an action it doesn't know is named.
    let (s, v) = m
        .post(
            &format!("/_mock/customers/{psid}/reactions"),
            json!({"mid": mid, "action": "remove"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("field `action`: unknown variant `remove`"),
        "{v}"
    );
}
