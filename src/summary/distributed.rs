//! A distributed run's workers: each worker's own index, and the merged run's rows and clocks.

use serde::{Deserialize, Serialize};

/// The workers of a distributed run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkersSummary {
    pub count: u16,
    /// In one worker's own summary: its index. `None` in the merged summary.
    #[serde(default)]
    pub index: Option<u16>,
    /// In the merged summary: one row per worker directory given.
    #[serde(default)]
    pub rows: Vec<WorkerRow>,
    /// Workers expected but not merged (missing or unreadable directories).
    #[serde(default)]
    pub missing: Vec<String>,
    /// The largest difference between two workers' clocks, as each measured itself against
    /// the brokers, in microseconds; `None` when a worker could not measure.
    #[serde(default)]
    pub clock_skew_us: Option<u64>,
    /// How far the skew may be off: the two measurements' uncertainties added.
    #[serde(default)]
    pub clock_uncertainty_us: Option<u64>,
    /// The skew allowed, as a fraction of the merged e2e p50.
    #[serde(default)]
    pub max_skew_fraction: f64,
}

/// One worker of a merged run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerRow {
    pub index: u16,
    pub dir: String,
    pub host: String,
    pub instances: u16,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub consumed: u64,
    /// Broker clock minus this worker's clock, in microseconds.
    pub clock_offset_us: Option<i64>,
    /// How far the true offset may be from `clock_offset_us`.
    #[serde(default)]
    pub clock_uncertainty_us: Option<u64>,
    pub complete: bool,
}
