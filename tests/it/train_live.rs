//! Live training (`tagdesk train --config`): a session in a practice server, the
//! trainee's commands arriving as the gateway hands them over, on tokio's paused clock
//! (the loop's "real" time passes only when everything waits).
//!
//! The practice server is a recording Discord here: what the trainee would see in
//! it (the exercise's announcement, the customer's thread, the bot's answers, the
//! scorecard) is read back from it. The gateway itself is tested in the bot's
//! `gateway.rs`; here interactions reach the session through the same `Answerer`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use bot::commands::interaction;
use bot::discord::recorder::Recorder;
use bot::gateway::Answerer;
use jiff::SignedDuration;
use scenario_format::command::interaction_data;
use serde_json::{json, Value};
use tagdesk::scenario::{self, expect::outcome_of, run};
use tagdesk::train::live::{self, Front, Inbound, Practice};
use tagdesk::train::pace::Pace;
use tagdesk::train::trainer::{self, Trainer};
use tagdesk::train::{card, exercise};
use tower::ServiceExt as _;

const CHANNEL: u64 = 4_200;
const TRAINEE: u64 = 777;
const AGENTS: u64 = 902;
const APP: u64 = 1;

fn practice(server: &Recorder) -> Practice {
    Practice {
        discord: Arc::new(server.clone()),
        channel: CHANNEL,
        // 10 virtual minutes per second: a beat of the loop is 2.5 virtual minutes.
        pace: Pace {
            speed: 600.0,
            jump_over: SignedDuration::from_mins(15),
        },
        agent_role: Some(AGENTS),
        trainee_user: Some(TRAINEE),
    }
}

/// `/reply text:…` typed in `thread` by `user`, as the gateway hands it over.
fn reply(n: u64, user: u64, thread: u64, text: &str) -> bot::commands::Invocation {
    interaction::parse(&json!({
        "id": format!("{}", 1_300_000_000_000_000_000u64 + n),
        "type": 2,
        "data": interaction_data("reply", None, &[("text".into(), json!(text))]),
        "token": "practice",
        "application_id": APP.to_string(),
        "channel_id": thread.to_string(),
        "member": {"user": {"id": user.to_string(), "username": "sam"}, "roles": [AGENTS.to_string()]},
    }))
    .unwrap()
}

/// Waits (on the paused clock) until `found` holds in the practice server.
async fn until<T>(server: &Recorder, mut found: impl FnMut(&Recorder) -> Option<T>) -> T {
    for _ in 0..2_000 {
        if let Some(t) = found(server) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {:#?}", server.messages());
}

fn shown(server: &Recorder) -> String {
    serde_json::to_string(
        &server
            .messages()
            .iter()
            .map(|m| &m.body)
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_live_trainee_answers_in_the_practice_server_and_the_session_replays() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = Recorder::new();
    let p = practice(&server);
    let (front, interactions) = Front::new(p.discord.clone());
    let mut inbound = Inbound {
        interactions,
        trainer: None,
    };
    let session = tokio::spawn({
        let p = p.clone();
        async move {
            let ex = exercise::load(&root.join("training/first-reply.toml")).unwrap();
            live::session(&ex, "sam", &p, &mut inbound).await.unwrap()
        }
    });

    // The exercise is announced, then Ada's conversation opens as a thread.
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let intro = &server.messages_in(CHANNEL)[0].body["content"];
    assert!(
        intro
            .as_str()
            .unwrap()
            .starts_with("🎓 **Exercise: first-reply**"),
        "{intro}"
    );
    assert!(
        shown(&server).contains("order 20931"),
        "Ada's message is in the thread"
    );

    // Someone else's command doesn't count.
    let other = front.answer(reply(1, 555, thread, "Hi!"), APP).await.body;
    assert!(
        other["data"]["content"]
            .as_str()
            .unwrap()
            .contains("sam's session"),
        "{other}"
    );

    // The trainee answers; Ada asks for the invoice; the trainee answers that too.
    let answer = |n, text: &'static str| {
        let front = front.clone();
        async move {
            front
                .answer(reply(n, TRAINEE, thread, text), APP)
                .await
                .body
        }
    };
    let first = answer(
        2,
        "Hi Ada, sorry for the wait: order 20931 arrives tomorrow.",
    )
    .await;
    assert_eq!(outcome_of(&first), "sent", "{first}");
    until(&server, |s| shown(s).contains("invoice?").then_some(())).await;
    let second = answer(
        3,
        "The invoice is in your account under Orders. Anything else?",
    )
    .await;
    assert_eq!(outcome_of(&second), "sent", "{second}");

    let s = session.await.unwrap();
    assert!(s.scorecard.full_marks(), "{}", card::markdown(&s.scorecard));
    // The quiet day after was jumped, with a word, and the scorecard posted.
    let said: Vec<String> = server
        .messages_in(CHANNEL)
        .iter()
        .filter_map(|m| m.body["content"].as_str().map(str::to_owned))
        .collect();
    assert!(said.iter().any(|m| m.ends_with("⏩")), "{said:#?}");
    assert!(
        said.last().unwrap().contains("Score: 15 / 15"),
        "the scorecard closes the exercise: {said:#?}"
    );
    // The session is a scenario: the trainee's two replies at their virtual instants.
    let trainee_steps: Vec<_> = s
        .played
        .iter()
        .filter(|p| matches!(p.origin, tagdesk::train::session::Origin::Trainee(_)))
        .collect();
    assert_eq!(
        trainee_steps.len(),
        2,
        "only the trainee's own commands are played"
    );
    let dir = std::env::temp_dir().join(format!("tagdesk-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("live.toml");
    std::fs::write(&file, &s.recorded).unwrap();
    let replayed = run::run(&scenario::load(&file).unwrap(), 1, &mut || {}).await;
    assert!(
        replayed.passed(),
        "{:#?}\n{}",
        replayed.failures,
        s.recorded
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(start_paused = true)]
async fn a_button_under_an_earlier_answer_is_refused_not_played() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = Recorder::new();
    let p = practice(&server);
    let (front, interactions) = Front::new(p.discord.clone());
    let mut inbound = Inbound {
        interactions,
        trainer: None,
    };
    let session = tokio::spawn({
        let p = p.clone();
        async move {
            let ex = exercise::load(&root.join("training/first-reply.toml")).unwrap();
            live::session(&ex, "sam", &p, &mut inbound).await.unwrap()
        }
    });
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let press: Value = json!({
        "id": "1300000000000000009", "type": 3, "token": "practice",
        "application_id": APP.to_string(), "channel_id": thread.to_string(),
        "data": {"custom_id": "park:somewhere", "component_type": 2},
        "member": {"user": {"id": TRAINEE.to_string(), "username": "sam"}, "roles": [AGENTS.to_string()]},
    });
    let answer = front
        .answer(interaction::parse(&press).unwrap(), APP)
        .await
        .body;
    assert!(
        answer["data"]["content"]
            .as_str()
            .unwrap()
            .contains("earlier answer"),
        "{answer}"
    );
    let s = session.await.unwrap();
    assert!(
        !s.played
            .iter()
            .any(|p| matches!(p.origin, tagdesk::train::session::Origin::Trainee(_))),
        "nothing the trainee did was played"
    );
}

/// A request to the trainer's door; its status and JSON.
async fn door(t: &Trainer, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let r = t
        .router()
        .oneshot(trainer::request(method, path, body))
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(start_paused = true)]
async fn a_trainer_plays_the_customer_through_the_admin_api_and_it_is_recorded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = Recorder::new();
    let p = practice(&server);
    let (front, interactions) = Front::new(p.discord.clone());
    let (the_door, acts) = Trainer::new();
    let mut inbound = Inbound {
        interactions,
        trainer: Some((the_door.clone(), acts)),
    };
    let (closed, _) = door(&the_door, Method::GET, "/_mock/customers", None).await;
    assert_eq!(closed, 503, "no exercise is running yet");
    let session = tokio::spawn({
        let p = p.clone();
        async move {
            let ex = exercise::load(&root.join("training/first-reply.toml")).unwrap();
            live::session(&ex, "sam", &p, &mut inbound).await.unwrap()
        }
    });
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;

    // The trainer sees the exercise's mock-graph, and has Ada write again.
    let (status, customers) = door(&the_door, Method::GET, "/_mock/customers", None).await;
    assert_eq!(status, 200);
    let (inspector, _) = door(&the_door, Method::GET, "/", None).await;
    assert_eq!(inspector, 200, "the inspector is served too");
    let psid = customers["data"][0]["psid"].as_str().unwrap().to_owned();
    let says = json!({"text": "Also: can the parcel go to my office instead?"});
    let (status, played) = door(
        &the_door,
        Method::POST,
        &format!("/_mock/customers/{psid}/messages"),
        Some(says),
    )
    .await;
    assert_eq!(status, 200, "{played}");
    assert_eq!(played["played"], "ada");
    until(&server, |s| shown(s).contains("to my office").then_some(())).await;
    // What a record couldn't replay is refused, with why.
    let (status, why) = door(
        &the_door,
        Method::POST,
        "/_mock/clock",
        Some(json!({"advance": "1d"})),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        why["error"].as_str().unwrap().contains("moving the clock"),
        "{why}"
    );

    let text = "Hi Ada: it arrives tomorrow, and yes, we'll send it to your office.";
    let answer = front
        .answer(reply(1, TRAINEE, thread, text), APP)
        .await
        .body;
    assert_eq!(outcome_of(&answer), "sent", "{answer}");
    let s = session.await.unwrap();
    assert!(
        s.recorded
            .contains("# the trainer, playing the customer live\n[[step]]"),
        "{}",
        s.recorded
    );
    assert!(s
        .recorded
        .contains("says = \"Also: can the parcel go to my office instead?\""));
    let dir = std::env::temp_dir().join(format!("tagdesk-live-trainer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("live.toml");
    std::fs::write(&file, &s.recorded).unwrap();
    let replayed = run::run(&scenario::load(&file).unwrap(), 1, &mut || {}).await;
    assert!(
        replayed.passed(),
        "{:#?}\n{}",
        replayed.failures,
        s.recorded
    );
    let _ = std::fs::remove_dir_all(&dir);
    let (status, _) = door(&the_door, Method::GET, "/_mock/customers", None).await;
    assert_eq!(status, 503, "the door closes with the exercise");
}
