//! `apply --executor slurm`: run a manifest's stale tasks as Slurm job arrays on a cluster that
//! shares the cache folder, then wait for their results to land in the cache.
//!
//! The stale tasks are grouped by DAG level and kind (`groups`); each group is one
//! `sbatch --array` job (several when it exceeds the cluster's `MaxArraySize`) whose elements run
//! a chunk of tasks each through the census binary itself (`census slurm-worker`, `worker`), which
//! calls `exec::run_task`: the same code, the same atomic writes and per-key locks as the local
//! executor, so the results are bit-identical. A group waits for the groups holding its inputs
//! with `--dependency=afterany:<jobs>`, so one failed element does not cancel the rest; its
//! dependents record `input missing: upstream failed` instead.
//!
//! Everything a run writes lives in `<cache>/_slurm/<run>/`: a copy of the manifest (workers plan
//! that copy, so editing the manifest while jobs queue is safe), per group the key list
//! (`gNN-kind.keys`), the job scripts and the element logs, and `jobs.json` (what was submitted).
//!
//! Completion is learned from the cache (an entry or a failure record per task) and from
//! `squeue` (a job that left the queue without a result was lost: killed, out of time or
//! memory); no accounting (`sacct`) is needed.

mod args;
mod groups;
mod queue;
mod worker;

pub use args::{Executor, ExecutorArgs};
pub use groups::{default_per_element, group, Group};
pub use worker::{work, WorkerArgs, INPUT_MISSING};

use crate::exec::{self, freshness, Depth, Event, Freshness, Observer, Summary};
use crate::manifest::{Manifest, ManifestError};
use crate::plan::{Key, Plan, PlanError};
use crate::store::{Health, Store};
use crate::task::Registry;
use petgraph::graph::NodeIndex;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The folder of the cache that holds one folder per Slurm run.
pub const RUNS_DIR: &str = "_slurm";
/// The run folder's copy of the manifest, which the workers plan.
pub const RUN_MANIFEST: &str = "manifest.toml";
const RUN_RECORD: &str = "jobs.json";

/// How jobs are submitted.
#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// The census binary the job scripts run (on a file system the nodes see).
    pub program: PathBuf,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub mem: Option<String>,
    pub cpus_per_task: Option<u32>,
    /// Passed to `sbatch` as they are, after census's own options.
    pub sbatch_args: Vec<String>,
    /// Tasks per array element; `None` picks per kind (`default_per_element`).
    pub tasks_per_job: Option<usize>,
    /// How often the queue and the cache are looked at.
    pub poll: Duration,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        SlurmOptions {
            program: PathBuf::from("census"),
            partition: None,
            time: None,
            mem: None,
            cpus_per_task: None,
            sbatch_args: Vec::new(),
            tasks_per_job: None,
            poll: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Boxed: a manifest error is large, and every `Result<_, SlurmError>` would carry its size.
    #[error(transparent)]
    Manifest(Box<ManifestError>),
    #[error("cannot run `{command}`: {source} (are the Slurm client commands installed?)")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("sbatch printed no job id: `{0}`")]
    JobId(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<ManifestError> for SlurmError {
    fn from(e: ManifestError) -> Self {
        SlurmError::Manifest(Box::new(e))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SlurmError + '_ {
    move |source| SlurmError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One `sbatch` submission: an array job over chunks `first_chunk..first_chunk + elements` of a group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmittedJob {
    pub id: String,
    pub group: String,
    pub kind: String,
    pub first_chunk: usize,
    pub elements: usize,
    pub tasks: usize,
}

/// `jobs.json` of a run folder.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: String,
    pub manifest: String,
    pub jobs: Vec<SubmittedJob>,
}

/// Where one submitted task runs: its array job, element index and log.
struct Placement {
    node: NodeIndex,
    job: String,
    index: usize,
    log: PathBuf,
}

/// Submits every stale task of the manifest to Slurm and waits until each has a result or a
/// recorded failure, or the jobs are gone. `manifest_path` is the file `manifest` was read from;
/// `cache` the folder of `store`. On `cancel` every submitted job is cancelled (`scancel`) and
/// the summary says `interrupted`. `say` receives progress lines about the queue.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    manifest_path: &Path,
    manifest: &Manifest,
    cache: &Path,
    store: &dyn Store,
    opts: &SlurmOptions,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
    say: &mut dyn FnMut(String),
) -> Result<Summary, SlurmError> {
    let started = Instant::now();
    let registry = Registry::standard();
    let plan = super::plan_of(manifest, &registry)?;
    let stale: Vec<NodeIndex> = freshness(&plan, store, Depth::Quick)
        .into_iter()
        .filter(|(_, f)| !matches!(f, Freshness::Cached))
        .map(|(n, _)| n)
        .collect();
    let mut summary = Summary {
        cached: plan.len() - stale.len(),
        ..Summary::default()
    };
    observer.event(Event::Start {
        total: plan.len(),
        cached: summary.cached,
        to_run: stale.len(),
        pending: stale.iter().map(|&n| plan.node(n).key).collect(),
    });
    let to_run: HashSet<NodeIndex> = stale.iter().copied().collect();
    let cached = |n: NodeIndex| !to_run.contains(&n);
    if stale.is_empty() {
        exec::record_use(&plan, store, cached);
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let groups = group(&plan, &stale, &|n| {
        opts.tasks_per_job.unwrap_or_else(|| default_per_element(n))
    });
    let cache = cache.canonicalize().map_err(io(cache))?;
    let run = run_id();
    let dir = cache.join(RUNS_DIR).join(&run);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let copy = dir.join(RUN_MANIFEST);
    std::fs::copy(manifest_path, &copy).map_err(io(&copy))?;
    // A failure record seen while waiting must be this run's.
    for &n in &stale {
        let _ = store.set_failure(&plan.node(n).key, None);
    }
    let submitted = submit(&plan, &groups, &dir, &cache, opts)?;
    let jobs: Vec<SubmittedJob> = submitted.iter().flatten().cloned().collect();
    let record = RunRecord {
        run: run.clone(),
        manifest: manifest_path.display().to_string(),
        jobs: jobs.clone(),
    };
    let record_path = dir.join(RUN_RECORD);
    std::fs::write(
        &record_path,
        serde_json::to_string_pretty(&record).expect("run record serialises"),
    )
    .map_err(io(&record_path))?;
    let elements: usize = jobs.iter().map(|j| j.elements).sum();
    say(format!(
        "submitted {} tasks to Slurm as {} array jobs ({elements} elements; {}); run folder {}",
        stale.len(),
        jobs.len(),
        groups
            .iter()
            .map(|g| format!("{} {}", g.tasks.len(), g.kind))
            .collect::<Vec<_>>()
            .join(", "),
        dir.display()
    ));
    let placements = place(&groups, &submitted, &dir);
    wait(
        &plan,
        store,
        placements,
        &jobs,
        opts.poll,
        cancel,
        observer,
        say,
        &mut summary,
    );
    let keys: Vec<Key> = stale.iter().map(|&n| plan.node(n).key).collect();
    let now: HashSet<NodeIndex> = stale
        .iter()
        .zip(store.check_all(&keys))
        .filter(|(_, health)| *health == Health::Present)
        .map(|(&n, _)| n)
        .collect();
    exec::record_use(&plan, store, |n| now.contains(&n) || cached(n));
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// `20261129T040512-4242`: sortable, unique per process and second.
fn run_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}-{}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        std::process::id()
    )
}

/// Single-quotes a string for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Writes each group's key list and job scripts and submits them, inputs first; returns the jobs
/// of each group. On a failed submission, cancels what was already submitted (and removes the
/// run folder if nothing was).
fn submit(
    plan: &Plan,
    groups: &[Group],
    dir: &Path,
    cache: &Path,
    opts: &SlurmOptions,
) -> Result<Vec<Vec<SubmittedJob>>, SlurmError> {
    let exe = &opts.program;
    let max = queue::max_array_elements();
    let mut submitted: Vec<Vec<SubmittedJob>> = Vec::new();
    let result = (|| {
        for (gi, g) in groups.iter().enumerate() {
            let name = g.name(gi);
            let list = dir.join(format!("{name}.keys"));
            let keys: String = g
                .tasks
                .iter()
                .map(|&n| plan.node(n).key.hex() + "\n")
                .collect();
            std::fs::write(&list, keys).map_err(io(&list))?;
            let after: Vec<String> = g
                .after
                .iter()
                .flat_map(|&a| submitted[a].iter().map(|j: &SubmittedJob| j.id.clone()))
                .collect();
            let mut jobs = Vec::new();
            let mut first = 0;
            while first < g.elements() {
                let count = (g.elements() - first).min(max);
                let script = dir.join(format!("{name}-{first}.sh"));
                let dir_s = dir.display().to_string();
                let text = format!(
                    "#!/bin/sh\n# census: {kind} tasks of {name} (level {level}), chunks {first}..{last}\n\
                     exec {exe} --cache {cache} slurm-worker {dir} --group {name} --per-element {per} \\\n  \
                     --chunk $(({first} + SLURM_ARRAY_TASK_ID)) --job \"${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}\" \\\n  \
                     --log {dir}/{name}-\"${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}.log\"\n",
                    kind = g.kind,
                    level = g.level,
                    last = first + count - 1,
                    exe = quote(&exe.display().to_string()),
                    cache = quote(&cache.display().to_string()),
                    dir = quote(&dir_s),
                    per = g.per_element,
                );
                std::fs::write(&script, text).map_err(io(&script))?;
                let mut args = vec![
                    format!("--array=0-{}", count - 1),
                    format!("--job-name=census-{}", g.kind),
                    format!("--output={dir_s}/{name}-%A_%a.log"),
                ];
                let flags = [
                    ("partition", &opts.partition),
                    ("time", &opts.time),
                    ("mem", &opts.mem),
                ];
                args.extend(
                    flags
                        .iter()
                        .filter_map(|(f, v)| v.as_ref().map(|v| format!("--{f}={v}"))),
                );
                args.extend(opts.cpus_per_task.map(|c| format!("--cpus-per-task={c}")));
                if !after.is_empty() {
                    args.push(format!("--dependency=afterany:{}", after.join(":")));
                }
                args.extend(opts.sbatch_args.iter().cloned());
                args.push(script.display().to_string());
                let id = queue::sbatch(&args)?;
                jobs.push(SubmittedJob {
                    id,
                    group: name.clone(),
                    kind: g.kind.to_string(),
                    first_chunk: first,
                    elements: count,
                    tasks: g.tasks.len(),
                });
                first += count;
            }
            submitted.push(jobs);
        }
        Ok(())
    })();
    if let Err(e) = result {
        let ids: Vec<String> = submitted.iter().flatten().map(|j| j.id.clone()).collect();
        if ids.is_empty() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = queue::scancel(&ids);
        return Err(e);
    }
    Ok(submitted)
}

fn place(groups: &[Group], submitted: &[Vec<SubmittedJob>], dir: &Path) -> Vec<Placement> {
    let mut out = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        for (i, &node) in g.tasks.iter().enumerate() {
            let chunk = g.chunk_of(i);
            let job = submitted[gi]
                .iter()
                .find(|j| chunk >= j.first_chunk && chunk < j.first_chunk + j.elements)
                .expect("every chunk was submitted");
            let index = chunk - job.first_chunk;
            out.push(Placement {
                node,
                job: job.id.clone(),
                index,
                log: dir.join(format!("{}-{}_{index}.log", job.group, job.id)),
            });
        }
    }
    out
}

/// Polls the cache and the queue until every placed task has a result or a failure, or the
/// jobs have all left the queue, or `cancel` is set.
#[allow(clippy::too_many_arguments)]
fn wait(
    plan: &Plan,
    store: &dyn Store,
    mut pending: Vec<Placement>,
    jobs: &[SubmittedJob],
    poll: Duration,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
    say: &mut dyn FnMut(String),
    summary: &mut Summary,
) {
    let started = Instant::now();
    let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    let mut gone = 0;
    let mut last = String::new();
    loop {
        pending.retain(|p| !resolve(plan, store, p, started, observer, summary));
        if pending.is_empty() {
            return;
        }
        if cancel.load(Ordering::SeqCst) {
            match queue::scancel(&ids) {
                Ok(()) => say(format!(
                    "cancelled the {} Slurm jobs of this run (scancel {})",
                    ids.len(),
                    ids.join(" ")
                )),
                Err(e) => say(format!(
                    "could not cancel the Slurm jobs {}: {e}",
                    ids.join(" ")
                )),
            }
            summary.interrupted = true;
            return;
        }
        let line = match queue::squeue(&ids) {
            Ok(q) => {
                gone = if q.is_empty() { gone + 1 } else { 0 };
                let count = |state: &str| {
                    q.values()
                        .map(|s| s.get(state).copied().unwrap_or(0))
                        .sum::<usize>()
                };
                let other: usize = q
                    .values()
                    .flat_map(|s| s.iter())
                    .filter(|(k, _)| *k != "RUNNING" && *k != "PENDING")
                    .map(|(_, v)| v)
                    .sum();
                let other = if other > 0 {
                    format!(", {other} other")
                } else {
                    String::new()
                };
                format!(
                    "slurm: {} running, {} pending{other} array elements; tasks: {} done, {} failed or skipped, {} to go",
                    count("RUNNING"),
                    count("PENDING"),
                    summary.ran.len(),
                    summary.failed.len() + summary.skipped,
                    pending.len()
                )
            }
            Err(e) => format!(
                "slurm: cannot read the queue ({e}); still waiting for {} tasks",
                pending.len()
            ),
        };
        if line != last {
            say(line.clone());
            last = line;
        }
        if gone >= 2 {
            // Every job left the queue a poll ago: what is not in the cache now never will be.
            for p in pending.drain(..) {
                let node = plan.node(p.node);
                let log = if p.log.exists() {
                    format!("log {}", p.log.display())
                } else {
                    "it never started, no log".to_string()
                };
                let error = format!("the Slurm job ended without a result (cancelled, killed, out of time or memory?); Slurm job {}_{}, {log}", p.job, p.index);
                let _ = store.set_failure(&node.key, Some(&error));
                summary.record_failure(observer, node, error);
            }
            return;
        }
        let until = Instant::now() + poll;
        while Instant::now() < until && !cancel.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether the task has ended (result or failure in the cache); reports it if so.
fn resolve(
    plan: &Plan,
    store: &dyn Store,
    p: &Placement,
    started: Instant,
    observer: &mut dyn Observer,
    summary: &mut Summary,
) -> bool {
    let node = plan.node(p.node);
    if store.contains(&node.key) {
        summary
            .ran
            .push((node.kind.to_string(), node.label.clone()));
        observer.event(Event::Finished {
            node,
            seconds: started.elapsed().as_secs_f64(),
        });
        return true;
    }
    let Some(error) = store.failure(&node.key) else {
        return false;
    };
    let missing_input = plan
        .deps(p.node)
        .into_iter()
        .find(|d| !store.contains(&plan.node(*d).key));
    match missing_input {
        Some(d) if error.starts_with(INPUT_MISSING) => {
            summary.skipped += 1;
            observer.event(Event::Skipped {
                node,
                because: plan.node(d),
            });
        }
        _ => {
            summary.record_failure(observer, node, error);
        }
    }
    true
}

/// For `status`: one line per job of this cache's Slurm runs still queued or running. Empty
/// when there are none or Slurm is not installed.
pub fn queued(cache: &Path) -> Vec<String> {
    let Ok(runs) = std::fs::read_dir(cache.join(RUNS_DIR)) else {
        return Vec::new();
    };
    let mut records: Vec<RunRecord> = runs
        .filter_map(|r| r.ok())
        .filter_map(|r| std::fs::read(r.path().join(RUN_RECORD)).ok())
        .filter_map(|t| serde_json::from_slice(&t).ok())
        .collect();
    records.sort_by(|a, b| a.run.cmp(&b.run));
    let ids: Vec<String> = records
        .iter()
        .flat_map(|r| r.jobs.iter().map(|j| j.id.clone()))
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let Ok(queue) = queue::squeue(&ids) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for r in &records {
        for j in &r.jobs {
            if let Some(states) = queue.get(&j.id) {
                let states: Vec<String> = states
                    .iter()
                    .map(|(s, n)| format!("{n} {}", s.to_lowercase()))
                    .collect();
                lines.push(format!(
                    "slurm job {} (run {}, {}, {} tasks): {}",
                    j.id,
                    r.run,
                    j.group,
                    j.tasks,
                    states.join(", ")
                ));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time_and_quotes_survive_sh() {
        let id = run_id();
        assert_eq!(id.as_bytes()[8], b'T');
        assert!(id[..4].parse::<u32>().unwrap() >= 2024, "{id}");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", quote("a b'c$HOME")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b'c$HOME");
    }
}
