//! Who owns each partition of a group, from its members' rebalance callbacks: when each
//! partition had no owner, what started each rebalance, and when the group saw events again
//! or out of order. Plain data, merged from the members; the figures are made after the run
//! (`engine/rebalance_figures.rs`).

use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

/// A partition of a group's topics: (index into the group's topics, partition).
pub type GroupPartition = (usize, i32);

/// Entries kept per kind, so a run that rebalances without end stays bounded in memory.
const MAX_ENTRIES: usize = 100_000;

/// Redeliveries and disorder are counted in buckets this long.
const BUCKET: Duration = Duration::from_millis(100);

/// A stretch of time in which a partition had no owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub partition: GroupPartition,
    pub from: Instant,
    /// `None` while it lasts (and at the end of the run when it never closed).
    pub to: Option<Instant>,
}

/// One rebalance callback of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: Instant,
    pub member: u16,
    pub assigned: bool,
    pub partitions: u32,
}

/// Something that makes a group rebalance: a member joining or leaving, by a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    pub at: Instant,
    /// Index into the scenario's faults.
    pub fault: usize,
    pub member: u16,
    pub joined: bool,
}

/// A count of events at about one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    pub at: Instant,
    pub count: u64,
}

/// A group's partition ownership over the run.
#[derive(Debug, Default)]
pub struct Ownership {
    /// Per partition, the members that hold it (one, except for a moment in a handover).
    holders: FxHashMap<GroupPartition, Vec<u16>>,
    /// Partitions without an owner now, since when.
    unowned: FxHashMap<GroupPartition, Instant>,
    pub gaps: Vec<Gap>,
    pub changes: Vec<Change>,
    pub triggers: Vec<Trigger>,
    /// Events delivered again, and first deliveries out of order, in 100 ms buckets.
    pub redelivered: Vec<Timed>,
    pub out_of_order: Vec<Timed>,
    /// Whether an entry list reached its cap (the later entries were dropped).
    pub truncated: bool,
}

impl Ownership {
    /// A group whose `partitions` have had no owner since `created`.
    pub fn new(partitions: impl IntoIterator<Item = GroupPartition>, created: Instant) -> Self {
        Ownership {
            unowned: partitions.into_iter().map(|p| (p, created)).collect(),
            ..Ownership::default()
        }
    }

    /// A member was given (`assigned`) or gave up `partitions` at `at`.
    pub fn change(
        &mut self,
        member: u16,
        assigned: bool,
        partitions: &[GroupPartition],
        at: Instant,
    ) {
        for &partition in partitions {
            if assigned {
                self.take(member, partition, at);
            } else {
                self.give_up(member, partition, at);
            }
        }
        let change = Change {
            at,
            member,
            assigned,
            partitions: partitions.len() as u32,
        };
        push_bounded(&mut self.changes, change, &mut self.truncated);
    }

    /// A member left or died at `at`: whatever it held has no owner from then on.
    pub fn member_gone(&mut self, member: u16, at: Instant) {
        let held: Vec<GroupPartition> = self
            .holders
            .iter()
            .filter(|(_, members)| members.contains(&member))
            .map(|(p, _)| *p)
            .collect();
        if !held.is_empty() {
            self.change(member, false, &held, at);
        }
    }

    /// A fault made a member join or leave at `at`.
    pub fn trigger(&mut self, trigger: Trigger) {
        push_bounded(&mut self.triggers, trigger, &mut self.truncated);
    }

    /// An event was delivered again at `at`.
    pub fn redelivery(&mut self, at: Instant) {
        count_at(&mut self.redelivered, at, &mut self.truncated);
    }

    /// An event came after a higher sequence of its key at `at`.
    pub fn disorder(&mut self, at: Instant) {
        count_at(&mut self.out_of_order, at, &mut self.truncated);
    }

    /// Every gap, the open ones last and still open.
    pub fn all_gaps(&self) -> Vec<Gap> {
        let mut gaps = self.gaps.clone();
        let mut open: Vec<Gap> = self
            .unowned
            .iter()
            .map(|(&partition, &from)| Gap {
                partition,
                from,
                to: None,
            })
            .collect();
        open.sort_by_key(|g| (g.from, g.partition));
        gaps.extend(open);
        gaps
    }

    fn take(&mut self, member: u16, partition: GroupPartition, at: Instant) {
        let holders = self.holders.entry(partition).or_default();
        if !holders.contains(&member) {
            holders.push(member);
        }
        if let Some(from) = self.unowned.remove(&partition) {
            let gap = Gap {
                partition,
                from,
                to: Some(at.max(from)),
            };
            push_bounded(&mut self.gaps, gap, &mut self.truncated);
        }
    }

    fn give_up(&mut self, member: u16, partition: GroupPartition, at: Instant) {
        let Some(holders) = self.holders.get_mut(&partition) else {
            return;
        };
        holders.retain(|&m| m != member);
        if holders.is_empty() {
            self.holders.remove(&partition);
            self.unowned.entry(partition).or_insert(at);
        }
    }
}

fn push_bounded<T>(list: &mut Vec<T>, entry: T, truncated: &mut bool) {
    if list.len() < MAX_ENTRIES {
        list.push(entry);
    } else {
        *truncated = true;
    }
}

fn count_at(list: &mut Vec<Timed>, at: Instant, truncated: &mut bool) {
    match list.last_mut() {
        Some(last) if at >= last.at && at.duration_since(last.at) < BUCKET => last.count += 1,
        _ => push_bounded(list, Timed { at, count: 1 }, truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn a_handover_is_a_gap_from_revocation_to_assignment() {
        let t0 = Instant::now();
        let mut own = Ownership::new([(0, 0), (0, 1)], t0);
        own.change(0, true, &[(0, 0), (0, 1)], ms(t0, 100));
        assert_eq!(own.gaps.len(), 2, "the initial join closes both gaps");
        // Member 1 joins: member 0 gives partition 1 up at 1.0 s, member 1 gets it at 1.4 s.
        own.change(0, false, &[(0, 1)], ms(t0, 1000));
        own.change(1, true, &[(0, 1)], ms(t0, 1400));
        let gap = own.gaps[2];
        assert_eq!(gap.partition, (0, 1));
        assert_eq!(gap.to.unwrap() - gap.from, Duration::from_millis(400));
        // Member 0 dies at 2 s; nobody takes partition 0 before the end.
        own.member_gone(0, ms(t0, 2000));
        let gaps = own.all_gaps();
        assert_eq!(gaps.last().unwrap().partition, (0, 0));
        assert_eq!(gaps.last().unwrap().to, None);
        assert_eq!(own.changes.len(), 4);
    }

    #[test]
    fn two_holders_leave_no_gap_until_both_are_gone() {
        let t0 = Instant::now();
        let mut own = Ownership::new([(0, 0)], t0);
        own.change(0, true, &[(0, 0)], ms(t0, 10));
        own.change(1, true, &[(0, 0)], ms(t0, 20));
        own.change(0, false, &[(0, 0)], ms(t0, 30));
        assert!(own.unowned.is_empty());
        own.change(1, false, &[(0, 0)], ms(t0, 40));
        assert_eq!(own.unowned.get(&(0, 0)), Some(&ms(t0, 40)));
        // A revocation of what a member never held changes nothing.
        own.change(5, false, &[(0, 0)], ms(t0, 50));
        assert_eq!(own.unowned.get(&(0, 0)), Some(&ms(t0, 40)));
    }

    #[test]
    fn redeliveries_are_counted_in_buckets() {
        let t0 = Instant::now();
        let mut own = Ownership::default();
        for at in [0, 10, 99, 150, 400] {
            own.redelivery(ms(t0, at));
        }
        let counts: Vec<u64> = own.redelivered.iter().map(|t| t.count).collect();
        assert_eq!(counts, [3, 1, 1]);
        assert_eq!(own.redelivered.iter().map(|t| t.count).sum::<u64>(), 5);
    }
}
