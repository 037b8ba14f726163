//! Production Discord: serenity's `Http`, with its per-route and global rate limiter.
//! Wherever that limiter is off (a stand-in, a proxy), requests are made directly and
//! what each answer announces is kept, so [`Paced`] holds calls Discord would refuse
//! and a 429 is waited out for exactly its `retry_after`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::SignedDuration;
use serenity::http::{Http, HttpBuilder, LightMethod, Request, Route};
use serenity::model::id::{ApplicationId, ChannelId, GuildId, MessageId};

use super::pacing::Paced;
use super::ratelimit::{self, RateLimit};
use super::{
    render, BoxFuture, DiscordApi, DiscordError, Effect, Performed, THREAD_ALREADY_CREATED,
};
use crate::clock::Clock;

/// Discord's public API base.
pub const DISCORD_API: &str = "https://discord.com";

/// Whether serenity's own rate limiter is in front of `api_base`: only Discord itself.
pub fn limiter_on(api_base: &str) -> bool {
    api_base.trim_end_matches('/') == DISCORD_API
}

fn builder(token: &str, application_id: u64, api_base: &str) -> HttpBuilder {
    let mut builder = HttpBuilder::new(token).application_id(application_id.into());
    if !limiter_on(api_base) {
        builder = builder
            .proxy(api_base.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    builder
}

/// serenity's `Http` for `api_base`: with serenity's rate limiter against Discord
/// itself, straight to a stand-in otherwise (see [`SerenityDiscord::new`]). The gateway
/// client uses the same.
pub fn http_for(token: &str, application_id: u64, api_base: &str) -> Http {
    builder(token, application_id, api_base).build()
}

/// The Discord the engine performs its work on, as production builds it: serenity's
/// `Http` with its own limiter against Discord itself; elsewhere (its limiter off)
/// the same client [`Paced`] on `clock` by what each answer announces.
pub fn discord_for(
    token: &str,
    application_id: u64,
    api_base: &str,
    clock: Arc<dyn Clock>,
) -> Arc<dyn DiscordApi> {
    let discord = Arc::new(SerenityDiscord::new(token, application_id, api_base));
    if limiter_on(api_base) {
        discord
    } else {
        Arc::new(Paced::new(discord, clock))
    }
}

/// Discord through serenity's `Http`.
#[derive(Clone)]
pub struct SerenityDiscord {
    http: Arc<Http>,
    /// Set where serenity's limiter is off.
    direct: Option<Arc<Direct>>,
}

/// Requests made without serenity's limiter, and what their answers announced.
struct Direct {
    client: reqwest::Client,
    /// The last answer's limits per route (`None`: a global 429 still announced).
    announced: Mutex<HashMap<Option<ratelimit::Route>, RateLimit>>,
}

impl SerenityDiscord {
    /// A client for `api_base`. Against Discord itself serenity's rate limiter honours
    /// 429s and `Retry-After` per route and globally; against a stand-in (tests,
    /// training) requests go to it directly, each answer's rate-limit headers are kept
    /// for [`DiscordApi::rate_limit`], and a 429 comes back to the outbox with its
    /// `retry_after`.
    pub fn new(token: &str, application_id: u64, api_base: &str) -> Self {
        if limiter_on(api_base) {
            return SerenityDiscord {
                http: Arc::new(http_for(token, application_id, api_base)),
                direct: None,
            };
        }
        let client = reqwest::Client::new();
        let http = builder(token, application_id, api_base)
            .client(client.clone())
            .build();
        SerenityDiscord {
            http: Arc::new(http),
            direct: Some(Arc::new(Direct {
                client,
                announced: Mutex::default(),
            })),
        }
    }

    /// The underlying client, for command registration and interaction responses.
    pub fn http(&self) -> Arc<Http> {
        Arc::clone(&self.http)
    }

    /// Makes `request`, in the bucket `route` (`None`: only the global limit).
    async fn call(
        &self,
        route: Option<ratelimit::Route>,
        request: Request<'_>,
    ) -> Result<serde_json::Value, DiscordError> {
        let Some(direct) = &self.direct else {
            let response = self.http.request(request).await.map_err(to_error)?;
            let bytes = response.bytes().await.map_err(unreachable)?;
            return Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null));
        };
        let built = request
            .build(
                &direct.client,
                self.http.token(),
                self.http.proxy.as_deref(),
            )
            .and_then(|b| Ok(b.build()?))
            .map_err(to_error)?;
        let response = direct.client.execute(built).await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(unreachable)?;
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        let announced = RateLimit::read(
            status,
            |name| headers.get(name).and_then(|v| v.to_str().ok()),
            &body,
        );
        direct.learn(route, announced.as_ref());
        if (200..300).contains(&status) {
            return Ok(body);
        }
        Err(DiscordError {
            status,
            code: body["code"].as_i64(),
            message: body["message"].as_str().map_or_else(
                || String::from_utf8_lossy(&bytes).into_owned(),
                str::to_owned,
            ),
            retry_after: announced.filter(|_| status == 429).map(|l| l.reset_after),
        }
        .with_default_retry())
    }
}

impl Direct {
    /// Keeps what an answer on `route` announced; a global 429 is kept for every
    /// route until another answer arrives.
    fn learn(&self, route: Option<ratelimit::Route>, announced: Option<&RateLimit>) {
        let mut kept = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        match announced {
            Some(l) if l.global => {
                kept.insert(None, l.clone());
            }
            _ => {
                kept.remove(&None);
            }
        }
        if let Some(route) = route {
            match announced.filter(|l| !l.global) {
                Some(l) => kept.insert(Some(route), l.clone()),
                None => kept.remove(&Some(route)),
            };
        }
    }
}

fn unreachable(e: impl std::fmt::Display) -> DiscordError {
    DiscordError {
        status: 0,
        code: None,
        message: e.to_string(),
        retry_after: None,
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
            let v = self.call(None, request).await?;
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
            let v = self
                .call(None, Request::new(route, LightMethod::Get))
                .await?;
            Ok(v["threads"].as_array().cloned().unwrap_or_default())
        })
    }

    fn perform<'a>(
        &'a self,
        effect: &'a Effect<'a>,
    ) -> BoxFuture<'a, Result<Performed, DiscordError>> {
        Box::pin(async move {
            let bucket = ratelimit::Route::of(effect);
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
                        .call(bucket, json_request(route, LightMethod::Post, &body))
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
                        .call(bucket, json_request(route, LightMethod::Post, &body))
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
                        .call(bucket, json_request(route, LightMethod::Post, &body))
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
                    self.call(bucket, json_request(route, LightMethod::Patch, &body))
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
                    self.call(bucket, json_request(route, LightMethod::Patch, &body))
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
                        .call(bucket, json_request(route, LightMethod::Post, &body))
                        .await?;
                    Ok(Performed::Message(id_of(&v)?))
                }
            }
        })
    }

    fn rate_limit(&self, route: Option<ratelimit::Route>) -> Option<RateLimit> {
        let direct = self.direct.as_ref()?;
        let kept = direct.announced.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&route).cloned()
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
