//! Interop: the exported tables read back in pandas and polars (through pyarrow), and in R
//! (through reticulate and pyarrow), with the columns, types, row counts and values census
//! wrote.

use crate::common::{apply, reference_available, succeeds, TINY};
use census::store::{read_table_file, ParquetStore};
use census::table::Column;
use std::path::Path;
use std::process::Command;

fn python_has_readers() -> bool {
    reference_available(
        succeeds("python3", &["-c", "import pandas, polars, pyarrow"]),
        "CI",
        "pandas, polars or pyarrow",
        "pip install -r tests/requirements.txt",
    )
}

/// Asserts the reader (`who`) saw table `name` with census's columns, in order; returns them.
fn same_columns<'a>(
    name: &str,
    ours: &'a census::table::Table,
    theirs: &serde_json::Value,
    who: &str,
) -> Vec<&'a str> {
    let names: Vec<&str> = ours.columns().iter().map(|(n, _)| n.as_str()).collect();
    let their_names: Vec<&str> = theirs["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, their_names, "{name}: columns in {who}");
    names
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

/// The tiny study with fixed points and topology, applied and exported: the cache folder (kept
/// alive), the export folder, and each table written with its row count.
fn exported() -> (tempfile::TempDir, std::path::PathBuf, Vec<(String, usize)>) {
    let dir = tempfile::tempdir().unwrap();
    let text = TINY.replace("[[study.analysis]]\nkind = \"mds\"", "[[study.analysis]]\nkind = \"fixed_points\"\ninits = 16\n\n[[study.analysis]]\nkind = \"topology\"\nruns = 5\nmax_steps = 200\n\n[[study.analysis]]\nkind = \"mds\"");
    apply(&text, dir.path());
    let out = dir.path().join("out");
    let store = ParquetStore::open(dir.path()).unwrap();
    let written = census::ops::export::export(&crate::common::manifest(&text), &store, &out, true)
        .unwrap()
        .written;
    (dir, out, written)
}

#[test]
fn exported_tables_read_back_in_pandas_and_polars() {
    if !python_has_readers() {
        return;
    }
    let (_dir, out, written) = exported();
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
        let names = same_columns(name, &ours, theirs, "pandas");
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

/// Rscript with reticulate, and a python3 with pyarrow for it. Required when `R_REQUIRED` is set
/// (`.ci/run` installs Debian's `r-base-core` and `r-cran-reticulate`).
fn r_has_readers() -> bool {
    reference_available(
        succeeds("Rscript", &["-e", "library(reticulate); library(jsonlite)"])
            && succeeds("python3", &["-c", "import pyarrow"]),
        "R_REQUIRED",
        "Rscript with reticulate and jsonlite, or pyarrow",
        "apt-get install r-base-core r-cran-reticulate",
    )
}

/// What R must see of a column: its classes (R has two for integers, by size), the missing
/// values (nulls and NaN), and the sum of the rest (a list column: its item count).
fn expected_in_r(c: &Column) -> (&'static [&'static str], usize, Option<f64>) {
    let floats = |v: &mut dyn Iterator<Item = Option<f64>>| {
        let (mut missing, mut total) = (0, 0.0);
        for x in v {
            match x {
                Some(x) if !x.is_nan() => total += x,
                _ => missing += 1,
            }
        }
        (missing, total)
    };
    match c {
        Column::Bool(v) => (
            &["logical"],
            0,
            Some(v.iter().filter(|b| **b).count() as f64),
        ),
        Column::I64(v) => (
            &["integer", "numeric"],
            0,
            Some(v.iter().map(|x| *x as f64).sum()),
        ),
        Column::F32(v) => {
            let (m, t) = floats(&mut v.iter().map(|x| Some(*x as f64)));
            (&["numeric"], m, Some(t))
        }
        Column::F64(v) => {
            let (m, t) = floats(&mut v.iter().map(|x| Some(*x)));
            (&["numeric"], m, Some(t))
        }
        Column::OptF64(v) => {
            let (m, t) = floats(&mut v.iter().copied());
            (&["numeric"], m, Some(t))
        }
        Column::Str(_) => (&["character"], 0, None),
        Column::ListF32(v) => (
            &["list"],
            0,
            Some(v.iter().map(|l| l.len()).sum::<usize>() as f64),
        ),
    }
}

#[test]
fn exported_tables_read_back_in_r() {
    if !r_has_readers() {
        return;
    }
    let (_dir, out, written) = exported();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/read_tables.R");
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let result = Command::new("Rscript")
        .arg(&script)
        .arg(&out)
        .env(
            "RETICULATE_PYTHON",
            String::from_utf8(python.stdout).unwrap().trim(),
        )
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(
        seen.as_object().unwrap().len(),
        written.len(),
        "R read every table"
    );
    for (name, rows) in &written {
        let ours = read_table_file(&out.join(format!("{name}.parquet"))).unwrap();
        let theirs = &seen[name.as_str()];
        assert_eq!(
            theirs["rows"].as_u64(),
            Some(*rows as u64),
            "{name}: rows in R"
        );
        same_columns(name, &ours, theirs, "R");
        if *rows == 0 {
            continue;
        }
        for (col, c) in ours.columns() {
            let r = &theirs["column"][col];
            let (classes, missing, total) = expected_in_r(c);
            let class = r["class"].as_str().unwrap();
            let all_missing = missing == *rows;
            assert!(
                classes.contains(&class) || (all_missing && class == "logical"),
                "{name}.{col}: R class {class}, expected one of {classes:?}"
            );
            assert_eq!(
                r["missing"].as_u64(),
                Some(missing as u64),
                "{name}.{col}: missing in R"
            );
            if let Some(total) = total.filter(|t| t.is_finite()) {
                let theirs = r["total"].as_f64().unwrap();
                assert!(
                    (theirs - total).abs() <= 1e-9 * total.abs().max(1.0),
                    "{name}.{col}: sum {theirs} in R, {total} in census"
                );
            }
        }
    }
}
