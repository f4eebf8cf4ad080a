//! How far this host's clock is from the brokers': a worker's e2e latencies compare its
//! clock with another host's, so a distributed run measures each worker against the one
//! clock they share, the brokers'.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::Timestamp;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};

use super::{ClusterInfo, ConnectError, client_config, config_error, ensure_topics};
use crate::scenario::TopicSpec;

/// The topic the probes go to: the broker stamps each record with its own clock
/// (`message.timestamp.type=LogAppendTime`), and the ack carries that stamp back.
pub const CLOCK_TOPIC: &str = "surge-clock";

/// Probes sent; the one with the shortest round trip bounds the offset best.
const PROBES: usize = 20;

/// This host's clock against the brokers'.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockOffset {
    /// Broker clock minus this host's clock, in microseconds.
    pub offset_us: i64,
    /// How far the true offset may be from `offset_us`: half the probe's round trip, plus
    /// half a millisecond for the broker's millisecond stamp.
    pub uncertainty_us: u64,
}

/// This host's wall clock, in microseconds since the Unix epoch.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Measures the offset with acks=1 probes to [`CLOCK_TOPIC`] (created when missing), each
/// bounded by `timeout`.
pub async fn measure(
    servers: &str,
    properties: &[(String, String)],
    info: &ClusterInfo,
    timeout: Duration,
) -> Result<ClockOffset, ConnectError> {
    let topic = TopicSpec {
        name: CLOCK_TOPIC.into(),
        partitions: 1,
        replication_factor: (info.brokers.len() as i32).clamp(1, 3),
        config: vec![
            ("message.timestamp.type".into(), "LogAppendTime".into()),
            ("retention.ms".into(), "3600000".into()),
        ],
    };
    ensure_topics(servers, properties, &[topic], info, timeout).await?;
    let mut config = client_config(servers, properties);
    // One record at a time, acked by the leader alone: the idempotent producer (the scenario's
    // default) refuses acks=1, and a probe needs none of its guarantees.
    config
        .set("acks", "1")
        .set("enable.idempotence", "false")
        .set("linger.ms", "0")
        .set("message.timeout.ms", timeout.as_millis().max(1).to_string());
    let producer: FutureProducer = config.create().map_err(|e| config_error(e, properties))?;
    let mut best: Option<ClockOffset> = None;
    let mut last_problem = String::from("no probe was acked");
    for _ in 0..PROBES {
        let sent = unix_micros() as i64;
        let delivery = producer
            .send(
                FutureRecord::<(), str>::to(CLOCK_TOPIC).payload("surge clock probe"),
                timeout,
            )
            .await;
        let acked = unix_micros() as i64;
        match delivery {
            Ok(delivery) => match delivery.timestamp {
                Timestamp::LogAppendTime(ms) => {
                    let broker = ms * 1000 + 500;
                    let offset = ClockOffset {
                        offset_us: broker - (sent + acked) / 2,
                        uncertainty_us: ((acked - sent).max(0) / 2) as u64 + 500,
                    };
                    if best.is_none_or(|b| offset.uncertainty_us < b.uncertainty_us) {
                        best = Some(offset);
                    }
                }
                other => {
                    last_problem = format!(
                        "the broker stamped the probe with {other:?}, not LogAppendTime: topic {CLOCK_TOPIC} must have message.timestamp.type=LogAppendTime"
                    )
                }
            },
            Err((error, _)) => last_problem = error.to_string(),
        }
    }
    best.ok_or(ConnectError::TopicCreation {
        topic: CLOCK_TOPIC.into(),
        detail: last_problem,
    })
}
