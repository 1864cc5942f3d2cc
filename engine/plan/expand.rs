//! Grid expansion: a checked manifest becomes task nodes.
//!
//! Per study, in a canonical order (configurations sorted, then seeds), so the file's order
//! never changes a key:
//! 1. per configuration, `search_trial` × trials → `select` (when the study searches);
//! 2. per configuration × seed, `train` (after `select`), and its untrained control (`train`
//!    with 0 iterations);
//! 3. per network, `probe`; and `fixed_points` → `topology` when asked for;
//! 4. per study, one distance task per metric (`svcca`, `cka`, `shape`, `dsa` over every probe;
//!    `topology_distance` twice, the paper's rule and the count-robust one), then `mds` and
//!    `clustering` of each distance;
//! 5. per study, `findings` over its clusterings and fixed points.

use super::graph::{Plan, PlanBuilder, PlanError};
use crate::manifest::{Analysis, Manifest, Study};
use crate::task::train::{NetSpec, ProbeParams, Schedule, SearchTrialParams, TrainParams};
use petgraph::graph::NodeIndex;
use serde_json::{json, to_value};

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

fn val(v: impl serde::Serialize) -> serde_json::Value {
    to_value(v).expect("plan parameters serialise")
}

/// The parameters of an analysis over the study's trained networks, with the study's rule for
/// unsolved ones.
fn population(mut params: serde_json::Value, s: &Study) -> serde_json::Value {
    params["keep_unsolved"] = s.keep_unsolved.into();
    params
}

fn expand_study(b: &mut PlanBuilder, s: &Study) -> Result<(), PlanError> {
    let name = s.name.as_str();
    let mut networks: Vec<NodeIndex> = Vec::new();
    let schedule = Schedule {
        iterations: s.train.iterations,
        batch: s.train.batch,
        decay_steps: s.train.decay_steps,
        log_every: s.train.log_every,
        val_trials: s.train.val_trials,
        val_seed: s.train.val_seed,
    };
    for c in &s.configs {
        let net = NetSpec {
            task: s.task.clone(),
            arch: c.arch,
            activation: c.activation,
            units: c.units,
            l2: c.l2,
        };
        let tag = format!("{}-{}-{} l2={}", c.arch, c.activation, c.units, c.l2);
        let select = match &s.search {
            None => None,
            Some(search) => {
                let trial_schedule = Schedule {
                    iterations: search.iterations,
                    ..schedule.clone()
                };
                let trials: Vec<NodeIndex> = (0..search.trials)
                    .map(|trial| {
                        let p = SearchTrialParams {
                            net: net.clone(),
                            schedule: trial_schedule.clone(),
                            space: search.space.clone(),
                            search_seed: search.seed,
                            trial,
                        };
                        b.add(
                            name,
                            "search_trial",
                            format!("{tag} trial {trial}"),
                            val(p),
                            &[],
                        )
                    })
                    .collect::<Result<_, _>>()?;
                Some(b.add(name, "select", tag.clone(), json!({}), &trials)?)
            }
        };
        for &seed in &s.seeds {
            let hyper = if select.is_some() {
                None
            } else {
                Some(s.train.hyper)
            };
            let p = TrainParams {
                net: net.clone(),
                seed,
                schedule: schedule.clone(),
                hyper,
            };
            networks.push(b.add(
                name,
                "train",
                format!("{tag} seed {seed}"),
                val(p),
                select.as_slice(),
            )?);
            if s.train.untrained {
                let p = TrainParams {
                    net: net.clone(),
                    seed,
                    schedule: Schedule {
                        iterations: 0,
                        ..schedule.clone()
                    },
                    hyper: None,
                };
                networks.push(b.add(
                    name,
                    "train",
                    format!("{tag} seed {seed} untrained"),
                    val(p),
                    &[],
                )?);
            }
        }
    }
    let probe = ProbeParams {
        task: s.task.clone(),
        trials: s.probe.trials,
        seed: s.probe.seed,
    };
    let labels: Vec<String> = networks.iter().map(|&n| b.label(n).to_string()).collect();
    let probes: Vec<NodeIndex> = networks
        .iter()
        .zip(&labels)
        .map(|(&n, l)| b.add(name, "probe", l.clone(), val(&probe), &[n]))
        .collect::<Result<_, _>>()?;

    let mut distances: Vec<NodeIndex> = Vec::new();
    for a in &s.analyses {
        match a {
            Analysis::Svcca(p) => {
                distances.push(b.add(name, "svcca", "all".into(), population(val(p), s), &probes)?)
            }
            Analysis::Cka { tol } => {
                distances.push(b.add(name, "cka", "all".into(), population(json!({ "tol": tol }), s), &probes)?)
            }
            Analysis::Shape { tol } => distances.push(b.add(
                name,
                "shape",
                "all".into(),
                population(json!({ "tol": tol }), s),
                &probes,
            )?),
            Analysis::Dsa(p) => {
                distances.push(b.add(name, "dsa", "all".into(), population(val(p), s), &probes)?)
            }
            _ => {}
        }
    }
    let mut fixed_point_nodes: Vec<NodeIndex> = Vec::new();
    let fixed = s.analyses.iter().find_map(|a| match a {
        Analysis::FixedPoints(p) => Some(p),
        _ => None,
    });
    if let Some(fp) = fixed {
        let fp_params =
            json!({ "task": val(&s.task), "probe": val(&probe), "fixed_points": val(fp) });
        let fps: Vec<NodeIndex> = networks
            .iter()
            .zip(&labels)
            .map(|(&n, l)| b.add(name, "fixed_points", l.clone(), fp_params.clone(), &[n]))
            .collect::<Result<_, _>>()?;
        fixed_point_nodes.clone_from(&fps);
        let topo = s.analyses.iter().find_map(|a| match a {
            Analysis::Topology(p) => Some(p),
            _ => None,
        });
        if let Some(tp) = topo {
            let t_params =
                json!({ "task": val(&s.task), "topology": val(tp), "tol_unique": fp.tol_unique });
            let topos: Vec<NodeIndex> = networks
                .iter()
                .zip(&fps)
                .zip(&labels)
                .map(|((&n, &f), l)| b.add(name, "topology", l.clone(), t_params.clone(), &[n, f]))
                .collect::<Result<_, _>>()?;
            for rule in ["modal", "matched"] {
                distances.push(b.add(
                    name,
                    "topology_distance",
                    rule.into(),
                    population(json!({ "rule": rule }), s),
                    &topos,
                )?);
            }
        }
    }
    let mut summaries: Vec<NodeIndex> = Vec::new();
    for a in &s.analyses {
        for &d in &distances {
            let metric = b.label(d).to_string();
            let dist_kind = b.kind(d);
            let tag = if dist_kind == "topology_distance" {
                format!("topology_{metric}")
            } else {
                dist_kind.to_string()
            };
            match a {
                Analysis::Mds(p) => {
                    b.add(name, "mds", tag, val(p), &[d])?;
                }
                Analysis::Clustering(p) => {
                    summaries.push(b.add(name, "clustering", tag, val(p), &[d])?);
                }
                _ => {}
            }
        }
    }
    if !summaries.is_empty() || !fixed_point_nodes.is_empty() {
        summaries.extend(fixed_point_nodes);
        b.add(
            name,
            "findings",
            "all".into(),
            population(
                json!({ "task": val(&s.task), "conditions": fixed.map_or(0, |f| f.conditions) }),
                s,
            ),
            &summaries,
        )?;
    }
    Ok(())
}
