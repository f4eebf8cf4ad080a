//! The record one process would have made of the whole run, from every worker's raw facts.

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::engine::{FaultLog, FaultRecord, FaultWindows, GroupRecord, Plan, RunRecord, SoFar};
use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG};
use crate::metrics::{Histograms, SentLedger};
use crate::scenario::Scenario;
use crate::summary::Produced;
use crate::workers::WorkerFile;

use super::dead::DeadWorker;
use super::group::RunFacts;
use super::intervals::MergedIntervals;
use super::read::Worker;
use super::timeline::merged_timeline;
use super::{max_offsets, saturating_sum, total};

/// The record one process would have made of the whole run, and notes on what the merge
/// could not check.
pub(super) fn merged_record(
    scenario: &Scenario,
    workers: &[Worker],
    dead: &[DeadWorker],
) -> (RunRecord, Vec<String>) {
    let mut ledger = SentLedger::default();
    for worker in workers {
        ledger.absorb(worker.ledger.clone());
    }
    let mut acked_high: Vec<Vec<i64>> = Vec::new();
    for worker in workers {
        max_offsets(&mut acked_high, &worker.file.share.acked_high);
    }
    let intervals = MergedIntervals::of(workers);
    let timeline = merged_timeline(scenario, workers, &intervals);
    let windows = FaultWindows::new(&scenario.faults);
    let mut lost_in = vec![0u64; scenario.faults.len()];
    let (groups, notes) = group_records(
        &RunFacts {
            scenario,
            workers,
            ledger: &ledger,
            acked_high: &acked_high,
            timeline: &timeline,
            windows: &windows,
        },
        &mut lost_in,
    );
    let faults = fault_records(scenario, workers, &windows.failed_in(&ledger), &lost_in);
    let mut groups = groups;
    for (g, group) in groups.iter_mut().enumerate() {
        group.catchups = super::catchup::catchups(scenario, g, &faults, &timeline);
    }
    let totals = totals(workers, &groups);
    let produced = |count: fn(&Produced) -> u64| {
        saturating_sum(workers.iter().map(|w| count(&w.run.summary.produced)))
    };
    // A dead worker's sends by its last mark; the rest of its share was never sent.
    let marked =
        |count: fn(&SoFar) -> u64| saturating_sum(dead.iter().map(|d| count(&d.mark.so_far)));
    let dead_not_sent = saturating_sum(
        dead.iter()
            .map(|d| d.planned(scenario).saturating_sub(d.mark.so_far.sent)),
    );
    let record = RunRecord {
        started_unix_us: workers[0].file.start_at_unix_us,
        group_join: latest(workers, |f| f.group_join_us),
        run_time: latest(workers, |f| f.run_time_us),
        interrupted: workers.iter().any(|w| !w.file.complete && !behind(w)),
        fatal: None,
        out_of_time: workers.iter().any(behind),
        plan: Arc::new(Plan::new(&scenario.phases)),
        sent: produced(|p| p.sent).saturating_add(marked(|m| m.sent)),
        acked: produced(|p| p.acked).saturating_add(marked(|m| m.acked)),
        acked_by_topic: per_topic(scenario, workers, |p| &p.acked_by_topic),
        sent_bytes: produced(|p| p.sent_bytes),
        acked_bytes_by_topic: per_topic(scenario, workers, |p| &p.acked_bytes_by_topic),
        failed: produced(|p| p.failed).saturating_add(marked(|m| m.failed)),
        not_sent: produced(|p| p.not_sent).saturating_add(dead_not_sent),
        last_send: latest(workers, |f| f.last_send_us),
        publish: totals[0].1.clone(),
        schedule_lag: totals[1].1.clone(),
        groups,
        timeline,
        histograms: Histograms {
            intervals: intervals.stored(),
            totals,
        },
        errors: errors(workers),
        ledger,
        faults,
        share: None,
        brokers: super::brokers::merged_brokers(workers),
        client_path: Default::default(),
        statistics_dropped: 0,
    };
    (record, notes)
}

/// Every group's record, and the notes on partitions whose order could not be told.
fn group_records(run: &RunFacts, lost_in: &mut [u64]) -> (Vec<GroupRecord>, Vec<String>) {
    let mut notes: Vec<String> = Vec::new();
    let groups = run
        .scenario
        .groups
        .iter()
        .enumerate()
        .map(|(g, spec)| {
            let (record, unordered) = run.group_record(g, spec, lost_in);
            notes.extend(unordered);
            record
        })
        .collect();
    (groups, notes)
}

/// Each fault as one process would have recorded it: its window from the first worker that
/// applied it to the last that undid it, the commands every worker ran (worker 0 runs them
/// all), the first error, and the events lost and sends failed in its window.
fn fault_records(
    scenario: &Scenario,
    workers: &[Worker],
    failed_in: &[u64],
    lost_in: &[u64],
) -> Vec<FaultRecord> {
    (0..scenario.faults.len())
        .map(|f| {
            let logs: Vec<&FaultLog> = workers
                .iter()
                .filter_map(|w| w.file.faults.get(f))
                .collect();
            let log = FaultLog {
                started: logs.iter().filter_map(|l| l.started).min(),
                ended: logs.iter().filter_map(|l| l.ended).max(),
                commands: logs.iter().flat_map(|l| l.commands.clone()).collect(),
                error: logs.iter().find_map(|l| l.error.clone()),
            };
            FaultRecord {
                log,
                lost: lost_in[f],
                failed: failed_in[f],
            }
        })
        .collect()
}

/// The cumulative histograms by tag, added across the workers.
fn totals(workers: &[Worker], groups: &[GroupRecord]) -> Vec<(String, Histogram<u64>)> {
    crate::engine::histogram_totals(
        &total(workers, PUBLISH),
        &total(workers, SCHEDULE_LAG),
        groups,
    )
}

/// A per-topic count (acked events, acked bytes) per scenario topic, added across workers.
fn per_topic(
    scenario: &Scenario,
    workers: &[Worker],
    counts: fn(&Produced) -> &Vec<(String, u64)>,
) -> Vec<(String, u64)> {
    let mut totals: Vec<(String, u64)> = scenario
        .topics
        .iter()
        .map(|t| (t.name.clone(), 0))
        .collect();
    for worker in workers {
        for (name, count) in counts(&worker.run.summary.produced) {
            if let Some(entry) = totals.iter_mut().find(|(n, _)| n == name) {
                entry.1 = entry.1.saturating_add(*count);
            }
        }
    }
    totals
}

/// Every worker's distinct errors, by worker index.
fn errors(workers: &[Worker]) -> Vec<String> {
    let mut errors: Vec<String> = Vec::new();
    for worker in workers {
        for error in &worker.run.summary.errors {
            if !errors.contains(error) {
                errors.push(error.clone());
            }
        }
    }
    errors
}

/// The worker's generator ran out of time behind schedule.
fn behind(worker: &Worker) -> bool {
    worker
        .run
        .summary
        .partial_reason
        .as_deref()
        .is_some_and(|r| r.contains("behind schedule"))
}

/// The latest of a time every worker recorded, in microseconds.
fn latest(workers: &[Worker], micros: fn(&WorkerFile) -> u64) -> Duration {
    Duration::from_micros(workers.iter().map(|w| micros(&w.file)).max().unwrap_or(0))
}
