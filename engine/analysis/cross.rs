//! Every pair's cross-product `X̃_aᵀ X̃_b` of a population at once, near the f32 FMA peak: the
//! engine behind the exact population CKA and shape matrices and their sketched estimators.
//!
//! Steps:
//! 1. per network, the column means in `f64`; the centred states `x − μ` rounded to `f32`;
//! 2. networks in groups of consecutive networks of at most [`GROUP_COLS`] units (a larger
//!    network is a group of its own); the row side of a super-block of groups is stored once,
//!    unit-major chunk by chunk (each chunk of [`KC`] samples a dense `units × KC` block);
//! 3. every tile `(R, g_j)` in parallel, `R` a run of groups of at most `TILE_ROWS` units and
//!    `g_j` a group not before `R`: over the samples in chunks of [`KC`], the `f32` product of
//!    `R`'s chunk by the packed, centred chunk of `g_j` through
//!    [`rnn::gemm`](crate::rnn::gemm) (FMA, one `f32` chain per entry over the chunk), each
//!    chunk's result added in `f64` to the tile, chunks in ascending order;
//! 4. each pair's block of its tile handed to the caller in `f64`.
//!
//! Determinism: the grouping, chunking and order of every sum depend only on the shapes, never
//! on the thread count, so every value is bit-identical whatever the pool.
//!
//! Error (worst case, proven): with `u = 2⁻²⁴`, rounding the centred value to `f32` costs
//! `u|x̃|` per entry, and an `f32` FMA chain over `KC` terms at most `γ_KC = KC·u/(1 − KC·u)`
//! relative to the sum of the terms' magnitudes; the `f64` sums over chunks and the `f64`
//! centring add `O(samples·2⁻⁵³)`. So every entry obeys `|ĉ_ij − c_ij| ≤ δ (|X̃|ᵀ|Ỹ|)_ij`
//! with `δ =` [`DELTA`] `= (KC + 3)·u` ≈ 1.5e-5, and `‖Ĉ − C‖_F ≤ δ ‖X̃‖_F ‖Ỹ‖_F`. The errors
//! are signed and nearly independent, so the measured error is far smaller (on the geometry
//! bench's data, CKA within 3e-11 of the `f64` paths against a proven 3.2e-6; README). A
//! caller that needs `1e-8` uses the truncated `f64` path of
//! [`factor`](crate::analysis::factor) instead.

use crate::analysis::factor;
use crate::analysis::linalg::{self, GeometryError};
use crate::rnn::gemm::{gemm, Packed};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Zip};
use rayon::prelude::*;
use std::ops::Range;

/// Samples per `f32` chunk: each product entry is one `f32` FMA chain of at most `KC` terms.
pub const KC: usize = 256;

/// Largest relative rounding of a cross-product entry, `(KC + 3)·2⁻²⁴`, against `|X̃|ᵀ|Ỹ|`.
pub const DELTA: f64 = (KC as f64 + 3.0) * (f32::EPSILON as f64 / 2.0);

/// Units per group of networks (the columns of one tile).
pub const GROUP_COLS: usize = 256;

/// Units of the row side of one tile (a run of groups): the packed chunk of a column group is
/// reused for this many rows.
const TILE_ROWS: usize = 512;

/// `f32` values of the unit-major row side kept at once (512 MiB).
const SUPER_VALUES: usize = 1 << 27;

/// FLOPs of exact all-pairs cross-products (`a < b`): `2·S·N_a·N_b` per pair.
pub fn pair_flops(samples: usize, cols: &[usize]) -> f64 {
    let total: f64 = cols.iter().map(|&c| c as f64).sum();
    let squares: f64 = cols.iter().map(|&c| (c * c) as f64).sum();
    samples as f64 * (total * total - squares)
}

/// Runs of consecutive items whose sizes sum to at most `budget` (at least one item a run).
fn runs(sizes: &[usize], budget: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut sum) = (0, 0);
    for (i, &c) in sizes.iter().enumerate() {
        if i > start && sum + c > budget {
            out.push(start..i);
            (start, sum) = (i, 0);
        }
        sum += c;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Consecutive networks of at most [`GROUP_COLS`] units together (at least one each).
fn groups(cols: &[usize]) -> Vec<Range<usize>> {
    runs(cols, GROUP_COLS)
}

/// Consecutive groups whose row side holds at most [`SUPER_VALUES`] values (at least one).
fn super_blocks(samples: usize, width: &[usize]) -> Vec<Range<usize>> {
    runs(width, SUPER_VALUES / samples.max(1))
}

/// Column means in `f64` (zeros when not centring).
fn means(x: ArrayView2<f32>, centre: bool) -> Vec<f64> {
    let mut m = vec![0.0f64; x.ncols()];
    if centre {
        for row in x.rows() {
            m.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
        }
        m.iter_mut().for_each(|v| *v /= x.nrows() as f64);
    }
    m
}

/// The population with its means and grouping.
struct Layout<'a> {
    xs: &'a [ArrayView2<'a, f32>],
    means: Vec<Vec<f64>>,
    groups: Vec<Range<usize>>,
    /// Unit offset of each network inside its group.
    offset: Vec<usize>,
    width: Vec<usize>,
    samples: usize,
}

impl Layout<'_> {
    /// Centred samples `rows` of group `g`, sample-major, into `out` (`rows × width`).
    fn centred_rows(&self, g: usize, rows: Range<usize>, mut out: ArrayViewMut2<f32>) {
        for i in self.groups[g].clone() {
            let (o, x, m) = (self.offset[i], self.xs[i], &self.means[i]);
            let mut dst = out.slice_mut(s![.., o..o + x.ncols()]);
            Zip::from(dst.rows_mut())
                .and(x.slice(s![rows.clone(), ..]).rows())
                .for_each(|mut d, r| {
                    Zip::from(&mut d)
                        .and(&r)
                        .and(&ndarray::ArrayView1::from(&m[..]))
                        .for_each(|d, &v, &mu| *d = (v as f64 - mu) as f32);
                });
        }
    }

    /// The centred states of groups `gs`, unit-major and chunk by chunk: chunk `c` is a
    /// contiguous `Σ width × KC` block (row `c·total + unit`), so a tile's left operand for one
    /// chunk is dense with rows [`KC`] apart. Chunks are built in parallel.
    fn row_side(&self, gs: Range<usize>) -> RowSide {
        let starts: Vec<usize> = gs
            .clone()
            .scan(0, |acc, g| {
                let s = *acc;
                *acc += self.width[g];
                Some(s)
            })
            .collect();
        let total: usize = gs.clone().map(|g| self.width[g]).sum();
        let chunks = self.samples.div_ceil(KC);
        let mut data = Array2::<f32>::zeros((chunks * total, KC));
        let blocks: Vec<ArrayViewMut2<f32>> = data
            .axis_chunks_iter_mut(ndarray::Axis(0), total.max(1))
            .collect();
        blocks
            .into_par_iter()
            .enumerate()
            .for_each(|(c, mut block)| {
                let (k0, k1) = (c * KC, ((c + 1) * KC).min(self.samples));
                for (g, &start) in gs.clone().zip(&starts) {
                    let mut buf = Array2::<f32>::zeros((k1 - k0, self.width[g]));
                    self.centred_rows(g, k0..k1, buf.view_mut());
                    block
                        .slice_mut(s![start..start + self.width[g], ..k1 - k0])
                        .assign(&buf.t());
                }
            });
        RowSide {
            data,
            total,
            first: gs.start,
            starts,
        }
    }

    /// `Ĉ = X̃_Rᵀ X̃_{g_j}` in `f64` for a run `R` of groups of the row side: each chunk of
    /// `g_j` is centred and packed once for all of `R`'s rows.
    fn tile(&self, rows: &RowSide, run: Range<usize>, gj: usize) -> Array2<f64> {
        let (m, n) = (run.clone().map(|g| self.width[g]).sum(), self.width[gj]);
        let start = rows.starts[run.start - rows.first];
        let mut c64 = Array2::<f64>::zeros((m, n));
        let mut c32 = Array2::<f32>::zeros((m, n));
        let mut chunk = Array2::<f32>::zeros((KC, n));
        let mut packed = Packed::new();
        for (c, k0) in (0..self.samples).step_by(KC).enumerate() {
            let k1 = (k0 + KC).min(self.samples);
            let mut b = chunk.slice_mut(s![..k1 - k0, ..]);
            self.centred_rows(gj, k0..k1, b.view_mut());
            packed.pack(b.view());
            let r0 = c * rows.total + start;
            let a = rows.data.slice(s![r0..r0 + m, ..k1 - k0]);
            gemm(a, &packed, false, c32.view_mut());
            Zip::from(&mut c64)
                .and(&c32)
                .for_each(|c, &v| *c += v as f64);
        }
        c64
    }
}

/// The left operands of a super-block of groups, built once ([`Layout::row_side`]).
struct RowSide {
    data: Array2<f32>,
    /// Units of the super-block (rows per chunk).
    total: usize,
    /// First group of the super-block.
    first: usize,
    /// Row of each group inside a chunk.
    starts: Vec<usize>,
}

/// For every pair `a ≤ b` (diagonal included) of a checked population, `pair(a, b, Ĉ_ab)` with
/// `Ĉ_ab ≈ X̃_aᵀ X̃_b` (`N_a × N_b`, within [`DELTA`] as the module doc states), in row-major
/// upper-triangle order. `centre = false` takes the states as they are (sketched states).
pub fn all_pairs<R, P>(
    xs: &[ArrayView2<f32>],
    centre: bool,
    pair: P,
) -> Result<Vec<R>, GeometryError>
where
    R: Send,
    P: Fn(usize, usize, ArrayView2<f64>) -> R + Sync,
{
    let samples = linalg::check_states(xs)?;
    let cols: Vec<usize> = xs.iter().map(|x| x.ncols()).collect();
    let groups = groups(&cols);
    let mut offset = vec![0; xs.len()];
    let width: Vec<usize> = groups
        .iter()
        .map(|g| {
            let mut w = 0;
            for i in g.clone() {
                offset[i] = w;
                w += cols[i];
            }
            w
        })
        .collect();
    let layout = Layout {
        xs,
        means: xs.par_iter().map(|x| means(*x, centre)).collect(),
        groups,
        offset,
        width,
        samples,
    };
    let mut results = Vec::new();
    for sb in super_blocks(samples, &layout.width) {
        let rows = layout.row_side(sb.clone());
        let row_runs = runs(&layout.width[sb.clone()], TILE_ROWS);
        let tiles: Vec<(Range<usize>, usize)> = row_runs
            .iter()
            .map(|r| sb.start + r.start..sb.start + r.end)
            .flat_map(|r| (r.start..layout.groups.len()).map(move |gj| (r.clone(), gj)))
            .collect();
        let done: Vec<Vec<(usize, usize, R)>> = tiles
            .par_iter()
            .map(|(run, gj)| {
                let c = layout.tile(&rows, run.clone(), *gj);
                let base = rows.starts[run.start - rows.first];
                let mut out = Vec::new();
                for gi in run.clone() {
                    let row0 = rows.starts[gi - rows.first] - base;
                    for a in layout.groups[gi].clone() {
                        for b in layout.groups[*gj].clone().filter(|&b| b >= a) {
                            let (oa, ob) = (row0 + layout.offset[a], layout.offset[b]);
                            let block = c.slice(s![oa..oa + cols[a], ob..ob + cols[b]]);
                            out.push((a, b, pair(a, b, block)));
                        }
                    }
                }
                out
            })
            .collect();
        results.extend(done.into_iter().flatten());
    }
    results.sort_unstable_by_key(|&(a, b, _)| (a, b));
    Ok(results.into_iter().map(|(_, _, r)| r).collect())
}

/// What the cross-products tell about a population (`Ĉ` as [`all_pairs`] computes them).
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Units of each network.
    pub cols: Vec<usize>,
    /// `‖X̃‖_F² = tr Ĉ_aa` per network.
    pub trace: Vec<f64>,
    /// No variance (from the states themselves, centred in `f64`): distances fixed by convention.
    pub flat: Vec<bool>,
    /// `‖Ĉ_ab‖_F²` per pair `a ≤ b`, in [`factor::upper_index`] order.
    pub frob2: Vec<f64>,
    /// `‖Ĉ_ab‖_*` per pair `a < b` (0 on the diagonal, and everywhere unless requested).
    pub nuclear: Vec<f64>,
}

impl Stats {
    /// Of the cross-products of `products` (centred first when `centre`), with `flat` decided
    /// on the original states; the nuclear norms (one SVD a pair) only when `nuclear`.
    pub fn of(
        products: &[ArrayView2<f32>],
        centre: bool,
        nuclear: bool,
        flat: Vec<bool>,
    ) -> Result<Stats, GeometryError> {
        let pairs = all_pairs(products, centre, |a, b, c| -> Result<_, GeometryError> {
            let frob2 = c.iter().map(|v| v * v).sum::<f64>();
            let other = if a == b {
                c.diag().sum()
            } else if nuclear && !c.is_empty() {
                linalg::nuclear_norm(c)?
            } else {
                0.0
            };
            Ok((a == b, frob2, other))
        })?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        let trace = pairs.iter().filter(|p| p.0).map(|p| p.2).collect();
        Ok(Stats {
            cols: products.iter().map(|x| x.ncols()).collect(),
            trace,
            flat,
            frob2: pairs.iter().map(|p| p.1).collect(),
            nuclear: pairs.iter().map(|p| if p.0 { 0.0 } else { p.2 }).collect(),
        })
    }

    /// `(‖Ĉ_ab‖_F², ‖Ĉ_ab‖_*)`.
    pub fn pair(&self, a: usize, b: usize) -> (f64, f64) {
        let k = factor::upper_index(self.cols.len(), a.min(b), a.max(b));
        (self.frob2[k], self.nuclear[k])
    }

    /// Mean units per network.
    pub fn mean_cols(&self) -> f64 {
        self.cols.iter().sum::<usize>() as f64 / self.cols.len().max(1) as f64
    }

    /// `‖Ĉ_aa‖_F² = ‖X̃_aᵀX̃_a‖_F²`.
    pub fn gram2(&self, a: usize) -> f64 {
        self.pair(a, a).0
    }

    /// A symmetric matrix with zero diagonal and `f(a, b)` (`a < b`) off it, evaluated in
    /// parallel; with the largest second value of `f`.
    pub fn matrix<F>(&self, f: F) -> (Array2<f64>, f64)
    where
        F: Fn(usize, usize) -> (f64, f64) + Sync,
    {
        let n = self.cols.len();
        let values: Vec<(f64, f64)> = (0..n)
            .into_par_iter()
            .flat_map_iter(|a| (a..n).map(move |b| (a, b)))
            .map(|(a, b)| if a == b { (0.0, 0.0) } else { f(a, b) })
            .collect();
        let upper: Vec<f64> = values.iter().map(|v| v.0).collect();
        let worst = values.iter().fold(0.0f64, |m, v| m.max(v.1));
        (linalg::symmetric_from_pairs(n, &upper), worst)
    }
}

/// Whether each network has no variance ([`linalg::no_variance`] of its `f64`-centred states).
pub fn flat_flags(xs: &[ArrayView2<f32>]) -> Result<Vec<bool>, GeometryError> {
    linalg::check_states(xs)?;
    Ok(xs
        .par_iter()
        .map(|x| {
            let m = means(*x, true);
            let centred2: f64 = x
                .rows()
                .into_iter()
                .map(|r| {
                    r.iter()
                        .zip(&m)
                        .map(|(&v, mu)| (v as f64 - mu).powi(2))
                        .sum::<f64>()
                })
                .sum();
            x.ncols() == 0 || linalg::no_variance(centred2, linalg::norm2_f32(*x))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cka::tests::random_states;

    #[test]
    fn blocks_match_f64_products_within_the_stated_rounding() {
        // 7 networks of 60–140 units: groups of several networks and single ones; 700 samples:
        // three chunks, the last one partial.
        let xs: Vec<Array2<f32>> = (0..7)
            .map(|i| random_states(700, 60 + 40 * (i % 3), 5, 300 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        assert!(groups(&views.iter().map(|x| x.ncols()).collect::<Vec<_>>()).len() > 2);
        let got = all_pairs(&views, true, |_, _, c| c.to_owned()).unwrap();
        let mut k = 0;
        for a in 0..7 {
            for b in a..7 {
                let (xa, xb) = (linalg::centred(views[a]), linalg::centred(views[b]));
                let want = linalg::matmul_tn(xa.view(), xb.view());
                let scale = linalg::matmul_tn(xa.mapv(f64::abs).view(), xb.mapv(f64::abs).view());
                let worst = Zip::from(&got[k])
                    .and(&want)
                    .and(&scale)
                    .fold(0.0f64, |m, g, w, s| m.max((g - w).abs() / s));
                assert!(worst <= DELTA, "({a},{b}): {worst:e}");
                // Far inside the worst case, but not exact: f32 really is used.
                assert!(worst > 1e-9 && worst < DELTA / 5.0, "({a},{b}): {worst:e}");
                k += 1;
            }
        }
        assert_eq!(k, got.len());
    }

    #[test]
    fn flop_count_of_two_networks() {
        assert_eq!(pair_flops(10, &[3, 4]), 2.0 * 10.0 * 12.0);
    }

    #[test]
    fn super_blocks_cover_every_group_in_order() {
        let w = vec![256; 10];
        let sb = super_blocks(SUPER_VALUES / 600, &w);
        assert_eq!(sb.first().unwrap().start, 0);
        assert_eq!(sb.last().unwrap().end, 10);
        assert!(sb.len() == 5 && sb.windows(2).all(|p| p[0].end == p[1].start));
    }
}
