//! The claim on a trained flip-flop network: 8 attractors whose readouts are the 8 sign
//! patterns, saddles between them, and attractors that only return to themselves.

use super::fixture::flipflop_gru24;
use crate::analysis::fixed_points::{find_fixed_points, FixedPointOpts};
use crate::analysis::topology::{anchors, transition_graph, TransitionOpts};
use crate::rnn::TaskSpec;
use ndarray::{Array1, Axis};

#[test]
fn eight_attractors_at_the_sign_patterns_with_saddles_between() {
    let net = flipflop_gru24();
    let sys = net.dynamics();
    let probe = TaskSpec::flipflop().batch(7, 64);
    let traj = sys.trajectory(probe.inputs.view());
    let d = traj.len_of(Axis(2));
    let states = traj.into_shape_with_order((64 * 100, d)).unwrap();
    let x = Array1::zeros(3);
    let found = find_fixed_points(&sys, x.view(), states.view(), &FixedPointOpts::default()).unwrap();
    assert!(!found.continuum());
    let mut by_unstable = [0; 4];
    found
        .certified()
        .for_each(|f| by_unstable[f.n_unstable.min(3)] += 1);
    assert_eq!(
        (found.points.len(), by_unstable),
        (27, [8, 12, 6, 1]),
        "every point certified, counted once"
    );
    let fps = found.points;
    let stable: Vec<usize> = (0..fps.len()).filter(|&i| fps[i].n_unstable == 0).collect();
    assert_eq!(stable.len(), 8, "{} points", fps.len());
    let mut patterns: Vec<[bool; 3]> = stable
        .iter()
        .map(|&i| {
            let y = &fps[i].readout;
            assert!(
                y.iter().all(|v| v.abs() > MIN_READOUT),
                "attractor {i} reads out {y}"
            );
            [y[0] > 0.0, y[1] > 0.0, y[2] > 0.0]
        })
        .collect();
    patterns.sort();
    patterns.dedup();
    assert_eq!(patterns.len(), 8, "every sign pattern once");
    for k in 1..=3 {
        assert!(
            fps.iter().any(|f| f.n_unstable == k),
            "a saddle with {k} unstable dimensions"
        );
    }
    // 30 runs instead of 100 keep the test fast; each 1-saddle still sends runs both ways
    let runs = TransitionOpts {
        runs: 30,
        ..TransitionOpts::default()
    };
    let p = transition_graph(&sys, &anchors(&fps), x.view(), &runs);
    for &i in &stable {
        assert!(
            (p[(i, i)] - 1.0).abs() < 1e-12,
            "attractor {i} returns to itself"
        );
        assert!(
            (p.row(i).sum() - 1.0).abs() < 1e-12,
            "and goes nowhere else"
        );
    }
    // a 1-saddle sits between two attractors that differ in one bit and sends runs to both
    for (i, f) in fps.iter().enumerate().filter(|(_, f)| f.n_unstable == 1) {
        let targets: Vec<usize> = (0..fps.len()).filter(|&j| p[(i, j)] > 0.0).collect();
        assert_eq!(
            targets.len(),
            2,
            "1-saddle {i} at {}: {:?}",
            f.readout,
            p.row(i)
        );
        let flips = (0..3)
            .filter(|&k| (fps[targets[0]].readout[k] > 0.0) != (fps[targets[1]].readout[k] > 0.0))
            .count();
        assert_eq!(flips, 1);
    }
}

/// Attractor readouts of the fixture lie at 0.69–0.98 in absolute value (its trials hold each
/// bit for about 20 steps, so the loss does not push the attractors all the way to ±1).
const MIN_READOUT: f64 = 0.5;
