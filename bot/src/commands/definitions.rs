//! The commands as registered with Discord (guild commands, at start).
//!
//! `default_member_permissions` hides commands from people who couldn't use them
//! anyway: sending commands need "Send Messages in Threads", looking needs "View
//! Channel". The roles are checked again on every interaction; admins can narrow
//! either further in Server Settings → Integrations.

use serde_json::{json, Value};

use super::views::FILTERS;

/// "Send Messages in Threads".
const SEND_IN_THREADS: &str = "274877906944";
/// "View Channel".
const VIEW_CHANNEL: &str = "1024";

fn string(name: &str, description: &str, required: bool, autocomplete: bool) -> Value {
    json!({"type": 3, "name": name, "description": description, "required": required, "autocomplete": autocomplete})
}

fn customer() -> Value {
    string(
        "customer",
        "The customer (implied inside their thread)",
        false,
        true,
    )
}

/// Every command, as Discord's bulk-overwrite JSON.
pub fn all() -> Value {
    let filters: Vec<Value> = FILTERS
        .iter()
        .map(|f| json!({"name": f, "value": f}))
        .collect();
    let snippet_sub = |name: &str, description: &str, text: bool| {
        let mut options = vec![string("name", "The snippet's name", true, name != "add")];
        if text {
            options.push(string("text", "The saved reply", true, false));
        }
        json!({"type": 1, "name": name, "description": description, "options": options})
    };
    json!([
        {"name": "inbox", "description": "Open conversations, most urgent first",
         "default_member_permissions": VIEW_CHANNEL,
         "options": [{"type": 3, "name": "filter", "description": "Which conversations", "required": false, "choices": filters}]},
        {"name": "thread", "description": "A conversation's transcript and window",
         "default_member_permissions": VIEW_CHANNEL, "options": [customer()]},
        {"name": "reply", "description": "Reply to the customer, as the windows allow",
         "default_member_permissions": SEND_IN_THREADS,
         "options": [
            string("text", "Your reply (or /snippet-name)", false, false),
            string("snippet", "A saved reply", false, true),
            {"type": 5, "name": "split", "description": "Split a reply over 2000 characters", "required": false},
            customer()]},
        {"name": "tag", "description": "Send a tagged message (only tags the rules allow now)",
         "default_member_permissions": SEND_IN_THREADS,
         "options": [
            string("text", "The message", false, false),
            string("tag", "The tag; leave out for a menu of the allowed ones", false, true),
            string("snippet", "A saved reply", false, true),
            customer()]},
        {"name": "snippet", "description": "Saved replies",
         "default_member_permissions": SEND_IN_THREADS,
         "options": [
            snippet_sub("add", "Save a reply", true),
            snippet_sub("edit", "Change a saved reply", true),
            snippet_sub("remove", "Delete a saved reply", false),
            {"type": 1, "name": "list", "description": "List saved replies"}]},
        {"name": "claim", "description": "Take this conversation", "default_member_permissions": SEND_IN_THREADS, "options": [customer()]},
        {"name": "release", "description": "Let go of this conversation", "default_member_permissions": SEND_IN_THREADS, "options": [customer()]},
        {"name": "close", "description": "Close and archive this conversation", "default_member_permissions": SEND_IN_THREADS, "options": [customer()]},
        {"name": "status", "description": "The page's standing with Meta", "default_member_permissions": VIEW_CHANNEL},
        {"name": "audit", "description": "Who sent what, as what, and what the guard decided",
         "default_member_permissions": VIEW_CHANNEL, "options": [customer()]},
    ])
}
