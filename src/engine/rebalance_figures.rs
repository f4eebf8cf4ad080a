//! Per-rebalance figures: a group's ownership record (who held each partition when, and what
//! made members join or go) cut into one row per trigger, with the per-second figures and the
//! interval histograms of its window. Built from the run's record after the run; no I/O.

use std::collections::{BTreeSet, HashMap};
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
/// Two times on the plan's clock this close are one instant.
const SAME_S: f64 = 1e-9;
/// A point shorter than this (a run's last partial second) gives no consumption rate.
const MIN_RATE_S: f64 = 0.5;

/// A time a partition had no owner, in seconds since the plan started.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GapAt {
    pub partition: GroupPartition,
    pub from: f64,
    /// `None` when the run ended first.
    pub to: Option<f64>,
}

/// One rebalance callback of one member.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChangeAt {
    pub t: f64,
    pub member: u16,
    pub assigned: bool,
    pub partitions: u32,
}

/// A member a fault made join or go.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TriggerAt {
    pub t: f64,
    /// Index into the scenario's faults.
    pub fault: usize,
    pub member: u16,
    pub joined: bool,
}

/// A group's ownership record, in seconds since the plan started (negative: before it).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OwnershipRecord {
    pub gaps: Vec<GapAt>,
    pub changes: Vec<ChangeAt>,
    pub triggers: Vec<TriggerAt>,
    /// (time, events) in 100 ms buckets.
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
        let timed = |list: &[crate::metrics::ownership::Timed]| {
            list.iter().map(|t| (s(t.at), t.count)).collect()
        };
        OwnershipRecord {
            gaps: (ownership.all_gaps().iter())
                .map(|g| GapAt {
                    partition: g.partition,
                    from: s(g.from),
                    to: g.to.map(s),
                })
                .collect(),
            changes: (ownership.changes.iter())
                .map(|c| ChangeAt {
                    t: s(c.at),
                    member: c.member,
                    assigned: c.assigned,
                    partitions: c.partitions,
                })
                .collect(),
            triggers: (ownership.triggers.iter())
                .map(|t| TriggerAt {
                    t: s(t.at),
                    fault: t.fault,
                    member: t.member,
                    joined: t.joined,
                })
                .collect(),
            redelivered: timed(&ownership.redelivered),
            out_of_order: timed(&ownership.out_of_order),
            truncated: ownership.truncated,
        }
    }
}

/// The rows being built: those of triggers first (in time order), then those surge did not
/// start.
struct Rows {
    rows: Vec<RebalanceSummary>,
    triggered: usize,
    /// Per row, the partitions that were unowned in it.
    unowned: Vec<BTreeSet<GroupPartition>>,
    /// Every assignment change and the row it went to, in time order.
    assignments: Vec<(f64, usize)>,
}

/// The rows of one group's rebalances during the plan.
pub fn rebalance_summaries(
    scenario: &Scenario,
    record: &RunRecord,
    group: usize,
) -> Vec<RebalanceSummary> {
    let own = &record.groups[group].ownership;
    let mut rows = Rows::of_triggers(scenario, own);
    // A late group's own join is its replay, not a rebalance of a running group.
    let late = scenario.groups[group].starts_after.is_some();
    rows.attribute_changes(own, late);
    rows.attribute_gaps(
        own,
        &record.groups[group].topics,
        record.run_time.as_secs_f64(),
    );
    rows.attribute_effects(own);
    let mut rows = rows.rows;
    rows.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    for row in &mut rows {
        finish(row, record, &scenario.groups[group].name);
    }
    rows
}

impl Rows {
    /// A row per member a fault made join or go during the plan.
    fn of_triggers(scenario: &Scenario, own: &OwnershipRecord) -> Rows {
        let mut rows: Vec<RebalanceSummary> = (own.triggers.iter())
            .filter(|t| t.t >= 0.0)
            .map(|t| RebalanceSummary {
                trigger: format!("member {} {}", t.member, how(scenario, t)),
                fault: scenario.faults.get(t.fault).map(|f| f.name.clone()),
                at_s: t.t,
                ..RebalanceSummary::default()
            })
            .collect();
        rows.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        Rows {
            triggered: rows.len(),
            unowned: vec![BTreeSet::new(); rows.len()],
            rows,
            assignments: Vec::new(),
        }
    }

    /// Each change goes to the row whose trigger came last before it (within the horizon),
    /// except the partitions of an assignment that end gaps: each goes to the row its gap
    /// began in, so a rebalance that outlasts the next step keeps its own end. Changes no
    /// trigger explains form rows of their own.
    fn attribute_changes(&mut self, own: &OwnershipRecord, late: bool) {
        // Gaps by the instant they closed (an assignment's own time, read from one Instant).
        let mut closed_at: HashMap<u64, Vec<f64>> = HashMap::new();
        for gap in &own.gaps {
            if let Some(to) = gap.to {
                closed_at.entry(to.to_bits()).or_default().push(gap.from);
            }
        }
        for change in own.changes.iter().filter(|c| c.t >= 0.0) {
            let mut parts: Vec<(usize, u32)> = Vec::new();
            if change.assigned {
                for &from in closed_at.get(&change.t.to_bits()).into_iter().flatten() {
                    if let Some(row) = self.row_containing(from) {
                        match parts.iter_mut().find(|(r, _)| *r == row) {
                            Some((_, n)) => *n += 1,
                            None => parts.push((row, 1)),
                        }
                    }
                }
            }
            let ended: u32 = parts.iter().map(|(_, n)| n).sum();
            if ended < change.partitions {
                let row = match self.trigger_row(change.t) {
                    Some(i) => Some(i),
                    None if late => None,
                    None => Some(self.unplanned_row(change.t)),
                };
                parts.extend(row.map(|r| (r, change.partitions - ended)));
            }
            // The row that got most of an assignment is where its redeliveries go.
            if change.assigned
                && let Some(&(row, _)) = parts.iter().max_by_key(|(_, n)| *n)
            {
                self.assignments.push((change.t, row));
            }
            for (index, partitions) in parts {
                self.count(index, change.t, change.assigned, partitions);
            }
        }
    }

    /// Counts `partitions` given or taken at `t` in row `index`.
    fn count(&mut self, index: usize, t: f64, assigned: bool, partitions: u32) {
        let row = &mut self.rows[index];
        row.first_change_s = Some(row.first_change_s.map_or(t, |f| f.min(t)));
        row.last_change_s = Some(row.last_change_s.map_or(t, |l| l.max(t)));
        if assigned {
            row.assigned = row.assigned.saturating_add(partitions);
        } else {
            row.revoked = row.revoked.saturating_add(partitions);
        }
    }

    /// Each gap goes to the row it began in.
    fn attribute_gaps(&mut self, own: &OwnershipRecord, topics: &[String], run_end: f64) {
        for gap in own.gaps.iter().filter(|g| g.from >= 0.0) {
            let Some(index) = self.row_containing(gap.from) else {
                continue;
            };
            let end = gap.to.unwrap_or(run_end).max(gap.from);
            let row = &mut self.rows[index];
            self.unowned[index].insert(gap.partition);
            row.partitions_unowned = self.unowned[index].len() as u32;
            row.unowned_partition_s += end - gap.from;
            row.unfinished |= gap.to.is_none();
            if end - gap.from > row.unowned_max_s || row.unowned_max_partition.is_empty() {
                row.unowned_max_s = end - gap.from;
                let topic = topics.get(gap.partition.0).map_or("?", String::as_str);
                row.unowned_max_partition = format!("{topic}/{}", gap.partition.1);
            }
        }
    }

    /// A redelivery or a read out of order goes to the row of the last assignment before it
    /// (a new owner reads again from the last commit), else to the row whose window holds it.
    fn attribute_effects(&mut self, own: &OwnershipRecord) {
        for (list, redelivered) in [(&own.redelivered, true), (&own.out_of_order, false)] {
            for &(t, count) in list.iter().filter(|e| e.0 >= 0.0) {
                let after_assignment = self
                    .assignments
                    .iter()
                    .rev()
                    .find(|(at, _)| *at <= t + SAME_S && t - at <= HORIZON_S)
                    .map(|&(_, row)| row);
                let Some(index) = after_assignment.or_else(|| self.row_containing(t)) else {
                    continue;
                };
                let row = &mut self.rows[index];
                if redelivered {
                    row.redelivered = row.redelivered.saturating_add(count);
                } else {
                    row.out_of_order = row.out_of_order.saturating_add(count);
                }
            }
        }
    }

    /// The triggered row whose horizon holds `t`: the latest trigger at or before it.
    fn trigger_row(&self, t: f64) -> Option<usize> {
        let triggered = &self.rows[..self.triggered];
        let index = triggered.iter().rposition(|r| r.at_s <= t + 1e-6)?;
        (t - triggered[index].at_s <= HORIZON_S).then_some(index)
    }

    /// The row not started by surge that a change at `t` belongs to: the latest such row when
    /// its last change is at most [`QUIET_S`] earlier, else a new one.
    fn unplanned_row(&mut self, t: f64) -> usize {
        if let Some(last) = self
            .rows
            .len()
            .checked_sub(1)
            .filter(|&l| l >= self.triggered)
            && self.rows[last]
                .last_change_s
                .is_some_and(|l| t - l <= QUIET_S)
        {
            return last;
        }
        self.rows.push(RebalanceSummary {
            trigger: "not started by surge".into(),
            at_s: t,
            ..RebalanceSummary::default()
        });
        self.unowned.push(BTreeSet::new());
        self.rows.len() - 1
    }

    /// The row an effect at `t` (a gap's start, a redelivery) belongs to: a trigger's within
    /// its horizon, else a row surge did not start that spans it (or ended at most
    /// [`QUIET_S`] before).
    fn row_containing(&self, t: f64) -> Option<usize> {
        self.trigger_row(t).or_else(|| {
            (self.triggered..self.rows.len()).rev().find(|&i| {
                let row = &self.rows[i];
                match (row.first_change_s, row.last_change_s) {
                    (Some(first), Some(last)) => first - 1e-6 <= t && t <= last + QUIET_S,
                    _ => false,
                }
            })
        })
    }
}

/// How a fault's member went: joined, left or crashed.
fn how(scenario: &Scenario, trigger: &TriggerAt) -> &'static str {
    match scenario.faults.get(trigger.fault).map(|f| f.kind.name()) {
        _ if trigger.joined => "joined",
        Some("member_crash") => "crashed",
        _ => "left",
    }
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
    // Each point's consumption and length (`None` for a run's last partial second when too
    // short to be a rate), and its lag.
    let of_group = |from: f64, to: f64| -> Vec<(Option<(f64, f64)>, u64)> {
        TimelinePoint::with_starts(&record.timeline)
            .filter(|(p, start)| p.t > from + 1e-3 && *start < to - 1e-3)
            .filter_map(|(p, start): (&TimelinePoint, f64)| {
                let g = p.groups.iter().find(|g| g.name == group)?;
                let length = p.t - start;
                Some((
                    (length >= MIN_RATE_S).then_some((g.consumed as f64, length)),
                    g.lag,
                ))
            })
            .collect()
    };
    let (before, during) = (of_group(start - BEFORE_S, start), of_group(start, end));
    let (consumed, seconds) = (before.iter().filter_map(|(rate, _)| *rate))
        .fold((0.0, 0.0), |(c, s), (consumed, length)| {
            (c + consumed, s + length)
        });
    row.consumed_before_per_s = (seconds > 0.0).then(|| consumed / seconds);
    row.consumed_min_per_s = (during.iter().filter_map(|(rate, _)| *rate))
        .map(|(consumed, length)| consumed / length)
        .reduce(f64::min);
    row.lag_before = before.last().map_or(0, |(_, lag)| *lag);
    let lag_max = during.iter().map(|(_, lag)| *lag).max().unwrap_or(0);
    row.lag_added = lag_max.saturating_sub(row.lag_before);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger_rows(ats: &[f64]) -> Rows {
        let rows: Vec<RebalanceSummary> = ats
            .iter()
            .map(|&at| RebalanceSummary {
                at_s: at,
                ..RebalanceSummary::default()
            })
            .collect();
        Rows {
            triggered: rows.len(),
            unowned: vec![BTreeSet::new(); rows.len()],
            rows,
            assignments: Vec::new(),
        }
    }

    fn change(t: f64, assigned: bool, partitions: u32) -> ChangeAt {
        ChangeAt {
            t,
            member: 0,
            assigned,
            partitions,
        }
    }

    #[test]
    fn a_rebalance_that_outlasts_the_next_step_keeps_its_end_and_its_redeliveries() {
        // Step 1 at 5 s: the group revokes at 5.5 s and is assigned again only at 11 s, after
        // step 2 (10 s), which itself changes nothing until 16 s.
        let own = OwnershipRecord {
            gaps: (0..6)
                .map(|p| GapAt {
                    partition: (0, p),
                    from: 5.5,
                    to: Some(11.0),
                })
                .collect(),
            changes: vec![
                change(5.5, false, 6),
                change(11.0, true, 6),
                change(16.0, false, 2),
                change(16.2, true, 2),
            ],
            redelivered: vec![(11.3, 240), (16.4, 7)],
            ..OwnershipRecord::default()
        };
        let mut rows = trigger_rows(&[5.0, 10.0]);
        rows.attribute_changes(&own, false);
        rows.attribute_gaps(&own, &["t".into()], 30.0);
        rows.attribute_effects(&own);
        let (first, second) = (&rows.rows[0], &rows.rows[1]);
        assert_eq!((first.revoked, first.assigned), (6, 6));
        assert_eq!(
            (first.first_change_s, first.last_change_s),
            (Some(5.5), Some(11.0))
        );
        assert_eq!(first.redelivered, 240);
        assert!((first.unowned_partition_s - 33.0).abs() < 1e-9);
        assert_eq!(first.partitions_unowned, 6);
        assert_eq!(
            (second.revoked, second.assigned, second.redelivered),
            (2, 2, 7)
        );
    }

    #[test]
    fn an_assignment_is_split_between_the_rows_whose_gaps_it_ends_and_its_own() {
        // Step 1 (5 s) revoked 6 partitions at 5.5 s; step 2 (10 s) revokes 2 more at 10.5 s;
        // one assignment at 11 s hands all 8 out.
        let gap = |partition: i32, from: f64| GapAt {
            partition: (0, partition),
            from,
            to: Some(11.0),
        };
        let own = OwnershipRecord {
            gaps: (0..6)
                .map(|p| gap(p, 5.5))
                .chain((6..8).map(|p| gap(p, 10.5)))
                .collect(),
            changes: vec![
                change(5.5, false, 6),
                change(10.5, false, 2),
                change(11.0, true, 8),
            ],
            ..OwnershipRecord::default()
        };
        let mut rows = trigger_rows(&[5.0, 10.0]);
        rows.attribute_changes(&own, false);
        let counts: Vec<(u32, u32)> = rows.rows.iter().map(|r| (r.revoked, r.assigned)).collect();
        assert_eq!(counts, [(6, 6), (2, 2)]);
        assert_eq!(
            rows.assignments,
            [(11.0, 0)],
            "redeliveries go where most of it went"
        );
    }

    #[test]
    fn changes_no_trigger_explains_are_rows_of_their_own() {
        let own = OwnershipRecord {
            changes: vec![
                change(2.0, false, 3),
                change(3.0, true, 3),
                change(20.0, false, 1),
            ],
            ..OwnershipRecord::default()
        };
        let mut rows = trigger_rows(&[]);
        rows.attribute_changes(&own, false);
        assert_eq!(rows.rows.len(), 2, "2 s and 3 s are one; 20 s another");
        assert_eq!((rows.rows[0].revoked, rows.rows[0].assigned), (3, 3));
        // A late group's own join makes no row.
        let mut late = trigger_rows(&[]);
        late.attribute_changes(&own, true);
        assert!(late.rows.is_empty());
    }
}
