//! Caching proven by counting what ran: once on a fresh cache, never again on a rerun, and after
//! an edit exactly the changed tasks and their dependents.

use crate::common::{apply, counts, manifest, ran, TINY};
use census::exec::Reason;
use census::ops::plan_report;
use census::store::ParquetStore;

// 2 configs × 2 seeds × (trained + untrained) = 8 networks.
const FRESH: &[(&str, usize)] = &[
    ("train", 8),
    ("probe", 8),
    ("svcca", 1),
    ("cka", 1),
    ("mds", 2),
    ("clustering", 2),
    ("findings", 1),
];

#[test]
fn fresh_apply_runs_everything_once_and_a_rerun_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = apply(TINY, dir.path());
    assert_eq!(ran(&first), counts(FRESH));
    let second = apply(TINY, dir.path());
    assert!(second.ran.is_empty(), "reran {:?}", second.ran);
    assert_eq!(second.cached, 23);
}

#[test]
fn editing_one_analysis_parameter_reruns_it_and_its_dependents() {
    let dir = tempfile::tempdir().unwrap();
    apply(TINY, dir.path());
    let edited = TINY.replace("variance = 0.95", "variance = 0.5");
    let store = ParquetStore::open(dir.path()).unwrap();
    let plan =
        census::ops::plan_of(&manifest(&edited), &census::task::Registry::standard()).unwrap();
    let report = plan_report(&plan, &store);
    assert_eq!(
        report.kinds["svcca"].reasons.get(&Reason::ParamsChanged),
        Some(&1)
    );
    assert_eq!(
        report.kinds["mds"].reasons.get(&Reason::UpstreamChanged),
        Some(&1)
    );
    assert_eq!(report.kinds["train"].run, 0);
    let changes: Vec<String> = report.changes.iter().map(|c| c.render()).collect();
    assert_eq!(
        changes,
        ["tiny: svcca variance 0.95 → 0.5: 1 svcca, 1 mds, 1 clustering, 1 findings"]
    );
    assert!(report
        .render()
        .contains("changed: tiny: svcca variance 0.95 → 0.5: 1 svcca"));
    let s = apply(&edited, dir.path());
    assert_eq!(
        ran(&s),
        counts(&[("svcca", 1), ("mds", 1), ("clustering", 1), ("findings", 1)])
    );
}

/// The one change `plan` reports for `text` against the cache in `dir`.
fn change_of(text: &str, dir: &std::path::Path) -> Vec<String> {
    let store = ParquetStore::open(dir).unwrap();
    let plan = census::ops::plan_of(&manifest(text), &census::task::Registry::standard()).unwrap();
    let report = plan_report(&plan, &store);
    report.changes.iter().map(|c| c.render()).collect()
}

#[test]
fn after_a_reverted_edit_plan_compares_with_the_entry_used_again() {
    let dir = tempfile::tempdir().unwrap();
    let with = |v: &str| TINY.replace("variance = 0.95", &format!("variance = {v}"));
    apply(TINY, dir.path());
    apply(&with("0.5"), dir.path());
    let reverted = apply(TINY, dir.path());
    assert!(reverted.ran.is_empty(), "reran {:?}", reverted.ran);
    assert_eq!(
        change_of(&with("0.3"), dir.path()),
        ["tiny: svcca variance 0.95 → 0.3: 1 svcca, 1 mds, 1 clustering, 1 findings"]
    );
    // Using the edited entry again moves the comparison back to it.
    apply(&with("0.5"), dir.path());
    assert_eq!(
        change_of(&with("0.3"), dir.path()),
        ["tiny: svcca variance 0.5 → 0.3: 1 svcca, 1 mds, 1 clustering, 1 findings"]
    );
}

#[test]
fn an_edit_that_leaves_an_output_unchanged_reruns_only_that_task() {
    // With a fixed number of directions, SVCCA's `variance` changes its key but not its output:
    // the distance reruns, and its embedding, clustering and findings are restored (early
    // cutoff), not recomputed.
    let fixed = TINY.replace("variance = 0.95", "variance = 0.95\ncomponents = 2");
    let dir = tempfile::tempdir().unwrap();
    apply(&fixed, dir.path());
    let edited = fixed.replace("variance = 0.95", "variance = 0.9");
    let store = ParquetStore::open(dir.path()).unwrap();
    let plan =
        census::ops::plan_of(&manifest(&edited), &census::task::Registry::standard()).unwrap();
    let report = plan_report(&plan, &store);
    assert_eq!(report.to_run(), 4);
    assert_eq!(report.kinds["mds"].waiting, 1);
    let mut waits: Vec<(&str, &str)> = report
        .tasks
        .iter()
        .filter_map(|t| Some((t.kind, t.waits_for.as_deref()?)))
        .collect();
    waits.sort();
    assert_eq!(
        waits,
        [
            ("clustering", "svcca all"),
            ("findings", "clustering svcca"),
            ("mds", "svcca all")
        ]
    );
    let s = apply(&edited, dir.path());
    assert_eq!(ran(&s), counts(&[("svcca", 1)]));
    let mut restored: Vec<&str> = s.restored.iter().map(|(k, _)| k.as_str()).collect();
    restored.sort();
    assert_eq!(restored, ["clustering", "findings", "mds"]);
    let again = apply(&edited, dir.path());
    assert!(again.ran.is_empty() && again.restored.is_empty());
}

#[test]
fn a_training_edit_is_summarised_once_per_parameter_with_everything_below_it() {
    let dir = tempfile::tempdir().unwrap();
    apply(TINY, dir.path());
    let edited = TINY.replace("iterations = 5", "iterations = 6");
    let store = ParquetStore::open(dir.path()).unwrap();
    let plan =
        census::ops::plan_of(&manifest(&edited), &census::task::Registry::standard()).unwrap();
    let report = plan_report(&plan, &store);
    let changes: Vec<String> = report.changes.iter().map(|c| c.render()).collect();
    // The 4 trained networks change; their untrained controls do not.
    assert_eq!(
        changes,
        ["tiny: train schedule.iterations 5 → 6: 4 train, 4 probe, 1 svcca, 1 cka, 2 mds, 2 clustering, 1 findings"]
    );
    assert_eq!(report.to_run(), 4 + 4 + 1 + 1 + 2 + 2 + 1);
}

#[test]
fn adding_a_seed_runs_only_the_new_networks_and_the_study_level_analyses() {
    let dir = tempfile::tempdir().unwrap();
    apply(TINY, dir.path());
    let s = apply(&TINY.replace("seeds = 2", "seeds = 3"), dir.path());
    // The new seed: 2 configs × (trained + untrained); distances see new members.
    assert_eq!(
        ran(&s),
        counts(&[
            ("train", 4),
            ("probe", 4),
            ("svcca", 1),
            ("cka", 1),
            ("mds", 2),
            ("clustering", 2),
            ("findings", 1)
        ])
    );
}

#[test]
fn reformatting_the_manifest_reruns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    apply(TINY, dir.path());
    let reformatted = TINY
        .replace(
            "arch = [\"vanilla\", \"gru\"]",
            "# the two architectures, reversed\narch = [ \"gru\",\"vanilla\" ]",
        )
        .replace("l2 = [1e-4]", "l2 = [0.0001]")
        .replace(
            "iterations = 5\nbatch = 8",
            "batch = 8 # comment\niterations   =   5",
        )
        .replace(
            "kind = \"svcca\"\nvariance = 0.95",
            "variance = 0.95\nkind = \"svcca\"",
        );
    assert_ne!(reformatted, TINY);
    let s = apply(&reformatted, dir.path());
    assert!(s.ran.is_empty(), "reran {:?}", s.ran);
}

#[test]
fn search_trials_select_and_seeds_are_separate_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let with_search = TINY.replace(
        "[study.probe]",
        "[study.search]\ntrials = 2\niterations = 3\n\n[study.probe]",
    );
    let s = apply(&with_search, dir.path());
    assert_eq!(s.ran_of("search_trial"), 4);
    assert_eq!(s.ran_of("select"), 2);
    let more = apply(&with_search.replace("seeds = 2", "seeds = 3"), dir.path());
    assert_eq!(more.ran_of("search_trial") + more.ran_of("select"), 0);
    assert_eq!(more.ran_of("train"), 4);
}

/// The CKA distances of the study, from the cache.
fn cka_distances(text: &str, cache: &std::path::Path) -> Vec<f64> {
    use census::store::{Lookup, Store};
    let plan = census::ops::plan_of(&manifest(text), &census::task::Registry::standard()).unwrap();
    let store = ParquetStore::open(cache).unwrap();
    let (_, node) = plan.nodes().find(|(_, n)| n.kind == "cka").unwrap();
    let Lookup::Present(out) = store.get(&node.key).unwrap() else {
        panic!("cka not cached")
    };
    out.table("similarity")
        .unwrap()
        .f64s("distance")
        .unwrap()
        .to_vec()
}

#[test]
fn a_sketched_cka_is_its_own_task_and_estimates_the_exact_one() {
    let dir = tempfile::tempdir().unwrap();
    apply(TINY, dir.path());
    let sketched = TINY.replace("kind = \"cka\"", "kind = \"cka\"\nsketch = 4096");
    let s = apply(&sketched, dir.path());
    assert_eq!(s.ran_of("cka"), 1);
    assert_eq!(s.ran_of("train") + s.ran_of("probe"), 0);
    let (exact, estimate) = (
        cka_distances(TINY, dir.path()),
        cka_distances(&sketched, dir.path()),
    );
    assert_eq!(exact.len(), estimate.len());
    let worst = exact
        .iter()
        .zip(&estimate)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst > 0.0 && worst < 0.05, "largest difference {worst}");
}
