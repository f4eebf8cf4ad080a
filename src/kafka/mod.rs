//! Everything that talks to Kafka. The only module that names rdkafka.

pub mod admin;
pub mod auth;
pub mod bounded;
pub mod clock;
pub mod consumer;
pub mod dlt;
pub mod embedded;
pub mod producer;
pub mod profile;
pub mod reader;
pub mod stats;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;

pub use admin::{
    BrokerInfo, ClusterInfo, CommittedOffsets, TopicFacts, describe_topics, ensure_topics, probe,
    start_groups_at_end,
};
pub use consumer::{AssignmentChange, GroupMember, Polled, Record};
pub use dlt::DltProducer;
pub use embedded::EmbeddedCluster;
pub use producer::{Delivery, DeliverySink, EventProducer, SendOutcome};

/// A Kafka problem that stops the run before it can measure anything.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No broker answered within the timeout.
    #[error(
        "no broker at {servers} answered within {timeout_s}s ({detail})\n  fix: check --bootstrap / KAFKA_BOOTSTRAP_SERVERS, that the brokers run, and that this host can reach them (only a one-process `surge run` or `surge capacity` without a bootstrap uses the embedded broker)"
    )]
    Unreachable {
        servers: String,
        timeout_s: u64,
        detail: String,
    },
    /// The broker refused our credentials.
    #[error(
        "the brokers at {servers} rejected authentication ({detail})\n  fix: check the user name and password (cluster.username_env / password_env, SURGE_SASL_USERNAME / SURGE_SASL_PASSWORD) and the auth mode"
    )]
    AuthRejected { servers: String, detail: String },
    /// librdkafka refused a property.
    #[error(
        "librdkafka refused the client configuration: {detail}\n  fix: correct the property in [cluster.producer] / [cluster.consumer] or -X (see librdkafka's CONFIGURATION.md)"
    )]
    Config { detail: String },
    /// A topic could not be created.
    #[error(
        "cannot create topic `{topic}`: {detail}\n  fix: create it beforehand with the scenario's partitions and replication factor, or grant this client CreateTopics"
    )]
    TopicCreation { topic: String, detail: String },
    /// Credentials are missing or unusable.
    #[error("{detail}\n  fix: {fix}")]
    Credentials { detail: String, fix: String },
    /// The TLS handshake failed.
    #[error(
        "the TLS handshake with {servers} failed ({detail})\n  fix: check that the port is the cluster's TLS listener (MSK: 9094 TLS, 9096 SCRAM, 9098 IAM) and the CA: cluster.ca_file, --ca-file or SURGE_CA_FILE"
    )]
    Tls { servers: String, detail: String },
    /// A new group's starting offsets could not be committed.
    #[error(
        "cannot set the starting offsets of consumer group `{group}`: {detail}\n  fix: check that every partition of __consumer_offsets has a leader, and that this client may commit for the group (ACLs; MSK IAM: kafka-cluster:AlterGroup)"
    )]
    GroupOffsets { group: String, detail: String },
    /// The brokers answered a partition's offsets with an error.
    #[error(
        "the brokers would not give the offsets of {topic}/{partition}: {detail}\n  fix: check that `{topic}` exists and every partition of it has a leader (kafka-topics.sh --describe --topic {topic}) and that this client may describe it (ACLs; MSK IAM: kafka-cluster:DescribeTopic)"
    )]
    Offsets {
        topic: String,
        partition: i32,
        detail: String,
    },
    /// The embedded cluster could not start.
    #[error("the embedded broker could not start: {detail}")]
    Embedded { detail: String },
}

/// The OAUTHBEARER part of a client context: serve MSK IAM tokens from the cache.
macro_rules! iam_tokens_from_cache {
    () => {
        const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

        fn generate_oauth_token(
            &self,
            _config: Option<&str>,
        ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
            crate::kafka::auth::current_token()
        }
    };
}
pub(crate) use iam_tokens_from_cache;

/// librdkafka's version, e.g. `2.12.1`.
pub fn librdkafka_version() -> String {
    rdkafka::util::get_rdkafka_version().1
}

/// Builds a client configuration from ordered properties (later ones win).
pub(crate) fn client_config(bootstrap: &str, properties: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (key, value) in properties {
        config.set(key, value);
    }
    config
}

/// Asks again every 200 ms while the answer is an error that `passes` (one that goes away by
/// itself: a coordinator loading, a new partition's leader not yet elected), until `deadline`;
/// then, or on any other error, returns that error.
pub(crate) fn retry_while<T, E>(
    deadline: Instant,
    passes: impl Fn(&E) -> bool,
    mut request: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    loop {
        match request() {
            Err(error) if passes(&error) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            answer => return answer,
        }
    }
}

/// Replaces the values of the secret properties in `text` with `***` (see [`redact_values`]).
pub(crate) fn redact(text: &str, properties: &[(String, String)]) -> String {
    let secrets: Vec<&str> = properties
        .iter()
        .filter(|(key, value)| crate::scenario::is_secret_property(key) && !value.is_empty())
        .map(|(_, value)| value.as_str())
        .collect();
    let mut clean = redact_values(text, &secrets);
    // librdkafka quotes part of a structured value (sasl.oauthbearer.config's
    // `principal=admin extension_x=...`) from where it stopped parsing: each part of a
    // multi-part secret is a secret of its own, the longest first.
    let mut parts: Vec<&str> = secrets
        .iter()
        .flat_map(|value| value.split(|c: char| c.is_whitespace() || ",;=:".contains(c)))
        .filter(|part| part.chars().count() >= PART_FROM)
        .collect();
    parts.sort_by_key(|part| std::cmp::Reverse(part.len()));
    for part in parts {
        clean = clean.replace(part, "***");
    }
    clean
}

/// The parts of a structured secret at least this long are secrets of their own, replaced
/// wherever they appear (a part shorter than this is replaced where it stands as a value).
const PART_FROM: usize = 4;

/// Secrets at least this long are replaced wherever they appear: a match is the secret.
/// Shorter ones would match inside addresses and words ("1" in "127.0.0.1"), corrupting the
/// message and telling which characters the secret has.
const ANYWHERE_FROM: usize = 8;

/// Replaces each secret with `***`: a long one wherever it appears, a short one only where it
/// stands as a value (quoted whole, or whole after `=`, `= ` or `: `).
pub(crate) fn redact_values(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    // The longest first, so that a secret holding another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut clean = text.to_string();
    for secret in secrets {
        clean = if secret.chars().count() >= ANYWHERE_FROM {
            clean.replace(secret, "***")
        } else {
            replace_as_value(&clean, secret)
        };
    }
    clean
}

/// `text` with `secret` replaced where it stands as a whole value.
fn replace_as_value(text: &str, secret: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices(secret) {
        if at < copied {
            continue;
        }
        let (before, after) = (&text[..at], &text[at + secret.len()..]);
        let quoted = ['"', '\'']
            .iter()
            .any(|&q| before.ends_with(q) && after.starts_with(q));
        let assigned = (before.ends_with('=') || before.ends_with("= ") || before.ends_with(": "))
            && after
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || ",;)]}".contains(c));
        if quoted || assigned {
            out.push_str(&text[copied..at]);
            out.push_str("***");
            copied = at + secret.len();
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Maps a client-creation error to a [`ConnectError`], with secrets redacted.
pub(crate) fn config_error(error: KafkaError, properties: &[(String, String)]) -> ConnectError {
    ConnectError::Config {
        detail: redact(&error.to_string(), properties),
    }
}

/// The cause in one of librdkafka's error strings, without what differs between brokers and
/// attempts (thread, broker address, timing), so that one cause on three brokers reads once:
/// `[thrd:ssl://h:9093/bootstrap]: ssl://h:9093/bootstrap: SSL handshake failed: X (after 10ms
/// in state SSL_HANDSHAKE)` becomes `SSL handshake failed: X`.
pub(crate) fn cause(reason: &str) -> String {
    let mut text = reason.trim();
    if let Some(rest) = text
        .strip_prefix("[thrd:")
        .and_then(|r| r.split_once("]: "))
    {
        text = rest.1;
    }
    // "Global error: SSL (Local: SSL error): ssl://h:9093/bootstrap: ..." and the like.
    text = text.strip_prefix("Global error: ").unwrap_or(text);
    if let Some(at) = text
        .find("): ")
        .filter(|&at| text[..at].contains(" (Local: "))
    {
        text = &text[at + 3..];
    }
    if let Some((head, rest)) = text.split_once(": ")
        && head.contains("://")
        && !head.contains(' ')
    {
        text = rest;
    }
    let text = match text.rfind(" (after ") {
        Some(at) if text.ends_with(')') && text[at..].contains("in state") => &text[..at],
        _ => text,
    };
    text.to_string()
}

/// A client context that keeps the last few error reasons librdkafka reported.
#[derive(Default)]
pub(crate) struct ErrorLog {
    reasons: Mutex<Vec<String>>,
}

impl ErrorLog {
    pub(crate) fn push(&self, reason: &str) {
        let reason = cause(reason);
        let mut reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        if reasons.len() < 20 && !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }

    /// Whether any reason kept so far contains `text`.
    pub(crate) fn mentions(&self, text: &str) -> bool {
        let reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        reasons.iter().any(|r| r.contains(text))
    }

    pub(crate) fn summary(&self) -> String {
        let reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        reasons
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl ClientContext for ErrorLog {
    iam_tokens_from_cache!();

    fn error(&self, error: KafkaError, reason: &str) {
        self.push(&format!("{error}: {reason}"));
    }

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, _fac: &str, message: &str) {
        // TLS and SASL failures are reported as log lines, not as errors.
        use rdkafka::config::RDKafkaLogLevel as Level;
        if matches!(
            level,
            Level::Emerg | Level::Alert | Level::Critical | Level::Error | Level::Warning
        ) {
            self.push(message);
        }
    }
}

impl rdkafka::consumer::ConsumerContext for ErrorLog {}

#[cfg(test)]
mod tests {
    use super::cause;

    #[test]
    fn one_cause_on_three_brokers_reads_once() {
        let raw = "[thrd:ssl://127.0.0.1:9193/bootstrap]: ssl://127.0.0.1:9193/bootstrap: SSL handshake failed: certificate verify failed (after 10ms in state SSL_HANDSHAKE)";
        let global = "SSL (Local: SSL error): ssl://127.0.0.1:9194/bootstrap: SSL handshake failed: certificate verify failed (after 12ms in state SSL_HANDSHAKE)";
        assert_eq!(
            cause(raw),
            "SSL handshake failed: certificate verify failed"
        );
        assert_eq!(cause(raw), cause(global));
        // Text that is not one of librdkafka's prefixes stays whole.
        assert_eq!(
            cause("Broker: Not enough in-sync replicas"),
            "Broker: Not enough in-sync replicas"
        );
    }
}
