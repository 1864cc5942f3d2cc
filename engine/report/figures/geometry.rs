//! Representational-geometry figures: probe trajectories in PC space, distance-matrix heatmaps,
//! MDS embeddings by architecture and by activation, and trained against untrained networks.

use std::collections::BTreeMap;

use super::{figure, legend_for};
use crate::report::data::{by_network, col, study_rows, table, Net, Study, Tables};
use crate::report::palette::{
    activation_colour, arch_colour, sequential, trained_colour, BLACK, GREY,
};
use crate::report::pca::Pca;
use crate::report::plot::{Figure, Layer, LegendEntry, Marker, Panel};
use crate::report::ReportError;

/// Trials drawn per network in a trajectory panel (flip-flop trials are long and jumpy:
/// fewer of them).
const TRIALS_SHOWN: usize = 8;
const FLIPFLOP_TRIALS_SHOWN: usize = 4;

pub(super) fn trials_shown(study: &Study) -> usize {
    if study.task == "flipflop" {
        FLIPFLOP_TRIALS_SHOWN
    } else {
        TRIALS_SHOWN
    }
}
/// Heatmaps larger than this are shown block-averaged to this many rows.
const HEATMAP_MAX: usize = 160;

const METRIC_ORDER: [&str; 6] = [
    "svcca",
    "cka",
    "shape",
    "dsa",
    "topology_modal",
    "topology_matched",
];

fn metric_rank(m: &str) -> (usize, String) {
    let r = METRIC_ORDER
        .iter()
        .position(|k| *k == m)
        .unwrap_or(METRIC_ORDER.len());
    (r, m.to_string())
}

fn is_geometry(metric: &str) -> bool {
    !metric.starts_with("topology")
}

/// Figs. 1b/2b/3b: for each trained (arch, activation), the representative network's first
/// probe trials in its top two PCs; fixed points (black) on top for sine and CDI.
pub fn trajectories(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let rows = study_rows(tables, "states", &study.name)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let states = table(tables, "states").expect("rows imply a table");
    let per_net = by_network(tables, "states", &rows)?;
    let trial = col("states", states.i64s("trial"))?;
    let t = col("states", states.i64s("t"))?;
    let h = col("states", states.lists("h"))?;
    let shown: Vec<&Net> = study
        .trained_configs()
        .iter()
        .filter_map(|(arch, act)| study.representative(arch, act))
        .collect();
    let fixed = if study.task == "flipflop" {
        BTreeMap::new()
    } else {
        fixed_point_states(tables, study, &shown)?
    };
    let mut fig =
        figure(
            study,
            "trajectories",
            format!(
                "{}: probe trajectories, top two principal components",
                study.name
            ),
            format!(
            "Figs. 1b/2b/3b. For each trained architecture and activation, the network with the \
             lowest validation loss: its first {} probe trials (colour: trial, dark to yellow) \
             projected on the top two principal components of all its probe states.{}",
            trials_shown(study),
            if fixed.is_empty() { "" } else { " Black dots: its fixed points." }
        ),
            4,
        );
    for net in shown {
        let Some(mine) = per_net.get(&net.id) else {
            continue;
        };
        let Some((pca, mut layers)) = trajectory_layers(mine, trial, t, h, trials_shown(study))
        else {
            continue;
        };
        if let Some(points) = fixed.get(&net.id) {
            layers.push(Layer::Points {
                points: points.iter().map(|s| pca.project(s)).collect(),
                colour: BLACK,
                marker: Marker::Dot,
                size: 3,
            });
        }
        fig.panels.push(pc_panel(net, &pca, layers));
    }
    Ok(vec![fig])
}

/// A panel in PC coordinates titled by the network's configuration.
pub(super) fn pc_panel(net: &Net, pca: &Pca, layers: Vec<Layer>) -> Panel {
    let pct = |k: usize| 100.0 * pca.explained.get(k).copied().unwrap_or(0.0);
    Panel {
        title: format!("{} {} (seed {})", net.arch, net.activation, net.seed),
        x_label: format!("PC1 ({:.0}%)", pct(0)),
        y_label: format!("PC2 ({:.0}%)", pct(1)),
        layers,
        equal_aspect: true,
        bare: false,
        colour_bar: None,
    }
}

/// The PCA of one network's states and its first trials as lines.
pub(super) fn trajectory_layers(
    rows: &[usize],
    trial: &[i64],
    t: &[i64],
    h: &[Vec<f32>],
    max_trials: usize,
) -> Option<(Pca, Vec<Layer>)> {
    let all: Vec<&[f32]> = rows.iter().map(|&i| h[i].as_slice()).collect();
    let pca = Pca::fit(&all)?;
    let mut trials: BTreeMap<i64, Vec<(i64, usize)>> = BTreeMap::new();
    for &i in rows {
        trials.entry(trial[i]).or_default().push((t[i], i));
    }
    let shown = trials.len().min(max_trials);
    let layers = trials
        .into_values()
        .take(shown)
        .enumerate()
        .map(|(k, mut steps)| {
            steps.sort();
            Layer::Line {
                points: steps.iter().map(|&(_, i)| pca.project(&h[i])).collect(),
                colour: sequential(k as f64 / (shown.max(2) - 1) as f64),
                width: 1,
                dashed: false,
            }
        })
        .collect();
    Some((pca, layers))
}

/// Fixed-point states of the networks `of` the study, by network id.
fn fixed_point_states(
    tables: &Tables,
    study: &Study,
    of: &[&Net],
) -> Result<BTreeMap<String, Vec<Vec<f32>>>, ReportError> {
    let rows = study_rows(tables, "fixed_points", &study.name)?;
    let mut out: BTreeMap<String, Vec<Vec<f32>>> = BTreeMap::new();
    if rows.is_empty() {
        return Ok(out);
    }
    let fp = table(tables, "fixed_points").expect("rows imply a table");
    let ids = col("fixed_points", fp.strs("network_id"))?;
    let state = col("fixed_points", fp.lists("state"))?;
    for i in rows {
        if of.iter().any(|n| n.id == ids[i]) {
            out.entry(ids[i].clone())
                .or_default()
                .push(state[i].clone());
        }
    }
    Ok(out)
}

/// Networks named by `ids` in figure order; ids with no known configuration go last by id.
fn order_ids<'a>(study: &'a Study, ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut v: Vec<&String> = ids.collect();
    v.sort();
    v.dedup();
    v.sort_by(|a, b| match (study.nets.get(*a), study.nets.get(*b)) {
        (Some(x), Some(y)) => x.order_key().cmp(&y.order_key()),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    });
    v.into_iter().cloned().collect()
}

/// Fig. 1c: every distance matrix as a heatmap, networks ordered by architecture, activation,
/// trained; strips on the left give each row's architecture and activation.
pub fn distance_heatmaps(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let rows = study_rows(tables, "similarity", &study.name)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sim = table(tables, "similarity").expect("rows imply a table");
    let metric = col("similarity", sim.strs("metric"))?;
    let a = col("similarity", sim.strs("network_a"))?;
    let b = col("similarity", sim.strs("network_b"))?;
    let d = col("similarity", sim.f64s("distance"))?;
    let mut by_metric: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    for i in rows {
        by_metric
            .entry(metric_rank(&metric[i]))
            .or_default()
            .push(i);
    }
    let mut fig = figure(
        study,
        "distances",
        format!("{}: network–network distance matrices", study.name),
        "Fig. 1c. Distance between every pair of networks for each metric (dark: close, \
         yellow: the largest distance in the panel, given in its title). Rows and columns are \
         ordered by architecture, activation, then trained before untrained; the strips on the \
         left give each row's architecture (outer) and activation (inner)."
            .to_string(),
        3,
    );
    let mut arches = Vec::new();
    let mut activations = Vec::new();
    for ((_, name), idx) in by_metric {
        let ids = order_ids(study, idx.iter().map(|&i| &a[i]));
        let pos: BTreeMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(k, id)| (id.as_str(), k))
            .collect();
        let n = ids.len();
        let mut m = vec![f64::NAN; n * n];
        for &i in &idx {
            if let (Some(&p), Some(&q)) = (pos.get(a[i].as_str()), pos.get(b[i].as_str())) {
                m[p * n + q] = d[i];
            }
        }
        let (cells, block) = block_size(n);
        let max = m
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let shown = cells_of(&m, n, block, cells);
        let mut layers = Vec::new();
        for p in 0..cells {
            for q in 0..cells {
                let v = shown[p * cells + q];
                let y = (cells - 1 - p) as f64;
                layers.push(Layer::Rect {
                    from: (q as f64, y),
                    to: (q as f64 + 1.0, y + 1.0),
                    colour: if v.is_finite() {
                        sequential(if max > 0.0 { v / max } else { 0.0 })
                    } else {
                        GREY
                    },
                });
            }
            let net = study.nets.get(&ids[p * block]);
            let y = (cells - 1 - p) as f64;
            let (arch, act) = net.map_or(("", ""), |n| (n.arch.as_str(), n.activation.as_str()));
            arches.push(arch.to_string());
            activations.push(act.to_string());
            let strip = (cells as f64 / 30.0).max(0.1);
            layers.push(Layer::Rect {
                from: (-2.0 * strip - 0.4, y),
                to: (-strip - 0.4, y + 1.0),
                colour: arch_colour(arch),
            });
            layers.push(Layer::Rect {
                from: (-strip - 0.2, y),
                to: (-0.2, y + 1.0),
                colour: activation_colour(act),
            });
        }
        let title = if block > 1 {
            format!("{name} (max {:.3}; {n} networks in blocks of {block})", max)
        } else {
            format!("{name} (max {:.3}; {n} networks)", max)
        };
        fig.panels.push(Panel {
            title,
            layers,
            equal_aspect: true,
            bare: true,
            ..Panel::default()
        });
    }
    let arches: Vec<&str> = arches
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let acts: Vec<&str> = activations
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    fig.legend = legend_for(&arches, true);
    fig.legend.extend(legend_for(&acts, false));
    Ok(vec![fig])
}

/// Cells a side and rows per block, so that a matrix of `n` rows shows at most
/// `HEATMAP_MAX` cells a side.
fn block_size(n: usize) -> (usize, usize) {
    let block = n.div_ceil(HEATMAP_MAX).max(1);
    (n.div_ceil(block), block)
}

/// The block-averaged matrix (mean of the finite entries of each block; NaN if none).
fn cells_of(m: &[f64], n: usize, block: usize, cells: usize) -> Vec<f64> {
    if block == 1 {
        return m.to_vec();
    }
    let mut out = vec![f64::NAN; cells * cells];
    for p in 0..cells {
        for q in 0..cells {
            let (mut s, mut c) = (0.0, 0usize);
            for i in p * block..((p + 1) * block).min(n) {
                for j in q * block..((q + 1) * block).min(n) {
                    if m[i * n + j].is_finite() {
                        s += m[i * n + j];
                        c += 1;
                    }
                }
            }
            if c > 0 {
                out[p * cells + q] = s / c as f64;
            }
        }
    }
    out
}

/// ((metric rank, metric), method) → rows of a study's embedding.
type Embeddings = BTreeMap<((usize, String), String), Vec<usize>>;

/// The study's embeddings, metrics in the fixed order.
/// The `embedding` table's `network_id`, `x` and `y` columns, if the table is there.
type Points<'a> = (&'a [String], &'a [f64], &'a [f64]);

fn points(tables: &Tables) -> Result<Option<Points<'_>>, ReportError> {
    let Some(e) = table(tables, "embedding") else {
        return Ok(None);
    };
    Ok(Some((
        col("embedding", e.strs("network_id"))?,
        col("embedding", e.f64s("x"))?,
        col("embedding", e.f64s("y"))?,
    )))
}

fn embeddings(tables: &Tables, study: &Study) -> Result<Embeddings, ReportError> {
    let rows = study_rows(tables, "embedding", &study.name)?;
    let mut out = Embeddings::new();
    if let Some(e) = table(tables, "embedding") {
        let metric = col("embedding", e.strs("metric"))?;
        let method = col("embedding", e.strs("method"))?;
        for i in rows {
            out.entry((metric_rank(&metric[i]), method[i].clone()))
                .or_default()
                .push(i);
        }
    }
    Ok(out)
}

/// Points of an embedding grouped by (colour, marker), in figure order of their networks.
fn scatter(
    study: &Study,
    rows: &[usize],
    ids: &[String],
    x: &[f64],
    y: &[f64],
    style: impl Fn(&Net) -> (plotters::style::RGBColor, Marker),
) -> Vec<Layer> {
    let order = order_ids(study, rows.iter().map(|&i| &ids[i]));
    let at: BTreeMap<&str, usize> = rows.iter().map(|&i| (ids[i].as_str(), i)).collect();
    let mut layers: Vec<Layer> = Vec::new();
    for id in &order {
        let Some(net) = study.nets.get(id) else {
            continue;
        };
        let (colour, marker) = style(net);
        let i = at[id.as_str()];
        match layers.iter_mut().find(|l| {
            matches!(l, Layer::Points { colour: c, marker: m, .. } if *c == colour && *m == marker)
        }) {
            Some(Layer::Points { points, .. }) => points.push((x[i], y[i])),
            _ => layers.push(Layer::Points {
                points: vec![(x[i], y[i])],
                colour,
                marker,
                size: 5,
            }),
        }
    }
    layers
}

fn trained_marker(net: &Net) -> Marker {
    if net.trained {
        Marker::Dot
    } else {
        Marker::Hollow
    }
}

/// The paper's MDS figure for a task and kind of metric.
fn paper_mds_figure(task: &str, geometry: bool) -> &'static str {
    match (task, geometry) {
        ("flipflop", true) => "Fig. 1d",
        ("flipflop", false) => "Fig. 1f",
        ("sine", true) => "Fig. 2c",
        ("sine", false) => "Fig. 2e",
        ("cdi", true) => "Fig. 3c",
        ("cdi", false) => "Fig. 3d",
        (_, true) => "Figs. 1d, 2c, 3c",
        (_, false) => "Figs. 1f, 2e, 3d",
    }
}

/// Figs. 1d/1f, 2c/2e, 3c/3d: each embedding coloured by architecture and by activation;
/// untrained controls as rings.
pub fn mds(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let groups = embeddings(tables, study)?;
    let Some((ids, x, y)) = points(tables)? else {
        return Ok(Vec::new());
    };
    let mut methods: BTreeMap<&str, usize> = BTreeMap::new();
    for ((_, metric), _) in groups.keys() {
        *methods.entry(metric.as_str()).or_default() += 1;
    }
    let mut out = Vec::new();
    for (((_, metric), method), rows) in &groups {
        let name = if methods[metric.as_str()] > 1 {
            format!("mds-{metric}-{method}")
        } else {
            format!("mds-{metric}")
        };
        let paper = match metric.as_str() {
            "dsa" => "Beyond the paper: dynamical similarity (DSA, Ostrow et al. 2023)",
            m => paper_mds_figure(&study.task, is_geometry(m)),
        };
        let mut fig = figure(
            study,
            &name,
            format!("{}: MDS of {metric} distances ({method})", study.name),
            format!(
                "{paper}. Two-dimensional {method} embedding of the {metric} distances, \
                 coloured by architecture (left) and by activation (right); filled dots are \
                 trained networks, rings their untrained controls."
            ),
            2,
        );
        let present: Vec<&Net> = rows
            .iter()
            .filter_map(|&i| study.nets.get(&ids[i]))
            .collect();
        for by_arch in [true, false] {
            let layers = scatter(study, rows, ids, x, y, |n| {
                let c = if by_arch {
                    arch_colour(&n.arch)
                } else {
                    activation_colour(&n.activation)
                };
                (c, trained_marker(n))
            });
            fig.panels.push(Panel {
                title: if by_arch {
                    "by architecture"
                } else {
                    "by activation"
                }
                .into(),
                x_label: "MDS 1".into(),
                y_label: "MDS 2".into(),
                layers,
                equal_aspect: true,
                bare: false,
                colour_bar: None,
            });
        }
        let arches: Vec<&str> = present.iter().map(|n| n.arch.as_str()).collect();
        let acts: Vec<&str> = present.iter().map(|n| n.activation.as_str()).collect();
        fig.legend = legend_for(&arches, true);
        fig.legend.extend(legend_for(&acts, false));
        if present.iter().any(|n| !n.trained) {
            fig.legend.push(LegendEntry {
                label: "untrained".into(),
                colour: GREY,
                marker: Marker::Hollow,
            });
        }
        out.push(fig);
    }
    Ok(out)
}

/// Fig. 4b: every geometry embedding that holds untrained controls, coloured by `trained`
/// (dots tanh, triangles relu).
pub fn trained_vs_untrained(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let groups = embeddings(tables, study)?;
    let Some((ids, x, y)) = points(tables)? else {
        return Ok(Vec::new());
    };
    let mut fig = figure(
        study,
        "trained-vs-untrained",
        format!("{}: trained against untrained networks", study.name),
        "Fig. 4b. The embeddings of the geometry metrics coloured by whether the network was \
         trained (cyan) or is an untrained control (grey, the same network at iteration 0); \
         dots are tanh networks, triangles relu."
            .to_string(),
        3,
    );
    let mut acts = Vec::new();
    for (((_, metric), method), rows) in &groups {
        let nets: Vec<&Net> = rows
            .iter()
            .filter_map(|&i| study.nets.get(&ids[i]))
            .collect();
        if !is_geometry(metric)
            || !nets.iter().any(|n| !n.trained)
            || !nets.iter().any(|n| n.trained)
        {
            continue;
        }
        acts.extend(nets.iter().map(|n| n.activation.clone()));
        let layers = scatter(study, rows, ids, x, y, |n| {
            let marker = if n.activation == "relu" {
                Marker::Triangle
            } else {
                Marker::Dot
            };
            (trained_colour(n.trained), marker)
        });
        fig.panels.push(Panel {
            title: format!("{metric} ({method})"),
            x_label: "MDS 1".into(),
            y_label: "MDS 2".into(),
            layers,
            equal_aspect: true,
            bare: false,
            colour_bar: None,
        });
    }
    fig.legend = vec![
        LegendEntry {
            label: "trained".into(),
            colour: trained_colour(true),
            marker: Marker::Dot,
        },
        LegendEntry {
            label: "untrained".into(),
            colour: trained_colour(false),
            marker: Marker::Dot,
        },
    ];
    if acts.iter().any(|a| a == "relu") {
        fig.legend.push(LegendEntry {
            label: "relu".into(),
            colour: GREY,
            marker: Marker::Triangle,
        });
    }
    Ok(vec![fig])
}
