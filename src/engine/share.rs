//! What one worker of a distributed run records beyond its own summary: the raw facts
//! `surge merge` adds up across workers, so that loss, duplicates and gaps are judged as if
//! one process had produced and consumed everything.

use serde::{Deserialize, Serialize};

use crate::metrics::causes::Causes;
use crate::metrics::checker::KeyFacts;

use super::rebalance_figures::OwnershipRecord;

/// A worker's raw facts (the `share` part of `worker.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareFacts {
    /// Per scenario topic and partition, the highest offset this worker's producers had
    /// acked (-1: none).
    pub acked_high: Vec<Vec<i64>>,
    /// Per scenario group.
    pub groups: Vec<GroupFacts>,
    /// Per timeline point, per group.
    pub lag_terms: Vec<Vec<LagTerms>>,
}

/// A group's lag on one worker, as the two terms `surge merge` adds up across workers: a
/// worker's lag alone means little, since other workers' members read its events. Written as
/// the pair `[acked, unique]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[u64; 2]", into = "[u64; 2]")]
pub struct LagTerms {
    /// Events acked on the group's topics.
    pub acked: u64,
    /// Distinct events the group consumed.
    pub unique: u64,
}

impl LagTerms {
    /// Acked events not (yet) consumed.
    pub fn lag(self) -> u64 {
        self.acked.saturating_sub(self.unique)
    }
}

impl From<[u64; 2]> for LagTerms {
    fn from([acked, unique]: [u64; 2]) -> LagTerms {
        LagTerms { acked, unique }
    }
}

impl From<LagTerms> for [u64; 2] {
    fn from(terms: LagTerms) -> [u64; 2] {
        [terms.acked, terms.unique]
    }
}

impl std::ops::AddAssign for LagTerms {
    fn add_assign(&mut self, other: LagTerms) {
        self.acked = self.acked.saturating_add(other.acked);
        self.unique = self.unique.saturating_add(other.unique);
    }
}

/// What this worker's members of one group consumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFacts {
    pub name: String,
    /// Deliveries of this run's events, duplicates included.
    pub consumed: u64,
    pub foreign: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Why this process's reads were out of order or repeated.
    #[serde(default)]
    pub causes: Causes,
    /// At the end.
    pub final_terms: LagTerms,
    /// Per group topic and partition, the highest offset consumed here (-1: none).
    pub positions: Vec<Vec<i64>>,
    /// The same, for the lowest: with `positions`, the span of the partition read here, which
    /// tells `surge merge` in what order workers read a partition that moved between them.
    #[serde(default)]
    pub first_positions: Vec<Vec<i64>>,
    /// Per key: the sequences consumed here.
    pub keys: Vec<KeyFacts>,
    pub errors: Vec<String>,
    /// Who held each partition here and when, on the plan's clock: `surge merge` takes a
    /// partition as unowned while no worker's member held it.
    #[serde(default)]
    pub ownership: OwnershipRecord,
}
