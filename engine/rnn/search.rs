//! Hyper-parameter sampling for the seeded random search of SPEC §3.

use super::Hyper;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Ranges: `clip` and `lr0` log-uniform, `decay` and `momentum` uniform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    pub clip: (f64, f64),
    pub lr0: (f64, f64),
    pub decay: (f64, f64),
    pub momentum: (f64, f64),
}

impl Default for SearchSpace {
    fn default() -> Self {
        SearchSpace {
            clip: (0.1, 10.0),
            lr0: (1e-5, 0.1),
            decay: (0.1, 0.9),
            momentum: (0.0, 1.0),
        }
    }
}

impl SearchSpace {
    /// Each range must be finite with `lo ≤ hi`; log-uniform ones strictly positive.
    pub fn check(&self) -> Result<(), String> {
        let ranges = [
            ("clip", self.clip, true),
            ("lr0", self.lr0, true),
            ("decay", self.decay, false),
            ("momentum", self.momentum, false),
        ];
        for (name, (lo, hi), log) in ranges {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) || (log && lo <= 0.0) {
                let need = if log { "0 < lo ≤ hi" } else { "lo ≤ hi" };
                return Err(format!(
                    "search range {name} = ({lo}, {hi}) must satisfy {need}"
                ));
            }
        }
        Ok(())
    }
}

/// One draw from `space`, deterministic in `seed` (order: clip, lr0, decay, momentum).
pub fn sample_hyper(space: &SearchSpace, seed: u64) -> Hyper {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut uniform = |(lo, hi): (f64, f64)| lo + (hi - lo) * rng.random::<f64>();
    let clip = uniform((space.clip.0.ln(), space.clip.1.ln())).exp();
    let lr0 = uniform((space.lr0.0.ln(), space.lr0.1.ln())).exp();
    let decay = uniform(space.decay);
    let momentum = uniform(space.momentum);
    Hyper {
        lr0,
        decay,
        momentum,
        clip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_stay_in_range_and_are_log_uniform() {
        let space = SearchSpace::default();
        let draws: Vec<Hyper> = (0..4000).map(|s| sample_hyper(&space, s)).collect();
        assert_eq!(draws[5], sample_hyper(&space, 5));
        for h in &draws {
            assert!((0.1..=10.0).contains(&h.clip) && (1e-5..=0.1).contains(&h.lr0));
            assert!((0.1..=0.9).contains(&h.decay) && (0.0..=1.0).contains(&h.momentum));
        }
        // log-uniform over (0.1, 10): half the draws below 1; uniform would put 9% there.
        let below = draws.iter().filter(|h| h.clip < 1.0).count() as f64 / 4000.0;
        assert!((below - 0.5).abs() < 0.04, "{below}");
        let lr_below = draws.iter().filter(|h| h.lr0 < 1e-3).count() as f64 / 4000.0;
        assert!((lr_below - 0.5).abs() < 0.04, "{lr_below}");
        assert!(SearchSpace {
            lr0: (0.0, 1.0),
            ..space.clone()
        }
        .check()
        .is_err());
        assert!(space.check().is_ok());
    }
}
