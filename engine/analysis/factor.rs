//! The per-network reduction behind the population CKA and shape matrices, and the proven bound
//! on what truncating it costs.
//!
//! Each centred state matrix `X̃` (samples × units) is reduced once: its singular values `s` (all
//! of them) and the leading right singular vectors `V_k`, so that the factor `F = X̃ V_k = U_k S_k`
//! (samples × k) can be rebuilt inside the blocked products. Because `V` is orthogonal,
//! `‖X̃ᵀỸ‖ = ‖F_Xᵀ F_Y‖` in the Frobenius and nuclear norms when nothing is dropped, and
//! `‖X̃ᵀX̃‖_F = ‖s²‖`, `‖X̃‖_F² = Σ s²` come free from the spectrum. Every pair then costs one
//! `k_X × k_Y` block `A = F_Xᵀ F_Y` of a blocked product ([`pair_blocks`]) instead of
//! `N_X × N_Y` over the samples.
//!
//! ## What truncation costs (exact arithmetic)
//! Write `F_X = [F_k F_r]` (kept and dropped columns), `ε_X = ‖F_r‖_F² = Σ_{i>k} s_i²`,
//! `σ_X = s_{k+1}` (0 if nothing is dropped), `Π_X` the projector on the span of `U_k`, and
//! `R_{Y|X}² = ‖F_Y‖_F² − ‖S_k⁻¹ A‖_F² ≥ ‖(I − Π_X) F_Y‖_F²` (the part of `Y` outside `X`'s kept
//! directions; the inequality only drops the unseen `‖U_kᵀ F_{Y,r}‖²`). Splitting
//! `F_Xᵀ F_Y = [F_kᵀ F_Y ; F_rᵀ F_Y]`, then `F_kᵀ F_Y = [A, F_kᵀ F_{Y,r}]`, and using
//! `F_rᵀ F_Y = F_rᵀ (I − Π_X) F_Y`, `‖PQ‖_F ≤ ‖P‖₂‖Q‖_F`, `‖PQ‖_* ≤ ‖P‖_F‖Q‖_F`:
//!
//! - CKA numerator: `0 ≤ ‖X̃ᵀỸ‖_F² − ‖A‖_F² ≤ min(σ_X² R_{Y|X}², ε_X s_{Y,1}²) + (same, X↔Y)`;
//! - shape nuclear norm: `0 ≤ ‖X̃ᵀỸ‖_* − ‖A‖_* ≤ √ε_X R_{Y|X} + √ε_Y R_{X|Y}` (the lower
//!   side: a block's nuclear norm never exceeds the whole matrix's).
//!
//! Both errors are one-sided. The metrics report the truncated value (in practice far closer to
//! the exact one than the bound: the bound assumes the dropped directions of one network align
//! with the strongest of the other) and the bound is the interval's width. For CKA, dividing the
//! second alternatives by `‖s_X²‖ ‖s_Y²‖` (each `≥ s_1²`) bounds a pair's error by `τ_X + τ_Y`
//! with `τ = ε/‖s²‖`; keeping per network the fewest `k` with `τ ≤ tol/2` therefore guarantees
//! every pair within `tol` ([`Rule::Cka`]). The nuclear norm's error is first order in the
//! dropped singular values (`√ε`, not `ε`), so [`Rule::Shape`] keeps `√(ε / Σ s²) ≤ tol/2`
//! (the cosine then within `tol`); the angle is then checked pair by pair and a pair whose bound
//! still exceeds `tol` (near-identical networks, where `arccos` is steep) is recomputed exactly
//! by its caller.
//!
//! Rounding: the products over `n` samples are bounded by the worst case `γ_n = n·u`
//! (`u = 2⁻⁵³`) relative to `‖X̃‖_F ‖Ỹ‖_F`, which [`PairBlock`] users add to the bound; the
//! SVD's own backward error (`O(N·u)` relative) is not included.

use crate::analysis::linalg::{self, GeometryError};
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;

/// Which distance the truncation must serve, with its tolerance on that distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// CKA distance within `tol` for every pair (guaranteed a priori).
    Cka(f64),
    /// Shape angle within `tol` (radians); pairs the bound cannot certify are recomputed.
    Shape(f64),
    /// Keep enough for both rules at once (one pass for both matrices).
    Both { cka: f64, shape: f64 },
    /// Keep the whole numerical spectrum (no truncation beyond exact zeros).
    Exact,
}

/// What one network contributes to every pair.
#[derive(Debug, Clone)]
pub struct Reduced {
    /// All singular values of the centred states, non-increasing.
    pub spectrum: Array1<f64>,
    /// `units × k`: the kept right singular vectors `V_k`; `F = X̃ V_k`.
    pub proj: Array2<f64>,
    /// No variance (all states constant): distances to it are fixed by convention.
    pub flat: bool,
}

impl Reduced {
    pub fn k(&self) -> usize {
        self.proj.ncols()
    }
    /// `‖X̃‖_F² = Σ s²`.
    pub fn total2(&self) -> f64 {
        self.spectrum.iter().map(|v| v * v).sum()
    }
    /// `‖X̃ᵀX̃‖_F = ‖s²‖`.
    pub fn gram_frob(&self) -> f64 {
        self.spectrum.iter().map(|v| v.powi(4)).sum::<f64>().sqrt()
    }
    /// `‖F_k‖_F² = Σ_{i≤k} s_i²`.
    pub fn kept2(&self) -> f64 {
        self.spectrum.iter().take(self.k()).map(|v| v * v).sum()
    }
    /// `ε = Σ_{i>k} s_i²`.
    pub fn tail2(&self) -> f64 {
        self.spectrum.iter().skip(self.k()).map(|v| v * v).sum()
    }
    /// `s_{k+1}`, the largest dropped singular value (0 if none).
    pub fn next(&self) -> f64 {
        self.spectrum.get(self.k()).copied().unwrap_or(0.0)
    }
    /// `s_1` (0 without variance).
    pub fn top(&self) -> f64 {
        self.spectrum.first().copied().unwrap_or(0.0)
    }
}

/// Fewest leading directions whose dropped tail satisfies `rule` (0 for a flat network).
pub fn keep(s: &Array1<f64>, rule: Rule) -> usize {
    let e: Vec<f64> = s.iter().map(|v| v * v).collect();
    let total: f64 = e.iter().sum();
    let gram: f64 = e.iter().map(|v| v * v).sum::<f64>().sqrt();
    let fits = |tail: f64, r: Rule| match r {
        Rule::Cka(tol) => tail <= tol / 2.0 * gram,
        Rule::Shape(tol) => tail <= (tol / 2.0).powi(2) * total,
        Rule::Exact => tail == 0.0,
        Rule::Both { .. } => unreachable!("split below"),
    };
    let ok = |tail: f64| match rule {
        Rule::Both { cka, shape } => fits(tail, Rule::Cka(cka)) && fits(tail, Rule::Shape(shape)),
        r => fits(tail, r),
    };
    let mut tail = total;
    for k in 0..e.len() {
        if ok(tail.max(0.0)) {
            return k;
        }
        // Sum the tail from the smallest value up, so it is accurate when tiny.
        tail = e[k + 1..].iter().rev().sum();
    }
    e.len()
}

/// Reduces one network (checked states) for `rule`.
pub fn reduce(x: ArrayView2<f32>, rule: Rule) -> Result<Reduced, GeometryError> {
    linalg::check_states(&[x])?;
    let xc = linalg::centred(x);
    let (spectrum, v) = linalg::svd_values_right(xc.view())?;
    let total: f64 = spectrum.iter().map(|v| v * v).sum();
    let flat = spectrum.is_empty() || linalg::no_variance(total, linalg::norm2_f32(x));
    let k = if flat { 0 } else { keep(&spectrum, rule) };
    Ok(Reduced {
        spectrum,
        proj: v.slice(s![.., ..k]).to_owned(),
        flat,
    })
}

/// Reduces a population in parallel.
pub fn reduce_all(xs: &[ArrayView2<f32>], rule: Rule) -> Result<Vec<Reduced>, GeometryError> {
    let tols = match rule {
        Rule::Cka(t) | Rule::Shape(t) => [t, t],
        Rule::Both { cka, shape } => [cka, shape],
        Rule::Exact => [0.0, 0.0],
    };
    if let Some(&t) = tols.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
        return Err(GeometryError::BadTolerance(t));
    }
    linalg::check_states(xs)?;
    xs.par_iter().map(|x| reduce(*x, rule)).collect()
}

/// What a pair's block `A = F_Xᵀ F_Y` (`X` = the first network) tells about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairBlock {
    /// `‖A‖_F²`.
    pub frob2: f64,
    /// `‖A‖_*` (0 unless requested).
    pub nuclear: f64,
    /// `‖S_X⁻¹ A‖_F² = ‖U_Xᵀ F_Y‖_F²`: how much of `Y` lies in `X`'s kept directions.
    pub in_x: f64,
    /// `‖A S_Y⁻¹‖_F²`: how much of `X` lies in `Y`'s kept directions.
    pub in_y: f64,
}

/// Blocks of every pair `a ≤ b` (diagonal included), in [`linalg::all_pairs`] order.
pub fn pair_blocks(
    xs: &[ArrayView2<f32>],
    reduced: &[Reduced],
    nuclear: bool,
) -> Result<Vec<PairBlock>, GeometryError> {
    let samples = linalg::check_states(xs)?;
    assert_eq!(xs.len(), reduced.len(), "one reduction per network");
    let cols: Vec<usize> = reduced.iter().map(Reduced::k).collect();
    linalg::all_pairs(
        samples,
        &cols,
        |i, out| write_factor(xs[i], &reduced[i], out),
        |a, b, block| -> Result<PairBlock, GeometryError> {
            let (sa, sb) = (&reduced[a].spectrum, &reduced[b].spectrum);
            let (mut frob2, mut in_x, mut in_y) = (0.0, 0.0, 0.0);
            for ((i, j), v) in block.indexed_iter() {
                frob2 += v * v;
                in_x += (v / sa[i]).powi(2);
                in_y += (v / sb[j]).powi(2);
            }
            let nuclear = if nuclear && a != b && !block.is_empty() {
                linalg::nuclear_norm(block)?
            } else {
                0.0
            };
            Ok(PairBlock {
                frob2,
                nuclear,
                in_x,
                in_y,
            })
        },
    )
    .into_iter()
    .collect()
}

/// Writes `F = X̃ V_k` into `out` (`samples × k`).
fn write_factor(x: ArrayView2<f32>, r: &Reduced, mut out: ArrayViewMut2<f64>) {
    if r.k() == 0 {
        return;
    }
    let mut xc = Array2::<f64>::zeros(x.dim().f());
    linalg::centred_into(x, xc.view_mut());
    out.assign(&linalg::matmul(xc.view(), r.proj.view()));
}

/// Assembles a [`Bounded`] matrix from per-pair evaluations. `eval(a, b)` (`a < b`) returns
/// `(distance, truncation bound, rounding bound)`; a pair whose truncation bound exceeds `tol`
/// is replaced by `exact(a, b)` (keeping its rounding bound).
/// Distances of a reduced population from its pair blocks: `from_block` gives each pair's
/// (distance, truncation bound, rounding allowance) from `(reduced a, reduced b, block, samples)`;
/// pairs whose bound exceeds `tol` are recomputed with `exact`.
pub fn from_blocks(
    xs: &[ArrayView2<f32>],
    reduced: &[Reduced],
    blocks: &[PairBlock],
    tol: f64,
    from_block: fn(&Reduced, &Reduced, &PairBlock, usize) -> (f64, f64, f64),
    exact: fn(ArrayView2<f32>, ArrayView2<f32>) -> Result<f64, GeometryError>,
) -> Result<Bounded, GeometryError> {
    let n = xs.len();
    let samples = xs.first().map_or(0, |x| x.nrows());
    assemble(
        n,
        reduced,
        tol,
        |a, b| {
            from_block(
                &reduced[a],
                &reduced[b],
                &blocks[upper_index(n, a, b)],
                samples,
            )
        },
        |a, b| exact(xs[a], xs[b]),
    )
}

pub fn assemble<E, X>(
    count: usize,
    reduced: &[Reduced],
    tol: f64,
    eval: E,
    exact: X,
) -> Result<Bounded, GeometryError>
where
    E: Fn(usize, usize) -> (f64, f64, f64) + Sync,
    X: Fn(usize, usize) -> Result<f64, GeometryError> + Sync,
{
    let pairs: Vec<(usize, usize)> = (0..count)
        .flat_map(|a| (a + 1..count).map(move |b| (a, b)))
        .collect();
    let values = pairs
        .par_iter()
        .map(|&(a, b)| {
            let (d, trunc, round) = eval(a, b);
            if trunc > tol {
                Ok((exact(a, b)?, round, true))
            } else {
                Ok((d, trunc + round, false))
            }
        })
        .collect::<Result<Vec<_>, GeometryError>>()?;
    let mut distance = Array2::<f64>::zeros((count, count));
    let (mut max_error, mut exact_pairs) = (0.0f64, 0);
    for (&(a, b), &(d, err, redone)) in pairs.iter().zip(&values) {
        distance[(a, b)] = d;
        distance[(b, a)] = d;
        max_error = max_error.max(err);
        exact_pairs += redone as usize;
    }
    let mean_k = reduced.iter().map(|r| r.k() as f64).sum::<f64>() / count.max(1) as f64;
    Ok(Bounded {
        distance,
        max_error,
        mean_k,
        exact_pairs,
    })
}

/// Worst-case relative rounding of a product summed over `samples` terms: `γ_n = n·u`.
pub fn gamma(samples: usize) -> f64 {
    samples as f64 * f64::EPSILON / 2.0
}

/// `‖(I − Π_X) F_Y‖_F²` bounded from above from a computed `‖U_Xᵀ F_Y‖_F²` (`inside`), with
/// the rounding of that product (`γ_n √k ‖F_Y‖_F`) taken against it.
pub fn outside2(total_y: f64, inside: f64, k: usize, samples: usize) -> f64 {
    let slack = gamma(samples) * (k as f64).sqrt() * total_y.sqrt();
    let inside = (inside.sqrt() - slack).max(0.0);
    (total_y - inside * inside + 4.0 * f64::EPSILON * total_y).clamp(0.0, total_y)
}

/// Row-major upper triangle (diagonal included) index of `(a, b)`, `a ≤ b`, among `count`.
pub fn upper_index(count: usize, a: usize, b: usize) -> usize {
    a * count - a * (a + 1) / 2 + b
}

/// A population distance matrix with its certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounded {
    /// Symmetric, zero diagonal.
    pub distance: Array2<f64>,
    /// Largest proven `|reported − exact|` over all pairs (rounding allowance included).
    pub max_error: f64,
    /// Mean kept components `k` per network.
    pub mean_k: f64,
    /// Pairs whose bound exceeded the tolerance and were recomputed exactly.
    pub exact_pairs: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn keep_follows_the_rules() {
        // s² = 1, 1e-4, 1e-8, 1e-12: ‖s²‖ ≈ 1, Σ s² ≈ 1.0001.
        let s = array![1.0, 1e-2, 1e-4, 1e-6];
        assert_eq!(keep(&s, Rule::Exact), 4);
        // τ ≤ tol/2: the tail after 2 is 1e-8 + 1e-12, after 3 it is 1e-12.
        assert_eq!(keep(&s, Rule::Cka(1e-9)), 3);
        assert_eq!(keep(&s, Rule::Cka(2.1e-8)), 2);
        assert_eq!(keep(&s, Rule::Cka(1.9e-8)), 3);
        // √(tail/total) ≤ tol/2: tail after 1 is ≈1e-4 → 1e-2 ≤ tol/2 needs tol ≥ 2e-2.
        assert_eq!(keep(&s, Rule::Shape(2.1e-2)), 1);
        assert_eq!(keep(&s, Rule::Shape(1.9e-2)), 2);
        assert_eq!(
            keep(
                &s,
                Rule::Both {
                    cka: 1e-7,
                    shape: 1.9e-2
                }
            ),
            keep(&s, Rule::Cka(1e-7)).max(keep(&s, Rule::Shape(1.9e-2)))
        );
        assert_eq!(
            keep(&array![2.0, 0.0, 0.0], Rule::Cka(1e-12)),
            1,
            "exact zeros drop"
        );
    }

    #[test]
    fn bad_tolerance_is_an_error() {
        let x = ndarray::Array2::<f32>::from_shape_fn((5, 2), |(i, j)| (i * j) as f32);
        assert_eq!(
            reduce_all(&[x.view()], Rule::Cka(-1e-3)).unwrap_err(),
            GeometryError::BadTolerance(-1e-3)
        );
        assert!(reduce_all(&[x.view()], Rule::Shape(f64::NAN)).is_err());
        assert_eq!(reduce_all(&[x.view()], Rule::Cka(0.0)).unwrap()[0].k(), 1);
    }

    #[test]
    fn upper_index_matches_all_pairs_order() {
        let mut k = 0;
        for a in 0..5 {
            for b in a..5 {
                assert_eq!(upper_index(5, a, b), k);
                k += 1;
            }
        }
    }

    #[test]
    fn outside_is_never_below_the_true_residual() {
        // Inside exactly the total: residual 0, bound small but non-negative.
        let r = outside2(4.0, 4.0, 3, 1000);
        assert!((0.0..1e-9).contains(&r), "{r}");
        assert_eq!(outside2(4.0, 0.0, 3, 1000), 4.0);
    }
}
