//! The envelope docs/measuring.md states: the largest key space a scenario may track, and the memory
//! its per-key state takes at that size, counted by a global allocator (bytes, not time).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use surge::engine::Plan;
use surge::engine::parts::{GroupShared, InstanceShared, Ticker};
use surge::metrics::brokers::BrokerBoard;
use surge::metrics::delivery::Deliveries;
use surge::metrics::{KeyId, OrderingChecker, Partition, SentLedger};
use surge::scenario::{MAX_KEY_STATE_BYTES, MAX_KEY_STATES};

/// The allocation counter is global: the tests of this file take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed to the system allocator unchanged; only the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, size) };
        if !moved.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A scenario with one aggregate of `keys` keys read by `groups` groups.
fn scenario(keys: u64, groups: usize) -> String {
    let mut text = format!(
        "[[topics]]\nname = \"orders\"\npartitions = 20\n\n[[events]]\nname = \"OrderCreated\"\ntopic = \"orders\"\nkeys = {keys}\n\n[[phases]]\nrate = \"1k/s\"\nduration = \"1s\"\n"
    );
    for g in 0..groups {
        text.push_str(&format!(
            "\n[[consumer_groups]]\nname = \"g{g}\"\ntopics = [\"orders\"]\n"
        ));
    }
    text
}

fn validate(text: &str) -> Result<surge::scenario::Scenario, surge::SurgeError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(&path, text).unwrap();
    surge::validate(&path, &Default::default())
}

#[test]
fn the_largest_key_space_is_accepted_and_fits_in_the_stated_memory() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // At the edge: 5,000,000 keys, tracked once for the producers and once by each of three
    // groups, is exactly MAX_KEY_STATES. One key more is refused, naming the key.
    let (keys, groups) = (MAX_KEY_STATES / 4, 3);
    assert!(validate(&scenario(keys, groups)).is_ok());
    let refused = validate(&scenario(keys + 1, groups))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("events[0].keys"), "{refused}");
    assert!(refused.contains("20000000"), "{refused}");

    // What a run keeps per key at that size: every key sent (the ledger), every key seen by
    // every group (the checkers), then the end-of-run comparison.
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut ledger = SentLedger::default();
    for index in 0..keys as u32 {
        ledger.counts.insert(KeyId::new(0, 0, index), 1);
    }
    let checkers: Vec<OrderingChecker> = (0..groups)
        .map(|_| {
            let mut checker = OrderingChecker::default();
            for index in 0..keys as u32 {
                checker.observe_in(
                    KeyId::new(0, 0, index),
                    0,
                    Some(Partition::new(0, (index % 20) as i32)),
                );
            }
            checker
        })
        .collect();
    for checker in &checkers {
        let report = checker.reconcile(&ledger, &[0], 10);
        assert_eq!((report.lost, report.gaps), (0, 0));
        assert_eq!(checker.unique, keys);
    }
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let held = CURRENT.load(Ordering::Relaxed) - before;
    eprintln!(
        "{MAX_KEY_STATES} key states: {} MiB held, {} MiB at the peak",
        held >> 20,
        peak >> 20
    );
    assert!(
        peak as u64 <= MAX_KEY_STATE_BYTES,
        "peak {peak} bytes is above the stated {MAX_KEY_STATE_BYTES}"
    );
    drop(checkers);
    drop(ledger);
}

#[test]
fn an_hour_of_per_second_figures_with_three_groups_grows_memory_by_a_few_mib_at_most() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // What grows with a run's length: each second, the ticker closes a timeline point and one
    // interval histogram per tag (publish, schedule lag, one e2e per group). Here an hour of
    // seconds, each with 2,000 latencies per recorder spread over many buckets as a real
    // second's are, and the memory held after each minute.
    let text = scenario(1000, 3).replace("duration = \"1s\"", "duration = \"3600s\"");
    let scenario = validate(&text).unwrap();
    let plan = Arc::new(Plan::new(&scenario.phases));
    // Every event's ack and read timed for each group, as at a low rate: the pairs close as
    // they come, so what the joins hold stays flat.
    let deliveries = Arc::new(Deliveries::new(
        1,
        &[Some(vec![0]), Some(vec![0]), Some(vec![0])],
        1,
    ));
    let instance = Arc::new(InstanceShared::new(
        *b"envelope",
        plan.clone(),
        Arc::new(OnceLock::new()),
        &[20],
        deliveries.clone(),
    ));
    let groups: Vec<Arc<GroupShared>> = (0..3)
        .map(|g| Arc::new(GroupShared::new(g, &scenario, "envelope", None)))
        .collect();
    let mut ticker = Ticker::new(plan, groups.len());
    // And each second, librdkafka's statistics from the producer and the three groups' members,
    // each of three brokers: the per-broker view keeps a row per broker and second.
    let board = BrokerBoard::default();
    let documents: Vec<String> = ["producer", "g0", "g1", "g2"]
        .iter()
        .map(|client| statistics_document(client))
        .collect();
    let mut held_after_minute = Vec::new();
    let start = CURRENT.load(Ordering::Relaxed);
    for second in 1..=3600u64 {
        for i in 0..2000u64 {
            let spread = 1_000 + (second * 7_919 + i * 104_729) % 400_000;
            instance.publish.lock().unwrap().record(spread);
            instance
                .schedule_lag
                .lock()
                .unwrap()
                .record(spread / 100 + 1);
            for group in &groups {
                group.state.lock().unwrap().e2e.record(spread + 5_000);
            }
            let place = (0, (i % 20) as i32, ((second * 2_000 + i) / 20) as i64);
            let acked_us = second * 1_000_000 + i;
            deliveries.acked(place, acked_us - 500, acked_us);
            for g in 0..3 {
                deliveries.consumed(g, place, second * 1_000_000 + i + spread);
            }
        }
        for document in &documents {
            board.push(document.as_bytes(), true);
        }
        ticker.tick(
            Duration::from_secs(second),
            std::slice::from_ref(&instance),
            &groups,
            &board,
        );
        if second % 60 == 0 {
            held_after_minute.push(CURRENT.load(Ordering::Relaxed).saturating_sub(start));
        }
    }
    assert_eq!(ticker.timeline.len(), 3600);
    assert_eq!(ticker.brokers.seconds.len(), 3);
    assert!(ticker.brokers.seconds.values().all(|s| s.len() == 3600));
    assert_eq!(ticker.intervals.len(), 3600 * 5);
    let mib = |bytes: usize| bytes as f64 / (1 << 20) as f64;
    let (minute_1, minute_10, minute_60) = (
        held_after_minute[0],
        held_after_minute[9],
        held_after_minute[59],
    );
    eprintln!(
        "held after minute 1: {:.2} MiB, minute 10: {:.2} MiB, minute 60: {:.2} MiB",
        mib(minute_1),
        mib(minute_10),
        mib(minute_60)
    );
    // Minute 1 to minute 10: under 1.5 MiB, against about 45 MiB of resident memory at minute
    // 1 in a 10k/s run with three groups (benches/README.md section 9); the interval histograms
    // alone, held in memory, were about 10 KB a second (5 MiB over those nine minutes). The
    // per-broker view's rows (128 bytes a broker and second, 0.2 MiB here) and their vectors'
    // doubling took it from 0.7 to 1.05 MiB, and the hour from 4.2 to 5.7 MiB; the latency
    // breakdown's ack-to-read timing (every event paired as it comes) to 5.8 MiB, and the
    // median event's cells (24 bytes per 2% of e2e, each group) with each waiting ack's
    // intended time to 5.96 MiB.
    assert!(
        minute_10 - minute_1 < 3 << 19,
        "{:.2} MiB",
        mib(minute_10 - minute_1)
    );
    // An hour: under 6.5 MiB in all (the timeline's vector doubles as it grows).
    assert!(minute_60 < 13 << 19, "{:.2} MiB", mib(minute_60));
    let timed = deliveries.stats(2).unwrap();
    assert_eq!((timed.timed, timed.untimed), (3_600 * 2_000, 0));
    let (in_file, in_memory) = ticker.intervals.stored_bytes();
    eprintln!(
        "interval histograms: {:.1} MiB in the temporary file, {in_memory} bytes in memory",
        mib(in_file as usize)
    );
    assert_eq!(in_memory, 0);
    // Held in memory, as before, they alone would have outgrown the hour's bound.
    assert!(in_file > 6 << 20, "{in_file} bytes");
    // Every interval still reads back whole.
    let last = ticker.intervals.iter().last().unwrap().histogram();
    assert_eq!(last.len(), 2000);
}

/// A client's statistics document with three learned brokers, as librdkafka writes one.
fn statistics_document(client: &str) -> String {
    let window = r#"{"min": 900, "max": 40000, "avg": 2100, "sum": 252000, "cnt": 120,
        "p50": 1800, "p75": 2000, "p90": 2500, "p95": 3000, "p99": 39000, "p99_99": 40000}"#;
    let brokers: Vec<String> = (1..=3)
        .map(|node| {
            format!(
                r#""127.0.0.1:909{node}/{node}": {{"name": "127.0.0.1:909{node}/{node}",
                "nodeid": {node}, "source": "learned", "state": "UP", "tx": 120,
                "txbytes": 50000, "rxbytes": 9000, "txretries": 0, "req_timeouts": 0,
                "disconnects": 0, "rtt": {window}, "outbuf_latency": {window},
                "int_latency": {window}, "throttle": {window}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"name": "{client}", "type": "producer", "brokers": {{{}}}}}"#,
        brokers.join(",")
    )
}
