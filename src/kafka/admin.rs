//! Preflight and topic setup: reach the cluster within a bound, list it, create topics.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use crate::scenario::TopicSpec;

use super::bounded::{BoundedConsumer, commit_within};
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

fn uses_tls(properties: &[(String, String)]) -> bool {
    properties
        .iter()
        .rev()
        .find(|(k, _)| k == "security.protocol")
        .is_some_and(|(_, v)| v.to_ascii_lowercase().contains("ssl"))
}

/// Whether the first bootstrap server accepts a TCP connection within a second.
fn tcp_reachable(servers: &str) -> bool {
    use std::net::{TcpStream, ToSocketAddrs};
    let first = servers.split(',').next().unwrap_or_default().trim();
    first
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok())
}

/// An admin client, and options that bound each of its requests by `timeout`.
pub(super) fn admin_client(
    servers: &str,
    properties: &[(String, String)],
    timeout: Duration,
) -> Result<(AdminClient<ErrorLog>, AdminOptions), ConnectError> {
    let admin = client_config(servers, properties)
        .create_with_context(ErrorLog::default())
        .map_err(|e| config_error(e, properties))?;
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    Ok((admin, options))
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
    // Serve a pending OAUTHBEARER token refresh before asking for metadata.
    let _ = consumer.poll(Duration::from_millis(50));
    let started = Instant::now();
    let metadata = metadata_within(&consumer, timeout).map_err(|error| {
        let logged = consumer.context().summary();
        let detail = redact(
            &if logged.is_empty() {
                error.to_string()
            } else {
                logged
            },
            properties,
        );
        // Rejected credentials first: a SASL failure happens over a working connection.
        if looks_like_auth(&error, &detail) {
            ConnectError::AuthRejected {
                servers: servers.to_string(),
                detail,
            }
        } else if uses_tls(properties) && (tcp_reachable(servers) || detail.contains("SSL")) {
            // The port takes TCP connections but librdkafka cannot talk to it over TLS.
            ConnectError::Tls {
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

/// The cluster's metadata, asked in growing slices (1, 2, then 4 s) until `timeout`. A refusal
/// of the credentials or of the TLS handshake by every broker that still holds after
/// [`REFUSAL_HOLDS`] ends the wait, where one long request would wait out the whole timeout for
/// an answer that cannot come.
fn metadata_within(
    consumer: &BaseConsumer<ErrorLog>,
    timeout: Duration,
) -> Result<rdkafka::metadata::Metadata, KafkaError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut slice = Duration::from_secs(1);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let error = match consumer.fetch_metadata(None, left.min(slice)) {
            Ok(metadata) => return Ok(metadata),
            Err(error) => error,
        };
        // librdkafka queues the reasons (TLS, SASL) as log and error events: serve them.
        for _ in 0..5 {
            let _ = consumer.poll(Duration::from_millis(20));
        }
        let refused =
            started.elapsed() >= REFUSAL_HOLDS && refused_by_every_broker(consumer.context());
        if Instant::now() >= deadline || refused {
            return Err(error);
        }
        slice = (slice * 2).min(Duration::from_secs(4));
    }
}

/// How long a refusal must last before it ends the wait: a SCRAM user created a moment ago
/// reaches every broker within it.
const REFUSAL_HOLDS: Duration = Duration::from_secs(3);

/// Every broker is down, and for a reason waiting does not cure: the credentials or the TLS
/// handshake were refused. A throttled connection (MSK IAM's "Too many connects", reported as
/// an authentication failure) is waited for.
fn refused_by_every_broker(log: &ErrorLog) -> bool {
    let refused = [
        "Authentication failed",
        "SASL authentication error",
        "SSL handshake failed",
    ]
    .iter()
    .any(|reason| log.mentions(reason));
    let throttled = ["Too many connects", "throttled", "Throttled"]
        .iter()
        .any(|reason| log.mentions(reason));
    refused && !throttled && log.mentions("brokers are down")
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
    let (admin, options) = admin_client(servers, properties, timeout)?;
    let new_topics: Vec<NewTopic> = missing
        .iter()
        .map(|t| {
            let replication = TopicReplication::Fixed(t.replication_factor);
            let topic = NewTopic::new(&t.name, t.partitions, replication);
            t.config.iter().fold(topic, |topic, (k, v)| topic.set(k, v))
        })
        .collect();
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
/// its members start there instead of replaying the topic's whole retention. With
/// `keep_committed` (one worker of several), a partition the group already has an offset for
/// keeps it: another worker started the group first, and may be reading already.
pub fn start_groups_at_end(
    servers: &str,
    properties: &[(String, String)],
    groups: &[(String, Vec<(String, i32)>)],
    timeout: Duration,
    keep_committed: bool,
) -> Result<(), ConnectError> {
    let mut topics: Vec<(&str, i32)> = Vec::new();
    for (topic, partitions) in groups.iter().flat_map(|(_, topics)| topics) {
        if !topics.iter().any(|(seen, _)| seen == topic) {
            topics.push((topic, *partitions));
        }
    }
    let marks = super::reader::watermarks(servers, properties, &topics, timeout)?;
    let mut ends = TopicPartitionList::new();
    for (&(topic, _), marks) in topics.iter().zip(marks) {
        for (partition, (_, high)) in (0..).zip(marks) {
            ends.add_partition_offset(topic, partition, Offset::Offset(high))
                .map_err(|e| config_error(e, properties))?;
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
        let committer = BoundedConsumer::new(committer);
        // A new cluster creates __consumer_offsets on the first group's first request, and
        // answers NOT_COORDINATOR (or loading) until its partitions have leaders: retry that.
        let deadline = Instant::now() + timeout;
        if keep_committed {
            let committed = until_coordinator_ready(deadline, group_id, properties, || {
                committer.committed_offsets(offsets.clone(), timeout)
            })?;
            let mut fresh = TopicPartitionList::new();
            for element in offsets.elements() {
                let kept = committed
                    .find_partition(element.topic(), element.partition())
                    .is_some_and(|c| matches!(c.offset(), Offset::Offset(_)));
                if !kept {
                    fresh
                        .add_partition_offset(
                            element.topic(),
                            element.partition(),
                            element.offset(),
                        )
                        .map_err(|e| config_error(e, properties))?;
                }
            }
            offsets = fresh;
            if offsets.count() == 0 {
                continue;
            }
        }
        until_coordinator_ready(deadline, group_id, properties, || {
            commit_within(
                &committer,
                &offsets,
                deadline.saturating_duration_since(Instant::now()),
            )
        })?;
    }
    Ok(())
}

/// Reads a group's committed offsets: what its members, in any process, have processed.
pub struct CommittedOffsets {
    consumer: BoundedConsumer<ErrorLog>,
    /// Per topic (in the given order), its partition count.
    topics: Vec<(String, i32)>,
}

impl CommittedOffsets {
    pub fn new(
        servers: &str,
        properties: &[(String, String)],
        group_id: &str,
        topics: Vec<(String, i32)>,
    ) -> Result<CommittedOffsets, ConnectError> {
        let mut config = client_config(servers, properties);
        config.set("group.id", group_id);
        let consumer = config
            .create_with_context(ErrorLog::default())
            .map_err(|e| config_error(e, properties))?;
        Ok(CommittedOffsets {
            consumer: BoundedConsumer::new(consumer),
            topics,
        })
    }

    /// Per topic and partition, the next offset the group will read (-1: none committed);
    /// `None` when the coordinator did not answer within `timeout`.
    pub fn read(&self, timeout: Duration) -> Option<Vec<Vec<i64>>> {
        let mut list = TopicPartitionList::new();
        for (topic, partitions) in &self.topics {
            for partition in 0..*partitions {
                list.add_partition(topic, partition);
            }
        }
        let committed = self.consumer.committed_offsets(list, timeout).ok()?;
        Some(
            self.topics
                .iter()
                .map(|(topic, partitions)| {
                    (0..*partitions)
                        .map(
                            |p| match committed.find_partition(topic, p).map(|e| e.offset()) {
                                Some(Offset::Offset(next)) => next,
                                _ => -1,
                            },
                        )
                        .collect()
                })
                .collect(),
        )
    }
}

/// Retries a group request while the coordinator moves or loads, until `deadline`.
fn until_coordinator_ready<T>(
    deadline: Instant,
    group_id: &str,
    properties: &[(String, String)],
    request: impl FnMut() -> Result<T, KafkaError>,
) -> Result<T, ConnectError> {
    super::retry_while(deadline, coordinator_not_ready, request).map_err(|error| {
        ConnectError::GroupOffsets {
            group: group_id.to_string(),
            detail: redact(&error.to_string(), properties),
        }
    })
}

/// Errors a group coordinator gives while it moves or loads: they pass by themselves.
fn coordinator_not_ready(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::RequestTimedOut
        )
    )
}

/// What `surge check` learns about one topic the scenario uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicFacts {
    pub name: String,
    /// `None` when the topic does not exist.
    pub partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    /// `None` when the broker did not say (DescribeConfigs unsupported or denied).
    pub min_insync_replicas: Option<String>,
    /// For a missing topic: whether the broker would let this client create it.
    pub creatable: Option<Result<(), String>>,
}

/// Describes the scenario's topics: existence, partitions, replication, min.insync.replicas,
/// and for missing ones whether creation is allowed (asked with validate_only).
pub async fn describe_topics(
    servers: &str,
    properties: &[(String, String)],
    info: &ClusterInfo,
    topics: &[TopicSpec],
    timeout: Duration,
) -> Result<Vec<TopicFacts>, ConnectError> {
    use rdkafka::admin::ResourceSpecifier;
    let (admin, options) = admin_client(servers, properties, timeout)?;
    let mut facts = Vec::new();
    for topic in topics {
        let existing = info.topics.iter().find(|(name, _, _)| name == &topic.name);
        let mut fact = TopicFacts {
            name: topic.name.clone(),
            partitions: existing.map(|t| t.1),
            replication_factor: existing.map(|t| t.2),
            min_insync_replicas: None,
            creatable: None,
        };
        if existing.is_some() {
            let described = tokio::time::timeout(
                timeout,
                admin.describe_configs(&[ResourceSpecifier::Topic(&topic.name)], &options),
            )
            .await;
            if let Ok(Ok(results)) = described {
                fact.min_insync_replicas = results
                    .into_iter()
                    .flatten()
                    .flat_map(|resource| resource.entries)
                    .find(|entry| entry.name == "min.insync.replicas")
                    .and_then(|entry| entry.value);
            }
        } else {
            let new_topic = NewTopic::new(
                &topic.name,
                topic.partitions,
                TopicReplication::Fixed(topic.replication_factor),
            );
            let validate = AdminOptions::new()
                .operation_timeout(Some(timeout))
                .request_timeout(Some(timeout))
                .validate_only(true);
            let outcome =
                tokio::time::timeout(timeout, admin.create_topics(&[new_topic], &validate)).await;
            fact.creatable = Some(match outcome {
                Err(_) => Err(format!("no answer within {}s", timeout.as_secs())),
                Ok(Err(error)) => Err(redact(&error.to_string(), properties)),
                Ok(Ok(results)) => match results.into_iter().next() {
                    Some(Err((_, code))) if code != RDKafkaErrorCode::TopicAlreadyExists => {
                        Err(code.to_string())
                    }
                    _ => Ok(()),
                },
            });
        }
        facts.push(fact);
    }
    Ok(facts)
}
