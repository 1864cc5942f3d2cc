//! Drawing: a `Figure` (pure data: a grid of panels, each a list of layers, and one legend row)
//! rendered with plotters to SVG text and to PNG bytes.
//!
//! Figures are built as data first (`figures/`), so what a figure shows is testable without
//! pixels, and the same description draws both files. Text is rendered with the DejaVu Sans
//! font compiled into the binary (`assets/fonts/`, registered with plotters' `ab_glyph`
//! backend): PNGs have readable labels on a machine with no system fonts or fontconfig. SVG
//! text names `sans-serif` and is drawn by the viewer. Output is deterministic: the same
//! figure gives the same SVG bytes and the same PNG bytes.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::{FontStyle, RGBAColor, RGBColor};

pub use plotters::style::RGBColor as Rgb;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Pixel size of one panel.
pub const PANEL_W: u32 = 340;
pub const PANEL_H: u32 = 300;
const TITLE_H: u32 = 34;
const LEGEND_ROW_H: u32 = 24;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Marker {
    Dot,
    Hollow,
    Triangle,
    Cross,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Line {
        points: Vec<(f64, f64)>,
        colour: Rgb,
        width: u32,
        dashed: bool,
    },
    /// A shaded region between two curves sampled at the same x (mean ± standard error).
    Band {
        x: Vec<f64>,
        low: Vec<f64>,
        high: Vec<f64>,
        colour: Rgb,
    },
    Points {
        points: Vec<(f64, f64)>,
        colour: Rgb,
        marker: Marker,
        size: u32,
    },
    Rect {
        from: (f64, f64),
        to: (f64, f64),
        colour: Rgb,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub layers: Vec<Layer>,
    /// One data unit is as long on x as on y (PCA, MDS, the complex plane).
    pub equal_aspect: bool,
    /// No axes, ticks or mesh (heatmaps).
    pub bare: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LegendEntry {
    pub label: String,
    pub colour: Rgb,
    pub marker: Marker,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File stem, unique within a report (`flipflop-mds-svcca`).
    pub name: String,
    pub study: String,
    pub title: String,
    pub caption: String,
    pub panels: Vec<Panel>,
    pub columns: usize,
    pub legend: Vec<LegendEntry>,
}

impl Figure {
    fn grid(&self) -> (usize, usize) {
        let cols = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(cols).max(1), cols)
    }

    fn legend_rows(&self) -> u32 {
        let per_row = (self.size().0 / 150).max(1) as usize;
        self.legend.len().div_ceil(per_row) as u32
    }

    /// Width and height in pixels (the same for SVG and PNG).
    pub fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.grid();
        let w = (cols as u32 * PANEL_W).max(460);
        let legend = self.legend.len().div_ceil((w / 150).max(1) as usize) as u32;
        (
            w,
            TITLE_H + rows as u32 * PANEL_H + legend * LEGEND_ROW_H + 6,
        )
    }
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            panic!("the DejaVu Sans font compiled into census is not a valid TrueType file");
        }
    });
}

/// The figure as an SVG document.
pub fn to_svg(figure: &Figure) -> Result<String, String> {
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
        draw(&root, figure).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The figure as a PNG file's bytes (8-bit RGB).
pub fn to_png(figure: &Figure) -> Result<Vec<u8>, String> {
    register_font();
    let (w, h) = figure.size();
    let mut pixels = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        draw(&root, figure).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (w, h) = figure.size();
    let (title, rest) = root.split_vertically(TITLE_H);
    title.draw(&Text::new(
        figure.title.clone(),
        (10, 8),
        ("sans-serif", 18).into_font().color(&BLACK),
    ))?;
    let legend_h = figure.legend_rows() * LEGEND_ROW_H + 6;
    let (body, legend) = rest.split_vertically(h - TITLE_H - legend_h);
    let (rows, cols) = figure.grid();
    let cells = body.split_evenly((rows, cols));
    for (panel, area) in figure.panels.iter().zip(cells.iter()) {
        draw_panel(area, panel)?;
    }
    draw_legend(&legend, &figure.legend, w)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    width: u32,
) -> DrawResult<DB> {
    let per_row = (width / 150).max(1) as usize;
    for (i, entry) in entries.iter().enumerate() {
        let x = 14 + (i % per_row) as i32 * 150;
        let y = 12 + (i / per_row) as i32 * LEGEND_ROW_H as i32;
        draw_marker(area, (x, y), entry.marker, 5, entry.colour)?;
        area.draw(&Text::new(
            entry.label.clone(),
            (x + 12, y - 7),
            ("sans-serif", 13).into_font().color(&BLACK),
        ))?;
    }
    Ok(())
}

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    marker: Marker,
    size: i32,
    colour: Rgb,
) -> DrawResult<DB> {
    match marker {
        Marker::Dot => area.draw(&Circle::new(at, size, colour.filled())),
        Marker::Hollow => area.draw(&Circle::new(at, size, colour.stroke_width(2))),
        Marker::Triangle => area.draw(&TriangleMarker::new(at, size + 1, colour.filled())),
        Marker::Cross => area.draw(&Cross::new(at, size, colour.stroke_width(2))),
    }
}

/// The data range of every layer, padded by 5 % (a degenerate range becomes ±0.5).
pub fn bounds(layers: &[Layer]) -> ((f64, f64), (f64, f64)) {
    let mut x = (f64::INFINITY, f64::NEG_INFINITY);
    let mut y = (f64::INFINITY, f64::NEG_INFINITY);
    let mut see = |px: f64, py: f64| {
        if px.is_finite() && py.is_finite() {
            x = (x.0.min(px), x.1.max(px));
            y = (y.0.min(py), y.1.max(py));
        }
    };
    for layer in layers {
        match layer {
            Layer::Line { points, .. } | Layer::Points { points, .. } => {
                points.iter().for_each(|&(a, b)| see(a, b))
            }
            Layer::Band { x, low, high, .. } => {
                for i in 0..x.len() {
                    see(x[i], low[i]);
                    see(x[i], high[i]);
                }
            }
            Layer::Rect { from, to, .. } => {
                see(from.0, from.1);
                see(to.0, to.1);
            }
        }
    }
    (pad(x), pad(y))
}

fn pad((lo, hi): (f64, f64)) -> (f64, f64) {
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let span = hi - lo;
    if span <= 1e-12 * (1.0 + lo.abs()) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// Widens the narrower axis so that a data unit has the same length in pixels on both.
fn equalise(x: (f64, f64), y: (f64, f64), pixels: (f64, f64)) -> ((f64, f64), (f64, f64)) {
    let per_x = (x.1 - x.0) / pixels.0;
    let per_y = (y.1 - y.0) / pixels.1;
    let per = per_x.max(per_y);
    let grow = |r: (f64, f64), px: f64| {
        let mid = 0.5 * (r.0 + r.1);
        (mid - 0.5 * per * px, mid + 0.5 * per * px)
    };
    (grow(x, pixels.0), grow(y, pixels.1))
}

/// Tick labels short enough to read: three significant digits, no float noise; a value
/// within a millionth of the axis span of zero is `0`.
pub fn tick_in(v: f64, span: f64) -> String {
    if v.abs() <= 1e-6 * span.abs() {
        return "0".into();
    }
    tick(&v)
}

/// [`tick_in`] without an axis: only an exact zero is `0`.
pub fn tick(v: &f64) -> String {
    let v = *v;
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.1e}")
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 4) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> DrawResult<DB> {
    let (mut x, mut y) = bounds(&panel.layers);
    let (label_x, label_y) = if panel.bare { (4, 4) } else { (40, 52) };
    if panel.equal_aspect {
        let pixels = (
            (PANEL_W - label_y - 20) as f64,
            (PANEL_H - label_x - 40) as f64,
        );
        (x, y) = equalise(x, y, pixels);
    }
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 14))
        .margin(8)
        .x_label_area_size(label_x)
        .y_label_area_size(label_y)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
    if !panel.bare {
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(230, 230, 230))
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|v| tick_in(*v, x.1 - x.0))
            .y_label_formatter(&|v| tick_in(*v, y.1 - y.0))
            .label_style(("sans-serif", 11))
            .axis_desc_style(("sans-serif", 12))
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .draw()?;
    }
    for layer in &panel.layers {
        match layer {
            Layer::Line {
                points,
                colour,
                width,
                dashed,
            } => {
                let pts: Vec<_> = points.iter().copied().filter(finite).collect();
                let style = colour.stroke_width(*width);
                if *dashed {
                    chart.draw_series(std::iter::once(DashedPathElement::new(pts, 6, 4, style)))?;
                } else {
                    chart.draw_series(std::iter::once(PathElement::new(pts, style)))?;
                }
            }
            Layer::Band {
                x,
                low,
                high,
                colour,
            } => {
                let mut poly: Vec<(f64, f64)> =
                    x.iter().copied().zip(low.iter().copied()).collect();
                poly.extend(x.iter().copied().zip(high.iter().copied()).rev());
                poly.retain(finite);
                let fill: RGBAColor = colour.mix(0.25);
                chart.draw_series(std::iter::once(Polygon::new(poly, fill.filled())))?;
            }
            Layer::Points {
                points,
                colour,
                marker,
                size,
            } => {
                let s = *size as i32;
                let c = *colour;
                let pts = points.iter().copied().filter(finite);
                match marker {
                    Marker::Dot => chart.draw_series(pts.map(|p| Circle::new(p, s, c.filled())))?,
                    Marker::Hollow => {
                        chart.draw_series(pts.map(|p| Circle::new(p, s, c.stroke_width(2))))?
                    }
                    Marker::Triangle => {
                        chart.draw_series(pts.map(|p| TriangleMarker::new(p, s + 1, c.filled())))?
                    }
                    Marker::Cross => {
                        chart.draw_series(pts.map(|p| Cross::new(p, s, c.stroke_width(2))))?
                    }
                };
            }
            Layer::Rect { from, to, colour } => {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [*from, *to],
                    colour.filled(),
                )))?;
            }
        }
    }
    Ok(())
}

fn finite(p: &(f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}
