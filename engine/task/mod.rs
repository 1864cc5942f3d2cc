//! Task kinds: the one small trait through which work plugs into the engine, and the registry
//! of every kind census knows.
//!
//! A kind is a pure function of its parameters and its inputs (the outputs of the tasks it
//! depends on, in the order the planner gave them). It never reads files, the clock or the
//! environment, so its output is a function of its key. Bump `version` when the numbers a kind
//! produces change; that reruns it and everything downstream.
//!
//! Kinds are written against the typed [`Kind`] (`kind`), seen by the registry and the executor
//! through the object-safe [`TaskKind`] (`Typed<K>`). Here live the kinds that make the
//! population (`train`) and the study's `findings`, with the helpers analyses share
//! (`network`, `population`); each analysis's kinds live in its `study` module, and
//! `Registry::standard` is assembled there.

use crate::key::Key;
use crate::table::{Output, TableError};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

pub mod estimate;
pub mod findings;
pub mod kind;
pub mod network;
pub mod population;
pub mod train;

pub use estimate::Shapes;
pub use kind::{encode, Check, Kind, NoParams, Population, Typed};
pub use network::{NetworkRow, Outcome};

/// What a running task may know besides its parameters and inputs.
pub struct Context<'a> {
    /// The task's own key (a trained network's id is its train task's key).
    pub key: Key,
    /// Set on Ctrl-C; long tasks check it and return `TaskError::Cancelled`.
    pub cancel: &'a AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("bad parameters: {0}")]
    Params(#[from] serde_json::Error),
    #[error("input: {0}")]
    Input(#[from] TableError),
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
}

pub trait TaskKind: Send + Sync {
    fn name(&self) -> &'static str;
    /// The algorithm version; part of every key of this kind.
    fn version(&self) -> u32;
    /// Whether the output contains the task's own key (`Context::key`). Such a task's output
    /// is never reused under another key, so early cutoff skips it.
    fn names_itself(&self) -> bool {
        false
    }
    fn run(
        &self,
        ctx: &Context,
        params: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError>;
    /// Peak bytes ([`Kind::memory`]); a kind written as a [`Kind`] always says.
    fn memory(&self, _params: &serde_json::Value, _inputs: &dyn Shapes) -> u64 {
        0
    }
    /// Multiply-adds ([`Kind::work`]).
    fn work(&self, _params: &serde_json::Value, _inputs: &dyn Shapes) -> Option<f64> {
        None
    }
    /// The class of tasks whose time per unit of work is alike ([`Kind::class`]).
    fn class(&self, _params: &serde_json::Value) -> &'static str {
        self.name()
    }
}

/// Every task kind, by name.
pub struct Registry {
    kinds: BTreeMap<&'static str, Box<dyn TaskKind>>,
}

impl Registry {
    pub fn empty() -> Registry {
        Registry {
            kinds: BTreeMap::new(),
        }
    }

    pub fn register(&mut self, kind: Box<dyn TaskKind>) {
        self.kinds.insert(kind.name(), kind);
    }

    /// Registers a typed kind.
    pub fn add<K: Kind>(&mut self, kind: K) {
        self.register(Box::new(Typed(kind)));
    }

    pub fn get(&self, name: &str) -> Option<&dyn TaskKind> {
        self.kinds.get(name).map(|k| k.as_ref())
    }

    pub fn version(&self, name: &str) -> Option<u32> {
        self.get(name).map(|k| k.version())
    }
}

/// Reads a kind's parameters from the planner's JSON.
pub fn params<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, TaskError> {
    Ok(serde_json::from_value(v.clone())?)
}

/// A 64-bit seed derived from named parts, so independent streams never share a seed.
pub fn derive_seed(parts: &impl serde::Serialize) -> u64 {
    let bytes = serde_json::to_vec(parts).expect("seed parts serialise");
    let h = blake3::hash(&bytes);
    u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
}
