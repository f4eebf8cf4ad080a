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

/// Probes sent. Each bounds the offset to an interval of its round trip plus the stamp's
/// millisecond; the probes land at different points of the broker's millisecond, so their
/// intervals together bound it far tighter than any one of them.
const PROBES: usize = 40;

/// This host's clock against the brokers'.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockOffset {
    /// Broker clock minus this host's clock, in microseconds.
    pub offset_us: i64,
    /// How far the true offset may be from `offset_us`: half the width of the interval every
    /// probe allows (at most half the shortest round trip plus half a millisecond).
    pub uncertainty_us: u64,
}

/// One acked probe: this host's clock when it was sent and acked, in microseconds, and the
/// broker's millisecond stamp.
#[derive(Debug, Clone, Copy)]
struct Probe {
    sent_us: i64,
    acked_us: i64,
    broker_ms: i64,
}

impl Probe {
    /// The offsets this probe allows: the broker stamped it at some instant of its
    /// millisecond, while this host's clock was between the send and the ack.
    fn bounds(&self) -> (i64, i64) {
        let stamp = self.broker_ms.saturating_mul(1000);
        (
            stamp.saturating_sub(self.acked_us),
            stamp.saturating_add(1000).saturating_sub(self.sent_us),
        )
    }
}

/// The offset every probe allows. When the intervals do not meet (a clock stepped while
/// probing), the probe with the shortest round trip alone bounds it.
fn offset_of(probes: &[Probe]) -> Option<ClockOffset> {
    let within = |(low, high): (i64, i64)| ClockOffset {
        offset_us: low + (high - low) / 2,
        uncertainty_us: ((high - low) / 2).max(0) as u64,
    };
    let (low, high) = probes
        .iter()
        .map(Probe::bounds)
        .reduce(|(l1, h1), (l2, h2)| (l1.max(l2), h1.min(h2)))?;
    if low <= high {
        return Some(within((low, high)));
    }
    let tightest = probes.iter().min_by_key(|p| p.acked_us - p.sent_us)?;
    Some(within(tightest.bounds()))
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
    let mut probes = Vec::with_capacity(PROBES);
    let mut last_problem = String::from("no probe was acked");
    for _ in 0..PROBES {
        let sent_us = unix_micros() as i64;
        let delivery = producer
            .send(
                FutureRecord::<(), str>::to(CLOCK_TOPIC).payload("surge clock probe"),
                timeout,
            )
            .await;
        let acked_us = unix_micros() as i64;
        match delivery {
            Ok(delivery) => match delivery.timestamp {
                Timestamp::LogAppendTime(broker_ms) => probes.push(Probe {
                    sent_us,
                    acked_us: acked_us.max(sent_us),
                    broker_ms,
                }),
                other => {
                    last_problem = format!(
                        "the broker stamped the probe with {other:?}, not LogAppendTime: topic {CLOCK_TOPIC} must have message.timestamp.type=LogAppendTime"
                    )
                }
            },
            Err((error, _)) => last_problem = error.to_string(),
        }
    }
    offset_of(&probes).ok_or(ConnectError::TopicCreation {
        topic: CLOCK_TOPIC.into(),
        detail: last_problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probes of a host whose clock is `offset_us` behind the broker's, each taking
    /// `round_trip_us` and stamped `stamp_after_us` after its send.
    fn probes(
        offset_us: i64,
        round_trip_us: i64,
        stamp_after_us: i64,
        starts: &[i64],
    ) -> Vec<Probe> {
        starts
            .iter()
            .map(|&sent_us| Probe {
                sent_us,
                acked_us: sent_us + round_trip_us,
                broker_ms: (sent_us + stamp_after_us + offset_us).div_euclid(1000),
            })
            .collect()
    }

    #[test]
    fn probes_at_different_points_of_the_millisecond_bound_the_offset_below_it() {
        // 40 probes of 300 us, 473 us apart at their start: they fall all over the millisecond.
        let starts: Vec<i64> = (0..40).map(|i| 1_700_000_000_000_000 + i * 473).collect();
        for offset in [-50_000, -500, 0, 437, 50_000] {
            let found = offset_of(&probes(offset, 300, 150, &starts)).unwrap();
            assert!(
                found.offset_us.abs_diff(offset) <= found.uncertainty_us,
                "{offset}: {found:?}"
            );
            // One probe alone allows 650 us either way; together they allow little more than
            // half the round trip, which no stamp can narrow.
            assert!(found.uncertainty_us <= 200, "{offset}: {found:?}");
        }
    }

    #[test]
    fn one_probe_allows_half_its_round_trip_and_half_a_millisecond() {
        let found = offset_of(&probes(2_000, 400, 200, &[1_000_000])).unwrap();
        assert_eq!(found.uncertainty_us, 700);
        assert!(found.offset_us.abs_diff(2_000) <= 700);
        assert!(offset_of(&[]).is_none());
    }

    #[test]
    fn a_clock_step_while_probing_falls_back_to_the_shortest_probe() {
        let mut all = probes(0, 800, 400, &[1_000_000]);
        // A step of 10 ms: its intervals cannot meet the first probe's.
        all.extend(probes(10_000, 200, 100, &[2_000_000]));
        let found = offset_of(&all).unwrap();
        assert_eq!(found.uncertainty_us, 600);
        assert!(found.offset_us.abs_diff(10_000) <= 600, "{found:?}");
    }
}
