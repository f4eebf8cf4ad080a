//! Interval histograms added across workers, per tag and second from the shared start.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::metrics::{IntervalSample, Intervals};

use super::add;
use super::read::Worker;

/// One tag's interval at one second from the shared start; ordered by second, then tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    second: u64,
    /// Index into [`MergedIntervals::tags`].
    tag: usize,
}

/// Every worker's interval of one slot.
struct Added {
    /// The longest of the workers' intervals.
    duration_s: f64,
    histogram: Histogram<u64>,
}

/// Every worker's interval histograms, added per slot.
pub(super) struct MergedIntervals {
    tags: Vec<String>,
    slots: BTreeMap<Slot, Added>,
}

impl MergedIntervals {
    pub(super) fn of(workers: &[Worker]) -> MergedIntervals {
        let mut merged = MergedIntervals {
            tags: Vec::new(),
            slots: BTreeMap::new(),
        };
        for worker in workers {
            for interval in worker.run.histograms.intervals.iter() {
                let slot = Slot {
                    second: interval.start_s.round().max(0.0) as u64,
                    tag: merged.tag_index(interval.tag),
                };
                let histogram = interval.histogram();
                match merged.slots.get_mut(&slot) {
                    Some(added) => {
                        added.duration_s = added.duration_s.max(interval.duration_s);
                        add(&mut added.histogram, &histogram);
                    }
                    None => {
                        let duration_s = interval.duration_s;
                        merged.slots.insert(
                            slot,
                            Added {
                                duration_s,
                                histogram,
                            },
                        );
                    }
                }
            }
        }
        merged
    }

    /// The index of `tag`, added when new.
    fn tag_index(&mut self, tag: &str) -> usize {
        match self.tags.iter().position(|t| t == tag) {
            Some(i) => i,
            None => {
                self.tags.push(tag.to_string());
                self.tags.len() - 1
            }
        }
    }

    /// The added histogram of `tag` at `second`, if any worker had one.
    pub(super) fn get(&self, second: usize, tag: &str) -> Option<&Histogram<u64>> {
        self.tags
            .iter()
            .position(|t| t == tag)
            .and_then(|i| {
                self.slots.get(&Slot {
                    second: second as u64,
                    tag: i,
                })
            })
            .map(|added| &added.histogram)
    }

    /// The added intervals as a run of one process stores them.
    pub(super) fn stored(&self) -> Intervals {
        let mut stored = Intervals::spilling();
        for (slot, added) in &self.slots {
            stored.push(IntervalSample::new(
                slot.second as f64,
                added.duration_s,
                self.tags[slot.tag].clone(),
                &added.histogram,
            ));
        }
        stored.sort_by_start();
        stored
    }
}
