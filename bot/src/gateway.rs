//! Discord's gateway transport: serenity's client, with no public URL needed.
//!
//! Interactions arrive over the websocket, are turned back into Discord's JSON, and go
//! through the same pipeline as the HTTP endpoint, within Discord's deadline
//! ([`deadline`]); answers (or deferrals) go back with serenity's `Http`. Commands are
//! registered in the guild when the bot is ready.
//!
//! The websocket's address is asked of the configured REST API (`GET /gateway/bot`), so
//! a stand-in for Discord (tests, training) gets the gateway connection too.

use std::sync::Arc;

use serenity::all::{
    Context, Event, EventHandler, GatewayIntents, GuildId, Interaction, InteractionId,
    RawEventHandler, Ready, UnknownEvent,
};
use serenity::async_trait;
use serenity::http::Http;

use crate::commands::{definitions, interaction, Invocation};
use crate::discord::serenity_http::http_for;
use crate::discord::{deadline, BoxFuture};
use crate::engine::Engine;

/// Who answers the interactions the gateway brings: the bot's own pipeline
/// ([`Engine`]), or something that plays them elsewhere first (training's practice
/// desk, which records each command into the session it runs).
pub trait Answerer: Send + Sync + 'static {
    /// Starts answering `inv` within Discord's deadline ([`deadline`]).
    fn answer(&self, inv: Invocation, application_id: u64) -> BoxFuture<'_, deadline::Started>;
}

impl Answerer for Engine {
    fn answer(&self, inv: Invocation, application_id: u64) -> BoxFuture<'_, deadline::Started> {
        Box::pin(deadline::start(self, inv, application_id))
    }
}

struct Handler {
    answerer: Arc<dyn Answerer>,
    guild: u64,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "connected to Discord's gateway");
        register(&ctx.http, self.guild).await;
    }

    async fn interaction_create(&self, ctx: Context, i: Interaction) {
        let (id, token, application_id) = match &i {
            Interaction::Command(c) | Interaction::Autocomplete(c) => {
                (c.id, c.token.clone(), c.application_id)
            }
            Interaction::Component(c) => (c.id, c.token.clone(), c.application_id),
            Interaction::Modal(m) => (m.id, m.token.clone(), m.application_id),
            _ => return,
        };
        let Some(json) = to_json(&i) else {
            return tracing::error!("interaction didn't serialize");
        };
        serve(
            &*self.answerer,
            &ctx.http,
            id,
            &token,
            application_id.get(),
            json,
        )
        .await;
    }
}

/// Interactions serenity's model can't read (Discord adds required-looking fields
/// faster than a pinned serenity learns them) arrive as unknown events, which serenity
/// only logs at debug level: the agent would see "This interaction failed". They are
/// served from their raw JSON instead.
struct Unread {
    answerer: Arc<dyn Answerer>,
}

#[async_trait]
impl RawEventHandler for Unread {
    async fn raw_event(&self, ctx: Context, ev: Event) {
        let Event::Unknown(UnknownEvent { kind, value, .. }) = ev else {
            return;
        };
        if kind != "INTERACTION_CREATE" {
            return;
        }
        let snowflake = |key: &str| value[key].as_str().and_then(|v| v.parse::<u64>().ok());
        let (Some(id), Some(app), Some(token)) = (
            snowflake("id").filter(|id| *id != 0),
            snowflake("application_id"),
            value["token"].as_str().map(str::to_owned),
        ) else {
            return tracing::error!("an interaction without id, token or application");
        };
        tracing::warn!(
            interaction = id,
            "interaction serenity couldn't read, served raw"
        );
        serve(&*self.answerer, &ctx.http, id.into(), &token, app, value).await;
    }
}

/// Runs one interaction's JSON through the pipeline and answers it, within Discord's
/// deadline.
async fn serve(
    answerer: &dyn Answerer,
    http: &Http,
    id: InteractionId,
    token: &str,
    application_id: u64,
    json: serde_json::Value,
) {
    let inv = match interaction::parse(&json) {
        Ok(inv) => inv,
        Err(e) => return tracing::error!(%e, "interaction didn't parse"),
    };
    let started = answerer.answer(inv, application_id).await;
    let sent = http
        .create_interaction_response(id, token, &started.body, vec![])
        .await;
    if let Err(e) = &sent {
        tracing::error!(%e, interaction = %id, "interaction response failed");
    }
    if let Some(deferred) = started.deferred {
        // The answer is edited in only once Discord has the deferral.
        deferred.delivered(sent.is_ok());
    }
}

/// The interaction as Discord's JSON. serenity leaves the `type` out when it writes an
/// interaction back (the enum's variant carries it), so it is put back here.
fn to_json(i: &Interaction) -> Option<serde_json::Value> {
    let kind = match i {
        Interaction::Ping(_) => 1,
        Interaction::Command(_) => 2,
        Interaction::Component(_) => 3,
        Interaction::Autocomplete(_) => 4,
        Interaction::Modal(_) => 5,
        _ => return None,
    };
    let mut v = serde_json::to_value(i).ok()?;
    v["type"] = kind.into();
    Some(v)
}

/// Registers (overwrites) the guild's commands.
pub async fn register(http: &serenity::http::Http, guild: u64) {
    match http
        .create_guild_commands(GuildId::new(guild), &definitions::all())
        .await
    {
        Ok(c) => tracing::info!(commands = c.len(), "slash commands registered"),
        Err(e) => tracing::error!(%e, "registering slash commands failed"),
    }
}

/// Connects to the gateway of the Discord at `api_base` (Discord's REST API, or a
/// stand-in's) and serves interactions with the bot's pipeline until the connection
/// ends.
pub async fn run(
    engine: Engine,
    token: &str,
    application_id: u64,
    guild: u64,
    api_base: &str,
) -> anyhow::Result<()> {
    run_with(Arc::new(engine), token, application_id, guild, api_base).await
}

/// [`run`], with interactions answered by `answerer`.
pub async fn run_with(
    answerer: Arc<dyn Answerer>,
    token: &str,
    application_id: u64,
    guild: u64,
    api_base: &str,
) -> anyhow::Result<()> {
    let never = std::future::pending();
    run_until(answerer, token, application_id, guild, api_base, never).await
}

/// [`run_with`], until `stop` resolves: then every shard closes its connection and this
/// returns, so a stopping bot takes no interaction it may not be there to finish.
/// Interactions already in hand are answered meanwhile (serenity runs each on a task
/// of its own).
pub async fn run_until(
    answerer: Arc<dyn Answerer>,
    token: &str,
    application_id: u64,
    guild: u64,
    api_base: &str,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let http = http_for(token, application_id, api_base);
    let mut client = serenity::client::ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
        .event_handler(Handler {
            answerer: answerer.clone(),
            guild,
        })
        .raw_event_handler(Unread { answerer })
        .await?;
    // serenity's builder has asked `GET /gateway` already, and had that failed it would
    // connect to Discord's own gateway: a stand-in's bot would end up on real Discord.
    // `GET /gateway/bot` is authenticated (a wrong token stops here, with Discord's
    // answer), says how many sessions Discord's daily limit still allows, and its
    // failure stops the bot instead.
    let gateway = client.http.get_bot_gateway().await?;
    let limit = &gateway.session_start_limit;
    tracing::info!(
        url = %gateway.url,
        session_starts_left = limit.remaining,
        session_starts_allowed = limit.total,
        "connecting to Discord's gateway"
    );
    *client.ws_url.lock().await = gateway.url;
    let shards = client.shard_manager.clone();
    let stopping = tokio::spawn(async move {
        stop.await;
        shards.shutdown_all().await;
    });
    let ended = client.start().await;
    stopping.abort();
    ended?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Action;

    /// `/reply text:Hello` in a thread, as Discord sends it over the gateway.
    fn raw_interaction() -> serde_json::Value {
        serde_json::json!({
            "id": "1300000000000000123",
            "application_id": "1300000000000000001",
            "type": 2,
            "data": {
                "id": "1300000000000000077",
                "name": "reply",
                "type": 1,
                "options": [{"name": "text", "type": 3, "value": "Hello"}]
            },
            "guild_id": "1300000000000000002",
            "channel_id": "1300000000000000555",
            "member": {
                "user": {"id": "900001", "username": "grace", "global_name": "Grace", "discriminator": "0", "avatar": null},
                "roles": ["77"],
                "joined_at": "2026-01-01T00:00:00.000000+00:00",
                "deaf": false,
                "mute": false,
                "flags": 0,
                "permissions": "2147483647"
            },
            "token": "interaction-token",
            "version": 1,
            "app_permissions": "2147483647",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0,
            "attachment_size_limit": 10485760
        })
    }

    /// Read by serenity, written back, read by our parser: what the gateway transport does.
    fn through_serenity(raw: serde_json::Value) -> crate::commands::Invocation {
        let parsed: Interaction = serde_json::from_value(raw).expect("serenity reads it");
        let again = to_json(&parsed).expect("serenity writes it");
        interaction::parse(&again).expect("our parser reads it")
    }

    #[test]
    fn a_gateway_command_reaches_the_same_pipeline() {
        let inv = through_serenity(raw_interaction());
        assert_eq!(inv.id, "1300000000000000123");
        assert_eq!(inv.agent.id, 900001);
        assert_eq!(inv.agent.roles, [77]);
        assert_eq!(inv.channel_id, Some(1300000000000000555));
        let Action::Command { name, options } = inv.action else {
            panic!("a command");
        };
        assert_eq!(name, "reply");
        assert_eq!(options["text"], "Hello");
    }

    #[test]
    fn a_gateway_autocomplete_reaches_the_same_pipeline() {
        let mut raw = raw_interaction();
        raw["type"] = 4.into();
        raw["data"]["options"] = serde_json::json!([
            {"name": "customer", "type": 3, "value": "Ad", "focused": true}
        ]);
        assert_eq!(
            through_serenity(raw).action,
            Action::Autocomplete {
                name: "reply".into(),
                focused: "customer".into(),
                typed: "Ad".into()
            }
        );
    }

    #[test]
    fn gateway_buttons_menus_and_modals_reach_the_same_pipeline() {
        let mut raw = raw_interaction();
        raw["type"] = 3.into();
        raw["message"] = serde_json::json!({
            "id": "1300000000000000999", "channel_id": "1300000000000000555",
            "author": {"id": "1300000000000000001", "username": "tagdesk", "discriminator": "0", "avatar": null},
            "content": "", "timestamp": "2026-11-20T09:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0
        });
        raw["data"] = serde_json::json!({"custom_id": "park:1001", "component_type": 2});
        assert_eq!(
            through_serenity(raw.clone()).action,
            Action::Component {
                custom_id: "park:1001".into(),
                values: vec![]
            }
        );
        raw["data"] = serde_json::json!({"custom_id": "tagpick:1001", "component_type": 3, "values": ["HUMAN_AGENT"]});
        assert_eq!(
            through_serenity(raw).action,
            Action::Component {
                custom_id: "tagpick:1001".into(),
                values: vec!["HUMAN_AGENT".into()]
            }
        );

        let mut modal = raw_interaction();
        modal["type"] = 5.into();
        modal["data"] = serde_json::json!({"custom_id": "reply-modal:U1", "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "A long reply"}]}]});
        assert_eq!(
            through_serenity(modal).action,
            Action::Modal {
                custom_id: "reply-modal:U1".into(),
                fields: [("text".to_owned(), "A long reply".to_owned())].into()
            }
        );
    }
}
