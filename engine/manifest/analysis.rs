//! The analyses a study can ask for, with their parameters and documented defaults.
//!
//! Each variant's parameters are exactly what enters the key of the task(s) it creates, so a
//! parameter added here changes keys: give it a default that reproduces the old behaviour.

pub use crate::analysis::dsa::DsaParams;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Analysis {
    /// SVCCA distance (SPEC §4; how many directions are kept: [`SvccaParams`]).
    Svcca(SvccaParams),
    /// Linear CKA distance; `tol` bounds each distance's error from truncating every network's
    /// spectrum (0: no truncation). `sketch = m`: instead, the estimate from `m` shared Gaussian
    /// combinations of the samples (`analysis::sketch`; `tol` then does not apply).
    Cka {
        #[serde(default = "d_geometry_tol")]
        tol: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sketch: Option<usize>,
    },
    /// Angular Procrustes shape metric; `tol` and `sketch` as for CKA.
    Shape {
        #[serde(default = "d_geometry_tol")]
        tol: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sketch: Option<usize>,
    },
    /// Dynamical Similarity Analysis (Ostrow et al. 2023): per network a delay-embedded linear
    /// operator of its probe trajectories, per pair the angle between operators up to an
    /// orthogonal change of basis. Defaults: `n_delays = 1`, `delay_interval = 1`, `rank = 10`
    /// (or `variance`, a fraction of the Hankel matrix's variance, instead), `lambda = 0`,
    /// `score = "angular"` (radians; or `"wasserstein"` between eigenvalues). See
    /// `analysis::dsa::DsaParams`.
    Dsa(DsaParams),
    /// Fixed points, their linearisation, and the task's linear analyses (SPEC §5).
    FixedPoints(FixedPointParams),
    /// Topology graphs and the topology distance between networks.
    Topology(TopologyParams),
    /// 2-D embedding of every distance matrix of the study.
    Mds(MdsParams),
    /// Silhouette scores by architecture and by activation, with permutation p-values.
    Clustering(ClusteringParams),
}

fn d_geometry_tol() -> f64 {
    1e-8
}

impl Analysis {
    pub fn kind(&self) -> &'static str {
        match self {
            Analysis::Svcca(_) => "svcca",
            Analysis::Cka { .. } => "cka",
            Analysis::Shape { .. } => "shape",
            Analysis::Dsa(_) => "dsa",
            Analysis::FixedPoints(_) => "fixed_points",
            Analysis::Topology(_) => "topology",
            Analysis::Mds(_) => "mds",
            Analysis::Clustering(_) => "clustering",
        }
    }

    pub const KINDS: [&'static str; 8] = [
        "svcca",
        "cka",
        "shape",
        "dsa",
        "fixed_points",
        "topology",
        "mds",
        "clustering",
    ];
}

fn d_variance() -> f64 {
    0.95
}

/// SVCCA's rule for the number of kept directions (`analysis::svcca::Keep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvccaKeep {
    /// One count for the whole study (the median of the per-network counts at `variance`, or
    /// `components`): the square root of the distance is then a metric.
    Study,
    /// Each network its own count reaching `variance` (Raghu et al.; census before).
    PerNetwork,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SvccaParams {
    /// The fraction of its variance a network's kept directions reach.
    #[serde(default = "d_variance")]
    pub variance: f64,
    #[serde(default = "d_svcca_keep")]
    pub keep: SvccaKeep,
    /// With `keep = "study"`: this many directions for every network instead of the median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<usize>,
}

fn d_svcca_keep() -> SvccaKeep {
    SvccaKeep::Study
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedPointParams {
    #[serde(default = "d_inits")]
    pub inits: usize,
    #[serde(default = "d_noise")]
    pub noise: f64,
    #[serde(default = "d_tol_q")]
    pub tol_q: f64,
    #[serde(default = "d_tol_unique")]
    pub tol_unique: f64,
    #[serde(default = "d_outlier")]
    pub outlier: f64,
    #[serde(default = "d_max_iter")]
    pub max_iter: usize,
    /// Sine: how many command values on the even grid over [0, 1].
    #[serde(default = "d_conditions")]
    pub conditions: usize,
    #[serde(default)]
    pub seed: u64,
}

impl Default for FixedPointParams {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialise")
    }
}

fn d_inits() -> usize {
    1024
}
fn d_noise() -> f64 {
    0.5
}
fn d_tol_q() -> f64 {
    1e-12
}
fn d_tol_unique() -> f64 {
    1e-3
}
fn d_outlier() -> f64 {
    10.0
}
fn d_max_iter() -> usize {
    100
}
fn d_conditions() -> usize {
    10
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyParams {
    /// Perturbed runs from each fixed point (flip-flop).
    #[serde(default = "d_runs")]
    pub runs: usize,
    /// Perturbation size relative to `||s*||` (absolute at the origin).
    #[serde(default = "d_eps")]
    pub eps: f64,
    #[serde(default = "d_max_steps")]
    pub max_steps: usize,
    /// Nearest neighbours per fixed point in the sine and CDI graphs.
    #[serde(default = "d_neighbours")]
    pub neighbours: usize,
    /// A flip-flop network with more fixed points than this (a continuum of slow points, as in
    /// an untrained identity-initialised relu network) gets no transition graph: its graph is
    /// recorded as empty with `computed = false` in `topology_nodes`, and the paper's rule sets
    /// it aside as a non-modal count.
    #[serde(default = "d_max_points")]
    pub max_points: usize,
    #[serde(default)]
    pub seed: u64,
}

fn d_runs() -> usize {
    100
}
fn d_eps() -> f64 {
    0.01
}
fn d_max_steps() -> usize {
    2000
}
fn d_neighbours() -> usize {
    1
}
fn d_max_points() -> usize {
    64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MdsMethod {
    Smacof,
    Classical,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdsParams {
    #[serde(default = "d_method")]
    pub method: MdsMethod,
    #[serde(default = "d_mds_iter")]
    pub max_iter: usize,
    #[serde(default = "d_mds_eps")]
    pub eps: f64,
}

fn d_method() -> MdsMethod {
    MdsMethod::Smacof
}
fn d_mds_iter() -> usize {
    300
}
fn d_mds_eps() -> f64 {
    1e-6
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusteringParams {
    #[serde(default = "d_permutations")]
    pub permutations: usize,
    #[serde(default)]
    pub seed: u64,
}

fn d_permutations() -> usize {
    1000
}
