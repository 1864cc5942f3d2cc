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
    let tables = census::ops::export::collect(
        &manifest(&text),
        &census::ops::plan_of(&manifest(&text), &census::task::Registry::standard()).unwrap(),
        &store,
        false,
    )
    .unwrap();

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
