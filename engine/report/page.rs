//! `index.html`: one self-contained page (inline CSS, no scripts, nothing fetched from the
//! net): the findings first (each claim of the paper a study allows, with its statistic and
//! verdict), then per study how many trained networks solve the task, every figure's PNG linked
//! to its SVG with its caption, and the study's `clustering` and `topology_summary` rows as HTML
//! tables.

use std::fmt::Write;

use super::data::{col, study_rows, table, Study, Tables};
use super::plot::Figure;
use super::ReportError;

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;\
color:#222}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}\
figcaption{max-width:70em;font-size:.95em;color:#444}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th{background:#f3f3f3}td.s,th.s{text-align:left}nav a{margin-right:1em}";

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as a table shows it: four significant digits, `NaN` spelled out.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// The page; `figures` are those of `studies`, each file named `<figure.name>.png|svg`.
pub fn index(
    tables: &Tables,
    studies: &[Study],
    figures: &[Figure],
) -> Result<String, ReportError> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>census report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>census report</h1>\n<p>Figures after Maheswaranathan et al. (2019), \
         “Universality and individuality in neural dynamics across large populations of \
         recurrent networks”, drawn from the exported tables. Click a figure for its SVG.</p>\n"
    );
    if studies.is_empty() {
        h.push_str("<p>The tables hold no study: nothing to show.</p>\n");
    } else {
        h.push_str("<nav>");
        for s in studies {
            let _ = write!(h, "<a href=\"#{0}\">{0}</a>", escape(&s.name));
        }
        h.push_str("</nav>\n");
    }
    findings(&mut h, tables)?;
    for study in studies {
        let _ = writeln!(
            h,
            "<section id=\"{0}\">\n<h2>{0} <small>(task {1}, {2} networks)</small></h2>",
            escape(&study.name),
            escape(&study.task),
            study.nets.len()
        );
        population(&mut h, tables, study)?;
        for f in figures.iter().filter(|f| f.study == study.name) {
            let (w, _) = f.size();
            let name = escape(&f.name);
            let _ = writeln!(
                h,
                "<figure id=\"{name}\"><a href=\"{name}.svg\"><img src=\"{name}.png\" \
                 width=\"{w}\" alt=\"{}\"></a>\n<figcaption><b>{}.</b> {}</figcaption></figure>",
                escape(&f.title),
                escape(&f.title),
                escape(&f.caption)
            );
        }
        clustering(&mut h, tables, study)?;
        topology_summary(&mut h, tables, study)?;
        h.push_str("</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

fn findings(h: &mut String, tables: &Tables) -> Result<(), ReportError> {
    let Some(t) = table(tables, "findings") else {
        return Ok(());
    };
    let name = "findings";
    let study = col(name, t.strs("study"))?;
    let claim = col(name, t.strs("claim"))?;
    let statement = col(name, t.strs("statement"))?;
    let figure = col(name, t.strs("figure"))?;
    let metric = col(name, t.strs("metric"))?;
    let statistic = col(name, t.strs("statistic"))?;
    let value = col(name, t.f64s("value"))?;
    let p = col(name, t.f64s("p_value"))?;
    let n = col(name, t.i64s("n_networks"))?;
    let threshold = col(name, t.strs("threshold"))?;
    let verdict = col(name, t.strs("verdict"))?;
    let note = col(name, t.strs("note"))?;
    h.push_str(
        "<section id=\"findings\">\n<h2>Findings</h2>\n<p>Each claim of the paper that a \
         study's analyses allow, judged on the trained networks that solve the task, with the \
         statistic and the fixed threshold it is judged by (README, Findings).</p>\n<table>\n\
         <tr><th class=\"s\">study</th><th class=\"s\">claim</th><th class=\"s\">paper</th>\
         <th class=\"s\">metric</th><th class=\"s\">statistic</th><th>value</th><th>p-value</th>\
         <th>networks</th><th class=\"s\">holds when</th><th class=\"s\">verdict</th>\
         <th class=\"s\">note</th></tr>\n",
    );
    for i in 0..t.num_rows() {
        let colour = match verdict[i].as_str() {
            "holds" => "#1a7f37",
            "does not hold" => "#b42318",
            _ => "#666",
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"s\">{}</td><td class=\"s\">({}) {}</td><td class=\"s\">{}</td>\
             <td class=\"s\">{}</td><td class=\"s\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"s\">{}</td><td class=\"s\" style=\"color:{colour}\"><b>{}</b></td>\
             <td class=\"s\">{}</td></tr>",
            escape(&study[i]),
            escape(&claim[i]),
            escape(&statement[i]),
            escape(&figure[i]),
            escape(&metric[i]),
            escape(&statistic[i]),
            number(value[i]),
            number(p[i]),
            n[i],
            escape(&threshold[i]),
            escape(&verdict[i]),
            escape(&note[i]),
        );
    }
    h.push_str("</table>\n</section>\n");
    Ok(())
}

/// Per architecture: trained networks, and how many solve the task, do not, or diverged; then
/// every trained network an analysis left out, and why ([`left_out`]).
fn population(h: &mut String, tables: &Tables, study: &Study) -> Result<(), ReportError> {
    let rows = study_rows(tables, "networks", &study.name)?;
    let Some(t) = table(tables, "networks").filter(|_| !rows.is_empty()) else {
        return Ok(());
    };
    let name = "networks";
    let arch = col(name, t.strs("arch"))?;
    let (trained, status) = (col(name, t.bools("trained"))?, col(name, t.strs("status"))?);
    let solved = col(name, t.bools("solved"))?;
    let mut counts: Vec<(String, [usize; 4])> = Vec::new();
    for &i in rows.iter().filter(|&&i| trained[i]) {
        let k = match counts.iter().position(|c| c.0 == arch[i]) {
            Some(k) => k,
            None => {
                counts.push((arch[i].clone(), [0; 4]));
                counts.len() - 1
            }
        };
        let c = &mut counts[k].1;
        c[0] += 1;
        c[if status[i] != "ok" {
            3
        } else if solved[i] {
            1
        } else {
            2
        }] += 1;
    }
    h.push_str(
        "<h3>Networks</h3>\n<table>\n<tr><th class=\"s\">architecture</th><th>trained</th>\
         <th>solved</th><th>unsolved</th><th>diverged</th></tr>\n",
    );
    for (a, c) in &counts {
        let _ = writeln!(
            h,
            "<tr><td class=\"s\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(a),
            c[0],
            c[1],
            c[2],
            c[3]
        );
    }
    h.push_str("</table>\n");
    left_out(h, tables, study)
}

/// One trained network left out of some analyses for one reason.
struct LeftOut {
    network: String,
    kind: &'static str,
    reason: String,
    analyses: Vec<String>,
}

/// Trained networks left out: diverged and unsolved ones (`networks`), and those an analysis
/// set aside for its own rule (`excluded`, e.g. the modal fixed-point count), counted, then
/// listed in a `<details>` with the reason and the analyses that left them out.
fn left_out(h: &mut String, tables: &Tables, study: &Study) -> Result<(), ReportError> {
    let mut all: Vec<LeftOut> = Vec::new();
    let label = |id: &str| match study.nets.get(id) {
        Some(n) => format!("{} {} seed {}", n.arch, n.activation, n.seed),
        None => id.to_string(),
    };
    let rows = study_rows(tables, "excluded", &study.name)?;
    if let Some(t) = table(tables, "excluded") {
        let name = "excluded";
        let (ids, trained) = (
            col(name, t.strs("network_id"))?,
            col(name, t.bools("trained"))?,
        );
        let (metric, reason) = (col(name, t.strs("metric"))?, col(name, t.strs("reason"))?);
        for &i in rows.iter().filter(|&&i| trained[i]) {
            let r = reason[i].as_str();
            let kind = if r.starts_with("diverged") {
                "diverged"
            } else if r.starts_with("unsolved") {
                "unsolved"
            } else {
                "set aside"
            };
            add(&mut all, label(&ids[i]), kind, r, Some(&metric[i]));
        }
    }
    // diverged or unsolved networks no analysis listed (no analysis, or `keep_unsolved`)
    let rows = study_rows(tables, "networks", &study.name)?;
    if let Some(t) = table(tables, "networks") {
        let name = "networks";
        let (ids, trained) = (
            col(name, t.strs("network_id"))?,
            col(name, t.bools("trained"))?,
        );
        let (status, solved) = (col(name, t.strs("status"))?, col(name, t.bools("solved"))?);
        let reason = t.strs("reason").ok();
        for &i in rows.iter().filter(|&&i| trained[i]) {
            let (kind, why) = if status[i] != "ok" {
                ("diverged", reason.map_or("", |r| r[i].as_str()))
            } else if !solved[i] {
                ("unsolved", "task score below the study's threshold")
            } else {
                continue;
            };
            let network = label(&ids[i]);
            if !all.iter().any(|e| e.network == network && e.kind == kind) {
                add(&mut all, network, kind, why, None);
            }
        }
    }
    if all.is_empty() {
        return Ok(());
    }
    all.sort_by(|a, b| (kind_rank(a.kind), &a.network).cmp(&(kind_rank(b.kind), &b.network)));
    let count = |kind: &str| {
        let mut v: Vec<&str> = all
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.network.as_str())
            .collect();
        v.dedup();
        v.len()
    };
    let _ = writeln!(
        h,
        "<p class=\"left-out\">Left out of analyses of trained networks: <b>{}</b> diverged, \
         <b>{}</b> unsolved, <b>{}</b> set aside by an analysis's own rule (such as the modal \
         fixed-point count).</p>\n<details><summary>The {} networks left out, and why</summary>\n\
         <table>\n<tr><th class=\"s\">network</th><th class=\"s\">left out as</th>\
         <th class=\"s\">reason</th><th class=\"s\">by</th></tr>",
        count("diverged"),
        count("unsolved"),
        count("set aside"),
        all.len(),
    );
    for e in &all {
        let by = if e.analyses.is_empty() {
            "every analysis of trained networks".to_string()
        } else {
            e.analyses.join(", ")
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"s\">{}</td><td class=\"s\">{}</td><td class=\"s\">{}</td>\
             <td class=\"s\">{}</td></tr>",
            escape(&e.network),
            e.kind,
            escape(&e.reason),
            escape(&by)
        );
    }
    h.push_str("</table>\n</details>\n");
    Ok(())
}

/// Adds `analysis` to the entry of (network, kind, reason), creating it if needed.
fn add(
    all: &mut Vec<LeftOut>,
    network: String,
    kind: &'static str,
    reason: &str,
    analysis: Option<&str>,
) {
    let k = match all
        .iter()
        .position(|e| e.network == network && e.kind == kind && e.reason == reason)
    {
        Some(k) => k,
        None => {
            all.push(LeftOut {
                network,
                kind,
                reason: reason.to_string(),
                analyses: Vec::new(),
            });
            all.len() - 1
        }
    };
    let entry = &mut all[k];
    if let Some(a) = analysis.filter(|a| !entry.analyses.iter().any(|x| x == a)) {
        entry.analyses.push(a.to_string());
    }
}

fn kind_rank(kind: &str) -> usize {
    ["diverged", "unsolved", "set aside"]
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(3)
}

fn clustering(h: &mut String, tables: &Tables, study: &Study) -> Result<(), ReportError> {
    let rows = study_rows(tables, "clustering", &study.name)?;
    let Some(t) = table(tables, "clustering").filter(|_| !rows.is_empty()) else {
        return Ok(());
    };
    let metric = col("clustering", t.strs("metric"))?;
    let factor = col("clustering", t.strs("factor"))?;
    let score = col("clustering", t.f64s("score"))?;
    let p = col("clustering", t.f64s("p_value"))?;
    let n = t.i64s("n_networks").ok();
    let groups = t.i64s("n_groups").ok();
    let note = t.strs("note").ok();
    h.push_str(
        "<h3>Clustering</h3>\n<p>How strongly each distance matrix clusters by a factor: \
         silhouette score (−1 to 1, higher is tighter clusters) and its permutation-test \
         p-value, with the reason when a factor cannot be scored. arch_within_activation is \
         the paper's design: architecture among trained networks, labels permuted only within \
         each activation; the pooled factors permute freely; trained compares trained networks \
         with their untrained controls.</p>\n\
         <table>\n<tr><th class=\"s\">metric</th><th class=\"s\">factor</th><th>silhouette</th><th>p-value</th>",
    );
    if n.is_some() {
        h.push_str("<th>networks</th>");
    }
    if groups.is_some() {
        h.push_str("<th>groups</th>");
    }
    if note.is_some() {
        h.push_str("<th class=\"s\">note</th>");
    }
    h.push_str("</tr>\n");
    for i in rows {
        let _ = write!(
            h,
            "<tr><td class=\"s\">{}</td><td class=\"s\">{}</td><td>{}</td><td>{}</td>",
            escape(&metric[i]),
            escape(&factor[i]),
            number(score[i]),
            number(p[i])
        );
        if let Some(n) = n {
            let _ = write!(h, "<td>{}</td>", n[i]);
        }
        if let Some(g) = groups {
            let _ = write!(h, "<td>{}</td>", g[i]);
        }
        if let Some(note) = note {
            let _ = write!(h, "<td class=\"s\">{}</td>", escape(&note[i]));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    Ok(())
}

fn topology_summary(h: &mut String, tables: &Tables, study: &Study) -> Result<(), ReportError> {
    let rows = study_rows(tables, "topology_summary", &study.name)?;
    let Some(t) = table(tables, "topology_summary").filter(|_| !rows.is_empty()) else {
        return Ok(());
    };
    let metric = col("topology_summary", t.strs("metric"))?;
    let modal = col("topology_summary", t.i64s("modal_count"))?;
    let n = col("topology_summary", t.i64s("n_networks"))?;
    let aside = col("topology_summary", t.i64s("n_set_aside"))?;
    h.push_str(
        "<h3>Topology summary</h3>\n<p>The modal fixed-point count among trained networks, and \
         how many trained networks the paper's rule (same count as the mode) sets aside.</p>\n\
         <table>\n<tr><th class=\"s\">metric</th><th>modal count</th><th>networks</th><th>set aside</th></tr>\n",
    );
    for i in rows {
        let _ = writeln!(
            h,
            "<tr><td class=\"s\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&metric[i]),
            modal[i],
            n[i],
            aside[i]
        );
    }
    h.push_str("</table>\n");
    Ok(())
}
