//! Consumer groups: members poll, check ordering, record end-to-end latency, commit.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;

use super::lock;
use super::pacer::Plan;
use crate::kafka::{DltProducer, GroupMember, Polled, Record};
use crate::metrics::{KeyId, LatencyRecorder, OrderingChecker, Partition, new_histogram};
use crate::scenario::{FailureSpec, GroupSpec, Scenario};
use crate::workload::{Decoded, EventMeta, RUN_ID_LEN, decode};

/// One dead-lettered event, by its origin (group topic index, partition, offset).
pub type Origin = (usize, i32, i64);

/// What a group's failing events cost; kept in [`GroupState`].
pub struct FailureState {
    pub failed: u64,
    pub retried: u64,
    pub retries: u64,
    pub non_retryable: u64,
    pub poisoned: u64,
    pub dlt_acked: u64,
    /// Every dead-letter send, by origin: the event it carried.
    pub dead_lettered: FxHashMap<Origin, (KeyId, u32)>,
    pub retry_delay: Histogram<u64>,
    pub e2e_failed: Histogram<u64>,
    pub errors: Vec<String>,
}

impl Default for FailureState {
    fn default() -> Self {
        FailureState {
            failed: 0,
            retried: 0,
            retries: 0,
            non_retryable: 0,
            poisoned: 0,
            dlt_acked: 0,
            dead_lettered: FxHashMap::default(),
            retry_delay: new_histogram(),
            e2e_failed: new_histogram(),
            errors: Vec::new(),
        }
    }
}

/// How processing one event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Succeeds,
    /// Fails on every attempt: retried after each backoff, then dead-lettered.
    FailsAlways {
        poisoned: bool,
    },
    /// Fails with a non-retryable error: dead-lettered at once.
    NonRetryable,
}

/// The fate of an event in a group: a pure function of the seed, the group and the event,
/// so that a redelivery fails the same way.
pub fn fate(failures: &FailureSpec, seed: u64, group: usize, meta: &EventMeta) -> Fate {
    if meta.index < failures.poison_keys {
        return Fate::FailsAlways { poisoned: true };
    }
    let mut h = seed
        ^ (group as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ KeyId::new(meta.producer, meta.aggregate, meta.index).0;
    h ^= (meta.sequence as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    // splitmix64's finaliser: a uniform draw from the event's identity.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    let draw = (h >> 11) as f64 / (1u64 << 53) as f64;
    if draw < failures.non_retryable_rate {
        Fate::NonRetryable
    } else if draw < failures.non_retryable_rate + failures.rate {
        Fate::FailsAlways { poisoned: false }
    } else {
        Fate::Succeeds
    }
}

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
    /// The same, for the lowest offset consumed.
    pub first_positions: Vec<Vec<i64>>,
    /// Present when the group fails events.
    pub failures: Option<FailureState>,
}

/// A group as the engine and the ticker share it.
pub struct GroupShared {
    pub spec: GroupSpec,
    pub group_id: String,
    /// Names of the group's topics, in `spec.topics` order.
    pub topic_names: Vec<String>,
    /// Partitions of the group's topics: the group is ready when members hold all of them.
    pub expected_partitions: usize,
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
    /// For a late group: when its members were started, and when it had read everything.
    pub joined_at: OnceLock<Duration>,
    pub caught_up_at: OnceLock<Duration>,
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
            expected_partitions: spec
                .topics
                .iter()
                .map(|&t| scenario.topics[t].partitions as usize)
                .sum(),
            assigned: (0..slots).map(|_| AtomicUsize::new(0)).collect(),
            state: Mutex::new(GroupState {
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

    fn departure(&self, member: usize) -> u8 {
        self.departures
            .get(member)
            .map_or(STAY, |d| d.load(Ordering::Acquire))
    }

    /// Whether the members hold every partition of the group's topics.
    pub fn is_ready(&self) -> bool {
        self.partitions_held() >= self.expected_partitions
    }

    /// Whether the group's own members hold every partition between them, each its share
    /// (a member holds none only when there are more members than partitions).
    pub fn settled(&self) -> bool {
        let members = &self.assigned[..(self.spec.members as usize).min(self.assigned.len())];
        let holding = members
            .iter()
            .filter(|a| a.load(Ordering::Acquire) > 0)
            .count();
        let held: usize = members.iter().map(|a| a.load(Ordering::Acquire)).sum();
        held == self.expected_partitions && holding == members.len().min(held)
    }

    /// For one worker of several: whether each of its own members of the group holds a
    /// partition (the group's partitions are shared with other workers' members, so no
    /// worker can see the whole group hold them all).
    pub fn members_placed(&self, workers: crate::scenario::WorkerShare) -> bool {
        let members = self.spec.members as usize;
        let partitions = self.expected_partitions;
        (0..members.min(self.assigned.len()))
            .filter(|&m| workers.runs_member(m))
            // With more members than partitions, some members rightly hold none.
            .all(|m| members > partitions || self.assigned[m].load(Ordering::Acquire) > 0)
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
    // Whether this member paused its partitions, and when it last did (partitions assigned
    // since then are paused again).
    let mut paused: Option<Instant> = None;
    let mut held = group.holding.load(Ordering::Acquire);
    while !group.stop.load(Ordering::Acquire) && group.departure(args.member) == STAY {
        if held && !group.holding.load(Ordering::Acquire) {
            member.release();
            held = false;
        }
        match (group.paused.load(Ordering::Acquire), paused) {
            (true, None) => {
                member.set_paused(true);
                paused = Some(Instant::now());
            }
            (true, Some(at)) if at.elapsed() >= Duration::from_secs(1) => {
                member.set_paused(true);
                paused = Some(Instant::now());
            }
            (false, Some(_)) => {
                member.set_paused(false);
                paused = None;
            }
            _ => {}
        }
        let polled = member.poll(Duration::from_millis(50), |record| handle(&args, &record));
        match polled {
            Polled::Record(handled) => {
                if !processing.is_zero() {
                    // Simulated work, slept in slices of at least 1 ms to stay accurate.
                    debt += processing;
                    if debt >= Duration::from_millis(1) {
                        std::thread::sleep(debt);
                        debt = Duration::ZERO;
                    }
                }
                let (topic, partition, offset) = match handled {
                    Handled::Done(origin) => origin,
                    Handled::Failing(failing) => {
                        let origin = (failing.topic, failing.partition, failing.offset);
                        if !recover(&args, failing) {
                            // Stopped or departing mid-retry: not processed, not committed.
                            break;
                        }
                        origin
                    }
                };
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

/// What the member must do with a record after [`handle`].
enum Handled {
    /// Processed: commit past it.
    Done(Origin),
    /// Its processing fails: retry, then dead-letter it.
    Failing(Box<FailingEvent>),
}

/// An event whose processing fails, with what its dead-letter record carries.
struct FailingEvent {
    topic: usize,
    partition: i32,
    offset: i64,
    key: Vec<u8>,
    value: Vec<u8>,
    meta: EventMeta,
    fate: Fate,
}

#[inline]
fn handle(args: &MemberArgs, record: &Record<'_>) -> Handled {
    let origin = (record.topic, record.partition, record.offset);
    let decoded = record
        .payload
        .map_or(Decoded::Foreign, |p| decode(p, &args.run_id));
    if let (Decoded::Ours(meta), Some(failures)) = (decoded, &args.group.spec.failures) {
        let fate = fate(failures, args.group.seed, args.group.index, &meta);
        if fate != Fate::Succeeds {
            return Handled::Failing(Box::new(FailingEvent {
                topic: record.topic,
                partition: record.partition,
                offset: record.offset,
                key: record.key.unwrap_or_default().to_vec(),
                value: record.payload.unwrap_or_default().to_vec(),
                meta,
                fate,
            }));
        }
    }
    observe(args, origin, decoded, false);
    Handled::Done(origin)
}

/// Counts a delivered event: position, ordering, and e2e latency (kept apart when the event
/// `failed`).
fn observe(args: &MemberArgs, origin: Origin, decoded: Decoded, failed: bool) {
    let (local_topic, partition, offset) = origin;
    let mut state = lock(&args.group.state);
    if let Some(at) = state
        .positions
        .get_mut(local_topic)
        .and_then(|t| t.get_mut(partition as usize))
    {
        *at = (*at).max(offset);
    }
    if let Some(first) = state
        .first_positions
        .get_mut(local_topic)
        .and_then(|t| t.get_mut(partition as usize))
        && (*first < 0 || offset < *first)
    {
        *first = offset;
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
        .get(local_topic)
        .copied()
        .unwrap_or(0);
    state.checker.observe_in(
        KeyId::new(meta.producer, meta.aggregate, meta.index),
        meta.sequence,
        Some(Partition::new(topic, partition)),
    );
    // A late group reads late on purpose: its figures are its replay's rate and completeness.
    if args.group.spec.starts_after.is_some() {
        return;
    }
    if let Some((start, start_unix_us)) = args.start.get() {
        let now_us = start_unix_us + start.elapsed().as_micros() as u64;
        let e2e = now_us.saturating_sub(meta.intended_at_us);
        let intended = Duration::from_micros(meta.intended_at_us.saturating_sub(*start_unix_us));
        if failed {
            if let Some(failures) = state.failures.as_mut() {
                failures.e2e_failed.saturating_record(e2e.max(1));
            }
        } else if args.plan.is_warmup_at(intended) {
            state.e2e.record_interval_only(e2e);
        } else {
            state.e2e.record(e2e);
        }
    }
}

/// Sleeps `wait` in short slices; false when the group stops or this member departs first.
fn sleep_unless_stopped(args: &MemberArgs, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        if args.group.stop.load(Ordering::Acquire) || args.group.departure(args.member) != STAY {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Retries a failing event in place after each backoff (blocking this member and so its
/// partitions, as Spring's `DefaultErrorHandler` does), then publishes it to the dead-letter
/// topic and counts it. False when the member must stop before it is done.
fn recover(args: &MemberArgs, failing: Box<FailingEvent>) -> bool {
    let group = &args.group;
    let (Some(spec), Some(dlt)) = (&group.spec.failures, &group.dlt) else {
        return true;
    };
    let first_failure = Instant::now();
    let retries = match failing.fate {
        Fate::NonRetryable => 0,
        _ => spec.retry_backoff.len(),
    };
    for wait in &spec.retry_backoff[..retries] {
        if !sleep_unless_stopped(args, *wait) {
            return false;
        }
        // The retry fails again: the event's fate does not change.
    }
    let retry_delay = first_failure.elapsed();
    let error = match failing.fate {
        Fate::NonRetryable => {
            "surge: simulated non-retryable failure (like a DeserializationException)".to_string()
        }
        Fate::FailsAlways { poisoned: true } => {
            format!("surge: poisoned key, failed after {retries} retries")
        }
        _ => format!("surge: simulated processing failure after {retries} retries"),
    };
    let topic_name = group
        .topic_names
        .get(failing.topic)
        .map_or("", String::as_str);
    let value = failed_event(
        topic_name,
        &failing,
        &error,
        &String::from_utf8_lossy(&args.run_id),
        &group.spec.name,
    );
    let sent = dlt.publish(&failing.key, &value);
    let origin = (failing.topic, failing.partition, failing.offset);
    {
        let mut state = lock(&group.state);
        if let Some(failures) = state.failures.as_mut() {
            failures.failed += 1;
            match failing.fate {
                Fate::NonRetryable => failures.non_retryable += 1,
                Fate::FailsAlways { poisoned } => {
                    failures.poisoned += u64::from(poisoned);
                }
                Fate::Succeeds => {}
            }
            if retries > 0 {
                failures.retried += 1;
                failures.retries += retries as u64;
                failures
                    .retry_delay
                    .saturating_record((retry_delay.as_micros() as u64).max(1));
            }
            let key = KeyId::new(
                failing.meta.producer,
                failing.meta.aggregate,
                failing.meta.index,
            );
            failures
                .dead_lettered
                .insert(origin, (key, failing.meta.sequence));
            match &sent {
                Ok(_) => failures.dlt_acked += 1,
                Err(reason) => {
                    let reason = format!("a dead-letter send to {} failed: {reason}", dlt.topic());
                    if failures.errors.len() < 10 && !failures.errors.contains(&reason) {
                        failures.errors.push(reason);
                    }
                }
            }
        }
    }
    observe(args, origin, Decoded::Ours(failing.meta), true);
    true
}

/// The dead-letter record: ADR-005's `FailedEvent` as JSON (origin topic, partition, offset,
/// key, the event itself, the error and when it failed), plus the run and group it came from.
fn failed_event(
    topic: &str,
    failing: &FailingEvent,
    error: &str,
    run: &str,
    group: &str,
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct FailedEvent<'a> {
        topic: &'a str,
        partition: i32,
        offset: i64,
        key: std::borrow::Cow<'a, str>,
        value: &'a serde_json::value::RawValue,
        error_message: &'a str,
        timestamp: String,
        surge_run: &'a str,
        surge_group: &'a str,
    }
    let text = String::from_utf8_lossy(&failing.value).into_owned();
    let raw = serde_json::value::RawValue::from_string(text.clone())
        .unwrap_or_else(|_| serde_json::value::to_raw_value(&text).expect("a string"));
    let event = FailedEvent {
        topic,
        partition: failing.partition,
        offset: failing.offset,
        key: String::from_utf8_lossy(&failing.key),
        value: &raw,
        error_message: error,
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        surge_run: run,
        surge_group: group,
    };
    serde_json::to_vec(&event).expect("serialisable")
}

/// A dead-letter record as read back: the origin and the event it carries.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedEventIn {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Never read, but required: a record without it is not a FailedEvent.
    #[allow(dead_code)]
    pub key: String,
    pub value: Box<serde_json::value::RawValue>,
    pub surge_run: String,
    pub surge_group: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(index: u32, sequence: u32) -> EventMeta {
        EventMeta {
            producer: 0,
            aggregate: 0,
            index,
            sequence,
            intended_at_us: 0,
        }
    }

    #[test]
    fn the_failure_draw_matches_the_rates_and_repeats_for_a_redelivery() {
        let spec = crate::scenario::FailureSpec {
            rate: 0.01,
            non_retryable_rate: 0.002,
            poison_keys: 2,
            retry_backoff: Vec::new(),
            dlt_topic: 0,
        };
        let (mut always, mut non_retryable, mut poisoned) = (0, 0, 0);
        let draws = 200_000u32;
        for i in 0..draws {
            let event = meta(2 + i % 1000, i / 1000);
            let first = fate(&spec, 7, 0, &event);
            assert_eq!(first, fate(&spec, 7, 0, &event), "the same fate again");
            match first {
                Fate::FailsAlways { poisoned: true } => poisoned += 1,
                Fate::FailsAlways { poisoned: false } => always += 1,
                Fate::NonRetryable => non_retryable += 1,
                Fate::Succeeds => {}
            }
        }
        // 2,000 and 400 expected; standard deviations 44 and 20.
        assert!((always as i64 - 2_000).abs() < 250, "{always}");
        assert!((non_retryable as i64 - 400).abs() < 110, "{non_retryable}");
        assert_eq!(poisoned, 0, "keys from 2 up are not poisoned");
        for sequence in 0..50 {
            assert_eq!(
                fate(&spec, 7, 0, &meta(1, sequence)),
                Fate::FailsAlways { poisoned: true }
            );
        }
        // Another group (or seed) draws other events.
        let differs = (0..1000u32)
            .filter(|&i| {
                let event = meta(2 + i, 0);
                fate(&spec, 7, 0, &event) != fate(&spec, 7, 1, &event)
            })
            .count();
        assert!(differs > 0);
    }
}
