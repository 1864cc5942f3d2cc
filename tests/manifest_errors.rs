//! Bad input: every manifest in `tests/manifests/bad/` is `base.toml` with one mistake; each must
//! be rejected with the right line, field and an explanation.

use census::manifest::load;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests")
}

/// (file, line, field, words the message must contain). Line 0: the error is about the whole file.
const CASES: &[(&str, usize, &str, &str)] = &[
    ("bad_study_name", 3, "study[0].name", "only letters"),
    (
        "duplicate_analysis",
        25,
        "study[0].analysis[1]",
        "declared twice",
    ),
    ("duplicate_study", 28, "study[1].name", "exists already"),
    ("empty_arch", 7, "study[0].grid.arch", "list is empty"),
    (
        "exclude_everything",
        12,
        "study[0].grid.exclude",
        "remove every configuration",
    ),
    ("flip_prob_above_one", 4, "study[0].task", "flip_prob"),
    (
        "iterations_wrong_type",
        14,
        "study[0].train.iterations",
        "expected u64",
    ),
    ("malformed_toml", 10, "", "missing comma"),
    (
        "mds_without_distance",
        24,
        "study[0].analysis[1]",
        "needs a distance",
    ),
    (
        "exclude_wrong_type",
        12,
        "study[0].grid.exclude[1].units",
        "expected u64",
    ),
    (
        "inline_task_wrong_type",
        4,
        "study[0].task.steps",
        "floating point `10.5`, expected usize",
    ),
    (
        "misspelt_analysis_param",
        23,
        "study[0].analysis[0].varience",
        "did you mean `variance`?",
    ),
    (
        "misspelt_arch",
        7,
        "study[0].grid.arch[1]",
        "unknown variant `gur`, expected one of `vanilla`, `ugrnn`, `gru`, `lstm`; did you mean `gru`?",
    ),
    (
        "misspelt_mds_method",
        27,
        "study[0].analysis[1].method",
        "did you mean `smacof`?",
    ),
    (
        "momentum_above_one",
        15,
        "study[0].train.momentum",
        "got 1.5",
    ),
    ("negative_l2", 10, "study[0].grid.l2", ">= 0"),
    ("no_study", 0, "study", "declares no study"),
    (
        "probe_zero_trials",
        18,
        "study[0].probe.trials",
        "at least 1",
    ),
    ("range_step_zero", 9, "study[0].grid.units", "step"),
    (
        "search_range_reversed",
        19,
        "study[0].search.lr0",
        "[low, high]",
    ),
    (
        "third_analysis_wrong_type",
        30,
        "study[0].analysis[2].tol",
        "invalid type: string \"small\", expected f64",
    ),
    (
        "topology_without_fixed_points",
        25,
        "study[0].analysis[1]",
        "needs a `fixed_points`",
    ),
    ("units_negative", 9, "study[0].grid.units[0]", "`-4`"),
    (
        "units_wrong_type",
        9,
        "study[0].grid.units",
        "a list of non-negative integers",
    ),
    (
        "units_zero",
        9,
        "study[0].grid.units",
        "between 1 and 65536",
    ),
    (
        "unknown_activation",
        8,
        "study[0].grid.activation[0]",
        "expected `tanh` or `relu`",
    ),
    (
        "unknown_analysis",
        22,
        "study[0].analysis[0].kind",
        "expected one of `svcca`",
    ),
    (
        "unknown_arch",
        7,
        "study[0].grid.arch[1]",
        "expected one of `vanilla`, `ugrnn`, `gru`, `lstm`",
    ),
    (
        "unknown_grid_key",
        9,
        "study[0].grid.unit",
        "unknown field `unit`, expected one of `arch`, `activation`, `units`, `l2`, `seeds`, `exclude`; did you mean `units`?",
    ),
    (
        "unknown_task_kind",
        4,
        "study[0].task.kind",
        "expected one of `flipflop`, `sine`, `cdi`",
    ),
    (
        "unknown_task_param",
        4,
        "study[0].task.bitz",
        "unknown field `bitz`",
    ),
    (
        "unknown_top_level_key",
        2,
        "studdy",
        "unknown field `studdy`",
    ),
    (
        "sketch_too_small",
        25,
        "study[0].analysis[1].sketch",
        "must be in [2, 1048576], got 1",
    ),
    (
        "variance_above_one",
        21,
        "study[0].analysis[0].variance",
        "(0, 1]",
    ),
    (
        "zero_seeds",
        11,
        "study[0].grid.seeds",
        "between 1 and 1000000",
    ),
];

/// Where the column matters: the value inside an inline table or a later table, not its start.
const COLUMNS: &[(&str, usize)] = &[
    ("exclude_wrong_type", 58),
    ("inline_task_wrong_type", 32),
    ("misspelt_arch", 20),
    ("third_analysis_wrong_type", 7),
    ("unknown_task_param", 29),
];

#[test]
fn the_base_manifest_is_valid() {
    load(&dir().join("base.toml")).unwrap();
}

#[test]
fn every_bad_manifest_names_line_field_and_reason() {
    let mut listed: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    listed.sort();
    let mut files: Vec<String> = std::fs::read_dir(dir().join("bad"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    assert_eq!(
        listed, files,
        "every corpus file has a case and every case a file"
    );
    let mut wrong = Vec::new();
    for &(name, line, field, words) in CASES {
        let path = dir().join("bad").join(format!("{name}.toml"));
        let err = match load(&path) {
            Ok(_) => {
                wrong.push(format!("{name}: accepted"));
                continue;
            }
            Err(e) => e,
        };
        let text = err.to_string();
        let column_ok = COLUMNS
            .iter()
            .all(|&(n, column)| n != name || err.column == column);
        let ok = err.line == line
            && column_ok
            && err.field == field
            && text.contains(words)
            && text.starts_with(&path.display().to_string());
        if !ok {
            wrong.push(format!(
                "(\"{name}\", {}:{}, \"{}\", ...): {text}",
                err.line, err.column, err.field
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong errors:\n{}", wrong.join("\n"));
}

#[test]
fn every_error_of_a_manifest_is_reported_at_once() {
    let err = load(&dir().join("many/three_errors.toml")).unwrap_err();
    let got: Vec<(usize, usize, &str)> = err
        .all()
        .map(|e| (e.line, e.column, e.field.as_str()))
        .collect();
    let want = [
        (4, 32, "study[0].task.steps"),
        (7, 20, "study[0].grid.arch[1]"),
        (15, 12, "study[0].train.momentum"),
    ];
    assert_eq!(got, want, "{err}");
    assert_eq!(err.to_string().lines().count(), 3, "{err}");
}

#[test]
fn a_report_lists_twenty_errors_and_counts_the_rest() {
    let base = std::fs::read_to_string(dir().join("base.toml")).unwrap();
    let keys: String = (0..30).map(|i| format!("typo{i} = 1\n")).collect();
    let text = base.replace("[study.train]\n", &format!("[study.train]\n{keys}"));
    let err = census::manifest::parse(Path::new("m.toml"), &text).unwrap_err();
    assert_eq!(err.all().count(), census::manifest::SHOWN);
    assert_eq!(err.unshown, 30 - census::manifest::SHOWN);
    assert!(err.to_string().ends_with("… and 10 more"), "{err}");
    assert!(err
        .all()
        .all(|e| e.line >= 14 && e.field.starts_with("study[0].train.typo")));
}

/// Runs `census plan` on `path` and returns its error output; kills it and fails if it has not
/// finished within 30 s (a FIFO opened for reading waits for a writer forever).
fn refused_quickly(path: &Path) -> String {
    use std::process::{Command, Stdio};
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_census"))
        .arg("plan")
        .arg(path)
        .current_dir(cwd.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`census plan {}` still running after 30 s", path.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_is_refused_without_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("m.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success(), "mkfifo failed");
    let err = refused_quickly(&fifo);
    assert!(
        err.contains("must be a regular file") && err.contains("FIFO"),
        "{err}"
    );
    let err = refused_quickly(Path::new("/dev/zero"));
    assert!(
        err.contains("must be a regular file") && err.contains("device"),
        "{err}"
    );
    let err = refused_quickly(tmp.path());
    assert!(err.contains("a directory"), "{err}");
}

#[test]
fn a_manifest_over_the_size_cap_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.toml");
    let cap = census::manifest::MAX_BYTES as usize;
    std::fs::write(&big, "#".repeat(cap + 1)).unwrap();
    let err = load(&big).unwrap_err();
    assert!(err.message.contains("larger than 1024 KiB"), "{err}");
    std::fs::write(&big, "#".repeat(cap)).unwrap();
    assert!(load(&big)
        .unwrap_err()
        .message
        .contains("declares no study"));
}

/// Replays the fuzz corpus (`fuzz/corpus/manifest`, committed, grown by `cargo fuzz run
/// manifest`) through the same function the fuzz target calls: no input may panic, and the
/// seed manifests that are valid must still plan.
#[test]
fn the_fuzz_corpus_parses_or_errors_without_panicking() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/manifest");
    let mut planned = 0;
    let mut total = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        total += 1;
        if census::ops::parse_and_plan(&data).is_some() {
            planned += 1;
        }
    }
    assert!(total >= 30, "the corpus has only {total} inputs");
    for valid in ["default.toml", "smoke.toml", "base.toml"] {
        let data = std::fs::read(corpus.join(valid)).unwrap();
        assert!(
            census::ops::parse_and_plan(&data).is_some_and(|n| n > 0),
            "{valid} no longer plans"
        );
    }
    assert!(
        planned >= 3 && planned < total,
        "{planned} of {total} planned"
    );
}
