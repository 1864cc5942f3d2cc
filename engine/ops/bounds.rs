//! Resource bounds, checked before anything large is allocated:
//! 1. the task count, computed from the checked manifest by multiplying its grid sizes before
//!    the plan is built (so a grid of 10^11 configurations or 10^12 search trials is refused in
//!    microseconds), against `--max-tasks` (default 1,000,000);
//! 2. the memory each planned task needs (`exec::memory`), against `--max-memory` or the
//!    machine's memory (`MemTotal` in `/proc/meminfo`), before `apply` runs anything.

use crate::exec::memory;
use crate::manifest::{Analysis, Manifest, Study};
use crate::study::Tasks;
use crate::plan::{MemoryExcess, Plan, PlanError};

pub const DEFAULT_MAX_TASKS: u64 = 1_000_000;

/// How far a plan may go.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_tasks: u64,
    /// The memory one task may need; `None`: not checked.
    pub max_memory: Option<MemoryLimit>,
}

#[derive(Clone, Debug)]
pub struct MemoryLimit {
    pub bytes: u64,
    /// Where the figure comes from, for the error message.
    pub source: String,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tasks: DEFAULT_MAX_TASKS,
            max_memory: None,
        }
    }
}

impl MemoryLimit {
    /// This machine's memory, or `None` where `/proc/meminfo` cannot be read.
    pub fn machine() -> Option<MemoryLimit> {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        Some(MemoryLimit {
            bytes: mem_total(&text)?,
            source: "memory of this machine (MemTotal in /proc/meminfo)".to_string(),
        })
    }

    pub fn given(bytes: u64) -> MemoryLimit {
        MemoryLimit {
            bytes,
            source: "limit given by --max-memory".to_string(),
        }
    }
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The number of tasks `expand` creates for a manifest, before merging equal keys.
pub fn count_tasks(manifest: &Manifest) -> u128 {
    manifest.studies.iter().map(count_study).sum()
}

fn count_study(s: &Study) -> u128 {
    let configs = s.configs.len() as u128;
    let networks = configs * s.seeds.len() as u128 * (1 + u128::from(s.train.untrained));
    let search = s.search.as_ref().map_or(0, |x| configs * (x.trials as u128 + 1));
    let tasks: Vec<Tasks> = s.analyses.iter().map(Analysis::tasks).collect();
    let sum = |f: fn(&Tasks) -> u128| tasks.iter().map(f).sum::<u128>();
    let distances = sum(|t| t.distances);
    let per_network = 2 + sum(|t| t.per_network);
    let per_distance = sum(|t| t.per_distance);
    let findings = tasks.iter().any(|t| {
        t.findings && (t.per_network > 0 && networks > 0 || t.per_distance > 0 && distances > 0)
    });
    search + networks * per_network + distances * (1 + per_distance) + u128::from(findings)
}

/// Refuses a manifest that plans more than `limit` tasks.
pub fn check_count(manifest: &Manifest, limit: u64) -> Result<(), PlanError> {
    let planned = count_tasks(manifest);
    if planned > u128::from(limit) {
        return Err(PlanError::TooManyTasks { planned, limit });
    }
    Ok(())
}

/// Refuses a plan with a task whose estimated memory exceeds the limit (the largest such task
/// is named).
pub fn check_memory(plan: &Plan, limit: &MemoryLimit) -> Result<(), PlanError> {
    let worst = memory::estimates(plan)
        .into_iter()
        .map(|(n, bytes)| (bytes, plan.node(n)))
        .filter(|(bytes, _)| *bytes > limit.bytes)
        .max_by_key(|(bytes, _)| *bytes);
    match worst {
        None => Ok(()),
        Some((bytes, node)) => Err(PlanError::TooMuchMemory(Box::new(MemoryExcess {
            study: node.study.clone(),
            kind: node.kind,
            label: node.label.clone(),
            estimate: human(bytes),
            limit: human(limit.bytes),
            limit_source: limit.source.clone(),
        }))),
    }
}

/// Bytes as `51.5 GB` (powers of 1000).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut x = bytes as f64;
    let mut u = 0;
    while x >= 1000.0 && u + 1 < UNITS.len() {
        x /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

/// A size as the command line gives it: `2000000`, `512M`, `16G`, `1.5T` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, scale) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let scale = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("`{text}`: the unit must be K, M, G or T")),
            };
            (&t[..i], scale)
        }
        _ => (t, 1),
    };
    let x: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 16G or 512M"))?;
    if !(x.is_finite() && x > 0.0) {
        return Err(format!("`{text}` must be a positive size"));
    }
    Ok((x * scale as f64).min(u64::MAX as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Registry;

    fn manifest(path: &str) -> Manifest {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        crate::manifest::load(&path).unwrap()
    }

    #[test]
    fn the_count_is_the_plan_size_before_merging() {
        for path in ["experiments/smoke.toml", "experiments/default.toml"] {
            let m = manifest(path);
            let plan = super::super::plan_of(&m, &Registry::standard()).unwrap();
            assert_eq!(count_tasks(&m), plan.len() as u128, "{path}");
        }
        assert_eq!(count_tasks(&manifest("experiments/paper.toml")), 70_980);
    }

    #[test]
    fn sizes_and_meminfo_parse() {
        assert_eq!(parse_size("16G"), Ok(16 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("12Q").is_err() && parse_size("-1G").is_err());
        assert_eq!(mem_total("MemTotal:       24000 kB\nMemFree: 1 kB\n"), Some(24_576_000));
        assert_eq!(human(51_539_607_552), "51.5 GB");
        assert_eq!(human(999), "999 B");
    }
}
