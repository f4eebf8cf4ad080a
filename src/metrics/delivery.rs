//! The time from an event's ack to its consumption, per group, measured on a sample of
//! events: the consumer's share of the latency breakdown.
//!
//! The producer's delivery callback and a group's member each note the event by its place
//! in the log (topic, partition, offset) on the plan's clock; whichever comes second closes
//! the pair. The broker lets consumers read a record once its followers have it, which is
//! also when it answers the producer, so a record can be consumed before its ack reaches
//! the callback: those pairs are negative, and counted apart.

use std::sync::{Mutex, PoisonError};

use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;

use super::latency::new_histogram;

/// One event in this many (by offset) is timed: offsets divisible by it.
/// Events timed a second, about, at most: a run's peak rate above it times one offset in a
/// power of two ([`sample_every`]).
pub const SAMPLED_PER_SECOND: f64 = 5_000.0;

/// The most offsets one timed event stands for.
pub const MAX_SAMPLE_EVERY: i64 = 64;

/// Events noted by one side and not yet by the other, kept at most (about 40 bytes each):
/// past it, new ones are not timed. A group that lags by more than this many sampled events
/// is timed on the events it had read before.
pub const MAX_PENDING: usize = 65_536;

/// One offset in how many is timed at `peak_rate` events a second: every one at a low rate,
/// where a sample would be small and the e2e mean it is held against has a long tail.
pub fn sample_every(peak_rate: f64) -> i64 {
    let wanted = (peak_rate / SAMPLED_PER_SECOND).ceil().max(1.0) as u64;
    (wanted.next_power_of_two() as i64).min(MAX_SAMPLE_EVERY)
}

/// An event's place in the log.
pub type LogPlace = (u32, i32, i64);

#[derive(Debug, Clone, Copy)]
enum Side {
    Acked(u64),
    Consumed(u64),
}

/// Ack-to-consumption times of one group.
#[derive(Debug)]
pub struct DeliveryJoin {
    pending: FxHashMap<LogPlace, Side>,
    /// Consumed at or after the ack callback, in µs.
    after_ack: Histogram<u64>,
    /// Consumed before the ack callback: how long before, in µs.
    before_ack: Histogram<u64>,
    /// Every pair's signed time added, for an exact mean.
    sum_us: i128,
    /// Sampled events not timed because too many were pending.
    pub untimed: u64,
}

impl Default for DeliveryJoin {
    fn default() -> Self {
        DeliveryJoin {
            pending: FxHashMap::default(),
            after_ack: new_histogram(),
            before_ack: new_histogram(),
            sum_us: 0,
            untimed: 0,
        }
    }
}

impl DeliveryJoin {
    /// The producer's callback saw the event acked at `at_us`.
    pub fn acked(&mut self, place: LogPlace, at_us: u64) {
        match self.pending.remove(&place) {
            Some(Side::Consumed(consumed)) => self.pair(at_us, consumed),
            // A second ack at one place: the log was truncated and the offset reused.
            Some(Side::Acked(_)) | None => self.keep(place, Side::Acked(at_us)),
        }
    }

    /// A member read the event at `at_us`. A second read (a redelivery) is not timed.
    pub fn consumed(&mut self, place: LogPlace, at_us: u64) {
        match self.pending.remove(&place) {
            Some(Side::Acked(acked)) => self.pair(acked, at_us),
            Some(earlier @ Side::Consumed(_)) => {
                self.pending.insert(place, earlier);
            }
            None => self.keep(place, Side::Consumed(at_us)),
        }
    }

    fn keep(&mut self, place: LogPlace, side: Side) {
        if self.pending.len() < MAX_PENDING {
            self.pending.insert(place, side);
        } else {
            self.untimed += 1;
        }
    }

    fn pair(&mut self, acked_us: u64, consumed_us: u64) {
        self.sum_us += i128::from(consumed_us) - i128::from(acked_us);
        if consumed_us >= acked_us {
            self.after_ack
                .saturating_record((consumed_us - acked_us).max(1));
        } else {
            self.before_ack.saturating_record(acked_us - consumed_us);
        }
    }

    /// What was timed so far.
    pub fn stats(&self) -> DeliveryStats {
        let (after, before) = (self.after_ack.len(), self.before_ack.len());
        let timed = after + before;
        let quantile = |q: f64| -> i64 {
            // The signed q-quantile: the negatives are the smallest values.
            let rank = (q * timed as f64).ceil().max(1.0) as u64;
            if rank <= before {
                let from_top = (before - rank) as f64 / before as f64;
                -(self.before_ack.value_at_quantile(from_top) as i64)
            } else {
                let q = (rank - before) as f64 / after as f64;
                self.after_ack.value_at_quantile(q.min(1.0)) as i64
            }
        };
        DeliveryStats {
            timed,
            before_ack: before,
            mean_us: (timed > 0).then(|| (self.sum_us / i128::from(timed)) as i64),
            p50_us: (timed > 0).then(|| quantile(0.5)),
            untimed: self.untimed,
        }
    }
}

/// A group's ack-to-consumption times, summed up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeliveryStats {
    /// Sampled events timed from both sides.
    pub timed: u64,
    /// Of those, consumed before their ack reached the callback.
    pub before_ack: u64,
    /// Negative when events were mostly read before their ack came back.
    pub mean_us: Option<i64>,
    pub p50_us: Option<i64>,
    /// Sampled events not timed because too many were pending.
    pub untimed: u64,
}

/// Every timed group's join, shared by the producers' callbacks and the members.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Per group, in the scenario's order: `None` for a group that is not timed.
    joins: Vec<Option<Mutex<DeliveryJoin>>>,
    /// Offsets divisible by it are timed.
    every: i64,
}

impl Deliveries {
    /// One join per group for which `timed(index)` holds, timing one offset in `every`.
    pub fn new(groups: usize, every: i64, timed: impl Fn(usize) -> bool) -> Deliveries {
        Deliveries {
            joins: (0..groups)
                .map(|g| timed(g).then(|| Mutex::new(DeliveryJoin::default())))
                .collect(),
            every: every.max(1),
        }
    }

    /// Whether the event at `offset` is timed (and any group is).
    #[inline]
    pub fn sampled(&self, offset: i64) -> bool {
        offset >= 0 && offset % self.every == 0 && self.joins.iter().any(Option::is_some)
    }

    /// An ack at `place`, for every timed group.
    pub fn acked(&self, place: LogPlace, at_us: u64) {
        for join in self.joins.iter().flatten() {
            join.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .acked(place, at_us);
        }
    }

    /// A read at `place` by a member of `group`.
    pub fn consumed(&self, group: usize, place: LogPlace, at_us: u64) {
        if let Some(Some(join)) = self.joins.get(group) {
            join.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .consumed(place, at_us);
        }
    }

    /// What `group` timed, if it is timed.
    pub fn stats(&self, group: usize) -> Option<DeliveryStats> {
        let join = self.joins.get(group)?.as_ref()?;
        Some(join.lock().unwrap_or_else(PoisonError::into_inner).stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_side_may_come_first_and_the_pair_is_signed() {
        let mut join = DeliveryJoin::default();
        join.acked((0, 1, 8), 1_000);
        join.consumed((0, 1, 8), 4_000);
        join.consumed((0, 2, 16), 10_000);
        join.acked((0, 2, 16), 10_500);
        let stats = join.stats();
        assert_eq!(stats.timed, 2);
        assert_eq!(stats.before_ack, 1);
        assert_eq!(stats.mean_us, Some((3_000 - 500) / 2));
        assert!(join.pending.is_empty());
    }

    #[test]
    fn the_median_counts_reads_before_the_ack_as_the_smallest() {
        let mut join = DeliveryJoin::default();
        for (i, delta) in [-300i64, -100, 200, 400, 600].into_iter().enumerate() {
            let place = (0, 0, i as i64);
            join.acked(place, 1_000);
            join.consumed(place, (1_000 + delta) as u64);
        }
        let stats = join.stats();
        assert_eq!(stats.p50_us, Some(200));
        assert_eq!(stats.mean_us, Some(160));
        let mut early = DeliveryJoin::default();
        for (i, delta) in [-300i64, -100, 200].into_iter().enumerate() {
            let place = (0, 0, i as i64);
            early.consumed(place, (1_000 + delta) as u64);
            early.acked(place, 1_000);
        }
        assert_eq!(early.stats().p50_us, Some(-100));
    }

    #[test]
    fn a_redelivery_is_not_timed_twice_and_pending_is_bounded() {
        let mut join = DeliveryJoin::default();
        join.acked((0, 0, 0), 100);
        join.consumed((0, 0, 0), 300);
        join.consumed((0, 0, 0), 900);
        assert_eq!(join.stats().timed, 1);
        for offset in 0..(MAX_PENDING as i64 + 10) {
            join.acked((1, 0, offset), 1);
        }
        assert_eq!(join.pending.len(), MAX_PENDING);
        // The redelivery above is one of the kept.
        assert_eq!(join.stats().untimed, 11);
    }

    #[test]
    fn every_event_is_timed_at_a_low_rate_and_a_power_of_two_share_at_a_high_one() {
        assert_eq!(sample_every(100.0), 1);
        assert_eq!(sample_every(5_000.0), 1);
        assert_eq!(sample_every(12_000.0), 4);
        assert_eq!(sample_every(100_000.0), 32);
        assert_eq!(sample_every(1e9), MAX_SAMPLE_EVERY);
        let deliveries = Deliveries::new(2, 4, |g| g == 1);
        assert!(deliveries.sampled(0) && deliveries.sampled(8));
        assert!(!deliveries.sampled(3) && !deliveries.sampled(-4));
        assert!(!Deliveries::new(1, 1, |_| false).sampled(0));
    }
}
