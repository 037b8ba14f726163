//! The bot's logs never carry a secret: the real binary, with JSON logs, run against
//! mock-graph and a Discord that refuses its token, through the paths that log the
//! most (start-up, webhooks good and forged, profile lookups, Discord errors, a clean
//! stop).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use serde_json::json;

const DISCORD_TOKEN: &str = "discord-token-S3CR3T-7f3a9c";
const PAGE_TOKEN: &str = "page-token-S3CR3T-41b7e0";
const APP_SECRET: &str = "app-secret-S3CR3T-9d22c5";
const VERIFY_TOKEN: &str = "verify-token-S3CR3T-c0ffee";

/// A port nothing listens on now, for the bot to take.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (without sleeping: a line arrives or the wait times out) for a log line
/// containing one of `needles`, collecting every line read on the way.
fn wait_for(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>, needles: &[&str]) -> bool {
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) {
        let found = needles.iter().any(|n| line.contains(n));
        seen.push(line);
        if found {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    // Discord refuses everything, as it does a revoked token.
    let discord = Router::new().fallback(|| async {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "401: Unauthorized", "code": 0})),
        )
    });
    let discord_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let discord_base = format!("http://{}", discord_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(discord_listener, discord).await });

    let bot_port = free_port();
    // mock-graph checks the webhook URL when it starts, so the bot starts first, on
    // ports picked now.
    let graph_port = free_port();
    let graph_base = format!("http://127.0.0.1:{graph_port}");
    let mut settings = mock_graph::Settings::defaults();
    settings.listen = format!("127.0.0.1:{graph_port}");
    settings.page_token = PAGE_TOKEN.into();
    settings.app_secret = APP_SECRET.into();
    settings.verify_token = VERIFY_TOKEN.into();
    settings.webhook_url = Some(format!("http://127.0.0.1:{bot_port}/webhook"));
    let page_id = settings.page_id.clone();

    let dir = std::env::temp_dir().join(format!("tagdesk-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("tagdesk.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{bot_port}\"\ndatabase = {:?}\njson_logs = true\n\
             [discord]\napi_base = \"{discord_base}\"\napplication_id = 1\nguild_id = 2\n\
             channel_id = 3\nagent_role_id = 4\ncoalesce = \"0s\"\n\
             [meta]\ngraph_base = \"{graph_base}\"\npage_id = \"{page_id}\"\n",
            dir.join("tagdesk.db").display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tagdesk"))
        .args(["bot", "--config"])
        .arg(&config)
        .env("TAGDESK_DISCORD_TOKEN", DISCORD_TOKEN)
        .env("TAGDESK_PAGE_TOKEN", PAGE_TOKEN)
        .env("TAGDESK_APP_SECRET", APP_SECRET)
        .env("TAGDESK_VERIFY_TOKEN", VERIFY_TOKEN)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tagdesk binary runs");
    let (tx, lines) = mpsc::channel();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let mut seen = Vec::new();
    let started = wait_for(&lines, &mut seen, &["tagdesk bot started"]);
    let _mock = mock_graph::start(settings).await.unwrap();

    let http = reqwest::Client::new();
    let bot = format!("http://127.0.0.1:{bot_port}");
    // Meta's verification handshake, right and wrong, and a forged delivery.
    let _ = http
        .get(format!(
            "{bot}/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"
        ))
        .send()
        .await;
    let _ = http
        .get(format!(
            "{bot}/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=42"
        ))
        .send()
        .await;
    let _ = http
        .post(format!("{bot}/webhook"))
        .header("X-Hub-Signature-256", "sha256=00")
        .body(r#"{"object":"page","entry":[]}"#)
        .send()
        .await;
    // A customer writes: the delivery is signed with the app secret, the bot looks up
    // the profile with the page token, and posts to Discord with its token (refused).
    let customer: serde_json::Value = http
        .post(format!("{graph_base}/_mock/customers"))
        .json(&json!({"name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let psid = customer["psid"].as_str().unwrap();
    http.post(format!("{graph_base}/_mock/customers/{psid}/messages"))
        .json(&json!({"text": "where is my order?"}))
        .send()
        .await
        .unwrap();
    // The outbox's post to Discord, refused 401: the last step of the way.
    let refused = wait_for(
        &lines,
        &mut seen,
        &["work refused; giving up", "work failed; will retry"],
    );

    // Stopped as docker stops it: SIGTERM, and a clean exit (on SQLite, nothing to
    // hand over) whose logs are searched too.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopped = wait_for(&lines, &mut seen, &["tagdesk bot stopped"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if !stopped || std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    seen.extend(lines.try_iter());
    let _ = std::fs::remove_dir_all(&dir);
    let all = seen.join("\n");
    assert!(started, "the bot started:\n{all}");
    assert!(refused, "the outbox's Discord refusal was logged:\n{all}");
    assert!(
        exit.is_some_and(|e| e.success()),
        "SIGTERM stopped it cleanly ({exit:?}):\n{all}"
    );
    assert!(
        seen.iter()
            .any(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "the logs are JSON:\n{all}"
    );
    for secret in [DISCORD_TOKEN, PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN] {
        assert!(!all.contains(secret), "{secret} is in the logs:\n{all}");
    }
}
