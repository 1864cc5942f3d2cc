//! What a kind's estimates ([`super::Kind::memory`], [`super::Kind::work`]) may know besides its
//! parameters, and the shared formulas they are written with.
//!
//! [`Shapes`] is the task's view of its inputs before anything runs (the network it works on,
//! the probe states it will read); `exec` implements it over a plan. The formulas count bytes
//! (`u64`, saturating) and multiply-adds (`f64`); the rule of each kind is listed in the module
//! docs of `exec::memory` and `exec::cost`.

use super::train::{NetSpec, ProbeParams, Schedule};

pub const F32: u64 = 4;
pub const F64: u64 = 8;

/// A task's inputs as far as their shapes are known from the plan.
pub trait Shapes {
    /// The network a per-network task works on: the `train` task it depends on first, directly
    /// or through its first input.
    fn net(&self) -> Option<NetSpec>;
    /// The bytes of f32 probe states of each input (0 for an input that is not a probe).
    fn probe_states(&self) -> Vec<u64>;
    /// The first input's probe parameters and network, when it is a probe.
    fn first_probe(&self) -> Option<(ProbeParams, NetSpec)>;
    /// How many inputs the task has.
    fn inputs(&self) -> usize;
    /// How many networks a study-level task compares: its inputs, or its one input's inputs.
    fn networks(&self) -> u64;
}

pub fn mul(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |p, &f| p.saturating_mul(f))
}

pub fn add(terms: &[u64]) -> u64 {
    terms.iter().fold(0u64, |s, &t| s.saturating_add(t))
}

/// Bytes of the f32 weights of `net`.
pub fn weights(net: &NetSpec) -> u64 {
    let s = net.shape();
    let (n, m, k) = (s.units as u64, s.inputs as u64, s.outputs as u64);
    let gn = mul(&[net.arch.blocks() as u64, n]);
    mul(&[
        F32,
        add(&[mul(&[n, gn]), mul(&[m, gn]), gn, mul(&[n, k]), k]),
    ])
}

/// Bytes of the f32 states of `trials` trials through the network.
pub fn states(net: &NetSpec, trials: usize) -> u64 {
    mul(&[
        F32,
        trials as u64,
        net.task.steps() as u64,
        net.units as u64,
    ])
}

/// Bytes of the BPTT workspaces of the training batch and validation set, and six copies of
/// the weights.
pub fn training_bytes(net: &NetSpec, schedule: &Schedule) -> u64 {
    let s = net.shape();
    let (n, m, k) = (s.units as u64, s.inputs as u64, s.outputs as u64);
    let gn = mul(&[net.arch.blocks() as u64, n]);
    let t = net.task.steps() as u64 + 1;
    let per_row = add(&[mul(&[n, 4]), gn, k, m, k]);
    let rows = add(&[schedule.batch as u64, schedule.val_trials as u64]);
    add(&[mul(&[F32, t, rows, per_row]), mul(&[6, weights(net)])])
}

/// Eight `n×n` f64 matrices.
pub fn square(n: u64) -> u64 {
    mul(&[8 * F64, n, n])
}

/// A few `n×n` f64 matrices of the networks a study-level task compares.
pub fn pairwise_bytes(inputs: &dyn Shapes) -> u64 {
    square(inputs.networks())
}

/// `k²` for the `k` networks a study-level task compares.
pub fn pairwise_work(inputs: &dyn Shapes) -> f64 {
    (inputs.networks() as f64).powi(2)
}

/// Multiply-adds of one forward step of `net` for one trial.
pub fn step(net: &NetSpec) -> f64 {
    let s = net.shape();
    (net.arch.blocks() * s.units * (s.units + s.inputs)) as f64
}

/// Forward and backward passes over the schedule, plus validation and scoring.
pub fn training_work(net: &NetSpec, s: &Schedule) -> f64 {
    let t = (net.task.steps() + 1) as f64;
    let trials = 3.0 * (s.iterations * s.batch) as f64 + 2.0 * s.val_trials as f64;
    trials * t * step(net)
}

/// Every input probe's states, as read (f32) and in f64 twice.
pub fn distance_bytes(inputs: &dyn Shapes) -> u64 {
    inputs.probe_states().into_iter().fold(0u64, |sum, p| {
        sum.saturating_add(mul(&[(F32 + 2 * F64) / F32, p]))
    })
}

/// Each network's `trials·T × N` states against every other's and a decomposition per network.
pub fn distance_work(inputs: &dyn Shapes) -> Option<f64> {
    let (probe, net) = inputs.first_probe()?;
    let (k, rows, units) = (
        inputs.inputs() as f64,
        (probe.trials * net.task.steps()) as f64,
        net.units as f64,
    );
    Some(k * k * rows * units + k * units.powi(3))
}
