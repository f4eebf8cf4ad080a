//! The clients' view of each broker over the run ([`crate::metrics::brokers`]): a row per
//! broker, its seconds, and how it fared in each fault's window.

use serde::{Deserialize, Serialize};

pub use crate::metrics::brokers::BrokerSecond;

/// One broker as surge's clients saw it, over the measured seconds (warmup left out; every
/// second is in `seconds`). Latencies come from librdkafka's per-client windows: a "p99" here
/// is the highest one-second p99 of any client, not a p99 of the run. `rtt_*` are the
/// producers' requests; the consumers' include the broker's fetch wait (`fetch_*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BrokerSummary {
    pub node: i32,
    /// Request round trip: the exact mean, and the worst client's p99 in the median second
    /// and in the worst second, in µs (`None`: nothing timed).
    pub rtt_mean_us: Option<u64>,
    pub rtt_p99_typical_us: Option<u64>,
    pub rtt_p99_peak_us: Option<u64>,
    pub rtt_max_us: Option<u64>,
    /// Consumers' round trips (fetch wait included): the median second's worst-client p99.
    pub fetch_p99_typical_us: Option<u64>,
    /// Seconds in which the broker answered no client ([`BrokerSecond::stalled`]).
    pub stalled_seconds: u64,
    /// Seconds in which some client's connection to it was down or reconnecting.
    #[serde(default)]
    pub down_seconds: u64,
    /// Time requests waited in the clients' output buffers: the worst second's p99, µs.
    pub queue_p99_peak_us: Option<u64>,
    /// Producers: time messages waited in the client before their request (batching), the
    /// median second's p99, µs.
    pub batching_p99_typical_us: Option<u64>,
    /// Throttle time the broker asked for: all of it added, and the longest (ms), and the
    /// seconds with any.
    pub throttle_ms: u64,
    pub throttle_max_ms: u64,
    pub throttled_seconds: u64,
    pub requests: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Of `bytes_out`, the producers'.
    #[serde(default)]
    pub produced_bytes_out: u64,
    pub retries: u64,
    pub timeouts: u64,
    pub disconnects: u64,
    /// Per applied fault, in the order of the summary's faults.
    #[serde(default)]
    pub faults: Vec<BrokerFault>,
    pub seconds: Vec<BrokerSecond>,
}

/// One broker during one fault: the seconds from the fault's start to the groups' recovery,
/// and one more (a client reports a second after what it measured).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BrokerFault {
    pub fault: String,
    pub rtt_p99_peak_us: Option<u64>,
    pub rtt_max_us: Option<u64>,
    pub stalled_seconds: u64,
    #[serde(default)]
    pub down_seconds: u64,
    pub timeouts: u64,
}

impl BrokerFault {
    /// How badly the broker fared: seconds unanswered or down, then its longest round trip.
    pub fn severity(&self) -> (u64, Option<u64>) {
        (self.stalled_seconds + self.down_seconds, self.rtt_max_us)
    }
}

/// Figures over a set of seconds.
fn peak<'a>(
    seconds: impl Iterator<Item = &'a BrokerSecond>,
    pick: fn(&BrokerSecond) -> Option<u32>,
) -> Option<u64> {
    seconds.filter_map(pick).max().map(u64::from)
}

fn typical<'a>(
    seconds: impl Iterator<Item = &'a BrokerSecond>,
    pick: fn(&BrokerSecond) -> Option<u32>,
) -> Option<u64> {
    let mut values: Vec<u32> = seconds.filter_map(pick).collect();
    values.sort_unstable();
    values
        .get(values.len().saturating_sub(1) / 2)
        .map(|&v| u64::from(v))
}

fn count<'a>(
    seconds: impl Iterator<Item = &'a BrokerSecond>,
    test: fn(&BrokerSecond) -> bool,
) -> u64 {
    seconds.filter(|s| test(s)).count() as u64
}

impl BrokerSummary {
    /// A broker's row from its seconds; `faults` are (name, start_s, end_s) windows.
    pub fn from_seconds(
        node: i32,
        seconds: Vec<BrokerSecond>,
        faults: &[(String, f64, f64)],
    ) -> BrokerSummary {
        let measured = || seconds.iter().filter(|s| !s.warmup);
        let sum = |pick: fn(&BrokerSecond) -> u64| measured().map(pick).sum::<u64>();
        let (sum_us, timed) = measured().fold((0u128, 0u64), |(s, c), second| {
            (
                s + u128::from(second.rtt_sum_us),
                c + u64::from(second.rtt_count),
            )
        });
        let faults = faults
            .iter()
            .map(|(fault, start, end)| {
                let inside = || {
                    seconds
                        .iter()
                        .filter(|s| s.t > start + 1e-3 && s.t - 2.0 < *end)
                };
                BrokerFault {
                    fault: fault.clone(),
                    rtt_p99_peak_us: peak(inside(), |s| s.rtt_p99_us),
                    rtt_max_us: peak(inside(), |s| s.rtt_max_us),
                    stalled_seconds: count(inside(), BrokerSecond::stalled),
                    down_seconds: count(inside(), |s| s.clients_down > 0),
                    timeouts: inside().map(|s| u64::from(s.timeouts)).sum(),
                }
            })
            .collect();
        BrokerSummary {
            node,
            rtt_mean_us: (timed > 0).then(|| (sum_us / u128::from(timed)) as u64),
            rtt_p99_typical_us: typical(measured(), |s| s.rtt_p99_us),
            rtt_p99_peak_us: peak(measured(), |s| s.rtt_p99_us),
            rtt_max_us: peak(measured(), |s| s.rtt_max_us),
            fetch_p99_typical_us: typical(measured(), |s| s.fetch_p99_us),
            stalled_seconds: count(measured(), BrokerSecond::stalled),
            down_seconds: count(measured(), |s| s.clients_down > 0),
            queue_p99_peak_us: peak(measured(), |s| s.queue_p99_us),
            batching_p99_typical_us: typical(measured(), |s| s.batching_p99_us),
            throttle_ms: sum(|s| u64::from(s.throttle_ms)),
            throttle_max_ms: measured()
                .map(|s| u64::from(s.throttle_max_ms))
                .max()
                .unwrap_or(0),
            throttled_seconds: count(measured(), |s| s.throttle_ms > 0),
            requests: sum(|s| u64::from(s.requests)),
            bytes_out: sum(|s| s.bytes_out),
            bytes_in: sum(|s| s.bytes_in),
            produced_bytes_out: sum(|s| s.produced_bytes_out),
            retries: sum(|s| u64::from(s.retries)),
            timeouts: sum(|s| u64::from(s.timeouts)),
            disconnects: sum(|s| u64::from(s.disconnects)),
            faults,
            seconds,
        }
    }
}

/// How much the brokers throttled the run's clients: a quota at work.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttling {
    /// The brokers that asked for throttle time at least once.
    pub brokers: Vec<i32>,
    /// Seconds in which some broker asked for throttle time, of the seconds any broker was
    /// reported.
    pub seconds: usize,
    pub of_seconds: usize,
    /// The longest throttle one response asked for, ms.
    pub max_ms: u64,
}

impl Throttling {
    /// A share of the seconds throttled that makes a run's latency and rate a quota's.
    pub const MATERIAL: f64 = 0.1;

    /// Whether it was throttled in a material share of its seconds.
    pub fn is_material(&self) -> bool {
        self.share() >= Self::MATERIAL
    }

    /// The share of the run's seconds that were throttled.
    pub fn share(&self) -> f64 {
        self.seconds as f64 / self.of_seconds.max(1) as f64
    }

    /// From the brokers' seconds; `None` when no broker throttled anyone.
    pub fn of(brokers: &[BrokerSummary]) -> Option<Throttling> {
        let throttled: Vec<i32> = brokers
            .iter()
            .filter(|b| b.throttle_ms > 0)
            .map(|b| b.node)
            .collect();
        if throttled.is_empty() {
            return None;
        }
        // Seconds are the ticker's, the same for every broker: keyed by their end in ms.
        let key = |s: &BrokerSecond| (s.t * 1000.0).round() as i64;
        // Over the measured seconds, as every other figure of the verdict.
        let measured = || {
            brokers
                .iter()
                .flat_map(|b| b.seconds.iter().filter(|s| !s.warmup))
        };
        let all: std::collections::BTreeSet<i64> = measured().map(key).collect();
        let hit: std::collections::BTreeSet<i64> =
            measured().filter(|s| s.throttle_ms > 0).map(key).collect();
        Some(Throttling {
            brokers: throttled,
            seconds: hit.len(),
            of_seconds: all.len(),
            max_ms: brokers.iter().map(|b| b.throttle_max_ms).max().unwrap_or(0),
        })
    }
}
