//! A run's histograms: one per metric per second for the interval logs and timeline, and
//! one cumulative, warmup-free histogram per metric for the verdict and the spectrum chart.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

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

/// Tag of one failing group's cumulative retry-delay histogram (from an event's first failure
/// to its outcome).
pub fn retry_delay_tag(group: &str) -> String {
    format!("retry_delay.{group}")
}

/// Tag of one failing group's cumulative histogram of its failed events' e2e latency.
pub fn e2e_failed_tag(group: &str) -> String {
    format!("e2e_failed.{group}")
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
        decode(&self.encoded)
    }
}

/// Decodes a V2-encoded histogram; an unreadable one reads as empty.
fn decode(mut encoded: &[u8]) -> Histogram<u64> {
    Deserializer::new()
        .deserialize(&mut encoded)
        .unwrap_or_else(|_| new_histogram())
}

/// One stored interval: its bytes are read from the store only when its histogram is asked
/// for, so that picking intervals by tag or time reads nothing else.
#[derive(Debug, Clone, Copy)]
pub struct StoredInterval<'a> {
    pub start_s: f64,
    pub duration_s: f64,
    pub tag: &'a str,
    place: Place,
    store: &'a Intervals,
}

impl StoredInterval<'_> {
    /// Reads and decodes the histogram (an unreadable one reads as empty).
    pub fn histogram(&self) -> Histogram<u64> {
        match self.place {
            Place::Memory { offset, len } => {
                decode(&self.store.memory[offset..offset + len as usize])
            }
            Place::File { offset, len } => {
                let mut bytes = vec![0; len as usize];
                let read = self
                    .store
                    .file
                    .as_ref()
                    .is_some_and(|file| file.read_exact_at(&mut bytes, offset).is_ok());
                if read {
                    decode(&bytes)
                } else {
                    new_histogram()
                }
            }
        }
    }
}

/// Where one stored interval's bytes are.
#[derive(Debug, Clone, Copy)]
enum Place {
    File { offset: u64, len: u32 },
    Memory { offset: usize, len: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    start_s: f64,
    duration_s: f64,
    tag: u16,
    place: Place,
}

/// A run's interval histograms, in the order they were taken. During a run they go to an
/// unlinked temporary file, with only a small index entry per interval in memory: a second
/// of a run with three groups encodes to about 10 KB, which held in memory grew surge by
/// about 0.6 MB a minute (36 MB over an hour's soak; issue 11). Without a temporary file, or
/// when a write to it fails, intervals are kept in memory instead.
#[derive(Debug, Clone, Default)]
pub struct Intervals {
    tags: Vec<String>,
    entries: Vec<Entry>,
    file: Option<Arc<File>>,
    file_len: u64,
    memory: Vec<u8>,
}

impl Intervals {
    /// Intervals kept in a temporary file (in memory if none can be made).
    pub fn spilling() -> Intervals {
        Intervals {
            file: tempfile::tempfile().ok().map(Arc::new),
            ..Intervals::default()
        }
    }

    pub fn push(&mut self, sample: IntervalSample) {
        let tag = match self.tags.iter().position(|t| *t == sample.tag) {
            Some(index) => index,
            None => {
                self.tags.push(sample.tag);
                self.tags.len() - 1
            }
        } as u16;
        let len = sample.encoded.len() as u32;
        let written = self
            .file
            .as_ref()
            .is_some_and(|file| file.write_all_at(&sample.encoded, self.file_len).is_ok());
        let place = if written {
            let offset = self.file_len;
            self.file_len += u64::from(len);
            Place::File { offset, len }
        } else {
            let offset = self.memory.len();
            self.memory.extend_from_slice(&sample.encoded);
            Place::Memory { offset, len }
        };
        self.entries.push(Entry {
            start_s: sample.start_s,
            duration_s: sample.duration_s,
            tag,
            place,
        });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Encoded bytes stored: in the temporary file, and in memory.
    pub fn stored_bytes(&self) -> (u64, usize) {
        (self.file_len, self.memory.len())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        *self = Intervals {
            file: self.file.take(),
            ..Intervals::default()
        };
    }

    /// Tags that have intervals, in first-seen order.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// Orders the intervals by start time (stable: equal starts keep their order).
    pub fn sort_by_start(&mut self) {
        self.entries.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    }

    /// The interval stored `index`-th (in the order pushed, until sorted).
    pub fn get(&self, index: usize) -> Option<StoredInterval<'_>> {
        self.entries.get(index).map(|entry| StoredInterval {
            start_s: entry.start_s,
            duration_s: entry.duration_s,
            tag: &self.tags[entry.tag as usize],
            place: entry.place,
            store: self,
        })
    }

    /// Every interval, in order; each reads its bytes only when its histogram is asked for.
    pub fn iter(&self) -> impl Iterator<Item = StoredInterval<'_>> + '_ {
        self.entries.iter().map(|entry| StoredInterval {
            start_s: entry.start_s,
            duration_s: entry.duration_s,
            tag: &self.tags[entry.tag as usize],
            place: entry.place,
            store: self,
        })
    }
}

/// Every histogram of a run.
#[derive(Debug, Clone, Default)]
pub struct Histograms {
    pub intervals: Intervals,
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
        self.intervals.tags().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start_s: f64, tag: &str, values: &[u64]) -> IntervalSample {
        let mut histogram = new_histogram();
        for &v in values {
            histogram.record(v).unwrap();
        }
        IntervalSample::new(start_s, 1.0, tag.to_string(), &histogram)
    }

    fn round_trip(mut intervals: Intervals) {
        intervals.push(sample(1.0, PUBLISH, &[10, 20, 30]));
        intervals.push(sample(0.0, "e2e.a", &[1_500; 7]));
        intervals.push(sample(1.0, "e2e.a", &[]));
        intervals.push(sample(0.0, PUBLISH, &[1, 2]));
        assert_eq!(intervals.len(), 4);
        assert_eq!(intervals.tags(), [PUBLISH.to_string(), "e2e.a".to_string()]);
        intervals.sort_by_start();
        let back: Vec<(f64, String, u64, u64)> = intervals
            .iter()
            .map(|s| {
                let h = s.histogram();
                (s.start_s, s.tag.to_string(), h.len(), h.max())
            })
            .collect();
        assert_eq!(
            back,
            vec![
                (0.0, "e2e.a".into(), 7, 1_500),
                (0.0, PUBLISH.into(), 2, 2),
                (1.0, PUBLISH.into(), 3, 30),
                (1.0, "e2e.a".into(), 0, 0),
            ]
        );
        intervals.clear();
        assert!(intervals.is_empty() && intervals.tags().is_empty());
    }

    #[test]
    fn intervals_read_back_from_the_spill_file_and_from_memory() {
        let spilling = Intervals::spilling();
        assert!(spilling.file.is_some(), "a temporary file can be made here");
        round_trip(spilling);
        round_trip(Intervals::default());
    }

    #[test]
    fn spilled_intervals_keep_only_an_index_in_memory() {
        let mut intervals = Intervals::spilling();
        let values: Vec<u64> = (1..5_000).map(|v| v * 37).collect();
        for second in 0..100 {
            intervals.push(sample(second as f64, PUBLISH, &values));
        }
        assert!(intervals.memory.is_empty());
        assert!(
            intervals.file_len > 100 * 1_000,
            "{} bytes",
            intervals.file_len
        );
        let last = intervals.iter().last().unwrap().histogram();
        assert_eq!(last.len(), 4_999);
    }
}
