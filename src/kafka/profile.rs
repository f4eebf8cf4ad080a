//! Read-only views of a live cluster for `surge profile`: topic settings, consumer groups, and
//! records sampled from assigned partitions (no group joined, nothing committed).

use std::time::{Duration, Instant};

use rdkafka::admin::ResourceSpecifier;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::reader::{Span, read_messages, unanswered};
use super::{ConnectError, ErrorLog, client_config, redact};

/// The topic settings a profile carries over into the scenario it writes.
pub const TOPIC_SETTINGS: [&str; 4] = [
    "min.insync.replicas",
    "retention.ms",
    "retention.bytes",
    "cleanup.policy",
];

/// Per topic (in the order asked), its [`TOPIC_SETTINGS`] as the broker describes them, or why
/// the broker did not (an ACL refusal, no answer in time).
pub async fn topic_settings(
    servers: &str,
    properties: &[(String, String)],
    topics: &[String],
    timeout: Duration,
) -> Result<Vec<Result<Vec<(String, String)>, String>>, ConnectError> {
    let (admin, options) = super::admin::admin_client(servers, properties, timeout)?;
    let resources: Vec<ResourceSpecifier> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let answer = tokio::time::timeout(timeout, admin.describe_configs(&resources, &options)).await;
    let results = match answer {
        Err(_) => {
            let why = format!("no answer to DescribeConfigs within {}s", timeout.as_secs());
            return Ok(topics.iter().map(|_| Err(why.clone())).collect());
        }
        Ok(Err(error)) => {
            let why = redact(&error.to_string(), properties);
            return Ok(topics.iter().map(|_| Err(why.clone())).collect());
        }
        Ok(Ok(results)) => results,
    };
    Ok(results
        .into_iter()
        .map(|result| match result {
            Err(code) => Err(format!("DescribeConfigs refused: {code}")),
            // A broker describes every setting of a topic it lets this principal describe,
            // defaults included: none at all is a refusal.
            Ok(resource) if resource.entries.is_empty() => Err(
                "the broker described none of its settings (DescribeConfigs on the topic is \
                 refused to this principal)"
                    .into(),
            ),
            Ok(resource) => Ok(resource
                .entries
                .into_iter()
                .filter(|e| TOPIC_SETTINGS.contains(&e.name.as_str()))
                .filter_map(|e| Some((e.name, e.value?)))
                .collect()),
        })
        .collect())
}

/// One consumer group as the cluster lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupListing {
    pub name: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, ...
    pub state: String,
    /// `consumer` for Kafka consumers; connectors and others say otherwise.
    pub protocol_type: String,
    pub members: usize,
}

/// Every group the cluster lists (ListGroups, then DescribeGroups), within `timeout`.
pub fn list_groups(
    servers: &str,
    properties: &[(String, String)],
    timeout: Duration,
) -> Result<Vec<GroupListing>, String> {
    let client: BaseConsumer<ErrorLog> = client_config(servers, properties)
        .create_with_context(ErrorLog::default())
        .map_err(|e| redact(&e.to_string(), properties))?;
    let list = client
        .fetch_group_list(None, timeout)
        .map_err(|e| redact(&e.to_string(), properties))?;
    Ok(list
        .groups()
        .iter()
        .map(|g| GroupListing {
            name: g.name().to_string(),
            state: g.state().to_string(),
            protocol_type: g.protocol_type().to_string(),
            members: g.members().len(),
        })
        .collect())
}

/// What the sample keeps of one record: never the key's or the value's bytes beyond this call.
pub struct SampledRecord<'a> {
    pub key: Option<&'a [u8]>,
    pub value_len: usize,
    /// Header names (read lossily: a name need not be UTF-8) and values.
    pub headers: Vec<(std::borrow::Cow<'a, str>, Option<&'a [u8]>)>,
}

/// Each header of `message`. rdkafka's own header iterator panics on a name that is not UTF-8,
/// and a record from another client may carry one: the names are read through librdkafka's C
/// call and converted lossily.
fn headers_of<'a>(
    message: &'a BorrowedMessage<'a>,
) -> Vec<(std::borrow::Cow<'a, str>, Option<&'a [u8]>)> {
    use rdkafka::bindings as rd;
    let mut headers = Vec::new();
    // SAFETY: the message outlives the returned borrows (lifetime 'a); librdkafka owns the
    // header list and the names and values it points to for as long as the message lives.
    unsafe {
        let mut list: *mut rd::rd_kafka_headers_t = std::ptr::null_mut();
        if rd::rd_kafka_message_headers(message.ptr(), &mut list)
            != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        {
            return headers;
        }
        for index in 0.. {
            let mut name: *const std::os::raw::c_char = std::ptr::null();
            let mut value: *const std::os::raw::c_void = std::ptr::null();
            let mut size: usize = 0;
            let found = rd::rd_kafka_header_get_all(list, index, &mut name, &mut value, &mut size);
            if found != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
                break;
            }
            let name = std::ffi::CStr::from_ptr(name).to_string_lossy();
            let value =
                (!value.is_null()).then(|| std::slice::from_raw_parts(value.cast::<u8>(), size));
            headers.push((name, value));
        }
    }
    headers
}

/// Reads the spans, handing each record to `each` with its span's index, until all are read,
/// `deadline` passes or `stopped` says so (the error then says how far the read got; what was
/// handed over stands).
pub fn sample_spans(
    servers: &str,
    properties: &[(String, String)],
    spans: &[Span],
    deadline: Instant,
    stopped: impl Fn() -> bool,
    mut each: impl FnMut(usize, &SampledRecord<'_>),
) -> Result<(), String> {
    read_messages(
        servers,
        properties,
        spans,
        deadline,
        stopped,
        |index, message| {
            let record = SampledRecord {
                key: message.key(),
                value_len: message.payload_len(),
                headers: headers_of(message),
            };
            each(index, &record);
        },
    )
}

/// A broker's answer about a partition, as against no answer ([`unanswered`]) or rejected
/// credentials.
fn answered(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::RDKafkaErrorCode as Code;
    !unanswered(error)
        && !matches!(
            error.rdkafka_error_code(),
            Some(Code::Authentication | Code::SaslAuthenticationFailed)
        )
}

/// Reads the end offsets of many partitions at once, through one client kept for the window.
pub struct EndOffsets {
    client: BaseConsumer<ErrorLog>,
    properties: Vec<(String, String)>,
    servers: String,
}

impl EndOffsets {
    pub fn new(servers: &str, properties: &[(String, String)]) -> Result<EndOffsets, ConnectError> {
        let client = client_config(servers, properties)
            .create_with_context(ErrorLog::default())
            .map_err(|e| super::config_error(e, properties))?;
        Ok(EndOffsets {
            client,
            properties: properties.to_vec(),
            servers: servers.to_string(),
        })
    }

    /// Per topic (name, partitions) and partition, its end offset: one ListOffsets request per
    /// leader for all of them, within `timeout`. librdkafka fails the whole request when one
    /// partition errs (a topic deleted meanwhile, a leader moving), so then each topic is asked
    /// on its own, and a topic that still errs is `None` for each of its partitions. Only no
    /// answer at all is an error.
    pub fn read(
        &self,
        topics: &[(String, i32)],
        timeout: Duration,
    ) -> Result<Vec<Vec<Option<i64>>>, ConnectError> {
        match self.ask(topics, timeout) {
            Ok(marks) => Ok(marks),
            Err(error) if answered(&error) => {
                let deadline = std::time::Instant::now() + timeout;
                Ok(topics
                    .iter()
                    .map(|topic| {
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        let asked = std::slice::from_ref(topic);
                        match self.ask(asked, left.max(Duration::from_millis(100))) {
                            Ok(mut marks) => marks.pop().unwrap_or_default(),
                            Err(_) => vec![None; topic.1.max(0) as usize],
                        }
                    })
                    .collect())
            }
            Err(error) => Err(ConnectError::Unreachable {
                servers: self.servers.clone(),
                timeout_s: timeout.as_secs().max(1),
                detail: format!(
                    "end offsets: {}",
                    redact(&error.to_string(), &self.properties)
                ),
            }),
        }
    }

    fn ask(
        &self,
        topics: &[(String, i32)],
        timeout: Duration,
    ) -> Result<Vec<Vec<Option<i64>>>, rdkafka::error::KafkaError> {
        let mut asked = TopicPartitionList::new();
        for (topic, partitions) in topics {
            for partition in 0..*partitions {
                let _ = asked.add_partition_offset(topic, partition, Offset::End);
            }
        }
        let answer = self.client.offsets_for_times(asked, timeout)?;
        Ok(topics
            .iter()
            .map(|(topic, partitions)| {
                (0..*partitions)
                    .map(|p| match answer.find_partition(topic, p) {
                        Some(e) if e.error().is_ok() => match e.offset() {
                            Offset::Offset(end) => Some(end),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::reader::tests::cluster_with;

    #[test]
    fn end_offsets_of_every_partition_come_in_one_reading() {
        let (cluster, servers) = cluster_with(40);
        let ends = EndOffsets::new(&servers, &[]).unwrap();
        let marks = ends
            .read(
                &[("marks".into(), 2), ("gone".into(), 1)],
                Duration::from_secs(10),
            )
            .unwrap();
        let total: i64 = marks[0].iter().map(|m| m.unwrap()).sum();
        assert_eq!(total, 40, "{marks:?}");
        assert_eq!(marks[1], [None], "a topic that does not exist has no end");
        // One partition's error fails librdkafka's whole request: each topic is asked again.
        cluster
            .request_errors("ListOffsets", "NOT_LEADER_OR_FOLLOWER", 1)
            .unwrap();
        let marks = ends
            .read(&[("marks".into(), 2)], Duration::from_secs(10))
            .unwrap();
        assert!(marks[0].iter().all(Option::is_some), "{marks:?}");
    }
}
