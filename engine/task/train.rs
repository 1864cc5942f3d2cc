//! Kinds that make the population: `search_trial` (one random hyper-parameter draw, trained and
//! scored), `select` (the best trial of a configuration), `train` (one network of one seed, or
//! its untrained control at iteration 0) and `probe` (its hidden states on the study's probe
//! batch, what every geometry metric compares).

use super::estimate::{self, mul, states, training_bytes, training_work, Shapes};
use super::network::{network_of, weights_table, NetworkRow};
use super::{derive_seed, Check, Context, Kind, NoParams, Registry, TaskError};
use crate::rnn::{
    self, Activation, Arch, Hyper, Network, SearchSpace, Shape, Status, TaskSpec, TrainOpts,
};
use crate::table::{Column, Output, Table};
use serde::{Deserialize, Serialize};

pub fn register(r: &mut Registry) {
    r.add(SearchTrial);
    r.add(Select);
    r.add(Train);
    r.add(Probe);
}

/// What a network is, apart from its seed and how it is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetSpec {
    pub task: TaskSpec,
    pub arch: Arch,
    pub activation: Activation,
    pub units: usize,
    pub l2: f64,
}

impl NetSpec {
    pub fn shape(&self) -> Shape {
        Shape {
            arch: self.arch,
            activation: self.activation,
            units: self.units,
            inputs: self.task.inputs(),
            outputs: self.task.outputs(),
        }
    }
}

/// Training settings shared by search trials and seed runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub iterations: usize,
    pub batch: usize,
    pub decay_steps: usize,
    pub log_every: usize,
    pub val_trials: usize,
    pub val_seed: u64,
}

impl Schedule {
    fn opts(&self, l2: f64, data_seed: u64) -> TrainOpts {
        TrainOpts {
            iterations: self.iterations,
            batch: self.batch,
            decay_steps: self.decay_steps,
            l2,
            log_every: self.log_every,
            val_trials: self.val_trials,
            val_seed: self.val_seed,
            data_seed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchTrialParams {
    pub net: NetSpec,
    pub schedule: Schedule,
    pub space: SearchSpace,
    pub search_seed: u64,
    pub trial: usize,
}

impl Check for SearchTrialParams {}

/// Tasks whose time per unit of work is alike: a training loop is one whether it trains a
/// network or a search trial; an untrained control is mostly the overhead of a task.
fn training_class(s: &Schedule) -> &'static str {
    match s.iterations {
        0 => "untrained",
        _ => "training",
    }
}

pub struct SearchTrial;

impl Kind for SearchTrial {
    const NAME: &'static str = "search_trial";
    const VERSION: u32 = 2;
    type Params = SearchTrialParams;

    fn memory(&self, p: &SearchTrialParams, _: &dyn Shapes) -> u64 {
        training_bytes(&p.net, &p.schedule)
    }
    fn work(&self, p: &SearchTrialParams, _: &dyn Shapes) -> Option<f64> {
        Some(training_work(&p.net, &p.schedule))
    }
    fn class(&self, p: &SearchTrialParams) -> &'static str {
        training_class(&p.schedule)
    }
    fn run(&self, ctx: &Context, p: &SearchTrialParams, _: &[Output]) -> Result<Output, TaskError> {
        let seed = derive_seed(&("search", p.search_seed, &p.net, p.trial));
        let hyper = rnn::sample_hyper(&p.space, seed);
        let init = Network::init(p.net.shape(), derive_seed(&("search-init", seed)));
        let r = rnn::train(
            init,
            &p.net.task,
            &hyper,
            &p.schedule
                .opts(p.net.l2, derive_seed(&("search-data", seed))),
            ctx.cancel,
        )
        .map_err(rnn_error)?;
        let (status, reason) = status_text(&r.status);
        Ok(Output::new().with(
            "trial",
            hyper_row(&hyper)
                .with("trial", Column::I64(vec![p.trial as i64]))
                .with("val_loss", Column::F64(vec![r.val_loss]))
                .with("status", Column::Str(vec![status]))
                .with("reason", Column::Str(vec![reason])),
        ))
    }
}

fn hyper_row(h: &Hyper) -> Table {
    Table::new()
        .with("lr0", Column::F64(vec![h.lr0]))
        .with("decay", Column::F64(vec![h.decay]))
        .with("momentum", Column::F64(vec![h.momentum]))
        .with("clip", Column::F64(vec![h.clip]))
}

fn read_hyper(t: &Table) -> Result<Hyper, TaskError> {
    Ok(Hyper {
        lr0: t.f64s("lr0")?[0],
        decay: t.f64s("decay")?[0],
        momentum: t.f64s("momentum")?[0],
        clip: t.f64s("clip")?[0],
    })
}

fn status_text(s: &Status) -> (String, String) {
    match s {
        Status::Ok => ("ok".into(), String::new()),
        Status::Diverged { iteration, reason } => (
            "diverged".into(),
            format!("at iteration {iteration}: {reason}"),
        ),
    }
}

fn rnn_error(e: rnn::RnnError) -> TaskError {
    match e {
        rnn::RnnError::Cancelled => TaskError::Cancelled,
        e => TaskError::Failed(e.to_string()),
    }
}

/// Picks the trial with the lowest finite validation loss (ties: the lowest trial index).
pub struct Select;

impl Kind for Select {
    const NAME: &'static str = "select";
    const VERSION: u32 = 1;
    type Params = NoParams;

    fn memory(&self, _: &NoParams, inputs: &dyn Shapes) -> u64 {
        estimate::pairwise_bytes(inputs)
    }
    fn work(&self, _: &NoParams, inputs: &dyn Shapes) -> Option<f64> {
        Some(estimate::pairwise_work(inputs))
    }
    fn run(&self, _: &Context, _: &NoParams, inputs: &[Output]) -> Result<Output, TaskError> {
        let mut best: Option<(f64, usize, &Table)> = None;
        for out in inputs {
            let t = out.table("trial")?;
            let loss = t.f64s("val_loss")?[0];
            let trial = t.i64s("trial")?[0] as usize;
            if t.strs("status")?[0] == "ok"
                && loss.is_finite()
                && best.is_none_or(|(b, bt, _)| loss < b || (loss == b && trial < bt))
            {
                best = Some((loss, trial, t));
            }
        }
        let (_, _, t) = best.ok_or_else(|| {
            TaskError::Failed(format!(
                "all {} search trials diverged: widen or lower the `search.lr0` range",
                inputs.len()
            ))
        })?;
        Ok(Output::new().with("selection", t.clone()))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    pub net: NetSpec,
    pub seed: u64,
    pub schedule: Schedule,
    /// Fixed hyper-parameters; `None` takes them from the `select` input (or, at iteration 0,
    /// needs none).
    pub hyper: Option<Hyper>,
}

impl Check for TrainParams {}

pub struct Train;

impl Kind for Train {
    const NAME: &'static str = "train";
    /// 3: the `network` row carries the task score and the `solved` verdict; a diverged
    /// network's losses are nulls.
    const VERSION: u32 = 3;
    type Params = TrainParams;

    /// The `network_id` is the task's key.
    fn names_itself(&self) -> bool {
        true
    }
    fn memory(&self, p: &TrainParams, _: &dyn Shapes) -> u64 {
        training_bytes(&p.net, &p.schedule)
    }
    fn work(&self, p: &TrainParams, _: &dyn Shapes) -> Option<f64> {
        Some(training_work(&p.net, &p.schedule))
    }
    fn class(&self, p: &TrainParams) -> &'static str {
        training_class(&p.schedule)
    }
    fn run(&self, ctx: &Context, p: &TrainParams, inputs: &[Output]) -> Result<Output, TaskError> {
        let hyper = match (p.hyper, inputs.first()) {
            (Some(h), _) => h,
            (None, Some(sel)) => read_hyper(sel.table("selection")?)?,
            (None, None) => Hyper {
                lr0: 0.0,
                decay: 1.0,
                momentum: 0.0,
                clip: 1.0,
            },
        };
        let init = Network::init(p.net.shape(), derive_seed(&("init", p.seed)));
        let r = rnn::train(
            init,
            &p.net.task,
            &hyper,
            &p.schedule.opts(p.net.l2, derive_seed(&("data", p.seed))),
            ctx.cancel,
        )
        .map_err(rnn_error)?;
        let (status, reason) = status_text(&r.status);
        let trained = p.schedule.iterations > 0;
        let score = match r.status {
            Status::Ok => {
                rnn::score(
                    &p.net.task,
                    &r.network,
                    derive_seed(&("score", p.schedule.val_seed)),
                    p.schedule.val_trials,
                )
                .criterion
            }
            Status::Diverged { .. } => f64::NAN,
        };
        let row = NetworkRow {
            network_id: ctx.key.short(),
            task: p.net.task.clone(),
            arch: p.net.arch,
            activation: p.net.activation,
            units: p.net.units,
            l2: p.net.l2,
            seed: p.seed,
            trained,
            iterations: p.schedule.iterations,
            status,
            reason,
            train_loss: r.train_loss,
            val_loss: r.val_loss,
            score,
            solved: score >= p.net.task.solved_threshold(),
            hyper: trained.then_some(hyper),
        };
        let curve = Table::new()
            .with(
                "iteration",
                Column::I64(r.curve.iter().map(|c| c.0 as i64).collect()),
            )
            .with("loss", Column::F64(r.curve.iter().map(|c| c.1).collect()));
        Ok(Output::new()
            .with("network", row.to_table())
            .with("weights", weights_table(&r.network))
            .with("loss_curve", curve)
            .with_summary(row.summary()))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeParams {
    pub task: TaskSpec,
    pub trials: usize,
    pub seed: u64,
}

impl Check for ProbeParams {}

/// Hidden states `h` (LSTM: `h` only) on the study's probe batch; a diverged network gives an
/// empty table and keeps its `network` row, so analyses can skip it and say so.
pub struct Probe;

impl Kind for Probe {
    const NAME: &'static str = "probe";
    const VERSION: u32 = 2;
    type Params = ProbeParams;

    /// Its states three times (trajectory, table, encoded file).
    fn memory(&self, p: &ProbeParams, inputs: &dyn Shapes) -> u64 {
        inputs.net().map_or(0, |net| mul(&[3, states(&net, p.trials)]))
    }
    fn work(&self, p: &ProbeParams, inputs: &dyn Shapes) -> Option<f64> {
        let net = inputs.net()?;
        Some((p.trials * net.task.steps()) as f64 * estimate::step(&net))
    }
    fn run(&self, _: &Context, p: &ProbeParams, inputs: &[Output]) -> Result<Output, TaskError> {
        let train = inputs
            .first()
            .ok_or_else(|| TaskError::Failed("probe needs its network".into()))?;
        let (row, net) = network_of(train)?;
        let (mut trial, mut t, mut h) = (Vec::new(), Vec::new(), Vec::new());
        if row.ok() {
            let batch = p.task.batch(p.seed, p.trials);
            let (states, _) = net.run(batch.inputs.view());
            for (ti, step) in states.outer_iter().enumerate() {
                for (bi, state) in step.outer_iter().enumerate() {
                    trial.push(bi as i64);
                    t.push(ti as i64);
                    h.push(state.to_vec());
                }
            }
            if h.iter().flatten().any(|v| !v.is_finite()) {
                return Err(TaskError::Failed(format!(
                    "network {} produced non-finite states on the probe batch",
                    row.network_id
                )));
            }
        }
        let states = Table::new()
            .with("trial", Column::I64(trial))
            .with("t", Column::I64(t))
            .with("h", Column::ListF32(h));
        Ok(Output::new()
            .with("network", row.to_table())
            .with("states", states))
    }
}
