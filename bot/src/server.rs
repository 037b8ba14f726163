//! The bot in production: its HTTP server and the loop that ticks the engine.

use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::pages::{Page, Pages};
use crate::settings::Settings;
use crate::webhook::{self, WebhookConfig};
use crate::{gateway, interactions};

/// How often the engine ticks when no webhook wakes it: windows close and retries fall
/// due on their own.
const IDLE_TICK: Duration = Duration::from_secs(5);

/// How long a stopping bot waits for its gateway connection to close before its stores
/// leave anyway: a close is a frame each way, well under this.
const GATEWAY_CLOSE: Duration = Duration::from_secs(2);

/// Builds the production engines from the configuration, one per page, their Discord
/// and Graph calls counted into `metrics`. They share the one Discord client (one bot,
/// one rate limit) and the clock; each has its own store, token and settings.
pub fn pages(config: &Config, metrics: &Arc<Metrics>) -> anyhow::Result<Pages> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let lease = config.file.lane_lease;
    if lease <= jiff::SignedDuration::ZERO {
        anyhow::bail!("lane_lease must be longer than zero");
    }
    // serenity's limiter paces the calls against Discord itself; against anything
    // else it is off, and the engine paces itself by the answers' headers.
    let discord = discord_for(
        config.secrets.discord_token.expose(),
        config.file.discord.application_id,
        &config.file.discord.api_base,
        Arc::new(SystemClock),
    );
    let discord: Arc<dyn crate::discord::DiscordApi> =
        Arc::new(MeteredDiscord::new(discord, metrics.clone(), clock.clone()));
    let mut pages = Vec::new();
    for page in &config.pages {
        let setup = &page.setup;
        let store = crate::store::open_with(&setup.database, lease.unsigned_abs())
            .map_err(|e| anyhow::anyhow!("page {}: database {}: {e}", setup.id, setup.database))?;
        let graph = HttpGraph::new(
            &config.file.meta.graph_base,
            &config.file.meta.graph_version,
            page.token.clone(),
        );
        pages.push(Page {
            id: setup.id.clone(),
            engine: Engine {
                store,
                graph: Arc::new(MeteredGraph::new(
                    &setup.id,
                    Arc::new(graph),
                    metrics.clone(),
                    clock.clone(),
                )),
                discord: discord.clone(),
                clock: clock.clone(),
                settings: Arc::new(Settings::for_page(&config.file, setup)),
            },
        });
    }
    Ok(Pages::new(pages))
}

/// The bot's HTTP routes: `/webhook`, `/metrics`, `/healthz`, `/readyz`, and
/// `/interactions` when the application's public key is configured.
pub fn routes(
    config: &Config,
    pages: &Pages,
    metrics: &Arc<Metrics>,
    wake: Arc<Notify>,
) -> anyhow::Result<Router> {
    let webhook = WebhookConfig {
        app_secret: config.secrets.app_secret.expose().to_owned(),
        verify_token: config.secrets.verify_token.expose().to_owned(),
        wake: Some(wake),
    };
    let engine = pages.first();
    let webhook = if config.file.pages.is_empty() {
        webhook::router(webhook, engine.store.clone())
    } else {
        let stores = pages
            .all()
            .iter()
            .map(|p| (p.id.clone(), p.engine.store.clone()))
            .collect();
        webhook::router_for_pages(webhook, stores)
    };
    let mut app = webhook.merge(metrics::router(Health {
        pages: pages.clone(),
        metrics: metrics.clone(),
        clock: engine.clock.clone(),
    }));
    if let Some(key) = &config.file.discord.public_key {
        let key = interactions::public_key(key)?;
        app = app.merge(interactions::router(pages.clone(), key));
    } else if config.file.discord.transport == Transport::Http {
        anyhow::bail!("discord.transport = \"http\" needs discord.public_key");
    }
    Ok(app)
}

/// Runs the bot until Ctrl-C (SIGINT) or SIGTERM: the HTTP server, and the engine
/// ticking after every webhook and at least every few seconds.
///
/// Stopping is clean: the server stops taking requests and finishes those in hand;
/// the ticker finishes the step it is in and starts no other, and as soon as it has,
/// every page's store leaves ([`crate::store::Store::leave`]), so other replicas take
/// this one's lanes at once rather than one `lane_lease` later.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Listening before anything else: a SIGTERM that comes while the bot starts must
    // stop it cleanly too, not kill it (the default action).
    let mut signals = Signals::listen()?;
    let metrics = Arc::new(Metrics::new());
    let pages = pages(&config, &metrics)?;
    let wake = Arc::new(Notify::new());
    let app = routes(&config, &pages, &metrics, wake.clone())?;
    let listener = tokio::net::TcpListener::bind(config.file.listen)
        .await
        .map_err(|e| anyhow::anyhow!("listen on {}: {e}", config.file.listen))?;
    let clock = pages.first().clock.clone();
    for page in &config.pages {
        let setup = &page.setup;
        tracing::info!(
            page = %setup.id,
            database = %setup.database,
            channel = setup.channel_id,
            rules = %setup.rules.as_str(),
            human_agent = setup.human_agent,
            "serving page"
        );
        if let Some(warning) = setup.rules.contradiction(clock.now()) {
            tracing::warn!(page = %setup.id, "{warning}");
        }
    }
    tracing::info!(
        listen = %config.file.listen,
        pages = config.pages.len(),
        graph = %config.file.meta.graph_base,
        discord = %config.file.discord.api_base,
        replica = pages.first().store.replica().unwrap_or("-"),
        "tagdesk bot started"
    );
    let d = &config.file.discord;
    let token = config.secrets.discord_token.expose().to_owned();
    let gateway_stop = Arc::new(Notify::new());
    let gateway = match d.transport {
        Transport::Gateway => {
            let (pages, app_id, guild) = (pages.clone(), d.application_id, d.guild_id);
            let api_base = d.api_base.clone();
            let stop = gateway_stop.clone();
            Some(tokio::spawn(async move {
                let answerer = Arc::new(pages);
                let stop = async move { stop.notified().await };
                let ran = gateway::run_until(answerer, &token, app_id, guild, &api_base, stop);
                if let Err(e) = ran.await {
                    tracing::error!(%e, "Discord gateway stopped");
                }
            }))
        }
        Transport::Http => {
            let http = SerenityDiscord::new(&token, d.application_id, &d.api_base).http();
            gateway::register(&http, d.guild_id).await;
            None
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn({
        let (pages, stop, wake) = (pages.clone(), stop.clone(), wake.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                tick_pass(&pages, &stop, &wake, &*clock).await;
            }
        }
    });
    let shutdown = Arc::new(Notify::new());
    let mut server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.notified().await })
                .await
        }
    });
    let ended_early = tokio::select! {
        signal = signals.recv() => {
            tracing::info!(signal, "stopping: finishing the work in hand");
            None
        }
        // The server stopped on its own (an error): everything else stops too.
        ended = &mut server => Some(ended),
    };
    // The server takes no more requests and finishes those in hand, meanwhile; so does
    // the gateway, closing its connection.
    shutdown.notify_one();
    gateway_stop.notify_one();
    stop.store(true, Ordering::Relaxed);
    wake.notify_one();
    if let Err(e) = ticker.await {
        tracing::error!(%e, "the ticker failed");
    }
    // Closed before the stores leave, so no interaction arrives at a replica that has
    // let go of its lanes; a gateway slow to close doesn't hold them past a moment.
    if let Some(gateway) = gateway {
        if tokio::time::timeout(GATEWAY_CLOSE, gateway).await.is_err() {
            tracing::warn!("the gateway didn't close in time; leaving anyway");
        }
    }
    // As soon as the ticker has settled its step, without waiting for the requests
    // still in hand: one slow request must not keep the lanes held until the container
    // is killed. None of them takes a lane: intake only stores, and a command sending
    // at once leases the send, not the lane, and the send is claimed once, so another
    // replica taking the lane meanwhile can't send it twice.
    for page in pages.all() {
        if let Err(e) = page.engine.store.leave() {
            tracing::warn!(page = %page.id, %e, "couldn't let go of the lanes");
        }
    }
    let served = match ended_early {
        Some(ended) => ended,
        None => server.await,
    };
    tracing::info!("tagdesk bot stopped");
    served??;
    Ok(())
}

/// One pass of the ticking loop: every page's engine ticks, then the loop sleeps until
/// a webhook arrives, the next work falls due, the idle tick, or `stop`.
async fn tick_pass(pages: &Pages, stop: &AtomicBool, wake: &Notify, clock: &dyn Clock) {
    // Every page's engine, one after the other: each page's processing and outbox
    // still run one at a time, as the invariants ask. Never spin: at least a short
    // pause even if something is overdue, and a longer one after a failure.
    let mut pause = jiff::SignedDuration::from_millis(50);
    let mut next: Option<jiff::Timestamp> = None;
    for page in pages.all() {
        let engine = &page.engine;
        if let Err(e) = engine.tick_until(stop).await {
            tracing::error!(page = %page.id, %e, "tick failed; retrying");
            pause = jiff::SignedDuration::from_secs(1);
        }
        if let Ok(Some(due)) = engine.next_due() {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
    }
    if stop.load(Ordering::Relaxed) {
        return;
    }
    // Sleep until a webhook arrives, the next work falls due (another replica's lanes
    // coming free among it), the idle tick, or the process is asked to stop (which
    // wakes it too).
    let wait = match next {
        Some(due) => {
            let left = due.duration_since(clock.now());
            left.clamp(
                pause,
                jiff::SignedDuration::try_from(IDLE_TICK).unwrap_or_default(),
            )
            .unsigned_abs()
        }
        None => IDLE_TICK,
    };
    let _ = tokio::time::timeout(wait, wake.notified()).await;
}

/// The signals that stop the bot: SIGINT (Ctrl-C) and SIGTERM (docker stop, systemd,
/// Kubernetes), listened for from the moment this is made.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for one; its name.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
