//! Wire types: the JSON Meta sends and accepts, in the v25.0 shapes.
//!
//! Optional fields are skipped when absent so that a value serializes back to the
//! payload it was read from; the round-trip tests hold that.

pub mod error;
pub mod graph;
pub mod send;
pub mod webhook;

pub use error::{ErrorEnvelope, GraphError};
pub use graph::{Conversation, ConversationList, Created, MessageDetail, Persona, UserProfile};
pub use send::{
    Attachment, Message, MessagingType, NotificationType, QuickReply, Recipient, SendRequest,
    SendResponse, SenderAction,
};
pub use webhook::{Entry, EventKind, MessagingEvent, WebhookDelivery};

/// A page, a person or an app on either side of a messaging event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Party {
    /// The page id or the person's page-scoped id (PSID).
    pub id: String,
}

impl Party {
    /// A party with the given id.
    pub fn new(id: impl Into<String>) -> Self {
        Party { id: id.into() }
    }
}
