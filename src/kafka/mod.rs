//! Everything that talks to Kafka. The only module that names rdkafka.

pub mod admin;
pub mod auth;
pub mod consumer;
pub mod embedded;
pub mod producer;

use std::sync::Mutex;

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;

pub use admin::{
    BrokerInfo, ClusterInfo, TopicFacts, describe_topics, ensure_topics, probe, start_groups_at_end,
};
pub use consumer::{GroupMember, Polled, Record};
pub use embedded::EmbeddedCluster;
pub use producer::{Delivery, DeliverySink, EventProducer, SendOutcome};

/// A Kafka problem that stops the run before it can measure anything.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No broker answered within the timeout.
    #[error(
        "no broker at {servers} answered within {timeout_s}s ({detail})\n  fix: check --bootstrap / KAFKA_BOOTSTRAP_SERVERS, that the brokers run, and that this host can reach them; or omit the bootstrap to use the embedded broker"
    )]
    Unreachable {
        servers: String,
        timeout_s: u64,
        detail: String,
    },
    /// The broker refused our credentials.
    #[error(
        "the brokers at {servers} rejected authentication ({detail})\n  fix: check the credentials and the auth mode in [cluster]"
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
        "the TLS handshake with {servers} failed ({detail})\n  fix: check that the port is the cluster's TLS listener (MSK: 9094 TLS, 9096 SCRAM, 9098 IAM) and cluster.ca_file"
    )]
    Tls { servers: String, detail: String },
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

/// Replaces every secret property value found in `text` with `***`.
pub(crate) fn redact(text: &str, properties: &[(String, String)]) -> String {
    let mut clean = text.to_string();
    for (key, value) in properties {
        if crate::scenario::is_secret_property(key) && !value.is_empty() {
            clean = clean.replace(value.as_str(), "***");
        }
    }
    clean
}

/// Maps a client-creation error to a [`ConnectError`], with secrets redacted.
pub(crate) fn config_error(error: KafkaError, properties: &[(String, String)]) -> ConnectError {
    ConnectError::Config {
        detail: redact(&error.to_string(), properties),
    }
}

/// A client context that keeps the last few error reasons librdkafka reported.
#[derive(Default)]
pub(crate) struct ErrorLog {
    reasons: Mutex<Vec<String>>,
}

impl ErrorLog {
    pub(crate) fn push(&self, reason: &str) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        if reasons.len() < 20 && !reasons.iter().any(|r| r == reason) {
            reasons.push(reason.to_string());
        }
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
