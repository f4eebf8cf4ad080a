//! Per-rebalance figures: a group's ownership record (who held each partition when, and what
//! made members join or go) cut into one row per trigger, with the per-second figures and the
//! interval histograms of its window. Built from the run's record after the run; no I/O.

use std::time::Instant;

use crate::metrics::histograms::e2e_tag;
use crate::metrics::ownership::{GroupPartition, Ownership};
use crate::metrics::{TimelinePoint, new_histogram};
use crate::scenario::Scenario;
use crate::summary::RebalanceSummary;

use super::record::RunRecord;

/// Changes, redeliveries and disorder this long after a trigger are its doing; later ones
/// were not started by surge. A crashed member's partitions wait out the session timeout
/// (45 s by Kafka's default) before the group rebalances.
const HORIZON_S: f64 = 60.0;
/// Changes not started by surge that come within this long of each other are one rebalance.
const QUIET_S: f64 = 5.0;
/// The "before" window of a rebalance's latency and consumption.
const BEFORE_S: f64 = 5.0;

/// A group's ownership record, in seconds since the plan started (negative: before it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnershipRecord {
    /// (partition, from, to): `to` is `None` when the run ended first.
    pub gaps: Vec<(GroupPartition, f64, Option<f64>)>,
    /// (time, member, assigned, partitions).
    pub changes: Vec<(f64, u16, bool, u32)>,
    /// (time, fault, member, joined).
    pub triggers: Vec<(f64, usize, u16, bool)>,
    /// (time, events).
    pub redelivered: Vec<(f64, u64)>,
    pub out_of_order: Vec<(f64, u64)>,
    pub truncated: bool,
}

impl OwnershipRecord {
    /// `ownership` on the plan's clock, which started at `start`.
    pub fn of(ownership: &Ownership, start: Instant) -> OwnershipRecord {
        let s = |at: Instant| match at.checked_duration_since(start) {
            Some(after) => after.as_secs_f64(),
            None => -(start - at).as_secs_f64(),
        };
        OwnershipRecord {
            gaps: ownership
                .all_gaps()
                .iter()
                .map(|g| (g.partition, s(g.from), g.to.map(s)))
                .collect(),
            changes: ownership
                .changes
                .iter()
                .map(|c| (s(c.at), c.member, c.assigned, c.partitions))
                .collect(),
            triggers: ownership
                .triggers
                .iter()
                .map(|t| (s(t.at), t.fault, t.member, t.joined))
                .collect(),
            redelivered: ownership
                .redelivered
                .iter()
                .map(|t| (s(t.at), t.count))
                .collect(),
            out_of_order: ownership
                .out_of_order
                .iter()
                .map(|t| (s(t.at), t.count))
                .collect(),
            truncated: ownership.truncated,
        }
    }
}

/// A row being built.
struct Row {
    summary: RebalanceSummary,
    /// Set for a row surge did not trigger.
    unplanned: bool,
}

/// The rows of one group's rebalances during the plan.
pub fn rebalance_summaries(
    scenario: &Scenario,
    record: &RunRecord,
    group: usize,
) -> Vec<RebalanceSummary> {
    let g = &record.groups[group];
    let own = &g.ownership;
    let spec = &scenario.groups[group];
    let mut rows: Vec<Row> = own
        .triggers
        .iter()
        .filter(|t| t.0 >= 0.0)
        .map(|&(at, fault, member, joined)| Row {
            summary: RebalanceSummary {
                trigger: format!(
                    "member {member} {}",
                    if joined {
                        "joined"
                    } else {
                        left_how(scenario, fault)
                    }
                ),
                fault: scenario.faults.get(fault).map(|f| f.name.clone()),
                at_s: at,
                ..RebalanceSummary::default()
            },
            unplanned: false,
        })
        .collect();
    rows.sort_by(|a, b| a.summary.at_s.total_cmp(&b.summary.at_s));
    let triggered = rows.len();
    // A late group's own join is its replay, not a rebalance of a running group.
    let late = spec.starts_after.is_some();
    for &(t, _, assigned, partitions) in own.changes.iter().filter(|c| c.0 >= 0.0) {
        let index = match row_at(&rows[..triggered], t) {
            Some(i) => i,
            None if late => continue,
            None => unplanned_row(&mut rows, t),
        };
        let row = &mut rows[index].summary;
        row.first_change_s.get_or_insert(t);
        row.last_change_s = Some(t);
        if assigned {
            row.assigned += partitions;
        } else {
            row.revoked += partitions;
        }
    }
    let topic_names = &g.topics;
    for &(partition, from, to) in own.gaps.iter().filter(|g| g.1 >= 0.0) {
        let Some(index) = row_containing(&rows, triggered, from) else {
            continue;
        };
        let end = to.unwrap_or(record.run_time.as_secs_f64()).max(from);
        let row = &mut rows[index].summary;
        row.partitions_unowned += 1;
        row.unowned_partition_s += end - from;
        row.unfinished |= to.is_none();
        if end - from > row.unowned_max_s || row.unowned_max_partition.is_empty() {
            row.unowned_max_s = end - from;
            let topic = topic_names.get(partition.0).map_or("?", String::as_str);
            row.unowned_max_partition = format!("{topic}/{}", partition.1);
        }
    }
    for (list, redelivered) in [(&own.redelivered, true), (&own.out_of_order, false)] {
        for &(t, count) in list.iter().filter(|e| e.0 >= 0.0) {
            if let Some(index) = row_containing(&rows, triggered, t) {
                let row = &mut rows[index].summary;
                if redelivered {
                    row.redelivered += count;
                } else {
                    row.out_of_order += count;
                }
            }
        }
    }
    let mut rows: Vec<RebalanceSummary> = rows.into_iter().map(|r| r.summary).collect();
    rows.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    for row in &mut rows {
        finish(row, record, &spec.name);
    }
    rows
}

/// How a fault's member went.
fn left_how(scenario: &Scenario, fault: usize) -> &'static str {
    match scenario.faults.get(fault).map(|f| f.kind.name()) {
        Some("member_crash") => "crashed",
        _ => "left",
    }
}

/// The triggered row whose horizon holds `t`: the latest trigger at or before it.
fn row_at(triggered: &[Row], t: f64) -> Option<usize> {
    let index = triggered.iter().rposition(|r| r.summary.at_s <= t + 1e-6)?;
    (t - triggered[index].summary.at_s <= HORIZON_S).then_some(index)
}

/// The row not started by surge that a change at `t` belongs to: the latest such row when
/// its last change is at most [`QUIET_S`] earlier, else a new one.
fn unplanned_row(rows: &mut Vec<Row>, t: f64) -> usize {
    if let Some(last) = rows.iter().rposition(|r| r.unplanned)
        && rows[last]
            .summary
            .last_change_s
            .is_some_and(|l| t - l <= QUIET_S)
    {
        return last;
    }
    rows.push(Row {
        summary: RebalanceSummary {
            trigger: "not started by surge".into(),
            at_s: t,
            ..RebalanceSummary::default()
        },
        unplanned: true,
    });
    rows.len() - 1
}

/// The row that an effect at `t` (a gap's start, a redelivery) belongs to: a trigger's within
/// its horizon, else a row surge did not start that spans it (or ended at most
/// [`QUIET_S`] before).
fn row_containing(rows: &[Row], triggered: usize, t: f64) -> Option<usize> {
    row_at(&rows[..triggered], t).or_else(|| {
        rows.iter()
            .enumerate()
            .skip(triggered)
            .rev()
            .find_map(|(i, r)| {
                let (first, last) = (r.summary.first_change_s?, r.summary.last_change_s?);
                (first - 1e-6 <= t && t <= last + QUIET_S).then_some(i)
            })
    })
}

/// Fills in the duration and the window's latency, consumption and lag.
fn finish(row: &mut RebalanceSummary, record: &RunRecord, group: &str) {
    row.duration_s = match (row.first_change_s, row.last_change_s) {
        (Some(first), Some(last)) => last - first,
        _ => 0.0,
    };
    let start = row.at_s;
    let end = row.last_change_s.unwrap_or(start).max(start) + 1.0;
    let tag = e2e_tag(group);
    let p99 = |from: f64, to: f64| {
        let mut merged = new_histogram();
        for sample in record.histograms.intervals.iter().filter(|s| s.tag == tag) {
            let (s, e) = (sample.start_s, sample.start_s + sample.duration_s);
            if e > from + 1e-3 && s < to - 1e-3 {
                let _ = merged.add(sample.histogram());
            }
        }
        (!merged.is_empty()).then(|| merged.value_at_quantile(0.99))
    };
    row.e2e_p99_before_us = p99(start - BEFORE_S, start);
    row.e2e_p99_during_us = p99(start, end);
    let seconds = |from: f64, to: f64| -> Vec<&TimelinePoint> {
        record
            .timeline
            .iter()
            .filter(|p| p.t > from + 1e-3 && p.t - 1.0 < to - 1e-3)
            .collect()
    };
    let of_group = |p: &TimelinePoint| {
        p.groups
            .iter()
            .find(|g| g.name == group)
            .map(|g| (g.consumed, g.lag))
    };
    let before: Vec<(u64, u64)> = seconds(start - BEFORE_S, start)
        .into_iter()
        .filter_map(of_group)
        .collect();
    let during: Vec<(u64, u64)> = seconds(start, end)
        .into_iter()
        .filter_map(of_group)
        .collect();
    if !before.is_empty() {
        row.consumed_before_per_s =
            Some(before.iter().map(|(c, _)| *c as f64).sum::<f64>() / before.len() as f64);
    }
    row.consumed_min_per_s = during.iter().map(|(c, _)| *c as f64).reduce(f64::min);
    row.lag_before = before.last().map_or(0, |(_, lag)| *lag);
    let lag_max = during.iter().map(|(_, lag)| *lag).max().unwrap_or(0);
    row.lag_added = lag_max.saturating_sub(row.lag_before);
}
