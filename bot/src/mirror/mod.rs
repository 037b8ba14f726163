//! Messenger → Discord: stored events become thread state, Discord posts, labels and
//! alerts.
//!
//! Everything here is a function of the store's records, the events and `now`; the
//! [`crate::engine::Engine`] loads the records, calls in, and commits the [`Changes`]
//! it gets back in one transaction.
//!
//! [`Changes`]: crate::store::Changes

pub mod alerts;
pub mod label;
pub mod posts;
pub mod process;
