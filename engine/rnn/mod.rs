//! Recurrent networks: the four cells of SPEC §1, the three tasks of §2, and BPTT training (§3).
//!
//! Map:
//! - `float`: the `Float` trait (f32 for training, f64 for gradient checks and dynamics) and the
//!   activations, including the fast f32 `tanh`.
//! - `cell`: the equations of every cell, once: one forward step and its backward step on a batch
//!   of rows. Unrolling (`bptt`), the gradient and the Jacobians of `dynamics` all call these two.
//! - `weights`: the stacked internal layout of the parameters and its conversion to SPEC names.
//! - `init`: seeded initialisation (orthogonal / identity recurrent weights, Gaussian input and
//!   readout weights, gate biases at +1).
//! - `network`: `Network` (f32 parameters + shape) and its forward `run`.
//! - `bptt`: the workspace that unrolls a batch, computes the loss and its gradient.
//! - `task`: the seeded task generators.
//! - `train`: SGD with momentum, learning-rate decay, clipping, divergence detection.
//! - `search`: hyper-parameter sampling for the random search.
//! - `score`: task-level success criteria (does a trained network solve its task?).
//! - `dynamics`: the f64 view implementing `crate::analysis::dynamics::Dynamics`.

mod bptt;
mod cell;
mod dynamics;
mod float;
pub mod gemm;
mod init;
mod network;
mod score;
mod search;
mod task;
mod train;
mod weights;

pub use dynamics::NetworkDynamics;
pub use float::{fast_tanh, Float};
pub use network::Network;
pub use score::{score, TaskScore};
pub use search::{sample_hyper, SearchSpace};
pub use task::{Batch, TaskSpec};
pub use train::{train, Hyper, Status, TrainOpts, TrainResult};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Recurrent architecture (SPEC §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Vanilla,
    Ugrnn,
    Gru,
    Lstm,
}

impl Arch {
    pub const ALL: [Arch; 4] = [Arch::Vanilla, Arch::Ugrnn, Arch::Gru, Arch::Lstm];

    pub fn name(self) -> &'static str {
        match self {
            Arch::Vanilla => "vanilla",
            Arch::Ugrnn => "ugrnn",
            Arch::Gru => "gru",
            Arch::Lstm => "lstm",
        }
    }

    /// Number of `N`-wide blocks of pre-activations (one per `W_*`).
    pub fn blocks(self) -> usize {
        match self {
            Arch::Vanilla => 1,
            Arch::Ugrnn => 2,
            Arch::Gru => 3,
            Arch::Lstm => 4,
        }
    }

    /// Suffixes of the `W_*, U_*, b_*` triples, in SPEC order (vanilla has none: `W, U, b`).
    pub fn gate_names(self) -> &'static [&'static str] {
        match self {
            Arch::Vanilla => &[""],
            Arch::Ugrnn => &["g", "c"],
            Arch::Gru => &["z", "r", "c"],
            Arch::Lstm => &["i", "f", "o", "g"],
        }
    }

    /// Index of the block whose bias starts at +1 (the gate that keeps memory).
    pub fn memory_gate(self) -> Option<usize> {
        match self {
            Arch::Vanilla => None,
            Arch::Ugrnn => Some(0),
            Arch::Gru => Some(0),
            Arch::Lstm => Some(1),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The swappable non-gate nonlinearity `φ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Tanh,
    Relu,
}

impl Activation {
    pub const ALL: [Activation; 2] = [Activation::Tanh, Activation::Relu];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that fixes the parameter shapes: `units` = N, `inputs` = M, `outputs` = K.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub arch: Arch,
    pub activation: Activation,
    pub units: usize,
    pub inputs: usize,
    pub outputs: usize,
}

impl Shape {
    /// Dimension of the dynamical state (LSTM: `2N`, `[c; h]`).
    pub fn state_dim(&self) -> usize {
        if self.arch == Arch::Lstm {
            2 * self.units
        } else {
            self.units
        }
    }
}

/// One named parameter, row-major, names and shapes per SPEC §1.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum RnnError {
    #[error("training cancelled")]
    Cancelled,
    #[error("bad parameters for a {arch} network: {reason}")]
    BadParams { arch: Arch, reason: String },
    #[error("task {task} has {task_dim} {what} but the network has {network_dim}")]
    TaskMismatch {
        task: &'static str,
        what: &'static str,
        task_dim: usize,
        network_dim: usize,
    },
    #[error("bad {task} task: {reason}")]
    BadTask { task: &'static str, reason: String },
    #[error("bad training options: {0}")]
    BadOpts(String),
}
