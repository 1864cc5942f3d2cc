//! Dynamics figures: flip-flop fixed points by stability (Fig. 1e), sine Jacobian eigenvalues
//! (2d) and linear against command frequency (2f), CDI eigenvalue spectra (3e) and mode
//! ablation (3f). Summary curves are the mean over trained networks with a ± standard-error
//! band, as in the paper.

use std::collections::BTreeMap;

use super::geometry::{choose_trials, omega_bar, pc_panel, trajectory_layers, OMEGA};
use super::{figure, legend_for, mean_band};
use crate::report::data::{by_network, col, study_rows, table, Net, Study, Tables};
use crate::report::palette::{activation_colour, arch_colour, unstable_colour, BLACK, GREY};
use crate::report::pca::Pca;
use crate::report::plot::{ColourBar, Figure, Layer, LegendEntry, Marker, Panel, Rgb};
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
                let chosen = choose_trials(study, s, trial).chosen;
                match trajectory_layers(s, trial, t, h, &chosen) {
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
    if fig
        .panels
        .iter()
        .any(|p| p.layers.iter().any(|l| matches!(l, Layer::Line { .. })))
    {
        fig.legend.push(LegendEntry {
            label: "probe trajectory".into(),
            colour: TRAJECTORY_GREY,
            marker: Marker::Line,
        });
    }
    Ok(vec![fig])
}

/// The probe trajectories behind the flip-flop fixed points.
const TRAJECTORY_GREY: Rgb = Rgb(200, 200, 200);

fn grey(lines: Vec<Layer>) -> Vec<Layer> {
    lines
        .into_iter()
        .map(|l| match l {
            Layer::Line { points, .. } => Layer::Line {
                points,
                colour: TRAJECTORY_GREY,
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
/// unit circle, one panel per architecture, coloured by the frequency ω the fixed point's
/// command asks for (the command x when the range is unknown); the oscillatory pair of each
/// fixed point (the one `analysis::linearise` takes the linear frequency from) ringed.
pub fn sine_eigenvalues(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let rows = study_rows(tables, "eigenvalues", &study.name)?;
    if study.task != "sine" || rows.is_empty() {
        return Ok(Vec::new());
    }
    let ev = table(tables, "eigenvalues").expect("rows imply a table");
    let per_net = by_network(tables, "eigenvalues", &rows)?;
    let cond = col("eigenvalues", ev.f64s("condition"))?;
    let index = col("eigenvalues", ev.i64s("index"))?;
    let k = col("eigenvalues", ev.i64s("k"))?;
    let re = col("eigenvalues", ev.f64s("re"))?;
    let im = col("eigenvalues", ev.f64s("im"))?;
    let (bar, value): (ColourBar, Box<dyn Fn(f64) -> f64>) = match omega_bar(study) {
        Some(bar) => (bar, Box::new(|x| study.omega_of(x).unwrap_or(f64::NAN))),
        None => {
            let (lo, hi) = rows
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &i| {
                    (a.min(cond[i]), b.max(cond[i]))
                });
            let bar = ColourBar {
                label: "command x".into(),
                lo,
                hi,
            };
            (bar, Box::new(|x| x))
        }
    };
    let mut fig =
        figure(
            study,
            "eigenvalues",
            format!("{}: eigenvalues of the fixed-point Jacobians", study.name),
            format!(
            "Fig. 2d. Eigenvalues of the Jacobian at every fixed point of the trained networks \
             (up to {SPECTRA_SHOWN} per architecture), coloured by the {} of the fixed point's \
             command; ringed: each fixed point's oscillatory pair, the complex pair of largest \
             modulus, whose angle gives the linear frequency of the next figure (|arg λ|/2π, \
             close to ω in a network that solves the task); grey: the unit circle.",
            if bar.label == OMEGA { "frequency ω" } else { "input x" }
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
        let mut all = Colours::default();
        let mut pairs = Colours::default();
        for net in nets.iter().take(SPECTRA_SHOWN) {
            let mine = per_net.get(&net.id).map_or(&[][..], |v| v.as_slice());
            let oscillatory = oscillatory_pairs(mine, cond, index, k, re, im);
            for &i in mine {
                let colour = bar.colour(value(cond[i]));
                all.add(colour, (re[i], im[i]));
                if oscillatory.contains(&i) {
                    pairs.add(colour, (re[i], im[i]));
                }
            }
        }
        if all.0.is_empty() {
            continue;
        }
        let mut layers = vec![Layer::Line {
            points: circle.clone(),
            colour: GREY,
            width: 1,
            dashed: false,
        }];
        layers.extend(all.layers(2));
        let ringed: Vec<(f64, f64)> = pairs
            .0
            .iter()
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        layers.push(Layer::Points {
            points: ringed,
            colour: BLACK,
            marker: Marker::Hollow,
            size: 4,
        });
        layers.extend(pairs.layers(3));
        fig.panels.push(Panel {
            title: arch,
            x_label: "Re λ".into(),
            y_label: "Im λ".into(),
            layers,
            equal_aspect: true,
            bare: false,
            colour_bar: None,
            note: String::new(),
        });
    }
    if !fig.panels.is_empty() {
        fig.legend = vec![
            LegendEntry {
                label: "unit circle".into(),
                colour: GREY,
                marker: Marker::Line,
            },
            LegendEntry {
                label: "oscillatory pair".into(),
                colour: BLACK,
                marker: Marker::Hollow,
            },
        ];
        fig.colour_bar = Some(bar);
    }
    Ok(vec![fig])
}

/// Points grouped by colour, in order of first appearance.
#[derive(Default)]
struct Colours(Vec<(Rgb, Vec<(f64, f64)>)>);

impl Colours {
    fn add(&mut self, colour: Rgb, p: (f64, f64)) {
        match self.0.iter_mut().find(|(c, _)| *c == colour) {
            Some((_, v)) => v.push(p),
            None => self.0.push((colour, vec![p])),
        }
    }

    fn layers(&self, size: u32) -> Vec<Layer> {
        self.0
            .iter()
            .map(|(colour, points)| Layer::Points {
                points: points.clone(),
                colour: *colour,
                marker: Marker::Dot,
                size,
            })
            .collect()
    }
}

/// Rows of one network's eigenvalues that are the oscillatory pair of their fixed point: as
/// `analysis::linearise::oscillation_frequency` takes it, the first complex eigenvalue in
/// the order `k` (modulus descending), with its conjugate.
pub(super) fn oscillatory_pairs(
    rows: &[usize],
    cond: &[f64],
    index: &[i64],
    k: &[i64],
    re: &[f64],
    im: &[f64],
) -> Vec<usize> {
    let mut points: BTreeMap<(u64, i64), Vec<usize>> = BTreeMap::new();
    for &i in rows {
        points
            .entry((cond[i].to_bits(), index[i]))
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    for mut eig in points.into_values() {
        eig.sort_by_key(|&i| k[i]);
        let Some(&first) = eig.iter().find(|&&i| im[i] != 0.0) else {
            continue;
        };
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs());
        out.extend(
            eig.iter()
                .copied()
                .filter(|&i| close(re[i], re[first]) && close(im[i].abs(), im[first].abs()))
                .take(2),
        );
    }
    out
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
        note: String::new(),
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
    if lo.is_finite() {
        fig.legend.push(LegendEntry {
            label: "identity".into(),
            colour: BLACK,
            marker: Marker::Line,
        });
    }
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
