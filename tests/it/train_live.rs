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
    let (server, front, _door, session) = start_live(training("first-reply"), "sam");

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

    let s = session.await.unwrap().unwrap();
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
    assert_replays(&s.recorded).await;
}

#[tokio::test(start_paused = true)]
async fn a_button_under_an_earlier_answer_is_refused_not_played() {
    let (server, front, _door, session) = start_live(training("first-reply"), "sam");
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
    let s = session.await.unwrap().unwrap();
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
    let (server, front, the_door, session) = start_live(training("first-reply"), "sam");
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
    let s = session.await.unwrap().unwrap();
    assert!(
        s.recorded
            .contains("# the trainer, playing the customer live\n[[step]]"),
        "{}",
        s.recorded
    );
    assert!(s
        .recorded
        .contains("says = \"Also: can the parcel go to my office instead?\""));
    assert_replays(&s.recorded).await;
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

/// Replays a recorded session as `tagdesk scenario run` would, and asserts it holds.
async fn assert_replays(recorded: &str) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tagdesk-live-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("live.toml");
    std::fs::write(&file, recorded).unwrap();
    let loaded = scenario::load(&file);
    let _ = std::fs::remove_dir_all(&dir);
    let loaded = loaded.unwrap_or_else(|e| panic!("the recorded session doesn't load: {e}"));
    let replayed = run::run(&loaded, 1, &mut || {}).await;
    assert!(replayed.passed(), "{:#?}\n{recorded}", replayed.failures);
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

/// A reply whose text has the word `split:` in it ("we can split: ...") is sent as
/// typed: its options are taken as Discord sent them, never re-read from text.
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

/// The text the customer gets is what the trainee typed, a `text:` word and runs of
/// spaces included, and the recorded step (an `options` table) replays it whole.
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

/// A reply with the word `customer:` in it goes to the thread's customer: no option
/// is read out of the text.
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

/// A press is played and recorded as the button pressed (`press inbox:all:2`), not
/// the first of its kind: Next on /inbox's second page shows page 3.
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

/// A trainee's name that isn't a bare TOML key (the configuration refuses one; this
/// goes round it) is quoted in the recording, which loads and replays.
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
    assert_replays(&s.recorded).await;
}

/// Another app's send with a tag that doesn't exist (`SALE`) is refused at the
/// trainer's door with 400, as mock-graph would; the trainee's session goes on.
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

/// The door refuses an admin body with a key it doesn't know (a typo, `tga`), as
/// mock-graph does, instead of playing a different write.
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

/// Another app's broadcast (`recipients`) is played and recorded as a broadcast.
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

/// A speed that stops the clock is reported on the line of the `speed` key, not on a
/// comment that mentions it.
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

/// A huge speed is refused by the configuration; given anyway, the clock stops at the
/// next event or the end instead of overflowing.
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

/// Two commands sent at the same instant after the clock has jumped to the end are
/// both played at the end instant: what arrived is played before the session ends.
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

/// What a session says in the channel carries nonces of its own run and session, so
/// an exercise taken again within minutes is announced and scored again (Discord would
/// answer a repeated nonce with the earlier message).
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

/// A customer who blocked the page waits for nobody: once the others are answered
/// the clock jumps ("jumps ahead when nothing is waiting for the trainee").
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

/// The Reply form (a modal) is played and recorded as the form (`submit
/// reply-modal:PSID`): "/ship" typed in the form goes as typed, where `/reply` would
/// read it as the snippet `ship`.
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

/// Autocomplete typed between exercises is answered in time with (empty) choices,
/// type 8, the only answer Discord takes for it.
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

/// Commands that arrived while the clock ran are played before it moves again: two
/// replies to Dan at one instant both go inside his 24 hours, not one of them after a
/// jump five days on.
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

/// The trainer reads the inspector and `/_mock/`, never the Graph API: a failed Graph
/// read would draw from the world's seeded ids, and the world would no longer be the
/// one its record replays.
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
