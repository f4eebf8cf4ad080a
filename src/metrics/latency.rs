//! Latency recording in microseconds with HDR histograms: an interval view for the
//! timeline and a cumulative view for the verdict.

use std::ops::AddAssign;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest trackable latency: one hour, in microseconds. Larger values saturate.
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;

/// A histogram of microseconds with three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_US, 3).expect("static histogram bounds are valid")
}

/// Records into an interval histogram (taken every second) and a cumulative one.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    interval: Histogram<u64>,
    total: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder {
            interval: new_histogram(),
            total: new_histogram(),
        }
    }
}

impl LatencyRecorder {
    /// Records one latency in microseconds into both views.
    #[inline]
    pub fn record(&mut self, micros: u64) {
        let value = micros.max(1);
        self.interval.saturating_record(value);
        self.total.saturating_record(value);
    }

    /// Records into the interval view only: seen on the timeline, left out of the verdict.
    #[inline]
    pub fn record_interval_only(&mut self, micros: u64) {
        self.interval.saturating_record(micros.max(1));
    }

    /// Hands over the interval histogram and starts a new interval.
    pub fn take_interval(&mut self) -> Histogram<u64> {
        let taken = self.interval.clone();
        self.interval.reset();
        taken
    }

    /// The cumulative histogram.
    pub fn total(&self) -> &Histogram<u64> {
        &self.total
    }
}

impl AddAssign<&LatencyRecorder> for LatencyRecorder {
    fn add_assign(&mut self, other: &LatencyRecorder) {
        self.interval
            .add(&other.interval)
            .expect("recorders share bounds");
        self.total
            .add(&other.total)
            .expect("recorders share bounds");
    }
}

/// Percentiles of a histogram, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl LatencyStats {
    /// Summarises a histogram; an empty one gives zeros with `count == 0`.
    pub fn of(histogram: &Histogram<u64>) -> LatencyStats {
        if histogram.is_empty() {
            return LatencyStats::default();
        }
        let at = |q: f64| histogram.value_at_quantile(q);
        LatencyStats {
            count: histogram.len(),
            p50: at(0.50),
            p90: at(0.90),
            p95: at(0.95),
            p99: at(0.99),
            p999: at(0.999),
            max: histogram.max(),
            mean: (histogram.mean() * 10.0).round() / 10.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_recorders_equal_one_recorder_of_all_values() {
        let mut left = LatencyRecorder::default();
        let mut right = LatencyRecorder::default();
        let mut all = LatencyRecorder::default();
        for v in 1..=1000u64 {
            if v % 3 == 0 {
                left.record(v * 10)
            } else {
                right.record(v * 10)
            }
            all.record(v * 10);
        }
        left += &right;
        assert_eq!(
            LatencyStats::of(left.total()),
            LatencyStats::of(all.total())
        );
        let stats = LatencyStats::of(all.total());
        assert_eq!(stats.count, 1000);
        // Three significant digits: each value is reported as the top of its bucket.
        assert!((5000..=5005).contains(&stats.p50), "p50 {}", stats.p50);
        assert!((9495..=9505).contains(&stats.p95), "p95 {}", stats.p95);
        assert!((10_000..=10_010).contains(&stats.max), "max {}", stats.max);
    }

    #[test]
    fn interval_is_reset_after_take_but_total_keeps_everything() {
        let mut recorder = LatencyRecorder::default();
        recorder.record(100);
        recorder.record_interval_only(5);
        let first = recorder.take_interval();
        assert_eq!(first.len(), 2);
        recorder.record(200);
        assert_eq!(recorder.take_interval().len(), 1);
        assert_eq!(recorder.total().len(), 2);
        assert_eq!(LatencyStats::of(&new_histogram()).count, 0);
    }

    #[test]
    fn values_beyond_the_range_saturate_instead_of_failing() {
        let mut recorder = LatencyRecorder::default();
        recorder.record(0);
        recorder.record(u64::MAX);
        assert_eq!(recorder.total().len(), 2);
        assert_eq!(recorder.total().min(), 1);
    }
}
