//! What the figures of the synthetic export (`report::tests::synthetic`) show: the numbers
//! each layer carries, checked against what the tables say.

use super::*;
use crate::report::data::studies;
use crate::report::palette::{sequential, trained_colour, unstable_colour};
use crate::report::plot::{tick, tick_in, Panel};
use crate::report::tests::synthetic;

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
            Layer::Rect { from, colour, .. } if from.0 >= 0.0 => Some((from.0, from.1, *colour)),
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
    assert_eq!(f.legend.len(), 2);
    assert_eq!(f.legend[1].label, "1 unstable");
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
