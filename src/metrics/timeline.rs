//! One point per second of the run, for the timeline chart and the progress line.

use serde::{Deserialize, Serialize};

/// What one consumer group did during one second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupPoint {
    pub name: String,
    /// Events consumed during the second.
    pub consumed: u64,
    /// Their payload (record value) bytes.
    #[serde(default)]
    pub consumed_bytes: u64,
    /// Acked events on the group's topics not yet consumed, at the end of the second.
    pub lag: u64,
    pub e2e_p50: Option<u64>,
    pub e2e_p95: Option<u64>,
    pub e2e_p99: Option<u64>,
    /// Deliveries during the second of events the group had consumed before.
    #[serde(default)]
    pub duplicates: u64,
    /// First deliveries during the second that came after a higher sequence of their key.
    #[serde(default)]
    pub out_of_order: u64,
    /// Members holding at least one partition at the end of the second.
    #[serde(default)]
    pub members: u16,
    /// Partitions the group's live members held at the end of the second: fewer than the
    /// group reads while a crashed member's partitions wait for a rebalance.
    #[serde(default)]
    pub partitions_held: u32,
    /// Partitions of the group's topics that no live member held at the end of the second
    /// (at least; a partition two members hold for a moment in a handover counts once each).
    #[serde(default)]
    pub partitions_unowned: u32,
    /// Paused by a `group_pause` fault or joined late (`starts_after`): left out of the
    /// run-wide e2e, lag and recovery figures, and judged by its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub set_aside: bool,
    /// Events that needed a retry, and events published to the dead-letter topic, whose
    /// handling ended during the second (groups that fail events).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retried: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dead_lettered: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The run during one second; latencies in microseconds, `None` when nothing was recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the plan started (end of the interval).
    pub t: f64,
    /// The phase the plan was in at the end of the second, or `drain`.
    pub phase: String,
    /// Planned events in this second.
    pub target_rate: f64,
    /// Events handed to the producer in this second.
    pub produced: u64,
    /// Events acked by the broker in this second.
    pub acked: u64,
    /// Payload (record value) bytes of the events produced, acked and consumed (all groups)
    /// in this second.
    #[serde(default)]
    pub produced_bytes: u64,
    #[serde(default)]
    pub acked_bytes: u64,
    #[serde(default)]
    pub consumed_bytes: u64,
    /// Sends that failed in this second.
    #[serde(default)]
    pub failed: u64,
    /// Events consumed in this second, all groups together.
    pub consumed: u64,
    pub e2e_p50: Option<u64>,
    pub e2e_p95: Option<u64>,
    pub e2e_p99: Option<u64>,
    pub publish_p99: Option<u64>,
    pub schedule_lag_p99: Option<u64>,
    /// The load generator's CPU, in percent of all cores of its host.
    #[serde(default)]
    pub generator_cpu: Option<f64>,
    /// The load generator's resident memory, in MiB.
    #[serde(default)]
    pub generator_memory_mib: Option<f64>,
    /// surge's own threads (the embedded brokers' excluded), its busiest thread, and the
    /// embedded brokers' thread, each in percent of one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_process_cpu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_thread_cpu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_cpu: Option<f64>,
    pub groups: Vec<GroupPoint>,
    /// What went wrong during the second (a failed MSK IAM token refresh, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

impl TimelinePoint {
    /// The first field that holds what no run can have recorded in a second (a latency above
    /// the histograms' hour, a count or rate beyond any cluster's, a rate that is not a
    /// number): the reports draw axes from these, so a summary holding one is refused.
    pub fn implausible(&self) -> Option<&'static str> {
        const MOST_US: u64 = crate::metrics::latency::MAX_TRACKABLE_US;
        const MOST_EVENTS: u64 = 1 << 50;
        const MOST_BYTES: u64 = 1 << 60;
        let latency = |v: Option<u64>| v.is_some_and(|v| v > MOST_US);
        let rate = |v: Option<f64>| v.is_some_and(|v| !(0.0..=1e12).contains(&v));
        let bytes = [self.produced_bytes, self.acked_bytes, self.consumed_bytes];
        let own: [(&'static str, bool); 14] = [
            ("generator_process_cpu", rate(self.generator_process_cpu)),
            ("generator_thread_cpu", rate(self.generator_thread_cpu)),
            ("broker_cpu", rate(self.broker_cpu)),
            ("bytes", bytes.into_iter().any(|b| b > MOST_BYTES)),
            ("target_rate", rate(Some(self.target_rate))),
            ("produced", self.produced > MOST_EVENTS),
            ("acked", self.acked > MOST_EVENTS),
            ("failed", self.failed > MOST_EVENTS),
            ("consumed", self.consumed > MOST_EVENTS),
            (
                "e2e percentiles",
                [self.e2e_p50, self.e2e_p95, self.e2e_p99]
                    .into_iter()
                    .any(latency),
            ),
            ("publish_p99", latency(self.publish_p99)),
            ("schedule_lag_p99", latency(self.schedule_lag_p99)),
            ("generator_cpu", rate(self.generator_cpu)),
            ("generator_memory_mib", rate(self.generator_memory_mib)),
        ];
        let group = |g: &GroupPoint| {
            [
                g.consumed,
                g.lag,
                g.duplicates,
                g.out_of_order,
                g.retried,
                g.dead_lettered,
            ]
            .into_iter()
            .any(|v| v > MOST_EVENTS)
                || g.consumed_bytes > MOST_BYTES
                || [g.e2e_p50, g.e2e_p95, g.e2e_p99].into_iter().any(latency)
        };
        own.iter()
            .find(|(_, bad)| *bad)
            .map(|(field, _)| *field)
            .or_else(|| self.groups.iter().any(group).then_some("groups"))
    }

    /// Each point with the time its interval started (the last point's time; 0 for the first):
    /// a run's last point can be much shorter than a second.
    pub fn with_starts(timeline: &[TimelinePoint]) -> impl Iterator<Item = (&TimelinePoint, f64)> {
        let starts = std::iter::once(0.0).chain(timeline.iter().map(|p| p.t));
        timeline.iter().zip(starts)
    }

    /// Largest lag at this second of any group that consumes throughout the run.
    pub fn max_lag(&self) -> u64 {
        self.groups
            .iter()
            .filter(|g| !g.set_aside)
            .map(|g| g.lag)
            .max()
            .unwrap_or(0)
    }
}
