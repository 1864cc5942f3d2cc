//! Numerical faults: a learning rate that makes training diverge gives recorded failed networks
//! with their reason; the analyses leave them out and list them; no NaN reaches a distance.

use crate::common::{apply, manifest, TINY};
use census::store::ParquetStore;

#[test]
fn diverged_networks_are_recorded_and_skipped_by_analyses() {
    let dir = tempfile::tempdir().unwrap();
    let text = TINY.replace("iterations = 5", "iterations = 20\nlr0 = 1e30");
    let summary = apply(&text, dir.path());
    assert!(summary.ok(), "a diverged network must not fail the run");
    let store = ParquetStore::open(dir.path()).unwrap();
    let collected = census::ops::export::collect(
        &manifest(&text),
        &census::ops::plan_of(&manifest(&text), &census::task::Registry::standard()).unwrap(),
        &store,
        false,
    )
    .unwrap();
    assert!(collected.failed.is_empty());
    let tables = collected.tables;

    let nets = &tables["networks"];
    let (status, reason, trained) = (
        nets.strs("status").unwrap(),
        nets.strs("reason").unwrap(),
        nets.bools("trained").unwrap(),
    );
    for i in 0..nets.num_rows() {
        if trained[i] {
            assert_eq!(status[i], "diverged");
            assert!(
                reason[i].contains("iteration"),
                "reason says where: {}",
                reason[i]
            );
        } else {
            assert_eq!(status[i], "ok");
        }
    }
    let excluded = &tables["excluded"];
    assert_eq!(
        excluded.num_rows(),
        2 * 4,
        "svcca and cka each list the 4 diverged networks"
    );
    let sim = &tables["similarity"];
    assert_eq!(
        sim.num_rows(),
        2 * 16,
        "distances over the 4 untrained networks only"
    );
    assert!(sim.f64s("distance").unwrap().iter().all(|d| d.is_finite()));
}

#[test]
fn export_leaves_out_failed_tasks_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    // Every search trial diverges, so `select` fails and the trained networks cannot run.
    let text = TINY.replace(
        "[study.probe]",
        "[study.search]\ntrials = 2\niterations = 20\nlr0 = [1e29, 1e30]\n\n[study.probe]",
    );
    let store = ParquetStore::open(dir.path()).unwrap();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let summary = census::ops::apply(
        &manifest(&text),
        &store,
        2,
        &cancel,
        &mut crate::common::Quiet,
    )
    .unwrap();
    assert_eq!(
        summary.failed.len(),
        2,
        "one select per configuration: {:?}",
        summary.failed
    );
    assert!(summary.failed[0].1.contains("search trials diverged"));
    assert!(summary.skipped > 0);

    let out = dir.path().join("out");
    let census::ops::export::Exported {
        written, failed, ..
    } = census::ops::export::export(&manifest(&text), &store, &out, false).unwrap();
    assert!(failed.iter().any(|(t, _)| t.starts_with("select ")));
    assert!(failed
        .iter()
        .any(|(t, why)| t.starts_with("train ") && why.contains("which failed")));
    let networks = written.iter().find(|(n, _)| n == "networks").unwrap();
    assert_eq!(networks.1, 4, "the untrained controls are exported");
}

#[test]
fn unsolved_networks_are_left_out_by_default_and_kept_on_request() {
    // Five iterations of a 4-unit network solve nothing.
    let strict = TINY.replace("keep_unsolved = true\n", "");
    let tables = |text: &str| {
        let dir = tempfile::tempdir().unwrap();
        assert!(apply(text, dir.path()).ok());
        let store = ParquetStore::open(dir.path()).unwrap();
        let m = manifest(text);
        let plan = census::ops::plan_of(&m, &census::task::Registry::standard()).unwrap();
        let counts =
            census::ops::population::count(&m, &plan, &store, &Default::default()).unwrap();
        let tables = census::ops::export::collect(&m, &plan, &store, false)
            .unwrap()
            .tables;
        (tables, counts)
    };
    let (t, counts) = tables(&strict);
    let nets = &t["networks"];
    let (solved, trained) = (
        nets.bools("solved").unwrap(),
        nets.bools("trained").unwrap(),
    );
    assert!((0..nets.num_rows()).all(|i| !(trained[i] && solved[i])));
    assert!(nets.f64s("score").unwrap().iter().all(|s| s.is_finite()));
    assert_eq!(
        counts
            .iter()
            .map(|c| (c.trained, c.solved, c.unsolved))
            .collect::<Vec<_>>(),
        vec![(2, 0, 2), (2, 0, 2)],
        "vanilla and gru: 2 trained, none solved"
    );
    let excluded = &t["excluded"];
    let reasons = excluded.strs("reason").unwrap();
    assert_eq!(
        excluded.num_rows(),
        2 * 4,
        "svcca and cka each list the 4 trained networks"
    );
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("unsolved: task score")),
        "{reasons:?}"
    );
    assert_eq!(
        t["similarity"].num_rows(),
        2 * 16,
        "the 4 untrained controls only"
    );

    let (kept, _) = tables(TINY);
    assert_eq!(kept["similarity"].num_rows(), 2 * 64, "all 8 networks");
    assert_eq!(kept.get("excluded").map_or(0, |e| e.num_rows()), 0);
}

#[test]
fn a_diverged_network_has_null_losses() {
    let dir = tempfile::tempdir().unwrap();
    let text = TINY.replace("iterations = 5", "iterations = 20\nlr0 = 1e30");
    apply(&text, dir.path());
    let out = dir.path().join("out");
    let store = ParquetStore::open(dir.path()).unwrap();
    census::ops::export::export(&manifest(&text), &store, &out, false).unwrap();
    let nets = census::store::read_table_file(&out.join("networks.parquet")).unwrap();
    let (status, val, train) = (
        nets.strs("status").unwrap(),
        nets.opt_f64s("val_loss").unwrap(),
        nets.opt_f64s("train_loss").unwrap(),
    );
    for i in 0..nets.num_rows() {
        assert_eq!(val[i].is_none(), status[i] == "diverged", "row {i}");
        assert_eq!(train[i].is_none(), status[i] == "diverged", "row {i}");
    }
    assert!(status.iter().any(|s| s == "diverged"));
}
