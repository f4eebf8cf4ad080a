//! The sizing model: from a measured capacity, estimate the brokers a target peak needs.
//! Pure arithmetic, labelled as an estimate wherever it is shown.

/// Kafka's standard throughput bound, as AWS's MSK sizing guidance states it.
pub const BOUND: &str = "cluster throughput <= brokers x min(storage throughput / RF, \
network out / (RF - 1 + consumer groups)) per broker";

/// The estimate, assuming throughput scales linearly with brokers (the bound above is linear
/// in brokers with everything else equal).
pub const FORMULA: &str =
    "brokers needed = ceil(brokers measured x peak x (1 + headroom) / sustained rate)";

/// Brokers needed to hold `peak` with `headroom` (0.3 = 30%), from a measured capacity.
pub fn brokers_needed(brokers: u32, sustained: f64, peak: f64, headroom: f64) -> Option<u32> {
    (sustained > 0.0 && brokers > 0).then(|| {
        ((brokers as f64) * peak * (1.0 + headroom) / sustained)
            .ceil()
            .max(1.0) as u32
    })
}

/// Monthly cost per 1,000 sustained events/s.
pub fn cost_per_thousand(monthly_cost: f64, sustained: f64) -> Option<f64> {
    (sustained > 0.0).then(|| monthly_cost / (sustained / 1000.0))
}

/// The upper bound of the formula in `BOUND`, in events/s, for event size `bytes`.
pub fn throughput_bound(
    brokers: u32,
    storage_mib_s: f64,
    network_out_mib_s: f64,
    replication: u32,
    groups: u32,
    bytes: f64,
) -> f64 {
    let rf = replication.max(1) as f64;
    let per_broker =
        (storage_mib_s / rf).min(network_out_mib_s / (rf - 1.0 + groups as f64).max(1.0));
    brokers as f64 * per_broker * 1024.0 * 1024.0 / bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_scale_linearly_and_round_up() {
        // 3 brokers sustain 60k/s; 100k/s with 30% headroom needs 130k/s: 6.5 -> 7 brokers.
        assert_eq!(brokers_needed(3, 60_000.0, 100_000.0, 0.3), Some(7));
        assert_eq!(brokers_needed(3, 200_000.0, 100_000.0, 0.3), Some(2));
        assert_eq!(brokers_needed(3, 0.0, 100_000.0, 0.3), None);
        assert_eq!(cost_per_thousand(2500.0, 125_000.0), Some(20.0));
        // 3 brokers, 250 MiB/s storage, 300 MiB/s out, RF 3, 2 groups, 1 KiB events:
        // min(250/3, 300/4) = 75 MiB/s per broker -> 225 MiB/s -> 230,400 events/s.
        assert_eq!(throughput_bound(3, 250.0, 300.0, 3, 2, 1024.0), 230_400.0);
    }
}
