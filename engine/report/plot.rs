//! Drawing: a `Figure` (pure data: a grid of panels, each a list of layers, a legend row and
//! optional colour bars) rendered with plotters to SVG text and to PNG bytes.
//!
//! Figures are built as data first (`figures/`), so what a figure shows is testable without
//! pixels, and the same description draws both files. Text uses the DejaVu Sans font compiled
//! into the binary (`assets/fonts/`): plotters' `ab_glyph` backend rasterises it into the PNG,
//! and `svg` writes its glyph outlines as paths, so neither file depends on the fonts of the
//! machine that shows it. The PNG is the SVG drawn at [`PNG_SCALE`] times its size, every
//! length (text, lines, markers, margins) scaled with it. Output is deterministic: the same
//! figure gives the same SVG bytes and the same PNG bytes.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, RGBAColor, RGBColor};

use super::palette::sequential;
use super::svg::SvgCanvas;

pub use plotters::style::RGBColor as Rgb;

pub(super) static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Size of one panel, in SVG pixels.
pub const PANEL_W: u32 = 340;
pub const PANEL_H: u32 = 300;
/// PNG pixels per SVG pixel: 3 × a 340-pixel panel is 1,020 pixels, 300 dpi at 3.4 inches.
pub const PNG_SCALE: u32 = 3;
const TITLE_H: u32 = 34;
const LEGEND_ROW_H: u32 = 24;
const LEGEND_COL_W: u32 = 150;
/// Height of a figure's colour bar under its legend, and of a panel's under its plot.
const BAR_H: u32 = 40;
/// Height of a panel's note.
const NOTE_H: u32 = 16;
/// Steps of a drawn colour bar.
const BAR_STEPS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Marker {
    Dot,
    Hollow,
    Triangle,
    Cross,
    /// A short line: the legend entry of a `Layer::Line`.
    Line,
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

/// The sequential map (`palette::sequential`) from `lo` (dark) to `hi` (yellow), named.
#[derive(Clone, Debug, PartialEq)]
pub struct ColourBar {
    pub label: String,
    pub lo: f64,
    pub hi: f64,
}

impl ColourBar {
    /// The colour of `v` on this bar (a degenerate range is all dark).
    pub fn colour(&self, v: f64) -> Rgb {
        let span = self.hi - self.lo;
        sequential(if span > 0.0 {
            (v - self.lo) / span
        } else {
            0.0
        })
    }
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
    /// Drawn under the plot: the map of this panel's colours.
    pub colour_bar: Option<ColourBar>,
    /// A line of small text at the panel's foot (what the panel leaves out).
    pub note: String,
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
    /// Drawn under the legend: the map of colours shared by every panel.
    pub colour_bar: Option<ColourBar>,
}

impl Figure {
    fn grid(&self) -> (usize, usize) {
        let cols = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(cols).max(1), cols)
    }

    fn width(&self) -> u32 {
        (self.grid().1 as u32 * PANEL_W).max(460)
    }

    fn legend_rows(&self) -> u32 {
        let per_row = (self.width() / LEGEND_COL_W).max(1) as usize;
        self.legend.len().div_ceil(per_row) as u32
    }

    /// Height of the legend area: entries, then the colour bar.
    fn legend_h(&self) -> u32 {
        let bar = if self.colour_bar.is_some() { BAR_H } else { 0 };
        self.legend_rows() * LEGEND_ROW_H + bar + 6
    }

    /// Width and height of the SVG in pixels (the PNG's are [`PNG_SCALE`] times these).
    pub fn size(&self) -> (u32, u32) {
        let rows = self.grid().0 as u32;
        (self.width(), TITLE_H + rows * PANEL_H + self.legend_h())
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

/// The figure as an SVG document, its text as glyph outlines.
pub fn to_svg(figure: &Figure) -> Result<String, String> {
    register_font();
    let mut svg = String::new();
    {
        let canvas = SvgCanvas::new(&mut svg, figure.size(), FONT, &figure.title);
        let root = canvas.into_drawing_area();
        draw(&root, figure, 1).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The figure as a PNG file's bytes (8-bit RGB), [`PNG_SCALE`] times the SVG's size.
pub fn to_png(figure: &Figure) -> Result<Vec<u8>, String> {
    register_font();
    let (w, h) = figure.size();
    let (w, h) = (w * PNG_SCALE, h * PNG_SCALE);
    let mut pixels = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        draw(&root, figure, PNG_SCALE).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // 300 dpi, so that a page layout program sizes the figure as the SVG
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: 11_811,
            yppu: 11_811,
            unit: png::Unit::Meter,
        }));
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A sans-serif text style of `size` pixels at scale `s`.
fn font(size: u32, s: u32) -> TextStyle<'static> {
    ("sans-serif", size * s).into_font().color(&BLACK)
}

/// Draws `figure` with every length multiplied by `s`.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
    s: u32,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (w, h) = figure.size();
    let (title, rest) = root.split_vertically(TITLE_H * s);
    title.draw(&Text::new(
        figure.title.clone(),
        (10 * s as i32, 8 * s as i32),
        font(18, s),
    ))?;
    let (body, legend) = rest.split_vertically((h - TITLE_H - figure.legend_h()) * s);
    let (rows, cols) = figure.grid();
    let cells = body.split_evenly((rows, cols));
    for (panel, area) in figure.panels.iter().zip(cells.iter()) {
        draw_panel(area, panel, s)?;
    }
    draw_legend(&legend, &figure.legend, w, s)?;
    if let Some(bar) = &figure.colour_bar {
        let top = figure.legend_rows() * LEGEND_ROW_H + 8;
        draw_colour_bar(&legend, bar, (14, top as i32), 260, s)?;
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    width: u32,
    s: u32,
) -> DrawResult<DB> {
    let per_row = (width / LEGEND_COL_W).max(1) as usize;
    let si = s as i32;
    for (i, entry) in entries.iter().enumerate() {
        let x = 14 + (i % per_row) as i32 * LEGEND_COL_W as i32;
        let y = 12 + (i / per_row) as i32 * LEGEND_ROW_H as i32;
        draw_marker(area, (x * si, y * si), entry.marker, 5, entry.colour, s)?;
        area.draw(&Text::new(
            entry.label.clone(),
            ((x + 12) * si, (y - 7) * si),
            font(13, s),
        ))?;
    }
    Ok(())
}

/// A horizontal colour bar `width` long with its top-left at `at` (unscaled pixels of `area`),
/// three tick labels under it and its label to its right.
fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    bar: &ColourBar,
    at: (i32, i32),
    width: i32,
    s: u32,
) -> DrawResult<DB> {
    let si = s as i32;
    let (x0, y0, h) = (at.0 * si, at.1 * si, 10 * si);
    let w = width * si;
    for k in 0..BAR_STEPS {
        let a = x0 + w * k as i32 / BAR_STEPS as i32;
        let b = x0 + w * (k + 1) as i32 / BAR_STEPS as i32;
        let t = (k as f64 + 0.5) / BAR_STEPS as f64;
        area.draw(&Rectangle::new(
            [(a, y0), (b, y0 + h)],
            sequential(t).filled(),
        ))?;
    }
    area.draw(&Rectangle::new(
        [(x0, y0), (x0 + w, y0 + h)],
        BLACK.stroke_width(s),
    ))?;
    let span = bar.hi - bar.lo;
    for (k, v) in [bar.lo, 0.5 * (bar.lo + bar.hi), bar.hi].iter().enumerate() {
        let x = x0 + w * k as i32 / 2;
        area.draw(&PathElement::new(
            vec![(x, y0 + h), (x, y0 + h + 3 * si)],
            BLACK.stroke_width(s),
        ))?;
        area.draw(&Text::new(
            tick_in(*v, span),
            (x, y0 + h + 4 * si),
            font(10, s).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    area.draw(&Text::new(
        bar.label.clone(),
        (x0 + w + 8 * si, y0 - si),
        font(12, s),
    ))
}

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    marker: Marker,
    size: i32,
    colour: Rgb,
    s: u32,
) -> DrawResult<DB> {
    let size = size * s as i32;
    match marker {
        Marker::Dot => area.draw(&Circle::new(at, size, colour.filled())),
        Marker::Hollow => area.draw(&Circle::new(at, size, colour.stroke_width(2 * s))),
        Marker::Triangle => area.draw(&TriangleMarker::new(at, size + 1, colour.filled())),
        Marker::Cross => area.draw(&Cross::new(at, size, colour.stroke_width(2 * s))),
        Marker::Line => area.draw(&PathElement::new(
            vec![(at.0 - 2 * size, at.1), (at.0 + size, at.1)],
            colour.stroke_width(2 * s),
        )),
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

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    s: u32,
) -> DrawResult<DB> {
    let (mut x, mut y) = bounds(&panel.layers);
    let bar = if panel.colour_bar.is_some() { BAR_H } else { 0 };
    let note = if panel.note.is_empty() { 0 } else { NOTE_H };
    let (label_x, label_y) = if panel.bare { (4, 4) } else { (40, 52) };
    if panel.equal_aspect {
        let pixels = (
            (PANEL_W - label_y - 20) as f64,
            (PANEL_H - label_x - bar - note - 40) as f64,
        );
        (x, y) = equalise(x, y, pixels);
    }
    let (_, h) = area.dim_in_pixel();
    let (plot, foot) = area.split_vertically(h - (bar + note) * s);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&panel.title, font(14, s))
        .margin(8 * s)
        .x_label_area_size(label_x * s)
        .y_label_area_size(label_y * s)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)?;
    if !panel.bare {
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(230, 230, 230).stroke_width(s))
            .axis_style(BLACK.stroke_width(s))
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|v| tick_in(*v, x.1 - x.0))
            .y_label_formatter(&|v| tick_in(*v, y.1 - y.0))
            .label_style(font(11, s))
            .axis_desc_style(font(12, s))
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .draw()?;
    }
    let si = s as i32;
    for layer in &panel.layers {
        match layer {
            Layer::Line {
                points,
                colour,
                width,
                dashed,
            } => {
                let pts: Vec<_> = points.iter().copied().filter(finite).collect();
                let style = colour.stroke_width(*width * s);
                if *dashed {
                    chart.draw_series(std::iter::once(DashedPathElement::new(
                        pts,
                        6 * s,
                        4 * s,
                        style,
                    )))?;
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
                let z = *size as i32 * si;
                let c = *colour;
                let pts = points.iter().copied().filter(finite);
                let w = 2 * s;
                match marker {
                    Marker::Dot => chart.draw_series(pts.map(|p| Circle::new(p, z, c.filled())))?,
                    Marker::Hollow => {
                        chart.draw_series(pts.map(|p| Circle::new(p, z, c.stroke_width(w))))?
                    }
                    Marker::Triangle => chart
                        .draw_series(pts.map(|p| TriangleMarker::new(p, z + si, c.filled())))?,
                    Marker::Cross | Marker::Line => {
                        chart.draw_series(pts.map(|p| Cross::new(p, z, c.stroke_width(w))))?
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
    if let Some(bar) = &panel.colour_bar {
        let w = (foot.dim_in_pixel().0 / s) as i32;
        let width = w / 2;
        draw_colour_bar(&foot, bar, ((w - width) / 2 - 30, 4), width, s)?;
    }
    if !panel.note.is_empty() {
        foot.draw(&Text::new(
            panel.note.clone(),
            (8 * si, (bar as i32 + 1) * si),
            font(11, s).color(&RGBColor(90, 90, 90)),
        ))?;
    }
    Ok(())
}

fn finite(p: &(f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}
