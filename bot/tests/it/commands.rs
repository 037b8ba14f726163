//! The team's commands end to end: interaction JSON signed with a test Ed25519 key →
//! the bot's `/interactions` → the policy → mock-graph, with the in-process Discord.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use bot::discord::recorder::Recorder;
use bot::interactions;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::harness::{Harness, ROLE};

const AGENT: &str = "900001";

struct Team {
    h: Harness,
    discord: Recorder,
    app: axum::Router,
    key: SigningKey,
    next: std::cell::Cell<u64>,
}

impl Team {
    async fn new() -> Team {
        let discord = Recorder::new();
        Team::with(discord.clone(), Arc::new(discord)).await
    }

    /// A team whose bot talks to `api` as Discord (`discord` records nothing then).
    async fn with(discord: Recorder, api: Arc<dyn bot::discord::DiscordApi>) -> Team {
        Team::on(discord, api, Harness::new).await
    }

    /// A team whose bot keeps its state on Postgres, in a database of its own.
    async fn on_postgres() -> Team {
        let discord = Recorder::new();
        let db = crate::harness::postgres_db();
        Team::on(discord.clone(), Arc::new(discord), |api, _| async move {
            Harness::open(api, &db).await
        })
        .await
    }

    async fn on<F, Fut>(
        discord: Recorder,
        api: Arc<dyn bot::discord::DiscordApi>,
        harness: F,
    ) -> Team
    where
        F: FnOnce(Arc<dyn bot::discord::DiscordApi>, Option<&'static std::path::Path>) -> Fut,
        Fut: std::future::Future<Output = Harness>,
    {
        let h = harness(api, None).await;
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = hex::encode(key.verifying_key().to_bytes());
        let app =
            interactions::router(h.engine.clone(), interactions::public_key(&public).unwrap());
        Team {
            h,
            discord,
            app,
            key,
            next: std::cell::Cell::new(1_000),
        }
    }

    fn id(&self) -> String {
        self.next.set(self.next.get() + 1);
        self.next.get().to_string()
    }

    async fn raw(
        &self,
        body: &str,
        signature: Option<String>,
        timestamp: i64,
    ) -> (StatusCode, Value) {
        let mut req = Request::post("/interactions").header("content-type", "application/json");
        if let Some(sig) = signature {
            req = req
                .header("x-signature-ed25519", sig)
                .header("x-signature-timestamp", timestamp.to_string());
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into())),
        )
    }

    fn sign(&self, body: &str, timestamp: i64) -> String {
        let mut signed = timestamp.to_string().into_bytes();
        signed.extend_from_slice(body.as_bytes());
        hex::encode(self.key.sign(&signed).to_bytes())
    }

    /// Sends an interaction as Discord would, signed and timestamped now.
    async fn send(&self, interaction: &Value) -> Value {
        let body = interaction.to_string();
        let ts = self.h.now().as_second();
        let (status, answer) = self.raw(&body, Some(self.sign(&body, ts)), ts).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    fn base(&self, kind: u8, channel: Option<u64>, roles: &[u64]) -> Value {
        let roles: Vec<String> = roles.iter().map(u64::to_string).collect();
        json!({
            "id": self.id(), "type": kind, "token": "tok", "application_id": "1",
            "channel_id": channel.map(|c| c.to_string()),
            "member": {"user": {"id": AGENT, "username": "grace", "global_name": "Grace"}, "roles": roles},
        })
    }

    fn command(&self, name: &str, options: Value, channel: Option<u64>) -> Value {
        let mut v = self.base(2, channel, &[ROLE]);
        v["data"] = json!({"name": name, "options": options});
        v
    }

    fn button(&self, custom_id: &str, values: &[&str]) -> Value {
        let mut v = self.base(3, None, &[ROLE]);
        v["data"] = json!({"custom_id": custom_id, "component_type": 2, "values": values});
        v
    }

    async fn sent(&self) -> Vec<Value> {
        let v = self
            .h
            .http
            .get(format!("{}/_mock/sent", self.h.base))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        v["data"].as_array().cloned().unwrap_or_default()
    }

    /// How many of Meta's logged sends are this app's (not another app's).
    async fn ours(&self) -> usize {
        let sent = self.sent().await;
        sent.iter().filter(|s| s["app_id"] == OUR_APP).count()
    }

    /// A customer who wrote once, mirrored into a Discord thread.
    async fn customer(&self, name: &str) -> (String, u64) {
        let psid = self.h.customer(name).await;
        self.h.say(&psid, "hello, my order hasn't arrived").await;
        self.h.tick().await;
        let t = self.h.engine.store.thread(&psid).unwrap().unwrap();
        (psid, t.discord_thread.unwrap())
    }
}

fn opt(name: &str, value: impl Into<Value>) -> Value {
    json!({"name": name, "type": 3, "value": value.into()})
}

fn content(answer: &Value) -> &str {
    answer["data"]["content"].as_str().unwrap_or_default()
}

/// The app id mock-graph gives this bot's page token (other apps' sends have others).
const OUR_APP: u64 = 1517776481860111;

/// The custom id of an answer's first button ("Send anyway" on a warning).
fn first_button(answer: &Value) -> String {
    answer["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A customer who wrote, then was answered from outside tagdesk inside the window
/// (with `tag`, which Meta's echo won't show), now 25 hours later: a reply needs a tag.
async fn answered_from_outside(t: &Team, tag: Option<&str>) -> (String, u64) {
    let (psid, thread) = t.customer("Ada Lovelace").await;
    t.h.advance("2h").await;
    let mut send = json!({"psid": psid, "text": "We'll look into it."});
    if let Some(tag) = tag {
        send["tag"] = tag.into();
    }
    t.h.admin("/_mock/other-app/sends", send).await;
    t.h.tick().await;
    t.h.advance("25h").await;
    (psid, thread)
}

#[tokio::test]
async fn signatures_are_checked_and_ping_is_answered() {
    let t = Team::new().await;
    let ping = t.base(1, None, &[]);
    let body = ping.to_string();
    let now = t.h.now().as_second();
    assert_eq!(t.send(&ping).await, json!({"type": 1}));
    assert_eq!(t.raw(&body, None, now).await.0, StatusCode::UNAUTHORIZED);
    let forged = SigningKey::from_bytes(&[8; 32]);
    let mut signed = now.to_string().into_bytes();
    signed.extend_from_slice(body.as_bytes());
    let bad = hex::encode(forged.sign(&signed).to_bytes());
    assert_eq!(
        t.raw(&body, Some(bad), now).await.0,
        StatusCode::UNAUTHORIZED
    );
    let stale = now - 301;
    assert_eq!(
        t.raw(&body, Some(t.sign(&body, stale)), stale).await.0,
        StatusCode::UNAUTHORIZED
    );
    let tampered = body.replace("\"type\":1", "\"type\":2");
    assert_eq!(
        t.raw(&tampered, Some(t.sign(&body, now)), now).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(t.sent().await.is_empty());
}

#[tokio::test]
async fn reply_goes_as_response_then_human_agent_and_a_replay_never_sends_twice() {
    reply_goes_as_response_then_human_agent_and_a_replay_never_sends_twice_on(Team::new().await)
        .await;
}

/// The same with the bot's state on Postgres.
#[tokio::test]
async fn postgres_reply_goes_as_response_then_human_agent_and_a_replay_never_sends_twice() {
    reply_goes_as_response_then_human_agent_and_a_replay_never_sends_twice_on(
        Team::on_postgres().await,
    )
    .await;
}

async fn reply_goes_as_response_then_human_agent_and_a_replay_never_sends_twice_on(t: Team) {
    let (psid, thread) = t.customer("Ada Lovelace").await;

    let reply = t.command(
        "reply",
        json!([opt("text", "It ships today.")]),
        Some(thread),
    );
    let answer = t.send(&reply).await;
    assert_eq!(content(&answer), "✅ Sent as RESPONSE.");
    assert_eq!(answer["data"]["flags"], 64, "ephemeral");
    // Discord retries the interaction: the same answer, no second send.
    assert_eq!(t.send(&reply).await, answer);
    let sent = t.sent().await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["request"]["messaging_type"], "RESPONSE");
    assert_eq!(sent[0]["request"]["message"]["text"], "It ships today.");
    assert_eq!(sent[0]["request"]["recipient"]["id"], psid.as_str());

    // The thread shows what was sent, as what.
    t.h.tick().await;
    let posts = t.discord.messages_in(thread);
    let last = &posts.last().unwrap().body["embeds"][0];
    assert_eq!(last["description"], "It ships today.");
    assert_eq!(last["footer"]["text"], "✅ sent as RESPONSE");
    assert_eq!(last["author"]["name"], "Grace");

    // Past 24 hours: HUMAN_AGENT, automatically.
    t.h.advance("25h").await;
    let answer = t
        .send(&t.command(
            "reply",
            json!([opt("text", "Any news on your side?")]),
            Some(thread),
        ))
        .await;
    // Run on both backends: the same snapshot twice in one process.
    insta::allow_duplicates! {
        insta::assert_snapshot!(content(&answer), @"✅ Sent as HUMAN_AGENT. The human-agent window closes Fri 27 Nov 09:00 UTC (in 5d 23h).");
    }
    let sent = t.sent().await;
    assert_eq!(sent[1]["request"]["messaging_type"], "MESSAGE_TAG");
    assert_eq!(sent[1]["request"]["tag"], "HUMAN_AGENT");
}

#[tokio::test]
async fn the_guard_refuses_promotion_retired_tags_and_a_third_tag_in_a_row() {
    let t = Team::new().await;
    let (_, thread) = t.customer("Ada Lovelace").await;

    // Inside 24 hours no tag is needed.
    let answer = t
        .send(&t.command(
            "tag",
            json!([opt("text", "Update"), opt("tag", "HUMAN_AGENT")]),
            Some(thread),
        ))
        .await;
    assert!(
        content(&answer)
            .starts_with("🚫 Not sent: refused: the 24-hour window is open, so no tag is needed"),
        "{}",
        content(&answer)
    );

    t.h.advance("30h").await;
    let retired = t
        .send(&t.command(
            "tag",
            json!([
                opt("text", "Your account was updated"),
                opt("tag", "ACCOUNT_UPDATE")
            ]),
            Some(thread),
        ))
        .await;
    insta::assert_json_snapshot!("tag-retired", retired);

    let promo = t
        .send(&t.command(
            "tag",
            json!([
                opt("text", "Buy now: 50% off everything!"),
                opt("tag", "HUMAN_AGENT")
            ]),
            Some(thread),
        ))
        .await;
    insta::assert_json_snapshot!("tag-promotional", promo);

    // The first tagged reply goes; the second asks for confirmation; the third is refused.
    let first = t
        .send(&t.command(
            "reply",
            json!([opt("text", "Your parcel left the depot.")]),
            Some(thread),
        ))
        .await;
    assert!(
        content(&first).starts_with("✅ Sent as HUMAN_AGENT."),
        "{}",
        content(&first)
    );
    let second = t.command(
        "reply",
        json!([opt("text", "It arrives tomorrow.")]),
        Some(thread),
    );
    let warned = t.send(&second).await;
    insta::assert_json_snapshot!("second-tag-warning", warned);
    let confirm = t.button(&format!("confirm:{}", second["id"].as_str().unwrap()), &[]);
    let confirmed = t.send(&confirm).await;
    assert!(
        content(&confirmed).starts_with("✅ Sent as HUMAN_AGENT."),
        "{}",
        content(&confirmed)
    );
    let third = t
        .send(&t.command("reply", json!([opt("text", "Hello?")]), Some(thread)))
        .await;
    assert!(
        content(&third).contains("#3 in a row"),
        "{}",
        content(&third)
    );
    assert_eq!(t.sent().await.len(), 2, "only the allowed two reached Meta");
}

#[tokio::test]
async fn expired_replies_park_and_go_out_when_the_customer_writes() {
    let t = Team::new().await;
    let (psid, thread) = t.customer("Ada Lovelace").await;
    t.h.advance("8d").await;
    let reply = t.command(
        "reply",
        json!([opt("text", "Sorry for the wait!")]),
        Some(thread),
    );
    let refused = t.send(&reply).await;
    insta::assert_json_snapshot!("reply-expired", refused);
    let park = t.button(&format!("park:{}", reply["id"].as_str().unwrap()), &[]);
    let parked = t.send(&park).await;
    assert!(
        content(&parked).starts_with("🅿️ Parked"),
        "{}",
        content(&parked)
    );
    assert!(t.sent().await.is_empty());

    t.h.advance("2h").await;
    t.h.say(&psid, "hello??").await;
    t.h.tick().await;
    let sent = t.sent().await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["request"]["messaging_type"], "RESPONSE");
    assert_eq!(sent[0]["request"]["message"]["text"], "Sorry for the wait!");
    let notes: Vec<String> = t
        .discord
        .messages_in(thread)
        .iter()
        .flat_map(|m| m.body["embeds"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["description"].as_str().map(str::to_owned))
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("📤 The customer wrote: sending Grace's parked reply")),
        "{notes:#?}"
    );
}

#[tokio::test]
async fn meta_refusals_are_explained_and_kept_in_the_log() {
    let t = Team::new().await;
    let (psid, thread) = t.customer("Ada Lovelace").await;
    t.h.admin(&format!("/_mock/customers/{psid}/block"), json!({}))
        .await;
    let answer = t
        .send(&t.command("reply", json!([opt("text", "Hi again")]), Some(thread)))
        .await;
    insta::assert_snapshot!(content(&answer), @"❌ Meta refused it: the customer isn't available (they may have blocked the page) (551/1545041). Next: nothing to do on Messenger; reach them another way if you must");
    let audit = t.send(&t.command("audit", json!([]), Some(thread))).await;
    assert!(
        content(&audit).contains("**failed**"),
        "{}",
        content(&audit)
    );
}

#[tokio::test]
async fn permissions_snippets_claim_inbox_and_status() {
    let t = Team::new().await;
    let (_, thread) = t.customer("Ada Lovelace").await;
    let (_, _) = t.customer("Grace Hopper").await;

    // No agent role: no sending.
    let mut outsider = t.base(2, Some(thread), &[]);
    outsider["data"] = json!({"name": "reply", "options": [opt("text", "hi")]});
    let denied = t.send(&outsider).await;
    assert_eq!(
        content(&denied),
        "🔒 Only members with the agent role can do that."
    );
    assert!(t.sent().await.is_empty());

    let add = t.command("snippet", json!([{"type": 1, "name": "add", "options": [opt("name", "ship"), opt("text", "Your order ships within 2 working days.")]}]), None);
    assert_eq!(content(&t.send(&add).await), "Saved /ship.");
    let answer = t
        .send(&t.command("reply", json!([opt("snippet", "ship")]), Some(thread)))
        .await;
    assert_eq!(content(&answer), "✅ Sent as RESPONSE.");
    assert_eq!(
        t.sent().await[0]["request"]["message"]["text"],
        "Your order ships within 2 working days."
    );

    assert_eq!(
        content(&t.send(&t.command("claim", json!([]), Some(thread))).await),
        "Claimed."
    );
    let inbox = t.send(&t.command("inbox", json!([]), None)).await;
    insta::assert_json_snapshot!("inbox", inbox);
    let mine = t
        .send(&t.command("inbox", json!([opt("filter", "mine")]), None))
        .await;
    let text = mine["data"]["embeds"][0]["description"].as_str().unwrap();
    assert!(
        text.contains("Ada Lovelace") && !text.contains("Grace Hopper"),
        "{text}"
    );

    let status = t.send(&t.command("status", json!([]), None)).await;
    insta::assert_snapshot!(content(&status));
}

#[tokio::test]
async fn the_reply_button_opens_a_form_for_long_replies() {
    let t = Team::new().await;
    let (psid, _) = t.customer("Ada Lovelace").await;
    let modal = t.send(&t.button(&format!("reply:{psid}"), &[])).await;
    assert_eq!(modal["type"], 9, "a modal: {modal}");
    assert_eq!(modal["data"]["custom_id"], format!("reply-modal:{psid}"));
    assert_eq!(
        modal["data"]["components"][0]["components"][0]["style"], 2,
        "a paragraph input"
    );

    let mut submit = t.base(5, None, &[ROLE]);
    let long = "We're sorry. ".repeat(40);
    submit["data"] = json!({"custom_id": format!("reply-modal:{psid}"), "components": [
        {"type": 1, "components": [{"type": 4, "custom_id": "text", "value": long}]}]});
    let answer = t.send(&submit).await;
    assert_eq!(content(&answer), "✅ Sent as RESPONSE.");
    assert_eq!(t.sent().await[0]["request"]["message"]["text"], long.trim());
}

#[tokio::test]
async fn while_restricted_tagged_replies_are_refused_with_the_restrictions_end() {
    let t = Team::new().await;
    let (psid, thread) = t.customer("Ada Lovelace").await;
    let (ben, _) = t.customer("Ben Okafor").await;
    t.h.advance("30h").await;
    // Another app's promotions: the first is a warning (a clean page), the second
    // gets the page restricted.
    t.h.admin(
        "/_mock/other-app/sends",
        json!({"psid": ben, "text": "Cyber Monday deal: 30% off", "tag": "HUMAN_AGENT"}),
    )
    .await;
    t.h.tick().await;
    t.h.admin(
        "/_mock/other-app/sends",
        json!({"psid": psid, "text": "Black Friday deal: 40% off", "tag": "HUMAN_AGENT"}),
    )
    .await;
    t.h.tick().await;
    let refused = t
        .send(&t.command(
            "reply",
            json!([opt("text", "Your refund is on its way.")]),
            Some(thread),
        ))
        .await;
    insta::assert_json_snapshot!("reply-restricted", refused);
    let status = t.send(&t.command("status", json!([]), None)).await;
    insta::assert_snapshot!("status-restricted", content(&status));
    assert!(
        t.sent().await.iter().all(|s| s["app_id"] != OUR_APP),
        "nothing of ours reached Meta"
    );
}

#[tokio::test]
async fn a_reply_over_http_interactions_reaches_meta_and_discords_rest_api() {
    let server = crate::harness::discord().await;
    let t = Team::with(Recorder::new(), crate::harness::serenity_client(&server)).await;
    let psid = t.h.customer("Ada Lovelace").await;
    t.h.say(&psid, "hello").await;
    t.h.tick().await;
    let thread =
        t.h.engine
            .store
            .thread(&psid)
            .unwrap()
            .unwrap()
            .discord_thread
            .unwrap();
    assert_eq!(thread, crate::harness::STARTER);

    let answer = t
        .send(&t.command(
            "reply",
            json!([opt("text", "Hi Ada, how can we help?")]),
            Some(thread),
        ))
        .await;
    assert_eq!(content(&answer), "✅ Sent as RESPONSE.");
    let sent = t.sent().await;
    assert_eq!(sent[0]["request"]["messaging_type"], "RESPONSE");
    assert_eq!(
        sent[0]["request"]["message"]["text"],
        "Hi Ada, how can we help?"
    );

    // The thread shows it: one REST call, in the thread, as the agent.
    t.h.tick().await;
    let calls = crate::mirror_discord::calls(&server, 2).await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let (verb, path, body) = &calls[0];
    assert_eq!(
        (verb.as_str(), path.as_str()),
        ("POST", "/api/v10/channels/5001/messages")
    );
    assert_eq!(body["embeds"][0]["author"]["name"], "Grace");
    assert_eq!(body["embeds"][0]["description"], "Hi Ada, how can we help?");
    assert_eq!(body["embeds"][0]["footer"]["text"], "✅ sent as RESPONSE");
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));
}

#[tokio::test]
async fn the_same_interaction_twice_at_once_sends_once() {
    the_same_interaction_twice_at_once_sends_once_on(Team::new().await).await;
}

/// The same with the bot's state on Postgres.
#[tokio::test]
async fn postgres_the_same_interaction_twice_at_once_sends_once() {
    the_same_interaction_twice_at_once_sends_once_on(Team::on_postgres().await).await;
}

async fn the_same_interaction_twice_at_once_sends_once_on(t: Team) {
    let (_, thread) = t.customer("Ada Lovelace").await;
    let reply = t.command("reply", json!([opt("text", "Once only.")]), Some(thread));
    let (a, b) = tokio::join!(t.send(&reply), t.send(&reply));
    assert!(
        content(&a).starts_with('✅') || content(&b).starts_with('✅'),
        "{a} {b}"
    );
    t.h.advance("2m").await;
    t.h.tick().await;
    assert_eq!(t.sent().await.len(), 1);
}

/// A customer whose 24-hour window closed an hour ago (the human-agent window is open).
async fn expired_customer(t: &Team) -> u64 {
    let (_, thread) = t.customer("Ada Lovelace").await;
    t.h.advance("25h").await;
    thread
}

#[tokio::test]
async fn two_agents_replying_at_the_same_instant_past_24_hours_send_one_tagged_message() {
    two_agents_replying_at_the_same_instant_past_24_hours_send_one_tagged_message_on(
        Team::new().await,
    )
    .await;
}

/// The same with the bot's state on Postgres.
#[tokio::test]
async fn postgres_two_agents_replying_at_the_same_instant_past_24_hours_send_one_tagged_message() {
    two_agents_replying_at_the_same_instant_past_24_hours_send_one_tagged_message_on(
        Team::on_postgres().await,
    )
    .await;
}

async fn two_agents_replying_at_the_same_instant_past_24_hours_send_one_tagged_message_on(t: Team) {
    let thread = expired_customer(&t).await;
    let a = t.command("reply", json!([opt("text", "We are on it.")]), Some(thread));
    let b = t.command("reply", json!([opt("text", "Checking now.")]), Some(thread));
    let (a, b) = tokio::join!(t.send(&a), t.send(&b));
    let answers = [content(&a), content(&b)];
    assert_eq!(
        answers.iter().filter(|c| c.starts_with('✅')).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|c| c.starts_with('⚠')).count(),
        1,
        "the other is the second in a row: {answers:?}"
    );
    assert_eq!(t.sent().await.len(), 1);
}

/// Someone answered from Meta Business Suite inside the window. Its echo doesn't say
/// whether it carried a tag, so a tagged reply after the window asks first.
#[tokio::test]
async fn a_tagged_reply_after_someone_outside_tagdesk_wrote_in_the_window_asks_first() {
    let t = Team::new().await;
    let (psid, thread) = answered_from_outside(&t, None).await;

    let reply = t.command(
        "reply",
        json!([opt("text", "Your parcel left today.")]),
        Some(thread),
    );
    let warned = t.send(&reply).await;
    let text = content(&warned);
    assert!(text.starts_with("⚠️ Someone outside tagdesk"), "{warned}");
    assert!(text.contains("once since they last got in touch"), "{text}");
    assert!(
        text.ends_with(
            "It would go as HUMAN_AGENT (24-hour window closed; 5d 21h left for a human agent)."
        ),
        "{text}"
    );
    assert_eq!(t.ours().await, 0, "nothing went out");

    let confirm = first_button(&warned);
    let sent = t.send(&t.button(&confirm, &[])).await;
    assert!(content(&sent).starts_with('✅'), "{sent}");
    assert_eq!(t.ours().await, 1);

    // Once the customer writes again, what came before no longer counts.
    t.h.advance("1m").await;
    t.h.say(&psid, "thanks!").await;
    t.h.tick().await;
    t.h.advance("25h").await;
    let again = t.command(
        "reply",
        json!([opt("text", "Anything else?")]),
        Some(thread),
    );
    let answer = t.send(&again).await;
    assert!(content(&answer).starts_with('✅'), "{answer}");
}

/// Review: "Send anyway" on the outside-sender warning was given when tagdesk had sent
/// no tagged message yet; it must not also stand for "the second tagged message in a
/// row (by tagdesk's own count)", a warning that agent was never shown. Two replies
/// are warned about the other app's message; the first is confirmed and goes; the
/// second's confirmation now lands on a second tagged message in a row (with the other
/// app's tagged message, the third: Meta answers 613 and warns the page).
#[tokio::test]
async fn send_anyway_on_the_outside_sender_warning_does_not_confirm_a_second_tag_in_a_row() {
    let t = Team::new().await;
    // Business Suite answered inside the window, with a tag (its echo doesn't say so).
    let (_, thread) = answered_from_outside(&t, Some("HUMAN_AGENT")).await;

    // Two replies, both warned about the other app's message only: tagdesk sent no
    // tagged message yet, so neither is "the second in a row" by its count.
    let a = t.command(
        "reply",
        json!([opt("text", "Your parcel left today.")]),
        Some(thread),
    );
    let b = t.command(
        "reply",
        json!([opt("text", "The refund is on its way.")]),
        Some(thread),
    );
    let warned_a = t.send(&a).await;
    let warned_b = t.send(&b).await;
    for w in [&warned_a, &warned_b] {
        assert!(content(w).starts_with("⚠️ Someone outside tagdesk"), "{w}");
        assert!(
            !content(w).contains("second tagged message in a row"),
            "{w}"
        );
    }

    let sent_a = t.send(&t.button(&first_button(&warned_a), &[])).await;
    assert!(content(&sent_a).starts_with('✅'), "{sent_a}");
    assert_eq!(t.ours().await, 1);

    // B's agent confirmed "this could be the next in a row" before A went; now it is
    // the second in a row by tagdesk's own count. That must be asked, not sent.
    let pressed_b = t.send(&t.button(&first_button(&warned_b), &[])).await;
    assert!(
        content(&pressed_b).starts_with('⚠'),
        "a second tagged message in a row went out on a confirmation given for another \
         warning: {pressed_b}"
    );
    assert_eq!(t.ours().await, 1, "only A's reached Meta");
}

#[tokio::test]
async fn send_anyway_pressed_twice_at_once_sends_once_and_removes_the_buttons() {
    let t = Team::new().await;
    let thread = expired_customer(&t).await;
    let first = t.command("reply", json!([opt("text", "First.")]), Some(thread));
    assert!(content(&t.send(&first).await).starts_with('✅'));
    let second = t.command("reply", json!([opt("text", "Second.")]), Some(thread));
    let warned = t.send(&second).await;
    assert!(content(&warned).starts_with('⚠'), "{warned}");
    let confirm = first_button(&warned);
    let park = confirm.replace("confirm:", "park:");
    let (press1, press2) = (t.button(&confirm, &[]), t.button(&confirm, &[]));
    let (x, y) = tokio::join!(t.send(&press1), t.send(&press2));
    for answer in [&x, &y] {
        assert_eq!(
            answer["type"], 7,
            "the answer replaces the buttons: {answer}"
        );
        assert!(answer["data"]["components"]
            .as_array()
            .is_none_or(Vec::is_empty));
    }
    // Park after Send anyway: the draft is finished, nothing is parked.
    let parked = t.send(&t.button(&park, &[])).await;
    assert!(content(&parked).starts_with('✅'), "{parked}");
    assert_eq!(t.sent().await.len(), 2, "first and second, once each");
    let store = &t.h.engine.store;
    let psid = store.thread_by_discord(thread).unwrap().unwrap().psid;
    assert!(store.parked(&psid).unwrap().is_empty());
}

#[tokio::test]
async fn the_inbox_ranks_conversations_waiting_for_an_answer_first() {
    let t = Team::new().await;
    // Ada wrote first, so her window closes first, but she has her answer.
    let (_, ada) = t.customer("Ada Lovelace").await;
    t.h.advance("1h").await;
    let (_, _) = t.customer("Grace Hopper").await;
    let reply = t.command("reply", json!([opt("text", "Here you go.")]), Some(ada));
    assert!(content(&t.send(&reply).await).starts_with('✅'));
    let inbox = t.send(&t.command("inbox", json!([]), None)).await;
    let text = inbox["data"]["embeds"][0]["description"].as_str().unwrap();
    let (grace, ada) = (
        text.find("Grace Hopper").unwrap(),
        text.find("Ada Lovelace").unwrap(),
    );
    assert!(grace < ada, "{text}");
}

#[tokio::test]
async fn the_inbox_lists_conversations_not_yet_in_discord_and_moves_one_to_the_front() {
    let t = Team::new().await;
    t.discord.set_outage(true);
    let mut psids = Vec::new();
    for name in ["Ada Lovelace", "Grace Hopper", "Edsger Dijkstra"] {
        let psid = t.h.customer(name).await;
        t.h.say(&psid, "hello?").await;
        t.h.advance("10m").await;
        psids.push(psid);
    }
    t.h.tick().await;
    let inbox = t.send(&t.command("inbox", json!([]), None)).await;
    let text = inbox["data"]["embeds"][0]["description"].as_str().unwrap();
    assert_eq!(text.matches("⏳ not in Discord yet").count(), 3, "{text}");
    let buttons: Vec<&str> = inbox["data"]["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(buttons.len(), 3, "{inbox}");
    // Edsger wrote last, so his window closes last: without the button he'd open last.
    let edsger = format!("front:{}", psids[2]);
    assert!(buttons.contains(&edsger.as_str()), "{buttons:?}");
    let pressed = t.send(&t.button(&edsger, &[])).await;
    assert!(
        content(&pressed).contains("goes to Discord next"),
        "{pressed}"
    );

    t.discord.set_outage(false);
    t.h.advance("1m").await;
    t.h.tick().await;
    let opened: Vec<String> = t.discord.threads().into_iter().map(|th| th.name).collect();
    assert_eq!(opened.len(), 3, "{opened:?}");
    assert!(opened[0].contains("Edsger"), "{opened:?}");
    assert!(opened[1].contains("Ada"), "{opened:?}");

    // Once it is in Discord, the inbox links it and offers no button.
    let inbox = t.send(&t.command("inbox", json!([]), None)).await;
    assert!(!inbox.to_string().contains("front:"), "{inbox}");
    let again = t.send(&t.button(&edsger, &[])).await;
    assert!(content(&again).contains("already in Discord"), "{again}");
}

// Discord's 3-second deadline. Commands stop waiting for Meta after 2 s, under the
// transports' 2.5 s deadline, so in virtual time a command only outlasts a deadline
// shorter than that: these tests answer within 1 s and make Meta take 1.5 s. Time is
// tokio's, paused: nothing really waits.

/// How long these tests give the bot before it must defer.
const SHORT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

impl Team {
    /// The same bot, deferring answers not ready within `deadline`.
    fn deadline(&mut self, deadline: std::time::Duration) {
        let public = hex::encode(self.key.verifying_key().to_bytes());
        self.app = interactions::router_within(
            self.h.engine.clone(),
            interactions::public_key(&public).unwrap(),
            deadline,
        );
    }

    /// Makes Meta answer the Send API `ms` milliseconds late.
    async fn meta_latency(&self, ms: u64) {
        self.h
            .admin("/_mock/faults", json!({ "latency_ms": ms }))
            .await;
    }

    /// The calls that finished interactions (edits and follow-ups), so far.
    fn interaction_calls(&self) -> Vec<bot::discord::recorder::Call> {
        self.discord
            .calls()
            .into_iter()
            .filter(|c| c.path.starts_with("/api/v10/webhooks/"))
            .collect()
    }

    /// Waits (in virtual time) for the deferred answer to reach Discord.
    async fn finished(&self) -> bot::discord::recorder::Call {
        for _ in 0..600 {
            if let Some(call) = self.interaction_calls().pop() {
                return call;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the deferred answer never reached Discord");
    }
}

/// Sends `interaction` and says how long (tokio time) the answer took.
async fn timed(t: &Team, interaction: &Value) -> (Value, std::time::Duration) {
    let start = tokio::time::Instant::now();
    let answer = t.send(interaction).await;
    (answer, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_reply_slower_than_the_deadline_is_deferred_then_edited_in() {
    let mut t = Team::new().await;
    let (_, thread) = t.customer("Ada Lovelace").await;
    t.deadline(SHORT_DEADLINE);
    t.meta_latency(1_500).await;

    let reply = t.command(
        "reply",
        json!([opt("text", "It ships today.")]),
        Some(thread),
    );
    let (answer, took) = timed(&t, &reply).await;
    assert_eq!(
        answer,
        json!({"type": 5, "data": {"flags": 64}}),
        "thinking…, for the agent alone"
    );
    assert!(
        took >= SHORT_DEADLINE && took < SHORT_DEADLINE * 3 / 2,
        "{took:?}"
    );
    assert!(t.interaction_calls().is_empty(), "nothing to edit in yet");

    // The send carries on, and its outcome replaces the "thinking…".
    let edit = t.finished().await;
    assert_eq!(edit.method, "PATCH");
    assert_eq!(edit.path, "/api/v10/webhooks/1/tok/messages/@original");
    assert_eq!(edit.body["content"], "✅ Sent as RESPONSE.");
    assert_eq!(edit.body["allowed_mentions"]["parse"], json!([]));
    assert!(edit.body.get("flags").is_none(), "fixed by the deferral");
    assert_eq!(edit.outcome, Ok(0));
    assert_eq!(t.interaction_calls().len(), 1, "one answer");
    let sent = t.sent().await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["request"]["message"]["text"], "It ships today.");

    // Discord retries nothing now, but if it did: the same outcome, no second send.
    t.meta_latency(0).await;
    let again = t.send(&reply).await;
    assert_eq!(content(&again), "✅ Sent as RESPONSE.");
    assert_eq!(t.sent().await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_fast_answer_goes_out_directly_within_the_deadline() {
    let t = Team::new().await;
    let (_, thread) = t.customer("Ada Lovelace").await;
    let reply = t.command("reply", json!([opt("text", "Right away.")]), Some(thread));
    let (answer, took) = timed(&t, &reply).await;
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(content(&answer), "✅ Sent as RESPONSE.");
    assert!(took < bot::discord::deadline::DEADLINE, "{took:?}");
    let status = t.send(&t.command("status", json!([]), None)).await;
    assert_eq!(status["type"], 4, "{status}");
    // Nothing is edited in later.
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    assert!(t.interaction_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_button_press_slower_than_the_deadline_is_deferred_then_its_message_edited() {
    let mut t = Team::new().await;
    let thread = expired_customer(&t).await;
    let first = t.command("reply", json!([opt("text", "First.")]), Some(thread));
    assert!(content(&t.send(&first).await).starts_with('✅'));
    let second = t.command("reply", json!([opt("text", "Second.")]), Some(thread));
    let warned = t.send(&second).await;
    assert!(content(&warned).starts_with('⚠'), "{warned}");
    let confirm = first_button(&warned);

    t.deadline(SHORT_DEADLINE);
    t.meta_latency(1_500).await;
    let (answer, took) = timed(&t, &t.button(&confirm, &[])).await;
    assert_eq!(
        answer,
        json!({"type": 6}),
        "the message stays as it is for now"
    );
    assert!(
        took >= SHORT_DEADLINE && took < SHORT_DEADLINE * 3 / 2,
        "{took:?}"
    );

    // The outcome replaces the message that held the buttons.
    let edit = t.finished().await;
    assert_eq!(edit.method, "PATCH");
    assert_eq!(edit.path, "/api/v10/webhooks/1/tok/messages/@original");
    let text = edit.body["content"].as_str().unwrap();
    assert!(text.starts_with("✅ Sent as HUMAN_AGENT"), "{text}");
    assert_eq!(edit.body["components"], json!([]), "the buttons are gone");
    assert_eq!(t.sent().await.len(), 2, "first and second, once each");
}

#[tokio::test(start_paused = true)]
async fn a_deferred_answer_waits_out_a_discord_outage() {
    let mut t = Team::new().await;
    let (_, thread) = t.customer("Ada Lovelace").await;
    t.deadline(SHORT_DEADLINE);
    t.meta_latency(1_500).await;
    t.discord.set_outage(true);
    let reply = t.command("reply", json!([opt("text", "Soon.")]), Some(thread));
    assert_eq!(t.send(&reply).await["type"], 5);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let failed = t.interaction_calls();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].outcome, Err(503));
    t.discord.set_outage(false);
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let calls = t.interaction_calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[1].outcome, Ok(0));
    assert_eq!(calls[1].body["content"], "✅ Sent as RESPONSE.");
}

#[tokio::test]
async fn the_inbox_ranks_more_conversations_than_it_reads_at_a_time() {
    use bot::store::{Changes, Thread};
    use messenger::window::CustomerAction;
    let t = Team::new().await;
    // 1,203 conversations straight into the store (more than two of triage's reads),
    // the one whose window closes first in the middle of the PSID order.
    let now = t.h.now();
    let threads = (0..1_203u32).map(|i| {
        let mut th = Thread {
            psid: format!("P{i:05}"),
            ..Thread::default()
        };
        let wrote = if i == 700 {
            now - jiff::SignedDuration::from_hours(23)
        } else {
            now - jiff::SignedDuration::from_mins(i64::from(i % 600))
        };
        th.state.customer_acted(CustomerAction::Message, wrote);
        th
    });
    t.h.engine
        .store
        .commit(&Changes {
            threads: threads.collect(),
            ..Changes::default()
        })
        .unwrap();
    let inbox = t.send(&t.command("inbox", json!([]), None)).await;
    let title = inbox["data"]["embeds"][0]["title"].as_str().unwrap();
    assert!(title.contains("1203 conversations"), "{title}");
    let text = inbox["data"]["embeds"][0]["description"].as_str().unwrap();
    assert!(
        text.lines().next().unwrap().contains("P00700"),
        "the most urgent first, wherever it was read: {text}"
    );
}
