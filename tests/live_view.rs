//! The live view (`--metrics-addr`): scraped while an embedded run runs, its counters move and
//! its gauges carry the run's figures; the Grafana dashboard asks only for what it serves.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use surge::summary::Status;

use common::live::{free_port, run_scraping, samples, scrape, scrape_text};

/// The same body read by a parser surge did not write: the Prometheus project's Python client
/// (`prometheus-client` from PyPI, fetched by the tests), strict about OpenMetrics.
fn parsed_by_python(body: &str) -> BTreeMap<String, f64> {
    let script = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ','.join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(s.name + ('{' + labels + '}' if labels else ''), s.value)
"#;
    let mut child = common::python()
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Python OpenMetrics parser refused the body: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    samples(&String::from_utf8(output.stdout).unwrap())
}

/// The metrics the Grafana dashboard (`deploy/grafana/surge.json`) queries.
fn dashboard_metrics() -> Vec<String> {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo("deploy/grafana/surge.json")).unwrap(),
    )
    .unwrap();
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("surge_") {
                    queried.push(word.to_string());
                }
            }
        }
    }
    queried
}

/// A `group_pause` catch-up series, served from the group's resume on.
fn is_catchup(name: &str) -> bool {
    name.starts_with("surge_catchup_") || name == "surge_catching_up"
}

/// The metric names a scrape holds (labels and the `_total` suffix of counters kept).
fn names(samples: &BTreeMap<String, f64>) -> Vec<String> {
    let mut names: Vec<String> = samples
        .keys()
        .map(|k| k.split('{').next().unwrap().to_string())
        .collect();
    names.dedup();
    names
}

#[test]
fn an_embedded_run_serves_moving_counters_and_its_figures_and_the_dashboard_matches() {
    let _machine = common::exclusive();
    let address = free_port();
    let out = tempfile::tempdir().unwrap();
    let mut options = common::options(
        "scenarios/smoke.toml",
        common::overrides(0.2, 0.5, &[]),
        out.path(),
    );
    options.metrics_addr = Some(address);
    let (outcome, bodies) = run_scraping(options, Duration::from_millis(700));
    let outcome = outcome.unwrap();
    let scrapes: Vec<BTreeMap<String, f64>> = bodies.iter().map(|b| samples(b)).collect();
    let last_body = bodies.last().cloned().unwrap_or_default();
    assert_eq!(
        outcome.status,
        Status::Pass,
        "{:#?}",
        outcome.summary.verdict
    );
    // The endpoint is gone with the run.
    assert!(scrape(address).is_none(), "still serving after the run");

    let sent: Vec<f64> = scrapes
        .iter()
        .filter_map(|s| s.get("surge_sent_total").copied())
        .collect();
    assert!(
        sent.len() >= 5,
        "{} scrapes with a sent counter",
        sent.len()
    );
    assert!(sent.windows(2).all(|w| w[1] >= w[0]), "a counter: {sent:?}");
    assert!(
        sent.last().unwrap() > sent.first().unwrap(),
        "it moved: {sent:?}"
    );
    // It ends at what the run sent (the last second may close after the last scrape).
    let summary = &outcome.summary;
    assert!(*sent.last().unwrap() <= summary.produced.sent as f64);
    let last = scrapes.last().unwrap();
    for group in &summary.groups {
        let consumed = format!("surge_consumed_total{{group=\"{}\"}}", group.name);
        assert!(
            last.get(&consumed).is_some_and(|v| *v > 0.0),
            "{consumed}: {last:?}"
        );
        let lag = format!("surge_consumer_lag{{group=\"{}\"}}", group.name);
        assert!(last.contains_key(&lag), "{lag}");
        let p95 = format!(
            "surge_e2e_latency_seconds{{group=\"{}\",quantile=\"0.95\"}}",
            group.name
        );
        assert!(
            scrapes
                .iter()
                .any(|s| s.get(&p95).is_some_and(|v| *v > 0.0 && *v < 1.0)),
            "{p95}"
        );
    }
    assert_eq!(last.get("surge_failed_total"), Some(&0.0));
    // Bytes follow the events: smoke's payloads are 384 to 768 bytes, and the counter never
    // passes what the run acked in all.
    let (bytes, events) = (last["surge_acked_bytes_total"], last["surge_acked_total"]);
    assert!(
        events > 0.0 && (384.0..=768.0).contains(&(bytes / events)),
        "{bytes} bytes in {events} events"
    );
    assert!(bytes <= summary.produced.acked_bytes as f64);
    // At a fifth of smoke's rate, the brokers ack some 0.3 MB/s: the gauge's busiest second
    // is within a factor of two of the run's mean over its measured seconds.
    let mean = summary.produced.acked_mb_per_s;
    let busiest = scrapes
        .iter()
        .filter_map(|s| s.get("surge_acked_mb_per_s").copied())
        .fold(0.0, f64::max);
    assert!(
        mean > 0.1 && busiest > mean * 0.5 && busiest < mean * 2.0,
        "acked MB/s: gauge up to {busiest}, run mean {mean}"
    );
    assert!(
        scrapes
            .iter()
            .any(|s| s.get("surge_target_rate").is_some_and(|v| *v > 100.0)),
        "the target rate"
    );
    assert!(last.contains_key("surge_duplicates_total{group=\"analytics\"}"));
    let running = "surge_stage{stage=\"running\"}";
    assert!(scrapes.iter().any(|s| s.get(running) == Some(&1.0)));
    let info = format!(
        "surge_run_info{{scenario=\"smoke\",run_id=\"{}\"}}",
        summary.run_id
    );
    assert!(last.contains_key(&info), "{info}: {last:?}");
    // Each of the embedded cluster's brokers, as the clients saw it that second.
    for broker in 1..=3 {
        let rtt = format!("surge_broker_rtt_seconds{{broker=\"{broker}\",quantile=\"0.99\"}}");
        assert!(
            scrapes
                .iter()
                .any(|s| s.get(&rtt).is_some_and(|v| *v > 0.0 && *v < 1.0)),
            "{rtt}: {last:?}"
        );
    }

    // A strict parser surge did not write reads the same samples from the last body.
    let python = parsed_by_python(&last_body);
    let ours = samples(&last_body);
    for name in [
        "surge_sent_total",
        "surge_failed_total",
        "surge_target_rate",
        "surge_consumed_total{group=\"analytics\"}",
        "surge_acked_bytes_total",
        "surge_consumed_bytes_total{group=\"analytics\"}",
    ] {
        assert_eq!(python.get(name), ours.get(name), "{name}: {python:?}");
    }
    assert!(
        python.len() >= ours.len(),
        "{} of {} samples",
        python.len(),
        ours.len()
    );

    // Every metric the dashboard queries is one the endpoint serves.
    let served: Vec<String> = scrapes.iter().flat_map(names).collect();
    let queried = dashboard_metrics();
    assert!(queried.len() >= 8, "{queried:?}");
    // `surge_lost_events` appears only once the drain has ended: asked of the final state. The
    // catch-up series appear once a paused group resumes (this run pauses none): the catch-up
    // test below asks them of the view.
    for name in queried
        .iter()
        .filter(|n| *n != "surge_lost_events" && !is_catchup(n))
    {
        assert!(
            served.contains(name),
            "the dashboard asks for {name}, not served"
        );
    }
}

#[test]
fn an_address_in_use_or_unreadable_exits_2_before_any_load() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    for (value, expected) in [
        (address.as_str(), "cannot listen there"),
        ("nowhere:80", "invalid"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_surge"))
            .args(["run", "--metrics-addr", value])
            .arg(common::repo("scenarios/smoke.toml"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains(expected), "{value}: {stderr}");
    }
}

#[test]
fn retries_and_dead_letters_are_counted_per_group() {
    // Port 0: the view binds a port no other test or client can take in between.
    let view = surge::live::LiveView::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = view.address();
    let second = |retried, dead_lettered| surge::engine::Progress {
        stage: "running",
        elapsed: Duration::from_secs(1),
        point: Some(surge::metrics::TimelinePoint {
            groups: vec![surge::metrics::GroupPoint {
                name: "fulfilment".into(),
                retried,
                dead_lettered,
                partitions_unowned: retried as u32,
                ..Default::default()
            }],
            ..Default::default()
        }),
        catchups: Vec::new(),
        brokers: Vec::new(),
        so_far: Default::default(),
    };
    view.update(&second(3, 2));
    view.update(&second(1, 4));
    let body = scrape_text(address).expect("the view serves");
    let ours = samples(&body);
    let python = parsed_by_python(&body);
    for (name, value) in [
        ("surge_retried_total{group=\"fulfilment\"}", 4.0),
        ("surge_dead_lettered_total{group=\"fulfilment\"}", 6.0),
        // A gauge: the last second's unowned partitions.
        ("surge_partitions_unowned{group=\"fulfilment\"}", 1.0),
    ] {
        assert_eq!(ours.get(name), Some(&value), "{name} in {body}");
        assert_eq!(python.get(name), Some(&value), "{name}: {python:?}");
    }
}

#[test]
fn a_catch_up_is_served_while_it_drains_and_with_its_figures_once_done() {
    // Port 0: the view binds a port no other test or client can take in between.
    let view = surge::live::LiveView::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = view.address();
    let second = |catchup_time_s, catchup_rate| surge::engine::Progress {
        stage: "running",
        elapsed: Duration::from_secs(9),
        point: Some(surge::metrics::TimelinePoint::default()),
        catchups: vec![(
            "reporting".into(),
            surge::summary::CatchupSummary {
                fault: "reporting-down".into(),
                backlog: 15_000,
                threshold: 10_000,
                catchup_time_s,
                catchup_rate,
                ..Default::default()
            },
        )],
        brokers: Vec::new(),
        so_far: Default::default(),
    };
    let labels = "{group=\"reporting\",fault=\"reporting-down\"}";
    let sample = |body: &str, name: &str| samples(body).get(&format!("{name}{labels}")).copied();
    view.update(&second(None, None));
    let draining = scrape_text(address).expect("the view serves");
    assert_eq!(
        sample(&draining, "surge_catchup_backlog"),
        Some(15_000.0),
        "{draining}"
    );
    assert_eq!(
        sample(&draining, "surge_catching_up"),
        Some(1.0),
        "{draining}"
    );
    assert_eq!(
        sample(&draining, "surge_catchup_seconds"),
        None,
        "{draining}"
    );
    view.update(&second(Some(2.0), Some(7_250.0)));
    let done = scrape_text(address).expect("the view serves");
    let python = parsed_by_python(&done);
    for (name, value) in [
        ("surge_catching_up", 0.0),
        ("surge_catchup_seconds", 2.0),
        ("surge_catchup_rate", 7_250.0),
        ("surge_catchup_backlog", 15_000.0),
    ] {
        assert_eq!(sample(&done, name), Some(value), "{name} in {done}");
        // The Python parser sorts the labels.
        let key = format!("{name}{{fault=\"reporting-down\",group=\"reporting\"}}");
        assert_eq!(python.get(&key), Some(&value), "{key}: {python:?}");
    }
    // Every catch-up series the dashboard queries is one the view serves.
    let served = names(&samples(&done));
    let queried: Vec<String> = dashboard_metrics()
        .into_iter()
        .filter(|n| is_catchup(n))
        .collect();
    assert!(queried.len() >= 3, "{queried:?}");
    for name in &queried {
        assert!(
            served.contains(name),
            "the dashboard asks for {name}, not served"
        );
    }
}

#[test]
fn each_broker_s_last_second_is_served_with_its_round_trip_and_silence() {
    // Port 0: the view binds a port no other test or client can take in between.
    let view = surge::live::LiveView::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = view.address();
    let broker = |rtt_ms: u32, answered: u32| surge::summary::BrokerSecond {
        t: 5.0,
        rtt_p50_us: Some(rtt_ms * 500),
        rtt_p99_us: Some(rtt_ms * 1_000),
        queue_p99_us: Some(250),
        answered,
        answerable: 20,
        requests: 20,
        throttle_max_ms: 0,
        ..Default::default()
    };
    let second = |brokers| surge::engine::Progress {
        stage: "running",
        elapsed: Duration::from_secs(5),
        point: Some(surge::metrics::TimelinePoint::default()),
        catchups: Vec::new(),
        brokers,
        so_far: Default::default(),
    };
    view.update(&second(vec![(1, broker(4, 20)), (2, broker(4, 20))]));
    // Broker 2 goes silent: no response to 20 requests, its last round trip 1.8 s.
    view.update(&second(vec![(1, broker(4, 20)), (2, broker(1_800, 0))]));
    let body = scrape_text(address).expect("the view serves");
    let ours = samples(&body);
    let python = parsed_by_python(&body);
    for (name, value) in [
        (
            "surge_broker_rtt_seconds{broker=\"2\",quantile=\"0.99\"}",
            1.8,
        ),
        (
            "surge_broker_rtt_seconds{broker=\"1\",quantile=\"0.99\"}",
            0.004,
        ),
        (
            "surge_broker_rtt_seconds{broker=\"2\",quantile=\"0.5\"}",
            0.9,
        ),
        (
            "surge_broker_queue_wait_seconds{broker=\"1\",quantile=\"0.99\"}",
            0.00025,
        ),
        ("surge_broker_unanswered{broker=\"2\"}", 1.0),
        ("surge_broker_unanswered{broker=\"1\"}", 0.0),
        ("surge_broker_requests_total{broker=\"2\"}", 40.0),
        ("surge_broker_throttle_seconds{broker=\"1\"}", 0.0),
    ] {
        assert_eq!(ours.get(name), Some(&value), "{name} in {body}");
        assert_eq!(python.get(name), Some(&value), "{name}: {python:?}");
    }
}
