//! `surge capacity`: each probe of the search and what the search concluded.

use serde::{Deserialize, Serialize};

use super::Status;

/// One probe of a capacity search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Probe {
    pub offered_rate: f64,
    pub status: Status,
    pub achieved_rate: f64,
    pub e2e_p95_us: u64,
    pub e2e_p99_us: u64,
    pub max_lag: u64,
    /// Why it failed or was inconclusive.
    pub reasons: Vec<String>,
    /// The share of its seconds in which a broker throttled the clients (a quota).
    #[serde(default)]
    pub throttled_share: f64,
    /// Payload MB/s the brokers acked.
    #[serde(default)]
    pub acked_mb_per_s: f64,
}

/// The result of a capacity search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Capacity {
    pub probes: Vec<Probe>,
    /// The highest offered rate at which every SLO held; `None` when none did.
    pub sustained_rate: Option<f64>,
    /// The scenario's own peak rate, the target.
    pub target_peak: f64,
    /// `sustained / target - 1`, in percent.
    pub headroom_percent: Option<f64>,
    /// The lowest rate at which the generator itself fell behind, if any: the search could not
    /// look higher, which is not the cluster's limit.
    pub generator_limit: Option<f64>,
    /// The p95 limit the probes were judged against, in microseconds.
    pub p95_limit_us: Option<u64>,
    /// Wall-clock seconds the search took.
    pub elapsed_s: f64,
    pub budget_s: f64,
    pub conclusion: String,
    /// With `--sustain`: the found rate held for that long, and lower rates if it fell off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sustain: Option<Sustain>,
}

/// One rate held for the whole sustain time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hold {
    pub rate: f64,
    pub status: Status,
    /// Seconds it was planned to hold (the measured part).
    pub planned_s: f64,
    /// Seconds into the hold at which throughput or latency fell off (`None`: it did not).
    pub held_s: Option<f64>,
    /// Why it failed, when it did.
    pub reasons: Vec<String>,
}

/// What holding the found rate showed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sustain {
    pub duration_s: f64,
    pub holds: Vec<Hold>,
    /// The highest rate that held for the whole time, every SLO met.
    pub held_rate: Option<f64>,
    /// The search's rate, when it did not hold: a burst, and how long it lasted.
    pub burst_rate: Option<f64>,
    pub burst_held_s: Option<f64>,
}
