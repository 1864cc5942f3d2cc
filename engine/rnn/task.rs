//! The three tasks of SPEC §2, generated on the fly from a seed (ChaCha8, so a seed gives the same
//! batch on every platform). Arrays are time-major `[T, B, ·]`, matching the training layout.
//!
//! Choices the SPEC leaves open, stated here: the sine target at step `t = 1..T` is
//! `sin(2π ω t)`; a CDI trial draws its context uniformly; draws are made trial by trial, so
//! trial `b` of a batch does not depend on the batch size.

use ndarray::Array3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum TaskSpec {
    Flipflop {
        #[serde(default = "d_bits")]
        bits: usize,
        #[serde(default = "d_flipflop_steps")]
        steps: usize,
        #[serde(default = "d_flip_prob")]
        flip_prob: f64,
    },
    Sine {
        #[serde(default = "d_sine_steps")]
        steps: usize,
        #[serde(default = "d_freq_min")]
        freq_min: f64,
        #[serde(default = "d_freq_range")]
        freq_range: f64,
    },
    Cdi {
        #[serde(default = "d_contexts")]
        contexts: usize,
        #[serde(default = "d_cdi_steps")]
        steps: usize,
        #[serde(default = "d_one")]
        mean_range: f64,
        #[serde(default = "d_one")]
        noise_sd: f64,
    },
}

fn d_bits() -> usize {
    3
}
fn d_flipflop_steps() -> usize {
    100
}
fn d_flip_prob() -> f64 {
    0.05
}
fn d_sine_steps() -> usize {
    500
}
fn d_freq_min() -> f64 {
    0.01
}
fn d_freq_range() -> f64 {
    0.04
}
fn d_contexts() -> usize {
    2
}
fn d_cdi_steps() -> usize {
    30
}
fn d_one() -> f64 {
    1.0
}

/// Inputs `[T, B, M]` and targets `[T, B, K]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub inputs: Array3<f32>,
    pub targets: Array3<f32>,
}

impl TaskSpec {
    pub fn flipflop() -> TaskSpec {
        TaskSpec::Flipflop {
            bits: d_bits(),
            steps: d_flipflop_steps(),
            flip_prob: d_flip_prob(),
        }
    }

    pub fn sine() -> TaskSpec {
        TaskSpec::Sine {
            steps: d_sine_steps(),
            freq_min: d_freq_min(),
            freq_range: d_freq_range(),
        }
    }

    pub fn cdi() -> TaskSpec {
        TaskSpec::Cdi {
            contexts: d_contexts(),
            steps: d_cdi_steps(),
            mean_range: 1.0,
            noise_sd: 1.0,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            TaskSpec::Flipflop { .. } => "flipflop",
            TaskSpec::Sine { .. } => "sine",
            TaskSpec::Cdi { .. } => "cdi",
        }
    }

    pub fn inputs(&self) -> usize {
        match *self {
            TaskSpec::Flipflop { bits, .. } => bits,
            TaskSpec::Sine { .. } => 1,
            TaskSpec::Cdi { contexts, .. } => 2 * contexts,
        }
    }

    pub fn outputs(&self) -> usize {
        match *self {
            TaskSpec::Flipflop { bits, .. } => bits,
            TaskSpec::Sine { .. } | TaskSpec::Cdi { .. } => 1,
        }
    }

    pub fn steps(&self) -> usize {
        match *self {
            TaskSpec::Flipflop { steps, .. }
            | TaskSpec::Sine { steps, .. }
            | TaskSpec::Cdi { steps, .. } => steps,
        }
    }

    /// A seeded batch of `trials` trials.
    pub fn batch(&self, seed: u64, trials: usize) -> Batch {
        let mut b = Batch {
            inputs: Array3::zeros((self.steps(), trials, self.inputs())),
            targets: Array3::zeros((self.steps(), trials, self.outputs())),
        };
        self.fill(seed, &mut b);
        b
    }

    /// `batch` into existing arrays of the right shape (the training loop reuses one `Batch`).
    pub fn fill(&self, seed: u64, batch: &mut Batch) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (steps, trials, _) = batch.inputs.dim();
        assert_eq!(
            batch.inputs.dim(),
            (self.steps(), trials, self.inputs()),
            "batch input shape"
        );
        assert_eq!(
            batch.targets.dim(),
            (self.steps(), trials, self.outputs()),
            "batch target shape"
        );
        let (x, y) = (&mut batch.inputs, &mut batch.targets);
        x.fill(0.0);
        y.fill(0.0);
        match *self {
            TaskSpec::Flipflop {
                bits, flip_prob, ..
            } => {
                for b in 0..trials {
                    for k in 0..bits {
                        let mut last = 0.0f32;
                        for t in 0..steps {
                            if rng.random_bool(flip_prob) {
                                last = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                                x[(t, b, k)] = last;
                            }
                            y[(t, b, k)] = last;
                        }
                    }
                }
            }
            TaskSpec::Sine {
                freq_min,
                freq_range,
                ..
            } => {
                for b in 0..trials {
                    let cmd: f64 = rng.random();
                    let omega = freq_range * cmd + freq_min;
                    for t in 0..steps {
                        x[(t, b, 0)] = cmd as f32;
                        y[(t, b, 0)] =
                            (2.0 * std::f64::consts::PI * omega * (t + 1) as f64).sin() as f32;
                    }
                }
            }
            TaskSpec::Cdi {
                contexts,
                mean_range,
                noise_sd,
                ..
            } => {
                for b in 0..trials {
                    let cue = rng.random_range(0..contexts);
                    let means: Vec<f64> = (0..contexts)
                        .map(|_| mean_range * (2.0 * rng.random::<f64>() - 1.0))
                        .collect();
                    let mut sum = 0.0f64;
                    for t in 0..steps {
                        x[(t, b, cue)] = 1.0;
                        for (k, mu) in means.iter().enumerate() {
                            let u = mu + noise_sd * rng.sample::<f64, _>(StandardNormal);
                            x[(t, b, contexts + k)] = u as f32;
                            if k == cue {
                                sum += u as f32 as f64;
                            }
                        }
                        y[(t, b, 0)] = sum as f32;
                    }
                }
            }
        }
    }

    /// Static conditions for fixed points (SPEC §5): `(condition value, static input x*)`.
    pub fn conditions(&self, n: usize) -> Vec<(f64, Vec<f64>)> {
        match *self {
            TaskSpec::Flipflop { bits, .. } => vec![(0.0, vec![0.0; bits])],
            TaskSpec::Sine { .. } => (0..n)
                .map(|i| {
                    let v = if n == 1 {
                        0.5
                    } else {
                        i as f64 / (n - 1) as f64
                    };
                    (v, vec![v])
                })
                .collect(),
            TaskSpec::Cdi { contexts, .. } => (0..contexts)
                .map(|k| {
                    let mut x = vec![0.0; 2 * contexts];
                    x[k] = 1.0;
                    (k as f64, x)
                })
                .collect(),
        }
    }

    /// Checks the values; the message names the field and what would be right.
    pub fn check(&self) -> Result<(), String> {
        let finite_nonneg = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number ≥ 0, got {v}"))
            }
        };
        let positive = |name: &str, v: usize| {
            if v > 0 {
                Ok(())
            } else {
                Err(format!("{name} must be > 0"))
            }
        };
        match *self {
            TaskSpec::Flipflop {
                bits,
                steps,
                flip_prob,
            } => {
                positive("bits", bits)?;
                positive("steps", steps)?;
                if !(0.0..=1.0).contains(&flip_prob) {
                    return Err(format!(
                        "flip_prob must be a probability in [0, 1], got {flip_prob}"
                    ));
                }
            }
            TaskSpec::Sine {
                steps,
                freq_min,
                freq_range,
            } => {
                positive("steps", steps)?;
                finite_nonneg("freq_min", freq_min)?;
                finite_nonneg("freq_range", freq_range)?;
            }
            TaskSpec::Cdi {
                contexts,
                steps,
                mean_range,
                noise_sd,
            } => {
                positive("contexts", contexts)?;
                positive("steps", steps)?;
                finite_nonneg("mean_range", mean_range)?;
                finite_nonneg("noise_sd", noise_sd)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flipflop_target_is_sign_of_last_pulse() {
        let task = TaskSpec::flipflop();
        let b = task.batch(7, 20);
        let mut pulses = 0;
        for tr in 0..20 {
            for k in 0..3 {
                let mut last = 0.0;
                for t in 0..100 {
                    let x = b.inputs[(t, tr, k)];
                    assert!(x == 0.0 || x == 1.0 || x == -1.0);
                    if x != 0.0 {
                        last = x;
                        pulses += 1;
                    }
                    assert_eq!(b.targets[(t, tr, k)], last);
                }
            }
        }
        // 20·3·100 draws at p = 0.05: 300 expected, sd ≈ 17.
        assert!((240..360).contains(&pulses), "{pulses}");
        assert_eq!(b, task.batch(7, 20));
        assert_ne!(b, task.batch(8, 20));
    }

    #[test]
    fn sine_frequency_follows_command() {
        let task = TaskSpec::sine();
        let b = task.batch(3, 8);
        for tr in 0..8 {
            let x = b.inputs[(0, tr, 0)] as f64;
            assert!((0.0..1.0).contains(&x));
            assert!(b
                .inputs
                .slice(ndarray::s![.., tr, 0])
                .iter()
                .all(|&v| v as f64 == x));
            let omega = 0.04 * x + 0.01;
            for t in [0usize, 17, 499] {
                let want = (2.0 * std::f64::consts::PI * omega * (t + 1) as f64).sin();
                assert!((b.targets[(t, tr, 0)] as f64 - want).abs() < 1e-5);
            }
            // Zero crossings over 500 steps ≈ 2·ω·500.
            let y = b.targets.slice(ndarray::s![.., tr, 0]);
            let crossings = y
                .windows(2)
                .into_iter()
                .filter(|w| w[0] * w[1] < 0.0)
                .count() as f64;
            assert!(
                (crossings - 1000.0 * omega).abs() <= 2.0,
                "{crossings} vs {}",
                1000.0 * omega
            );
        }
    }

    #[test]
    fn cdi_target_is_running_sum_of_cued_stream() {
        let task = TaskSpec::cdi();
        let b = task.batch(5, 200);
        let mut cues = [0; 2];
        for tr in 0..200 {
            let ctx = [b.inputs[(0, tr, 0)], b.inputs[(0, tr, 1)]];
            let cue = if ctx == [1.0, 0.0] {
                0
            } else {
                assert_eq!(ctx, [0.0, 1.0]);
                1
            };
            cues[cue] += 1;
            let mut sum = 0.0f64;
            for t in 0..30 {
                sum += b.inputs[(t, tr, 2 + cue)] as f64;
                assert!((b.targets[(t, tr, 0)] as f64 - sum).abs() < 1e-4);
            }
        }
        assert!(cues[0] > 70 && cues[1] > 70, "{cues:?}");
        // Stream means are U(-1, 1) per trial, noise sd 1: the pooled sd is √(1 + 1/3) ≈ 1.155.
        let noise = b.inputs.slice(ndarray::s![.., .., 2..]);
        let var = noise.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / noise.len() as f64;
        assert!((var - 4.0 / 3.0).abs() < 0.15, "{var}");
    }

    #[test]
    fn manifest_defaults_and_checks() {
        let t: TaskSpec = serde_json::from_str(r#"{"kind":"flipflop"}"#).unwrap();
        assert_eq!(t, TaskSpec::flipflop());
        let t: TaskSpec = serde_json::from_str(r#"{"kind":"cdi","steps":10}"#).unwrap();
        assert_eq!((t.inputs(), t.outputs(), t.steps()), (4, 1, 10));
        assert!(serde_json::from_str::<TaskSpec>(r#"{"kind":"sine","bits":3}"#).is_err());
        let bad = TaskSpec::Flipflop {
            bits: 3,
            steps: 100,
            flip_prob: 1.5,
        };
        assert!(bad.check().unwrap_err().contains("flip_prob"));
        assert_eq!(
            TaskSpec::sine().conditions(3),
            vec![(0.0, vec![0.0]), (0.5, vec![0.5]), (1.0, vec![1.0])]
        );
        assert_eq!(
            TaskSpec::cdi().conditions(9)[1],
            (1.0, vec![0.0, 1.0, 0.0, 0.0])
        );
    }
}
