//! All-pairs SVCCA and CKA/shape for a population of random low-rank-plus-noise "networks",
//! against the per-pair reference functions measured in the same run on a few pairs.
//!
//! Sizes from the environment (defaults: the target, 500 networks × 128 units over
//! 6,400 samples): `GEOMETRY_NETWORKS`, `GEOMETRY_UNITS`, `GEOMETRY_SAMPLES`, `GEOMETRY_RANK`
//! (latent dimensions; their scales decay as 0.8^i, noise 0.05), `GEOMETRY_REF_PAIRS`, and
//! `GEOMETRY_CKA_NETWORKS` (default 100: CKA and shape cost `samples·N_a·N_b` a pair, so the
//! full population would take long; they run on the first networks only).
//! Prints per-pair costs, the speed-up over the reference (the reference given the same
//! threads, i.e. its per-pair time divided by the thread count), and an extrapolation to the
//! paper's 2,880 networks: reductions scale with networks, pairs with networks².
//!
//! `cargo bench --bench geometry`, e.g. `GEOMETRY_NETWORKS=120 cargo bench --bench geometry`.

use census::analysis::{cka, shape, svcca};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn network(samples: usize, units: usize, rank: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = |r: usize, c: usize| {
        Array2::<f32>::from_shape_simple_fn((r, c), || StandardNormal.sample(&mut rng))
    };
    let mut latent = g(samples, rank);
    for (i, mut col) in latent.columns_mut().into_iter().enumerate() {
        col *= 0.8f32.powi(i as i32);
    }
    let mix = g(rank, units);
    latent.dot(&mix) + g(samples, units) * 0.05 + 0.3
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn main() {
    let (p, units, samples) = (
        env("GEOMETRY_NETWORKS", 500),
        env("GEOMETRY_UNITS", 128),
        env("GEOMETRY_SAMPLES", 6400),
    );
    let (rank, ref_pairs) = (env("GEOMETRY_RANK", 16), env("GEOMETRY_REF_PAIRS", 8));
    let threads = rayon::current_num_threads();
    let xs: Vec<Array2<f32>> = (0..p)
        .into_par_iter()
        .map(|i| network(samples, units, rank, i as u64))
        .collect();
    let views: Vec<ArrayView2<f32>> = xs.iter().map(|x| x.view()).collect();
    let pairs = |p: usize| (p * (p - 1) / 2) as f64;
    println!(
        "{p} networks × {units} units × {samples} samples, latent rank {rank}, {threads} threads"
    );

    let reference = |f: &dyn Fn(ArrayView2<f32>, ArrayView2<f32>) -> f64| {
        let t = Instant::now();
        let mut sum = 0.0;
        for k in 0..ref_pairs {
            sum += f(views[k % p], views[(k * 7 + 1) % p]);
        }
        std::hint::black_box(sum);
        secs(t) / ref_pairs as f64
    };
    let ref_svcca = reference(&|x, y| svcca::svcca_distance(x, y, 0.95).unwrap());
    let ref_cka = reference(&|x, y| cka::cka_distance(x, y).unwrap());

    let t = Instant::now();
    let reduced: Vec<_> = views
        .par_iter()
        .map(|x| svcca::svcca_reduce(*x, 0.95).unwrap())
        .collect();
    let reduce = secs(t);
    let t = Instant::now();
    let d = svcca::svcca_matrix_reduced(&views, &reduced).unwrap();
    let svcca_pairs = secs(t);
    let mean_k = reduced.iter().map(|r| r.k() as f64).sum::<f64>() / p as f64;
    let p_cka = env("GEOMETRY_CKA_NETWORKS", 100).min(p);
    let cka_views = &views[..p_cka];
    let t = Instant::now();
    let c = cka::cka_matrix(cka_views).unwrap();
    let cka_time = secs(t);
    let t = Instant::now();
    let (_, sh) = shape::cka_shape_matrices(cka_views).unwrap();
    let both_time = secs(t);
    // Spot check against the reference.
    let err = (d[(0, 1)] - svcca::svcca_distance(views[0], views[1], 0.95).unwrap())
        .abs()
        .max((c[(0, 1)] - cka::cka_distance(views[0], views[1]).unwrap()).abs())
        .max((sh[(0, 1)] - shape::shape_distance(views[0], views[1]).unwrap()).abs());

    println!(
        "mean SVCCA k at 0.95: {mean_k:.1}; max |population − reference| on pair (0,1): {err:.1e}"
    );
    println!(
        "{:<22} {:>9} {:>14} {:>14} {:>10} {:>16}",
        "metric", "networks", "ref µs/pair", "pop µs/pair", "speed-up", "2,880 nets (s)"
    );
    let row = |name: &str, p: usize, r: f64, fixed: f64, pair_time: f64| {
        let (total, pairs, scale) = (fixed + pair_time, pairs(p), 2880.0 / p as f64);
        let speedup = r * pairs / threads as f64 / total;
        let extrapolated = fixed * scale + pair_time * scale * scale;
        println!(
            "{name:<22} {p:>9} {:>14.1} {:>14.2} {:>9.0}× {:>16.1}",
            r * 1e6,
            total / pairs * 1e6,
            speedup,
            extrapolated
        );
    };
    row("svcca (0.95)", p, ref_svcca, reduce, svcca_pairs);
    row("cka", p_cka, ref_cka, 0.0, cka_time);
    row("cka + shape (one pass)", p_cka, ref_cka, 0.0, both_time);
    println!("svcca: reductions {reduce:.2} s, pairs {svcca_pairs:.2} s; cka {cka_time:.2} s; cka+shape {both_time:.2} s");
}
