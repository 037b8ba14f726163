//! Production Discord: serenity's `Http`, with its per-route and global rate limiter.

use std::sync::Arc;

use jiff::SignedDuration;
use serenity::http::{Http, HttpBuilder, LightMethod, Request, Route};
use serenity::model::id::{ApplicationId, ChannelId, GuildId, MessageId};

use super::{
    render, BoxFuture, DiscordApi, DiscordError, Effect, Performed, THREAD_ALREADY_CREATED,
};

/// Discord's public API base.
pub const DISCORD_API: &str = "https://discord.com";

/// serenity's `Http` for `api_base`: with serenity's rate limiter against Discord
/// itself, straight to a stand-in otherwise (see [`SerenityDiscord::new`]). The gateway
/// client uses the same.
pub fn http_for(token: &str, application_id: u64, api_base: &str) -> Http {
    let mut builder = HttpBuilder::new(token).application_id(application_id.into());
    let api_base = api_base.trim_end_matches('/');
    if api_base != DISCORD_API {
        builder = builder.proxy(api_base).ratelimiter_disabled(true);
    }
    builder.build()
}

/// Discord through serenity's `Http`.
#[derive(Clone)]
pub struct SerenityDiscord {
    http: Arc<Http>,
}

impl SerenityDiscord {
    /// A client for `api_base`. Against Discord itself serenity's rate limiter honours
    /// 429s and `Retry-After` per route and globally; against a stand-in (tests,
    /// training) requests go to it directly and 429s come back to the outbox, which
    /// backs off.
    pub fn new(token: &str, application_id: u64, api_base: &str) -> Self {
        SerenityDiscord {
            http: Arc::new(http_for(token, application_id, api_base)),
        }
    }

    /// The underlying client, for command registration and interaction responses.
    pub fn http(&self) -> Arc<Http> {
        Arc::clone(&self.http)
    }

    async fn call(&self, request: Request<'_>) -> Result<serde_json::Value, DiscordError> {
        let response = self.http.request(request).await.map_err(to_error)?;
        let bytes = response.bytes().await.map_err(|e| DiscordError {
            status: 0,
            code: None,
            message: e.to_string(),
            retry_after: None,
        })?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }
}

impl DiscordApi for SerenityDiscord {
    fn recent_messages(
        &self,
        channel: u64,
        limit: u8,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>> {
        Box::pin(async move {
            let route = Route::ChannelMessages {
                channel_id: ChannelId::new(channel),
            };
            let request = Request::new(route, LightMethod::Get)
                .params(Some(vec![("limit", limit.to_string())]));
            let v = self.call(request).await?;
            Ok(v.as_array().cloned().unwrap_or_default())
        })
    }

    fn active_threads(
        &self,
        guild: u64,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>> {
        Box::pin(async move {
            let route = Route::GuildThreadsActive {
                guild_id: GuildId::new(guild),
            };
            let v = self.call(Request::new(route, LightMethod::Get)).await?;
            Ok(v["threads"].as_array().cloned().unwrap_or_default())
        })
    }

    fn perform<'a>(
        &'a self,
        effect: &'a Effect<'a>,
    ) -> BoxFuture<'a, Result<Performed, DiscordError>> {
        Box::pin(async move {
            match *effect {
                Effect::SendMessage {
                    channel,
                    post,
                    nonce,
                } => {
                    let body = render::message_body(post, nonce);
                    let route = Route::ChannelMessages {
                        channel_id: ChannelId::new(channel),
                    };
                    let v = self
                        .call(json_request(route, LightMethod::Post, &body))
                        .await?;
                    Ok(Performed::Message(id_of(&v)?))
                }
                Effect::StartThread {
                    channel,
                    message,
                    name,
                } => {
                    let body = render::start_thread_body(name);
                    let route = Route::ChannelMessageThreads {
                        channel_id: ChannelId::new(channel),
                        message_id: MessageId::new(message),
                    };
                    match self
                        .call(json_request(route, LightMethod::Post, &body))
                        .await
                    {
                        Ok(v) => Ok(Performed::Thread(id_of(&v)?)),
                        // Opened by an earlier attempt whose answer we never saw.
                        Err(e) if e.code == Some(THREAD_ALREADY_CREATED) => {
                            Ok(Performed::Thread(message))
                        }
                        Err(e) => Err(e),
                    }
                }
                Effect::CreateForumPost { forum, name, post } => {
                    let body = render::forum_post_body(name, post);
                    let route = Route::ChannelForumPosts {
                        channel_id: ChannelId::new(forum),
                    };
                    let v = self
                        .call(json_request(route, LightMethod::Post, &body))
                        .await?;
                    Ok(Performed::Thread(id_of(&v)?))
                }
                Effect::EditThread {
                    thread,
                    name,
                    archived,
                } => {
                    let body = render::edit_thread_body(name, archived);
                    let route = Route::Channel {
                        channel_id: ChannelId::new(thread),
                    };
                    self.call(json_request(route, LightMethod::Patch, &body))
                        .await?;
                    Ok(Performed::Edited)
                }
                Effect::EditOriginal {
                    application_id,
                    token,
                    message,
                } => {
                    let body = render::edit_original_body(message);
                    let route = Route::WebhookOriginalInteractionResponse {
                        application_id: ApplicationId::new(application_id),
                        token,
                    };
                    self.call(json_request(route, LightMethod::Patch, &body))
                        .await?;
                    Ok(Performed::Edited)
                }
                Effect::FollowUp {
                    application_id,
                    token,
                    message,
                } => {
                    let body = render::follow_up_body(message);
                    let route = Route::WebhookFollowupMessages {
                        application_id: ApplicationId::new(application_id),
                        token,
                    };
                    let v = self
                        .call(json_request(route, LightMethod::Post, &body))
                        .await?;
                    Ok(Performed::Message(id_of(&v)?))
                }
            }
        })
    }
}

fn json_request<'a>(
    route: Route<'a>,
    method: LightMethod,
    body: &serde_json::Value,
) -> Request<'a> {
    Request::new(route, method).body(Some(body.to_string().into_bytes()))
}

fn id_of(v: &serde_json::Value) -> Result<u64, DiscordError> {
    v.get("id")
        .and_then(|id| id.as_str())
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| DiscordError {
            status: 200,
            code: None,
            message: format!("Discord's answer has no id: {v}"),
            retry_after: None,
        })
}

fn to_error(e: serenity::Error) -> DiscordError {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r)) => DiscordError {
            status: r.status_code.as_u16(),
            code: Some(r.error.code as i64),
            message: r.error.message,
            retry_after: None,
        },
        other => DiscordError {
            status: 0,
            code: None,
            message: other.to_string(),
            retry_after: None,
        },
    }
    .with_default_retry()
}

impl DiscordError {
    /// A 429 without a readable `Retry-After` waits a second, Discord's usual bucket.
    fn with_default_retry(mut self) -> Self {
        if self.status == 429 && self.retry_after.is_none() {
            self.retry_after = Some(SignedDuration::from_secs(1));
        }
        self
    }
}
