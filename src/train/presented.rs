//! The world's people as the practice server knows them.
//!
//! A live session's world checks roles as every scenario does, with the world's own
//! role and user ids (so the recorded session replays offline exactly). What the bot
//! posts in the practice server must ping the server's real role and the trainee's
//! real account instead, or an alert would mention a role nobody has. [`Presented`]
//! wraps the practice server's Discord and swaps those ids in every post.

use std::sync::Arc;

use bot::discord::{BoxFuture, DiscordApi, DiscordError, Effect, Performed, Post};

/// Who is who: the world's id, and the practice server's (`None`: nobody there, so
/// the ping is dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct People {
    /// Roles: the world's agent role to the server's.
    pub roles: Vec<(u64, Option<u64>)>,
    /// Users: the world's trainee to their account.
    pub users: Vec<(u64, Option<u64>)>,
}

impl People {
    /// `post` with the world's ids swapped for the server's.
    pub fn present(&self, post: &Post) -> Post {
        let mut post = post.clone();
        for &(world, server) in &self.roles {
            post.content = swap(
                &post.content,
                &format!("<@&{world}>"),
                server.map(|s| format!("<@&{s}>")),
            );
            post.ping_roles = swap_ids(&post.ping_roles, world, server);
        }
        for &(world, server) in &self.users {
            post.content = swap(
                &post.content,
                &format!("<@{world}>"),
                server.map(|s| format!("<@{s}>")),
            );
            post.ping_users = swap_ids(&post.ping_users, world, server);
        }
        post
    }
}

fn swap(text: &str, mention: &str, by: Option<String>) -> String {
    match by {
        Some(by) => text.replace(mention, &by),
        // An alert that pings nobody still says who it is for.
        None => text.replace(mention, "@agents"),
    }
}

fn swap_ids(ids: &[u64], world: u64, server: Option<u64>) -> Vec<u64> {
    ids.iter()
        .filter_map(|&id| if id == world { server } else { Some(id) })
        .collect()
}

/// The practice server's Discord, with [`People`] swapped in every post.
pub struct Presented {
    /// The server.
    pub inner: Arc<dyn DiscordApi>,
    /// Who is who.
    pub people: People,
}

impl DiscordApi for Presented {
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
                    let post = self.people.present(post);
                    let effect = Effect::SendMessage {
                        channel,
                        post: &post,
                        nonce,
                    };
                    self.inner.perform(&effect).await
                }
                Effect::CreateForumPost { forum, name, post } => {
                    let post = self.people.present(post);
                    let effect = Effect::CreateForumPost {
                        forum,
                        name,
                        post: &post,
                    };
                    self.inner.perform(&effect).await
                }
                _ => self.inner.perform(effect).await,
            }
        })
    }

    fn recent_messages(
        &self,
        channel: u64,
        limit: u8,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>> {
        self.inner.recent_messages(channel, limit)
    }

    fn active_threads(
        &self,
        guild: u64,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, DiscordError>> {
        self.inner.active_threads(guild)
    }

    fn rate_limit(
        &self,
        route: Option<bot::discord::ratelimit::Route>,
    ) -> Option<bot::discord::ratelimit::RateLimit> {
        self.inner.rate_limit(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_pings_the_servers_role_and_the_trainees_account() {
        let people = People {
            roles: vec![(2, Some(902))],
            users: vec![(500_001, Some(777))],
        };
        let post = Post {
            content: "<@&2> window closes in 2h · <@500001>".into(),
            ping_roles: vec![2],
            ping_users: vec![500_001],
            ..Post::default()
        };
        let shown = people.present(&post);
        assert_eq!(shown.content, "<@&902> window closes in 2h · <@777>");
        assert_eq!(shown.ping_roles, [902]);
        assert_eq!(shown.ping_users, [777]);
    }

    #[test]
    fn without_a_role_in_the_server_the_alert_pings_nobody() {
        let people = People {
            roles: vec![(2, None)],
            users: vec![],
        };
        let post = Post {
            content: "<@&2> window closes in 2h".into(),
            ping_roles: vec![2],
            ..Post::default()
        };
        let shown = people.present(&post);
        assert_eq!(shown.content, "@agents window closes in 2h");
        assert!(shown.ping_roles.is_empty());
    }
}
