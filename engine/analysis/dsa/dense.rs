//! Kernels on the small dense matrices of the orthogonal alignment: the `n × n` operators and
//! rotations, and the `n(n−1)/2`-square Newton system, all row-major in flat slices. The
//! ascent calls them thousands of times per pair at `n ≈ 10`, where a general matrix library's
//! per-call setup and allocation cost more than the arithmetic; each writes into a buffer the
//! caller owns, so an alignment allocates once. The loops run over contiguous slices cut to
//! one length, so the compiler drops the bounds checks and vectorises them.

/// `Σ x_i y_i`, in four interleaved partial sums so the additions pipeline (a single running
/// sum waits on each addition's latency).
#[inline]
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    let len = x.len().min(y.len());
    let (x, y) = (&x[..len], &y[..len]);
    let mut acc = [0.0f64; 4];
    let (xs, ys) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in xs.zip(ys) {
        for k in 0..4 {
            acc[k] += a[k] * b[k];
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// `out = a b` for `n × n` matrices.
pub fn mul(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    out.fill(0.0);
    for (row, a_row) in out.chunks_exact_mut(n).zip(a.chunks_exact(n)) {
        for (&aik, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            for (o, &v) in row.iter_mut().zip(b_row) {
                *o += aik * v;
            }
        }
    }
}

/// `out = xᵀ` for an `n × n` `x`.
pub fn transpose(x: &[f64], out: &mut [f64], n: usize) {
    for (i, row) in x.chunks_exact(n).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[j * n + i] = v;
        }
    }
}

/// `out = aᵀ b` for `n × n` matrices.
pub fn mul_at(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    out.fill(0.0);
    for (a_row, b_row) in a.chunks_exact(n).zip(b.chunks_exact(n)) {
        for (row, &aki) in out.chunks_exact_mut(n).zip(a_row) {
            for (o, &v) in row.iter_mut().zip(b_row) {
                *o += aki * v;
            }
        }
    }
}

/// `c b cᵀ = c (b cᵀ)` into `out`, with `t` as scratch: products of rows, no dot products.
pub fn similar(c: &[f64], b: &[f64], t: &mut [f64], out: &mut [f64], n: usize) {
    transpose(c, out, n);
    mul(b, out, t, n);
    mul(c, t, out, n);
}

/// `y += a x`.
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Pivot rows eliminated together by [`cholesky_solve`]: each trailing row is read and written
/// once per block rather than once per pivot.
const BLOCK: usize = 4;

/// The row stride of [`cholesky_solve`]'s factor: `d` rounded up to even, so the trailing rows
/// it updates two at a time start on one column and every update runs on whole pairs.
pub fn stride(d: usize) -> usize {
    d + (d & 1)
}

/// Solves `(H + shift·I) w = g` for symmetric `d × d` `h`, of which only the upper triangle is
/// read, by Cholesky `H + shift·I = Uᵀ U` (right-looking, [`BLOCK`] pivots at a time) into `u`,
/// `d` rows of [`stride`]`(d)` holding `U` above the diagonal and `1 / U_ii` on it (the lower
/// triangle is scratch); `false` unless the shifted
/// matrix is numerically positive definite (every pivot above `1e-13` of the largest diagonal
/// entry) and `w` finite.
pub fn cholesky_solve(h: &[f64], shift: f64, g: &[f64], u: &mut [f64], w: &mut [f64]) -> bool {
    let (d, ld) = (g.len(), stride(g.len()));
    let u = &mut u[..d * ld];
    let mut scale = 0.0f64;
    for (i, (src, dst)) in h.chunks_exact(d).zip(u.chunks_exact_mut(ld)).enumerate() {
        dst[i & !1..].fill(0.0);
        dst[i..d].copy_from_slice(&src[i..]);
        dst[i] += shift;
        scale = scale.max(dst[i].abs());
    }
    w.copy_from_slice(g);
    for k0 in (0..d).step_by(BLOCK) {
        let b = BLOCK.min(d - k0);
        let (top, rest) = u.split_at_mut((k0 + b) * ld);
        let top = &mut top[k0 * ld..];
        if !factor_block(top, &mut w[k0..k0 + b], k0, ld, scale) {
            return false;
        }
        let (wb, wrest) = w[k0..].split_at_mut(b);
        if b == BLOCK {
            let r: [&[f64]; BLOCK] = std::array::from_fn(|t| &top[t * ld..(t + 1) * ld]);
            let pairs = rest.chunks_exact_mut(2 * ld).zip(wrest.chunks_exact_mut(2));
            for (j, (two, wi)) in pairs.enumerate() {
                let i = k0 + b + 2 * j;
                let (x, y) = two.split_at_mut(ld);
                update_two(&r, i, &mut x[i..], &mut y[i..], wb, wi);
            }
        }
        let first = if b == BLOCK { wrest.len() & !1 } else { 0 };
        for (j, row) in rest.chunks_exact_mut(ld).enumerate().skip(first) {
            let (i, s) = (k0 + b + j, (k0 + b + j) & !1);
            for (r, &wr) in top.chunks_exact(ld).zip(wb.iter()) {
                axpy(-r[i], &r[s..], &mut row[s..]);
                wrest[j] -= r[i] * wr;
            }
        }
    }
    for i in (0..d).rev() {
        let ui = &u[i * ld..i * ld + d];
        let s = dot(&ui[i + 1..], &w[i + 1..]);
        w[i] = (w[i] - s) * ui[i];
    }
    w.iter().all(|v| v.is_finite())
}

/// Factors the pivot rows `k0..k0 + b` (`rows`, stride `ld`) among themselves, and the
/// right-hand side's entries `w` with them; `false` at a pivot not above `1e-13 · scale`.
fn factor_block(rows: &mut [f64], w: &mut [f64], k0: usize, ld: usize, scale: f64) -> bool {
    for t in 0..w.len() {
        let k = k0 + t;
        let (done, below) = rows.split_at_mut((t + 1) * ld);
        let uk = &mut done[t * ld..];
        if uk[k].is_nan() || uk[k] <= 1e-13 * scale {
            return false;
        }
        let pivot = uk[k].sqrt();
        let inv = 1.0 / pivot;
        for v in &mut uk[k..] {
            *v *= inv;
        }
        uk[k] = inv;
        w[t] *= inv;
        let (wk, (_, w_below)) = (w[t], w.split_at_mut(t + 1));
        for (s, (row, wi)) in below.chunks_exact_mut(ld).zip(w_below).enumerate() {
            let i = k + 1 + s;
            axpy(-uk[i], &uk[i & !1..], &mut row[i & !1..]);
            *wi -= uk[i] * wk;
        }
    }
    true
}

/// Trailing rows `i` (even) and `i + 1`, from column `i` (`x`, `y`), less their projections on
/// the block's pivot rows `r`, and their right-hand side entries `wi` with them: each pivot
/// entry loaded serves both rows.
#[inline(always)]
fn update_two(
    r: &[&[f64]; BLOCK],
    i: usize,
    x: &mut [f64],
    y: &mut [f64],
    wb: &[f64],
    wi: &mut [f64],
) {
    let f: [f64; BLOCK] = std::array::from_fn(|t| r[t][i]);
    let g: [f64; BLOCK] = std::array::from_fn(|t| r[t][i + 1]);
    let len = x.len();
    let y = &mut y[..len];
    let (r0, r1, r2, r3) = (
        &r[0][i..][..len],
        &r[1][i..][..len],
        &r[2][i..][..len],
        &r[3][i..][..len],
    );
    for e in 0..len {
        let (p0, p1, p2, p3) = (r0[e], r1[e], r2[e], r3[e]);
        x[e] -= (f[0] * p0 + f[1] * p1) + (f[2] * p2 + f[3] * p3);
        y[e] -= (g[0] * p0 + g[1] * p1) + (g[2] * p2 + g[3] * p3);
    }
    wi[0] -= (f[0] * wb[0] + f[1] * wb[1]) + (f[2] * wb[2] + f[3] * wb[3]);
    wi[1] -= (g[0] * wb[0] + g[1] * wb[1]) + (g[2] * wb[2] + g[3] * wb[3]);
}

/// Solves `lhs · x = rhs` in place (`rhs` becomes `x`; both `n × n`, `lhs` destroyed) by
/// Gaussian elimination with partial pivoting; `false` when a pivot vanishes or `x` is not
/// finite.
pub fn solve_in_place(lhs: &mut [f64], rhs: &mut [f64], n: usize) -> bool {
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| lhs[i * n + k].abs().total_cmp(&lhs[j * n + k].abs()))
            .expect("k < n");
        if lhs[p * n + k] == 0.0 {
            return false;
        }
        if p != k {
            for x in [&mut *lhs, &mut *rhs] {
                let (top, bottom) = x.split_at_mut(p * n);
                top[k * n..(k + 1) * n].swap_with_slice(&mut bottom[..n]);
            }
        }
        let (done, below) = lhs.split_at_mut((k + 1) * n);
        let (r_done, r_below) = rhs.split_at_mut((k + 1) * n);
        let (lk, rk) = (&done[k * n..], &r_done[k * n..]);
        for (li, ri) in below.chunks_exact_mut(n).zip(r_below.chunks_exact_mut(n)) {
            let factor = li[k] / lk[k];
            if factor != 0.0 {
                axpy(-factor, &lk[k..], &mut li[k..]);
                axpy(-factor, rk, ri);
            }
        }
    }
    for k in (0..n).rev() {
        let (above, rest) = rhs.split_at_mut(k * n);
        let rk = &mut rest[..n];
        let pivot = lhs[k * n + k];
        for v in rk.iter_mut() {
            *v /= pivot;
        }
        for (i, ri) in above.chunks_exact_mut(n).enumerate() {
            axpy(-lhs[i * n + k], rk, ri);
        }
    }
    rhs.iter().all(|v| v.is_finite())
}
