//! Consumer groups: members poll, check ordering, record end-to-end latency, commit.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::lock;
use super::pacer::Plan;
use crate::kafka::{GroupMember, Polled, Record};
use crate::metrics::{KeyId, LatencyRecorder, OrderingChecker, Partition};
use crate::scenario::{GroupSpec, Scenario};
use crate::workload::{Decoded, RUN_ID_LEN, decode};

/// What every member of a group writes to, behind one lock: the checker must see the
/// whole group, because partitions move between members on a rebalance.
#[derive(Default)]
pub struct GroupState {
    pub checker: OrderingChecker,
    pub e2e: LatencyRecorder,
    /// Deliveries of this run's events, duplicates included.
    pub consumed: u64,
    /// Records that were not this run's events.
    pub foreign: u64,
    pub errors: Vec<String>,
    /// Per topic of the group (in `spec.topics` order) and partition, the highest offset
    /// consumed (-1: none).
    pub positions: Vec<Vec<i64>>,
}

/// A group as the engine and the ticker share it.
pub struct GroupShared {
    pub spec: GroupSpec,
    pub group_id: String,
    /// Partitions of the group's topics: the group is ready when members hold all of them.
    pub expected_partitions: usize,
    pub assigned: Vec<AtomicUsize>,
    pub state: Mutex<GroupState>,
    /// Members leave when this is set.
    pub stop: AtomicBool,
    /// Per member slot: [`STAY`], or a fault's [`LEAVE`] or [`CRASH`].
    departures: Vec<AtomicU8>,
}

/// A member keeps consuming.
pub const STAY: u8 = 0;
/// A member leaves gracefully: commits, revokes, leaves the group.
pub const LEAVE: u8 = 1;
/// A member dies: no commit, no leave.
pub const CRASH: u8 = 2;

impl GroupShared {
    /// The shared state of the scenario's group `index`, with a slot for every member it may
    /// have (its own and those `member_join` faults add).
    pub fn new(index: usize, scenario: &Scenario, run_tag: &str) -> GroupShared {
        let spec = &scenario.groups[index];
        let slots = scenario.member_slots(index);
        GroupShared {
            spec: spec.clone(),
            group_id: format!("surge-{}-{run_tag}", spec.name),
            expected_partitions: spec
                .topics
                .iter()
                .map(|&t| scenario.topics[t].partitions as usize)
                .sum(),
            assigned: (0..slots).map(|_| AtomicUsize::new(0)).collect(),
            state: Mutex::new(GroupState {
                positions: spec
                    .topics
                    .iter()
                    .map(|&t| vec![-1; scenario.topics[t].partitions as usize])
                    .collect(),
                ..GroupState::default()
            }),
            stop: AtomicBool::new(false),
            departures: (0..slots).map(|_| AtomicU8::new(STAY)).collect(),
        }
    }

    /// Tells a member to leave or crash at its next poll.
    pub fn depart(&self, member: usize, how: u8) {
        if let Some(slot) = self.departures.get(member) {
            slot.store(how, Ordering::Release);
        }
    }

    fn departure(&self, member: usize) -> u8 {
        self.departures
            .get(member)
            .map_or(STAY, |d| d.load(Ordering::Acquire))
    }

    /// Whether the members hold every partition of the group's topics.
    pub fn is_ready(&self) -> bool {
        self.partitions_held() >= self.expected_partitions
    }

    /// Partitions the members hold now.
    pub fn partitions_held(&self) -> usize {
        self.assigned
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .sum()
    }

    /// Acked events on the group's topics that it has not consumed (`unique`) yet.
    pub fn lag(&self, acked_by_topic: &[u64], unique: u64) -> u64 {
        let acked: u64 = self
            .spec
            .topics
            .iter()
            .map(|&t| acked_by_topic.get(t).copied().unwrap_or(0))
            .sum();
        acked.saturating_sub(unique)
    }

    /// Whether the group has consumed at or past every acked offset (`acked_high`, per
    /// scenario topic and partition) of `partition`, or of every partition of `topic` when the
    /// partition is not known.
    pub fn has_read(
        &self,
        state: &GroupState,
        acked_high: &[Vec<i64>],
        topic: usize,
        partition: Option<usize>,
    ) -> bool {
        let Some(local) = self.spec.topics.iter().position(|&t| t == topic) else {
            return true;
        };
        let (acked, read) = (&acked_high[topic], &state.positions[local]);
        let read_to = |p: usize| {
            acked
                .get(p)
                .is_none_or(|&high| read.get(p).is_some_and(|&at| at >= high))
        };
        match partition {
            Some(p) => read_to(p),
            None => (0..acked.len()).all(read_to),
        }
    }

    /// Whether the group has consumed past every acked offset of every partition it reads.
    pub fn has_read_everything(&self, acked_high: &[Vec<i64>]) -> bool {
        let state = lock(&self.state);
        self.spec
            .topics
            .iter()
            .all(|&t| self.has_read(&state, acked_high, t, None))
    }

    fn note_error(&self, reason: String) {
        let mut state = lock(&self.state);
        if state.errors.len() < 10 && !state.errors.contains(&reason) {
            state.errors.push(reason);
        }
    }
}

/// Everything one member loop needs.
pub struct MemberArgs {
    pub group: Arc<GroupShared>,
    pub member: usize,
    pub run_id: [u8; RUN_ID_LEN],
    pub plan: Arc<Plan>,
    /// Set once the plan starts: the monotonic start and its wall-clock microseconds.
    pub start: Arc<std::sync::OnceLock<(Instant, u64)>>,
}

/// Polls until the group is told to stop, then commits and leaves.
pub fn run_member(member: GroupMember, args: MemberArgs) {
    let group = &args.group;
    let processing = group.spec.processing_time;
    let mut debt = Duration::ZERO;
    let mut last_commit = Instant::now();
    while !group.stop.load(Ordering::Acquire) && group.departure(args.member) == STAY {
        let polled = member.poll(Duration::from_millis(50), |record| {
            handle(&args, &record);
            (record.topic, record.partition, record.offset)
        });
        match polled {
            Polled::Record((topic, partition, offset)) => {
                if !processing.is_zero() {
                    // Simulated work, slept in slices of at least 1 ms to stay accurate.
                    debt += processing;
                    if debt >= Duration::from_millis(1) {
                        std::thread::sleep(debt);
                        debt = Duration::ZERO;
                    }
                }
                member.mark_processed(topic, partition, offset);
            }
            Polled::Idle => {}
            Polled::Error(reason) => group.note_error(reason),
        }
        group.assigned[args.member].store(member.assigned_partitions(), Ordering::Release);
        if last_commit.elapsed() >= group.spec.commit_interval {
            member.commit(false);
            last_commit = Instant::now();
        }
    }
    group.assigned[args.member].store(0, Ordering::Release);
    if group.departure(args.member) == CRASH {
        member.crash();
        return;
    }
    let errors = member.recent_errors();
    if !errors.is_empty() && group.stop.load(Ordering::Acquire) {
        group.note_error(errors);
    }
    member.leave();
}

#[inline]
fn handle(args: &MemberArgs, record: &Record<'_>) {
    let decoded = record
        .payload
        .map_or(Decoded::Foreign, |p| decode(p, &args.run_id));
    let mut state = lock(&args.group.state);
    if let Some(at) = state
        .positions
        .get_mut(record.topic)
        .and_then(|t| t.get_mut(record.partition as usize))
    {
        *at = (*at).max(record.offset);
    }
    let meta = match decoded {
        Decoded::Foreign => {
            state.foreign += 1;
            return;
        }
        Decoded::Ours(meta) => meta,
    };
    state.consumed += 1;
    let topic = args
        .group
        .spec
        .topics
        .get(record.topic)
        .copied()
        .unwrap_or(0);
    state.checker.observe_in(
        KeyId::new(meta.producer, meta.aggregate, meta.index),
        meta.sequence,
        Some(Partition::new(topic, record.partition)),
    );
    if let Some((start, start_unix_us)) = args.start.get() {
        let now_us = start_unix_us + start.elapsed().as_micros() as u64;
        let e2e = now_us.saturating_sub(meta.intended_at_us);
        let intended = Duration::from_micros(meta.intended_at_us.saturating_sub(*start_unix_us));
        if args.plan.is_warmup_at(intended) {
            state.e2e.record_interval_only(e2e);
        } else {
            state.e2e.record(e2e);
        }
    }
}
