//! The command line (SPEC §8): parse arguments, open the cache, call `ops`, print. The only
//! module that reads the terminal, the environment or signals.

mod progress;

use crate::manifest::{self, Manifest};
use crate::ops;
use crate::store::ParquetStore;
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every task of the manifest that is not in the cache.
    Apply {
        manifest: Option<PathBuf>,
        #[command(flatten)]
        executor: ops::slurm::ExecutorArgs,
    },
    /// Show what `apply` would run, and why, without running it.
    Plan {
        manifest: Option<PathBuf>,
        /// One JSON document with every task's key, kind, status and reason.
        #[arg(long)]
        json: bool,
    },
    /// Write the result tables as Parquet files into a folder.
    Export {
        manifest: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Also export the probe states (large).
        #[arg(long)]
        states: bool,
        /// Allow an --out folder outside the project (the folder census runs in).
        #[arg(long)]
        allow_outside: bool,
    },
    /// Draw the paper's figures from the cache: PNG and SVG files and an `index.html`.
    Report {
        manifest: Option<PathBuf>,
        #[arg(long, default_value = "report")]
        out: PathBuf,
        /// Allow an --out folder outside the project (the folder census runs in).
        #[arg(long)]
        allow_outside: bool,
    },
    /// Per kind: cached, missing and failed tasks of the manifest, with the last failures.
    Status { manifest: Option<PathBuf> },
    /// Delete cache entries that none of the given manifests references.
    Gc {
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
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
            eprintln!("error: {e:#}");
            2
        }
    }
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

fn run(cli: Cli) -> Result<i32> {
    let jobs = jobs(&cli);
    let open = || {
        ParquetStore::open(&cli.cache)
            .with_context(|| format!("opening the cache {}", cli.cache.display()))
    };
    match &cli.command {
        Command::Apply { manifest, executor } => {
            let slurm = executor.slurm().map_err(anyhow::Error::msg)?;
            let m = load(manifest.as_deref())?;
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
            let mut progress = progress::Progress::new();
            let summary = match &slurm {
                None => ops::apply(&m, &store, jobs, &CANCEL, &mut progress)?,
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
                "done in {:.1} s: {} cached, {} ran, {} failed, {} skipped{}",
                summary.seconds,
                summary.cached,
                summary.ran.len(),
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
            let plan = ops::plan_of(&m, &Registry::standard())?;
            eprint!("{}", ops::population::render(&ops::population::count(&m, &plan, &store)?));
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
            let store = open()?;
            let plan = ops::plan_of(&m, &Registry::standard())?;
            let report = ops::plan_report(&plan, &store);
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
            Ok(0)
        }
        Command::Status { manifest } => {
            let m = load(manifest.as_deref())?;
            let store = open()?;
            let plan = ops::plan_of(&m, &Registry::standard())?;
            let report = ops::plan_report(&plan, &store);
            print!("{}", report.render());
            print!("{}", ops::population::render(&ops::population::count(&m, &plan, &store)?));
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
        } => {
            let m = load(manifest.as_deref())?;
            out_dir(out, *allow_outside)?;
            let store = open()?;
            let (written, failed) = ops::export::export(&m, &store, out, *states)?;
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
            Ok(0)
        }
        Command::Report {
            manifest,
            out,
            allow_outside,
        } => {
            let m = load(manifest.as_deref())?;
            out_dir(out, *allow_outside)?;
            let store = open()?;
            let plan = ops::plan_of(&m, &Registry::standard())?;
            let collected = ops::export::collect(&m, &plan, &store, true)?;
            let rendered = crate::report::render(&collected.tables, out)?;
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
            let ms: Vec<Manifest> = manifests
                .iter()
                .map(|p| load(Some(p)))
                .collect::<Result<_>>()?;
            let store = open()?;
            let _exclusive = store.lock_exclusive()?;
            let (removed, kept) = ops::gc(&ms, &store, *dry_run)?;
            let verb = if *dry_run { "would delete" } else { "deleted" };
            println!("{verb} {removed} entries, kept {kept}");
            Ok(0)
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
