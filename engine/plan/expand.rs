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
//!
//! The keys of each configuration's tasks, and of the per-network tasks, are computed on
//! rayon's pool; tasks are inserted in the order above, so the plan does not depend on it.

use super::graph::{Keyed, Plan, PlanBuilder, PlanError};
use crate::key::Key;
use crate::manifest::{Analysis, Config, Manifest, Study};
use crate::task::train::{NetSpec, ProbeParams, Schedule, SearchTrialParams, TrainParams};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use serde_json::{json, to_value};
use std::sync::Arc;

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

/// CKA's and the shape metric's parameters; `sketch` only when asked for, so the keys of
/// exact analyses are those they had before it existed.
fn geometry_params(tol: f64, sketch: Option<usize>) -> serde_json::Value {
    match sketch {
        Some(m) => json!({ "tol": tol, "sketch": m }),
        None => json!({ "tol": tol }),
    }
}

/// The algorithm versions of the kinds a configuration plans.
struct Versions {
    search_trial: u32,
    select: u32,
    train: u32,
}

/// The keyed tasks of one configuration: its search trials and `select` (when the study
/// searches), then per seed its network (after `select`) and untrained control.
struct ConfigTasks {
    trials: Vec<Keyed>,
    select: Option<Keyed>,
    /// Each with whether it depends on `select`.
    networks: Vec<(Keyed, bool)>,
}

fn keyed(kind: &'static str, version: u32, label: String, params: serde_json::Value, deps: &[Key]) -> Keyed {
    let key = Key::compute(kind, version, &params, deps);
    Keyed {
        kind,
        version,
        label,
        params: Arc::new(params),
        key,
    }
}

fn config_tasks(s: &Study, c: &Config, schedule: &Schedule, v: &Versions) -> ConfigTasks {
    let net = NetSpec {
        task: s.task.clone(),
        arch: c.arch,
        activation: c.activation,
        units: c.units,
        l2: c.l2,
    };
    let tag = format!("{}-{}-{} l2={}", c.arch, c.activation, c.units, c.l2);
    let mut trials = Vec::new();
    let mut select = None;
    if let Some(search) = &s.search {
        let trial_schedule = Schedule {
            iterations: search.iterations,
            ..schedule.clone()
        };
        trials = (0..search.trials)
            .map(|trial| {
                let p = SearchTrialParams {
                    net: net.clone(),
                    schedule: trial_schedule.clone(),
                    space: search.space.clone(),
                    search_seed: search.seed,
                    trial,
                };
                keyed("search_trial", v.search_trial, format!("{tag} trial {trial}"), val(p), &[])
            })
            .collect();
        let trial_keys: Vec<Key> = trials.iter().map(|t| t.key).collect();
        select = Some(keyed("select", v.select, tag.clone(), json!({}), &trial_keys));
    }
    let select_key: Vec<Key> = select.iter().map(|t| t.key).collect();
    let mut networks = Vec::new();
    for &seed in &s.seeds {
        let p = TrainParams {
            net: net.clone(),
            seed,
            schedule: schedule.clone(),
            hyper: select.is_none().then_some(s.train.hyper),
        };
        let label = format!("{tag} seed {seed}");
        networks.push((keyed("train", v.train, label, val(p), &select_key), true));
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
            let label = format!("{tag} seed {seed} untrained");
            networks.push((keyed("train", v.train, label, val(p), &[]), false));
        }
    }
    ConfigTasks {
        trials,
        select,
        networks,
    }
}

/// Every network of the study (trained and untrained), in configuration then seed order.
fn networks(b: &mut PlanBuilder, s: &Study) -> Result<Vec<NodeIndex>, PlanError> {
    let name = s.name.as_str();
    let schedule = Schedule {
        iterations: s.train.iterations,
        batch: s.train.batch,
        decay_steps: s.train.decay_steps,
        log_every: s.train.log_every,
        val_trials: s.train.val_trials,
        val_seed: s.train.val_seed,
    };
    let v = Versions {
        search_trial: b.version("search_trial")?,
        select: b.version("select")?,
        train: b.version("train")?,
    };
    let planned: Vec<ConfigTasks> = s
        .configs
        .par_iter()
        .map(|c| config_tasks(s, c, &schedule, &v))
        .collect();
    let mut networks = Vec::new();
    for config in planned {
        let trials: Vec<NodeIndex> = config
            .trials
            .into_iter()
            .map(|t| b.insert(name, t, &[]))
            .collect();
        let select: Option<NodeIndex> = config.select.map(|t| b.insert(name, t, &trials));
        for (task, after_select) in config.networks {
            let deps = if after_select { select.as_slice() } else { &[] };
            networks.push(b.insert(name, task, deps));
        }
    }
    Ok(networks)
}

/// One task of `kind` per network, with the same parameters, after `deps` of that network.
fn per_network(
    b: &mut PlanBuilder,
    name: &str,
    kind: &'static str,
    params: serde_json::Value,
    labels: &[String],
    deps: impl Fn(usize) -> Vec<NodeIndex>,
) -> Result<Vec<NodeIndex>, PlanError> {
    let items = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), deps(i)))
        .collect();
    b.add_each(name, kind, params, items)
}

fn expand_study(b: &mut PlanBuilder, s: &Study) -> Result<(), PlanError> {
    let name = s.name.as_str();
    let networks = networks(b, s)?;
    let probe = ProbeParams {
        task: s.task.clone(),
        trials: s.probe.trials,
        seed: s.probe.seed,
    };
    let labels: Vec<String> = networks.iter().map(|&n| b.label(n).to_string()).collect();
    let probes = per_network(b, name, "probe", val(&probe), &labels, |i| vec![networks[i]])?;

    let mut distances: Vec<NodeIndex> = Vec::new();
    for a in &s.analyses {
        match a {
            Analysis::Svcca(p) => {
                distances.push(b.add(name, "svcca", "all".into(), population(val(p), s), &probes)?)
            }
            Analysis::Cka { tol, sketch } => distances.push(b.add(
                name,
                "cka",
                "all".into(),
                population(geometry_params(*tol, *sketch), s),
                &probes,
            )?),
            Analysis::Shape { tol, sketch } => distances.push(b.add(
                name,
                "shape",
                "all".into(),
                population(geometry_params(*tol, *sketch), s),
                &probes,
            )?),
            Analysis::Dsa(p) => {
                distances.push(b.add(name, "dsa", "all".into(), population(val(p), s), &probes)?)
            }
            Analysis::FixedPoints(_)
            | Analysis::Topology(_)
            | Analysis::Mds(_)
            | Analysis::Clustering(_) => {}
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
        let fps = per_network(b, name, "fixed_points", fp_params, &labels, |i| {
            vec![networks[i]]
        })?;
        fixed_point_nodes.clone_from(&fps);
        let topo = s.analyses.iter().find_map(|a| match a {
            Analysis::Topology(p) => Some(p),
            _ => None,
        });
        if let Some(tp) = topo {
            let t_params =
                json!({ "task": val(&s.task), "topology": val(tp), "tol_unique": fp.tol_unique });
            let topos = per_network(b, name, "topology", t_params, &labels, |i| {
                vec![networks[i], fps[i]]
            })?;
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
                Analysis::Svcca(_)
                | Analysis::Cka { .. }
                | Analysis::Shape { .. }
                | Analysis::Dsa(_)
                | Analysis::FixedPoints(_)
                | Analysis::Topology(_) => {}
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
