//! Training throughput: iterations/s of BPTT on flip-flop (batch 64, T = 100) per architecture at
//! 64/128/256 units, on one thread and as the aggregate of two networks trained at once on two
//! threads (how the engine uses the cores), against references measured in the same run:
//! - the GEMM-bound limit: the same matrix products (same shapes and transposes) timed alone on
//!   one core, times the cores used; `frac` = census it/s over that bound; and the same products
//!   run on both cores at once (`bound2Tm`, `frac2m`), where the cores share the L3 cache and
//!   memory bandwidth as two networks training at once do;
//! - PyTorch (benches/torch_train.py) on 1 thread and on 2 threads, when `import torch` works.
//!
//! Each figure is the best of `CENSUS_BENCH_REPS` (default 3) measurements, taken in turn (census
//! on one and two threads, the bound, PyTorch, then again), so that a slow moment of a shared
//! machine lowers one measurement rather than one column.
//!
//! `CENSUS_BENCH_SECS` (default 3) sets the time spent per measurement; `CENSUS_BENCH_UNITS`
//! (e.g. "64,128") and `CENSUS_BENCH_ARCHS` (e.g. "vanilla,gru") restrict the table;
//! `CENSUS_BENCH_TORCH_THREADS` (default 2) sets PyTorch's threads (on a loaded machine OpenMP
//! spinning makes 2 threads slower than 1).

use census::rnn::gemm::{gemm, Packed};
use census::rnn::{fast_tanh, train, Activation, Arch, Hyper, Network, Shape, TaskSpec, TrainOpts};
use ndarray::linalg::general_mat_mul;
use ndarray::Array2;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const BATCH: usize = 64;
const STEPS: usize = 100;
const IO: usize = 3;

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect()
}

/// Seconds per training iteration per network when `threads` independent networks train at
/// once, one per thread: `(time(k) − time(0)) / k`, with `k` grown to fill `secs`.
fn train_time(arch: Arch, units: usize, secs: f64, threads: usize) -> f64 {
    let task = TaskSpec::flipflop();
    let shape = Shape {
        arch,
        activation: Activation::Tanh,
        units,
        inputs: IO,
        outputs: IO,
    };
    let hyper = Hyper {
        lr0: 1e-3,
        decay: 0.9,
        momentum: 0.9,
        clip: 1.0,
    };
    let never = AtomicBool::new(false);
    let run = |iterations: usize| {
        let opts = TrainOpts {
            iterations,
            batch: BATCH,
            decay_steps: 1000,
            log_every: 0,
            val_trials: BATCH,
            ..TrainOpts::default()
        };
        let start = Instant::now();
        std::thread::scope(|s| {
            for i in 0..threads {
                let (task, hyper, opts, never) = (&task, &hyper, &opts, &never);
                s.spawn(move || {
                    train(Network::init(shape, 1 + i as u64), task, hyper, opts, never).unwrap()
                });
            }
        });
        start.elapsed().as_secs_f64()
    };
    let base = run(0);
    let probe = (run(3) - base).max(1e-6) / 3.0;
    let k = ((secs / probe) as usize).clamp(3, 100_000);
    (run(k) - run(0)).max(1e-9) / k as f64
}

/// FLOPs of the matrix products of one BPTT iteration ([`gemm_products`]).
fn gemm_flops(arch: Arch, units: usize) -> f64 {
    let (n, gn, tb) = (units, arch.blocks() * units, STEPS * BATCH);
    2.0 * tb as f64 * (3.0 * (n * gn) as f64 + 2.0 * (IO * gn) as f64 + 3.0 * (n * IO) as f64)
}

/// The matrix products of one BPTT iteration on operands of their own, as a closure that runs
/// them once: the per-step products through census's packed GEMM (weights packed once per
/// iteration), the whole-sequence ones through matrixmultiply, as in training.
fn gemm_products(arch: Arch, units: usize) -> impl FnMut() {
    let (n, gn, tb) = (units, arch.blocks() * units, STEPS * BATCH);
    let m = |r: usize, c: usize| {
        Array2::<f32>::from_shape_fn((r, c), |(i, j)| ((i * 7 + j * 3) % 11) as f32 * 0.01)
    };
    let (hp, wt, a, dh) = (m(BATCH, n), m(n, gn), m(BATCH, gn), m(BATCH, n));
    let (x, ut, h, wyt, y, da) = (
        m(tb, IO),
        m(IO, gn),
        m(tb, n),
        m(n, IO),
        m(tb, IO),
        m(tb, gn),
    );
    let (mut a_out, mut dh_out, mut a_all, mut y_out, mut dh_all) =
        (a.clone(), dh.clone(), da.clone(), y.clone(), h.clone());
    let (mut gwt, mut gut, mut gwy) = (wt.clone(), ut.clone(), wyt.clone());
    let (mut fwd, mut bwd) = (Packed::new(), Packed::new());
    move || {
        general_mat_mul(1.0, &x, &ut, 1.0, &mut a_all);
        fwd.pack(wt.view());
        for _ in 0..STEPS {
            gemm(hp.view(), &fwd, true, a_out.view_mut());
        }
        general_mat_mul(1.0, &h, &wyt, 1.0, &mut y_out);
        general_mat_mul(1.0, &y, &wyt.t(), 0.0, &mut dh_all);
        bwd.pack(wt.t());
        for _ in 0..STEPS {
            gemm(a.view(), &bwd, false, dh_out.view_mut());
        }
        general_mat_mul(1.0, &h.t(), &da, 0.0, &mut gwt);
        general_mat_mul(1.0, &x.t(), &da, 0.0, &mut gut);
        general_mat_mul(1.0, &h.t(), &y, 0.0, &mut gwy);
    }
}

/// Seconds per iteration of [`gemm_products`] per thread when `threads` threads run them at
/// once, each on its own operands (as `train_time` measures training).
fn gemm_time(arch: Arch, units: usize, secs: f64, threads: usize) -> f64 {
    let run = |iterations: usize| {
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(move || {
                    let mut once = gemm_products(arch, units);
                    once();
                    for _ in 0..iterations {
                        once();
                    }
                });
            }
        });
        start.elapsed().as_secs_f64()
    };
    let base = run(0);
    let probe = (run(3) - base).max(1e-6) / 3.0;
    let k = ((secs / 2.0 / probe) as usize).clamp(3, 100_000);
    (run(k) - run(0)).max(1e-9) / k as f64
}

fn torch_rate(arch: Arch, units: usize, secs: f64, threads: usize) -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/torch_train.py");
    let out = Command::new("python3")
        .args([
            script,
            arch.name(),
            &units.to_string(),
            &BATCH.to_string(),
            &STEPS.to_string(),
            &secs.to_string(),
            &threads.to_string(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Nanoseconds per element of `f` over a slice, as the cells' elementwise passes use it.
fn ns_per_elem(f: impl Fn(f32) -> f32) -> f64 {
    let xs: Vec<f32> = (0..65_536)
        .map(|i| (i as f32 - 32_768.0) / 4_096.0)
        .collect();
    let mut out = vec![0.0f32; xs.len()];
    let start = Instant::now();
    for _ in 0..200 {
        for (o, &x) in out.iter_mut().zip(std::hint::black_box(&xs)) {
            *o = f(x);
        }
        std::hint::black_box(&out);
    }
    start.elapsed().as_secs_f64() * 1e9 / (200.0 * xs.len() as f64)
}

fn main() {
    let secs: f64 = std::env::var("CENSUS_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let units: Vec<usize> = env_list("CENSUS_BENCH_UNITS", "64,128,256")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let archs: Vec<Arch> = env_list("CENSUS_BENCH_ARCHS", "vanilla,ugrnn,gru,lstm")
        .iter()
        .filter_map(|s| Arch::ALL.into_iter().find(|a| a.name() == s))
        .collect();
    let reps: usize = std::env::var("CENSUS_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let torch_threads: usize = std::env::var("CENSUS_BENCH_TORCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let torch = Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    println!("census BPTT training, flip-flop, batch {BATCH}, T = {STEPS}, tanh; {secs} s per measurement, best of {reps}");
    if !torch {
        println!(
            "PyTorch is absent (python3 -c 'import torch' failed): skipping the PyTorch columns"
        );
    }
    let (fast, std) = (ns_per_elem(fast_tanh), ns_per_elem(f32::tanh));
    println!(
        "tanh: fast {fast:.2} ns/elem, f32::tanh {std:.2} ns/elem ({:.1}x)",
        std / fast
    );
    println!(
        "{:<8} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>8} {:>8} {:>6} {:>6}",
        "arch",
        "units",
        "it/s 1T",
        "it/s 2T",
        "GF/s 2T",
        "GEMM GF",
        "bound 2T",
        "bound2Tm",
        "frac1",
        "frac2",
        "frac2m",
        "torch 1T",
        "torch 2T",
        "x 1T",
        "x 2T"
    );
    for &arch in &archs {
        for &n in &units {
            let torch_at =
                |threads: usize| torch.then(|| torch_rate(arch, n, secs, threads)).flatten();
            let best = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let flops = gemm_flops(arch, n);
            let [mut t1, mut t2, mut gemm_t, mut gemm_t2] = [f64::INFINITY; 4];
            let (mut p1, mut p2) = (None, None);
            for _ in 0..reps {
                t1 = t1.min(train_time(arch, n, secs, 1));
                t2 = t2.min(train_time(arch, n, secs, 2));
                gemm_t = gemm_t.min(gemm_time(arch, n, secs, 1));
                gemm_t2 = gemm_t2.min(gemm_time(arch, n, secs, 2));
                p1 = best(p1, torch_at(1));
                p2 = best(p2, torch_at(torch_threads));
            }
            let (r1, r2) = (1.0 / t1, 2.0 / t2);
            let (bound2, bound2m) = (2.0 / gemm_t, 2.0 / gemm_t2);
            let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            println!(
                "{:<8} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6.2} {:>6.2} {:>6.2} {:>8} {:>8} {:>6} {:>6}",
                arch.name(),
                n,
                r1,
                r2,
                flops * r2 / 1e9,
                flops / gemm_t / 1e9,
                bound2,
                bound2m,
                r1 * gemm_t,
                r2 / bound2,
                r2 / bound2m,
                show(p1),
                show(p2),
                show(p1.map(|p| r1 / p)),
                show(p2.map(|p| r2 / p)),
            );
        }
    }
    println!("Every rate is the best of {reps} measurements taken in turn.");
    println!("it/s 2T: aggregate of two networks training at once, one per thread (the engine runs one network per core).");
    println!("GF/s counts the matrix products only; GEMM GF = the same products timed alone on one core;");
    println!("bound 2T = 2 cores x that GEMM-only rate in it/s; frac1/frac2 = census it/s over the 1-/2-core bound.");
    println!("bound2Tm = the same products run on both cores at once, each on its own operands; frac2m = it/s 2T over it.");
    println!("x 1T = census 1 thread / PyTorch 1 thread; x 2T = census 2 networks on 2 threads / PyTorch on {torch_threads} thread(s).");
}
