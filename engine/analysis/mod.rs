//! The numerics of the analyses, free of the engine: plain functions from arrays to arrays.
//!
//! - representational geometry (SPEC §4): `svcca`, `cka`, `shape`, with `linalg` the one place
//!   that names faer for SVD and QR, `factor` (truncated reductions), `cross` (every pair's
//!   cross-product in `f32` with `f64` accumulation) and `sketch` (the opt-in estimator);
//! - embedding and summaries (§6): `mds`, `cluster`;
//! - dynamics (§5), written against the `Dynamics` trait: `fixed_points`, `linearise` (with
//!   `eig`, the non-symmetric eigendecomposition), `topology`.
//!
//! Everything here is f64 (but for `cross`'s products, whose error it states) (fixed points to `q < 1e-12` and canonical correlations near 1 need
//! it) and deterministic whatever the thread count.

pub mod cka;
pub mod cluster;
pub mod cross;
pub mod dsa;
pub mod dynamics;
pub mod eig;
pub mod factor;
pub mod fixed_points;
pub mod linalg;
pub mod linearise;
pub mod mds;
pub mod shape;
pub mod sketch;
pub mod svcca;
pub mod topology;
