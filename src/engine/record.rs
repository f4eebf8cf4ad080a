//! What a run measured, as the engine hands it on: the summary is built from a [`RunRecord`].

use super::rebalance_figures::OwnershipRecord;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::faults::FaultLog;
use super::loss_audit::LossAudit;
use super::pacer::Plan;
use super::share::ShareFacts;
use crate::kafka::ConnectError;
use crate::metrics::brokers::{BrokerSecond, ClientPath};
use crate::metrics::causes::{CauseExample, Causes};
use crate::metrics::delivery::DeliveryStats;
use crate::metrics::{Histograms, LossReport, SentLedger, TimelinePoint};
use crate::summary::{CatchupSummary, FailureSummary, ReplaySummary};

/// Where the run is, for the live progress line.
#[derive(Debug, Clone)]
pub struct Progress {
    /// `joining`, `running` or `draining`.
    pub stage: &'static str,
    pub elapsed: Duration,
    pub point: Option<TimelinePoint>,
    /// Each `group_pause` catch-up so far (group name and figures), in the order the pauses
    /// ended: the backlog from the resume on, the time and rate once the lag is under its limit.
    pub catchups: Vec<(String, CatchupSummary)>,
    /// Each broker's last second as the clients saw it, by node id (brokers idle that second
    /// are left out).
    pub brokers: Vec<(i32, BrokerSecond)>,
    /// What this process's producers have done since the run began.
    pub so_far: SoFar,
}

/// Sends, acks and failed sends of this process's producers so far, warmup included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SoFar {
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
}

/// Why the run could not produce trustworthy measurements at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(
        "consumer group `{group}` did not get all {expected} partitions within {timeout_s}s ({detail})\n  fix: check that the brokers run a group coordinator, or raise run.group_join_timeout"
    )]
    GroupJoin {
        group: String,
        expected: usize,
        timeout_s: u64,
        detail: String,
    },
    #[error(
        "consumer group `{group}` could not join as {key} asks: the broker answered \"{answer}\"\n  fix: {fix}"
    )]
    GroupProtocol {
        group: String,
        key: String,
        answer: String,
        fix: &'static str,
    },
}

/// What one consumer group measured.
#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub name: String,
    pub members: u16,
    pub topics: Vec<String>,
    pub e2e: Histogram<u64>,
    pub consumed: u64,
    /// Payload bytes of those deliveries.
    pub consumed_bytes: u64,
    pub unique: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Why reads were out of order or repeated, and the first few of each cause.
    pub causes: Causes,
    pub cause_examples: Vec<CauseExample>,
    pub loss: LossReport,
    /// Why the lost events were lost.
    pub loss_audit: LossAudit,
    pub foreign: u64,
    pub max_lag: u64,
    pub final_lag: u64,
    pub errors: Vec<String>,
    /// For a group that fails events: its counts, and the histograms behind its latencies.
    pub failures: Option<FailureRecord>,
    /// For a late group: when it joined and when it had read everything.
    pub replay: Option<ReplaySummary>,
    /// For a group `group_pause` faults paused: how it caught up after each pause.
    pub catchups: Vec<CatchupSummary>,
    /// Who owned each partition when, on the plan's clock.
    pub ownership: OwnershipRecord,
    /// Sampled events' time from ack to read (`None`: not timed, as for a late group).
    pub delivery: Option<DeliveryStats>,
}

/// A group's failure handling as the engine measured it.
#[derive(Debug, Clone)]
pub struct FailureRecord {
    /// The counts; its latency fields are filled from the histograms by the summary.
    pub counts: FailureSummary,
    pub retry_delay: Histogram<u64>,
    pub e2e_failed: Histogram<u64>,
}

/// Everything the engine measured; the summary is built from it.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub started_unix_us: u64,
    pub group_join: Duration,
    /// From the plan's start to the end of the drain.
    pub run_time: Duration,
    pub interrupted: bool,
    /// Why the run had to end early as an error (an expired MSK IAM token).
    pub fatal: Option<String>,
    /// The generator was still behind schedule when its grace period ran out.
    pub out_of_time: bool,
    pub plan: Arc<Plan>,
    pub sent: u64,
    pub acked: u64,
    pub acked_by_topic: Vec<(String, u64)>,
    /// Payload bytes sent, and acked per topic.
    pub sent_bytes: u64,
    pub acked_bytes_by_topic: Vec<(String, u64)>,
    pub failed: u64,
    pub not_sent: u64,
    /// Offset of the last send from the plan start.
    pub last_send: Duration,
    pub publish: Histogram<u64>,
    pub schedule_lag: Histogram<u64>,
    pub groups: Vec<GroupRecord>,
    pub timeline: Vec<TimelinePoint>,
    /// Per-second and cumulative histograms, for the interval logs and charts.
    pub histograms: Histograms,
    pub errors: Vec<String>,
    /// What every producer sent, per key, and which sends failed.
    pub ledger: SentLedger,
    /// Per scenario fault, in the scenario's order.
    pub faults: Vec<FaultRecord>,
    /// For one worker of several: the raw facts `surge merge` adds up.
    pub share: Option<ShareFacts>,
    /// Each broker's seconds as the clients saw it, by node id.
    pub brokers: BTreeMap<i32, Vec<BrokerSecond>>,
    /// The clients' batching, queue and round trips over the measured seconds.
    pub client_path: ClientPath,
    /// Statistics documents the broker view could not keep.
    pub statistics_dropped: u64,
}

impl RunRecord {
    /// The record of a run that could not start (no connection, no topics): nothing measured,
    /// and `reason` as the error that ended it, so that its directory still says what happened.
    pub fn not_started(scenario: &crate::scenario::Scenario, reason: String) -> RunRecord {
        use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG};
        let empty = crate::metrics::new_histogram();
        RunRecord {
            started_unix_us: crate::kafka::clock::unix_micros(),
            group_join: Duration::ZERO,
            run_time: Duration::ZERO,
            interrupted: false,
            fatal: Some(reason),
            out_of_time: false,
            plan: Arc::new(Plan::new(&scenario.phases)),
            sent: 0,
            acked: 0,
            acked_by_topic: Vec::new(),
            sent_bytes: 0,
            acked_bytes_by_topic: Vec::new(),
            failed: 0,
            not_sent: 0,
            last_send: Duration::ZERO,
            publish: empty.clone(),
            schedule_lag: empty.clone(),
            groups: Vec::new(),
            timeline: Vec::new(),
            histograms: Histograms {
                intervals: Default::default(),
                totals: vec![
                    (PUBLISH.into(), empty.clone()),
                    (SCHEDULE_LAG.into(), empty),
                ],
            },
            errors: Vec::new(),
            ledger: SentLedger::default(),
            faults: Vec::new(),
            share: None,
            brokers: Default::default(),
            client_path: ClientPath::default(),
            statistics_dropped: 0,
        }
    }
}

/// What one fault did, as the engine saw it.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    pub log: FaultLog,
    /// Acked events intended in the fault's window that a group never consumed, summed over
    /// groups (as the run's `lost` is).
    pub lost: u64,
    /// Sends intended in the fault's window that failed.
    pub failed: u64,
}

/// A run's cumulative histograms by tag, as `totals.hlog` keeps them: publish, schedule lag,
/// each group's e2e, then each failing group's retry delay and failed events' e2e (which
/// `surge merge` adds up across workers).
pub fn histogram_totals(
    publish: &Histogram<u64>,
    schedule_lag: &Histogram<u64>,
    groups: &[GroupRecord],
) -> Vec<(String, Histogram<u64>)> {
    use crate::metrics::histograms::{
        PUBLISH, SCHEDULE_LAG, e2e_failed_tag, e2e_tag, retry_delay_tag,
    };
    let mut totals = vec![
        (PUBLISH.to_string(), publish.clone()),
        (SCHEDULE_LAG.to_string(), schedule_lag.clone()),
    ];
    totals.extend(groups.iter().map(|g| (e2e_tag(&g.name), g.e2e.clone())));
    for g in groups {
        if let Some(f) = &g.failures {
            totals.push((retry_delay_tag(&g.name), f.retry_delay.clone()));
            totals.push((e2e_failed_tag(&g.name), f.e2e_failed.clone()));
        }
    }
    totals
}
