//! All-pairs SVCCA, CKA and shape for a population of synthetic "networks" with a decaying
//! spectrum, against the per-pair reference functions measured in the same run on a few pairs.
//!
//! A network's states are Gaussian latents scaled by `decay^i` (i = 0..units), rotated into the
//! units by a random orthogonal matrix, plus an offset and optional isotropic noise: a geometric
//! spectrum like trained hidden states (measured on the default study's 16-unit networks:
//! `s_16/s_1` ≈ 0.01–0.03, i.e. `decay` ≈ 0.75 per direction), stored in `f32` like real states.
//!
//! Sizes from the environment (defaults: the target, 500 networks × 128 units over
//! 6,400 samples): `GEOMETRY_NETWORKS`, `GEOMETRY_UNITS`, `GEOMETRY_SAMPLES`, `GEOMETRY_DECAY`
//! (per mille, default 800), `GEOMETRY_NOISE` (per million of the top scale, default 0),
//! `GEOMETRY_REF_PAIRS` (default 4), `GEOMETRY_SHAPE_NETWORKS` (default 100: a shape pair needs
//! the singular values of its `k_a × k_b` block, so it runs on the first networks only) and
//! `GEOMETRY_TOL_E` (tolerance `10^-E`, default 8).
//! Prints the kept `k`, the proven bound, per-pair costs, the speed-up over the reference given
//! the same threads (its per-pair time divided by the thread count), and an extrapolation to
//! the paper's 2,880 networks: reductions scale with networks, pairs with networks².
//!
//! `cargo bench --bench geometry`, e.g. `GEOMETRY_NETWORKS=120 cargo bench --bench geometry`.

use census::analysis::factor::{self, Rule};
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

fn network(samples: usize, units: usize, decay: f64, noise: f64, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = |r: usize, c: usize| {
        Array2::<f64>::from_shape_simple_fn((r, c), || StandardNormal.sample(&mut rng))
    };
    let mut latent = g(samples, units);
    for (i, mut col) in latent.columns_mut().into_iter().enumerate() {
        col *= decay.powi(i as i32);
    }
    // A random orthogonal mixing: Q of a Gaussian matrix by Gram–Schmidt.
    let mut q = g(units, units);
    for j in 0..units {
        for i in 0..j {
            let d = q.column(i).dot(&q.column(j));
            let qi = q.column(i).to_owned();
            q.column_mut(j).scaled_add(-d, &qi);
        }
        let n = q.column(j).dot(&q.column(j)).sqrt();
        q.column_mut(j).mapv_inplace(|v| v / n);
    }
    (latent.dot(&q) + g(samples, units) * noise + 0.3).mapv(|v| v as f32)
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
    let decay = env("GEOMETRY_DECAY", 800) as f64 / 1000.0;
    let noise = env("GEOMETRY_NOISE", 0) as f64 / 1e6;
    let tol = 10f64.powi(-(env("GEOMETRY_TOL_E", 8) as i32));
    let ref_pairs = env("GEOMETRY_REF_PAIRS", 4);
    let threads = rayon::current_num_threads();
    let xs: Vec<Array2<f32>> = (0..p)
        .into_par_iter()
        .map(|i| network(samples, units, decay, noise, i as u64))
        .collect();
    let views: Vec<ArrayView2<f32>> = xs.iter().map(|x| x.view()).collect();
    let pairs = |p: usize| (p * (p - 1) / 2) as f64;
    println!(
        "{p} networks × {units} units × {samples} samples, spectrum decay {decay}/direction, \
         noise {noise}, tolerance {tol:e}, {threads} threads"
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
    let ref_shape = reference(&|x, y| shape::shape_distance(x, y).unwrap());

    let t = Instant::now();
    let reduced: Vec<_> = views
        .par_iter()
        .map(|x| svcca::svcca_reduce(*x, 0.95).unwrap())
        .collect();
    let svcca_reduce = secs(t);
    let t = Instant::now();
    let d = svcca::svcca_matrix_reduced(&views, &reduced).unwrap();
    let svcca_pairs = secs(t);
    let svcca_k = reduced.iter().map(|r| r.k() as f64).sum::<f64>() / p as f64;

    let t = Instant::now();
    let cka_red = factor::reduce_all(&views, Rule::Cka(tol)).unwrap();
    let cka_reduce = secs(t);
    let t = Instant::now();
    let blocks = factor::pair_blocks(&views, &cka_red, false).unwrap();
    let c = cka::cka_from_blocks(&views, &cka_red, &blocks, tol).unwrap();
    let cka_pairs = secs(t);
    drop(blocks);
    let ks: Vec<usize> = cka_red.iter().map(|r| r.k()).collect();
    let k_range = (ks.iter().min().unwrap(), ks.iter().max().unwrap());

    let ps = env("GEOMETRY_SHAPE_NETWORKS", 100).min(p);
    let sv = &views[..ps];
    let t = Instant::now();
    let sh_red = factor::reduce_all(sv, Rule::Shape(tol)).unwrap();
    let shape_reduce = secs(t);
    let t = Instant::now();
    let blocks = factor::pair_blocks(sv, &sh_red, true).unwrap();
    let sh = shape::shape_from_blocks(sv, &sh_red, &blocks, tol).unwrap();
    let shape_pairs = secs(t);
    let t = Instant::now();
    let full_red = factor::reduce_all(sv, Rule::Exact).unwrap();
    let blocks = factor::pair_blocks(sv, &full_red, false).unwrap();
    let c_full = cka::cka_from_blocks(sv, &full_red, &blocks, tol).unwrap();
    let cka_full = secs(t);

    let err = (d[(0, 1)] - svcca::svcca_distance(views[0], views[1], 0.95).unwrap())
        .abs()
        .max((c.distance[(0, 1)] - cka::cka_distance(views[0], views[1]).unwrap()).abs())
        .max((sh.distance[(0, 1)] - shape::shape_distance(views[0], views[1]).unwrap()).abs());
    let cka_gap = (&c.distance.slice(ndarray::s![..ps, ..ps]) - &c_full.distance)
        .iter()
        .fold(0.0f64, |m, e| m.max(e.abs()));
    println!(
        "kept k: svcca (0.95) mean {svcca_k:.1}; cka mean {:.1} [{}–{}], proven bound {:.1e}, \
         exact fallbacks {}; shape mean {:.1}, bound {:.1e}, exact fallbacks {}",
        c.mean_k,
        k_range.0,
        k_range.1,
        c.max_error,
        c.exact_pairs,
        sh.mean_k,
        sh.max_error,
        sh.exact_pairs
    );
    println!(
        "max |population − reference| on pair (0,1): {err:.1e}; max |cka truncated − untruncated| \
         over the first {ps}: {cka_gap:.1e}"
    );
    println!(
        "{:<24} {:>9} {:>14} {:>14} {:>10} {:>16}",
        "metric", "networks", "ref µs/pair", "pop µs/pair", "speed-up", "2,880 nets (s)"
    );
    let row = |name: &str, p: usize, r: f64, fixed: f64, pair_time: f64| {
        let (total, pairs, scale) = (fixed + pair_time, pairs(p), 2880.0 / p as f64);
        let speedup = r * pairs / threads as f64 / total;
        let extrapolated = fixed * scale + pair_time * scale * scale;
        println!(
            "{name:<24} {p:>9} {:>14.1} {:>14.2} {:>9.0}× {:>16.1}",
            r * 1e6,
            total / pairs * 1e6,
            speedup,
            extrapolated
        );
    };
    row("svcca (0.95)", p, ref_svcca, svcca_reduce, svcca_pairs);
    row("cka (truncated)", p, ref_cka, cka_reduce, cka_pairs);
    row("cka (untruncated)", ps, ref_cka, 0.0, cka_full);
    row(
        "shape (truncated)",
        ps,
        ref_shape,
        shape_reduce,
        shape_pairs,
    );
    println!(
        "seconds: svcca reduce {svcca_reduce:.2} pairs {svcca_pairs:.2}; cka reduce {cka_reduce:.2} \
         pairs {cka_pairs:.2}; cka untruncated ({ps}) {cka_full:.2}; shape reduce \
         {shape_reduce:.2} pairs {shape_pairs:.2}"
    );
}
