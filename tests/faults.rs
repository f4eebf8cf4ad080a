//! Faults on the embedded broker: each kind changes what it should, and the per-fault
//! figures say so.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::exclusive;
use surge::engine::StopSignal;
use surge::scenario::Overrides;
use surge::summary::{FaultSummary, Status, Summary};
use surge::{RunOptions, RunOutcome, SurgeError};

/// One keyed topic of 6 partitions at 500 events/s (2 s warmup, then `seconds` measured),
/// read by one group of `members`; `faults` is appended as written.
fn scenario(dir: &Path, members: u32, seconds: u32, faults: &str) -> PathBuf {
    let path = dir.join("fault.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "fault-test"
[[topics]]
name = "orders"
partitions = 6

[[events]]
name = "OrderCreated"
topic = "orders"
keys = 2000

[[phases]]
name = "warmup"
rate = "500/s"
duration = "2s"
warmup = true

[[phases]]
name = "steady"
rate = "500/s"
duration = "{seconds}s"

[[consumer_groups]]
name = "reader"
topics = ["orders"]
members = {members}
commit_interval = "500ms"

{faults}
"#
        ),
    )
    .unwrap();
    path
}

fn run(path: &Path, overrides: Overrides, out: &Path) -> Result<RunOutcome, SurgeError> {
    surge::run(
        &RunOptions {
            scenario: path.to_path_buf(),
            overrides,
            out: Some(out.to_path_buf()),
            quiet: true,
            metrics_addr: None,
            workers: Default::default(),
        },
        Arc::new(StopSignal::default()),
    )
}

/// A `broker_down` fault for each of the embedded cluster's three brokers, at `at`, for good.
fn every_broker_down_at(at: &str) -> String {
    (1..=3)
        .map(|b| {
            format!("[[faults]]\nname = \"down{b}\"\nkind = \"broker_down\"\nbroker = {b}\nat = \"{at}\"\n\n")
        })
        .collect()
}

fn fault<'a>(summary: &'a Summary, name: &str) -> &'a FaultSummary {
    summary
        .faults
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fault {name} in {:#?}", summary.faults))
}

/// Nothing acked was lost or left unread, nothing failed, nothing out of order.
fn assert_intact(summary: &Summary) {
    assert_eq!(summary.produced.failed, 0, "{:#?}", summary.errors);
    assert_eq!(summary.produced.acked, summary.produced.sent);
    for group in &summary.groups {
        assert_eq!(group.lost, 0, "group {}", group.name);
        assert_eq!(group.unread, 0, "group {}", group.name);
        assert_eq!(group.ordering.out_of_order, 0, "group {}", group.name);
        assert_eq!(group.ordering.gaps, 0, "group {}", group.name);
        assert_eq!(group.unique, summary.produced.acked, "group {}", group.name);
    }
}

/// Slow (about 20 s) because the outage needs 6 s of normal traffic before it, 3 s down, and
/// its recovery inside the plan.
#[test]
fn a_broker_down_delays_publishing_then_recovers_without_loss() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        2,
        14,
        "[[faults]]\nname = \"down\"\nkind = \"broker_down\"\nbroker = 2\nat = \"6s\"\nduration = \"3s\"\n\n[slo]\nchecks = [\"fault.down.lost == 0\", \"faults.lost == 0\", \"fault.down.recovery < 10s\"]\n",
    );
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_intact(summary);
    let down = fault(summary, "down");
    assert!(down.applied);
    assert!(
        (down.start_s - 6.0).abs() < 0.2 && (down.end_s - 9.0).abs() < 0.2,
        "{down:#?}"
    );
    assert_eq!((down.lost, down.failed), (0, 0));
    // Events for the partitions broker 2 leads wait for it: up to the 3 s it was down.
    let window_p99 = down.publish_p99_us.unwrap();
    assert!(
        window_p99 > 1_000_000 && window_p99 > 10 * summary.latency.publish_us.p50,
        "publish p99 over the fault {window_p99} us, run p50 {} us",
        summary.latency.publish_us.p50
    );
    // ...and after it, publishing is back to normal. One second over is allowed: CI once saw a
    // single 1.56 s second three seconds after the broker came back (held events were acked in
    // the second after its end there too, as here), which a loaded host's stall explains; what
    // must hold is that the run returns to normal and stays there to its end (its last three
    // seconds, or as many as followed the impact).
    let late: Vec<(f64, u64)> = summary
        .timeline
        .iter()
        .filter(|p| p.t > down.impact_end_s + 1.0 && p.phase == "steady")
        .filter_map(|p| Some((p.t, p.publish_p99?)))
        .collect();
    let slow = late.iter().filter(|(_, p99)| *p99 >= 500_000).count();
    assert!(
        !late.is_empty() && slow <= 1 && late.iter().rev().take(3).all(|(_, p99)| *p99 < 500_000),
        "publish p99 by second after the fault's impact (to {} s): {late:?}",
        down.impact_end_s
    );
    assert!(down.recovery_s.is_some_and(|s| s < 10.0), "{down:#?}");
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains("name=\"fault down: recovery time [fault.down.recovery]\""),
        "{junit}"
    );
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(markdown.contains("## Faults") && markdown.contains("broker 2 down"));
    let chart = std::fs::read_to_string(dir.path().join("e2e-latency.svg")).unwrap();
    assert!(chart.contains("fault: down"));
}

#[test]
fn request_errors_are_retried_without_loss() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    // Two errors per Produce burst: fewer than the ADR's retries = 3, so every send lands.
    let path = scenario(
        dir.path(),
        1,
        8,
        "[[faults]]\nname = \"errors\"\nkind = \"request_errors\"\napi = \"Produce\"\nerror = \"NOT_LEADER_OR_FOLLOWER\"\ncount = 2\nat = \"4s\"\n",
    );
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_intact(summary);
    let errors = fault(summary, "errors");
    assert!(errors.applied && errors.error.is_none(), "{errors:#?}");
    // A retried batch waits for metadata and the retry backoff (100 ms): the slowest acks of
    // the fault's window show it.
    assert!(
        summary.latency.publish_us.max >= 100_000,
        "publish max {} us",
        summary.latency.publish_us.max
    );
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
}

/// A scenario for retried batches: 50 ms of round trip, so that several requests per
/// partition are in flight, and 20 keys, so that every batch holds every key of its
/// partition; 2 NOT_ENOUGH_REPLICAS answers to Produce at 3 s and at 5 s. A failed request's
/// batch is retried after the ones sent behind it have landed.
fn retried_batches(dir: &Path) -> PathBuf {
    let path = dir.join("retries.toml");
    let errors = |at: u32| {
        format!(
            "[[faults]]\nname = \"ner{at}\"\nkind = \"request_errors\"\napi = \"Produce\"\nerror = \"NOT_ENOUGH_REPLICAS\"\ncount = 2\nat = \"{at}s\"\n\n"
        )
    };
    std::fs::write(
        &path,
        format!(
            "name = \"retries\"\n[[topics]]\nname = \"orders\"\npartitions = 3\n\n[[events]]\nname = \"OrderCreated\"\ntopic = \"orders\"\nkeys = 20\n\n[[phases]]\nname = \"steady\"\nrate = \"2k/s\"\nduration = \"9s\"\n\n[[consumer_groups]]\nname = \"reader\"\ntopics = [\"orders\"]\n\n[[faults]]\nname = \"slow\"\nkind = \"rtt\"\nrtt = \"50ms\"\nat = \"0s\"\n\n{}{}[cluster.producer]\n\"retries\" = \"100\"\n",
            errors(3),
            errors(5)
        ),
    )
    .unwrap();
    path
}

/// Slow (about 40 s): two 9 s runs under a 50 ms round trip, with and without idempotence.
#[test]
fn retried_batches_keep_order_by_default_and_without_idempotence_every_violation_is_the_logs() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = retried_batches(dir.path());
    // The default: the idempotent producer keeps each partition's order across retries.
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert_intact(summary);
    // Without it, with requests pipelined: what arrives out of order sits out of order in the
    // log, and the report says whose doing that is.
    let off = dir.path().join("off");
    let overrides = Overrides {
        properties: vec![("producer.enable.idempotence".into(), "false".into())],
        ..Overrides::default()
    };
    let outcome = run(&path, overrides, &off).unwrap();
    let summary = &outcome.summary;
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("without enable.idempotence")),
        "{:?}",
        summary.warnings
    );
    let ordering = &summary.groups[0].ordering;
    assert_eq!(
        ordering.causes.written_out_of_order, ordering.out_of_order,
        "{ordering:#?}"
    );
    assert!(
        ordering.out_of_order > 0,
        "retries reordered nothing: {ordering:#?}"
    );
    assert_eq!(ordering.causes.violations(), ordering.out_of_order);
    assert!(!ordering.examples.is_empty());
    for example in &ordering.examples {
        assert!(example.offset > example.after_offset, "{example:?}");
        assert!(example.sequence < example.after_sequence, "{example:?}");
    }
    assert_eq!(outcome.status, Status::Fail);
    let report = std::fs::read_to_string(off.join("report.md")).unwrap();
    assert!(
        report.contains("written_out_of_order (the log holds"),
        "{report}"
    );
}

/// Slow (about 22 s): the plan's 8 s, then the send deadline (2 s) and the drain timeout (5 s)
/// it proves are kept.
#[test]
fn a_full_producer_queue_held_past_the_send_deadline_fails_its_events_and_ends_on_time() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    // Every broker down from 3 s to the end, and room for 50 events in the producer's queue:
    // the queue fills at once, and the next send waits for room until the send deadline.
    let downs = every_broker_down_at("3s");
    let path = dir.path().join("full-queue.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"full-queue\"\n[[topics]]\nname = \"orders\"\npartitions = 3\n\n[[events]]\nname = \"OrderCreated\"\ntopic = \"orders\"\nkeys = 200\n\n[[phases]]\nname = \"steady\"\nrate = \"500/s\"\nduration = \"8s\"\n\n[[consumer_groups]]\nname = \"reader\"\ntopics = [\"orders\"]\n\n{downs}[run]\nsend_grace = \"2s\"\ndrain_timeout = \"5s\"\n\n[cluster.producer]\n\"queue.buffering.max.messages\" = \"50\"\n"
        ),
    )
    .unwrap();
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    let produced = &summary.produced;
    // Every send ended acked or failed; the rest of the plan was never sent.
    assert_eq!(produced.acked + produced.failed, produced.sent);
    assert_eq!(produced.sent + produced.not_sent, 4_000);
    // The queue's 50 and what was in flight were purged; the send that waited for room gave
    // up at the deadline, with its reason.
    assert!(produced.failed >= 51, "{produced:#?}");
    assert!(
        summary
            .errors
            .iter()
            .any(|e| e.contains("local queue was still full") && e.contains("send deadline")),
        "{:#?}",
        summary.errors
    );
    // Nothing acked is lost; what was acked just before the brokers went down may be unread.
    let group = &summary.groups[0];
    assert_eq!(group.lost, 0, "{:#?}", summary.verdict);
    assert_eq!(group.unique + group.unread, produced.acked);
    // The run stopped by itself after the plan, the send grace and the drain timeout, which
    // counts from the last send and so bounds the flush and the reading together (3 s of slack
    // for a loaded host), not after a hang.
    assert!(
        summary.startup.run_time_s < 8.0 + 2.0 + 5.0 + 3.0,
        "{:#?}",
        summary.startup
    );
    assert!(!summary.complete);
    assert_ne!(outcome.status, Status::Pass);
}

#[test]
fn a_fatal_producer_error_replaces_the_producer_and_its_events_are_failed_sends_not_lost() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    // An out-of-sequence answer to the head-of-line request is fatal to librdkafka's
    // idempotent producer (the default): it can send no more and must be replaced.
    let path = scenario(
        dir.path(),
        1,
        8,
        "[[faults]]\nname = \"desync\"\nkind = \"request_errors\"\napi = \"Produce\"\nerror = \"OUT_OF_ORDER_SEQUENCE_NUMBER\"\ncount = 1\nat = \"4s\"\n",
    );
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    let produced = &summary.produced;
    assert!(produced.failed > 0, "{:#?}", summary.errors);
    assert_eq!(produced.acked + produced.failed, produced.sent);
    assert!(
        summary
            .errors
            .iter()
            .any(|e| e.contains("OutOfOrderSequenceNumber")
                && e.contains("the producer was replaced")),
        "{:#?}",
        summary.errors
    );
    // The replacement sent the rest of the plan: far more was acked after the fault than the
    // producer held when it failed.
    let late_acks: u64 = summary
        .timeline
        .iter()
        .filter(|p| p.t > 6.0)
        .map(|p| p.acked)
        .sum();
    assert!(late_acks > 1_000, "{late_acks} acked after the fault");
    let group = &summary.groups[0];
    assert_eq!((group.lost, group.unread), (0, 0), "{:#?}", summary.verdict);
    assert_eq!(group.ordering.out_of_order, 0);
    // Purged events may have been written all the same: read, never missing.
    assert!(group.unique >= produced.acked);
    assert_eq!(outcome.status, Status::Fail, "failed sends fail the run");
}

/// Seconds during which the group held fewer partitions than it reads.
fn seconds_short(summary: &Summary, after: f64) -> usize {
    summary
        .timeline
        .iter()
        .filter(|p| p.t > after && p.phase != "drain")
        .filter(|p| p.groups[0].partitions_held < 6)
        .count()
}

/// Slow (about 32 s): the coordinator gives up on the crashed member only after its 6 s session
/// timeout and the mock coordinator's rebalance delay, and the handover must land in the plan.
#[test]
fn a_crashed_member_is_noticed_after_the_session_timeout_and_nothing_is_lost() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        3,
        24,
        "[[faults]]\nname = \"crash\"\nkind = \"member_crash\"\ngroup = \"reader\"\nat = \"4s\"\n",
    );
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_intact(summary);
    let crash = fault(summary, "crash");
    assert!(crash.applied && crash.error.is_none(), "{crash:#?}");
    // Its partitions wait for the coordinator to give up on it: session.timeout.ms is 6 s on
    // the embedded broker (then the mock coordinator's own rebalance delay follows, see the
    // docs/scenarios.md, "Faults").
    let short = seconds_short(summary, crash.start_s);
    let held: Vec<(f64, u32)> = summary
        .timeline
        .iter()
        .map(|p| (p.t, p.groups[0].partitions_held))
        .collect();
    let first_short = held.iter().position(|&(t, n)| t > crash.start_s && n < 6);
    let unowned_before_rebalance = first_short
        .map(|i| {
            held[i..]
                .iter()
                .take_while(|&&(_, n)| n > 0 && n < 6)
                .count()
        })
        .unwrap_or(0);
    assert!(
        (4..=7).contains(&unowned_before_rebalance) && short >= unowned_before_rebalance,
        "the crashed member's partitions were unowned for {unowned_before_rebalance} s before the rebalance: {held:?}"
    );
    // What it consumed and never committed is delivered again: duplicates, counted as such,
    // each a re-read (the survivors went back to the last commit), none a violation.
    let group = &summary.groups[0];
    assert!(crash.duplicates <= group.ordering.duplicates);
    let causes = &group.ordering.causes;
    assert_eq!(
        (causes.reread, causes.written_twice, causes.violations()),
        (group.ordering.duplicates, 0, 0),
        "{causes:?}"
    );
    assert_eq!(crash.lost, 0);
    // Then (after the embedded coordinator's own rebalance delay) the two survivors share
    // every partition.
    assert!(
        summary
            .timeline
            .iter()
            .any(|p| p.t > crash.start_s
                && (p.groups[0].members, p.groups[0].partitions_held) == (2, 6)),
        "{held:?}"
    );
}

/// Slow (about 30 s): two membership changes 9 s apart, each with its rebalance in the plan.
#[test]
fn a_leaving_member_hands_over_quickly_and_a_joining_member_takes_partitions() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        2,
        22,
        "[[faults]]\nname = \"leave\"\nkind = \"member_leave\"\ngroup = \"reader\"\nat = \"3s\"\n\n[[faults]]\nname = \"join\"\nkind = \"member_join\"\ngroup = \"reader\"\nat = \"12s\"\n",
    );
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_intact(summary);
    let leave = fault(summary, "leave");
    let join = fault(summary, "join");
    assert!(leave.applied && join.applied);
    let points = |from: f64, to: f64| -> Vec<(u16, u32)> {
        summary
            .timeline
            .iter()
            .filter(|p| p.t > from && p.t <= to)
            .map(|p| (p.groups[0].members, p.groups[0].partitions_held))
            .collect()
    };
    let all = points(0.0, 100.0);
    // After the leave (and the embedded coordinator's rebalance delay), one member holds all
    // six partitions; after the join, two share them.
    assert!(
        points(leave.start_s, join.start_s).contains(&(1, 6)),
        "{all:?}"
    );
    assert!(points(join.start_s, 100.0).contains(&(2, 6)), "{all:?}");
    assert_eq!(summary.groups[0].lost, 0);
}

#[test]
fn a_producer_pause_owes_its_events_as_schedule_lag_not_as_a_slow_generator() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        1,
        10,
        "[[faults]]\nname = \"pause\"\nkind = \"producer_pause\"\nat = \"4s\"\nduration = \"2s\"\n",
    );
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_intact(summary);
    let paused: Vec<u64> = summary
        .timeline
        .iter()
        .filter(|p| p.t > 4.3 && p.t < 5.9)
        .map(|p| p.produced)
        .collect();
    assert!(
        !paused.is_empty() && paused.iter().all(|&n| n == 0),
        "{paused:?}"
    );
    // Every event was sent: the ones owed went out late.
    assert_eq!(summary.produced.not_sent, 0);
    assert!(
        summary.latency.schedule_lag_us.max > 1_500_000,
        "{:?}",
        summary.latency.schedule_lag_us
    );
    // The pause is on purpose: the generator is still trusted.
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
}

/// Slow (about 20 s): two runs of 5 s measured, with and without the round trip, to measure the
/// rise: a median of some 2,500 acks a run.
#[test]
fn twenty_ms_of_round_trip_raises_publish_p50_by_about_one_round_trip() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let base = tempfile::tempdir().unwrap();
    let plain = scenario(base.path(), 1, 5, "");
    let slow = scenario(
        dir.path(),
        1,
        5,
        "[[faults]]\nname = \"rtt\"\nkind = \"rtt\"\nat = \"0s\"\nrtt = \"20ms\"\n",
    );
    let before = run(&plain, Overrides::default(), base.path()).unwrap();
    let after = run(&slow, Overrides::default(), dir.path()).unwrap();
    let p50 = |o: &RunOutcome| o.summary.latency.publish_us.p50 as f64 / 1000.0;
    let rise = p50(&after) - p50(&before);
    // One Produce request per ack, each answered 20 ms later (benches/README.md: +20.8 ms).
    assert!(
        (15.0..=30.0).contains(&rise),
        "publish p50 {:.1} ms -> {:.1} ms",
        p50(&before),
        p50(&after)
    );
}

/// Slow (about 14 s): 2 s of warmup and 10 s measured at 500/s, the slow broker's 3 s in
/// the middle, and the drain.
#[test]
fn a_broker_slowed_by_round_trip_is_the_one_the_broker_view_names() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        1,
        10,
        "[[faults]]\nname = \"slow-b2\"\nkind = \"rtt\"\nbroker = 2\nrtt = \"200ms\"\nat = \"5s\"\nduration = \"3s\"\n\n[slo]\nchecks = [\"broker.2.rtt.p99 < 100ms\", \"broker.1.rtt.p99 < 100ms\", \"broker.throttle.max < 1ms\"]\n",
    );
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_intact(summary);
    let nodes: Vec<i32> = summary.brokers.iter().map(|b| b.node).collect();
    assert_eq!(nodes, [1, 2, 3], "{:#?}", summary.brokers);
    let during = |node: i32| {
        let broker = summary.brokers.iter().find(|b| b.node == node).unwrap();
        let fault = broker.faults.iter().find(|f| f.fault == "slow-b2").unwrap();
        fault.rtt_p99_peak_us.unwrap_or(0)
    };
    // Each of broker 2's responses came 200 ms late; the others answered as before (the
    // mock's own round trip is about 10 ms).
    assert!(during(2) >= 180_000, "broker 2: {} µs", during(2));
    for node in [1, 3] {
        assert!(during(node) < 100_000, "broker {node}: {} µs", during(node));
    }
    // Every client talked to every broker, and no one was throttled.
    for b in &summary.brokers {
        assert!(b.requests > 0 && b.rtt_mean_us.is_some(), "{b:#?}");
        assert_eq!(b.throttle_ms, 0);
    }
    let passed = |name: &str| {
        let check = summary
            .verdict
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap();
        check.passed
    };
    assert!(!passed("broker.2.rtt.p99 < 100ms"));
    assert!(passed("broker.1.rtt.p99 < 100ms"));
    assert!(passed("broker.throttle.max < 1ms"));
    assert_eq!(outcome.status, Status::Fail);
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        report.contains("during fault slow-b2: broker 2 RTT max"),
        "{report}"
    );
    assert!(report.contains("## Brokers, as the clients saw them"));
}

#[test]
fn a_leader_move_keeps_every_event() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        1,
        8,
        "[[faults]]\nname = \"move\"\nkind = \"leader_move\"\ntopic = \"orders\"\npartition = 0\nbroker = 3\nat = \"4s\"\n",
    );
    let outcome = run(&path, Overrides::default(), dir.path()).unwrap();
    assert_intact(&outcome.summary);
    let moved = fault(&outcome.summary, "move");
    assert!(moved.applied && moved.error.is_none(), "{moved:#?}");
    assert_eq!(outcome.status, Status::Pass);
}

#[test]
fn a_command_runs_with_its_output_in_the_summary_and_without_surges_secrets() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    // The variable is set for the whole test process; the command must not see it.
    unsafe { std::env::set_var("SURGE_SASL_PASSWORD", "pw-never-shown-7781") };
    let path = scenario(
        dir.path(),
        1,
        5,
        "[[faults]]\nname = \"hook\"\nkind = \"command\"\nat = \"2s\"\nduration = \"2s\"\nrun = \"echo started-$((40+2)); echo pw=${SURGE_SASL_PASSWORD:-unset}\"\nundo = \"echo undone\"\n",
    );
    let refused = run(&path, Overrides::default(), dir.path()).unwrap_err();
    assert!(
        refused.to_string().contains("--allow-commands")
            && refused.to_string().contains("echo undone"),
        "{refused}"
    );
    let outcome = run(
        &path,
        Overrides {
            allow_commands: true,
            ..Overrides::default()
        },
        dir.path(),
    )
    .unwrap();
    let hook = fault(&outcome.summary, "hook");
    assert_eq!(hook.commands.len(), 2, "{hook:#?}");
    let (ran, undone) = (&hook.commands[0], &hook.commands[1]);
    assert_eq!((ran.step.as_str(), ran.exit_code), ("run", Some(0)));
    assert!(ran.output.contains("started-42"), "{ran:#?}");
    assert!(ran.output.contains("pw=unset"), "{ran:#?}");
    assert_eq!((undone.step.as_str(), undone.exit_code), ("undo", Some(0)));
    assert!(undone.output.contains("undone"));
    assert_eq!(
        outcome.status,
        Status::Pass,
        "{:#?}",
        outcome.summary.verdict
    );
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let text = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains("pw-never-shown-7781"));
    }
}

#[test]
fn a_failing_or_hanging_command_makes_the_run_an_error_not_a_verdict() {
    let _machine = exclusive();
    for (command, expect) in [
        ("echo broker not found >&2; exit 3", "exited with 3"),
        ("sleep 30", "did not finish within its timeout"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = scenario(
            dir.path(),
            1,
            6,
            &format!(
                "[[faults]]\nname = \"hook\"\nkind = \"command\"\nat = \"1s\"\nrun = \"{command}\"\ntimeout = \"2s\"\n"
            ),
        );
        let outcome = run(
            &path,
            Overrides {
                allow_commands: true,
                ..Overrides::default()
            },
            dir.path(),
        )
        .unwrap();
        let summary = &outcome.summary;
        assert_eq!(outcome.status, Status::Error, "{:#?}", summary.verdict);
        assert_eq!(outcome.status.exit_code(), 2);
        assert!(!summary.complete);
        assert!(
            summary.verdict.reasons[0].contains(expect),
            "{:?}",
            summary.verdict.reasons
        );
        // The run stopped when the command failed, not at the end of the plan.
        assert!(summary.produced.not_sent > 0, "{:?}", summary.produced);
    }
}

/// Every broker down for good from 3 s into a 6 s plan, a failing group that dead-letters, and
/// a drain timeout of 60 s: the first stop (at 8 s) starts a drain that cannot end by itself;
/// the second (a second later) ends it at once. The producers' last flush stops, the dead
/// letters are not read back (and say so), and the run ends partial, long before its drain
/// timeout (which a hang or a flush that ignored the abort would run out).
#[test]
fn a_second_stop_ends_the_flush_and_skips_the_dead_letter_read_back() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let downs = every_broker_down_at("3s");
    let path = dir.path().join("abort.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"abort\"\n[[topics]]\nname = \"orders\"\npartitions = 3\n\n[[events]]\nname = \"OrderCreated\"\ntopic = \"orders\"\nkeys = 200\n\n[[phases]]\nname = \"steady\"\nrate = \"300/s\"\nduration = \"6s\"\n\n[[consumer_groups]]\nname = \"fulfilment\"\ntopics = [\"orders\"]\nfailure_rate = 0.05\nretry_backoff = [\"10ms\"]\n\n{downs}[run]\nsend_grace = \"5s\"\ndrain_timeout = \"60s\"\n"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    // The group joins in about a second before the plan starts: the first stop lands about
    // 8 s into it, inside the plan's 6 s and the 5 s send grace.
    let stops = common::stops_at(&[
        std::time::Duration::from_secs(9),
        std::time::Duration::from_secs(10),
    ]);
    let outcome = common::run_with_stop(
        path.to_str().unwrap(),
        Overrides::default(),
        dir.path(),
        stops.signal(),
    )
    .unwrap();
    let took = started.elapsed();
    stops.join();
    let summary = &outcome.summary;
    assert!(!summary.complete);
    assert_eq!(
        outcome.status,
        Status::Inconclusive,
        "{:#?}",
        summary.verdict
    );
    // Every send ended acked or failed: what the flush still held was purged as failed.
    let produced = &summary.produced;
    assert_eq!(produced.acked + produced.failed, produced.sent);
    assert!(produced.failed > 0, "{produced:#?}");
    let failures = summary.groups[0].failures.as_ref().unwrap();
    assert_eq!(failures.dlt_found, None, "{failures:#?}");
    assert!(
        failures.errors.iter().any(|e| e.contains("not read back")),
        "{failures:#?}"
    );
    // 12 s to the second stop, then at most 15 s for the members and 5 s for the runtime:
    // far from the 60 s drain timeout.
    assert!(took < std::time::Duration::from_secs(45), "{took:?}");
}
