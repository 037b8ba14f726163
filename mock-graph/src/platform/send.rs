//! The Send API as Meta answers it.

use jiff::Timestamp;
use messenger::meta_error::MetaError;
use messenger::restriction::Offense;
use messenger::rules::TagStatus;
use messenger::text::{MessageText, TextError};
use messenger::timefmt::to_millis;
use messenger::window::Window;
use messenger::wire::webhook::{Delivery, WebhookMessage};
use messenger::wire::{
    GraphError, MessagingEvent, MessagingType, Party, SendRequest, SendResponse,
};
use messenger::Tag;
use serde::Serialize;

use super::journal::{Logged, ThreadEvent};
use super::{AdminError, Platform, StoredMessage};

/// App id of Meta Business Suite's inbox, the "other app" of echoes.
pub const OTHER_APP_ID: u64 = 263_902_037_430_900;

/// One Send API call, as `/_mock/sent` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SentRecord {
    /// Virtual time of the call.
    pub at: Timestamp,
    /// The app that sent it.
    pub app_id: u64,
    /// The request as parsed, or as received if it didn't parse.
    pub request: RequestRecord,
    /// `{"recipient_id","message_id"}` or Meta's error.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A request in the sent log.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
// Most records are parsed requests: boxing them would only add an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum RequestRecord {
    /// A body that parsed.
    Parsed(SendRequest),
    /// A body that didn't, as text.
    Raw(String),
}

/// The answer to a send.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Accepted.
    Sent(SendResponse),
    /// Refused.
    Error(GraphError),
}

impl Platform {
    /// Answers a Send API call from this app: the token, then the body, then Meta's rules.
    pub fn send(&mut self, token: Option<&str>, body: &[u8]) -> Result<SendResponse, GraphError> {
        let app_id = self.settings.app_id;
        let parsed = parse(body);
        let result = if token != Some(self.settings.page_token.as_str()) {
            Err(MetaError::InvalidToken)
        } else {
            self.rate_limit().and_then(|()| match &parsed {
                Ok(req) => self.accept(req, app_id),
                Err(e) => Err(e.clone()),
            })
        };
        let record = match parsed {
            Ok(req) => RequestRecord::Parsed(req),
            Err(_) => RequestRecord::Raw(String::from_utf8_lossy(body).into_owned()),
        };
        self.record(app_id, record, result)
    }

    /// A send by another app (Meta Business Suite): same rules, echoed with its app id.
    pub fn send_as_other_app(&mut self, req: &SendRequest) -> Result<SendResponse, GraphError> {
        let result = self.accept(req, OTHER_APP_ID);
        self.record(OTHER_APP_ID, RequestRecord::Parsed(req.clone()), result)
    }

    /// Another app sends one text to many customers at once (a broadcast from Meta
    /// Business Suite). Each send is checked and answered like any; the promotional
    /// tagged ones are judged together, as one offence whose severity counts them all.
    pub fn broadcast_as_other_app(
        &mut self,
        psids: &[String],
        kind: MessagingType,
        tag: Option<Tag>,
        text: &str,
    ) -> Vec<Result<SendResponse, GraphError>> {
        self.broadcast = Some(Vec::new());
        let results = psids
            .iter()
            .map(|psid| self.send_as_other_app(&SendRequest::text(psid.clone(), kind, tag, text)))
            .collect();
        let judged = self.broadcast.take().unwrap_or_default();
        self.judge_promotion(&judged);
        results
    }

    /// The recipients of a broadcast to `count` customers: `first` if given, then the
    /// page's other customers in the order they were created.
    pub fn broadcast_recipients(
        &self,
        first: Option<&str>,
        count: usize,
    ) -> Result<Vec<String>, AdminError> {
        let out_of_range = |reason: String| AdminError::OutOfRange {
            field: "recipients",
            reason,
        };
        if count == 0 {
            return Err(out_of_range("at least 1 recipient".into()));
        }
        if count > self.order.len() {
            return Err(out_of_range(format!(
                "{count} recipients, but the page has {} customers",
                self.order.len()
            )));
        }
        if let Some(first) = first {
            if !self.customers.contains_key(first) {
                return Err(AdminError::UnknownCustomer(first.to_owned()));
            }
        }
        Ok(first
            .map(str::to_owned)
            .into_iter()
            .chain(
                self.order
                    .iter()
                    .filter(|p| Some(p.as_str()) != first)
                    .cloned(),
            )
            .take(count)
            .collect())
    }

    fn record(
        &mut self,
        app_id: u64,
        request: RequestRecord,
        result: Result<SendResponse, MetaError>,
    ) -> Result<SendResponse, GraphError> {
        let result = result.map_err(|e| e.to_graph_error(self.ids.fbtrace()));
        if let (RequestRecord::Parsed(req), Err(e)) = (&request, &result) {
            self.log_refusal(app_id, req, e);
        }
        self.sent.push(SentRecord {
            at: self.now,
            app_id,
            request,
            outcome: match &result {
                Ok(ok) => Outcome::Sent(ok.clone()),
                Err(e) => Outcome::Error(e.clone()),
            },
        });
        result
    }

    /// Notes a refused send in its conversation, when it names a customer the page has.
    fn log_refusal(&mut self, app_id: u64, req: &SendRequest, e: &GraphError) {
        let Some(psid) = req.recipient.id.as_deref() else {
            return;
        };
        let event = ThreadEvent::Refused {
            app_id,
            messaging_type: req.messaging_type,
            tag: req.tag,
            text: req.message.as_ref().and_then(|m| m.text.clone()),
            code: e.code,
            subcode: e.error_subcode,
            message: e.message.clone(),
        };
        self.log(psid, event);
    }

    fn rate_limit(&mut self) -> Result<(), MetaError> {
        if self.faults.rate_limit_burst > 0 {
            self.faults.rate_limit_burst -= 1;
            return Err(MetaError::RateLimited(613));
        }
        let second = self.now.as_second();
        if self.rate_window.0 != second {
            self.rate_window = (second, 0);
        }
        self.rate_window.1 += 1;
        if self.rate_window.1 > self.settings.rate_limit {
            return Err(MetaError::RateLimited(80006));
        }
        if self.ids.chance(self.faults.error_rate) {
            return Err(MetaError::Unexpected);
        }
        Ok(())
    }

    /// Meta's checks, in the order Meta appears to make them.
    fn accept(&mut self, req: &SendRequest, app_id: u64) -> Result<SendResponse, MetaError> {
        let psid =
            req.recipient.id.clone().ok_or_else(|| {
                MetaError::InvalidParameter("param recipient[id] is required".into())
            })?;
        if req.sender_action.is_some() && req.message.is_some() {
            return Err(MetaError::MessageAndAction);
        }
        // Every message names why it may be sent (required since 2018); a sender action
        // needs no reason.
        if req.sender_action.is_none() && req.messaging_type.is_none() {
            return Err(missing_parameter("messaging_type"));
        }
        if let Some(persona) = &req.persona_id {
            if !self.personas.contains_key(persona) {
                return Err(MetaError::InvalidParameter(format!(
                    "param persona_id {persona} is not a persona of this page"
                )));
            }
        }
        let customer = self.customers.get(&psid).ok_or(MetaError::NoMatchingUser)?;
        if customer.blocked {
            return Err(MetaError::Unavailable);
        }
        if customer.other_app_owns {
            return Err(MetaError::AnotherAppControls);
        }
        if let Some(action) = req.sender_action {
            self.log(&psid, ThreadEvent::SenderAction { action });
            return Ok(SendResponse {
                recipient_id: psid,
                message_id: None,
            });
        }
        let message = req
            .message
            .as_ref()
            .ok_or_else(|| MetaError::InvalidParameter("param message must be non-empty".into()))?;
        let text = message.text.clone().unwrap_or_default();
        if message.text.is_some() {
            match MessageText::parse(text.as_str()) {
                Err(TextError::TooLong { .. }) => return Err(MetaError::TextTooLong),
                Err(TextError::Empty) => {
                    return Err(MetaError::InvalidParameter(
                        "param message[text] must be non-empty".into(),
                    ))
                }
                Ok(_) => {}
            }
        } else if message.attachment.is_none() {
            return Err(MetaError::InvalidParameter(
                "param message must have text or an attachment".into(),
            ));
        }
        let thread = customer.thread;
        let rules = self.settings.rules.rules();
        let window = Window::at(&thread, self.now, rules, false);
        let kind = match (req.messaging_type, req.tag) {
            (Some(MessagingType::MessageTag), Some(tag)) => {
                self.check_tag(tag, &thread)?;
                MessagingType::MessageTag
            }
            (Some(MessagingType::MessageTag), None) => {
                return Err(MetaError::InvalidParameter(
                    "param tag is required with MESSAGE_TAG".into(),
                ))
            }
            (_, Some(_)) => {
                return Err(MetaError::InvalidParameter(
                    "param tag requires messaging_type MESSAGE_TAG".into(),
                ))
            }
            (Some(kind @ (MessagingType::Response | MessagingType::Update)), None) => {
                if !window.is_standard() {
                    return Err(MetaError::OutsideWindow);
                }
                kind
            }
            (Some(MessagingType::Utility), None) => {
                return Err(MetaError::InvalidParameter(
                    "UTILITY messages need an approved template".into(),
                ))
            }
            (None, None) => return Err(missing_parameter("messaging_type")),
        };
        if kind == MessagingType::MessageTag && thread.tagged_since_customer >= 2 {
            self.penalize(&Offense::TagSpam);
            return Err(MetaError::TagSpamWarning);
        }
        Ok(self.deliver(
            psid,
            Sent {
                text: message.text.clone(),
                metadata: message.metadata.clone(),
                kind,
                tag: req.tag,
                persona_id: req.persona_id.clone(),
            },
            app_id,
        ))
    }

    fn check_tag(&self, tag: Tag, thread: &messenger::ThreadState) -> Result<(), MetaError> {
        let rules = self.settings.rules.rules();
        let rule = rules.tag(tag).ok_or_else(|| {
            MetaError::InvalidParameter(format!("param tag {tag} is not a valid message tag"))
        })?;
        let limits = match &rule.status {
            TagStatus::Retired { since, .. } => {
                return Err(MetaError::RetiredTag(format!(
                    "the message tag {tag} was retired on {since}"
                )))
            }
            TagStatus::Available(limits) => limits,
        };
        if limits.needs_human_agent_feature && !self.settings.human_agent {
            return Err(MetaError::HumanAgentNotPermitted(
                self.settings.human_agent_error,
            ));
        }
        if limits.template_only || limits.news_pages_only {
            return Err(MetaError::InvalidParameter(format!(
                "param tag {tag} is not allowed for this message"
            )));
        }
        if self.restriction().is_some() {
            return Err(MetaError::PageRestricted);
        }
        if let Some(within) = limits.within {
            let open = thread
                .last_customer_message
                .is_some_and(|m| self.now < m + within);
            if !open {
                return Err(MetaError::OutsideWindow);
            }
        }
        Ok(())
    }

    /// Records an accepted message and queues its echo and delivery receipt.
    fn deliver(&mut self, psid: String, sent: Sent, app_id: u64) -> SendResponse {
        let Sent {
            text,
            metadata,
            kind,
            tag,
            persona_id,
        } = sent;
        let tagged = kind == MessagingType::MessageTag;
        let mid = self.ids.mid();
        let now = self.now;
        let customer = self.customers.get_mut(&psid).expect("checked by accept");
        customer.thread.page_sent(tagged);
        customer.messages.push(StoredMessage {
            mid: mid.clone(),
            at: now,
            from_customer: false,
            text: text.clone(),
        });
        customer.journal.push(Logged {
            at: now,
            event: ThreadEvent::PageMessage {
                mid: mid.clone(),
                text: text.clone(),
                messaging_type: kind,
                tag,
                app_id,
                persona_id,
                metadata: metadata.clone(),
            },
        });
        let standby = customer.other_app_owns;
        let page = Party::new(&self.settings.page_id);
        let mut echo = MessagingEvent::new(Some(page.clone()), Party::new(&psid), to_millis(now));
        echo.message = Some(WebhookMessage {
            mid: mid.clone(),
            is_echo: true,
            app_id: Some(app_id),
            metadata,
            text: text.clone(),
            ..WebhookMessage::default()
        });
        // A lagging echo (a fault) comes late; only this app's own sends lag, and the
        // delivery receipt is on time.
        let lag = self.faults.echo_lag;
        if app_id == self.settings.app_id && lag.is_positive() {
            self.queue_at(now + lag, echo, standby);
        } else {
            self.queue(echo, standby);
        }
        let mut receipt = MessagingEvent::new(Some(Party::new(&psid)), page, to_millis(now));
        receipt.delivery = Some(Delivery {
            mids: Some(vec![mid.clone()]),
            watermark: to_millis(now),
        });
        self.queue(receipt, standby);
        if tagged {
            self.judge_tagged(&psid, text.as_deref().unwrap_or(""));
        }
        SendResponse {
            recipient_id: psid,
            message_id: Some(mid),
        }
    }
}

/// An accepted message, as [`Platform::deliver`] records it.
struct Sent {
    text: Option<String>,
    metadata: Option<String>,
    kind: MessagingType,
    tag: Option<Tag>,
    persona_id: Option<String>,
}

/// Graph's usual answer to a required parameter left out, as in
/// "(#100) The parameter messaging_type is required".
pub fn missing_parameter(name: &str) -> MetaError {
    MetaError::Other {
        code: 100,
        subcode: None,
        message: format!("(#100) The parameter {name} is required"),
    }
}

fn parse(body: &[u8]) -> Result<SendRequest, MetaError> {
    serde_json::from_slice(body).map_err(|e| {
        let detail =
            if e.to_string().contains("unknown variant") && e.to_string().contains("HUMAN_AGENT") {
                format!("param tag is not a valid message tag: {e}")
            } else {
                format!("malformed request body: {e}")
            };
        MetaError::InvalidParameter(detail)
    })
}
