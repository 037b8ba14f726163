//! Discord's 3-second deadline for an interaction's first answer.
//!
//! Discord shows "This interaction failed" if an interaction isn't answered within
//! 3 seconds, and an agent who sees that retries a reply that may be going out. Both
//! transports answer through [`start`]: the pipeline ([`commands::handle`]) runs in its
//! own task, so nothing cancels it, and races [`DEADLINE`]. If it answers first, that
//! answer goes out as today. Otherwise the transport answers with a deferral (type 5,
//! ephemeral, for commands and modals; type 6 for buttons and menus), the pipeline
//! carries on, and its answer replaces the original response
//! ([`Effect::EditOriginal`]) once the deferral has been delivered. A button's answer
//! that is a new message rather than an update goes out as a follow-up
//! ([`Effect::FollowUp`]), so the buttons stay.
//!
//! Pings and autocomplete are answered directly: neither can be deferred. Time is
//! tokio's, so tests on a paused clock don't wait.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use super::{render, DiscordApi, DiscordError, Effect};
use crate::commands::{self, response, Action, Invocation, Msg, Response};
use crate::engine::Engine;

/// How long a transport waits for the pipeline before it defers: Discord's 3 seconds,
/// less room for the network and for writing the answer. Commands that talk to Meta
/// give up waiting after 2 s (`send::INTERACTIVE_BUDGET`), so only a busy store or a
/// slow machine reaches this.
pub const DEADLINE: Duration = Duration::from_millis(2_500);

/// How many times the deferred answer is attempted (the token lasts 15 minutes).
const FINISH_TRIES: u32 = 5;

/// Said when a deferred answer can't be shown as it is (a form can't open late).
const TOO_SLOW: &str = "⏳ tagdesk took too long to answer that; try again.";

/// Said when the pipeline itself failed.
const FAILED: &str = "⚠️ tagdesk failed while doing that. Check the thread before trying again.";

/// What the transport answers first.
pub struct Started {
    /// Discord's interaction response JSON: the answer, or a deferral.
    pub body: Value,
    /// Set when `body` is a deferral: say when it has been delivered, and the answer
    /// follows as an edit.
    pub deferred: Option<Deferred>,
}

/// A deferral waiting to be delivered.
#[derive(Debug)]
pub struct Deferred(oneshot::Sender<bool>);

impl Deferred {
    /// Reports whether the deferral reached Discord: only then can the original
    /// response be edited. Dropping it counts as delivered.
    pub fn delivered(self, ok: bool) {
        let _ = self.0.send(ok);
    }
}

/// How an interaction's answer may be deferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deferral {
    /// Type 5: "thinking…", then the original response is edited into the answer.
    Message,
    /// Type 6: nothing visible, then the message the component is on is edited.
    Update,
}

fn deferral(action: &Action) -> Option<Deferral> {
    match action {
        Action::Command { .. } | Action::Modal { .. } => Some(Deferral::Message),
        Action::Component { .. } => Some(Deferral::Update),
        Action::Ping | Action::Autocomplete { .. } => None,
    }
}

/// Answers `inv` within [`DEADLINE`]: see the module's documentation.
pub async fn start(engine: &Engine, inv: Invocation, application_id: u64) -> Started {
    start_within(engine, inv, application_id, DEADLINE).await
}

/// [`start`] with another deadline.
pub async fn start_within(
    engine: &Engine,
    inv: Invocation,
    application_id: u64,
    deadline: Duration,
) -> Started {
    let answer = {
        let (engine, inv) = (engine.clone(), inv.clone());
        async move { response::render(&commands::handle(&engine, &inv).await) }
    };
    answer_within(
        engine.discord.clone(),
        &inv,
        answer,
        application_id,
        deadline,
    )
    .await
}

/// Answers `inv` with what `answer` (Discord's interaction response JSON) comes to,
/// within `deadline`, deferring it otherwise; a deferred answer is delivered through
/// `discord`. Whatever computes the answer: the bot's pipeline ([`start`]), or
/// training's practice desk, which plays the command in its own world.
pub async fn answer_within(
    discord: Arc<dyn DiscordApi>,
    inv: &Invocation,
    answer: impl Future<Output = Value> + Send + 'static,
    application_id: u64,
    deadline: Duration,
) -> Started {
    let Some(kind) = deferral(&inv.action) else {
        return Started {
            body: answer.await,
            deferred: None,
        };
    };
    let (answer_tx, mut answer_rx) = oneshot::channel::<Value>();
    let (delivered_tx, delivered_rx) = oneshot::channel::<bool>();
    let id = inv.id.clone();
    let token = inv.token.clone();
    let log_id = id.clone();
    let job = tokio::spawn(answer);
    tokio::spawn(async move {
        let answer = job.await.unwrap_or_else(|e| {
            tracing::error!(%e, interaction = %id, "command panicked");
            failed()
        });
        let Err(answer) = answer_tx.send(answer) else {
            return; // Answered in time.
        };
        if delivered_rx.await == Ok(false) {
            return tracing::error!(interaction = %id, "deferral not delivered; answer lost");
        }
        finish(&*discord, application_id, &token, kind, &answer, &id).await;
    });

    let answer = match tokio::time::timeout(deadline, &mut answer_rx).await {
        Ok(answer) => Some(answer.unwrap_or_else(|_| failed())),
        Err(_) => {
            // Closed first, so an answer sent at the last moment is either taken here
            // or edited in later, never neither.
            answer_rx.close();
            answer_rx.try_recv().ok()
        }
    };
    match answer {
        Some(body) => Started {
            body,
            deferred: None,
        },
        None => {
            tracing::info!(interaction = %log_id, ?kind, "answer deferred");
            Started {
                body: match kind {
                    Deferral::Message => render::deferred_message(),
                    Deferral::Update => render::deferred_update(),
                },
                deferred: Some(Deferred(delivered_tx)),
            }
        }
    }
}

/// The answer when the pipeline itself failed.
fn failed() -> Value {
    response::render(&Response::Message(Msg::private(FAILED)))
}

/// Delivers a deferred answer (an interaction response's JSON).
async fn finish(
    discord: &dyn DiscordApi,
    application_id: u64,
    token: &str,
    kind: Deferral,
    answer: &Value,
    id: &str,
) {
    let too_slow = || response::render(&Response::Message(Msg::private(TOO_SLOW)))["data"].clone();
    // Type 4 is a new message, 7 an update of the message a component was on; a form
    // (9) or autocomplete choices (8) can't be shown late.
    let data = answer["data"].clone();
    let (edit, message) = match (kind, answer["type"].as_u64()) {
        (Deferral::Message, Some(4 | 7)) => (true, data),
        (Deferral::Message, _) => (true, too_slow()),
        (Deferral::Update, Some(7)) => (true, data),
        (Deferral::Update, Some(4)) => (false, data),
        (Deferral::Update, _) => (false, too_slow()),
    };
    let effect = if edit {
        Effect::EditOriginal {
            application_id,
            token,
            message: &message,
        }
    } else {
        Effect::FollowUp {
            application_id,
            token,
            message: &message,
        }
    };
    for attempt in 1..=FINISH_TRIES {
        match discord.perform(&effect).await {
            Ok(_) => return,
            Err(e) if attempt < FINISH_TRIES && worth_retrying(&e) => {
                tracing::warn!(%e, interaction = %id, attempt, "deferred answer failed; retrying");
                let wait = e.retry_after.map_or_else(
                    || Duration::from_secs(1 << (attempt - 1)),
                    |d| d.unsigned_abs(),
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                let content = &message["content"];
                return tracing::error!(%e, interaction = %id, %content, "deferred answer lost");
            }
        }
    }
}

/// Transient failures, and a 404: an edit that overtook its deferral on the way to
/// Discord finds no original response yet.
fn worth_retrying(e: &DiscordError) -> bool {
    e.is_transient() || e.status == 404
}
