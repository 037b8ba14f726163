//! The bot's settings in a scenario world, and what else a run may be given.
//!
//! A scenario runs under the runner's defaults unless QA applies their team's own
//! configuration (`scenario run --config tagdesk.toml`): then its policy and mirror
//! settings (rules, the Human Agent flag, extra promotional phrases, coalescing, the
//! alert lead time) apply to the bot, except where the scenario file gives a setting
//! itself. Meta's side stays as the scenario describes it: a team that configured the
//! wrong era or a Human Agent feature it lacks finds out, as it would live.

use std::path::{Path, PathBuf};

use bot::config::{ConfigError, FileConfig};
use bot::settings::{Layout, Settings};
use jiff::SignedDuration;
use messenger::RulesChoice;
use scenario_format::load::Given;
use scenario_format::Scenario;

use super::defects::Defect;
use super::world::{AGENT_ROLE, ALERT_CHANNEL, CHANNEL, TEAM_ROLE};

/// How long the runner's bot waits for a burst of customer messages to post them
/// together, when no configuration says otherwise.
pub const DEFAULT_COALESCE: SignedDuration = SignedDuration::from_secs(10);

/// What a run is given beyond its scenario.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The team's configuration, applied to the bot.
    pub team: Option<TeamConfig>,
    /// A defect the bot's store is told to have: only the explorer's own tests (and
    /// `scenario explore --inject-defect`, to see it find one) set it.
    pub defect: Option<Defect>,
    /// Don't pace the bot's Discord calls by the rate-limit headers: the reference
    /// beside which `bench-monday` measures pacing.
    pub unpaced: bool,
    /// A real Discord in place of the recording one: training's live mode.
    pub live: Option<LiveDiscord>,
    /// The bot's store: a SQLite file in the world's scratch directory unless this
    /// names another (a Postgres database, for `bench-weekend --postgres`). It must be
    /// empty: the world starts from nothing.
    pub database: Option<bot::config::Database>,
}

/// A Discord server the world's bot works in instead of the recording Discord, as
/// training's live mode runs it: its conversations become threads in `channel`.
/// Everything else stays the world's: Meta, the store, the virtual clock, the agents'
/// roles as the bot checks them.
#[derive(Clone)]
pub struct LiveDiscord {
    /// The Discord the bot performs its work on (paced as it needs).
    pub api: std::sync::Arc<dyn bot::discord::DiscordApi>,
    /// The text channel conversations open threads in.
    pub channel: u64,
}

impl std::fmt::Debug for LiveDiscord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiveDiscord(channel {})", self.channel)
    }
}

impl Options {
    /// The command-line flags that give a run these options (` --config FILE`), for a
    /// reproduce command.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        if let Some(t) = &self.team {
            f.push_str(&format!(" --config {}", t.path.display()));
        }
        if let Some(d) = self.defect {
            f.push_str(&format!(" --inject-defect {}", d.name()));
        }
        f
    }
}

/// The parts of a team's `tagdesk.toml` a scenario applies.
#[derive(Debug, Clone)]
pub struct TeamConfig {
    /// The file, for the report.
    pub path: PathBuf,
    /// The file's settings.
    pub file: FileConfig,
}

impl TeamConfig {
    /// Reads a team's configuration (no secrets needed: a scenario has its own Meta).
    pub fn load(path: &Path) -> Result<TeamConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(TeamConfig {
            path: path.to_owned(),
            file: FileConfig::parse(path, &text)?,
        })
    }
}

/// The bot's settings for `s`'s first page, and one line per setting saying its value
/// and where it came from (the scenario, the team's file, or the runner's default).
pub fn bot_settings(s: &Scenario, team: Option<&TeamConfig>) -> (Settings, Vec<String>) {
    page_settings(s, 0, team)
}

/// [`bot_settings`] for page `page` of `s` (0 the first, `n` its `pages[n - 1]`). A
/// further page gives its rules era and Human Agent flag itself, so a team's file
/// doesn't change them; its guard phrases are its own, with the team's added. The
/// settings' channel is the first page's: the world gives each page its own.
pub fn page_settings(
    s: &Scenario,
    page: usize,
    team: Option<&TeamConfig>,
) -> (Settings, Vec<String>) {
    let (era, human_agent, guard, given) = match page.checked_sub(1).map(|i| &s.pages[i]) {
        None => (s.era, s.human_agent, &s.guard, s.given),
        Some(p) => (
            p.era,
            p.human_agent,
            &p.guard,
            Given {
                rules: true,
                human_agent: true,
            },
        ),
    };
    let mut settings = Settings::new(CHANNEL, AGENT_ROLE, era);
    settings.team_role_id = TEAM_ROLE;
    settings.human_agent = human_agent;
    settings.coalesce = DEFAULT_COALESCE;
    settings.lexicon.extend(guard);
    let mut lines = Vec::new();
    let from_team = |name: &str| {
        team.map_or("runner default".to_owned(), |t| {
            format!("{} in {}", name, t.path.display())
        })
    };
    let (rules, rules_from) = match team {
        _ if given.rules => (RulesChoice::Fixed(era), "scenario".to_owned()),
        Some(t) => (t.file.policy.rules, from_team("policy.rules")),
        None => (RulesChoice::Fixed(era), "scenario default".to_owned()),
    };
    settings.rules = rules;
    lines.push(format!("rules = {:?} ({rules_from})", rules.as_str()));
    let human_from = match team {
        _ if given.human_agent => "scenario".to_owned(),
        Some(t) => {
            settings.human_agent = t.file.policy.human_agent;
            from_team("policy.human_agent")
        }
        None => "scenario default".to_owned(),
    };
    lines.push(format!(
        "human_agent = {} ({human_from})",
        settings.human_agent
    ));
    if let Some(t) = team {
        let policy = &t.file.policy;
        settings.lexicon.extend(&policy.promo_phrases);
        settings.alert_before = policy.alert_before;
        settings.coalesce = t.file.discord.coalesce;
        if let Layout::Forum { .. } = t.file.layout() {
            // The team's channel ids are their server's; the world has its own.
            settings.layout = Layout::Forum {
                alerts: ALERT_CHANNEL,
            };
        }
    }
    let mut phrases: Vec<String> = guard.clone();
    if let Some(t) = team {
        phrases.extend(t.file.policy.promo_phrases.iter().cloned());
    }
    lines.push(format!(
        "extra promotional phrases = {} ({})",
        if phrases.is_empty() {
            "none".to_owned()
        } else {
            phrases.join(", ")
        },
        match (guard.is_empty(), team) {
            (false, Some(t)) => format!("scenario and {}", t.path.display()),
            (false, None) => "scenario".to_owned(),
            (true, Some(_)) => from_team("policy.promo_phrases"),
            (true, None) => "runner default".to_owned(),
        }
    ));
    lines.push(format!(
        "layout = {} ({})",
        match settings.layout {
            Layout::Threads => "threads",
            Layout::Forum { .. } => "forum",
        },
        from_team("discord.layout")
    ));
    lines.push(format!(
        "coalesce = {} ({})",
        messenger::timefmt::human(settings.coalesce),
        from_team("discord.coalesce")
    ));
    lines.push(format!(
        "alert_before = {} ({})",
        messenger::timefmt::human(settings.alert_before),
        from_team("policy.alert_before")
    ));
    (settings, lines)
}
