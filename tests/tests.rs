//! Integration tests: one binary, one module per concern.

mod bounds;
mod caching;
mod columns;
mod common;
mod concurrency;
mod crash;
mod damage;
mod dsa;
mod edges;
mod faults;
mod gc;
mod interop;
mod manifest_errors;
mod report;
mod sharing;
mod slurm;
mod storage;
