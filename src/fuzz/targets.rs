//! The targets: each takes one input the way production does and checks what must
//! hold whatever the bytes.

use std::path::Path;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use bot::clock::{Clock as _, ManualClock};
use bot::commands::{self, interaction, response};
use bot::config::{ConfigError, FileConfig};
use bot::discord::recorder::Recorder;
use bot::engine::Engine;
use bot::settings::Settings;
use bot::store::sqlite::SqliteStore;
use bot::webhook::{router, WebhookConfig};
use messenger::signature::{sign, HEADER};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::runtime::Runtime;
use tower::ServiceExt;

use super::{corpus, Input, Target, Verdict};
use crate::scenario::graph::InProcessGraph;

/// One target, ready to take inputs.
pub(super) trait Harness {
    /// Runs one input; an error is the harness's own failure, not the target's.
    fn run(&mut self, input: &Input) -> anyhow::Result<Verdict>;
}

/// Sets up `target`.
pub(super) fn build(target: Target) -> anyhow::Result<Box<dyn Harness>> {
    Ok(match target {
        Target::Webhook => Box::new(Webhook::new()?),
        Target::Interaction => Box::new(Interaction::new()?),
        Target::Scenario => Box::new(ScenarioFile {
            commands: bot::commands::definitions::all(),
        }),
        Target::Config => Box::new(ConfigFile),
        Target::MockGraph => Box::new(MockGraph {
            rt: crate::scenario::runtime()?,
        }),
    })
}

/// How an input is sent, mutated now and then: forged signatures, other routes.
pub(super) fn mutate_head(target: Target, rng: &mut ChaCha8Rng, head: &str) -> String {
    match target {
        Target::Webhook => match rng.random_range(0..32) {
            0 | 1 => "forged".into(),
            2 => "none".into(),
            3 => "garbled".into(),
            _ => "valid".into(),
        },
        Target::Interaction => match rng.random_range(0..32) {
            0 | 1 => "http-forged".into(),
            2 => "http-garbled".into(),
            _ => String::new(),
        },
        Target::MockGraph if rng.random_bool(1.0 / 16.0) => {
            let [ada, _] = corpus::customers();
            let swaps: &[(&str, &str)] = &[
                ("v21.0", "v"),
                ("v21.0", "v99999999999999999999.0"),
                ("v25.0", "vX.1"),
                ("access_token=", "access_token=wrong&"),
                (corpus::JSON, corpus::FORM),
                (corpus::FORM, corpus::JSON),
                (corpus::JSON, "none"),
                (ada.as_str(), "0"),
                (ada.as_str(), "%FF%00"),
                ("POST", "GET"),
                ("/messages", "/reactions"),
            ];
            let (from, to) = swaps.choose(rng).copied().unwrap_or_default();
            head.replacen(from, to, 1)
        }
        Target::Scenario | Target::Config | Target::MockGraph => head.to_owned(),
    }
}

/// The parent channel of the fuzzing bot's Discord.
pub(super) const CHANNEL: u64 = 1_300_000_000_000_000_001;
/// The agent role; interactions in the corpus carry it.
pub(super) const AGENT_ROLE: u64 = 1_300_000_000_000_000_002;
/// The team role.
pub(super) const TEAM_ROLE: u64 = 1_300_000_000_000_000_003;

/// The bot as the targets that reach it need it: its engine on an in-memory SQLite
/// store, mock-graph as Meta (delivering to the bot's `/webhook` in-process and
/// answering its Graph calls), the recording Discord, one manual clock. Built here
/// rather than from the scenario runner's world so that fuzzing doesn't follow the
/// runner's changes.
pub(super) struct Bot {
    /// Meta.
    pub mock: mock_graph::http::AppState,
    /// The bot.
    pub engine: Engine,
    /// The customers, as in [`corpus::customers`].
    pub customers: [String; 2],
    clock: ManualClock,
}

impl Bot {
    /// A bot with two customers who haven't written yet.
    pub(super) fn start() -> anyhow::Result<Bot> {
        let store = Arc::new(SqliteStore::in_memory()?);
        let mut settings = mock_graph::Settings::defaults();
        // Never dialled: deliveries go to the bot's router in-process.
        settings.webhook_url = Some("http://bot.in-process/webhook".into());
        let (mock_router, mock) = mock_graph::app(settings.clone());
        mock.deliverer.deliver_in_process(router(
            WebhookConfig {
                app_secret: settings.app_secret.clone(),
                verify_token: settings.verify_token.clone(),
                wake: None,
            },
            store.clone(),
        ));
        let customers = {
            let mut p = mock.lock();
            [p.add_customer(Some("Ada Lovelace")), p.add_customer(None)]
        };
        let clock = ManualClock::new(settings.start);
        let mut s = Settings::new(CHANNEL, AGENT_ROLE, settings.rules);
        s.team_role_id = TEAM_ROLE;
        let engine = Engine {
            store,
            graph: Arc::new(InProcessGraph {
                router: mock_router,
                token: settings.page_token.clone(),
                timeout: std::time::Duration::from_millis(150),
            }),
            discord: Arc::new(Recorder::new()),
            clock: Arc::new(clock.clone()),
            settings: Arc::new(s),
        };
        Ok(Bot {
            mock,
            engine,
            customers,
            clock,
        })
    }

    /// Meta delivers what is pending; the bot processes it.
    pub(super) async fn settle(&self) -> anyhow::Result<()> {
        self.mock.flush().await;
        self.engine.tick().await?;
        Ok(())
    }
}

/// The bot is started afresh after this many inputs, so its database stays small and
/// an input's cost doesn't grow with the run.
const INPUTS_PER_BOT: u32 = 200;

/// `/webhook`: a valid signature over the mutated bytes (so the parser is reached),
/// then the bot's processing of whatever was stored; forged ones must store nothing.
struct Webhook {
    rt: Runtime,
    bot: Bot,
    router: axum::Router,
    secret: String,
    uses: u32,
}

impl Webhook {
    fn new() -> anyhow::Result<Self> {
        let rt = crate::scenario::runtime()?;
        let app = Bot::start()?;
        let defaults = mock_graph::Settings::defaults();
        let router = router(
            WebhookConfig {
                app_secret: defaults.app_secret.clone(),
                verify_token: defaults.verify_token,
                wake: None,
            },
            app.engine.store.clone(),
        );
        Ok(Webhook {
            rt,
            bot: app,
            router,
            secret: defaults.app_secret,
            uses: 0,
        })
    }
}

impl Harness for Webhook {
    fn run(&mut self, input: &Input) -> anyhow::Result<Verdict> {
        self.uses += 1;
        if self.uses > INPUTS_PER_BOT {
            *self = Webhook::new()?;
        }
        let body = &input.body;
        let signature = match input.head.as_str() {
            "forged" => Some(sign(b"not the app secret", body)),
            "none" => None,
            "garbled" => Some("sha256=zz".to_owned()),
            _ => Some(sign(self.secret.as_bytes(), body)),
        };
        let signed = signature
            .as_ref()
            .is_some_and(|s| *s == sign(self.secret.as_bytes(), body));
        let store = self.bot.engine.store.clone();
        let before = store.count_events()?;
        let mut req = Request::post("/webhook").header(header::CONTENT_TYPE, "application/json");
        if let Some(s) = signature {
            req = req.header(HEADER, s);
        }
        let req = req.body(Body::from(body.clone()))?;
        let status = self.rt.block_on(self.router.clone().oneshot(req))?.status();
        if !signed {
            let after = store.count_events()?;
            return Ok(if status != StatusCode::UNAUTHORIZED {
                Verdict::Violation(format!("a forged delivery was answered {status}, not 401"))
            } else if after != before {
                Verdict::Violation(format!(
                    "a forged delivery stored {} events",
                    after.saturating_sub(before)
                ))
            } else {
                Verdict::Refused
            });
        }
        // A signed delivery is always acknowledged: what doesn't parse is kept raw for a
        // person, since Meta retrying it would never help.
        if status != StatusCode::OK {
            return Ok(Verdict::Violation(format!(
                "a signed delivery of {} bytes was answered {status}, not 200",
                body.len()
            )));
        }
        // What was stored is processed next: mirrored, posted to Discord, looked up.
        if let Err(e) = self.rt.block_on(self.bot.settle()) {
            return Ok(Verdict::Violation(format!(
                "processing the stored delivery failed: {e:#}"
            )));
        }
        Ok(Verdict::Accepted)
    }
}

/// A public key nobody here holds the private half of (RFC 8032's first test
/// vector): requests to `/interactions` can only be forged.
const FOREIGN_KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// Interaction JSON: parsed as both transports parse it, then handled by the command
/// pipeline as the agent's command. A few go to `/interactions` with forged signatures.
struct Interaction {
    rt: Runtime,
    bot: Bot,
    http: axum::Router,
    uses: u32,
}

impl Interaction {
    fn new() -> anyhow::Result<Self> {
        let rt = crate::scenario::runtime()?;
        let app = Bot::start()?;
        // Ada wrote, so commands about her find a thread.
        app.mock
            .lock()
            .customer_message(&app.customers[0], "Hi, where is my order 48213?")?;
        rt.block_on(app.settle())?;
        let key = bot::interactions::public_key(FOREIGN_KEY)?;
        let http = bot::interactions::router(app.engine.clone(), key);
        Ok(Interaction {
            rt,
            bot: app,
            http,
            uses: 0,
        })
    }
}

impl Harness for Interaction {
    fn run(&mut self, input: &Input) -> anyhow::Result<Verdict> {
        self.uses += 1;
        if self.uses > INPUTS_PER_BOT {
            *self = Interaction::new()?;
        }
        if let Some(how) = input.head.strip_prefix("http-") {
            let now = self.bot.clock.now().as_second().to_string();
            let (signature, timestamp) = match how {
                // Well-formed (64 bytes of hex) but not a signature by the key.
                "forged" => {
                    let digest = sign(b"fuzz", &input.body);
                    let hex = digest.trim_start_matches("sha256=");
                    (hex.repeat(2), now)
                }
                _ => ("zz".to_owned(), i64::MIN.to_string()),
            };
            let req = Request::post("/interactions")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-signature-ed25519", signature)
                .header("x-signature-timestamp", timestamp)
                .body(Body::from(input.body.clone()))?;
            let status = self.rt.block_on(self.http.clone().oneshot(req))?.status();
            let too_large = input.body.len() > super::limits::INTERACTIONS_LIMIT;
            return Ok(match status {
                StatusCode::UNAUTHORIZED => Verdict::Refused,
                // Refused before it is read whole, so before its signature is looked at.
                StatusCode::PAYLOAD_TOO_LARGE if too_large => Verdict::Refused,
                _ => Verdict::Violation(format!(
                    "a forged interaction of {} bytes was answered {status}, not 401",
                    input.body.len()
                )),
            });
        }
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&input.body) else {
            return Ok(Verdict::Refused);
        };
        let Ok(invocation) = interaction::parse(&json) else {
            return Ok(Verdict::Refused);
        };
        let handled = self
            .rt
            .block_on(commands::handle(&self.bot.engine, &invocation));
        let answer = response::render(&handled);
        // Discord refuses an answer without a type; the agent would see "interaction
        // failed" instead of the bot's words.
        if answer["type"].as_u64().is_none() {
            return Ok(Verdict::Violation(format!(
                "an answer without a type: {answer}"
            )));
        }
        Ok(Verdict::Accepted)
    }
}

/// Checks where an error points: a line of the file (or the one after its end).
fn points_into(text: &str, line: usize, column: usize) -> Result<(), String> {
    let lines = text.lines().count();
    if line == 0 || column == 0 || line > lines + 1 {
        return Err(format!(
            "the error points at {line}:{column}, outside the file's {lines} lines"
        ));
    }
    Ok(())
}

/// Scenario files, checked against the bot's command definitions.
struct ScenarioFile {
    commands: serde_json::Value,
}

/// The name scenario inputs are given; errors must carry it.
const SCENARIO_FILE: &str = "fuzz-scenario.toml";

impl Harness for ScenarioFile {
    fn run(&mut self, input: &Input) -> anyhow::Result<Verdict> {
        let text = String::from_utf8_lossy(&input.body);
        match scenario_format::load::parse(Path::new(SCENARIO_FILE), &text, Some(&self.commands)) {
            Err(e) => {
                let message = e.to_string();
                if !message.starts_with(&format!("{SCENARIO_FILE}:{}:{}: ", e.line, e.column)) {
                    return Ok(Verdict::Violation(format!(
                        "the error doesn't start with file:line:column: {message}"
                    )));
                }
                Ok(match points_into(&text, e.line, e.column) {
                    Ok(()) => Verdict::Refused,
                    Err(why) => Verdict::Violation(format!("{why}: {message}")),
                })
            }
            Ok(scenario) => {
                // The runner and mock-graph place each step at `start + at`: a file
                // that loads must give instants that exist.
                for step in &scenario.steps {
                    let ends = step
                        .expect
                        .as_ref()
                        .and_then(|e| e.restriction_ends.as_deref());
                    let ends = ends.and_then(|d| messenger::timefmt::parse_duration(d).ok());
                    for at in std::iter::once(step.at).chain(ends) {
                        if scenario.start.checked_add(at).is_err() {
                            return Ok(Verdict::Violation(format!(
                                "a time {at:#} from {} loads, but that instant doesn't exist",
                                scenario.start
                            )));
                        }
                    }
                }
                Ok(Verdict::Accepted)
            }
        }
    }
}

/// The bot's configuration file, and what the bot builds from it at start.
struct ConfigFile;

/// The name configuration inputs are given; errors must carry it.
const CONFIG_FILE: &str = "fuzz-tagdesk.toml";

impl Harness for ConfigFile {
    fn run(&mut self, input: &Input) -> anyhow::Result<Verdict> {
        let text = String::from_utf8_lossy(&input.body);
        match FileConfig::parse(Path::new(CONFIG_FILE), &text) {
            Err(e) => {
                let message = e.to_string();
                if !message.starts_with(&format!("{CONFIG_FILE}:")) {
                    return Ok(Verdict::Violation(format!(
                        "the error doesn't name the file: {message}"
                    )));
                }
                if let ConfigError::Parse { line, column, .. } = e {
                    if let Err(why) = points_into(&text, line, column) {
                        return Ok(Verdict::Violation(format!("{why}: {message}")));
                    }
                }
                Ok(Verdict::Refused)
            }
            Ok(config) => {
                // What the bot does with it at start, short of opening sockets.
                let settings = bot::settings::Settings::from_config(&config);
                let _ = settings
                    .lexicon
                    .find("Flash sale: 20% off, today only! Spedizione gratuita.");
                if let Some(key) = &config.discord.public_key {
                    let _ = bot::interactions::public_key(key);
                }
                let _ = config
                    .policy
                    .rules
                    .contradiction(jiff::Timestamp::UNIX_EPOCH);
                Ok(Verdict::Accepted)
            }
        }
    }
}

/// mock-graph's router, a fresh emulator per input (so an input is reproducible on
/// its own) with two customers, one of whom wrote.
struct MockGraph {
    rt: Runtime,
}

/// Answers are read up to this much; mock-graph's are far smaller.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

impl MockGraph {
    async fn call(
        router: axum::Router,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> anyhow::Result<Option<(StatusCode, Vec<u8>)>> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        // A path a mutation made unparsable never reaches the router: that's the HTTP
        // library's refusal, not the emulator's.
        let Ok(req) = req.body(Body::from(body)) else {
            return Ok(None);
        };
        let resp = router.oneshot(req).await?;
        let status = resp.status();
        let bytes = to_bytes(resp.into_body(), MAX_ANSWER).await?;
        Ok(Some((status, bytes.to_vec())))
    }
}

/// A 5xx from mock-graph is a bug unless it is Meta's own (codes 1 and 2 are
/// Meta's "try again" errors, answered 500).
fn server_error(status: StatusCode, body: &[u8]) -> Option<String> {
    if !status.is_server_error() {
        return None;
    }
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_u64());
    match code {
        Some(1 | 2) => None,
        _ => Some(format!(
            "answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )),
    }
}

impl Harness for MockGraph {
    fn run(&mut self, input: &Input) -> anyhow::Result<Verdict> {
        let mut words = input.head.split_whitespace();
        let method = words.next().unwrap_or("POST");
        let path = words.next().unwrap_or("/");
        let content_type = match words.next() {
            Some(corpus::JSON) => Some("application/json"),
            Some(corpus::FORM) => Some("application/x-www-form-urlencoded"),
            _ => None,
        };
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return Ok(Verdict::Refused);
        };
        let (router, state) = mock_graph::app(mock_graph::Settings::defaults());
        {
            let mut p = state.lock();
            let ada = p.add_customer(Some("Ada Lovelace"));
            p.add_customer(None);
            p.customer_message(&ada, "Hi, where is my order 48213?")?;
        }
        let Some((status, answer)) = self.rt.block_on(Self::call(
            router.clone(),
            method,
            path,
            content_type,
            input.body.clone(),
        ))?
        else {
            return Ok(Verdict::Refused);
        };
        if let Some(why) = server_error(status, &answer) {
            return Ok(Verdict::Violation(why));
        }
        if !status.is_success() {
            return Ok(Verdict::Refused);
        }
        if path == "/_mock/scenario" {
            // A loaded scenario's customer side plays as the clock moves: move it past
            // everything a file may schedule.
            let advance = br#"{"to": "8999-12-31T00:00:00Z"}"#.to_vec();
            let moved = self.rt.block_on(Self::call(
                router,
                Method::POST,
                "/_mock/clock",
                Some("application/json"),
                advance,
            ))?;
            if let Some((status, answer)) = moved {
                if let Some(why) = server_error(status, &answer) {
                    return Ok(Verdict::Violation(format!(
                        "after loading the scenario, {why}"
                    )));
                }
            }
        }
        Ok(Verdict::Accepted)
    }
}
