//! Read-only views of a live cluster for `surge profile`: topic settings, consumer groups, and
//! records sampled from assigned partitions (no group joined, nothing committed).

use std::time::{Duration, Instant};

use rdkafka::admin::ResourceSpecifier;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};

use super::reader::{Span, read_messages};
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
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

/// Reads the spans, handing each record to `each` with its span's index, until all are read or
/// `deadline` passes (the error then says how far the read got; what was handed over stands).
pub fn sample_spans(
    servers: &str,
    properties: &[(String, String)],
    spans: &[Span],
    deadline: Instant,
    mut each: impl FnMut(usize, &SampledRecord<'_>),
) -> Result<(), String> {
    read_messages(
        servers,
        properties,
        spans,
        deadline,
        || false,
        |index, message| {
            let headers = message
                .headers()
                .map(|h| h.iter().map(|header| (header.key, header.value)).collect())
                .unwrap_or_default();
            let record = SampledRecord {
                key: message.key(),
                value_len: message.payload_len(),
                headers,
            };
            each(index, &record);
        },
    )
}
