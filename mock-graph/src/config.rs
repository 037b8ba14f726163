//! The emulator's settings: flags, each also settable by environment.

use jiff::Timestamp;
use messenger::Era;

/// How mock-graph is set up.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Where to listen.
    #[arg(long, env = "MOCK_GRAPH_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// The page's id.
    #[arg(long, env = "MOCK_GRAPH_PAGE_ID", default_value = "104857600000001")]
    pub page_id: String,
    /// The page access token sends must carry.
    #[arg(long, env = "MOCK_GRAPH_PAGE_TOKEN", default_value = "mock-page-token")]
    pub page_token: String,
    /// The app secret webhooks are signed with.
    #[arg(long, env = "MOCK_GRAPH_APP_SECRET", default_value = "mock-app-secret")]
    pub app_secret: String,
    /// Where to deliver webhooks; none means events are only recorded.
    #[arg(long, env = "MOCK_GRAPH_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// The verify token of the subscription handshake.
    #[arg(
        long,
        env = "MOCK_GRAPH_VERIFY_TOKEN",
        default_value = "mock-verify-token"
    )]
    pub verify_token: String,
    /// Seed of every id, name and random choice.
    #[arg(long, env = "MOCK_GRAPH_SEED", default_value_t = 1)]
    pub seed: u64,
    /// The virtual clock's first instant (RFC 3339).
    #[arg(long, env = "MOCK_GRAPH_START", default_value = "2026-11-20T09:00:00Z")]
    pub start: Timestamp,
    /// The rules era Meta enforces: meta-2026 or legacy-2020.
    #[arg(long, env = "MOCK_GRAPH_RULES", default_value = "meta-2026")]
    pub rules: Era,
    /// Whether the app has the Human Agent feature.
    #[arg(long, env = "MOCK_GRAPH_HUMAN_AGENT", default_value_t = true, action = clap::ArgAction::Set)]
    pub human_agent: bool,
    /// The error code for HUMAN_AGENT without the feature (10 or 100; Meta doesn't document it).
    #[arg(long, env = "MOCK_GRAPH_HUMAN_AGENT_ERROR", default_value_t = 10)]
    pub human_agent_error: u32,
    /// Send API calls per second per page before code 80006.
    #[arg(long, env = "MOCK_GRAPH_RATE_LIMIT", default_value_t = 300)]
    pub rate_limit: u32,
    /// A scenario file whose customer side to replay (see scenarios/README.md); its
    /// start, seed, rules and page settings replace the flags'.
    #[arg(long, env = "MOCK_GRAPH_SCENARIO")]
    pub scenario: Option<std::path::PathBuf>,
    /// Let the virtual clock follow the wall clock.
    #[arg(long, env = "MOCK_GRAPH_REALTIME")]
    pub realtime: bool,
    /// The app id of this app, shown on echoes of its sends.
    #[arg(long, env = "MOCK_GRAPH_APP_ID", default_value_t = 1517776481860111)]
    pub app_id: u64,
    /// How many pages to emulate at once, each with its own id, token, customers,
    /// sent log and record: page 1 is `--page-id` with `--page-token`, page N is
    /// `--page-id` plus N-1 with `--page-token` suffixed `-N` (see `Settings::page`).
    #[arg(long, env = "MOCK_GRAPH_PAGES", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub pages: u32,
}

impl Settings {
    /// Defaults, as a bare start has them.
    pub fn defaults() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            s: Settings,
        }
        Wrap::parse_from(["mock-graph"]).s
    }

    /// The settings of page `n` (1-based) of `--pages`: page 1's are these; page N's id
    /// is `--page-id` plus N-1 (or `--page-id` suffixed `-N` if it isn't a number), its
    /// token `--page-token` suffixed `-N`, its seed `--seed` plus N-1 (its PSIDs and
    /// ids differ from the other pages', as page-scoped ids do). Everything else, the
    /// app secret and the webhook URL first, is the app's and shared.
    pub fn page(&self, n: u32) -> Settings {
        let mut s = self.clone();
        s.pages = 1;
        if n > 1 {
            s.page_id = match self.page_id.parse::<u64>() {
                Ok(id) => (id + u64::from(n - 1)).to_string(),
                Err(_) => format!("{}-{n}", self.page_id),
            };
            s.page_token = format!("{}-{n}", self.page_token);
            s.seed = self.seed.wrapping_add(u64::from(n - 1));
        }
        s
    }

    /// The settings as printed at start, secrets masked.
    pub fn describe(&self) -> String {
        format!(
            "{}page {} · token {} · app secret {} · verify token {} · webhook {} · seed {} · start {} · rules {} · human agent {} · rate limit {}/s{}",
            if self.pages > 1 {
                format!("{} pages, the first ", self.pages)
            } else {
                String::new()
            },
            self.page_id,
            mask(&self.page_token),
            mask(&self.app_secret),
            mask(&self.verify_token),
            self.webhook_url.as_deref().unwrap_or("(none)"),
            self.seed,
            self.start,
            self.rules,
            self.human_agent,
            self.rate_limit,
            if self.realtime { " · realtime clock" } else { " · virtual clock" },
        )
    }
}

/// Shows only a secret's length.
fn mask(secret: &str) -> String {
    format!("[{} chars]", secret.chars().count())
}
