//! What each rebalance of a group cost: from its members' assignment callbacks (who owned
//! each partition when), the per-second figures and the interval histograms.

use serde::{Deserialize, Serialize};

/// The group protocol a group's members ran with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProtocolSummary {
    /// `classic` or `consumer` (KIP-848).
    pub name: String,
    /// As the scenario or `--set` named it; none for the protocol's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignor: Option<String>,
    /// A rebalance revokes only the partitions that move (cooperative-sticky, KIP-848).
    pub incremental: bool,
    /// In words, as the reports show it.
    pub description: String,
}

impl ProtocolSummary {
    /// The classic protocol with librdkafka's default (eager) assignors.
    pub fn is_default(&self) -> bool {
        self.name == "classic" && self.assignor.is_none()
    }
}

/// One rebalance of a group: what started it, how long partitions had no owner, and what it
/// did to delivery and latency.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RebalanceSummary {
    /// What started it: "member 3 joined", "member 5 left", "member 2 crashed", or
    /// "not started by surge" (a broker fault, a member out of its poll interval).
    pub trigger: String,
    /// The fault that made the member join or go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Seconds since the plan started: when it was triggered (the first change, when surge
    /// did not trigger it).
    pub at_s: f64,
    /// The first and last assignment change of any member that followed; none when the group
    /// never changed its assignment (a member that joined a group with no partition to spare
    /// under a sticky protocol, or a run that ended first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_change_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change_s: Option<f64>,
    /// Seconds from the first revocation (or assignment) to the last assignment.
    pub duration_s: f64,
    /// Partitions taken from members and given to members, counted per member.
    pub revoked: u32,
    pub assigned: u32,
    /// Partitions that were without an owner at some moment.
    pub partitions_unowned: u32,
    /// The sum over partitions of the seconds each had no owner.
    pub unowned_partition_s: f64,
    /// The longest time one partition had no owner, and which.
    pub unowned_max_s: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unowned_max_partition: String,
    /// A partition still had no owner when the run ended.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unfinished: bool,
    /// Events delivered again (duplicates the checker counted) and first deliveries out of
    /// order, from the trigger until the next one.
    pub redelivered: u64,
    pub out_of_order: u64,
    /// Group e2e p99 in the 5 s before the trigger, and from the trigger until a second after
    /// the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_p99_before_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_p99_during_us: Option<u64>,
    /// Events/s the group consumed in the 5 s before, and in its slowest second during.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed_before_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed_min_per_s: Option<f64>,
    /// The group's lag when triggered, and the most it grew by during.
    pub lag_before: u64,
    pub lag_added: u64,
}

impl RebalanceSummary {
    /// The consumption dip: events/s below the rate before, in the slowest second.
    pub fn dip_per_s(&self) -> Option<f64> {
        Some((self.consumed_before_per_s? - self.consumed_min_per_s?).max(0.0))
    }
}
