//! One batch of stored webhook events, applied.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use messenger::restriction::Level;
use messenger::timefmt::from_millis;
use messenger::window::{CustomerAction, Window};
use messenger::wire::webhook::{EnforcementAction, PolicyEnforcement};
use messenger::wire::{EventKind, MessagingEvent, MessagingType};

use super::alerts;
use super::label;
use super::posts::{self, colour};
use crate::discord::Embed;
use crate::settings::Settings;
use crate::store::{
    Changes, Customer, Direction, MessageRecord, MessageUpdate, NewWork, Page, PageOp,
    PendingEvent, QueuedWork, Receipt, Thread, ThreadPatch, Work,
};

/// The `metadata` tagdesk puts on its own sends, so their echoes aren't mirrored twice.
pub const OUR_METADATA: &str = "tagdesk";

/// The records a batch reads, loaded by the engine.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The batch's conversations that already exist.
    pub threads: HashMap<String, Thread>,
    /// The batch's customers, profiles fetched.
    pub customers: HashMap<String, Customer>,
    /// The page.
    pub page: Page,
    /// The batch's conversations' parked replies.
    pub parked: HashMap<String, Vec<MessageRecord>>,
    /// The batch's conversations' posts still waiting to go out, which new lines join.
    pub open_posts: HashMap<String, QueuedWork>,
}

/// Applies `events` (in order) at `now` and returns everything that changes.
pub fn process(events: &[PendingEvent], loaded: Loaded, now: Timestamp, s: &Settings) -> Changes {
    let mut step = Step {
        now,
        s,
        threads: loaded.threads,
        customers: loaded.customers,
        page: loaded.page,
        parked: loaded.parked,
        open_posts: loaded.open_posts,
        acted: Default::default(),
        page_changed: false,
        entries: BTreeMap::new(),
        notices: Vec::new(),
        announcements: Vec::new(),
        changes: Changes::default(),
    };
    for pending in events {
        step.changes.processed.push(pending.id);
        let e = &pending.event;
        if e.kind == "unparsed" {
            tracing::warn!(
                bytes = e.payload.len(),
                "signed webhook event that doesn't parse; kept"
            );
            step.unreadable(e);
            continue;
        }
        match serde_json::from_str::<MessagingEvent>(&e.payload) {
            Ok(event) => step.apply(&event, e.standby),
            Err(err) => {
                tracing::warn!(%err, key = %e.dedupe_key, "stored event unreadable; skipped")
            }
        }
    }
    step.finish()
}

struct Step<'a> {
    now: Timestamp,
    s: &'a Settings,
    threads: HashMap<String, Thread>,
    customers: HashMap<String, Customer>,
    page: Page,
    parked: HashMap<String, Vec<MessageRecord>>,
    open_posts: HashMap<String, QueuedWork>,
    /// Conversations whose customer acted in this batch: their labels are refreshed.
    acted: std::collections::HashSet<String>,
    page_changed: bool,
    /// New lines per conversation, in event order; a BTreeMap so work is enqueued in
    /// the same order on every run.
    entries: BTreeMap<String, Vec<Embed>>,
    notices: Vec<Embed>,
    /// Lines for the channel that need nobody's attention at once.
    announcements: Vec<Embed>,
    changes: Changes,
}

impl Step<'_> {
    fn thread(&mut self, psid: &str) -> &mut Thread {
        self.threads
            .entry(psid.to_owned())
            .or_insert_with(|| Thread {
                psid: psid.to_owned(),
                ..Thread::default()
            })
    }

    fn customer(&self, psid: &str) -> Customer {
        self.customers
            .get(psid)
            .cloned()
            .unwrap_or_else(|| Customer {
                psid: psid.to_owned(),
                ..Customer::default()
            })
    }

    fn apply(&mut self, event: &MessagingEvent, standby: bool) {
        let at = from_millis(event.timestamp);
        let customer_psid = event.sender.as_ref().map(|p| p.id.clone());
        match event.kind() {
            EventKind::Message(m) => {
                let Some(psid) = customer_psid else { return };
                let text = m.text.clone().unwrap_or_default();
                let attachments: Vec<String> = m
                    .attachments
                    .iter()
                    .map(|a| a.url().map_or_else(|| a.kind.clone(), str::to_owned))
                    .collect();
                self.customer_acted(&psid, CustomerAction::Message, at, standby, Some(&text));
                self.record_in(
                    &psid,
                    Some(m.mid.clone()),
                    "text",
                    &text,
                    &attachments,
                    at,
                    standby,
                );
                let mut body = text;
                for url in &attachments {
                    body.push_str(&format!("\n📎 {url}"));
                }
                self.say(&psid, &body, standby_footer(standby, None), at);
                self.send_parked(&psid, at);
            }
            EventKind::Postback(p) => {
                let Some(psid) = customer_psid else { return };
                let title = p.title.clone().unwrap_or_else(|| "a button".into());
                let text = format!("pressed “{title}”");
                self.customer_acted(&psid, CustomerAction::Other, at, standby, None);
                self.record_in(&psid, p.mid.clone(), "postback", &text, &[], at, standby);
                self.say(
                    &psid,
                    &format!("🔘 {text}"),
                    standby_footer(standby, Some("postback")),
                    at,
                );
            }
            EventKind::Reaction(r) => {
                let Some(psid) = customer_psid else { return };
                let emoji = r.emoji.clone().or(r.reaction.clone()).unwrap_or_default();
                let text = match r.action.as_str() {
                    "unreact" => format!("took back the {emoji} reaction"),
                    _ => format!("reacted {emoji} to a message"),
                };
                self.customer_acted(&psid, CustomerAction::Other, at, standby, None);
                let key = format!("reaction:{}:{}:{}", r.mid, r.action, event.timestamp);
                self.record_in(&psid, Some(key), "reaction", &text, &[], at, standby);
                self.say(
                    &psid,
                    &format!("💬 {text}"),
                    standby_footer(standby, Some("reaction")),
                    at,
                );
            }
            EventKind::Referral(r) => {
                let Some(psid) = customer_psid else { return };
                let source = r.source.clone().unwrap_or_else(|| "a link".into());
                let reference = r
                    .reference
                    .clone()
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default();
                let text = format!("arrived from {source}{reference}");
                self.customer_acted(&psid, CustomerAction::Other, at, standby, None);
                self.record_in(&psid, None, "referral", &text, &[], at, standby);
                self.say(
                    &psid,
                    &format!("🔗 {text}"),
                    standby_footer(standby, Some("referral")),
                    at,
                );
            }
            EventKind::Echo(m) => {
                if let Some(ours) = m
                    .metadata
                    .as_deref()
                    .filter(|m| m.starts_with(OUR_METADATA))
                {
                    // Our own send, already in the thread; it confirms a send whose
                    // answer we may never have seen.
                    if let Some(interaction_id) = ours
                        .strip_prefix(OUR_METADATA)
                        .and_then(|r| r.strip_prefix(':'))
                    {
                        self.changes
                            .echo_confirms
                            .push((interaction_id.to_owned(), m.mid.clone()));
                        self.changes.echoes_seen_at = Some(self.now);
                    }
                    return;
                }
                let psid = event.recipient.id.clone();
                let text = m.text.clone().unwrap_or_default();
                self.changes.messages.push(MessageRecord {
                    id: 0,
                    psid: psid.clone(),
                    direction: Direction::Echo,
                    mid: Some(m.mid.clone()),
                    kind: "text".into(),
                    text: text.clone(),
                    attachments: Vec::new(),
                    at,
                    messaging_type: None,
                    tag: None,
                    agent: None,
                    decision: None,
                    state: "sent".into(),
                    error: None,
                    reason: None,
                    standby,
                    app_id: m.app_id,
                    interaction_id: None,
                    asked: None,
                });
                // Another sender on the page answered: that counts as a reply for the
                // alerts, and outside the 24-hour window as a tagged message (Meta
                // accepts nothing else there), whichever app sent it.
                let (rules, human_agent) = (self.s.rules_at(at), self.s.human_agent);
                let thread = self.thread(&psid);
                let tagged = !Window::at(&thread.state, at, rules, human_agent).is_standard();
                thread.state.page_sent_at(tagged, at);
                self.changes.patches.push(ThreadPatch::TeamReplied {
                    psid: psid.clone(),
                    tagged,
                    at,
                });
                let app = m
                    .app_id
                    .map(|id| format!(" · app {id}"))
                    .unwrap_or_default();
                let entry = posts::entry(
                    Some(("Page, outside tagdesk", None)),
                    &text,
                    Some(format!(
                        "↩ echo: sent from Meta Business Suite or another app{app}"
                    )),
                    at,
                    colour::ECHO,
                );
                self.entries.entry(psid).or_default().push(entry);
            }
            EventKind::Delivery(d) => {
                let Some(psid) = customer_psid else { return };
                self.changes.receipts.push(Receipt::Delivered {
                    psid,
                    mids: d.mids.clone().unwrap_or_default(),
                    watermark: from_millis(d.watermark),
                });
            }
            EventKind::Read(r) => {
                let Some(psid) = customer_psid else { return };
                self.changes.receipts.push(Receipt::Read {
                    psid,
                    watermark: from_millis(r.watermark),
                });
            }
            EventKind::PolicyEnforcement(p) => self.enforcement(p, at),
            EventKind::Unknown(fields) => {
                tracing::info!(
                    ?fields,
                    "unknown webhook event kind acknowledged and skipped"
                );
            }
        }
    }

    /// An event Meta signed that tagdesk can't read: said once in the channel, with its
    /// kind, while the rest of its delivery is mirrored as usual.
    fn unreadable(&mut self, e: &crate::intake::InboundEvent) {
        let kind = crate::intake::unparsed_kind(&e.payload);
        let whose = e
            .psid
            .as_deref()
            .map(|p| format!(" for {}", self.customer(p).display_name()))
            .unwrap_or_default();
        let text = format!(
            "⚠️ Meta sent a `{kind}` event{whose} that tagdesk can't read. It is kept as \
             received (key `{}`) for a person to look at; the rest of its delivery was \
             mirrored as usual.",
            e.dedupe_key
        );
        let at = from_millis(e.timestamp.max(0));
        let at = if e.timestamp > 0 { at } else { self.now };
        self.announcements.push(posts::entry(
            None,
            &text,
            Some("unreadable webhook event".into()),
            at,
            colour::NOTICE,
        ));
    }

    fn customer_acted(
        &mut self,
        psid: &str,
        action: CustomerAction,
        at: Timestamp,
        standby: bool,
        text: Option<&str>,
    ) {
        let now = self.now;
        self.acted.insert(psid.to_owned());
        self.changes.patches.push(ThreadPatch::CustomerActed {
            psid: psid.to_owned(),
            at,
        });
        let thread = self.thread(psid);
        thread.state.customer_acted(action, at);
        thread.standby = standby;
        let reopen = thread.closed && (thread.discord_thread.is_some() || thread.opening);
        if thread.closed {
            // Closed by the team: the customer writing again reopens it.
            thread.closed = false;
            thread.label = None;
        }
        if let Some(text) = text {
            thread.last_text = Some(text.chars().take(200).collect());
        }
        if reopen {
            self.changes.work.push(NewWork {
                key: None,
                work: Work::EditThread {
                    psid: psid.to_owned(),
                    name: None,
                    archived: Some(false),
                },
                due: now,
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record_in(
        &mut self,
        psid: &str,
        mid: Option<String>,
        kind: &str,
        text: &str,
        attachments: &[String],
        at: Timestamp,
        standby: bool,
    ) {
        self.changes.messages.push(MessageRecord {
            id: 0,
            psid: psid.to_owned(),
            direction: Direction::In,
            mid,
            kind: kind.to_owned(),
            text: text.to_owned(),
            attachments: attachments.to_vec(),
            at,
            messaging_type: None,
            tag: None,
            agent: None,
            decision: None,
            state: "received".into(),
            error: None,
            reason: None,
            standby,
            app_id: None,
            interaction_id: None,
            asked: None,
        });
    }

    /// The customer wrote: replies parked for them go out now, as RESPONSE.
    fn send_parked(&mut self, psid: &str, at: Timestamp) {
        for parked in self.parked.remove(psid).unwrap_or_default() {
            let Some(interaction_id) = parked.interaction_id.clone() else {
                continue;
            };
            self.changes.message_updates.push(MessageUpdate {
                interaction_id: interaction_id.clone(),
                state: "queued".into(),
                messaging_type: Some(MessagingType::Response.as_str().into()),
                if_state: Some("parked".into()),
                ..MessageUpdate::default()
            });
            self.changes.work.push(NewWork {
                key: None,
                work: Work::GraphSend {
                    psid: psid.to_owned(),
                    interaction_id,
                },
                due: self.now,
            });
            let agent = parked.agent.as_deref().unwrap_or("the team");
            let note =
                format!("📤 The customer wrote: sending {agent}'s parked reply as RESPONSE.");
            self.entries
                .entry(psid.to_owned())
                .or_default()
                .push(posts::entry(
                    None,
                    &note,
                    Some("parked reply".into()),
                    at,
                    colour::TEAM,
                ));
        }
    }

    fn say(&mut self, psid: &str, text: &str, footer: Option<String>, at: Timestamp) {
        let c = self.customer(psid);
        let name = c.display_name();
        let entry = posts::entry(
            Some((&name, c.profile_pic.as_deref())),
            text,
            footer,
            at,
            colour::CUSTOMER,
        );
        self.entries.entry(psid.to_owned()).or_default().push(entry);
    }

    fn enforcement(&mut self, p: &PolicyEnforcement, at: Timestamp) {
        let reason = p.reason.clone().unwrap_or_else(|| "no reason given".into());
        let e = &mut self.page.enforcement;
        let text = match p.action {
            EnforcementAction::Warning => {
                e.warned_at(at);
                self.changes.page_ops.push(PageOp::Warn { at });
                format!("⚠️ Meta warned the page: {reason}")
            }
            EnforcementAction::Block => {
                let level = level_named_in(&reason);
                self.changes.page_ops.push(PageOp::Impose {
                    level,
                    reason: reason.clone(),
                    at,
                    unless_active: false,
                });
                let r = e.impose(level, reason.clone(), at);
                let until = r
                    .until
                    .map_or_else(|| "for good".to_owned(), |u| format!("until {u}"));
                format!(
                    "⛔ Meta restricted the page's tagged messages ({}), {until}: {reason}. \
                     Replies inside the 24-hour window still work.",
                    r.level
                )
            }
            EnforcementAction::Unblock => {
                e.lift(at);
                self.changes.page_ops.push(PageOp::Lift { at });
                "✅ Meta lifted the page's restriction.".to_owned()
            }
        };
        self.page_changed = true;
        self.notices.push(posts::entry(
            None,
            &text,
            Some("policy_enforcement".into()),
            at,
            colour::NOTICE,
        ));
    }

    fn finish(mut self) -> Changes {
        let now = self.now;
        let s = self.s;
        let entries = std::mem::take(&mut self.entries);
        // The page's restriction colours labels; it is the same for every thread.
        let restriction = self.page.enforcement.active(now).cloned();
        for (psid, lines) in entries {
            let customer = self.customer(&psid);
            let thread = self
                .threads
                .get_mut(&psid)
                .expect("entries come with a thread");
            let window = Window::at(&thread.state, now, s.rules_at(now), s.human_agent);
            let lbl = label::label(&window, restriction.is_some(), s.alert_before);
            // Lines join a post that hasn't gone out yet, as far as it has room. This is
            // safe because processing and the outbox run one after the other, never at
            // once (the engine ticks them in sequence).
            let mut lines = lines;
            if let Some(open) = self.open_posts.remove(&psid) {
                let mut work = open.work;
                if let Work::Post { post, .. } | Work::OpenThread { post, .. } = &mut work {
                    let mut merged = posts::append(vec![std::mem::take(post)], lines).into_iter();
                    *post = merged.next().unwrap_or_default();
                    lines = merged.flat_map(|p| p.embeds).collect();
                }
                self.changes.work_updates.push((open.id, work));
            }
            let due = now + s.coalesce;
            let mut batch: Vec<_> = posts::coalesce(lines);
            // The last post of a batch carries the "Reply" button: one per burst.
            if let Some(last) = batch.last_mut() {
                last.reply_to = Some(psid.clone());
            }
            let mut batch = batch.into_iter();
            if thread.discord_thread.is_none() && !thread.opening {
                let first = batch.next().unwrap_or_default();
                thread.opening = true;
                self.changes
                    .patches
                    .push(ThreadPatch::Opening { psid: psid.clone() });
                thread.label = Some(lbl.clone());
                self.changes.work.push(NewWork {
                    key: Some(format!("open:{psid}")),
                    work: Work::OpenThread {
                        psid: psid.clone(),
                        name: label::thread_name(&lbl, &customer.display_name()),
                        post: first,
                    },
                    due,
                });
            }
            for post in batch {
                self.changes.work.push(NewWork {
                    key: None,
                    work: Work::Post {
                        psid: psid.clone(),
                        post,
                    },
                    due,
                });
            }
        }
        let mut psids: Vec<String> = self.threads.keys().cloned().collect();
        psids.sort();
        for psid in psids {
            let name = self.customer(&psid).display_name();
            let thread = self.threads.get_mut(&psid).expect("listed above");
            // Receipts and echoes don't move windows; only the customer does.
            let moved = self.acted.contains(&psid) || thread.label.is_none();
            if moved {
                if let Some(work) = relabel(thread, &name, now, s, restriction.as_ref()) {
                    self.changes.work.push(work);
                }
            }
            thread.alert_due = alerts::next(thread, s).map(|(due, _)| due);
            self.changes.threads.push(thread.clone());
        }
        if !self.notices.is_empty() {
            for mut post in posts::coalesce(std::mem::take(&mut self.notices)) {
                post.content = format!("<@&{}>", s.agent_role_id);
                post.ping_roles = vec![s.agent_role_id];
                self.changes.work.push(NewWork {
                    key: None,
                    work: Work::Alert { post },
                    due: now,
                });
            }
        }
        for post in posts::coalesce(std::mem::take(&mut self.announcements)) {
            self.changes.work.push(NewWork {
                key: None,
                work: Work::Alert { post },
                due: now,
            });
        }
        if self.page_changed {
            self.changes.relabel_all = Some(now);
        }
        self.changes
    }
}

/// Brings a thread's label up to date at `now`: the rename to queue if it changed, and
/// when to look again.
pub fn relabel(
    thread: &mut Thread,
    customer: &str,
    now: Timestamp,
    s: &Settings,
    restriction: Option<&messenger::restriction::Restriction>,
) -> Option<NewWork> {
    if thread.closed {
        thread.label_due = None;
        return None;
    }
    let window = Window::at(&thread.state, now, s.rules_at(now), s.human_agent);
    let lbl = label::label(&window, restriction.is_some(), s.alert_before);
    thread.label_due = label::next_change(&window, restriction, s.alert_before);
    if thread.label.as_deref() == Some(lbl.as_str()) {
        return None;
    }
    thread.label = Some(lbl.clone());
    Some(NewWork {
        // One pending rename per thread: a newer one replaces it.
        key: Some(format!("rename:{}", thread.psid)),
        work: Work::EditThread {
            psid: thread.psid.clone(),
            name: Some(label::thread_name(&lbl, customer)),
            archived: None,
        },
        due: now,
    })
}

fn standby_footer(standby: bool, kind: Option<&str>) -> Option<String> {
    match (standby, kind) {
        (true, Some(k)) => Some(format!("{k} · standby: another app owns this conversation")),
        (true, None) => Some("standby: another app owns this conversation".into()),
        (false, Some(k)) => Some(k.to_owned()),
        (false, None) => None,
    }
}

/// The rung a block notice names ("… (7d restriction …)"), if it names one.
fn level_named_in(reason: &str) -> Option<Level> {
    reason
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .find_map(|word| word.parse::<Level>().ok())
}
