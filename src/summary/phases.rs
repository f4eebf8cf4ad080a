//! Per-phase figures: what the run did while the plan was in each phase, so that a peak is
//! judged on its own seconds rather than pooled with the calm ones around it.

use serde::{Deserialize, Serialize};

use crate::metrics::LatencyStats;

/// One phase's figures, from the timeline seconds and interval histograms whose midpoint
/// falls within it. Latencies are HDR sums of those intervals: e2e is of the events consumed,
/// publish latency of those acked, schedule lag of those sent during the phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseFigures {
    pub name: String,
    /// The phase a named part (`peak:spike`) belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_of: Option<String>,
    pub warmup: bool,
    /// The phase the headline and `phase.peak` name: `slo.peak_phase`, else the measured
    /// phase with the highest mean planned rate.
    pub peak: bool,
    pub start_s: f64,
    pub end_s: f64,
    /// Timeline seconds the figures cover (fewer than planned on a run stopped early).
    pub seconds: f64,
    /// Mean planned events/s over the phase, and the highest planned rate within it.
    pub offered_rate: f64,
    pub offered_peak_rate: f64,
    /// Planned payload MB/s (MB = 2^20 bytes): the offered rate times the mean event size.
    pub offered_mb_per_s: f64,
    /// Events sent per second, and their share of those planned in the same seconds.
    pub achieved_rate: f64,
    pub achieved_ratio: f64,
    /// Payload MB/s sent, acked by the brokers, and consumed by all groups together.
    pub produced_mb_per_s: f64,
    pub acked_mb_per_s: f64,
    pub consumed_mb_per_s: f64,
    pub publish_us: LatencyStats,
    pub schedule_lag_us: LatencyStats,
    /// Every group consuming throughout (none set aside), merged.
    pub e2e_us: LatencyStats,
    /// The highest lag of a group consuming throughout, at the end of a second of the phase.
    pub max_lag: u64,
    pub failed: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub groups: Vec<PhaseGroup>,
}

/// One group's figures over a phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PhaseGroup {
    pub name: String,
    pub consumed: u64,
    pub consumed_mb_per_s: f64,
    pub e2e_us: LatencyStats,
    pub max_lag: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub set_aside: bool,
}

/// Bytes in a megabyte as Kafka's own tools count it (ProducerPerformance's MB/sec).
pub const MB: f64 = (1u64 << 20) as f64;

impl super::Summary {
    /// The phase `phase.NAME` names: the phase of that name, else, for `peak`, the peak.
    pub fn phase(&self, name: &str) -> Option<&PhaseFigures> {
        self.by_phase
            .iter()
            .find(|p| p.name == name)
            .or_else(|| (name == "peak").then(|| self.peak()).flatten())
    }

    /// The peak phase, if the run has one.
    pub fn peak(&self) -> Option<&PhaseFigures> {
        self.by_phase.iter().find(|p| p.peak)
    }
}
