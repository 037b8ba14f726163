//! One scenario's world, in-process: mock-graph as Meta, the bot's real pipeline with
//! its SQLite store (a database in memory that outlives a simulated crash), the
//! recording Discord, and one virtual clock they share.
//!
//! A scenario with several pages (`[pages.NAME]`) has one mock-graph page and one bot
//! engine and store per page, as a deployment serving several pages does: webhooks
//! reach one `/webhook` that splits them by `entry[].id`, Graph calls reach one
//! mock-graph front that routes them by token, and interactions are routed to a page
//! by where they were made ([`bot::pages::Pages`]). Each page has its own channel.
//!
//! Meta's webhooks reach the bot's `/webhook` signed, exactly as in production, and the
//! bot's Graph calls reach mock-graph's handlers, both as HTTP requests handed to the
//! routers in-process (no sockets: a weekend of traffic takes seconds). Agents'
//! commands go through the same pipeline as Discord interactions, several at once when
//! a scenario says they happen at the same instant.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use bot::clock::{Clock, ManualClock};
use bot::commands::{interaction, response, Invocation};
use bot::config::Database;
use bot::discord::pacing::Paced;
use bot::discord::ratelimit::Limits;
use bot::discord::recorder::Recorder;
use bot::discord::DiscordApi;
use bot::engine::Engine;
use bot::pages::{Page, Pages};
use bot::settings::Layout;
use bot::store::sqlite::{MemoryDatabase, SqliteStore};
use bot::store::Store;
use bot::webhook::{router, WebhookConfig};
use jiff::Timestamp;
use messenger::guard::PromoLexicon;
use mock_graph::http::AppState;
use serde_json::{json, Value};

use scenario_format::command::{interaction_data, AgentAction};

use super::defects::{self, Defect};
use super::graph::InProcessGraph;
use super::promises::Ledger;
use super::settings::{page_settings, Options};
use mock_graph::platform::SentRecord;
use scenario_format::{AgentDef, Scenario, TimedStep};

/// The parent channel of the scenario's Discord (the first page's).
pub const CHANNEL: u64 = 1_100_000_000_000_000_001;
/// The text channel of the page's alerts when conversations are forum posts (the first
/// page's).
pub const ALERT_CHANNEL: u64 = 1_100_000_000_000_000_002;
/// How far apart the pages' channels are: page `n`'s (0 the first) are the first
/// page's plus `n` times this.
pub const PAGE_CHANNEL_STEP: u64 = 100;
/// The agent role.
pub const AGENT_ROLE: u64 = 1_100_000_000_000_000_002;
/// The team role.
pub const TEAM_ROLE: u64 = 1_100_000_000_000_000_003;

/// The webhook URL mock-graph is given; deliveries go to the bot's router in-process.
const IN_PROCESS_WEBHOOK: &str = "http://bot.in-process/webhook";

/// How long Discord honours a message nonce: "the past few minutes" in its docs.
pub const DISCORD_NONCE_MEMORY: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// How long the bot waits for Meta in a scenario: a latency fault past it is a timeout.
pub const GRAPH_TIMEOUT: Duration = Duration::from_millis(150);

static WORLDS: AtomicU64 = AtomicU64::new(0);

/// One page in the world: Meta's side of it and the bot's engine for it.
pub struct PageWorld {
    /// Its name in the scenario (the first page's is empty).
    pub name: String,
    /// Meta's page id.
    pub id: String,
    /// Meta, for this page.
    pub mock: AppState,
    /// The bot, for this page: its store, its token, its settings (its channel).
    pub engine: Engine,
    /// Where the page's store is, for a restart.
    storage: Storage,
}

/// Where a page's store lives, to open it again after a crash.
enum Storage {
    /// In the process's memory (the default): a crash loses what a crashed process
    /// loses, what wasn't committed, and no commit waits on the kernel.
    Memory(MemoryDatabase),
    /// A database the run was given (Postgres, for `bench-weekend --postgres`).
    Given(Database),
}

/// A running scenario world.
pub struct World {
    /// The pages, the first page first: one unless the scenario has `[pages.NAME]`.
    pub pages: Vec<PageWorld>,
    /// Discord.
    pub discord: Recorder,
    /// The shared clock, as the bot reads it.
    pub clock: ManualClock,
    /// Customer ids to PSIDs (page-scoped, as Meta gives them: each customer has one
    /// page).
    pub psids: BTreeMap<String, String>,
    /// Customer ids to the index of their page in [`World::pages`], for customers of
    /// further pages (the others write to the first).
    customer_pages: HashMap<String, usize>,
    /// The message each agent last got from the bot, as Discord's JSON: the one whose
    /// buttons and menus their next press or pick uses.
    last_answers: Mutex<HashMap<String, Value>>,
    /// Interactions so far: their ids count up in step order.
    interactions: AtomicU64,
    /// What agents were told about their sends, to check it was true.
    pub ledger: Mutex<Ledger>,
    /// The defect the store was told to have, again after a restart.
    defect: Option<Defect>,
}

/// Who acts: a team member as Discord presents them to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Their name in the scenario (and their Discord username).
    pub name: String,
    /// Their Discord user id.
    pub user_id: u64,
    /// Their Discord roles.
    pub roles: Vec<u64>,
}

impl Actor {
    /// The scenario's agent `name`, with the roles their definition gives.
    pub fn new(name: &str, def: &AgentDef) -> Actor {
        let roles = [(def.agent, AGENT_ROLE), (def.team, TEAM_ROLE)]
            .into_iter()
            .filter_map(|(has, role)| has.then_some(role))
            .collect();
        Actor {
            name: name.to_owned(),
            user_id: def.user_id,
            roles,
        }
    }
}

/// An agent's action made ready to run.
#[derive(Debug)]
pub enum Prepared {
    /// The interaction Discord would send, and for a press or pick, the message whose
    /// component was used (an UPDATE_MESSAGE answer replaces it).
    Interaction {
        /// As the bot parses it.
        invocation: Box<Invocation>,
        /// The message pressed on.
        pressed_on: Option<Value>,
    },
    /// A press or pick of a component the message doesn't have, in words: nothing
    /// reaches the bot.
    NoSuchButton(String),
}

/// What came of an agent's action.
#[derive(Debug, Clone, PartialEq)]
pub enum Acted {
    /// The bot's answer, as Discord's JSON.
    Answer(Value),
    /// The component wasn't there to press (see [`Prepared::NoSuchButton`]).
    NoSuchButton(String),
}

impl World {
    /// Starts Meta, the bot and Discord for `scenario` under `seed`.
    pub async fn start(scenario: &Scenario, seed: u64, options: &Options) -> anyhow::Result<World> {
        let n = WORLDS.fetch_add(1, Ordering::Relaxed);
        let several = !scenario.pages.is_empty();
        if several && options.database.is_some() {
            anyhow::bail!("a scenario with several pages runs on the world's own SQLite stores");
        }

        let mut base = mock_graph::Settings::defaults();
        // Never dialled: deliveries go to the bot's router in-process.
        base.webhook_url = Some(IN_PROCESS_WEBHOOK.into());
        base.seed = seed;
        base.start = scenario.start;
        let clock = ManualClock::new(scenario.start);
        let discord = Recorder::new();
        // As forgetful as Discord: a nonce is honoured for a few minutes, so an outage
        // or crash longer than that shows a copy if the bot relies on nonces alone.
        discord.forget_nonces_after(Arc::new(clock.clone()), DISCORD_NONCE_MEMORY);
        // And as strict: its rate limits are enforced on the virtual clock. The bot
        // paces itself by what each answer announces, as serenity's limiter does for
        // it in production.
        discord.enforce_limits(Limits::default(), Arc::new(clock.clone()));
        let paced_recorder: Arc<dyn DiscordApi> = if options.unpaced {
            Arc::new(discord.clone())
        } else {
            Arc::new(Paced::new(
                Arc::new(discord.clone()),
                Arc::new(clock.clone()),
            ))
        };

        // Meta's side of each page, and the front that routes Graph calls by token.
        let mut metas = Vec::new();
        for (i, page) in std::iter::once(None)
            .chain(scenario.pages.iter().map(Some))
            .enumerate()
        {
            let mut settings = base.page(i as u32 + 1);
            settings.rules = page.map_or(scenario.era, |p| p.era);
            settings.human_agent = page.map_or(scenario.human_agent, |p| p.human_agent);
            if let Some(r) = page.map_or(scenario.rate_limit, |p| p.rate_limit) {
                settings.rate_limit = r;
            }
            let (router, mock) = mock_graph::app(settings.clone());
            if let Some(words) = page.map_or(scenario.judge.as_ref(), |p| p.judge.as_ref()) {
                mock.lock().judge = PromoLexicon::new(words);
            }
            metas.push((router, mock, settings));
        }
        let front = match &metas[..] {
            [(router, _, _)] => router.clone(),
            _ => {
                let states: Vec<AppState> = metas.iter().map(|(_, m, _)| m.clone()).collect();
                mock_graph::pages::router(&states)
            }
        };

        let mut psids = BTreeMap::new();
        let mut customer_pages = HashMap::new();
        for (id, name) in &scenario.customers {
            let page = scenario.customer_page(id);
            psids.insert(
                id.clone(),
                metas[page].1.lock().add_customer(name.as_deref()),
            );
            if page > 0 {
                customer_pages.insert(id.clone(), page);
            }
        }

        let mut pages = Vec::new();
        for (i, (_, mock, settings)) in metas.into_iter().enumerate() {
            let storage = match &options.database {
                Some(db) => Storage::Given(db.clone()),
                None => Storage::Memory(MemoryDatabase::new(&format!(
                    "tagdesk-world-{n}-page-{}",
                    i + 1
                ))?),
            };
            let (mut s, _) = page_settings(scenario, i, options.team.as_ref());
            let step = PAGE_CHANNEL_STEP * i as u64;
            s.channel_id = CHANNEL + step;
            if let Layout::Forum { alerts } = s.layout {
                s.layout = Layout::Forum {
                    alerts: alerts + step,
                };
                discord.set_forum(s.channel_id);
            }
            let bots_discord = match &options.live {
                Some(live) => {
                    s.channel_id = live.channel;
                    s.layout = Layout::Threads;
                    live.api.clone()
                }
                None => paced_recorder.clone(),
            };
            let engine = Engine {
                store: open_store(&storage, options.defect)?,
                graph: Arc::new(InProcessGraph {
                    router: front.clone(),
                    token: settings.page_token.clone(),
                    timeout: GRAPH_TIMEOUT,
                }),
                discord: bots_discord,
                clock: Arc::new(clock.clone()),
                settings: Arc::new(s),
            };
            pages.push(PageWorld {
                name: scenario
                    .pages
                    .get(i.wrapping_sub(1))
                    .map_or(String::new(), |p| p.name.clone()),
                id: settings.page_id.clone(),
                mock,
                engine,
                storage,
            });
        }
        let world = World {
            pages,
            discord,
            clock,
            psids,
            customer_pages,
            last_answers: Mutex::default(),
            interactions: AtomicU64::new(0),
            ledger: Mutex::default(),
            defect: options.defect,
        };
        world.connect_webhooks();
        Ok(world)
    }

    /// The first page's Meta: a one-page world's only one.
    pub fn mock(&self) -> &AppState {
        &self.pages[0].mock
    }

    /// The first page's engine: a one-page world's only one.
    pub fn engine(&self) -> &Engine {
        &self.pages[0].engine
    }

    /// The page (its index in [`World::pages`]) a customer writes to.
    pub fn page_index(&self, customer: Option<&str>) -> usize {
        customer
            .and_then(|c| self.customer_pages.get(c))
            .copied()
            .unwrap_or(0)
    }

    /// The page a customer writes to; the first page for no customer.
    pub fn page_of(&self, customer: Option<&str>) -> &PageWorld {
        &self.pages[self.page_index(customer)]
    }

    /// The conversation whose Discord thread (or starter post) `id` is, with its page:
    /// whichever page's store knows it.
    pub fn by_discord_thread(
        &self,
        id: u64,
    ) -> Result<Option<(&PageWorld, bot::store::Thread)>, bot::store::StoreError> {
        for page in &self.pages {
            if let Some(t) = page.engine.store.thread_by_discord(id)? {
                return Ok(Some((page, t)));
            }
        }
        Ok(None)
    }

    /// The page (its index in [`World::pages`]) a step concerns: its customer's, or
    /// the page it names, or the first.
    pub fn step_page(&self, step: &TimedStep) -> usize {
        match (&step.customer, &step.page) {
            (Some(c), _) => self.page_index(Some(c)),
            (None, Some(name)) => self.pages.iter().position(|p| &p.name == name).unwrap_or(0),
            (None, None) => 0,
        }
    }

    /// Runs `f` on Meta's log of Send API calls and the app's id: every page's calls,
    /// page by page (copied, with several pages).
    pub fn with_sent<R>(&self, f: impl FnOnce(&[SentRecord], u64) -> R) -> R {
        match &self.pages[..] {
            [one] => {
                let p = one.mock.lock();
                f(&p.sent, p.settings.app_id)
            }
            pages => {
                let app_id = pages[0].mock.lock().settings.app_id;
                let mut sent = Vec::new();
                for page in pages {
                    sent.extend(page.mock.lock().sent.iter().cloned());
                }
                f(&sent, app_id)
            }
        }
    }

    /// How many Send API calls each page's Meta has logged, to find a step's own later
    /// ([`World::sent_since`]).
    pub fn sent_marks(&self) -> Vec<usize> {
        self.pages
            .iter()
            .map(|p| p.mock.lock().sent.len())
            .collect()
    }

    /// The Send API calls logged since `marks` ([`World::sent_marks`]), page by page.
    pub fn sent_since(&self, marks: &[usize]) -> Vec<SentRecord> {
        let mut calls = Vec::new();
        for (page, &mark) in self.pages.iter().zip(marks) {
            calls.extend(page.mock.lock().sent[mark..].iter().cloned());
        }
        calls
    }

    /// Meta's deliveries reach the bot's `/webhook`: one page's router, or, with
    /// several pages, the router that splits deliveries by page.
    fn connect_webhooks(&self) {
        let router = match &self.pages[..] {
            [one] => webhook(one.engine.store.clone()),
            pages => {
                let defaults = mock_graph::Settings::defaults();
                bot::webhook::router_for_pages(
                    WebhookConfig {
                        app_secret: defaults.app_secret,
                        verify_token: defaults.verify_token,
                        wake: None,
                    },
                    pages
                        .iter()
                        .map(|p| (p.id.clone(), p.engine.store.clone()))
                        .collect(),
                )
            }
        };
        for page in &self.pages {
            page.mock.deliverer.deliver_in_process(router.clone());
        }
    }

    /// Now, virtually.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Moves Meta's clock and the bot's to `t` (never backwards), delivering whatever
    /// webhooks fall due.
    async fn set_time(&self, t: Timestamp) {
        if t > self.now() {
            for page in &self.pages {
                let _ = page.mock.lock().advance_to(t);
            }
            self.clock.set(t);
        }
        self.flush().await;
    }

    /// Meta delivers what is pending: with several pages, what falls due for several
    /// at once in one POST, as for an app on several pages.
    async fn flush(&self) {
        mock_graph::pages::flush(self.pages.iter().map(|p| &p.mock)).await;
    }

    /// Lets the bot work: Meta delivers what is pending, the bot processes it.
    pub async fn settle(&self) -> anyhow::Result<()> {
        self.flush().await;
        for page in &self.pages {
            page.engine.tick().await?;
        }
        Ok(())
    }

    /// The next instant before `target` the bot has something to do on its own (a
    /// post to send, a label to change, an alert, a retry).
    /// Meta's webhook retries, late redeliveries and lagging echoes count too: they
    /// happen on Meta's schedule, not ours.
    pub fn next_stop(&self, target: Timestamp) -> anyhow::Result<Option<Timestamp>> {
        let now = self.now();
        let mut next: Option<Timestamp> = None;
        for page in &self.pages {
            let bot = page.engine.next_due()?;
            let meta = page.mock.lock().outbox.next_due();
            for due in [bot, meta].into_iter().flatten().filter(|&due| due > now) {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
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
        // The old bot lets go of its databases (it holds them exclusively) as a crashed
        // process would; meanwhile Meta's deliveries find nobody (404) and are retried.
        for page in &mut self.pages {
            page.mock.deliverer.deliver_in_process(axum::Router::new());
            page.engine.store = Arc::new(SqliteStore::in_memory()?);
        }
        for page in &mut self.pages {
            page.engine.store = open_store(&page.storage, self.defect)?;
        }
        self.connect_webhooks();
        Ok(())
    }

    /// Every agent's last answer, as it is now: a concurrent group's presses are
    /// resolved against this, taken before any of them runs.
    pub fn last_answers(&self) -> HashMap<String, Value> {
        self.answers().clone()
    }

    fn answers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.last_answers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ledger of what agents were told.
    pub fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An agent acts, alone: prepared, performed and remembered. Presses use their
    /// last answer as it is now.
    pub async fn act(
        &self,
        actor: &Actor,
        action: &AgentAction,
        customer: Option<&str>,
    ) -> anyhow::Result<Acted> {
        let last = self.answers().get(&actor.name).cloned();
        let page = self.page_index(customer);
        match self.prepare(actor, action, customer, page, last.as_ref())? {
            Prepared::NoSuchButton(why) => Ok(Acted::NoSuchButton(why)),
            Prepared::Interaction {
                invocation,
                pressed_on,
            } => {
                let answer = self.perform(&invocation).await;
                self.remember(&actor.name, &invocation, pressed_on.as_ref(), &answer);
                Ok(Acted::Answer(answer))
            }
        }
    }

    /// Makes the interaction Discord would send for `action`, taking the next
    /// interaction id. The agent is in the customer's thread, or, before it exists or
    /// for no customer, in page `page`'s channel (a one-page world's interactions name
    /// no channel then, as they always have). A press or pick uses the components of
    /// `last`, the agent's last answer; one it doesn't have takes no id and reaches
    /// nobody.
    pub fn prepare(
        &self,
        actor: &Actor,
        action: &AgentAction,
        customer: Option<&str>,
        page: usize,
        last: Option<&Value>,
    ) -> anyhow::Result<Prepared> {
        let (kind, data, pressed_on) = match action {
            AgentAction::Submit { custom_id, fields } => {
                let rows: Vec<Value> = fields
                    .iter()
                    .map(|(k, v)| json!({"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}))
                    .collect();
                (5, json!({"custom_id": custom_id, "components": rows}), None)
            }
            AgentAction::Unchecked(typed) => {
                anyhow::bail!("{typed:?} wasn't checked against the bot's commands")
            }
            AgentAction::Slash {
                command,
                sub,
                options,
            } => {
                let mut options = options.clone();
                if self.discord_thread(customer)?.is_none() {
                    if let Some(p) = customer.and_then(|c| self.psids.get(c)) {
                        options.push(("customer".into(), json!(p)));
                    }
                }
                (2, interaction_data(command, sub.as_deref(), &options), None)
            }
            AgentAction::Press(wanted) | AgentAction::Pick(wanted) => {
                let picking = matches!(action, AgentAction::Pick(_));
                let message = last.cloned().unwrap_or(Value::Null);
                let Some(c) = component(&message, wanted, picking) else {
                    return Ok(Prepared::NoSuchButton(no_such_button(
                        &actor.name,
                        wanted,
                        picking,
                        &message,
                    )));
                };
                let values = if picking { json!([wanted]) } else { json!([]) };
                let data = json!({"custom_id": c["custom_id"], "component_type": c["type"], "values": values});
                (3, data, Some(message))
            }
        };
        let n = self.interactions.fetch_add(1, Ordering::Relaxed) + 1;
        let mut v = json!({
            "id": format!("{}", 1_200_000_000_000_000_000u64 + n),
            "type": kind,
            "data": data,
            "token": "scenario",
            "application_id": "1",
            "member": {"user": {"id": actor.user_id.to_string(), "username": actor.name, "global_name": actor.name}, "roles": actor.roles.iter().map(u64::to_string).collect::<Vec<_>>()},
        });
        // A press or pick is made where the message pressed on is, as Discord says.
        let shown_in = pressed_on.as_ref().and_then(|m| m[SHOWN_IN].as_u64());
        if let Some(c) = shown_in {
            v["channel_id"] = json!(c.to_string());
        } else if let Some(t) = self.discord_thread(customer)? {
            v["channel_id"] = json!(t.to_string());
        } else if self.pages.len() > 1 {
            v["channel_id"] = json!(self.pages[page].engine.settings.channel_id.to_string());
        }
        Ok(Prepared::Interaction {
            invocation: Box::new(interaction::parse(&v)?),
            pressed_on,
        })
    }

    /// The customer's Discord thread, if they have one yet.
    fn discord_thread(&self, customer: Option<&str>) -> anyhow::Result<Option<u64>> {
        let Some(psid) = customer.and_then(|c| self.psids.get(c)) else {
            return Ok(None);
        };
        Ok(self
            .page_of(customer)
            .engine
            .store
            .thread(psid)?
            .and_then(|t| t.discord_thread))
    }

    /// Runs an interaction through the bot's command pipeline, on the page it is
    /// routed to as a deployment routes it: its answer, as Discord's JSON. Takes
    /// `&self`, so a group's interactions run at once.
    pub async fn perform(&self, invocation: &Invocation) -> Value {
        let pages = Pages::new(
            self.pages
                .iter()
                .map(|p| Page {
                    id: p.id.clone(),
                    engine: p.engine.clone(),
                })
                .collect(),
        );
        let answer = pages.handle(invocation).await;
        response::render(&answer)
    }

    /// Records what an agent now sees after `answer` to `invocation`: a new message is
    /// their last answer, in the channel the invocation was made in; an UPDATE_MESSAGE
    /// replaces the message pressed on (its buttons go unless it brings new ones); a
    /// modal or autocomplete changes no message.
    pub fn remember(
        &self,
        agent: &str,
        invocation: &Invocation,
        pressed_on: Option<&Value>,
        answer: &Value,
    ) {
        let seen = match answer["type"].as_u64() {
            Some(4) => {
                let mut seen = answer.clone();
                if let Some(c) = invocation.channel_id {
                    seen[SHOWN_IN] = json!(c);
                }
                seen
            }
            Some(7) => updated(pressed_on.unwrap_or(&Value::Null), answer),
            _ => return,
        };
        self.answers().insert(agent.to_owned(), seen);
    }
}

/// The message `old` after an UPDATE_MESSAGE `update`: as Discord does, the fields the
/// update gives replace the old ones and the rest stay.
pub fn updated(old: &Value, update: &Value) -> Value {
    let mut data = old["data"].as_object().cloned().unwrap_or_default();
    if let Some(new) = update["data"].as_object() {
        data.extend(new.clone());
    }
    let mut now = json!({"type": 7, "data": data});
    // The message stays where it is.
    if let Some(c) = old.get(SHOWN_IN) {
        now[SHOWN_IN] = c.clone();
    }
    now
}

/// The key under which the world notes, on an agent's last answer, the channel it was
/// shown in (Discord sends a press from the channel of the message pressed on).
const SHOWN_IN: &str = "shown_in_channel";

/// The button whose `custom_id` is `wanted:...`, or (`picking`) the select menu, under
/// `message`.
fn component(message: &Value, wanted: &str, picking: bool) -> Option<Value> {
    components(message).into_iter().find(|c| {
        let id = c["custom_id"].as_str().unwrap_or_default();
        if picking {
            c["type"] == 3
        } else {
            // A kind (`park`: the first such button) or a button exactly (`inbox:all:2`).
            c["type"] == 2 && (id == wanted || id.starts_with(&format!("{wanted}:")))
        }
    })
}

/// Why a press or pick found nothing, naming what was there instead.
fn no_such_button(agent: &str, wanted: &str, picking: bool, message: &Value) -> String {
    let there: Vec<String> = components(message)
        .iter()
        .map(|c| match c["type"].as_u64() {
            Some(3) => "a menu".to_owned(),
            _ => {
                let id = c["custom_id"].as_str().unwrap_or_default();
                let name = id.split(':').next().unwrap_or_default();
                format!("“{name}”")
            }
        })
        .collect();
    let what = if picking {
        format!("no menu to pick “{wanted}” from")
    } else {
        format!("no button “{wanted}”")
    };
    let instead = if there.is_empty() {
        "it has none".to_owned()
    } else {
        format!("it has {}", there.join(", "))
    };
    format!("{agent}'s last answer has {what} ({instead})")
}

fn components(answer: &Value) -> Vec<Value> {
    answer["data"]["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The bot's store in `storage`, with `defect` if a test asked for one.
fn open_store(storage: &Storage, defect: Option<Defect>) -> anyhow::Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match storage {
        Storage::Memory(db) => Arc::new(SqliteStore::open_memory(db)?),
        Storage::Given(database) => {
            bot::store::open(database).with_context(|| format!("the store at {database}"))?
        }
    };
    Ok(match defect {
        Some(d) => defects::inject(store, d),
        None => store,
    })
}

/// The bot's `/webhook`, with the secrets mock-graph signs with.
fn webhook(store: Arc<dyn Store>) -> axum::Router {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_replaces_the_message_pressed_on() {
        let warned = json!({"type": 4, "data": {"content": "⚠️ second tag", "components": [
            {"type": 1, "components": [{"type": 2, "custom_id": "confirm:9", "label": "Send anyway"}]}
        ], "flags": 64}});
        let sent = json!({"type": 7, "data": {"content": "✅ Sent", "components": []}});
        let now = updated(&warned, &sent);
        assert_eq!(now["data"]["content"], "✅ Sent");
        assert_eq!(
            now["data"]["flags"], 64,
            "what the update doesn't give stays"
        );
        assert!(
            component(&now, "confirm", false).is_none(),
            "the buttons are gone"
        );
        assert!(component(&warned, "confirm", false).is_some());
        assert_eq!(
            no_such_button("grace", "confirm", false, &now),
            "grace's last answer has no button “confirm” (it has none)"
        );
        assert_eq!(
            no_such_button("grace", "park", false, &warned),
            "grace's last answer has no button “park” (it has “confirm”)"
        );
    }
}
