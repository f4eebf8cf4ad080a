//! A run's histograms: one per metric per second for the interval logs and timeline, and
//! one cumulative, warmup-free histogram per metric for the verdict and the spectrum chart.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

use super::latency::new_histogram;

/// Tag of the publish-latency histograms.
pub const PUBLISH: &str = "publish";
/// Tag of the schedule-lag histograms.
pub const SCHEDULE_LAG: &str = "schedule_lag";

/// Tag of one group's end-to-end latency histograms.
pub fn e2e_tag(group: &str) -> String {
    format!("e2e.{group}")
}

/// One interval histogram, kept encoded: a second's worth stays a few hundred bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalSample {
    /// Seconds since the plan started.
    pub start_s: f64,
    pub duration_s: f64,
    /// [`PUBLISH`], [`SCHEDULE_LAG`], or [`e2e_tag`].
    pub tag: String,
    encoded: Vec<u8>,
}

impl IntervalSample {
    /// Encodes a histogram in HdrHistogram's V2 format.
    pub fn new(
        start_s: f64,
        duration_s: f64,
        tag: String,
        histogram: &Histogram<u64>,
    ) -> IntervalSample {
        let mut encoded = Vec::new();
        // Serialising into memory only fails on histograms too large to encode: keep it empty.
        let _ = V2Serializer::new().serialize(histogram, &mut encoded);
        IntervalSample {
            start_s,
            duration_s,
            tag,
            encoded,
        }
    }

    /// Decodes the histogram.
    pub fn histogram(&self) -> Histogram<u64> {
        Deserializer::new()
            .deserialize(&mut self.encoded.as_slice())
            .unwrap_or_else(|_| new_histogram())
    }
}

/// Every histogram of a run.
#[derive(Debug, Clone, Default)]
pub struct Histograms {
    pub intervals: Vec<IntervalSample>,
    /// Cumulative histograms, warmup excluded, by tag.
    pub totals: Vec<(String, Histogram<u64>)>,
}

impl Histograms {
    /// The cumulative histogram of a tag.
    pub fn total(&self, tag: &str) -> Option<&Histogram<u64>> {
        self.totals.iter().find(|(t, _)| t == tag).map(|(_, h)| h)
    }

    /// Tags that have intervals, in first-seen order.
    pub fn interval_tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = Vec::new();
        for sample in &self.intervals {
            if !tags.contains(&sample.tag) {
                tags.push(sample.tag.clone());
            }
        }
        tags
    }
}
