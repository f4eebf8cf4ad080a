//! The labelled broker type's published limits as a rate (`--broker-type`, `--brokers`): the
//! events/s a type's per-broker ingress and egress allow at the bytes an event took in the
//! probes. A capacity answer takes the tighter of that and the rate measured.

use crate::broker_types::{BrokerTypes, Measured, Throughput};
use crate::format::{format_number, thousands};
use crate::summary::{Summary, TypeLimit};

/// `name`'s limits on `brokers` brokers (else the cluster's count), at the bytes an event
/// took in `probe` (a probe's summary, best the one at the rate found).
pub fn type_limit(
    types: &BrokerTypes,
    name: &str,
    brokers: Option<u32>,
    probe: &Summary,
) -> TypeLimit {
    let brokers = brokers
        .unwrap_or(probe.cluster.brokers.min(u32::MAX as usize) as u32)
        .max(1);
    let mut limit = TypeLimit {
        name: name.to_string(),
        brokers,
        file: None,
        rate: None,
        bound_by: None,
        limit_mb_s: None,
        bytes_in: None,
        bytes_out: None,
        partitions_per_broker: None,
        partitions_recommended: None,
    };
    let Some(found) = types.get(name) else {
        return limit;
    };
    limit.name = found.name.clone();
    limit.file = Some(format!("{}, as of {}", types.file, types.as_of));
    let m = Measured::of(probe, brokers);
    limit.partitions_per_broker = m.replicas.map(|r| r as f64 / f64::from(brokers));
    limit.partitions_recommended = Some(found.partitions_recommended);
    let events = probe
        .peak()
        .filter(|p| p.seconds > 0.0)
        .map_or(probe.produced.achieved_rate, |p| p.achieved_rate);
    if !(events > 0.0 && m.ingress_mb_s > 0.0) {
        return limit;
    }
    let (per_in, per_out) = (m.ingress_mb_s / events, m.egress_mb_s / events);
    let mut bounds = vec![(
        "ingress",
        found.ingress_limit(m.replication_factor, m.groups),
        per_in,
    )];
    if let Throughput::Express { egress, .. } = found.throughput
        && per_out > 0.0
    {
        bounds.push(("egress", egress, per_out));
    }
    let (what, per_broker, rate) = bounds
        .into_iter()
        .map(|(what, mb_s, per_event)| (what, mb_s, mb_s * f64::from(brokers) / per_event))
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .expect("ingress is always a bound");
    limit.rate = Some(rate.floor());
    limit.bound_by = Some(what.to_string());
    limit.limit_mb_s = Some(per_broker);
    let mb = crate::summary::MB;
    limit.bytes_in = Some((per_in * mb).round());
    limit.bytes_out = Some((per_out * mb).round());
    limit
}

/// The rate to plan with: the measured one, or the type's limits' where they are tighter.
pub fn planning_rate(sustained: Option<f64>, limit: Option<&TypeLimit>) -> Option<f64> {
    sustained.map(|s| limit.and_then(|l| l.rate).map_or(s, |r| r.min(s)))
}

/// What a conclusion says of the type, starting with "; ".
pub fn describe(limit: &TypeLimit, sustained: Option<f64>, target: f64) -> String {
    let who = format!("{} x {}", limit.name, limit.brokers);
    let Some(file) = &limit.file else {
        return format!(
            "; broker type `{}` is not in the broker-type file: its limits are not checked",
            limit.name
        );
    };
    let mut text = match (limit.rate, &limit.bound_by, limit.limit_mb_s) {
        (Some(rate), Some(what), Some(mb_s)) => {
            let against = match sustained {
                Some(s) if rate < s => format!(
                    ", under the rate measured: plan on {} (headroom {})",
                    format_number(rate),
                    super::signed_headroom(rate, target)
                ),
                Some(_) => ", above the rate measured".to_string(),
                None => String::new(),
            };
            // The bytes the bound counts: in, or out to every group.
            let bytes = if what == "egress" {
                limit.bytes_out
            } else {
                limit.bytes_in
            };
            format!(
                "; {who}'s published limits allow {} events/s ({what} {} MB/s a broker at {} payload bytes an event){against}",
                format_number(rate),
                format_number(mb_s),
                format_number(bytes.unwrap_or(0.0)),
            )
        }
        _ => format!("; {who}'s published limits are not held: no probe acked an event"),
    };
    if limit.crowded() {
        text.push_str(&format!(
            "; its {} partitions a broker (replicas included) exceed {}'s recommended {}",
            thousands(limit.partitions_per_broker.unwrap_or(0.0).round() as u64),
            limit.name,
            thousands(u64::from(limit.partitions_recommended.unwrap_or(0)))
        ));
    }
    text.push_str(&format!(" (limits from {file})"));
    text
}
