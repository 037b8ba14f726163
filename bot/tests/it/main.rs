//! The bot's tests, at its boundaries.

mod webhook;
