//! Scoring a session: a pure function of what happened in the world ([`Facts`], read
//! by `facts.rs` from mock-graph's log and the bot's store) and the exercise's
//! `[scoring]`. The trainee file's text is never read here: the same mistake typed
//! another way scores the same.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::exercise::{exact, Exercise, Task};

/// What happened to one customer during a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFacts {
    /// Their name, as their profile shows it.
    pub name: String,
    /// When they wrote (their messages Meta received).
    pub wrote: Vec<Timestamp>,
    /// Messages of this app Meta accepted for them.
    pub replies: Vec<Reply>,
    /// What the trainee's sends became in the bot's store, in the order they were made.
    pub sends: Vec<SendRecord>,
    /// This app's Send API calls for them that Meta refused.
    pub meta_refused: Vec<MetaRefusal>,
}

/// A message of this app that reached the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// When Meta accepted it.
    pub at: Timestamp,
    /// Its tag, for a tagged message.
    pub tag: Option<String>,
    /// Meta's judge found promotional phrases in it.
    pub promotional: bool,
}

/// One of the trainee's sends as the bot recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRecord {
    /// When it was made.
    pub at: Timestamp,
    /// `refused`, `parked`, `sent`, `failed`, ... as the store keeps it.
    pub state: String,
    /// For a refusal, the bot's decision in words (`refused: ... (...); instead: ...`).
    pub decision: Option<String>,
    /// For a refusal, its reason as a stable name (`promotional`, `tag_spam`, ...:
    /// `messenger::policy::Reason::code`).
    pub reason: Option<String>,
    /// It was parked (and may have gone out since).
    pub parked: bool,
}

impl SendRecord {
    /// It went out, or is parked to go out: what fixes an earlier refusal.
    fn fixes(&self) -> bool {
        self.parked
            || matches!(
                self.state.as_str(),
                "queued" | "sending" | "sent" | "delivered" | "read" | "echoed"
            )
    }

    /// A parked reply that went out.
    fn parked_and_sent(&self) -> bool {
        self.parked
            && matches!(
                self.state.as_str(),
                "sent" | "delivered" | "read" | "echoed"
            )
    }
}

/// A Send API call of this app that Meta refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaRefusal {
    /// When.
    pub at: Timestamp,
    /// Meta's code and subcode.
    pub code: (u32, Option<u32>),
}

/// Everything the scorer reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The exercise's start.
    pub start: Timestamp,
    /// Its end.
    pub ends: Timestamp,
    /// By customer id.
    pub customers: BTreeMap<String, CustomerFacts>,
}

/// The kinds of mistake, named as `[scoring]` names what each costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MistakeKind {
    /// A customer's window closed on an unanswered message.
    WindowMissed,
    /// tagdesk refused a send and nothing fixed it.
    RefusalIgnored,
    /// A tag the conversation didn't allow.
    WrongTag,
    /// A promotional message with a tag.
    TaggedPromotion,
    /// A send that would have cost the page a restriction.
    WouldRestrict,
    /// A send tried again to a customer Meta said can't receive it.
    PushedUnreachable,
}

impl MistakeKind {
    /// Its name in `[scoring]` and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            MistakeKind::WindowMissed => "window_missed",
            MistakeKind::RefusalIgnored => "refusal_ignored",
            MistakeKind::WrongTag => "wrong_tag",
            MistakeKind::TaggedPromotion => "tagged_promotion",
            MistakeKind::WouldRestrict => "would_restrict",
            MistakeKind::PushedUnreachable => "pushed_unreachable",
        }
    }

    /// What it would have cost on a real page.
    pub fn cost(self) -> &'static str {
        match self {
            MistakeKind::WindowMissed => "the customer waited past their window. After 24 hours Meta refuses a plain reply and only HUMAN_AGENT (a person's answer, up to 7 days) still reaches them; after 7 days nothing does until they write again",
            MistakeKind::RefusalIgnored => "tagdesk stopped the send, so the page is safe, but the customer never got that answer",
            MistakeKind::WrongTag => "Meta answers error 100 for a retired tag and refuses a tag outside its window or purpose; pages that use tags outside their purpose get restricted",
            MistakeKind::TaggedPromotion => "promotional content with a tag is what Meta restricts pages for: a warning, then 1, 3, 7 and 365 days, then for good, for the whole team",
            MistakeKind::WouldRestrict => "a third tagged message in a row with no answer from the customer earns Meta's 613 warning and then a restriction of the page",
            MistakeKind::PushedUnreachable => "Meta refused it again: nothing reaches a customer who blocked the page (551) or a conversation another app controls (2018300)",
        }
    }

    /// What to do instead.
    pub fn instead(self) -> &'static str {
        match self {
            MistakeKind::WindowMissed => "answer inside the window: /inbox lists the conversations whose windows close soonest first, and ⏰ alerts come 2 hours before",
            MistakeKind::RefusalIgnored => "take what the refusal offers: park the reply (it goes out when the customer writes), or wait for the restriction to end and send it then",
            MistakeKind::WrongTag => "use /reply and let tagdesk choose RESPONSE or HUMAN_AGENT; once every window has closed, park the reply",
            MistakeKind::TaggedPromotion => "rewrite it without offers, discounts or codes; a promotion may only go as a plain reply inside the 24-hour window",
            MistakeKind::WouldRestrict => "put everything in one message, or wait for the customer to write back",
            MistakeKind::PushedUnreachable => "after 551, stop and reach them another way if you must; after 2018300, wait until the conversation is handed back, then reply",
        }
    }

    fn points(self, s: &super::exercise::Scoring) -> u32 {
        match self {
            MistakeKind::WindowMissed => s.window_missed,
            MistakeKind::RefusalIgnored => s.refusal_ignored,
            MistakeKind::WrongTag => s.wrong_tag,
            MistakeKind::TaggedPromotion => s.tagged_promotion,
            MistakeKind::WouldRestrict => s.would_restrict,
            MistakeKind::PushedUnreachable => s.pushed_unreachable,
        }
    }
}

/// A mistake, where and when, what it would have cost, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mistake {
    /// Which.
    pub kind: MistakeKind,
    /// The customer's name.
    pub customer: String,
    /// When, on the exercise's clock (`Fri 09:10`).
    pub at: String,
    /// When, exactly.
    pub time: Timestamp,
    /// Points lost.
    pub points: u32,
    /// What happened, in the world's words.
    pub what: String,
    /// What it would have cost on a real page.
    pub cost: String,
    /// What to do instead.
    pub instead: String,
}

/// Points earned, or that could have been.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Objective {
    /// `answered_in_window`, `fast_first_reply`, `parked_reply_sent`.
    pub kind: &'static str,
    /// The customer's name.
    pub customer: String,
    /// Points it is worth.
    pub points: u32,
    /// Whether it was earned.
    pub earned: bool,
    /// What happened.
    pub what: String,
}

/// A refusal that was then fixed: learning, not a mistake, though an exercise may
/// charge for it (`refusal_fixed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovered {
    /// The customer's name.
    pub customer: String,
    /// When.
    pub at: String,
    /// Points lost (usually none).
    pub points: u32,
    /// What tagdesk refused, in its words.
    pub what: String,
}

/// How a session went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scorecard {
    /// The trainee.
    pub trainee: String,
    /// The exercise.
    pub exercise: String,
    /// Its goal.
    pub goal: String,
    /// Points earned less points lost.
    pub score: i64,
    /// The most there was to earn.
    pub max: u32,
    /// Every objective with points, earned or not.
    pub objectives: Vec<Objective>,
    /// Mistakes, in time order.
    pub mistakes: Vec<Mistake>,
    /// Refusals hit and then fixed.
    pub recovered: Vec<Recovered>,
    /// Each customer to answer and how long their first reply took (`None`: never).
    pub first_replies: Vec<(String, Option<String>)>,
}

impl Scorecard {
    /// Every point there was, and no mistake.
    pub fn full_marks(&self) -> bool {
        self.mistakes.is_empty() && self.score == i64::from(self.max)
    }

    /// The mistakes' kinds, in order: what tests compare.
    pub fn mistake_kinds(&self) -> Vec<&'static str> {
        self.mistakes.iter().map(|m| m.kind.name()).collect()
    }
}

/// What kind of mistake a refusal points at, from the reason the bot recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Promotional text with a tag.
    Promotional,
    /// A third tagged message in a row.
    TagSpam,
    /// A tag the conversation doesn't allow.
    WrongTag,
    /// No window, or the page restricted: nothing the agent chose wrongly.
    Other,
}

/// Classifies a refusal by its reason's stable name (`Reason::code`), not its words,
/// which may be reworded for agents at any time.
pub fn refusal_kind(code: &str) -> RefusalKind {
    match code {
        "promotional" => RefusalKind::Promotional,
        "tag_spam" => RefusalKind::TagSpam,
        "tag_unknown_to_era"
        | "tag_retired"
        | "tag_not_needed"
        | "tag_needs_human"
        | "human_agent_feature_missing"
        | "tag_window_closed"
        | "template_only"
        | "news_pages_only" => RefusalKind::WrongTag,
        _ => RefusalKind::Other,
    }
}

/// The reason in a decision `refused: REASON (WINDOW); instead: ...`.
pub fn reason_of(decision: &str) -> &str {
    let d = decision.strip_prefix("refused: ").unwrap_or(decision);
    let d = d.split("; instead:").next().unwrap_or(d);
    match d.rfind(" (") {
        Some(i) if d.ends_with(')') => &d[..i],
        _ => d,
    }
}

/// Scores `facts` by `exercise`'s rules.
pub fn score(exercise: &Exercise, trainee: &str, facts: &Facts) -> Scorecard {
    let s = &exercise.scoring;
    let when = |t: Timestamp| t.strftime("%a %d %b %H:%M").to_string();
    let mut card = Scorecard {
        trainee: trainee.to_owned(),
        exercise: exercise.name.clone(),
        goal: exercise.goal.clone(),
        score: 0,
        max: 0,
        objectives: Vec::new(),
        mistakes: Vec::new(),
        recovered: Vec::new(),
        first_replies: Vec::new(),
    };
    let mut mistake = |card: &mut Scorecard, kind: MistakeKind, c: &CustomerFacts, at, what| {
        card.mistakes.push(Mistake {
            kind,
            customer: c.name.clone(),
            at: when(at),
            time: at,
            points: kind.points(s),
            what,
            cost: kind.cost().to_owned(),
            instead: kind.instead().to_owned(),
        })
    };
    for (id, c) in &facts.customers {
        let Some(def) = exercise.customers.get(id) else {
            continue;
        };
        if let Some(window) = def.task.window() {
            let unanswered = c.wrote.iter().find(|&&m| {
                let closes = (m + window).min(facts.ends);
                !c.replies.iter().any(|r| r.at >= m && r.at < closes)
            });
            card.objectives.push(Objective {
                kind: "answered_in_window",
                customer: c.name.clone(),
                points: s.answered_in_window,
                earned: unanswered.is_none() && !c.wrote.is_empty(),
                what: match unanswered {
                    None => "every message answered inside its window".into(),
                    Some(_) => "a message went unanswered past its window".into(),
                },
            });
            if let Some(&m) = unanswered {
                let when_closed = m + window;
                let what = if when_closed <= facts.ends {
                    format!(
                        "their message of {} had no answer when its {} window closed ({})",
                        when(m),
                        if def.task == Task::Answer {
                            "24-hour"
                        } else {
                            "7-day"
                        },
                        when(when_closed)
                    )
                } else {
                    format!("their message of {} had no answer by the end", when(m))
                };
                mistake(
                    &mut card,
                    MistakeKind::WindowMissed,
                    c,
                    when_closed.min(facts.ends),
                    what,
                );
            }
            let first = c.wrote.first().and_then(|&m| {
                c.replies
                    .iter()
                    .find(|r| r.at >= m)
                    .map(|r| r.at.duration_since(m))
            });
            card.first_replies.push((c.name.clone(), first.map(exact)));
            if let Some(target) = exercise.first_reply_within {
                let fast = first.is_some_and(|d| d <= target);
                card.objectives.push(Objective {
                    kind: "fast_first_reply",
                    customer: c.name.clone(),
                    points: s.fast_first_reply,
                    earned: fast,
                    what: match first {
                        Some(d) => {
                            format!("first reply after {} (target {})", exact(d), exact(target))
                        }
                        None => format!("no reply (target {})", exact(target)),
                    },
                });
            }
        }
        if def.task == Task::Park {
            let out = c.sends.iter().any(SendRecord::parked_and_sent);
            card.objectives.push(Objective {
                kind: "parked_reply_sent",
                customer: c.name.clone(),
                points: s.parked_reply_sent,
                earned: out,
                what: if out {
                    "a parked reply went out when they wrote again".into()
                } else if c.sends.iter().any(|r| r.parked) {
                    "a reply was parked but they didn't write again in time".into()
                } else {
                    "no reply was parked for them".into()
                },
            });
        }
        refusals(c, s.refusal_fixed, &when, &mut card, &mut mistake);
        meta_refusals(c, &mut card, &mut mistake);
    }
    card.mistakes.sort_by_key(|m| (m.time, m.kind));
    card.max = card.objectives.iter().map(|o| o.points).sum();
    let earned: i64 = card
        .objectives
        .iter()
        .filter(|o| o.earned)
        .map(|o| i64::from(o.points))
        .sum();
    let lost: i64 = card
        .mistakes
        .iter()
        .map(|m| i64::from(m.points))
        .sum::<i64>()
        + card
            .recovered
            .iter()
            .map(|r| i64::from(r.points))
            .sum::<i64>();
    card.score = earned - lost;
    card
}

type Note<'a> = dyn FnMut(&mut Scorecard, MistakeKind, &CustomerFacts, Timestamp, String) + 'a;

/// A customer's refusals: a wrong tag or a third tag in a row is a mistake whatever
/// follows; a promotion caught once and then rewritten is learning, caught again it
/// is a mistake; any other refusal is fixed by a park or a send that follows it.
fn refusals(
    c: &CustomerFacts,
    fixed_points: u32,
    when: &dyn Fn(Timestamp) -> String,
    card: &mut Scorecard,
    mistake: &mut Note<'_>,
) {
    let mut promotions = 0;
    for (i, r) in c.sends.iter().enumerate() {
        let Some(decision) = r.decision.as_deref().filter(|_| r.state == "refused") else {
            continue;
        };
        let fixed = c.sends[i + 1..].iter().any(SendRecord::fixes);
        let reason = reason_of(decision);
        let what = format!("tagdesk refused: {reason}");
        let kind = match refusal_kind(r.reason.as_deref().unwrap_or_default()) {
            RefusalKind::WrongTag => Some(MistakeKind::WrongTag),
            RefusalKind::TagSpam => Some(MistakeKind::WouldRestrict),
            RefusalKind::Promotional => {
                promotions += 1;
                (promotions > 1 || !fixed).then_some(MistakeKind::TaggedPromotion)
            }
            RefusalKind::Other => (!fixed).then_some(MistakeKind::RefusalIgnored),
        };
        match kind {
            Some(kind) => mistake(card, kind, c, r.at, what),
            None => card.recovered.push(Recovered {
                customer: c.name.clone(),
                at: when(r.at),
                points: fixed_points,
                what,
            }),
        }
    }
}

/// What Meta itself refused or judged: a tagged promotion that got past the guard, a
/// 613 warning for tag spam, and sends pushed again at a customer who can't receive.
fn meta_refusals(c: &CustomerFacts, card: &mut Scorecard, mistake: &mut Note<'_>) {
    for r in c
        .replies
        .iter()
        .filter(|r| r.tag.is_some() && r.promotional)
    {
        let what = "Meta accepted a tagged message its judge found promotional".to_owned();
        mistake(card, MistakeKind::TaggedPromotion, c, r.at, what);
    }
    let mut last_refused: Option<&MetaRefusal> = None;
    for r in &c.meta_refused {
        if r.code == (613, Some(2018338)) {
            let what = "Meta warned the page for tag spam (613)".to_owned();
            mistake(card, MistakeKind::WouldRestrict, c, r.at, what);
            continue;
        }
        let unreachable = matches!(r.code, (551, _) | (10, Some(2018300)));
        if !unreachable {
            continue;
        }
        let again = last_refused.is_some_and(|prev| {
            prev.code == r.code && !c.replies.iter().any(|x| x.at >= prev.at && x.at <= r.at)
        });
        if again {
            let what = format!(
                "sent again after Meta's {} refusal; Meta refused it again",
                code_words(r.code)
            );
            mistake(card, MistakeKind::PushedUnreachable, c, r.at, what);
        }
        last_refused = Some(r);
    }
}

fn code_words(code: (u32, Option<u32>)) -> String {
    match code {
        (c, Some(s)) => format!("{c}/{s}"),
        (c, None) => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messenger::policy::{Alternative, Reason, Refusal};
    use messenger::restriction::Level;
    use messenger::tags::Tag;
    use messenger::window::Window;

    fn refusal(reason: Reason) -> String {
        Refusal {
            reason,
            window: Window::Expired { since: None },
            instead: vec![Alternative::Park],
        }
        .to_string()
    }

    #[test]
    fn refusal_kinds_follow_the_policys_reasons() {
        let promo = Reason::Promotional {
            phrases: vec!["discount".into()],
        };
        assert_eq!(refusal_kind(promo.code()), RefusalKind::Promotional);
        assert_eq!(
            reason_of(&refusal(promo)),
            "tagged messages must not be promotional; found: \"discount\""
        );
        assert_eq!(
            refusal_kind(Reason::TagSpam { nth: 3 }.code()),
            RefusalKind::TagSpam
        );
        for wrong in [
            Reason::TagNotNeeded,
            Reason::TagUnknownToEra(Tag::HumanAgent),
            Reason::TagNeedsHuman(Tag::HumanAgent),
            Reason::HumanAgentFeatureMissing,
            Reason::TagWindowClosed(Tag::HumanAgent),
            Reason::TemplateOnly(Tag::CustomerFeedback),
            Reason::NewsPagesOnly(Tag::NonPromotionalSubscription),
            Reason::TagRetired {
                tag: Tag::AccountUpdate,
                since: "2026-04-27",
                instead: "Utility Messages",
            },
        ] {
            assert_eq!(
                refusal_kind(wrong.code()),
                RefusalKind::WrongTag,
                "{wrong:?}"
            );
        }
        for other in [
            Reason::WindowClosed,
            Reason::PageRestricted {
                level: Level::Day1,
                until: None,
            },
        ] {
            assert_eq!(refusal_kind(other.code()), RefusalKind::Other);
        }
        let restricted = refusal(Reason::PageRestricted {
            level: Level::Day1,
            until: None,
        });
        assert_eq!(
            reason_of(&restricted),
            "the page is restricted from tagged messages (1d ban) permanently"
        );
    }

    fn at(minutes: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_mins(minutes)
    }

    fn exercise() -> Exercise {
        let text = r#"
name = "t"
goal = "Answer."
description = "A test."
ends = "2d"

[customers.ada]
name = "Ada"

[customers.ben]
name = "Ben"
task = "leave"

[[step]]
at = "0s"
customer = "ada"
says = "Hi"

[scoring]
answered_in_window = 10
tagged_promotion = 7
pushed_unreachable = 3
"#;
        super::super::exercise::parse(std::path::Path::new("t.toml"), text).unwrap()
    }

    fn refused(minute: i64, reason: Reason) -> SendRecord {
        SendRecord {
            at: at(minute),
            state: "refused".into(),
            reason: Some(reason.code().into()),
            decision: Some(refusal(reason)),
            parked: false,
        }
    }

    fn sent(minute: i64) -> SendRecord {
        SendRecord {
            at: at(minute),
            state: "sent".into(),
            decision: None,
            reason: None,
            parked: false,
        }
    }

    #[test]
    fn a_promotion_caught_once_and_rewritten_is_learning_twice_is_a_mistake() {
        let promo = || Reason::Promotional {
            phrases: vec!["20%".into()],
        };
        let reply = Reply {
            at: at(12),
            tag: Some("HUMAN_AGENT".into()),
            promotional: false,
        };
        let ada = |sends: Vec<SendRecord>| CustomerFacts {
            name: "Ada".into(),
            wrote: vec![at(0)],
            replies: vec![reply.clone()],
            sends,
            meta_refused: Vec::new(),
        };
        let facts = |sends| Facts {
            start: at(0),
            ends: at(48 * 60),
            customers: [("ada".to_owned(), ada(sends))].into(),
        };
        let ex = exercise();
        let once = score(&ex, "sam", &facts(vec![refused(10, promo()), sent(12)]));
        assert!(once.full_marks(), "{once:?}");
        assert_eq!(once.recovered.len(), 1);
        let twice = score(
            &ex,
            "sam",
            &facts(vec![refused(10, promo()), refused(11, promo()), sent(12)]),
        );
        assert_eq!(twice.mistake_kinds(), ["tagged_promotion"]);
        assert_eq!((twice.score, twice.max), (3, 10));
    }

    #[test]
    fn sending_again_into_a_refusal_is_pushing() {
        let ex = exercise();
        let refusal = |minute, code| MetaRefusal {
            at: at(minute),
            code,
        };
        let ben = CustomerFacts {
            name: "Ben".into(),
            wrote: vec![at(0)],
            meta_refused: vec![
                refusal(10, (551, Some(1_545_041))),
                refusal(11, (551, Some(1_545_041))),
                refusal(12, (551, Some(1_545_041))),
            ],
            ..CustomerFacts::default()
        };
        let facts = Facts {
            start: at(0),
            ends: at(60),
            customers: [("ben".to_owned(), ben)].into(),
        };
        let card = score(&ex, "sam", &facts);
        assert_eq!(
            card.mistake_kinds(),
            ["pushed_unreachable", "pushed_unreachable"]
        );
        assert_eq!(card.max, 0, "nothing to earn from a customer to leave");
        assert_eq!(card.score, -6);
    }
}
