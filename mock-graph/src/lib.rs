//! mock-graph: a Messenger Platform emulator that answers as Meta does, on a virtual
//! clock.
//!
//! It serves the Graph endpoints a Messenger integration uses (Send API, conversations,
//! messages, profiles, subscriptions) with Meta's URLs, JSON and error codes; delivers
//! signed webhooks at least once; and enforces Meta's side of the policy: windows, tags
//! per rules era, the promotional judge, tag spam and the restriction ladder. Every id
//! and random choice comes from the seed.
//!
//! Layout:
//! - [`platform`]: the emulator's state and rules, no IO.
//! - [`http`]: the axum router: Graph endpoints, the `/_mock/` admin API and the
//!   inspector page at `/`.
//! - [`deliver`]: posting webhook deliveries.
//! - [`config`]: the settings, from flags and environment.
//! - [`ids`]: seeded ids and names.
//! - [`pages`]: several pages at once (`--pages N`), routed by access token.

pub mod config;
pub mod deliver;
pub mod http;
pub mod ids;
pub mod pages;
pub mod platform;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use config::Settings;
use http::AppState;
pub use platform::Platform;

/// A running emulator: its address and a handle on its state.
pub struct MockGraph {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The shared state, for in-process drivers such as the scenario runner; with
    /// `--pages N`, the first page's.
    pub state: AppState,
    /// Every page's state, the first being `state`: one unless `--pages` asks for more.
    pub pages: Vec<AppState>,
}

/// Builds the router and its state without binding a socket (for in-process tests).
/// With `--pages N` the router is the first page's alone: see [`app_for_pages`].
pub fn app(settings: Settings) -> (axum::Router, AppState) {
    let state = page_state(settings.page(1));
    (http::router(state.clone()), state)
}

/// Builds the router of `settings.pages` pages (the front of [`pages`]) and their
/// states, the first page's first.
pub fn app_for_pages(settings: Settings) -> (axum::Router, Vec<AppState>) {
    let states: Vec<AppState> = (1..=settings.pages.max(1))
        .map(|n| page_state(settings.page(n)))
        .collect();
    // One page needs no front: its router as before.
    let router = match &states[..] {
        [one] => http::router(one.clone()),
        _ => pages::router(&states),
    };
    (router, states)
}

fn page_state(settings: Settings) -> AppState {
    AppState {
        deliverer: deliver::Deliverer::new(settings.webhook_url.is_some()),
        platform: Arc::new(Mutex::new(Platform::new(settings))),
        changes: http::Changes::default(),
    }
}

/// Binds `settings.listen` (port 0 picks a free one), performs the webhook handshake if
/// a URL is set, and serves in the background.
pub async fn start(settings: Settings) -> anyhow::Result<MockGraph> {
    let listener = tokio::net::TcpListener::bind(&settings.listen).await?;
    let addr = listener.local_addr()?;
    let realtime = settings.realtime;
    let (router, pages) = app_for_pages(settings.clone());
    let state = pages[0].clone();
    if let Some(path) = &settings.scenario {
        let scenario = scenario_format::load::load(path, None)?;
        let loaded = state.lock().load_scenario(&scenario)?;
        tracing::info!(
            scenario = %loaded.name,
            customers = loaded.customers.len(),
            scheduled = loaded.scheduled,
            skipped = loaded.skipped,
            "scenario loaded"
        );
    }
    if let Some(url) = &settings.webhook_url {
        let challenge = state.lock().fbtrace();
        state
            .deliverer
            .verify(url, &settings.verify_token, &challenge)
            .await
            .map_err(anyhow::Error::msg)?;
    }
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "mock-graph server stopped");
        }
    });
    if realtime {
        tokio::spawn(follow_wall_clock(pages.clone()));
    }
    Ok(MockGraph { addr, state, pages })
}

/// With `--realtime`, the virtual clock follows the wall clock from `--start`. This is
/// the only place the emulator reads real time.
async fn follow_wall_clock(pages: Vec<AppState>) {
    let started = std::time::Instant::now();
    let start = pages[0].lock().settings.start;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        let elapsed = jiff::SignedDuration::try_from(started.elapsed()).unwrap_or_default();
        let target = start + elapsed;
        for state in &pages {
            let mut p = state.lock();
            if target > p.now() {
                let _ = p.advance_to(target);
            }
        }
        // Every page's clock first, then their deliveries: those due at once share a POST.
        pages::flush(&pages).await;
        // Once a second is enough for watchers: the page counts down between changes
        // from the virtual time it was last told.
        ticks += 1;
        if ticks.is_multiple_of(10) {
            for state in &pages {
                state.changes.announce();
            }
        }
    }
}
