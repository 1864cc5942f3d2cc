//! Interop: the exported tables read back in pandas and polars (through pyarrow), with the
//! columns, types and row counts census wrote.

use crate::common::{apply, TINY};
use census::store::{read_table_file, ParquetStore};
use census::table::Column;
use std::path::Path;
use std::process::Command;

fn python_has_readers() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pandas, polars, pyarrow"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "pandas, polars and pyarrow are required on CI (tests/requirements.txt)"
        );
        eprintln!("skipped: pandas, polars or pyarrow is not installed (pip install -r tests/requirements.txt)");
    }
    ok
}

/// The arrow type each census column type must arrive as.
fn arrow_type(c: &Column) -> &'static str {
    match c {
        Column::Bool(_) => "bool",
        Column::I64(_) => "int64",
        Column::F32(_) => "float",
        Column::F64(_) | Column::OptF64(_) => "double",
        Column::Str(_) => "string",
        Column::ListF32(_) => "list<item: float not null>",
    }
}

#[test]
fn exported_tables_read_back_in_pandas_and_polars() {
    if !python_has_readers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = TINY.replace("[[study.analysis]]\nkind = \"mds\"", "[[study.analysis]]\nkind = \"fixed_points\"\ninits = 16\n\n[[study.analysis]]\nkind = \"topology\"\nruns = 5\nmax_steps = 200\n\n[[study.analysis]]\nkind = \"mds\"");
    apply(&text, dir.path());
    let out = dir.path().join("out");
    let store = ParquetStore::open(dir.path()).unwrap();
    let written = census::ops::export::export(&crate::common::manifest(&text), &store, &out, true)
        .unwrap()
        .written;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/read_tables.py");
    let result = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    for table in [
        "networks",
        "weights",
        "similarity",
        "embedding",
        "clustering",
        "states",
        "fixed_points",
        "eigenvalues",
        "topology",
    ] {
        assert!(seen.get(table).is_some(), "table {table} was not exported");
    }
    for (name, rows) in &written {
        let ours = read_table_file(&out.join(format!("{name}.parquet"))).unwrap();
        let theirs = &seen[name.as_str()];
        assert_eq!(
            theirs["rows"].as_u64(),
            Some(*rows as u64),
            "{name}: pandas row count"
        );
        assert_eq!(
            theirs["polars_rows"].as_u64(),
            Some(*rows as u64),
            "{name}: polars row count"
        );
        let names: Vec<&str> = ours.columns().iter().map(|(n, _)| n.as_str()).collect();
        let their_names: Vec<&str> = theirs["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(names, their_names, "{name}: columns");
        for (col, c) in ours.columns() {
            assert_eq!(
                theirs["arrow"][col].as_str(),
                Some(arrow_type(c)),
                "{name}.{col}: arrow type"
            );
            assert!(
                theirs["polars"][col].is_string(),
                "{name}.{col}: polars read it"
            );
        }
        if *name == "networks" {
            for col in census::ops::export::CONFIG_COLUMNS {
                assert!(names.contains(&col), "networks lacks {col}");
            }
        }
    }
    assert_eq!(seen["networks"]["rows"].as_u64(), Some(8));
    let sim = read_table_file(&out.join("similarity.parquet")).unwrap();
    let geometry = sim
        .strs("metric")
        .unwrap()
        .iter()
        .filter(|m| *m == "svcca" || *m == "cka")
        .count();
    assert_eq!(
        geometry,
        2 * 64,
        "svcca and cka over 8 networks, every ordered pair"
    );
}
