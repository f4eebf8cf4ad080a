//! A group's checker as plain facts, and back: what one worker of a distributed run hands to
//! `surge merge` ([`KeyFacts`]), how a merge adds the workers' checkers into one
//! ([`OrderingChecker::absorb`]), and the out-of-order reads a partition's move between
//! workers hides from each ([`crossed_out_of_order`]).

use serde::{Deserialize, Serialize};

use super::{KeyId, OrderingChecker, Partition};

/// One key as a group's checker saw it: what one worker of a distributed run hands to
/// `surge merge`, which adds the workers' checkers of a group into one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyFacts {
    pub key: u64,
    /// Every sequence below this was seen.
    pub next: u32,
    /// One past the highest sequence seen.
    pub highest: u32,
    /// Sequences seen above `next`, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub above: Vec<u32>,
    /// Where the key was read from ([`Partition`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// The sequences counted out of order here, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_order: Vec<u32>,
}

impl KeyFacts {
    /// Whether `sequence` was seen.
    fn saw(&self, sequence: u32) -> bool {
        sequence < self.next || self.above.binary_search(&sequence).is_ok()
    }

    /// How many sequences below `bound` were seen.
    fn seen_below(&self, bound: u32) -> u64 {
        u64::from(self.next.min(bound)) + self.above.partition_point(|&s| s < bound) as u64
    }
}

/// The out-of-order deliveries of one key that the workers who read it counted wrongly, when
/// its partition moved from worker to worker: `readers` in the order they read it (each from
/// where the one before had got to). A sequence a later reader saw first, below the highest
/// its earlier readers saw, was delivered out of order (unless that reader counted it so
/// already); one it counted out of order that an earlier reader had seen was a re-delivery,
/// a duplicate across workers, not a violation. Added to the readers' own counts, the result
/// is what one process reading the partition throughout would have counted.
pub fn crossed_out_of_order(readers: &[&KeyFacts]) -> i64 {
    let Some((first, later)) = readers.split_first() else {
        return 0;
    };
    let mut before = OrderingChecker::default();
    before.absorb(std::slice::from_ref(*first), 0, 0);
    let mut correction = 0i64;
    for reader in later {
        let prior = before.export().pop().expect("the first reader's key");
        let high = prior.highest;
        // Seen here, not before, and below the highest seen before.
        let crossing = |s: &&u32| **s < high && !prior.saw(**s);
        let range = reader.next.min(high);
        let mut crossed = u64::from(range).saturating_sub(prior.seen_below(range));
        crossed += reader.above.iter().filter(crossing).count() as u64;
        // Of those, the ones this reader counted itself.
        let counted = reader.out_of_order.iter().filter(crossing).count() as u64;
        let redelivered = reader
            .out_of_order
            .iter()
            .filter(|&&s| prior.saw(s))
            .count() as u64;
        // Facts read from worker files can disagree: no count goes below zero.
        let own = i64::try_from(crossed.saturating_sub(counted)).unwrap_or(i64::MAX);
        correction = correction
            .saturating_add(own)
            .saturating_sub(i64::try_from(redelivered).unwrap_or(i64::MAX));
        before.absorb(std::slice::from_ref(*reader), 0, 0);
    }
    correction
}

impl OrderingChecker {
    /// Every key's state, sorted by key.
    pub fn export(&self) -> Vec<KeyFacts> {
        let mut keys: Vec<KeyFacts> = self
            .keys
            .iter()
            .map(|(key, state)| KeyFacts {
                key: key.0,
                next: state.next,
                highest: state.highest,
                above: state.above.clone(),
                partition: state.partition.map(|p| p.0),
                out_of_order: self.violations.get(key).map_or_else(Vec::new, |v| {
                    let mut sorted = v.clone();
                    sorted.sort_unstable();
                    sorted
                }),
            })
            .collect();
        keys.sort_unstable_by_key(|k| k.key);
        keys
    }

    /// Adds another process's checker of the same group: its own duplicate and out-of-order
    /// counts, and its keys. A sequence both saw is one more duplicate. Out-of-order delivery
    /// is judged within each process (a key is read by one member at a time).
    pub fn absorb(&mut self, keys: &[KeyFacts], duplicates: u64, out_of_order: u64) {
        // Counts can come from files (`surge merge`): they add with saturation.
        self.duplicates = self.duplicates.saturating_add(duplicates);
        self.out_of_order = self.out_of_order.saturating_add(out_of_order);
        for theirs in keys {
            let seen = u64::from(theirs.next) + theirs.above.len() as u64;
            let state = self.keys.entry(KeyId(theirs.key)).or_default();
            let overlap = u64::from(state.next.min(theirs.next))
                + theirs
                    .above
                    .iter()
                    .filter(|&&s| s < state.next || state.above.binary_search(&s).is_ok())
                    .count() as u64
                + state.above.iter().filter(|&&s| s < theirs.next).count() as u64;
            self.duplicates = self.duplicates.saturating_add(overlap);
            self.unique = self.unique.saturating_add(seen.saturating_sub(overlap));
            let next = state.next.max(theirs.next);
            let mut above: Vec<u32> = state
                .above
                .iter()
                .chain(&theirs.above)
                .copied()
                .filter(|&s| s >= next)
                .collect();
            above.sort_unstable();
            above.dedup();
            state.next = next;
            let filled = above
                .iter()
                .zip(next..)
                .take_while(|(s, n)| *s == n)
                .count();
            state.next += filled as u32;
            above.drain(..filled);
            state.above = above;
            state.highest = state.highest.max(theirs.highest);
            if state.partition.is_none() {
                state.partition = theirs.partition.map(Partition);
            }
        }
    }
}
