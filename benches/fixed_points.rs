//! Fixed-point finding, Newton/Levenberg–Marquardt (`analysis::fixed_points`) against an
//! Adam minimiser of `q` like FixedPointFinder's, measured in the same run:
//! `cargo bench --bench fixed_points`.
//!
//! The network: 128-unit vanilla tanh, `h' = tanh(W h + U x)`, with `W = Q diag(2, 2, 2, 0.5, …) Qᵀ`
//! for an orthogonal `Q` whose first three columns are random-sign indicators of three disjoint
//! groups of units (the rest random), `U` and the readout along those columns — a flip-flop-like
//! system with a bistable direction per bit and exactly 27 fixed points (8 stable). Trajectory states come from driving
//! it with flip-flop pulses (64 trials × 100 steps). Both methods start from the same 1,024
//! initial states (trajectory states + N(0, 0.5²) noise) and stop at `q < 1e-12`; Adam runs at
//! most 5,000 iterations (FixedPointFinder's default). Everything runs on one thread (Adam uses
//! ndarray's matrix products over the whole batch; Newton is also timed on all threads).
//! Newton timings are medians of 5 runs; Adam runs once. Speed-ups are relative to the stronger Adam (per-point adaptive rate); the fixed-rate Adam
//! (FixedPointFinder's single rate without its schedule) is shown for what it reaches.

use census::analysis::dynamics::Dynamics;
use census::analysis::fixed_points::{
    find_fixed_points, initial_states, FixedPoint, FixedPointOpts, Newton,
};
use census::analysis::linearise::linearise;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayViewMut1, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::time::Instant;

const N: usize = 128;
const BITS: usize = 3;

struct Vanilla {
    w: Array2<f64>,
    u: Array2<f64>,
    wy: Array2<f64>,
}

impl Vanilla {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut q = Array2::from_shape_fn((N, N), |_| rng.sample::<f64, _>(StandardNormal));
        // bit k lives on its own group of units with random signs, so tanh keeps the product
        // structure: exactly 27 fixed points (8 stable) in the span of the first three columns
        let group = N / BITS;
        for k in 0..BITS {
            for i in 0..N {
                let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                q[(i, k)] = if i / group == k { sign } else { 0.0 };
            }
        }
        for j in 0..N {
            for k in 0..j {
                let proj = q.column(j).dot(&q.column(k));
                let qk = q.column(k).to_owned();
                q.column_mut(j).scaled_add(-proj, &qk);
            }
            let norm = q.column(j).dot(&q.column(j)).sqrt();
            q.column_mut(j).mapv_inplace(|v| v / norm);
        }
        let d = Array1::from_shape_fn(N, |i| if i < BITS { 2.0 } else { 0.5 });
        let w = (&q * &d).dot(&q.t());
        let u = q.slice(s![.., ..BITS]).to_owned() * 2.0;
        let wy = q.slice(s![.., ..BITS]).t().to_owned();
        Vanilla { w, u, wy }
    }

    fn trajectories(&self, trials: usize, steps: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Array2::zeros((trials * steps, N));
        for t in 0..trials {
            let mut h = Array1::<f64>::zeros(N);
            for k in 0..steps {
                let x = Array1::from_shape_fn(BITS, |_| {
                    if rng.random::<f64>() < 0.05 {
                        if rng.random::<bool>() {
                            1.0
                        } else {
                            -1.0
                        }
                    } else {
                        0.0
                    }
                });
                let mut next = Array1::zeros(N);
                self.step(h.view(), x.view(), next.view_mut());
                h = next;
                out.row_mut(t * steps + k).assign(&h);
            }
        }
        out
    }
}

impl Dynamics for Vanilla {
    fn state_dim(&self) -> usize {
        N
    }
    fn input_dim(&self) -> usize {
        BITS
    }
    fn output_dim(&self) -> usize {
        BITS
    }
    fn step(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
        out.assign(&(self.w.dot(&s) + self.u.dot(&x)).mapv(f64::tanh));
    }
    fn jacobian_state(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
        let h = (self.w.dot(&s) + self.u.dot(&x)).mapv(f64::tanh);
        for i in 0..N {
            let g = 1.0 - h[i] * h[i];
            for j in 0..N {
                out[(i, j)] = g * self.w[(i, j)];
            }
        }
    }
    fn jacobian_input(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
        let h = (self.w.dot(&s) + self.u.dot(&x)).mapv(f64::tanh);
        for i in 0..N {
            for j in 0..BITS {
                out[(i, j)] = (1.0 - h[i] * h[i]) * self.u[(i, j)];
            }
        }
    }
    fn readout(&self, s: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
        out.assign(&self.wy.dot(&s));
    }
}

struct AdamResult {
    states: Array2<f64>,
    q: Vec<f64>,
    iters: usize,
}

/// Adam on `q(s) = ½||tanh(W s) − s||²` (x = 0) for the whole batch, elementwise moments
/// (β = 0.9, 0.999, ε = 1e-8), learning rate `lr0`; with `adaptive`, each point has its own rate,
/// halved when its `q` rises and raised by 5% otherwise (stronger than FixedPointFinder's one
/// adaptive rate for the batch). Converged points (`q < tol`) are frozen and dropped from the
/// batch, so the batch shrinks as points converge.
fn adam(
    sys: &Vanilla,
    starts: &Array2<f64>,
    lr0: f64,
    adaptive: bool,
    tol: f64,
    max_iter: usize,
) -> AdamResult {
    let (b, n) = starts.dim();
    let mut states = starts.clone();
    let mut q_final = vec![f64::INFINITY; b];
    let mut active: Vec<usize> = (0..b).collect();
    let mut s = starts.clone();
    let mut m = Array2::<f64>::zeros((b, n));
    let mut v = Array2::<f64>::zeros((b, n));
    let mut lr = vec![lr0; b];
    let mut q_prev = vec![f64::INFINITY; b];
    let wt = sys.w.t().to_owned();
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut iters = 0;
    for it in 1..=max_iter {
        iters = it;
        let h = s.dot(&wt).mapv(f64::tanh);
        let r = &h - &s;
        let q: Vec<f64> = r
            .axis_iter(Axis(0))
            .map(|row| 0.5 * row.dot(&row))
            .collect();
        // grad q = (J − I)ᵀ r = Wᵀ((1 − h²) ⊙ r) − r, row-wise: ((1 − h²) ⊙ r) W − r
        let g = (&r * &h.mapv(|x| 1.0 - x * x)).dot(&sys.w) - &r;
        let mut keep = Vec::with_capacity(active.len());
        for (k, &idx) in active.iter().enumerate() {
            if q[k] < tol {
                states.row_mut(idx).assign(&s.row(k));
                q_final[idx] = q[k];
            } else {
                keep.push(k);
            }
            if adaptive {
                lr[k] = if q[k] > q_prev[k] {
                    lr[k] * 0.5
                } else {
                    lr[k] * 1.05
                };
            }
            q_prev[k] = q[k];
        }
        m = &m * b1 + &g * (1.0 - b1);
        v = &v * b2 + &(&g * &g) * (1.0 - b2);
        let (c1, c2) = (1.0 - b1.powi(it as i32), 1.0 - b2.powi(it as i32));
        for (k, mut row) in s.axis_iter_mut(Axis(0)).enumerate() {
            for j in 0..n {
                row[j] -= lr[k] * (m[(k, j)] / c1) / ((v[(k, j)] / c2).sqrt() + eps);
            }
        }
        if keep.len() < active.len() {
            s = s.select(Axis(0), &keep);
            m = m.select(Axis(0), &keep);
            v = v.select(Axis(0), &keep);
            lr = keep.iter().map(|&k| lr[k]).collect();
            q_prev = keep.iter().map(|&k| q_prev[k]).collect();
            active = keep.iter().map(|&k| active[k]).collect();
        }
        if active.is_empty() {
            break;
        }
    }
    for (k, &idx) in active.iter().enumerate() {
        states.row_mut(idx).assign(&s.row(k));
        let mut f = Array1::zeros(n);
        sys.step(s.row(k), Array1::zeros(BITS).view(), f.view_mut());
        q_final[idx] = 0.5 * (&f - &s.row(k)).mapv(|x| x * x).sum();
    }
    AdamResult {
        states,
        q: q_final,
        iters,
    }
}

/// Greedy merge of converged states closer than `tol_unique` (lowest `q` first).
fn unique(states: &Array2<f64>, q: &[f64], tol_q: f64, tol_unique: f64) -> Vec<Array1<f64>> {
    let mut order: Vec<usize> = (0..q.len()).filter(|&i| q[i] < tol_q).collect();
    order.sort_by(|&a, &b| q[a].total_cmp(&q[b]));
    let mut kept: Vec<Array1<f64>> = Vec::new();
    for i in order {
        let s = states.row(i);
        if kept
            .iter()
            .all(|k| (k - &s).mapv(|x| x * x).sum().sqrt() >= tol_unique)
        {
            kept.push(s.to_owned());
        }
    }
    kept
}

fn matched(a: &[Array1<f64>], b: &[FixedPoint], tol: f64) -> (usize, usize) {
    let close = |x: &Array1<f64>, y: &Array1<f64>| (x - y).mapv(|v| v * v).sum().sqrt() < tol;
    let a_in_b = a
        .iter()
        .filter(|x| b.iter().any(|fp| close(x, &fp.state)))
        .count();
    let b_in_a = b
        .iter()
        .filter(|fp| a.iter().any(|x| close(x, &fp.state)))
        .count();
    (a_in_b, b_in_a)
}

fn main() {
    let sys = Vanilla::new(7);
    let traj = sys.trajectories(64, 100, 8);
    let opts = FixedPointOpts {
        seed: 3,
        ..Default::default()
    };
    let x = Array1::zeros(BITS);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();

    let timed = |f: &mut dyn FnMut()| {
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[2]
    };
    let mut fps = Vec::new();
    let t_newton = timed(&mut || {
        fps = one.install(|| find_fixed_points(&sys, x.view(), traj.view(), &opts).unwrap())
    });
    let mut fps_par = Vec::new();
    let t_newton_par =
        timed(&mut || fps_par = find_fixed_points(&sys, x.view(), traj.view(), &opts).unwrap());
    assert_eq!(fps.len(), fps_par.len());
    assert!(
        fps.iter().zip(&fps_par).all(|(a, b)| a.state == b.state),
        "thread-count independent"
    );

    let starts = initial_states(traj.view(), opts.inits, opts.noise, opts.seed);
    let mut ws = Newton::new(N);
    let mut iters = 0;
    let t_minimise = timed(&mut || {
        iters = (0..starts.nrows())
            .map(|k| {
                ws.minimise(&sys, x.view(), starts.row(k), opts.tol_q, opts.max_iter)
                    .iters
            })
            .sum();
    });
    let t_eig = timed(&mut || {
        for fp in &fps {
            linearise(&sys, fp.state.view(), x.view()).unwrap();
        }
    });

    let lr0 = 1e-3;
    let mut adams = Vec::new();
    for adaptive in [true, false] {
        let t = Instant::now();
        let ad = adam(&sys, &starts, lr0, adaptive, opts.tol_q, 5000);
        adams.push((adaptive, t.elapsed().as_secs_f64(), ad));
    }
    let t_ref = adams[0].1;

    let mut by_unstable = std::collections::BTreeMap::new();
    for fp in &fps {
        *by_unstable.entry(fp.n_unstable).or_insert(0) += 1;
    }
    println!("fixed points of a {N}-unit flip-flop-like vanilla network, {} initial states, tol_q = {:e}", opts.inits, opts.tol_q);
    println!(
        "{:<46} {:>9} {:>7} {:>10} {:>12}",
        "method (1 thread unless said)", "seconds", "points", "speed-up", "converged"
    );
    let row = |name: String, secs: f64, points: usize, conv: String| {
        println!(
            "{name:<46} {secs:>9.3} {points:>7} {:>9.1}× {conv:>12}",
            t_ref / secs
        );
    };
    row(
        "Newton/LM: find_fixed_points (with eig)".into(),
        t_newton,
        fps.len(),
        "".into(),
    );
    row(
        "Newton/LM: find_fixed_points, all threads".into(),
        t_newton_par,
        fps_par.len(),
        "".into(),
    );
    row(
        format!("Newton/LM: minimisation only ({iters} iters)"),
        t_minimise,
        fps.len(),
        "".into(),
    );
    println!(
        "{:<46} {t_eig:>9.3}",
        "  linearising the points alone (eig)"
    );
    for (adaptive, secs, ad) in &adams {
        let converged = ad.q.iter().filter(|&&q| q < opts.tol_q).count();
        let points = unique(&ad.states, &ad.q, opts.tol_q, opts.tol_unique);
        let (a_in_n, n_in_a) = matched(&points, &fps, 1e-3);
        let name = format!(
            "Adam lr={lr0:e}{} ({} iters)",
            if *adaptive {
                " adaptive/point"
            } else {
                " fixed"
            },
            ad.iters
        );
        row(
            name,
            *secs,
            points.len(),
            format!("{converged}/{}", opts.inits),
        );
        println!(
            "    same set as Newton: {} (its points found by Newton {a_in_n}/{}, Newton's found by it {n_in_a}/{})",
            a_in_n == points.len() && n_in_a == fps.len(),
            points.len(),
            fps.len()
        );
    }
    println!("Newton points by unstable dims: {by_unstable:?}");
}
