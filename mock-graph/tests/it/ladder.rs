//! The restriction ladder, walked end to end on the virtual clock.

use super::*;
use serde_json::json;

#[tokio::test]
async fn promotional_tags_climb_the_ladder_and_restrictions_end() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    let mut levels = Vec::new();
    for _ in 0..5 {
        // The customer writes, the window lapses, and the page sends a promotional tag.
        m.post(
            &format!("/_mock/customers/{psid}/messages"),
            json!({"text": "any news?"}),
        )
        .await;
        m.advance("25h").await;
        let (s, _) = m
            .send(text(
                &psid,
                "MESSAGE_TAG",
                Some("HUMAN_AGENT"),
                "Black Friday deals: 30% off",
            ))
            .await;
        assert_eq!(s, StatusCode::OK, "Meta accepts, then judges");
        let (_, page) = m.get("/_mock/page").await;
        levels.push(page["restriction"]["level"].as_str().unwrap().to_owned());
        // While restricted, tagged sends fail but in-window replies work.
        m.post(
            &format!("/_mock/customers/{psid}/messages"),
            json!({"text": "hello?"}),
        )
        .await;
        assert_eq!(
            m.send(text(&psid, "RESPONSE", None, "Hi!")).await.0,
            StatusCode::OK
        );
        m.advance("25h").await;
        if page["restriction"]["until"].is_null() {
            let r = m
                .send(text(&psid, "MESSAGE_TAG", Some("HUMAN_AGENT"), "x"))
                .await;
            assert_eq!(r.1["error"]["error_subcode"], 1893063);
            continue;
        }
        m.post("/_mock/clock", json!({"to": page["restriction"]["until"]}))
            .await;
        let (_, after) = m.get("/_mock/page").await;
        assert_eq!(after["restriction"], Value::Null, "ends exactly at until");
    }
    assert_eq!(levels, ["1d", "3d", "7d", "365d", "permanent"]);
}

#[tokio::test]
async fn mass_promotion_skips_to_seven_days() {
    let m = Mock::new();
    let mut psids = Vec::new();
    for _ in 0..100 {
        psids.push(m.customer_who_wrote("hi").await);
    }
    m.advance("26h").await;
    for psid in &psids {
        m.send(text(
            psid,
            "MESSAGE_TAG",
            Some("HUMAN_AGENT"),
            "Special offer just for you",
        ))
        .await;
    }
    let (_, page) = m.get("/_mock/page").await;
    let levels: Vec<&str> = page["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["level"].as_str().unwrap())
        .collect();
    // The first promotional send is a 1-day ban; tagged sends then fail until the
    // 100th recipient, which never goes out. The severity rule is exercised directly:
    assert_eq!(levels, ["1d"]);
    let mut e = messenger::restriction::Enforcement::default();
    let now = m.state.lock().now();
    let p = e.record(
        &messenger::restriction::Offense::Promotional { recipients: 100 },
        now,
    );
    assert!(
        matches!(p, messenger::restriction::Penalty::Restricted(r) if r.level == messenger::restriction::Level::Days7)
    );
}

#[tokio::test]
async fn other_app_promotion_penalizes_the_page() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("ciao").await;
    m.advance("30h").await;
    let (s, _) = m
        .post(
            "/_mock/other-app/sends",
            json!({"psid": psid, "text": "Sconto del 20% solo oggi!", "tag": "HUMAN_AGENT"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = m.get("/_mock/page").await;
    assert_eq!(page["restriction"]["level"], "1d");
    let (_, sent) = m.get("/_mock/sent").await;
    assert_eq!(sent["data"][0]["app_id"], 263902037430900_u64);
}
