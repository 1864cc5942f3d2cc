//! Every exported row that names a network carries that network's configuration, so a user groups
//! without a join: `embedding` and `excluded` after `network_id`, `similarity` both networks'
//! `arch, activation, trained`, and `search_trials` the configuration each trial searched for.

use crate::common::{apply, manifest, TINY};
use census::ops::export::{collect, CONFIG_COLUMNS};
use census::ops::plan_of;
use census::store::ParquetStore;
use census::table::{Column, Table};
use census::task::Registry;
use std::collections::{BTreeMap, HashMap};

/// A cell as text, for comparing columns of any type.
fn cell(c: &Column, i: usize) -> String {
    match c {
        Column::Bool(v) => v[i].to_string(),
        Column::I64(v) => v[i].to_string(),
        Column::F64(v) => v[i].to_string(),
        Column::Str(v) => v[i].clone(),
        other => panic!("unexpected configuration column type {}", other.type_name()),
    }
}

/// `column` of the network `id` of `study`, as `networks` has it.
fn config_of(networks: &Table, study: &str, id: &str, column: &str) -> String {
    let (studies, ids) = (
        networks.strs("study").unwrap(),
        networks.strs("network_id").unwrap(),
    );
    let row = (0..ids.len())
        .find(|&i| studies[i] == study && ids[i] == id)
        .unwrap_or_else(|| panic!("{id} of {study} not in networks"));
    cell(networks.column(column).unwrap(), row)
}

/// Checks that `table`'s `column{suffix}` agrees with networks for the network named in `id_column`.
fn assert_joined(
    t: &BTreeMap<&'static str, Table>,
    name: &str,
    id_column: &str,
    columns: &[&str],
    suffix: &str,
) {
    let table = &t[name];
    assert!(table.num_rows() > 0, "{name} is empty");
    let (studies, ids) = (table.strs("study").unwrap(), table.strs(id_column).unwrap());
    for c in columns {
        let joined = table
            .column(&format!("{c}{suffix}"))
            .unwrap_or_else(|_| panic!("{name} lacks {c}{suffix}"));
        for i in 0..table.num_rows() {
            assert_eq!(
                cell(joined, i),
                config_of(&t["networks"], &studies[i], &ids[i], c),
                "{name} row {i}: {c}{suffix}"
            );
        }
    }
}

#[test]
fn rows_naming_networks_carry_their_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // Unsolved networks (5 iterations) are left out, so `excluded` has rows.
    let text = TINY.replace("keep_unsolved = true\n", "").replace(
        "[study.probe]",
        "[study.search]\ntrials = 2\niterations = 2\n\n[study.probe]",
    );
    apply(&text, dir.path());
    let m = manifest(&text);
    let plan = plan_of(&m, &Registry::standard()).unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let t = collect(&m, &plan, &store, false).unwrap().tables;

    // After `network_id, task`: the rows already carry `task`.
    let config = &CONFIG_COLUMNS[2..];
    assert_joined(&t, "embedding", "network_id", config, "");
    assert_joined(&t, "excluded", "network_id", config, "");
    for (id, suffix) in [("network_a", "_a"), ("network_b", "_b")] {
        assert_joined(
            &t,
            "similarity",
            id,
            &["arch", "activation", "trained"],
            suffix,
        );
    }
    // The configuration columns come right after the id they describe.
    let names: Vec<&str> = t["embedding"]
        .columns()
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    let at = names.iter().position(|n| *n == "network_id").unwrap();
    assert_eq!(&names[at + 1..at + 1 + config.len()], config);

    // Two trials per configuration, each row naming the configuration it searched for.
    let trials = &t["search_trials"];
    let mut per_config: HashMap<(String, String, i64), usize> = HashMap::new();
    let (arch, activation, units) = (
        trials.strs("arch").unwrap(),
        trials.strs("activation").unwrap(),
        trials.i64s("units").unwrap(),
    );
    for i in 0..trials.num_rows() {
        *per_config
            .entry((arch[i].clone(), activation[i].clone(), units[i]))
            .or_default() += 1;
    }
    let expected: HashMap<(String, String, i64), usize> = [("vanilla", 2), ("gru", 2)]
        .into_iter()
        .map(|(a, n)| ((a.to_string(), "tanh".to_string(), 4), n))
        .collect();
    assert_eq!(per_config, expected);
    assert!(trials.f64s("l2").unwrap().iter().all(|&l2| l2 == 1e-4));
    assert!(trials.opt_f64s("val_loss").is_ok(), "val_loss is nullable");
}
