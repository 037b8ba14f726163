//! The bot's configuration: one TOML file, with secrets from the environment.
//!
//! Every key is documented in `tagdesk.example.toml` at the repository root. Secrets
//! never live in the file and are never logged: [`Secret`] masks itself in `Debug`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use messenger::text::line_column;
use messenger::RulesChoice;
use serde::Deserialize;

use crate::settings::Layout;

/// The environment variables that hold secrets.
pub mod env {
    /// The Discord bot token.
    pub const DISCORD_TOKEN: &str = "TAGDESK_DISCORD_TOKEN";
    /// The Page access token.
    pub const PAGE_TOKEN: &str = "TAGDESK_PAGE_TOKEN";
    /// The Meta app secret, which signs webhooks.
    pub const APP_SECRET: &str = "TAGDESK_APP_SECRET";
    /// The webhook verify token.
    pub const VERIFY_TOKEN: &str = "TAGDESK_VERIFY_TOKEN";
}

/// A value that must not appear in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why the configuration can't be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file couldn't be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file isn't valid TOML or has a bad key or value.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A required secret is missing from the environment.
    #[error("missing secret: set the environment variable {0}")]
    MissingSecret(String),
}

impl ConfigError {
    /// A [`ConfigError::Parse`] at byte `offset` of `text`, the contents of `path`.
    pub fn at(path: &Path, text: &str, offset: usize, message: String) -> ConfigError {
        let (line, column) = line_column(text, offset);
        ConfigError::Parse {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    }
}

/// The whole configuration, as the bot uses it.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file's settings.
    pub file: FileConfig,
    /// The secrets.
    pub secrets: Secrets,
    /// The pages served, each with its access token.
    pub pages: Vec<Page>,
}

/// A page the bot serves, with its access token.
#[derive(Debug, Clone)]
pub struct Page {
    /// What the file says of it.
    pub setup: PageSetup,
    /// Its access token, from the environment variable `setup.token_env`.
    pub token: Secret,
}

/// The secrets, from the environment.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// The Discord bot token.
    pub discord_token: Secret,
    /// The Meta app secret (one app signs every page's webhooks).
    pub app_secret: Secret,
    /// The webhook verify token.
    pub verify_token: Secret,
}

/// `tagdesk.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where the bot's HTTP server (webhook, interactions) listens.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// The database: a SQLite file (the default), or a Postgres server given by a
    /// `postgres://` URL or libpq's `host=… dbname=…` form; created or migrated at start.
    #[serde(default = "defaults::database")]
    pub database: Database,
    /// With Postgres, several `tagdesk bot` processes (replicas) may share the
    /// database: each holds the lanes it works (conversations, the page) while it
    /// renews its heartbeat, every third of this, and another replica takes a dead
    /// one's lanes this long after its last heartbeat.
    #[serde(default = "defaults::lane_lease", with = "duration")]
    pub lane_lease: SignedDuration,
    /// Log as JSON lines instead of text.
    #[serde(default)]
    pub json_logs: bool,
    /// Discord.
    pub discord: DiscordConfig,
    /// Meta; with `[[pages]]` it may be left out.
    #[serde(default)]
    pub meta: MetaConfig,
    /// The policy.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// `[[pages]]`: several Facebook pages in one deployment. Empty (the default): one
    /// page, given by `[meta] page_id` and `[discord] channel_id`.
    #[serde(default)]
    pub pages: Vec<toml::Spanned<PageConfig>>,
}

/// One `[[pages]]` entry: a Facebook page, with its own token, channel, rules and store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageConfig {
    /// The page's id: webhook entries with this `entry[].id` are this page's.
    pub id: toml::Spanned<String>,
    /// The environment variable holding this page's access token.
    pub token_env: toml::Spanned<String>,
    /// The channel the page's conversations appear in.
    pub channel_id: toml::Spanned<u64>,
    /// Where the page's alerts go in forum layout.
    #[serde(default)]
    pub alert_channel_id: Option<u64>,
    /// Threads in a text channel (default) or posts in a forum.
    #[serde(default)]
    pub layout: Option<toml::Spanned<LayoutKind>>,
    /// The page's rules; `[policy] rules` if unset.
    #[serde(default)]
    pub rules: Option<RulesChoice>,
    /// Whether the app has Human Agent for this page; `[policy] human_agent` if unset.
    #[serde(default)]
    pub human_agent: Option<bool>,
    /// The page's own store; derived from the top-level `database` if unset (a SQLite
    /// file named after the page beside it).
    #[serde(default)]
    pub database: Option<toml::Spanned<Database>>,
}

/// One page as the bot runs it, resolved from `[[pages]]` or from the single-page keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSetup {
    /// The page's id.
    pub id: String,
    /// The environment variable holding its access token.
    pub token_env: String,
    /// Its store.
    pub database: Database,
    /// Its conversations' channel.
    pub channel_id: u64,
    /// Threads or forum.
    pub layout: Layout,
    /// Its rules.
    pub rules: RulesChoice,
    /// Whether the app has Human Agent for it.
    pub human_agent: bool,
}

/// Where the bot keeps its state: `database = "…"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Database {
    /// A SQLite file, embedded: the default.
    Sqlite(PathBuf),
    /// A Postgres server: the connection string as written (a `postgres://` or
    /// `postgresql://` URL, or `host=… dbname=…`), checked when the file is read.
    Postgres(String),
}

/// libpq's keywords that start a `key=value` connection string.
const CONNINFO_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "sslmode",
    "options",
    "application_name",
    "connect_timeout",
];

impl Database {
    /// Reads the `database` key: a Postgres URL or `key=value` connection string, or a
    /// path to a SQLite file.
    pub fn parse(s: &str) -> Result<Database, String> {
        let url = s.starts_with("postgres://") || s.starts_with("postgresql://");
        let conninfo = s
            .split_whitespace()
            .next()
            .and_then(|word| word.split_once('='))
            .is_some_and(|(key, _)| CONNINFO_KEYS.contains(&key));
        if !url && !conninfo {
            return Ok(Database::Sqlite(s.into()));
        }
        match s.parse::<postgres::Config>() {
            Ok(c) if c.get_hosts().is_empty() && !url => Err(format!(
                "a Postgres connection string needs host=… (a server or a socket directory): {s:?}"
            )),
            Ok(_) => Ok(Database::Postgres(s.to_owned())),
            Err(e) => Err(format!("not a valid Postgres connection string ({e})")),
        }
    }
}

impl<'de> Deserialize<'de> for Database {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Database, D::Error> {
        let s = String::deserialize(d)?;
        Database::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// For logs: the file, or the server and database without credentials.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(conninfo) => {
                let Ok(c) = conninfo.parse::<postgres::Config>() else {
                    return f.write_str("postgres");
                };
                let hosts: Vec<String> = c
                    .get_hosts()
                    .iter()
                    .map(|h| match h {
                        postgres::config::Host::Tcp(name) => name.clone(),
                        postgres::config::Host::Unix(dir) => dir.display().to_string(),
                    })
                    .collect();
                write!(
                    f,
                    "postgres database {} on {}",
                    c.get_dbname().unwrap_or("(default)"),
                    hosts.join(",")
                )
            }
        }
    }
}

/// `[discord]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// The REST API base; a stand-in for tests and training.
    #[serde(default = "defaults::discord_api")]
    pub api_base: String,
    /// The application's id.
    pub application_id: u64,
    /// The application's Ed25519 public key (hex), for the HTTP interactions endpoint.
    #[serde(default)]
    pub public_key: Option<String>,
    /// How interactions arrive: over the gateway (default; no public URL needed) or
    /// at `/interactions` (needs `public_key` and a public URL).
    #[serde(default)]
    pub transport: Transport,
    /// How long a customer's post waits for more messages to join it.
    #[serde(default = "defaults::coalesce", with = "duration")]
    pub coalesce: SignedDuration,
    /// The guild the commands live in.
    pub guild_id: u64,
    /// The channel conversations appear in: a text channel (threads) or a forum.
    /// Required with one page; with `[[pages]]` each page names its own.
    #[serde(default)]
    pub channel_id: Option<u64>,
    /// How conversations appear: threads in a text channel (default), or posts in a
    /// forum channel (one Discord call opens a conversation instead of two).
    #[serde(default)]
    pub layout: Option<toml::Spanned<LayoutKind>>,
    /// Where the page's alerts and notices go in forum layout (a forum takes posts,
    /// not messages); in thread layout, `channel_id`.
    #[serde(default)]
    pub alert_channel_id: Option<u64>,
    /// The role allowed to send to customers; pinged by alerts when nobody claimed.
    pub agent_role_id: u64,
    /// The role allowed to look (`/inbox`, `/thread`, `/status`); the agent role if unset.
    #[serde(default)]
    pub team_role_id: Option<u64>,
}

/// `[discord] layout`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayoutKind {
    /// A thread per conversation under a text channel.
    #[default]
    Threads,
    /// A post per conversation in a forum channel.
    Forum,
}

/// How Discord delivers interactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// serenity's gateway client.
    #[default]
    Gateway,
    /// The HTTP interactions endpoint.
    Http,
}

/// `[meta]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaConfig {
    /// The Graph API base: Meta's, or mock-graph for QA and training.
    #[serde(default = "defaults::graph_api")]
    pub graph_base: String,
    /// The Graph API version in request paths.
    #[serde(default = "defaults::graph_version")]
    pub graph_version: String,
    /// The Page's id. Required with one page; with `[[pages]]` each page names its own.
    #[serde(default)]
    pub page_id: Option<String>,
}

impl Default for MetaConfig {
    fn default() -> Self {
        MetaConfig {
            graph_base: defaults::graph_api(),
            graph_version: defaults::graph_version(),
            page_id: None,
        }
    }
}

/// `[policy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Which rules apply: `auto` (the calendar's: `legacy-2020` before 2026-04-27,
    /// `meta-2026` after), or one era whatever the date.
    #[serde(default)]
    pub rules: RulesChoice,
    /// Whether the app has Meta's Human Agent feature.
    #[serde(default = "defaults::yes")]
    pub human_agent: bool,
    /// How long before a window closes the team is alerted.
    #[serde(default = "defaults::alert_before", with = "duration")]
    pub alert_before: SignedDuration,
    /// Extra promotional phrases for the guard, on top of the built-in ones.
    #[serde(default)]
    pub promo_phrases: Vec<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            rules: RulesChoice::default(),
            human_agent: true,
            alert_before: defaults::alert_before(),
            promo_phrases: Vec::new(),
        }
    }
}

mod defaults {
    use super::*;

    pub fn listen() -> SocketAddr {
        "127.0.0.1:8080".parse().expect("valid address")
    }
    pub fn database() -> Database {
        Database::Sqlite("tagdesk.db".into())
    }
    pub fn discord_api() -> String {
        "https://discord.com".into()
    }
    pub fn graph_api() -> String {
        "https://graph.facebook.com".into()
    }
    pub fn graph_version() -> String {
        "v21.0".into()
    }
    pub fn yes() -> bool {
        true
    }
    pub fn lane_lease() -> SignedDuration {
        SignedDuration::try_from(crate::store::LANE_LEASE).expect("a short duration")
    }
    pub fn coalesce() -> SignedDuration {
        SignedDuration::from_secs(10)
    }
    pub fn alert_before() -> SignedDuration {
        SignedDuration::from_hours(2)
    }
}

/// `alert_before = "2h"`.
mod duration {
    use jiff::SignedDuration;
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
        let s = String::deserialize(d)?;
        messenger::timefmt::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

impl FileConfig {
    /// Parses a configuration file's text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let at = |offset: usize, message: String| ConfigError::at(path, text, offset, message);
        if let Some(layout) = &file.discord.layout {
            if *layout.get_ref() == LayoutKind::Forum && file.discord.alert_channel_id.is_none() {
                return Err(at(
                    layout.span().start,
                    "layout = \"forum\" needs `alert_channel_id` in [discord]: a text \
                     channel for the page's alerts (a forum takes posts, not messages)"
                        .into(),
                ));
            }
        }
        if file.pages.is_empty() {
            for (table, key, given) in [
                ("meta", "page_id", file.meta.page_id.is_some()),
                ("discord", "channel_id", file.discord.channel_id.is_some()),
            ] {
                if !given {
                    return Err(at(
                        table_offset(text, table),
                        format!(
                            "missing field `{key}` in [{table}] (or give each page its own in \
                             [[pages]])"
                        ),
                    ));
                }
            }
            return Ok(file);
        }
        let mut ids = std::collections::HashSet::new();
        let mut channels = std::collections::HashSet::new();
        let mut databases = std::collections::HashSet::new();
        for page in &file.pages {
            let page_start = page.span().start;
            let page = page.get_ref();
            let id = page.id.get_ref();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(at(
                    page.id.span().start,
                    format!("a page id is the page's number, as Meta gives it: {id:?}"),
                ));
            }
            if !ids.insert(id.clone()) {
                return Err(at(
                    page.id.span().start,
                    format!("page {id} is configured twice"),
                ));
            }
            let var = page.token_env.get_ref();
            if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(at(
                    page.token_env.span().start,
                    format!(
                        "token_env names the environment variable holding the page's token \
                         (letters, digits and `_`), not the token itself: {}",
                        if var.len() > 12 {
                            "a long value"
                        } else {
                            "an invalid name"
                        }
                    ),
                ));
            }
            let channel = *page.channel_id.get_ref();
            let alerts = page.alert_channel_id;
            if !channels.insert(channel) || alerts.is_some_and(|a| !channels.insert(a)) {
                return Err(at(
                    page.channel_id.span().start,
                    format!(
                        "channel {channel} is another page's: each page needs channels of its \
                         own, so a command typed there reaches the right page"
                    ),
                ));
            }
            if let Some(layout) = &page.layout {
                if *layout.get_ref() == LayoutKind::Forum && alerts.is_none() {
                    return Err(at(
                        layout.span().start,
                        "layout = \"forum\" needs `alert_channel_id` in this [[pages]] entry: \
                         a text channel for the page's alerts (a forum takes posts, not messages)"
                            .into(),
                    ));
                }
            }
            let database = match &page.database {
                Some(d) => d.get_ref().clone(),
                None => match &file.database {
                    Database::Sqlite(path) => Database::Sqlite(page_file(path, id)),
                    Database::Postgres(_) => {
                        return Err(at(
                            page_start,
                            format!(
                                "page {id} needs its own `database`: with Postgres, give each \
                                 page a database of its own"
                            ),
                        ))
                    }
                },
            };
            if !databases.insert(database.clone()) {
                let offset = page
                    .database
                    .as_ref()
                    .map_or(page_start, |d| d.span().start);
                return Err(at(
                    offset,
                    format!("page {id}'s database is another page's: each page needs its own"),
                ));
            }
        }
        Ok(file)
    }

    /// The pages the bot serves: each `[[pages]]` entry, or the one page of `[meta]`
    /// and `[discord]`, whose token is in `TAGDESK_PAGE_TOKEN`.
    pub fn pages(&self) -> Vec<PageSetup> {
        if self.pages.is_empty() {
            return vec![PageSetup {
                id: self.meta.page_id.clone().unwrap_or_default(),
                token_env: env::PAGE_TOKEN.to_owned(),
                database: self.database.clone(),
                channel_id: self.discord.channel_id.unwrap_or_default(),
                layout: self.layout(),
                rules: self.policy.rules,
                human_agent: self.policy.human_agent,
            }];
        }
        self.pages
            .iter()
            .map(|page| {
                let page = page.get_ref();
                let id = page.id.get_ref().clone();
                let database = match (&page.database, &self.database) {
                    (Some(d), _) => d.get_ref().clone(),
                    (None, Database::Sqlite(path)) => Database::Sqlite(page_file(path, &id)),
                    // Refused when the file was read.
                    (None, postgres) => postgres.clone(),
                };
                let layout = match (
                    page.layout.as_ref().map(|l| *l.get_ref()),
                    page.alert_channel_id,
                ) {
                    (Some(LayoutKind::Forum), Some(alerts)) => Layout::Forum { alerts },
                    _ => Layout::Threads,
                };
                PageSetup {
                    id,
                    token_env: page.token_env.get_ref().clone(),
                    database,
                    channel_id: *page.channel_id.get_ref(),
                    layout,
                    rules: page.rules.unwrap_or(self.policy.rules),
                    human_agent: page.human_agent.unwrap_or(self.policy.human_agent),
                }
            })
            .collect()
    }

    /// The Discord layout, as the bot uses it.
    pub fn layout(&self) -> Layout {
        let d = &self.discord;
        match (d.layout.as_ref().map(|l| *l.get_ref()), d.alert_channel_id) {
            (Some(LayoutKind::Forum), Some(alerts)) => Layout::Forum { alerts },
            _ => Layout::Threads,
        }
    }
}

/// Where the header `[table]` starts in `text`, for errors about a key missing from
/// it; the start of the file if there is none.
fn table_offset(text: &str, table: &str) -> usize {
    let header = format!("[{table}]");
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with(&header) {
            return offset + (line.len() - line.trim_start().len());
        }
        offset += line.len();
    }
    0
}

/// A page's SQLite file when none is named: beside the top-level one, named after the
/// page (`tagdesk.db` → `tagdesk-104857600000001.db`).
fn page_file(path: &Path, id: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or("tagdesk".into(), |s| s.to_string_lossy());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{id}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{id}"),
    };
    path.with_file_name(name)
}

impl Config {
    /// Reads `path` and the secrets from the environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let file = FileConfig::parse(path, &text)?;
        let secret = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| ConfigError::MissingSecret(name.to_owned()))
        };
        let secrets = Secrets {
            discord_token: secret(env::DISCORD_TOKEN)?,
            app_secret: secret(env::APP_SECRET)?,
            verify_token: secret(env::VERIFY_TOKEN)?,
        };
        let pages = file
            .pages()
            .into_iter()
            .map(|setup| {
                Ok(Page {
                    token: secret(&setup.token_env)?,
                    setup,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Config {
            file,
            secrets,
            pages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[discord]
application_id = 1
guild_id = 2
channel_id = 3
agent_role_id = 4

[meta]
page_id = "104857600000001"
"#;

    #[test]
    fn minimal_file_gets_defaults() {
        let c = FileConfig::parse(Path::new("t.toml"), MINIMAL).unwrap();
        assert_eq!(c.meta.graph_base, "https://graph.facebook.com");
        assert_eq!(c.policy.rules, RulesChoice::Auto);
        assert_eq!(c.policy.alert_before, SignedDuration::from_hours(2));
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let text = format!("{MINIMAL}\n[policy]\nalert_befor = \"1h\"\n");
        let err = FileConfig::parse(Path::new("t.toml"), &text).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("t.toml:12:1: unknown field `alert_befor`"),
            "{msg}"
        );
    }

    #[test]
    fn bad_duration_and_era_are_named() {
        let text = format!("{MINIMAL}\n[policy]\nalert_before = \"soon\"\n");
        let msg = FileConfig::parse(Path::new("t.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("t.toml:12:16"), "{msg}");
        let text = format!("{MINIMAL}\n[policy]\nrules = \"meta-2019\"\n");
        let msg = FileConfig::parse(Path::new("t.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("meta-2019"), "{msg}");
    }

    #[test]
    fn missing_table_is_named() {
        let msg = FileConfig::parse(Path::new("t.toml"), "[meta]\npage_id = \"1\"\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("missing field `discord`"), "{msg}");
    }

    #[test]
    fn forum_layout_needs_a_channel_for_alerts() {
        let forum = MINIMAL.replace("agent_role_id = 4", "agent_role_id = 4\nlayout = \"forum\"");
        let msg = FileConfig::parse(Path::new("t.toml"), &forum)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("t.toml:7:10: "), "{msg}");
        assert!(msg.contains("alert_channel_id"), "{msg}");
        let with_alerts = forum.replace("layout", "alert_channel_id = 5\nlayout");
        let c = FileConfig::parse(Path::new("t.toml"), &with_alerts).unwrap();
        assert_eq!(c.layout(), Layout::Forum { alerts: 5 });
        let c = FileConfig::parse(Path::new("t.toml"), MINIMAL).unwrap();
        assert_eq!(c.layout(), Layout::Threads);
    }

    #[test]
    fn database_is_a_sqlite_file_or_a_postgres_server() {
        let c = FileConfig::parse(Path::new("t.toml"), MINIMAL).unwrap();
        assert_eq!(c.database, Database::Sqlite("tagdesk.db".into()));
        for (value, want) in [
            (
                "/var/lib/tagdesk/t.db",
                Database::Sqlite("/var/lib/tagdesk/t.db".into()),
            ),
            (
                "postgres://bot:pw@db.example:5432/tagdesk",
                Database::Postgres("postgres://bot:pw@db.example:5432/tagdesk".into()),
            ),
            (
                "postgresql:///tagdesk?host=/run/postgresql",
                Database::Postgres("postgresql:///tagdesk?host=/run/postgresql".into()),
            ),
            (
                "host=/run/postgresql dbname=tagdesk",
                Database::Postgres("host=/run/postgresql dbname=tagdesk".into()),
            ),
        ] {
            let text = format!("database = {value:?}\n{MINIMAL}");
            let c = FileConfig::parse(Path::new("t.toml"), &text).unwrap();
            assert_eq!(c.database, want, "{value}");
        }
        // Logs name the server, never the password.
        let shown = Database::parse("postgres://bot:hunter2@db.example/tagdesk")
            .unwrap()
            .to_string();
        assert_eq!(shown, "postgres database tagdesk on db.example");
    }

    #[test]
    fn a_malformed_postgres_url_names_file_line_and_column() {
        let text = format!("database = \"postgres://bot@db:notaport/x\"\n{MINIMAL}");
        let msg = FileConfig::parse(Path::new("t.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("t.toml:1:12: "), "{msg}");
        assert!(msg.contains("Postgres"), "{msg}");
    }

    const TWO_PAGES: &str = r#"
[discord]
application_id = 1
guild_id = 2
agent_role_id = 4

[[pages]]
id = "111"
token_env = "TAGDESK_PAGE_TOKEN_SHOES"
channel_id = 31

[[pages]]
id = "222"
token_env = "TAGDESK_PAGE_TOKEN_BOOKS"
channel_id = 32
rules = "legacy-2020"
human_agent = false
database = "books.db"
"#;

    #[test]
    fn several_pages_each_with_channel_rules_flag_and_store() {
        let c = FileConfig::parse(Path::new("t.toml"), TWO_PAGES).unwrap();
        let pages = c.pages();
        assert_eq!(
            pages,
            [
                PageSetup {
                    id: "111".into(),
                    token_env: "TAGDESK_PAGE_TOKEN_SHOES".into(),
                    database: Database::Sqlite("tagdesk-111.db".into()),
                    channel_id: 31,
                    layout: Layout::Threads,
                    rules: RulesChoice::Auto,
                    human_agent: true,
                },
                PageSetup {
                    id: "222".into(),
                    token_env: "TAGDESK_PAGE_TOKEN_BOOKS".into(),
                    database: Database::Sqlite("books.db".into()),
                    channel_id: 32,
                    layout: Layout::Threads,
                    rules: RulesChoice::Fixed(messenger::Era::Legacy2020),
                    human_agent: false,
                },
            ]
        );
        // One page, as before: its token from TAGDESK_PAGE_TOKEN, the top-level store.
        let one = FileConfig::parse(Path::new("t.toml"), MINIMAL)
            .unwrap()
            .pages();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].id, "104857600000001");
        assert_eq!(one[0].token_env, env::PAGE_TOKEN);
        assert_eq!(one[0].database, Database::Sqlite("tagdesk.db".into()));
        assert_eq!(one[0].channel_id, 3);
    }

    /// The error for `text`, which must start with `t.toml:{line}:{column}: ` and
    /// contain `says`.
    fn refused(text: &str, line: usize, column: usize, says: &str) {
        let msg = FileConfig::parse(Path::new("t.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with(&format!("t.toml:{line}:{column}: ")),
            "{msg}"
        );
        assert!(msg.contains(says), "{msg}");
    }

    #[test]
    fn page_errors_name_file_line_and_column() {
        refused(
            &TWO_PAGES.replace("channel_id = 32", "channel = 32"),
            15,
            1,
            "unknown field `channel`",
        );
        refused(
            &TWO_PAGES.replace("id = \"222\"", "id = \"111\""),
            13,
            6,
            "page 111 is configured twice",
        );
        refused(
            &TWO_PAGES.replace("channel_id = 32", "channel_id = 31"),
            15,
            14,
            "channel 31 is another page's",
        );
        refused(
            &TWO_PAGES.replace("TAGDESK_PAGE_TOKEN_BOOKS", "EAAGm0PX4ZCpsBA-secret"),
            14,
            13,
            "token_env names the environment variable",
        );
        refused(
            &TWO_PAGES.replace("channel_id = 31", "channel_id = 31\nlayout = \"forum\""),
            11,
            10,
            "alert_channel_id",
        );
        refused(
            &TWO_PAGES.replace("database = \"books.db\"", "database = \"tagdesk-111.db\""),
            18,
            12,
            "another page's",
        );
        refused(
            &format!("database = \"postgres://db.example/tagdesk\"\n{TWO_PAGES}"),
            8,
            1,
            "page 111 needs its own `database`",
        );
        refused(
            &TWO_PAGES.replace("rules = \"legacy-2020\"", "rules = \"meta-2019\""),
            16,
            9,
            "meta-2019",
        );
    }

    #[test]
    fn one_page_still_needs_its_id_and_channel() {
        refused(
            &MINIMAL.replace("page_id = \"104857600000001\"\n", ""),
            8,
            1,
            "missing field `page_id` in [meta]",
        );
        refused(
            &MINIMAL.replace("channel_id = 3\n", ""),
            2,
            1,
            "missing field `channel_id` in [discord]",
        );
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
