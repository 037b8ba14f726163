//! Meta's side of the policy: what happens after a tagged message is accepted.
//!
//! This judge is the emulator's own and deliberately separate from the bot's guard: the
//! guard is what tagdesk believes, the judge is what "Meta" does. Its word list is
//! shorter than the guard's (Meta names "deals, offers, coupons, and discounts") and a
//! scenario can replace it, so tests can show the guard catching what Meta would punish
//! and Meta punishing what another app sent.

use messenger::guard::PromoLexicon;
use messenger::restriction::{Offense, Penalty};
use messenger::wire::webhook::EnforcementAction;

use super::Platform;

/// The judge's default phrases, English and Italian.
pub const DEFAULT_PHRASES: &[&str] = &[
    "deal",
    "deals",
    "offer",
    "offers",
    "coupon",
    "coupons",
    "discount",
    "discounts",
    "promo code",
    "sale",
    "free shipping",
    "black friday",
    "offerta",
    "offerte",
    "sconto",
    "sconti",
    "coupon",
    "codice sconto",
    "saldi",
    "spedizione gratuita",
    "promozione",
];

/// The default judge.
pub fn default_lexicon() -> PromoLexicon {
    PromoLexicon::new(DEFAULT_PHRASES)
}

impl Platform {
    /// Judges an accepted tagged message to `psid`: promotional content is a violation.
    /// During a broadcast the recipient is noted, and the broadcast is judged once.
    pub(super) fn judge_tagged(&mut self, psid: &str, text: &str) {
        if self.judge.find(text).is_empty() {
            return;
        }
        if let Some(batch) = &mut self.broadcast {
            batch.push(psid.to_owned());
            return;
        }
        self.judge_promotion(&[psid.to_owned()]);
    }

    /// One offence for promotional tagged messages just sent to `psids`: its severity
    /// counts every distinct recipient of promotional tagged messages in the last 24
    /// hours, these included.
    pub(super) fn judge_promotion(&mut self, psids: &[String]) {
        if psids.is_empty() {
            return;
        }
        let day_ago = self.now - jiff::SignedDuration::from_hours(24);
        self.promo_sends.retain(|(at, _)| *at > day_ago);
        let now = self.now;
        self.promo_sends
            .extend(psids.iter().map(|p| (now, p.clone())));
        let mut recipients: Vec<&str> = self.promo_sends.iter().map(|(_, p)| p.as_str()).collect();
        recipients.sort_unstable();
        recipients.dedup();
        let offense = Offense::Promotional {
            recipients: recipients.len() as u32,
        };
        self.penalize(&offense);
    }

    /// Applies an offence and tells the page by webhook. Meta usually warns first: the
    /// first offence of a page with a clean record (no warning, no restriction) is a
    /// warning, whatever the offence; from the second on, the ladder applies (one rung
    /// up, or the offence's floor if higher: promotion to 100 people is 7 days at once).
    pub(super) fn penalize(&mut self, offense: &Offense) {
        if self.enforcement.warnings == 0 && self.enforcement.history.is_empty() {
            self.enforcement.warn();
            self.push_enforcement(EnforcementAction::Warning, Some(offense.reason()), None);
            return;
        }
        match self.enforcement.record(offense, self.now) {
            Penalty::Warning => {
                self.push_enforcement(EnforcementAction::Warning, Some(offense.reason()), None)
            }
            Penalty::Restricted(r) => {
                self.unblock_sent = r.until.is_none();
                let reason = format!("{} ({} restriction, simulated ladder)", r.reason, r.level);
                self.push_enforcement(EnforcementAction::Block, Some(reason), Some(&r));
            }
        }
    }
}
