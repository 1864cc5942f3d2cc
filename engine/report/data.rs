//! Reading the exported tables for the figures: which studies there are, each network's
//! configuration (from `networks`, or from any per-network table when `networks` is absent),
//! and the rows of a table that belong to one study or one network.
//!
//! A missing table reads as "no rows"; a table whose column has the wrong type is an error
//! naming the table and column.

use std::collections::BTreeMap;

use super::palette::{activation_rank, arch_rank};
use super::ReportError;
use crate::table::{Table, TableError};

pub type Tables = BTreeMap<&'static str, Table>;

/// One network's configuration columns, as every per-network row carries them.
#[derive(Clone, Debug, PartialEq)]
pub struct Net {
    pub id: String,
    pub arch: String,
    pub activation: String,
    pub seed: i64,
    pub trained: bool,
    /// From `networks`; NaN when unknown.
    pub val_loss: f64,
    /// The study's analyses of trained networks leave it out as unsolved (`excluded`), so the
    /// figures of trained networks do too.
    pub set_aside: bool,
}

impl Net {
    /// A trained network the study's analyses keep (it solves the task, or the study keeps
    /// unsolved networks): what the figures of trained networks show.
    pub fn analysed(&self) -> bool {
        self.trained && !self.set_aside
    }

    /// The order of every figure's networks: architecture, activation, trained first, seed.
    pub fn order_key(&self) -> (usize, usize, bool, i64, &str) {
        (
            arch_rank(&self.arch),
            activation_rank(&self.activation),
            !self.trained,
            self.seed,
            &self.id,
        )
    }
}

/// Attaches the table name to a column error.
pub fn col<T>(table: &str, r: Result<T, TableError>) -> Result<T, ReportError> {
    r.map_err(|source| ReportError::Table {
        table: table.to_string(),
        source,
    })
}

/// A table with at least one row, or `None`.
pub fn table<'a>(tables: &'a Tables, name: &str) -> Option<&'a Table> {
    tables.get(name).filter(|t| t.num_rows() > 0)
}

/// Row indices of `name` whose `study` is `study`.
pub fn study_rows(tables: &Tables, name: &str, study: &str) -> Result<Vec<usize>, ReportError> {
    let Some(t) = table(tables, name) else {
        return Ok(Vec::new());
    };
    let studies = col(name, t.strs("study"))?;
    Ok((0..t.num_rows()).filter(|&i| studies[i] == study).collect())
}

/// Rows of `name` in `rows`, grouped by `network_id`, keeping row order within a network.
pub fn by_network(
    tables: &Tables,
    name: &str,
    rows: &[usize],
) -> Result<BTreeMap<String, Vec<usize>>, ReportError> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    if let Some(t) = table(tables, name) {
        let ids = col(name, t.strs("network_id"))?;
        for &i in rows {
            out.entry(ids[i].clone()).or_default().push(i);
        }
    }
    Ok(out)
}

/// A study: its name, its task kind, and its networks by id.
#[derive(Clone, Debug, Default)]
pub struct Study {
    pub name: String,
    pub task: String,
    pub nets: BTreeMap<String, Net>,
    /// Sine: `(freq_min, freq_range)` from `networks`, so that a command `x` asks for the
    /// frequency `ω = freq_min + freq_range · x` (SPEC §2).
    pub omega: Option<(f64, f64)>,
    /// Sine: the command `x` of each probe trial, by trial index (empty when unknown: the
    /// tables do not hold the probe inputs; `report::render_for` regenerates them).
    pub probe_x: Vec<f64>,
}

impl Study {
    /// The frequency a command `x` asks for, when the study is a sine study with known range.
    pub fn omega_of(&self, x: f64) -> Option<f64> {
        self.omega.map(|(lo, range)| lo + range * x)
    }

    /// Networks in figure order (see [`Net::order_key`]), restricted by `keep`.
    pub fn ordered(&self, keep: impl Fn(&Net) -> bool) -> Vec<&Net> {
        let mut v: Vec<&Net> = self.nets.values().filter(|n| keep(n)).collect();
        v.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        v
    }

    /// The trained network shown for an (arch, activation): lowest validation loss, then
    /// figure order.
    pub fn representative(&self, arch: &str, activation: &str) -> Option<&Net> {
        self.ordered(|n| n.analysed() && n.arch == arch && n.activation == activation)
            .into_iter()
            .min_by(|a, b| {
                let la = if a.val_loss.is_nan() {
                    f64::INFINITY
                } else {
                    a.val_loss
                };
                let lb = if b.val_loss.is_nan() {
                    f64::INFINITY
                } else {
                    b.val_loss
                };
                la.total_cmp(&lb)
            })
    }

    /// (arch, activation) pairs among trained networks that solve the task, in figure order.
    pub fn trained_configs(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .ordered(Net::analysed)
            .into_iter()
            .map(|n| (n.arch.clone(), n.activation.clone()))
            .collect();
        v.dedup();
        v
    }
}

const TASK_ORDER: [&str; 3] = ["flipflop", "sine", "cdi"];

/// Every study named in any table, in the paper's task order, then by name.
pub fn studies(tables: &Tables) -> Result<Vec<Study>, ReportError> {
    let mut found: BTreeMap<String, Study> = BTreeMap::new();
    for (&name, t) in tables {
        if t.num_rows() == 0 || t.column("study").is_err() || t.column("task").is_err() {
            continue;
        }
        let studies = col(name, t.strs("study"))?;
        let tasks = col(name, t.strs("task"))?;
        for i in 0..t.num_rows() {
            if !found.contains_key(&studies[i]) {
                found.insert(
                    studies[i].clone(),
                    Study {
                        name: studies[i].clone(),
                        task: tasks[i].clone(),
                        ..Study::default()
                    },
                );
            }
        }
    }
    for (&name, t) in tables {
        if t.num_rows() == 0 || t.column("arch").is_err() || t.column("network_id").is_err() {
            continue;
        }
        add_nets(&mut found, name, t)?;
    }
    set_aside_unsolved(&mut found, tables)?;
    sine_frequencies(&mut found, tables)?;
    let mut out: Vec<Study> = found.into_values().collect();
    out.sort_by_key(|s| {
        let rank = TASK_ORDER
            .iter()
            .position(|t| *t == s.task)
            .unwrap_or(TASK_ORDER.len());
        (rank, s.name.clone())
    });
    Ok(out)
}

fn add_nets(found: &mut BTreeMap<String, Study>, name: &str, t: &Table) -> Result<(), ReportError> {
    let studies = col(name, t.strs("study"))?;
    let ids = col(name, t.strs("network_id"))?;
    let arch = col(name, t.strs("arch"))?;
    let activation = col(name, t.strs("activation"))?;
    let seed = col(name, t.i64s("seed"))?;
    let trained = col(name, t.bools("trained"))?;
    let val_loss = if name == "networks" {
        Some(col(name, t.opt_f64s("val_loss"))?)
    } else {
        None
    };
    for i in 0..t.num_rows() {
        let Some(study) = found.get_mut(&studies[i]) else {
            continue;
        };
        let loss = val_loss.and_then(|v| v[i]).unwrap_or(f64::NAN);
        let net = study.nets.entry(ids[i].clone()).or_insert_with(|| Net {
            id: ids[i].clone(),
            arch: arch[i].clone(),
            activation: activation[i].clone(),
            seed: seed[i],
            trained: trained[i],
            val_loss: loss,
            set_aside: false,
        });
        if !loss.is_nan() {
            net.val_loss = loss;
        }
    }
    Ok(())
}

/// Marks the networks that `excluded` lists as unsolved.
fn set_aside_unsolved(
    found: &mut BTreeMap<String, Study>,
    tables: &Tables,
) -> Result<(), ReportError> {
    let Some(t) = table(tables, "excluded") else {
        return Ok(());
    };
    let name = "excluded";
    let (studies, ids) = (
        col(name, t.strs("study"))?,
        col(name, t.strs("network_id"))?,
    );
    let reasons = col(name, t.strs("reason"))?;
    for i in (0..t.num_rows()).filter(|&i| reasons[i].starts_with("unsolved")) {
        if let Some(net) = found
            .get_mut(&studies[i])
            .and_then(|s| s.nets.get_mut(&ids[i]))
        {
            net.set_aside = true;
        }
    }
    Ok(())
}

/// The sine studies' frequency range, from the first `networks` row of each that has one.
fn sine_frequencies(
    found: &mut BTreeMap<String, Study>,
    tables: &Tables,
) -> Result<(), ReportError> {
    let Some(t) = table(tables, "networks") else {
        return Ok(());
    };
    if t.column("freq_min").is_err() || t.column("freq_range").is_err() {
        return Ok(());
    }
    let name = "networks";
    let studies = col(name, t.strs("study"))?;
    let (lo, range) = (
        col(name, t.f64s("freq_min"))?,
        col(name, t.f64s("freq_range"))?,
    );
    for i in 0..t.num_rows() {
        if let Some(s) = found.get_mut(&studies[i]) {
            if s.task == "sine" && s.omega.is_none() && lo[i].is_finite() && range[i].is_finite() {
                s.omega = Some((lo[i], range[i]));
            }
        }
    }
    Ok(())
}

/// Mean and standard error of `y` at each distinct `x` (ascending); SE is 0 for one sample.
pub fn mean_se(mut samples: Vec<(f64, f64)>) -> Vec<(f64, f64, f64)> {
    samples.retain(|p| p.0.is_finite() && p.1.is_finite());
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let x = samples[i].0;
        let j = i + samples[i..].iter().take_while(|p| p.0 == x).count();
        let ys: Vec<f64> = samples[i..j].iter().map(|p| p.1).collect();
        let n = ys.len() as f64;
        let mean = ys.iter().sum::<f64>() / n;
        let se = if ys.len() > 1 {
            (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / n.sqrt()
        } else {
            0.0
        };
        out.push((x, mean, se));
        i = j;
    }
    out
}
