//! The embedded broker: librdkafka's in-process mock cluster, with fault injection.

use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

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

    /// Makes the next `count` requests of `api` fail with `error` (names as in
    /// [`crate::scenario::faults::FAULT_APIS`] and [`crate::scenario::faults::FAULT_ERRORS`]).
    pub fn request_errors(&self, api: &str, error: &str, count: u32) -> Result<(), String> {
        let api = api_key(api).ok_or_else(|| format!("unknown API `{api}`"))?;
        let error = error_code(error).ok_or_else(|| format!("unknown error `{error}`"))?;
        self.mock.request_errors(api, &vec![error; count as usize]);
        Ok(())
    }

    /// Drops the request errors still pending for `api`.
    pub fn clear_request_errors(&self, api: &str) {
        if let Some(api) = api_key(api) {
            self.mock.clear_request_errors(api);
        }
    }

    /// Moves a partition's leadership to `broker`.
    pub fn move_leader(&self, topic: &str, partition: i32, broker: i32) -> Result<(), String> {
        self.mock
            .partition_leader(topic, partition, Some(broker))
            .map_err(|e| e.to_string())
    }
}

fn api_key(name: &str) -> Option<RDKafkaApiKey> {
    use RDKafkaApiKey as K;
    Some(match name {
        "Produce" => K::Produce,
        "Fetch" => K::Fetch,
        "ListOffsets" => K::ListOffsets,
        "Metadata" => K::Metadata,
        "OffsetCommit" => K::OffsetCommit,
        "OffsetFetch" => K::OffsetFetch,
        "FindCoordinator" => K::FindCoordinator,
        "JoinGroup" => K::JoinGroup,
        "Heartbeat" => K::Heartbeat,
        "LeaveGroup" => K::LeaveGroup,
        "SyncGroup" => K::SyncGroup,
        "InitProducerId" => K::InitProducerId,
        _ => return None,
    })
}

fn error_code(name: &str) -> Option<RDKafkaRespErr> {
    use RDKafkaRespErr as E;
    Some(match name {
        "NOT_LEADER_OR_FOLLOWER" => E::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        "LEADER_NOT_AVAILABLE" => E::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        "REQUEST_TIMED_OUT" => E::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        "NOT_ENOUGH_REPLICAS" => E::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND" => E::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        "NETWORK_EXCEPTION" => E::RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
        "BROKER_NOT_AVAILABLE" => E::RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE,
        "KAFKA_STORAGE_ERROR" => E::RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
        "UNKNOWN_TOPIC_OR_PARTITION" => E::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        "COORDINATOR_NOT_AVAILABLE" => E::RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        "NOT_COORDINATOR" => E::RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        "COORDINATOR_LOAD_IN_PROGRESS" => E::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
        "REBALANCE_IN_PROGRESS" => E::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        "THROTTLING_QUOTA_EXCEEDED" => E::RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED,
        "OUT_OF_ORDER_SEQUENCE_NUMBER" => E::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
        "UNKNOWN_PRODUCER_ID" => E::RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::faults::{FAULT_APIS, FAULT_ERRORS};

    #[test]
    fn every_fault_api_and_error_a_scenario_may_name_is_mapped() {
        for api in FAULT_APIS {
            assert!(api_key(api).is_some(), "{api}");
        }
        for error in FAULT_ERRORS {
            assert!(error_code(error).is_some(), "{error}");
        }
    }
}
