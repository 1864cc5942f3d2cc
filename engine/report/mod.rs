//! `census report`: the paper's figures, drawn from the exported tables.
//!
//! [`render`] takes the tables `ops::export::collect(.., states = true)` returns and writes into
//! `out/`:
//! 1. per study (the `study` column, in task order flip-flop, sine, CDI), the figures that its
//!    tables allow (`figures`): each as `<study>-<figure>.svg` and `.png`;
//! 2. `index.html` (`page`): every figure with its caption, grouped by study, and the
//!    `clustering` and `topology_summary` tables; offline, no scripts.
//!
//! Everything is written into a fresh `out/.tmp-report-*` folder first, then renamed into
//! `out/` (figures first, the page last), so a crash never leaves a half-written file or a page
//! pointing at missing figures. Missing or empty tables mean fewer figures, never an error.
//! The same tables give byte-identical files.
//!
//! Submodules: `data` (reading tables), `pca`, `palette` (fixed colours), `plot` (figure model
//! and plotters rendering, embedded font), `figures`, `page`.

mod data;
mod figures;
mod page;
mod palette;
mod pca;
mod plot;
mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::manifest::Manifest;
use crate::rnn::TaskSpec;
use crate::table::{Table, TableError};

pub use plot::Figure;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("table `{table}` cannot be read for the report: {source}")]
    Table {
        table: String,
        #[source]
        source: TableError,
    },
    #[error("cannot draw figure {figure} as {format}: {message}")]
    Draw {
        figure: String,
        format: &'static str,
        message: String,
    },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One figure as written.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedFigure {
    pub study: String,
    /// File stem, e.g. `flipflop-mds-svcca`.
    pub name: String,
    pub title: String,
    pub caption: String,
    pub png: PathBuf,
    pub svg: PathBuf,
}

/// What [`render`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub index: PathBuf,
    pub figures: Vec<RenderedFigure>,
}

/// Every figure of every study in `tables`, as data, in page order.
pub fn figures(tables: &BTreeMap<&'static str, Table>) -> Result<Vec<Figure>, ReportError> {
    let mut out = Vec::new();
    for study in data::studies(tables)? {
        out.extend(figures::build(tables, &study)?);
    }
    Ok(out)
}

/// Draws every figure and `index.html` into `out` (created if needed), from the tables alone.
pub fn render(tables: &BTreeMap<&'static str, Table>, out: &Path) -> Result<Rendered, ReportError> {
    render_studies(tables, data::studies(tables)?, out)
}

/// [`render`] for the tables of `manifest`, with what the tables leave out taken from it: the
/// command of each sine probe trial, so trajectories are coloured by their frequency ω.
pub fn render_for(
    manifest: &Manifest,
    tables: &BTreeMap<&'static str, Table>,
    out: &Path,
) -> Result<Rendered, ReportError> {
    let mut studies = data::studies(tables)?;
    for study in &mut studies {
        if let Some(s) = manifest.studies.iter().find(|s| s.name == study.name) {
            study.probe_x = probe_commands(s);
        }
    }
    render_studies(tables, studies, out)
}

/// The command `x` of each probe trial of a sine study (empty for other tasks): the probe
/// batch regenerated from the study's task and probe seed, as the `probe` task draws it.
fn probe_commands(study: &crate::manifest::Study) -> Vec<f64> {
    if !matches!(study.task, TaskSpec::Sine { .. }) {
        return Vec::new();
    }
    let batch = study.task.batch(study.probe.seed, study.probe.trials);
    (0..study.probe.trials)
        .map(|k| batch.inputs[(0, k, 0)] as f64)
        .collect()
}

fn render_studies(
    tables: &BTreeMap<&'static str, Table>,
    studies: Vec<data::Study>,
    out: &Path,
) -> Result<Rendered, ReportError> {
    let mut all = Vec::new();
    for study in &studies {
        all.extend(figures::build(tables, study)?);
    }
    let html = page::index(tables, &studies, &all)?;
    std::fs::create_dir_all(out).map_err(io("create", out))?;
    let staging = staging_dir(out)?;
    let result = write_all(&staging, out, &all, &html);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ReportError {
    let path = path.display().to_string();
    move |source| ReportError::Io { op, path, source }
}

/// A new hidden folder in `out` (names starting with `.` are skipped by table readers).
fn staging_dir(out: &Path) -> Result<PathBuf, ReportError> {
    let pid = std::process::id();
    for n in 0u32.. {
        let dir = out.join(format!(".tmp-report-{pid}-{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io("create", &dir)(e)),
        }
    }
    unreachable!("some staging name is free")
}

fn write_all(
    staging: &Path,
    out: &Path,
    figures: &[Figure],
    html: &str,
) -> Result<Rendered, ReportError> {
    let mut names = Vec::new();
    for f in figures {
        let svg = plot::to_svg(f).map_err(|message| ReportError::Draw {
            figure: f.name.clone(),
            format: "SVG",
            message,
        })?;
        let png = plot::to_png(f).map_err(|message| ReportError::Draw {
            figure: f.name.clone(),
            format: "PNG",
            message,
        })?;
        for (ext, bytes) in [("svg", svg.as_bytes()), ("png", png.as_slice())] {
            let file = format!("{}.{ext}", f.name);
            write_synced(&staging.join(&file), bytes)?;
            names.push(file);
        }
    }
    write_synced(&staging.join("index.html"), html.as_bytes())?;
    names.push("index.html".into());
    for name in &names {
        let (from, to) = (staging.join(name), out.join(name));
        std::fs::rename(&from, &to).map_err(io("rename into place", &to))?;
    }
    if let Ok(dir) = std::fs::File::open(out) {
        let _ = dir.sync_all();
    }
    Ok(Rendered {
        index: out.join("index.html"),
        figures: figures
            .iter()
            .map(|f| RenderedFigure {
                study: f.study.clone(),
                name: f.name.clone(),
                title: f.title.clone(),
                caption: f.caption.clone(),
                png: out.join(format!("{}.png", f.name)),
                svg: out.join(format!("{}.svg", f.name)),
            })
            .collect(),
    })
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}

#[cfg(test)]
mod tests;
