//! The tagdesk bot: Messenger conversations mirrored into Discord, answered from there.
//!
//! Built so far: the Messenger side's intake. Meta's webhook deliveries are verified,
//! split into events, deduplicated and stored durably before Meta gets its 200; the
//! mirror into Discord processes them from the store afterwards.
//!
//! Layout:
//! - [`webhook`]: the `/webhook` endpoint (handshake, signature, intake).
//! - [`store`]: the durable store behind one interface; SQLite is the embedded default.
//! - [`intake`]: turning a delivery into stored events, with the keys that deduplicate them.

pub mod intake;
pub mod store;
pub mod webhook;
