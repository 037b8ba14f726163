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
        run: 1,
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

// ---------------------------------------------------------------------------------
// Review: ways a live session is played or recorded differently from what was done.
// ---------------------------------------------------------------------------------

/// A slash command as the gateway hands it over: `name` with `options`, typed by
/// `user` in `channel`.
fn slash(
    n: u64,
    user: u64,
    channel: u64,
    name: &str,
    options: &[(String, Value)],
) -> bot::commands::Invocation {
    interaction::parse(&json!({
        "id": format!("{}", 1_300_000_000_000_000_000u64 + n),
        "type": 2,
        "data": interaction_data(name, None, options),
        "token": "practice",
        "application_id": APP.to_string(),
        "channel_id": channel.to_string(),
        "member": {"user": {"id": user.to_string(), "username": "sam"}, "roles": [AGENTS.to_string()]},
    }))
    .unwrap()
}

/// A button pressed in `channel`.
fn press(n: u64, channel: u64, custom_id: &str) -> bot::commands::Invocation {
    interaction::parse(&json!({
        "id": format!("{}", 1_300_000_000_000_000_000u64 + n), "type": 3, "token": "practice",
        "application_id": APP.to_string(), "channel_id": channel.to_string(),
        "data": {"custom_id": custom_id, "component_type": 2},
        "member": {"user": {"id": TRAINEE.to_string(), "username": "sam"}, "roles": [AGENTS.to_string()]},
    }))
    .unwrap()
}

/// Starts `exercise` live for `trainee` in a fresh practice server, with a trainer's
/// door: the server, the front, the door and the running session.
fn start_live(
    exercise: std::path::PathBuf,
    trainee: &'static str,
) -> (
    Recorder,
    Front,
    Trainer,
    tokio::task::JoinHandle<anyhow::Result<tagdesk::train::session::Session>>,
) {
    let server = Recorder::new();
    let p = practice(&server);
    let (front, interactions) = Front::new(p.discord.clone());
    let (the_door, acts) = Trainer::new();
    let mut inbound = Inbound {
        interactions,
        trainer: Some((the_door.clone(), acts)),
    };
    let session = tokio::spawn(async move {
        let ex = exercise::load(&exercise).unwrap();
        live::session(&ex, trainee, &p, &mut inbound).await
    });
    (server, front, the_door, session)
}

fn training(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("training")
        .join(format!("{name}.toml"))
}

/// The `text` the bot sees for a played slash command, as the world hands it over.
fn text_the_bot_sees(played: &tagdesk::train::session::Played) -> Option<String> {
    let scenario_format::Action::Agent {
        action:
            scenario_format::command::AgentAction::Slash {
                command,
                sub,
                options,
            },
        ..
    } = &played.step.action
    else {
        return None;
    };
    let inv = interaction::parse(&json!({
        "id": "1", "type": 2, "token": "t", "application_id": "1",
        "data": interaction_data(command, sub.as_deref(), options),
        "member": {"user": {"id": "1", "username": "x"}, "roles": []},
    }))
    .unwrap();
    match inv.action {
        bot::commands::Action::Command { options, .. } => options
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// Promise 1 and 2: a reply whose text has the word `split:` in it ("we can split:
/// ...") is re-read as the `split` option, which isn't true or false, and `hear`'s
/// error ends the whole session: the trainee is told "The exercise ended before that
/// was played" and `tagdesk train` exits with an error.
#[tokio::test(start_paused = true)]
async fn a_reply_with_the_word_split_colon_does_not_end_the_session() {
    let (server, front, _door, session) = start_live(training("first-reply"), "sam");
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let text = "Hi Ada, order 20931 is late; we can split: one parcel today, one tomorrow.";
    let answer = front
        .answer(reply(1, TRAINEE, thread, text), APP)
        .await
        .body;
    assert_eq!(outcome_of(&answer), "sent", "{answer}");
    let s = session.await.unwrap();
    assert!(s.is_ok(), "the session ended: {:#}", s.unwrap_err());
}

/// Promise 1: the text the customer gets is what the trainee typed. The desk rebuilds
/// the command as `/reply text:...` and re-parses it, so a `text:` word in the reply
/// starts a second `text` option (the bot keeps the last: the customer gets only the
/// end of the reply), and runs of spaces are squeezed to one.
#[tokio::test(start_paused = true)]
async fn a_reply_with_the_word_text_colon_reaches_the_customer_whole() {
    let (server, front, _door, session) = start_live(training("first-reply"), "sam");
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let text = "Hi Ada,  order 20931 arrives tomorrow: the text: of our SMS has the tracking link.";
    let answer = front
        .answer(reply(1, TRAINEE, thread, text), APP)
        .await
        .body;
    assert_eq!(outcome_of(&answer), "sent", "{answer}");
    let s = session.await.unwrap().unwrap();
    let played = s
        .played
        .iter()
        .find(|p| matches!(p.origin, tagdesk::train::session::Origin::Trainee(_)))
        .expect("the reply was played");
    assert_eq!(
        text_the_bot_sees(played).as_deref(),
        Some(text),
        "what the world played (recorded as {:?})",
        played.step.action
    );
}

/// Promise 1: a reply with the word `customer:` in it is re-read with a `customer`
/// option (" number is on the label") naming nobody: the reply the trainee sent in
/// Ada's thread is refused ("which customer?") in the session and in its replay.
#[tokio::test(start_paused = true)]
async fn a_reply_with_the_word_customer_colon_is_sent_to_the_threads_customer() {
    let (server, front, _door, session) = start_live(training("first-reply"), "sam");
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let text = "Hi Ada, order 20931 arrives tomorrow. Your customer: number is on the label.";
    let answer = front
        .answer(reply(1, TRAINEE, thread, text), APP)
        .await
        .body;
    let s = session.await.unwrap().unwrap();
    let played: Vec<_> = s
        .played
        .iter()
        .filter(|p| matches!(p.origin, tagdesk::train::session::Origin::Trainee(_)))
        .map(|p| &p.step.action)
        .collect();
    assert_eq!(outcome_of(&answer), "sent", "{answer}\nplayed: {played:#?}");
}

/// Promise 1: a press is recorded (and played) as `press KIND`, the first button of
/// that kind under the answer. On /inbox's second page "◀ Previous" (`inbox:all:0`)
/// and "Next ▶" (`inbox:all:2`) are both `inbox`: pressing Next plays Previous, and
/// the trainee is shown page 1 again.
#[tokio::test(start_paused = true)]
async fn pressing_next_on_the_inbox_plays_next_not_the_first_inbox_button() {
    let dir = std::env::temp_dir().join(format!("tagdesk-review-inbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ex = String::from(
        "name = \"big-inbox\"\ngoal = \"Page through a long inbox.\"\ndescription = \"25 customers at once.\"\nstart = \"2026-11-16T09:00:00Z\"\nrules = \"meta-2026\"\nends = \"1d\"\n",
    );
    for i in 1..=25 {
        ex.push_str(&format!("\n[customers.c{i:02}]\nname = \"Customer {i}\"\n"));
    }
    for i in 1..=25 {
        ex.push_str(&format!(
            "\n[[step]]\nat = \"{i}s\"\ncustomer = \"c{i:02}\"\nsays = \"Question number {i}\"\n"
        ));
    }
    let file = dir.join("big-inbox.toml");
    std::fs::write(&file, ex).unwrap();
    let (server, front, _door, session) = start_live(file, "sam");
    until(&server, |s| (s.threads().len() >= 25).then_some(())).await;

    let inbox = front
        .answer(slash(1, TRAINEE, CHANNEL, "inbox", &[]), APP)
        .await
        .body;
    assert!(inbox.to_string().contains("page 1/3"), "{inbox}");
    let page2 = front
        .answer(press(2, CHANNEL, "inbox:all:1"), APP)
        .await
        .body;
    assert!(page2.to_string().contains("page 2/3"), "{page2}");
    assert!(page2.to_string().contains("inbox:all:2"), "{page2}");
    let page3 = front
        .answer(press(3, CHANNEL, "inbox:all:2"), APP)
        .await
        .body;
    let _ = session.await;
    let _ = std::fs::remove_dir_all(&dir);
    let title = page3["data"]["embeds"][0]["title"].clone();
    assert!(
        page3.to_string().contains("page 3/3"),
        "pressed Next ▶ (inbox:all:2) on page 2, shown: {title}"
    );
}

/// Promise 1: the trainee's name in tagdesk-training.toml is free text (the scripted
/// trainee file refuses anything but a plain name); a name with a space is written
/// unquoted as `[agents.Sam Smith]`, and the recorded session isn't a scenario.
#[tokio::test(start_paused = true)]
async fn a_session_of_a_trainee_named_with_a_space_replays() {
    let (server, front, _door, session) = start_live(training("first-reply"), "Sam Smith");
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let answer = front
        .answer(
            reply(1, TRAINEE, thread, "Hi Ada, order 20931 arrives tomorrow."),
            APP,
        )
        .await
        .body;
    assert_eq!(outcome_of(&answer), "sent", "{answer}");
    let s = session.await.unwrap().unwrap();
    let dir = std::env::temp_dir().join(format!("tagdesk-review-name-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("live.toml");
    std::fs::write(&file, &s.recorded).unwrap();
    let loaded = scenario::load(&file);
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.unwrap_or_else(|e| panic!("the recorded session doesn't load: {e}"));
    let replayed = run::run(&loaded, 1, &mut || {}).await;
    assert!(replayed.passed(), "{:#?}", replayed.failures);
}

/// Promise 3 and 2: the trainer's door takes another app's send with any `tag`
/// string; one mock-graph would refuse with 400 (`SALE` is no tag) makes the step's
/// replay fail in `apply`, and that error ends the trainee's whole session.
#[tokio::test(start_paused = true)]
async fn a_trainers_send_with_a_bad_tag_is_refused_not_the_end_of_the_session() {
    let (server, front, the_door, session) = start_live(training("first-reply"), "sam");
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let (_, customers) = door(&the_door, Method::GET, "/_mock/customers", None).await;
    let psid = customers["data"][0]["psid"].as_str().unwrap().to_owned();
    let (status, why) = door(
        &the_door,
        Method::POST,
        "/_mock/other-app/sends",
        Some(json!({"psid": psid, "text": "Black Friday: 30% off!", "tag": "SALE"})),
    )
    .await;
    assert_eq!(status, 400, "{why}");
    let answer = front
        .answer(
            reply(1, TRAINEE, thread, "Hi Ada, order 20931 arrives tomorrow."),
            APP,
        )
        .await
        .body;
    assert_eq!(outcome_of(&answer), "sent", "{answer}");
    let s = session.await.unwrap();
    assert!(s.is_ok(), "the session ended: {:#}", s.unwrap_err());
}

/// Promise 3: mock-graph refuses an admin body with a key it doesn't know (a typo,
/// `tga`); the trainer's door plays it as a send without a tag instead: a write
/// other than the one asked for, applied and recorded as if asked.
#[tokio::test(start_paused = true)]
async fn a_trainers_write_with_a_mistyped_key_is_refused_as_mock_graph_would() {
    let (server, _front, the_door, session) = start_live(training("first-reply"), "sam");
    until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let (_, customers) = door(&the_door, Method::GET, "/_mock/customers", None).await;
    let psid = customers["data"][0]["psid"].as_str().unwrap().to_owned();
    let (status, played) = door(
        &the_door,
        Method::POST,
        "/_mock/other-app/sends",
        Some(json!({"psid": psid, "text": "Your invoice is ready.", "tga": "ACCOUNT_UPDATE"})),
    )
    .await;
    session.abort();
    assert_eq!(
        status, 400,
        "mock-graph refuses unknown fields; the door played: {played}"
    );
}

/// Promise 3: another app's broadcast (`recipients`, as mock-graph's admin API takes
/// it) goes through the door as one send to `psid`: the broadcast asked for is not
/// what is applied and recorded, and nothing says so.
#[tokio::test(start_paused = true)]
async fn a_trainers_broadcast_is_recorded_as_a_broadcast_or_refused() {
    let (server, _front, the_door, session) = start_live(training("monday-backlog"), "sam");
    until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let (_, customers) = door(&the_door, Method::GET, "/_mock/customers", None).await;
    let psid = customers["data"][0]["psid"].as_str().unwrap().to_owned();
    let (status, played) = door(
        &the_door,
        Method::POST,
        "/_mock/other-app/sends",
        Some(json!({"psid": psid, "text": "Spring sale!", "recipients": 3})),
    )
    .await;
    if status == 200 {
        let s = session.await.unwrap().unwrap();
        assert!(
            s.recorded.contains("other_app_recipients = 3"),
            "a broadcast to 3 was asked; played {played}, recorded:\n{}",
            s.recorded
        );
    } else {
        session.abort();
        assert!((400..500).contains(&status), "{status} {played}");
    }
}

/// Promise 5: a speed that stops the clock is reported "where it is written" by
/// searching the text for the first `speed`: in the shipped example, that is the
/// comment above it ("...runs at `speed` virtual seconds..."), four lines too early.
#[test]
fn a_bad_speed_in_the_example_config_names_its_own_line() {
    use tagdesk::train::live_config::TrainingConfig;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("tagdesk-training.example.toml")).unwrap();
    let text = example.replace("speed = 60", "speed = 0");
    let line = text
        .lines()
        .position(|l| l.starts_with("speed = 0"))
        .unwrap()
        + 1;
    let e = TrainingConfig::parse(Path::new("t.toml"), &text).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("t.toml:{line}:1: speed must be")),
        "speed = 0 is on line {line}: {e}"
    );
}

/// Promise 4 and 5: any finite positive speed is taken; a very large one (1e15
/// virtual seconds per real second) overflows the clock's arithmetic in `pace::next`
/// and the session panics, where the clock should stop at the next event or the end.
#[test]
fn a_huge_speed_runs_to_the_end_instead_of_panicking() {
    use tagdesk::train::live_config::TrainingConfig;
    use tagdesk::train::pace::{self, Move, Situation};
    let config = "trainee = \"sam\"\nspeed = 1e15\n\n[discord]\napplication_id = 1\nguild_id = 2\nchannel_id = 3\n";
    let Ok(c) = TrainingConfig::parse(Path::new("t.toml"), config) else {
        return; // Refused: fine.
    };
    let at = Situation {
        now: "2026-11-20T09:00:00Z".parse().unwrap(),
        next_event: None,
        waiting: true,
        ends: "2026-11-22T09:00:00Z".parse().unwrap(),
    };
    let moved =
        std::panic::catch_unwind(|| pace::next(&c.pace(), &at, SignedDuration::from_millis(250)));
    assert_eq!(
        moved.map_err(|p| p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))),
        Ok(Move::To(at.ends))
    );
}

/// Promise 2: two commands the trainee sends at the same instant, after the clock
/// has jumped to the end ("Nothing more happens: the exercise ends. ⏩"): the loop
/// still plays one (at the end instant, recorded) and then ends, so the other is
/// refused. Either both count or neither does.
#[tokio::test(start_paused = true)]
async fn two_commands_at_the_same_instant_at_the_end_share_one_fate() {
    let (server, front, _door, session) = start_live(training("first-reply"), "sam");
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let first = front
        .answer(
            reply(1, TRAINEE, thread, "Hi Ada, order 20931 arrives tomorrow."),
            APP,
        )
        .await
        .body;
    assert_eq!(outcome_of(&first), "sent", "{first}");
    until(&server, |s| shown(s).contains("invoice?").then_some(())).await;
    let second = front
        .answer(
            reply(
                2,
                TRAINEE,
                thread,
                "The invoice is in your account under Orders.",
            ),
            APP,
        )
        .await
        .body;
    assert_eq!(outcome_of(&second), "sent", "{second}");
    until(&server, |s| {
        shown(s).contains("the exercise ends").then_some(())
    })
    .await;
    let (a, b) = tokio::join!(
        front.answer(slash(3, TRAINEE, thread, "status", &[]), APP),
        front.answer(slash(4, TRAINEE, thread, "status", &[]), APP),
    );
    let s = session.await.unwrap().unwrap();
    let after: Vec<&str> = s
        .played
        .iter()
        .filter(|p| matches!(p.origin, tagdesk::train::session::Origin::Trainee(_)))
        .skip(2)
        .filter_map(|p| match &p.step.action {
            scenario_format::Action::Agent { typed, .. } => Some(typed.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        after.len() != 1,
        "one of two simultaneous commands was played, the other not: played {after:?}; answers {} / {}",
        a.body,
        b.body
    );
}

/// Promise 2: what the session says in the channel (the exercise's announcement, the
/// jumps, the scorecard) carries nonces made from the exercise's name and a count, the
/// same every time the exercise runs; Discord (with `enforce_nonce`, as the recorder)
/// returns the earlier message instead of posting, so a trainee who takes the same
/// exercise again within minutes sees no announcement and no scorecard.
#[tokio::test(start_paused = true)]
async fn an_exercise_taken_twice_is_announced_and_scored_twice() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = Recorder::new();
    let p = practice(&server);
    let (_front, interactions) = Front::new(p.discord.clone());
    let mut inbound = Inbound {
        interactions,
        trainer: None,
    };
    let ex = exercise::load(&root.join("training/first-reply.toml")).unwrap();
    for _ in 0..2 {
        live::session(&ex, "sam", &p, &mut inbound).await.unwrap();
    }
    let said: Vec<String> = server
        .messages_in(CHANNEL)
        .iter()
        .filter_map(|m| m.body["content"].as_str().map(str::to_owned))
        .collect();
    let intros = said
        .iter()
        .filter(|m| m.starts_with("🎓 **Exercise: first-reply**"))
        .count();
    let cards = said.iter().filter(|m| m.contains("Score:")).count();
    assert_eq!((intros, cards), (2, 2), "{said:#?}");
}

/// Clock (issue 14: "jumps ahead when nothing is waiting for the trainee"): a
/// customer who blocked the page is one the trainee must leave alone (task "leave"),
/// but her last message counts as waiting for ever, so once Ben is answered the clock
/// never jumps: the rest of blocked-and-handover (a day and more) runs in real time
/// at `speed`, 30+ minutes of nothing at the default pace.
#[tokio::test]
async fn a_blocked_customer_left_alone_does_not_hold_the_clock() {
    use tagdesk::train::session::Desk;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ex = exercise::load(&root.join("training/blocked-and-handover.toml")).unwrap();
    let mut desk = Desk::open(&ex, "sam").await.unwrap();
    // Ben is handed back at 1h 50m; he is answered at 2h.
    desk.run_until(desk.start() + SignedDuration::from_hours(2))
        .await
        .unwrap();
    let typed = "/reply text:Hi Ben, sorry for the wait: booking B-118 is confirmed.";
    let action =
        scenario_format::command::parse(typed, Some(&bot::commands::definitions::all())).unwrap();
    let played = desk.act(Some("ben".into()), typed, action).await.unwrap();
    assert_eq!(played.outcome, Some("sent"), "{:?}", played.answer);
    desk.run_until(desk.start() + SignedDuration::from_hours(3))
        .await
        .unwrap();
    assert!(
        !desk.waiting().unwrap(),
        "Ben is answered and Ada blocked the page: nothing waits for the trainee, yet the clock won't jump"
    );
}

/// Promise 1: the Reply form (a modal) is recorded and played as `/reply text:...`,
/// but the bot treats them differently: `/reply` reads a text that is `/NAME` as the
/// snippet NAME, the form sends what was typed. A trainee who types "/ship" in the
/// form sends "/ship" in production; the session sends (and records) the snippet.
#[tokio::test(start_paused = true)]
async fn the_reply_form_is_played_as_the_form_not_as_slash_reply() {
    let (server, front, the_door, session) = start_live(training("first-reply"), "sam");
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    let (_, customers) = door(&the_door, Method::GET, "/_mock/customers", None).await;
    let psid = customers["data"][0]["psid"].as_str().unwrap().to_owned();
    let add = interaction::parse(&json!({
        "id": "1300000000000000001", "type": 2, "token": "practice",
        "application_id": APP.to_string(), "channel_id": thread.to_string(),
        "data": interaction_data("snippet", Some("add"), &[
            ("name".into(), json!("ship")),
            ("text".into(), json!("Orders ship within 2 working days.")),
        ]),
        "member": {"user": {"id": TRAINEE.to_string(), "username": "sam"}, "roles": [AGENTS.to_string()]},
    }))
    .unwrap();
    let saved = front.answer(add, APP).await.body;
    assert!(saved.to_string().contains("ship"), "{saved}");
    let form = interaction::parse(&json!({
        "id": "1300000000000000002", "type": 5, "token": "practice",
        "application_id": APP.to_string(), "channel_id": thread.to_string(),
        "data": {"custom_id": format!("reply-modal:{psid}"), "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "/ship"}]}]},
        "member": {"user": {"id": TRAINEE.to_string(), "username": "sam"}, "roles": [AGENTS.to_string()]},
    }))
    .unwrap();
    let answer = front.answer(form, APP).await.body;
    let (_, sent) = door(&the_door, Method::GET, "/_mock/sent", None).await;
    session.abort();
    let sent = sent.to_string();
    assert!(
        !sent.contains("Orders ship within 2 working days."),
        "the form's \"/ship\" went out as the snippet: {answer}\n{sent}"
    );
}

/// Promise 2: autocomplete can't be deferred, and must be answered with choices
/// (type 8). One typed between exercises waits for the next exercise to start (no
/// deadline) and is then answered with a message (type 4), which Discord refuses.
#[tokio::test(start_paused = true)]
async fn autocomplete_between_exercises_is_answered_with_choices() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = Recorder::new();
    let p = practice(&server);
    let (front, interactions) = Front::new(p.discord.clone());
    let mut inbound = Inbound {
        interactions,
        trainer: None,
    };
    let typing = interaction::parse(&json!({
        "id": "1300000000000000001", "type": 4, "token": "practice",
        "application_id": APP.to_string(), "channel_id": CHANNEL.to_string(),
        "data": {"name": "reply", "options": [{"name": "snippet", "type": 3, "value": "sh", "focused": true}]},
        "member": {"user": {"id": TRAINEE.to_string(), "username": "sam"}, "roles": [AGENTS.to_string()]},
    }))
    .unwrap();
    let asked = tokio::spawn(async move { front.answer(typing, APP).await.body });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let session = tokio::spawn(async move {
        let ex = exercise::load(&root.join("training/first-reply.toml")).unwrap();
        live::session(&ex, "sam", &p, &mut inbound).await
    });
    let answer = asked.await.unwrap();
    session.abort();
    assert_eq!(answer["type"], 8, "{answer}");
}

/// Promise 4 (and 1): the loop decides to jump without looking at what has arrived.
/// In monday-backlog, two replies to Dan (whose window is open) arrive at the same
/// instant, both queued: the first is played, nothing then waits, the clock jumps to
/// Eve's message five days on, and only then is the second played (and recorded),
/// where Dan's 24 hours have long closed (it goes as HUMAN_AGENT).
#[tokio::test(start_paused = true)]
async fn a_command_that_arrives_as_the_clock_jumps_is_played_before_the_jump() {
    let (server, front, _door, session) = start_live(training("monday-backlog"), "sam");
    let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
    // Both arrive at the same instant: both are in the session's queue before it
    // plays the first.
    let (first, second) = tokio::join!(
        front.answer(
            reply(
                1,
                TRAINEE,
                thread,
                "Hi Dan, yes: the blue kettle is in stock."
            ),
            APP,
        ),
        front.answer(
            reply(2, TRAINEE, thread, "Shall I reserve one for you?"),
            APP
        ),
    );
    let (first, second) = (first.body, second.body);
    assert_eq!(outcome_of(&first), "sent", "{first}");
    session.abort();
    let jumped: Vec<String> = server
        .messages_in(CHANNEL)
        .iter()
        .filter_map(|m| m.body["content"].as_str().map(str::to_owned))
        .filter(|m| m.ends_with("⏩"))
        .collect();
    assert!(
        second["data"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("Sent as RESPONSE")),
        "arrived with the first reply, inside Dan's 24 hours; jumps: {jumped:?}; answer: {second}"
    );
}

/// Promise 3 (a read that writes): the door passes every GET to mock-graph
/// unrecorded, but a Graph GET that fails (no token) draws an `fbtrace_id` from the
/// world's seeded ids, so every message id after it differs from the one the replay
/// (which never saw the GET) draws: the session's world is no longer its record's.
#[tokio::test(start_paused = true)]
async fn a_trainers_read_leaves_the_world_as_its_record_replays_it() {
    let mut ids = Vec::new();
    for read_first in [false, true] {
        let (server, front, the_door, session) = start_live(training("first-reply"), "sam");
        let thread = until(&server, |s| s.threads().first().map(|t| t.id)).await;
        if read_first {
            let (status, _) = door(
                &the_door,
                Method::GET,
                "/v21.0/me/conversations?platform=messenger",
                None,
            )
            .await;
            assert_ne!(status, 200, "the read failed, as meant");
        }
        let answer = front
            .answer(
                reply(1, TRAINEE, thread, "Hi Ada, order 20931 arrives tomorrow."),
                APP,
            )
            .await
            .body;
        assert_eq!(outcome_of(&answer), "sent", "{answer}");
        let (_, sent) = door(&the_door, Method::GET, "/_mock/sent", None).await;
        session.abort();
        ids.push(sent["data"][0]["sent"]["message_id"].clone());
    }
    assert_eq!(
        ids[0], ids[1],
        "the reply's message id, without and with the trainer's read before it"
    );
}
