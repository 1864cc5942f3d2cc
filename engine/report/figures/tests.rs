//! What the figures of the synthetic export (`report::tests::synthetic`) show: the numbers
//! each layer carries, checked against what the tables say.

use super::*;
use crate::report::data::studies;
use crate::report::palette::{sequential, trained_colour, unstable_colour};
use crate::report::plot::ColourBar;
use crate::report::plot::{tick, tick_in, Panel};
use crate::report::tests::{edit, synthetic};
use crate::table::Table;

fn study_figures(study: &str) -> Vec<Figure> {
    let tables = synthetic();
    let s = studies(&tables).unwrap();
    let s = s.iter().find(|s| s.name == study).unwrap();
    build(&tables, s).unwrap()
}

fn find<'a>(figs: &'a [Figure], name: &str) -> &'a Figure {
    figs.iter().find(|f| f.name == name).unwrap()
}

fn lines(panel: &Panel) -> Vec<(Rgb, &[(f64, f64)])> {
    panel
        .layers
        .iter()
        .filter_map(|l| match l {
            Layer::Line { colour, points, .. } => Some((*colour, points.as_slice())),
            _ => None,
        })
        .collect()
}

#[test]
fn heatmap_cells_follow_the_distances_in_network_order() {
    let figs = study_figures("ff");
    let f = find(&figs, "ff-distances");
    assert_eq!(f.panels.len(), 2);
    let cells: Vec<(f64, f64, Rgb)> = f.panels[0]
        .layers
        .iter()
        .filter_map(|l| match l {
            Layer::Rect { from, colour, .. } if from.0 >= 0.0 && from.1 < 4.0 => {
                Some((from.0, from.1, *colour))
            }
            _ => None,
        })
        .collect();
    assert_eq!(cells.len(), 16);
    // order: vanilla trained (ff00), vanilla untrained (ff01), gru trained (ff02), gru untrained
    // (ff03); distance |k − j| / 3, so row 0 (top, y = 3) against column 3 is the maximum
    let at = |x: f64, y: f64| cells.iter().find(|c| c.0 == x && c.1 == y).unwrap().2;
    assert_eq!(at(3.0, 3.0), sequential(1.0));
    assert_eq!(at(0.0, 3.0), sequential(0.0));
    assert_eq!(at(1.0, 3.0), sequential(1.0 / 3.0));
    // strips: the top row is vanilla, the bottom gru
    let strip = |y: f64| {
        f.panels[0]
            .layers
            .iter()
            .find_map(|l| match l {
                Layer::Rect { from, colour, .. } if from.0 < -0.5 && from.1 == y => Some(*colour),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(strip(3.0), arch_colour("vanilla"));
    assert_eq!(strip(0.0), arch_colour("gru"));
    // the innermost left strip and the lower top strip say trained or untrained: rows 0 and 2
    // (from the top) are trained networks
    let rects: Vec<((f64, f64), Rgb)> = f.panels[0]
        .layers
        .iter()
        .filter_map(|l| match l {
            Layer::Rect { from, colour, .. } => Some((*from, *colour)),
            _ => None,
        })
        .collect();
    let inner_left: Vec<Rgb> = (0..4)
        .map(|p| {
            let y = (3 - p) as f64;
            rects
                .iter()
                .filter(|(from, _)| from.1 == y && from.0 < 0.0)
                .max_by(|a, b| a.0 .0.total_cmp(&b.0 .0))
                .unwrap()
                .1
        })
        .collect();
    let trained = [true, false, true, false].map(trained_colour);
    assert_eq!(inner_left, trained);
    let top: Vec<Rgb> = (0..4)
        .map(|q| {
            rects
                .iter()
                .filter(|(from, _)| from.0 == q as f64 && from.1 > 4.0)
                .min_by(|a, b| a.0 .1.total_cmp(&b.0 .1))
                .unwrap()
                .1
        })
        .collect();
    assert_eq!(top, trained);
    // the colour bar names the metric and spans 0 to the largest distance, 1
    let bar = f.panels[0].colour_bar.as_ref().unwrap();
    assert_eq!(
        (bar.label.as_str(), bar.lo, bar.hi),
        ("svcca distance", 0.0, 1.0)
    );
    let labels: Vec<&str> = f.legend.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["vanilla", "gru", "tanh", "trained", "untrained"]);
}

#[test]
fn mds_marks_untrained_controls_with_rings_and_colours_by_factor() {
    let figs = study_figures("sn");
    let f = find(&figs, "sn-mds-svcca");
    let by_arch = &f.panels[0];
    let mut seen = Vec::new();
    for l in &by_arch.layers {
        if let Layer::Points {
            colour,
            marker,
            points,
            ..
        } = l
        {
            seen.push((*colour, *marker, points.len()));
        }
    }
    assert_eq!(
        seen,
        vec![
            (arch_colour("vanilla"), Marker::Dot, 1),
            (arch_colour("vanilla"), Marker::Hollow, 1),
            (arch_colour("gru"), Marker::Dot, 1),
            (arch_colour("gru"), Marker::Hollow, 1),
        ]
    );
    // the trained vanilla network (k = 0) sits at (cos 0, sin 0)
    if let Layer::Points { points, .. } = &by_arch.layers[0] {
        assert_eq!(points[0], (1.0, 0.0));
    }
    let by_act = &f.panels[1];
    assert!(by_act.layers.iter().all(
        |l| matches!(l, Layer::Points { colour, .. } if *colour == activation_colour("tanh"))
    ));
    let tvu = find(&figs, "sn-trained-vs-untrained");
    assert_eq!(tvu.panels.len(), 1, "only svcca is a geometry metric here");
    let colours: Vec<Rgb> = tvu.panels[0]
        .layers
        .iter()
        .map(|l| match l {
            Layer::Points { colour, .. } => *colour,
            _ => panic!("only points"),
        })
        .collect();
    assert_eq!(colours, vec![trained_colour(true), trained_colour(false)]);
}

#[test]
fn linear_frequency_is_the_mean_over_networks_with_the_identity() {
    let figs = study_figures("sn");
    let f = find(&figs, "sn-linear-frequency");
    let by_arch = lines(&f.panels[0]);
    // frequency = 0.012 + 0.038 c + 0.001 k at ω = 0.01 + 0.04 c; vanilla trained is k = 0,
    // gru trained k = 2; one network per arch
    let (c, vanilla) = by_arch[0];
    assert_eq!(c, arch_colour("vanilla"));
    assert_eq!(vanilla.len(), 3);
    assert!((vanilla[2].0 - 0.05).abs() < 1e-12 && (vanilla[2].1 - 0.05).abs() < 1e-12);
    let gru = by_arch[1].1;
    assert!((gru[0].1 - 0.014).abs() < 1e-12);
    let identity = by_arch[2].1;
    assert_eq!(identity, &[(0.01, 0.01), (0.05, 0.05)]);
    // by activation both networks are tanh: mean of 0.012 and 0.014, SE 0.001
    let tanh = lines(&f.panels[1])[0].1;
    assert!((tanh[0].1 - 0.013).abs() < 1e-12);
    match &f.panels[1].layers[0] {
        Layer::Band { low, high, .. } => {
            assert!((low[0] - 0.012).abs() < 1e-12 && (high[0] - 0.014).abs() < 1e-12)
        }
        other => panic!("expected a band, got {other:?}"),
    }
}

#[test]
fn cdi_spectra_and_ablation_have_a_panel_per_context() {
    let figs = study_figures("cd");
    let spectra = find(&figs, "cd-eigenvalue-spectra");
    assert_eq!(spectra.panels.len(), 2);
    assert_eq!(spectra.panels[1].title, "context 1");
    let vanilla = lines(&spectra.panels[0])[0].1;
    // |λ_k| = 1 − 0.2 k for k = 0..3, plotted at k + 1
    let expected: Vec<(f64, f64)> = (0..4)
        .map(|k| ((k + 1) as f64, 1.0 - 0.2 * k as f64))
        .collect();
    for (got, want) in vanilla.iter().zip(&expected) {
        assert!(
            (got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12,
            "{got:?}"
        );
    }
    let ablation = find(&figs, "cd-mode-ablation");
    let vanilla = lines(&ablation.panels[0])[0].1;
    assert_eq!(vanilla.len(), 4);
    assert!((vanilla[3].1 - (1.0 - 0.5f64.powi(4))).abs() < 1e-12);
}

#[test]
fn flipflop_fixed_points_are_coloured_by_unstable_dimensions() {
    let figs = study_figures("ff");
    let f = find(&figs, "ff-fixed-points");
    // one panel per trained (arch, activation): vanilla tanh and gru tanh
    assert_eq!(f.panels.len(), 2);
    let groups: Vec<(Rgb, usize)> = f.panels[0]
        .layers
        .iter()
        .filter_map(|l| match l {
            Layer::Points { colour, points, .. } => Some((*colour, points.len())),
            _ => None,
        })
        .collect();
    // indices 0, 1, 2 with n_unstable = index mod 2
    assert_eq!(
        groups,
        vec![(unstable_colour(0), 2), (unstable_colour(1), 1)]
    );
    assert_eq!(f.legend.len(), 3);
    assert_eq!(f.legend[1].label, "1 unstable");
    assert_eq!(f.legend[2].label, "probe trajectory");
    assert!(f.panels[0].title.starts_with("vanilla tanh"));
}

#[test]
fn summaries_and_ticks() {
    let stats =
        crate::report::data::mean_se(vec![(2.0, 1.0), (1.0, 4.0), (2.0, 3.0), (f64::NAN, 9.0)]);
    assert_eq!(stats, vec![(1.0, 4.0, 0.0), (2.0, 2.0, 1.0)]);
    assert_eq!(tick(&0.30000000000000004), "0.3");
    assert_eq!(tick(&1234.0), "1234");
    assert_eq!(tick(&-0.0125), "-0.0125");
    assert_eq!(tick(&20000.0), "2.0e4");
    assert_eq!(tick_in(-5.6e-17, 0.8), "0");
    assert_eq!(tick_in(1e-12, 1e-10), "1.0e-12");
    assert_eq!(file_stem("a b/c-d_e"), "a_b_c-d_e");
}

#[test]
fn trajectories_show_the_first_trials_and_fixed_points_outside_flipflop() {
    let count = |f: &Figure| {
        let p = &f.panels[0];
        let lines = p
            .layers
            .iter()
            .filter(|l| matches!(l, Layer::Line { .. }))
            .count();
        let dots: Vec<usize> = p
            .layers
            .iter()
            .filter_map(|l| match l {
                Layer::Points { points, colour, .. }
                    if *colour == crate::report::palette::BLACK =>
                {
                    Some(points.len())
                }
                _ => None,
            })
            .collect();
        (f.panels.len(), lines, dots)
    };
    // two trained configurations; 3 probe trials each; sine: 3 conditions × 3 fixed points
    assert_eq!(
        count(find(&study_figures("ff"), "ff-trajectories")),
        (2, 3, vec![])
    );
    assert_eq!(
        count(find(&study_figures("sn"), "sn-trajectories")),
        (2, 3, vec![9])
    );
    assert_eq!(
        count(find(&study_figures("cd"), "cd-trajectories")),
        (2, 3, vec![6])
    );
}

/// The synthetic export with the GRU networks made relu.
fn with_relu() -> Tables {
    synthetic()
        .into_iter()
        .map(|(name, t)| {
            let Ok(ids) = t.strs("network_id").map(|v| v.to_vec()) else {
                return (name, t);
            };
            let t = edit(&t, "activation", |i, _| {
                (ids[i].ends_with("02") || ids[i].ends_with("03")).then(|| "relu".into())
            });
            (name, t)
        })
        .collect()
}

/// Within one step of the colour bar's map.
fn on_bar(c: Rgb) -> bool {
    (0..=2000).any(|k| {
        let s = sequential(k as f64 / 2000.0);
        s.0.abs_diff(c.0) <= 1 && s.1.abs_diff(c.1) <= 1 && s.2.abs_diff(c.2) <= 1
    })
}

/// Every colour drawn (points, lines, bands, rectangles) is a legend entry's or lies on a
/// colour bar of the figure or its panel, and every marker shape drawn other than the plain
/// dot is in the legend.
fn check_named(f: &Figure) {
    let named = |c: Rgb, bar: bool| f.legend.iter().any(|e| e.colour == c) || (bar && on_bar(c));
    let shapes: Vec<Marker> = f.legend.iter().map(|e| e.marker).collect();
    for p in &f.panels {
        let bar = f.colour_bar.is_some() || p.colour_bar.is_some();
        for l in &p.layers {
            let (colour, what) = match l {
                Layer::Points { colour, marker, .. } => {
                    assert!(
                        *marker == Marker::Dot || shapes.contains(marker),
                        "{}: {marker:?} not in the legend",
                        f.name
                    );
                    (*colour, "points")
                }
                Layer::Line { colour, .. } => (*colour, "line"),
                Layer::Band { colour, .. } => (*colour, "band"),
                Layer::Rect { colour, .. } => (*colour, "rectangle"),
            };
            assert!(
                named(colour, bar),
                "{} panel {:?}: {what} colour {colour:?} is named by no legend entry or colour bar",
                f.name,
                p.title
            );
        }
    }
}

#[test]
fn every_colour_drawn_is_named_by_the_legend_or_a_colour_bar() {
    let mut checked = 0;
    for tables in [synthetic(), with_relu()] {
        for f in crate::report::figures(&tables).unwrap() {
            check_named(&f);
            checked += 1;
        }
    }
    let tables = synthetic();
    let mut s = studies(&tables).unwrap();
    let sine = s.iter_mut().find(|s| s.name == "sn").unwrap();
    sine.probe_x = vec![0.9, 0.1, 0.5];
    for f in build(&tables, sine).unwrap() {
        check_named(&f);
        checked += 1;
    }
    assert_eq!(checked, 20 + 20 + 7);
    // markers say tanh or relu in the trained-against-untrained figure: both are named
    let f = crate::report::figures(&with_relu()).unwrap();
    let tvu = find(&f, "sn-trained-vs-untrained");
    let labels: Vec<&str> = tvu.legend.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["trained", "untrained", "tanh", "relu"]);
}

#[test]
fn sine_trajectories_and_fixed_points_are_coloured_by_omega() {
    let tables = synthetic();
    let mut s = studies(&tables).unwrap();
    let sine = s.iter_mut().find(|s| s.name == "sn").unwrap();
    assert_eq!(sine.omega, Some((0.01, 0.04)));
    // trial k asks for ω = 0.01 + 0.04 x_k: trials drawn in order of ω, coloured by it
    sine.probe_x = vec![0.9, 0.1, 0.5];
    let figs = build(&tables, sine).unwrap();
    let f = find(&figs, "sn-trajectories");
    let bar = f.colour_bar.as_ref().unwrap();
    assert_eq!(
        (bar.label.as_str(), bar.lo, bar.hi),
        ("ω (cycles/step)", 0.01, 0.05)
    );
    let colours: Vec<Rgb> = lines(&f.panels[0]).iter().map(|l| l.0).collect();
    assert_eq!(colours, [sequential(0.1), sequential(0.5), sequential(0.9)]);
    // the first line is trial 1: its first state projects as the PCA of the network's states
    // does, so check the trial through its length and ordering instead: 20 steps each
    assert!(lines(&f.panels[0]).iter().all(|l| l.1.len() == 20));
    // fixed points at commands 0, 0.5, 1 (three each) filled by their ω inside black rings
    let points: Vec<(Rgb, Marker, usize)> = f.panels[0]
        .layers
        .iter()
        .filter_map(|l| match l {
            Layer::Points {
                colour,
                marker,
                points,
                ..
            } => Some((*colour, *marker, points.len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        points,
        [
            (crate::report::palette::BLACK, Marker::Hollow, 9),
            (sequential(0.0), Marker::Dot, 3),
            (sequential(0.5), Marker::Dot, 3),
            (sequential(1.0), Marker::Dot, 3),
        ]
    );
    // without the probe commands: the first trials, coloured by order, fixed points black
    let figs = study_figures("sn");
    let f = find(&figs, "sn-trajectories");
    assert_eq!(f.colour_bar.as_ref().unwrap().label, "probe trial");
}

#[test]
fn sine_eigenvalues_are_coloured_by_omega_and_ring_the_oscillatory_pair() {
    let figs = study_figures("sn");
    let f = find(&figs, "sn-eigenvalues");
    assert_eq!(
        f.colour_bar,
        Some(ColourBar {
            label: "ω (cycles/step)".into(),
            lo: 0.01,
            hi: 0.05
        })
    );
    let vanilla = &f.panels[0];
    // |λ_k| = 1 − 0.2 k, angle ±0.2 (c + 0.1): every fixed point's complex pair of largest
    // modulus is k = 0 alone here (k = 1 is not its conjugate), at angle 0.2 (c + 0.1)
    let ring = vanilla
        .layers
        .iter()
        .find_map(|l| match l {
            Layer::Points {
                marker: Marker::Hollow,
                points,
                colour,
                ..
            } => Some((*colour, points.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(ring.0, crate::report::palette::BLACK);
    assert_eq!(ring.1.len(), 9);
    for c in [0.0, 0.5, 1.0] {
        let a: f64 = 0.2 * (c + 0.1);
        let n = ring
            .1
            .iter()
            .filter(|p| (p.0 - a.cos()).abs() < 1e-12 && (p.1 - a.sin()).abs() < 1e-12)
            .count();
        assert_eq!(n, 3, "command {c}");
    }
    // every eigenvalue drawn, coloured by the ω of its command: 3 commands × 3 points × 4
    let dots: usize = vanilla
        .layers
        .iter()
        .filter_map(|l| match l {
            Layer::Points {
                marker: Marker::Dot,
                size: 2,
                points,
                colour,
                ..
            } => {
                assert!([0.0, 0.5, 1.0].iter().any(|&c| *colour == sequential(c)));
                Some(points.len())
            }
            _ => None,
        })
        .sum();
    assert_eq!(dots, 36);
    let labels: Vec<&str> = f.legend.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["unit circle", "oscillatory pair"]);
}

#[test]
fn conjugate_pairs_are_the_first_complex_eigenvalue_and_its_conjugate() {
    // one fixed point: real 0.99, then 0.5 ± 0.6i (modulus 0.78), then 0.3 ± 0.1i
    let re = [0.99, 0.5, 0.5, 0.3, 0.3];
    let im = [0.0, 0.6, -0.6, 0.1, -0.1];
    let k = [0, 1, 2, 3, 4];
    let rows: Vec<usize> = vec![4, 2, 0, 3, 1];
    let mut got = dynamics::oscillatory_pairs(&rows, &[0.5; 5], &[0; 5], &k, &re, &im);
    got.sort();
    assert_eq!(got, [1, 2]);
    // a real spectrum has none
    assert!(dynamics::oscillatory_pairs(
        &[0, 1],
        &[0.0; 2],
        &[0; 2],
        &[0, 1],
        &[0.9, 0.1],
        &[0.0; 2]
    )
    .is_empty());
}

#[test]
fn modal_topology_embeddings_say_how_many_networks_the_rule_kept() {
    let renamed: Tables = synthetic()
        .into_iter()
        .map(|(name, t)| {
            let t: Table = match name {
                "embedding" | "similarity" | "topology_summary" => edit(&t, "metric", |_, m| {
                    (m == "topology_matched").then(|| "topology_modal".into())
                }),
                _ => t,
            };
            (name, t)
        })
        .collect();
    let figs = crate::report::figures(&renamed).unwrap();
    let f = find(&figs, "cd-mds-topology_modal");
    // the summary: modal count 3 among 2 trained networks; the embedding holds 2 trained
    assert!(f
        .panels
        .iter()
        .all(|p| p.note == "2 of 2 networks; the modal rule set the others aside"));
    assert!(f.caption.contains("Only the 2 of 2 trained networks whose fixed-point count is the population's mode (3 fixed points)"));
    let plain = find(&figs, "cd-mds-svcca");
    assert!(plain.panels.iter().all(|p| p.note.is_empty()));
}
