//! Reading stretches of partitions without a consumer group: the dead-letter read-back and
//! `surge replay`.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use rustc_hash::FxHashMap;

use super::{ConnectError, ErrorLog, client_config, config_error, redact, retry_while};

/// The offsets `from..to` of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub topic: String,
    pub partition: i32,
    pub from: i64,
    pub to: i64,
}

/// The low and high watermark of every partition of each of `topics` (name, partition count),
/// all within `timeout`, asked through one client. A topic created a moment ago may answer
/// that a partition has no leader yet, or is unknown to the broker asked: those are asked
/// again ([`retry_while`]) until `timeout` has passed.
///
/// The earliest and the latest offsets are asked for in two requests that name each
/// partition's answer (`rd_kafka_offsets_for_times` with Kafka's -2 and -1), not with
/// `rd_kafka_query_watermark_offsets`: that one files its two answers in the order they
/// arrive, so an answer it retried after an error lands in the wrong place, and a partition
/// of 18 records read as (18, 18) on the embedded broker.
pub fn watermarks(
    servers: &str,
    properties: &[(String, String)],
    topics: &[(&str, i32)],
    timeout: Duration,
) -> Result<Vec<Vec<(i64, i64)>>, ConnectError> {
    let probe: BaseConsumer<ErrorLog> = client_config(servers, properties)
        .create_with_context(ErrorLog::default())
        .map_err(|e| config_error(e, properties))?;
    let deadline = Instant::now() + timeout;
    let asked = |topic: &str, partitions: i32, at: Offset| {
        let request = || {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100));
            offsets_at(&probe, topic, partitions, at, left)
        };
        retry_while(deadline, |(_, e)| settling(e), request).map_err(|(partition, e)| {
            let detail = redact(&e.to_string(), properties);
            if unanswered(&e) {
                ConnectError::Unreachable {
                    servers: servers.to_string(),
                    timeout_s: timeout.as_secs().max(1),
                    detail: format!("offsets of {topic}/{partition}: {detail}"),
                }
            } else {
                ConnectError::Offsets {
                    topic: topic.to_string(),
                    partition,
                    detail,
                }
            }
        })
    };
    topics
        .iter()
        .map(|&(topic, partitions)| {
            let low = asked(topic, partitions, Offset::Beginning)?;
            let high = asked(topic, partitions, Offset::End)?;
            Ok(low.into_iter().zip(high).collect())
        })
        .collect()
}

/// [`watermarks`] of one topic.
pub fn topic_watermarks(
    servers: &str,
    properties: &[(String, String)],
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<(i64, i64)>, ConnectError> {
    let mut marks = watermarks(servers, properties, &[(topic, partitions)], timeout)?;
    Ok(marks.pop().unwrap_or_default())
}

/// One ListOffsets round for every partition of `topic` at `at` (earliest or latest). An
/// error names the partition it is about (0 when it is about the whole request).
fn offsets_at(
    probe: &BaseConsumer<ErrorLog>,
    topic: &str,
    partitions: i32,
    at: Offset,
    timeout: Duration,
) -> Result<Vec<i64>, (i32, KafkaError)> {
    let mut asked = TopicPartitionList::new();
    for partition in 0..partitions {
        asked
            .add_partition_offset(topic, partition, at)
            .map_err(|e| (partition, e))?;
    }
    let answer = probe
        .offsets_for_times(asked, timeout)
        .map_err(|e| (0, e))?;
    let mut offsets = vec![None; partitions.max(0) as usize];
    for element in answer.elements_for_topic(topic) {
        let partition = element.partition();
        element.error().map_err(|e| (partition, e))?;
        if let (Offset::Offset(offset), Some(slot)) = (
            element.offset(),
            usize::try_from(partition)
                .ok()
                .and_then(|p| offsets.get_mut(p)),
        ) {
            *slot = Some(offset);
        }
    }
    offsets
        .into_iter()
        .zip(0..)
        .map(|(offset, partition)| {
            offset.ok_or((
                partition,
                KafkaError::OffsetFetch(RDKafkaErrorCode::UnknownPartition),
            ))
        })
        .collect()
}

/// No broker answered in time (librdkafka's own codes), as against a broker's error answer.
pub(super) fn unanswered(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        None | Some(
            RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
        )
    )
}

/// The reader's position (the next offset it will hand over) in each assigned span.
fn positions(
    reader: &BaseConsumer<ErrorLog>,
    index_of: &FxHashMap<(&str, i32), usize>,
) -> Vec<(usize, i64)> {
    let Ok(list) = reader.position() else {
        return Vec::new();
    };
    list.elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(next) => Some((*index_of.get(&(e.topic(), e.partition()))?, next)),
            _ => None,
        })
        .collect()
}

/// What a read's error says when an ACL refused it.
pub const REFUSED: &str = "this principal may not read the topic (Read is needed)";

/// An ACL's refusal.
fn refused(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
        )
    )
}

/// Answers about a partition that pass by themselves once a new topic's leaders are elected,
/// a broker that has just started has caught up, and every broker's metadata agrees.
fn settling(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::RequestTimedOut
                // A broker that has just started or taken over a partition: Kafka's own
                // clients retry these ListOffsets answers too.
                | RDKafkaErrorCode::UnknownLeaderEpoch
                | RDKafkaErrorCode::FencedLeaderEpoch
                | RDKafkaErrorCode::OffsetNotAvailable
                | RDKafkaErrorCode::KafkaStorageError
        )
    )
}

/// Reads every record of the spans, handing each (span index, offset, value) to `each`, until
/// all are read or `deadline` passes; then the error names the spans left and how far they got.
pub fn read_spans(
    servers: &str,
    properties: &[(String, String)],
    spans: &[Span],
    deadline: Instant,
    stopped: impl Fn() -> bool,
    mut each: impl FnMut(usize, i64, Option<&[u8]>),
) -> Result<(), String> {
    read_messages(
        servers,
        properties,
        spans,
        deadline,
        stopped,
        |index, message| each(index, message.offset(), message.payload()),
    )
}

/// [`read_spans`], handing each record whole (key, headers) to `each`.
pub(super) fn read_messages(
    servers: &str,
    properties: &[(String, String)],
    spans: &[Span],
    deadline: Instant,
    stopped: impl Fn() -> bool,
    mut each: impl FnMut(usize, &BorrowedMessage<'_>),
) -> Result<(), String> {
    let mut config = client_config(servers, properties);
    config
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("group.id", "surge-reader");
    let reader: BaseConsumer<ErrorLog> = config
        .create_with_context(ErrorLog::default())
        .map_err(|e| redact(&e.to_string(), properties))?;
    let mut assignment = TopicPartitionList::new();
    for span in spans.iter().filter(|s| s.to > s.from) {
        assignment
            .add_partition_offset(&span.topic, span.partition, Offset::Offset(span.from))
            .map_err(|e| e.to_string())?;
    }
    if assignment.count() == 0 {
        return Ok(());
    }
    reader.assign(&assignment).map_err(|e| e.to_string())?;
    let mut read_to: Vec<i64> = spans.iter().map(|s| s.from).collect();
    let index_of: FxHashMap<(&str, i32), usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.topic.as_str(), s.partition), i))
        .collect();
    // Spans not read to their end yet: counted down as each one finishes.
    let mut unfinished = assignment.count();
    // Moves a span's read position to `next`, counting the span finished when it passes the end.
    let advance = |read_to: &mut [i64], index: usize, next: i64, unfinished: &mut usize| {
        if read_to[index] < spans[index].to && next >= spans[index].to {
            *unfinished -= 1;
        }
        read_to[index] = read_to[index].max(next);
    };
    let mut polls = 0_u32;
    while unfinished > 0 {
        polls = polls.wrapping_add(1);
        // A span that ends in a transaction marker or an aborted record never hands over its
        // last offset: the reader's position passing the span's end finishes it.
        if polls.is_multiple_of(256) {
            for (index, next) in positions(&reader, &index_of) {
                advance(&mut read_to, index, next, &mut unfinished);
            }
        }
        if stopped() {
            return Err("stopped before the end (interrupted)".into());
        }
        if Instant::now() >= deadline {
            let behind: Vec<String> = (0..spans.len())
                .filter(|&i| read_to[i] < spans[i].to)
                .take(5)
                .map(|i| {
                    let s = &spans[i];
                    format!("{}/{} at {} of {}", s.topic, s.partition, read_to[i], s.to)
                })
                .collect();
            return Err(format!(
                "not read to the end in time ({}){}",
                behind.join(", "),
                match reader.context().summary() {
                    errors if errors.is_empty() => String::new(),
                    errors => format!(": {}", redact(&errors, properties)),
                }
            ));
        }
        match reader.poll(Duration::from_millis(100)) {
            None => {
                for (index, next) in positions(&reader, &index_of) {
                    advance(&mut read_to, index, next, &mut unfinished);
                }
            }
            // A refusal does not pass by itself: waiting for the deadline would only hide it.
            Some(Err(error)) if refused(&error) => {
                return Err(format!(
                    "{}: {REFUSED}",
                    redact(&error.to_string(), properties)
                ));
            }
            Some(Err(error)) => reader.context().push(&error.to_string()),
            Some(Ok(message)) => {
                let index = index_of.get(&(message.topic(), message.partition()));
                if let Some(&index) = index {
                    let offset = message.offset();
                    if offset < spans[index].to {
                        each(index, &message);
                    }
                    advance(&mut read_to, index, offset + 1, &mut unfinished);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::kafka::embedded::EmbeddedCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    /// An embedded broker with `records` keyed records in the two partitions of `marks`.
    pub(in crate::kafka) fn cluster_with(records: u32) -> (EmbeddedCluster, String) {
        let cluster = EmbeddedCluster::start(1, 1).unwrap();
        cluster.create_topic("marks", 2, 1).unwrap();
        let servers = cluster.bootstrap_servers();
        let producer: BaseProducer = client_config(&servers, &[]).create().unwrap();
        for i in 0..records {
            let key = i.to_string();
            producer
                .send(BaseRecord::to("marks").key(&key).payload("x"))
                .unwrap();
        }
        assert!(producer.flush(Duration::from_secs(10)).is_ok());
        (cluster, servers)
    }

    #[test]
    fn a_partition_without_a_leader_yet_is_asked_again() {
        let (cluster, servers) = cluster_with(40);
        // What a topic created a moment ago, or one whose leader is moving, answers.
        cluster
            .request_errors("ListOffsets", "NOT_LEADER_OR_FOLLOWER", 3)
            .unwrap();
        let marks = watermarks(&servers, &[], &[("marks", 2)], Duration::from_secs(20))
            .unwrap()
            .remove(0);
        assert_eq!(marks.len(), 2);
        assert_eq!(
            marks.iter().map(|(low, high)| high - low).sum::<i64>(),
            40,
            "{marks:?}"
        );
    }

    #[test]
    fn an_error_that_does_not_pass_by_itself_is_not_retried() {
        let (cluster, servers) = cluster_with(1);
        cluster
            .request_errors("ListOffsets", "KAFKA_STORAGE_ERROR", 1000)
            .unwrap();
        let error =
            watermarks(&servers, &[], &[("marks", 2)], Duration::from_secs(20)).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("marks/0") && text.contains("Disk error"),
            "{text}"
        );
        assert!(
            matches!(error, ConnectError::Offsets { partition: 0, .. }),
            "{text}"
        );
    }
}
