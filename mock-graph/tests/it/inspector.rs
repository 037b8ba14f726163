//! The inspector in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver, started here on a free loopback port) with fantoccini, against a
//! mock-graph on a real socket with a webhook subscriber.
//!
//! Nothing waits by sleeping: every check polls the DOM until the element is there,
//! and only a bound on that wait fails the test. Screenshots of each view go to
//! `target/inspector-screenshots/`.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the page may take to show what it should. A bound, not a pause: the
/// check returns as soon as the element is there.
const PATIENCE: Duration = Duration::from_secs(20);

/// The browser and what it runs on.
struct Browser {
    client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium
    /// session with a fresh profile. Missing packages fail the test, saying how to
    /// get them: a browser test that can't run must not pass.
    async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: the inspector's browser tests need Debian's chromium and \
                 chromium-driver. Run .ci/run, which installs them (or, as root: apt-get update && \
                 apt-get install -y chromium chromium-driver)"
            );
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        // Ready when it says so; its later output is drained so it never blocks.
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("started successfully") {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(ready, Ok(true)),
            "chromedriver didn't start: {ready:?}"
        );
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let profile = std::env::temp_dir().join(format!(
            "mock-graph-inspector-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        // The flags keep Chromium off the network: on a closed network its background
        // services hang or retry.
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1400,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Runs `test` with the browser, then closes the session (Chromium exits with it)
    /// and kills chromedriver, whether the test passed or not.
    async fn run<F: std::future::Future<Output = ()>>(self, test: impl FnOnce(Client) -> F) {
        let Browser {
            client,
            mut driver,
            profile,
        } = self;
        let outcome = AssertUnwindSafe(test(client.clone())).catch_unwind().await;
        let _ = client.close().await;
        let _ = driver.kill().await;
        let _ = std::fs::remove_dir_all(&profile);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The element `css` selects, once the page shows it.
async fn see(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("the page didn't show {css} within {PATIENCE:?}: {e}"))
}

/// The element `xpath` selects, once the page shows it (for matching on text).
async fn see_xpath(c: &Client, xpath: &str) -> Element {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("the page didn't show {xpath} within {PATIENCE:?}: {e}"))
}

/// What `read` takes from the element `locator` selects, once the page shows it. The
/// page redraws a view at every server-sent event, so an element found may be replaced
/// before it is read (a stale reference): then it is found again.
async fn read<T, Fut>(c: &Client, locator: Locator<'_>, read: impl Fn(Element) -> Fut) -> T
where
    Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
{
    for _ in 0..20 {
        let element = c
            .wait()
            .at_most(PATIENCE)
            .for_element(locator)
            .await
            .unwrap_or_else(|e| {
                panic!("the page didn't show {locator:?} within {PATIENCE:?}: {e}")
            });
        match read(element).await {
            Ok(value) => return value,
            Err(e) if e.is_stale_element_reference() => continue,
            Err(e) => panic!("reading {locator:?}: {e}"),
        }
    }
    panic!("{locator:?} was redrawn 20 times in a row before it could be read")
}

/// Saves a screenshot of the page as `target/inspector-screenshots/{name}.png`.
async fn screenshot(c: &Client, name: &str) {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("inspector-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// A webhook subscriber that answers the handshake and takes every delivery.
async fn subscriber() -> String {
    let app = axum::Router::new().route(
        "/webhook",
        get(
            |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                q.get("hub.challenge").cloned().unwrap_or_default()
            },
        )
        .post(|| async { StatusCode::OK }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A Send API call over the socket, as the bot makes it.
async fn send(http: &reqwest::Client, base: &str, body: Value) -> (u16, Value) {
    let r = http
        .post(format!(
            "{base}/v25.0/me/messages?access_token=mock-page-token"
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// A small scenario: Ada writes, presses a button an hour later, and another app
/// answers her an hour after that.
const SCENARIO: &str = r#"name = "replayed"
description = "Ada writes, presses a button, and another app answers."
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
other_app = "Your parcel is on its way"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_watches_and_drives_messenger_in_the_inspector() {
    let mut settings = Settings::defaults();
    settings.listen = "127.0.0.1:0".into();
    settings.webhook_url = Some(subscriber().await);
    let mock = mock_graph::start(settings).await.unwrap();
    let base = format!("http://{}", mock.addr);
    let http = reqwest::Client::new();

    Browser::start().await.run(|c| async move {
        c.goto(&format!("{base}/")).await.unwrap();
        see(&c, "body[data-ready]").await;

        // A new customer, made from the page.
        see(&c, "#new-name").await.send_keys("Ada Lovelace").await.unwrap();
        see(&c, "#new-customer button[type=submit]").await.click().await.unwrap();
        see_xpath(&c, "//h1[@id='conv-name'][contains(., 'Ada Lovelace')]").await;
        let psid = read(&c, Locator::Css("a.chat[aria-current=page]"), |chat| async move {
            chat.attr("data-psid").await
        })
        .await
        .expect("the chat names its customer");
        assert!(c.current_url().await.unwrap().as_str().ends_with(&format!("#/c/{psid}")));
        see(&c, "#conv-marks [data-window=expired]").await;

        // The customer writes: a bubble, and the window opens.
        see(&c, "#say").await.send_keys("Where is my order?").await.unwrap();
        see(&c, "#say-send").await.click().await.unwrap();
        see_xpath(&c, "//li[@data-kind='customer_message']/div[contains(., 'Where is my order?')]").await;
        see(&c, "#conv-marks [data-window=standard]").await;

        // The bot answers through the Send API; the page shows it without a reload.
        let reply = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE",
            "message": {"text": "It ships today."}});
        assert_eq!(send(&http, &base, reply).await.0, 200);
        let bubble = read(
            &c,
            Locator::XPath("//li[@data-kind='page_message'][contains(., 'It ships today.')]"),
            |e| async move { e.text().await },
        )
        .await;
        assert!(bubble.contains("RESPONSE"), "the messaging type is shown");
        screenshot(&c, "01-conversation").await;

        // A day later the standard window has closed; the human-agent one is open.
        see(&c, "button[data-advance='24h']").await.click().await.unwrap();
        see(&c, "#conv-marks [data-window=human_agent]").await;
        see(&c, &format!("a.chat[data-psid='{psid}'] [data-window=human_agent]")).await;

        // Two promotional tagged sends: a warning, then the first rung of the ladder;
        // a third tagged send is refused while restricted.
        for text in ["Black Friday deals: 30% off", "Special offer, just for you"] {
            let tagged = json!({"recipient": {"id": psid}, "messaging_type": "MESSAGE_TAG",
                "tag": "HUMAN_AGENT", "message": {"text": text}});
            assert_eq!(send(&http, &base, tagged).await.0, 200, "Meta accepts, then judges");
        }
        let refused = json!({"recipient": {"id": psid}, "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT", "message": {"text": "Still there?"}});
        let (status, error) = send(&http, &base, refused).await;
        assert_eq!((status, &error["error"]["error_subcode"]), (400, &json!(1893063)), "{error}");
        see_xpath(&c, "//li[@data-kind='refused'][contains(., '1893063')][contains(., 'Still there?')]").await;
        see_xpath(&c, "//li[@data-kind='page_message'][contains(., 'MESSAGE_TAG · HUMAN_AGENT')]").await;
        screenshot(&c, "02-conversation-tagged").await;

        // The page's record: the warning and the 1-day restriction on the timeline.
        see(&c, "nav a[data-nav=record]").await.click().await.unwrap();
        see(&c, "#timeline g[data-kind=warning]").await;
        see(&c, "#timeline g[data-kind=restriction][data-level='1d']").await;
        see_xpath(&c, "//*[@id='in-force'][contains(., '1d restriction')]").await;
        see(&c, ".ladder li.in-force[data-rung='1d']").await;
        assert_eq!(
            read(&c, Locator::Css("#next-offence"), |e| async move { e.text().await }).await,
            "3d"
        );
        screenshot(&c, "03-record").await;

        // The Send API log, filtered by URL to what Meta refused, with what it means.
        c.goto(&format!("{base}/#/sent?outcome=refused")).await.unwrap();
        let text = read(&c, Locator::Css("tr[data-outcome=refused]"), |e| async move {
            e.text().await
        })
        .await;
        assert!(text.contains("10/1893063") && text.contains("restricted"), "{text}");
        let rows = c.find_all(Locator::Css("#sent-rows tr[data-outcome]")).await.unwrap();
        assert_eq!(rows.len(), 1, "only the refused call");
        screenshot(&c, "04-send-api").await;

        // Webhook deliveries, each with its attempt's status.
        see(&c, "nav a[data-nav=webhooks]").await.click().await.unwrap();
        see_xpath(&c, "//tr[@data-state='delivered']//ol[@class='attempts'][contains(., '200')]").await;
        screenshot(&c, "05-webhooks").await;

        // Back in the conversation, a week on by keyboard: every window has closed.
        c.goto(&format!("{base}/#/c/{psid}")).await.unwrap();
        see(&c, "#conv-marks [data-window=human_agent]").await;
        see(&c, "button[data-advance='7d']").await.send_keys(&Key::Enter).await.unwrap();
        see(&c, "#conv-marks [data-window=expired]").await;
        see(&c, &format!("a.chat[data-psid='{psid}'] [data-window=expired]")).await;
        screenshot(&c, "06-expired").await;

        // A scenario loaded from the page, then its customer side played: one step by
        // hand, the rest with Play, which pauses itself at the end.
        see(&c, "nav a[data-nav=scenario]").await.click().await.unwrap();
        see(&c, "#scenario-text").await.send_keys(SCENARIO).await.unwrap();
        see(&c, "#scenario-load").await.click().await.unwrap();
        see_xpath(&c, "//*[@id='scenario-status'][contains(., 'replayed') and contains(., '2 still to fire')]").await;
        see(&c, "#step").await.click().await.unwrap();
        see_xpath(&c, "//*[@id='scenario-status'][contains(., '1 still to fire')]").await;
        see(&c, "button[data-play]").await.click().await.unwrap();
        see_xpath(&c, "//*[@id='scenario-status'][contains(., '0 still to fire') and contains(., 'done')]").await;
        see(&c, "#playing[hidden]").await;
        c.goto(&format!("{base}/#/c/ada")).await.unwrap();
        see_xpath(&c, "//li[@data-kind='postback'][contains(., 'Track my order')]").await;
        see_xpath(&c, "//li[@data-kind='page_message'][contains(@class, 'other-app')][contains(., 'Your parcel is on its way')]").await;
        screenshot(&c, "07-scenario-played").await;

        // The same conversation as it stood at the scenario's start: a link a report can
        // carry.
        c.goto(&format!("{base}/#/c/ada?at=2026-12-01T08:00:00Z")).await.unwrap();
        see_xpath(&c, "//*[contains(@class, 'asof')][contains(., 'As it stood at')]").await;
        see_xpath(&c, "//li[@data-kind='customer_message'][contains(., 'Hello')]").await;
        let shown = c.find_all(Locator::Css("#thread li[data-kind]")).await.unwrap();
        assert_eq!(shown.len(), 1, "only what had happened by then");

        let (shown, text) = read(&c, Locator::Css("#error"), |e| async move {
            Ok((e.is_displayed().await?, e.text().await?))
        })
        .await;
        assert!(!shown, "the page showed an error: {text}");
    })
    .await;
}
