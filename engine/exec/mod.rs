//! Execution: decide what is stale (`fresh`), then run it (`schedule`). The only place that
//! knows about threads.

pub mod cost;
pub mod fresh;
pub mod memory;
mod schedule;

pub use fresh::{freshness, survey, Depth, Freshness, Reason, Summaries};
pub use schedule::{record_use, run, run_task, Event, Observer, Options, Outcome, Summary};
