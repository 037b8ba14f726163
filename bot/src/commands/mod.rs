//! Discord → Messenger: the team's slash commands, buttons, menus and modals.
//!
//! One pipeline for both transports: an interaction's JSON is parsed into an
//! [`Invocation`], [`handle`] answers it with a [`Response`], and the transport renders
//! that as Discord's JSON. Handlers keep nothing in memory between interactions: state
//! lives in `custom_id`s and the store (drafts, messages), so a restart or the HTTP
//! transport loses nothing.
//!
//! - [`send`]: `/reply`, `/tag`, parking, confirming, picking a tag; the policy runs here.
//! - [`views`]: `/inbox`, `/thread`, `/status`, `/audit`.
//! - [`manage`]: `/claim`, `/release`, `/close`, `/snippet`.
//! - [`definitions`]: the commands as registered with Discord.

pub mod definitions;
pub mod interaction;
pub mod manage;
pub mod response;
pub mod send;
pub mod views;

use jiff::Timestamp;
use serde_json::Value;

pub use interaction::{Action, Agent, Invocation};
pub use response::{Msg, Response};

use crate::engine::Engine;
use crate::store::{StoreError, Thread};

/// Everything a handler reads.
pub struct Ctx<'a> {
    /// The bot.
    pub engine: &'a Engine,
    /// The interaction.
    pub inv: &'a Invocation,
    /// Now, from the engine's clock.
    pub now: Timestamp,
}

/// What a command may need from its invoker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The agent role: anything that reaches a customer or changes shared state.
    Agent,
    /// The team role (or the agent role): looking.
    Team,
}

impl Ctx<'_> {
    /// Whether the invoker may do what `needs` asks.
    pub fn allowed(&self, needs: Needs) -> bool {
        let s = &self.engine.settings;
        let roles = &self.inv.agent.roles;
        match needs {
            Needs::Agent => roles.contains(&s.agent_role_id),
            Needs::Team => roles.contains(&s.team_role_id) || roles.contains(&s.agent_role_id),
        }
    }

    /// The conversation meant: the `customer` option's, else the mirrored thread the
    /// command was typed in.
    pub fn thread(&self, customer: Option<&str>) -> Result<Option<Thread>, StoreError> {
        let store = &self.engine.store;
        if let Some(psid) = customer.filter(|c| !c.is_empty()) {
            return store.thread(psid);
        }
        match self.inv.channel_id {
            Some(channel) => store.thread_by_discord(channel),
            None => Ok(None),
        }
    }
}

/// A string option.
pub fn opt<'a>(
    options: &'a std::collections::HashMap<String, Value>,
    name: &str,
) -> Option<&'a str> {
    options.get(name).and_then(Value::as_str)
}

/// Answers one interaction. Store failures become an ephemeral apology rather than a
/// silent timeout.
pub async fn handle(engine: &Engine, inv: &Invocation) -> Response {
    let ctx = Ctx {
        engine,
        inv,
        now: engine.clock.now(),
    };
    match dispatch(&ctx).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(%e, interaction = %inv.id, "command failed");
            Response::Message(Msg::private(format!("⚠️ tagdesk couldn't do that: {e}")))
        }
    }
}

const NO_AGENT_ROLE: &str = "🔒 Only members with the agent role can do that.";
const NO_TEAM_ROLE: &str = "🔒 Only the support team can see that.";

async fn dispatch(ctx: &Ctx<'_>) -> Result<Response, StoreError> {
    let deny = |needs| {
        let text = match needs {
            Needs::Agent => NO_AGENT_ROLE,
            Needs::Team => NO_TEAM_ROLE,
        };
        Ok(Response::Message(Msg::private(text)))
    };
    match &ctx.inv.action {
        Action::Ping => Ok(Response::Pong),
        Action::Autocomplete {
            name,
            focused,
            typed,
        } => {
            if !ctx.allowed(Needs::Team) {
                return Ok(Response::Choices(Vec::new()));
            }
            views::autocomplete(ctx, name, focused, typed).map(Response::Choices)
        }
        Action::Command { name, options } => {
            let needs = match name.as_str() {
                "inbox" | "thread" | "status" | "audit" | "snippet/list" => Needs::Team,
                _ => Needs::Agent,
            };
            if !ctx.allowed(needs) {
                return deny(needs);
            }
            match name.as_str() {
                "reply" => send::reply_command(ctx, options).await,
                "tag" => send::tag_command(ctx, options).await,
                "inbox" => views::inbox(ctx, opt(options, "filter").unwrap_or("all"), 0, false),
                "thread" => views::thread(ctx, opt(options, "customer")),
                "status" => views::status(ctx),
                "audit" => views::audit(ctx, opt(options, "customer")),
                "claim" | "release" | "close" => {
                    manage::claim_release_close(ctx, name, opt(options, "customer"))
                }
                n if n.starts_with("snippet/") => {
                    manage::snippet(ctx, &n["snippet/".len()..], options)
                }
                other => Ok(Response::Message(Msg::private(format!(
                    "Unknown command /{other}."
                )))),
            }
        }
        Action::Component { custom_id, values } => {
            let (kind, arg) = custom_id
                .split_once(':')
                .unwrap_or((custom_id.as_str(), ""));
            let needs = if kind == "inbox" || kind == "front" {
                Needs::Team
            } else {
                Needs::Agent
            };
            if !ctx.allowed(needs) {
                return deny(needs);
            }
            match kind {
                "inbox" => {
                    let (filter, page) = arg.split_once(':').unwrap_or((arg, "0"));
                    views::inbox(ctx, filter, page.parse().unwrap_or(0), true)
                }
                "front" => views::to_front(ctx, arg),
                "reply" => Ok(Response::Modal {
                    custom_id: format!("reply-modal:{arg}"),
                    title: "Reply".into(),
                    label: "Your reply".into(),
                }),
                "park" | "confirm" | "split" | "tagpick" => {
                    let answer = match kind {
                        "park" => send::park(ctx, arg),
                        "confirm" => send::confirm(ctx, arg).await,
                        "split" => send::split(ctx, arg).await,
                        _ => send::tag_picked(ctx, arg, values.first().map(String::as_str)).await,
                    };
                    // The answer replaces the message that held the buttons, so they are
                    // gone once pressed.
                    answer.map(|r| match r {
                        Response::Message(m) => Response::Update(m),
                        other => other,
                    })
                }
                _ => Ok(Response::Message(Msg::private("That button has expired."))),
            }
        }
        Action::Modal { custom_id, fields } => {
            if !ctx.allowed(Needs::Agent) {
                return deny(Needs::Agent);
            }
            match custom_id.split_once(':') {
                Some(("reply-modal", psid)) => {
                    let text = fields.get("text").cloned().unwrap_or_default();
                    send::reply_text(ctx, psid, &text, false, &ctx.inv.id).await
                }
                _ => Ok(Response::Message(Msg::private("That form has expired."))),
            }
        }
    }
}
