//! The scheduler on its own: a `MemoryStore` and a registry of toy kinds, in the manner of
//! cargo's `DependencyQueue` tests. Each test builds a small graph and checks what ran, in which
//! order, and what the store holds after.

use super::*;
use crate::exec::freshness;
use crate::plan::PlanBuilder;
use crate::store::MemoryStore;
use crate::table::{Column, Table};
use crate::task::{params, TaskKind};
use serde_json::json;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::Mutex;

fn value(v: f64) -> Output {
    Output::new().with("v", Table::new().with("v", Column::F64(vec![v])))
}

fn read(o: &Output) -> f64 {
    o.table("v").unwrap().f64s("v").unwrap()[0]
}

/// `{"value": x}` → `x` (any other parameter is ignored); `{"fail": true}` fails, `{"panic":
/// true}` panics, `{"wait": true}` runs until cancelled.
struct Source;

impl TaskKind for Source {
    fn name(&self) -> &'static str {
        "source"
    }
    fn version(&self) -> u32 {
        1
    }
    fn run(&self, ctx: &Context, p: &serde_json::Value, _: &[Output]) -> Result<Output, TaskError> {
        if p["fail"] == true {
            return Err(TaskError::Failed("asked to fail".into()));
        }
        if p["panic"] == true {
            panic!("asked to panic");
        }
        if p["wait"] == true {
            while !ctx.cancel.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            return Err(TaskError::Cancelled);
        }
        Ok(value(p["value"].as_f64().unwrap_or(0.0)))
    }
}

/// The sum of its inputs plus `add`.
struct Sum;

#[derive(serde::Deserialize)]
struct SumParams {
    add: f64,
}

impl TaskKind for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn version(&self) -> u32 {
        1
    }
    fn run(
        &self,
        _: &Context,
        p: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let p: SumParams = params(p)?;
        Ok(value(inputs.iter().map(read).sum::<f64>() + p.add))
    }
}

/// Its input's value, with its own key beside it (as `train` names its network).
struct Named;

impl TaskKind for Named {
    fn name(&self) -> &'static str {
        "named"
    }
    fn version(&self) -> u32 {
        1
    }
    fn names_itself(&self) -> bool {
        true
    }
    fn run(
        &self,
        ctx: &Context,
        _: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let id = Table::new().with("id", Column::Str(vec![ctx.key.short()]));
        Ok(value(read(&inputs[0])).with("id", id))
    }
}

fn registry() -> Registry {
    let mut r = Registry::empty();
    r.register(Box::new(Source));
    r.register(Box::new(Sum));
    r.register(Box::new(Named));
    r
}

/// Records every event as `(event, kind label)` and can act on one.
#[derive(Default)]
struct Log {
    events: Vec<(&'static str, String)>,
    on_start: Option<Box<dyn FnMut()>>,
    on_started: Option<Box<dyn FnMut()>>,
}

impl Log {
    fn of(&self, event: &str) -> Vec<&str> {
        self.events
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, t)| t.as_str())
            .collect()
    }
}

impl Observer for Log {
    fn event(&mut self, e: Event) {
        let (name, node) = match e {
            Event::Start { .. } => {
                if let Some(f) = &mut self.on_start {
                    f();
                }
                return;
            }
            Event::Started { node } => {
                if let Some(f) = &mut self.on_started {
                    f();
                }
                ("started", node)
            }
            Event::Finished { node, .. } => ("finished", node),
            Event::Restored { node } => ("restored", node),
            Event::Failed { node, .. } => ("failed", node),
            Event::Skipped { node, .. } => ("skipped", node),
            Event::Damaged { node, .. } => ("damaged", node),
        };
        self.events.push((name, node.label.clone()));
    }
}

fn apply(plan: &Plan, store: &MemoryStore, jobs: usize, log: &mut Log) -> Summary {
    let cancel = AtomicBool::new(false);
    apply_with(plan, store, jobs, &cancel, log)
}

fn apply_with(
    plan: &Plan,
    store: &MemoryStore,
    jobs: usize,
    cancel: &AtomicBool,
    log: &mut Log,
) -> Summary {
    let opts = Options {
        jobs,
        cancel,
        depth: Depth::Quick,
    };
    run(plan, &registry(), store, &opts, log)
}

/// Builds a plan with the toy registry's versions.
fn plan(build: impl FnOnce(&mut PlanBuilder) -> Result<(), crate::plan::PlanError>) -> Plan {
    let r = registry();
    let version = |k: &str| r.version(k);
    let mut b = PlanBuilder::new(&version);
    build(&mut b).unwrap();
    b.build().unwrap()
}

fn source(b: &mut PlanBuilder, label: &str, p: serde_json::Value) -> NodeIndex {
    b.add("s", "source", label.into(), p, &[]).unwrap()
}

fn sum(b: &mut PlanBuilder, label: &str, add: f64, deps: &[NodeIndex]) -> NodeIndex {
    b.add("s", "sum", label.into(), json!({ "add": add }), deps)
        .unwrap()
}

fn stored(plan: &Plan, store: &MemoryStore, label: &str) -> Option<f64> {
    let (_, node) = plan.nodes().find(|(_, n)| n.label == label)?;
    match store.get(&node.key).unwrap() {
        Lookup::Present(o) => Some(read(&o)),
        _ => None,
    }
}

/// a → (b, c) → d, with a second source e → f beside it.
fn diamond(note: &str, fail_a: bool) -> Plan {
    plan(|b| {
        let a = source(
            b,
            "a",
            json!({ "value": 1.0, "note": note, "fail": fail_a }),
        );
        let l = sum(b, "b", 10.0, &[a]);
        let r = sum(b, "c", 100.0, &[a]);
        sum(b, "d", 0.0, &[l, r]);
        let e = source(b, "e", json!({ "value": 5.0 }));
        sum(b, "f", 1.0, &[e]);
        Ok(())
    })
}

#[test]
fn every_task_runs_after_its_inputs_with_their_outputs() {
    for jobs in [1, 2, 4] {
        let store = MemoryStore::new();
        let plan = diamond("x", false);
        let mut log = Log::default();
        let s = apply(&plan, &store, jobs, &mut log);
        assert!(s.ok());
        assert_eq!(s.ran.len(), 6);
        let done = log.of("finished");
        let at = |t: &str| done.iter().position(|x| *x == t).unwrap();
        assert!(at("a") < at("b") && at("a") < at("c"));
        assert!(at("b") < at("d") && at("c") < at("d") && at("e") < at("f"));
        assert_eq!(stored(&plan, &store, "d"), Some(1.0 + 10.0 + 1.0 + 100.0));
        assert_eq!(stored(&plan, &store, "f"), Some(6.0));
        let again = apply(&plan, &store, jobs, &mut Log::default());
        assert_eq!((again.cached, again.ran.len()), (6, 0));
    }
}

#[test]
fn a_failure_skips_its_dependents_and_the_rest_goes_on() {
    let store = MemoryStore::new();
    let plan = diamond("x", true);
    let mut log = Log::default();
    let s = apply(&plan, &store, 2, &mut log);
    assert!(!s.ok());
    assert_eq!(log.of("failed"), ["a"]);
    let mut skipped = log.of("skipped");
    skipped.sort();
    assert_eq!(skipped, ["b", "c", "d"]);
    assert_eq!(s.skipped, 3);
    assert_eq!(stored(&plan, &store, "f"), Some(6.0));
    let a = plan.nodes().find(|(_, n)| n.label == "a").unwrap().1;
    assert_eq!(store.failure(&a.key).as_deref(), Some("asked to fail"));
}

#[test]
fn a_panic_is_a_failure_of_that_task() {
    let store = MemoryStore::new();
    let plan = plan(|b| {
        let a = source(b, "a", json!({ "panic": true }));
        sum(b, "b", 0.0, &[a]);
        source(b, "c", json!({ "value": 2.0 }));
        Ok(())
    });
    let s = apply(&plan, &store, 1, &mut Log::default());
    assert_eq!(s.failed.len(), 1);
    assert!(s.failed[0].1.contains("asked to panic"), "{:?}", s.failed);
    assert_eq!((s.skipped, s.ran.len()), (1, 1));
}

#[test]
fn cancel_stops_the_running_task_and_starts_nothing_new() {
    let store = MemoryStore::new();
    let plan = plan(|b| {
        let a = source(b, "a", json!({ "value": 1.0 }));
        let w = source(b, "wait", json!({ "wait": true }));
        sum(b, "after", 0.0, &[a, w]);
        Ok(())
    });
    let cancel: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let started = std::sync::Arc::new(Mutex::new(0));
    let seen = std::sync::Arc::clone(&started);
    let mut log = Log {
        on_started: Some(Box::new(move || {
            let mut n = seen.lock().unwrap();
            *n += 1;
            if *n == 2 {
                cancel.store(true, Ordering::SeqCst);
            }
        })),
        ..Log::default()
    };
    let s = apply_with(&plan, &store, 2, cancel, &mut log);
    assert!(s.interrupted);
    assert!(log.of("started").iter().all(|t| *t != "after"));
    assert_eq!(stored(&plan, &store, "wait"), None);
    assert_eq!(stored(&plan, &store, "after"), None);
}

#[test]
fn a_task_finished_by_another_process_under_its_lock_is_not_run_again() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let plan = std::sync::Arc::new(plan(|b| {
        source(b, "a", json!({ "value": 3.0 }));
        Ok(())
    }));
    let key = plan.nodes().next().unwrap().1.key;
    let held = store.lock_key(&key).unwrap();
    let (tx, rx) = mpsc::channel();
    let (s2, p2) = (std::sync::Arc::clone(&store), std::sync::Arc::clone(&plan));
    let worker = std::thread::spawn(move || {
        let tx = Mutex::new(tx);
        let mut log = Log {
            on_start: Some(Box::new(move || tx.lock().unwrap().send(()).unwrap())),
            ..Log::default()
        };
        apply(&p2, &s2, 1, &mut log)
    });
    rx.recv().unwrap();
    store.put(&key, &value(3.0)).unwrap();
    drop(held);
    let s = worker.join().unwrap();
    assert_eq!((s.shared, s.ran.len()), (1, 0));
}

#[test]
fn a_damaged_input_found_while_running_is_recomputed_first() {
    let store = MemoryStore::new();
    let plan = diamond("x", false);
    apply(&plan, &store, 1, &mut Log::default());
    let find = |label: &str| plan.nodes().find(|(_, n)| n.label == label).unwrap().1.key;
    store.remove(&find("d")).unwrap();
    store.corrupt(&find("b"));
    let mut log = Log::default();
    let s = apply(&plan, &store, 1, &mut log);
    assert!(s.ok());
    assert_eq!(log.of("damaged"), ["b"]);
    let ran: Vec<&str> = s.ran.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(ran, ["b", "d"]);
    assert_eq!(stored(&plan, &store, "d"), Some(112.0));
}

#[test]
fn a_change_that_leaves_an_output_unchanged_reruns_that_task_only() {
    let store = MemoryStore::new();
    let first = diamond("x", false);
    apply(&first, &store, 2, &mut Log::default());
    let edited = diamond("y", false);
    let fresh = freshness(&edited, &store, Depth::Quick);
    let mut run: Vec<&str> = fresh
        .iter()
        .filter(|(_, f)| matches!(f, Freshness::Run(_)))
        .map(|(n, _)| edited.node(*n).label.as_str())
        .collect();
    run.sort();
    assert_eq!(
        run,
        ["a", "b", "c", "d"],
        "before a runs, its dependents wait"
    );
    let mut log = Log::default();
    let s = apply(&edited, &store, 2, &mut log);
    assert!(s.ok());
    let ran: Vec<&str> = s.ran.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(ran, ["a"]);
    let mut restored = log.of("restored");
    restored.sort();
    assert_eq!(restored, ["b", "c", "d"]);
    for (n, node) in edited.nodes() {
        let old = first.node(n);
        assert_eq!(
            node.key == old.key,
            ["e", "f"].contains(&node.label.as_str())
        );
        assert_eq!(
            stored(&edited, &store, &node.label),
            stored(&first, &store, &old.label)
        );
    }
    let again = apply(&edited, &store, 2, &mut Log::default());
    assert_eq!(
        (again.cached, again.ran.len(), again.restored.len()),
        (6, 0, 0)
    );
}

#[test]
fn a_task_whose_inputs_are_cached_is_planned_as_restored() {
    let store = MemoryStore::new();
    let first = diamond("x", false);
    apply(&first, &store, 1, &mut Log::default());
    let edited = diamond("y", false);
    let a = edited.nodes().find(|(_, n)| n.label == "a").unwrap().1;
    store.put(&a.key, &value(1.0)).unwrap();
    let fresh = freshness(&edited, &store, Depth::Quick);
    let restore = |label: &str| {
        let (n, _) = edited.nodes().find(|(_, n)| n.label == label).unwrap();
        let old = first.node(n).key;
        fresh.iter().find(|(m, _)| *m == n).unwrap().1 == Freshness::Restore(old)
    };
    assert!(restore("b") && restore("c") && restore("d"));
    let s = apply(&edited, &store, 1, &mut Log::default());
    assert_eq!((s.ran.len(), s.restored.len()), (0, 3));
}

#[test]
fn a_changed_output_reruns_its_dependents() {
    let store = MemoryStore::new();
    apply(&diamond("x", false), &store, 1, &mut Log::default());
    let edited = plan(|b| {
        let a = source(b, "a", json!({ "value": 2.0, "note": "x", "fail": false }));
        let l = sum(b, "b", 10.0, &[a]);
        let r = sum(b, "c", 100.0, &[a]);
        sum(b, "d", 0.0, &[l, r]);
        Ok(())
    });
    let s = apply(&edited, &store, 1, &mut Log::default());
    assert_eq!((s.ran.len(), s.restored.len()), (4, 0));
    assert_eq!(stored(&edited, &store, "d"), Some(2.0 + 10.0 + 2.0 + 100.0));
}

#[test]
fn a_kind_that_names_itself_is_never_restored() {
    let store = MemoryStore::new();
    let chain = |note: &str| {
        plan(|b| {
            let a = source(b, "a", json!({ "value": 1.0, "note": note }));
            let n = b.add("s", "named", "n".into(), json!({}), &[a])?;
            sum(b, "after", 0.0, &[n]);
            Ok(())
        })
    };
    apply(&chain("x"), &store, 1, &mut Log::default());
    let s = apply(&chain("y"), &store, 1, &mut Log::default());
    let ran: Vec<&str> = s.ran.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(ran, ["a", "n", "after"]);
    assert!(s.restored.is_empty());
}
