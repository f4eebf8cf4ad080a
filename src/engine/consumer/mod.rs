//! Consumer groups: members poll, check ordering, record end-to-end latency, commit. The
//! group's shared state is here; a member's loop in `member.rs`; failing events, their retries
//! and dead letters in `failures.rs`.

mod failures;
mod member;

pub use failures::{FailedEventIn, FailureState, Origin};
pub use member::{MemberArgs, run_member};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::lock;
use crate::kafka::DltProducer;
use crate::metrics::ownership::Trigger;
use crate::metrics::{LatencyRecorder, OrderingChecker, Ownership};
use crate::scenario::{GroupSpec, Scenario};

/// What every member of a group writes to, behind one lock: the checker must see the
/// whole group, because partitions move between members on a rebalance.
#[derive(Default)]
pub struct GroupState {
    pub checker: OrderingChecker,
    pub e2e: LatencyRecorder,
    /// Deliveries of this run's events, duplicates included.
    pub consumed: u64,
    /// Payload bytes of those deliveries.
    pub consumed_bytes: u64,
    /// Records that were not this run's events.
    pub foreign: u64,
    pub errors: Vec<String>,
    /// Per topic of the group (in `spec.topics` order) and partition, the highest offset
    /// consumed (-1: none).
    pub positions: Vec<Vec<i64>>,
    /// The same, for the lowest offset consumed.
    pub first_positions: Vec<Vec<i64>>,
    /// Present when the group fails events.
    pub failures: Option<FailureState>,
    /// Who owned each partition when, what made the group rebalance, and when events came
    /// again or out of order.
    pub ownership: Ownership,
}

/// A group as the engine and the ticker share it.
pub struct GroupShared {
    pub spec: GroupSpec,
    pub group_id: String,
    /// Names of the group's topics, in `spec.topics` order.
    pub topic_names: Vec<String>,
    /// Partitions of the group's topics: the group is ready when members hold all of them.
    pub expected_partitions: usize,
    /// Partitions of its largest topic.
    largest_topic: usize,
    pub assigned: Vec<AtomicUsize>,
    pub state: Mutex<GroupState>,
    /// Members leave when this is set.
    pub stop: AtomicBool,
    /// Per member slot: [`STAY`], or a fault's [`LEAVE`] or [`CRASH`].
    departures: Vec<AtomicU8>,
    /// Set by a `group_pause` fault: members stop fetching until it is cleared.
    pub paused: AtomicBool,
    /// A late group's members join holding their partitions paused, and fetch only once
    /// every member has its share ([`GroupShared::settled`]). Otherwise the first member
    /// reads partitions that the next join moves, and unless the revoking member's commit
    /// is accepted mid-rebalance (Kafka accepts it, librdkafka's mock cluster does not) the
    /// new owner reads them again.
    pub holding: AtomicBool,
    /// Where failed events go, for a group that fails events.
    pub dlt: Option<DltProducer>,
    /// Left out of the run-wide figures (see [`Scenario::is_set_aside`]).
    pub set_aside: bool,
    /// The scenario's seed and this group's index, for [`fate`].
    seed: u64,
    index: usize,
    /// This worker's index in a distributed run: its dead letters carry it.
    pub worker: Option<u16>,
    /// For a late group: when its members were started, and when it had read everything.
    pub joined_at: OnceLock<Duration>,
    pub caught_up_at: OnceLock<Duration>,
}

/// How long a worker's late members' assignments stay unchanged before they fetch: more than
/// a heartbeat (3 s by librdkafka's default, 5 s for KIP-848 groups).
pub const LATE_QUIET: Duration = Duration::from_secs(6);

/// A member keeps consuming.
pub const STAY: u8 = 0;
/// A member leaves gracefully: commits, revokes, leaves the group.
pub const LEAVE: u8 = 1;
/// A member dies: no commit, no leave.
pub const CRASH: u8 = 2;

impl GroupShared {
    /// The group's place in the scenario.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The shared state of the scenario's group `index`, with a slot for every member it may
    /// have (its own and those `member_join` faults add).
    pub fn new(
        index: usize,
        scenario: &Scenario,
        run_tag: &str,
        dlt: Option<DltProducer>,
    ) -> GroupShared {
        let spec = &scenario.groups[index];
        let slots = scenario.member_slots(index);
        // Per topic of the group and partition: no offset read yet.
        let unread: Vec<Vec<i64>> = spec
            .topics
            .iter()
            .map(|&t| vec![-1; scenario.topics[t].partitions as usize])
            .collect();
        GroupShared {
            spec: spec.clone(),
            group_id: format!("surge-{}-{run_tag}", spec.name),
            topic_names: spec
                .topics
                .iter()
                .map(|&t| scenario.topics[t].name.clone())
                .collect(),
            expected_partitions: scenario.partitions_of(index),
            largest_topic: spec
                .topics
                .iter()
                .map(|&t| scenario.topics[t].partitions.max(0) as usize)
                .max()
                .unwrap_or(0),
            assigned: (0..slots).map(|_| AtomicUsize::new(0)).collect(),
            state: Mutex::new(GroupState {
                ownership: Ownership::new(
                    unread.iter().enumerate().flat_map(|(topic, partitions)| {
                        (0..partitions.len() as i32).map(move |p| (topic, p))
                    }),
                    std::time::Instant::now(),
                ),
                positions: unread.clone(),
                first_positions: unread,
                failures: spec.failures.as_ref().map(|_| FailureState::default()),
                ..GroupState::default()
            }),
            stop: AtomicBool::new(false),
            departures: (0..slots).map(|_| AtomicU8::new(STAY)).collect(),
            paused: AtomicBool::new(false),
            holding: AtomicBool::new(spec.starts_after.is_some()),
            set_aside: scenario.is_set_aside(index),
            dlt,
            seed: scenario.seed,
            index,
            worker: (scenario.workers.is_distributed()).then_some(scenario.workers.index),
            joined_at: OnceLock::new(),
            caught_up_at: OnceLock::new(),
        }
    }

    /// Tells a member to leave or crash at its next poll.
    pub fn depart(&self, member: usize, how: u8) {
        if let Some(slot) = self.departures.get(member) {
            slot.store(how, Ordering::Release);
        }
    }

    /// Notes that fault `fault` made `member` join or leave now.
    pub fn note_trigger(&self, fault: usize, member: usize, joined: bool) {
        lock(&self.state).ownership.trigger(Trigger {
            at: std::time::Instant::now(),
            fault,
            member: member as u16,
            joined,
        });
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

    /// Whether the group's own members hold every partition between them, each its share:
    /// as many members hold one as every assignor gives one to. `range` assigns topic by
    /// topic, so only as many members as the largest topic has partitions are sure of one
    /// (the others may rightly hold none); roundrobin, sticky and KIP-848's uniform spread
    /// wider.
    pub fn settled(&self) -> bool {
        let members = &self.assigned[..(self.spec.members as usize).min(self.assigned.len())];
        let holding = members
            .iter()
            .filter(|a| a.load(Ordering::Acquire) > 0)
            .count();
        let held: usize = members.iter().map(|a| a.load(Ordering::Acquire)).sum();
        held == self.expected_partitions && holding >= members.len().min(self.largest_topic)
    }

    /// For one worker of several: whether each of its own members of the group holds a
    /// partition (the group's partitions are shared with other workers' members, so no
    /// worker can see the whole group hold them all).
    pub fn members_placed(&self, workers: crate::scenario::WorkerShare) -> bool {
        let members = self.spec.members as usize;
        (0..members.min(self.assigned.len()))
            .filter(|&m| workers.runs_member(m))
            // With more members than the largest topic has partitions, an assignor may
            // rightly leave some without any (`range` assigns topic by topic).
            .all(|m| members > self.largest_topic || self.assigned[m].load(Ordering::Acquire) > 0)
    }

    /// Whether the members have their shares: in one process, every member of the group
    /// ([`GroupShared::settled`]). One worker of several cannot see the other workers'
    /// members, which start at the same moment of the plan (for `starts_after = "produce"`,
    /// when each worker's producers finish): each of its own members has had an assignment
    /// (with more members than the largest topic has partitions, some rightly get none) and
    /// none has changed for [`LATE_QUIET`], longer than a heartbeat, on which members learn
    /// of another's join.
    pub fn settled_in(&self, workers: crate::scenario::WorkerShare) -> bool {
        if !workers.is_distributed() {
            return self.settled();
        }
        let state = lock(&self.state);
        let changes = &state.ownership.changes;
        let members = (self.spec.members as usize).min(self.assigned.len());
        let some_get_none = members > self.largest_topic;
        let assigned = |m: usize| {
            some_get_none || (changes.iter()).any(|c| usize::from(c.member) == m && c.assigned)
        };
        let latest = changes.iter().map(|c| c.at).max();
        (0..members)
            .filter(|&m| workers.runs_member(m))
            .all(assigned)
            && latest.is_none_or(|at| at.elapsed() >= LATE_QUIET)
    }

    /// Partitions the members hold now.
    pub fn partitions_held(&self) -> usize {
        self.assigned
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .sum()
    }

    /// Acked events on the group's topics (`acked_by_topic`: per scenario topic).
    pub fn acked_on_topics(&self, acked_by_topic: &[u64]) -> u64 {
        self.spec
            .topics
            .iter()
            .map(|&t| acked_by_topic.get(t).copied().unwrap_or(0))
            .sum()
    }

    /// Acked events on the group's topics that it has not consumed (`unique`) yet.
    pub fn lag(&self, acked_by_topic: &[u64], unique: u64) -> u64 {
        self.acked_on_topics(acked_by_topic).saturating_sub(unique)
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
        read_past(&acked_high[topic], &state.positions[local], partition)
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

/// Whether `read` (highest offset consumed per partition of a topic) is at or past `acked`
/// (highest acked offset per partition) for `partition`, or for every partition.
pub fn read_past(acked: &[i64], read: &[i64], partition: Option<usize>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::WorkerShare;
    use std::time::Instant;

    #[test]
    fn a_worker_s_late_members_have_settled_once_assigned_and_quiet() {
        let scenario = crate::scenario::from_text(
            r#"
[[topics]]
name = "orders"
partitions = 6

[[events]]
name = "OrderCreated"
topic = "orders"

[[phases]]
rate = "100/s"
duration = "5s"

[[consumer_groups]]
name = "late"
topics = ["orders"]
members = 3
start = "earliest"
starts_after = "2s"
"#,
        );
        let group = GroupShared::new(0, &scenario, "run", None);
        let second = WorkerShare { index: 1, count: 3 };
        let ago = |s: u64| Instant::now().checked_sub(Duration::from_secs(s)).unwrap();
        // Worker 1 runs member 1: not settled before it is assigned.
        assert!(!group.settled_in(second));
        // Assigned just now: other workers' members may still be joining.
        lock(&group.state)
            .ownership
            .change(1, true, &[(0, 0), (0, 1)], Instant::now());
        assert!(!group.settled_in(second));
        // Assigned, then quiet for longer than LATE_QUIET: settled, whatever it holds.
        let quiet = GroupShared::new(0, &scenario, "run", None);
        lock(&quiet.state)
            .ownership
            .change(1, true, &[(0, 0)], ago(20));
        lock(&quiet.state)
            .ownership
            .change(1, false, &[(0, 0)], ago(8));
        assert!(quiet.settled_in(second));
        // Another worker's member's change does not settle this worker's.
        let other = GroupShared::new(0, &scenario, "run", None);
        lock(&other.state)
            .ownership
            .change(0, true, &[(0, 0)], ago(10));
        assert!(!other.settled_in(second));
        // In one process, every member must hold its share.
        assert!(!other.settled_in(WorkerShare::default()));
    }
}
