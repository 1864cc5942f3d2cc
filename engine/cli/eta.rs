//! The time left in a run: each task's estimated work (`exec::cost`) times the seconds per unit
//! of work that the run's finished tasks of its class took (`cost::class`: training loops,
//! untrained controls, each other kind; of all classes before one of its class has finished; a
//! prior before any has), spread over the worker threads. Pure: the caller passes the clock.

use crate::exec::cost;
use crate::plan::{Key, Plan};
use std::collections::HashMap;

/// Seconds per multiply-add before any task has finished: about one billion a second.
const PRIOR: f64 = 1e-9;

pub struct Eta {
    work: HashMap<Key, (&'static str, f64)>,
    /// Tasks not finished yet, with the time each started (if it has).
    pending: HashMap<Key, Option<f64>>,
    /// Per class: seconds and work of its finished tasks.
    learned: HashMap<&'static str, (f64, f64)>,
    jobs: f64,
}

impl Eta {
    pub fn new(jobs: usize) -> Eta {
        Eta {
            work: HashMap::new(),
            pending: HashMap::new(),
            learned: HashMap::new(),
            jobs: jobs.max(1) as f64,
        }
    }

    /// The tasks of `plan` this run will do: only their work is estimated (a no-op run of a
    /// large plan estimates nothing).
    pub fn start(&mut self, plan: &Plan, pending: &[Key]) {
        self.pending = pending.iter().map(|&k| (k, None)).collect();
        let nodes: Vec<_> = plan
            .nodes()
            .filter(|(_, node)| self.pending.contains_key(&node.key))
            .map(|(n, _)| n)
            .collect();
        self.work = cost::of(plan, &nodes)
            .into_iter()
            .map(|(n, class, work)| (plan.node(n).key, (class, work)))
            .collect();
    }

    pub fn started(&mut self, key: Key, now: f64) {
        if let Some(at) = self.pending.get_mut(&key) {
            *at = Some(now);
        }
    }

    /// A task ended after `seconds`; a failed one counts too (its time was spent).
    pub fn finished(&mut self, key: Key, seconds: f64) {
        self.pending.remove(&key);
        if let Some(&(kind, work)) = self.work.get(&key) {
            let l = self.learned.entry(kind).or_insert((0.0, 0.0));
            l.0 += seconds;
            l.1 += work;
        }
    }

    /// A task that will not run (skipped because a dependency failed).
    pub fn dropped(&mut self, key: Key) {
        self.pending.remove(&key);
    }

    fn rate(&self, kind: &str) -> f64 {
        let (seconds, work) = match self.learned.get(kind) {
            Some(&l) => l,
            None => self
                .learned
                .values()
                .fold((0.0, 0.0), |(s, w), l| (s + l.0, w + l.1)),
        };
        if work > 0.0 {
            seconds / work
        } else {
            PRIOR
        }
    }

    /// Estimated seconds until every pending task has finished, at `now` (seconds on the clock
    /// `started` was given).
    pub fn remaining(&self, now: f64) -> f64 {
        let total: f64 = self
            .pending
            .iter()
            .map(|(key, started)| {
                let (kind, work) = self.work.get(key).copied().unwrap_or(("", 1.0));
                let expected = work * self.rate(kind);
                match started {
                    Some(at) => (expected - (now - at)).max(0.0),
                    None => expected,
                }
            })
            .sum();
        total / self.jobs
    }
}

/// `1h 02m`, `12m 05s`, `45s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;
    use crate::ops::plan_of;
    use crate::task::Registry;

    fn plan() -> Plan {
        let text = r#"
[[study]]
name = "s"
task = { kind = "flipflop", steps = 20 }
[study.grid]
arch = ["vanilla", "gru"]
activation = ["tanh"]
units = [8, 16]
seeds = 2
[study.train]
iterations = 50
[[study.analysis]]
kind = "cka"
"#;
        let m = parse(std::path::Path::new("m.toml"), text).unwrap();
        plan_of(&m, &Registry::standard()).unwrap()
    }

    #[test]
    fn once_each_class_has_finished_a_task_the_estimate_is_exact_for_work_proportional_times() {
        let p = plan();
        let keys: Vec<Key> = p.nodes().map(|(_, n)| n.key).collect();
        let mut eta = Eta::new(2);
        eta.start(&p, &keys);
        // A machine where every kind takes its own fixed time per unit of work.
        let per_class = |class: &str| match class {
            "training" => 3e-8,
            "untrained" => 1e-6,
            "probe" => 5e-9,
            _ => 2e-6,
        };
        let seconds =
            |n: petgraph::graph::NodeIndex| cost::work(&p, n) * per_class(cost::class(&p, n));
        let mut seen = std::collections::HashSet::new();
        let mut rest = Vec::new();
        for (n, node) in p.nodes() {
            if seen.insert(cost::class(&p, n)) {
                eta.finished(node.key, seconds(n));
            } else {
                rest.push(n);
            }
        }
        let truth: f64 = rest.iter().map(|&n| seconds(n)).sum::<f64>() / 2.0;
        let estimate = eta.remaining(0.0);
        assert!(
            (estimate - truth).abs() <= 1e-9 * truth,
            "{estimate} vs {truth}"
        );
    }

    #[test]
    fn a_running_task_counts_only_its_expected_time_left() {
        let p = plan();
        let (n, node) = p.nodes().find(|(_, n)| n.kind == "train").unwrap();
        let mut eta = Eta::new(1);
        eta.start(&p, &[node.key]);
        let expected = cost::work(&p, n) * PRIOR;
        assert_eq!(eta.remaining(0.0), expected);
        eta.started(node.key, 10.0);
        let left = eta.remaining(10.0 + expected / 4.0);
        assert!((left - 0.75 * expected).abs() <= 1e-12 * expected, "{left}");
        assert_eq!(eta.remaining(10.0 + 2.0 * expected), 0.0);
        eta.finished(node.key, expected);
        assert_eq!(eta.remaining(100.0), 0.0);
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(44.6), "45s");
        assert_eq!(duration(725.0), "12m 05s");
        assert_eq!(duration(3720.0), "1h 02m");
    }
}
