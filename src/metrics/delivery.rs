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
use super::median_band::{MedianBand, MedianEvent};

/// One event in this many (by offset) is timed: offsets divisible by it.
/// Events timed a second, about: a run's peak rate above it times one offset in a power of
/// two ([`sample_every`]), up to [`MAX_SAMPLE_EVERY`].
pub const SAMPLED_PER_SECOND: f64 = 5_000.0;

/// The most offsets one timed event stands for.
pub const MAX_SAMPLE_EVERY: i64 = 64;

/// Events noted by one side and not yet by the other, kept at most per group (about 3 MiB
/// when full): past it, the older half is dropped, untimed. While a group lags by more than
/// this many timed events, the events it reads are not timed.
pub const MAX_PENDING: usize = 32_768;

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
    Acked { intended_us: u64, at_us: u64 },
    Consumed(u64),
}

/// Ack-to-consumption times of one group.
#[derive(Debug)]
pub struct DeliveryJoin {
    /// Each waiting side, with the number it was kept under: the lower, the older.
    pending: FxHashMap<LogPlace, (Side, u64)>,
    kept: u64,
    /// Consumed at or after the ack callback, in µs.
    after_ack: Histogram<u64>,
    /// Consumed before the ack callback: how long before, in µs.
    before_ack: Histogram<u64>,
    /// Every pair's signed time added, for an exact mean.
    sum_us: i128,
    /// Every pair's parts, by its end-to-end time.
    band: MedianBand,
    /// Sides dropped, oldest first, because too many were pending.
    pub untimed: u64,
}

impl Default for DeliveryJoin {
    fn default() -> Self {
        DeliveryJoin {
            pending: FxHashMap::default(),
            kept: 0,
            after_ack: new_histogram(),
            before_ack: new_histogram(),
            sum_us: 0,
            band: MedianBand::default(),
            untimed: 0,
        }
    }
}

impl DeliveryJoin {
    /// The producer's callback saw the event intended at `intended_us` acked at `at_us`.
    pub fn acked(&mut self, place: LogPlace, intended_us: u64, at_us: u64) {
        match self.pending.remove(&place) {
            Some((Side::Consumed(consumed), _)) => self.pair(intended_us, at_us, consumed),
            // A second ack at one place: the log was truncated and the offset reused.
            Some((Side::Acked { .. }, _)) | None => {
                self.keep(place, Side::Acked { intended_us, at_us })
            }
        }
    }

    /// A member read the event at `at_us`. A second read (a redelivery) is not timed.
    pub fn consumed(&mut self, place: LogPlace, at_us: u64) {
        match self.pending.remove(&place) {
            Some((
                Side::Acked {
                    intended_us,
                    at_us: acked_us,
                },
                _,
            )) => self.pair(intended_us, acked_us, at_us),
            Some(earlier @ (Side::Consumed(_), _)) => {
                self.pending.insert(place, earlier);
            }
            None => self.keep(place, Side::Consumed(at_us)),
        }
    }

    /// A side whose other side will never come (a failed event's ack): dropped untimed.
    pub fn forget(&mut self, place: LogPlace) {
        self.pending.remove(&place);
    }

    fn keep(&mut self, place: LogPlace, side: Side) {
        if self.pending.len() >= MAX_PENDING {
            // The older half goes: each number is kept once, so at most half of the full map
            // is newer than this, and a sweep comes once in MAX_PENDING / 2 keeps at most.
            let newer_than = self.kept.saturating_sub(MAX_PENDING as u64 / 2);
            let before = self.pending.len();
            self.pending.retain(|_, (_, kept)| *kept >= newer_than);
            self.untimed += (before - self.pending.len()) as u64;
        }
        self.pending.insert(place, (side, self.kept));
        self.kept += 1;
    }

    fn pair(&mut self, intended_us: u64, acked_us: u64, consumed_us: u64) {
        self.band.record(intended_us, acked_us, consumed_us);
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
                // The rank-th most negative is the (before - rank + 1)-th smallest magnitude.
                let from_top = (before - rank + 1) as f64 / before as f64;
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
            median: self.band.median_event(),
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
    /// The timed events around the e2e median, taken apart.
    pub median: Option<MedianEvent>,
}

/// Every timed group's join, shared by the producers' callbacks and the members.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Per group, in the scenario's order: `None` for a group that is not timed.
    joins: Vec<Option<Mutex<DeliveryJoin>>>,
    /// Per topic, the timed groups that read it.
    readers: Vec<Vec<usize>>,
    /// Offsets divisible by it are timed.
    every: i64,
    /// Whether any group is timed.
    any: bool,
}

impl Deliveries {
    /// A join for each timed group, given as the topics it reads (`None`: not timed), timing
    /// one offset in `every` on each of `topics` topics.
    pub fn new(topics: usize, groups: &[Option<Vec<usize>>], every: i64) -> Deliveries {
        let mut readers = vec![Vec::new(); topics];
        for (group, read) in groups.iter().enumerate() {
            for &topic in read.iter().flatten() {
                if let Some(readers) = readers.get_mut(topic) {
                    readers.push(group);
                }
            }
        }
        Deliveries {
            joins: groups
                .iter()
                .map(|read| read.as_ref().map(|_| Mutex::default()))
                .collect(),
            any: groups.iter().any(Option::is_some),
            readers,
            every: every.max(1),
        }
    }

    /// Whether the event at `offset` is timed (and any group is).
    #[inline]
    pub fn sampled(&self, offset: i64) -> bool {
        self.any && offset >= 0 && offset % self.every == 0
    }

    fn join(&self, group: usize) -> Option<std::sync::MutexGuard<'_, DeliveryJoin>> {
        let join = self.joins.get(group)?.as_ref()?;
        Some(join.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// An ack at `place` of an event intended at `intended_us`, for every timed group that
    /// reads its topic.
    pub fn acked(&self, place: LogPlace, intended_us: u64, at_us: u64) {
        for &group in self.readers.get(place.0 as usize).into_iter().flatten() {
            if let Some(mut join) = self.join(group) {
                join.acked(place, intended_us, at_us);
            }
        }
    }

    /// A read at `place` by a member of `group`.
    pub fn consumed(&self, group: usize, place: LogPlace, at_us: u64) {
        if let Some(mut join) = self.join(group) {
            join.consumed(place, at_us);
        }
    }

    /// A read at `place` by `group` of an event whose processing fails: its ack is not timed.
    pub fn forget(&self, group: usize, place: LogPlace) {
        if let Some(mut join) = self.join(group) {
            join.forget(place);
        }
    }

    /// What `group` timed, if it is timed.
    pub fn stats(&self, group: usize) -> Option<DeliveryStats> {
        Some(self.join(group)?.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_side_may_come_first_and_the_pair_is_signed() {
        let mut join = DeliveryJoin::default();
        join.acked((0, 1, 8), 0, 1_000);
        join.consumed((0, 1, 8), 4_000);
        join.consumed((0, 2, 16), 10_000);
        join.acked((0, 2, 16), 0, 10_500);
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
            join.acked(place, 0, 1_000);
            join.consumed(place, (1_000 + delta) as u64);
        }
        let stats = join.stats();
        assert_eq!(stats.p50_us, Some(200));
        assert_eq!(stats.mean_us, Some(160));
        let mut early = DeliveryJoin::default();
        for (i, delta) in [-300i64, -100, 200].into_iter().enumerate() {
            let place = (0, 0, i as i64);
            early.consumed(place, (1_000 + delta) as u64);
            early.acked(place, 0, 1_000);
        }
        assert_eq!(early.stats().p50_us, Some(-100));
        let mut all_early = DeliveryJoin::default();
        for (i, delta) in [-500i64, -400, -300, -200, -100].into_iter().enumerate() {
            let place = (0, 0, i as i64);
            all_early.consumed(place, (1_000 + delta) as u64);
            all_early.acked(place, 0, 1_000);
        }
        assert_eq!(all_early.stats().p50_us, Some(-300));
    }

    #[test]
    fn a_redelivery_is_not_timed_twice_and_the_older_half_is_dropped_when_full() {
        let mut join = DeliveryJoin::default();
        join.acked((0, 0, 0), 0, 100);
        join.consumed((0, 0, 0), 300);
        join.consumed((0, 0, 0), 900);
        assert_eq!(join.stats().timed, 1);
        // The redelivery's read is the oldest pending: among the first dropped.
        for offset in 0..MAX_PENDING as i64 {
            join.acked((1, 0, offset), 0, 1);
        }
        assert_eq!(join.pending.len(), MAX_PENDING / 2 + 1);
        assert_eq!(join.stats().untimed, MAX_PENDING as u64 / 2);
        assert!(!join.pending.contains_key(&(0, 0, 0)));
        // The newest acks are still there to pair; the oldest are not.
        join.consumed((1, 0, MAX_PENDING as i64 - 1), 5);
        join.consumed((1, 0, 0), 5);
        assert_eq!(join.stats().timed, 2);
        // However many pairs close, what is kept stays bounded.
        for offset in 0..(4 * MAX_PENDING as i64) {
            join.consumed((2, 0, offset), 2);
        }
        assert!(join.pending.len() <= MAX_PENDING, "{}", join.pending.len());
    }

    #[test]
    fn acks_go_only_to_the_timed_groups_that_read_the_topic() {
        // Group 0 reads topic 0, group 1 topic 1, group 2 is not timed.
        let deliveries = Deliveries::new(2, &[Some(vec![0]), Some(vec![1]), None], 1);
        deliveries.acked((0, 0, 5), 0, 10);
        deliveries.consumed(0, (0, 0, 5), 30);
        deliveries.acked((1, 0, 5), 0, 10);
        deliveries.consumed(1, (1, 0, 6), 30);
        deliveries.forget(1, (1, 0, 5));
        assert_eq!(deliveries.stats(0).unwrap().timed, 1);
        let one = deliveries.join(1).unwrap();
        // Group 1 holds only its own unpaired read: the ack of topic 0 never reached it, and
        // the failed event's ack was forgotten.
        assert_eq!(one.pending.len(), 1);
        drop(one);
        assert_eq!(deliveries.stats(2), None);
    }

    #[test]
    fn every_event_is_timed_at_a_low_rate_and_a_power_of_two_share_at_a_high_one() {
        assert_eq!(sample_every(100.0), 1);
        assert_eq!(sample_every(5_000.0), 1);
        assert_eq!(sample_every(12_000.0), 4);
        assert_eq!(sample_every(100_000.0), 32);
        assert_eq!(sample_every(1e9), MAX_SAMPLE_EVERY);
        let deliveries = Deliveries::new(1, &[None, Some(vec![0])], 4);
        assert!(deliveries.sampled(0) && deliveries.sampled(8));
        assert!(!deliveries.sampled(3) && !deliveries.sampled(-4));
        assert!(!Deliveries::new(1, &[None], 1).sampled(0));
    }
}
