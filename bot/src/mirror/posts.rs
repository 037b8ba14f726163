//! Customer activity as Discord posts, coalesced: a backlog of messages in one
//! conversation becomes as few posts as Discord's limits allow.

use jiff::Timestamp;

use crate::discord::{Embed, Post};

/// Discord's limit on embeds per message.
const EMBEDS_PER_POST: usize = 10;
/// Discord's limit on the total characters of a message's embeds.
const EMBED_CHARS_PER_POST: usize = 6000;
/// Discord's limit on one embed's description.
const DESCRIPTION_LIMIT: usize = 4096;

/// Colours by who is speaking.
pub mod colour {
    /// The customer.
    pub const CUSTOMER: u32 = 0x2ecc71;
    /// The page, outside tagdesk.
    pub const ECHO: u32 = 0x95a5a6;
    /// The team, through tagdesk.
    pub const TEAM: u32 = 0x3498db;
    /// A refusal or failure.
    pub const REFUSED: u32 = 0xe74c3c;
    /// Meta's notices.
    pub const NOTICE: u32 = 0xe67e22;
}

/// One line of a conversation, before it is packed into posts.
pub fn entry(
    author: Option<(&str, Option<&str>)>,
    text: &str,
    footer: Option<String>,
    at: Timestamp,
    color: u32,
) -> Embed {
    let description: String = if text.is_empty() {
        "*(no text)*".into()
    } else {
        text.chars().take(DESCRIPTION_LIMIT).collect()
    };
    Embed {
        title: None,
        author: author.map(|(name, _)| name.to_owned()),
        author_icon: author.and_then(|(_, icon)| icon.map(str::to_owned)),
        description,
        footer,
        timestamp: Some(at.to_string()),
        color,
    }
}

fn chars(e: &Embed) -> usize {
    e.description.chars().count()
        + e.author.as_deref().map_or(0, |a| a.chars().count())
        + e.footer.as_deref().map_or(0, |f| f.chars().count())
}

/// Packs entries into as few posts as Discord allows, in order.
pub fn coalesce(entries: Vec<Embed>) -> Vec<Post> {
    append(Vec::new(), entries)
}

/// Packs entries after `posts` (the last of which may still have room), in order.
pub fn append(mut posts: Vec<Post>, entries: Vec<Embed>) -> Vec<Post> {
    let mut size = posts
        .last()
        .map_or(0, |p| p.embeds.iter().map(chars).sum::<usize>());
    for e in entries {
        let n = chars(&e);
        let fits = posts
            .last()
            .is_some_and(|p| p.embeds.len() < EMBEDS_PER_POST && size + n <= EMBED_CHARS_PER_POST);
        if !fits {
            posts.push(Post::default());
            size = 0;
        }
        size += n;
        posts.last_mut().expect("pushed above").embeds.push(e);
    }
    posts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(text: &str) -> Embed {
        entry(None, text, None, Timestamp::UNIX_EPOCH, 0)
    }

    #[test]
    fn ten_embeds_per_post() {
        let posts = coalesce((0..23).map(|i| e(&i.to_string())).collect());
        let sizes: Vec<usize> = posts.iter().map(|p| p.embeds.len()).collect();
        assert_eq!(sizes, [10, 10, 3]);
    }

    #[test]
    fn six_thousand_characters_per_post() {
        let long = "y".repeat(1999);
        let posts = coalesce((0..4).map(|_| e(&long)).collect());
        let sizes: Vec<usize> = posts.iter().map(|p| p.embeds.len()).collect();
        assert_eq!(sizes, [3, 1]);
    }
}
