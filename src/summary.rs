//! `summary.json`: the result of a run as plain data. Built by the engine, judged by the
//! verdict, read by every report. Versioned by [`SCHEMA`].

use serde::{Deserialize, Serialize};

pub use crate::scenario::{Label, PlanSettings};

use crate::metrics::{LatencyStats, TimelinePoint};

mod baseline;
mod breakdown;
mod brokers;
mod capacity;
mod checks;
mod distributed;
mod faults;
mod integrity;
mod phases;
mod rebalance;
pub use baseline::{BaselineComparison, BaselineDelta};
pub use breakdown::{
    CONSUMER_SETTINGS, GroupBreakdown, LatencyBreakdown, MedianEvent, MedianParts,
    PRODUCER_SETTINGS, Part, Setting,
};
pub use brokers::{BrokerFault, BrokerSecond, BrokerSummary, Throttling};
pub use capacity::{Capacity, Hold, Probe, Sustain, TypeLimit};
pub use distributed::{WorkerRow, WorkersSummary};
pub use faults::{CommandRun, FaultSummary, last_line};
pub use integrity::{LOSS_CAUSES, LossCause, LossCauses, LostExample, Ordering, OrderingExample};
pub use phases::{MB, PhaseFigures, PhaseGroup};
pub use rebalance::{ProtocolSummary, RebalanceSummary};

/// The longest a run can last, from the plan's start to the end of its drain: a week of plan
/// (the most a scenario may plan) and a day of joining, grace and drain. Figures read back
/// from files (summaries, interval logs, worker files) are checked against it.
pub const LONGEST_RUN: std::time::Duration = std::time::Duration::from_secs(8 * 86_400);

/// The schema name written into every summary.
pub const SCHEMA: &str = "surge.summary/v1";

/// The whole result of one run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub schema: String,
    pub surge_version: String,
    pub run_id: String,
    pub scenario: ScenarioInfo,
    /// UTC start of the measured plan, RFC 3339.
    pub started_at: String,
    /// False when the run was interrupted or failed midway: the numbers are partial.
    pub complete: bool,
    pub partial_reason: Option<String>,
    pub environment: Environment,
    pub cluster: ClusterSummary,
    /// Adjustments and caveats a reader should know about.
    pub notes: Vec<String>,
    /// Warnings every report shows first (TLS verification turned off).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub verdict: Verdict,
    pub produced: Produced,
    pub latency: Latency,
    pub groups: Vec<GroupSummary>,
    pub phases: Vec<PhaseSummary>,
    /// Figures per phase (see [`PhaseFigures`]).
    #[serde(default)]
    pub by_phase: Vec<PhaseFigures>,
    pub timeline: Vec<TimelinePoint>,
    pub startup: Startup,
    /// How fast the groups recovered after the highest-rate phase, when one is followed by
    /// a lower rate.
    #[serde(default)]
    pub recovery: Option<Recovery>,
    /// The cluster this run measured, for comparisons between sizing options.
    #[serde(default)]
    pub label: Option<Label>,
    /// Set by `surge capacity`: every probe and the sustainable rate found.
    #[serde(default)]
    pub capacity: Option<Capacity>,
    /// Client errors seen during the run (secrets redacted).
    pub errors: Vec<String>,
    /// What each `[[faults]]` entry did, and what the cluster did about it.
    #[serde(default)]
    pub faults: Vec<FaultSummary>,
    /// Each broker as the run's clients saw it (librdkafka's statistics), by node id.
    #[serde(default)]
    pub brokers: Vec<BrokerSummary>,
    /// Where the milliseconds went: `None` when nothing was acked, and in a merged run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<LatencyBreakdown>,
    /// The git commit surge was built from, when it was built in a checkout.
    #[serde(default)]
    pub git_commit: Option<String>,
    /// What the command line changed in the plan (scales, -X, --slo).
    #[serde(default)]
    pub settings: PlanSettings,
    /// This run's figures against a baseline run's, when one was given.
    #[serde(default)]
    pub baseline: Option<BaselineComparison>,
    /// A distributed run: this worker's place in it, or (merged) every worker and the skew
    /// between their clocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<WorkersSummary>,
}

/// Backlog recovery after the peak: seconds from its end until lag and p95 are back under
/// their thresholds (`None`: not by the end of the run).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recovery {
    /// The phase after which recovery is timed.
    pub after_phase: String,
    /// Its end, in seconds since the plan started.
    pub at_s: f64,
    pub lag_threshold: u64,
    pub lag_s: Option<f64>,
    pub p95_threshold_us: u64,
    pub p95_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioInfo {
    pub name: String,
    pub file: String,
    pub description: String,
    pub planned_duration_s: f64,
    /// The scenario text as run, with secrets redacted.
    pub source: String,
    /// The scenario's topics: their partitions and replication factor (-1: the brokers'
    /// default), for holding a run against a broker type's partition recommendation.
    #[serde(default)]
    pub topics: Vec<TopicInfo>,
}

/// One topic of the scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub host: String,
    pub os: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub librdkafka_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterSummary {
    /// `embedded` or `external`.
    pub kind: String,
    pub bootstrap: String,
    pub brokers: usize,
    /// Effective producer properties, secrets redacted.
    pub producer_config: Vec<(String, String)>,
    /// Effective consumer properties, secrets redacted.
    pub consumer_config: Vec<(String, String)>,
}

/// pass, fail, inconclusive or error.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Inconclusive,
    Error,
}

impl Status {
    /// The process exit code for this status: 0, 1, 3 and 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Pass => 0,
            Status::Fail => 1,
            Status::Error => 2,
            Status::Inconclusive => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Inconclusive => "inconclusive",
            Status::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub status: Status,
    /// Why the run is inconclusive or an error; on a failed run, why its checks other than
    /// the integrity ones were not judged (empty when every check was).
    pub reasons: Vec<String>,
    pub checks: Vec<Check>,
    /// Whether the integrity checks were judged: on every complete run whose groups read all
    /// that was acked, whatever the generator's pace.
    #[serde(default)]
    pub integrity_judged: bool,
    /// The checks that decide whether the generator's timings are trusted.
    #[serde(default)]
    pub trust: Vec<TrustCheck>,
}

/// One check of the generator's own trustworthiness, with its limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrustCheck {
    pub name: String,
    /// The limit in the check's unit: microseconds of schedule lag, percent of the planned
    /// rate, seconds of saturation.
    #[serde(default)]
    pub limit: f64,
    pub limit_text: String,
    pub actual_text: String,
    pub passed: bool,
    /// Why the run's timings are not trusted, when it failed.
    pub reason: String,
}

/// One SLO against its measured value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    /// The SLO as written, e.g. `e2e.p95 < 100ms`.
    pub name: String,
    /// What it measures, without the limit (`e2e.p95`): a stable name for CI test histories
    /// and baselines, which survives a change of threshold.
    #[serde(default)]
    pub metric: String,
    /// The limit, in `unit`.
    pub limit: f64,
    /// The measured value in `unit`; `None` when nothing was measured.
    pub actual: Option<f64>,
    /// `us` for latencies, `count`, `events` or `ratio`.
    pub unit: String,
    pub passed: bool,
    pub limit_text: String,
    pub actual_text: String,
    /// An integrity check surge added because the scenario set no limit for it.
    #[serde(default)]
    pub default: bool,
    /// It counts facts of the log (failed, lost, duplicated, reordered or missing dead
    /// letters), which stand even when the generator's timings are not trusted.
    #[serde(default)]
    pub integrity: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Produced {
    pub sent: u64,
    pub acked: u64,
    /// Acked events per topic.
    pub acked_by_topic: Vec<(String, u64)>,
    /// Payload (record value) bytes sent and acked, in all and per topic.
    #[serde(default)]
    pub sent_bytes: u64,
    #[serde(default)]
    pub acked_bytes: u64,
    #[serde(default)]
    pub acked_bytes_by_topic: Vec<(String, u64)>,
    /// Acked payload MB/s (MB = 2^20 bytes) over the measured phases' seconds.
    #[serde(default)]
    pub acked_mb_per_s: f64,
    pub failed: u64,
    /// Planned events never sent (the run stopped, or the generator ran out of time).
    pub not_sent: u64,
    /// Planned events per second over the measured phases.
    pub target_rate: f64,
    /// Events sent per second over the measured phases.
    pub achieved_rate: f64,
    pub achieved_ratio: f64,
    pub measured_seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub publish_us: LatencyStats,
    pub schedule_lag_us: LatencyStats,
    /// The groups that consume throughout merged (histograms added, not percentiles
    /// averaged); groups paused by a fault or joining late are left out.
    pub e2e_us: LatencyStats,
    /// Retry delays of every group that fails events, merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_us: Option<LatencyStats>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GroupSummary {
    pub name: String,
    pub members: u16,
    pub topics: Vec<String>,
    /// Deliveries of this run's events, duplicates included, and their payload bytes.
    pub consumed: u64,
    #[serde(default)]
    pub consumed_bytes: u64,
    pub unique: u64,
    pub e2e_latency_us: LatencyStats,
    pub ordering: Ordering,
    pub lost: u64,
    /// Why the lost events were lost (the log audit); they add up to `lost`.
    #[serde(default)]
    pub loss_causes: LossCauses,
    pub lost_examples: Vec<LostExample>,
    /// Acked events the group had not read when the drain ended, in partitions it had not
    /// read to the end: neither seen nor lost, so loss cannot be judged for them.
    #[serde(default)]
    pub unread: u64,
    /// Records on the topics that this run did not write.
    pub foreign: u64,
    pub max_lag: u64,
    pub final_lag: u64,
    pub errors: Vec<String>,
    /// Failure handling: retries and the dead-letter topic (groups that fail events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<FailureSummary>,
    /// Backlog catch-up after each `group_pause` fault of the group, in the order they ended.
    /// A summary written before a group could report several reads its one `catchup`.
    #[serde(
        default,
        alias = "catchup",
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub catchups: Vec<CatchupSummary>,
    /// The reading of a group that joined late (`starts_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplaySummary>,
    /// Paused by a fault or joined late: not in the run-wide e2e, `lag.max` and recovery.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub set_aside: bool,
    /// The group protocol and assignor its members ran with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolSummary>,
    /// Every rebalance during the plan, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rebalances: Vec<RebalanceSummary>,
    /// The ownership record reached its cap (100,000 entries of a kind): later rebalances are
    /// missing from `rebalances`, and rebalance SLOs are not judged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebalances_truncated: bool,
}

/// What a group's failing events cost, and whether the dead-letter topic holds them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FailureSummary {
    pub dlt_topic: String,
    /// Events whose processing failed at least once.
    pub failed: u64,
    /// Events retried at least once, and retry attempts in all.
    pub retried: u64,
    pub retries: u64,
    /// Events that failed with a non-retryable error (dead-lettered without retries).
    pub non_retryable: u64,
    /// Events of the poisoned keys.
    pub poisoned: u64,
    /// Dead-letter sends attempted, and those the broker acked.
    pub dead_lettered: u64,
    pub dlt_acked: u64,
    /// Dead-letter records of this run found when the topic was read back after the drain
    /// (`None`: it could not be read), those found more than once, and those whose origin
    /// fields did not match what was dead-lettered.
    pub dlt_found: Option<u64>,
    pub dlt_duplicates: u64,
    pub dlt_mismatched: u64,
    /// Dead-letter sends not found exactly once with their origin intact.
    pub dlt_lost: u64,
    /// From an event's first failure to its outcome (the backoffs slept).
    pub retry_delay_us: LatencyStats,
    /// End-to-end latency of the events that failed, kept apart from the group's e2e.
    pub e2e_failed_us: LatencyStats,
    pub errors: Vec<String>,
}

/// Reads a list of catch-ups, or the single one (or `null`) of an older summary.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<CatchupSummary>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Many(Vec<CatchupSummary>),
        One(Box<CatchupSummary>),
    }
    Ok(match Option::<Form>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Form::Many(all)) => all,
        Some(Form::One(one)) => vec![*one],
    })
}

/// How a paused group caught up after it resumed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CatchupSummary {
    pub fault: String,
    pub paused_s: f64,
    pub resumed_s: f64,
    /// Lag when the group resumed.
    pub backlog: u64,
    /// The lag under which the group counts as caught up: its `lag.max` limit, else the
    /// scenario's, else the ADR's alert threshold (10,000).
    pub threshold: u64,
    /// Seconds from the resume until the lag was at or under the threshold (`None`: never).
    pub catchup_time_s: Option<f64>,
    /// Events/s drained above the produce rate until then: (backlog - lag then) / time.
    pub catchup_rate: Option<f64>,
    /// Events/s the group consumed while catching up, and the produce rate meanwhile.
    pub consume_rate: Option<f64>,
    pub produce_rate: Option<f64>,
    /// The fault that paused the group again before it had caught up (its catch-up time
    /// and rate are then `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_again_by: Option<String>,
}

impl CatchupSummary {
    /// Whether the lag was over the threshold at the resume, so that there was a backlog to
    /// drain and a rate to measure (or the group never got under it).
    pub fn had_backlog(&self) -> bool {
        self.catchup_rate.is_some() || self.catchup_time_s.is_none()
    }
}

/// What a late group read while it replayed its topics.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReplaySummary {
    /// When its members were told to join, from the plan's start.
    pub joined_s: f64,
    /// When it had read every acked offset (`None`: not by the end of the drain).
    pub caught_up_s: Option<f64>,
    /// Records it read (this run's and earlier runs'), and events/s from join to caught up.
    pub records: u64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseSummary {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
    pub warmup: bool,
    pub target_rate: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Startup {
    /// Time for every group to get its partitions, before the plan started.
    pub group_join_ms: u64,
    /// From the plan's start to the end of the drain.
    pub run_time_s: f64,
}

impl GroupSummary {
    /// Nothing lost, duplicated, out of order, missing from a key's sequence, or left unread.
    pub fn is_clean(&self) -> bool {
        let o = &self.ordering;
        self.lost + self.unread + o.duplicates + o.out_of_order + o.gaps == 0
    }
}

impl Verdict {
    /// Whether the generator's timings are trusted, so that every check was judged.
    pub fn timings_trusted(&self) -> bool {
        match self.status {
            Status::Pass => true,
            Status::Fail => self.reasons.is_empty(),
            Status::Inconclusive | Status::Error => false,
        }
    }

    /// Whether an integrity check failed: such a run fails even when its timings are not
    /// trusted, since a late generator or a skewed clock cannot lose or reorder events.
    pub fn integrity_failed(&self) -> bool {
        self.checks.iter().any(|c| c.integrity && !c.passed)
    }

    /// Whether a check was judged: every one when the timings are trusted, and on a run
    /// failed by its integrity checks while its timings were not, those checks only.
    pub fn judged(&self, check: &Check) -> bool {
        self.timings_trusted()
            || (check.integrity && (self.integrity_judged || self.status == Status::Fail))
    }
}

impl Check {
    /// The stable name of what it measures (older summaries have only the SLO text).
    pub fn metric_name(&self) -> String {
        if !self.metric.is_empty() {
            return self.metric.clone();
        }
        self.name
            .parse::<crate::scenario::Slo>()
            .map_or_else(|_| self.name.clone(), |slo| slo.metric.to_string())
    }

    /// The measured value as a share of the limit (`0.23` for 23 ms against 100 ms), where
    /// that means something: a positive limit and a measured value.
    pub fn share_of_limit(&self) -> Option<f64> {
        let actual = self.actual?;
        (self.limit > 0.0 && actual.is_finite()).then(|| actual / self.limit)
    }
}

impl Summary {
    /// Reads a summary written by this version.
    pub fn from_json(text: &str) -> Result<Summary, String> {
        let summary: Summary = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if summary.schema != SCHEMA {
            return Err(format!(
                "schema `{}` is not `{SCHEMA}`",
                crate::input::quote(&summary.schema, 60)
            ));
        }
        summary.check_times()?;
        Ok(summary)
    }

    /// All groups' counts summed.
    pub fn total(&self, pick: impl Fn(&GroupSummary) -> u64) -> u64 {
        self.groups.iter().map(pick).fold(0, u64::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Catchups {
        #[serde(default, alias = "catchup", deserialize_with = "one_or_many")]
        catchups: Vec<CatchupSummary>,
    }

    fn read(json: &str) -> Vec<String> {
        serde_json::from_str::<Catchups>(json)
            .unwrap()
            .catchups
            .into_iter()
            .map(|c| c.fault)
            .collect()
    }

    #[test]
    fn an_older_summary_s_single_catchup_reads_as_a_list_of_one() {
        let one = r#"{"catchup": {"fault": "down", "paused_s": 3.0, "resumed_s": 8.0,
            "backlog": 15000, "threshold": 10000, "catchup_time_s": 2.0, "catchup_rate": 7000.0,
            "consume_rate": 10000.0, "produce_rate": 3000.0}}"#;
        assert_eq!(read(one), ["down"]);
        assert!(read(r#"{"catchup": null}"#).is_empty());
        assert!(read("{}").is_empty());
        let many = r#"{"catchups": [{"fault": "a", "paused_s": 1.0, "resumed_s": 2.0,
            "backlog": 1, "threshold": 10000, "catchup_time_s": 0.0, "catchup_rate": null,
            "consume_rate": null, "produce_rate": null},
            {"fault": "b", "paused_s": 3.0, "resumed_s": 4.0, "backlog": 1, "threshold": 10000,
            "catchup_time_s": null, "catchup_rate": null, "consume_rate": null,
            "produce_rate": null, "paused_again_by": "c"}]}"#;
        assert_eq!(read(many), ["a", "b"]);
    }
}
