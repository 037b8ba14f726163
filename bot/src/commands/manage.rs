//! `/claim`, `/release`, `/close` and `/snippet`.

use std::collections::HashMap;

use serde_json::Value;

use super::{opt, Ctx, Msg, Response};
use crate::discord::Post;
use crate::mirror::posts::{self, colour};
use crate::store::{Changes, NewWork, Precondition, Snippet, StoreError, ThreadPatch, Work};

fn private(text: impl Into<String>) -> Result<Response, StoreError> {
    Ok(Response::Message(Msg::private(text)))
}

/// `/claim`, `/release`, `/close`: a note in the thread for everyone, a confirmation
/// for the agent. Closing archives the Discord thread; the customer's next message
/// reopens it.
pub fn claim_release_close(
    ctx: &Ctx<'_>,
    which: &str,
    customer: Option<&str>,
) -> Result<Response, StoreError> {
    let Some(thread) = ctx.thread(customer)? else {
        return private("Use this inside a customer's thread, or pick the customer.");
    };
    let me = &ctx.inv.agent;
    let patch;
    let mut precondition = None;
    let (note, answer) = match which {
        "claim" => {
            if let Some(other) = thread.claimed_by.filter(|&id| id != me.id) {
                return private(format!(
                    "<@{other}> has claimed this conversation; ask them, or /release it first."
                ));
            }
            // Compare-and-set: the claim holds only if the conversation is still as
            // read (unclaimed, or ours); of two agents claiming at once, one wins.
            precondition = Some(Precondition::ClaimedBy {
                psid: thread.psid.clone(),
                is: thread.claimed_by,
            });
            patch = ThreadPatch::Claim {
                psid: thread.psid.clone(),
                by: Some(me.id),
                if_unclaimed: false,
            };
            (
                format!("🙋 {} claimed this conversation.", me.name),
                "Claimed.",
            )
        }
        "release" => {
            patch = ThreadPatch::Claim {
                psid: thread.psid.clone(),
                by: None,
                if_unclaimed: false,
            };
            (
                format!("👋 {} released this conversation.", me.name),
                "Released.",
            )
        }
        _ => {
            patch = ThreadPatch::Close {
                psid: thread.psid.clone(),
            };
            (
                format!(
                    "✅ {} closed this conversation. The customer's next message reopens it.",
                    me.name
                ),
                "Closed.",
            )
        }
    };
    let mut work = vec![NewWork {
        key: None,
        work: Work::Post {
            psid: thread.psid.clone(),
            post: Post {
                embeds: vec![posts::entry(None, &note, None, ctx.now, colour::TEAM)],
                ..Post::default()
            },
        },
        due: ctx.now,
    }];
    if which == "close" {
        work.push(NewWork {
            key: None,
            work: Work::EditThread {
                psid: thread.psid.clone(),
                name: None,
                archived: Some(true),
            },
            due: ctx.now,
        });
    }
    let committed = ctx.engine.store.commit(&Changes {
        preconditions: precondition.into_iter().collect(),
        patches: vec![patch],
        work,
        ..Changes::default()
    });
    match committed {
        Ok(()) => private(answer),
        Err(StoreError::Conflict(_)) => {
            let now = ctx.engine.store.thread(&thread.psid)?;
            match now.and_then(|t| t.claimed_by) {
                Some(other) if other != me.id => private(format!(
                    "<@{other}> claimed this conversation just before you; ask them, or /release it first."
                )),
                _ => private("The claim changed meanwhile; try again."),
            }
        }
        Err(e) => Err(e),
    }
}

/// `/snippet add|edit|remove|list`.
pub fn snippet(
    ctx: &Ctx<'_>,
    sub: &str,
    options: &HashMap<String, Value>,
) -> Result<Response, StoreError> {
    let store = &ctx.engine.store;
    let name = opt(options, "name").map(|n| n.trim().trim_start_matches('/').to_owned());
    match (sub, name) {
        ("list", _) => {
            let all = store.snippets()?;
            if all.is_empty() {
                return private("No snippets yet: /snippet add name text.");
            }
            let lines: Vec<String> = all
                .iter()
                .map(|s| {
                    format!(
                        "**/{}**: {}",
                        s.name,
                        s.text.chars().take(100).collect::<String>()
                    )
                })
                .collect();
            private(lines.join("\n").chars().take(1990).collect::<String>())
        }
        ("remove", Some(name)) => {
            if store.snippet_remove(&name)? {
                private(format!("Removed /{name}."))
            } else {
                private(format!("No snippet named /{name}."))
            }
        }
        ("add" | "edit", Some(name)) => {
            let Some(text) = opt(options, "text")
                .map(str::trim)
                .filter(|t| !t.is_empty())
            else {
                return private("A snippet needs a text.");
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                return private("A snippet's name is one word, like `hours`.");
            }
            let exists = store.snippets()?.iter().any(|s| s.name == name);
            match (sub, exists) {
                ("add", true) => return private(format!("/{name} exists; use /snippet edit.")),
                ("edit", false) => {
                    return private(format!("No snippet named /{name}; use /snippet add."))
                }
                _ => {}
            }
            store.snippet_put(&Snippet {
                name: name.clone(),
                text: text.to_owned(),
                author: ctx.inv.agent.name.clone(),
            })?;
            private(format!("Saved /{name}."))
        }
        _ => private("Which snippet? Give its name."),
    }
}
