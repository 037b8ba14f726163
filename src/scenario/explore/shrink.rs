//! Shrinking a failing world: greedily drop customers, groups of steps, single steps
//! and fault kinds, and pull times together, keeping each smaller world that still
//! breaks the same promise, until nothing more can go (or the budget of runs is spent).

use super::plan::{Event, Faults, Group, Plan};

/// How a shrink went.
#[derive(Debug)]
pub struct Shrunk {
    /// The smallest failing world found.
    pub plan: Plan,
    /// Worlds tried.
    pub runs: usize,
}

/// Shrinks `plan`, which `fails`; `fails` runs a candidate and says whether it still
/// breaks the same promise. At most `budget` candidates are run.
pub fn shrink(plan: Plan, budget: usize, fails: &mut dyn FnMut(&Plan) -> bool) -> Shrunk {
    let mut s = Shrinker {
        best: plan,
        runs: 0,
        budget,
        fails,
    };
    loop {
        let before = s.runs;
        let mut progress = false;
        progress |= s.drop_customers();
        progress |= s.drop_second_page();
        progress |= s.drop_groups();
        progress |= s.drop_events();
        progress |= s.simplify_faults();
        progress |= s.pull_times_together();
        if !progress || s.runs >= s.budget || s.runs == before {
            break;
        }
    }
    // Tidying changes which customers Meta has (and so the ids the seed draws), so
    // it is a candidate like any other.
    let tidied = tidy(s.best.clone());
    s.budget = s.budget.max(s.runs + 1);
    s.try_keep(tidied);
    Shrunk {
        plan: s.best,
        runs: s.runs,
    }
}

struct Shrinker<'a> {
    best: Plan,
    runs: usize,
    budget: usize,
    fails: &'a mut dyn FnMut(&Plan) -> bool,
}

impl Shrinker<'_> {
    /// Keeps `candidate` if it is different and still fails.
    fn try_keep(&mut self, candidate: Plan) -> bool {
        if candidate == self.best || self.runs >= self.budget {
            return false;
        }
        self.runs += 1;
        if (self.fails)(&candidate) {
            self.best = candidate;
            true
        } else {
            false
        }
    }

    /// Drops each customer with everything that concerns them.
    fn drop_customers(&mut self) -> bool {
        let mut progress = false;
        let mut c = 0;
        while c < self.best.customers.len() && self.best.customers.len() > 1 {
            let mut candidate = self.best.clone();
            for g in &mut candidate.groups {
                g.events.retain(|e| e.customer() != Some(c));
            }
            candidate.groups.retain(|g| !g.events.is_empty());
            if self.try_keep(candidate) {
                progress = true;
            }
            c += 1;
        }
        progress
    }

    /// Serves every customer from the first page, if the world has a second: a
    /// failure that doesn't need two pages reads better with one.
    fn drop_second_page(&mut self) -> bool {
        if self.best.second_page.is_none() {
            return false;
        }
        let mut candidate = self.best.clone();
        candidate.second_page = None;
        candidate.on_second_page.clear();
        self.try_keep(candidate)
    }

    /// Drops groups of steps: halves first, then smaller chunks, down to one.
    fn drop_groups(&mut self) -> bool {
        let mut progress = false;
        let mut chunk = self.best.groups.len().div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < self.best.groups.len() {
                let mut candidate = self.best.clone();
                let end = (start + chunk).min(candidate.groups.len());
                candidate.groups.drain(start..end);
                if self.try_keep(candidate) {
                    progress = true;
                } else {
                    start += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        progress
    }

    /// Drops single steps of groups at one instant (a group of one is a group).
    fn drop_events(&mut self) -> bool {
        let mut progress = false;
        let mut g = 0;
        while g < self.best.groups.len() {
            let mut e = 0;
            while e < self.best.groups[g].events.len() && self.best.groups[g].events.len() > 1 {
                let mut candidate = self.best.clone();
                candidate.groups[g].events.remove(e);
                if self.try_keep(candidate) {
                    progress = true;
                } else {
                    e += 1;
                }
            }
            g += 1;
        }
        progress
    }

    /// Turns off one kind of fault at a time in every fault step.
    fn simplify_faults(&mut self) -> bool {
        type Clear = fn(&mut Faults);
        let clears: [Clear; 8] = [
            |f| f.graph_errors = 0.0,
            |f| f.rate_limit_burst = 0,
            |f| f.latency_ms = 0,
            |f| f.drop = 0.0,
            |f| f.duplicate = 0.0,
            |f| f.reorder = 0.0,
            |f| f.echo_lag_secs = 0,
            |f| f.late_redelivery_secs = 0,
        ];
        let mut progress = false;
        for clear in clears {
            let mut candidate = self.best.clone();
            for g in &mut candidate.groups {
                for e in &mut g.events {
                    if let Event::Faults(f) = e {
                        if !f.is_empty() {
                            clear(f);
                            // A spell with nothing left would read as its own end.
                            if f.is_empty() {
                                *f = Faults::default();
                            }
                        }
                    }
                }
            }
            if self.try_keep(candidate) {
                progress = true;
            }
        }
        progress
    }

    /// Shortens the gaps between groups: all at once to a tenth, then each one to a
    /// minute (time matters to windows, so each is tried, not assumed).
    fn pull_times_together(&mut self) -> bool {
        let mut progress = false;
        if self.try_keep(scale_gaps(&self.best, |gap| gap / 10)) {
            progress = true;
        }
        for i in 0..self.best.groups.len() {
            let mut candidate = self.best.clone();
            let gap = gap_before(&candidate.groups, i);
            if gap <= 60 {
                continue;
            }
            let cut = gap - 60;
            for g in &mut candidate.groups[i..] {
                g.at -= cut;
            }
            if self.try_keep(candidate) {
                progress = true;
            }
        }
        progress
    }
}

fn gap_before(groups: &[Group], i: usize) -> u64 {
    let before = if i == 0 { 0 } else { groups[i - 1].at };
    groups[i].at - before
}

/// The plan with every gap between groups (the first from the start) mapped by `f`.
fn scale_gaps(plan: &Plan, f: impl Fn(u64) -> u64) -> Plan {
    let mut out = plan.clone();
    let mut at = 0;
    for (i, g) in out.groups.iter_mut().enumerate() {
        at += f(gap_before(&plan.groups, i));
        g.at = at;
    }
    out
}

/// Drops agents and customers nothing refers to any more, renumbering the rest: the
/// same world, easier to read.
fn tidy(mut plan: Plan) -> Plan {
    let used_customers: Vec<usize> = (0..plan.customers.len())
        .filter(|c| plan.events().any(|e| e.customer() == Some(*c)))
        .collect();
    let used_agents: Vec<usize> = (0..plan.agents.len())
        .filter(|a| {
            plan.events()
                .any(|e| matches!(e, Event::Agent { agent, .. } if agent == a))
        })
        .collect();
    let new_index = |used: &[usize], old: usize| used.iter().position(|u| *u == old).unwrap_or(0);
    for g in &mut plan.groups {
        for e in &mut g.events {
            match e {
                Event::Says { customer, .. }
                | Event::Acts { customer, .. }
                | Event::OtherApp { customer, .. } => {
                    *customer = new_index(&used_customers, *customer);
                }
                Event::Agent {
                    agent, customer, ..
                } => {
                    *customer = new_index(&used_customers, *customer);
                    *agent = new_index(&used_agents, *agent);
                }
                _ => {}
            }
        }
    }
    plan.on_second_page = used_customers.iter().map(|c| plan.on_second(*c)).collect();
    plan.customers = used_customers
        .iter()
        .map(|c| plan.customers[*c].clone())
        .collect();
    // A second page nobody writes to any more is left out.
    if !plan.on_second_page.contains(&true) {
        plan.second_page = None;
        plan.on_second_page.clear();
    }
    if !used_agents.is_empty() {
        plan.agents = used_agents
            .iter()
            .map(|a| plan.agents[*a].clone())
            .collect();
    }
    plan
}
