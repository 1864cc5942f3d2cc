//! A small synthetic export (three studies, one per task; vanilla and GRU, each trained and
//! untrained) and the tests of `render`: every file written and non-trivial, the same tables
//! give the same bytes, missing tables give fewer figures, the page is offline.

use std::collections::BTreeMap;

use super::*;
use crate::table::{Column, Table};

const NETS: [(&str, &str, bool); 4] = [
    ("vanilla", "tanh", true),
    ("vanilla", "tanh", false),
    ("gru", "tanh", true),
    ("gru", "tanh", false),
];
const UNITS: usize = 4;

fn id(study: &str, k: usize) -> String {
    format!("{study}{k:02}")
}

/// Rows of per-network tables: config columns for `(study, task, net)` repeated `n` times,
/// followed by `rest`.
struct Rows {
    cols: BTreeMap<&'static str, Column>,
    order: Vec<&'static str>,
}

impl Rows {
    fn new() -> Rows {
        Rows {
            cols: BTreeMap::new(),
            order: Vec::new(),
        }
    }
    fn push(&mut self, name: &'static str, value: Column) {
        if !self.cols.contains_key(name) {
            self.order.push(name);
            self.cols.insert(name, value.empty_like());
        }
        self.cols.get_mut(name).unwrap().extend(&value).unwrap();
    }
    fn config(&mut self, study: &str, task: &str, k: usize) {
        let (arch, act, trained) = NETS[k];
        self.push("study", Column::Str(vec![study.into()]));
        self.push("network_id", Column::Str(vec![id(study, k)]));
        self.push("task", Column::Str(vec![task.into()]));
        self.push("arch", Column::Str(vec![arch.into()]));
        self.push("activation", Column::Str(vec![act.into()]));
        self.push("units", Column::I64(vec![UNITS as i64]));
        self.push("l2", Column::F64(vec![1e-4]));
        self.push("seed", Column::I64(vec![0]));
        self.push("trained", Column::Bool(vec![trained]));
    }
    fn f64(&mut self, name: &'static str, v: f64) {
        self.push(name, Column::F64(vec![v]));
    }
    fn i64(&mut self, name: &'static str, v: i64) {
        self.push(name, Column::I64(vec![v]));
    }
    fn str(&mut self, name: &'static str, v: &str) {
        self.push(name, Column::Str(vec![v.into()]));
    }
    fn list(&mut self, name: &'static str, v: Vec<f32>) {
        self.push(name, Column::ListF32(vec![v]));
    }
    fn table(mut self) -> Table {
        let mut t = Table::new();
        for name in self.order {
            t.push(name, self.cols.remove(name).unwrap()).unwrap();
        }
        t
    }
}

/// The synthetic export: studies `ff` (flipflop), `sn` (sine), `cd` (cdi).
pub(crate) fn synthetic() -> BTreeMap<&'static str, Table> {
    let studies = [("ff", "flipflop"), ("sn", "sine"), ("cd", "cdi")];
    let mut networks = Rows::new();
    let mut states = Rows::new();
    let mut similarity = Rows::new();
    let mut embedding = Rows::new();
    let mut fixed = Rows::new();
    let mut eig = Rows::new();
    let mut freq = Rows::new();
    let mut ablation = Rows::new();
    let mut clustering = Rows::new();
    let mut summary = Rows::new();
    for (s, (study, task)) in studies.iter().enumerate() {
        for (k, &(_, _, trained)) in NETS.iter().enumerate() {
            networks.config(study, task, k);
            networks.push("val_loss", Column::OptF64(vec![Some(0.1 * (k + 1) as f64)]));
            networks.push("solved", Column::Bool(vec![true]));
            let (lo, range) = if *task == "sine" {
                (0.01, 0.04)
            } else {
                (f64::NAN, f64::NAN)
            };
            networks.f64("freq_min", lo);
            networks.f64("freq_range", range);
            networks.str("status", "ok");
            let phase = (s * 4 + k) as f32;
            for trial in 0..3 {
                for t in 0..20 {
                    states.config(study, task, k);
                    states.i64("trial", trial);
                    states.i64("t", t);
                    let a = 0.3 * t as f32 + trial as f32 + phase;
                    states.list(
                        "h",
                        vec![a.sin(), a.cos(), 0.3 * a.sin() * a.cos(), 0.1 * t as f32],
                    );
                }
            }
            for metric in ["svcca", "topology_matched"] {
                embedding.str("study", study);
                embedding.str("task", task);
                embedding.str("metric", metric);
                embedding.str("method", "smacof");
                embedding.str("network_id", &id(study, k));
                embedding.f64("x", (k as f64 * 1.3).cos());
                embedding.f64("y", (k as f64 * 0.7).sin());
                for j in 0..NETS.len() {
                    similarity.str("study", study);
                    similarity.str("task", task);
                    similarity.str("metric", metric);
                    similarity.str("network_a", &id(study, k));
                    similarity.str("network_b", &id(study, j));
                    similarity.f64("distance", (k as f64 - j as f64).abs() / 3.0);
                }
            }
            if !trained {
                continue;
            }
            let conditions: Vec<f64> = match *task {
                "flipflop" => vec![0.0],
                "sine" => vec![0.0, 0.5, 1.0],
                _ => vec![0.0, 1.0],
            };
            for &c in &conditions {
                for index in 0..3i64 {
                    fixed.config(study, task, k);
                    fixed.f64("condition", c);
                    fixed.i64("index", index);
                    fixed.list("state", vec![index as f32 * 0.5, -0.2, 0.1 * c as f32, 0.0]);
                    fixed.f64("q", 1e-14);
                    fixed.i64("n_unstable", index % 2);
                    fixed.list("readout", vec![index as f32]);
                    for kk in 0..UNITS as i64 {
                        eig.config(study, task, k);
                        eig.f64("condition", c);
                        eig.i64("index", index);
                        eig.i64("k", kk);
                        let r = 1.0 - 0.2 * kk as f64;
                        let angle = 0.2 * (c + 0.1) * if kk % 2 == 0 { 1.0 } else { -1.0 };
                        eig.f64("re", r * angle.cos());
                        eig.f64("im", r * angle.sin());
                        if *task == "cdi" {
                            ablation.config(study, task, k);
                            ablation.f64("condition", c);
                            ablation.i64("index", index);
                            ablation.i64("m", kk + 1);
                            ablation.f64("response", 1.0 - 0.5f64.powi(kk as i32 + 1));
                        }
                    }
                    if *task == "sine" && index == 0 {
                        freq.config(study, task, k);
                        freq.f64("condition", c);
                        freq.f64("omega", 0.01 + 0.04 * c);
                        freq.i64("index", 0);
                        freq.f64("frequency", 0.012 + 0.038 * c + 0.001 * k as f64);
                    }
                }
            }
        }
        for (metric, factor, score, p) in [
            ("svcca", "arch", 0.25, 0.01),
            ("svcca", "trained", -0.1, 0.9),
        ] {
            clustering.str("study", study);
            clustering.str("task", task);
            clustering.str("metric", metric);
            clustering.str("factor", factor);
            clustering.f64("score", score);
            clustering.f64("p_value", p);
            clustering.i64("n_networks", 4);
            clustering.i64("n_groups", 2);
        }
        summary.str("study", study);
        summary.str("task", task);
        summary.str("metric", "topology_matched");
        summary.i64("modal_count", 3);
        summary.i64("n_networks", 2);
        summary.i64("n_set_aside", 0);
    }
    let mut out = BTreeMap::new();
    out.insert("networks", networks.table());
    out.insert("states", states.table());
    out.insert("similarity", similarity.table());
    out.insert("embedding", embedding.table());
    out.insert("fixed_points", fixed.table());
    out.insert("eigenvalues", eig.table());
    out.insert("linear_frequency", freq.table());
    out.insert("mode_ablation", ablation.table());
    out.insert("clustering", clustering.table());
    out.insert("topology_summary", summary.table());
    out.insert("weights", Table::new());
    out
}

/// No text left to the viewer's fonts: no `<text>` element, and every glyph placed with `<use>`
/// refers to an outline defined in the file.
fn svg_text_is_outlines(svg: &str, name: &str) {
    assert!(!svg.contains("<text"), "{name} SVG has a <text> element");
    assert!(!svg.contains("font-family"), "{name} SVG names a font");
    let uses: Vec<&str> = svg
        .split("<use xlink:href=\"#")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(uses.len() > 20, "{name} SVG places {} glyphs", uses.len());
    for id in uses {
        assert!(
            svg.contains(&format!("<path id=\"{id}\" d=\"M")),
            "{name} SVG uses glyph {id} but does not define it"
        );
    }
}

fn names(r: &Rendered) -> Vec<&str> {
    r.figures.iter().map(|f| f.name.as_str()).collect()
}

const ALL: [&str; 20] = [
    "ff-trajectories",
    "ff-fixed-points",
    "ff-distances",
    "ff-mds-svcca",
    "ff-mds-topology_matched",
    "ff-trained-vs-untrained",
    "sn-trajectories",
    "sn-distances",
    "sn-mds-svcca",
    "sn-mds-topology_matched",
    "sn-trained-vs-untrained",
    "sn-eigenvalues",
    "sn-linear-frequency",
    "cd-trajectories",
    "cd-distances",
    "cd-mds-svcca",
    "cd-mds-topology_matched",
    "cd-trained-vs-untrained",
    "cd-eigenvalue-spectra",
    "cd-mode-ablation",
];

#[test]
fn every_figure_is_written_in_both_formats_and_the_page_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let r = render(&synthetic(), dir.path()).unwrap();
    assert_eq!(names(&r), ALL);
    let html = std::fs::read_to_string(&r.index).unwrap();
    for f in &r.figures {
        let png = std::fs::read(&f.png).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", f.name);
        assert!(png.len() > 5_000, "{} PNG is {} bytes", f.name, png.len());
        let svg = std::fs::read_to_string(&f.svg).unwrap();
        assert!(svg.starts_with("<svg"), "{}", f.name);
        // drawn content, not only the frame: many shapes and the title's text
        assert!(
            svg.matches('<').count() > 40,
            "{} SVG has few elements",
            f.name
        );
        assert!(
            svg.contains(&format!("<title>{}</title>", page::escape(&f.title))),
            "{} SVG lacks its title",
            f.name
        );
        svg_text_is_outlines(&svg, &f.name);
        assert!(html.contains(&format!("src=\"{}.png\"", f.name)));
        assert!(html.contains(&format!("href=\"{}.svg\"", f.name)));
    }
    // study order follows the paper; tables are on the page; nothing is fetched or scripted
    let pos = |s: &str| html.find(s).unwrap();
    assert!(pos("id=\"ff\"") < pos("id=\"sn\"") && pos("id=\"sn\"") < pos("id=\"cd\""));
    assert_eq!(html.matches("<h3>Clustering</h3>").count(), 3);
    assert_eq!(html.matches("<h3>Topology summary</h3>").count(), 3);
    assert!(html.contains("<td>0.2500</td><td>0.0100</td>"));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    // only the final files remain: no staging folder
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2 * ALL.len() + 1);
    assert!(left.iter().all(|n| !n.starts_with('.')));
}

#[test]
fn the_same_tables_give_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ra = render(&synthetic(), a.path()).unwrap();
    render(&synthetic(), b.path()).unwrap();
    for f in &ra.figures {
        for ext in ["svg", "png"] {
            let name = format!("{}.{ext}", f.name);
            assert!(
                std::fs::read(a.path().join(&name)).unwrap()
                    == std::fs::read(b.path().join(&name)).unwrap(),
                "{name} differs between two renders"
            );
        }
    }
    assert_eq!(
        std::fs::read(a.path().join("index.html")).unwrap(),
        std::fs::read(b.path().join("index.html")).unwrap()
    );
}

#[test]
fn missing_tables_and_studies_give_fewer_figures() {
    let mut t = synthetic();
    t.remove("states");
    t.remove("linear_frequency");
    t.insert("mode_ablation", Table::new());
    let got: Vec<String> = figures(&t).unwrap().into_iter().map(|f| f.name).collect();
    let expected: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|n| {
            !n.ends_with("trajectories") && *n != "sn-linear-frequency" && *n != "cd-mode-ablation"
        })
        .collect();
    assert_eq!(got, expected);

    // one study only: filter every table's rows to `sn`
    let only: BTreeMap<&'static str, Table> = synthetic()
        .into_iter()
        .map(|(name, table)| (name, keep_study(&table, "sn")))
        .collect();
    let got: Vec<String> = figures(&only)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(
        got,
        ALL.iter()
            .filter(|n| n.starts_with("sn-"))
            .copied()
            .collect::<Vec<_>>()
    );

    // nothing at all: an empty page, no error
    let dir = tempfile::tempdir().unwrap();
    let r = render(&BTreeMap::new(), dir.path()).unwrap();
    assert!(r.figures.is_empty());
    assert!(std::fs::read_to_string(&r.index)
        .unwrap()
        .contains("nothing to show"));
}

/// `t` with the string column `column` rewritten row by row (`None` keeps the value).
pub(crate) fn edit(t: &Table, column: &str, f: impl Fn(usize, &str) -> Option<String>) -> Table {
    let mut out = Table::new();
    for (name, c) in t.columns() {
        let c = match c {
            Column::Str(v) if name == column => Column::Str(
                v.iter()
                    .enumerate()
                    .map(|(i, s)| f(i, s).unwrap_or_else(|| s.clone()))
                    .collect(),
            ),
            other => other.clone(),
        };
        out.push(name, c).unwrap();
    }
    out
}

fn keep_study(t: &Table, study: &str) -> Table {
    let Ok(studies) = t.strs("study") else {
        return t.clone();
    };
    let rows: Vec<usize> = (0..t.num_rows()).filter(|&i| studies[i] == study).collect();
    let mut out = Table::new();
    for (name, c) in t.columns() {
        let mut col = c.empty_like();
        for &i in &rows {
            col.extend(&c.repeat_row(i, 1)).unwrap();
        }
        out.push(name, col).unwrap();
    }
    out
}

#[test]
fn a_column_of_the_wrong_type_is_an_error_naming_the_table() {
    let mut t = synthetic();
    let bad = Table::new()
        .with("study", Column::Str(vec!["ff".into()]))
        .with("task", Column::Str(vec!["flipflop".into()]))
        .with("metric", Column::Str(vec!["svcca".into()]))
        .with("factor", Column::Str(vec!["arch".into()]))
        .with("score", Column::Str(vec!["high".into()]))
        .with("p_value", Column::F64(vec![0.5]));
    t.insert("clustering", bad);
    let dir = tempfile::tempdir().unwrap();
    let err = render(&t, dir.path()).unwrap_err();
    assert!(
        matches!(&err, ReportError::Table { table, .. } if table == "clustering"),
        "{err}"
    );
    // nothing was written
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_failed_write_leaves_no_staging_folder_and_no_page() {
    let dir = tempfile::tempdir().unwrap();
    // a non-empty folder where a figure file must go: renaming over it fails
    std::fs::create_dir_all(dir.path().join("ff-distances.png").join("x")).unwrap();
    let err = render(&synthetic(), dir.path()).unwrap_err();
    assert!(
        matches!(
            &err,
            ReportError::Io {
                op: "rename into place",
                ..
            }
        ),
        "{err}"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".tmp-report")),
        "{names:?}"
    );
    assert!(!dir.path().join("index.html").exists());
}

#[test]
fn the_page_lists_the_networks_left_out_with_counts_and_reasons() {
    let mut t = synthetic();
    // ff02 (gru tanh, trained) diverged; sn00 (vanilla tanh) set aside by the modal rule
    let networks = t["networks"].clone();
    let ids = networks.strs("network_id").unwrap().to_vec();
    let networks = edit(&networks, "status", |i, _| {
        (ids[i] == "ff02").then(|| "diverged".into())
    });
    t.insert("networks", networks);
    let excluded = Table::new()
        .with(
            "study",
            Column::Str(vec!["ff".into(), "ff".into(), "sn".into()]),
        )
        .with(
            "task",
            Column::Str(vec!["flipflop".into(), "flipflop".into(), "sine".into()]),
        )
        .with(
            "metric",
            Column::Str(vec![
                "svcca".into(),
                "topology_matched".into(),
                "topology_modal".into(),
            ]),
        )
        .with(
            "network_id",
            Column::Str(vec!["ff02".into(), "ff02".into(), "sn00".into()]),
        )
        .with("trained", Column::Bool(vec![true, true, true]))
        .with(
            "reason",
            Column::Str(vec![
                "diverged: at iteration 3: non-finite loss".into(),
                "diverged: at iteration 3: non-finite loss".into(),
                "4 certified fixed points, the population's mode is 3".into(),
            ]),
        );
    t.insert("excluded", excluded);
    let dir = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(render(&t, dir.path()).unwrap().index).unwrap();
    let section = |id: &str| {
        let start = html.find(&format!("<section id=\"{id}\">")).unwrap();
        html[start..start + html[start..].find("</section>").unwrap()].to_string()
    };
    let ff = section("ff");
    assert!(
        ff.contains("<b>1</b> diverged, <b>0</b> unsolved, <b>0</b> set aside"),
        "{ff}"
    );
    assert!(ff.contains("<details><summary>The 1 networks left out, and why</summary>"));
    assert!(ff.contains(
        "<td class=\"s\">gru tanh seed 0</td><td class=\"s\">diverged</td>\
         <td class=\"s\">diverged: at iteration 3: non-finite loss</td>\
         <td class=\"s\">svcca, topology_matched</td>"
    ));
    let sn = section("sn");
    assert!(sn.contains("<b>0</b> diverged, <b>0</b> unsolved, <b>1</b> set aside"));
    assert!(sn.contains("the population&#39;s mode is 3</td><td class=\"s\">topology_modal</td>"));
    // nothing left out: no list
    assert!(!section("cd").contains("<details>"));
}
