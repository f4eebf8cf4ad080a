//! The dead-letter read-back: every dead-letter topic read from where this run's records
//! begin, and each group's dead-letter sends matched against what is there.

use std::time::Duration;

use super::consumer::{FailedEventIn, FailureState, GroupShared, Origin};
use super::record::FailureRecord;
use super::setup::{Run, run_tag};
use super::signals::StopSignal;
use crate::kafka::dlt::DltReadError;
use crate::scenario::Scenario;
use crate::summary::FailureSummary;

/// One dead-letter topic's read-back.
pub(super) struct DeadLetterRead {
    /// Index into the scenario's topics.
    pub topic: usize,
    pub records: Result<Vec<DltRecord>, DltReadError>,
}

/// One dead-letter record of this run, as read back.
#[derive(Debug)]
pub(super) struct DltRecord {
    group: String,
    /// The worker that wrote it, in a distributed run.
    worker: Option<u16>,
    topic: String,
    partition: i32,
    offset: i64,
    /// The event it carries, when it is one of this run's.
    meta: Option<crate::workload::EventMeta>,
}

/// Reads every dead-letter topic back from where this run's records begin to its end. After an
/// abort (a second signal, or a fatal cause) nothing is read: the run ends at once, and its
/// dead letters are reported as not read back.
pub(super) async fn read_dead_letters(run: &Run, stop: &StopSignal) -> Vec<DeadLetterRead> {
    let run_tag = run_tag(&run.run_id);
    let mut reads = Vec::new();
    for (topic, starts) in &run.dlt_starts {
        if stop.is_aborted() {
            reads.push(DeadLetterRead {
                topic: *topic,
                records: Err(DltReadError::Read(
                    "not read back: the run was stopped at once".into(),
                )),
            });
            continue;
        }
        let (servers, properties, name, starts, run_id, run_tag) = (
            run.servers.clone(),
            run.scenario.cluster.consumer.clone(),
            run.scenario.topics[*topic].name.clone(),
            starts.clone(),
            run.run_id,
            run_tag.clone(),
        );
        let timeout = run
            .scenario
            .limits
            .drain_timeout
            .max(Duration::from_secs(10));
        let read = tokio::task::spawn_blocking(move || {
            let mut records = Vec::new();
            crate::kafka::dlt::read_from(&servers, &properties, &name, &starts, timeout, |value| {
                let Ok(event) = serde_json::from_slice::<FailedEventIn>(value) else {
                    return;
                };
                if event.surge_run != run_tag {
                    return;
                }
                let meta = match crate::workload::decode(event.value.get().as_bytes(), &run_id) {
                    crate::workload::Decoded::Ours(meta) => Some(meta),
                    crate::workload::Decoded::Foreign => None,
                };
                records.push(DltRecord {
                    group: event.surge_group,
                    worker: event.surge_worker,
                    topic: event.topic,
                    partition: event.partition,
                    offset: event.offset,
                    meta,
                });
            })
            .map(|()| records)
        })
        .await
        .unwrap_or_else(|e| Err(DltReadError::Stopped(e.to_string())));
        reads.push(DeadLetterRead {
            topic: *topic,
            records: read,
        });
    }
    reads
}

/// A group's failure counts, with its dead-letter sends matched against the read-back: each
/// must be there exactly once, carrying the event it failed.
pub(super) fn failure_record(
    group: &GroupShared,
    state: &FailureState,
    read: Option<&Result<Vec<DltRecord>, DltReadError>>,
    scenario: &Scenario,
) -> FailureRecord {
    let dlt_topic = group
        .spec
        .failures
        .as_ref()
        .map_or(String::new(), |f| scenario.topics[f.dlt_topic].name.clone());
    let dead_lettered = state.dead_lettered.len() as u64;
    let mut errors = state.errors.clone();
    let (mut found, mut duplicates, mut mismatched) = (0u64, 0u64, 0u64);
    let dlt_found = match read {
        Some(Ok(records)) => {
            let mut seen: rustc_hash::FxHashMap<Origin, u32> = Default::default();
            // In a distributed run every worker reads the whole topic: each counts its own.
            let own = |r: &&DltRecord| r.group == group.spec.name && r.worker == group.worker;
            for record in records.iter().filter(own) {
                let origin = group
                    .topic_names
                    .iter()
                    .position(|t| *t == record.topic)
                    .map(|local| (local, record.partition, record.offset));
                let expected = origin.and_then(|o| state.dead_lettered.get(&o).map(|e| (o, e)));
                let intact = expected.filter(|(_, (key, sequence))| {
                    record.meta.is_some_and(|m| {
                        crate::metrics::KeyId::new(m.producer, m.aggregate, m.index) == *key
                            && m.sequence == *sequence
                    })
                });
                match intact {
                    Some((origin, _)) => {
                        let count = seen.entry(origin).or_default();
                        *count += 1;
                        if *count == 1 {
                            found += 1;
                        } else {
                            duplicates += 1;
                        }
                    }
                    None => mismatched += 1,
                }
            }
            Some(found)
        }
        Some(Err(reason)) => {
            errors.push(format!(
                "the dead-letter topic {dlt_topic} could not be read back, so no dead-letter send is verified: {reason}"
            ));
            None
        }
        None => None,
    };
    if mismatched > 0 {
        errors.push(format!(
            "{mismatched} dead-letter records on {dlt_topic} do not carry the event their origin fields name"
        ));
    }
    FailureRecord {
        counts: FailureSummary {
            dlt_topic,
            failed: state.failed,
            retried: state.retried,
            retries: state.retries,
            non_retryable: state.non_retryable,
            poisoned: state.poisoned,
            dead_lettered,
            dlt_acked: state.dlt_acked,
            dlt_found,
            dlt_duplicates: duplicates,
            dlt_mismatched: mismatched,
            dlt_lost: dead_lettered.saturating_sub(found),
            errors,
            ..Default::default()
        },
        retry_delay: state.retry_delay.clone(),
        e2e_failed: state.e2e_failed.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::EventMeta;

    fn scenario() -> Scenario {
        let text = r#"
[[topics]]
name = "orders"
partitions = 3

[[events]]
name = "OrderCreated"
topic = "orders"

[[phases]]
rate = "1k/s"
duration = "5s"

[[consumer_groups]]
name = "g"
topics = ["orders"]
failure_rate = 0.01
"#;
        crate::scenario::from_text(text)
    }

    fn meta(index: u32, sequence: u32) -> EventMeta {
        EventMeta {
            producer: 0,
            aggregate: 0,
            index,
            sequence,
            intended_at_us: 0,
        }
    }

    fn record(partition: i32, offset: i64, carried: Option<EventMeta>) -> DltRecord {
        DltRecord {
            group: "g".into(),
            worker: None,
            topic: "orders".into(),
            partition,
            offset,
            meta: carried,
        }
    }

    #[test]
    fn the_read_back_counts_each_dead_letter_once_and_names_missing_and_mismatched_ones() {
        let scenario = scenario();
        let group = GroupShared::new(0, &scenario, "run", None);
        let mut state = FailureState::default();
        for (offset, index) in [(10, 1), (11, 2), (12, 3), (13, 4)] {
            state
                .dead_lettered
                .insert((0, 0, offset), (crate::metrics::KeyId::new(0, 0, index), 0));
        }
        state.dlt_acked = 4;
        let read = Ok(vec![
            record(0, 10, Some(meta(1, 0))),
            // Written twice: found once, one duplicate.
            record(0, 11, Some(meta(2, 0))),
            record(0, 11, Some(meta(2, 0))),
            // Origin fields that name offset 12, carrying another event: not intact.
            record(0, 12, Some(meta(9, 0))),
            // Another group's record is not this group's business.
            DltRecord {
                group: "other".into(),
                ..record(0, 13, Some(meta(4, 0)))
            },
            // Nor another worker's, in a distributed run: that worker counts it.
            DltRecord {
                worker: Some(1),
                ..record(0, 13, Some(meta(4, 0)))
            },
        ]);
        let figures = failure_record(&group, &state, Some(&read), &scenario).counts;
        assert_eq!(figures.dead_lettered, 4);
        assert_eq!(figures.dlt_found, Some(2));
        assert_eq!(figures.dlt_duplicates, 1);
        assert_eq!(figures.dlt_mismatched, 1);
        // Offsets 12 (mismatched) and 13 (never written by this group) are lost.
        assert_eq!(figures.dlt_lost, 2);
        assert!(
            figures
                .errors
                .iter()
                .any(|e| e.contains("1 dead-letter records"))
        );
        // A topic that could not be read verifies nothing.
        let unread = Err(DltReadError::Read("timed out".to_string()));
        let figures = failure_record(&group, &state, Some(&unread), &scenario).counts;
        assert_eq!((figures.dlt_found, figures.dlt_lost), (None, 4));
        assert!(figures.errors.iter().any(|e| e.contains("timed out")));
    }
}
