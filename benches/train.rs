//! Training throughput: iterations/s of BPTT on flip-flop (batch 64, T = 100) per architecture at
//! 64/128/256 units, one thread, against two references measured in the same run:
//! - the GEMM-bound limit: the same matrix products (same shapes and transposes) timed alone;
//!   `fraction` = that time / the iteration time;
//! - PyTorch (benches/torch_train.py, 2 threads), when `import torch` works.
//!
//! `CENSUS_BENCH_SECS` (default 3) sets the time spent per measurement; `CENSUS_BENCH_UNITS`
//! (e.g. "64,128") and `CENSUS_BENCH_ARCHS` (e.g. "vanilla,gru") restrict the table;
//! `CENSUS_BENCH_TORCH_THREADS` (default 2) sets PyTorch's threads (on a loaded machine OpenMP
//! spinning makes 2 threads slower than 1).

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

/// Seconds per training iteration: `(time(k) − time(0)) / k`, with `k` grown to fill `secs`.
fn train_time(arch: Arch, units: usize, secs: f64) -> f64 {
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
        train(Network::init(shape, 1), &task, &hyper, &opts, &never).unwrap();
        start.elapsed().as_secs_f64()
    };
    let base = run(0);
    let probe = (run(3) - base).max(1e-6) / 3.0;
    let k = ((secs / probe) as usize).clamp(3, 100_000);
    (run(k) - run(0)).max(1e-9) / k as f64
}

/// FLOPs of the matrix products of one BPTT iteration, and the seconds they take alone.
fn gemm_bound(arch: Arch, units: usize, secs: f64) -> (f64, f64) {
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
    let flops =
        2.0 * tb as f64 * (3.0 * (n * gn) as f64 + 2.0 * (IO * gn) as f64 + 3.0 * (n * IO) as f64);
    let mut once = || {
        general_mat_mul(1.0, &x, &ut, 1.0, &mut a_all);
        for _ in 0..STEPS {
            general_mat_mul(1.0, &hp, &wt, 1.0, &mut a_out);
        }
        general_mat_mul(1.0, &h, &wyt, 1.0, &mut y_out);
        general_mat_mul(1.0, &y, &wyt.t(), 0.0, &mut dh_all);
        for _ in 0..STEPS {
            general_mat_mul(1.0, &a, &wt.t(), 0.0, &mut dh_out);
        }
        general_mat_mul(1.0, &h.t(), &da, 0.0, &mut gwt);
        general_mat_mul(1.0, &x.t(), &da, 0.0, &mut gut);
        general_mat_mul(1.0, &h.t(), &y, 0.0, &mut gwy);
    };
    once();
    let start = Instant::now();
    let mut k = 0;
    while start.elapsed().as_secs_f64() < secs / 2.0 {
        once();
        k += 1;
    }
    (flops, start.elapsed().as_secs_f64() / k as f64)
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
    let torch_threads: usize = std::env::var("CENSUS_BENCH_TORCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let torch = Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    println!("census BPTT training, flip-flop, batch {BATCH}, T = {STEPS}, tanh, one thread; {secs} s per measurement");
    if !torch {
        println!(
            "PyTorch is absent (python3 -c 'import torch' failed): skipping the PyTorch column"
        );
    }
    let (fast, std) = (ns_per_elem(fast_tanh), ns_per_elem(f32::tanh));
    println!(
        "tanh: fast {fast:.2} ns/elem, f32::tanh {std:.2} ns/elem ({:.1}x)",
        std / fast
    );
    println!(
        "{:<8} {:>5} {:>9} {:>9} {:>10} {:>9} {:>11} {:>11}",
        "arch", "units", "it/s", "GFLOP/s", "GEMM GF/s", "fraction", "torch it/s", "census/torch"
    );
    for &arch in &archs {
        for &n in &units {
            let t = train_time(arch, n, secs);
            let (flops, gemm_t) = gemm_bound(arch, n, secs);
            let (tr, ratio) = match torch
                .then(|| torch_rate(arch, n, secs, torch_threads))
                .flatten()
            {
                Some(r) => (format!("{r:.2}"), format!("{:.2}", (1.0 / t) / r)),
                None => ("-".into(), "-".into()),
            };
            println!(
                "{:<8} {:>5} {:>9.2} {:>9.2} {:>10.2} {:>9.2} {:>11} {:>11}",
                arch.name(),
                n,
                1.0 / t,
                flops / t / 1e9,
                flops / gemm_t / 1e9,
                gemm_t / t,
                tr,
                ratio
            );
        }
    }
    println!(
        "GFLOP/s counts the matrix products only; fraction = GEMM-only time / iteration time."
    );
    println!("census/torch compares one census thread with PyTorch on {torch_threads} thread(s) (the engine runs one network per core).");
}
