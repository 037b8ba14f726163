//! Meta's error envelope.

use serde::{Deserialize, Serialize};

/// The body of a failed Graph call: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: GraphError,
}

/// One Graph error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphError {
    /// Starts with `(#code) `.
    pub message: String,
    /// Usually `OAuthException`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The error code.
    pub code: u32,
    /// The subcode, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<u32>,
    /// Set on errors worth retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_transient: Option<bool>,
    /// A title meant for the end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_title: Option<String>,
    /// A message meant for the end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_msg: Option<String>,
    /// Meta's trace id for support requests.
    pub fbtrace_id: String,
}
