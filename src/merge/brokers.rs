//! The brokers as every worker's clients saw them: each broker's seconds from every worker,
//! aligned on the shared timeline (a worker's second ends within its tick of the others') and
//! added as one process adds its clients' ([`BrokerSecond::absorb`]).

use std::collections::BTreeMap;

use crate::metrics::brokers::BrokerSecond;

use super::read::Worker;

/// Per broker node, its seconds added across the workers, in time order.
pub(super) fn merged_brokers(workers: &[Worker]) -> BTreeMap<i32, Vec<BrokerSecond>> {
    // Per node, per whole second of the plan.
    let mut by_second: BTreeMap<i32, BTreeMap<i64, BrokerSecond>> = BTreeMap::new();
    for worker in workers {
        for broker in &worker.run.summary.brokers {
            let seconds = by_second.entry(broker.node).or_default();
            // A worker's late tick (its drain, its last partial second) can round onto the
            // second before: each of its seconds keeps a whole second of its own.
            let mut previous = i64::MIN;
            for second in broker.seconds.iter().filter(|s| s.t.is_finite()) {
                let key = (second.t.round() as i64).max(previous.saturating_add(1));
                previous = key;
                match seconds.get_mut(&key) {
                    Some(kept) => kept.absorb(second),
                    None => {
                        let mut first = second.clone();
                        first.t = key as f64;
                        seconds.insert(key, first);
                    }
                }
            }
        }
    }
    (by_second.into_iter())
        .map(|(node, seconds)| (node, seconds.into_values().collect()))
        .collect()
}
