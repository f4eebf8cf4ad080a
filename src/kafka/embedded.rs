//! The embedded broker: librdkafka's in-process mock cluster, with fault injection.
//!
//! The mock is driven through librdkafka's C API rather than rust-rdkafka's `MockCluster`,
//! which cannot set the mock's group rebalance delay: see [`initial_rebalance_delay_ms`].

use std::ffi::{CStr, CString};
use std::ptr::NonNull;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::bindings as rdsys;
use rdkafka::client::{Client, DefaultClientContext};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr, RDKafkaType};

use super::ConnectError;

/// How long the mock's coordinator waits for more members after a classic group's first join
/// before it assigns partitions, for groups of at most `largest_group` members at the start.
///
/// librdkafka's mock takes Kafka's broker default, 3 s, which every embedded run spent before
/// its plan started. surge makes a group's members one after another, so a shorter wait still
/// gathers them in one rebalance if it covers their spread: the shipped Black Friday scenario
/// (groups of up to 5, 15 members in all, on this 2-core host) joined in 0.65-0.67 s in six
/// runs with 600 ms, while with 300 ms a member came late in two runs of three, and the
/// group's second rebalance (the mock waits `session.timeout.ms` - 1 s for it) took the join
/// to 5.3 and 17 s. So 150 ms a member, at least 600 ms, and never more than the old 3 s. A
/// member joining a group that has members waits as before; KIP-848 groups have no such wait.
fn initial_rebalance_delay_ms(largest_group: u16) -> i32 {
    (150 * i32::from(largest_group)).clamp(600, 3000)
}

/// A mock cluster listening on loopback ports; destroyed when dropped, before the client
/// handle it runs on.
pub struct EmbeddedCluster {
    mock: NonNull<rdsys::rd_kafka_mock_cluster_t>,
    _handle: Client<DefaultClientContext>,
    brokers: i32,
}

impl EmbeddedCluster {
    /// Starts `brokers` mock brokers on 127.0.0.1, for groups of at most `largest_group`
    /// members at their first join.
    pub fn start(brokers: i32, largest_group: u16) -> Result<EmbeddedCluster, ConnectError> {
        let failed = |detail: String| ConnectError::Embedded { detail };
        let config = ClientConfig::new();
        let native = config
            .create_native_config()
            .map_err(|e| failed(e.to_string()))?;
        let handle = Client::new(
            &config,
            native,
            RDKafkaType::RD_KAFKA_PRODUCER,
            DefaultClientContext,
        )
        .map_err(|e| failed(e.to_string()))?;
        // SAFETY: the handle is a live client; the mock it returns lives until destroyed in
        // `drop`, which runs before the handle is dropped.
        let mock = unsafe { rdsys::rd_kafka_mock_cluster_new(handle.native_ptr(), brokers) };
        let mock = NonNull::new(mock)
            .ok_or_else(|| failed("librdkafka could not start its mock cluster".into()))?;
        // SAFETY: a live mock; the setter takes the mock's lock.
        unsafe {
            rdsys::rd_kafka_mock_group_initial_rebalance_delay_ms(
                mock.as_ptr(),
                initial_rebalance_delay_ms(largest_group),
            )
        };
        Ok(EmbeddedCluster {
            mock,
            _handle: handle,
            brokers,
        })
    }

    fn ptr(&self) -> *mut rdsys::rd_kafka_mock_cluster_t {
        self.mock.as_ptr()
    }

    /// Runs one of the mock's commands, which wait for the mock's thread to carry them out, and
    /// gives that thread a moment before the next. The thread serves its commands before it
    /// empties its wake-up pipe, and librdkafka writes one wake-up per batch: a command sent
    /// in that gap has its wake-up read and thrown away with the last one's, and waits for the
    /// thread's next timer, up to a second. Seven commands back to back (a topic and its six
    /// leaders) took 0.2 to 3 s here, and 16-27 ms with a millisecond between them: the gap is
    /// missed unless the mock's thread is held off the core that long, and then a command
    /// waits, as before, at most a second.
    fn command(
        &self,
        call: impl FnOnce(*mut rdsys::rd_kafka_mock_cluster_t) -> RDKafkaRespErr,
    ) -> Result<(), String> {
        let answer = mock_op(call(self.ptr()));
        std::thread::sleep(Duration::from_millis(1));
        answer
    }

    /// The `host:port,...` list clients connect to.
    pub fn bootstrap_servers(&self) -> String {
        // SAFETY: a live mock returns a string it owns, copied here.
        let servers =
            unsafe { CStr::from_ptr(rdsys::rd_kafka_mock_cluster_bootstraps(self.ptr())) };
        servers.to_string_lossy().into_owned()
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
        let failed = |detail: String| ConnectError::TopicCreation {
            topic: name.to_string(),
            detail,
        };
        let topic = CString::new(name).map_err(|e| failed(e.to_string()))?;
        // SAFETY: a live mock and a NUL-terminated name, read during the call.
        self.command(|mock| unsafe {
            rdsys::rd_kafka_mock_topic_create(mock, topic.as_ptr(), partitions, replication_factor)
        })
        .map_err(failed)
    }

    /// Takes a broker down (ids start at 1).
    pub fn broker_down(&self, broker: i32) -> Result<(), String> {
        // SAFETY: a live mock.
        self.command(|mock| unsafe { rdsys::rd_kafka_mock_broker_set_down(mock, broker) })
    }

    /// Brings a broker back up.
    pub fn broker_up(&self, broker: i32) -> Result<(), String> {
        // SAFETY: a live mock.
        self.command(|mock| unsafe { rdsys::rd_kafka_mock_broker_set_up(mock, broker) })
    }

    /// Adds round-trip time to every request a broker answers.
    pub fn set_round_trip_time(&self, broker: i32, delay: Duration) -> Result<(), String> {
        let ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: a live mock.
        self.command(|mock| unsafe { rdsys::rd_kafka_mock_broker_set_rtt(mock, broker, ms) })
    }

    /// Makes the next `count` requests of `api` fail with `error` (names as in
    /// [`crate::scenario::faults::FAULT_APIS`] and [`crate::scenario::faults::FAULT_ERRORS`]).
    pub fn request_errors(&self, api: &str, error: &str, count: u32) -> Result<(), String> {
        let api = api_key(api).ok_or_else(|| format!("unknown API `{api}`"))?;
        let error = error_code(error).ok_or_else(|| format!("unknown error `{error}`"))?;
        let errors = vec![error; count as usize];
        // SAFETY: a live mock and an array of `errors.len()` codes, copied during the call.
        unsafe {
            rdsys::rd_kafka_mock_push_request_errors_array(
                self.ptr(),
                api as i16,
                errors.len(),
                errors.as_ptr(),
            )
        };
        Ok(())
    }

    /// Drops the request errors still pending for `api`.
    pub fn clear_request_errors(&self, api: &str) {
        if let Some(api) = api_key(api) {
            // SAFETY: a live mock.
            unsafe { rdsys::rd_kafka_mock_clear_request_errors(self.ptr(), api as i16) }
        }
    }

    /// Moves a partition's leadership to `broker`.
    pub fn move_leader(&self, topic: &str, partition: i32, broker: i32) -> Result<(), String> {
        let topic = CString::new(topic).map_err(|e| e.to_string())?;
        // SAFETY: a live mock and a NUL-terminated name, read during the call.
        self.command(|mock| unsafe {
            rdsys::rd_kafka_mock_partition_set_leader(mock, topic.as_ptr(), partition, broker)
        })
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        // SAFETY: created in `start` and destroyed once, here, before its handle.
        unsafe { rdsys::rd_kafka_mock_cluster_destroy(self.ptr()) }
    }
}

/// A mock call's answer, with librdkafka's words for an error.
fn mock_op(code: RDKafkaRespErr) -> Result<(), String> {
    if code == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Ok(());
    }
    // SAFETY: librdkafka returns a string that lives at least until this thread's next call of
    // it (static for known codes), copied at once.
    let text = unsafe { CStr::from_ptr(rdsys::rd_kafka_err2str(code)) };
    Err(text.to_string_lossy().into_owned())
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
