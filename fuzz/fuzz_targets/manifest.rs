//! Fuzzes the manifest parser and the planner: any bytes either fail with an error or expand
//! into a plan; nothing panics, hangs or allocates without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    census::ops::parse_and_plan(data);
});
