//! Integration tests of the `messenger` crate, at its public boundary.

mod decide;
mod props;
mod table;
mod wire;

use jiff::Timestamp;
use messenger::guard::PromoLexicon;
use messenger::policy::Context;
use messenger::{Intent, PageState, Request, Rules, Sender};

/// Parses an RFC 3339 instant.
pub fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A human agent's intent.
pub fn human(request: Request, text: &str) -> Intent<'_> {
    Intent {
        sender: Sender::Human,
        request,
        text,
        template: false,
    }
}

/// A page with the Human Agent feature and no restriction.
pub fn page() -> PageState {
    PageState {
        human_agent: true,
        ..PageState::default()
    }
}

/// A context over `rules` and `page` with the default lexicon.
pub fn ctx<'a>(rules: &'a Rules, page: &'a PageState, lexicon: &'a PromoLexicon) -> Context<'a> {
    Context {
        rules,
        page,
        lexicon,
    }
}
