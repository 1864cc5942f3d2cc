//! Integration tests: one binary, one module per concern.

mod caching;
mod common;
mod concurrency;
mod crash;
mod dsa;
mod faults;
mod interop;
mod manifest_errors;
mod report;
mod slurm;
mod storage;
