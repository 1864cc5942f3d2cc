//! `findings`: for each claim of the paper that a study's analyses allow, one row with the
//! claim, the paper's figure, this study's statistic and whether it holds.
//!
//! Inputs are the study's `clustering` outputs and its networks' `fixed_points` outputs, told
//! apart by the tables they carry. Only trained networks that solve the task count for the
//! dynamics claims (unless the study keeps unsolved networks); a diverged network never does.
//! The thresholds are fixed here and in README, never tuned per study:
//!
//! | claim | statistic | holds when |
//! |---|---|---|
//! | (a) geometry clusters by architecture | silhouette by architecture within activation, permutation p | `score > 0` and `p < 0.05` |
//! | (b) topology does not | the same, on a topology distance | `p ≥ 0.05` |
//! | (c) flip-flop: 2^bits stable points | fraction of networks with exactly 2^bits stable points | `≥ 0.75` |
//! | (c) saddles between memories | fraction with at least bits·2^(bits−1) one-unstable-direction saddles | `≥ 0.75` |
//! | (d) sine: one fixed point per command | fraction of (network, command) pairs with exactly one fixed point | `≥ 0.75` |
//! | (d) frequency tracks ω | Pearson r of linearised frequency against ω | `r ≥ 0.9` |
//! | (e) CDI: approximate line attractor | fraction of networks whose median leading \|λ\| is within 0.05 of 1 | `≥ 0.75` |
//! | (e) vanilla integrates with one mode | median over vanilla networks of the modes needed for 90 % of the response | `≤ 1` |
//! | (e) gated cells spread it over several | the same median over gated networks | `> 1` |
//! | (f) trained and untrained separate | silhouette by training, permutation p | `score > 0` and `p < 0.05` |
//!
//! A claim whose inputs are missing or too few (no clustering of that metric, no solved network)
//! is a row with the verdict `not assessed` and the reason.

use super::estimate::{pairwise_bytes, pairwise_work, Shapes};
use super::network::NetworkRow;
use super::{Check, Context, Kind, Population, TaskError};
use crate::rnn::{Arch, TaskSpec};
use crate::table::{Column, Output, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingsParams {
    pub task: TaskSpec,
    /// Sine: how many commands the fixed points were found for (`fixed_points.conditions`).
    #[serde(default)]
    pub conditions: usize,
}

impl Check for FindingsParams {}

/// The clustering factor of the paper's claim about architecture, newest name first.
const ARCH_FACTORS: [&str; 2] = ["arch_within_activation", "arch"];
const TOPOLOGY: [&str; 2] = ["topology_matched", "topology_modal"];
const ALPHA: f64 = 0.05;
const MAJORITY: f64 = 0.75;
const LINE_ATTRACTOR: f64 = 0.05;
const RESPONSE_FRACTION: f64 = 0.9;
const FREQUENCY_R: f64 = 0.9;

pub struct Findings {
    /// The metrics of the geometry claims (a) and (f): every distance over probe states, in the
    /// order of `study::Analysis::KINDS` (`svcca`, `cka`, `shape`, `dsa`).
    pub geometry: Vec<&'static str>,
}

impl Kind for Findings {
    const NAME: &'static str = "findings";
    const VERSION: u32 = 1;
    type Params = Population<FindingsParams>;

    fn memory(&self, _: &Self::Params, inputs: &dyn Shapes) -> u64 {
        pairwise_bytes(inputs)
    }
    fn work(&self, _: &Self::Params, inputs: &dyn Shapes) -> Option<f64> {
        Some(pairwise_work(inputs))
    }
    fn run(&self, _: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError> {
        let mut clustering = Table::new();
        let mut nets = Vec::new();
        for out in inputs {
            if let Ok(t) = out.table("clustering") {
                clustering.append(t)?;
            } else if out.table("fixed_points").is_ok() {
                let row = NetworkRow::of(out)?;
                if row.trained && row.usable(p.keep_unsolved).is_ok() {
                    nets.push((row, out));
                }
            }
        }
        let mut rows = Rows::default();
        geometry_claims(&self.geometry, &clustering, &mut rows)?;
        if !nets.is_empty() || matches!(p.of.task, TaskSpec::Flipflop { .. }) {
            match &p.of.task {
                TaskSpec::Flipflop { bits, .. } => flipflop_claims(*bits, &nets, &mut rows)?,
                TaskSpec::Sine { .. } => {
                    let commands: Vec<f64> =
                        p.of.task.conditions(p.of.conditions).into_iter().map(|c| c.0).collect();
                    sine_claims(&commands, &nets, &mut rows)?
                }
                TaskSpec::Cdi { .. } => cdi_claims(&nets, &mut rows)?,
            }
        }
        Ok(Output::new().with("findings", rows.table()))
    }
}

/// One claim's verdict.
struct Claim {
    claim: &'static str,
    statement: String,
    figure: &'static str,
    metric: String,
    statistic: &'static str,
    value: f64,
    p_value: f64,
    n: usize,
    threshold: &'static str,
    /// `None`: not assessed, for the reason in `note`.
    holds: Option<bool>,
    note: String,
}

#[derive(Default)]
struct Rows(Vec<Claim>);

impl Rows {
    fn push(&mut self, c: Claim) {
        self.0.push(c);
    }

    fn table(self) -> Table {
        let c = &self.0;
        let strs = |f: fn(&Claim) -> String| Column::Str(c.iter().map(f).collect());
        let f64s = |f: fn(&Claim) -> f64| Column::F64(c.iter().map(f).collect());
        Table::new()
            .with("claim", strs(|c| c.claim.to_string()))
            .with("statement", strs(|c| c.statement.clone()))
            .with("figure", strs(|c| c.figure.to_string()))
            .with("metric", strs(|c| c.metric.clone()))
            .with("statistic", strs(|c| c.statistic.to_string()))
            .with("value", f64s(|c| c.value))
            .with("p_value", f64s(|c| c.p_value))
            .with("n_networks", Column::I64(c.iter().map(|c| c.n as i64).collect()))
            .with("threshold", strs(|c| c.threshold.to_string()))
            .with(
                "verdict",
                strs(|c| {
                    match c.holds {
                        Some(true) => "holds",
                        Some(false) => "does not hold",
                        None => "not assessed",
                    }
                    .to_string()
                }),
            )
            .with("note", strs(|c| c.note.clone()))
    }
}

/// (score, p, n) of a metric's clustering by the first of `factors` that was scored.
fn clustering_of(
    t: &Table,
    metric: &str,
    factors: &[&str],
) -> Result<Option<(f64, f64, usize, String)>, TaskError> {
    if t.num_rows() == 0 {
        return Ok(None);
    }
    let (m, f) = (t.strs("metric")?, t.strs("factor")?);
    let (score, p, n) = (t.f64s("score")?, t.f64s("p_value")?, t.i64s("n_networks")?);
    for factor in factors {
        if let Some(i) = (0..t.num_rows()).find(|&i| m[i] == metric && f[i] == *factor) {
            return Ok(Some((score[i], p[i], n[i] as usize, factor.to_string())));
        }
    }
    Ok(None)
}

fn geometry_claims(
    geometry: &[&str],
    clustering: &Table,
    rows: &mut Rows,
) -> Result<(), TaskError> {
    let metrics = if clustering.num_rows() == 0 {
        Vec::new()
    } else {
        let mut m = clustering.strs("metric")?.to_vec();
        m.dedup();
        m
    };
    let scored = |name: &str| metrics.iter().any(|m| m == name);
    for metric in geometry.iter().filter(|m| scored(m)) {
        rows.push(factor_claim(
            clustering,
            metric,
            "a",
            "geometry clusters by architecture",
            "1d, 2c, 3c",
            &ARCH_FACTORS,
            |s, p| s > 0.0 && p < ALPHA,
            "score > 0 and p < 0.05",
        )?);
    }
    for metric in TOPOLOGY.iter().filter(|m| scored(m)) {
        rows.push(factor_claim(
            clustering,
            metric,
            "b",
            "fixed-point topology does not cluster by architecture",
            "1f, 2e, 3d",
            &ARCH_FACTORS,
            |_, p| p >= ALPHA,
            "p ≥ 0.05",
        )?);
    }
    for metric in geometry.iter().filter(|m| scored(m)) {
        rows.push(factor_claim(
            clustering,
            metric,
            "f",
            "trained and untrained networks separate",
            "4",
            &["trained"],
            |s, p| s > 0.0 && p < ALPHA,
            "score > 0 and p < 0.05",
        )?);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn factor_claim(
    clustering: &Table,
    metric: &str,
    claim: &'static str,
    statement: &str,
    figure: &'static str,
    factors: &[&str],
    holds: fn(f64, f64) -> bool,
    threshold: &'static str,
) -> Result<Claim, TaskError> {
    let found = clustering_of(clustering, metric, factors)?;
    let (value, p_value, n, note, verdict) = match found {
        Some((s, p, n, factor)) if s.is_finite() && p.is_finite() => {
            (s, p, n, format!("factor {factor}"), Some(holds(s, p)))
        }
        Some((s, p, n, factor)) => (s, p, n, format!("factor {factor} could not be scored"), None),
        None => (
            f64::NAN,
            f64::NAN,
            0,
            "not scored: fewer than 2 groups or 3 networks".to_string(),
            None,
        ),
    };
    Ok(Claim {
        claim,
        statement: statement.to_string(),
        figure,
        metric: metric.to_string(),
        statistic: "silhouette",
        value,
        p_value,
        n,
        threshold,
        holds: verdict,
        note,
    })
}

/// A claim about a fraction of networks (or of network × condition pairs).
#[allow(clippy::too_many_arguments)]
fn fraction_claim(
    claim: &'static str,
    statement: String,
    figure: &'static str,
    statistic: &'static str,
    hits: usize,
    total: usize,
    n: usize,
    note: String,
) -> Claim {
    let value = hits as f64 / total as f64;
    Claim {
        claim,
        statement,
        figure,
        metric: String::new(),
        statistic,
        value: if total == 0 { f64::NAN } else { value },
        p_value: f64::NAN,
        n,
        threshold: "≥ 0.75",
        holds: (total > 0).then_some(value >= MAJORITY),
        note: if total == 0 {
            "no trained network that solves the task".to_string()
        } else {
            note
        },
    }
}

type Net<'a> = (NetworkRow, &'a Output);

/// The fixed points of one network: (condition, n_unstable) of each point that counts (certified
/// where the table says).
fn points(out: &Output) -> Result<Vec<(f64, i64)>, TaskError> {
    let t = out.table("fixed_points")?;
    let (cond, unstable) = (t.f64s("condition")?, t.i64s("n_unstable")?);
    let certified = t.bools("certified").ok();
    Ok((0..t.num_rows())
        .filter(|&i| certified.is_none_or(|c| c[i]))
        .map(|i| (cond[i], unstable[i]))
        .collect())
}

fn flipflop_claims(bits: usize, nets: &[Net], rows: &mut Rows) -> Result<(), TaskError> {
    let memories = 1usize << bits.min(20);
    let edges = bits * (memories / 2);
    let (mut stable_hits, mut saddle_hits) = (0, 0);
    let mut counts = BTreeMap::new();
    for (_, out) in nets {
        let p = points(out)?;
        let stable = p.iter().filter(|x| x.1 == 0).count();
        let saddles = p.iter().filter(|x| x.1 == 1).count();
        *counts.entry(stable).or_insert(0usize) += 1;
        stable_hits += usize::from(stable == memories);
        saddle_hits += usize::from(saddles >= edges);
    }
    let histogram = counts
        .iter()
        .map(|(k, v)| format!("{k} stable: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    rows.push(fraction_claim(
        "c",
        format!("flip-flop: 2^bits = {memories} stable fixed points"),
        "1e",
        "fraction of networks",
        stable_hits,
        nets.len(),
        nets.len(),
        histogram,
    ));
    rows.push(fraction_claim(
        "c",
        format!("flip-flop: at least {edges} one-unstable-direction saddles between memories"),
        "1e",
        "fraction of networks",
        saddle_hits,
        nets.len(),
        nets.len(),
        String::new(),
    ));
    Ok(())
}

/// `commands`: the conditions every network's fixed points were searched at.
fn sine_claims(commands: &[f64], nets: &[Net], rows: &mut Rows) -> Result<(), TaskError> {
    let (mut single, mut pairs) = (0, 0);
    let (mut freq, mut omega) = (Vec::new(), Vec::new());
    for (_, out) in nets {
        let mut per: BTreeMap<u64, usize> = commands.iter().map(|c| (c.to_bits(), 0)).collect();
        for (c, _) in points(out)? {
            *per.entry(c.to_bits()).or_default() += 1;
        }
        pairs += per.len();
        single += per.values().filter(|&&k| k == 1).count();
        let t = out.table("linear_frequency")?;
        let (f, w) = (t.f64s("frequency")?, t.f64s("omega")?);
        for i in (0..t.num_rows()).filter(|&i| f[i].is_finite()) {
            freq.push(f[i]);
            omega.push(w[i]);
        }
    }
    rows.push(fraction_claim(
        "d",
        "sine: one fixed point per command".to_string(),
        "2b",
        "fraction of (network, command) pairs",
        single,
        pairs,
        nets.len(),
        String::new(),
    ));
    let r = pearson(&freq, &omega);
    let median_error = median(freq.iter().zip(&omega).map(|(f, w)| (f - w).abs()).collect());
    rows.push(Claim {
        claim: "d",
        statement: "sine: the linearised frequency tracks the command ω".to_string(),
        figure: "2f",
        metric: String::new(),
        statistic: "Pearson r",
        value: r,
        p_value: f64::NAN,
        n: nets.len(),
        threshold: "r ≥ 0.9",
        holds: r.is_finite().then_some(r >= FREQUENCY_R),
        note: if r.is_finite() {
            format!(
                "{} fixed points with an oscillatory mode; median |f − ω| = {median_error:.4} cycles/step",
                freq.len()
            )
        } else {
            "fewer than 2 fixed points with an oscillatory mode".to_string()
        },
    });
    Ok(())
}

fn cdi_claims(nets: &[Net], rows: &mut Rows) -> Result<(), TaskError> {
    let mut line = 0;
    let mut leading = Vec::new();
    let (mut vanilla, mut gated) = (Vec::new(), Vec::new());
    for (row, out) in nets {
        let e = out.table("eigenvalues")?;
        let (k, re, im) = (e.i64s("k")?, e.f64s("re")?, e.f64s("im")?);
        let lead: Vec<f64> = (0..e.num_rows())
            .filter(|&i| k[i] == 0)
            .map(|i| re[i].hypot(im[i]))
            .collect();
        let m = median(lead);
        if m.is_finite() {
            leading.push(m);
            line += usize::from((m - 1.0).abs() <= LINE_ATTRACTOR);
        }
        let modes = median(modes_needed(out.table("mode_ablation")?)?);
        if modes.is_finite() {
            if row.arch == Arch::Vanilla {
                vanilla.push(modes);
            } else {
                gated.push(modes);
            }
        }
    }
    rows.push(fraction_claim(
        "e",
        "CDI: an approximate line attractor (leading |λ| ≈ 1)".to_string(),
        "3e",
        "fraction of networks",
        line,
        leading.len(),
        nets.len(),
        format!("median leading |λ| = {:.3}", median(leading.clone())),
    ));
    for (statement, values, threshold, holds) in [
        (
            "CDI: the vanilla RNN integrates with one mode",
            vanilla,
            "≤ 1",
            (|m| m <= 1.0) as fn(f64) -> bool,
        ),
        (
            "CDI: gated cells spread the integration over several modes",
            gated,
            "> 1",
            |m| m > 1.0,
        ),
    ] {
        let n = values.len();
        let m = median(values);
        rows.push(Claim {
            claim: "e",
            statement: statement.to_string(),
            figure: "3f",
            metric: String::new(),
            statistic: "median modes for 90 % of the response",
            value: m,
            p_value: f64::NAN,
            n,
            threshold,
            holds: m.is_finite().then(|| holds(m)),
            note: if n == 0 {
                "no such network solves the task".to_string()
            } else {
                String::new()
            },
        });
    }
    Ok(())
}

/// Per fixed point of a `mode_ablation` table: the fewest modes whose response is within
/// 10 % of the response with every mode kept.
fn modes_needed(t: &Table) -> Result<Vec<f64>, TaskError> {
    let (c, idx, m, r) = (
        t.f64s("condition")?,
        t.i64s("index")?,
        t.i64s("m")?,
        t.f64s("response")?,
    );
    let mut curves: BTreeMap<(u64, i64), Vec<(i64, f64)>> = BTreeMap::new();
    for i in 0..t.num_rows() {
        curves
            .entry((c[i].to_bits(), idx[i]))
            .or_default()
            .push((m[i], r[i]));
    }
    Ok(curves
        .into_values()
        .filter_map(|mut curve| {
            curve.sort_by_key(|x| x.0);
            let full = curve.last()?.1;
            if !full.is_finite() || full == 0.0 {
                return None;
            }
            curve
                .iter()
                .find(|(_, v)| (v - full).abs() <= (1.0 - RESPONSE_FRACTION) * full.abs())
                .map(|&(m, _)| m as f64)
        })
        .collect())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests;
