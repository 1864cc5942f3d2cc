//! Findings on tiny studies whose answer is known by construction.

use super::*;
use crate::rnn::Activation;
use std::sync::atomic::AtomicBool;

fn task(kind: &str) -> TaskSpec {
    serde_json::from_value(serde_json::json!({ "kind": kind })).unwrap()
}

fn row(task: &TaskSpec, arch: Arch, seed: u64, solved: bool) -> NetworkRow {
    NetworkRow {
        network_id: format!("{arch}-{seed}"),
        task: task.clone(),
        arch,
        activation: Activation::Tanh,
        units: 8,
        l2: 0.0,
        seed,
        trained: true,
        iterations: 10,
        status: "ok".into(),
        reason: String::new(),
        train_loss: 0.01,
        val_loss: 0.01,
        score: if solved { 1.0 } else { 0.5 },
        solved,
        hyper: None,
    }
}

/// A `fixed_points` output: points as (condition, n_unstable), with the other tables given.
fn fixed_points(net: &NetworkRow, points: &[(f64, i64)], extra: Output) -> Output {
    let n = points.len();
    let fp = Table::new()
        .with("condition", Column::F64(points.iter().map(|p| p.0).collect()))
        .with("index", Column::I64((0..n as i64).collect()))
        .with("n_unstable", Column::I64(points.iter().map(|p| p.1).collect()));
    let mut out = extra
        .with("network", net.to_table())
        .with("fixed_points", fp);
    for name in ["eigenvalues", "linear_frequency", "mode_ablation"] {
        out.tables.entry(name.to_string()).or_default();
    }
    out
}

fn clustering(rows: &[(&str, &str, f64, f64)]) -> Output {
    Output::new().with(
        "clustering",
        Table::new()
            .with("metric", Column::Str(rows.iter().map(|r| r.0.into()).collect()))
            .with("factor", Column::Str(rows.iter().map(|r| r.1.into()).collect()))
            .with("score", Column::F64(rows.iter().map(|r| r.2).collect()))
            .with("p_value", Column::F64(rows.iter().map(|r| r.3).collect()))
            .with("n_networks", Column::I64(vec![12; rows.len()]))
            .with("n_groups", Column::I64(vec![4; rows.len()])),
    )
}

fn run(task: &TaskSpec, keep_unsolved: bool, inputs: &[Output]) -> Table {
    run_with(task, keep_unsolved, 0, inputs)
}

fn run_with(task: &TaskSpec, keep_unsolved: bool, conditions: usize, inputs: &[Output]) -> Table {
    let cancel = AtomicBool::new(false);
    let ctx = Context {
        key: crate::key::Key::compute("findings", 1, &serde_json::json!({}), &[]),
        cancel: &cancel,
    };
    let p = Population {
        of: FindingsParams {
            task: task.clone(),
            conditions,
        },
        keep_unsolved,
    };
    let geometry = vec!["svcca", "cka", "shape", "dsa"];
    Findings { geometry }
        .run(&ctx, &p, inputs)
        .unwrap()
        .table("findings")
        .unwrap()
        .clone()
}

/// (claim, metric, verdict, value) of every row.
fn verdicts(t: &Table) -> Vec<(String, String, String, f64)> {
    let (c, m, v, x) = (
        t.strs("claim").unwrap(),
        t.strs("metric").unwrap(),
        t.strs("verdict").unwrap(),
        t.f64s("value").unwrap(),
    );
    (0..t.num_rows())
        .map(|i| (c[i].clone(), m[i].clone(), v[i].clone(), x[i]))
        .collect()
}

#[test]
fn clustering_claims_follow_the_stated_thresholds() {
    let cl = clustering(&[
        ("cka", "arch_within_activation", 0.4, 0.001),
        ("cka", "arch_pooled", -0.1, 0.9),
        ("cka", "trained", 0.6, 0.001),
        ("svcca", "arch_within_activation", 0.2, 0.2),
        ("svcca", "trained", -0.05, 0.01),
        ("topology_matched", "arch_within_activation", 0.3, 0.01),
        ("topology_modal", "arch_within_activation", 0.0, 0.6),
    ]);
    let t = run(&task("flipflop"), false, &[cl]);
    let v = verdicts(&t);
    let find = |claim: &str, metric: &str| {
        v.iter()
            .find(|r| r.0 == claim && r.1 == metric)
            .unwrap_or_else(|| panic!("no row {claim} {metric}"))
            .clone()
    };
    assert_eq!(find("a", "cka").2, "holds");
    assert_eq!(find("a", "cka").3, 0.4, "the paper's factor, not the pooled one");
    assert_eq!(find("a", "svcca").2, "does not hold");
    assert_eq!(find("b", "topology_matched").2, "does not hold");
    assert_eq!(find("b", "topology_modal").2, "holds");
    assert_eq!(find("f", "cka").2, "holds");
    assert_eq!(find("f", "svcca").2, "does not hold");
    assert!(!v.iter().any(|r| r.1 == "shape"), "no row for a metric not run");
}

#[test]
fn flipflop_counts_solved_networks_only_unless_kept() {
    let ff = task("flipflop");
    let mut scaffold: Vec<(f64, i64)> = vec![(0.0, 0); 8];
    scaffold.extend(vec![(0.0, 1); 12]);
    scaffold.extend(vec![(0.0, 2); 6]);
    let partial = vec![(0.0, 0); 3];
    let inputs = [
        fixed_points(&row(&ff, Arch::Gru, 0, true), &scaffold, Output::new()),
        fixed_points(&row(&ff, Arch::Lstm, 1, true), &scaffold, Output::new()),
        fixed_points(&row(&ff, Arch::Vanilla, 2, false), &partial, Output::new()),
    ];
    let solved = verdicts(&run(&ff, false, &inputs));
    assert_eq!(solved.len(), 2);
    assert_eq!((solved[0].2.as_str(), solved[0].3), ("holds", 1.0));
    assert_eq!((solved[1].2.as_str(), solved[1].3), ("holds", 1.0));
    let all = verdicts(&run(&ff, true, &inputs));
    assert!((all[0].3 - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(all[0].2, "does not hold");
}

#[test]
fn an_uncertified_point_does_not_count() {
    let ff = task("flipflop");
    let net = row(&ff, Arch::Gru, 0, true);
    let mut out = fixed_points(&net, &[(0.0, 0); 9], Output::new());
    let t = out.tables.get_mut("fixed_points").unwrap();
    let mut certified = vec![true; 9];
    certified[4] = false;
    t.push("certified", Column::Bool(certified)).unwrap();
    let v = verdicts(&run(&ff, false, &[out]));
    assert_eq!((v[0].2.as_str(), v[0].3), ("holds", 1.0));
}

#[test]
fn sine_frequency_tracking_and_one_point_per_command() {
    let sine = task("sine");
    // Four commands on the grid 0, 1/3, 2/3, 1; ω = 0.01 + 0.04·x.
    let commands = [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0];
    let omegas: Vec<f64> = commands.iter().map(|x| 0.01 + 0.04 * x).collect();
    let inputs: Vec<Output> = (0..2)
        .map(|s| {
            let net = row(&sine, Arch::Gru, s, true);
            let points: Vec<(f64, i64)> = commands.iter().map(|&x| (x, 0)).collect();
            let freq = Table::new()
                .with("condition", Column::F64(points.iter().map(|p| p.0).collect()))
                .with("omega", Column::F64(omegas.to_vec()))
                .with("index", Column::I64(vec![0; 4]))
                .with(
                    "frequency",
                    Column::F64(omegas.iter().map(|w| w * 1.01 + 0.001 * s as f64).collect()),
                );
            fixed_points(&net, &points, Output::new().with("linear_frequency", freq))
        })
        .collect();
    let v = verdicts(&run_with(&sine, false, 4, &inputs));
    assert_eq!((v[0].2.as_str(), v[0].3), ("holds", 1.0));
    assert_eq!(v[1].2, "holds");
    assert!(v[1].3 > 0.99, "r = {}", v[1].3);
    // Searched at 8 commands, the networks have a point at only 4 of them.
    let v = verdicts(&run_with(&sine, false, 8, &inputs));
    assert_eq!(v[0].2, "does not hold");
}

fn cdi_net(arch: Arch, seed: u64, leading: f64, modes: i64) -> Output {
    let cdi = task("cdi");
    let net = row(&cdi, arch, seed, true);
    let eig = Table::new()
        .with("condition", Column::F64(vec![0.0, 0.0]))
        .with("index", Column::I64(vec![0, 0]))
        .with("k", Column::I64(vec![0, 1]))
        .with("re", Column::F64(vec![leading, 0.3]))
        .with("im", Column::F64(vec![0.0, 0.0]));
    // The response reaches 1.0 once `modes` modes are kept, out of 4.
    let response: Vec<f64> = (1..=4).map(|m| if m >= modes { 1.0 } else { 0.2 }).collect();
    let ablation = Table::new()
        .with("condition", Column::F64(vec![0.0; 4]))
        .with("index", Column::I64(vec![0; 4]))
        .with("m", Column::I64((1..=4).collect()))
        .with("response", Column::F64(response));
    fixed_points(
        &net,
        &[(0.0, 0)],
        Output::new()
            .with("eigenvalues", eig)
            .with("mode_ablation", ablation),
    )
}

#[test]
fn cdi_line_attractor_and_modes_by_architecture() {
    let inputs = [
        cdi_net(Arch::Vanilla, 0, 0.99, 1),
        cdi_net(Arch::Vanilla, 1, 1.02, 1),
        cdi_net(Arch::Gru, 0, 0.97, 3),
        cdi_net(Arch::Lstm, 0, 0.5, 2),
    ];
    let v = verdicts(&run(&task("cdi"), false, &inputs));
    assert_eq!((v[0].2.as_str(), v[0].3), ("holds", 0.75));
    assert_eq!((v[1].2.as_str(), v[1].3), ("holds", 1.0));
    assert_eq!((v[2].2.as_str(), v[2].3), ("holds", 2.5));
}

#[test]
fn nothing_to_judge_is_not_assessed() {
    let v = verdicts(&run(&task("flipflop"), false, &[]));
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|r| r.2 == "not assessed" && r.3.is_nan()));
}
