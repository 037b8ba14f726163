//! Discord's gateway transport: serenity's client, with no public URL needed.
//!
//! Interactions arrive over the websocket, are turned back into Discord's JSON, and go
//! through the same pipeline as the HTTP endpoint; answers go back with serenity's
//! `Http`. Commands are registered in the guild when the bot is ready.

use serenity::all::{Context, EventHandler, GatewayIntents, GuildId, Interaction, Ready};
use serenity::async_trait;

use crate::commands::{self, definitions, interaction, response};
use crate::engine::Engine;

struct Handler {
    engine: Engine,
    guild: u64,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "connected to Discord's gateway");
        register(&ctx.http, self.guild).await;
    }

    async fn interaction_create(&self, ctx: Context, i: Interaction) {
        let (id, token) = match &i {
            Interaction::Command(c) | Interaction::Autocomplete(c) => (c.id, c.token.clone()),
            Interaction::Component(c) => (c.id, c.token.clone()),
            Interaction::Modal(m) => (m.id, m.token.clone()),
            _ => return,
        };
        let json = match serde_json::to_value(&i) {
            Ok(v) => v,
            Err(e) => return tracing::error!(%e, "interaction didn't serialize"),
        };
        let inv = match interaction::parse(&json) {
            Ok(inv) => inv,
            Err(e) => return tracing::error!(%e, "interaction didn't parse"),
        };
        let answer = commands::handle(&self.engine, &inv).await;
        let body = response::render(&answer);
        if let Err(e) = ctx
            .http
            .create_interaction_response(id, &token, &body, vec![])
            .await
        {
            tracing::error!(%e, interaction = %id, "interaction response failed");
        }
    }
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

/// Connects to the gateway and serves interactions until the connection ends.
pub async fn run(
    engine: Engine,
    token: &str,
    application_id: u64,
    guild: u64,
) -> anyhow::Result<()> {
    let mut client = serenity::Client::builder(token, GatewayIntents::GUILDS)
        .application_id(application_id.into())
        .event_handler(Handler { engine, guild })
        .await?;
    client.start().await?;
    Ok(())
}
