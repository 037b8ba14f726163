//! The policy as the bot applies it: [`messenger::decide`] on the state in the store,
//! when a send is approved and again before every attempt at it.
//!
//! Approval and sending are apart in time (Meta is slow, a retry waits, an agent
//! confirms), and the world moves meanwhile: a restriction arrives, a window closes,
//! another send takes a place in the tagged-message count. So a send keeps what the
//! agent asked for ([`Asked`]), and [`redecide`] runs the policy again on the state as
//! it is when the send's turn comes.

use jiff::Timestamp;
use messenger::policy::{Context, Decision, Warning};
use messenger::wire::MessagingType;
use messenger::{decide, Intent, PageState, Request, Sender, Tag};

use crate::settings::Settings;
use crate::store::{Asked, MessageRecord, Store, StoreError};

/// The page as the policy sees it at `now`: the restriction in force is read from the
/// store at this moment, never remembered from an earlier decision.
pub fn page_state(
    store: &dyn Store,
    s: &Settings,
    now: Timestamp,
) -> Result<PageState, StoreError> {
    let page = store.page()?;
    Ok(PageState {
        human_agent: s.human_agent,
        news_page: false,
        restriction: page.enforcement.active(now).cloned(),
    })
}

/// The request and sender an [`Asked`] stands for.
pub fn request_of(asked: Asked) -> (Request, Sender) {
    match asked {
        Asked::Reply { .. } => (Request::Reply, Sender::Human),
        Asked::Tag { tag, .. } => (Request::Tag(tag), Sender::Human),
        // A parked reply goes out on its own when the customer writes: an automation,
        // which may never use HUMAN_AGENT.
        Asked::Parked => (Request::Reply, Sender::Automated),
    }
}

/// What a send may go out as now, or why it may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redecided {
    /// Send it like this.
    Send {
        /// The `messaging_type`.
        messaging_type: MessagingType,
        /// The tag, with `MESSAGE_TAG`.
        tag: Option<Tag>,
    },
    /// Don't.
    Stop {
        /// Why, as a stable name for metrics (a policy refusal's
        /// [`Reason::code`](messenger::policy::Reason::code), or one of this function's
        /// own: `conversation_gone`, `tag_would_change`, `second_tag_unconfirmed`).
        reason: &'static str,
        /// Why, in words for the thread and the agent.
        why: String,
    },
}

/// Runs the policy again for `msg`, a send approved earlier, at `now`, with the
/// tagged-message count as it stands for this send (sent messages plus the sends
/// approved before it, not its own place nor later ones).
///
/// The answer may only get safer: a send approved as tagged may now go as RESPONSE
/// (the customer wrote meanwhile), but one approved as RESPONSE never becomes tagged,
/// one approved as the first tagged message never silently becomes the second, and a
/// refusal stops it.
pub fn redecide(
    store: &dyn Store,
    s: &Settings,
    msg: &MessageRecord,
    now: Timestamp,
) -> Result<Redecided, StoreError> {
    let approved_tag: Option<Tag> = msg.tag.as_deref().and_then(|t| t.parse().ok());
    let Some(asked) = msg.asked else {
        // Recorded before sends kept what was asked: as approved.
        return Ok(Redecided::Send {
            messaging_type: if approved_tag.is_some() {
                MessagingType::MessageTag
            } else {
                MessagingType::Response
            },
            tag: approved_tag,
        });
    };
    let Some(mut thread) = store.thread(&msg.psid)? else {
        return Ok(Redecided::Stop {
            reason: "conversation_gone",
            why: "the conversation is gone".into(),
        });
    };
    thread.state.tagged_since_customer = store.tagged_before(&msg.psid, msg.id)?;
    let page = page_state(store, s, now)?;
    let (request, sender) = request_of(asked);
    let intent = Intent {
        sender,
        request,
        text: &msg.text,
        template: false,
    };
    let ctx = Context {
        rules: s.rules_at(now),
        page: &page,
        lexicon: &s.lexicon,
    };
    let confirmed_second = match asked {
        Asked::Reply { confirmed_second }
        | Asked::Tag {
            confirmed_second, ..
        } => confirmed_second,
        Asked::Parked => false,
    };
    Ok(match decide(&thread.state, &intent, now, &ctx) {
        Decision::Refused(r) => Redecided::Stop {
            reason: r.reason.code(),
            why: format!("{r}"),
        },
        Decision::Send(send) if send.tag.is_none() => Redecided::Send {
            messaging_type: send.messaging_type,
            tag: None,
        },
        Decision::Send(send) if send.tag != approved_tag => Redecided::Stop {
            reason: "tag_would_change",
            why: format!(
                "it was approved as {}, but by the time its turn came it would go as {} ({}); \
                 send it again if that is what you mean",
                approved_tag.map_or("RESPONSE", |t| t.as_str()),
                send.tag.map_or("RESPONSE", |t| t.as_str()),
                send.window
            ),
        },
        Decision::Send(send)
            if send.warnings.contains(&Warning::SecondConsecutiveTag) && !confirmed_second =>
        {
            Redecided::Stop {
                reason: "second_tag_unconfirmed",
                why: "by the time its turn came it would be the second tagged message in a row \
                      (another tagged message went out first); send it again to confirm"
                    .into(),
            }
        }
        Decision::Send(send) => Redecided::Send {
            messaging_type: send.messaging_type,
            tag: send.tag,
        },
    })
}
