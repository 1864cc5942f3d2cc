//! A trained (or untrained) network as tables: the one-row `network` table that describes it and
//! travels with every per-network output, and the `weights` table that rebuilds it.

use super::TaskError;
use crate::rnn::{Activation, Arch, Hyper, Network, Param, Shape, TaskSpec};
use crate::table::{Column, Output, Summary, Table};

/// One row of the `networks` table (SPEC §7).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkRow {
    pub network_id: String,
    pub task: TaskSpec,
    pub arch: Arch,
    pub activation: Activation,
    pub units: usize,
    pub l2: f64,
    pub seed: u64,
    pub trained: bool,
    pub iterations: usize,
    /// `ok` or `diverged`.
    pub status: String,
    pub reason: String,
    /// MSE without the L2 term; NaN (a null in the table) when the network diverged.
    pub train_loss: f64,
    pub val_loss: f64,
    /// The task's success criterion (`rnn::score`: fraction correct, or R² for sine); NaN when
    /// the network diverged.
    pub score: f64,
    /// `score` reaches the task's threshold.
    pub solved: bool,
    pub hyper: Option<Hyper>,
}

impl NetworkRow {
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }

    /// Whether an analysis of trained networks may use this one, and if not, why: a diverged
    /// network never; an unsolved trained network only when the study keeps unsolved networks
    /// (the paper analyses networks that solve the task). Untrained controls are always usable.
    pub fn usable(&self, keep_unsolved: bool) -> Result<(), String> {
        if !self.ok() {
            Err(format!("{}: {}", self.status, self.reason))
        } else if self.trained && !self.solved && !keep_unsolved {
            Err(format!(
                "unsolved: task score {:.3} below the threshold {}",
                self.score,
                self.task.solved_threshold()
            ))
        } else {
            Ok(())
        }
    }

    pub fn shape(&self) -> Shape {
        Shape {
            arch: self.arch,
            activation: self.activation,
            units: self.units,
            inputs: self.task.inputs(),
            outputs: self.task.outputs(),
        }
    }

    /// `vanilla-tanh-64 l2=0.0001 seed 3`, for messages.
    pub fn describe(&self) -> String {
        let t = if self.trained { "" } else { " untrained" };
        format!(
            "{}-{}-{} l2={} seed {}{t}",
            self.arch, self.activation, self.units, self.l2, self.seed
        )
    }

    pub fn to_table(&self) -> Table {
        let h = self.hyper.unwrap_or(Hyper {
            lr0: f64::NAN,
            decay: f64::NAN,
            momentum: f64::NAN,
            clip: f64::NAN,
        });
        let (bits, flip_prob, contexts, freq_min, freq_range, mean_range, noise_sd) =
            match &self.task {
                TaskSpec::Flipflop {
                    bits, flip_prob, ..
                } => (
                    *bits as i64,
                    *flip_prob,
                    0,
                    f64::NAN,
                    f64::NAN,
                    f64::NAN,
                    f64::NAN,
                ),
                TaskSpec::Sine {
                    freq_min,
                    freq_range,
                    ..
                } => (0, f64::NAN, 0, *freq_min, *freq_range, f64::NAN, f64::NAN),
                TaskSpec::Cdi {
                    contexts,
                    mean_range,
                    noise_sd,
                    ..
                } => (
                    0,
                    f64::NAN,
                    *contexts as i64,
                    f64::NAN,
                    f64::NAN,
                    *mean_range,
                    *noise_sd,
                ),
            };
        let s = |v: &str| Column::Str(vec![v.to_string()]);
        let f = |v: f64| Column::F64(vec![v]);
        let i = |v: i64| Column::I64(vec![v]);
        let ok = self.ok();
        let loss = |v: f64| Column::OptF64(vec![(ok && v.is_finite()).then_some(v)]);
        Table::new()
            .with("network_id", s(&self.network_id))
            .with("task", s(self.task.name()))
            .with("arch", s(&self.arch.to_string()))
            .with("activation", s(&self.activation.to_string()))
            .with("units", i(self.units as i64))
            .with("l2", f(self.l2))
            .with("seed", i(self.seed as i64))
            .with("trained", Column::Bool(vec![self.trained]))
            .with("steps", i(self.task.steps() as i64))
            .with("bits", i(bits))
            .with("flip_prob", f(flip_prob))
            .with("contexts", i(contexts))
            .with("freq_min", f(freq_min))
            .with("freq_range", f(freq_range))
            .with("mean_range", f(mean_range))
            .with("noise_sd", f(noise_sd))
            .with("iterations", i(self.iterations as i64))
            .with("lr0", f(h.lr0))
            .with("decay", f(h.decay))
            .with("momentum", f(h.momentum))
            .with("clip", f(h.clip))
            .with("status", s(&self.status))
            .with("reason", s(&self.reason))
            .with("train_loss", loss(self.train_loss))
            .with("val_loss", loss(self.val_loss))
            .with("score", f(self.score))
            .with("solved", Column::Bool(vec![self.solved]))
            .with(
                "task_params",
                s(&serde_json::to_string(&self.task).expect("task serialises")),
            )
    }

    /// Reads row `i` of a `network` table.
    pub fn from_table(t: &Table, i: usize) -> Result<NetworkRow, TaskError> {
        let parse = |col: &str| -> Result<String, TaskError> { Ok(t.strs(col)?[i].clone()) };
        let enum_of = |col: &str| -> Result<serde_json::Value, TaskError> {
            Ok(serde_json::Value::String(parse(col)?))
        };
        let lr0 = t.f64s("lr0")?[i];
        let hyper = (!lr0.is_nan()).then(|| Hyper {
            lr0,
            decay: t.f64s("decay").map(|v| v[i]).unwrap_or(f64::NAN),
            momentum: t.f64s("momentum").map(|v| v[i]).unwrap_or(f64::NAN),
            clip: t.f64s("clip").map(|v| v[i]).unwrap_or(f64::NAN),
        });
        Ok(NetworkRow {
            network_id: parse("network_id")?,
            task: serde_json::from_str(&parse("task_params")?)?,
            arch: serde_json::from_value(enum_of("arch")?)?,
            activation: serde_json::from_value(enum_of("activation")?)?,
            units: t.i64s("units")?[i] as usize,
            l2: t.f64s("l2")?[i],
            seed: t.i64s("seed")?[i] as u64,
            trained: t.bools("trained")?[i],
            iterations: t.i64s("iterations")?[i] as usize,
            status: parse("status")?,
            reason: parse("reason")?,
            train_loss: t.opt_f64s("train_loss")?[i].unwrap_or(f64::NAN),
            val_loss: t.opt_f64s("val_loss")?[i].unwrap_or(f64::NAN),
            score: t.f64s("score")?[i],
            solved: t.bools("solved")?[i],
            hyper,
        })
    }

    /// The row every per-network output carries in its `network` table.
    pub fn of(output: &Output) -> Result<NetworkRow, TaskError> {
        NetworkRow::from_table(output.table("network")?, 0)
    }

    pub fn outcome(&self) -> Outcome {
        Outcome {
            arch: self.arch,
            trained: self.trained,
            ok: self.ok(),
            solved: self.solved,
        }
    }

    /// The summary a train task stores with its output: its `Outcome`.
    pub fn summary(&self) -> Summary {
        [
            ("arch", self.arch.to_string()),
            ("trained", self.trained.to_string()),
            ("status", self.status.clone()),
            ("solved", self.solved.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// How a network's training came out, as the population count needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub arch: Arch,
    pub trained: bool,
    /// Not diverged.
    pub ok: bool,
    pub solved: bool,
}

impl Outcome {
    /// The outcome a train output's summary records; `None` for a summary without one (an
    /// entry written before summaries existed, or by another kind).
    pub fn from_summary(s: &Summary) -> Option<Outcome> {
        let flag = |k: &str| s.get(k)?.parse::<bool>().ok();
        Some(Outcome {
            arch: serde_json::from_value(serde_json::Value::String(s.get("arch")?.clone())).ok()?,
            trained: flag("trained")?,
            ok: s.get("status")? == "ok",
            solved: flag("solved")?,
        })
    }
}

/// The `weights` table (SPEC §7): param, rows, cols, values (row-major).
pub fn weights_table(net: &Network) -> Table {
    let params = net.params();
    Table::new()
        .with(
            "param",
            Column::Str(params.iter().map(|p| p.name.clone()).collect()),
        )
        .with(
            "rows",
            Column::I64(params.iter().map(|p| p.rows as i64).collect()),
        )
        .with(
            "cols",
            Column::I64(params.iter().map(|p| p.cols as i64).collect()),
        )
        .with(
            "values",
            Column::ListF32(params.into_iter().map(|p| p.values).collect()),
        )
}

/// Rebuilds the network of a train output.
pub fn network_of(output: &Output) -> Result<(NetworkRow, Network), TaskError> {
    let row = NetworkRow::of(output)?;
    let w = output.table("weights")?;
    let params: Vec<Param> = (0..w.num_rows())
        .map(|i| -> Result<Param, TaskError> {
            Ok(Param {
                name: w.strs("param")?[i].clone(),
                rows: w.i64s("rows")?[i] as usize,
                cols: w.i64s("cols")?[i] as usize,
                values: w.lists("values")?[i].clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    let net = Network::from_params(row.shape(), &params)
        .map_err(|e| TaskError::Failed(format!("weights of {}: {e}", row.network_id)))?;
    Ok((row, net))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(trained: bool, status: &str, solved: bool) -> NetworkRow {
        NetworkRow {
            network_id: "0123456789abcdef".into(),
            task: TaskSpec::sine(),
            arch: Arch::Ugrnn,
            activation: Activation::Relu,
            units: 8,
            l2: 1e-4,
            seed: 3,
            trained,
            iterations: 10,
            status: status.into(),
            reason: String::new(),
            train_loss: 0.5,
            val_loss: 0.5,
            score: 0.1,
            solved,
            hyper: None,
        }
    }

    #[test]
    fn the_summary_gives_the_outcome_the_row_gives() {
        for (trained, status, solved) in [
            (true, "ok", true),
            (true, "ok", false),
            (true, "diverged", false),
            (false, "ok", false),
        ] {
            let r = row(trained, status, solved);
            let outcome = Outcome::from_summary(&r.summary());
            assert_eq!(outcome, Some(r.outcome()), "{trained} {status} {solved}");
        }
        let mut partial = row(true, "ok", true).summary();
        partial.remove("solved");
        assert_eq!(Outcome::from_summary(&partial), None);
        let mut garbled = row(true, "ok", true).summary();
        garbled.insert("arch".into(), "transformer".into());
        assert_eq!(Outcome::from_summary(&garbled), None);
        assert_eq!(Outcome::from_summary(&Summary::new()), None);
    }
}
