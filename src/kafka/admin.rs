//! Preflight and topic setup: reach the cluster within a bound, list it, create topics.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use crate::scenario::TopicSpec;

use super::{ConnectError, ErrorLog, client_config, config_error, redact};

/// One broker as the cluster's metadata lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

/// What the preflight learned about the cluster.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub brokers: Vec<BrokerInfo>,
    /// Existing topics: name, partitions, replication factor of partition 0.
    pub topics: Vec<(String, i32, i32)>,
    /// How long the metadata request took.
    pub round_trip: Duration,
}

impl ClusterInfo {
    /// The partition count of an existing topic.
    pub fn partitions(&self, topic: &str) -> Option<i32> {
        self.topics
            .iter()
            .find(|(name, _, _)| name == topic)
            .map(|t| t.1)
    }
}

fn looks_like_auth(error: &KafkaError, detail: &str) -> bool {
    let code_says = matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed)
    );
    code_says || detail.contains("Authentication") || detail.contains("SASL")
}

/// Connects and lists brokers and topics, failing within `timeout`.
pub fn probe(
    servers: &str,
    properties: &[(String, String)],
    timeout: Duration,
) -> Result<ClusterInfo, ConnectError> {
    let consumer: BaseConsumer<ErrorLog> = client_config(servers, properties)
        .create_with_context(ErrorLog::default())
        .map_err(|e| config_error(e, properties))?;
    let started = Instant::now();
    let metadata = consumer.fetch_metadata(None, timeout).map_err(|error| {
        let logged = consumer.context().summary();
        let detail = redact(
            &if logged.is_empty() {
                error.to_string()
            } else {
                logged
            },
            properties,
        );
        if looks_like_auth(&error, &detail) {
            ConnectError::AuthRejected {
                servers: servers.to_string(),
                detail,
            }
        } else {
            ConnectError::Unreachable {
                servers: servers.to_string(),
                timeout_s: timeout.as_secs().max(1),
                detail,
            }
        }
    })?;
    let round_trip = started.elapsed();
    Ok(ClusterInfo {
        brokers: metadata
            .brokers()
            .iter()
            .map(|b| BrokerInfo {
                id: b.id(),
                host: b.host().to_string(),
                port: b.port(),
            })
            .collect(),
        topics: metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| {
                let replicas = t
                    .partitions()
                    .first()
                    .map_or(0, |p| p.replicas().len() as i32);
                (t.name().to_string(), t.partitions().len() as i32, replicas)
            })
            .collect(),
        round_trip,
    })
}

/// Creates the missing topics with the admin API; returns the names it created.
pub async fn ensure_topics(
    servers: &str,
    properties: &[(String, String)],
    topics: &[TopicSpec],
    existing: &ClusterInfo,
    timeout: Duration,
) -> Result<Vec<String>, ConnectError> {
    let missing: Vec<&TopicSpec> = topics
        .iter()
        .filter(|t| existing.partitions(&t.name).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let admin: AdminClient<DefaultClientContext> = client_config(servers, properties)
        .create()
        .map_err(|e| config_error(e, properties))?;
    let new_topics: Vec<NewTopic> = missing
        .iter()
        .map(|t| {
            let replication = TopicReplication::Fixed(t.replication_factor);
            let topic = NewTopic::new(&t.name, t.partitions, replication);
            t.config.iter().fold(topic, |topic, (k, v)| topic.set(k, v))
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let outcome = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        admin.create_topics(&new_topics, &options),
    )
    .await;
    let results = match outcome {
        Err(_) => {
            return Err(ConnectError::TopicCreation {
                topic: missing[0].name.clone(),
                detail: format!("no answer within {}s", timeout.as_secs()),
            });
        }
        Ok(Err(error)) => {
            return Err(ConnectError::TopicCreation {
                topic: missing[0].name.clone(),
                detail: redact(&error.to_string(), properties),
            });
        }
        Ok(Ok(results)) => results,
    };
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(ConnectError::TopicCreation {
                    topic: name,
                    detail: code.to_string(),
                });
            }
        }
    }
    Ok(created)
}

/// Commits, for each new group, the current end of every partition of its topics, so that
/// its members start there instead of replaying the topic's whole retention.
pub fn start_groups_at_end(
    servers: &str,
    properties: &[(String, String)],
    groups: &[(String, Vec<(String, i32)>)],
    timeout: Duration,
) -> Result<(), ConnectError> {
    let mut ends = TopicPartitionList::new();
    let probe: BaseConsumer<ErrorLog> = client_config(servers, properties)
        .create_with_context(ErrorLog::default())
        .map_err(|e| config_error(e, properties))?;
    let mut seen: Vec<&str> = Vec::new();
    for (_, topics) in groups {
        for (topic, partitions) in topics {
            if seen.contains(&topic.as_str()) {
                continue;
            }
            seen.push(topic);
            for partition in 0..*partitions {
                let (_, high) = probe
                    .fetch_watermarks(topic, partition, timeout)
                    .map_err(|e| ConnectError::Unreachable {
                        servers: servers.to_string(),
                        timeout_s: timeout.as_secs().max(1),
                        detail: format!("end offset of {topic}/{partition}: {e}"),
                    })?;
                ends.add_partition_offset(topic, partition, Offset::Offset(high))
                    .map_err(|e| config_error(e, properties))?;
            }
        }
    }
    for (group_id, topics) in groups {
        let mut offsets = TopicPartitionList::new();
        for element in ends.elements() {
            if topics.iter().any(|(t, _)| t == element.topic()) {
                offsets
                    .add_partition_offset(element.topic(), element.partition(), element.offset())
                    .map_err(|e| config_error(e, properties))?;
            }
        }
        let mut config = client_config(servers, properties);
        config.set("group.id", group_id);
        let committer: BaseConsumer<ErrorLog> = config
            .create_with_context(ErrorLog::default())
            .map_err(|e| config_error(e, properties))?;
        committer
            .commit(&offsets, CommitMode::Sync)
            .map_err(|e| ConnectError::Unreachable {
                servers: servers.to_string(),
                timeout_s: timeout.as_secs().max(1),
                detail: format!("starting offsets of group {group_id}: {e}"),
            })?;
    }
    Ok(())
}
