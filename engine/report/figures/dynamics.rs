//! Dynamics figures: flip-flop fixed points by stability (Fig. 1e), sine Jacobian eigenvalues
//! (2d) and linear against command frequency (2f), CDI eigenvalue spectra (3e) and mode
//! ablation (3f). Summary curves are the mean over trained networks with a ± standard-error
//! band, as in the paper.

use std::collections::BTreeMap;

use super::geometry::{pc_panel, trajectory_layers, trials_shown};
use super::{figure, legend_for, mean_band};
use crate::report::data::{by_network, col, study_rows, table, Net, Study, Tables};
use crate::report::palette::{
    activation_colour, arch_colour, sequential, unstable_colour, BLACK, GREY,
};
use crate::report::pca::Pca;
use crate::report::plot::{Figure, Layer, LegendEntry, Marker, Panel};
use crate::report::ReportError;

/// Networks per architecture whose eigenvalues are drawn in one complex-plane panel.
const SPECTRA_SHOWN: usize = 10;

/// Fig. 1e: each representative flip-flop network's fixed points in the top two PCs of its
/// probe states (grey), coloured by their number of unstable dimensions.
pub fn flipflop_fixed_points(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let rows = study_rows(tables, "fixed_points", &study.name)?;
    if study.task != "flipflop" || rows.is_empty() {
        return Ok(Vec::new());
    }
    let fp = table(tables, "fixed_points").expect("rows imply a table");
    let fp_nets = by_network(tables, "fixed_points", &rows)?;
    let state = col("fixed_points", fp.lists("state"))?;
    let unstable = col("fixed_points", fp.i64s("n_unstable"))?;
    let state_rows = study_rows(tables, "states", &study.name)?;
    let state_nets = by_network(tables, "states", &state_rows)?;
    let mut fig = figure(
        study,
        "fixed-points",
        format!("{}: fixed points and their stability", study.name),
        "Fig. 1e. Fixed points of the networks of the trajectory figure, in the top two \
         principal components of their probe states (grey: the first probe trials). Colour: \
         number of unstable dimensions (eigenvalues of the Jacobian with |λ| > 1): black \
         stable, red one, green two, blue three, purple more."
            .to_string(),
        4,
    );
    let mut seen = Vec::new();
    for (arch, activation) in study.trained_configs() {
        let Some(net) = study.representative(&arch, &activation) else {
            continue;
        };
        let Some(mine) = fp_nets.get(&net.id) else {
            continue;
        };
        let (pca, mut layers) = match (state_nets.get(&net.id), table(tables, "states")) {
            (Some(s), Some(states)) => {
                let trial = col("states", states.i64s("trial"))?;
                let t = col("states", states.i64s("t"))?;
                let h = col("states", states.lists("h"))?;
                match trajectory_layers(s, trial, t, h, trials_shown(study)) {
                    Some((pca, lines)) => (pca, grey(lines)),
                    None => continue,
                }
            }
            _ => {
                let points: Vec<&[f32]> = mine.iter().map(|&i| state[i].as_slice()).collect();
                match Pca::fit(&points) {
                    Some(pca) => (pca, Vec::new()),
                    None => continue,
                }
            }
        };
        let mut groups: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
        for &i in mine {
            let k = unstable[i].min(4);
            groups.entry(k).or_default().push(pca.project(&state[i]));
            seen.push(k);
        }
        for (k, points) in groups {
            layers.push(Layer::Points {
                points,
                colour: unstable_colour(k),
                marker: Marker::Dot,
                size: 4,
            });
        }
        fig.panels.push(pc_panel(net, &pca, layers));
    }
    seen.sort();
    seen.dedup();
    fig.legend = seen
        .into_iter()
        .map(|k| LegendEntry {
            label: match k {
                0 => "stable".to_string(),
                4 => "4+ unstable".to_string(),
                k => format!("{k} unstable"),
            },
            colour: unstable_colour(k),
            marker: Marker::Dot,
        })
        .collect();
    Ok(vec![fig])
}

fn grey(lines: Vec<Layer>) -> Vec<Layer> {
    lines
        .into_iter()
        .map(|l| match l {
            Layer::Line { points, .. } => Layer::Line {
                points,
                colour: plotters::style::RGBColor(200, 200, 200),
                width: 1,
                dashed: false,
            },
            other => other,
        })
        .collect()
}

/// Trained networks of the study by architecture, in figure order.
fn trained_by_arch(study: &Study) -> Vec<(String, Vec<&Net>)> {
    let mut out: Vec<(String, Vec<&Net>)> = Vec::new();
    for net in study.ordered(Net::analysed) {
        match out.last_mut() {
            Some((arch, nets)) if *arch == net.arch => nets.push(net),
            _ => out.push((net.arch.clone(), vec![net])),
        }
    }
    out
}

/// Fig. 2d (right): eigenvalues of every fixed point's Jacobian on the complex plane with the
/// unit circle, one panel per architecture, coloured by the command input.
pub fn sine_eigenvalues(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let rows = study_rows(tables, "eigenvalues", &study.name)?;
    if study.task != "sine" || rows.is_empty() {
        return Ok(Vec::new());
    }
    let ev = table(tables, "eigenvalues").expect("rows imply a table");
    let per_net = by_network(tables, "eigenvalues", &rows)?;
    let cond = col("eigenvalues", ev.f64s("condition"))?;
    let re = col("eigenvalues", ev.f64s("re"))?;
    let im = col("eigenvalues", ev.f64s("im"))?;
    let (lo, hi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &i| {
            (a.min(cond[i]), b.max(cond[i]))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut fig = figure(
        study,
        "eigenvalues",
        format!("{}: eigenvalues of the fixed-point Jacobians", study.name),
        format!(
            "Fig. 2d. Eigenvalues of the Jacobian at every fixed point of the trained networks \
             (up to {SPECTRA_SHOWN} per architecture), coloured by the command input x (dark: \
             x = {lo:.2}, yellow: x = {hi:.2}); grey: the unit circle. The oscillatory pair \
             sits near the circle at an angle 2πω."
        ),
        4,
    );
    let circle: Vec<(f64, f64)> = (0..=128)
        .map(|k| {
            let a = k as f64 / 128.0 * std::f64::consts::TAU;
            (a.cos(), a.sin())
        })
        .collect();
    for (arch, nets) in trained_by_arch(study) {
        let mut by_cond: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
        for net in nets.iter().take(SPECTRA_SHOWN) {
            for &i in per_net.get(&net.id).map_or(&[][..], |v| v.as_slice()) {
                let level = ((cond[i] - lo) / span * 1000.0).round() as i64;
                by_cond.entry(level).or_default().push((re[i], im[i]));
            }
        }
        if by_cond.is_empty() {
            continue;
        }
        let mut layers = vec![Layer::Line {
            points: circle.clone(),
            colour: GREY,
            width: 1,
            dashed: false,
        }];
        for (level, points) in by_cond {
            layers.push(Layer::Points {
                points,
                colour: sequential(level as f64 / 1000.0),
                marker: Marker::Dot,
                size: 2,
            });
        }
        fig.panels.push(Panel {
            title: arch,
            x_label: "Re λ".into(),
            y_label: "Im λ".into(),
            layers,
            equal_aspect: true,
            bare: false,
            colour_bar: None,
        });
    }
    if !fig.panels.is_empty() {
        fig.legend = [(lo, 0.0), (hi, 1.0)]
            .iter()
            .map(|&(x, t)| LegendEntry {
                label: format!("x = {}", crate::report::plot::tick(&x)),
                colour: sequential(t),
                marker: Marker::Dot,
            })
            .collect();
    }
    Ok(vec![fig])
}

/// How one network's values at the same x (one per fixed point) become one value.
#[derive(Clone, Copy)]
enum Reduce {
    Mean,
    /// Robust to the few fixed points whose unstable modes blow a response up.
    Median,
}

/// Per trained network, its fixed points' values reduced at each x: (net, [(x, value)]).
fn per_network<'a>(
    nets: &BTreeMap<String, Vec<usize>>,
    study: &'a Study,
    reduce: Reduce,
    x: impl Fn(usize) -> f64,
    value: impl Fn(usize) -> f64,
) -> Vec<(&'a Net, Vec<(f64, f64)>)> {
    let mut out = Vec::new();
    for net in study.ordered(Net::analysed) {
        let Some(rows) = nets.get(&net.id) else {
            continue;
        };
        let mut samples: Vec<(f64, f64)> = rows
            .iter()
            .map(|&i| (x(i), value(i)))
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        samples.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut reduced = Vec::new();
        for group in samples.chunk_by(|a, b| a.0 == b.0) {
            let ys: Vec<f64> = group.iter().map(|p| p.1).collect();
            let v = match reduce {
                Reduce::Mean => ys.iter().sum::<f64>() / ys.len() as f64,
                Reduce::Median => median(&ys),
            };
            reduced.push((group[0].0, v));
        }
        out.push((net, reduced));
    }
    out
}

/// Median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}

/// Panels of mean ± SE curves grouped by architecture (and, when `by_activation`, a second
/// panel grouped by activation).
fn grouped_panel(
    curves: &[(&Net, Vec<(f64, f64)>)],
    by_arch: bool,
    title: String,
    x_label: &str,
    y_label: &str,
) -> Panel {
    let mut groups: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (net, points) in curves {
        let key = if by_arch { &net.arch } else { &net.activation };
        match groups.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => v.extend(points.iter().copied()),
            None => groups.push((key.clone(), points.clone())),
        }
    }
    let mut layers = Vec::new();
    for (key, samples) in groups {
        let colour = if by_arch {
            arch_colour(&key)
        } else {
            activation_colour(&key)
        };
        layers.extend(mean_band(samples, colour));
    }
    Panel {
        title,
        x_label: x_label.into(),
        y_label: y_label.into(),
        layers,
        equal_aspect: false,
        bare: false,
        colour_bar: None,
    }
}

fn legends(curves: &[(&Net, Vec<(f64, f64)>)], activations: bool) -> Vec<LegendEntry> {
    let arches: Vec<&str> = curves.iter().map(|(n, _)| n.arch.as_str()).collect();
    let mut out = legend_for(&arches, true);
    if activations {
        let acts: Vec<&str> = curves.iter().map(|(n, _)| n.activation.as_str()).collect();
        out.extend(legend_for(&acts, false));
    }
    out
}

/// Fig. 2f: frequency of the leading oscillatory mode against the command frequency ω, mean ±
/// SE over trained networks by architecture and by activation, with the identity line.
pub fn linear_frequency(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let rows = study_rows(tables, "linear_frequency", &study.name)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let lf = table(tables, "linear_frequency").expect("rows imply a table");
    let omega = col("linear_frequency", lf.f64s("omega"))?;
    let freq = col("linear_frequency", lf.f64s("frequency"))?;
    let nets = by_network(tables, "linear_frequency", &rows)?;
    let curves = per_network(&nets, study, Reduce::Mean, |i| omega[i], |i| freq[i]);
    let (lo, hi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &i| {
            (a.min(omega[i]), b.max(omega[i]))
        });
    let mut fig = figure(
        study,
        "linear-frequency",
        format!("{}: linear frequency against command frequency", study.name),
        "Fig. 2f. Frequency |arg λ|/2π of the leading complex eigenvalue pair at each \
         input-dependent fixed point against the command frequency ω, mean (line) ± standard \
         error (band) over trained networks, by architecture (left) and by activation (right). \
         Dashed: the identity."
            .to_string(),
        2,
    );
    for by_arch in [true, false] {
        let title = if by_arch {
            "by architecture"
        } else {
            "by activation"
        };
        let mut panel = grouped_panel(
            &curves,
            by_arch,
            title.into(),
            "ω (cycles/step)",
            "linear frequency",
        );
        if lo.is_finite() {
            panel.layers.push(Layer::Line {
                points: vec![(lo, lo), (hi, hi)],
                colour: BLACK,
                width: 1,
                dashed: true,
            });
        }
        fig.panels.push(panel);
    }
    fig.legend = legends(&curves, true);
    Ok(vec![fig])
}

/// Fig. 3e: eigenvalue magnitudes sorted (k-th largest), averaged over a context's fixed
/// points, mean ± SE over trained networks by architecture, one panel per context.
pub fn cdi_spectra(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let rows = study_rows(tables, "eigenvalues", &study.name)?;
    if study.task != "cdi" || rows.is_empty() {
        return Ok(Vec::new());
    }
    let ev = table(tables, "eigenvalues").expect("rows imply a table");
    let cond = col("eigenvalues", ev.f64s("condition"))?;
    let k = col("eigenvalues", ev.i64s("k"))?;
    let re = col("eigenvalues", ev.f64s("re"))?;
    let im = col("eigenvalues", ev.f64s("im"))?;
    let mut fig = figure(
        study,
        "eigenvalue-spectra",
        format!("{}: sorted eigenvalue magnitudes per context", study.name),
        "Fig. 3e. Magnitudes |λ| of the Jacobian eigenvalues, sorted (k = 1 the largest) and \
         averaged over the fixed points of a context, mean ± standard error over trained \
         networks by architecture. Gated architectures keep more eigenvalues near 1."
            .to_string(),
        2,
    );
    let mut all = Vec::new();
    for (c, rows) in by_condition(&rows, cond) {
        let nets = by_network(tables, "eigenvalues", &rows)?;
        let curves = per_network(
            &nets,
            study,
            Reduce::Mean,
            |i| (k[i] + 1) as f64,
            |i| re[i].hypot(im[i]),
        );
        fig.panels.push(grouped_panel(
            &curves,
            true,
            format!("context {c}"),
            "k",
            "|λ|",
        ));
        all.extend(curves);
    }
    fig.legend = legends(&all, false);
    Ok(vec![fig])
}

/// Rows split by their `condition` value, ascending.
fn by_condition(rows: &[usize], cond: &[f64]) -> Vec<(String, Vec<usize>)> {
    let mut v: Vec<usize> = rows.to_vec();
    v.sort_by(|&a, &b| cond[a].total_cmp(&cond[b]).then(a.cmp(&b)));
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    let mut last = f64::NAN;
    for i in v {
        if cond[i] != last || out.is_empty() {
            out.push((crate::report::plot::tick(&cond[i]), Vec::new()));
            last = cond[i];
        }
        out.last_mut().expect("pushed").1.push(i);
    }
    out.iter_mut().for_each(|(_, r)| r.sort());
    out
}

/// Fig. 3f: the linearised response to a unit pulse on the cued input keeping the top m modes,
/// averaged over a context's fixed points, mean ± SE over trained networks by architecture.
pub fn mode_ablation(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let rows = study_rows(tables, "mode_ablation", &study.name)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ma = table(tables, "mode_ablation").expect("rows imply a table");
    let cond = col("mode_ablation", ma.f64s("condition"))?;
    let m = col("mode_ablation", ma.i64s("m"))?;
    let response = col("mode_ablation", ma.f64s("response"))?;
    let mut fig = figure(
        study,
        "mode-ablation",
        format!(
            "{}: response of the linearised system against modes kept",
            study.name
        ),
        "Fig. 3f. Output of the linearised dynamics T−1 steps after a unit pulse on the cued \
         input, keeping the m modes of largest |λ|: per network the median over the fixed points \
         of a context (a mean would be swamped by the few points whose unstable modes blow the \
         pulse up), then mean ± standard error over trained networks by architecture."
            .to_string(),
        2,
    );
    let mut all = Vec::new();
    for (c, rows) in by_condition(&rows, cond) {
        let nets = by_network(tables, "mode_ablation", &rows)?;
        let curves = per_network(
            &nets,
            study,
            Reduce::Median,
            |i| m[i] as f64,
            |i| response[i],
        );
        fig.panels.push(grouped_panel(
            &curves,
            true,
            format!("context {c}"),
            "modes kept m",
            "response",
        ));
        all.extend(curves);
    }
    fig.legend = legends(&all, false);
    Ok(vec![fig])
}
