//! `tagdesk`: answering Facebook Messenger from Discord without getting the page banned.
//!
//! The library half of the `tagdesk` binary: the scenario runner, which the binary's
//! `scenario run` command and the end-to-end tests share, and `train`, the practice desk
//! built on it.

pub mod fuzz;
pub mod scenario;
pub mod train;
