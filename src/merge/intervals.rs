//! Interval histograms added across workers, per tag and second from the shared start.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::metrics::{IntervalSample, Intervals, StoredInterval};

use super::add;
use super::read::Worker;

/// One tag's interval at one second from the shared start; ordered by second, then tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    second: u64,
    /// Index into [`MergedIntervals::tags`].
    tag: usize,
}

/// Every worker's interval histograms, added per slot and kept encoded (in the temporary file
/// a run's intervals go to): memory holds an index entry per slot, not a histogram per second.
pub(super) struct MergedIntervals {
    tags: Vec<String>,
    slots: BTreeMap<Slot, usize>,
    store: Intervals,
}

impl MergedIntervals {
    pub(super) fn of(workers: &[Worker]) -> MergedIntervals {
        let mut merged = MergedIntervals {
            tags: Vec::new(),
            slots: BTreeMap::new(),
            store: Intervals::spilling(),
        };
        // Every worker's intervals by slot: one slot's are added, stored, and dropped.
        let mut by_slot: Vec<(Slot, StoredInterval)> = Vec::new();
        for worker in workers {
            for interval in worker.run.histograms.intervals.iter() {
                let slot = Slot {
                    second: interval.start_s.round().max(0.0) as u64,
                    tag: merged.tag_index(interval.tag),
                };
                by_slot.push((slot, interval));
            }
        }
        by_slot.sort_by_key(|(slot, _)| *slot);
        for same in by_slot.chunk_by(|a, b| a.0 == b.0) {
            let slot = same[0].0;
            let mut histogram = crate::metrics::new_histogram();
            let mut duration_s: f64 = 0.0;
            for (_, interval) in same {
                duration_s = duration_s.max(interval.duration_s);
                add(&mut histogram, &interval.histogram());
            }
            merged.slots.insert(slot, merged.store.len());
            merged.store.push(IntervalSample::new(
                slot.second as f64,
                duration_s,
                merged.tags[slot.tag].clone(),
                &histogram,
            ));
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
    pub(super) fn get(&self, second: usize, tag: &str) -> Option<Histogram<u64>> {
        let tag = self.tags.iter().position(|t| t == tag)?;
        let slot = Slot {
            second: second as u64,
            tag,
        };
        let entry = *self.slots.get(&slot)?;
        self.store.get(entry).map(|interval| interval.histogram())
    }

    /// The added intervals as a run of one process stores them (slots are in time order).
    pub(super) fn stored(&self) -> Intervals {
        self.store.clone()
    }
}
