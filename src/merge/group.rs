//! One consumer group's record, added across the workers that ran its members: their checkers
//! key by key, their offsets, and loss judged against every worker's ledger.

use crate::engine::{FaultWindows, GroupFacts, GroupRecord, LagTerms, read_past};
use crate::metrics::causes::Causes;
use crate::metrics::checker::{KeyId, OrderingChecker, Partition};
use crate::metrics::histograms::e2e_tag;
use crate::metrics::{LossReport, SentLedger, TimelinePoint};
use crate::scenario::{GroupSpec, Scenario};

use super::order::crossed_reading;
use super::read::Worker;
use super::{max_offsets, saturating_sum, total};

/// What the whole run knows that each group's record is judged against.
pub(super) struct RunFacts<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) workers: &'a [Worker],
    /// What every worker's producers sent.
    pub(super) ledger: &'a SentLedger,
    /// Per scenario topic and partition, the highest offset any worker's producers had acked.
    pub(super) acked_high: &'a [Vec<i64>],
    pub(super) timeline: &'a [TimelinePoint],
    /// Each fault's window on the ledger.
    pub(super) windows: &'a FaultWindows,
}

/// What every worker's members of one group read, added.
struct GroupReads {
    checker: OrderingChecker,
    /// Per group topic and partition, the highest offset any worker consumed.
    positions: Vec<Vec<i64>>,
    /// The workers' distinct errors, the first ten.
    errors: Vec<String>,
}

impl GroupReads {
    fn of(facts: &[&GroupFacts]) -> GroupReads {
        let mut reads = GroupReads {
            checker: OrderingChecker::default(),
            positions: Vec::new(),
            errors: Vec::new(),
        };
        for fact in facts {
            reads
                .checker
                .absorb(&fact.keys, fact.duplicates, fact.out_of_order);
            max_offsets(&mut reads.positions, &fact.positions);
            for error in &fact.errors {
                if reads.errors.len() < 10 && !reads.errors.contains(error) {
                    reads.errors.push(error.clone());
                }
            }
        }
        reads
    }
}

impl RunFacts<'_> {
    /// Group `g`'s record, and the partitions whose order across workers could not be told.
    /// Its lost events are added to the count of each fault whose window they fall in.
    pub(super) fn group_record(
        &self,
        g: usize,
        spec: &GroupSpec,
        lost_in: &mut [u64],
    ) -> (GroupRecord, Vec<String>) {
        let facts: Vec<&GroupFacts> = self
            .workers
            .iter()
            .filter_map(|w| w.file.share.groups.get(g))
            .collect();
        let mut reads = GroupReads::of(&facts);
        // A partition that moved between workers: order across the move.
        let (correction, unordered) = crossed_reading(self.scenario, spec, &facts);
        reads.checker.out_of_order = reads.checker.out_of_order.saturating_add_signed(correction);
        let causes = merged_causes(
            &facts,
            (reads.checker.duplicates, reads.checker.out_of_order),
            correction,
        );
        let loss = self.loss(spec, &reads, lost_in);
        let mut terms = LagTerms::default();
        for f in &facts {
            terms += f.final_terms;
        }
        let record = GroupRecord {
            // Events are acked in one worker and read in another: not timed.
            delivery: None,
            name: spec.name.clone(),
            members: spec.members,
            topics: spec
                .topics
                .iter()
                .map(|&t| self.scenario.topics[t].name.clone())
                .collect(),
            e2e: total(self.workers, &e2e_tag(&spec.name)),
            consumed: saturating_sum(facts.iter().map(|f| f.consumed)),
            consumed_bytes: saturating_sum(
                self.workers
                    .iter()
                    .filter_map(|w| w.run.summary.groups.get(g))
                    .map(|group| group.consumed_bytes),
            ),
            unique: reads.checker.unique,
            duplicates: reads.checker.duplicates,
            out_of_order: reads.checker.out_of_order,
            causes,
            cause_examples: Vec::new(),
            // Each worker sees its own members only: the group's, from all of them.
            ownership: super::ownership::merged(
                &facts.iter().map(|f| &f.ownership).collect::<Vec<_>>(),
            ),
            loss,
            loss_audit: Default::default(),
            foreign: saturating_sum(facts.iter().map(|f| f.foreign)),
            max_lag: self.max_lag(g),
            final_lag: terms.lag(),
            errors: reads.errors,
            failures: super::failing::failures(self.scenario, self.workers, g, spec),
            replay: super::failing::replay(self.workers, g, spec),
            catchups: Vec::new(),
        };
        (record, unordered)
    }

    /// The group's loss: every worker's sends on its topics, against what any worker read.
    fn loss(&self, spec: &GroupSpec, reads: &GroupReads, lost_in: &mut [u64]) -> LossReport {
        let scenario = self.scenario;
        let aggregates: Vec<u16> = scenario
            .aggregates
            .iter()
            .enumerate()
            .filter(|(_, a)| spec.topics.contains(&a.topic))
            .map(|(i, _)| i as u16)
            .collect();
        reads.checker.reconcile_each(
            self.ledger,
            &aggregates,
            10,
            |key: KeyId, partition: Option<Partition>| {
                let topic = scenario.aggregates[key.aggregate() as usize].topic;
                let Some(local) = spec.topics.iter().position(|&t| t == topic) else {
                    return true;
                };
                read_past(
                    &self.acked_high[topic],
                    reads.positions.get(local).map_or(&[][..], Vec::as_slice),
                    partition.map(|p| p.partition()),
                )
            },
            |key, sequence| self.windows.count(lost_in, self.ledger.slot(key, sequence)),
        )
    }

    /// The highest lag of group `g` on the merged timeline.
    fn max_lag(&self, g: usize) -> u64 {
        self.timeline
            .iter()
            .filter_map(|p| p.groups.get(g))
            .map(|p| p.lag)
            .max()
            .unwrap_or(0)
    }
}

/// The workers' causes added up. What only the merge sees is classed as one process would
/// class it where it can: an event read by two workers is a re-read (the partition moved, and
/// the second read from the last commit); an order broken across workers is unclassified, as
/// no offsets cross processes ([`Causes::correct`]).
fn merged_causes(
    facts: &[&GroupFacts],
    (duplicates, out_of_order): (u64, u64),
    correction: i64,
) -> Causes {
    let mut causes = Causes::default();
    for f in facts {
        causes.add(&f.causes);
    }
    let own_duplicates = saturating_sum(facts.iter().map(|f| f.duplicates));
    causes.reread = causes
        .reread
        .saturating_add(duplicates.saturating_sub(own_duplicates));
    causes.correct(correction);
    // Worker files written before causes were kept carry none: the rest is unclassified, so
    // the causes always add up to the violations.
    causes.unclassified = causes
        .unclassified
        .saturating_add(out_of_order.saturating_sub(causes.violations()));
    causes
}
