//! A plotters drawing backend that writes a self-contained SVG: shapes as SVG elements, text as
//! the outlines of the embedded DejaVu Sans glyphs (matplotlib's `svg.fonttype = 'path'`), so
//! the file looks the same in every viewer whatever fonts it has.
//!
//! Each glyph used is defined once in `<defs>` (its outline in font units) and placed with
//! `<use>`; glyphs sit where plotters' own `ab_glyph` rasteriser puts them in the PNG, so both
//! files share one layout. Output is deterministic: shapes in drawing order, glyph definitions
//! by glyph id, numbers with fixed precision.

use std::collections::BTreeMap;
use std::fmt::Write;

use ab_glyph::{Font, FontRef, OutlineCurve, Point, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontTransform,
};

/// Writes the SVG document into `out` on `present`.
pub struct SvgCanvas<'a> {
    out: &'a mut String,
    size: (u32, u32),
    title: String,
    font: FontRef<'static>,
    body: String,
    /// Glyph id → path data in font units, y pointing down.
    glyphs: BTreeMap<u16, String>,
}

type Drawn = Result<(), DrawingErrorKind<std::fmt::Error>>;

impl<'a> SvgCanvas<'a> {
    /// `title` becomes the document's `<title>` (what screen readers and search read).
    pub fn new(out: &'a mut String, size: (u32, u32), font: &'static [u8], title: &str) -> Self {
        SvgCanvas {
            out,
            size,
            title: title.to_string(),
            font: FontRef::try_from_slice(font).expect("the embedded font is valid"),
            body: String::new(),
            glyphs: BTreeMap::new(),
        }
    }

    fn glyph_path(&mut self, id: ab_glyph::GlyphId) {
        if self.glyphs.contains_key(&id.0) {
            return;
        }
        let mut d = String::new();
        if let Some(outline) = self.font.outline(id) {
            let mut last: Option<Point> = None;
            for curve in &outline.curves {
                let (start, rest): (Point, Vec<Point>) = match *curve {
                    OutlineCurve::Line(a, b) => (a, vec![b]),
                    OutlineCurve::Quad(a, b, c) => (a, vec![b, c]),
                    OutlineCurve::Cubic(a, b, c, e) => (a, vec![b, c, e]),
                };
                if last != Some(start) {
                    if last.is_some() {
                        d.push('Z');
                    }
                    let _ = write!(d, "M{}", pt(start));
                }
                let op = ['L', 'Q', 'C'][rest.len() - 1];
                d.push(op);
                let pts: Vec<String> = rest.iter().map(|&p| pt(p)).collect();
                d.push_str(&pts.join(" "));
                last = rest.last().copied();
            }
            if last.is_some() {
                d.push('Z');
            }
        }
        self.glyphs.insert(id.0, d);
    }
}

/// A font-unit point with y flipped to point down, as `x y`.
fn pt(p: Point) -> String {
    format!("{} {}", num(p.x as f64), num(-p.y as f64))
}

/// At most two decimals, no trailing zeros, no `-0`.
fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn colour(c: BackendColor) -> String {
    let (r, g, b) = c.rgb;
    let mut s = format!("fill=\"#{r:02X}{g:02X}{b:02X}\"");
    if c.alpha < 1.0 {
        let _ = write!(s, " opacity=\"{}\"", num(c.alpha));
    }
    s
}

fn stroke(c: BackendColor, width: u32) -> String {
    let (r, g, b) = c.rgb;
    let mut s = format!("fill=\"none\" stroke=\"#{r:02X}{g:02X}{b:02X}\" stroke-width=\"{width}\"");
    if c.alpha < 1.0 {
        let _ = write!(s, " opacity=\"{}\"", num(c.alpha));
    }
    s
}

/// A shape's fill, or its outline when not `fill`.
fn paint<S: BackendStyle>(s: &S, fill: bool) -> String {
    if fill {
        colour(s.color())
    } else {
        stroke(s.color(), s.stroke_width())
    }
}

fn points(path: impl IntoIterator<Item = BackendCoord>) -> String {
    let v: Vec<String> = path.into_iter().map(|(x, y)| format!("{x},{y}")).collect();
    v.join(" ")
}

/// Rotation in degrees of a plotters text transform (SVG's y axis points down).
fn degrees(t: &FontTransform) -> i32 {
    match t {
        FontTransform::None => 0,
        FontTransform::Rotate90 => 90,
        FontTransform::Rotate180 => 180,
        FontTransform::Rotate270 => -90,
    }
}

impl DrawingBackend for SvgCanvas<'_> {
    type ErrorType = std::fmt::Error;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Drawn {
        Ok(())
    }

    fn present(&mut self) -> Drawn {
        let (w, h) = self.size;
        self.out.clear();
        let _ = write!(
            self.out,
            "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
             xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n\
             <title>{}</title>\n<defs>\n",
            super::page::escape(&self.title)
        );
        for (id, d) in &self.glyphs {
            let _ = writeln!(self.out, "<path id=\"g{id}\" d=\"{d}\"/>");
        }
        self.out.push_str("</defs>\n");
        self.out.push_str(&self.body);
        self.out.push_str("</svg>\n");
        Ok(())
    }

    fn draw_pixel(&mut self, p: BackendCoord, c: BackendColor) -> Drawn {
        if c.alpha > 0.0 {
            let _ = writeln!(
                self.body,
                "<rect x=\"{}\" y=\"{}\" width=\"1\" height=\"1\" {}/>",
                p.0,
                p.1,
                colour(c)
            );
        }
        Ok(())
    }

    fn draw_line<S: BackendStyle>(&mut self, a: BackendCoord, b: BackendCoord, s: &S) -> Drawn {
        if s.color().alpha > 0.0 {
            let _ = writeln!(
                self.body,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {}/>",
                a.0,
                a.1,
                b.0,
                b.1,
                stroke(s.color(), s.stroke_width())
            );
        }
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        s: &S,
        fill: bool,
    ) -> Drawn {
        if s.color().alpha > 0.0 {
            let paint = paint(s, fill);
            let _ = writeln!(
                self.body,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {paint}/>",
                a.0,
                a.1,
                b.0 - a.0,
                b.1 - a.1
            );
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        s: &S,
    ) -> Drawn {
        if s.color().alpha > 0.0 {
            let _ = writeln!(
                self.body,
                "<polyline points=\"{}\" {} stroke-linejoin=\"round\"/>",
                points(path),
                stroke(s.color(), s.stroke_width())
            );
        }
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        c: BackendCoord,
        r: u32,
        s: &S,
        fill: bool,
    ) -> Drawn {
        if s.color().alpha > 0.0 {
            let paint = paint(s, fill);
            let _ = writeln!(
                self.body,
                "<circle cx=\"{}\" cy=\"{}\" r=\"{r}\" {paint}/>",
                c.0, c.1
            );
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        s: &S,
    ) -> Drawn {
        if s.color().alpha > 0.0 {
            let _ = writeln!(
                self.body,
                "<polygon points=\"{}\" {}/>",
                points(path),
                colour(s.color())
            );
        }
        Ok(())
    }

    /// Each glyph where plotters' `ab_glyph` backend rasterises it (`FontDataInternal::draw`
    /// and `DrawingBackend::draw_text`): the text box anchored at `pos`, the baseline half the
    /// font size below the box's top, every glyph shifted by its whole-pixel bounds.
    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Drawn {
        let c = style.color();
        if c.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let size = style.size() as f32;
        let font = self.font.as_scaled(size);
        let k = font.h_scale_factor();
        let fill = colour(c);
        let mut x_shift = 0f32;
        let mut prev = None;
        let mut placed = Vec::new();
        for ch in text.chars() {
            let id = font.glyph_id(ch);
            if let Some(p) = prev {
                x_shift += font.kern(p, id);
            }
            prev = Some(id);
            if let Some(q) = font.outline_glyph(font.scaled_glyph(ch)) {
                let r = q.px_bounds();
                let y_shift = (size / 2.0 + r.min.y) as i32;
                let ox = x_shift as i32 as f32 - r.min.x;
                let oy = y_shift as f32 - r.min.y;
                placed.push((id, ox + (dx - min_x) as f32, oy + (dy - min_y) as f32));
            }
            x_shift += font.h_advance(id);
        }
        let rot = degrees(&trans);
        for (id, bx, by) in placed {
            let (tx, ty) = match trans {
                FontTransform::None => (bx, by),
                FontTransform::Rotate90 => (-by, bx),
                FontTransform::Rotate180 => (-bx, -by),
                FontTransform::Rotate270 => (by, -bx),
            };
            self.glyph_path(id);
            let rotate = if rot == 0 {
                String::new()
            } else {
                format!(" rotate({rot})")
            };
            let _ = writeln!(
                self.body,
                "<use xlink:href=\"#g{}\" transform=\"translate({} {}){rotate} scale({})\" {fill}/>",
                id.0,
                num((pos.0 as f32 + tx) as f64),
                num((pos.1 as f32 + ty) as f64),
                format_args!("{:.6}", k),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::plot::{to_png, to_svg, Figure, PNG_SCALE};

    fn title_only(title: &str) -> Figure {
        Figure {
            name: "t".into(),
            study: "s".into(),
            title: title.into(),
            caption: String::new(),
            panels: Vec::new(),
            columns: 1,
            legend: Vec::new(),
            colour_bar: None,
        }
    }

    /// (glyph id, x, y, scale) of every `<use>`.
    fn placed(svg: &str) -> Vec<(u16, f64, f64, f64)> {
        svg.lines()
            .filter_map(|l| l.strip_prefix("<use xlink:href=\"#g"))
            .map(|l| {
                let id = l[..l.find('"').unwrap()].parse().unwrap();
                let t = &l[l.find("translate(").unwrap() + 10..];
                let (xy, rest) = t.split_once(')').unwrap();
                let (x, y) = xy.split_once(' ').unwrap();
                let k = &rest[rest.find("scale(").unwrap() + 6..];
                let k = &k[..k.find(')').unwrap()];
                (
                    id,
                    x.parse().unwrap(),
                    y.parse().unwrap(),
                    k.parse().unwrap(),
                )
            })
            .collect()
    }

    /// Bounding box (x0, y0, x1, y1) of the non-white pixels of an RGB PNG.
    fn ink(png: &[u8]) -> (u32, u32, u32, u32) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let mut b = (u32::MAX, u32::MAX, 0, 0);
        for y in 0..info.height {
            for x in 0..info.width {
                let i = ((y * info.width + x) * 3) as usize;
                if buf[i..i + 3].iter().any(|&v| v < 128) {
                    b = (b.0.min(x), b.1.min(y), b.2.max(x + 1), b.3.max(y + 1));
                }
            }
        }
        b
    }

    #[test]
    fn text_becomes_glyph_outlines_where_the_png_draws_it() {
        let svg = to_svg(&title_only("Hg x")).unwrap();
        assert!(!svg.contains("<text"));
        let font = FontRef::try_from_slice(super::super::plot::FONT).unwrap();
        let uses = placed(&svg);
        let ids: Vec<u16> = "Hgx".chars().map(|c| font.glyph_id(c).0).collect();
        assert_eq!(
            uses.iter().map(|u| u.0).collect::<Vec<_>>(),
            ids,
            "one glyph a letter, none for the space"
        );
        // 18-pixel text: the scale maps font units to pixels
        let scaled = font.as_scaled(18.0);
        assert!((uses[0].3 - scaled.h_scale_factor() as f64).abs() < 1e-6);
        // each outline is defined once, as closed contours in font units
        for id in &ids {
            let def = format!("<path id=\"g{id}\" d=\"M");
            assert_eq!(svg.matches(&def).count(), 1);
        }
        // the glyphs' outlines cover the same box as the PNG's ink, at the PNG's scale
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(id, x, y, k) in &uses {
            let b = font.outline(ab_glyph::GlyphId(id)).unwrap().bounds;
            x0 = x0.min(x + k * b.min.x as f64);
            x1 = x1.max(x + k * b.max.x as f64);
            // font units point up: the top of the glyph is the larger y
            let (lo, hi) = (b.min.y.min(b.max.y) as f64, b.min.y.max(b.max.y) as f64);
            y0 = y0.min(y - k * hi);
            y1 = y1.max(y - k * lo);
        }
        let s = PNG_SCALE as f64;
        let png = ink(&to_png(&title_only("Hg x")).unwrap());
        let got = [png.0 as f64, png.1 as f64, png.2 as f64, png.3 as f64];
        let want = [x0 * s, y0 * s, x1 * s, y1 * s];
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1.5 * s,
                "PNG ink {got:?}, SVG outlines × {s} {want:?}"
            );
        }
        // x = 10 pixels from the left, as the PNG's title
        assert!((x0 - 10.0).abs() < 2.5, "{x0}");
    }
}
