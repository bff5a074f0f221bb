//! End-to-end tests across the binaries: the benchmark harness driving the gitgate binary.

#![allow(clippy::unwrap_used)]

mod architecture;
mod bench_run;
mod bench_scenarios;
mod binaries;
mod load;
mod micro;
mod mutants;
