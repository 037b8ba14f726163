//! The tagdesk bot: Messenger conversations mirrored into Discord, answered from there.
//!
//! Meta's webhook deliveries are verified, split into events, deduplicated and stored
//! durably before Meta gets its 200. The [`engine::Engine`] then processes them from
//! the store: each conversation becomes a Discord thread whose name shows its window,
//! customer messages are posted there (coalesced), and the team is alerted before a
//! window closes. Discord work goes through a durable outbox, so an outage or a crash
//! loses nothing and posts nothing twice.
//!
//! Layout:
//! - [`webhook`]: the `/webhook` endpoint (handshake, signature, intake).
//! - [`intake`]: turning a delivery into stored events, with the keys that deduplicate them.
//! - [`store`]: the durable store behind one interface; SQLite is the embedded default.
//! - [`engine`]: one tick of the bot's logic; [`mirror`] is what it does with events,
//!   [`outbox`] how its Discord work gets done.
//! - [`discord`]: Discord effects, with serenity's `Http` and an in-process recorder.
//! - [`graph`]: the Graph API client (profiles, the Send API, reading conversations).
//! - [`policy`]: the policy on the store's state, at approval and before every attempt.
//! - [`clock`], [`config`], [`settings`]: time, configuration, and what the logic reads.
//! - [`pages`]: several Facebook pages in one deployment, an engine each; interactions
//!   routed to the page they belong to.
//! - [`server`]: the HTTP server and the loop that ticks the engine in production.

pub mod clock;
pub mod commands;
pub mod config;
pub mod discord;
pub mod engine;
pub mod gateway;
pub mod graph;
pub mod intake;
pub mod interactions;
pub mod metrics;
pub mod mirror;
pub mod outbox;
pub mod pages;
pub mod policy;
pub mod server;
pub mod settings;
pub mod store;
pub mod webhook;
