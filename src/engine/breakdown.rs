//! The latency breakdown of a run ([`LatencyBreakdown`]) from what its clients timed: surge's
//! histograms, librdkafka's windows, and each group's sampled ack-to-read times.

use hdrhistogram::Histogram;

use super::record::RunRecord;
use crate::metrics::brokers::Added;
use crate::scenario::{Scenario, property};
use crate::summary::{
    CONSUMER_SETTINGS, GroupBreakdown, LatencyBreakdown, PRODUCER_SETTINGS, Part, Setting,
};

/// `None` when nothing was acked in the measured phases, when the clients timed nothing (no
/// statistics: a merged run, or statistics turned off), and for a worker of a distributed
/// run (its events are read in other workers: the parts after the ack are not timed).
pub(super) fn breakdown(scenario: &Scenario, record: &RunRecord) -> Option<LatencyBreakdown> {
    let path = &record.client_path;
    if record.publish.is_empty() || path.batching.count == 0 || scenario.workers.count > 1 {
        return None;
    }
    let settings = settings(&scenario.cluster.producer, PRODUCER_SETTINGS)
        .chain(settings(&scenario.cluster.consumer, CONSUMER_SETTINGS))
        .collect();
    let groups = record
        .groups
        .iter()
        .filter_map(|group| {
            let delivery = group.delivery?;
            Some(GroupBreakdown {
                group: group.name.clone(),
                after_ack: Part {
                    mean_us: delivery.mean_us?,
                    p50_us: delivery.p50_us?,
                },
                timed: delivery.timed,
                read_before_ack: delivery.before_ack,
                untimed: delivery.untimed,
                e2e: measured(&group.e2e),
                median: delivery.median,
            })
        })
        .collect();
    Some(LatencyBreakdown {
        schedule_lag: measured(&record.schedule_lag),
        batching: windows(&path.batching),
        queue: windows(&path.queue),
        round_trip: windows(&path.round_trip),
        publish: measured(&record.publish),
        settings,
        groups,
    })
}

/// A part surge measured event by event.
fn measured(histogram: &Histogram<u64>) -> Part {
    Part {
        mean_us: histogram.mean().round() as i64,
        p50_us: histogram.value_at_quantile(0.5) as i64,
    }
}

/// A part librdkafka's windows timed.
fn windows(added: &Added) -> Option<Part> {
    let signed = |us: u64| i64::try_from(us).unwrap_or(i64::MAX);
    Some(Part {
        mean_us: signed(added.mean_us()?),
        p50_us: signed(added.p50_of_windows_us()?),
    })
}

/// Each of `names` with the value `properties` give it, or librdkafka's default.
fn settings<'a>(
    properties: &'a [(String, String)],
    names: &'a [(&str, &str)],
) -> impl Iterator<Item = Setting> + 'a {
    names
        .iter()
        .map(|(name, default)| match property(properties, name) {
            Some(value) => Setting {
                name: name.to_string(),
                value: value.to_string(),
                default: false,
            },
            None => Setting {
                name: name.to_string(),
                value: librdkafka_default(properties, name, default),
                default: true,
            },
        })
}

/// librdkafka's default for `name`, as it applies with `properties`: the idempotent producer
/// keeps at most 5 requests in flight.
fn librdkafka_default(properties: &[(String, String)], name: &str, default: &str) -> String {
    let idempotent = property(properties, "enable.idempotence").is_some_and(|v| v == "true");
    if name == "max.in.flight.requests.per.connection" && idempotent {
        "5".to_string()
    } else {
        default.to_string()
    }
}
