//! Why a key's event was read out of order or twice, told from where it sat in the log.
//!
//! The checker keeps, per key, the partition and offset of the highest sequence read. An event
//! read after a higher sequence of its key is then one of (Kafka's VerifiableConsumer and
//! kgo-verifier check offsets for the same reason):
//! - **written out of order**: it sits at a *later* offset of the same partition, so the log
//!   itself holds the key out of order: a producer retry landed behind a later batch (a
//!   producer without idempotence), or two producers shared the key;
//! - **skipped then read**: it sits at an *earlier* offset: the group read past it, committed,
//!   and came back to it (a seek, or a member that committed what it had not processed);
//! - **partition moved**: it was read from another partition than the higher sequence (the
//!   partition count changed under the run).
//!
//! An event read a second time is a duplicate, never a violation: **re-read** when the group
//! went back to an offset it had read (redelivery after a rebalance or a crash), **written
//! twice** when a later offset holds a second copy (a retry the broker appended twice).

use serde::{Deserialize, Serialize};

use super::key::{KeyId, Partition};

/// Where an event was read: its partition and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub partition: Partition,
    pub offset: i64,
}

/// The cause of one out-of-order or repeated read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    WrittenOutOfOrder,
    SkippedThenRead,
    PartitionMoved,
    /// No offset to judge by (a distributed run's crossing between workers).
    Unclassified,
    Reread,
    WrittenTwice,
}

impl Cause {
    /// An out-of-order read, classed by where it sat against the key's highest sequence read;
    /// a read without an offset (-1) is judged by its partition alone.
    pub fn of_out_of_order(at: Option<At>, highest: Option<At>) -> Cause {
        match (at, highest) {
            (Some(at), Some(high)) if at.partition != high.partition => Cause::PartitionMoved,
            (Some(at), Some(high)) if at.offset < 0 || high.offset < 0 => Cause::Unclassified,
            (Some(at), Some(high)) if at.offset > high.offset => Cause::WrittenOutOfOrder,
            (Some(_), Some(_)) => Cause::SkippedThenRead,
            _ => Cause::Unclassified,
        }
    }

    /// A repeated read: written twice when it sits past the key's highest sequence read in the
    /// same partition, a re-read otherwise.
    pub fn of_duplicate(at: Option<At>, highest: Option<At>) -> Cause {
        match (at, highest) {
            (Some(at), Some(high)) if at.partition == high.partition && at.offset > high.offset => {
                Cause::WrittenTwice
            }
            _ => Cause::Reread,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cause::WrittenOutOfOrder => "written_out_of_order",
            Cause::SkippedThenRead => "skipped_then_read",
            Cause::PartitionMoved => "partition_moved",
            Cause::Unclassified => "unclassified",
            Cause::Reread => "reread",
            Cause::WrittenTwice => "written_twice",
        }
    }

    /// Whether it breaks a key's order for a reader (an ordering violation), or repeats an
    /// event (a duplicate).
    pub fn is_violation(self) -> bool {
        !matches!(self, Cause::Reread | Cause::WrittenTwice)
    }
}

/// How many reads each cause explains. The violation causes add up to the group's
/// `out_of_order`; the duplicate causes to its duplicates seen within one process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Causes {
    #[serde(default)]
    pub written_out_of_order: u64,
    #[serde(default)]
    pub skipped_then_read: u64,
    #[serde(default)]
    pub partition_moved: u64,
    #[serde(default)]
    pub unclassified: u64,
    #[serde(default)]
    pub reread: u64,
    #[serde(default)]
    pub written_twice: u64,
}

impl Causes {
    pub fn get(&self, cause: Cause) -> u64 {
        match cause {
            Cause::WrittenOutOfOrder => self.written_out_of_order,
            Cause::SkippedThenRead => self.skipped_then_read,
            Cause::PartitionMoved => self.partition_moved,
            Cause::Unclassified => self.unclassified,
            Cause::Reread => self.reread,
            Cause::WrittenTwice => self.written_twice,
        }
    }

    fn slot(&mut self, cause: Cause) -> &mut u64 {
        match cause {
            Cause::WrittenOutOfOrder => &mut self.written_out_of_order,
            Cause::SkippedThenRead => &mut self.skipped_then_read,
            Cause::PartitionMoved => &mut self.partition_moved,
            Cause::Unclassified => &mut self.unclassified,
            Cause::Reread => &mut self.reread,
            Cause::WrittenTwice => &mut self.written_twice,
        }
    }

    pub fn count(&mut self, cause: Cause) {
        let slot = self.slot(cause);
        *slot = slot.saturating_add(1);
    }

    /// Adds another process's counts.
    pub fn add(&mut self, other: &Causes) {
        for cause in ALL {
            let slot = self.slot(cause);
            *slot = slot.saturating_add(other.get(cause));
        }
    }

    /// Applies a merge's correction of the violations counted across workers: an addition is
    /// unclassified (no offsets cross processes); a removal takes from the unclassified
    /// first, then from the other causes, never below zero.
    pub fn correct(&mut self, correction: i64) {
        if correction >= 0 {
            self.unclassified = self.unclassified.saturating_add(correction as u64);
            return;
        }
        let mut left = correction.unsigned_abs();
        for cause in [
            Cause::Unclassified,
            Cause::SkippedThenRead,
            Cause::PartitionMoved,
            Cause::WrittenOutOfOrder,
        ] {
            let slot = self.slot(cause);
            let taken = left.min(*slot);
            *slot -= taken;
            left -= taken;
        }
    }

    /// The violation causes together.
    pub fn violations(&self) -> u64 {
        ALL.iter()
            .filter(|c| c.is_violation())
            .map(|&c| self.get(c))
            .fold(0, u64::saturating_add)
    }
}

/// Every cause, violations first.
pub const ALL: [Cause; 6] = [
    Cause::WrittenOutOfOrder,
    Cause::SkippedThenRead,
    Cause::PartitionMoved,
    Cause::Unclassified,
    Cause::Reread,
    Cause::WrittenTwice,
];

/// Examples kept per cause and group.
pub const EXAMPLES_PER_CAUSE: usize = 3;

/// One classified read: the event, where it was read, and the key's highest sequence read
/// before it and where that was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CauseExample {
    pub cause: Cause,
    pub key: KeyId,
    pub sequence: u32,
    pub at: At,
    pub after_sequence: u32,
    pub after: At,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(partition: i32, offset: i64) -> Option<At> {
        Some(At {
            partition: Partition::new(0, partition),
            offset,
        })
    }

    #[test]
    fn a_read_is_classed_by_its_offset_against_the_highest_sequence_s() {
        let high = at(1, 100);
        assert_eq!(
            Cause::of_out_of_order(at(1, 101), high),
            Cause::WrittenOutOfOrder
        );
        assert_eq!(
            Cause::of_out_of_order(at(1, 99), high),
            Cause::SkippedThenRead
        );
        assert_eq!(
            Cause::of_out_of_order(at(2, 101), high),
            Cause::PartitionMoved
        );
        assert_eq!(Cause::of_out_of_order(None, high), Cause::Unclassified);
        assert_eq!(Cause::of_out_of_order(at(1, -1), high), Cause::Unclassified);
        assert_eq!(
            Cause::of_out_of_order(at(2, -1), high),
            Cause::PartitionMoved
        );
        assert_eq!(Cause::of_duplicate(at(1, 90), high), Cause::Reread);
        assert_eq!(Cause::of_duplicate(at(1, 100), high), Cause::Reread);
        assert_eq!(Cause::of_duplicate(at(1, 105), high), Cause::WrittenTwice);
    }

    #[test]
    fn a_merge_correction_never_takes_a_count_below_zero() {
        let mut causes = Causes {
            written_out_of_order: 2,
            skipped_then_read: 1,
            unclassified: 1,
            ..Causes::default()
        };
        causes.correct(3);
        assert_eq!((causes.unclassified, causes.violations()), (4, 7));
        causes.correct(-6);
        assert_eq!(
            (
                causes.unclassified,
                causes.skipped_then_read,
                causes.written_out_of_order
            ),
            (0, 0, 1)
        );
        causes.correct(-5);
        assert_eq!(causes.violations(), 0);
    }
}
