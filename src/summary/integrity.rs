//! A group's integrity figures: duplicates, reordering and gaps with their causes, and
//! examples of what was lost or out of order.

use serde::{Deserialize, Serialize};

use crate::metrics::causes::{Cause, Causes};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Ordering {
    /// First reads that came after a higher sequence of the key (ordering violations).
    pub out_of_order: u64,
    pub duplicates: u64,
    pub gaps: u64,
    /// Why: the violation causes add up to `out_of_order`; `reread` and `written_twice`
    /// class the duplicates.
    #[serde(default)]
    pub causes: Causes,
    /// The first few reads of each cause, with where they sat in the log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<OrderingExample>,
}

/// One out-of-order or repeated read: the event, where it was read, and the key's highest
/// sequence read before it and where that was.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderingExample {
    pub cause: Cause,
    pub key: String,
    pub producer: u16,
    pub sequence: u32,
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    pub after_sequence: u32,
    pub after_partition: u32,
    pub after_offset: i64,
}

impl OrderingExample {
    /// `order-0000000042#17 at orders[3]@1520, after #18 at [3]@1519`.
    pub fn describe(&self) -> String {
        format!(
            "{}#{} at {}[{}]@{}, after #{} at [{}]@{}",
            self.key,
            self.sequence,
            self.topic,
            self.partition,
            self.offset,
            self.after_sequence,
            self.after_partition,
            self.after_offset
        )
    }
}

/// An acked event a group never consumed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LostExample {
    pub key: String,
    pub producer: u16,
    pub sequence: u32,
    /// Why, when the log audit could tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<LossCause>,
    /// Where the log holds it, when it does (`skipped_by_group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}

/// Why an acked event was lost ([`crate::engine`]'s log audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossCause {
    /// The log holds it: the group read past it without reading it.
    SkippedByGroup,
    /// The broker acked it without an offset and the log does not hold it.
    AckedWithoutOffset,
    /// The log was truncated under the run (an offset acked twice, or the end below an ack).
    Truncated,
    /// The log start moved past it before the group read it (retention, delete-records).
    DeletedBeforeRead,
    /// None of the above could be shown.
    Unexplained,
}

impl LossCause {
    pub fn name(self) -> &'static str {
        match self {
            LossCause::SkippedByGroup => "skipped_by_group",
            LossCause::AckedWithoutOffset => "acked_without_offset",
            LossCause::Truncated => "truncated",
            LossCause::DeletedBeforeRead => "deleted_before_read",
            LossCause::Unexplained => "unexplained",
        }
    }

    /// What it says happened, and what to look at.
    pub fn meaning(self) -> &'static str {
        match self {
            LossCause::SkippedByGroup => {
                "the log holds it: the group read past it without reading it (a commit beyond what was processed, or a seek)"
            }
            LossCause::AckedWithoutOffset => {
                "acked without an offset (acks=0, or as a duplicate of a write the broker did not keep) and not in the log"
            }
            LossCause::Truncated => {
                "the log was truncated under the run: an unclean leader election, or acks below the ISR and a leader that died"
            }
            LossCause::DeletedBeforeRead => {
                "the log start moved past it before the group read it: retention or delete-records"
            }
            LossCause::Unexplained => "no evidence names a cause",
        }
    }
}

/// Every cause.
pub const LOSS_CAUSES: [LossCause; 5] = [
    LossCause::SkippedByGroup,
    LossCause::AckedWithoutOffset,
    LossCause::Truncated,
    LossCause::DeletedBeforeRead,
    LossCause::Unexplained,
];

/// How many of a group's lost events each cause explains; they add up to `lost`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossCauses {
    #[serde(default)]
    pub skipped_by_group: u64,
    #[serde(default)]
    pub acked_without_offset: u64,
    #[serde(default)]
    pub truncated: u64,
    #[serde(default)]
    pub deleted_before_read: u64,
    #[serde(default)]
    pub unexplained: u64,
}

impl LossCauses {
    pub fn get(&self, cause: LossCause) -> u64 {
        match cause {
            LossCause::SkippedByGroup => self.skipped_by_group,
            LossCause::AckedWithoutOffset => self.acked_without_offset,
            LossCause::Truncated => self.truncated,
            LossCause::DeletedBeforeRead => self.deleted_before_read,
            LossCause::Unexplained => self.unexplained,
        }
    }

    pub fn count(&mut self, cause: LossCause) {
        let slot = match cause {
            LossCause::SkippedByGroup => &mut self.skipped_by_group,
            LossCause::AckedWithoutOffset => &mut self.acked_without_offset,
            LossCause::Truncated => &mut self.truncated,
            LossCause::DeletedBeforeRead => &mut self.deleted_before_read,
            LossCause::Unexplained => &mut self.unexplained,
        };
        *slot = slot.saturating_add(1);
    }
}
