//! A group's partition ownership across workers, for its rebalance rows: a partition is
//! unowned while no worker's member held it (each worker's gaps for it, intersected), and every
//! worker's member changes, fault triggers, redeliveries and disorder, in time order. Each
//! worker sees only its own members, so the group's gaps are where all of them saw one.

use std::collections::BTreeMap;

use crate::engine::{GapAt, OwnershipRecord};
use crate::metrics::ownership::GroupPartition;
use crate::scenario::{GroupSpec, Scenario};

/// The most entries of each kind a worker's record may hold (the engine keeps 100,000).
const MAX_ENTRIES: usize = 100_000;

/// Whether a worker's record fits `spec`'s partitions and the run: bounded lists, finite
/// times, gaps that end after they start, partitions the group reads, members it has slots
/// for; the problem otherwise.
pub(super) fn check(
    scenario: &Scenario,
    g: usize,
    spec: &GroupSpec,
    record: &OwnershipRecord,
) -> Result<(), String> {
    let key = |field: &str| format!("`share.groups[{g}].ownership.{field}`");
    // Closed gaps are capped; the ones still open at the end come on top, one a partition.
    let lengths = [
        (
            "gaps",
            record.gaps.len().saturating_sub(scenario.partitions_of(g)),
        ),
        ("changes", record.changes.len()),
        ("triggers", record.triggers.len()),
        ("redelivered", record.redelivered.len()),
        ("out_of_order", record.out_of_order.len()),
    ];
    if let Some((field, n)) = lengths.iter().find(|(_, n)| *n > MAX_ENTRIES) {
        return Err(format!(
            "{} holds {n} entries, more than a run keeps ({MAX_ENTRIES})",
            key(field)
        ));
    }
    let partition_of = |&(topic, partition): &GroupPartition| {
        (spec.topics.get(topic))
            .is_some_and(|&t| (0..scenario.topics[t].partitions).contains(&partition))
    };
    let finite = |t: f64| t.is_finite() && t.abs() < 1e9;
    for gap in &record.gaps {
        if !partition_of(&gap.partition)
            || !finite(gap.from)
            || gap.to.is_some_and(|to| !finite(to) || to < gap.from)
        {
            return Err(format!(
                "{} holds {gap:?}: not a gap of this group",
                key("gaps")
            ));
        }
    }
    let slots = scenario.member_slots(g);
    let partitions = scenario.partitions_of(g);
    if let Some(c) = (record.changes.iter()).find(|c| {
        !finite(c.t) || usize::from(c.member) >= slots || c.partitions as usize > partitions
    }) {
        return Err(format!(
            "{} holds {c:?}: not a member of this group",
            key("changes")
        ));
    }
    if let Some(t) = (record.triggers.iter()).find(|t| {
        !finite(t.t) || usize::from(t.member) >= slots || t.fault >= scenario.faults.len()
    }) {
        return Err(format!(
            "{} holds {t:?}: not a fault of this run",
            key("triggers")
        ));
    }
    // Each bucket counts events of the plan, at most.
    let most = crate::engine::Plan::new(&scenario.phases).total_events();
    let mut timed = record.redelivered.iter().chain(&record.out_of_order);
    if let Some((at, count)) = timed.find(|(t, count)| !finite(*t) || *count > most) {
        return Err(format!(
            "{} holds {count} events at {at} s",
            key("redelivered")
        ));
    }
    Ok(())
}

/// The group's record from every worker's.
pub(super) fn merged(records: &[&OwnershipRecord]) -> OwnershipRecord {
    let mut merged = OwnershipRecord {
        gaps: unowned_everywhere(records),
        truncated: records.iter().any(|r| r.truncated),
        ..OwnershipRecord::default()
    };
    for record in records {
        merged.changes.extend_from_slice(&record.changes);
        merged.triggers.extend_from_slice(&record.triggers);
        merged.redelivered.extend_from_slice(&record.redelivered);
        merged.out_of_order.extend_from_slice(&record.out_of_order);
    }
    merged.changes.sort_by(|a, b| a.t.total_cmp(&b.t));
    merged.triggers.sort_by(|a, b| a.t.total_cmp(&b.t));
    merged.redelivered.sort_by(|a, b| a.0.total_cmp(&b.0));
    merged.out_of_order.sort_by(|a, b| a.0.total_cmp(&b.0));
    merged
}

/// Per partition, the times every worker saw it without an owner of its own.
fn unowned_everywhere(records: &[&OwnershipRecord]) -> Vec<GapAt> {
    // Each record's gaps by partition, sorted: read once, not once a partition.
    let by_partition: Vec<BTreeMap<GroupPartition, Vec<(f64, f64)>>> =
        records.iter().map(|r| spans(r)).collect();
    let Some((first, rest)) = by_partition.split_first() else {
        return Vec::new();
    };
    let mut gaps = Vec::new();
    for (&partition, spans) in first {
        let mut common = spans.clone();
        for record in rest {
            let theirs = record.get(&partition).map_or(&[][..], Vec::as_slice);
            common = intersect(&common, theirs);
        }
        gaps.extend(common.into_iter().map(|(from, to)| GapAt {
            partition,
            from,
            to: to.is_finite().then_some(to),
        }));
    }
    gaps.sort_by(|a, b| a.from.total_cmp(&b.from));
    gaps
}

/// A record's gaps as sorted spans per partition (an open gap ends at infinity).
fn spans(record: &OwnershipRecord) -> BTreeMap<GroupPartition, Vec<(f64, f64)>> {
    let mut spans: BTreeMap<GroupPartition, Vec<(f64, f64)>> = BTreeMap::new();
    for g in &record.gaps {
        let end = g.to.unwrap_or(f64::INFINITY);
        spans.entry(g.partition).or_default().push((g.from, end));
    }
    for list in spans.values_mut() {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    spans
}

/// The times both sorted span lists cover.
fn intersect(a: &[(f64, f64)], b: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let (mut i, mut j, mut both) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (from, to) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if from < to {
            both.push((from, to));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    both
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ChangeAt;

    fn gap(partition: i32, from: f64, to: Option<f64>) -> GapAt {
        GapAt {
            partition: (0, partition),
            from,
            to,
        }
    }

    #[test]
    fn a_partition_is_unowned_only_while_no_worker_held_it() {
        // Worker 0 held partition 0 from 1 s to 5 s; worker 1 from 4 s on. Partition 1 only
        // worker 1 ever held, from 2 s.
        let zero = OwnershipRecord {
            gaps: vec![
                gap(0, -1.0, Some(1.0)),
                gap(0, 5.0, None),
                gap(1, -1.0, None),
            ],
            changes: vec![ChangeAt {
                t: 1.0,
                member: 0,
                assigned: true,
                partitions: 1,
            }],
            ..OwnershipRecord::default()
        };
        let one = OwnershipRecord {
            gaps: vec![gap(0, -0.5, Some(4.0)), gap(1, -0.5, Some(2.0))],
            changes: vec![ChangeAt {
                t: 0.5,
                member: 1,
                assigned: true,
                partitions: 1,
            }],
            truncated: true,
            ..OwnershipRecord::default()
        };
        let merged = merged(&[&zero, &one]);
        assert_eq!(
            merged.gaps,
            vec![gap(0, -0.5, Some(1.0)), gap(1, -0.5, Some(2.0))]
        );
        assert_eq!(
            merged.changes.iter().map(|c| c.member).collect::<Vec<_>>(),
            [1, 0]
        );
        assert!(merged.truncated);
        // A handover with a moment between: unowned for that moment only.
        let left = OwnershipRecord {
            gaps: vec![gap(0, 3.0, None)],
            ..OwnershipRecord::default()
        };
        let took = OwnershipRecord {
            gaps: vec![gap(0, -1.0, Some(3.25))],
            ..OwnershipRecord::default()
        };
        assert_eq!(merged_gaps(&left, &took), vec![gap(0, 3.0, Some(3.25))]);
    }

    fn merged_gaps(a: &OwnershipRecord, b: &OwnershipRecord) -> Vec<GapAt> {
        merged(&[a, b]).gaps
    }
}
