//! All-pairs DSA for a population of networks, against the reference package (`dsa-metric`,
//! PyTorch) timed per network and per pair on a sample and scaled.
//!
//! The population: untrained census networks (vanilla, UGRNN, GRU, LSTM in turn, tanh, one
//! seed each) driven by the flip-flop probe batch, so the trajectories have real RNN structure
//! without the cost of training. Each network's operator is fitted (`fit_all`), then every pair
//! is aligned (`matrix_of`, angular score). The reference runs on one thread on
//! `DSA_REF_PAIRS` pairs of census's own operators (so both optimise the same objective) and on
//! 2 networks' DMD fits; it is skipped, with a message, when `python3` cannot import `DSA`
//! (`pip install dsa-metric`; `DSA_PYTHON` names another interpreter).
//!
//! Sizes from the environment: `DSA_NETWORKS` (200), `DSA_UNITS` (128), `DSA_TRIALS` (64),
//! `DSA_STEPS` (100), `DSA_RANK` (10), `DSA_DELAYS` (1), `DSA_REF_PAIRS` (6). `DSA_SAVE=FILE`
//! writes the matrix; `DSA_COMPARE=FILE` prints how this run's differs from a saved one (how a
//! change to the alignment moved the angles on this population).
//! Prints the per-network and per-pair costs, the objective census reached against the
//! reference's on the sampled pairs, the speed-up given the same threads (the reference's time
//! divided by the thread count) and an extrapolation to 500 networks.
//!
//! `cargo bench --bench dsa`, e.g. `DSA_NETWORKS=40 cargo bench --bench dsa`.

use census::analysis::dsa::{self, DsaParams, Trajectories};
use census::rnn::{Activation, Arch, Network, Shape, TaskSpec};
use ndarray::Array2;
use rayon::prelude::*;
use std::process::Command;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Network `i`'s probe states, `(T·trials) × units`, time-major.
fn states(i: usize, units: usize, trials: usize, steps: usize) -> Array2<f32> {
    let task = TaskSpec::Flipflop {
        bits: 3,
        steps,
        flip_prob: 0.05,
    };
    let arch = [Arch::Vanilla, Arch::Ugrnn, Arch::Gru, Arch::Lstm][i % 4];
    let shape = Shape {
        arch,
        activation: Activation::Tanh,
        units,
        inputs: task.inputs(),
        outputs: task.outputs(),
    };
    let net = Network::init(shape, i as u64);
    let (h, _) = net.run(task.batch(7, trials).inputs.view());
    h.into_shape_with_order((steps * trials, units)).unwrap()
}

fn json_matrix(a: &Array2<f64>) -> serde_json::Value {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

fn trials_json(x: &Array2<f32>, trials: usize) -> serde_json::Value {
    let steps = x.nrows() / trials;
    (0..trials)
        .map(|k| {
            (0..steps)
                .map(|t| x.row(t * trials + k).to_vec())
                .collect::<Vec<_>>()
        })
        .collect()
}

struct Reference {
    dmd: f64,
    pair: f64,
    angles: Vec<f64>,
}

fn reference(job: serde_json::Value) -> Option<Reference> {
    let python = std::env::var("DSA_PYTHON").unwrap_or_else(|_| "python3".into());
    let file = std::env::temp_dir().join(format!("census-dsa-bench-{}.json", std::process::id()));
    std::fs::write(&file, job.to_string()).ok()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/dsa_ref.py");
    let out = Command::new(python).arg(script).arg(&file).output();
    let _ = std::fs::remove_file(&file);
    let out = out.ok()?;
    if !out.status.success() {
        eprintln!(
            "reference skipped (pip install dsa-metric): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mean = |k: &str| {
        let xs: Vec<f64> = v[k].as_array()?.iter().filter_map(|x| x.as_f64()).collect();
        Some(xs.iter().sum::<f64>() / xs.len() as f64)
    };
    println!("reference: torch {}", v["torch"]);
    Some(Reference {
        dmd: mean("dmd_seconds")?,
        pair: mean("pair_seconds")?,
        angles: v["angular64"]
            .as_array()?
            .iter()
            .filter_map(|x| x.as_f64())
            .collect(),
    })
}

/// User and system CPU seconds of this process so far: the cost of a phase on a shared machine,
/// where wall time also counts other jobs' share of the cores.
fn cpu_seconds() -> f64 {
    // SAFETY: `rusage` is a plain C struct of integers and `timeval`s, for which all-zero bytes
    // are a valid value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable `rusage` that outlives the call, and `RUSAGE_SELF` is a
    // valid `who`; `getrusage` only writes into `u`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// Prints how this run's matrix differs from one saved by an earlier run (`DSA_SAVE`), e.g. by
/// the previous version of the alignment on the same population.
fn compare(d: &Array2<f64>, path: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_str(&text).unwrap();
    let n = d.nrows();
    assert_eq!(rows.len(), n, "{path} holds another population size");
    let diffs: Vec<f64> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .map(|(a, b)| d[(a, b)] - rows[a][b])
        .collect();
    let differ = |tol: f64| diffs.iter().filter(|v| v.abs() > tol).count();
    let worse = diffs.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let better = diffs.iter().fold(f64::INFINITY, |m, &v| m.min(v));
    println!(
        "against {path}: of {} pairs, {} differ by more than 1e-12 rad and {} by more than \
         1e-9; largest (this − saved) {worse:.1e}, smallest {better:.1e}",
        diffs.len(),
        differ(1e-12),
        differ(1e-9)
    );
}

fn main() {
    let (p, units, trials, steps) = (
        env("DSA_NETWORKS", 200),
        env("DSA_UNITS", 128),
        env("DSA_TRIALS", 64),
        env("DSA_STEPS", 100),
    );
    let params = DsaParams {
        rank: Some(env("DSA_RANK", 10)),
        n_delays: env("DSA_DELAYS", 1),
        ..DsaParams::default()
    };
    let ref_pairs = env("DSA_REF_PAIRS", 6);
    let threads = rayon::current_num_threads();
    println!(
        "{p} networks × {units} units × {trials} trials × {steps} steps, rank {}, {} delays, \
         {threads} threads",
        params.rank.unwrap(),
        params.n_delays
    );
    let xs: Vec<Array2<f32>> = (0..p)
        .into_par_iter()
        .map(|i| states(i, units, trials, steps))
        .collect();
    let views: Vec<Trajectories> = xs
        .iter()
        .map(|x| Trajectories {
            states: x.view(),
            trials,
        })
        .collect();

    let t = Instant::now();
    let fitted = dsa::fit_all(&views, &params).unwrap();
    let fit_s = t.elapsed().as_secs_f64();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let d = dsa::matrix_of(&fitted, params.score);
    let (pairs_s, pairs_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let pairs = (p * (p - 1) / 2) as f64;
    std::hint::black_box(&d);
    if let Ok(path) = std::env::var("DSA_SAVE") {
        std::fs::write(&path, json_matrix(&d).to_string()).unwrap();
    }
    if let Ok(path) = std::env::var("DSA_COMPARE") {
        compare(&d, &path);
    }
    println!(
        "census: fit {:.1} ms/network, align {:.1} µs/pair; total {fit_s:.2} s + {pairs_s:.2} s",
        fit_s / p as f64 * 1e3 * threads as f64,
        pairs_s / pairs * 1e6 * threads as f64
    );
    println!(
        "census align, CPU time: {:.1} ms/pair (load average {})",
        pairs_cpu / pairs * 1e3,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let at500 = fit_s * 500.0 / p as f64 + pairs_s * (500.0 * 499.0 / 2.0) / pairs;
    println!(
        "500 networks, extrapolated: {:.0} s on {threads} threads",
        at500
    );

    let sample: Vec<(usize, usize)> = (0..ref_pairs).map(|k| (k % p, (k * 7 + 1) % p)).collect();
    let job = serde_json::json!({
        "pairs": sample.iter().map(|&(a, b)| vec![json_matrix(&fitted[a].dmd.a), json_matrix(&fitted[b].dmd.a)]).collect::<Vec<_>>(),
        "states": (0..2.min(p)).map(|i| trials_json(&xs[i], trials)).collect::<Vec<_>>(),
        "n_delays": params.n_delays,
        "rank": params.rank.unwrap(),
    });
    let Some(r) = reference(job) else { return };
    println!(
        "{:>6} {:>6} {:>14} {:>14} {:>12}",
        "a", "b", "census (rad)", "reference", "difference"
    );
    for (&(a, b), &theirs) in sample.iter().zip(&r.angles) {
        let ours = d[(a, b)];
        println!(
            "{a:>6} {b:>6} {ours:>14.6} {theirs:>14.6} {:>12.2e}",
            ours - theirs
        );
    }
    let ours_total = fit_s + pairs_s;
    let theirs_total = (r.dmd * p as f64 + r.pair * pairs) / threads as f64;
    println!(
        "reference (one thread): DMD {:.1} ms/network, align {:.1} ms/pair",
        r.dmd * 1e3,
        r.pair * 1e3
    );
    println!(
        "speed-up, same threads: alignment {:.0}×, whole matrix {:.0}× \
         (reference for {p} networks ≈ {:.0} s on {threads} threads)",
        r.pair * pairs / threads as f64 / pairs_s,
        theirs_total / ours_total,
        theirs_total
    );
}
