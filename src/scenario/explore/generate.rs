//! From a seed and a profile, a random world ([`Plan`]): customers writing at random
//! moments, agents answering at random moments (sometimes two at once, sometimes
//! pressing a button twice), Meta's faults, Discord outages, restarts and other apps.
//! Only the seeded RNG decides: the same seed and profile give the same world.

use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use super::plan::{CustomerAct, Event, Faults, Group, Plan, SecondPage, TEAM_ONLY};

/// How a world is weighted: which troubles it has, and how much traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// A few customers, one agent, nothing going wrong.
    Calm,
    /// Many customers, up to three agents, often at the same instant and pressing
    /// buttons twice; few faults.
    BusyMonday,
    /// Meta misbehaving: slow answers, 613 bursts, 5xx, lost, doubled and reordered
    /// webhooks, late echoes and redeliveries.
    HostileMeta,
    /// Discord outages, lost answers and 429s, and bot restarts (often just after a
    /// lost answer, as when the bot dies mid-call), with webhooks redelivered.
    FlakyDiscord,
    /// Everything, other apps sending tagged messages included.
    All,
}

impl Profile {
    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Calm => "calm",
            Profile::BusyMonday => "busy-monday",
            Profile::HostileMeta => "hostile-meta",
            Profile::FlakyDiscord => "flaky-discord",
            Profile::All => "all",
        }
    }

    fn weights(self) -> Weights {
        let base = Weights {
            customers: (2, 4),
            messages: (1, 3),
            agents: (1, 1),
            replies: (0, 2),
            span_hours: 48,
            p_concurrent: 0.0,
            p_press: 0.0,
            p_double_press: 0.0,
            fault_spells: (0, 0),
            outages: (0, 0),
            restarts: (0, 0),
            discord_faults: (0, 0),
            other_apps: (0, 0),
            p_acts: 0.0,
            p_blocks: 0.0,
            p_tag: 0.0,
            p_team_only: 0.0,
            both_eras: false,
            p_second_page: 0.0,
        };
        match self {
            Profile::Calm => base,
            Profile::BusyMonday => Weights {
                customers: (5, 10),
                agents: (2, 3),
                replies: (1, 3),
                p_concurrent: 0.35,
                p_press: 0.5,
                p_double_press: 0.4,
                fault_spells: (0, 1),
                p_acts: 0.3,
                p_tag: 0.2,
                p_team_only: 0.2,
                p_second_page: 0.3,
                ..base
            },
            Profile::HostileMeta => Weights {
                customers: (2, 6),
                agents: (1, 2),
                replies: (1, 3),
                p_concurrent: 0.15,
                p_press: 0.4,
                p_double_press: 0.2,
                fault_spells: (2, 5),
                ..base
            },
            Profile::FlakyDiscord => Weights {
                customers: (3, 8),
                agents: (1, 2),
                replies: (0, 2),
                p_press: 0.2,
                fault_spells: (0, 1),
                outages: (1, 3),
                restarts: (1, 3),
                discord_faults: (1, 4),
                ..base
            },
            Profile::All => Weights {
                customers: (2, 8),
                agents: (1, 3),
                replies: (0, 3),
                p_concurrent: 0.25,
                p_press: 0.4,
                p_double_press: 0.3,
                fault_spells: (0, 3),
                outages: (0, 2),
                restarts: (0, 2),
                discord_faults: (0, 2),
                other_apps: (0, 1),
                p_acts: 0.3,
                p_blocks: 0.1,
                p_tag: 0.2,
                p_team_only: 0.1,
                both_eras: true,
                p_second_page: 0.3,
                ..base
            },
        }
    }
}

/// Ranges and chances of one profile.
#[derive(Debug, Clone, Copy)]
struct Weights {
    customers: (usize, usize),
    messages: (usize, usize),
    agents: (usize, usize),
    /// Replies per customer.
    replies: (usize, usize),
    /// Events fall in the first this-many hours (long enough to cross the 24-hour
    /// window, so tagged replies, warnings and parking happen).
    span_hours: u64,
    /// Chance a reply has another agent replying at the same instant.
    p_concurrent: f64,
    /// Chance a reply is followed by a press of `confirm` or `park`.
    p_press: f64,
    /// Chance a press is a double click (or `park` and `confirm` at once).
    p_double_press: f64,
    fault_spells: (usize, usize),
    outages: (usize, usize),
    restarts: (usize, usize),
    /// Spells of lost Discord answers and 429s.
    discord_faults: (usize, usize),
    other_apps: (usize, usize),
    /// Chance a customer also presses a button, reacts, arrives by a link or reads.
    p_acts: f64,
    /// Chance a customer blocks the page, or another app takes the conversation, for
    /// a while.
    p_blocks: f64,
    /// Chance an answer is `/tag` with a tag of the era's (or a retired one).
    p_tag: f64,
    /// Chance a team member without the agent role tries to reply to a customer.
    p_team_only: f64,
    /// Worlds start on either side of 2026-04-27, under that date's rules.
    both_eras: bool,
    /// Chance the deployment serves a second page, with or without the Human Agent
    /// feature, that about half the customers write to.
    p_second_page: f64,
}

/// Where worlds start: a Monday after the retirement of three tags, and (with
/// `both_eras`) one before it.
const STARTS: [&str; 2] = ["2026-11-23T09:00:00Z", "2026-03-02T09:00:00Z"];

/// Tags agents pick from with `/tag`: under `meta-2026` the three retired ones are
/// refused by the bot before Meta sees them.
const TAGS: [&str; 4] = [
    "HUMAN_AGENT",
    "POST_PURCHASE_UPDATE",
    "ACCOUNT_UPDATE",
    "CONFIRMED_EVENT_UPDATE",
];

const AGENTS: [&str; 3] = ["grace", "alan", "linus"];

const CUSTOMER_TEXTS: [&str; 8] = [
    "Where is my order?",
    "Hello?? Anyone there?",
    "Can I change my delivery address?",
    "The parcel arrived damaged.",
    "Dov'è il mio ordine?",
    "Can I get a refund?",
    "Thanks!",
    "Still waiting for an answer.",
];

/// Plain service answers: nothing promotional, so neither the bot's guard nor Meta's
/// judge has reason to object.
const REPLIES: [&str; 8] = [
    "Sorry for the wait, checking now.",
    "Your parcel left the warehouse today.",
    "We have changed the address.",
    "A replacement is on its way.",
    "The refund has been issued.",
    "Could you send us the order number?",
    "Il pacco è in consegna.",
    "We are looking into it.",
];

/// The world of `seed` under `profile`.
pub fn world(seed: u64, profile: Profile) -> Plan {
    let w = profile.weights();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let span = w.span_hours * 3600;
    let mut g = Gen {
        rng: &mut rng,
        events: Vec::new(),
    };
    let customers: Vec<String> = (1..=g.count(w.customers))
        .map(|i| format!("c{i}"))
        .collect();
    let start = if w.both_eras && g.rng.random_bool(0.5) {
        STARTS[1]
    } else {
        STARTS[0]
    };
    let mut agents: Vec<String> = AGENTS[..g.count(w.agents).clamp(1, AGENTS.len())]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let senders = agents.len();
    for c in 0..customers.len() {
        g.customer(&w, c, senders, span);
    }
    // A team member without the agent role trying to answer: refused, nothing sent.
    if g.rng.random_bool(w.p_team_only) {
        agents.push(TEAM_ONLY.to_owned());
        let customer = g.rng.random_range(0..customers.len());
        let at = g.rng.random_range(span / 2..span);
        let does = format!("/reply {}", REPLIES.choose(g.rng).expect("replies"));
        g.push(
            at,
            Event::Agent {
                agent: senders,
                customer,
                does,
            },
        );
    }
    for _ in 0..g.count(w.fault_spells) {
        let at = g.rng.random_range(0..span);
        let faults = g.faults();
        g.push(at, Event::Faults(faults));
        let end = at + g.rng.random_range(60..4 * 3600);
        g.push(end, Event::Faults(Faults::default()));
    }
    for _ in 0..g.count(w.outages) {
        let at = g.rng.random_range(0..span);
        g.push(at, Event::DiscordOutage(true));
        let end = at + g.rng.random_range(60..2 * 3600);
        g.push(end, Event::DiscordOutage(false));
    }
    for _ in 0..g.count(w.restarts) {
        let at = g.rng.random_range(0..span);
        g.push(at, Event::Restart);
    }
    for _ in 0..g.count(w.other_apps) {
        let at = g.rng.random_range(0..span);
        let customer = g.rng.random_range(0..customers.len());
        let tag = g.rng.random_bool(0.7).then(|| "HUMAN_AGENT".to_owned());
        let text = "Your case has been updated.".to_owned();
        g.push(
            at,
            Event::OtherApp {
                customer,
                text,
                tag,
            },
        );
    }
    // Drawn last, so the worlds of profiles without them are the ones they always were.
    for _ in 0..g.count(w.discord_faults) {
        let at = g.rng.random_range(0..span);
        let lost_answers = g.rng.random_range(0..=3);
        let rate_limited = g.rng.random_range(0..=4);
        g.push(
            at,
            Event::DiscordFaults {
                lost_answers,
                rate_limited,
            },
        );
        // Half the time the bot dies just after: a crash mid-call, its answer never heard.
        if g.rng.random_bool(0.5) {
            let crash = at + g.rng.random_range(1..30);
            g.push(crash, Event::Restart);
        }
    }
    // Drawn last too: a second page only moves customers, so the rest of a world is
    // what it was.
    let second_page = g.rng.random_bool(w.p_second_page).then(|| SecondPage {
        human_agent: g.rng.random_bool(0.5),
    });
    let on_second_page = customers
        .iter()
        .map(|_| second_page.is_some() && g.rng.random_bool(0.5))
        .collect();
    let groups = g.groups();
    Plan {
        seed,
        start: start.to_owned(),
        name: format!("explore-{}-seed-{seed}", profile.name()),
        description: format!(
            "A world generated by `tagdesk scenario explore` from seed {seed} (profile {}).",
            profile.name()
        ),
        agents,
        customers,
        second_page,
        on_second_page,
        groups,
        extra_final: None,
    }
}

/// Events as they are drawn: (time, sequence within a time, event).
struct Gen<'a> {
    rng: &'a mut ChaCha8Rng,
    /// (seconds, whether it joins the event before it at that instant, event).
    events: Vec<(u64, bool, Event)>,
}

impl Gen<'_> {
    fn count(&mut self, (lo, hi): (usize, usize)) -> usize {
        self.rng.random_range(lo..=hi)
    }

    fn push(&mut self, at: u64, e: Event) {
        self.events.push((at, false, e));
    }

    /// Joins the event pushed last: the same instant, at once with it.
    fn join(&mut self, e: Event) {
        let at = self.events.last().map_or(0, |(at, _, _)| *at);
        self.events.push((at, true, e));
    }

    /// One customer's messages and the team's answers to them.
    fn customer(&mut self, w: &Weights, customer: usize, agents: usize, span: u64) {
        let mut at = self.rng.random_range(0..span / 2);
        for _ in 0..self.count(w.messages).max(1) {
            let text = CUSTOMER_TEXTS.choose(self.rng).expect("texts").to_string();
            self.push(at, Event::Says { customer, text });
            at += self.rng.random_range(10..3 * 3600);
        }
        let first = at;
        for _ in 0..self.count(w.replies) {
            // Some answers come within the day, some after the window closes.
            let at = first + self.rng.random_range(60..36 * 3600);
            let agent = self.rng.random_range(0..agents);
            let does = self.answer(w);
            self.push(
                at,
                Event::Agent {
                    agent,
                    customer,
                    does,
                },
            );
            // Who presses afterwards: either agent of a pair may be the one warned.
            let mut presser = agent;
            if agents > 1 && self.rng.random_bool(w.p_concurrent) {
                let other = (agent + 1 + self.rng.random_range(0..agents - 1)) % agents;
                let does = format!("/reply {}", REPLIES.choose(self.rng).expect("replies"));
                self.join(Event::Agent {
                    agent: other,
                    customer,
                    does,
                });
                if self.rng.random_bool(0.5) {
                    presser = other;
                }
            }
            if self.rng.random_bool(w.p_press) {
                // A second reply right after the first is what draws the warning with
                // its buttons, outside the 24-hour window.
                let mut last = at;
                if self.rng.random_bool(0.6) {
                    last += self.rng.random_range(30..600);
                    let does = format!("/reply {}", REPLIES.choose(self.rng).expect("replies"));
                    self.push(
                        last,
                        Event::Agent {
                            agent: presser,
                            customer,
                            does,
                        },
                    );
                }
                self.presses(w, last, presser, customer);
            }
        }
        if self.rng.random_bool(w.p_acts) {
            let at = first + self.rng.random_range(60..36 * 3600);
            let act = match self.rng.random_range(0..4) {
                0 => CustomerAct::Postback("Track my order".into()),
                1 => CustomerAct::Reaction("❤".into()),
                2 => CustomerAct::Referral("winter-ad".into()),
                _ => CustomerAct::Reads,
            };
            self.push(at, Event::Acts { customer, act });
        }
        if self.rng.random_bool(w.p_blocks) {
            // Blocked, or handed to another app, for a while: sends fail meanwhile.
            let at = first + self.rng.random_range(60..24 * 3600);
            let back = at + self.rng.random_range(600..12 * 3600);
            let (on, off) = if self.rng.random_bool(0.5) {
                (CustomerAct::Blocks(true), CustomerAct::Blocks(false))
            } else {
                (CustomerAct::Handover(true), CustomerAct::Handover(false))
            };
            self.push(at, Event::Acts { customer, act: on });
            self.push(back, Event::Acts { customer, act: off });
        }
        // Customers write again while the team answers: that reopens the window,
        // resets the count of tagged messages and releases parked replies.
        for _ in 0..self.rng.random_range(0..=2) {
            let at = first + self.rng.random_range(60..36 * 3600);
            let text = CUSTOMER_TEXTS.choose(self.rng).expect("texts").to_string();
            self.push(at, Event::Says { customer, text });
        }
    }

    /// An agent's answer: `/reply`, or sometimes `/tag` with a tag of any era.
    fn answer(&mut self, w: &Weights) -> String {
        let text = REPLIES.choose(self.rng).expect("replies");
        if self.rng.random_bool(w.p_tag) {
            let tag = TAGS.choose(self.rng).expect("tags");
            format!("/tag tag:{tag} text:{text}")
        } else {
            format!("/reply {text}")
        }
    }

    /// A press of `confirm` or `park` on an agent's last answer, soon after it;
    /// sometimes twice at once (a double click) or both buttons at once.
    fn presses(&mut self, w: &Weights, after: u64, agent: usize, customer: usize) {
        let at = after + self.rng.random_range(5..600);
        let first = if self.rng.random_bool(0.6) {
            "press confirm"
        } else {
            "press park"
        };
        self.push(at, press(agent, customer, first));
        if self.rng.random_bool(w.p_double_press) {
            let second = if self.rng.random_bool(0.7) {
                first
            } else {
                "press confirm"
            };
            self.join(press(agent, customer, second));
        }
    }

    /// A spell of Meta misbehaving: a few kinds of fault at once.
    fn faults(&mut self) -> Faults {
        let mut f = Faults::default();
        while f.is_empty() {
            let r = &mut *self.rng;
            if r.random_bool(0.3) {
                f.latency_ms = *[100, 400, 1000, 5000].choose(r).expect("latencies");
            }
            if r.random_bool(0.25) {
                f.rate_limit_burst = r.random_range(1..=4);
            }
            if r.random_bool(0.25) {
                f.graph_errors = *[0.1, 0.3, 0.5].choose(r).expect("shares");
            }
            if r.random_bool(0.25) {
                f.drop = *[0.1, 0.3].choose(r).expect("shares");
            }
            if r.random_bool(0.25) {
                f.duplicate = *[0.2, 0.5].choose(r).expect("shares");
            }
            if r.random_bool(0.25) {
                f.reorder = *[0.2, 0.5].choose(r).expect("shares");
            }
            if r.random_bool(0.2) {
                f.echo_lag_secs = *[30, 300, 1800].choose(r).expect("lags");
            }
            if r.random_bool(0.15) {
                f.late_redelivery_secs = *[600, 3600].choose(r).expect("delays");
            }
        }
        f
    }

    /// The events as groups in time order; at one instant, events keep the order they
    /// were drawn in, and a joined event stays with the one it joined.
    fn groups(self) -> Vec<Group> {
        // Chains: an event and those that joined it, moved as one.
        let mut chains: Vec<(u64, Vec<Event>)> = Vec::new();
        for (at, joined, e) in self.events {
            match chains.last_mut() {
                Some((_, chain)) if joined => chain.push(e),
                _ => chains.push((at, vec![e])),
            }
        }
        // Stable: equal times keep drawing order.
        chains.sort_by_key(|(at, _)| *at);
        chains
            .into_iter()
            .map(|(at, events)| Group { at, events })
            .collect()
    }
}

fn press(agent: usize, customer: usize, what: &str) -> Event {
    Event::Agent {
        agent,
        customer,
        does: what.to_owned(),
    }
}
