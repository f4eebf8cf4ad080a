//! The latency breakdown on the real cluster, at a low rate: with the ADR's client settings
//! batching and the consumers' fetch wait make most of e2e; with `linger.ms=0` and
//! `fetch.min.bytes=1` both shrink to almost nothing and the round trip is what is left. In
//! both, the parts' means added come within 10% of the e2e mean measured directly, and the
//! median event's parts (the events around the e2e p50, taken apart event by event) add up to
//! within 10% of the e2e p50 measured (the p50s of the parts do not add up: in one ADR run
//! they came to 21% under the e2e p50). The second run's e2e is held against Kafka's own
//! EndToEndLatency tool on the same topic.

use std::path::{Path, PathBuf};

use surge::summary::{LatencyBreakdown, Summary};

use super::common::{self, exclusive, kafka};
use super::{fresh_name, healthy_cluster, overrides};

/// The ADR's producer and consumer settings (scenarios/adr-defaults.toml), 20 partitions at
/// 100 events/s for 12 s after 8 s of warmup. A topic just made stalled the host's brokers
/// (and surge's pacer) for a second or two between its 3rd and 5th second: a round trip of a
/// stalled request counts once while the events queued behind it count each, so the parts
/// would overshoot (by 4 ms of 46 in one run). The warmup leaves that out.
fn scenario(dir: &Path, topic: &str) -> PathBuf {
    let path = dir.join(format!("{topic}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "breakdown"
[cluster.producer]
"acks" = "all"
"retries" = 3
"max.in.flight.requests.per.connection" = 1
"compression.type" = "snappy"
"batch.size" = 16384
"linger.ms" = 10

[cluster.consumer]
"fetch.min.bytes" = 1024

[[topics]]
name = "{topic}"
partitions = 20
config = {{ "min.insync.replicas" = "2" }}

[[events]]
name = "OrderCreated"
topic = "{topic}"
keys = 10000
size = "512B..1KiB"

[[phases]]
name = "warmup"
rate = "100/s"
duration = "8s"
warmup = true

[[phases]]
name = "low"
rate = "100/s"
duration = "12s"

[[consumer_groups]]
name = "reader"
topics = ["{topic}"]

[run]
drain_timeout = "30s"
"#
        ),
    )
    .unwrap();
    path
}

fn run(bootstrap: &str, topic: &str, properties: &[(&str, &str)]) -> Summary {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), topic);
    let outcome = common::run(
        path.to_str().unwrap(),
        overrides(bootstrap, properties),
        out.path(),
    )
    .unwrap();
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(report.contains("## Where the milliseconds go"), "{report}");
    eprintln!(
        "{}",
        surge::report::table::breakdown_lines(&outcome.summary).join("\n")
    );
    outcome.summary
}

/// The parts' means added against e2e's as measured: within 10%. Every event is timed after
/// its ack at this rate.
fn parts_add_up(b: &LatencyBreakdown) {
    let group = &b.groups[0];
    let (added, measured) = (b.e2e_parts(group).mean_us, group.e2e.mean_us);
    assert!(
        (added - measured).abs() * 10 <= measured,
        "parts added {added} µs against an e2e mean of {measured} µs: {b:#?}"
    );
    assert!(group.timed >= 1_100, "{b:#?}");
    let median = b.median_parts(group).expect("a median event");
    let p50 = group.e2e.p50_us;
    assert!(
        (median.e2e_us - p50).abs() * 10 <= p50 && median.events >= 100,
        "the median event's {median:?} against an e2e p50 of {p50} µs: {b:#?}"
    );
}

/// Slow (about 70 s): two runs of 20 s with their joins and drains, and the Java tool.
#[test]
fn the_breakdown_puts_the_milliseconds_where_the_settings_put_them() {
    let _machine = exclusive();
    let bootstrap = healthy_cluster();
    let adr_topic = fresh_name("breakdown-adr");
    let adr = run(&bootstrap, &adr_topic, &[]);
    let b = adr.breakdown.as_ref().expect("a breakdown");
    parts_add_up(b);
    let mean = |part: Option<surge::summary::Part>| part.unwrap().mean_us;
    let waits = mean(b.batching) + b.groups[0].after_ack.mean_us;
    assert!(
        waits * 4 >= b.e2e_parts(&b.groups[0]).mean_us * 3,
        "batching and the fetch wait are under 75% of e2e: {b:#?}"
    );
    // And for the median event: its batching and time after the ack are most of its e2e.
    let median = b.median_parts(&b.groups[0]).unwrap();
    assert!(
        (median.batching_us + median.after_ack_us) * 2 > median.e2e_us,
        "{median:?}"
    );
    // linger.ms = 10: each event waits most of it (a partition gets one event in 200 ms).
    assert!((5_000..=15_000).contains(&mean(b.batching)), "{b:#?}");
    // The producer's parts account for publish latency but for the callback (means: exact).
    let (publish_added, publish) = (b.publish_parts().mean_us, b.publish.mean_us);
    assert!((publish_added - publish).abs() * 10 <= publish, "{b:#?}");

    let fast_topic = fresh_name("breakdown-fast");
    let fast = run(
        &bootstrap,
        &fast_topic,
        &[
            ("producer.linger.ms", "0"),
            ("consumer.fetch.min.bytes", "1"),
        ],
    );
    let f = fast.breakdown.as_ref().expect("a breakdown");
    parts_add_up(f);
    assert!(mean(f.batching) * 10 < mean(b.batching), "{f:#?}");
    assert!(
        f.groups[0].after_ack.mean_us * 10 < b.groups[0].after_ack.mean_us,
        "{f:#?}"
    );
    let fast_median = f.median_parts(&f.groups[0]).unwrap();
    assert!(
        (fast_median.batching_us + fast_median.after_ack_us) * 10
            < median.batching_us + median.after_ack_us,
        "{fast_median:?} against {median:?}"
    );
    let lines = |s: &Summary| surge::report::table::breakdown_lines(s).join("\n");
    assert!(lines(&adr).contains("the client settings make most of it"));
    assert!(lines(&fast).contains("the round trip to the brokers"));

    // Kafka's own tool, one record at a time on the same topic: what is left once batching
    // and the fetch wait are gone. It truncates each latency to whole ms, and runs in a fresh
    // JVM each time: on a cluster just started it has measured a p50 of 6 ms where surge's was
    // 4.2 (2-3 ms against 3 once warm). So surge may be faster by up to half the tool's p50,
    // never slower by more than 2 ms.
    let (java_p50, java_mean) = kafka::end_to_end_latency_ms(&bootstrap, &fast_topic, 1_000);
    let surge_p50 = f.groups[0].e2e.p50_us as f64 / 1e3;
    eprintln!(
        "e2e without the waits: surge p50 {surge_p50:.3} ms; EndToEndLatency p50 {java_p50} ms (truncated), mean {java_mean:.3} ms"
    );
    let java_p50 = java_p50 as f64;
    assert!(
        (java_p50 * 0.5 - 1.0..java_p50 + 2.0).contains(&surge_p50),
        "surge's p50 {surge_p50} ms against EndToEndLatency's {java_p50} ms"
    );
}
