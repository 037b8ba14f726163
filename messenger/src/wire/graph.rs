//! Reading threads and profiles: conversations, messages, user profiles.

use serde::{Deserialize, Serialize};

/// `GET /{page-id}/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationList {
    /// One page of conversations, most recently updated first.
    pub data: Vec<ConversationRef>,
    /// Cursors; `next` is absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

/// A conversation in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRef {
    /// `t_...`.
    pub id: String,
    /// Graph time, as in `2026-11-20T17:02:11+0000`.
    pub updated_time: String,
}

/// Cursor paging as Graph shapes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paging {
    /// The cursors of this page.
    pub cursors: Cursors,
    /// The next page's URL, absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The previous page's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// Before and after cursors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursors {
    /// Cursor to the page before.
    pub before: String,
    /// Cursor to the page after.
    pub after: String,
}

/// `GET /{conversation-id}?fields=messages,participants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The most recent messages (at most 20 readable in detail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<DataList<MessageRef>>,
    /// The page and the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<DataList<Participant>>,
    /// `t_...`.
    pub id: String,
}

/// Graph's `{"data": [...]}` wrapper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataList<T> {
    /// The items.
    pub data: Vec<T>,
}

/// A message in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// `m_...`.
    pub id: String,
    /// Graph time.
    pub created_time: String,
}

/// A participant of a conversation or message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// PSID or page id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The person's relay email, where shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `GET /{message-id}?fields=id,created_time,from,to,message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDetail {
    /// `m_...`.
    pub id: String,
    /// Graph time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// The sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Participant>,
    /// The recipients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DataList<Participant>>,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `GET /{psid}?fields=first_name,last_name,profile_pic`; every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_pic: Option<String>,
    /// The PSID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl UserProfile {
    /// "First Last", or whichever part is known.
    pub fn display_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// A persona: a name and picture a message can be sent as (`persona_id` on a send).
/// `POST /{page-id}/personas` takes `name` and `profile_picture_url`; `GET /{persona-id}`
/// returns them with the `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persona {
    /// The name shown instead of the page's.
    pub name: String,
    /// The picture shown instead of the page's.
    pub profile_picture_url: String,
    /// The persona's id; absent in the creating request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Graph's answer to creating an object: `{"id": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The new object's id.
    pub id: String,
}
