//! The admin API's read side, which the inspector shows: conversations and their
//! windows, a conversation's timeline (now and as it stood), the Send API log, webhook
//! deliveries, the page's record, the scenario's steps, and change announcements.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::json;

use super::*;

fn kinds(conversation: &Value) -> Vec<&str> {
    conversation["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn conversations_list_windows_marks_and_unread() {
    let m = Mock::new();
    let ada = m.customer_who_wrote("Where is my order?").await;
    let bo = m.customer_who_wrote("Hello").await;
    m.post(
        &format!("/_mock/customers/{bo}/postbacks"),
        json!({"title": "Get started"}),
    )
    .await;
    assert_eq!(
        m.send(text(&ada, "RESPONSE", None, "Today.")).await.0,
        StatusCode::OK
    );
    m.post(&format!("/_mock/customers/{bo}/block"), json!({}))
        .await;
    m.post(
        &format!("/_mock/customers/{bo}/handover"),
        json!({"owner": "other"}),
    )
    .await;
    m.advance("25h").await;

    let (s, v) = m.get("/_mock/conversations").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["now"], "2026-11-21T10:00:00Z");
    let list = v["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let (a, b) = (&list[0], &list[1]);
    assert_eq!(a["psid"], ada.as_str(), "in the order they were created");
    assert_eq!(
        a["window"],
        json!({"state": "human_agent", "closes_at": "2026-11-27T09:00:00Z", "since": null})
    );
    assert_eq!(a["unread"], 0, "the page answered");
    assert_eq!(
        a["last"],
        json!({"at": "2026-11-20T09:00:00Z", "from": "page", "text": "Today."})
    );
    assert_eq!(
        b["unread"], 2,
        "a message and a postback since the page last spoke"
    );
    assert_eq!(
        (&b["blocked"], &b["handed_over"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(b["last"]["text"], "Get started");

    m.advance("7d").await;
    let (_, v) = m.get("/_mock/conversations").await;
    assert_eq!(
        v["data"][0]["window"],
        json!({"state": "expired", "closes_at": null, "since": "2026-11-27T09:00:00Z"})
    );
    let (s, v) = m.get("/_mock/conversations?sort=x").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"]["message"],
        "unknown parameter `sort`; known: none"
    );
}

#[tokio::test]
async fn a_conversation_is_shown_as_messenger_shows_it() {
    let m = Mock::new();
    let ada = m.customer_who_wrote("Where is my order?").await;
    let mut reply = text(&ada, "RESPONSE", None, "It ships today.");
    reply["message"]["metadata"] = "interaction 1".into();
    let (_, sent) = m.send(reply).await;
    let mid = sent["message_id"].as_str().unwrap();
    let path = |what: &str| format!("/_mock/customers/{ada}/{what}");
    m.post(&path("reactions"), json!({"mid": mid, "emoji": "👍"}))
        .await;
    m.post(&path("read"), json!({})).await;
    m.post(
        &path("postbacks"),
        json!({"title": "Track", "payload": "TRACK"}),
    )
    .await;
    m.post(
        &path("referrals"),
        json!({"ref": "summer", "source": "ADS"}),
    )
    .await;
    m.send(json!({"recipient": {"id": ada}, "sender_action": "mark_seen"}))
        .await;
    m.advance("25h").await;
    let (s, _) = m.send(text(&ada, "RESPONSE", None, "Any news?")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "outside the window");
    m.post(
        "/_mock/other-app/sends",
        json!({"psid": ada, "text": "From the inbox", "tag": "HUMAN_AGENT"}),
    )
    .await;
    m.post(&path("block"), json!({})).await;
    m.post(&path("block"), json!({})).await;

    let (s, v) = m.get(&format!("/_mock/conversations/{ada}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        kinds(&v),
        [
            "customer_message",
            "page_message",
            "reaction",
            "read",
            "postback",
            "referral",
            "sender_action",
            "refused",
            "page_message",
            "blocked"
        ],
        "blocking twice is one change"
    );
    let e = &v["entries"];
    assert_eq!(e[0]["text"], "Where is my order?");
    assert_eq!(e[1]["messaging_type"], "RESPONSE");
    assert_eq!(e[1]["metadata"], "interaction 1");
    assert_eq!(e[1]["reaction"], "👍", "the reaction sits on the message");
    assert_eq!(e[1]["seen"], true, "read after it was sent");
    assert_eq!(e[1]["other_app"], false);
    assert_eq!(e[5]["source"], "ADS");
    assert_eq!(e[7]["code"], 10);
    assert_eq!(e[7]["subcode"], 2018278);
    assert_eq!(e[7]["text"], "Any news?");
    assert_eq!(e[8]["tag"], "HUMAN_AGENT");
    assert_eq!(e[8]["other_app"], true, "another app's echo is marked");
    assert_eq!(e[8]["seen"], false, "sent after the last read");
    assert_eq!(v["blocked"], true);
    assert_eq!(v["unread"], 0, "the page's message came last");
    assert_eq!(v["as_of"], Value::Null);

    let (s, v) = m.get("/_mock/conversations/nobody").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn a_conversation_can_be_seen_as_it_stood_at_an_earlier_instant() {
    let m = Mock::new();
    let ada = m.customer_who_wrote("hello").await;
    m.advance("30h").await;
    for text_ in ["one", "two"] {
        let (s, v) = m
            .send(text(&ada, "MESSAGE_TAG", Some("HUMAN_AGENT"), text_))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    m.post(&format!("/_mock/customers/{ada}/block"), json!({}))
        .await;
    m.advance("1h").await;

    let (_, then) = m
        .get(&format!(
            "/_mock/conversations/{ada}?at=2026-11-20T10:00:00Z"
        ))
        .await;
    assert_eq!(then["as_of"], "2026-11-20T10:00:00Z");
    assert_eq!(kinds(&then), ["customer_message"]);
    assert_eq!(then["window"]["state"], "standard");
    assert_eq!(then["window"]["closes_at"], "2026-11-21T09:00:00Z");
    assert_eq!(
        (&then["tagged_in_a_row"], &then["blocked"]),
        (&json!(0), &json!(false))
    );

    // Replaying the journal to now gives what the platform holds now.
    let (_, live) = m.get(&format!("/_mock/conversations/{ada}")).await;
    let (_, replayed) = m
        .get(&format!(
            "/_mock/conversations/{ada}?at=2026-11-21T15:59:59Z"
        ))
        .await;
    for field in [
        "window",
        "tagged_in_a_row",
        "blocked",
        "handed_over",
        "entries",
    ] {
        assert_eq!(live[field], replayed[field], "{field}");
    }
    assert_eq!(live["tagged_in_a_row"], 2);
    let (_, later) = m
        .get(&format!(
            "/_mock/conversations/{ada}?at=2030-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(
        later["as_of"],
        Value::Null,
        "the future isn't known: now is shown"
    );
    let (s, v) = m
        .get(&format!("/_mock/conversations/{ada}?at=monday"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("parameter `at`"),
        "{v}"
    );
}

#[tokio::test]
async fn the_send_log_filters_and_says_what_errors_mean() {
    let m = Mock::new();
    let ada = m.customer_who_wrote("hi").await;
    let bo = m.customer_who_wrote("hi").await;
    m.send(text(&ada, "RESPONSE", None, "Hello Ada")).await;
    m.send(text(&bo, "RESPONSE", None, "Hello Bo")).await;
    m.post(
        "/_mock/other-app/sends",
        json!({"psid": bo, "text": "From the inbox"}),
    )
    .await;
    m.advance("25h").await;
    m.send(text(&ada, "RESPONSE", None, "Too late")).await;
    m.call(
        "POST",
        "/v25.0/me/messages?access_token=mock-page-token",
        Some("{not json"),
    )
    .await;

    let (_, all) = m.get("/_mock/send-log").await;
    assert_eq!(all["total"], 5);
    let (_, refused) = m.get("/_mock/send-log?outcome=refused").await;
    assert_eq!(refused["total"], 2);
    let late = &refused["data"][0];
    assert_eq!(late["seq"], 4);
    assert_eq!(late["text"], "Too late");
    assert_eq!(
        late["error"],
        json!({
            "code": 10, "subcode": 2018278,
            "message": "(#10) This message is sent outside of allowed window.",
            "meaning": "the messaging window is closed",
            "next": "park the reply until the customer writes, or use a tag the rules allow",
            "transient": false,
        })
    );
    assert_eq!(refused["data"][1]["raw"], "{not json");
    let (_, to_bo) = m.get(&format!("/_mock/send-log?psid={bo}")).await;
    assert_eq!(to_bo["total"], 2);
    let (_, other) = m.get("/_mock/send-log?app=other").await;
    assert_eq!(other["total"], 1);
    assert_eq!(other["data"][0]["other_app"], true);
    let (_, last) = m.get("/_mock/send-log?limit=1").await;
    assert_eq!(
        (&last["total"], last["data"][0]["seq"].as_u64()),
        (&json!(5), Some(5))
    );
    let (s, v) = m.get("/_mock/send-log?outcome=lost").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["error"]["message"],
        "parameter `outcome`: \"lost\" is not one of sent, refused"
    );
}

#[tokio::test]
async fn the_record_shows_notices_and_where_the_page_stands_on_the_ladder() {
    let m = Mock::new();
    let ada = m.customer_who_wrote("ciao").await;
    let (_, clean) = m.get("/_mock/record").await;
    assert_eq!(clean["next_offence"], "warning");
    assert_eq!(clean["notices"], json!([]));
    m.advance("30h").await;
    for _ in 0..2 {
        m.post(
            "/_mock/other-app/sends",
            json!({"psid": ada, "text": "Sconto del 20%", "tag": "HUMAN_AGENT"}),
        )
        .await;
    }
    let (_, r) = m.get("/_mock/record").await;
    assert_eq!(r["warnings"], 1);
    assert_eq!(r["in_force"]["level"], "1d");
    assert_eq!(r["rung"], "1d");
    assert_eq!(r["next_offence"], "3d");
    let notices = r["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 2);
    assert_eq!(notices[0]["action"], "warning");
    assert_eq!(notices[1]["action"], "block");
    assert_eq!(notices[1]["level"], "1d");
    assert_eq!(notices[1]["until"], "2026-11-22T15:00:00Z");
    let ladder: Vec<(&str, bool)> = r["ladder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["level"].as_str().unwrap(),
                l["in_force"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ladder,
        [
            ("1d", true),
            ("3d", false),
            ("7d", false),
            ("365d", false),
            ("permanent", false)
        ]
    );
    let retired = r["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["available"] == false)
        .count();
    assert_eq!(retired, 3, "meta-2026 retired three tags");

    m.post("/_mock/clock", json!({"to": "2026-11-22T15:00:00Z"}))
        .await;
    let (_, r) = m.get("/_mock/record").await;
    assert_eq!(r["in_force"], Value::Null);
    assert_eq!(r["notices"][2]["action"], "unblock");
    assert_eq!(r["notices"][2]["at"], "2026-11-22T15:00:00Z");
}

#[tokio::test]
async fn the_scenario_view_lists_steps_still_to_fire_and_finds_customers_by_id() {
    let m = Mock::new();
    let scenario = r#"
name = "two"
description = "One customer: a message, a button, another app's promotion."
start = "2026-12-01T08:00:00Z"

[customers.ada]
name = "Ada Lovelace"

[[step]]
at = "0s"
customer = "ada"
says = "Hello"

[[step]]
at = "1h"
customer = "ada"
postback = "Track my order"

[[step]]
at = "2h"
customer = "ada"
other_app = "Black Friday deal"
tag = "HUMAN_AGENT"
"#;
    let (s, v) = m.call("POST", "/_mock/scenario", Some(scenario)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, view) = m.get("/_mock/scenario").await;
    assert_eq!(view["loaded"]["name"], "two");
    assert_eq!(view["next"], "2026-12-01T09:00:00Z");
    let pending = view["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 2, "the first step fired at the start");
    assert_eq!(pending[0]["label"], "ada");
    assert_eq!(pending[0]["kind"], "postback");
    assert_eq!(pending[1]["detail"], "Black Friday deal [HUMAN_AGENT]");

    let (s, ada) = m.get("/_mock/conversations/ada").await;
    assert_eq!(s, StatusCode::OK, "a scenario's id finds its customer");
    assert_eq!(ada["label"], "ada");
    assert_eq!(kinds(&ada), ["customer_message"]);
    m.post("/_mock/clock", json!({"to": view["next"]})).await;
    let (_, view) = m.get("/_mock/scenario").await;
    assert_eq!(view["pending"].as_array().unwrap().len(), 1);
    let (_, sent) = m.get("/_mock/send-log?psid=ada").await;
    assert_eq!(sent["total"], 0, "the other app's step is still to come");
    let (_, clock) = m.get("/_mock/clock").await;
    assert_eq!(clock["next_step"], "2026-12-01T10:00:00Z");
    assert_eq!(clock["start"], "2026-12-01T08:00:00Z");
    assert_eq!(clock["realtime"], false);
}

#[tokio::test]
async fn writes_are_announced_and_reads_are_not() {
    let m = Mock::new();
    let mut changes = m.state.changes.watch();
    m.get("/_mock/conversations").await;
    m.get("/_mock/clock").await;
    assert!(!changes.has_changed().unwrap(), "reads change nothing");
    m.post("/_mock/customers", json!({})).await;
    assert!(changes.has_changed().unwrap());
    changes.borrow_and_update();
    // A refused call is announced too: it is in the Send API log.
    m.send(text("nobody", "RESPONSE", None, "hi")).await;
    assert!(changes.has_changed().unwrap());
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_from_the_binary() {
    let m = Mock::new();
    let (s, page) = m.get("/").await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains(r#"<script src="/inspector/app.js" defer></script>"#));
    for asset in ["/inspector/app.js", "/inspector/app.css"] {
        let (s, body) = m.get(asset).await;
        assert_eq!(s, StatusCode::OK, "{asset}");
        assert!(body.as_str().unwrap().len() > 1000, "{asset}");
    }
}

/// A subscriber answering with whatever status the test sets.
async fn subscriber(status: Arc<AtomicU16>) -> String {
    let app = axum::Router::new()
        .route(
            "/webhook",
            get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    q.get("hub.challenge").cloned().unwrap_or_default()
                },
            )
            .post(|State(s): State<Arc<AtomicU16>>| async move {
                StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap()
            }),
        )
        .with_state(status);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn webhook_deliveries_show_every_attempt_and_its_status() {
    let status = Arc::new(AtomicU16::new(500));
    let url = subscriber(status.clone()).await;
    let m = Mock::with(|s| s.webhook_url = Some(url.clone()));
    m.customer_who_wrote("hello").await;
    let (_, w) = m.get("/_mock/webhooks").await;
    assert_eq!(w["url"], url.as_str());
    let d = &w["data"][0];
    assert_eq!(
        d["events"],
        json!([{"kind": "message", "psid": d["events"][0]["psid"], "standby": false}])
    );
    let statuses: Vec<&Value> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!(500), &json!(500)],
        "failed, and retried at once"
    );
    assert_eq!(
        d["state"],
        json!({"state": "retrying", "next_at": "2026-11-20T09:00:30Z"})
    );
    assert_eq!(w["retrying"], 1);
    assert_eq!(w["next_due"], "2026-11-20T09:00:30Z");

    status.store(200, Ordering::SeqCst);
    m.advance("30s").await;
    let (_, w) = m.get("/_mock/webhooks").await;
    let d = &w["data"][0];
    assert_eq!(d["attempts"][2]["status"], 200);
    assert_eq!(d["attempts"][2]["ok"], true);
    assert_eq!(d["state"], json!({"state": "delivered"}));
    let body: Value = serde_json::from_str(d["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["entry"][0]["messaging"][0]["message"]["text"], "hello");

    // A delivery lost in transit says so.
    m.post("/_mock/faults", json!({"drop_rate": 1.0})).await;
    m.customer_who_wrote("again").await;
    let (_, w) = m.get("/_mock/webhooks?limit=1").await;
    assert_eq!(w["total"], 2);
    let attempt = &w["data"][0]["attempts"][0];
    assert_eq!(
        (&attempt["dropped"], &attempt["error"]),
        (&json!(true), &json!("lost in transit (drop_rate fault)"))
    );
}

#[tokio::test]
async fn events_stream_a_hello_then_each_change() {
    let mut settings = Settings::defaults();
    settings.listen = "127.0.0.1:0".into();
    settings.webhook_url = None;
    let mock = mock_graph::start(settings).await.unwrap();
    let base = format!("http://{}", mock.addr);
    let http = reqwest::Client::new();
    let mut events = http
        .get(format!("{base}/_mock/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    // Reads until `what` arrives; a bound, not a pause, guards against waiting forever.
    let mut seen = String::new();
    let mut until = async |what: &str| {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while !seen.contains(what) {
                let chunk = events.chunk().await.unwrap().expect("the stream goes on");
                seen.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {what:?} in {seen:?}"));
    };
    until("event: hello\ndata: {\"now\":\"2026-11-20T09:00:00Z\",\"rev\":0}").await;
    let r = http
        .post(format!("{base}/_mock/clock"))
        .json(&json!({"advance": "1h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    until("event: change\ndata: {\"now\":\"2026-11-20T10:00:00Z\",\"rev\":1}").await;
}
