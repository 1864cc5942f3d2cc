//! Fixed points of trained flip-flop networks, Newton/LM (`analysis::fixed_points`) against an
//! Adam minimiser of `q` like FixedPointFinder's, measured in the same run:
//! `cargo bench --bench fixed_points`.
//!
//! The network: a 128-unit vanilla tanh RNN trained here on the 3-bit flip-flop task
//! (`rnn::train`, seeded; about 20 s). Trajectory states come from a 64-trial probe batch.
//! Newton runs `find_fixed_points` on the network's `NetworkDynamics` with the SPEC defaults
//! (1,024 initial states, noise 0.5, `tol_q = 1e-12`, `tol_unique = 1e-3`). Adam minimises the
//! same `q(h) = ½||tanh(W h + b) − h||²` from the same 1,024 initial states, the whole batch as
//! one matrix product per iteration, to the same `tol_q`, at most 5,000 iterations:
//! - "FixedPointFinder": learning rate 1.0 with its adaptive schedule (×0.95 after 5 steps
//!   without improvement of the batch's total `q`, ×1/0.95 after 5 improving steps), Adam
//!   ε = 0.01, the mean `q` of the batch as the loss (its joint optimisation);
//!   This is the reference of the speed-ups. It stops early only when every start has
//!   converged, so when it does not reach the same set its time is a lower bound;
//! - "per-point": each start with its own rate from 1e-3 (halved when its `q` rises, ×1.05
//!   otherwise), ε = 1e-8, converged points frozen and dropped (the previous reference; on the
//!   synthetic network of the first session it was the stronger one, on trained ones it is not).
//!
//! The population: 50 networks, the trained one with seeded weight perturbations (each matrix
//! plus Gaussian noise of 1% of its RMS), all 50 through Newton (rayon over networks and
//! starts); Adam runs on the first `ADAM_POP` of them and is scaled to 50 (its time per network
//! hardly varies). Newton timings on one network are medians of 3 runs; the rest runs once. Single-network rows
//! use one thread unless said.

use census::analysis::fixed_points::{
    find_fixed_points, initial_states, FixedPoint, FixedPointOpts, Newton,
};
use census::rnn::{train, Activation, Arch, Hyper, Network, Param, Shape, TaskSpec, TrainOpts};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::time::Instant;

const N: usize = 128;
const POPULATION: usize = 50;
const ADAM_POP: usize = 2;
const MAX_ITER_ADAM: usize = 5000;

/// `tanh(W h + b)` at `x = 0`, as matrices, for the batched Adam.
struct Vanilla {
    w: Array2<f64>,
    b: Array1<f64>,
}

impl Vanilla {
    fn of(net: &Network) -> Self {
        let get = |name: &str| {
            let p = net.params().into_iter().find(|p| p.name == name).unwrap();
            Array2::from_shape_vec(
                (p.rows, p.cols),
                p.values.iter().map(|&v| v as f64).collect(),
            )
            .unwrap()
        };
        Vanilla {
            w: get("W"),
            b: get("b").column(0).to_owned(),
        }
    }

    /// Rows `r = tanh(S Wᵀ + b) − S` and `grad q = ((1 − F²) ⊙ r) W − r`, per row.
    fn residual_and_grad(&self, s: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
        let f = (s.dot(&self.w.t()) + &self.b).mapv(f64::tanh);
        let r = &f - s;
        let g = (&r * &f.mapv(|v| 1.0 - v * v)).dot(&self.w) - &r;
        (r, g)
    }
}

struct AdamResult {
    states: Array2<f64>,
    q: Vec<f64>,
    iters: usize,
}

enum Schedule {
    FixedPointFinder,
    PerPoint,
}

/// Adam on `q` over the whole batch; stops when every `q < tol` or after `max_iter`.
fn adam(
    sys: &Vanilla,
    starts: &Array2<f64>,
    schedule: Schedule,
    tol: f64,
    max_iter: usize,
) -> AdamResult {
    let (b, n) = starts.dim();
    let per_point = matches!(schedule, Schedule::PerPoint);
    let (lr0, eps) = if per_point { (1e-3, 1e-8) } else { (1.0, 1e-2) };
    let mut states = starts.clone();
    let mut q_final = vec![f64::INFINITY; b];
    let mut active: Vec<usize> = (0..b).collect();
    let mut s = starts.clone();
    let mut m = Array2::<f64>::zeros((b, n));
    let mut v = Array2::<f64>::zeros((b, n));
    let mut lr = vec![lr0; b];
    let mut q_prev = vec![f64::INFINITY; b];
    let (mut best_total, mut since_best, mut improving) = (f64::INFINITY, 0, 0);
    let (b1, b2) = (0.9f64, 0.999f64);
    let mut iters = 0;
    for it in 1..=max_iter {
        iters = it;
        let (r, mut g) = sys.residual_and_grad(&s);
        let q: Vec<f64> = r
            .axis_iter(Axis(0))
            .map(|row| 0.5 * row.dot(&row))
            .collect();
        let mut keep = Vec::with_capacity(active.len());
        for (k, &idx) in active.iter().enumerate() {
            states.row_mut(idx).assign(&s.row(k));
            q_final[idx] = q[k];
            if !per_point || q[k] >= tol {
                keep.push(k);
            }
            if per_point {
                lr[k] *= if q[k] > q_prev[k] { 0.5 } else { 1.05 };
            }
            q_prev[k] = q[k];
        }
        if q.iter().all(|&v| v < tol) {
            break;
        }
        if !per_point {
            // the loss is the batch mean; one rate, FixedPointFinder's AdaptiveLearningRate
            g /= b as f64;
            let total: f64 = q.iter().sum();
            if total < best_total {
                best_total = total;
                since_best = 0;
                improving += 1;
                if improving >= 5 {
                    lr.iter_mut().for_each(|l| *l /= 0.95);
                    improving = 0;
                }
            } else {
                since_best += 1;
                improving = 0;
                if since_best >= 5 {
                    lr.iter_mut().for_each(|l| *l *= 0.95);
                    since_best = 0;
                }
            }
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

/// (Adam's points found by Newton, Newton's points found by Adam), within `tol`.
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

fn trained_network() -> (Network, f64) {
    let shape = Shape {
        arch: Arch::Vanilla,
        activation: Activation::Tanh,
        units: N,
        inputs: 3,
        outputs: 3,
    };
    let hyper = Hyper {
        lr0: 0.02,
        decay: 0.7,
        momentum: 0.9,
        clip: 1.0,
    };
    let opts = TrainOpts {
        iterations: 1000,
        log_every: 0,
        ..TrainOpts::default()
    };
    let never = std::sync::atomic::AtomicBool::new(false);
    let r = train(
        Network::init(shape, 1),
        &TaskSpec::flipflop(),
        &hyper,
        &opts,
        &never,
    )
    .unwrap();
    (r.network, r.val_loss)
}

/// The trained network with every matrix perturbed by 1% of its RMS (seeded).
fn perturbed(net: &Network, seed: u64) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let params: Vec<Param> = net
        .params()
        .into_iter()
        .map(|mut p| {
            let rms = (p.values.iter().map(|&v| (v as f64).powi(2)).sum::<f64>()
                / p.values.len() as f64)
                .sqrt();
            for v in &mut p.values {
                let z: f64 = StandardNormal.sample(&mut rng);
                *v += (0.01 * rms * z) as f32;
            }
            p
        })
        .collect();
    Network::from_params(net.shape(), &params).unwrap()
}

fn probe_states(net: &Network) -> Array2<f64> {
    let sys = net.dynamics();
    let traj = sys.trajectory(TaskSpec::flipflop().batch(8, 64).inputs.view());
    let d = traj.len_of(Axis(2));
    traj.into_shape_with_order((64 * 100, d)).unwrap()
}

fn median3(f: &mut dyn FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[1]
}

fn newton(net: &Network, traj: ArrayView2<f64>, opts: &FixedPointOpts) -> Vec<FixedPoint> {
    let x = Array1::zeros(3);
    find_fixed_points(&net.dynamics(), x.view(), traj, opts)
        .unwrap()
        .points
}

/// Seconds to run the Newton/LM minimisation from every start, sequentially, and the same with
/// each converged start refined (`Newton::polish`) as `find_fixed_points` does.
fn refinement_cost(net: &Network, starts: &Array2<f64>, opts: &FixedPointOpts) -> (f64, f64) {
    let sys = net.dynamics();
    let x = Array1::zeros(3);
    let mut ws = Newton::new(starts.ncols());
    let mut run = |polish: bool| {
        median3(&mut || {
            for s0 in starts.rows() {
                let c = ws.minimise(&sys, x.view(), s0, opts.tol_q, opts.max_iter);
                if polish && c.q < opts.tol_q {
                    ws.polish(&sys, x.view(), c);
                }
            }
        })
    };
    (run(false), run(true))
}

fn by_unstable(fps: &[FixedPoint]) -> std::collections::BTreeMap<usize, usize> {
    let mut m = std::collections::BTreeMap::new();
    for fp in fps {
        *m.entry(fp.n_unstable).or_insert(0) += 1;
    }
    m
}

fn main() {
    let t = Instant::now();
    let (net, val) = trained_network();
    println!(
        "trained a {N}-unit vanilla tanh flip-flop network: val MSE {val:.4} ({:.0} s)",
        t.elapsed().as_secs_f64()
    );
    let traj = probe_states(&net);
    let opts = FixedPointOpts {
        seed: 3,
        ..Default::default()
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let threads = rayon::current_num_threads();

    let mut fps = Vec::new();
    let t_newton = median3(&mut || fps = one.install(|| newton(&net, traj.view(), &opts)));
    let mut fps_par = Vec::new();
    let t_newton_par = median3(&mut || fps_par = newton(&net, traj.view(), &opts));
    assert_eq!(fps.len(), fps_par.len());
    assert!(
        fps.iter().zip(&fps_par).all(|(a, b)| a.state == b.state),
        "thread-count independent"
    );

    let starts = initial_states(traj.view(), opts.inits, opts.noise, opts.seed);
    let sys = Vanilla::of(&net);
    let mut adams = Vec::new();
    for (name, schedule) in [
        ("FixedPointFinder", Schedule::FixedPointFinder),
        ("per-point", Schedule::PerPoint),
    ] {
        let t = Instant::now();
        let ad = one.install(|| adam(&sys, &starts, schedule, opts.tol_q, MAX_ITER_ADAM));
        adams.push((name, t.elapsed().as_secs_f64(), ad));
    }
    let t_ref = adams[0].1;

    println!(
        "one network: {} initial states, tol_q = {:e}, tol_unique = {:e}; Newton max_iter {}, Adam max_iter {MAX_ITER_ADAM}",
        opts.inits, opts.tol_q, opts.tol_unique, opts.max_iter
    );
    println!(
        "{:<52} {:>9} {:>7} {:>10} {:>12}",
        "method", "seconds", "points", "speed-up", "converged"
    );
    let row = |name: &str, secs: f64, points: usize, conv: String| {
        println!(
            "{name:<52} {secs:>9.3} {points:>7} {:>9.1}× {conv:>12}",
            t_ref / secs
        );
    };
    row(
        "Newton/LM find_fixed_points (with eig), 1 thread",
        t_newton,
        fps.len(),
        String::new(),
    );
    row(
        &format!("Newton/LM find_fixed_points, {threads} threads"),
        t_newton_par,
        fps_par.len(),
        String::new(),
    );
    for (name, secs, ad) in &adams {
        let converged = ad.q.iter().filter(|&&q| q < opts.tol_q).count();
        let points = unique(&ad.states, &ad.q, opts.tol_q, opts.tol_unique);
        let (a_in_n, n_in_a) = matched(&points, &fps, 1e-3);
        row(
            &format!("Adam {name} ({} iters), 1 thread", ad.iters),
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
    println!("Newton points by unstable dims: {:?}", by_unstable(&fps));
    println!(
        "certified: {} of {}",
        fps.iter().filter(|f| f.cert.certified).count(),
        fps.len()
    );
    let (t_min, t_polish) = refinement_cost(&net, &starts, &opts);
    println!(
        "refinement: minimise from every start {t_min:.3} s, with each converged start refined \
         {t_polish:.3} s ({:.2}×; 1 thread, no merge or eig)",
        t_polish / t_min
    );

    // the population
    let nets: Vec<Network> = (0..POPULATION as u64)
        .map(|k| perturbed(&net, 100 + k))
        .collect();
    let trajs: Vec<Array2<f64>> = nets.iter().map(probe_states).collect();
    let t = Instant::now();
    let pop_fps: Vec<Vec<FixedPoint>> = (0..POPULATION)
        .into_par_iter()
        .map(|k| newton(&nets[k], trajs[k].view(), &opts))
        .collect();
    let t_pop = t.elapsed().as_secs_f64();
    let mut counts: Vec<usize> = pop_fps.iter().map(Vec::len).collect();
    let t = Instant::now();
    let mut adam_same = 0;
    for k in 0..ADAM_POP {
        let starts = initial_states(trajs[k].view(), opts.inits, opts.noise, opts.seed);
        let ad = adam(
            &Vanilla::of(&nets[k]),
            &starts,
            Schedule::FixedPointFinder,
            opts.tol_q,
            MAX_ITER_ADAM,
        );
        let points = unique(&ad.states, &ad.q, opts.tol_q, opts.tol_unique);
        let (a, b) = matched(&points, &pop_fps[k], 1e-3);
        adam_same += usize::from(a == points.len() && b == pop_fps[k].len());
        println!("    population network {k}: Adam {} points, Newton {}, Adam's among Newton's {a}, Newton's among Adam's {b}", points.len(), pop_fps[k].len());
    }
    let t_adam_pop = t.elapsed().as_secs_f64() / ADAM_POP as f64 * POPULATION as f64;
    counts.sort_unstable();
    println!(
        "population of {POPULATION} (perturbed copies): Newton {t_pop:.2} s on {threads} threads; FixedPointFinder Adam {t_adam_pop:.1} s (1 thread, {ADAM_POP} networks scaled to {POPULATION}; same set as Newton on {adam_same}/{ADAM_POP}); speed-up {:.1}× ({:.1}× per thread)",
        t_adam_pop / t_pop,
        t_adam_pop / t_pop / threads as f64
    );
    println!(
        "fixed-point counts across the population: min {} median {} max {}",
        counts[0],
        counts[POPULATION / 2],
        counts[POPULATION - 1]
    );
}
