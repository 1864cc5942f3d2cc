//! The command line (SPEC §8): parse arguments, open the cache, call `ops`, print. The only
//! module that reads the terminal, the environment or signals.

mod eta;
mod progress;

use crate::exec::Depth;
use crate::manifest::{self, Manifest};
use crate::ops::{self, bounds, ApplyOptions};
use crate::store::{MemoryStore, ParquetStore, Store};
use crate::task::Registry;
use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The small manifest the README's first command runs.
pub const DEFAULT_MANIFEST: &str = "experiments/default.toml";

#[derive(Parser)]
#[command(
    name = "census",
    version,
    about = "Population studies of recurrent neural networks"
)]
pub struct Cli {
    /// The cache folder.
    #[arg(long, global = true, default_value = "cache")]
    cache: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    jobs: Option<usize>,
    /// Refuse a manifest that plans more tasks than this.
    #[arg(long, global = true, default_value_t = bounds::DEFAULT_MAX_TASKS)]
    max_tasks: u64,
    /// Memory one task may need (e.g. 64G; default: this machine's memory); `apply` refuses a
    /// plan with a task estimated above it.
    #[arg(long, global = true, value_parser = bounds::parse_size)]
    max_memory: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every task of the manifest that is not in the cache.
    Apply {
        /// The manifest [default: experiments/default.toml]
        manifest: Option<PathBuf>,
        /// Check every byte of every cached entry first (not only sizes), and recompute the
        /// damaged ones.
        #[arg(long)]
        verify: bool,
        #[command(flatten)]
        executor: ops::slurm::ExecutorArgs,
    },
    /// Show what `apply` would run, and why, without running it.
    Plan {
        /// The manifest [default: experiments/default.toml]
        manifest: Option<PathBuf>,
        /// One JSON document with every task's key, kind, status and reason.
        #[arg(long)]
        json: bool,
    },
    /// Write the result tables as Parquet files into a folder.
    Export {
        /// The manifest [default: experiments/default.toml]
        manifest: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Also export the probe states (large).
        #[arg(long)]
        states: bool,
        /// Allow an --out folder outside the project (the folder census runs in).
        #[arg(long)]
        allow_outside: bool,
        /// Replace an --out folder that census did not write.
        #[arg(long)]
        force: bool,
        /// Write nothing unless every study has run completely (by default the complete
        /// studies are written and the others listed, with exit code 1).
        #[arg(long)]
        require_all: bool,
    },
    /// Draw the paper's figures from the cache: PNG and SVG files and an `index.html`.
    Report {
        /// The manifest [default: experiments/default.toml]
        manifest: Option<PathBuf>,
        #[arg(long, default_value = "report")]
        out: PathBuf,
        /// Allow an --out folder outside the project (the folder census runs in).
        #[arg(long)]
        allow_outside: bool,
    },
    /// Per kind: cached, missing and failed tasks of the manifest, with the last failures.
    Status {
        /// The manifest [default: experiments/default.toml]
        manifest: Option<PathBuf>,
    },
    /// Delete cache entries that none of the given manifests references.
    Gc {
        /// The manifests whose entries to keep [default: experiments/default.toml]
        manifests: Vec<PathBuf>,
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check every byte of every cache entry against the hashes recorded when it was written.
    Verify {
        /// Remove the damaged entries (the next `apply` recomputes them).
        #[arg(long)]
        repair: bool,
    },
    /// Runs one Slurm array element's tasks (written into job scripts by `apply --executor slurm`).
    #[command(hide = true)]
    SlurmWorker(ops::slurm::WorkerArgs),
}

static CANCEL: AtomicBool = AtomicBool::new(false);

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            2
        }
    }
}

/// The error and its causes, each cause left out when the message before already says it (an
/// OS error is often both in a message and its source).
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// The cache for a command that only reads: an empty one when the folder does not exist (so a
/// mistyped `--cache` creates nothing), an error when it exists but is not a cache.
fn open_to_read(path: &Path) -> Result<Box<dyn Store>> {
    if !path.exists() {
        eprintln!(
            "note: no cache at {} yet: nothing is cached",
            path.display()
        );
        return Ok(Box::new(MemoryStore::new()));
    }
    Ok(Box::new(ParquetStore::open_existing(path)?))
}

fn load(path: Option<&Path>) -> Result<Manifest> {
    let path = path.unwrap_or(Path::new(DEFAULT_MANIFEST));
    Ok(manifest::load(path)?)
}

/// Refuses an `--out` folder outside the project unless the user allowed it.
fn out_dir(out: &Path, allow_outside: bool) -> Result<()> {
    if !allow_outside {
        ops::outdir::inside_project(&std::env::current_dir()?, out)?;
    }
    Ok(())
}

fn jobs(cli: &Cli) -> usize {
    cli.jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// The bounds of this run; `machine` adds this machine's memory when no --max-memory is given.
fn limits(cli: &Cli, machine: bool) -> bounds::Limits {
    let max_memory = match cli.max_memory {
        Some(bytes) => Some(bounds::MemoryLimit::given(bytes)),
        None if machine => bounds::MemoryLimit::machine(),
        None => None,
    };
    bounds::Limits {
        max_tasks: cli.max_tasks,
        max_memory,
    }
}

fn run(cli: Cli) -> Result<i32> {
    let jobs = jobs(&cli);
    let open = || {
        ParquetStore::open(&cli.cache)
            .with_context(|| format!("opening the cache {}", cli.cache.display()))
    };
    let open_existing = || {
        ParquetStore::open_existing(&cli.cache)
            .with_context(|| format!("opening the cache {}", cli.cache.display()))
    };
    match &cli.command {
        Command::Apply {
            manifest,
            verify,
            executor,
        } => {
            let slurm = executor.slurm().map_err(anyhow::Error::msg)?;
            let m = load(manifest.as_deref())?;
            let opts = ApplyOptions {
                jobs,
                depth: if *verify { Depth::Full } else { Depth::Quick },
                limits: limits(&cli, slurm.is_none()),
            };
            let plan = ops::plan_within(&m, &Registry::standard(), &opts.limits)?;
            let store = open()?;
            let _shared = store.lock_shared()?;
            ctrlc::set_handler(|| {
                if CANCEL.swap(true, Ordering::SeqCst) {
                    eprintln!("\ninterrupted again: stopping now; finished results are kept");
                    std::process::exit(130);
                }
                eprintln!("\ninterrupted: finishing nothing new, keeping every finished result (Ctrl-C again to stop at once)");
            })
            .ok();
            let mut progress = progress::Progress::new(&plan, jobs);
            let summary = match &slurm {
                None => ops::apply_plan(&plan, &store, &opts, &CANCEL, &mut progress),
                Some(opts) => {
                    let path = manifest.as_deref().unwrap_or(Path::new(DEFAULT_MANIFEST));
                    ops::slurm::apply(
                        path,
                        &m,
                        &cli.cache,
                        &store,
                        opts,
                        &CANCEL,
                        &mut progress,
                        &mut |line| eprintln!("{line}"),
                    )?
                }
            };
            progress.finish();
            eprintln!(
                "done in {:.1} s: {} cached, {} ran, {}{} failed, {} skipped{}",
                summary.seconds,
                summary.cached,
                summary.ran.len(),
                if summary.restored.is_empty() {
                    String::new()
                } else {
                    format!("{} restored (inputs unchanged), ", summary.restored.len())
                },
                summary.failed.len(),
                summary.skipped,
                if summary.shared > 0 {
                    format!(", {} finished by another process", summary.shared)
                } else {
                    String::new()
                }
            );
            for (task, error) in &summary.failed {
                eprintln!("  failed: {task}: {error}");
            }
            eprint!(
                "{}",
                ops::population::render(&ops::population::count(
                    &m,
                    &plan,
                    &store,
                    &summary.found
                )?)
            );
            if let Some(error) = &summary.storage {
                eprintln!(
                    "error: the cache {} cannot be written: {error}",
                    cli.cache.display()
                );
                eprintln!("  nothing new was started and no task is blamed; every finished result is kept");
                eprintln!(
                    "  free space (or fix the folder's permissions) and run `census apply` again"
                );
                return Ok(1);
            }
            if summary.interrupted {
                eprintln!("interrupted: run `census apply` again to finish");
                return Ok(130);
            }
            eprintln!(
                "results in {}; `census export --out DIR` writes the tables, `census report` draws the figures into report/",
                cli.cache.display()
            );
            Ok(if summary.ok() { 0 } else { 1 })
        }
        Command::Plan { manifest, json } => {
            let m = load(manifest.as_deref())?;
            let plan = ops::plan_within(&m, &Registry::standard(), &limits(&cli, false))?;
            let store = open_to_read(&cli.cache)?;
            let report = ops::plan_report(&plan, store.as_ref());
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
            Ok(0)
        }
        Command::Status { manifest } => {
            let m = load(manifest.as_deref())?;
            let plan = ops::plan_within(&m, &Registry::standard(), &limits(&cli, false))?;
            let store = open_to_read(&cli.cache)?;
            let report = ops::plan_report(&plan, store.as_ref());
            print!("{}", report.render());
            print!(
                "{}",
                ops::population::render(&ops::population::count(
                    &m,
                    &plan,
                    store.as_ref(),
                    &report.summaries
                )?)
            );
            let failures: Vec<_> = report
                .tasks
                .iter()
                .filter_map(|t| t.failure.as_ref().map(|f| (t, f)))
                .collect();
            for (t, f) in failures.iter().take(20) {
                println!("failed: {} {} {}: {f}", t.study, t.kind, t.label);
            }
            if failures.len() > 20 {
                println!("... and {} more failures", failures.len() - 20);
            }
            for line in ops::slurm::queued(&cli.cache) {
                println!("{line}");
            }
            Ok(0)
        }
        Command::Export {
            manifest,
            out,
            states,
            allow_outside,
            force,
            require_all,
        } => {
            let m = load(manifest.as_deref())?;
            out_dir(out, *allow_outside)?;
            let store = open_existing()?;
            let _shared = store.lock_shared()?;
            let opts = ops::export::ExportOptions {
                states: *states,
                force: *force,
                require_all: *require_all,
                limits: limits(&cli, false),
            };
            let ops::export::Exported {
                written,
                failed,
                missing,
            } = ops::export::export_with(&m, &store, out, &opts)?;
            for (name, rows) in &written {
                println!(
                    "{:<20} {rows:>10} rows  {}",
                    name,
                    out.join(format!("{name}.parquet")).display()
                );
            }
            if !failed.is_empty() {
                eprintln!(
                    "left out {} tasks that failed in the last apply (their rows are absent):",
                    failed.len()
                );
                for (task, why) in failed.iter().take(20) {
                    eprintln!("  {task}: {why}");
                }
            }
            for m in &missing {
                eprintln!(
                    "left out study {}: {} tasks have not run (first: {}); run `census apply` to complete it",
                    m.study, m.tasks, m.first
                );
            }
            Ok(if missing.is_empty() { 0 } else { 1 })
        }
        Command::Report {
            manifest,
            out,
            allow_outside,
        } => {
            let m = load(manifest.as_deref())?;
            out_dir(out, *allow_outside)?;
            let store = open_existing()?;
            let _shared = store.lock_shared()?;
            let plan = ops::plan_within(&m, &Registry::standard(), &limits(&cli, false))?;
            let collected = ops::export::collect(&m, &plan, &store, true)?;
            let rendered = crate::report::render_for(&m, &collected.tables, out)?;
            println!(
                "{} figures (PNG and SVG) in {}",
                rendered.figures.len(),
                out.display()
            );
            if !collected.failed.is_empty() {
                eprintln!(
                    "left out {} tasks that failed in the last apply",
                    collected.failed.len()
                );
            }
            println!("open {}", rendered.index.display());
            Ok(0)
        }
        Command::Gc { manifests, dry_run } => {
            let ms: Vec<Manifest> = if manifests.is_empty() {
                vec![load(None)?]
            } else {
                manifests
                    .iter()
                    .map(|p| load(Some(p)))
                    .collect::<Result<_>>()?
            };
            let store = open_existing()?;
            let _exclusive = store.lock_exclusive()?;
            let collected = ops::gc(&ms, &store, *dry_run)?;
            print!("{}", gc_report(&collected, *dry_run));
            Ok(0)
        }
        Command::Verify { repair } => {
            let store = open_existing()?;
            let _shared = store.lock_shared()?;
            let report = ops::verify(&store, *repair)?;
            for (key, why) in &report.damaged {
                println!("damaged {key}: {why}");
            }
            let verb = if *repair { "removed" } else { "found" };
            println!(
                "checked {} entries: {verb} {} damaged",
                report.checked,
                report.damaged.len()
            );
            if !report.damaged.is_empty() {
                let next = if *repair {
                    "`census apply` recomputes them"
                } else {
                    "`census verify --repair` removes them, or `census apply --verify` recomputes them"
                };
                eprintln!("{next}");
            }
            Ok(i32::from(!report.damaged.is_empty() && !*repair))
        }
        Command::SlurmWorker(args) => {
            let store = open()?;
            let _shared = store.lock_shared()?;
            ctrlc::set_handler(|| CANCEL.store(true, Ordering::SeqCst)).ok();
            let failed = ops::slurm::work(args, &store, &CANCEL)?;
            Ok(if CANCEL.load(Ordering::SeqCst) {
                130
            } else {
                i32::from(failed > 0)
            })
        }
    }
}

/// Entries `gc` lists, largest first, before it only counts the rest.
const GC_LISTED: usize = 20;

/// `would delete 3 entries (1.2 MB), kept 20 (4.1 MB)`, then the largest deleted entries, each
/// with its size and tables.
fn gc_report(c: &ops::Collected, dry_run: bool) -> String {
    use ops::bounds::human;
    let verb = if dry_run { "would delete" } else { "deleted" };
    let mut s = format!(
        "{verb} {} entries ({}), kept {} ({})\n",
        c.removed.len(),
        human(c.removed_bytes()),
        c.kept,
        human(c.kept_bytes)
    );
    for (key, info) in c.removed.iter().take(GC_LISTED) {
        let tables = if info.tables.is_empty() {
            "(unreadable metadata)".to_string()
        } else {
            info.tables.join(", ")
        };
        s.push_str(&format!("  {}  {:>9}  {tables}\n", key.short(), human(info.bytes)));
    }
    if c.removed.len() > GC_LISTED {
        s.push_str(&format!("  ... and {} more\n", c.removed.len() - GC_LISTED));
    }
    s
}
