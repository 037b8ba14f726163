//! One scenario's world, in-process: mock-graph as Meta, the bot's real pipeline with
//! its SQLite store, the recording Discord, and one virtual clock they share.
//!
//! Meta's webhooks reach the bot's `/webhook` signed, exactly as in production, and the
//! bot's Graph calls reach mock-graph's handlers, both as HTTP requests handed to the
//! routers in-process (no sockets: a weekend of traffic takes seconds). Agents'
//! commands go through the same pipeline as Discord interactions.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bot::clock::{Clock, ManualClock};
use bot::commands::{self, interaction, response};
use bot::discord::recorder::Recorder;
use bot::engine::Engine;
use bot::settings::Settings;
use bot::store::sqlite::SqliteStore;
use bot::webhook::{router, WebhookConfig};
use jiff::Timestamp;
use messenger::guard::PromoLexicon;
use mock_graph::http::AppState;
use serde_json::{json, Value};

use scenario_format::command::{interaction_data, AgentAction};

use super::graph::InProcessGraph;
use scenario_format::Scenario;

/// The parent channel of the scenario's Discord.
pub const CHANNEL: u64 = 1_100_000_000_000_000_001;
/// The agent role.
pub const AGENT_ROLE: u64 = 1_100_000_000_000_000_002;
/// The team role.
pub const TEAM_ROLE: u64 = 1_100_000_000_000_000_003;

/// The webhook URL mock-graph is given; deliveries go to the bot's router in-process.
const IN_PROCESS_WEBHOOK: &str = "http://bot.in-process/webhook";

/// How long the bot waits for Meta in a scenario: a latency fault past it is a timeout.
pub const GRAPH_TIMEOUT: Duration = Duration::from_millis(150);

static WORLDS: AtomicU64 = AtomicU64::new(0);

/// A running scenario world.
pub struct World {
    /// Meta.
    pub mock: AppState,
    /// Discord.
    pub discord: Recorder,
    /// The bot.
    pub engine: Engine,
    /// The shared clock, as the bot reads it.
    pub clock: ManualClock,
    /// Customer ids to PSIDs.
    pub psids: BTreeMap<String, String>,
    /// The agents' last answers, as Discord's JSON.
    pub last_answer: HashMap<String, Value>,
    dir: PathBuf,
    interactions: u64,
}

impl World {
    /// Starts Meta, the bot and Discord for `scenario` under `seed`.
    pub async fn start(scenario: &Scenario, seed: u64) -> anyhow::Result<World> {
        let n = WORLDS.fetch_add(1, Ordering::Relaxed);
        let dir = scratch().join(format!("tagdesk-scenario-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let db = dir.join("tagdesk.db");
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
        }
        let store = Arc::new(SqliteStore::open(&db)?);

        let mut settings = mock_graph::Settings::defaults();
        // Never dialled: deliveries go to the bot's router in-process.
        settings.webhook_url = Some(IN_PROCESS_WEBHOOK.into());
        settings.seed = seed;
        settings.start = scenario.start;
        settings.rules = scenario.era;
        settings.human_agent = scenario.human_agent;
        if let Some(r) = scenario.rate_limit {
            settings.rate_limit = r;
        }
        let (mock_router, mock) = mock_graph::app(settings.clone());
        mock.deliverer.deliver_in_process(webhook(store.clone()));
        let mut psids = BTreeMap::new();
        {
            let mut p = mock.lock();
            if let Some(words) = &scenario.judge {
                p.judge = PromoLexicon::new(words);
            }
            for (id, name) in &scenario.customers {
                psids.insert(id.clone(), p.add_customer(name.as_deref()));
            }
        }
        let clock = ManualClock::new(scenario.start);
        let mut s = Settings::new(CHANNEL, AGENT_ROLE, scenario.era);
        s.team_role_id = TEAM_ROLE;
        s.human_agent = scenario.human_agent;
        s.coalesce = jiff::SignedDuration::from_secs(10);
        s.lexicon.extend(&scenario.guard);
        let discord = Recorder::new();
        let engine = Engine {
            store,
            graph: Arc::new(InProcessGraph {
                router: mock_router,
                token: settings.page_token.clone(),
                timeout: GRAPH_TIMEOUT,
            }),
            discord: Arc::new(discord.clone()),
            clock: Arc::new(clock.clone()),
            settings: Arc::new(s),
        };
        Ok(World {
            mock,
            discord,
            engine,
            clock,
            psids,
            last_answer: HashMap::new(),
            dir,
            interactions: 0,
        })
    }

    /// Now, virtually.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Moves Meta's clock and the bot's to `t` (never backwards), delivering whatever
    /// webhooks fall due.
    async fn set_time(&self, t: Timestamp) {
        if t > self.now() {
            let _ = self.mock.lock().advance_to(t);
            self.clock.set(t);
        }
        self.mock.flush().await;
    }

    /// Lets the bot work: Meta delivers what is pending, the bot processes it.
    pub async fn settle(&self) -> anyhow::Result<()> {
        self.mock.flush().await;
        self.engine.tick().await?;
        Ok(())
    }

    /// The next instant before `target` the bot has something to do on its own (a
    /// post to send, a label to change, an alert, a retry).
    /// Meta's webhook retries count too: they happen on Meta's schedule, not ours.
    pub fn next_stop(&self, target: Timestamp) -> anyhow::Result<Option<Timestamp>> {
        let now = self.now();
        let bot = self.engine.next_due()?.filter(|&due| due > now);
        let meta = self
            .mock
            .lock()
            .outbox
            .next_retry()
            .filter(|&due| due > now);
        let next = match (bot, meta) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(next.filter(|&due| due <= target))
    }

    /// Moves time to `t` and lets the bot work.
    pub async fn step_to(&self, t: Timestamp) -> anyhow::Result<()> {
        self.set_time(t).await;
        self.settle().await
    }

    /// Moves time to `t` without the bot working (it works after the next step).
    pub async fn jump_to(&self, t: Timestamp) {
        self.set_time(t).await;
    }

    /// The bot crashes and a new one starts on the same database.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        // The old bot lets go of its database (it holds it exclusively) as a crashed
        // process would; meanwhile Meta's deliveries find nobody (404) and are retried.
        self.mock.deliverer.deliver_in_process(axum::Router::new());
        self.engine.store = Arc::new(SqliteStore::in_memory()?);
        let store = Arc::new(SqliteStore::open(self.dir.join("tagdesk.db"))?);
        self.mock
            .deliverer
            .deliver_in_process(webhook(store.clone()));
        self.engine.store = store;
        Ok(())
    }

    /// An agent acts; their answer, as Discord's JSON.
    pub async fn act(
        &mut self,
        agent: &str,
        user_id: u64,
        roles: &[u64],
        action: &AgentAction,
        customer: Option<&str>,
    ) -> anyhow::Result<Value> {
        self.interactions += 1;
        let mut v = json!({
            "id": format!("{}", 1_200_000_000_000_000_000u64 + self.interactions),
            "token": "scenario",
            "application_id": "1",
            "member": {"user": {"id": user_id.to_string(), "username": agent, "global_name": agent}, "roles": roles.iter().map(u64::to_string).collect::<Vec<_>>()},
        });
        let psid = customer.and_then(|c| self.psids.get(c)).cloned();
        let thread = match &psid {
            Some(p) => self.engine.store.thread(p)?.and_then(|t| t.discord_thread),
            None => None,
        };
        if let Some(t) = thread {
            v["channel_id"] = json!(t.to_string());
        }
        match action {
            AgentAction::Unchecked(typed) => {
                anyhow::bail!("{typed:?} wasn't checked against the bot's commands")
            }
            AgentAction::Slash {
                command,
                sub,
                options,
            } => {
                let mut options = options.clone();
                if thread.is_none() {
                    if let Some(p) = &psid {
                        options.push(("customer".into(), json!(p)));
                    }
                }
                v["type"] = json!(2);
                v["data"] = interaction_data(command, sub.as_deref(), &options);
            }
            AgentAction::Press(prefix) | AgentAction::Pick(prefix) => {
                let last = self.last_answer.get(agent).cloned().unwrap_or(Value::Null);
                let picking = matches!(action, AgentAction::Pick(_));
                let found = components(&last).into_iter().find(|c| {
                    let id = c["custom_id"].as_str().unwrap_or_default();
                    if picking {
                        c["type"] == 3
                    } else {
                        c["type"] == 2 && id.starts_with(&format!("{prefix}:"))
                    }
                });
                let Some(c) = found else {
                    anyhow::bail!(
                        "{agent}'s last answer has no {} {prefix:?}",
                        if picking { "menu to pick" } else { "button" }
                    );
                };
                v["type"] = json!(3);
                v["data"] = json!({"custom_id": c["custom_id"], "component_type": c["type"], "values": if picking { json!([prefix]) } else { json!([]) }});
            }
        }
        let inv = interaction::parse(&v)?;
        let answer = response::render(&commands::handle(&self.engine, &inv).await);
        self.last_answer.insert(agent.to_owned(), answer.clone());
        Ok(answer)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn components(answer: &Value) -> Vec<Value> {
    answer["data"]["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Where a world keeps its database: in memory-backed `/dev/shm` where there is one (a
/// scenario's database is thrown away, and a weekend of commits shouldn't wait on a
/// disk), else the temporary directory. It is a file either way, so a restart reopens it.
fn scratch() -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

/// The bot's `/webhook`, with the secrets mock-graph signs with.
fn webhook(store: Arc<SqliteStore>) -> axum::Router {
    let defaults = mock_graph::Settings::defaults();
    router(
        WebhookConfig {
            app_secret: defaults.app_secret,
            verify_token: defaults.verify_token,
            wake: None,
        },
        store,
    )
}
