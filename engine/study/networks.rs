//! A study's population: per configuration, `search_trial` × trials → `select` (when the study
//! searches), then per seed its `train` task (after `select`) and untrained control (`train`
//! with 0 iterations).
//!
//! The keys of each configuration's tasks are computed on rayon's pool; tasks are inserted in
//! configuration then seed order, so the plan does not depend on it.

use crate::key::Key;
use crate::manifest::{Config, Study};
use crate::plan::{Keyed, PlanBuilder, PlanError};
use crate::task::train::{
    NetSpec, Schedule, SearchTrial, SearchTrialParams, Select, Train, TrainParams,
};
use crate::task::{Kind, NoParams};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;

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
                let label = format!("{tag} trial {trial}");
                Keyed::of::<SearchTrial>(v.search_trial, label, &p, &[])
            })
            .collect();
        let trial_keys: Vec<Key> = trials.iter().map(|t| t.key).collect();
        select = Some(Keyed::of::<Select>(
            v.select,
            tag.clone(),
            &NoParams {},
            &trial_keys,
        ));
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
        networks.push((Keyed::of::<Train>(v.train, label, &p, &select_key), true));
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
            networks.push((Keyed::of::<Train>(v.train, label, &p, &[]), false));
        }
    }
    ConfigTasks {
        trials,
        select,
        networks,
    }
}

/// Every network of the study (trained and untrained), in configuration then seed order.
pub fn networks(b: &mut PlanBuilder, s: &Study) -> Result<Vec<NodeIndex>, PlanError> {
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
        search_trial: b.version(SearchTrial::NAME)?,
        select: b.version(Select::NAME)?,
        train: b.version(Train::NAME)?,
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
