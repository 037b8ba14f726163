//! tagdesk's scenario files: whole stretches of Messenger traffic, written as TOML.
//!
//! This crate only reads them. The scenario runner (`tagdesk scenario run`) plays them
//! end to end against the bot; mock-graph (`--scenario FILE`, `POST /_mock/scenario`)
//! plays their customer side on its own, for a bot under test.
//!
//! - [`format`]: the file format, one serde type per table.
//! - [`load`]: reading and checking a file into a [`load::Scenario`], with errors that
//!   name the file, line and column.
//! - [`generate`]: customers and messages generated from the seed.
//! - [`command`]: agents' actions as they would type them.

pub mod command;
pub mod format;
pub mod generate;
pub mod load;

pub use load::{Action, AgentDef, LoadError, Scenario, TimedStep};
