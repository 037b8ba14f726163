//! The compliance guard: the seed guide's rules for tagged messages, checked before
//! sending.
//!
//! Tagged messages must never be promotional ("deals, offers, coupons, and discounts"),
//! and several in a row look like spam: pages were banned for three consecutive tagged
//! messages. The promotional check is a phrase list, in English and Italian by
//! default, extendable from configuration; it reports the phrases it found so that an
//! agent can rewrite the message.

/// Phrases that make a tagged message promotional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoLexicon {
    /// Each phrase as a sequence of normalized tokens.
    phrases: Vec<Vec<String>>,
}

/// The default English phrases.
pub const ENGLISH: &[&str] = &[
    "deal",
    "deals",
    "offer",
    "offers",
    "special offer",
    "coupon",
    "coupons",
    "discount",
    "discounts",
    "discounted",
    "promo",
    "promo code",
    "promotion",
    "promotions",
    "sale",
    "sales",
    "on sale",
    "flash sale",
    "free shipping",
    "free delivery",
    "percent off",
    "buy one get one",
    "bogo",
    "limited time",
    "clearance",
    "black friday",
    "cyber monday",
    "voucher",
    "vouchers",
    "cashback",
    "save up to",
    "best price",
    "lowest price",
];

/// The default Italian phrases.
pub const ITALIAN: &[&str] = &[
    "offerta",
    "offerte",
    "sconto",
    "sconti",
    "scontato",
    "scontati",
    "scontata",
    "coupon",
    "codice sconto",
    "codice promozionale",
    "promozione",
    "promozioni",
    "promo",
    "saldi",
    "spedizione gratuita",
    "spedizione gratis",
    "consegna gratuita",
    "in omaggio",
    "regalo",
    "prezzo speciale",
    "prezzi speciali",
    "solo per oggi",
    "tempo limitato",
    "buono sconto",
    "occasione",
    "svendita",
    "fuori tutto",
    "black friday",
    "risparmia",
];

impl Default for PromoLexicon {
    fn default() -> Self {
        PromoLexicon::new(ENGLISH.iter().chain(ITALIAN))
    }
}

/// A token of text and where it sits in the original.
struct Token {
    norm: String,
    start: usize,
    end: usize,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start = None;
    let push = |s: usize, e: usize, tokens: &mut Vec<Token>| {
        tokens.push(Token {
            norm: text[s..e].to_lowercase(),
            start: s,
            end: e,
        })
    };
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            push(s, i, &mut tokens);
        }
        // A percent sign is a token of its own, so "20%" and "20 %" read the same.
        if c == '%' {
            push(i, i + 1, &mut tokens);
        }
    }
    if let Some(s) = start {
        push(s, text.len(), &mut tokens);
    }
    tokens
}

impl PromoLexicon {
    /// A lexicon of exactly these phrases.
    pub fn new<S: AsRef<str>>(phrases: impl IntoIterator<Item = S>) -> Self {
        let mut lexicon = PromoLexicon {
            phrases: Vec::new(),
        };
        lexicon.extend(phrases);
        lexicon
    }

    /// Adds phrases, as configuration does.
    pub fn extend<S: AsRef<str>>(&mut self, phrases: impl IntoIterator<Item = S>) {
        for phrase in phrases {
            let words: Vec<String> = tokenize(phrase.as_ref())
                .into_iter()
                .map(|t| t.norm)
                .collect();
            if !words.is_empty() && !self.phrases.contains(&words) {
                self.phrases.push(words);
            }
        }
    }

    /// The promotional phrases in `text`, as written there, in order of appearance.
    /// A number followed by `%` ("20%", "-30 %") always counts.
    pub fn find(&self, text: &str) -> Vec<String> {
        let tokens = tokenize(text);
        let mut found: Vec<String> = Vec::new();
        let note = |from: usize, to: usize, found: &mut Vec<String>| {
            let phrase = text[tokens[from].start..tokens[to].end].to_owned();
            if !found.iter().any(|f| f.eq_ignore_ascii_case(&phrase)) {
                found.push(phrase);
            }
        };
        for i in 0..tokens.len() {
            if tokens[i].norm.chars().all(|c| c.is_ascii_digit())
                && tokens.get(i + 1).is_some_and(|t| t.norm == "%")
            {
                note(i, i + 1, &mut found);
            }
            // Prefer the longest phrase that starts here, so "promo code" wins over "promo".
            let longest = self
                .phrases
                .iter()
                .filter(|p| {
                    tokens.len() - i >= p.len()
                        && p.iter().zip(&tokens[i..]).all(|(w, t)| *w == t.norm)
                })
                .map(Vec::len)
                .max();
            if let Some(len) = longest {
                note(i, i + len - 1, &mut found);
            }
        }
        found
    }
}

/// What the guard says about the tagged messages already sent since the person last
/// wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consecutive {
    /// The first tagged message since the person wrote.
    First,
    /// The second in a row: allowed, but better combined with the previous one.
    Second,
    /// The third or later: refused.
    TooMany(u32),
}

/// Classifies the next tagged message given how many were sent since the person wrote.
pub fn consecutive(tagged_since_customer: u32) -> Consecutive {
    match tagged_since_customer {
        0 => Consecutive::First,
        1 => Consecutive::Second,
        n => Consecutive::TooMany(n + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_english_and_italian_phrases_as_written() {
        let lx = PromoLexicon::default();
        assert_eq!(
            lx.find("Great DEALS today: use promo code XMAS for 20% off and Free Shipping!"),
            vec!["DEALS", "promo code", "20%", "Free Shipping"]
        );
        assert_eq!(
            lx.find("Approfitta dello sconto del 30 % e della spedizione gratuita"),
            vec!["sconto", "30 %", "spedizione gratuita"]
        );
        assert!(lx
            .find("Your order #1234 has shipped and arrives Tuesday.")
            .is_empty());
        // Whole words only: "offering" is not "offer", "dealer" is not "deal".
        assert!(lx.find("We are offering the dealer's invoice").is_empty());
    }

    #[test]
    fn extendable() {
        let mut lx = PromoLexicon::new(["mega deal"]);
        assert!(lx.find("a deal").is_empty());
        lx.extend(["Super Saver"]);
        assert_eq!(lx.find("the super  saver week"), vec!["super  saver"]);
    }

    #[test]
    fn consecutive_counts() {
        assert_eq!(consecutive(0), Consecutive::First);
        assert_eq!(consecutive(1), Consecutive::Second);
        assert_eq!(consecutive(2), Consecutive::TooMany(3));
    }
}
