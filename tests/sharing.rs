//! Studies that share networks keep their own rows; `export --out DIR` leaves DIR holding exactly
//! this export and refuses a folder census did not write.

use crate::common::{apply, manifest, TINY};
use census::ops::export::{collect, export_with, ExportError, ExportOptions};
use census::ops::folder::{FolderError, MARKER};
use census::ops::plan_of;
use census::store::ParquetStore;
use census::table::Table;
use census::task::Registry;
use std::collections::{BTreeMap, BTreeSet};

fn tables(text: &str, cache: &std::path::Path) -> BTreeMap<&'static str, Table> {
    let m = manifest(text);
    let plan = plan_of(&m, &Registry::standard()).unwrap();
    let store = ParquetStore::open(cache).unwrap();
    collect(&m, &plan, &store, false).unwrap().tables
}

/// The distinct values of `column` among the rows of `study`.
fn ids(table: &Table, study: &str, column: &str) -> BTreeSet<String> {
    let studies = table.strs("study").unwrap();
    let values = table.strs(column).unwrap();
    studies
        .iter()
        .zip(values)
        .filter(|(s, _)| *s == study)
        .map(|(_, v)| v.clone())
        .collect()
}

fn rows_of(table: &Table, study: &str) -> usize {
    table
        .strs("study")
        .unwrap()
        .iter()
        .filter(|s| *s == study)
        .count()
}

#[test]
fn two_identical_studies_each_export_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let twins = format!(
        "{TINY}\n{}",
        TINY.replace("name = \"tiny\"", "name = \"twin\"")
    );
    let plan = plan_of(&manifest(&twins), &Registry::standard()).unwrap();
    let single = plan_of(&manifest(TINY), &Registry::standard()).unwrap();
    assert_eq!(plan.len(), single.len(), "shared tasks are computed once");
    let summary = apply(&twins, dir.path());
    assert_eq!(summary.ran.len(), single.len());

    let t = tables(&twins, dir.path());
    for study in ["tiny", "twin"] {
        assert_eq!(rows_of(&t["networks"], study), 8, "{study}");
        // Two metrics, 8 × 8 ordered pairs.
        assert_eq!(rows_of(&t["similarity"], study), 128, "{study}");
        assert_eq!(rows_of(&t["embedding"], study), 16, "{study}");
    }
    assert_eq!(
        ids(&t["networks"], "tiny", "network_id"),
        ids(&t["networks"], "twin", "network_id")
    );
}

#[test]
fn partly_shared_studies_name_only_their_own_networks() {
    let dir = tempfile::tempdir().unwrap();
    let both = format!(
        "{TINY}\n{}",
        TINY.replace("name = \"tiny\"", "name = \"shifted\"")
            .replace("seeds = 2", "seeds = [1, 2]")
    );
    apply(&both, dir.path());
    let t = tables(&both, dir.path());
    for study in ["tiny", "shifted"] {
        let networks = ids(&t["networks"], study, "network_id");
        assert_eq!(networks.len(), 8, "{study}");
        for column in ["network_a", "network_b"] {
            assert_eq!(
                ids(&t["similarity"], study, column),
                networks,
                "{study}: {column} names exactly the study's networks"
            );
        }
    }
    let shared: BTreeSet<_> = ids(&t["networks"], "tiny", "network_id")
        .intersection(&ids(&t["networks"], "shifted", "network_id"))
        .cloned()
        .collect();
    assert_eq!(
        shared.len(),
        4,
        "seed 1 of each configuration, trained and not"
    );
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn export_replaces_the_folder_and_refuses_a_foreign_one() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let with_fixed_points = TINY.replace(
        "[[study.analysis]]\nkind = \"mds\"",
        "[[study.analysis]]\nkind = \"fixed_points\"\ninits = 16\n\n[[study.analysis]]\nkind = \"mds\"",
    );
    apply(&with_fixed_points, &cache);
    let store = ParquetStore::open(&cache).unwrap();
    let out = dir.path().join("results");
    let opts = ExportOptions::default();
    export_with(&manifest(&with_fixed_points), &store, &out, &opts).unwrap();
    assert!(files(&out).contains(&"fixed_points.parquet".to_string()));

    apply(TINY, &cache);
    export_with(&manifest(TINY), &store, &out, &opts).unwrap();
    let mut expected: Vec<String> = tables(TINY, &cache)
        .keys()
        .map(|t| format!("{t}.parquet"))
        .collect();
    expected.push(MARKER.to_string());
    expected.sort();
    assert_eq!(
        files(&out),
        expected,
        "no table of the earlier export is left"
    );
    assert_eq!(
        files(dir.path()),
        ["cache", "results"],
        "no staging folder left"
    );

    let mine = dir.path().join("thesis");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("chapter.tex"), "keep me").unwrap();
    let err = export_with(&manifest(TINY), &store, &mine, &opts).unwrap_err();
    assert!(
        matches!(err, ExportError::Folder(FolderError::Foreign(_))),
        "{err}"
    );
    assert_eq!(files(&mine), ["chapter.tex"], "nothing written or removed");
    let force = ExportOptions {
        force: true,
        ..ExportOptions::default()
    };
    export_with(&manifest(TINY), &store, &mine, &force).unwrap();
    assert_eq!(files(&mine), expected);
}

#[test]
fn export_writes_the_complete_studies_and_lists_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let other = TINY
        .replace("name = \"tiny\"", "name = \"other\"")
        .replace("steps = 20", "steps = 21");
    let both = format!("{TINY}\n{other}");
    apply(TINY, &cache);
    let store = ParquetStore::open(&cache).unwrap();
    let out = dir.path().join("results");

    let all = ExportOptions {
        require_all: true,
        ..ExportOptions::default()
    };
    let err = export_with(&manifest(&both), &store, &out, &all).unwrap_err();
    assert!(matches!(err, ExportError::NotApplied { .. }), "{err}");
    assert!(!out.exists(), "nothing written");

    let exported = export_with(&manifest(&both), &store, &out, &ExportOptions::default()).unwrap();
    let planned_other = plan_of(&manifest(&other), &Registry::standard())
        .unwrap()
        .len();
    assert_eq!(exported.missing.len(), 1);
    assert_eq!(exported.missing[0].study, "other");
    assert_eq!(exported.missing[0].tasks, planned_other);
    let networks = census::store::read_table_file(&out.join("networks.parquet")).unwrap();
    assert_eq!(rows_of(&networks, "tiny"), 8);
    assert_eq!(rows_of(&networks, "other"), 0);

    let err = export_with(&manifest(&other), &store, &out, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(err, ExportError::NotApplied { .. }),
        "no study complete: {err}"
    );
}
