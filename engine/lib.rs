//! census: population studies of recurrent neural networks.
//!
//! A manifest (`manifest`) declares studies; the planner (`plan`) expands them into a DAG of
//! content-keyed tasks; the executor (`exec`) runs the stale ones in parallel through the task
//! kinds (`task`), which call the numerics (`rnn`, `analysis`); every output is cached by key in
//! a `store`. `ops` holds the commands as functions, `report` draws the paper's figures from exported
//! tables, and `cli` is the command line.
//!
//! Dependencies point down: cli → ops → exec → store/plan/manifest/task → rnn/analysis, with
//! `key` (the content-hash recipe) and `table` at the bottom, so the store and the task kinds
//! never reach up into the planner.

pub mod analysis;
pub mod cli;
pub mod exec;
pub mod key;
pub mod manifest;
pub mod ops;
pub mod plan;
pub mod report;
pub mod rnn;
pub mod store;
pub mod study;
pub mod table;
pub mod task;

#[cfg(test)]
mod tests {
    /// `cargo test` builds census with its debug assertions (Cargo.toml's test profile), although
    /// `cargo run` leaves them out for speed: a test build without them does not compile.
    #[test]
    fn tests_run_with_debug_assertions() {
        const { assert!(cfg!(debug_assertions)) };
    }
}
