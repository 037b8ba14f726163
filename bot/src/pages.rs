//! Several Facebook pages in one deployment: one [`Engine`] per page, each with its own
//! store, token and settings, behind one Discord bot.
//!
//! Webhooks are split by page in [`crate::webhook::router_for_pages`]. Interactions
//! (one bot, one gateway connection) are routed here, by where they were made: the
//! page whose channel (or alert channel) it is, or whose store knows the thread; failing
//! that, the page that knows the customer a command names. `/inbox` and `/status` then
//! answer for the page whose channel they are typed in.

use std::sync::Arc;

use crate::commands::{self, response, Action, Invocation, Msg, Response};
use crate::discord::{deadline, BoxFuture};
use crate::engine::Engine;
use crate::gateway::Answerer;
use crate::store::StoreError;

/// Said when an interaction belongs to no page.
pub const NO_PAGE: &str = "This channel belongs to none of tagdesk's pages: use the command in \
                           a page's channel, or in one of its conversations.";

/// One page: its id and its engine.
#[derive(Clone)]
pub struct Page {
    /// The Facebook page's id.
    pub id: String,
    /// The page's engine: its store, its Graph client (its token), its settings.
    pub engine: Engine,
}

/// The pages a deployment serves, at least one.
#[derive(Clone)]
pub struct Pages(Arc<[Page]>);

impl Pages {
    /// The pages; panics if there are none (a configuration always has one).
    pub fn new(pages: Vec<Page>) -> Pages {
        assert!(!pages.is_empty(), "a deployment serves at least one page");
        Pages(pages.into())
    }

    /// Every page, in the order configured.
    pub fn all(&self) -> &[Page] {
        &self.0
    }

    /// The first page's engine: the one a single-page deployment has.
    pub fn first(&self) -> &Engine {
        &self.0[0].engine
    }

    /// The engine that answers `inv`, or `None` if it belongs to no page. With one
    /// page, always that page, as before pages existed.
    pub fn route(&self, inv: &Invocation) -> Result<Option<&Engine>, StoreError> {
        if self.0.len() == 1 || inv.action == Action::Ping {
            return Ok(Some(self.first()));
        }
        if let Some(channel) = inv.channel_id {
            for page in self.all() {
                let s = &page.engine.settings;
                if channel == s.channel_id || channel == s.alert_channel() {
                    return Ok(Some(&page.engine));
                }
            }
            for page in self.all() {
                if page.engine.store.thread_by_discord(channel)?.is_some() {
                    return Ok(Some(&page.engine));
                }
            }
        }
        // A customer named outright (a command's option, a form's id): PSIDs are
        // page-scoped, so the page that knows them is theirs.
        if let Some(psid) = customer_named(&inv.action) {
            for page in self.all() {
                if page.engine.store.thread(psid)?.is_some() {
                    return Ok(Some(&page.engine));
                }
            }
        }
        Ok(None)
    }
}

impl From<Engine> for Pages {
    fn from(engine: Engine) -> Pages {
        Pages::new(vec![Page {
            id: String::new(),
            engine,
        }])
    }
}

impl Pages {
    /// Routes `inv` and handles it on its page, answering in place: for callers that
    /// compute an answer whole (the scenario world) rather than within Discord's
    /// deadline ([`Answerer::answer`]).
    pub async fn handle(&self, inv: &Invocation) -> Response {
        match self.route(inv) {
            Ok(Some(engine)) => commands::handle(engine, inv).await,
            routed => unrouted(inv, routed.err()),
        }
    }
}

/// The answer to an interaction that belongs to no page, or whose page couldn't be
/// found (`error`).
fn unrouted(inv: &Invocation, error: Option<StoreError>) -> Response {
    let text = match error {
        Some(e) => format!("⚠️ tagdesk couldn't do that: {e}"),
        None => NO_PAGE.to_owned(),
    };
    if matches!(inv.action, Action::Autocomplete { .. }) {
        Response::Choices(Vec::new())
    } else {
        Response::Message(Msg::private(text))
    }
}

/// The customer an interaction names, if it names one.
fn customer_named(action: &Action) -> Option<&str> {
    match action {
        Action::Command { options, .. } => options.get("customer").and_then(|v| v.as_str()),
        Action::Modal { custom_id, .. } => custom_id.strip_prefix("reply-modal:"),
        // A customer's Reply button: the press opens the form for them.
        Action::Component { custom_id, .. } => custom_id.strip_prefix("reply:"),
        _ => None,
    }
    .filter(|psid| !psid.is_empty())
}

impl Answerer for Pages {
    fn answer(&self, inv: Invocation, application_id: u64) -> BoxFuture<'_, deadline::Started> {
        Box::pin(async move {
            match self.route(&inv) {
                Ok(Some(engine)) => deadline::start(engine, inv, application_id).await,
                routed => {
                    let body = response::render(&unrouted(&inv, routed.err()));
                    deadline::answer_within(
                        self.first().discord.clone(),
                        &inv,
                        async move { body },
                        application_id,
                        deadline::DEADLINE,
                    )
                    .await
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Agent;

    fn invocation(action: Action) -> Invocation {
        Invocation {
            id: "1".into(),
            token: String::new(),
            agent: Agent {
                id: 1,
                name: "grace".into(),
                roles: vec![],
            },
            channel_id: Some(42),
            action,
        }
    }

    #[test]
    fn a_reply_button_names_its_customer_as_its_form_does() {
        // A customer's post carries a Reply button naming them; pressed where no page
        // is known by the channel (a forum post whose answer was lost in a crash, so no
        // store knows it yet), the customer still says which page it is.
        let press = invocation(Action::Component {
            custom_id: "reply:4590000000000001".into(),
            values: vec![],
        });
        assert_eq!(customer_named(&press.action), Some("4590000000000001"));
        let form = invocation(Action::Modal {
            custom_id: "reply-modal:4590000000000001".into(),
            fields: Default::default(),
        });
        assert_eq!(customer_named(&form.action), Some("4590000000000001"));
    }
}
