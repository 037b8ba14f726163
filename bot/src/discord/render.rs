//! Discord's JSON for each effect, shared by every [`super::DiscordApi`] so the
//! recorder sees the bytes production would send.

use serde_json::{json, Value};

use super::{Embed, Post};

/// The body of a message post. Mentions are off except for the listed users and roles,
/// so a customer writing `@everyone` pings nobody.
pub fn message_body(post: &Post, nonce: &str) -> Value {
    let mut body = json!({
        "content": post.content,
        "allowed_mentions": {
            "parse": [],
            "users": post.ping_users.iter().map(u64::to_string).collect::<Vec<_>>(),
            "roles": post.ping_roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        },
        "nonce": nonce,
        "enforce_nonce": true,
    });
    if !post.embeds.is_empty() {
        body["embeds"] = post.embeds.iter().map(embed).collect();
    }
    if let Some(psid) = &post.reply_to {
        // Opens a modal for a long reply; the custom_id carries the customer.
        body["components"] = json!([{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Reply", "custom_id": format!("reply:{psid}")}
        ]}]);
    }
    body
}

/// One embed's JSON.
pub fn embed(e: &Embed) -> Value {
    let mut v = json!({ "description": e.description, "color": e.color });
    if let Some(title) = &e.title {
        v["title"] = json!(title);
    }
    if let Some(name) = &e.author {
        v["author"] = json!({ "name": name });
        if let Some(icon) = &e.author_icon {
            v["author"]["icon_url"] = json!(icon);
        }
    }
    if let Some(footer) = &e.footer {
        v["footer"] = json!({ "text": footer });
    }
    if let Some(ts) = &e.timestamp {
        v["timestamp"] = json!(ts);
    }
    v
}

/// The body that starts a thread from a message. Threads archive after a week of quiet
/// (Discord's maximum), which is the human-agent window's length.
pub fn start_thread_body(name: &str) -> Value {
    json!({ "name": name, "auto_archive_duration": 10080 })
}

/// The body that creates a forum post with its first message. Like a thread, it
/// archives after a week of quiet.
pub fn forum_post_body(name: &str, post: &Post) -> Value {
    let mut message = message_body(post, "");
    if let Some(m) = message.as_object_mut() {
        // A forum post's message takes no nonce.
        m.remove("nonce");
        m.remove("enforce_nonce");
    }
    json!({ "name": name, "auto_archive_duration": 10080, "message": message })
}

/// The body of a thread edit.
pub fn edit_thread_body(name: Option<&str>, archived: Option<bool>) -> Value {
    let mut v = json!({});
    if let Some(name) = name {
        v["name"] = json!(name);
    }
    if let Some(archived) = archived {
        v["archived"] = json!(archived);
    }
    v
}

/// The fields of an interaction message that an edit may set: its flags (ephemeral)
/// were fixed by the deferral.
pub fn edit_original_body(message: &Value) -> Value {
    let mut v = json!({});
    for field in ["content", "embeds", "components", "allowed_mentions"] {
        if let Some(x) = message.get(field) {
            v[field] = x.clone();
        }
    }
    v
}

/// The body of a follow-up message: the message as it would have been answered,
/// ephemeral flag included.
pub fn follow_up_body(message: &Value) -> Value {
    let mut v = edit_original_body(message);
    if let Some(flags) = message.get("flags") {
        v["flags"] = flags.clone();
    }
    v
}

/// A deferred answer to a command or a modal: Discord shows "thinking…" to the agent
/// alone (ephemeral) until the original response is edited.
pub fn deferred_message() -> Value {
    json!({"type": 5, "data": {"flags": 64}})
}

/// A deferred answer to a button or a menu: the message stays as it is until it is
/// edited.
pub fn deferred_update() -> Value {
    json!({"type": 6})
}
