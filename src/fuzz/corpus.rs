//! Valid inputs to start from, one set per target.
//!
//! Webhook deliveries are made by mock-graph itself (customers writing, pressing,
//! reacting, reading; the page answering; another app's promotional tagged sends), so
//! they are byte for byte what Meta's emulator signs. Interactions are the commands the
//! scenarios type, built as the scenario runner builds them. Scenario files and the
//! configuration are the repository's own, read at run time so that new ones join.

use std::path::Path;

use messenger::wire::send::MidRef;
use messenger::wire::{Attachment, Message, MessagingType, QuickReply, Recipient, SendRequest};
use messenger::Tag;
use mock_graph::Platform;
use serde_json::{json, Value};

use super::{Input, Target};

/// The page token mock-graph's defaults expect.
pub fn page_token() -> String {
    mock_graph::Settings::defaults().page_token
}

/// The PSIDs the fuzzing worlds' first two customers get: ids come from the seed, so
/// a platform started the same way gives the same ones.
pub fn customers() -> [String; 2] {
    let mut p = Platform::new(mock_graph::Settings::defaults());
    [p.add_customer(Some("Ada Lovelace")), p.add_customer(None)]
}

/// The seed inputs of `target`, in a fixed order.
pub fn seeds(target: Target) -> Vec<Input> {
    match target {
        Target::Webhook => webhook(),
        Target::Interaction => interactions(),
        Target::Scenario => scenarios(),
        Target::Config => configs(),
        Target::MockGraph => mock_graph(),
    }
}

fn webhook() -> Vec<Input> {
    let mut settings = mock_graph::Settings::defaults();
    // Never dialled: deliveries are only taken from the outbox.
    settings.webhook_url = Some("http://fuzz.invalid/webhook".into());
    let token = settings.page_token.clone();
    let mut p = Platform::new(settings);
    let mut bodies = Vec::new();
    let mut take = |p: &mut Platform| {
        bodies.extend(
            p.take_deliveries()
                .into_iter()
                .map(|a| Input::new("valid", a.delivery.body)),
        );
    };
    let ada = p.add_customer(Some("Ada Lovelace"));
    let bo = p.add_customer(None);
    let mid = p
        .customer_message(&ada, "Hi, where is my order 48213?")
        .expect("a known customer");
    take(&mut p);
    let _ = p.customer_postback(&ada, "Get started", "GET_STARTED");
    take(&mut p);
    let _ = p.customer_reaction(&ada, &mid, "❤️");
    take(&mut p);
    let _ = p.customer_unreaction(&ada, &mid);
    let _ = p.customer_referral(&bo, "summer-promo", "SHORTLINK");
    take(&mut p);
    let _ = p.customer_read(&ada);
    take(&mut p);
    let reply = SendRequest::text(&ada, MessagingType::Response, None, "It ships today.");
    let _ = p.send(
        Some(&token),
        &serde_json::to_vec(&reply).expect("serializable"),
    );
    take(&mut p);
    let _ = p.customer_message(&bo, "Ciao! È arrivato il pacco? 📦");
    let _ = p.set_other_app_owns(&bo, true);
    let _ = p.customer_message(&bo, "Still there?");
    take(&mut p);
    // Another app's promotional tagged sends: Meta's policy enforcement events.
    for _ in 0..3 {
        let promo = SendRequest::text(
            &ada,
            MessagingType::MessageTag,
            Some(Tag::HumanAgent),
            "Flash sale: 50% off everything, today only!",
        );
        let _ = p.send_as_other_app(&promo);
    }
    take(&mut p);
    bodies
}

/// What agents type in the scenarios, and a few more.
const TYPED: &[&str] = &[
    "/reply Sorry for the wait: your parcel is with the courier.",
    "/reply snippet:hours",
    "/reply text:Il rimborso è in arrivo. Approfitta dei nostri saldi: sconto del 30%! split:true",
    "/tag tag:ACCOUNT_UPDATE text:Your billing address was updated.",
    "/tag tag:HUMAN_AGENT text:Flash sale this weekend only!",
    "/tag tag:CONFIRMED_EVENT_UPDATE text:Your booking for Tuesday 10:00 is confirmed.",
    "/snippet add name:hours text:We're open Monday to Friday, 9:00 to 18:00.",
    "/inbox",
    "/inbox mine",
    "/inbox unclaimed",
    "/status",
    "/audit",
    "/claim",
    "/close",
];

fn interactions() -> Vec<Input> {
    let defs = bot::commands::definitions::all();
    let [ada, _] = customers();
    let member = json!({"user": {"id": "900001", "username": "grace", "global_name": "Grace"},
        "roles": [super::targets::AGENT_ROLE.to_string(), super::targets::TEAM_ROLE.to_string()]});
    let base = |id: u64, kind: u8, data: Value| {
        json!({"id": id.to_string(), "type": kind, "token": "tok", "application_id": "1",
            "member": member, "data": data})
    };
    let mut out = vec![base(1, 1, Value::Null)];
    for (i, typed) in TYPED.iter().enumerate() {
        let Ok(scenario_format::command::AgentAction::Slash {
            command,
            sub,
            mut options,
        }) = scenario_format::command::parse(typed, Some(&defs))
        else {
            continue;
        };
        options.push(("customer".into(), json!(ada)));
        let data = scenario_format::command::interaction_data(&command, sub.as_deref(), &options);
        out.push(base(100 + i as u64, 2, data));
    }
    let id = 900;
    for (n, (custom_id, values)) in [
        (format!("confirm:{id}"), json!([])),
        (format!("park:{id}"), json!([])),
        (format!("split:{id}"), json!([])),
        (format!("tagpick:{id}"), json!(["ACCOUNT_UPDATE"])),
        (format!("reply:{ada}"), json!([])),
        ("inbox:all:1".to_owned(), json!([])),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(base(
            200 + n as u64,
            3,
            json!({"custom_id": custom_id, "component_type": 2, "values": values}),
        ));
    }
    out.push(base(
        300,
        4,
        json!({"name": "reply", "options": [
            {"name": "customer", "type": 3, "value": "Ad", "focused": true}]}),
    ));
    out.push(base(
        301,
        5,
        json!({"custom_id": format!("reply-modal:{ada}"), "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "A longer reply."}]}]}),
    ));
    out.into_iter()
        .map(|v| Input::new("", v.to_string().into_bytes()))
        .collect()
}

/// The smallest scenario there is: what a mutation of nothing starts from.
const MINIMAL_SCENARIO: &str = r#"name = "minimal"
description = "one customer writes, an agent answers"

[agents.grace]
roles = ["agent", "team"]

[customers.ada]
name = "Ada Lovelace"

[[step]]
at = "0s"
customer = "ada"
says = "Hi!"

[[step]]
at = "1m"
customer = "ada"
agent = "grace"
does = "/reply Hello!"
expect = { outcome = "sent" }
"#;

/// Generated customers, within bounds: a mutation moves `count` and `messages`.
const GENERATED_SCENARIO: &str = r#"name = "generated"
description = "customers from the seed"
seed = 7

[generate]
count = 5
from = "1h"
until = "2h"
arrival = "poisson"
messages = [1, 3]
gap = "40s"
templates.en = ["Where is my order {order}?"]
templates.it = ["Dov'è il mio ordine {order}?"]
"#;

fn repository_files(dir: &str, ext: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some((name, std::fs::read(&p).ok()?))
        })
        .collect()
}

fn scenarios() -> Vec<Input> {
    let mut out = vec![
        Input::new("", MINIMAL_SCENARIO.as_bytes().to_vec()),
        Input::new("", GENERATED_SCENARIO.as_bytes().to_vec()),
    ];
    out.extend(
        repository_files("scenarios", "toml")
            .into_iter()
            .map(|(_, text)| Input::new("", text)),
    );
    out
}

const MINIMAL_CONFIG: &str = r#"[discord]
application_id = 1
guild_id = 2
channel_id = 3
agent_role_id = 4

[meta]
page_id = "104857600000001"
"#;

fn configs() -> Vec<Input> {
    let http = format!(
        "{MINIMAL_CONFIG}\n[policy]\nrules = \"legacy-2020\"\nalert_before = \"30m\"\n"
    )
    .replace(
        "agent_role_id = 4",
        "agent_role_id = 4\ntransport = \"http\"\npublic_key = \"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\"\ncoalesce = \"0s\"\nteam_role_id = 5",
    );
    let mut out = vec![
        Input::new("", MINIMAL_CONFIG.as_bytes().to_vec()),
        Input::new("", http.into_bytes()),
    ];
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("tagdesk.example.toml");
    if let Ok(text) = std::fs::read(example) {
        out.push(Input::new("", text));
    }
    out
}

/// The content types mock-graph's Send API takes, as the head of an input says them.
pub const JSON: &str = "json";
/// Form-encoded, as `curl -d` sends.
pub const FORM: &str = "form";

fn mock_graph() -> Vec<Input> {
    let token = page_token();
    let page = mock_graph::Settings::defaults().page_id;
    let [ada, bo] = customers();
    let send_me = format!("POST /v21.0/me/messages?access_token={token} {JSON}");
    let send_page = format!("POST /v25.0/{page}/messages?access_token={token} {FORM}");
    let mut out = Vec::new();
    let mut request = |head: &str, body: Vec<u8>| out.push(Input::new(head, body));
    let to = |req: &SendRequest| serde_json::to_vec(req).expect("serializable");
    request(
        &send_me,
        to(&SendRequest::text(
            &ada,
            MessagingType::Response,
            None,
            "It ships today.",
        )),
    );
    request(
        &send_me,
        to(&SendRequest::text(
            &ada,
            MessagingType::MessageTag,
            Some(Tag::HumanAgent),
            "A person here: how can I help?",
        )),
    );
    let full = SendRequest {
        recipient: Recipient::id(&ada),
        messaging_type: Some(MessagingType::Response),
        tag: None,
        message: Some(Message {
            text: Some("Which size?".into()),
            quick_replies: Some(vec![QuickReply {
                content_type: "text".into(),
                title: Some("M".into()),
                payload: Some("SIZE_M".into()),
                image_url: None,
            }]),
            metadata: Some("interaction:1".into()),
            ..Message::default()
        }),
        sender_action: None,
        notification_type: None,
        reply_to: Some(MidRef { mid: "m_1".into() }),
        persona_id: None,
    };
    request(&send_me, to(&full));
    let image = SendRequest {
        message: Some(Message {
            attachment: Some(Attachment {
                kind: "image".into(),
                payload: json!({"url": "https://example.com/a.png", "is_reusable": true}),
            }),
            ..Message::default()
        }),
        ..full.clone()
    };
    request(&send_me, to(&image));
    request(
        &send_page,
        format!(
            "recipient={{\"id\":\"{ada}\"}}&messaging_type=RESPONSE&message={{\"text\":\"Ciao!\"}}"
        )
        .into_bytes(),
    );
    let admin = |path: &str| format!("POST {path} {JSON}");
    request(&admin("/_mock/clock"), br#"{"advance":"36h"}"#.to_vec());
    request(
        &admin("/_mock/clock"),
        br#"{"to":"2026-11-21T09:00:00Z"}"#.to_vec(),
    );
    request(
        &admin("/_mock/customers"),
        br#"{"name":"Peter Chang"}"#.to_vec(),
    );
    request(
        &admin(&format!("/_mock/customers/{ada}/messages")),
        br#"{"text":"Where is my order?"}"#.to_vec(),
    );
    request(
        &admin(&format!("/_mock/customers/{ada}/postbacks")),
        br#"{"title":"Track my order","payload":"TRACK"}"#.to_vec(),
    );
    request(
        &admin(&format!("/_mock/customers/{ada}/reactions")),
        br#"{"mid":"m_1","emoji":"\u2764","action":"react"}"#.to_vec(),
    );
    request(
        &admin(&format!("/_mock/customers/{bo}/referrals")),
        br#"{"ref":"summer","source":"ADS"}"#.to_vec(),
    );
    request(
        &admin(&format!("/_mock/customers/{bo}/handover")),
        br#"{"owner":"other"}"#.to_vec(),
    );
    request(
        &admin("/_mock/other-app/sends"),
        format!(r#"{{"psid":"{ada}","text":"Flash sale!","tag":"ACCOUNT_UPDATE","recipients":2}}"#)
            .into_bytes(),
    );
    request(
        &admin("/_mock/other-app/sends"),
        format!(r#"{{"text":"Hello","recipients":["{ada}","{bo}"]}}"#).into_bytes(),
    );
    request(
        &admin("/_mock/faults"),
        br#"{"error_rate":0.1,"drop_rate":0.2,"duplicate_rate":0.1,"reorder_rate":0.1,"echo_lag":"5m","late_redelivery":"1h","rate_limit_burst":2}"#.to_vec(),
    );
    request(
        &admin("/_mock/judge"),
        br#"{"phrases":["deal","sconto"]}"#.to_vec(),
    );
    request(
        &format!("POST /v21.0/{page}/personas?access_token={token} {JSON}"),
        br#"{"name":"Grace","profile_picture_url":"https://example.com/g.png"}"#.to_vec(),
    );
    request(
        &format!("POST /_mock/scenario {JSON}"),
        MINIMAL_SCENARIO.as_bytes().to_vec(),
    );
    request(
        &format!("POST /_mock/scenario {JSON}"),
        GENERATED_SCENARIO.as_bytes().to_vec(),
    );
    out
}
