//! Training (SPEC §3): BPTT on a fresh seeded batch per iteration, global-norm clipping, SGD with
//! classical momentum (`v ← μ v − lr g; θ ← θ + v`), `lr(k) = lr0 · decay^(k / decay_steps)`
//! (continuous, as TensorFlow's `exponential_decay` without staircase). One network, one thread.

use super::bptt::Workspace;
use super::weights::Weights;
use super::{Batch, Network, RnnError, TaskSpec};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hyper {
    pub lr0: f64,
    pub decay: f64,
    pub momentum: f64,
    pub clip: f64,
}

/// `decay_steps = 0` means no decay; `log_every = 0` logs only the last iteration.
/// Iteration `k` trains on `task.batch(data_seed + k, batch)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOpts {
    pub iterations: usize,
    pub batch: usize,
    pub decay_steps: usize,
    pub l2: f64,
    pub log_every: usize,
    pub val_trials: usize,
    pub val_seed: u64,
    pub data_seed: u64,
}

impl Default for TrainOpts {
    fn default() -> Self {
        TrainOpts {
            iterations: 20_000,
            batch: 64,
            decay_steps: 1_000,
            l2: 0.0,
            log_every: 100,
            val_trials: 256,
            val_seed: 0xDEC0DE,
            data_seed: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Ok,
    Diverged { iteration: usize, reason: String },
}

#[derive(Clone, Debug)]
pub struct TrainResult {
    pub network: Network,
    /// `(iteration, training MSE on that iteration's batch, before its update)`.
    pub curve: Vec<(usize, f64)>,
    pub train_loss: f64,
    pub val_loss: f64,
    pub status: Status,
}

/// Checks every this many iterations for cancellation.
const CANCEL_EVERY: usize = 8;

/// Trains a copy of `init`. `train_loss` is the MSE of the final network on the last training
/// batch, `val_loss` on `task.batch(val_seed, val_trials)`; both without the L2 term. A
/// non-finite loss, gradient or weight stops training with `Status::Diverged`.
pub fn train(
    init: Network,
    task: &TaskSpec,
    hyper: &Hyper,
    opts: &TrainOpts,
    cancel: &AtomicBool,
) -> Result<TrainResult, RnnError> {
    let shape = init.shape();
    task.check().map_err(|reason| RnnError::BadTask {
        task: task.name(),
        reason,
    })?;
    for (what, task_dim, network_dim) in [
        ("inputs", task.inputs(), shape.inputs),
        ("outputs", task.outputs(), shape.outputs),
    ] {
        if task_dim != network_dim {
            return Err(RnnError::TaskMismatch {
                task: task.name(),
                what,
                task_dim,
                network_dim,
            });
        }
    }
    if opts.batch == 0 || opts.val_trials == 0 {
        return Err(RnnError::BadOpts(format!(
            "batch ({}) and val_trials ({}) must be > 0",
            opts.batch, opts.val_trials
        )));
    }
    let bad_hyper = !(hyper.lr0.is_finite()
        && hyper.decay.is_finite()
        && hyper.momentum.is_finite()
        && hyper.clip > 0.0);
    if bad_hyper {
        return Err(RnnError::BadOpts(format!(
            "hyper-parameters must be finite with clip > 0: {hyper:?}"
        )));
    }
    let steps = task.steps();
    let mut w = init.weights.clone();
    let mut velocity = Weights::<f32>::zeros(&shape);
    let mut ws = Workspace::<f32>::new(&shape, steps, opts.batch);
    let mut batch = task.batch(opts.data_seed, opts.batch);
    let mut curve = Vec::new();
    let mut status = Status::Ok;
    for k in 0..opts.iterations {
        if k % CANCEL_EVERY == 0 && cancel.load(Ordering::Relaxed) {
            return Err(RnnError::Cancelled);
        }
        task.fill(opts.data_seed.wrapping_add(k as u64), &mut batch);
        let (x, y) = flat(&batch);
        let loss = ws.loss_and_grad(&w, x, y, opts.l2);
        let norm = global_norm(&ws.grad);
        if opts.log_every > 0 && k % opts.log_every == 0 || k + 1 == opts.iterations {
            curve.push((k, loss));
        }
        if !loss.is_finite() || !norm.is_finite() {
            status = Status::Diverged {
                iteration: k,
                reason: format!("non-finite loss {loss} or gradient norm {norm}"),
            };
            break;
        }
        let decay = if opts.decay_steps == 0 {
            1.0
        } else {
            hyper.decay.powf(k as f64 / opts.decay_steps as f64)
        };
        let lr = hyper.lr0 * decay;
        let scale = (lr * (hyper.clip / norm).min(1.0)) as f32;
        let mu = hyper.momentum as f32;
        for ((p, v), g) in w
            .slices_mut()
            .into_iter()
            .zip(velocity.slices_mut())
            .zip(ws.grad.slices())
        {
            for ((p, v), &g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
                *v = mu * *v - scale * g;
                *p += *v;
            }
        }
        if !w.is_finite() {
            status = Status::Diverged {
                iteration: k,
                reason: "non-finite weights after the update".into(),
            };
            break;
        }
    }
    let (x, y) = flat(&batch);
    ws.forward(&w, x);
    let train_loss = ws.mse(y);
    let val = task.batch(opts.val_seed, opts.val_trials);
    let mut vws = Workspace::<f32>::new(&shape, steps, opts.val_trials);
    let (x, y) = flat(&val);
    vws.forward(&w, x);
    let val_loss = vws.mse(y);
    if status == Status::Ok && !(train_loss.is_finite() && val_loss.is_finite()) {
        status = Status::Diverged {
            iteration: opts.iterations,
            reason: format!("non-finite final loss: train {train_loss}, validation {val_loss}"),
        };
    }
    Ok(TrainResult {
        network: Network::from_weights(shape, w),
        curve,
        train_loss,
        val_loss,
        status,
    })
}

fn flat(b: &Batch) -> (ndarray::ArrayView2<'_, f32>, ndarray::ArrayView2<'_, f32>) {
    let (t, n, m) = b.inputs.dim();
    let k = b.targets.dim().2;
    (
        b.inputs.view().into_shape_with_order((t * n, m)).unwrap(),
        b.targets.view().into_shape_with_order((t * n, k)).unwrap(),
    )
}

fn global_norm(g: &Weights<f32>) -> f64 {
    g.slices()
        .iter()
        .flat_map(|s| s.iter())
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::{Activation, Arch, Shape};

    fn net(arch: Arch, units: usize, seed: u64) -> Network {
        Network::init(
            Shape {
                arch,
                activation: Activation::Tanh,
                units,
                inputs: 3,
                outputs: 3,
            },
            seed,
        )
    }

    fn opts(iterations: usize) -> TrainOpts {
        TrainOpts {
            iterations,
            batch: 32,
            decay_steps: 200,
            log_every: 50,
            val_trials: 64,
            ..TrainOpts::default()
        }
    }

    #[test]
    fn gru_and_vanilla_learn_flipflop() {
        let task = TaskSpec::flipflop();
        let never = AtomicBool::new(false);
        // (arch, lr0, val MSE reached after 400 iterations at batch 32; untrained ≈ 0.8–1.0).
        for (arch, lr0, threshold) in [(Arch::Gru, 0.3, 0.05), (Arch::Vanilla, 0.02, 0.16)] {
            let hyper = Hyper {
                lr0,
                decay: 0.7,
                momentum: 0.9,
                clip: 1.0,
            };
            let untrained = train(net(arch, 24, 1), &task, &hyper, &opts(0), &never).unwrap();
            let r = train(net(arch, 24, 1), &task, &hyper, &opts(400), &never).unwrap();
            assert_eq!(r.status, Status::Ok);
            assert!(
                untrained.val_loss > 0.7,
                "{arch}: untrained {}",
                untrained.val_loss
            );
            assert!(
                r.val_loss < threshold,
                "{arch}: val {} (untrained {})",
                r.val_loss,
                untrained.val_loss
            );
            assert!(
                r.train_loss < 1.5 * threshold,
                "{arch}: train {}",
                r.train_loss
            );
            assert_eq!(r.curve.first().unwrap().0, 0);
            assert_eq!(r.curve.last().unwrap().0, 399);
            assert_eq!(r.curve.len(), 9);
        }
    }

    #[test]
    fn zero_iterations_returns_the_untrained_network_and_training_is_deterministic() {
        let task = TaskSpec::Flipflop {
            bits: 3,
            steps: 20,
            flip_prob: 0.1,
        };
        let never = AtomicBool::new(false);
        let hyper = Hyper {
            lr0: 0.05,
            decay: 0.5,
            momentum: 0.5,
            clip: 1.0,
        };
        let init = net(Arch::Lstm, 8, 3);
        let r0 = train(init.clone(), &task, &hyper, &opts(0), &never).unwrap();
        assert_eq!(r0.network.params(), init.params());
        assert!(r0.curve.is_empty());
        let b = task.batch(0, 32);
        let (_, y) = init.run(b.inputs.view());
        let mse = (&y - &b.targets)
            .mapv(|v| (v as f64).powi(2))
            .mean()
            .unwrap();
        assert!(
            (r0.train_loss - mse).abs() < 1e-9,
            "{} vs {mse}",
            r0.train_loss
        );
        let a = train(init.clone(), &task, &hyper, &opts(30), &never).unwrap();
        let b = train(init.clone(), &task, &hyper, &opts(30), &never).unwrap();
        assert_eq!(a.network.params(), b.network.params());
        assert_ne!(a.network.params(), init.params());
        let l2 = TrainOpts {
            l2: 0.1,
            ..opts(30)
        };
        let c = train(init, &task, &hyper, &l2, &never).unwrap();
        assert_ne!(a.network.params(), c.network.params());
    }

    #[test]
    fn absurd_learning_rate_diverges_without_panic() {
        let task = TaskSpec::Flipflop {
            bits: 3,
            steps: 20,
            flip_prob: 0.1,
        };
        let hyper = Hyper {
            lr0: 1e30,
            decay: 1.0,
            momentum: 0.9,
            clip: 1e30,
        };
        for arch in Arch::ALL {
            let r = train(
                net(arch, 8, 2),
                &task,
                &hyper,
                &opts(50),
                &AtomicBool::new(false),
            )
            .unwrap();
            assert!(
                matches!(r.status, Status::Diverged { iteration, .. } if iteration < 50),
                "{arch}: {:?}",
                r.status
            );
        }
    }

    #[test]
    fn cancellation_and_mismatches_are_errors() {
        let task = TaskSpec::flipflop();
        let hyper = Hyper {
            lr0: 0.01,
            decay: 0.5,
            momentum: 0.9,
            clip: 1.0,
        };
        let cancelled = train(
            net(Arch::Gru, 8, 1),
            &task,
            &hyper,
            &opts(100),
            &AtomicBool::new(true),
        );
        assert!(matches!(cancelled, Err(RnnError::Cancelled)));
        let mismatch = train(
            net(Arch::Gru, 8, 1),
            &TaskSpec::sine(),
            &hyper,
            &opts(1),
            &AtomicBool::new(false),
        );
        assert!(matches!(
            mismatch,
            Err(RnnError::TaskMismatch {
                what: "inputs",
                task_dim: 1,
                network_dim: 3,
                ..
            })
        ));
    }
}
