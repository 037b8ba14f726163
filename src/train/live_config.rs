//! `tagdesk-training.toml`: where a live training session runs and how fast.
//!
//! The practice server's Discord (its application, server, the trainee's channel) and
//! the clock's compression. The bot token comes from the environment, as the bot's
//! does (`TAGDESK_DISCORD_TOKEN`); Meta is the embedded mock-graph, so there is no Meta
//! account and no other secret. Unknown keys are errors naming file, line and column.

use std::path::{Path, PathBuf};

use bot::config::ConfigError;
use jiff::SignedDuration;
use serde::{Deserialize, Deserializer};

use super::pace::Pace;

/// The exercises in the order a new agent should take them, when the file and the
/// command line name none.
pub const CURRICULUM: [&str; 7] = [
    "first-reply",
    "expired-window",
    "human-agent-7-days",
    "promo-rewrite",
    "restricted-day",
    "blocked-and-handover",
    "monday-backlog",
];

/// The fastest clock a session takes: a week per real second.
pub const MAX_SPEED: f64 = 604_800.0;

/// A live training configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// The trainee's name, on their scorecards and recorded sessions.
    pub trainee: String,
    /// The exercises, by name in `training/` or as paths; default the whole
    /// curriculum in order.
    #[serde(default)]
    pub exercises: Vec<String>,
    /// Where scorecards, transcripts and recorded sessions are written.
    #[serde(default = "default_out")]
    pub out: PathBuf,
    /// Virtual seconds per real second while something waits for the trainee.
    #[serde(default = "default_speed")]
    pub speed: f64,
    /// Quiet stretches at least this long (virtual time) are jumped over.
    #[serde(default = "default_jump_over", deserialize_with = "duration")]
    pub jump_over: SignedDuration,
    /// Where a trainer reaches the running exercise's mock-graph (its inspector, and
    /// the admin API to play a customer live), e.g. "127.0.0.1:9100". None: no door.
    #[serde(default)]
    pub trainer_listen: Option<std::net::SocketAddr>,
    /// The practice server.
    pub discord: PracticeDiscord,
}

/// The practice Discord server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeDiscord {
    /// The REST API base: Discord itself by default, or a stand-in.
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// The practice application's id.
    pub application_id: u64,
    /// The practice server.
    pub guild_id: u64,
    /// The trainee's text channel: customers' threads, the clock's announcements and
    /// the scorecards appear here.
    pub channel_id: u64,
    /// The role the bot's alerts ping (the agent role in production); none: alerts
    /// ping nobody.
    #[serde(default)]
    pub agent_role_id: Option<u64>,
    /// The trainee's Discord user id: only their commands count, and alerts for
    /// conversations they claimed ping them. None: whoever uses the channel is the
    /// trainee.
    #[serde(default)]
    pub trainee_user_id: Option<u64>,
}

fn default_out() -> PathBuf {
    "scorecards".into()
}

fn default_speed() -> f64 {
    Pace::default().speed
}

fn default_jump_over() -> SignedDuration {
    Pace::default().jump_over
}

fn default_api_base() -> String {
    "https://discord.com".into()
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
    let s = String::deserialize(d)?;
    messenger::timefmt::parse_duration(&s).map_err(serde::de::Error::custom)
}

impl TrainingConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<TrainingConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        TrainingConfig::parse(path, &text)
    }

    /// Parses a configuration's text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<TrainingConfig, ConfigError> {
        let error = |offset: usize, message: String| ConfigError::at(path, text, offset, message);
        let config: TrainingConfig = toml::from_str(text)
            .map_err(|e| error(e.span().map_or(0, |s| s.start), e.message().to_owned()))?;
        // Where a key is written: the line that starts with it (not a comment).
        let key_at = |key: &str| {
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                let t = line.trim_start();
                if t.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
                {
                    return offset + (line.len() - t.len());
                }
                offset += line.len();
            }
            0
        };
        if !(config.speed.is_finite() && config.speed > 0.0 && config.speed <= MAX_SPEED) {
            return Err(error(
                key_at("speed"),
                format!(
                    "speed must be a positive number of virtual seconds per real second, at most {MAX_SPEED} (a week per second), not {}",
                    config.speed
                ),
            ));
        }
        let name = config.trainee.as_str();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(error(
                key_at("trainee"),
                format!("the trainee's name {name:?} isn't a plain name: letters, digits, - and _, as in \"sam\" (it names their scorecards and recorded sessions)"),
            ));
        }
        Ok(config)
    }

    /// How the clock is compressed.
    pub fn pace(&self) -> Pace {
        Pace {
            speed: self.speed,
            jump_over: self.jump_over,
        }
    }

    /// The exercises to run: those given on the command line, else the file's, else
    /// the curriculum.
    pub fn exercises(&self, given: &[String]) -> Vec<String> {
        if !given.is_empty() {
            return given.to_vec();
        }
        if !self.exercises.is_empty() {
            return self.exercises.clone();
        }
        CURRICULUM.iter().map(|&e| e.to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
trainee = "sam"
speed = 120
jump_over = "30m"

[discord]
application_id = 11
guild_id = 22
channel_id = 33
"#;

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let c = TrainingConfig::parse(Path::new("t.toml"), OK).unwrap();
        assert_eq!(c.trainee, "sam");
        assert_eq!(c.pace().speed, 120.0);
        assert_eq!(c.pace().jump_over, SignedDuration::from_mins(30));
        assert_eq!(c.discord.api_base, "https://discord.com");
        assert_eq!(c.out, PathBuf::from("scorecards"));
        assert_eq!(c.exercises(&[]), CURRICULUM.map(str::to_owned).to_vec());
        assert_eq!(c.exercises(&["promo-rewrite".into()]), ["promo-rewrite"]);
    }

    #[test]
    fn an_unknown_key_names_file_line_and_column() {
        let text = OK.replace("channel_id = 33", "channel_id = 33\nchanel = 4");
        let e = TrainingConfig::parse(Path::new("t.toml"), &text).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.toml:10:1: unknown field `chanel`"),
            "{e}"
        );
    }

    #[test]
    fn a_trainee_name_that_cant_name_files_is_refused() {
        let text = OK.replace("trainee = \"sam\"", "trainee = \"Sam Smith\"");
        let e = TrainingConfig::parse(Path::new("t.toml"), &text).unwrap_err();
        assert!(
            e.to_string().starts_with("t.toml:2:1: the trainee's name"),
            "{e}"
        );
    }

    #[test]
    fn a_speed_that_stops_the_clock_is_refused_where_it_is_written() {
        let text = OK.replace("speed = 120", "speed = 0");
        let e = TrainingConfig::parse(Path::new("t.toml"), &text).unwrap_err();
        assert!(
            e.to_string().starts_with("t.toml:3:1: speed must be"),
            "{e}"
        );
    }
}
