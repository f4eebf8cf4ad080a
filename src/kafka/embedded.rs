//! The embedded broker: librdkafka's in-process mock cluster, with fault injection.

use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use super::ConnectError;

/// A mock cluster listening on loopback ports; dropped when the run ends.
pub struct EmbeddedCluster {
    mock: MockCluster<'static, DefaultProducerContext>,
    brokers: i32,
}

impl EmbeddedCluster {
    /// Starts `brokers` mock brokers on 127.0.0.1.
    pub fn start(brokers: i32) -> Result<EmbeddedCluster, ConnectError> {
        let mock = MockCluster::new(brokers).map_err(|e| ConnectError::Embedded {
            detail: e.to_string(),
        })?;
        Ok(EmbeddedCluster { mock, brokers })
    }

    /// The `host:port,...` list clients connect to.
    pub fn bootstrap_servers(&self) -> String {
        self.mock.bootstrap_servers()
    }

    /// How many brokers it runs.
    pub fn brokers(&self) -> i32 {
        self.brokers
    }

    /// Creates a topic (the mock does not implement CreateTopics through the admin API).
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
    ) -> Result<(), ConnectError> {
        self.mock
            .create_topic(name, partitions, replication_factor)
            .map_err(|e| ConnectError::TopicCreation {
                topic: name.to_string(),
                detail: e.to_string(),
            })
    }

    /// Takes a broker down (ids start at 1).
    pub fn broker_down(&self, broker: i32) -> Result<(), String> {
        self.mock.broker_down(broker).map_err(|e| e.to_string())
    }

    /// Brings a broker back up.
    pub fn broker_up(&self, broker: i32) -> Result<(), String> {
        self.mock.broker_up(broker).map_err(|e| e.to_string())
    }

    /// Adds round-trip time to every request a broker answers.
    pub fn set_round_trip_time(&self, broker: i32, delay: Duration) -> Result<(), String> {
        self.mock
            .broker_round_trip_time(broker, delay)
            .map_err(|e| e.to_string())
    }
}
