//! A study's pipeline: a checked study becomes task nodes, and each analysis a manifest can ask
//! for lives in one module of its own (its manifest parameters with their defaults and checks,
//! its expansion step and its kinds).
//!
//! Per study, in a canonical order (configurations sorted, then seeds), so the file's order
//! never changes a key:
//! 1. the population (`networks`): per configuration, `search_trial` × trials → `select`, then
//!    per seed `train` and its untrained control;
//! 2. per network, `probe`;
//! 3. each analysis by [`Stage`], in the manifest's order within a stage: the distances over
//!    every probe (`svcca`, `cka`, `shape`, `dsa`), `fixed_points` per network, `topology` per
//!    network with its two `topology_distance`s, then `mds` and `clustering` of each distance;
//! 4. `findings` over the study's clusterings and fixed points.
//!
//! [`analyses!`] is the one list of analysis kinds: it generates the manifest's [`Analysis`]
//! enum and every dispatch over it, and registers the kinds in [`Registry::standard`]. A new
//! analysis is a module implementing [`AnalysisKind`] and [`Kind`], and a line there.

mod cka;
mod clustering;
mod dsa;
mod fixed_points;
mod mds;
mod networks;
mod shape;
mod svcca;
mod topology;

pub use cka::CkaParams;
pub use clustering::ClusteringParams;
pub use fixed_points::FixedPointParams;
pub use mds::{MdsMethod, MdsParams};
pub use svcca::{SvccaKeep, SvccaParams};
pub use topology::TopologyParams;

use crate::manifest::{Manifest, Study};
use crate::plan::{Plan, PlanBuilder, PlanError};
use crate::task::findings::{Findings, FindingsParams};
use crate::task::train::{self, Probe, ProbeParams};
use crate::task::{Check, Kind, Population, Registry};
use petgraph::graph::NodeIndex;
use serde::{Deserialize, Serialize};

/// An analysis a manifest can ask for (`kind = NAME` in `[[study.analysis]]`), implemented by
/// the kind that runs it.
pub trait AnalysisKind: Kind + Default {
    /// Its `[[study.analysis]]` table less `kind`: serde defaults, `deny_unknown_fields`, and
    /// the checks the manifest reports at the field's line.
    type Manifest: Check
        + Clone
        + std::fmt::Debug
        + PartialEq
        + Serialize
        + for<'de> Deserialize<'de>;
    /// When it expands, after the analyses of earlier stages.
    const STAGE: Stage;
    /// The tasks it adds to a study (`ops::bounds` counts them before planning).
    const TASKS: Tasks;

    /// Adds its tasks to the study.
    fn expand(p: &Self::Manifest, x: &mut Expansion) -> Result<(), PlanError>;

    /// What it needs from the study's other analyses, as the manifest's error.
    fn requires(_present: &Present) -> Option<String> {
        None
    }

    /// Registers the kinds its tasks run.
    fn register(r: &mut Registry) {
        r.add(Self::default());
    }
}

/// The order in which analyses expand: each stage reads what the earlier ones planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Over every probe of the study.
    Distance,
    /// Per network.
    FixedPoints,
    /// Per network, after its fixed points.
    Topology,
    /// Per distance.
    Summary,
}

/// How many tasks an analysis adds: per network, distances (each a matrix over the study),
/// per distance; and whether its tasks are inputs of `findings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tasks {
    pub per_network: u128,
    pub distances: u128,
    pub per_distance: u128,
    pub findings: bool,
}

impl Tasks {
    pub const NONE: Tasks = Tasks {
        per_network: 0,
        distances: 0,
        per_distance: 0,
        findings: false,
    };
    /// One distance over the study's probes.
    pub const DISTANCE: Tasks = Tasks {
        distances: 1,
        ..Tasks::NONE
    };
}

/// Generates, from one list of `Variant: module::Kind`, the manifest's [`Analysis`] enum and its
/// dispatch (kind name, checks, requirements, task counts, expansion, registration).
macro_rules! analyses {
    ($($(#[$doc:meta])* $variant:ident: $module:ident::$kind:ident,)*) => {
        /// The analyses a study can ask for, with their parameters and documented defaults.
        /// Each variant's parameters enter the key of the task(s) it creates, so a parameter
        /// added to one changes keys: give it a default that reproduces the old behaviour (or
        /// skip it when absent).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
        pub enum Analysis {
            $($(#[$doc])* $variant(<$module::$kind as AnalysisKind>::Manifest),)*
        }

        impl Analysis {
            /// Every analysis kind, in the list's order.
            pub const KINDS: &'static [&'static str] = &[$(<$module::$kind as Kind>::NAME),*];
            const TASKS: &'static [Tasks] = &[$(<$module::$kind as AnalysisKind>::TASKS),*];
            const STAGES: &'static [Stage] = &[$(<$module::$kind as AnalysisKind>::STAGE),*];

            pub fn kind(&self) -> &'static str {
                match self {
                    $(Analysis::$variant(_) => <$module::$kind as Kind>::NAME,)*
                }
            }

            /// The first parameter out of range, as `(field, what is wrong)`.
            pub fn check(&self) -> Option<(&'static str, String)> {
                match self {
                    $(Analysis::$variant(p) => p.check(),)*
                }
            }

            /// What it lacks from the study's other analyses.
            pub fn requires(&self, present: &Present) -> Option<String> {
                match self {
                    $(Analysis::$variant(_) => <$module::$kind as AnalysisKind>::requires(present),)*
                }
            }

            pub fn tasks(&self) -> Tasks {
                match self {
                    $(Analysis::$variant(_) => <$module::$kind as AnalysisKind>::TASKS,)*
                }
            }

            fn stage(&self) -> Stage {
                match self {
                    $(Analysis::$variant(_) => <$module::$kind as AnalysisKind>::STAGE,)*
                }
            }

            fn expand(&self, x: &mut Expansion) -> Result<(), PlanError> {
                match self {
                    $(Analysis::$variant(p) => <$module::$kind as AnalysisKind>::expand(p, x),)*
                }
            }

            fn register(r: &mut Registry) {
                $(<$module::$kind as AnalysisKind>::register(r);)*
            }
        }
    };
}

analyses! {
    /// SVCCA distance (SPEC §4; how many directions are kept: [`SvccaParams`]).
    Svcca: svcca::Svcca,
    /// Linear CKA distance ([`CkaParams`]: a proven `tol`, or a `sketch`).
    Cka: cka::Cka,
    /// Angular Procrustes shape metric; `tol` and `sketch` as for CKA.
    Shape: shape::Shape,
    /// Dynamical Similarity Analysis (Ostrow et al. 2023): per network a delay-embedded linear
    /// operator of its probe trajectories, per pair the angle between operators up to an
    /// orthogonal change of basis (`analysis::dsa::DsaParams`).
    Dsa: dsa::Dsa,
    /// Fixed points, their linearisation, and the task's linear analyses (SPEC §5).
    FixedPoints: fixed_points::FixedPoints,
    /// Topology graphs and the topology distance between networks.
    Topology: topology::Topology,
    /// 2-D embedding of every distance matrix of the study.
    Mds: mds::Mds,
    /// Silhouette scores by architecture and by activation, with permutation p-values.
    Clustering: clustering::Clustering,
}

impl Registry {
    /// The kinds census ships: the population's, every analysis's, and `findings`.
    pub fn standard() -> Registry {
        let mut r = Registry::empty();
        train::register(&mut r);
        Analysis::register(&mut r);
        r.add(Findings {
            geometry: Analysis::probe_distances(),
        });
        r
    }
}

impl Analysis {
    /// The kinds of distances over probe states (the geometry of `findings`), in list order.
    pub fn probe_distances() -> Vec<&'static str> {
        Analysis::KINDS
            .iter()
            .zip(Analysis::STAGES)
            .filter(|(_, s)| **s == Stage::Distance)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// The analyses a study declares, for the checks of one against the others.
pub struct Present {
    kinds: Vec<&'static str>,
}

impl Present {
    pub fn of(analyses: &[Analysis]) -> Present {
        Present {
            kinds: analyses.iter().map(Analysis::kind).collect(),
        }
    }

    pub fn has(&self, kind: &str) -> bool {
        self.kinds.contains(&kind)
    }

    /// `None` when the study has a distance; otherwise the error of `kind`, naming them.
    pub fn needs_distance(&self, kind: &str) -> Option<String> {
        let distances: Vec<&str> = Analysis::KINDS
            .iter()
            .zip(Analysis::TASKS)
            .filter(|(_, t)| t.distances > 0)
            .map(|(k, _)| *k)
            .collect();
        if distances.iter().any(|k| self.has(k)) {
            return None;
        }
        let quoted: Vec<String> = distances.iter().map(|k| format!("`{k}`")).collect();
        let list = match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        Some(format!("`{kind}` needs a distance: add {list}"))
    }
}

/// `x ≤ 0` or NaN: a tolerance that is not a positive number.
pub fn not_positive(x: f64) -> bool {
    x.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
}

/// A study being expanded: what its analyses read (the study, its networks and probes) and what
/// they plan for the later stages and `findings`.
pub struct Expansion<'s, 'b, 'v> {
    pub b: &'b mut PlanBuilder<'v>,
    pub study: &'s Study,
    pub probe: ProbeParams,
    /// One per network, in network order.
    pub labels: Vec<String>,
    pub networks: Vec<NodeIndex>,
    pub probes: Vec<NodeIndex>,
    /// Every distance task, with the name its summaries are labelled by.
    pub distances: Vec<(NodeIndex, String)>,
    /// The fixed-point analysis and its task per network, once planned.
    pub fixed_points: Option<(FixedPointParams, Vec<NodeIndex>)>,
    /// The summaries `findings` reads.
    pub summaries: Vec<NodeIndex>,
}

impl Expansion<'_, '_, '_> {
    /// An analysis over the study's trained networks, with the study's rule for unsolved ones.
    pub fn population<P>(&self, of: P) -> Population<P> {
        Population {
            of,
            keep_unsolved: self.study.keep_unsolved,
        }
    }

    /// A distance task of kind `K` over every probe of the study.
    pub fn probe_distance<K: Kind>(&mut self, p: &K::Params) -> Result<(), PlanError> {
        let n = self
            .b
            .task::<K>(&self.study.name, "all".into(), p, &self.probes)?;
        self.distances.push((n, K::NAME.to_string()));
        Ok(())
    }

    /// One task of kind `K` per network, with the same parameters, after `deps` of that network.
    pub fn per_network<K: Kind>(
        &mut self,
        p: &K::Params,
        deps: impl Fn(usize) -> Vec<NodeIndex>,
    ) -> Result<Vec<NodeIndex>, PlanError> {
        let items = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), deps(i)))
            .collect();
        self.b.each::<K>(&self.study.name, p, items)
    }

    /// One task of kind `K` per distance planned so far, labelled by the distance.
    pub fn per_distance<K: Kind>(&mut self, p: &K::Params) -> Result<Vec<NodeIndex>, PlanError> {
        let distances = self.distances.clone();
        distances
            .into_iter()
            .map(|(d, tag)| self.b.task::<K>(&self.study.name, tag, p, &[d]))
            .collect()
    }
}

pub fn expand(
    manifest: &Manifest,
    version: &dyn Fn(&str) -> Option<u32>,
) -> Result<Plan, PlanError> {
    let mut b = PlanBuilder::new(version);
    for study in &manifest.studies {
        expand_study(&mut b, study)?;
    }
    b.build()
}

fn expand_study(b: &mut PlanBuilder, s: &Study) -> Result<(), PlanError> {
    let networks = networks::networks(b, s)?;
    let labels: Vec<String> = networks.iter().map(|&n| b.label(n).to_string()).collect();
    let probe = ProbeParams {
        task: s.task.clone(),
        trials: s.probe.trials,
        seed: s.probe.seed,
    };
    let mut x = Expansion {
        b,
        study: s,
        probe,
        labels,
        networks,
        probes: Vec::new(),
        distances: Vec::new(),
        fixed_points: None,
        summaries: Vec::new(),
    };
    let networks = x.networks.clone();
    let probe = x.probe.clone();
    x.probes = x.per_network::<Probe>(&probe, |i| vec![networks[i]])?;
    let mut analyses: Vec<&crate::manifest::Analysis> = s.analyses.iter().collect();
    analyses.sort_by_key(|a| a.stage());
    for a in analyses {
        a.expand(&mut x)?;
    }
    findings(&mut x)
}

/// `findings` over the study's summaries and fixed points, when it has any.
fn findings(x: &mut Expansion) -> Result<(), PlanError> {
    let fixed = x.fixed_points.take();
    let mut inputs = std::mem::take(&mut x.summaries);
    if let Some((_, nodes)) = &fixed {
        inputs.extend(nodes);
    }
    if inputs.is_empty() {
        return Ok(());
    }
    let p = x.population(FindingsParams {
        task: x.study.task.clone(),
        conditions: fixed.map_or(0, |(f, _)| f.conditions),
    });
    x.b.task::<Findings>(&x.study.name, "all".into(), &p, &inputs)?;
    Ok(())
}

#[cfg(test)]
mod tests;
