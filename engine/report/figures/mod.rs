//! The figures of one study, built as data (`plot::Figure`) from the exported tables.
//!
//! Which figures a study gets depends only on which tables have rows for it:
//! - `geometry`: probe trajectories in their top two PCs (Figs. 1b/2b/3b), distance-matrix
//!   heatmaps (1c), MDS by architecture and by activation for every metric (1d/1f, 2c/2e,
//!   3c/3d), trained against untrained (4b);
//! - `dynamics`: flip-flop fixed points coloured by unstable dimensions (1e), sine Jacobian
//!   eigenvalues (2d) and linear frequency (2f), CDI eigenvalue spectra (3e) and mode ablation
//!   (3f).
//!
//! A missing table, study or column gives fewer figures, never an error; a column of the wrong
//! type is an error.

mod dynamics;
mod geometry;

use super::data::{mean_se, Study, Tables};
use super::palette::{activation_colour, arch_colour, ACTIVATIONS, ARCHES};
use super::plot::{Figure, Layer, LegendEntry, Marker, Rgb};
use super::ReportError;

/// Every figure of `study`, in page order.
pub fn build(tables: &Tables, study: &Study) -> Result<Vec<Figure>, ReportError> {
    let mut out = Vec::new();
    out.extend(geometry::trajectories(tables, study)?);
    out.extend(dynamics::flipflop_fixed_points(tables, study)?);
    out.extend(geometry::distance_heatmaps(tables, study)?);
    out.extend(geometry::mds(tables, study)?);
    out.extend(geometry::trained_vs_untrained(tables, study)?);
    out.extend(dynamics::sine_eigenvalues(tables, study)?);
    out.extend(dynamics::linear_frequency(tables, study)?);
    out.extend(dynamics::cdi_spectra(tables, study)?);
    out.extend(dynamics::mode_ablation(tables, study)?);
    out.retain(|f| !f.panels.is_empty());
    Ok(out)
}

fn figure(study: &Study, name: &str, title: String, caption: String, columns: usize) -> Figure {
    Figure {
        name: file_stem(&format!("{}-{name}", study.name)),
        study: study.name.clone(),
        title,
        caption,
        panels: Vec::new(),
        columns,
        legend: Vec::new(),
        colour_bar: None,
    }
}

/// A name safe as a file stem: characters other than ASCII letters, digits, `-` and `_`
/// become `_`.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Legend entries for the architectures (or activations) present, in the fixed order, with
/// unknown names after the known ones.
fn legend_for(present: &[&str], by_arch: bool) -> Vec<LegendEntry> {
    let known: &[&str] = if by_arch { &ARCHES } else { &ACTIVATIONS };
    let mut names: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| present.contains(k))
        .collect();
    let mut rest: Vec<&str> = present
        .iter()
        .copied()
        .filter(|p| !known.contains(p))
        .collect();
    rest.sort();
    rest.dedup();
    names.extend(rest);
    names
        .into_iter()
        .map(|n| LegendEntry {
            label: n.to_string(),
            colour: if by_arch {
                arch_colour(n)
            } else {
                activation_colour(n)
            },
            marker: Marker::Dot,
        })
        .collect()
}

/// Mean line and ± standard-error band over groups of (x, y) samples.
fn mean_band(samples: Vec<(f64, f64)>, colour: Rgb) -> Vec<Layer> {
    let stats = mean_se(samples);
    if stats.is_empty() {
        return Vec::new();
    }
    let x: Vec<f64> = stats.iter().map(|s| s.0).collect();
    vec![
        Layer::Band {
            low: stats.iter().map(|s| s.1 - s.2).collect(),
            high: stats.iter().map(|s| s.1 + s.2).collect(),
            x: x.clone(),
            colour,
        },
        Layer::Line {
            points: stats.iter().map(|s| (s.0, s.1)).collect(),
            colour,
            width: 2,
            dashed: false,
        },
    ]
}

#[cfg(test)]
mod tests;
