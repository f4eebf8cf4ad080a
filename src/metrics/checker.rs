//! Per-key ordering, duplicate, gap and loss checking for one consumer group.
//!
//! Every key (producer instance, aggregate, aggregate index) carries sequences 0, 1, 2, ...
//! A group's checker keeps, per key, the contiguous prefix it has seen (`next`) and the few
//! sequences seen above it. At the end it is compared with what the producers sent.

use rustc_hash::FxHashMap;

pub use super::causes::{At, Cause, CauseExample, Causes, EXAMPLES_PER_CAUSE};
pub use super::key::{KeyId, Partition};
pub use super::ledger::{LEDGER_SCHEMA, LedgerFile, LossReport, LostEvent, SentLedger};
pub use facts::{KeyFacts, crossed_out_of_order};

mod facts;

/// How one consumed event relates to what the group saw before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// First sight of this sequence, and nothing higher was seen before.
    InOrder,
    /// First sight, but a higher sequence of the key was consumed earlier.
    OutOfOrder,
    /// This sequence was consumed before.
    Duplicate,
}

#[derive(Debug, Default, Clone)]
struct KeyState {
    /// Every sequence below `next` has been seen.
    next: u32,
    /// One past the highest sequence seen.
    highest: u32,
    /// Seen sequences above `next`, sorted; empty while the key arrives in order.
    above: Vec<u32>,
    /// Where the key's events were read from ([`Partition`]); `None` until one is.
    partition: Option<Partition>,
    /// Where its highest sequence was read, and how far past it that partition was read.
    place: Place,
}

/// Where a key's highest sequence was read, and how much further its partition was read
/// since: 16 bytes, so that a key state stays within the envelope's memory.
#[derive(Debug, Clone, Copy)]
struct Place {
    partition: Partition,
    /// -1: no offset was given.
    offset: i64,
    /// The furthest offset read in `partition`, less `offset` (saturating).
    further: u32,
}

impl Default for Place {
    fn default() -> Place {
        Place {
            partition: Partition(0),
            offset: -1,
            further: 0,
        }
    }
}

impl Place {
    /// The highest sequence's position, when one is known.
    fn highest(self) -> Option<At> {
        (self.offset >= 0).then_some(At {
            partition: self.partition,
            offset: self.offset,
        })
    }

    /// The furthest position read in the highest sequence's partition.
    fn furthest(self) -> Option<At> {
        self.highest().map(|at| At {
            offset: at.offset + i64::from(self.further),
            ..at
        })
    }

    /// After a read at `at` (of a new highest sequence when `highest`): a new highest moves
    /// the place; a read of the same partition only pushes its furthest offset, never back;
    /// a read of another partition leaves it alone.
    fn after(self, at: At, highest: bool) -> Place {
        let same = self.offset >= 0 && self.partition == at.partition;
        let furthest = match self.furthest() {
            Some(f) if same => f.offset.max(at.offset),
            _ => at.offset,
        };
        let (partition, offset) = if highest {
            (at.partition, at.offset)
        } else if same {
            (self.partition, self.offset)
        } else {
            return self;
        };
        Place {
            partition,
            offset,
            further: u32::try_from(furthest - offset).unwrap_or(u32::MAX),
        }
    }
}

/// Out-of-order sequences a checker keeps by key, for `surge merge` (beyond it, a merge may
/// count a violation on both sides of a partition's move twice, never miss one).
pub const MAX_KEPT_VIOLATIONS: usize = 100_000;

/// The checker of one consumer group.
#[derive(Debug, Default)]
pub struct OrderingChecker {
    keys: FxHashMap<KeyId, KeyState>,
    /// Per key, the sequences counted out of order (the first [`MAX_KEPT_VIOLATIONS`]).
    violations: FxHashMap<KeyId, Vec<u32>>,
    /// Deliveries of a sequence seen before.
    pub duplicates: u64,
    /// First deliveries that arrived after a higher sequence of the same key.
    pub out_of_order: u64,
    /// Distinct events seen.
    pub unique: u64,
    /// Why each out-of-order or repeated read happened ([`Cause`]).
    pub causes: Causes,
    /// The first few reads of each cause.
    pub cause_examples: Vec<CauseExample>,
}

impl OrderingChecker {
    /// Checks one consumed event.
    #[inline]
    pub fn observe(&mut self, key: KeyId, sequence: u32) -> Observation {
        self.observe_in(key, sequence, None)
    }

    /// Checks one consumed event read from `partition`.
    #[inline]
    pub fn observe_in(
        &mut self,
        key: KeyId,
        sequence: u32,
        partition: Option<Partition>,
    ) -> Observation {
        self.observe_at(
            key,
            sequence,
            partition.map(|partition| At {
                partition,
                offset: -1,
            }),
        )
    }

    /// Checks one consumed event read at `at` (partition and offset), and classes an
    /// out-of-order or repeated read by where it sat against the key's highest sequence.
    #[inline]
    pub fn observe_at(&mut self, key: KeyId, sequence: u32, at: Option<At>) -> Observation {
        let state = self.keys.entry(key).or_default();
        if let Some(at) = at {
            state.partition = Some(at.partition);
        }
        let place = state.place;
        let highest_before = state.highest;
        let observation = if sequence < state.next {
            Observation::Duplicate
        } else if sequence == state.next && state.above.is_empty() {
            state.next += 1;
            state.highest = state.highest.max(state.next);
            Observation::InOrder
        } else {
            match state.above.binary_search(&sequence) {
                Ok(_) => Observation::Duplicate,
                Err(position) => {
                    let lower_than_seen = sequence < state.highest;
                    state.above.insert(position, sequence);
                    state.highest = state.highest.max(sequence + 1);
                    let mut filled = 0;
                    while state.above.get(filled) == Some(&state.next) {
                        state.next += 1;
                        filled += 1;
                    }
                    state.above.drain(..filled);
                    if lower_than_seen {
                        Observation::OutOfOrder
                    } else {
                        Observation::InOrder
                    }
                }
            }
        };
        if let Some(at) = at.filter(|a| a.offset >= 0) {
            state.place = place.after(at, observation == Observation::InOrder);
        }
        let highest_before = (highest_before, place.highest());
        match observation {
            Observation::Duplicate => {
                self.duplicates += 1;
                // A repeat is judged against the furthest the key's partition was read:
                // beyond it, the log holds a second copy; at or before it (or elsewhere), the
                // group went back.
                let cause = Cause::of_duplicate(at, place.furthest());
                self.count_cause(cause, key, sequence, at, highest_before);
            }
            Observation::OutOfOrder => {
                if (self.out_of_order as usize) < MAX_KEPT_VIOLATIONS {
                    self.violations.entry(key).or_default().push(sequence);
                }
                self.out_of_order += 1;
                self.unique += 1;
                let cause = Cause::of_out_of_order(at, highest_before.1);
                self.count_cause(cause, key, sequence, at, highest_before);
            }
            Observation::InOrder => self.unique += 1,
        }
        observation
    }

    /// Counts the cause of an out-of-order or repeated read, keeping the first examples.
    #[cold]
    fn count_cause(
        &mut self,
        cause: Cause,
        key: KeyId,
        sequence: u32,
        at: Option<At>,
        (highest, highest_at): (u32, Option<At>),
    ) {
        self.causes.count(cause);
        let kept = self
            .cause_examples
            .iter()
            .filter(|e| e.cause == cause)
            .count();
        if let (Some(at), Some(after)) = (at, highest_at)
            && kept < EXAMPLES_PER_CAUSE
        {
            self.cause_examples.push(CauseExample {
                cause,
                key,
                sequence,
                at,
                after_sequence: highest.saturating_sub(1),
                after,
            });
        }
    }

    /// The partition `key` was last read from, if it was read.
    pub fn partition_of(&self, key: KeyId) -> Option<Partition> {
        self.keys.get(&key).and_then(|s| s.partition)
    }

    /// Compares what was seen with what was sent to the given aggregates, as if the group had
    /// read every partition to its end: each missing acked event is lost.
    pub fn reconcile(&self, sent: &SentLedger, aggregates: &[u16], examples: usize) -> LossReport {
        self.reconcile_read(sent, aggregates, examples, |_, _| true)
    }

    /// Compares what was seen with what was sent to the given aggregates. A missing acked event
    /// is `lost` only when `read(key, partition)` says the group consumed past every acked
    /// offset of the partition the key lives in (`None`: the key was never read, so every
    /// partition of its topic must have been); otherwise it is `unread`. This is the
    /// valid-offsets rule of kgo-verifier and Kafka's VerifiableConsumer, at partition grain.
    pub fn reconcile_read(
        &self,
        sent: &SentLedger,
        aggregates: &[u16],
        examples: usize,
        read: impl Fn(KeyId, Option<Partition>) -> bool,
    ) -> LossReport {
        self.reconcile_each(sent, aggregates, examples, read, |_, _| {})
    }

    /// [`OrderingChecker::reconcile_read`], telling `on_lost` of every lost event.
    pub fn reconcile_each(
        &self,
        sent: &SentLedger,
        aggregates: &[u16],
        examples: usize,
        read: impl Fn(KeyId, Option<Partition>) -> bool,
        mut on_lost: impl FnMut(KeyId, u32),
    ) -> LossReport {
        let mut report = LossReport::default();
        for (&key, &count) in &sent.counts {
            if !aggregates.contains(&key.aggregate()) {
                continue;
            }
            let empty = KeyState::default();
            let state = self.keys.get(&key).unwrap_or(&empty);
            let mut above = state.above.iter().peekable();
            let mut key_read = None;
            for sequence in state.next..count {
                while above.next_if(|&&s| s < sequence).is_some() {}
                if above.next_if(|&&s| s == sequence).is_some() {
                    continue;
                }
                if sequence < state.highest {
                    report.gaps += 1;
                }
                if sent.failed.contains(&(key, sequence)) {
                    continue;
                }
                if !*key_read.get_or_insert_with(|| read(key, state.partition)) {
                    report.unread += 1;
                    continue;
                }
                report.lost += 1;
                on_lost(key, sequence);
                if report.examples.len() < examples {
                    report.examples.push(LostEvent { key, sequence });
                }
            }
        }
        report.examples.sort_by_key(|e| (e.key, e.sequence));
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(index: u32) -> KeyId {
        KeyId::new(0, 0, index)
    }

    #[test]
    fn checkers_of_several_processes_add_up_to_the_checker_of_one() {
        // One process sees every delivery; three see a share each, overlapping on some.
        let deliveries: Vec<(usize, u32, u32)> = vec![
            (0, 0, 0),
            (0, 0, 1),
            (1, 0, 2),
            (1, 0, 3),
            (2, 0, 3),
            (2, 0, 5),
            (0, 1, 0),
            (2, 1, 1),
            (1, 1, 0),
            (1, 2, 4),
            (0, 2, 1),
        ];
        let mut whole = OrderingChecker::default();
        let mut parts: Vec<OrderingChecker> = (0..3).map(|_| OrderingChecker::default()).collect();
        for &(worker, k, sequence) in &deliveries {
            whole.observe(key(k), sequence);
            parts[worker].observe(key(k), sequence);
        }
        let mut merged = OrderingChecker::default();
        for part in &parts {
            merged.absorb(&part.export(), part.duplicates, 0);
        }
        assert_eq!(merged.unique, whole.unique);
        assert_eq!(merged.duplicates, whole.duplicates);
        // The seen sets agree; order across workers is crossed_out_of_order's (key 2's 1 came
        // after worker 1's 4, on another worker), so the violations kept are left out here.
        let seen = |checker: &OrderingChecker| {
            let mut keys = checker.export();
            keys.iter_mut().for_each(|k| k.out_of_order.clear());
            keys
        };
        assert_eq!(seen(&merged), seen(&whole));
        let sent = ledger(&[(0, 6), (1, 2), (2, 5)], &[]);
        assert_eq!(
            merged.reconcile(&sent, &[0], 10),
            whole.reconcile(&sent, &[0], 10)
        );
    }

    fn ledger(entries: &[(u32, u32)], failed: &[(u32, u32)]) -> SentLedger {
        SentLedger {
            counts: entries.iter().map(|&(k, n)| (key(k), n)).collect(),
            failed: failed.iter().map(|&(k, s)| (key(k), s)).collect(),
            marks: Vec::new(),
        }
    }

    #[test]
    fn marks_tell_which_window_a_sequence_was_sent_in() {
        let mut sent = ledger(&[(1, 10), (2, 3)], &[]);
        // Key 1 had sent 4 at the first mark and 7 at the second; key 2 nothing, then 3.
        sent.marks = vec![
            [(key(1), 4)].into_iter().collect(),
            [(key(1), 7), (key(2), 3)].into_iter().collect(),
        ];
        assert_eq!(sent.slot(key(1), 0), 0);
        assert_eq!(sent.slot(key(1), 3), 0);
        assert_eq!(sent.slot(key(1), 4), 1);
        assert_eq!(sent.slot(key(1), 6), 1);
        assert_eq!(sent.slot(key(1), 7), 2);
        assert_eq!(sent.slot(key(2), 0), 1);
        assert_eq!(sent.slot(key(2), 2), 1);
        let mut other = ledger(&[(3, 1)], &[]);
        other.marks = vec![[(key(3), 1)].into_iter().collect()];
        sent.absorb(other);
        assert_eq!(sent.marks[0].len(), 2);
        assert_eq!(sent.slot(key(3), 0), 0);
    }

    #[test]
    fn key_ids_pack_and_unpack() {
        let id = KeyId::new(7, 3, 123_456);
        assert_eq!((id.producer(), id.aggregate(), id.index()), (7, 3, 123_456));
    }

    #[test]
    fn in_order_stream_is_clean_and_complete() {
        let mut checker = OrderingChecker::default();
        for s in 0..100 {
            assert_eq!(checker.observe(key(1), s), Observation::InOrder);
        }
        let report = checker.reconcile(&ledger(&[(1, 100)], &[]), &[0], 5);
        assert_eq!(
            (checker.duplicates, checker.out_of_order, checker.unique),
            (0, 0, 100)
        );
        assert_eq!(report, LossReport::default());
    }

    #[test]
    fn redelivery_is_a_duplicate_not_a_violation() {
        let mut checker = OrderingChecker::default();
        for s in [0, 1, 2, 3, 2, 3, 4] {
            checker.observe(key(1), s);
        }
        assert_eq!(
            (checker.duplicates, checker.out_of_order, checker.unique),
            (2, 0, 5)
        );
        assert_eq!(checker.reconcile(&ledger(&[(1, 5)], &[]), &[0], 5).lost, 0);
    }

    #[test]
    fn late_lower_sequence_is_out_of_order_and_fills_the_gap() {
        let mut checker = OrderingChecker::default();
        let seen: Vec<_> = [0, 2, 3, 1, 4]
            .iter()
            .map(|&s| checker.observe(key(1), s))
            .collect();
        assert_eq!(seen[3], Observation::OutOfOrder);
        assert_eq!((checker.out_of_order, checker.duplicates), (1, 0));
        // A duplicate of a sequence still held above the prefix is caught too.
        let mut held = OrderingChecker::default();
        for s in [0, 5, 5] {
            held.observe(key(2), s);
        }
        assert_eq!(held.duplicates, 1);
        let report = checker.reconcile(&ledger(&[(1, 5)], &[]), &[0], 5);
        assert_eq!((report.lost, report.gaps), (0, 0));
    }

    #[test]
    fn unfilled_jump_is_a_gap_and_a_loss_with_examples() {
        let mut checker = OrderingChecker::default();
        for s in [0, 1, 4, 5] {
            checker.observe(key(1), s);
        }
        let report = checker.reconcile(&ledger(&[(1, 8)], &[]), &[0], 3);
        // 2 and 3 were jumped over (gaps and lost); 6 and 7 never arrived (lost, not gaps).
        assert_eq!(report.gaps, 2);
        assert_eq!(report.lost, 4);
        let examples: Vec<u32> = report.examples.iter().map(|e| e.sequence).collect();
        assert_eq!(examples, vec![2, 3, 6]);
    }

    #[test]
    fn failed_sends_make_gaps_but_are_not_lost() {
        let mut checker = OrderingChecker::default();
        for s in [0, 2] {
            checker.observe(key(1), s);
        }
        let report = checker.reconcile(&ledger(&[(1, 3)], &[(1, 1)]), &[0], 5);
        assert_eq!((report.gaps, report.lost), (1, 0));
    }

    #[test]
    fn missing_events_in_partitions_not_read_to_the_end_are_unread_not_lost() {
        let mut checker = OrderingChecker::default();
        let (done, behind) = (Partition::new(0, 0), Partition::new(0, 1));
        for s in 0..3 {
            checker.observe_in(key(1), s, Some(done));
            checker.observe_in(key(2), s, Some(behind));
        }
        // Key 1 lives in a partition read past its last acked offset, key 2 in one that is not;
        // key 3 was never read, and its topic has a partition not read to the end.
        let sent = ledger(&[(1, 5), (2, 5), (3, 4)], &[]);
        let report =
            checker.reconcile_read(&sent, &[0], 10, |_, partition| partition == Some(done));
        assert_eq!((report.lost, report.unread), (2, 6));
        assert!(report.examples.iter().all(|e| e.key == key(1)));
        // Every partition read to its end: all of it is loss.
        let report = checker.reconcile_read(&sent, &[0], 10, |_, _| true);
        assert_eq!((report.lost, report.unread), (8, 0));
    }

    #[test]
    fn each_disordered_or_repeated_read_is_classed_by_where_it_sat_in_the_log() {
        let mut checker = OrderingChecker::default();
        let p = |n: i32, offset: i64| {
            Some(At {
                partition: Partition::new(0, n),
                offset,
            })
        };
        let k = key(1);
        // The log holds 0, 2, 1 (a retry landed behind): 1 is written out of order.
        for (sequence, offset) in [(0, 10), (2, 11), (1, 12)] {
            checker.observe_at(k, sequence, p(0, offset));
        }
        // A rebalance goes back to offset 11: re-reads, duplicates only.
        for (sequence, offset) in [(2, 11), (1, 12)] {
            assert_eq!(
                checker.observe_at(k, sequence, p(0, offset)),
                Observation::Duplicate
            );
        }
        // 5 was read at 14; 4 sat at an earlier offset (13) the group had read past.
        checker.observe_at(k, 5, p(0, 14));
        checker.observe_at(k, 4, p(0, 13));
        // A second copy past the furthest read: written twice.
        checker.observe_at(k, 5, p(0, 15));
        // The topic grew: 3 came from another partition.
        checker.observe_at(k, 3, p(1, 0));
        // Its new events go to partition 1 from now on (6 there); the group then resumes
        // partition 0 from an earlier commit: re-reads, however far it reads there.
        checker.observe_at(k, 6, p(1, 1));
        for (sequence, offset) in [(4, 13), (5, 14), (5, 15)] {
            assert_eq!(
                checker.observe_at(k, sequence, p(0, offset)),
                Observation::Duplicate
            );
        }
        let c = checker.causes;
        assert_eq!(
            (
                c.written_out_of_order,
                c.skipped_then_read,
                c.partition_moved
            ),
            (1, 1, 1)
        );
        assert_eq!((c.reread, c.written_twice), (5, 1));
        assert_eq!(c.violations(), checker.out_of_order);
        assert_eq!(c.reread + c.written_twice, checker.duplicates);
        let first = checker.cause_examples[0];
        assert_eq!(
            (first.cause, first.sequence, first.after_sequence),
            (Cause::WrittenOutOfOrder, 1, 2)
        );
        assert_eq!((first.at.offset, first.after.offset), (12, 11));
    }

    #[test]
    fn partitions_pack_topic_and_number() {
        let p = Partition::new(3, 17);
        assert_eq!((p.topic(), p.partition()), (3, 17));
    }

    #[test]
    fn keys_never_consumed_are_lost_only_for_subscribed_aggregates() {
        let checker = OrderingChecker::default();
        let mut sent = ledger(&[(1, 2)], &[]);
        sent.counts.insert(KeyId::new(0, 9, 1), 4);
        assert_eq!(checker.reconcile(&sent, &[0], 5).lost, 2);
        assert_eq!(checker.reconcile(&sent, &[0, 9], 5).lost, 6);
        assert_eq!(checker.reconcile(&sent, &[], 5).lost, 0);
    }

    /// One process reading `stream` (a key's sequences in offset order) as the consecutive
    /// `readers` did, each from its start position to its end: its out-of-order count, and
    /// the count the readers' checkers give when merged as `surge merge` merges them.
    fn one_and_merged(stream: &[u32], readers: &[(usize, usize)]) -> (u64, u64) {
        let k = key(1);
        let mut one = OrderingChecker::default();
        let mut parts = Vec::new();
        for &(start, end) in readers {
            let mut part = OrderingChecker::default();
            for &sequence in &stream[start..end] {
                one.observe(k, sequence);
                part.observe(k, sequence);
            }
            parts.push(part);
        }
        let facts: Vec<Vec<KeyFacts>> = parts.iter().map(OrderingChecker::export).collect();
        let internal: u64 = parts.iter().map(|p| p.out_of_order).sum();
        let keyed: Vec<&KeyFacts> = facts.iter().map(|f| &f[0]).collect();
        let merged = internal.saturating_add_signed(crossed_out_of_order(&keyed));
        (one.out_of_order, merged)
    }

    #[test]
    fn a_reordering_across_a_partition_s_move_between_workers_counts_once() {
        let stream = [0, 1, 2, 5, 3, 4, 6, 7];
        // Moved after 5: neither worker saw anything out of order by itself.
        assert_eq!(one_and_merged(&stream, &[(0, 4), (4, 8)]), (2, 2));
        // The second re-read from the last commit: 5 and 3 again.
        assert_eq!(one_and_merged(&stream, &[(0, 5), (3, 8)]), (2, 2));
        // A sequence the first counted out of order, re-read first by the second.
        assert_eq!(
            one_and_merged(&[0, 5, 1, 2, 3, 4, 6], &[(0, 3), (2, 7)]),
            (4, 4)
        );
        // In order: nothing, wherever the move falls.
        let sorted: Vec<u32> = (0..20).collect();
        for cut in 1..19 {
            assert_eq!(one_and_merged(&sorted, &[(0, cut), (cut - 1, 20)]), (0, 0));
        }
    }

    #[test]
    fn merged_workers_count_what_one_process_counts_for_any_moves() {
        // xorshift: a fixed, dependency-free stream of cases.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for _ in 0..2_000 {
            let length = 2 + next(60);
            let mut stream: Vec<u32> = (0..length as u32).collect();
            // A few swaps near each other, as a retried batch lands behind a later one.
            for _ in 0..next(4) {
                let at = next(length - 1);
                let with = (at + 1 + next(5)).min(length - 1);
                stream.swap(at, with);
            }
            // Up to three readers, each starting at or before where the last stopped.
            let mut readers = Vec::new();
            let mut start = 0;
            for _ in 0..1 + next(3) {
                let end = (start + 1 + next(length)).min(length);
                readers.push((start, end));
                if end == length {
                    break;
                }
                start = end - next(end - start + 1).min(end - start - 1);
            }
            if readers.last().unwrap().1 < length {
                readers.push((start, length));
            }
            let (one, merged) = one_and_merged(&stream, &readers);
            assert_eq!(one, merged, "{stream:?} read as {readers:?}");
        }
    }
}
