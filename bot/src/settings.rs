//! What the bot's logic needs to know beyond its store: the Discord layout and the
//! policy in force.

use jiff::SignedDuration;
use jiff::Timestamp;
use messenger::guard::PromoLexicon;
use messenger::{Era, Rules, RulesChoice};

use crate::config::{FileConfig, PageSetup};

/// How conversations appear in Discord.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// Each conversation is a thread started from a post in the text channel
    /// `channel_id` (two calls to open: the post, then the thread); alerts go to that
    /// channel.
    #[default]
    Threads,
    /// Each conversation is a post in the forum channel `channel_id` (one call opens
    /// it with its first messages); alerts go to the text channel `alerts`.
    Forum {
        /// The text channel for the page's alerts and notices.
        alerts: u64,
    },
}

/// The bot's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The channel conversations appear in: a text channel, or a forum.
    pub channel_id: u64,
    /// Threads under a text channel, or posts in a forum.
    pub layout: Layout,
    /// The guild (server) the bot works in.
    pub guild_id: u64,
    /// The role that may send; pinged when nobody claimed a thread.
    pub agent_role_id: u64,
    /// The role that may look (`/inbox`, `/thread`, `/status`, `/audit`).
    pub team_role_id: u64,
    /// Which rules apply: the calendar's, or a fixed era (replays).
    pub rules: RulesChoice,
    /// Whether the app has the Human Agent feature.
    pub human_agent: bool,
    /// How long before a window closes the team is alerted.
    pub alert_before: SignedDuration,
    /// The guard's promotional phrases.
    pub lexicon: PromoLexicon,
    /// How long a customer's post waits for more messages to join it: a burst of
    /// short messages costs one Discord call, not one each.
    pub coalesce: SignedDuration,
}

impl Settings {
    /// The rules in force at `at`.
    pub fn rules_at(&self, at: Timestamp) -> &'static Rules {
        self.rules.at(at)
    }

    /// Where the page's alerts and notices are posted.
    pub fn alert_channel(&self) -> u64 {
        match self.layout {
            Layout::Threads => self.channel_id,
            Layout::Forum { alerts } => alerts,
        }
    }

    /// Settings for `era` with every other value at its default; tests and the
    /// scenario runner start here.
    pub fn new(channel_id: u64, agent_role_id: u64, era: Era) -> Self {
        Settings {
            channel_id,
            layout: Layout::Threads,
            guild_id: 0,
            agent_role_id,
            team_role_id: agent_role_id,
            rules: RulesChoice::Fixed(era),
            human_agent: true,
            alert_before: SignedDuration::from_hours(2),
            lexicon: PromoLexicon::default(),
            coalesce: SignedDuration::ZERO,
        }
    }

    /// Settings from the configuration file, for its one page (or its first).
    pub fn from_config(c: &FileConfig) -> Self {
        let pages = c.pages();
        Settings::for_page(c, &pages[0])
    }

    /// Settings for `page`, one of the file's pages: the page's channel, layout, rules
    /// and Human Agent flag, the rest from the file.
    pub fn for_page(c: &FileConfig, page: &PageSetup) -> Self {
        let mut lexicon = PromoLexicon::default();
        lexicon.extend(&c.policy.promo_phrases);
        Settings {
            channel_id: page.channel_id,
            layout: page.layout,
            guild_id: c.discord.guild_id,
            agent_role_id: c.discord.agent_role_id,
            team_role_id: c.discord.team_role_id.unwrap_or(c.discord.agent_role_id),
            rules: page.rules,
            human_agent: page.human_agent,
            alert_before: c.policy.alert_before,
            lexicon,
            coalesce: c.discord.coalesce,
        }
    }
}
