//! The Send API: `POST /{version}/{page-id}/messages`.

use serde::{Deserialize, Serialize};

use crate::tags::Tag;

/// A Send API request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Who receives the message.
    pub recipient: Recipient,
    /// Why the page may send it; absent on `sender_action` requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_type: Option<MessagingType>,
    /// The message tag, with `messaging_type: MESSAGE_TAG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    /// The message itself; never together with `sender_action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// A typing indicator or read mark instead of a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_action: Option<SenderAction>,
    /// How the recipient's device is notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<NotificationType>,
    /// The message this one quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MidRef>,
    /// The persona (`POST /{page-id}/personas`) the message is sent as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona_id: Option<String>,
}

impl SendRequest {
    /// A text message to `psid`, sent as `messaging_type` with an optional tag.
    pub fn text(
        psid: impl Into<String>,
        messaging_type: MessagingType,
        tag: Option<Tag>,
        text: impl Into<String>,
    ) -> Self {
        SendRequest {
            recipient: Recipient::id(psid),
            messaging_type: Some(messaging_type),
            tag,
            message: Some(Message {
                text: Some(text.into()),
                ..Message::default()
            }),
            sender_action: None,
            notification_type: None,
            reply_to: None,
            persona_id: None,
        }
    }
}

/// The recipient of a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The person's page-scoped id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A user reference from the checkbox plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<String>,
}

impl Recipient {
    /// A recipient by PSID.
    pub fn id(psid: impl Into<String>) -> Self {
        Recipient {
            id: Some(psid.into()),
            user_ref: None,
        }
    }
}

/// A reference to an earlier message by its `mid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MidRef {
    /// The message id.
    pub mid: String,
}

/// Why a message may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessagingType {
    /// A reply inside the 24-hour window.
    Response,
    /// A proactive update inside the 24-hour window.
    Update,
    /// A tagged message, with `tag`.
    MessageTag,
    /// A template-based utility message.
    Utility,
}

impl MessagingType {
    /// The wire name, as in `RESPONSE`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessagingType::Response => "RESPONSE",
            MessagingType::Update => "UPDATE",
            MessagingType::MessageTag => "MESSAGE_TAG",
            MessagingType::Utility => "UTILITY",
        }
    }
}

impl std::fmt::Display for MessagingType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message of a send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// UTF-8 text, at most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// An attachment instead of text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    /// At most 13 quick replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_replies: Option<Vec<QuickReply>>,
    /// Under 1000 characters, echoed back in the echo webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// An attachment: image, audio, video, file or template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// `image`, `audio`, `video`, `file` or `template`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type-specific payload, kept as JSON.
    pub payload: serde_json::Value,
}

/// A quick reply button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReply {
    /// `text`, `user_phone_number` or `user_email`.
    pub content_type: String,
    /// The button's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What comes back when tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// An icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// A sender action, sent instead of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderAction {
    /// Show the typing indicator.
    TypingOn,
    /// Hide the typing indicator.
    TypingOff,
    /// Mark the last message as seen.
    MarkSeen,
}

/// How the recipient is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    /// Sound and vibration.
    Regular,
    /// A notification without sound.
    SilentPush,
    /// No notification.
    NoPush,
}

/// A successful send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// The recipient's PSID.
    pub recipient_id: String,
    /// The new message's id (`mid` in webhooks); absent for sender actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}
