//! Consumers as ADR-005 runs them, on the embedded broker: blocking retries with backoff, a
//! dead-letter topic read back after the drain, a paused group's catch-up, and a late group
//! that replays the topic.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::exclusive;
use surge::scenario::Overrides;
use surge::summary::{FailureSummary, GroupSummary, Status, Summary};
use surge::{RunOutcome, SurgeError};

/// One keyed topic of 6 partitions at `rate` for `seconds`, read by the groups in `groups`
/// (TOML as written), then `rest` (faults, SLOs).
fn scenario(dir: &Path, rate: u32, seconds: u32, keys: u32, groups: &str, rest: &str) -> PathBuf {
    let path = dir.join("consumers.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "consumer-behaviour"
seed = 7

[[topics]]
name = "order-events"
partitions = 6

[[events]]
name = "OrderCreated"
topic = "order-events"
keys = {keys}

[[phases]]
name = "steady"
rate = "{rate}/s"
duration = "{seconds}s"

{groups}
{rest}
"#
        ),
    )
    .unwrap();
    path
}

/// Runs a scenario file in-process (`common::run` takes an absolute path as is).
fn run(path: &Path, out: &Path) -> Result<RunOutcome, SurgeError> {
    common::run(path.to_str().unwrap(), Overrides::default(), out)
}

fn group<'a>(summary: &'a Summary, name: &str) -> &'a GroupSummary {
    summary
        .groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

fn failures<'a>(summary: &'a Summary, name: &str) -> &'a FailureSummary {
    group(summary, name)
        .failures
        .as_ref()
        .unwrap_or_else(|| panic!("group {name} has no failure figures"))
}

/// Every acked event read by every group, none lost, duplicated, out of order or left unread.
fn assert_complete(summary: &Summary) {
    assert_eq!(summary.produced.failed, 0, "{:#?}", summary.errors);
    assert_eq!(summary.produced.acked, summary.produced.sent);
    for g in &summary.groups {
        assert_eq!(g.lost, 0, "group {}", g.name);
        assert_eq!(g.unread, 0, "group {}", g.name);
        assert!(g.is_clean(), "group {}: {:#?}", g.name, g.ordering);
        assert_eq!(g.unique, summary.produced.acked, "group {}", g.name);
    }
}

#[test]
fn one_percent_failures_are_retried_with_backoff_dead_lettered_and_read_back() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        500,
        10,
        2000,
        r#"[[consumer_groups]]
name = "fulfilment"
topics = ["order-events"]
members = 2
failure_rate = 0.01
retry_backoff = ["10ms", "20ms", "40ms"]

[[consumer_groups]]
name = "audit"
topics = ["order-events"]
"#,
        r#"[slo]
checks = ["group.fulfilment.dead_lettered < 1000", "retry_delay.p99 < 1s"]"#,
    );
    let outcome = run(&path, dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
    assert_complete(summary);
    let f = failures(summary, "fulfilment");
    // 5,000 events at 1%: 50 expected, standard deviation 7; five of them either way.
    let sent = summary.produced.acked as f64;
    let (expected, sd) = (sent * 0.01, (sent * 0.01 * 0.99).sqrt());
    assert!(
        (f.dead_lettered as f64 - expected).abs() < 5.0 * sd,
        "{} dead-lettered of {sent}, expected {expected} +- {}",
        f.dead_lettered,
        5.0 * sd
    );
    // Every failure was retried three times, then dead-lettered, and the topic holds each once.
    assert_eq!(f.failed, f.dead_lettered);
    assert_eq!(f.retried, f.dead_lettered);
    assert_eq!(f.retries, 3 * f.retried);
    assert_eq!((f.non_retryable, f.poisoned), (0, 0));
    assert_eq!(f.dlt_acked, f.dead_lettered);
    assert_eq!(f.dlt_found, Some(f.dead_lettered), "{:#?}", f.errors);
    assert_eq!((f.dlt_lost, f.dlt_duplicates, f.dlt_mismatched), (0, 0, 0));
    assert_eq!(f.dlt_topic, "dead-letter-topic");
    // The member waited the backoff sum (70 ms) per failed event, in place...
    let delay = &f.retry_delay_us;
    assert_eq!(delay.count, f.retried);
    assert!(delay.p50 >= 70_000 && delay.p50 < 120_000, "{delay:?}");
    // ...so failed events took at least that long end to end, and the events behind them on
    // the blocked member waited too: the failing group's tail is above the other group's.
    assert!(f.e2e_failed_us.p50 >= 70_000, "{:?}", f.e2e_failed_us);
    let (blocked, free) = (group(summary, "fulfilment"), group(summary, "audit"));
    assert!(
        blocked.e2e_latency_us.p99 > free.e2e_latency_us.p99 + 30_000,
        "blocked p99 {} us, free p99 {} us",
        blocked.e2e_latency_us.p99,
        free.e2e_latency_us.p99
    );
    assert!(free.failures.is_none());
    // The timeline (and so the live view) counts them second by second.
    let per_second = |pick: fn(&surge::metrics::GroupPoint) -> u64| -> u64 {
        summary
            .timeline
            .iter()
            .flat_map(|p| p.groups.iter().filter(|g| g.name == "fulfilment"))
            .map(pick)
            .sum()
    };
    assert_eq!(per_second(|g| g.dead_lettered), f.dead_lettered);
    assert_eq!(per_second(|g| g.retried), f.retried);
    // The figures are judged and reported.
    assert!(
        summary
            .verdict
            .checks
            .iter()
            .any(|c| c.name == "dlt.lost == 0 (default)" || c.metric == "dlt.lost" && c.passed)
    );
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(report.contains("## Retries and dead letters"), "{report}");
}

#[test]
fn non_retryable_failures_skip_the_retries() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        500,
        8,
        2000,
        r#"[[consumer_groups]]
name = "billing"
topics = ["order-events"]
non_retryable_rate = 0.02
retry_backoff = ["1s", "2s", "4s"]
"#,
        "",
    );
    let outcome = run(&path, dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
    assert_complete(summary);
    let f = failures(summary, "billing");
    assert!(f.dead_lettered > 30, "{f:#?}");
    assert_eq!(f.non_retryable, f.dead_lettered);
    assert_eq!((f.retried, f.retries, f.retry_delay_us.count), (0, 0, 0));
    assert_eq!(f.dlt_found, Some(f.dead_lettered));
    // With no retries nothing waited the 1 s backoff.
    assert!(f.e2e_failed_us.max < 1_000_000, "{:?}", f.e2e_failed_us);
}

#[test]
fn a_poisoned_key_holds_back_its_partition_while_it_is_retried() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    // 50 keys at 500/s: key 0 gets about 10 events/s, each retried for 150 ms.
    let path = scenario(
        dir.path(),
        500,
        8,
        50,
        r#"[[consumer_groups]]
name = "poisoned"
topics = ["order-events"]
poison_keys = 1
retry_backoff = ["50ms", "100ms"]

[[consumer_groups]]
name = "healthy"
topics = ["order-events"]
"#,
        "",
    );
    let outcome = run(&path, dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_complete(summary);
    let f = failures(summary, "poisoned");
    let ledger: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("ledger.json")).unwrap())
            .unwrap();
    // Every event of key 0 failed, and nothing else did. (Ledger keys are [producer,
    // aggregate, index, events sent].)
    let key0: u64 = ledger["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k[2].as_u64() == Some(0))
        .map(|k| k[3].as_u64().unwrap())
        .sum();
    assert!(key0 > 40, "key 0 got {key0} events");
    assert_eq!((f.poisoned, f.dead_lettered, f.retried), (key0, key0, key0));
    // 10 events/s that each hold the member 150 ms: its lag grows far past the healthy
    // group's, and drains only once the producers stop.
    let (poisoned, healthy) = (group(summary, "poisoned"), group(summary, "healthy"));
    assert!(
        poisoned.max_lag > 10 * healthy.max_lag.max(10),
        "poisoned max lag {}, healthy {}",
        poisoned.max_lag,
        healthy.max_lag
    );
    let lags: Vec<u64> = summary.timeline.iter().map(|p| p.groups[0].lag).collect();
    assert!(
        lags.windows(2).filter(|w| w[1] > w[0]).count() >= 4,
        "lag per second {lags:?}"
    );
}

/// Slow (about 26 s): three pauses and their catch-ups, the first two with backlogs over the
/// ADR's 10,000 alert.
#[test]
fn a_paused_group_catches_up_and_its_rate_and_time_are_measured() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    // 3,000/s paused for 5 s: a backlog of about 15,000, over the ADR's 10,000 alert. Then
    // paused again for 4 s (about 12,000), and a third time for half a second (about 1,500,
    // under the alert: nothing to drain).
    let path = scenario(
        dir.path(),
        3000,
        22,
        2000,
        r#"[[consumer_groups]]
name = "reporting"
topics = ["order-events"]

[[consumer_groups]]
name = "steady"
topics = ["order-events"]
"#,
        r#"[[faults]]
name = "reporting-down"
kind = "group_pause"
group = "reporting"
at = "3s"
duration = "5s"

[[faults]]
name = "reporting-down-again"
kind = "group_pause"
group = "reporting"
at = "13s"
duration = "4s"

[[faults]]
name = "reporting-blip"
kind = "group_pause"
group = "reporting"
at = "20500ms"
duration = "500ms"

[slo]
checks = ["group.reporting.catchup_time < 6s", "group.reporting.catchup_rate > 1000", "group.steady.lag.max < 10000"]"#,
    );
    let (outcome, scraped) = run_scraped(&path, dir.path());
    let summary = &outcome.summary;
    assert_complete(summary);
    // One row per pause, in order, each with its own backlog.
    let catchups = &group(summary, "reporting").catchups;
    let faults: Vec<&str> = catchups.iter().map(|c| c.fault.as_str()).collect();
    assert_eq!(
        faults,
        ["reporting-down", "reporting-down-again", "reporting-blip"]
    );
    let again = &catchups[1];
    assert!((again.paused_s - 13.0).abs() < 0.2 && (again.resumed_s - 17.0).abs() < 0.2);
    assert!(
        again.backlog > 10_000 && again.backlog < 14_500,
        "{again:#?}"
    );
    assert!(again.catchup_time_s.is_some() && again.catchup_rate.unwrap() > 1000.0);
    let blip = &catchups[2];
    assert!(blip.backlog < 3_000, "{blip:#?}");
    assert_eq!(blip.catchup_time_s, Some(0.0), "{blip:#?}");
    assert!(!blip.had_backlog() && blip.catchup_rate.is_none());
    // The rate SLO is judged on the pauses that left a backlog: the lower of the two.
    let rate_check = summary
        .verdict
        .checks
        .iter()
        .find(|c| c.name.contains("catchup_rate"))
        .unwrap();
    let slowest = catchups[0]
        .catchup_rate
        .unwrap()
        .min(again.catchup_rate.unwrap());
    assert!(
        (rate_check.actual.unwrap() - slowest).abs() < 1.0,
        "{rate_check:#?} {catchups:#?}"
    );
    let catchup = &catchups[0];
    assert_eq!(catchup.fault, "reporting-down");
    assert!((catchup.paused_s - 3.0).abs() < 0.2 && (catchup.resumed_s - 8.0).abs() < 0.2);
    assert_eq!(catchup.threshold, 10_000);
    assert!(
        catchup.backlog > 12_000 && catchup.backlog < 18_000,
        "{catchup:#?}"
    );
    let time = catchup.catchup_time_s.expect("caught up");
    assert!(time > 0.0 && time < 4.0, "{catchup:#?}");
    let (drained, consumed, ingress) = (
        catchup.catchup_rate.unwrap(),
        catchup.consume_rate.unwrap(),
        catchup.produce_rate.unwrap(),
    );
    // Consumed = drained above ingress + ingress, and ingress is the offered 3,000/s.
    assert!((consumed - drained - ingress).abs() < 1.0, "{catchup:#?}");
    assert!(drained > 1000.0, "{catchup:#?}");
    assert!((ingress - 3000.0).abs() < 600.0, "{catchup:#?}");
    // The pause shows on the timeline: lag climbs while paused, the other group's does not.
    let reporting_max = group(summary, "reporting").max_lag;
    assert!(reporting_max >= catchup.backlog, "{reporting_max}");
    assert!(group(summary, "steady").max_lag < 3000);
    assert!(group(summary, "steady").catchups.is_empty());
    // The report's table has a row per pause.
    let table = surge::report::table::catchup_table(summary)
        .unwrap()
        .to_text();
    assert!(
        table.contains("reporting-down-again") && table.contains("reporting-blip"),
        "{table}"
    );
    // The live view's last scrape carries each catch-up's figures, labelled by group and fault.
    for catchup in catchups {
        let sample = |name: &str| {
            let key = format!("{name}{{group=\"reporting\",fault=\"{}\"}}", catchup.fault);
            scraped.get(&key).copied()
        };
        assert_eq!(
            sample("surge_catchup_backlog"),
            Some(catchup.backlog as f64),
            "{catchup:#?} {scraped:?}"
        );
        assert_eq!(sample("surge_catching_up"), Some(0.0), "{scraped:?}");
        assert_eq!(sample("surge_catchup_seconds"), catchup.catchup_time_s);
        assert_eq!(sample("surge_catchup_rate"), catchup.catchup_rate);
    }
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
}

/// Runs a scenario file in-process with the live view on, scraping it until the run ends:
/// the outcome and the last scrape.
fn run_scraped(path: &Path, out: &Path) -> (RunOutcome, BTreeMap<String, f64>) {
    let mut options = common::options(path.to_str().unwrap(), Overrides::default(), out);
    options.metrics_addr = Some(common::live::free_port());
    let (outcome, bodies) =
        common::live::run_scraping(options, std::time::Duration::from_millis(300));
    let last = bodies.last().map(|b| common::live::samples(b));
    (outcome.unwrap(), last.unwrap_or_default())
}

#[test]
fn a_late_group_replays_every_acked_event_in_per_key_order() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        2000,
        8,
        500,
        r#"[[consumer_groups]]
name = "live"
topics = ["order-events"]

[[consumer_groups]]
name = "new-service"
topics = ["order-events"]
start = "earliest"
starts_after = "produce"
members = 2
"#,
        r#"[slo]
checks = ["e2e.p95 < 500ms", "group.new-service.replay.rate > 1000"]"#,
    );
    let outcome = run(&path, dir.path()).unwrap();
    let summary = &outcome.summary;
    assert_complete(summary);
    let replay = group(summary, "new-service")
        .replay
        .as_ref()
        .expect("replay figures");
    // It joined once the producers were done: after the 8 s plan.
    assert!(replay.joined_s >= 8.0, "{replay:#?}");
    let done = replay.caught_up_s.expect("read everything");
    assert!(done > replay.joined_s);
    assert_eq!(replay.records, summary.produced.acked);
    let rate = replay.rate.unwrap();
    let expected = replay.records as f64 / (done - replay.joined_s);
    assert!((rate - expected).abs() / expected < 0.01, "{replay:#?}");
    // Its e2e is not measured (it reads late on purpose), so the run's e2e is the live group's.
    assert_eq!(group(summary, "new-service").e2e_latency_us.count, 0);
    assert_eq!(
        summary.latency.e2e_us.count,
        group(summary, "live").e2e_latency_us.count
    );
    assert!(group(summary, "live").replay.is_none());
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
}

#[test]
fn a_stop_before_a_late_group_joins_does_not_hold_the_drain_for_it() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        500,
        30,
        500,
        r#"[[consumer_groups]]
name = "live"
topics = ["order-events"]

[[consumer_groups]]
name = "late"
topics = ["order-events"]
start = "earliest"
starts_after = "produce"
"#,
        "[run]\ndrain_timeout = \"5m\"",
    );
    let stops = common::stops_at(&[std::time::Duration::from_secs(6)]);
    let started = std::time::Instant::now();
    let outcome = common::run_with_stop(
        path.to_str().unwrap(),
        Overrides::default(),
        dir.path(),
        stops.signal(),
    )
    .unwrap();
    stops.join();
    // Bounded by the stop, not by the 5-minute drain the late group would otherwise get.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
    let summary = &outcome.summary;
    assert_eq!(
        outcome.status,
        Status::Inconclusive,
        "{:#?}",
        summary.verdict
    );
    assert!(!summary.complete);
    let late = group(summary, "late");
    assert!(late.replay.is_none(), "it never joined: {:#?}", late.replay);
    assert_eq!(late.unread, summary.produced.acked);
    assert_eq!(group(summary, "live").unread, 0);
}
