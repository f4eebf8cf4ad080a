//! One producer instance: the pacing loop, its event generator, and its delivery sink.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::lock;
use super::pacer::{Clock, MonotonicClock, PaceEnd, Pacer, Plan, pace};
use super::replace::{Rebuild, replace_after_fatal};
use super::signals::StopSignal;
use crate::kafka::{Delivery, DeliverySink, EventProducer, SendOutcome};
use hdrhistogram::Histogram;

use crate::metrics::delivery::Deliveries;
use crate::metrics::{KeyId, LatencyRecorder, SentLedger, new_histogram};
use crate::scenario::Scenario;
use crate::workload::{Decoded, EventGenerator, OutgoingEvent, RUN_ID_LEN, decode};

/// Packs an intended offset (microseconds since the plan start) and a topic index.
fn token(intended_us: u64, topic: usize) -> usize {
    ((intended_us << 16) | topic as u64) as usize
}

fn untoken(token: usize) -> (u64, usize) {
    ((token as u64) >> 16, token & 0xffff)
}

/// Counters and recorders one instance shares with the timeline ticker.
pub struct InstanceShared {
    run_id: [u8; RUN_ID_LEN],
    plan: Arc<Plan>,
    /// The plan's monotonic start and its wall-clock microseconds, set when it starts.
    start: Arc<OnceLock<(Instant, u64)>>,
    /// Publish latency: broker ack minus intended send time.
    pub publish: Mutex<LatencyRecorder>,
    /// Schedule lag: actual minus intended send time.
    pub schedule_lag: Mutex<LatencyRecorder>,
    pub sent: AtomicU64,
    /// Payload (record value) bytes of the events sent, and of those acked, per topic.
    pub sent_bytes: AtomicU64,
    pub acked: AtomicU64,
    pub acked_by_topic: Vec<AtomicU64>,
    pub acked_bytes_by_topic: Vec<AtomicU64>,
    /// Per topic and partition, the highest offset the broker acked (-1: none): a group that
    /// consumed at or past it has read every acked event of that partition.
    pub acked_high: Vec<Vec<AtomicI64>>,
    /// The same for the lowest acked offset (`i64::MAX`: none).
    pub acked_low: Vec<Vec<AtomicI64>>,
    /// Acks at or below an offset this instance was acked before: one instance's acks of a
    /// partition come in offset order, so the log was truncated and the offset reused.
    pub rewinds: Vec<Vec<AtomicI64>>,
    /// Events acked without an offset (acks=0, or a duplicate of a write the broker said it
    /// had), the first [`MAX_AUDITED`](super::loss_audit::MAX_AUDITED) of them.
    without_offset: Mutex<Vec<(KeyId, u32)>>,
    without_offset_seen: AtomicU64,
    pub failed: AtomicU64,
    failures: Mutex<Vec<(KeyId, u32)>>,
    errors: Mutex<Vec<String>>,
    /// Why sends failed: kept apart from the client's errors, so that a flood of connection
    /// errors never hides the reason a send was given up.
    failure_reasons: Mutex<Vec<String>>,
    /// Offset of the last send, in microseconds since the plan start.
    pub last_send_us: AtomicU64,
    /// Set by a `producer_pause` fault: the pacer holds its next send until it clears.
    pub paused: AtomicBool,
    /// Set when the client hit a fatal error: the pacer replaces it before its next send.
    pub(super) fatal: AtomicBool,
    /// Set when the pacer has stopped sending (plan done, stop or send deadline), before the
    /// flush: the drain's timeout counts from here, so the flush spends the same budget.
    pub(super) sending_done: AtomicBool,
    /// Clients replaced after a fatal error.
    pub rebuilds: AtomicU64,
    /// Ack times of sampled events, for each group's ack-to-consumption share.
    deliveries: Arc<Deliveries>,
}

impl InstanceShared {
    pub fn new(
        run_id: [u8; RUN_ID_LEN],
        plan: Arc<Plan>,
        start: Arc<OnceLock<(Instant, u64)>>,
        partitions: &[u32],
        deliveries: Arc<Deliveries>,
    ) -> InstanceShared {
        InstanceShared {
            run_id,
            plan,
            start,
            publish: Mutex::default(),
            schedule_lag: Mutex::default(),
            sent: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            acked_by_topic: partitions.iter().map(|_| AtomicU64::new(0)).collect(),
            acked_bytes_by_topic: partitions.iter().map(|_| AtomicU64::new(0)).collect(),
            acked_high: partitions
                .iter()
                .map(|&n| (0..n).map(|_| AtomicI64::new(-1)).collect())
                .collect(),
            acked_low: partitions
                .iter()
                .map(|&n| (0..n).map(|_| AtomicI64::new(i64::MAX)).collect())
                .collect(),
            rewinds: partitions
                .iter()
                .map(|&n| (0..n).map(|_| AtomicI64::new(0)).collect())
                .collect(),
            without_offset: Mutex::default(),
            without_offset_seen: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failures: Mutex::default(),
            errors: Mutex::default(),
            failure_reasons: Mutex::default(),
            last_send_us: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            fatal: AtomicBool::new(false),
            sending_done: AtomicBool::new(false),
            rebuilds: AtomicU64::new(0),
            deliveries,
        }
    }

    pub(super) fn note_error(&self, reason: &str) {
        keep_distinct(&self.errors, reason);
    }

    fn record_failure(&self, payload: Option<&[u8]>, reason: &str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        keep_distinct(&self.failure_reasons, reason);
        if let Some(Decoded::Ours(meta)) = payload.map(|p| decode(p, &self.run_id)) {
            lock(&self.failures).push((
                KeyId::new(meta.producer, meta.aggregate, meta.index),
                meta.sequence,
            ));
        }
    }

    /// Keeps the partition's lowest and highest acked offsets, and the evidence of a
    /// truncated log (an offset acked again) or of an ack without an offset.
    #[inline]
    fn note_offset(&self, topic: usize, delivery: &Delivery<'_>) {
        let Ok(p) = usize::try_from(delivery.partition) else {
            return;
        };
        if delivery.offset < 0 {
            self.note_without_offset(delivery.payload);
            return;
        }
        if let Some(high) = self.acked_high.get(topic).and_then(|t| t.get(p))
            && high.fetch_max(delivery.offset, Ordering::Relaxed) >= delivery.offset
            && let Some(rewinds) = self.rewinds.get(topic).and_then(|t| t.get(p))
        {
            rewinds.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(low) = self.acked_low.get(topic).and_then(|t| t.get(p)) {
            low.fetch_min(delivery.offset, Ordering::Relaxed);
        }
    }

    #[cold]
    fn note_without_offset(&self, payload: Option<&[u8]>) {
        // With acks=0 every ack comes without an offset: the count is checked before decoding.
        let seen = self.without_offset_seen.fetch_add(1, Ordering::Relaxed);
        if seen >= super::loss_audit::MAX_AUDITED as u64 {
            return;
        }
        if let Some(Decoded::Ours(meta)) = payload.map(|p| decode(p, &self.run_id)) {
            let mut kept = lock(&self.without_offset);
            if kept.len() < super::loss_audit::MAX_AUDITED {
                kept.push((
                    KeyId::new(meta.producer, meta.aggregate, meta.index),
                    meta.sequence,
                ));
            }
        }
    }

    /// The events acked without an offset, kept so far.
    pub(super) fn acked_without_offset(&self) -> Vec<(KeyId, u32)> {
        lock(&self.without_offset).clone()
    }

    fn since_start_us(&self) -> u64 {
        self.start
            .get()
            .map_or(0, |(start, _)| start.elapsed().as_micros() as u64)
    }

    /// Why sends failed, then the client errors seen so far.
    pub fn errors(&self) -> Vec<String> {
        let mut errors = lock(&self.failure_reasons).clone();
        errors.extend(lock(&self.errors).iter().cloned());
        errors
    }
}

/// Keeps the first 10 distinct reasons.
fn keep_distinct(kept: &Mutex<Vec<String>>, reason: &str) {
    let mut kept = lock(kept);
    if kept.len() < 10 && !kept.iter().any(|e| e == reason) {
        kept.push(reason.to_string());
    }
}

impl DeliverySink for InstanceShared {
    fn delivered(&self, delivery: Delivery<'_>) {
        let (intended_us, topic) = untoken(delivery.token);
        if let Some(reason) = delivery.error {
            self.record_failure(delivery.payload, &reason);
            return;
        }
        let now_us = self.since_start_us();
        let latency = now_us.saturating_sub(intended_us);
        let warmup = self.plan.is_warmup_at(Duration::from_micros(intended_us));
        {
            // Counted under the lock the ticker reads them under: each second's acked bytes
            // are the bytes of that second's acked events.
            let mut publish = lock(&self.publish);
            self.acked.fetch_add(1, Ordering::Relaxed);
            if let Some(counter) = self.acked_by_topic.get(topic) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(counter) = self.acked_bytes_by_topic.get(topic) {
                counter.fetch_add(delivery.payload_len as u64, Ordering::Relaxed);
            }
            if warmup {
                publish.record_interval_only(latency);
            } else {
                publish.record(latency);
            }
        }
        self.note_offset(topic, &delivery);
        if !warmup && self.deliveries.sampled(delivery.offset) {
            let place = (topic as u32, delivery.partition, delivery.offset);
            self.deliveries.acked(place, intended_us, now_us);
        }
    }

    fn client_error(&self, reason: &str) {
        self.note_error(reason);
    }

    fn fatal(&self) {
        self.fatal.store(true, Ordering::Release);
    }
}

/// Acked events per topic index, summed over every producer instance.
pub fn acked_by_topic(instances: &[Arc<InstanceShared>]) -> Vec<u64> {
    per_topic(instances, |i| &i.acked_by_topic)
}

/// Acked payload bytes per topic index, summed over every producer instance.
pub fn acked_bytes_by_topic(instances: &[Arc<InstanceShared>]) -> Vec<u64> {
    per_topic(instances, |i| &i.acked_bytes_by_topic)
}

fn per_topic(
    instances: &[Arc<InstanceShared>],
    counters: impl Fn(&InstanceShared) -> &[AtomicU64],
) -> Vec<u64> {
    let mut totals = vec![0u64; instances.first().map_or(0, |i| counters(i).len())];
    for instance in instances {
        for (total, counter) in totals.iter_mut().zip(counters(instance)) {
            *total += counter.load(Ordering::Relaxed);
        }
    }
    totals
}

/// Sends, acks and failed sends over every producer instance so far.
pub fn so_far(instances: &[Arc<InstanceShared>]) -> super::SoFar {
    let sum = |count: fn(&InstanceShared) -> &AtomicU64| {
        (instances.iter()).fold(0, |total: u64, i| {
            total.saturating_add(count(i).load(Ordering::Relaxed))
        })
    };
    super::SoFar {
        sent: sum(|i| &i.sent),
        acked: sum(|i| &i.acked),
        failed: sum(|i| &i.failed),
    }
}

/// Per topic and partition, the highest acked offset over every producer instance (-1: none).
pub fn acked_high(instances: &[Arc<InstanceShared>]) -> Vec<Vec<i64>> {
    per_partition(instances, |i| &i.acked_high, -1, i64::max)
}

/// One figure per topic and partition over every instance: each instance's counter from
/// `table`, folded into `start` with `fold`.
pub(super) fn per_partition(
    instances: &[Arc<InstanceShared>],
    table: fn(&InstanceShared) -> &Vec<Vec<AtomicI64>>,
    start: i64,
    fold: fn(i64, i64) -> i64,
) -> Vec<Vec<i64>> {
    let mut out: Vec<Vec<i64>> = instances.first().map_or_else(Vec::new, |i| {
        table(i).iter().map(|t| vec![start; t.len()]).collect()
    });
    for instance in instances {
        for (topic, counters) in out.iter_mut().zip(table(instance)) {
            for (value, counter) in topic.iter_mut().zip(counters) {
                *value = fold(*value, counter.load(Ordering::Relaxed));
            }
        }
    }
    out
}

/// Every producer instance's counters and latency histograms, added up: over the interval
/// since the last tick (the ticker) or over the whole run (the collection).
pub struct ProducerTotals {
    pub publish: Histogram<u64>,
    pub schedule_lag: Histogram<u64>,
    pub sent: u64,
    pub sent_bytes: u64,
    pub acked: u64,
    /// Payload bytes of the acked events, read with `acked` under the same lock.
    pub acked_bytes: u64,
    pub failed: u64,
    /// Offset of the last send from the plan start, in microseconds.
    pub last_send_us: u64,
}

/// Adds up every instance; `histogram` picks what each recorder contributes (the interval it
/// hands over, or its total).
pub fn producer_totals(
    instances: &[Arc<InstanceShared>],
    histogram: impl Fn(&mut LatencyRecorder) -> Histogram<u64>,
) -> ProducerTotals {
    let mut totals = ProducerTotals {
        publish: new_histogram(),
        schedule_lag: new_histogram(),
        sent: 0,
        sent_bytes: 0,
        acked: 0,
        acked_bytes: 0,
        failed: 0,
        last_send_us: 0,
    };
    for instance in instances {
        // Every recorder is built with the same bounds, so adding cannot fail.
        // Each count is read with its bytes under the lock they change under.
        {
            let mut publish = lock(&instance.publish);
            let _ = totals.publish.add(histogram(&mut publish));
            totals.acked += instance.acked.load(Ordering::Relaxed);
            totals.acked_bytes += (instance.acked_bytes_by_topic.iter())
                .map(|bytes| bytes.load(Ordering::Relaxed))
                .sum::<u64>();
        }
        {
            let mut schedule_lag = lock(&instance.schedule_lag);
            let _ = totals.schedule_lag.add(histogram(&mut schedule_lag));
            totals.sent += instance.sent.load(Ordering::Relaxed);
            totals.sent_bytes += instance.sent_bytes.load(Ordering::Relaxed);
        }
        totals.failed += instance.failed.load(Ordering::Relaxed);
        totals.last_send_us = totals
            .last_send_us
            .max(instance.last_send_us.load(Ordering::Relaxed));
    }
    totals
}

/// The pacer's clock while it sends: its waits serve delivery reports as they arrive.
struct ServingClock<'a> {
    clock: MonotonicClock,
    producer: &'a RefCell<EventProducer<InstanceShared>>,
}

impl Clock for ServingClock<'_> {
    fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    fn wait_until(&mut self, at: Duration) {
        self.producer.borrow().wait(self.clock.wait_length(at));
    }
}

/// While catching up (never waiting), the pacer serves delivery reports every this many sends.
const SERVE_EVERY: u64 = 16;

/// What an instance hands back when its loop ends.
pub struct InstanceOutcome {
    pub end: PaceEnd,
    pub ledger: SentLedger,
    /// Planned events this instance never sent (stopped or out of time).
    pub not_sent: u64,
    /// Whether every queued event got its delivery report before the flush timeout.
    pub flushed: bool,
}

/// Queues one event. Back-pressure (a full local queue) is waited out, and the wait shows up
/// as schedule lag of the following events; it never outlives a stop or the send deadline
/// (`gives_up`): the event then counts as a failed send, so its sequence is accounted for and
/// never called lost.
#[inline]
fn send_event(
    producer: &EventProducer<InstanceShared>,
    shared: &InstanceShared,
    event: &OutgoingEvent<'_>,
    type_headers: bool,
    token: usize,
    gives_up: impl Fn() -> bool,
) {
    loop {
        match producer.send(
            event.topic,
            event.key,
            event.payload,
            type_headers.then_some(event.kind),
            token,
        ) {
            SendOutcome::Queued => return,
            SendOutcome::QueueFull => {
                producer.wait(Duration::from_millis(1));
                if gives_up() {
                    shared.record_failure(
                        Some(event.payload),
                        "not sent: the producer's local queue was still full when the run stopped or reached its send deadline (run.send_grace)",
                    );
                    return;
                }
            }
            SendOutcome::Failed(reason) => {
                shared.record_failure(Some(event.payload), &reason);
                return;
            }
            SendOutcome::Fatal(reason) => {
                shared.record_failure(Some(event.payload), &reason);
                shared.fatal();
                return;
            }
        }
    }
}

/// Counts a send and records how late it went out against its intended time; warmup sends
/// count only in the per-second view. The count and bytes change under the lock the ticker
/// reads them under, so each second's sent bytes are the bytes of that second's sends.
#[inline]
fn record_send(shared: &InstanceShared, plan: &Plan, bytes: usize, send: (Duration, Duration)) {
    let (intended, now) = send;
    let lag = now.saturating_sub(intended).as_micros() as u64;
    let mut schedule_lag = lock(&shared.schedule_lag);
    shared.sent.fetch_add(1, Ordering::Relaxed);
    shared.sent_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    if plan.is_warmup_at(intended) {
        schedule_lag.record_interval_only(lag);
    } else {
        schedule_lag.record(lag);
    }
}

/// Runs one instance to the end of the plan, a stop, or the send deadline; then flushes.
pub fn run_instance(
    scenario: &Scenario,
    producer: EventProducer<InstanceShared>,
    rebuild: Rebuild<'_>,
    instance: u16,
    shared: Arc<InstanceShared>,
    stop: &StopSignal,
    started_unix_us: u64,
) -> InstanceOutcome {
    let mut generator = EventGenerator::new(scenario, &shared.run_id, instance);
    let plan = shared.plan.clone();
    let mut pacer = Pacer::new(instance, scenario.total_instances());
    let plan_start = shared
        .start
        .get()
        .map_or_else(Instant::now, |(start, _)| *start);
    let producer = RefCell::new(producer);
    let mut clock = ServingClock {
        clock: MonotonicClock::starting_at(plan_start),
        producer: &producer,
    };
    let mut replaceable = true;
    let deadline = plan.duration() + scenario.limits.send_grace;
    let mut sent_here = 0u64;
    let type_headers = scenario.type_headers;
    // Per-key counts are marked at every fault's start and end, so that a lost or failed
    // event can be told apart by the fault window it was intended in.
    let marks = crate::scenario::faults::boundaries(&scenario.faults);
    let mut next_mark = 0;
    // What librdkafka queued while the groups joined (client errors, an IAM token request).
    producer.borrow().serve();

    let end = pace(
        &plan,
        &mut pacer,
        &mut clock,
        deadline,
        || stop.is_requested(),
        |tick, now| {
            while marks.get(next_mark).is_some_and(|&at| tick.intended >= at) {
                generator.mark();
                next_mark += 1;
            }
            // A paused producer owes its events; they go out late, as schedule lag.
            while shared.paused.load(Ordering::Acquire)
                && !stop.is_requested()
                && plan_start.elapsed() < deadline
            {
                producer.borrow().wait(Duration::from_millis(1));
            }
            if replaceable && shared.fatal.load(Ordering::Acquire) {
                replaceable = replace_after_fatal(&producer, &shared, rebuild);
            }
            let producer = producer.borrow();
            let intended_us = tick.intended.as_micros() as u64;
            let event = generator.next_event(tick.event, started_unix_us + intended_us);
            let token = token(intended_us, event.topic);
            let gives_up = || stop.is_requested() || plan_start.elapsed() >= deadline;
            send_event(&producer, &shared, &event, type_headers, token, gives_up);
            sent_here += 1;
            if sent_here.is_multiple_of(SERVE_EVERY) {
                producer.serve();
            }
            record_send(&shared, &plan, event.payload.len(), (tick.intended, now));
            shared
                .last_send_us
                .store(now.as_micros() as u64, Ordering::Relaxed);
        },
    );

    shared.sending_done.store(true, Ordering::Release);
    let producer = producer.into_inner();
    let flushed = flush_unless_aborted(&producer, scenario.limits.drain_timeout, stop);
    if !flushed {
        // Whatever is left is failed explicitly, so every send ends acked or failed.
        producer.purge();
    }
    let mut ledger = generator.ledger();
    ledger.failed.extend(lock(&shared.failures).iter().copied());
    let instances = scenario.total_instances() as u64;
    let planned_here = plan.events_of_instance(instance as u64, instances);
    InstanceOutcome {
        end,
        ledger,
        not_sent: planned_here.saturating_sub(sent_here),
        flushed,
    }
}

/// How often a producer's final flush looks for an abort.
const FLUSH_SLICE: Duration = Duration::from_millis(200);

/// Waits up to `limit` for every send to be acked or failed, in slices, so that an abort (a
/// second Ctrl-C, or a fatal cause) ends the wait at once. `false`: something is left, to purge.
fn flush_unless_aborted(
    producer: &EventProducer<InstanceShared>,
    limit: Duration,
    stop: &StopSignal,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if producer.flush(left.min(FLUSH_SLICE)) {
            return true;
        }
        if left <= FLUSH_SLICE || stop.is_aborted() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_intended_time_and_topic() {
        let packed = token(123_456_789_012, 5);
        assert_eq!(untoken(packed), (123_456_789_012, 5));
    }

    /// The ticker's read of acks never falls between an event's count and its bytes, while
    /// delivery reports keep arriving on another thread.
    #[test]
    fn acked_counts_and_bytes_are_read_together() {
        let shared = Arc::new(InstanceShared::new(
            [0; RUN_ID_LEN],
            Arc::new(Plan::new(&[])),
            Arc::default(),
            &[4],
            Arc::new(Deliveries::new(1, &[], 1)),
        ));
        let reports = 200_000;
        let reporter = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for offset in 0..reports {
                    shared.delivered(Delivery {
                        token: token(offset as u64, 0),
                        partition: 0,
                        offset,
                        error: None,
                        payload: None,
                        payload_len: 600,
                    });
                }
            })
        };
        let instances = [shared];
        let mut reads = 0;
        loop {
            let done = reporter.is_finished();
            let totals = producer_totals(&instances, LatencyRecorder::take_interval);
            assert_eq!(
                totals.acked_bytes,
                totals.acked * 600,
                "after {reads} reads"
            );
            reads += 1;
            if done {
                assert_eq!(totals.acked, reports as u64);
                break;
            }
        }
        reporter.join().unwrap();
    }
}
