//! The policy core: may this message be sent now, and as what?
//!
//! [`decide`] is a pure function of the conversation, the page, the intent, the
//! instant and the era's rules. A refusal is a value that says why and what would be
//! allowed instead, never an error.

use std::fmt;

use jiff::Timestamp;

use crate::guard::{self, Consecutive, PromoLexicon};
use crate::restriction::{Level, Restriction};
use crate::rules::{Rules, TagLimits, TagStatus};
use crate::tags::Tag;
use crate::timefmt::human;
use crate::window::{ThreadState, Window};
use crate::wire::MessagingType;

/// Who is sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// A person on the team.
    Human,
    /// An automation (a parked reply going out, a bot flow).
    Automated,
}

/// What the sender asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A reply: whatever the windows allow, chosen automatically.
    Reply,
    /// An explicitly tagged message.
    Tag(Tag),
}

/// One message someone wants to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intent<'a> {
    /// Who.
    pub sender: Sender,
    /// What kind of send.
    pub request: Request,
    /// The text (checked by the guard if the message goes tagged).
    pub text: &'a str,
    /// Whether the message uses Meta's template for its tag.
    pub template: bool,
}

/// What the policy needs to know about the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageState {
    /// The app has the Human Agent feature.
    pub human_agent: bool,
    /// The page is a registered news page.
    pub news_page: bool,
    /// The latest restriction, in force or not.
    pub restriction: Option<Restriction>,
}

/// Everything [`decide`] reads besides the thread and the intent.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The era's rules.
    pub rules: &'a Rules,
    /// The page.
    pub page: &'a PageState,
    /// The promotional phrases the guard looks for.
    pub lexicon: &'a PromoLexicon,
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send, like this.
    Send(Send),
    /// Don't send.
    Refused(Refusal),
}

/// How to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// The `messaging_type`.
    pub messaging_type: MessagingType,
    /// The tag, with `MESSAGE_TAG`.
    pub tag: Option<Tag>,
    /// The window the message goes out in.
    pub window: Window,
    /// Things the agent should confirm or keep in mind.
    pub warnings: Vec<Warning>,
}

/// A caution on an allowed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The second tagged message in a row: combine it with the previous one. Needs the
    /// agent's confirmation.
    SecondConsecutiveTag,
    /// A common misuse of the chosen tag.
    TagHint(&'static str),
}

/// Why not, and what instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Why.
    pub reason: Reason,
    /// The conversation's window now.
    pub window: Window,
    /// What is allowed instead, best first.
    pub instead: Vec<Alternative>,
}

/// Why a send is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No window is open and no tag applies.
    WindowClosed,
    /// The era has no such tag.
    TagUnknownToEra(Tag),
    /// Meta retired the tag.
    TagRetired {
        /// The tag.
        tag: Tag,
        /// Since when.
        since: &'static str,
        /// What replaces it.
        instead: &'static str,
    },
    /// The standard window is open: a plain reply is the right way.
    TagNotNeeded,
    /// The tag is for humans only.
    TagNeedsHuman(Tag),
    /// The page lacks the Human Agent feature.
    HumanAgentFeatureMissing,
    /// The tag's own window (counted from the last customer message) has closed.
    TagWindowClosed(Tag),
    /// The tag needs Meta's template.
    TemplateOnly(Tag),
    /// The tag is for news pages.
    NewsPagesOnly(Tag),
    /// Tagged sends are blocked while the page is restricted.
    PageRestricted {
        /// The rung.
        level: Level,
        /// When it ends; `None` for permanent.
        until: Option<Timestamp>,
    },
    /// Tagged messages must not be promotional.
    Promotional {
        /// The phrases found, as written.
        phrases: Vec<String>,
    },
    /// Too many tagged messages in a row.
    TagSpam {
        /// Which one in the row this would be.
        nth: u32,
    },
}

impl Reason {
    /// A stable name for the reason, for metrics and logs (`window_closed`,
    /// `promotional`, ...): the words are for agents, this is for machines.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::WindowClosed => "window_closed",
            Reason::TagUnknownToEra(_) => "tag_unknown_to_era",
            Reason::TagRetired { .. } => "tag_retired",
            Reason::TagNotNeeded => "tag_not_needed",
            Reason::TagNeedsHuman(_) => "tag_needs_human",
            Reason::HumanAgentFeatureMissing => "human_agent_feature_missing",
            Reason::TagWindowClosed(_) => "tag_window_closed",
            Reason::TemplateOnly(_) => "template_only",
            Reason::NewsPagesOnly(_) => "news_pages_only",
            Reason::PageRestricted { .. } => "page_restricted",
            Reason::Promotional { .. } => "promotional",
            Reason::TagSpam { .. } => "tag_spam",
        }
    }
}

/// Something allowed instead of a refused send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alternative {
    /// A plain reply, as RESPONSE.
    Reply,
    /// This tag, for this purpose (offered when the agent asked for another tag).
    Tag(Tag, &'static str),
    /// A plain reply was refused, but some tag would be allowed if the message is for
    /// its purpose: the agent must choose the purpose (with `/tag`), never be handed a
    /// tag for a purpose they didn't state. The seed's warning against tags used
    /// outside their purpose holds here too.
    TagByPurpose,
    /// Keep the reply and send it when the customer next writes.
    Park,
    /// Try again when the restriction ends.
    WaitUntil(Timestamp),
    /// Remove the promotional phrases and send again.
    Rewrite,
}

/// Decides whether and how `intent` may be sent in `thread` at `now`.
pub fn decide(
    thread: &ThreadState,
    intent: &Intent<'_>,
    now: Timestamp,
    ctx: &Context<'_>,
) -> Decision {
    let window = Window::at(thread, now, ctx.rules, ctx.page.human_agent);
    let refuse = |reason: Reason| {
        let instead = alternatives(&reason, thread, intent, now, ctx, window);
        Decision::Refused(Refusal {
            reason,
            window,
            instead,
        })
    };
    match intent.request {
        Request::Reply if window.is_standard() => Decision::Send(Send {
            messaging_type: MessagingType::Response,
            tag: None,
            window,
            warnings: Vec::new(),
        }),
        Request::Reply => match tag_allowed(Tag::HumanAgent, thread, intent, now, ctx) {
            Ok(()) => {
                tagged(Tag::HumanAgent, thread, intent, now, ctx, window).unwrap_or_else(refuse)
            }
            // A reply that can't go as HUMAN_AGENT is simply outside every window.
            Err(_) => refuse(Reason::WindowClosed),
        },
        Request::Tag(_) if window.is_standard() => refuse(Reason::TagNotNeeded),
        Request::Tag(tag) => tag_allowed(tag, thread, intent, now, ctx)
            .and_then(|()| tagged(tag, thread, intent, now, ctx, window))
            .unwrap_or_else(refuse),
    }
}

/// The tags the era allows for this conversation and sender right now, ignoring the
/// content checks; what a tag picker should offer.
pub fn allowed_tags(
    thread: &ThreadState,
    intent: &Intent<'_>,
    now: Timestamp,
    ctx: &Context<'_>,
) -> Vec<(Tag, &'static str)> {
    ctx.rules
        .tags
        .iter()
        .filter(|rule| tag_allowed(rule.tag, thread, intent, now, ctx).is_ok())
        .map(|rule| (rule.tag, rule.purpose))
        .collect()
}

/// The era's and the page's conditions on a tag.
fn tag_allowed(
    tag: Tag,
    thread: &ThreadState,
    intent: &Intent<'_>,
    now: Timestamp,
    ctx: &Context<'_>,
) -> Result<(), Reason> {
    let rule = ctx.rules.tag(tag).ok_or(Reason::TagUnknownToEra(tag))?;
    let limits: &TagLimits = match &rule.status {
        TagStatus::Retired { since, instead } => {
            return Err(Reason::TagRetired {
                tag,
                since,
                instead,
            })
        }
        TagStatus::Available(limits) => limits,
    };
    if limits.humans_only && intent.sender != Sender::Human {
        return Err(Reason::TagNeedsHuman(tag));
    }
    if limits.needs_human_agent_feature && !ctx.page.human_agent {
        return Err(Reason::HumanAgentFeatureMissing);
    }
    if limits.news_pages_only && !ctx.page.news_page {
        return Err(Reason::NewsPagesOnly(tag));
    }
    if limits.template_only && !intent.template {
        return Err(Reason::TemplateOnly(tag));
    }
    if let Some(within) = limits.within {
        let open = thread
            .last_customer_message
            .is_some_and(|last| now < last + within);
        if !open {
            return Err(Reason::TagWindowClosed(tag));
        }
    }
    Ok(())
}

/// The checks every tagged send passes: restriction, content, repetition.
fn tagged(
    tag: Tag,
    thread: &ThreadState,
    intent: &Intent<'_>,
    now: Timestamp,
    ctx: &Context<'_>,
    window: Window,
) -> Result<Decision, Reason> {
    if let Some(r) = ctx.page.restriction.as_ref().filter(|r| r.active_at(now)) {
        return Err(Reason::PageRestricted {
            level: r.level,
            until: r.until,
        });
    }
    let phrases = ctx.lexicon.find(intent.text);
    if !phrases.is_empty() {
        return Err(Reason::Promotional { phrases });
    }
    let mut warnings = Vec::new();
    match guard::consecutive(thread.tagged_since_customer) {
        Consecutive::First => {}
        Consecutive::Second => warnings.push(Warning::SecondConsecutiveTag),
        Consecutive::TooMany(nth) => return Err(Reason::TagSpam { nth }),
    }
    // Hints are for agents who picked a tag themselves, not for an automatic HUMAN_AGENT.
    let picked = intent.request == Request::Tag(tag);
    if let Some(hint) = ctx.rules.tag(tag).and_then(|r| r.hint).filter(|_| picked) {
        warnings.push(Warning::TagHint(hint));
    }
    Ok(Decision::Send(Send {
        messaging_type: MessagingType::MessageTag,
        tag: Some(tag),
        window,
        warnings,
    }))
}

fn alternatives(
    reason: &Reason,
    thread: &ThreadState,
    intent: &Intent<'_>,
    now: Timestamp,
    ctx: &Context<'_>,
    window: Window,
) -> Vec<Alternative> {
    let mut out = Vec::new();
    match reason {
        Reason::TagNotNeeded => return vec![Alternative::Reply],
        Reason::Promotional { .. } => out.push(Alternative::Rewrite),
        Reason::PageRestricted {
            until: Some(until), ..
        } => out.push(Alternative::WaitUntil(*until)),
        _ => {}
    }
    if window.is_standard() {
        out.push(Alternative::Reply);
        return out;
    }
    // Another tag only helps when the refusal was about the tag itself; promotional
    // text, spam and restrictions stop every tag alike.
    let tag_specific = !matches!(
        reason,
        Reason::PageRestricted { .. } | Reason::TagSpam { .. } | Reason::Promotional { .. }
    );
    if tag_specific {
        let tags = allowed_tags(thread, intent, now, ctx);
        if intent.request == Request::Reply {
            if !tags.is_empty() {
                out.push(Alternative::TagByPurpose);
            }
        } else {
            for (tag, purpose) in tags {
                if intent.request != Request::Tag(tag) {
                    out.push(Alternative::Tag(tag, purpose));
                }
            }
        }
    }
    out.push(Alternative::Park);
    out
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Standard { left, .. } => {
                write!(f, "{} left in the 24-hour window", human(*left))
            }
            Window::HumanAgent { left, .. } => {
                write!(
                    f,
                    "24-hour window closed; {} left for a human agent",
                    human(*left)
                )
            }
            Window::Expired { since: Some(_) } => f.write_str("every window has closed"),
            Window::Expired { since: None } => f.write_str("the customer has never written"),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Send(s) => s.fmt(f),
            Decision::Refused(r) => r.fmt(f),
        }
    }
}

impl fmt::Display for Send {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tag {
            Some(tag) => write!(f, "send as {} {tag} ({})", self.messaging_type, self.window)?,
            None => write!(f, "send as {} ({})", self.messaging_type, self.window)?,
        }
        for w in &self.warnings {
            write!(f, "; {w}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::SecondConsecutiveTag => f.write_str(
                "warning: this is the second tagged message in a row; combine into one message (a third is refused)",
            ),
            Warning::TagHint(hint) => write!(f, "note: {hint}"),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {} ({})", self.reason, self.window)?;
        if !self.instead.is_empty() {
            let alts: Vec<String> = self.instead.iter().map(ToString::to_string).collect();
            write!(f, "; instead: {}", alts.join(", "))?;
        }
        Ok(())
    }
}

fn until_words(until: Option<Timestamp>) -> String {
    match until {
        Some(t) => format!("until {}", t.strftime("%Y-%m-%d %H:%M UTC")),
        None => "permanently".into(),
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::WindowClosed => f.write_str("no messaging window is open and no tag applies"),
            Reason::TagUnknownToEra(tag) => write!(f, "{tag} is not a tag in these rules"),
            Reason::TagRetired { tag, since, instead } => {
                write!(f, "{tag} was retired by Meta on {since}; use {instead}")
            }
            Reason::TagNotNeeded => {
                f.write_str("the 24-hour window is open, so no tag is needed; reply normally")
            }
            Reason::TagNeedsHuman(tag) => write!(f, "{tag} may only be sent by a person"),
            Reason::HumanAgentFeatureMissing => {
                f.write_str("the page does not have the Human Agent feature")
            }
            Reason::TagWindowClosed(tag) => write!(
                f,
                "{tag} may only be used within 7 days of the customer's last message"
            ),
            Reason::TemplateOnly(tag) => write!(f, "{tag} may only carry Meta's template"),
            Reason::NewsPagesOnly(tag) => write!(f, "{tag} is for registered news pages only"),
            Reason::PageRestricted { level, until } => write!(
                f,
                "the page is restricted from tagged messages ({level} ban) {}",
                until_words(*until)
            ),
            Reason::Promotional { phrases } => write!(
                f,
                "tagged messages must not be promotional; found: {}",
                phrases
                    .iter()
                    .map(|p| format!("\"{p}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Reason::TagSpam { nth } => write!(
                f,
                "this would be tagged message #{nth} in a row with no reply from the customer; pages get banned for this"
            ),
        }
    }
}

impl fmt::Display for Alternative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alternative::Reply => f.write_str("reply normally (RESPONSE)"),
            Alternative::Tag(tag, purpose) => write!(f, "tag {tag} ({purpose})"),
            Alternative::TagByPurpose => f.write_str(
                "if the message is for one of the rules' tag purposes, send it with /tag and choose that purpose (a tag used outside its purpose gets pages restricted)",
            ),
            Alternative::Park => f.write_str("park the reply until the customer writes again"),
            Alternative::WaitUntil(t) => write!(f, "wait {}", until_words(Some(*t))),
            Alternative::Rewrite => f.write_str("rewrite without the promotional phrases"),
        }
    }
}
