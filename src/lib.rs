//! surge: open-loop load tests of Kafka-protocol clusters, judged against SLOs.
//!
//! The commands (`commands/`) load the scenario, connect (`connect`), run the engine, judge
//! (`verdict`) and write the reports (`report/`, into the run's directory: `run_dir`).
//! ARCHITECTURE.md draws a run's data flow.

pub mod baseline;
pub mod broker_types;
pub mod capacity;
pub mod check;
pub mod cli;
mod commands;
mod connect;
pub mod engine;
mod error;
pub mod format;
pub mod input;
pub mod kafka;
pub mod live;
pub mod merge;
pub mod metrics;
pub mod output;
pub mod profile;
pub mod progress;
pub mod replay;
pub mod report;
mod run_dir;
pub mod scenario;
pub mod sizing;
pub mod summary;
pub mod verdict;
pub mod workers;
pub mod workload;

pub use commands::{
    CapacityOptions, CompareOptions, ProfileOptions, ProfileOutcome, RunOptions, RunOutcome,
    capacity_search as capacity, compare, preflight as check, profile, regenerate, run,
    run_scenario, validate,
};
pub use error::SurgeError;
pub use run_dir::default_compare_dir;
