//! Planning: the sealed DAG of content-keyed tasks (`graph`) that `study::expand` builds from a
//! checked manifest, each key computed by the one recipe in [`crate::key`]. No I/O here.

mod graph;

pub use graph::{Keyed, MemoryExcess, Plan, PlanBuilder, PlanError, TaskNode};
pub use crate::key::Key;
