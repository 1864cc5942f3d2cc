//! The inside of one array element (`census slurm-worker`, hidden): re-plan the run's copy of
//! the manifest, take this element's slice of the group's key list, and run each task with
//! `exec::run_task`, exactly as the local executor does, into the shared cache.
//!
//! A task whose input is not in the cache (its upstream failed or was lost) is recorded as
//! failed with `input missing: upstream failed`; an input found damaged is recomputed here
//! first. Every failure recorded names the Slurm job and its log. Prints one line per task to
//! the job's log.

use super::{SlurmError, RUN_MANIFEST};
use crate::exec::{run_task, Outcome};
use crate::plan::Plan;
use crate::store::Store;
use crate::task::Registry;
use petgraph::graph::NodeIndex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What `census slurm-worker` is told by its job script.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// The run folder (`<cache>/_slurm/<run>`).
    pub run_dir: PathBuf,
    /// The group, i.e. the key list `<run_dir>/<group>.keys`.
    #[arg(long)]
    pub group: String,
    /// This element's chunk of the key list.
    #[arg(long)]
    pub chunk: usize,
    /// Tasks per chunk.
    #[arg(long)]
    pub per_element: usize,
    /// `<array job>_<index>`, for failure messages.
    #[arg(long)]
    pub job: String,
    /// This element's log file, for failure messages.
    #[arg(long)]
    pub log: PathBuf,
}

/// The message prefix of a task skipped because an input is not in the cache.
pub const INPUT_MISSING: &str = "input missing: upstream failed";

/// Runs this element's tasks; returns how many failed.
pub fn work(
    args: &WorkerArgs,
    store: &dyn Store,
    cancel: &AtomicBool,
) -> Result<usize, SlurmError> {
    let manifest = crate::manifest::load(&args.run_dir.join(RUN_MANIFEST))?;
    let registry = Registry::standard();
    let plan = super::super::plan_of(&manifest, &registry)?;
    let by_key: HashMap<String, NodeIndex> =
        plan.nodes().map(|(n, node)| (node.key.hex(), n)).collect();
    let list = args.run_dir.join(format!("{}.keys", args.group));
    let text = std::fs::read_to_string(&list).map_err(|source| SlurmError::Io {
        path: list.display().to_string(),
        source,
    })?;
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty())
        .skip(args.chunk * args.per_element)
        .take(args.per_element)
        .collect();
    let at = format!("Slurm job {}, log {}", args.job, args.log.display());
    println!(
        "census worker: {} tasks of {} (chunk {}), {at}",
        keys.len(),
        args.group,
        args.chunk
    );
    let mut failed = 0;
    for hex in keys {
        let Some(&n) = by_key.get(hex) else {
            println!("task {hex} is not in the run's plan; skipped");
            failed += 1;
            continue;
        };
        let node = plan.node(n);
        let started = Instant::now();
        match run_one(&plan, &registry, store, n, cancel) {
            Ok(how) => println!(
                "{how} {} {} ({:.1} s)",
                node.kind,
                node.label,
                started.elapsed().as_secs_f64()
            ),
            Err(Stop::Cancelled) => {
                println!("cancelled during {} {}", node.kind, node.label);
                return Ok(failed + 1);
            }
            Err(Stop::Failed(error)) => {
                println!("FAILED {} {}: {error}", node.kind, node.label);
                let _ = store.set_failure(&node.key, Some(&format!("{error} ({at})")));
                failed += 1;
            }
        }
    }
    Ok(failed)
}

enum Stop {
    Failed(String),
    Cancelled,
}

fn run_one(
    plan: &Plan,
    registry: &Registry,
    store: &dyn Store,
    n: NodeIndex,
    cancel: &AtomicBool,
) -> Result<&'static str, Stop> {
    if store.contains(&plan.node(n).key) {
        return Ok("already cached:");
    }
    if let Some(d) = plan
        .deps(n)
        .into_iter()
        .find(|d| !store.contains(&plan.node(*d).key))
    {
        let dep = plan.node(d);
        return Err(Stop::Failed(format!(
            "{INPUT_MISSING} ({} {})",
            dep.kind, dep.label
        )));
    }
    let mut recomputed: Vec<NodeIndex> = Vec::new();
    loop {
        match run_task(plan, registry, store, n, cancel) {
            Outcome::Ran => return Ok("ran"),
            Outcome::Restored => return Ok("restored (inputs unchanged):"),
            Outcome::DoneElsewhere => return Ok("finished by another process:"),
            Outcome::Cancelled => return Err(Stop::Cancelled),
            Outcome::Failed(e) | Outcome::Storage(e) => return Err(Stop::Failed(e)),
            Outcome::BadInput(d, why) => {
                let dep = plan.node(d);
                if recomputed.contains(&d) {
                    return Err(Stop::Failed(format!(
                        "input {} {} damaged again after recomputing it: {why}",
                        dep.kind, dep.label
                    )));
                }
                println!(
                    "input {} {} damaged ({why}): recomputing it",
                    dep.kind, dep.label
                );
                match run_task(plan, registry, store, d, cancel) {
                    Outcome::Ran | Outcome::Restored | Outcome::DoneElsewhere => recomputed.push(d),
                    Outcome::Cancelled => return Err(Stop::Cancelled),
                    Outcome::Failed(e) | Outcome::Storage(e) => {
                        return Err(Stop::Failed(format!(
                            "recomputing damaged input {} {}: {e}",
                            dep.kind, dep.label
                        )))
                    }
                    Outcome::BadInput(..) => {
                        return Err(Stop::Failed(format!(
                            "{INPUT_MISSING} ({} {} damaged, and so are its inputs)",
                            dep.kind, dep.label
                        )))
                    }
                }
            }
        }
    }
}
