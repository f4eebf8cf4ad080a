//! Each fault's window on the ledger: which sends were intended while it lasted, so that the
//! events lost and the sends failed can be counted per fault, in one process or in a merge.

use std::time::Duration;

use crate::metrics::SentLedger;
use crate::scenario::FaultSpec;

/// Which ledger slots (see [`SentLedger::slot`]) fall in each fault's window: from its start
/// to its end, or to the end of the run for a fault that is not undone.
pub struct FaultWindows {
    /// Per fault, the first and last slot of its window.
    slots: Vec<(usize, usize)>,
}

impl FaultWindows {
    pub fn new(faults: &[FaultSpec]) -> FaultWindows {
        let marks = crate::scenario::faults::boundaries(faults);
        let index = |at: Duration| marks.iter().position(|&m| m == at).unwrap_or(marks.len());
        FaultWindows {
            slots: faults
                .iter()
                .map(|f| (index(f.at) + 1, f.end().map_or(usize::MAX, index)))
                .collect(),
        }
    }

    /// Adds one event of `slot` to the count of every fault whose window holds it.
    pub fn count(&self, counts: &mut [u64], slot: usize) {
        for (count, &(first, last)) in counts.iter_mut().zip(&self.slots) {
            if (first..=last).contains(&slot) {
                *count += 1;
            }
        }
    }

    /// Per fault, the failed sends intended in its window.
    pub fn failed_in(&self, ledger: &SentLedger) -> Vec<u64> {
        let mut failed = vec![0u64; self.slots.len()];
        for &(key, sequence) in &ledger.failed {
            self.count(&mut failed, ledger.slot(key, sequence));
        }
        failed
    }
}
