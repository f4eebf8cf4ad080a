//! What one worker of a distributed run records beyond its own summary: the raw facts
//! `surge merge` adds up across workers, so that loss, duplicates and gaps are judged as if
//! one process had produced and consumed everything.

use serde::{Deserialize, Serialize};

use crate::metrics::checker::KeyFacts;

/// A worker's raw facts (the `share` part of `worker.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareFacts {
    /// Per scenario topic and partition, the highest offset this worker's producers had
    /// acked (-1: none).
    pub acked_high: Vec<Vec<i64>>,
    /// Per scenario group.
    pub groups: Vec<GroupFacts>,
    /// Per timeline point, per group: acked events on its topics, distinct events consumed.
    pub lag_terms: Vec<Vec<[u64; 2]>>,
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
    /// At the end: acked events on the group's topics, and distinct events consumed.
    pub final_terms: [u64; 2],
    /// Per group topic and partition, the highest offset consumed here (-1: none).
    pub positions: Vec<Vec<i64>>,
    /// The same, for the lowest: with `positions`, the span of the partition read here, which
    /// tells `surge merge` in what order workers read a partition that moved between them.
    #[serde(default)]
    pub first_positions: Vec<Vec<i64>>,
    /// Per key: the sequences consumed here.
    pub keys: Vec<KeyFacts>,
    pub errors: Vec<String>,
}
