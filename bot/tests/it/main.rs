//! The bot's tests, at its boundaries.

mod commands;
mod discord_limits;
mod discord_stand_in;
mod gateway;
mod harness;
mod metrics;
mod mirror_discord;
mod mirror_recorder;
mod pages;
mod store;
mod webhook;
