//! Representational-geometry figures: probe trajectories in PC space, distance-matrix heatmaps,
//! MDS embeddings by architecture and by activation, and trained against untrained networks.

use std::collections::BTreeMap;

use super::{figure, legend_for};
use crate::report::data::{by_network, col, study_rows, table, Net, Study, Tables};
use crate::report::palette::{activation_colour, arch_colour, trained_colour, BLACK, GREY};
use crate::report::pca::Pca;
use crate::report::plot::{ColourBar, Figure, Layer, LegendEntry, Marker, Panel, Rgb};
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

/// The label of the ω colour bar.
pub(super) const OMEGA: &str = "ω (cycles/step)";

/// The colour bar of a sine study's frequencies ω, when its range is known.
pub(super) fn omega_bar(study: &Study) -> Option<ColourBar> {
    let (lo, range) = study.omega?;
    Some(ColourBar {
        label: OMEGA.into(),
        lo,
        hi: lo + range,
    })
}

/// The probe trials a trajectory panel draws and their colours: for a sine study whose trial
/// commands are known, trials spread evenly over ω, coloured by ω; otherwise the first trials,
/// coloured by their order.
pub(super) struct Trials {
    pub chosen: Vec<(i64, Rgb)>,
    pub bar: ColourBar,
    pub by_omega: bool,
}

pub(super) fn choose_trials(study: &Study, rows: &[usize], trial: &[i64]) -> Trials {
    let mut present: Vec<i64> = rows.iter().map(|&i| trial[i]).collect();
    present.sort();
    present.dedup();
    let max = trials_shown(study);
    let omega = |k: i64| {
        let x = *study.probe_x.get(usize::try_from(k).ok()?)?;
        study.omega_of(x)
    };
    if let Some(bar) = omega_bar(study).filter(|_| present.iter().all(|&k| omega(k).is_some())) {
        let mut by: Vec<(f64, i64)> = present.iter().map(|&k| (omega(k).unwrap(), k)).collect();
        by.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let m = by.len().min(max);
        let chosen = (0..m)
            .map(|j| by[(j * (by.len() - 1)).checked_div(m - 1).unwrap_or(0)])
            .map(|(w, k)| (k, bar.colour(w)))
            .collect();
        return Trials {
            chosen,
            bar,
            by_omega: true,
        };
    }
    let m = present.len().min(max);
    let bar = ColourBar {
        label: "probe trial".into(),
        lo: 1.0,
        hi: m as f64,
    };
    let chosen = present[..m]
        .iter()
        .enumerate()
        .map(|(j, &k)| (k, bar.colour((j + 1) as f64)))
        .collect();
    Trials {
        chosen,
        bar,
        by_omega: false,
    }
}

/// Figs. 1b/2b/3b: for each trained (arch, activation), the representative network's probe
/// trials in its top two PCs, with its fixed points on top for sine and CDI. Sine trials and
/// fixed points are coloured by the frequency ω they are asked for (Fig. 2b).
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
    let trials = choose_trials(study, &rows, trial);
    let (what, fixed_note) = if trials.by_omega {
        (
            format!(
                "{} probe trials spanning the commands (colour: the frequency ω each asks for)",
                trials.chosen.len()
            ),
            " Ringed dots: its fixed points, coloured by the ω of their command.",
        )
    } else {
        (
            format!(
                "first {} probe trials (colour: trial, dark to yellow)",
                trials.chosen.len()
            ),
            " Black dots: its fixed points.",
        )
    };
    let mut fig = figure(
        study,
        "trajectories",
        format!(
            "{}: probe trajectories, top two principal components",
            study.name
        ),
        format!(
            "Figs. 1b/2b/3b. For each trained architecture and activation, the network with the \
             lowest validation loss: its {what}, projected on the top two principal components \
             of all its probe states.{}",
            if fixed.is_empty() { "" } else { fixed_note }
        ),
        4,
    );
    for net in shown {
        let Some(mine) = per_net.get(&net.id) else {
            continue;
        };
        let Some((pca, mut layers)) = trajectory_layers(mine, trial, t, h, &trials.chosen) else {
            continue;
        };
        if let Some(points) = fixed.get(&net.id) {
            layers.extend(fixed_point_layers(study, &pca, points, trials.by_omega));
        }
        fig.panels.push(pc_panel(net, &pca, layers));
    }
    if !fixed.is_empty() {
        fig.legend.push(LegendEntry {
            label: "fixed point".into(),
            colour: BLACK,
            marker: if trials.by_omega {
                Marker::Hollow
            } else {
                Marker::Dot
            },
        });
    }
    fig.colour_bar = Some(trials.bar);
    Ok(vec![fig])
}

/// One network's fixed points (state, condition) projected: black dots, or with `by_omega`
/// dots coloured by the ω of their command inside black rings.
fn fixed_point_layers(
    study: &Study,
    pca: &Pca,
    points: &[(Vec<f32>, f64)],
    by_omega: bool,
) -> Vec<Layer> {
    let bar = omega_bar(study).filter(|_| by_omega);
    let Some(bar) = bar else {
        return vec![Layer::Points {
            points: points.iter().map(|(s, _)| pca.project(s)).collect(),
            colour: BLACK,
            marker: Marker::Dot,
            size: 3,
        }];
    };
    let mut layers = vec![Layer::Points {
        points: points.iter().map(|(s, _)| pca.project(s)).collect(),
        colour: BLACK,
        marker: Marker::Hollow,
        size: 5,
    }];
    for (s, x) in points {
        let colour = bar.colour(study.omega_of(*x).unwrap_or(f64::NAN));
        let at = pca.project(s);
        match layers
            .iter_mut()
            .find(|l| matches!(l, Layer::Points { colour: c, .. } if *c == colour))
        {
            Some(Layer::Points { points, .. }) => points.push(at),
            _ => layers.push(Layer::Points {
                points: vec![at],
                colour,
                marker: Marker::Dot,
                size: 4,
            }),
        }
    }
    layers
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
        note: String::new(),
    }
}

/// The PCA of one network's states and the `chosen` trials as lines in their colours.
pub(super) fn trajectory_layers(
    rows: &[usize],
    trial: &[i64],
    t: &[i64],
    h: &[Vec<f32>],
    chosen: &[(i64, Rgb)],
) -> Option<(Pca, Vec<Layer>)> {
    let all: Vec<&[f32]> = rows.iter().map(|&i| h[i].as_slice()).collect();
    let pca = Pca::fit(&all)?;
    let mut trials: BTreeMap<i64, Vec<(i64, usize)>> = BTreeMap::new();
    for &i in rows {
        trials.entry(trial[i]).or_default().push((t[i], i));
    }
    let layers = chosen
        .iter()
        .filter_map(|(k, colour)| {
            let mut steps = trials.get(k)?.clone();
            steps.sort();
            Some(Layer::Line {
                points: steps.iter().map(|&(_, i)| pca.project(&h[i])).collect(),
                colour: *colour,
                width: 1,
                dashed: false,
            })
        })
        .collect();
    Some((pca, layers))
}

/// Fixed points (state, condition) by network id.
type StatesByNet = BTreeMap<String, Vec<(Vec<f32>, f64)>>;

/// Fixed points (state, condition) of the networks `of` the study, by network id.
fn fixed_point_states(
    tables: &Tables,
    study: &Study,
    of: &[&Net],
) -> Result<StatesByNet, ReportError> {
    let rows = study_rows(tables, "fixed_points", &study.name)?;
    let mut out = StatesByNet::new();
    if rows.is_empty() {
        return Ok(out);
    }
    let fp = table(tables, "fixed_points").expect("rows imply a table");
    let ids = col("fixed_points", fp.strs("network_id"))?;
    let state = col("fixed_points", fp.lists("state"))?;
    let condition = col("fixed_points", fp.f64s("condition"))?;
    for i in rows {
        if of.iter().any(|n| n.id == ids[i]) {
            out.entry(ids[i].clone())
                .or_default()
                .push((state[i].clone(), condition[i]));
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

/// Fig. 1c: every distance matrix as a heatmap with its colour bar, networks ordered by
/// architecture, activation, trained; strips give each row's architecture, activation and
/// training (left) and each column's architecture and training (top).
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
        "Fig. 1c. Distance between every pair of networks for each metric (colour bar under \
         each panel: dark close, yellow the panel's largest distance). Rows and columns are \
         ordered by architecture, activation, then trained before untrained; the strips on the \
         left give each row's architecture (outer), activation and training (inner), those on \
         top each column's architecture and training."
            .to_string(),
        3,
    );
    let mut shown_nets = Vec::new();
    let mut missing = false;
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
        let bar = ColourBar {
            label: format!("{name} distance"),
            lo: 0.0,
            hi: max,
        };
        let shown = cells_of(&m, n, block, cells);
        missing |= shown.iter().any(|v| !v.is_finite());
        let mut layers = Vec::new();
        for p in 0..cells {
            for q in 0..cells {
                let v = shown[p * cells + q];
                let y = (cells - 1 - p) as f64;
                layers.push(Layer::Rect {
                    from: (q as f64, y),
                    to: (q as f64 + 1.0, y + 1.0),
                    colour: if v.is_finite() { bar.colour(v) } else { GREY },
                });
            }
        }
        let nets: Vec<Option<&Net>> = (0..cells)
            .map(|p| study.nets.get(&ids[p * block]))
            .collect();
        layers.extend(strips(&nets, cells));
        shown_nets.extend(nets.into_iter().flatten());
        let title = if block > 1 {
            format!("{name} ({n} networks in blocks of {block})")
        } else {
            format!("{name} ({n} networks)")
        };
        let note = if name == "topology_modal" {
            let kept = ids
                .iter()
                .filter(|id| study.nets.get(*id).is_some_and(|n| n.trained))
                .count();
            let (of, _) = modal_population(tables, study, kept)?;
            format!("{kept} of {of} networks; the modal rule set the others aside")
        } else {
            String::new()
        };
        fig.panels.push(Panel {
            title,
            layers,
            equal_aspect: true,
            bare: true,
            colour_bar: Some(bar),
            note,
            ..Panel::default()
        });
    }
    let arches: Vec<&str> = shown_nets.iter().map(|n| n.arch.as_str()).collect();
    let acts: Vec<&str> = shown_nets.iter().map(|n| n.activation.as_str()).collect();
    fig.legend = legend_for(&arches, true);
    fig.legend.extend(legend_for(&acts, false));
    for trained in [true, false] {
        if shown_nets.iter().any(|n| n.trained == trained) {
            fig.legend.push(LegendEntry {
                label: if trained { "trained" } else { "untrained" }.into(),
                colour: trained_colour(trained),
                marker: Marker::Dot,
            });
        }
    }
    if missing {
        fig.legend.push(LegendEntry {
            label: "no distance".into(),
            colour: GREY,
            marker: Marker::Dot,
        });
    }
    Ok(vec![fig])
}

/// The strips of a heatmap of `cells` rows whose row (and column) `p` shows `nets[p]`: on the
/// left architecture, activation and training; on top architecture and training.
fn strips(nets: &[Option<&Net>], cells: usize) -> Vec<Layer> {
    let w = (cells as f64 / 30.0).max(0.1);
    let gap = 0.2;
    let mut out = Vec::new();
    for (p, net) in nets.iter().enumerate() {
        let Some(net) = net else {
            continue;
        };
        let row = (cells - 1 - p) as f64;
        let column = p as f64;
        let left = [
            arch_colour(&net.arch),
            activation_colour(&net.activation),
            trained_colour(net.trained),
        ];
        for (k, colour) in left.into_iter().enumerate() {
            let x1 = -gap - (2 - k) as f64 * (w + gap);
            out.push(Layer::Rect {
                from: (x1 - w, row),
                to: (x1, row + 1.0),
                colour,
            });
        }
        let top = [arch_colour(&net.arch), trained_colour(net.trained)];
        for (k, colour) in top.into_iter().enumerate() {
            let y0 = cells as f64 + gap + (1 - k) as f64 * (w + gap);
            out.push(Layer::Rect {
                from: (column, y0),
                to: (column + 1.0, y0 + w),
                colour,
            });
        }
    }
    out
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
        let note = if metric == "topology_modal" {
            let kept = present.iter().filter(|n| n.trained).count();
            let (of, mode) = modal_population(tables, study, kept)?;
            fig.caption.push_str(&format!(
                " Only the {kept} of {of} trained networks whose fixed-point count is the \
                 population's mode{mode} are shown: the paper's modal rule set the others aside \
                 (listed on the page)."
            ));
            format!("{kept} of {of} networks; the modal rule set the others aside")
        } else {
            String::new()
        };
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
                note: note.clone(),
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

/// The trained networks the modal rule chose from, and " (n fixed points)" naming the mode,
/// from `topology_summary`; without it, `kept` networks and no mode.
fn modal_population(
    tables: &Tables,
    study: &Study,
    kept: usize,
) -> Result<(usize, String), ReportError> {
    let rows = study_rows(tables, "topology_summary", &study.name)?;
    let Some(t) = table(tables, "topology_summary") else {
        return Ok((kept, String::new()));
    };
    let name = "topology_summary";
    let metric = col(name, t.strs("metric"))?;
    let n = col(name, t.i64s("n_networks"))?;
    let mode = col(name, t.i64s("modal_count"))?;
    Ok(rows
        .into_iter()
        .find(|&i| metric[i] == "topology_modal")
        .map_or((kept, String::new()), |i| {
            (n[i] as usize, format!(" ({} fixed points)", mode[i]))
        }))
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
            note: String::new(),
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
        for (label, marker) in [("tanh", Marker::Dot), ("relu", Marker::Triangle)] {
            fig.legend.push(LegendEntry {
                label: label.into(),
                colour: GREY,
                marker,
            });
        }
    }
    Ok(vec![fig])
}
