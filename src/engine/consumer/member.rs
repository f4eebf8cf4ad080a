//! One member of a group: poll, check each event, commit what it processed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::super::lock;
use super::super::pacer::Plan;
use super::failures::{FailingEvent, Fate, Origin, failed_event, fate};
use super::{CRASH, GroupShared, STAY};
use crate::kafka::{GroupMember, Polled, Record};
use crate::metrics::causes::At;
use crate::metrics::delivery::Deliveries;
use crate::metrics::{KeyId, Observation, Partition};
use crate::workload::{Decoded, RUN_ID_LEN, decode};

/// Everything one member loop needs.
pub struct MemberArgs {
    pub group: Arc<GroupShared>,
    pub member: usize,
    pub run_id: [u8; RUN_ID_LEN],
    pub plan: Arc<Plan>,
    /// Set once the plan starts: the monotonic start and its wall-clock microseconds.
    pub start: Arc<std::sync::OnceLock<(Instant, u64)>>,
    /// Where sampled reads are matched with their acks.
    pub deliveries: Arc<Deliveries>,
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
        note_changes(&args, &member);
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
            member.commit();
            last_commit = Instant::now();
        }
    }
    group.assigned[args.member].store(0, Ordering::Release);
    note_changes(&args, &member);
    if !group.stop.load(Ordering::Acquire) {
        // Left or died mid-run: what it held has no owner until the group rebalances.
        lock(&group.state)
            .ownership
            .member_gone(args.member as u16, Instant::now());
    }
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

/// Hands what the member's rebalance callbacks changed to the group's ownership record.
fn note_changes(args: &MemberArgs, member: &GroupMember) {
    let changes = member.take_changes();
    if changes.is_empty() {
        return;
    }
    let mut state = lock(&args.group.state);
    for change in changes {
        state.ownership.change(
            args.member as u16,
            change.assigned,
            &change.partitions,
            change.at,
        );
    }
}

/// What the member must do with a record after [`handle`].
enum Handled {
    /// Processed: commit past it.
    Done(Origin),
    /// Its processing fails: retry, then dead-letter it.
    Failing(Box<FailingEvent>),
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
            // Its ack is never paired with a read that counts.
            if let Some(&topic) = args.group.spec.topics.get(record.topic)
                && args.deliveries.sampled(record.offset)
            {
                let place = (topic as u32, record.partition, record.offset);
                args.deliveries.forget(args.group.index(), place);
            }
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
    let bytes = record.payload.map_or(0, |p| p.len() as u64);
    observe(args, origin, decoded, bytes, false);
    Handled::Done(origin)
}

/// Counts a delivered event of `bytes` payload bytes: position, ordering, and e2e latency
/// (kept apart when the event `failed`).
fn observe(args: &MemberArgs, origin: Origin, decoded: Decoded, bytes: u64, failed: bool) {
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
    state.consumed_bytes += bytes;
    let topic = args
        .group
        .spec
        .topics
        .get(local_topic)
        .copied()
        .unwrap_or(0);
    let observed = state.checker.observe_at(
        KeyId::new(meta.producer, meta.aggregate, meta.index),
        meta.sequence,
        Some(At {
            partition: Partition::new(topic, partition),
            offset,
        }),
    );
    match observed {
        Observation::Duplicate => state.ownership.redelivery(Instant::now()),
        Observation::OutOfOrder => state.ownership.disorder(Instant::now()),
        Observation::InOrder => {}
    }
    // A late group reads late on purpose: its figures are its replay's rate and completeness.
    if args.group.spec.starts_after.is_some() {
        return;
    }
    let Some((start, start_unix_us)) = args.start.get() else {
        return;
    };
    let since_start_us = start.elapsed().as_micros() as u64;
    let e2e = (start_unix_us + since_start_us).saturating_sub(meta.intended_at_us);
    let intended = Duration::from_micros(meta.intended_at_us.saturating_sub(*start_unix_us));
    if failed {
        if let Some(failures) = state.failures.as_mut() {
            failures.e2e_failed.saturating_record(e2e.max(1));
        }
    } else if args.plan.is_warmup_at(intended) {
        state.e2e.record_interval_only(e2e);
    } else {
        state.e2e.record(e2e);
        drop(state);
        if args.deliveries.sampled(offset) {
            let place = (topic as u32, partition, offset);
            (args.deliveries).consumed(args.group.index(), place, since_start_us);
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
        group.worker,
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
    let bytes = failing.value.len() as u64;
    observe(args, origin, Decoded::Ours(failing.meta), bytes, true);
    true
}
