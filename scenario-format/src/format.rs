//! The scenario file format, as TOML. `scenarios/README.md` documents it with an
//! annotated example; every table refuses unknown keys, so a typo is an error with its
//! line and column rather than a silently ignored expectation.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Its name, as reports show it.
    pub name: String,
    /// What it shows, in a sentence or two.
    pub description: String,
    /// The seed of every id and random choice.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The virtual instant it starts at (RFC 3339).
    #[serde(default)]
    pub start: Option<Spanned<String>>,
    /// The rules era.
    #[serde(default)]
    pub rules: Option<Spanned<String>>,
    /// The page's settings: the first page, the only one unless `[pages.NAME]` adds
    /// others.
    #[serde(default)]
    pub page: PageSection,
    /// Further pages of the same business, served by the same deployment, by the name
    /// customers and steps use.
    #[serde(default)]
    pub pages: BTreeMap<String, Spanned<PageSection>>,
    /// The team, by name.
    #[serde(default)]
    pub agents: BTreeMap<String, AgentSection>,
    /// Named customers, by the id steps use.
    #[serde(default)]
    pub customers: BTreeMap<String, CustomerSection>,
    /// Generated customers.
    #[serde(default)]
    pub generate: Option<Spanned<GenerateSection>>,
    /// The timeline.
    #[serde(default)]
    pub step: Vec<Spanned<Step>>,
}

fn default_seed() -> u64 {
    1
}

/// `[page]`, and each further page's `[pages.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSection {
    /// A further page's rules era (default: the file's `rules`, which is the first
    /// page's: in `[page]` this key is refused).
    #[serde(default)]
    pub rules: Option<Spanned<String>>,
    /// The Human Agent feature (default true).
    #[serde(default)]
    pub human_agent: Option<bool>,
    /// Meta's promotional judge: its word list, replacing the default.
    #[serde(default)]
    pub judge: Option<Vec<String>>,
    /// Extra phrases for the bot's own guard.
    #[serde(default)]
    pub guard: Vec<String>,
    /// Send API calls per second per page before Meta rate-limits.
    #[serde(default)]
    pub rate_limit: Option<u32>,
}

/// `[agents.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// `agent` (may send) and/or `team` (may look). Default: both.
    #[serde(default = "default_roles")]
    pub roles: Vec<Spanned<String>>,
}

fn default_roles() -> Vec<Spanned<String>> {
    vec![Spanned::new(0..0, "agent".into())]
}

/// `[customers.ID]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerSection {
    /// The name on their profile; generated from the seed if left out.
    #[serde(default)]
    pub name: Option<String>,
    /// The page they write to, by its `[pages.NAME]`; the first page if left out.
    #[serde(default)]
    pub page: Option<Spanned<String>>,
}

/// `[generate]`: customers made from the seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSection {
    /// How many.
    pub count: u32,
    /// Arrivals start this long after the start.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// And end this long after it.
    pub until: Spanned<String>,
    /// `uniform` or `poisson` arrivals.
    #[serde(default = "default_arrival")]
    pub arrival: Spanned<String>,
    /// Messages per customer: `[min, max]`.
    #[serde(default = "default_messages")]
    pub messages: [u32; 2],
    /// The longest gap between one customer's messages in a burst.
    #[serde(default)]
    pub gap: Option<Spanned<String>>,
    /// Message templates by language; `{order}` becomes an order number.
    pub templates: BTreeMap<String, Vec<String>>,
}

fn default_arrival() -> Spanned<String> {
    Spanned::new(0..0, "uniform".into())
}

fn default_messages() -> [u32; 2] {
    [1, 3]
}

/// `[[step]]`: one thing that happens, at a virtual time, and what must hold after.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// When, from the start: `"0s"`, `"24h"`, `"7d 1s"`. A concurrent step may leave it
    /// out (it happens when the step before it does); every other step needs it.
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// The step happens at the same virtual instant as the step before it, and at once
    /// with it: consecutive concurrent steps form a group with the step before them.
    #[serde(default)]
    pub concurrent: bool,
    /// The customer it concerns.
    #[serde(default)]
    pub customer: Option<Spanned<String>>,
    /// The page it concerns, by its `[pages.NAME]`, when it names no customer (a
    /// customer's step concerns their page): an agent acts in that page's channel, a
    /// fault is that page's Meta misbehaving, expectations about the page are about it.
    #[serde(default)]
    pub page: Option<Spanned<String>>,
    /// The customer writes this.
    #[serde(default)]
    pub says: Option<String>,
    /// The customer presses a button with this title.
    #[serde(default)]
    pub postback: Option<String>,
    /// The customer reacts with this emoji to the page's last message.
    #[serde(default)]
    pub reaction: Option<String>,
    /// The customer arrives through a link with this ref.
    #[serde(default)]
    pub referral: Option<String>,
    /// The customer reads the conversation.
    #[serde(default)]
    pub reads: bool,
    /// The customer blocks (true) or unblocks (false) the page.
    #[serde(default)]
    pub blocks: Option<bool>,
    /// Another app takes the conversation (true) or hands it back (false).
    #[serde(default)]
    pub handover: Option<bool>,
    /// Another app (Meta Business Suite) sends this text to the customer.
    #[serde(default)]
    pub other_app: Option<String>,
    /// With this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// The other app's send goes to this many customers at once (a broadcast): the
    /// step's customer, then the others in the order they were created (named ones,
    /// then generated ones). Meta judges a broadcast as one offence.
    #[serde(default)]
    pub other_app_recipients: Option<u32>,
    /// The agent who acts.
    #[serde(default)]
    pub agent: Option<Spanned<String>>,
    /// What the agent does, as typed: `/reply text:...`, `press park`, `pick HUMAN_AGENT`,
    /// `submit reply-modal:PSID`.
    #[serde(default)]
    pub does: Option<Spanned<String>>,
    /// The command's options (or the form's fields) exactly, text or true/false: then
    /// `does` names only the command (`/reply`, `/snippet add`, `submit FORM`), and
    /// words typed after it are not read. Recorded live sessions use it, since typed
    /// text can't carry every value.
    #[serde(default)]
    pub options: Option<Spanned<BTreeMap<String, toml::Value>>>,
    /// Faults from now on.
    #[serde(default)]
    pub faults: Option<FaultSection>,
    /// Discord goes down (true) or comes back (false).
    #[serde(default)]
    pub discord_outage: Option<bool>,
    /// Discord misbehaves for its next calls: `{ lost_answers = 2, rate_limited = 3 }`.
    #[serde(default)]
    pub discord_faults: Option<DiscordFaults>,
    /// The bot crashes and restarts on the same database.
    #[serde(default)]
    pub restart: bool,
    /// What must hold after the step.
    #[serde(default)]
    pub expect: Option<Spanned<Expect>>,
}

/// `faults = {...}`: Meta's side misbehaving, seeded.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSection {
    /// Probability a Send API call fails with a 5xx.
    #[serde(default)]
    pub graph_errors: f64,
    /// The next this-many Send API calls are rate-limited (613).
    #[serde(default)]
    pub rate_limit_burst: u32,
    /// Real latency added to Send API answers, e.g. `"300ms"`: past the runner's Graph
    /// timeout this is a timeout.
    #[serde(default)]
    pub latency: Option<String>,
    /// Probability a webhook delivery is lost (and retried by Meta).
    #[serde(default)]
    pub drop: f64,
    /// Probability a webhook delivery arrives twice.
    #[serde(default)]
    pub duplicate: f64,
    /// Probability a batch's events arrive reversed.
    #[serde(default)]
    pub reorder: f64,
    /// The echo of a message this app sends through the Send API is delivered this long
    /// after the send, on the virtual clock, e.g. `"5m"` (other events are on time).
    #[serde(default)]
    pub echo_lag: Option<String>,
    /// Every webhook delivery is delivered once more this long later, after later
    /// events, e.g. `"1h"`; with `drop`, a lost delivery's only retry comes this late.
    #[serde(default)]
    pub late_redelivery: Option<String>,
    /// Real latency added to profile lookups, e.g. `"5s"`.
    #[serde(default)]
    pub profile_latency: Option<String>,
    /// Probability a profile lookup fails with a 5xx.
    #[serde(default)]
    pub profile_errors: f64,
}

/// `discord_faults = {...}`: Discord's side misbehaving for its next calls, in the order
/// the bot makes them.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DiscordFaults {
    /// The next this-many calls take effect, but their answers are lost (a 502, as when
    /// a connection drops after Discord acted): the bot can't know the post was made.
    #[serde(default)]
    pub lost_answers: u32,
    /// The next this-many calls are refused 429 with a one-second `retry_after`.
    #[serde(default)]
    pub rate_limited: u32,
}

/// `expect = {...}`: what must hold after a step.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The answer to the agent's action: `sent`, `partial`, `refused`, `warned`,
    /// `parked`, `failed`, `pending`, `denied`, `error`, `done`.
    pub outcome: Option<String>,
    /// Words the answer to the agent contains.
    pub says: Option<String>,
    /// The `messaging_type` of every Send API call this step caused.
    pub messaging_type: Option<String>,
    /// The tag of every Send API call this step caused (`none` for none).
    pub tag: Option<String>,
    /// Meta's answer to every Send API call this step caused: `code` or
    /// `code/subcode`, `none` for success.
    pub meta_error: Option<String>,
    /// Meta's restriction of the page: `none`, `1d`, `3d`, `7d`, `365d`, `permanent`.
    pub restriction: Option<String>,
    /// When it ends, from the start: `"4d"`.
    pub restriction_ends: Option<String>,
    /// Meta's warnings to the page so far.
    pub warnings: Option<u32>,
    /// The worst restriction Meta ever imposed on the page in this run, in force or
    /// over: `none`, `1d`, `3d`, `7d`, `365d`, `permanent`.
    pub worst_restriction: Option<String>,
    /// The restriction as the bot knows it.
    pub bot_restriction: Option<String>,
    /// The customer's window: `standard`, `human_agent`, `expired`.
    pub window: Option<String>,
    /// How the customer's Discord thread name starts.
    pub label: Option<String>,
    /// Discord posts in the customer's thread.
    pub thread_posts: Option<usize>,
    /// Discord threads in all.
    pub threads: Option<usize>,
    /// Alert lines posted so far.
    pub alerts: Option<usize>,
    /// Send API calls Meta accepted, in all.
    pub sends: Option<usize>,
    /// Copies Meta accepted of a message of this app it had already accepted.
    pub duplicates: Option<usize>,
    /// Replies parked and not yet sent.
    pub parked: Option<usize>,
    /// The customer at the top of `/inbox`.
    pub inbox_first: Option<String>,
    /// Every customer message is in the bot's store once and in Discord once (only
    /// `true` means something).
    pub nothing_lost: Option<bool>,
    /// Every answer an agent got so far was true: `sent` means Meta had accepted it,
    /// `refused`, `warned`, `parked` and `denied` mean nothing went out, and `pending`
    /// (queued) has ended, sent or stopped, with its outcome in the thread (only `true`).
    pub answers_true: Option<bool>,
    /// Every reply an agent was told is sent or queued reached Meta at most once (once,
    /// if it was sent), and the replies to one customer, and the parts of one reply,
    /// reached Meta in the order they were told (only `true`).
    pub replies_kept: Option<bool>,
    /// The bot's record of the page (warnings, worst rung, restriction in force and its
    /// end) equals Meta's; where another app sends, the bot may know less than Meta but
    /// never more (only `true`).
    pub record_agrees: Option<bool>,
}
