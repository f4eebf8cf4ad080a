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
    /// The search was stopped (Ctrl-C, SIGTERM) during this probe: its figures are partial,
    /// and its status says nothing of the cluster or the generator.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
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
    /// The labelled broker type's published limits (`--broker-type`, `--brokers`): the rate
    /// they allow, which the headroom and the status take when it is the tighter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_type: Option<TypeLimit>,
    /// The search was stopped (Ctrl-C, SIGTERM) before it and its holds ended: what it found
    /// is not the limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
}

/// A broker type's published per-broker limits as a rate, at the bytes an event took.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TypeLimit {
    /// The type as the label names it, and the brokers it counts.
    pub name: String,
    pub brokers: u32,
    /// The broker-type file and its date; `None` when the file lacks the type
    /// (its limits are then not checked).
    pub file: Option<String>,
    /// Events/s the type's limits allow on `brokers` brokers, and the limit that sets it
    /// (`ingress` or `egress`) with its MB/s per broker.
    pub rate: Option<f64>,
    pub bound_by: Option<String>,
    pub limit_mb_s: Option<f64>,
    /// Payload bytes an event took into the cluster and out of it (every group), measured.
    pub bytes_in: Option<f64>,
    pub bytes_out: Option<f64>,
    /// Partition replicas per broker, and the type's recommendation.
    pub partitions_per_broker: Option<f64>,
    pub partitions_recommended: Option<u32>,
}

impl TypeLimit {
    /// Whether the scenario's partitions exceed the type's recommendation.
    pub fn crowded(&self) -> bool {
        matches!((self.partitions_per_broker, self.partitions_recommended),
            (Some(held), Some(limit)) if held > f64::from(limit))
    }
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
