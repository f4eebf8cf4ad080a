//! Where an event's milliseconds go, from its intended send time to its read: each part
//! from a source of its own, so that the parts added can be held against the end-to-end
//! latency measured directly.

use serde::{Deserialize, Serialize};

pub use crate::metrics::median_band::MedianEvent;

/// One part's mean and median, in µs. Means add up exactly; medians add up when one part
/// varies and the others hardly do, as at a low rate.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Part {
    pub mean_us: i64,
    pub p50_us: i64,
}

impl Part {
    fn plus(self, other: Part) -> Part {
        Part {
            mean_us: self.mean_us.saturating_add(other.mean_us),
            p50_us: self.p50_us.saturating_add(other.p50_us),
        }
    }
}

/// The parts of publish and end-to-end latency. A part is `None` when nothing timed it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatencyBreakdown {
    /// Intended send time to `produce()`: the generator's lateness (surge, every event).
    pub schedule_lag: Part,
    /// `produce()` until the event is put in a request: `linger.ms`, and waiting while a
    /// request is in flight (librdkafka's `int_latency`, every event).
    pub batching: Option<Part>,
    /// A request from built to written to the socket (librdkafka's `outbuf_latency`).
    pub queue: Option<Part>,
    /// A produce request's round trip: the network, the broker, and under acks=all its wait
    /// for the followers (librdkafka's `rtt`, every request).
    pub round_trip: Option<Part>,
    /// Publish latency as measured (intended send time to the ack callback).
    pub publish: Part,
    /// The client settings that drive the parts, as the clients use them.
    pub settings: Vec<Setting>,
    pub groups: Vec<GroupBreakdown>,
}

/// A client property and the value the clients use.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Setting {
    pub name: String,
    pub value: String,
    /// Not set by surge, the scenario or a flag: librdkafka's default.
    pub default: bool,
}

/// One group's share after the ack, and its end-to-end latency as measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupBreakdown {
    pub group: String,
    /// From the ack callback to the read, on a sample of events (`fetch.min.bytes`,
    /// `fetch.wait.max.ms`, the fetch's way back, the member's poll). Negative when events
    /// were read before their ack came back to the producer.
    pub after_ack: Part,
    /// Events timed from both sides, and how many of them were read before their ack.
    pub timed: u64,
    pub read_before_ack: u64,
    /// Events not timed because too many waited for their other side (the group lagged
    /// far): the timed ones are the others.
    #[serde(default)]
    pub untimed: u64,
    pub e2e: Part,
    /// The timed events around the e2e median, taken apart event by event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<MedianEvent>,
}

impl LatencyBreakdown {
    /// The producer's parts added: what publish latency should be, but for the way from the
    /// response to the ack callback, which nothing times.
    pub fn publish_parts(&self) -> Part {
        [self.batching, self.queue, self.round_trip]
            .into_iter()
            .flatten()
            .fold(self.schedule_lag, Part::plus)
    }

    /// Every part added for `group`: what its end-to-end latency should be.
    pub fn e2e_parts(&self, group: &GroupBreakdown) -> Part {
        self.publish_parts().plus(group.after_ack)
    }

    /// `group`'s median event taken apart: its time to the ack split among the producer's
    /// parts in the shares of their means (they are timed per event or per request, not for
    /// these events), then its time after the ack. The parts add up to its e2e exactly.
    pub fn median_parts(&self, group: &GroupBreakdown) -> Option<MedianParts> {
        let median = group.median?;
        let weights = [
            Some(self.schedule_lag),
            self.batching,
            self.queue,
            self.round_trip,
        ]
        .map(|p| p.map_or(0, |p| p.mean_us.max(0)) as f64);
        let total: f64 = weights.iter().sum();
        let mut split = [0i64; 4];
        if total > 0.0 {
            for (share, weight) in split.iter_mut().zip(weights).take(3) {
                *share = (median.to_ack_us as f64 * weight / total).round() as i64;
            }
        }
        // The round trip takes what rounding left, so that the parts add up.
        split[3] = (median.to_ack_us)
            .saturating_sub(split[..3].iter().fold(0i64, |a, b| a.saturating_add(*b)));
        Some(MedianParts {
            events: median.events,
            from_us: median.from_us,
            to_us: median.to_us,
            e2e_us: median.e2e_us,
            schedule_lag_us: split[0],
            batching_us: split[1],
            queue_us: split[2],
            round_trip_us: split[3],
            after_ack_us: median.after_ack_us,
        })
    }

    /// The value the clients use for `name`.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

/// A median event's parts ([`LatencyBreakdown::median_parts`]), in µs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianParts {
    pub events: u64,
    /// The e2e range the events lie in.
    pub from_us: u64,
    pub to_us: u64,
    pub e2e_us: i64,
    pub schedule_lag_us: i64,
    pub batching_us: i64,
    pub queue_us: i64,
    pub round_trip_us: i64,
    pub after_ack_us: i64,
}

/// The producer settings the parts depend on, with librdkafka's defaults.
pub const PRODUCER_SETTINGS: &[(&str, &str)] = &[
    ("linger.ms", "5"),
    ("batch.size", "1000000"),
    ("acks", "all"),
    ("max.in.flight.requests.per.connection", "1000000"),
];

/// The consumer settings the share after the ack depends on, with librdkafka's defaults.
pub const CONSUMER_SETTINGS: &[(&str, &str)] =
    &[("fetch.min.bytes", "1"), ("fetch.wait.max.ms", "500")];

#[cfg(test)]
mod tests {
    use super::*;

    fn part(mean_us: i64, p50_us: i64) -> Part {
        Part { mean_us, p50_us }
    }

    #[test]
    fn parts_add_means_and_medians_and_a_read_before_the_ack_subtracts() {
        let breakdown = LatencyBreakdown {
            schedule_lag: part(100, 90),
            batching: Some(part(10_000, 10_200)),
            queue: None,
            round_trip: Some(part(2_000, 1_900)),
            publish: part(12_300, 12_400),
            settings: Vec::new(),
            groups: Vec::new(),
        };
        assert_eq!(breakdown.publish_parts(), part(12_100, 12_190));
        let early = GroupBreakdown {
            group: "g".into(),
            after_ack: part(-200, -100),
            timed: 10,
            read_before_ack: 7,
            untimed: 0,
            e2e: part(12_000, 12_000),
            median: Some(MedianEvent {
                events: 3,
                e2e_us: 11_800,
                to_ack_us: 12_100,
                after_ack_us: -300,
                from_us: 11_000,
                to_us: 12_500,
            }),
        };
        assert_eq!(breakdown.e2e_parts(&early), part(11_900, 12_090));
        // The median event's 12.1 ms to the ack in the means' shares: 100 / 12,100 of it is
        // schedule lag, and so on; with the time after the ack they add up to its e2e.
        let median = breakdown.median_parts(&early).unwrap();
        assert_eq!(
            (median.schedule_lag_us, median.batching_us, median.queue_us),
            (100, 10_000, 0)
        );
        assert_eq!(median.round_trip_us, 2_000);
        let added = median.schedule_lag_us
            + median.batching_us
            + median.queue_us
            + median.round_trip_us
            + median.after_ack_us;
        assert_eq!(added, median.e2e_us);
        let hostile = LatencyBreakdown {
            schedule_lag: part(i64::MAX, i64::MAX),
            ..breakdown
        };
        assert_eq!(hostile.publish_parts().mean_us, i64::MAX);
    }
}
