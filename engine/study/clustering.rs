//! `clustering`: how strongly each distance matrix of a study clusters by architecture,
//! activation and training (SPEC §6, `analysis::cluster`): its manifest parameters, their
//! checks, its expansion (one task per distance, each an input of `findings`) and its kind.

use super::mds::input;
use super::{AnalysisKind, Expansion, Present, Stage, Tasks};
use crate::analysis::cluster;
use crate::plan::PlanError;
use crate::table::{Column, Output, Table};
use crate::task::estimate::{pairwise_bytes, pairwise_work, Shapes};
use crate::task::population::read_distance;
use crate::task::{Check, Context, Kind, NetworkRow, TaskError};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

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

impl Check for ClusteringParams {
    fn check(&self) -> Option<(&'static str, String)> {
        (self.permutations == 0).then(|| ("permutations", "must be at least 1".into()))
    }
}

#[derive(Default)]
pub struct Clustering;

impl AnalysisKind for Clustering {
    type Manifest = ClusteringParams;
    const STAGE: Stage = Stage::Summary;
    const TASKS: Tasks = Tasks {
        per_distance: 1,
        findings: true,
        ..Tasks::NONE
    };

    fn requires(present: &Present) -> Option<String> {
        present.needs_distance(Self::NAME)
    }

    fn expand(p: &ClusteringParams, x: &mut Expansion) -> Result<(), PlanError> {
        let nodes = x.per_distance::<Clustering>(p)?;
        x.summaries.extend(nodes);
        Ok(())
    }
}

/// The factors scored (SPEC §6). `arch_within_activation` is the paper's design: architecture
/// labels among trained networks, permuted only within each activation. The pooled factors
/// permute labels freely; `trained` compares trained networks with their untrained controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Factor {
    ArchWithinActivation,
    ActivationWithinArch,
    ArchPooled,
    ActivationPooled,
    Trained,
}

impl Factor {
    const ALL: [Factor; 5] = [
        Factor::ArchWithinActivation,
        Factor::ActivationWithinArch,
        Factor::ArchPooled,
        Factor::ActivationPooled,
        Factor::Trained,
    ];

    fn name(self) -> &'static str {
        match self {
            Factor::ArchWithinActivation => "arch_within_activation",
            Factor::ActivationWithinArch => "activation_within_arch",
            Factor::ArchPooled => "arch_pooled",
            Factor::ActivationPooled => "activation_pooled",
            Factor::Trained => "trained",
        }
    }

    /// `(label, stratum)` of a network, or `None` when the factor leaves it out.
    fn of(self, r: &NetworkRow) -> Option<(String, String)> {
        let (arch, act) = (r.arch.to_string(), r.activation.to_string());
        match self {
            Factor::Trained => Some((r.trained.to_string(), String::new())),
            _ if !r.trained => None,
            Factor::ArchWithinActivation => Some((arch, act)),
            Factor::ActivationWithinArch => Some((act, arch)),
            Factor::ArchPooled => Some((arch, String::new())),
            Factor::ActivationPooled => Some((act, String::new())),
        }
    }
}

/// One row of the `clustering` table; `note` says why a factor could not be scored.
struct Scored {
    score: f64,
    p_value: f64,
    n_networks: usize,
    n_groups: usize,
    note: String,
}

impl Kind for Clustering {
    const NAME: &'static str = "clustering";
    /// 2: the paper's stratified design (`arch_within_activation`), pooled factors renamed,
    /// and a factor that cannot be scored is a row with NaN and a `note`, not a failure.
    const VERSION: u32 = 2;
    type Params = ClusteringParams;

    fn memory(&self, _: &ClusteringParams, inputs: &dyn Shapes) -> u64 {
        pairwise_bytes(inputs)
    }
    fn work(&self, _: &ClusteringParams, inputs: &dyn Shapes) -> Option<f64> {
        Some(pairwise_work(inputs))
    }
    fn run(
        &self,
        _: &Context,
        p: &ClusteringParams,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let (metric, members, d) = read_distance(input(inputs)?)?;
        let mut rows = Vec::new();
        for factor in Factor::ALL {
            rows.push(score_factor(factor, &members, &d, p).map_err(|e| {
                TaskError::Failed(format!("clustering of {metric} by {}: {e}", factor.name()))
            })?);
        }
        let n = rows.len();
        let t = Table::new()
            .with("metric", Column::Str(vec![metric; n]))
            .with(
                "factor",
                Column::Str(Factor::ALL.iter().map(|f| f.name().into()).collect()),
            )
            .with("score", Column::F64(rows.iter().map(|r| r.score).collect()))
            .with(
                "p_value",
                Column::F64(rows.iter().map(|r| r.p_value).collect()),
            )
            .with(
                "n_networks",
                Column::I64(rows.iter().map(|r| r.n_networks as i64).collect()),
            )
            .with(
                "n_groups",
                Column::I64(rows.iter().map(|r| r.n_groups as i64).collect()),
            )
            .with(
                "note",
                Column::Str(rows.into_iter().map(|r| r.note).collect()),
            );
        Ok(Output::new().with("clustering", t))
    }
}

/// The silhouette of `factor` and its (stratified) permutation p-value; an untestable factor
/// (too few networks or groups, no stratum with two labels) is NaN with the reason.
fn score_factor(
    factor: Factor,
    members: &[NetworkRow],
    d: &Array2<f64>,
    p: &ClusteringParams,
) -> Result<Scored, cluster::ClusterError> {
    let (idx, values): (Vec<usize>, Vec<(String, String)>) = members
        .iter()
        .enumerate()
        .filter_map(|(i, m)| factor.of(m).map(|v| (i, v)))
        .unzip();
    let labels = dense_labels(values.iter().map(|v| &v.0));
    let strata = dense_labels(values.iter().map(|v| &v.1));
    let n_groups = labels.iter().max().map_or(0, |m| m + 1);
    let sub = Array2::from_shape_fn((idx.len(), idx.len()), |(a, b)| d[[idx[a], idx[b]]]);
    let (score, p_value, note) = match cluster::stratified_permutation_test(
        sub.view(),
        &labels,
        &strata,
        p.permutations,
        p.seed,
    ) {
        Ok((s, pv)) => (s, pv, String::new()),
        Err(e) if e.is_untestable() => (f64::NAN, f64::NAN, e.to_string()),
        Err(e) => return Err(e),
    };
    Ok(Scored {
        score,
        p_value,
        n_networks: idx.len(),
        n_groups,
        note,
    })
}

/// Dense integer labels: each value's rank among the sorted distinct values.
fn dense_labels<'a>(values: impl Iterator<Item = &'a String> + Clone) -> Vec<usize> {
    let mut distinct: Vec<&String> = values.clone().collect();
    distinct.sort();
    distinct.dedup();
    values
        .map(|v| distinct.binary_search(&v).expect("value is listed"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::{Activation, Arch, TaskSpec};

    fn row(arch: Arch, activation: Activation, trained: bool) -> NetworkRow {
        NetworkRow {
            network_id: format!("{arch:?}{activation:?}{trained}"),
            task: TaskSpec::flipflop(),
            arch,
            activation,
            units: 4,
            l2: 0.0,
            seed: 0,
            trained,
            iterations: 0,
            status: "ok".into(),
            reason: String::new(),
            train_loss: 0.0,
            val_loss: 0.0,
            score: 1.0,
            solved: true,
            hyper: None,
        }
    }

    #[test]
    fn three_networks_of_three_architectures_are_an_explained_nan_not_a_failure() {
        let members = [
            row(Arch::Vanilla, Activation::Tanh, true),
            row(Arch::Gru, Activation::Tanh, true),
            row(Arch::Lstm, Activation::Tanh, true),
        ];
        let d = Array2::from_shape_fn((3, 3), |(i, j)| (i as f64 - j as f64).abs());
        let p = ClusteringParams {
            permutations: 9,
            seed: 0,
        };
        for factor in Factor::ALL {
            let s = score_factor(factor, &members, &d, &p).unwrap();
            assert!(s.score.is_nan() && s.p_value.is_nan(), "{factor:?}");
            assert!(!s.note.is_empty(), "{factor:?}");
        }
        let s = score_factor(Factor::ArchPooled, &members, &d, &p).unwrap();
        assert!(
            s.note.contains("3 distinct labels among 3 points"),
            "{}",
            s.note
        );
        assert_eq!((s.n_networks, s.n_groups), (3, 3));
    }

    #[test]
    fn untrained_controls_enter_only_the_trained_factor() {
        let members = [
            row(Arch::Vanilla, Activation::Tanh, true),
            row(Arch::Vanilla, Activation::Tanh, true),
            row(Arch::Gru, Activation::Tanh, true),
            row(Arch::Gru, Activation::Tanh, true),
            row(Arch::Gru, Activation::Tanh, false),
        ];
        let d = Array2::from_shape_fn((5, 5), |(i, j)| {
            if i == j {
                0.0
            } else {
                1.0 + (i / 2 != j / 2) as u8 as f64
            }
        });
        let p = ClusteringParams {
            permutations: 19,
            seed: 3,
        };
        let arch = score_factor(Factor::ArchWithinActivation, &members, &d, &p).unwrap();
        assert_eq!((arch.n_networks, arch.n_groups), (4, 2));
        assert_eq!(arch.score, 0.5, "a = 1 and b = 2 for every trained network");
        let trained = score_factor(Factor::Trained, &members, &d, &p).unwrap();
        assert_eq!((trained.n_networks, trained.n_groups), (5, 2));
    }
}
