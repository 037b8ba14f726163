//! Error-level log events, caught while a world runs: in a world where nothing goes
//! wrong on purpose (no faults, outages, restarts, blocked customers or other apps),
//! any of them is a bug of tagdesk's, or a log level that cries wolf.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

/// The error events seen, in words (`target: message field=value ...`).
#[derive(Debug, Clone, Default)]
pub struct ErrorLog(Arc<Mutex<Vec<String>>>);

impl ErrorLog {
    /// Runs `f` with every error-level event on this thread recorded here (a world runs
    /// on one thread: its runtime is current-thread).
    pub fn capture<T>(&self, f: impl FnOnce() -> T) -> T {
        let subscriber = tracing_subscriber::registry().with(self.clone());
        tracing::subscriber::with_default(subscriber, f)
    }

    /// What was recorded.
    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl<S: Subscriber> Layer<S> for ErrorLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let mut words = Words(format!("{}:", event.metadata().target()));
        event.record(&mut words);
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(words.0);
    }
}

/// An event's fields, as text.
struct Words(String);

impl Visit for Words {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_are_caught_with_their_fields() {
        let log = ErrorLog::default();
        log.capture(|| {
            tracing::warn!("a warning");
            tracing::error!(id = 7, "work refused");
        });
        let events = log.events();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(events[0].contains("work refused") && events[0].contains("id=7"));
    }

    #[test]
    fn errors_in_the_worlds_tasks_are_caught_too() {
        // A world's bot runs as tasks on the scenario runtime's one thread.
        let log = ErrorLog::default();
        log.capture(|| {
            let rt = crate::scenario::runtime().unwrap();
            rt.block_on(async {
                tokio::spawn(async { tracing::error!("in a task") })
                    .await
                    .unwrap();
            });
        });
        assert_eq!(log.events().len(), 1, "{:?}", log.events());
    }
}
