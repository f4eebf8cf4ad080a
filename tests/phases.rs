//! Verdicts per phase on the embedded broker: a peak that breaks its latency SLO fails on
//! its own phase even when the pooled figure passes, the per-phase figures are the HDR sums
//! of the interval logs, and bytes add up to the events' sizes.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine;
use common::exclusive;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use surge::report;
use surge::scenario::Overrides;
use surge::summary::{MB, Status, Summary};

/// 30 s of normal traffic, then a one-second `peak` under a 150 ms round trip, then calm:
/// every event is 600 bytes.
const SCENARIO: &str = r#"name = "peak-under-rtt"
[[topics]]
name = "orders"
partitions = 6

[[events]]
name = "OrderCreated"
topic = "orders"
keys = 2000
size = "600B"

[[phases]]
name = "warmup"
rate = "1000/s"
duration = "2s"
warmup = true

[[phases]]
name = "normal"
rate = "1000/s"
duration = "30s"

[[phases]]
name = "peak"
rate = "1000/s"
duration = "1s"

[[phases]]
name = "after"
rate = "1000/s"
duration = "3s"

[[consumer_groups]]
name = "orders-service"
topics = ["orders"]
members = 2

[[faults]]
name = "slow-network"
kind = "rtt"
rtt = "150ms"
at = "32s"
duration = "1s"

[slo]
checks = ["e2e.p95 < 100ms", "phase.peak.e2e.p95 < 100ms", "phase.normal.rate.mb_per_s > 0.5"]
"#;

/// Every interval of one tag in an hlog file: (start, duration, histogram).
fn hlog_intervals(path: &Path) -> Vec<(f64, f64, Histogram<u64>)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("\"StartTimestamp\""))
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let (start, duration, payload) = (fields[1], fields[2], fields[4]);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(payload)
                .unwrap();
            let histogram: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .unwrap();
            (start.parse().unwrap(), duration.parse().unwrap(), histogram)
        })
        .collect()
}

/// The interval histograms whose midpoint falls in `[start, end)`, added up.
fn hdr_sum(intervals: &[(f64, f64, Histogram<u64>)], start: f64, end: f64) -> Histogram<u64> {
    let mut sum = surge::metrics::new_histogram();
    for (s, d, h) in intervals {
        if (start..end).contains(&(s + d / 2.0)) {
            sum.add(h).unwrap();
        }
    }
    sum
}

/// The scenario's one run, shared by the tests that read it (36 s of plan on two cores): its
/// summary and the run's directory, under cargo's scratch directory for this crate's tests
/// (named by this process, so that two suites on one target directory keep apart).
/// The first test to ask runs it, holding the machine.
fn peak_run() -> &'static (Summary, PathBuf) {
    static RUN: OnceLock<(Summary, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let _machine = exclusive();
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Earlier suites' runs, whose processes have ended, are removed.
        for entry in std::fs::read_dir(scratch).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("phases-peak-")
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = scratch.join(format!("phases-peak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peak.toml");
        std::fs::write(&path, SCENARIO).unwrap();
        let outcome = common::run(path.to_str().unwrap(), Overrides::default(), &dir).unwrap();
        assert_eq!(outcome.summary.produced.failed, 0);
        (outcome.summary, outcome.out_dir)
    })
}

#[test]
fn a_peak_that_breaks_p95_fails_on_its_phase_while_the_pooled_p95_passes() {
    let (summary, out) = peak_run();
    let check = |name: &str| {
        summary
            .verdict
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name}: {:#?}", summary.verdict))
            .clone()
    };
    let pooled = check("e2e.p95 < 100ms");
    let peak = check("phase.peak.e2e.p95 < 100ms");
    assert!(pooled.passed, "pooled: {pooled:?}\n{:#?}", summary.by_phase);
    assert!(!peak.passed, "peak: {peak:?}\n{:#?}", summary.by_phase);
    assert!(peak.actual.unwrap() >= 150_000.0, "{peak:?}");
    assert_eq!(
        summary.verdict.status,
        Status::Fail,
        "{:#?}",
        summary.verdict
    );
    let figures = summary.phase("peak").unwrap();
    assert!(figures.peak, "a phase called peak is the peak");
    assert_eq!(figures.e2e_us.p95 as f64, peak.actual.unwrap());

    // Every report names the phase that failed.
    let text = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let md = text("report.md");
    let row = md
        .lines()
        .find(|l| l.starts_with("| phase.peak.e2e.p95 < 100ms"))
        .expect("the SLO row");
    assert!(row.contains("FAIL"), "{row}");
    assert!(
        md.contains("## Phases") && md.contains("| peak (peak)"),
        "{md}"
    );
    let html = text("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Every file the page links is in the run's directory (the ledger too).
    let links: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(links.contains(&"ledger.json"), "{links:?}");
    for link in &links {
        assert!(out.join(link).is_file(), "{link} is linked but not written");
    }
    assert!(html.contains("<title>FAIL"), "the tab says FAIL first");
    assert!(html.contains("phase.peak.e2e.p95 &lt; 100ms"));
    let junit = text("junit.xml");
    assert!(
        junit.contains(
            "name=\"phase peak: end-to-end latency p95 (all groups) [phase.peak.e2e.p95]\""
        )
    );
    let console = report::console::render(summary);
    assert!(console.contains("phase.peak.e2e.p95"), "{console}");
    assert!(report::lines::run_line(summary).contains("peak 1,000/s offered"));
}

#[test]
fn per_phase_percentiles_are_the_hdr_sums_of_the_interval_logs_and_bytes_add_up() {
    let (summary, out) = peak_run();
    let e2e = hlog_intervals(&out.join("e2e-orders-service.hlog"));
    let publish = hlog_intervals(&out.join("publish.hlog"));
    let lag = hlog_intervals(&out.join("schedule-lag.hlog"));
    assert!(e2e.len() > 30, "{} e2e intervals", e2e.len());
    // The drain after the plan counts toward the last phase's latencies.
    let plan_end = summary.by_phase.iter().map(|p| p.end_s).fold(0.0, f64::max);
    for phase in &summary.by_phase {
        let start = phase.start_s;
        let end = if phase.end_s >= plan_end {
            f64::INFINITY
        } else {
            phase.end_s
        };
        for (name, stats, intervals) in [
            ("e2e", &phase.e2e_us, &e2e),
            ("publish", &phase.publish_us, &publish),
            ("schedule lag", &phase.schedule_lag_us, &lag),
        ] {
            let sum = hdr_sum(intervals, start, end);
            assert_eq!(stats.count, sum.len(), "{} {name} count", phase.name);
            for (q, value) in [(0.5, stats.p50), (0.95, stats.p95), (0.99, stats.p99)] {
                assert_eq!(
                    value,
                    sum.value_at_quantile(q),
                    "{} {name} at {q}",
                    phase.name
                );
            }
            assert_eq!(stats.max, sum.max(), "{} {name} max", phase.name);
        }
    }

    // Bytes: every event is 600 bytes of payload.
    let p = &summary.produced;
    assert_eq!(p.sent_bytes, p.sent * 600);
    assert_eq!(p.acked_bytes, p.acked * 600);
    assert_eq!(
        p.acked_bytes_by_topic,
        [("orders".to_string(), p.acked * 600)]
    );
    let group = &summary.groups[0];
    assert_eq!(group.consumed_bytes, group.consumed * 600);
    // The seconds hold every ack but those that came after the last tick, in the flush.
    let timeline_acked: u64 = summary.timeline.iter().map(|t| t.acked_bytes).sum();
    let timeline_events: u64 = summary.timeline.iter().map(|t| t.acked).sum();
    assert_eq!(timeline_acked, timeline_events * 600);
    assert!(timeline_acked <= p.acked_bytes && timeline_acked * 1000 >= p.acked_bytes * 999);
    // Normal traffic acks 1,000 events of 600 bytes a second.
    let normal = summary.phase("normal").unwrap();
    let expected = 1000.0 * 600.0 / MB;
    assert!(
        (normal.acked_mb_per_s / expected - 1.0).abs() < 0.02,
        "{} MB/s against {expected}",
        normal.acked_mb_per_s
    );
    assert!((normal.offered_mb_per_s - expected).abs() < 1e-9);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let shown = report::table::mb_per_s(p.acked_bytes as f64 / MB);
    assert!(md.contains(&format!("{shown} MB /")), "{shown} MB in {md}");
}

/// The Deflate-compressed form the hlog files use reads with the plain deserializer; this
/// guards the test's own reader against a silently empty parse.
#[test]
fn the_test_reads_hlog_payloads_it_can_check() {
    let path = common::repo("reports/example/publish.hlog");
    let intervals = hlog_intervals(&path);
    assert!(!intervals.is_empty());
    assert!(intervals.iter().any(|(_, _, h)| !h.is_empty()));
    let mut raw = String::new();
    std::fs::File::open(&path)
        .unwrap()
        .read_to_string(&mut raw)
        .unwrap();
    assert!(raw.contains("Tag=publish"));
}
