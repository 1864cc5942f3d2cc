//! Execution: decide what is stale (`fresh`), then run it (`schedule`). The only place that
//! knows about threads.

pub mod fresh;
mod schedule;

pub use fresh::{freshness, Freshness, Reason};
pub use schedule::{run, run_task, Event, Observer, Options, Outcome, Summary};
