//! End-to-end tests of the `tagdesk` binary and the crates together.

mod cli;
mod explore;
mod fuzz;
mod pages;
mod replicas;
mod runner;
mod scenarios;
mod secrets;
mod train;
mod train_live;
