//! The Slurm client commands census uses (`sbatch`, `squeue`, `scancel`, `scontrol`) and the
//! parsing of their output. They find the cluster the usual way (`SLURM_CONF`, `/etc/slurm`).
//!
//! There is no accounting to ask (`sacct` may be disabled): `squeue` says what is still queued or
//! running, the cache says what finished.

use super::SlurmError;
use std::collections::BTreeMap;
use std::process::Command;

fn run(program: &str, args: &[String]) -> Result<String, SlurmError> {
    let shown = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| SlurmError::Spawn {
            command: shown.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(SlurmError::Command {
            command: shown,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Submits a batch script; returns the job id.
pub fn sbatch(args: &[String]) -> Result<String, SlurmError> {
    let mut all = vec!["--parsable".to_string()];
    all.extend_from_slice(args);
    let out = run("sbatch", &all)?;
    parse_job_id(&out).ok_or_else(|| SlurmError::JobId(out.trim().to_string()))
}

/// `sbatch --parsable` prints `jobid` or `jobid;cluster`.
pub fn parse_job_id(out: &str) -> Option<String> {
    let id = out.trim().split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

/// Cancels jobs (whole arrays when given array job ids).
pub fn scancel(jobs: &[String]) -> Result<(), SlurmError> {
    if jobs.is_empty() {
        return Ok(());
    }
    run("scancel", jobs).map(|_| ())
}

/// The largest array index the cluster accepts (`MaxArraySize - 1`), 1000 elements if unknown.
pub fn max_array_elements() -> usize {
    let config = run("scontrol", &["show".into(), "config".into()]).unwrap_or_default();
    config
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "MaxArraySize")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(1001)
        .saturating_sub(1)
        .max(1)
}

/// Array elements of one job still in the queue, by state (`PENDING`, `RUNNING`, ...).
pub type JobStates = BTreeMap<String, usize>;

/// This user's queued and running jobs among `jobs` (array job ids), with element counts by state.
/// Jobs that ended are absent.
pub fn squeue(jobs: &[String]) -> Result<BTreeMap<String, JobStates>, SlurmError> {
    let out = run(
        "squeue",
        &[
            "--me".into(),
            "--noheader".into(),
            "--format=%F|%i|%T".into(),
        ],
    )?;
    Ok(parse_squeue(&out, jobs))
}

pub fn parse_squeue(out: &str, jobs: &[String]) -> BTreeMap<String, JobStates> {
    let mut found: BTreeMap<String, JobStates> = BTreeMap::new();
    for line in out.lines() {
        let mut f = line.trim().split('|');
        let (Some(array), Some(id), Some(state)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if !jobs.iter().any(|j| j == array) {
            continue;
        }
        *found
            .entry(array.to_string())
            .or_default()
            .entry(state.to_string())
            .or_default() += elements_in(id);
    }
    found
}

/// How many array elements a job id stands for: `12_3` is one, `12_[0-4,7%2]` six.
fn elements_in(id: &str) -> usize {
    let Some((_, rest)) = id.split_once("_[") else {
        return 1;
    };
    let ranges = rest.trim_end_matches(']').split('%').next().unwrap_or("");
    ranges
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_count_elements_of_our_jobs_only() {
        let out = "41|41_[3-9,12%2]|PENDING\n41|41_1|RUNNING\n41|41_2|RUNNING\n42|42_[0-1]|PENDING\n7|7|RUNNING\n";
        let q = parse_squeue(out, &["41".into(), "42".into()]);
        assert_eq!(q.len(), 2);
        assert_eq!(q["41"]["PENDING"], 8);
        assert_eq!(q["41"]["RUNNING"], 2);
        assert_eq!(q["42"]["PENDING"], 2);
    }

    #[test]
    fn job_ids_from_sbatch() {
        assert_eq!(parse_job_id("1234\n"), Some("1234".into()));
        assert_eq!(parse_job_id("1234;census-test\n"), Some("1234".into()));
        assert_eq!(parse_job_id("sbatch: error: ...\n"), None);
    }
}
