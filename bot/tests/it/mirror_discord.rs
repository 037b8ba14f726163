//! The mirror against serenity's `Http`, with wiremock as Discord's REST API: the exact
//! calls a conversation costs, and an outage and rate limit that lose nothing.

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::harness::{discord, serenity_client as client, Harness, CHANNEL, ROLE, STARTER};

/// The calls since `from`, as (method, path, body).
pub async fn calls(server: &MockServer, from: usize) -> Vec<(String, String, Value)> {
    let requests: Vec<Request> = server.received_requests().await.unwrap();
    requests[from..]
        .iter()
        .map(|r| {
            let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            (r.method.to_string(), r.url.path().to_owned(), body)
        })
        .collect()
}

#[tokio::test]
async fn a_conversation_becomes_a_thread_whose_name_follows_the_window() {
    let server = discord().await;
    let h = Harness::new(client(&server), None).await;
    let ada = h.customer("Ada Lovelace").await;
    h.say(&ada, "hi").await;
    h.say(&ada, "where is my order?").await;
    h.say(&ada, "@everyone hello??").await;
    h.tick().await;

    // Three messages arriving together: one starter post, one thread. That's all.
    let c = calls(&server, 0).await;
    assert_eq!(c.len(), 2, "{c:#?}");
    let (m, p, body) = &c[0];
    assert_eq!(
        (m.as_str(), p.as_str()),
        ("POST", "/api/v10/channels/900/messages")
    );
    let texts: Vec<&str> = body["embeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["description"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hi", "where is my order?", "@everyone hello??"]);
    assert_eq!(body["embeds"][0]["author"]["name"], "Ada Lovelace");
    assert!(body["embeds"][0]["author"]["icon_url"]
        .as_str()
        .unwrap()
        .contains(&ada));
    assert_eq!(
        body["allowed_mentions"],
        json!({"parse": [], "users": [], "roles": []}),
        "a customer can't ping anyone"
    );
    assert_eq!(body["enforce_nonce"], true);
    assert_eq!(
        body["components"][0]["components"][0]["custom_id"],
        format!("reply:{ada}"),
        "a Reply button opens the reply form for this customer"
    );
    assert!(body["nonce"].as_str().unwrap().len() <= 25);
    let (m, p, body) = &c[1];
    assert_eq!(
        (m.as_str(), p.as_str()),
        ("POST", "/api/v10/channels/900/messages/5001/threads")
    );
    assert_eq!(body["name"], "🟢 open · Ada Lovelace");

    // A later message goes into the thread; the name doesn't change yet.
    h.advance("1h").await;
    h.say(&ada, "still there?").await;
    h.tick().await;
    let c = calls(&server, 2).await;
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].1, "/api/v10/channels/5001/messages");
    assert_eq!(c[0].2["embeds"][0]["description"], "still there?");

    // Two hours before the window closes: one alert pinging the role, and the name
    // says it is closing (its steps in between were skipped: nobody looked).
    h.advance("22h").await;
    h.tick().await;
    let c = calls(&server, 3).await;
    assert_eq!(c.len(), 2, "{c:#?}");
    assert_eq!(c[1].0, "PATCH");
    assert_eq!(c[1].2["name"], "⏰ closing · 2h left · Ada Lovelace");
    assert_eq!(c[0].1, "/api/v10/channels/900/messages");
    let content = c[0].2["content"].as_str().unwrap();
    assert!(
        content.starts_with("⏰ <#5001> Ada Lovelace: the 24-hour window closes in 2h"),
        "{content}"
    );
    assert_eq!(
        c[0].2["allowed_mentions"]["roles"],
        json!([ROLE.to_string()])
    );

    // At exactly 24 hours the window is the human-agent one.
    h.advance("2h").await;
    h.tick().await;
    let c = calls(&server, 5).await;
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].0, "PATCH");
    assert_eq!(
        c[0].2["name"],
        "🟡 human agent until Fri 10:00 UTC · Ada Lovelace"
    );

    // Nothing more until the next change.
    h.tick().await;
    assert_eq!(calls(&server, 6).await.len(), 0);
}

#[tokio::test]
async fn discord_500_and_429_then_recovering_loses_nothing_and_posts_once() {
    let server = MockServer::start().await;
    // The first call fails with 500, the second with 429; then Discord is back.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"message": "oops", "code": 0})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"message": "You are being rate limited.", "retry_after": 1.0, "global": false, "code": 0})),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    // Then Discord answers as usual; the channel shows no message yet.
    for (verb, route, body) in [
        (
            "GET",
            format!("/api/v10/channels/{CHANNEL}/messages"),
            json!([]),
        ),
        (
            "POST",
            format!("/api/v10/channels/{CHANNEL}/messages"),
            json!({"id": STARTER.to_string()}),
        ),
        (
            "POST",
            format!("/api/v10/channels/{CHANNEL}/messages/{STARTER}/threads"),
            json!({"id": STARTER.to_string()}),
        ),
    ] {
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .with_priority(5)
            .mount(&server)
            .await;
    }
    let h = Harness::new(client(&server), None).await;
    let grace = h.customer("Grace Hopper").await;
    h.say(&grace, "hello").await;

    let t = h.tick().await;
    assert_eq!(t.work.retried, 1, "the 500 is retried");
    h.advance("1s").await;
    let t = h.tick().await;
    assert_eq!(t.work.retried, 1, "the 429 is retried");
    h.advance("2s").await;
    let t = h.tick().await;
    assert_eq!(t.work.done, 1);
    assert_eq!(h.engine.store.work_pending().unwrap(), 0);

    let c = calls(&server, 0).await;
    let posts: Vec<_> = c
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/900/messages"))
        .collect();
    // Before each retry the bot looked for the post among the channel's messages.
    assert_eq!(
        c.iter()
            .filter(|(m, p, _)| m == "GET" && p.ends_with("/900/messages"))
            .count(),
        2,
        "{c:#?}"
    );
    assert_eq!(posts.len(), 3, "two failures and one success: {c:#?}");
    let nonces: Vec<&Value> = posts.iter().map(|(_, _, b)| &b["nonce"]).collect();
    assert!(
        nonces.windows(2).all(|w| w[0] == w[1]),
        "every retry carries the same nonce"
    );
    assert_eq!(
        c.iter().filter(|(_, p, _)| p.ends_with("/threads")).count(),
        1
    );
    let thread = h.engine.store.thread(&grace).unwrap().unwrap();
    assert_eq!(thread.discord_thread, Some(STARTER));
}
