//! Kernels on the small dense matrices of the orthogonal alignment: the `n × n` operators and
//! rotations, and the `n(n−1)/2`-square Newton system, all row-major in flat slices. The
//! ascent calls them thousands of times per pair at `n ≈ 10`, where a general matrix library's
//! per-call setup and allocation cost more than the arithmetic; each writes into a buffer the
//! caller owns, so an alignment allocates once.

/// `Σ x_i y_i`, in four interleaved partial sums so the additions pipeline (a single running
/// sum waits on each addition's latency).
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

/// `out = a bᵀ` for `n × n` matrices.
pub fn mul_bt(a: &[f64], b: &[f64], out: &mut [f64], n: usize) {
    for (row, a_row) in out.chunks_exact_mut(n).zip(a.chunks_exact(n)) {
        for (o, b_row) in row.iter_mut().zip(b.chunks_exact(n)) {
            *o = dot(a_row, b_row);
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

/// `c b cᵀ` into `out`, with `t` as scratch.
pub fn similar(c: &[f64], b: &[f64], t: &mut [f64], out: &mut [f64], n: usize) {
    mul(c, b, t, n);
    mul_bt(t, c, out, n);
}

/// Solves `(H + shift·I) w = g` for symmetric `d × d` `h` (only its lower triangle is read) by
/// Cholesky, with `l` as scratch;
/// `false` unless the shifted matrix is numerically positive definite (every pivot above
/// `1e-13` of the largest diagonal entry) and `w` finite.
pub fn cholesky_solve(h: &[f64], shift: f64, g: &[f64], l: &mut [f64], w: &mut [f64]) -> bool {
    let d = g.len();
    let scale = (0..d).fold(0.0f64, |m, j| m.max((h[j * d + j] + shift).abs()));
    for j in 0..d {
        let (done, rest) = l.split_at_mut((j + 1) * d);
        let lj = &mut done[j * d..];
        let pivot = h[j * d + j] + shift - dot(&lj[..j], &lj[..j]);
        if !(pivot > 1e-13 * scale) {
            return false;
        }
        let pivot = pivot.sqrt();
        lj[j] = pivot;
        for (i, li) in (j + 1..).zip(rest.chunks_exact_mut(d)) {
            li[j] = (h[i * d + j] - dot(&li[..j], &lj[..j])) / pivot;
        }
    }
    for i in 0..d {
        w[i] = (g[i] - dot(&l[i * d..i * d + i], &w[..i])) / l[i * d + i];
    }
    for i in (0..d).rev() {
        let li = &l[i * d..i * d + i];
        w[i] /= l[i * d + i];
        let wi = w[i];
        for (wk, &lik) in w[..i].iter_mut().zip(li) {
            *wk -= lik * wi;
        }
    }
    w.iter().all(|v| v.is_finite())
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
            for j in 0..n {
                lhs.swap(p * n + j, k * n + j);
                rhs.swap(p * n + j, k * n + j);
            }
        }
        let pivot = lhs[k * n + k];
        for i in k + 1..n {
            let factor = lhs[i * n + k] / pivot;
            if factor == 0.0 {
                continue;
            }
            for j in k..n {
                lhs[i * n + j] -= factor * lhs[k * n + j];
            }
            for j in 0..n {
                rhs[i * n + j] -= factor * rhs[k * n + j];
            }
        }
    }
    for k in (0..n).rev() {
        let pivot = lhs[k * n + k];
        for j in 0..n {
            let above: f64 = (k + 1..n).map(|i| lhs[k * n + i] * rhs[i * n + j]).sum();
            rhs[k * n + j] = (rhs[k * n + j] - above) / pivot;
        }
    }
    rhs.iter().all(|v| v.is_finite())
}
