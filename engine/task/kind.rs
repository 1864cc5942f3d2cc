//! The typed side of a task kind: its name, version and `Params` type are constants of one Rust
//! type, so the planner that builds a task and the kind that runs it name the same struct.
//!
//! JSON appears only at the seam: [`encode`] turns typed parameters into the value whose
//! canonical form enters the key, and [`Typed`] (the one object-safe wrapper the registry and
//! the executor see, a [`TaskKind`]) reads it back, checks it and calls [`Kind::run`]. Every kind
//! also says what it will cost ([`Kind::memory`], [`Kind::work`]), so a kind that does not
//! compile without its estimates.

use super::estimate::Shapes;
use super::{params, Context, TaskError, TaskKind};
use crate::table::Output;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Parameters that can say what is wrong with them: the field and the problem (`"must be at
/// least 1"`). The manifest reports it at the field's line; a task given such parameters fails.
pub trait Check {
    fn check(&self) -> Option<(&'static str, String)> {
        None
    }
}

pub trait Kind: Send + Sync + 'static {
    /// The kind's name in keys, plans and messages.
    const NAME: &'static str;
    /// The algorithm version; part of every key of this kind. Bump it when the numbers change.
    const VERSION: u32;
    /// What enters the key (as canonical JSON) and what `run` reads: one struct for both ends.
    type Params: Serialize + DeserializeOwned + Check + Send + Sync;

    /// Whether the output contains the task's own key (`Context::key`); see
    /// [`TaskKind::names_itself`].
    fn names_itself(&self) -> bool {
        false
    }

    fn run(&self, ctx: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError>;

    /// Peak bytes the task will hold (`exec::memory` lists the rule of each kind).
    fn memory(&self, p: &Self::Params, inputs: &dyn Shapes) -> u64;

    /// Multiply-adds the task will do (`exec::cost`); `None` when its shapes are unknown.
    fn work(&self, p: &Self::Params, inputs: &dyn Shapes) -> Option<f64>;

    /// Tasks whose time per unit of work is alike (`exec::cost::class`); by default the kind.
    fn class(&self, _p: &Self::Params) -> &'static str {
        Self::NAME
    }
}

/// The JSON value of a kind's parameters, whose canonical form enters the key.
pub fn encode<P: Serialize>(p: &P) -> serde_json::Value {
    serde_json::to_value(p).expect("task parameters serialise")
}

/// A [`Kind`] behind the object-safe [`TaskKind`]: reads and checks the parameters, then runs.
pub struct Typed<K>(pub K);

impl<K: Kind> Typed<K> {
    fn read(&self, p: &serde_json::Value) -> Result<K::Params, TaskError> {
        let p: K::Params = params(p)?;
        match p.check() {
            Some((field, problem)) => {
                Err(TaskError::Failed(format!("{}.{field} {problem}", K::NAME)))
            }
            None => Ok(p),
        }
    }
}

impl<K: Kind> TaskKind for Typed<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }
    fn version(&self) -> u32 {
        K::VERSION
    }
    fn names_itself(&self) -> bool {
        self.0.names_itself()
    }
    fn run(
        &self,
        ctx: &Context,
        p: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        self.0.run(ctx, &self.read(p)?, inputs)
    }
    fn memory(&self, p: &serde_json::Value, inputs: &dyn Shapes) -> u64 {
        self.read(p).map_or(0, |p| self.0.memory(&p, inputs))
    }
    fn work(&self, p: &serde_json::Value, inputs: &dyn Shapes) -> Option<f64> {
        self.0.work(&self.read(p).ok()?, inputs)
    }
    fn class(&self, p: &serde_json::Value) -> &'static str {
        self.read(p).map_or(K::NAME, |p| self.0.class(&p))
    }
}

/// Parameters of a kind without any (`select`): `{}` in the key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct NoParams {}

impl Check for NoParams {}

/// An analysis over a study's trained networks: its own parameters and the study's rule for
/// unsolved networks (`NetworkRow::usable`), side by side in the key.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Population<P> {
    #[serde(flatten)]
    pub of: P,
    /// Absent in keys made before the rule existed, which kept every network that did not
    /// diverge.
    #[serde(default)]
    pub keep_unsolved: bool,
}

impl<P: Check> Check for Population<P> {
    fn check(&self) -> Option<(&'static str, String)> {
        self.of.check()
    }
}
