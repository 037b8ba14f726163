//! The bot in production: its HTTP server and the loop that ticks the engine.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::Notify;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Transport};
use crate::discord::serenity_http::{discord_for, SerenityDiscord};
use crate::engine::Engine;
use crate::graph::HttpGraph;
use crate::metrics::{self, Health, MeteredDiscord, MeteredGraph, Metrics};
use crate::settings::Settings;
use crate::webhook::{self, WebhookConfig};
use crate::{gateway, interactions};

/// How often the engine ticks when no webhook wakes it: windows close and retries fall
/// due on their own.
const IDLE_TICK: Duration = Duration::from_secs(5);

/// Builds the production engine from the configuration, its Discord and Graph calls
/// counted into `metrics`.
pub fn engine(config: &Config, metrics: &Arc<Metrics>) -> anyhow::Result<Engine> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let lease = config.file.lane_lease;
    if lease <= jiff::SignedDuration::ZERO {
        anyhow::bail!("lane_lease must be longer than zero");
    }
    let store = crate::store::open_with(&config.file.database, lease.unsigned_abs())
        .map_err(|e| anyhow::anyhow!("database {}: {e}", config.file.database))?;
    let graph = HttpGraph::new(
        &config.file.meta.graph_base,
        &config.file.meta.graph_version,
        config.secrets.page_token.clone(),
    );
    // serenity's limiter paces the calls against Discord itself; against anything
    // else it is off, and the engine paces itself by the answers' headers.
    let discord = discord_for(
        config.secrets.discord_token.expose(),
        config.file.discord.application_id,
        &config.file.discord.api_base,
        Arc::new(SystemClock),
    );
    Ok(Engine {
        store,
        graph: Arc::new(MeteredGraph::new(
            Arc::new(graph),
            metrics.clone(),
            clock.clone(),
        )),
        discord: Arc::new(MeteredDiscord::new(discord, metrics.clone(), clock.clone())),
        clock,
        settings: Arc::new(Settings::from_config(&config.file)),
    })
}

/// The bot's HTTP routes: `/webhook`, `/metrics`, `/healthz`, `/readyz`, and
/// `/interactions` when the application's public key is configured.
pub fn routes(
    config: &Config,
    engine: &Engine,
    metrics: &Arc<Metrics>,
    wake: Arc<Notify>,
) -> anyhow::Result<Router> {
    let mut app = webhook::router(
        WebhookConfig {
            app_secret: config.secrets.app_secret.expose().to_owned(),
            verify_token: config.secrets.verify_token.expose().to_owned(),
            wake: Some(wake),
        },
        engine.store.clone(),
    )
    .merge(metrics::router(Health {
        store: engine.store.clone(),
        metrics: metrics.clone(),
        clock: engine.clock.clone(),
        settings: engine.settings.clone(),
    }));
    if let Some(key) = &config.file.discord.public_key {
        let key = interactions::public_key(key)?;
        app = app.merge(interactions::router(engine.clone(), key));
    } else if config.file.discord.transport == Transport::Http {
        anyhow::bail!("discord.transport = \"http\" needs discord.public_key");
    }
    Ok(app)
}

/// Runs the bot until Ctrl-C: the HTTP server, and the engine ticking after every
/// webhook and at least every few seconds.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let engine = engine(&config, &metrics)?;
    let wake = Arc::new(Notify::new());
    let app = routes(&config, &engine, &metrics, wake.clone())?;
    let listener = tokio::net::TcpListener::bind(config.file.listen)
        .await
        .map_err(|e| anyhow::anyhow!("listen on {}: {e}", config.file.listen))?;
    tracing::info!(
        listen = %config.file.listen,
        database = %config.file.database,
        graph = %config.file.meta.graph_base,
        discord = %config.file.discord.api_base,
        rules = %config.file.policy.rules.as_str(),
        replica = engine.store.replica().unwrap_or("-"),
        "tagdesk bot started"
    );
    if let Some(warning) = config.file.policy.rules.contradiction(engine.clock.now()) {
        tracing::warn!("{warning}");
    }
    let d = &config.file.discord;
    let token = config.secrets.discord_token.expose().to_owned();
    match d.transport {
        Transport::Gateway => {
            let (engine, app_id, guild) = (engine.clone(), d.application_id, d.guild_id);
            let api_base = d.api_base.clone();
            tokio::spawn(async move {
                if let Err(e) = gateway::run(engine, &token, app_id, guild, &api_base).await {
                    tracing::error!(%e, "Discord gateway stopped");
                }
            });
        }
        Transport::Http => {
            let http = SerenityDiscord::new(&token, d.application_id, &d.api_base).http();
            gateway::register(&http, d.guild_id).await;
        }
    }
    let ticker = tokio::spawn(async move {
        loop {
            // Never spin: at least a short pause even if something is overdue, and a
            // longer one after a failure.
            let mut pause = jiff::SignedDuration::from_millis(50);
            if let Err(e) = engine.tick().await {
                tracing::error!(%e, "tick failed; retrying");
                pause = jiff::SignedDuration::from_secs(1);
            }
            // Sleep until a webhook arrives, the next work falls due (another replica's
            // lanes coming free among it), or the idle tick.
            let wait = match engine.next_due() {
                Ok(Some(due)) => {
                    let left = due.duration_since(engine.clock.now());
                    left.clamp(
                        pause,
                        jiff::SignedDuration::try_from(IDLE_TICK).unwrap_or_default(),
                    )
                    .unsigned_abs()
                }
                _ => IDLE_TICK,
            };
            let _ = tokio::time::timeout(wait, wake.notified()).await;
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    ticker.abort();
    Ok(())
}
