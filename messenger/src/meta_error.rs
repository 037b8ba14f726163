//! The errors Meta answers Send API calls with, built and recognised in one place, and
//! explained in words an agent can act on.

use crate::wire::GraphError;

/// The subcode Meta's code 100 carried for the tags retired on 2026-04-27
/// (`CONFIRMED_EVENT_UPDATE`, `ACCOUNT_UPDATE`, `POST_PURCHASE_UPDATE`), as seen in real
/// responses (it isn't on Meta's error-codes page).
pub const RETIRED_TAG_SUBCODE: u32 = 1893061;

/// A Graph error this project knows by code and subcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaError {
    /// 10/2018278.
    OutsideWindow,
    /// 10/1893063.
    PageRestricted,
    /// 10/2018108.
    CantReceive,
    /// 100, for a bad parameter; the detail says which.
    InvalidParameter(String),
    /// 100/1893061, for a retired tag (the subcode real responses carried after the
    /// April 2026 retirement; Meta's message is only "Invalid parameter").
    RetiredTag(String),
    /// 100, text of more than 2000 characters.
    TextTooLong,
    /// 100/2018001.
    NoMatchingUser,
    /// 100/2018014.
    MessageAndAction,
    /// 190.
    InvalidToken,
    /// 200.
    Permission,
    /// 551/1545041.
    Unavailable,
    /// 613/2018338.
    TagSpamWarning,
    /// 4, 17, 32, 613 (2534040) or 80006.
    RateLimited(u32),
    /// 368.
    Abusive,
    /// 2018300.
    AnotherAppControls,
    /// 2018218.
    NoProfile,
    /// HUMAN_AGENT without the feature: code configurable (10 or 100). Meta doesn't
    /// document it; with 10 it is Graph's classic permission error, "(#10) Application
    /// does not have permission for this action", with no subcode.
    HumanAgentNotPermitted(u32),
    /// 1 or 2, or an HTTP 5xx.
    Unexpected,
    /// Anything else.
    Other {
        /// Code.
        code: u32,
        /// Subcode.
        subcode: Option<u32>,
        /// Meta's message.
        message: String,
    },
}

impl MetaError {
    /// The code and subcode.
    pub fn code(&self) -> (u32, Option<u32>) {
        match self {
            MetaError::OutsideWindow => (10, Some(2018278)),
            MetaError::PageRestricted => (10, Some(1893063)),
            MetaError::CantReceive => (10, Some(2018108)),
            MetaError::InvalidParameter(_) | MetaError::TextTooLong => (100, None),
            MetaError::RetiredTag(_) => (100, Some(RETIRED_TAG_SUBCODE)),
            MetaError::NoMatchingUser => (100, Some(2018001)),
            MetaError::MessageAndAction => (100, Some(2018014)),
            MetaError::InvalidToken => (190, None),
            MetaError::Permission => (200, None),
            MetaError::Unavailable => (551, Some(1545041)),
            MetaError::TagSpamWarning => (613, Some(2018338)),
            MetaError::RateLimited(613) => (613, Some(2534040)),
            MetaError::RateLimited(code) => (*code, None),
            MetaError::Abusive => (368, None),
            MetaError::AnotherAppControls => (10, Some(2018300)),
            MetaError::NoProfile => (100, Some(2018218)),
            MetaError::HumanAgentNotPermitted(code) => (*code, None),
            MetaError::Unexpected => (2, None),
            MetaError::Other { code, subcode, .. } => (*code, *subcode),
        }
    }

    /// Meta's message, starting with `(#code) `.
    pub fn message(&self) -> String {
        let (code, _) = self.code();
        let text = match self {
            MetaError::OutsideWindow => "This message is sent outside of allowed window.",
            MetaError::PageRestricted => "You are temporarily restricted from sending messages.",
            MetaError::CantReceive => "They can't receive your messages right now.",
            MetaError::InvalidParameter(_) => "Invalid parameter",
            MetaError::RetiredTag(_) => "Invalid parameter",
            MetaError::TextTooLong => {
                "Length of param message[text] must be less than or equal to 2000"
            }
            MetaError::NoMatchingUser => "No matching user found",
            MetaError::MessageAndAction => "Cannot send both message and state at the same time.",
            MetaError::InvalidToken => "Invalid OAuth access token.",
            MetaError::Permission => {
                "Requires pages_messaging permission to manage the object"
            }
            MetaError::Unavailable => "This person isn't available right now.",
            MetaError::TagSpamWarning => "You are engaging in behavior that may be considered bothersome or abusive by users. You must significantly decrease the rate at which you are sending messages using message tags to this person. Further misuse of message tags may result in messaging restrictions being placed on your Page",
            MetaError::RateLimited(80006) => "There have been too many messenger api calls to this Page account. Wait a bit and try again.",
            MetaError::RateLimited(_) => "Calls to this api have exceeded the rate limit.",
            MetaError::Abusive => "The action attempted has been deemed abusive or is otherwise disallowed",
            MetaError::AnotherAppControls => "Message failed to send because another app is controlling this thread now.",
            MetaError::NoProfile => "No profile available for this user.",
            MetaError::HumanAgentNotPermitted(10) => "Application does not have permission for this action",
            MetaError::HumanAgentNotPermitted(_) => "The HUMAN_AGENT tag requires the Human Agent permission, which this app does not have.",
            MetaError::Unexpected => "An unexpected error has occurred. Please retry your request later.",
            MetaError::Other { message, .. } => return message.clone(),
        };
        format!("(#{code}) {text}")
    }

    /// The HTTP status Meta answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            MetaError::Unexpected => 500,
            _ => 400,
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, MetaError::RateLimited(_) | MetaError::Unexpected)
    }

    /// The envelope Meta would send, with the given trace id.
    pub fn to_graph_error(&self, fbtrace_id: impl Into<String>) -> GraphError {
        let (code, error_subcode) = self.code();
        let detail = match self {
            MetaError::InvalidParameter(d) | MetaError::RetiredTag(d) => Some(d.clone()),
            _ => None,
        };
        GraphError {
            message: self.message(),
            kind: "OAuthException".into(),
            code,
            error_subcode,
            is_transient: self.is_transient().then_some(true),
            error_user_title: None,
            error_user_msg: detail,
            fbtrace_id: fbtrace_id.into(),
        }
    }

    /// Recognises an error Meta sent.
    pub fn classify(e: &GraphError) -> MetaError {
        let detail = || {
            e.error_user_msg
                .clone()
                .unwrap_or_else(|| e.message.clone())
        };
        match (e.code, e.error_subcode) {
            (10, Some(2018278)) => MetaError::OutsideWindow,
            (10, Some(1893063)) => MetaError::PageRestricted,
            (10, Some(2018108)) => MetaError::CantReceive,
            (10, Some(2018300)) | (_, Some(2018300)) | (2018300, _) => {
                MetaError::AnotherAppControls
            }
            (100, Some(2018001)) => MetaError::NoMatchingUser,
            (100, Some(2018014)) => MetaError::MessageAndAction,
            (100, Some(2018218)) => MetaError::NoProfile,
            (100, Some(RETIRED_TAG_SUBCODE)) => MetaError::RetiredTag(detail()),
            (100, None) if e.message.contains("message[text]") => MetaError::TextTooLong,
            // With code 100 there is nothing but the wording to go on.
            (100, None) if e.message.contains("HUMAN_AGENT") => {
                MetaError::HumanAgentNotPermitted(100)
            }
            (100, None) => MetaError::InvalidParameter(detail()),
            // Code 10 without a subcode is Graph's permission error; on the Send API
            // the permission a page can lack is Human Agent's.
            (10, None) => MetaError::HumanAgentNotPermitted(10),
            (190, _) => MetaError::InvalidToken,
            (200, _) => MetaError::Permission,
            (551, _) => MetaError::Unavailable,
            (613, Some(2018338)) => MetaError::TagSpamWarning,
            (4 | 17 | 32 | 613 | 80006, _) => MetaError::RateLimited(e.code),
            (368, _) => MetaError::Abusive,
            (1 | 2, _) => MetaError::Unexpected,
            (code, subcode) => MetaError::Other {
                code,
                subcode,
                message: e.message.clone(),
            },
        }
    }

    /// What happened and what to do next, for the agent who sent the message.
    pub fn explain(&self) -> (&'static str, &'static str) {
        match self {
            MetaError::OutsideWindow => (
                "the messaging window is closed",
                "park the reply until the customer writes, or use a tag the rules allow",
            ),
            MetaError::PageRestricted => (
                "the page is restricted from sending tagged messages",
                "wait for the restriction to end; replies inside the 24-hour window still work",
            ),
            MetaError::CantReceive | MetaError::Unavailable => (
                "the customer isn't available (they may have blocked the page)",
                "nothing to do on Messenger; reach them another way if you must",
            ),
            MetaError::InvalidParameter(_) | MetaError::MessageAndAction => (
                "Meta refused the request as invalid",
                "check the text and tag; report it if it keeps happening",
            ),
            MetaError::RetiredTag(_) => (
                "that message tag was retired by Meta",
                "use HUMAN_AGENT within 7 days, or a Utility Message template",
            ),
            MetaError::TextTooLong => (
                "the message is too long",
                "shorten it to at most 2000 characters or split it",
            ),
            MetaError::NoMatchingUser => (
                "Meta doesn't know this customer",
                "the conversation may have been deleted",
            ),
            MetaError::InvalidToken | MetaError::Permission => (
                "the page access token is invalid or expired",
                "an admin must renew the page token",
            ),
            MetaError::TagSpamWarning => (
                "Meta warns of too many tagged messages to this person",
                "slow down: wait for the customer to answer before tagging again",
            ),
            MetaError::RateLimited(_) => (
                "Meta is rate-limiting the page",
                "slow down; tagdesk retries automatically",
            ),
            MetaError::Abusive => (
                "Meta deemed the action abusive",
                "stop tagged sends and check /status",
            ),
            MetaError::AnotherAppControls => (
                "another app controls this thread (handover)",
                "wait until the thread is passed back, or answer from the app that owns it",
            ),
            MetaError::NoProfile => (
                "the customer's profile can't be read",
                "nothing to do; the customer is shown without a name",
            ),
            MetaError::HumanAgentNotPermitted(_) => (
                "the app lacks Meta's Human Agent permission, so HUMAN_AGENT can't be used",
                "answer within 24 hours of the customer's last message, or ask an admin to \
                 request the Human Agent permission (app review)",
            ),
            MetaError::Unexpected => (
                "Meta had an internal error",
                "tagdesk retries automatically",
            ),
            MetaError::Other { .. } => (
                "Meta refused the message",
                "check the error code in Meta's documentation",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_survives_a_round_trip_through_the_envelope() {
        let all = [
            MetaError::OutsideWindow,
            MetaError::PageRestricted,
            MetaError::CantReceive,
            MetaError::InvalidParameter("bad".into()),
            MetaError::RetiredTag("tag ACCOUNT_UPDATE was retired on 2026-04-27".into()),
            MetaError::TextTooLong,
            MetaError::NoMatchingUser,
            MetaError::MessageAndAction,
            MetaError::InvalidToken,
            MetaError::Permission,
            MetaError::Unavailable,
            MetaError::TagSpamWarning,
            MetaError::RateLimited(4),
            MetaError::RateLimited(613),
            MetaError::RateLimited(80006),
            MetaError::Abusive,
            MetaError::AnotherAppControls,
            MetaError::NoProfile,
            MetaError::HumanAgentNotPermitted(10),
            MetaError::HumanAgentNotPermitted(100),
            MetaError::Unexpected,
        ];
        for e in all {
            let wire = e.to_graph_error("AxIIVeNpuf3y2jeXdufRcEX");
            assert!(wire.message.starts_with(&format!("(#{}) ", wire.code)));
            assert_eq!(MetaError::classify(&wire), e, "{wire:?}");
        }
    }

    #[test]
    fn documented_outside_window_envelope() {
        let json = r#"{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"AxIIVeNpuf3y2jeXdufRcEX"}}"#;
        let env: crate::wire::ErrorEnvelope = serde_json::from_str(json).unwrap();
        assert_eq!(MetaError::classify(&env.error), MetaError::OutsideWindow);
        let ours = crate::wire::ErrorEnvelope {
            error: MetaError::OutsideWindow.to_graph_error("AxIIVeNpuf3y2jeXdufRcEX"),
        };
        assert_eq!(serde_json::to_string(&ours).unwrap(), json);
    }

    #[test]
    fn retired_tags_are_known_by_code_and_subcode_not_wording() {
        // Meta's real answer says only "Invalid parameter": the subcode is what tells.
        let json = r#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"error_subcode":1893061,"fbtrace_id":"AxIIVeNpuf3y2jeXdufRcEX"}}"#;
        let env: crate::wire::ErrorEnvelope = serde_json::from_str(json).unwrap();
        assert!(matches!(
            MetaError::classify(&env.error),
            MetaError::RetiredTag(_)
        ));
        // The word "retired" without the subcode is just an invalid parameter.
        let mut other = env.error.clone();
        other.error_subcode = None;
        other.error_user_msg = Some("the message tag ACCOUNT_UPDATE was retired".into());
        assert!(matches!(
            MetaError::classify(&other),
            MetaError::InvalidParameter(_)
        ));
    }

    #[test]
    fn human_agent_without_the_feature_is_explained_as_such() {
        // Graph's classic permission error, as Meta sends it: code 10, no subcode.
        let json = r#"{"error":{"message":"(#10) Application does not have permission for this action","type":"OAuthException","code":10,"fbtrace_id":"AxIIVeNpuf3y2jeXdufRcEX"}}"#;
        let env: crate::wire::ErrorEnvelope = serde_json::from_str(json).unwrap();
        let e = MetaError::classify(&env.error);
        assert_eq!(e, MetaError::HumanAgentNotPermitted(10));
        let (what, next) = e.explain();
        assert!(what.contains("Human Agent permission"), "{what}");
        assert!(next.contains("24 hours"), "{next}");
        assert_eq!(e.to_graph_error("AxIIVeNpuf3y2jeXdufRcEX"), env.error);
    }
}
