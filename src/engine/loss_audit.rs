//! Why each lost event was lost. After the drain, the partitions that hold a group's lost
//! events are read again, from the first offset the run acked to the last, by a reader of its
//! own (no group): an event found there was skipped by the group; one not found is missing
//! from the log, and the producers' evidence and the partition's offsets now say why.
//!
//! Causes, in the order they are tried:
//! - `skipped_by_group`: the log holds it; the group read past it (a member that committed
//!   beyond what it processed, or a seek);
//! - `acked_without_offset`: the broker acked it without an offset (a duplicate of a write it
//!   said it had) and the log does not hold it;
//! - `truncated`: the partition's acked offsets went back (an offset acked twice), or its end
//!   is below an acked offset: the log was truncated under the run (an unclean leader election,
//!   or acks below the ISR and a leader that died);
//! - `deleted_before_read`: the partition's log start moved past the first offset acked
//!   (retention or a delete-records before the group read it);
//! - `unexplained`: none of these, or the audit ran out of time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};

use super::producer::{InstanceShared, per_partition};
use crate::kafka::reader::{Span, read_spans, watermarks};
use crate::metrics::{KeyId, Partition};
use crate::scenario::Scenario;
use crate::summary::{LossCause, LossCauses};
use crate::workload::{Decoded, RUN_ID_LEN, decode};

/// At most this many lost events per group are looked for; the rest are `unexplained`.
pub(super) const MAX_AUDITED: usize = 100_000;
/// How long the audit may read.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(30);

/// An event: its key and sequence.
type EventId = (KeyId, u32);
/// Where the log holds a record: partition and offset.
pub type LogPlace = (Partition, i64);

/// One lost event and the partition its key was read from (`None`: never read).
#[derive(Debug, Clone, Copy)]
pub struct LostAt {
    pub key: KeyId,
    pub sequence: u32,
    pub partition: Option<Partition>,
}

/// What the producers saw, per scenario topic and partition.
pub(super) struct ProducerEvidence {
    /// The lowest and the highest offset acked (`i64::MAX` and -1: none).
    pub acked_low: Vec<Vec<i64>>,
    pub acked_high: Vec<Vec<i64>>,
    /// Acks at or below an offset the same producer had been acked before.
    pub rewinds: Vec<Vec<i64>>,
    /// Events acked without an offset.
    pub without_offset: FxHashSet<EventId>,
}

/// What every instance saw of the partitions' offsets, for the log audit.
pub(super) fn evidence(instances: &[Arc<InstanceShared>]) -> ProducerEvidence {
    ProducerEvidence {
        acked_low: per_partition(instances, |i| &i.acked_low, i64::MAX, i64::min),
        acked_high: per_partition(instances, |i| &i.acked_high, -1, i64::max),
        rewinds: per_partition(instances, |i| &i.rewinds, 0, i64::saturating_add),
        without_offset: instances
            .iter()
            .flat_map(|i| i.acked_without_offset())
            .collect(),
    }
}

/// One group's lost events, classed.
#[derive(Debug, Default, Clone)]
pub struct LossAudit {
    pub causes: LossCauses,
    /// Per lost event audited: its cause, and where the log holds it when it does.
    pub classed: FxHashMap<EventId, (LossCause, Option<LogPlace>)>,
    /// Why the audit is incomplete, when it is.
    pub note: Option<String>,
}

/// Classes every group's lost events (`lost[g]`): reads the partitions that hold them and
/// judges by what it finds and by the producers' `evidence`. The caller skips it when no group
/// lost anything.
pub(super) fn audit(
    scenario: &Scenario,
    servers: &str,
    run_id: &[u8; RUN_ID_LEN],
    lost: &[Vec<LostAt>],
    evidence: &ProducerEvidence,
) -> Vec<LossAudit> {
    let deadline = Instant::now() + AUDIT_TIMEOUT;
    let partitions = partitions_to_read(scenario, lost);
    // Only the topics that hold lost events are asked: one that no group reads (a dead-letter
    // topic) cannot void the audit. Topics not asked get no watermarks.
    let topics: Vec<(&str, i32)> = scenario
        .topics
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let asked = partitions.iter().any(|&(topic, _)| topic == i);
            (t.name.as_str(), if asked { t.partitions } else { 0 })
        })
        .collect();
    let properties = &scenario.cluster.consumer;
    let (marks, found, note) = match watermarks(servers, properties, &topics, AUDIT_TIMEOUT) {
        Err(error) => (
            None,
            FxHashMap::default(),
            Some(format!(
                "the log audit could not read the partitions' offsets: {error}"
            )),
        ),
        Ok(marks) => {
            let spans = spans(scenario, &partitions, &marks, evidence);
            let wanted: FxHashSet<EventId> =
                lost.iter().flatten().map(|l| (l.key, l.sequence)).collect();
            let (found, note) = look_for(servers, scenario, run_id, &spans, &wanted, deadline);
            (Some(marks), found, note)
        }
    };
    lost.iter()
        .map(|events| {
            let mut audit = LossAudit {
                note: note.clone(),
                ..LossAudit::default()
            };
            // Per partition, how many of the run's records the log start has passed: at most
            // that many missing events are put down to deletion.
            let mut deletable = deleted_counts(evidence, marks.as_deref());
            for event in events {
                let at = found.get(&(event.key, event.sequence)).copied();
                let cause = match at {
                    Some(_) => LossCause::SkippedByGroup,
                    None if note.is_some() => LossCause::Unexplained,
                    None => {
                        missing_cause(scenario, event, evidence, marks.as_deref(), &mut deletable)
                    }
                };
                audit.causes.count(cause);
                audit
                    .classed
                    .insert((event.key, event.sequence), (cause, at));
            }
            audit
        })
        .collect()
}

/// The (scenario topic, partition) pairs that hold the lost events: the key's partition, or
/// every partition of its topic for a key never read.
fn partitions_to_read(scenario: &Scenario, lost: &[Vec<LostAt>]) -> Vec<(usize, i32)> {
    let mut pairs: Vec<(usize, i32)> = Vec::new();
    for event in lost.iter().flatten() {
        let topic = scenario.aggregates[event.key.aggregate() as usize].topic;
        match event.partition {
            Some(p) => pairs.push((topic, p.partition() as i32)),
            None => pairs.extend((0..scenario.topics[topic].partitions).map(|p| (topic, p))),
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// What to read of each partition: from the first offset acked (or the log start, if later)
/// to one past the last offset acked (or the log end, if earlier).
fn spans(
    scenario: &Scenario,
    partitions: &[(usize, i32)],
    marks: &[Vec<(i64, i64)>],
    evidence: &ProducerEvidence,
) -> Vec<Span> {
    partitions
        .iter()
        .filter_map(|&(topic, partition)| {
            let p = partition as usize;
            let (low, high) = *marks.get(topic)?.get(p)?;
            let acked_low = *evidence.acked_low.get(topic)?.get(p)?;
            let acked_high = *evidence.acked_high.get(topic)?.get(p)?;
            Some(Span {
                topic: scenario.topics[topic].name.clone(),
                partition,
                from: low.max(acked_low.min(high)),
                to: high.min(acked_high.saturating_add(1)),
            })
        })
        .collect()
}

/// Reads the spans and returns where each wanted event sits; a note when the reading did not
/// finish (the events not found are then not judged missing).
fn look_for(
    servers: &str,
    scenario: &Scenario,
    run_id: &[u8; RUN_ID_LEN],
    spans: &[Span],
    wanted: &FxHashSet<EventId>,
    deadline: Instant,
) -> (FxHashMap<EventId, LogPlace>, Option<String>) {
    let mut found = FxHashMap::default();
    let topic_index = |name: &str| scenario.topics.iter().position(|t| t.name == name);
    let read = read_spans(
        servers,
        &scenario.cluster.consumer,
        spans,
        deadline,
        || false,
        |span, offset, value| {
            let Some(Decoded::Ours(meta)) = value.map(|v| decode(v, run_id)) else {
                return;
            };
            let key = KeyId::new(meta.producer, meta.aggregate, meta.index);
            if wanted.contains(&(key, meta.sequence)) {
                let s = &spans[span];
                let partition = Partition::new(topic_index(&s.topic).unwrap_or(0), s.partition);
                found
                    .entry((key, meta.sequence))
                    .or_insert((partition, offset));
            }
        },
    );
    let note = read.err().map(|e| {
        format!("the log audit did not finish, so the events it did not find are unexplained: {e}")
    });
    (found, note)
}

/// Per topic and partition, how many offsets of the run's acked stretch lie below the log
/// start (0 without watermarks).
fn deleted_counts(evidence: &ProducerEvidence, marks: Option<&[Vec<(i64, i64)>]>) -> Vec<Vec<u64>> {
    evidence
        .acked_low
        .iter()
        .enumerate()
        .map(|(topic, lows)| {
            lows.iter()
                .enumerate()
                .map(|(p, &low)| {
                    let start = marks
                        .and_then(|m| m.get(topic)?.get(p))
                        .map_or(0, |&(start, _)| start);
                    u64::try_from(start.saturating_sub(low)).unwrap_or(0)
                })
                .collect()
        })
        .collect()
}

/// Why an event the log does not hold is missing, from its partition's evidence (a key never
/// read: any partition of its topic). Deletion explains at most `deletable` events of a
/// partition, which each such event uses up.
fn missing_cause(
    scenario: &Scenario,
    event: &LostAt,
    evidence: &ProducerEvidence,
    marks: Option<&[Vec<(i64, i64)>]>,
    deletable: &mut [Vec<u64>],
) -> LossCause {
    if evidence
        .without_offset
        .contains(&(event.key, event.sequence))
    {
        return LossCause::AckedWithoutOffset;
    }
    let topic = scenario.aggregates[event.key.aggregate() as usize].topic;
    let partitions: Vec<usize> = match event.partition {
        Some(p) => vec![p.partition()],
        None => (0..scenario.topics[topic].partitions.max(0) as usize).collect(),
    };
    let at = |table: &[Vec<i64>], p: usize| table.get(topic).and_then(|t| t.get(p)).copied();
    let mark = |p: usize| marks.and_then(|m| m.get(topic)?.get(p).copied());
    let truncated = |p: usize| {
        let rewound = evidence
            .rewinds
            .get(topic)
            .and_then(|t| t.get(p))
            .is_some_and(|&n| n > 0);
        let end_below = matches!((at(&evidence.acked_high, p), mark(p)), (Some(high), Some((_, end))) if high >= end);
        rewound || end_below
    };
    if partitions.iter().any(|&p| truncated(p)) {
        return LossCause::Truncated;
    }
    let budget = deletable.get_mut(topic).and_then(|t| {
        let p = partitions
            .iter()
            .copied()
            .find(|&p| t.get(p).is_some_and(|&n| n > 0))?;
        t.get_mut(p)
    });
    match budget {
        Some(left) => {
            *left -= 1;
            LossCause::DeletedBeforeRead
        }
        None => LossCause::Unexplained,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One topic of 3 partitions.
    fn scenario() -> Scenario {
        crate::scenario::from_text(
            "[[topics]]\nname = \"orders\"\npartitions = 3\n\n[[events]]\nname = \"OrderCreated\"\ntopic = \"orders\"\n\n[[phases]]\nrate = \"1k/s\"\nduration = \"5s\"\n",
        )
    }

    fn evidence() -> ProducerEvidence {
        ProducerEvidence {
            acked_low: vec![vec![0, 0, 10]],
            acked_high: vec![vec![99, 99, 99]],
            rewinds: vec![vec![0, 0, 0]],
            without_offset: FxHashSet::default(),
        }
    }

    fn lost_in(partition: Option<i32>, index: u32) -> LostAt {
        LostAt {
            key: KeyId::new(0, 0, index),
            sequence: 3,
            partition: partition.map(|p| Partition::new(0, p)),
        }
    }

    #[test]
    fn an_event_missing_from_the_log_is_classed_by_its_partition_s_evidence() {
        let scenario = scenario();
        let mut evidence = evidence();
        // Log start and end per partition: 0's end is below its last ack, 2 starts past its
        // first ack, 1 is whole.
        let marks = vec![vec![(0, 60), (0, 100), (50, 100)]];
        let cause = |e: &ProducerEvidence, partition| {
            let mut deletable = deleted_counts(e, Some(&marks));
            missing_cause(
                &scenario,
                &lost_in(partition, 1),
                e,
                Some(&marks),
                &mut deletable,
            )
        };
        assert_eq!(cause(&evidence, Some(0)), LossCause::Truncated);
        assert_eq!(cause(&evidence, Some(2)), LossCause::DeletedBeforeRead);
        assert_eq!(cause(&evidence, Some(1)), LossCause::Unexplained);
        // An offset acked twice in partition 1: truncated and written over.
        evidence.rewinds[0][1] = 4;
        assert_eq!(cause(&evidence, Some(1)), LossCause::Truncated);
        // A key never read: any partition of its topic.
        assert_eq!(cause(&evidence, None), LossCause::Truncated);
        // Deletion explains no more events than the log start passed: 40 in partition 2.
        let mut deletable = deleted_counts(&evidence, Some(&marks));
        let causes: Vec<LossCause> = (0..41)
            .map(|i| {
                missing_cause(
                    &scenario,
                    &lost_in(Some(2), i),
                    &evidence,
                    Some(&marks),
                    &mut deletable,
                )
            })
            .collect();
        assert!(
            causes[..40]
                .iter()
                .all(|&c| c == LossCause::DeletedBeforeRead)
        );
        assert_eq!(causes[40], LossCause::Unexplained);
        // An ack without an offset names the event itself.
        evidence.without_offset.insert((KeyId::new(0, 0, 1), 3));
        assert_eq!(cause(&evidence, Some(1)), LossCause::AckedWithoutOffset);
    }

    #[test]
    fn only_the_acked_stretch_of_the_partitions_holding_lost_events_is_read() {
        let scenario = scenario();
        let lost = vec![
            vec![lost_in(Some(2), 1), lost_in(Some(2), 2)],
            vec![lost_in(None, 3)],
        ];
        let partitions = partitions_to_read(&scenario, &lost);
        assert_eq!(partitions, vec![(0, 0), (0, 1), (0, 2)]);
        let marks = vec![vec![(0, 60), (0, 120), (50, 100)]];
        let read: Vec<(i64, i64)> = spans(&scenario, &partitions, &marks, &evidence())
            .iter()
            .map(|s| (s.from, s.to))
            .collect();
        assert_eq!(read, vec![(0, 60), (0, 100), (50, 100)]);
    }
}
