//! The `apply` options that choose and configure the executor, as clap arguments the command
//! line flattens into `census apply`.

use super::SlurmOptions;
use std::time::Duration;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Executor {
    /// Threads on this machine.
    #[default]
    Local,
    /// `sbatch` job arrays on a Slurm cluster that shares the cache folder.
    Slurm,
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct ExecutorArgs {
    /// Where tasks run.
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
    /// Slurm partition (`sbatch --partition`).
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub partition: Option<String>,
    /// Time limit per array element (`sbatch --time`, e.g. `2:00:00`).
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub time: Option<String>,
    /// Memory per array element (`sbatch --mem`, e.g. `4G`).
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub mem: Option<String>,
    /// CPUs per array element (`sbatch --cpus-per-task`).
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub cpus_per_task: Option<u32>,
    /// Any other `sbatch` option, repeatable: `--sbatch-arg=--account=lab`.
    #[arg(
        long = "sbatch-arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "Slurm (--executor slurm)"
    )]
    pub sbatch_args: Vec<String>,
    /// Tasks per array element (default: 1 per trained network or search trial, 4 for fixed
    /// points and topology, 16 for everything else).
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub tasks_per_job: Option<usize>,
    /// Seconds between looks at the queue and the cache.
    #[arg(long, default_value_t = 2.0, hide = true)]
    pub poll_seconds: f64,
}

impl ExecutorArgs {
    /// The Slurm options, or `None` for the local executor; an error names a Slurm option given
    /// without `--executor slurm`.
    pub fn slurm(&self) -> Result<Option<SlurmOptions>, String> {
        if self.executor == Executor::Local {
            let given = [
                ("--partition", self.partition.is_some()),
                ("--time", self.time.is_some()),
                ("--mem", self.mem.is_some()),
                ("--cpus-per-task", self.cpus_per_task.is_some()),
                ("--sbatch-arg", !self.sbatch_args.is_empty()),
                ("--tasks-per-job", self.tasks_per_job.is_some()),
            ];
            return match given.iter().find(|(_, g)| *g) {
                Some((flag, _)) => Err(format!("{flag} is a Slurm option: add `--executor slurm`")),
                None => Ok(None),
            };
        }
        if self.tasks_per_job == Some(0) {
            return Err("--tasks-per-job must be at least 1".into());
        }
        let program = std::env::current_exe()
            .map_err(|e| format!("cannot find the census executable for the job scripts: {e}"))?;
        Ok(Some(SlurmOptions {
            program,
            partition: self.partition.clone(),
            time: self.time.clone(),
            mem: self.mem.clone(),
            cpus_per_task: self.cpus_per_task,
            sbatch_args: self.sbatch_args.clone(),
            tasks_per_job: self.tasks_per_job,
            poll: Duration::from_secs_f64(self.poll_seconds.clamp(0.1, 600.0)),
        }))
    }
}
