//! The scheduler: runs stale tasks on a rayon pool of `jobs` threads as their inputs become
//! available, and reports what happens to an `Observer`.
//!
//! - A task runs under its key's lock; if another process finished it meanwhile, its entry is
//!   used as it is (two `apply`s never run one task twice at once).
//! - Early cutoff: before computing, a task looks up its action key (its kind, version,
//!   parameters and its inputs' output digests, `Key::action`); when an earlier task with the
//!   same action left an entry, that output is stored under this task's key without running.
//!   Every task that ran records its action (except kinds whose output names their key).
//! - Before anything runs, every entry freshness found damaged is re-verified under its key's
//!   lock and removed, so one `apply` repairs all of them; inputs are read and verified from the
//!   store, and a damaged input found then is recomputed first.
//! - A failed task is recorded in the store and its dependents are skipped; independent work
//!   goes on. A panic in a task is a failure of that task.
//! - On cancel (Ctrl-C) nothing new starts; running tasks see the flag and stop; every finished
//!   entry is already safely in the store.
//! - When the cache cannot be written or read (a full disk, lost permissions) the task is not
//!   at fault: nothing is recorded against it, nothing new starts, and the run ends with the
//!   store's error; every entry finished before stays valid.

use super::fresh::{dep_keys, survey, Depth, Freshness, Reason, Summaries};
use crate::plan::{Key, Plan, TaskNode};
use crate::store::{Health, Lookup, SlotId, SlotRecord, Store, StoreError};
use crate::table::Output;
use crate::task::{Context, Registry, TaskError};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

pub struct Options<'a> {
    pub jobs: usize,
    pub cancel: &'a AtomicBool,
    /// How closely cached entries are checked before the run.
    pub depth: Depth,
}

/// What the scheduler tells its observer, always from the calling thread.
pub enum Event<'a> {
    Start {
        total: usize,
        cached: usize,
        to_run: usize,
        /// The keys of the tasks to run.
        pending: Vec<Key>,
    },
    Started {
        node: &'a TaskNode,
    },
    Finished {
        node: &'a TaskNode,
        seconds: f64,
    },
    /// Its inputs' outputs were those of an earlier run: its entry was copied, nothing ran.
    Restored {
        node: &'a TaskNode,
    },
    Failed {
        node: &'a TaskNode,
        error: &'a str,
    },
    Skipped {
        node: &'a TaskNode,
        because: &'a TaskNode,
    },
    Damaged {
        node: &'a TaskNode,
        reason: &'a str,
    },
}

pub trait Observer {
    fn event(&mut self, e: Event);
}

#[derive(Debug, Default)]
pub struct Summary {
    pub cached: usize,
    /// `(kind, label)` of every task that ran to completion here, in completion order.
    pub ran: Vec<(String, String)>,
    /// `(kind, label)` of every task restored from an earlier run with the same inputs' outputs
    /// (early cutoff), in completion order.
    pub restored: Vec<(String, String)>,
    /// `(label, error)` of failed tasks.
    pub failed: Vec<(String, String)>,
    pub skipped: usize,
    /// Tasks another process finished while we waited for their lock.
    pub shared: usize,
    pub interrupted: bool,
    /// The store error that stopped the run (a full disk, say); no task was blamed for it.
    pub storage: Option<String>,
    pub seconds: f64,
    /// The summaries of the entries found cached at the start (`fresh::survey`), for what
    /// reads them after the run (the population count).
    pub found: Summaries,
}

impl Summary {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped == 0 && !self.interrupted && self.storage.is_none()
    }

    pub fn ran_of(&self, kind: &str) -> usize {
        self.ran.iter().filter(|(k, _)| k == kind).count()
    }

    /// Counts a failed task and tells the observer; every executor reports failures this way.
    pub fn record_failure(&mut self, observer: &mut dyn Observer, node: &TaskNode, error: String) {
        observer.event(Event::Failed {
            node,
            error: &error,
        });
        self.failed
            .push((format!("{} {}", node.kind, node.label), error));
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Available,
    Pending,
    Running,
    Failed,
    Skipped,
}

/// How one task ended.
#[derive(Debug)]
pub enum Outcome {
    Ran,
    /// An earlier task with the same action key left its output; it was stored under this
    /// task's key (early cutoff).
    Restored,
    /// Another process finished it while this one waited for the key's lock.
    DoneElsewhere,
    /// An input entry is missing or damaged (and has been removed); it must run first.
    BadInput(NodeIndex, String),
    Failed(String),
    /// The store could not be read or written; the task itself did nothing wrong.
    Storage(String),
    Cancelled,
}

pub fn run(
    plan: &Plan,
    registry: &Registry,
    store: &dyn Store,
    opts: &Options,
    observer: &mut dyn Observer,
) -> Summary {
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut state = vec![State::Available; plan.len()];
    let (fresh, found) = survey(plan, store, opts.depth);
    summary.found = found;
    for (n, f) in fresh {
        match f {
            Freshness::Cached => {}
            Freshness::Restore(_) => state[n.index()] = State::Pending,
            Freshness::Run(Reason::Damaged) => match repair(plan, store, n, observer) {
                Ok(true) => state[n.index()] = State::Pending,
                Ok(false) => {}
                Err(e) => {
                    summary.storage.get_or_insert(e.to_string());
                    state[n.index()] = State::Pending;
                }
            },
            Freshness::Run(_) => state[n.index()] = State::Pending,
        }
    }
    let to_run = state.iter().filter(|s| **s == State::Pending).count();
    summary.cached = plan.len() - to_run;
    observer.event(Event::Start {
        total: plan.len(),
        cached: summary.cached,
        to_run,
        pending: plan
            .nodes()
            .filter(|(n, _)| state[n.index()] == State::Pending)
            .map(|(_, node)| node.key)
            .collect(),
    });
    if to_run == 0 || summary.storage.is_some() {
        record_use(plan, store, |n| state[n.index()] == State::Available);
        summary.seconds = started.elapsed().as_secs_f64();
        return summary;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .thread_name(|i| format!("census-{i}"))
        .build()
        .expect("thread pool starts");
    let (tx, rx) = mpsc::channel::<(NodeIndex, Outcome, f64)>();
    let mut unmet = vec![0usize; plan.len()];
    let mut ready: VecDeque<NodeIndex> = VecDeque::new();
    recount(plan, &state, &mut unmet, &mut ready);
    let mut running = 0usize;
    pool.in_place_scope(|scope| loop {
        while running < opts.jobs.max(1)
            && !opts.cancel.load(Ordering::SeqCst)
            && summary.storage.is_none()
        {
            let Some(n) = ready.pop_front() else { break };
            if state[n.index()] != State::Pending {
                continue;
            }
            state[n.index()] = State::Running;
            running += 1;
            observer.event(Event::Started { node: plan.node(n) });
            let tx = tx.clone();
            scope.spawn(move |_| {
                let t = Instant::now();
                let outcome = run_task(plan, registry, store, n, opts.cancel);
                let _ = tx.send((n, outcome, t.elapsed().as_secs_f64()));
            });
        }
        if running == 0 {
            break;
        }
        let (n, outcome, seconds) = rx.recv().expect("a worker reports");
        running -= 1;
        let node = plan.node(n);
        match outcome {
            Outcome::Ran | Outcome::Restored | Outcome::DoneElsewhere => {
                let done = (node.kind.to_string(), node.label.clone());
                match outcome {
                    Outcome::Ran => summary.ran.push(done),
                    Outcome::Restored => summary.restored.push(done),
                    _ => summary.shared += 1,
                }
                state[n.index()] = State::Available;
                if matches!(outcome, Outcome::Restored) {
                    observer.event(Event::Restored { node });
                } else {
                    observer.event(Event::Finished { node, seconds });
                }
                for d in plan.dependents(n) {
                    if state[d.index()] == State::Pending {
                        unmet[d.index()] -= 1;
                        if unmet[d.index()] == 0 {
                            ready.push_back(d);
                        }
                    }
                }
            }
            Outcome::BadInput(dep, reason) => {
                observer.event(Event::Damaged {
                    node: plan.node(dep),
                    reason: &reason,
                });
                state[dep.index()] = State::Pending;
                state[n.index()] = State::Pending;
                recount(plan, &state, &mut unmet, &mut ready);
            }
            Outcome::Failed(error) => {
                state[n.index()] = State::Failed;
                summary.record_failure(observer, node, error);
                let mut stack: Vec<NodeIndex> = plan.dependents(n).collect();
                while let Some(d) = stack.pop() {
                    if state[d.index()] == State::Pending {
                        state[d.index()] = State::Skipped;
                        summary.skipped += 1;
                        observer.event(Event::Skipped {
                            node: plan.node(d),
                            because: node,
                        });
                        stack.extend(plan.dependents(d));
                    }
                }
            }
            Outcome::Storage(error) => {
                state[n.index()] = State::Pending;
                summary.storage.get_or_insert(error);
            }
            Outcome::Cancelled => {
                state[n.index()] = State::Pending;
            }
        }
    });
    summary.interrupted = opts.cancel.load(Ordering::SeqCst) && state.contains(&State::Pending);
    record_use(plan, store, |n| state[n.index()] == State::Available);
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}

/// Tells the store which key each slot of the plan used, for the tasks `present` accepts
/// (cached, restored or run), so `plan` compares a later edit with these entries.
/// Bookkeeping: a failure to record it only makes a later reason less precise.
pub fn record_use(plan: &Plan, store: &dyn Store, present: impl Fn(NodeIndex) -> bool) {
    let nodes: Vec<&TaskNode> = plan
        .nodes()
        .filter(|(n, _)| present(*n))
        .map(|(_, node)| node)
        .collect();
    let used: Vec<(SlotId, Key)> = nodes
        .par_iter()
        .map(|node| (SlotId::of(&node.slot()), node.key))
        .collect();
    let _ = store.record_use(&used);
}

/// Removes the damaged entry of task `n` under its key's lock, after checking every byte again
/// (another process may have repaired it meanwhile); whether the task must run.
fn repair(
    plan: &Plan,
    store: &dyn Store,
    n: NodeIndex,
    observer: &mut dyn Observer,
) -> Result<bool, StoreError> {
    let node = plan.node(n);
    match store.remove_if_damaged(&node.key)? {
        Health::Present => Ok(false),
        Health::Absent => Ok(true),
        Health::Damaged(reason) => {
            observer.event(Event::Damaged {
                node,
                reason: &reason,
            });
            Ok(true)
        }
    }
}

/// Recomputes, for every pending task, how many of its inputs are not yet available, and which
/// tasks are ready.
fn recount(plan: &Plan, state: &[State], unmet: &mut [usize], ready: &mut VecDeque<NodeIndex>) {
    ready.clear();
    for (n, _) in plan.nodes() {
        if state[n.index()] != State::Pending {
            continue;
        }
        unmet[n.index()] = plan
            .deps(n)
            .iter()
            .filter(|d| state[d.index()] != State::Available)
            .count();
        if unmet[n.index()] == 0 {
            ready.push_back(n);
        }
    }
}

/// Runs one task in this thread: lock its key, read and verify its inputs, compute, store the
/// result atomically. Other executors (a Slurm worker) call this for each task they are given.
pub fn run_task(
    plan: &Plan,
    registry: &Registry,
    store: &dyn Store,
    n: NodeIndex,
    cancel: &AtomicBool,
) -> Outcome {
    let node = plan.node(n);
    let _lock = match store.lock_key(&node.key) {
        Ok(l) => l,
        Err(e) => return Outcome::Storage(e.to_string()),
    };
    if store.contains(&node.key) {
        return Outcome::DoneElsewhere;
    }
    let Some(kind) = registry.get(node.kind) else {
        return Outcome::Failed(format!("unknown task kind `{}`", node.kind));
    };
    let action = if kind.names_itself() {
        None
    } else {
        action_key(plan, store, n)
    };
    if let Some(action) = &action {
        match restore(store, node, action) {
            Ok(true) => {
                record_slot(plan, store, n);
                return Outcome::Restored;
            }
            Ok(false) => {}
            Err(e) => return Outcome::Storage(e.to_string()),
        }
    }
    let mut inputs: Vec<Output> = Vec::new();
    for d in plan.deps(n) {
        match store.get(&plan.node(d).key) {
            Ok(Lookup::Present(o)) => inputs.push(o),
            Ok(Lookup::Missing) => return Outcome::BadInput(d, Reason::Missing.to_string()),
            Ok(Lookup::Corrupt(why)) => return Outcome::BadInput(d, why),
            Err(e) => return Outcome::Storage(e.to_string()),
        }
    }
    let ctx = Context {
        key: node.key,
        cancel,
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        kind.run(&ctx, &node.params, &inputs)
    }));
    drop(inputs);
    let output = match result {
        Ok(Ok(o)) => o,
        Ok(Err(TaskError::Cancelled)) => return Outcome::Cancelled,
        Ok(Err(e)) => return failed(store, node, e.to_string()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return failed(store, node, format!("panicked: {msg}"));
        }
    };
    match store.put(&node.key, &output) {
        Ok(()) => {}
        Err(e @ StoreError::Encode { .. }) => return failed(store, node, e.to_string()),
        Err(e) => return Outcome::Storage(e.to_string()),
    }
    // The entry is safe; failing to write bookkeeping only costs a less precise `plan` reason
    // or a missed cutoff.
    if let Some(action) = &action {
        let _ = store.set_action(action, &node.key);
    }
    record_slot(plan, store, n);
    Outcome::Ran
}

/// The task's action key, from its inputs' output digests; `None` for a task without inputs
/// (its key says as much) or when an input has no readable entry.
fn action_key(plan: &Plan, store: &dyn Store, n: NodeIndex) -> Option<Key> {
    let deps = plan.deps(n);
    if deps.is_empty() {
        return None;
    }
    let digests: Option<Vec<Key>> = deps
        .iter()
        .map(|&d| store.digest(&plan.node(d).key))
        .collect();
    let node = plan.node(n);
    Some(Key::action(
        node.kind,
        node.version,
        &node.params,
        &digests?,
    ))
}

/// Copies the output an earlier task with this action left under the task's key; whether
/// there was one. The action then points at this key, which the current plan references.
fn restore(store: &dyn Store, node: &TaskNode, action: &Key) -> Result<bool, StoreError> {
    let Some(source) = store.action(action).filter(|s| *s != node.key) else {
        return Ok(false);
    };
    let Lookup::Present(output) = store.get(&source)? else {
        return Ok(false);
    };
    store.put(&node.key, &output)?;
    let _ = store.set_action(action, &node.key);
    Ok(true)
}

/// Bookkeeping after a task's entry is stored: its slot record, and no failure on record.
fn record_slot(plan: &Plan, store: &dyn Store, n: NodeIndex) {
    let node = plan.node(n);
    let record = SlotRecord {
        key: node.key.hex(),
        version: node.version,
        params_hash: node.params_hash(),
        deps: dep_keys(plan, n),
        params: Some(serde_json::Value::clone(&node.params)),
    };
    let _ = store.set_slot(&node.slot(), &record);
    let _ = store.set_failure(&node.key, None);
}

fn failed(store: &dyn Store, node: &TaskNode, error: String) -> Outcome {
    let _ = store.set_failure(&node.key, Some(&error));
    Outcome::Failed(error)
}

#[cfg(test)]
mod tests;
