//! The restriction ladder, walked end to end on the virtual clock.

use super::*;
use serde_json::json;

#[tokio::test]
async fn promotional_tags_climb_the_ladder_and_restrictions_end() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("hello").await;
    // A clean page's first offence is a warning, before any restriction.
    m.advance("25h").await;
    let (s, _) = m
        .send(text(
            &psid,
            "MESSAGE_TAG",
            Some("HUMAN_AGENT"),
            "Special offer",
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = m.get("/_mock/page").await;
    assert_eq!(page["warnings"], 1, "{page}");
    assert_eq!(page["restriction"], Value::Null, "{page}");
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
async fn a_first_offence_is_a_warning_and_a_mass_promotion_second_is_seven_days() {
    let m = Mock::new();
    let mut psids = Vec::new();
    for _ in 0..100 {
        psids.push(m.customer_who_wrote("hi").await);
    }
    m.advance("26h").await;
    // First offence of a clean page: a promotion to one customer, and a warning.
    let (s, _) = m
        .post(
            "/_mock/other-app/sends",
            json!({"psid": psids[0], "text": "Special offer just for you", "tag": "HUMAN_AGENT"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = m.get("/_mock/page").await;
    assert_eq!(page["warnings"], 1, "{page}");
    assert_eq!(page["violations"], json!([]), "{page}");
    // Second offence: another app sends a tagged promotion to 100 customers at once,
    // judged as one offence. Severity skips the 1-day and 3-day rungs.
    let (s, v) = m
        .post(
            "/_mock/other-app/sends",
            json!({"recipients": 100, "text": "Black Friday deal: 40% off", "tag": "HUMAN_AGENT"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sent"], 100, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 100);
    assert_eq!(
        v["data"][0]["recipient_id"],
        psids[0].as_str(),
        "in creation order"
    );
    let (_, page) = m.get("/_mock/page").await;
    assert_eq!(page["restriction"]["level"], "7d", "{page}");
    let violations = page["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{page}");
    assert!(
        violations[0]["reason"]
            .as_str()
            .unwrap()
            .contains("100 recipients"),
        "{page}"
    );
    // A list of recipients works too, and names what's wrong with it.
    let (s, v) = m
        .post(
            "/_mock/other-app/sends",
            json!({"recipients": [psids[1], psids[1]], "text": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`recipients`"),
        "{v}"
    );
    let (s, v) = m
        .post(
            "/_mock/other-app/sends",
            json!({"recipients": 101, "text": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`recipients`"),
        "{v}"
    );
}

#[tokio::test]
async fn other_app_promotion_penalizes_the_page() {
    let m = Mock::new();
    let psid = m.customer_who_wrote("ciao").await;
    m.advance("30h").await;
    for expected in ["warning", "1d"] {
        let (s, _) = m
            .post(
                "/_mock/other-app/sends",
                json!({"psid": psid, "text": "Sconto del 20% solo oggi!", "tag": "HUMAN_AGENT"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, page) = m.get("/_mock/page").await;
        match expected {
            "warning" => {
                assert_eq!(page["warnings"], 1, "{page}");
                assert_eq!(page["restriction"], Value::Null, "{page}");
            }
            level => assert_eq!(page["restriction"]["level"], level, "{page}"),
        }
    }
    let (_, sent) = m.get("/_mock/sent").await;
    assert_eq!(sent["data"][0]["app_id"], 263902037430900_u64);
}
