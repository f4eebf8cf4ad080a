//! End-to-end runs on the embedded broker (librdkafka's mock cluster on loopback).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::live::{free_port, scrape};
use common::{exclusive, overrides, run, written_summary};
use surge::engine::StopSignal;
use surge::summary::Status;

/// The README's main job as shipped, at its full length (about 24 s): no scale, no override.
#[test]
fn smoke_passes_with_every_acked_event_consumed_once_in_order() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let outcome = run("scenarios/smoke.toml", Default::default(), out.path()).unwrap();
    let summary = written_summary(out.path());
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
    assert_eq!(summary, outcome.summary);
    assert_eq!(summary.schema, "surge.summary/v1");
    assert!(summary.complete);
    assert_eq!(summary.cluster.kind, "embedded");
    assert_eq!(summary.cluster.brokers, 3);

    let produced = &summary.produced;
    assert!(produced.sent > 40_000, "sent {}", produced.sent);
    assert_eq!(produced.acked, produced.sent);
    assert_eq!(produced.failed, 0);
    let acked_on = |topic: &str| {
        summary
            .produced
            .acked_by_topic
            .iter()
            .find(|(t, _)| t == topic)
            .unwrap()
            .1
    };
    assert_eq!(
        acked_on("order-events") + acked_on("payment-events"),
        produced.acked
    );
    for group in &summary.groups {
        let acked: u64 = group.topics.iter().map(|t| acked_on(t)).sum();
        assert_eq!(group.consumed, acked, "group {}", group.name);
        assert_eq!(group.unique, acked, "group {}", group.name);
        assert_eq!(group.lost, 0);
        assert_eq!(group.ordering.duplicates, 0);
        assert_eq!(group.ordering.out_of_order, 0);
        assert_eq!(group.ordering.gaps, 0);
        assert_eq!(group.final_lag, 0);
        assert!(group.e2e_latency_us.count > 0);
        assert!(group.e2e_latency_us.p95 < 100_000);
    }
    // Warmup is excluded from the verdict's histograms but shown on the timeline.
    assert!(summary.latency.e2e_us.count < summary.total(|g| g.consumed));
    assert_eq!(summary.timeline.first().unwrap().phase, "warmup");
    assert!(
        summary.timeline.len() >= 18,
        "{} points",
        summary.timeline.len()
    );
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("fetch.wait.max.ms"))
    );
}

#[test]
fn an_impossible_slo_fails_with_exit_code_one() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let outcome = run(
        "scenarios/smoke.toml",
        overrides(1.0, 0.3, &["e2e.p95 < 2us"]),
        out.path(),
    )
    .unwrap();
    assert_eq!(outcome.status, Status::Fail);
    assert_eq!(outcome.status.exit_code(), 1);
    let failed: Vec<_> = outcome
        .summary
        .verdict
        .checks
        .iter()
        .filter(|c| !c.passed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, "e2e.p95 < 2us");
    assert!(failed[0].actual.unwrap() > 1.0);
}

/// At a twentieth of its rates (5k/s normal, a 6.5k/s flash-sale spike). At a tenth (10k/s,
/// 13k/s spike) the embedded broker and surge share two cores with no margin left: on
/// 2026-11-27 it passed 1 of 6 runs (e2e p95 0.42-0.94 s in the others, two of them with the
/// previous release's binary), so a gate there would judge the host, not surge.
///
/// Its paused group then catches up a backlog of some 43,000 events at about 11,000/s, on the
/// same two cores as the embedded broker and the producer: publish p95 rose to 1.8 s for the
/// 10 s it took (2026-11-28). On a real cluster the brokers serve that read; here it judges the
/// host, so the run-wide latency limits are widened to 5 s for this test. Everything else,
/// and every consumer behaviour's figures, stay strict.
#[test]
fn black_friday_scaled_down_passes_on_two_cores() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let outcome = run(
        "scenarios/black-friday.toml",
        overrides(
            0.05,
            0.2,
            &[
                "e2e.p95 < 5s",
                "publish.p95 < 5s",
                "phase.peak.e2e.p95 < 5s",
                "phase.peak.publish.p95 < 5s",
            ],
        ),
        out.path(),
    )
    .unwrap();
    let summary = &outcome.summary;
    assert_eq!(
        outcome.status,
        Status::Pass,
        "{:#?}\n{:#?}",
        summary.verdict,
        summary.latency
    );
    assert_eq!(summary.groups.len(), 6);
    assert!(
        summary
            .timeline
            .iter()
            .any(|p| p.phase == "peak" && p.target_rate >= 4_500.0),
        "the peak (100k/s scaled by 0.05) was offered"
    );
    for group in &summary.groups {
        assert_eq!(group.lost, 0, "group {}", group.name);
        assert_eq!(group.unread, 0, "group {}", group.name);
        assert_eq!(group.ordering.out_of_order, 0, "group {}", group.name);
    }
    let group = |name: &str| summary.groups.iter().find(|g| g.name == name).unwrap();
    // The dead letters are all on the topic; the paused group caught up; the late one replayed
    // every event of its topics.
    let failures = group("payment-reconciliation").failures.as_ref().unwrap();
    assert_eq!(failures.dlt_found, Some(failures.dead_lettered));
    let catchups = &group("inventory-projection").catchups;
    assert_eq!(catchups.len(), 1, "{catchups:#?}");
    let catchup = &catchups[0];
    assert!(catchup.backlog > catchup.threshold, "{catchup:#?}");
    assert!(catchup.catchup_time_s.is_some(), "{catchup:#?}");
    let search = group("search-index");
    assert!(search.replay.as_ref().unwrap().caught_up_s.is_some());
    assert_eq!(
        search.unique,
        surge::report::table::expected_for(summary, search)
    );
}

/// A broker down for 20 s (1 s scaled) at the peak: nothing lost, every SLO met, the fault's
/// figures in the summary. At a twentieth of its length the plan is 27 s, the run about 31 s
/// (at a tenth, 77 s); the fault keeps its share of the run.
#[test]
fn broker_failure_scaled_down_loses_nothing_and_recovers() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let outcome = run(
        "scenarios/broker-failure.toml",
        overrides(0.1, 0.05, &[]),
        out.path(),
    )
    .unwrap();
    let summary = &outcome.summary;
    assert_eq!(
        outcome.status,
        Status::Pass,
        "{:#?}\n{:#?}",
        summary.verdict,
        summary.faults
    );
    let fault = &summary.faults[0];
    assert_eq!(fault.name, "broker-down");
    assert!(fault.applied && (fault.end_s - fault.start_s - 1.0).abs() < 0.2);
    assert_eq!((fault.lost, fault.failed), (0, 0));
    assert!(fault.recovery_s.is_some());
    // The partitions broker 2 led waited for it: publish p99 over the fault shows the outage
    // (1.35 s in two runs of the 1 s outage).
    assert!(fault.publish_p99_us.unwrap() > 1_000_000, "{fault:#?}");
    for group in &summary.groups {
        assert_eq!((group.lost, group.unread), (0, 0), "group {}", group.name);
    }
}

#[test]
fn an_interrupted_run_still_writes_a_partial_summary() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let stop = Arc::new(StopSignal::default());
    // The stop comes 3 s after the live view first shows events sent, so that it lands mid-run
    // however long the consumer-group join takes on a loaded machine (a fixed 15 s once landed
    // before the first send on CI); `not_sent > 0` below proves it stopped early.
    let address = free_port();
    let mut options = common::options("scenarios/smoke.toml", overrides(1.0, 4.0, &[]), out.path());
    options.metrics_addr = Some(address);
    let running = {
        let stop = stop.clone();
        std::thread::spawn(move || surge::run(&options, stop))
    };
    let started = Instant::now();
    let sending = |address| {
        scrape(address)
            .and_then(|s| s.get("surge_sent_total").copied())
            .is_some_and(|sent| sent > 0.0)
    };
    while !running.is_finished() && started.elapsed() < Duration::from_secs(120) {
        if sending(address) {
            std::thread::sleep(Duration::from_secs(3));
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.request();
    let outcome = running.join().unwrap().unwrap();
    let summary = written_summary(out.path());
    assert!(!summary.complete);
    assert!(
        summary
            .partial_reason
            .as_deref()
            .unwrap()
            .contains("interrupted")
    );
    assert_eq!(summary.verdict.status, Status::Inconclusive);
    assert_eq!(outcome.status.exit_code(), 3);
    assert!(summary.produced.not_sent > 0);
    assert!(summary.produced.sent > 0);
    // What was sent before the stop is still checked: nothing acked went missing.
    assert!(
        summary
            .groups
            .iter()
            .all(|g| g.lost == 0 && g.final_lag == 0)
    );
}

/// Slow (a 20 s run): the shipped scaling scenario at three-tenths of its length, with the group
/// on KIP-848's consumer protocol, which the embedded broker serves. Every step of both scales
/// is a row, what the rows redelivered is what the checker counted twice, a rebalance SLO is
/// judged, and the Markdown report shows the table.
#[test]
fn a_scaled_group_on_the_consumer_protocol_gives_a_row_per_step() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let mut flags = overrides(
        1.0,
        0.3,
        &["group.inventory-service.rebalance.unowned_max < 1h"],
    );
    flags.group_settings = vec![
        surge::scenario::GroupSetting::parse("group.inventory-service.protocol=consumer").unwrap(),
    ];
    let outcome = run("scenarios/consumer-scaling.toml", flags, out.path()).unwrap();
    let summary = written_summary(out.path());
    let group = &summary.groups[0];
    let protocol = group.protocol.as_ref().unwrap();
    assert_eq!(
        (protocol.name.as_str(), protocol.incremental),
        ("consumer", true)
    );
    assert!(protocol.description.contains("KIP-848"), "{protocol:?}");
    assert!(summary.groups[1].protocol.as_ref().unwrap().is_default());
    let triggers: Vec<(&str, Option<&str>)> = group
        .rebalances
        .iter()
        .filter(|r| r.fault.is_some())
        .map(|r| (r.trigger.as_str(), r.fault.as_deref()))
        .collect();
    let expected = [
        ("member 2 joined", Some("scale-out")),
        ("member 3 joined", Some("scale-out")),
        ("member 4 joined", Some("scale-out")),
        ("member 5 joined", Some("scale-out")),
        ("member 5 left", Some("scale-in")),
        ("member 4 left", Some("scale-in")),
        ("member 3 left", Some("scale-in")),
        ("member 2 left", Some("scale-in")),
    ];
    assert_eq!(triggers, expected, "{:#?}", group.rebalances);
    // The scale-out's first step comes at 5 s x 0.3, the next 1.5 s later.
    let at: Vec<f64> = group.rebalances.iter().map(|r| r.at_s).collect();
    assert!(
        (at[0] - 1.5).abs() < 0.5 && (at[1] - 3.0).abs() < 0.5,
        "{at:?}"
    );
    assert!(
        group
            .rebalances
            .iter()
            .any(|r| r.assigned > 0 && r.unowned_partition_s > 0.0)
    );
    let redelivered: u64 = group.rebalances.iter().map(|r| r.redelivered).sum();
    assert_eq!(redelivered, group.ordering.duplicates);
    assert_eq!(group.lost, 0);
    let check = summary
        .verdict
        .checks
        .iter()
        .find(|c| c.metric == "group.inventory-service.rebalance.unowned_max")
        .expect("the rebalance SLO is judged");
    let longest = group
        .rebalances
        .iter()
        .map(|r| r.unowned_max_s)
        .fold(0.0, f64::max);
    assert_eq!(check.actual, Some(longest * 1e6));
    assert!(check.passed, "{check:?} ({:?})", outcome.status);
    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(markdown.contains("## Rebalances") && markdown.contains("member 5 left (scale-in)"));
}

/// Two members on two one-partition topics: librdkafka's default `range` assignor gives both
/// partitions to one member (it assigns topic by topic), and the join must accept that rather
/// than wait for each member to hold one.
#[test]
fn a_group_whose_assignor_leaves_a_member_idle_still_joins() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idle.toml");
    std::fs::write(
        &path,
        "[run]\ngroup_join_timeout = \"20s\"\n\
         [[topics]]\nname = \"a\"\npartitions = 1\n[[topics]]\nname = \"b\"\npartitions = 1\n\
         [[events]]\nname = \"A\"\ntopic = \"a\"\n[[events]]\nname = \"B\"\ntopic = \"b\"\n\
         [[phases]]\nname = \"p\"\nrate = \"50/s\"\nduration = \"2s\"\n\
         [[consumer_groups]]\nname = \"g\"\ntopics = [\"a\", \"b\"]\nmembers = 2\n\
         [slo]\nchecks = [\"e2e.p99 < 10s\"]\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let outcome = run(path.to_str().unwrap(), Default::default(), &out).unwrap();
    assert_eq!(
        outcome.status,
        Status::Pass,
        "{:#?}",
        outcome.summary.verdict
    );
    assert!(outcome.summary.startup.group_join_ms < 15_000);
}
