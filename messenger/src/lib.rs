//! Meta's Messenger Platform as a pure library.
//!
//! Everything here is a function of its arguments: no IO, no async runtime, no clock
//! and no randomness. Time comes in as a [`jiff::Timestamp`] argument; decisions come
//! out as values. The Discord bot and the Graph emulator are shells around this crate.
//!
//! Layout:
//! - [`wire`]: the JSON shapes of the Send API, errors, webhooks, conversations and profiles.
//! - [`signature`]: `X-Hub-Signature-256` signing and verification, and Meta's JSON escaping.
//! - [`text`]: message text validated against the Send API's limits.
//! - [`tags`] and [`rules`]: message tags and the versioned tables of what each era allows.
//! - [`window`]: the 24-hour and human-agent windows of one conversation.
//! - [`guard`]: the compliance pre-flight check for tagged messages.
//! - [`restriction`]: warnings and the ban ladder a page climbs.
//! - [`policy`]: [`policy::decide`], which ties the above into one decision.
//! - [`meta_error`]: the errors Meta answers with, and what they mean to an agent.

pub mod guard;
pub mod meta_error;
pub mod policy;
pub mod restriction;
pub mod rules;
pub mod signature;
pub mod tags;
pub mod text;
pub mod timefmt;
pub mod window;
pub mod wire;

pub use policy::{decide, Decision, Intent, PageState, Request, Sender};
pub use rules::{Era, Rules, RulesChoice};
pub use tags::Tag;
pub use window::ThreadState;
