//! Planning: a checked manifest becomes a sealed DAG of content-keyed tasks (`expand`, `graph`),
//! each key computed by the one recipe in [`crate::key`]. No I/O here.

mod expand;
mod graph;

pub use expand::expand;
pub use graph::{Keyed, MemoryExcess, Plan, PlanBuilder, PlanError, TaskNode};
pub use crate::key::Key;
