//! `surge profile` against traffic surge did not write: kafka-python (tests/fixtures/
//! profile-traffic.py) produces at known rates, type weights, sizes, key counts and key laws,
//! with consumer groups of known sizes; the profile must recover them, and the scenario it
//! writes must offer the same rates per topic.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use surge::profile::fit::quantile_of;
use surge::scenario::{KeyDistribution, Overrides, Scenario};

use super::common::{self, console, exclusive, surge_within};
use super::healthy_cluster;

/// The traffic: two topics with known mixes and a third with none; two groups.
fn spec(bootstrap: &str, prefix: &str, seconds: u64) -> serde_json::Value {
    let kind = |name: &str, aggregate: &str, weight: f64, law: &str, keys: u64, sizes: [u64; 2]| {
        serde_json::json!({"type": name, "aggregate": aggregate, "weight": weight, "law": law,
            "exponent": 1.0, "keys": keys, "size_min": sizes[0], "size_max": sizes[1]})
    };
    serde_json::json!({
        "bootstrap": bootstrap, "seed": 11, "duration_s": seconds,
        "topics": [
            {"name": format!("{prefix}-orders"), "partitions": 6, "rate": 240, "types": [
                kind("com.shop.order.OrderCreated", "order", 0.6, "uniform", 400, [600, 1400]),
                kind("com.shop.order.OrderPaid", "payment", 0.4, "zipf", 150, [400, 800])]},
            {"name": format!("{prefix}-payments"), "partitions": 3, "rate": 80, "types": [
                kind("com.shop.payment.PaymentCaptured", "capture", 1.0, "uniform", 300, [500, 500])]},
            {"name": format!("{prefix}-quiet"), "partitions": 2, "rate": 0, "types": []}],
        "groups": [
            {"name": format!("{prefix}-billing"), "members": 2, "topics": [format!("{prefix}-orders")]},
            {"name": format!("{prefix}-audit"), "members": 1,
             "topics": [format!("{prefix}-orders"), format!("{prefix}-payments")]}]
    })
}

/// Starts the traffic and waits (at most 2 minutes) until its groups hold their partitions and
/// it produces.
fn start_traffic(spec: &serde_json::Value) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = common::python()
        .arg(common::repo("tests/fixtures/profile-traffic.py"))
        .arg(spec.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        let _ = lines.read_line(&mut line);
        let _ = sender.send(line);
        lines
    });
    let first = receiver.recv_timeout(Duration::from_secs(120));
    if first.as_deref().map(str::trim) != Ok("producing") {
        let _ = child.kill();
        panic!("the Python traffic did not start: {first:?}");
    }
    (child, reader.join().unwrap())
}

/// What the traffic sent, per topic and type, once it has ended (at most `limit`).
fn traffic_sent(
    mut child: Child,
    mut lines: BufReader<std::process::ChildStdout>,
    limit: Duration,
) -> serde_json::Value {
    let status = common::wait_within(&mut child, limit);
    assert!(status.success(), "the Python traffic failed: {status}");
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    serde_json::from_str::<serde_json::Value>(&line).unwrap()["sent"].clone()
}

fn events_on<'a>(
    scenario: &'a Scenario,
    topic: &str,
) -> Vec<(
    &'a surge::scenario::EventSpec,
    &'a surge::scenario::AggregateSpec,
)> {
    scenario
        .events
        .iter()
        .map(|e| (e, &scenario.aggregates[e.aggregate]))
        .filter(|(_, a)| scenario.topics[a.topic].name == topic)
        .collect()
}

fn close(measured: f64, expected: f64, within: f64, what: &str) {
    assert!(
        (measured / expected - 1.0).abs() <= within,
        "{what}: {measured} against {expected} (more than {}% apart)",
        within * 100.0
    );
}

/// Slow (about 80 s): Python's traffic runs before and through a window interrupted at about
/// 20 s, then the sample read, then the written scenario's 40 s on the embedded broker. The
/// traffic runs 30 s: the window's 22 s after its groups joined, the profile's own start, and a
/// few seconds' margin.
#[test]
fn a_profile_of_python_traffic_recovers_its_rates_mix_sizes_keys_and_groups() {
    let _machine = exclusive();
    let bootstrap = healthy_cluster();
    let prefix = format!("profile-{}", std::process::id());
    let (child, lines) = start_traffic(&spec(&bootstrap, &prefix, 30));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("profiled.toml");
    let filter = format!("^{prefix}-");
    // A 60 s window, interrupted after about 20 s as Ctrl-C would: what was measured is
    // written, marked partial, with exit 3.
    let args = ["profile", "--bootstrap", &bootstrap, "--topics", &filter];
    let out_arg = out.to_str().unwrap();
    let mut profile = common::spawn_surge(
        &[&args[..], &["--window", "60s", "--out", out_arg]].concat(),
        &[],
    );
    std::thread::sleep(Duration::from_secs(22));
    // SAFETY: a signal to the child this test started and has not reaped.
    unsafe { libc::kill(profile.id() as i32, libc::SIGINT) };
    common::wait_within(&mut profile, Duration::from_secs(120));
    let output = profile.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", console(&output));
    let sent = traffic_sent(child, lines, Duration::from_secs(120));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("note: partial: interrupted"), "{text}");
    let scenario = surge::validate(&out, &Overrides::default()).unwrap();

    // Rates per topic within 10% of what the traffic paced; type weights within 5 points of
    // what it sent.
    for (topic, rate) in [("orders", 240.0), ("payments", 80.0)] {
        let name = format!("{prefix}-{topic}");
        let events = events_on(&scenario, &name);
        let measured: f64 = events.iter().map(|(e, _)| e.weight).sum();
        close(measured, rate, 0.10, &format!("{topic} events/s"));
        let sent_here = sent[&name].as_object().unwrap();
        let total: f64 = sent_here.values().map(|v| v.as_f64().unwrap()).sum();
        for (event, _) in &events {
            let share = sent_here[&event.name].as_f64().unwrap() / total;
            assert!(
                (event.weight / measured - share).abs() <= 0.05,
                "{}: {} of the mix against {share} sent",
                event.name,
                event.weight / measured
            );
        }
    }
    // Sizes, keys and key laws per type.
    let expect = [
        ("com.shop.order.OrderCreated", [1000.0, 1360.0], 400, None),
        ("com.shop.order.OrderPaid", [600.0, 780.0], 150, Some(1.0)),
        (
            "com.shop.payment.PaymentCaptured",
            [500.0, 500.0],
            300,
            None,
        ),
    ];
    for (name, [p50, p95], keys, exponent) in expect {
        let event = scenario.events.iter().find(|e| e.name == name).unwrap();
        let table: Vec<u64> = if event.size_quantiles.is_empty() {
            vec![event.size_min, event.size_max]
        } else {
            event.size_quantiles.clone()
        };
        close(
            quantile_of(&table, 0.5),
            p50,
            0.05,
            &format!("{name} size p50"),
        );
        close(
            quantile_of(&table, 0.95),
            p95,
            0.05,
            &format!("{name} size p95"),
        );
        let aggregate = &scenario.aggregates[event.aggregate];
        close(
            aggregate.keys as f64,
            keys as f64,
            0.05,
            &format!("{name} keys"),
        );
        match (aggregate.distribution, exponent) {
            (KeyDistribution::Uniform, None) => {}
            (KeyDistribution::Zipf { exponent: fitted }, Some(exponent)) => assert!(
                (fitted - exponent).abs() <= 0.2,
                "{name}: zipf exponent {fitted} against {exponent}"
            ),
            (law, _) => panic!("{name}: {law:?} against {exponent:?}"),
        }
    }
    // The groups, with their topics and members.
    let groups: Vec<(String, Vec<String>, u16)> = scenario
        .groups
        .iter()
        .map(|g| {
            let topics = g.topics.iter().map(|&t| scenario.topics[t].name.clone());
            let mut topics: Vec<String> = topics.collect();
            topics.sort();
            (g.name.clone(), topics, g.members)
        })
        .collect();
    let orders = format!("{prefix}-orders");
    let payments = format!("{prefix}-payments");
    assert!(
        groups.contains(&(format!("{prefix}-billing"), vec![orders.clone()], 2)),
        "{groups:?}"
    );
    assert!(
        groups.contains(&(format!("{prefix}-audit"), vec![orders.clone(), payments], 1)),
        "{groups:?}"
    );
    // The idle topic is listed, with no event and a note; no key or payload bytes are written.
    let quiet = format!("{prefix}-quiet");
    assert!(scenario.topics.iter().any(|t| t.name == quiet));
    assert!(events_on(&scenario, &quiet).is_empty());
    assert!(
        text.contains(&format!("no record was written to {quiet}")),
        "{text}"
    );
    assert!(
        !text.contains("order-1") && !text.contains("xxxx"),
        "{text}"
    );

    // The written scenario, run on the embedded broker, offers each topic its measured rate.
    // Its whole plan (10 s of warmup, 30 s observed): each event's topic is drawn by weight,
    // so at a quarter of that length the smaller topic's share varied by about 3% (one
    // standard deviation) and once missed the 5% allowed.
    let run_dir = dir.path().join("run");
    let run = surge_within(
        &[
            "run",
            out.to_str().unwrap(),
            "-q",
            "--out",
            run_dir.to_str().unwrap(),
        ],
        Duration::from_secs(180),
    );
    assert!(run.status.success(), "{}", console(&run));
    let summary = common::written_summary(&run_dir);
    let produced = &summary.produced;
    let acked: u64 = produced.acked_by_topic.iter().map(|(_, n)| n).sum();
    for (topic, count) in produced.acked_by_topic.iter().filter(|(_, n)| *n > 0) {
        let offered = *count as f64 / acked as f64 * produced.target_rate;
        let measured: f64 = events_on(&scenario, topic)
            .iter()
            .map(|(e, _)| e.weight)
            .sum();
        close(
            offered,
            measured,
            0.05,
            &format!("{topic} offered events/s"),
        );
    }
}

#[test]
fn a_profile_without_traffic_or_without_a_matching_topic_exits_2_and_writes_nothing() {
    let _machine = exclusive();
    let bootstrap = healthy_cluster();
    let prefix = format!("idle-{}", std::process::id());
    let mut idle = spec(&bootstrap, &prefix, 0);
    idle["groups"] = serde_json::json!([]);
    let (child, lines) = start_traffic(&idle);
    traffic_sent(child, lines, Duration::from_secs(60));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("idle.toml");
    let out_arg = out.to_str().unwrap();
    let quiet = format!("^{prefix}-quiet$");
    let cases = [
        (quiet.as_str(), "no record was written"),
        ("^no-such-topic-anywhere$", "matches --topics"),
    ];
    for (filter, says) in cases {
        let args = [
            "profile",
            "--bootstrap",
            &bootstrap,
            "--topics",
            filter,
            "--window",
            "3s",
        ];
        let output = surge_within(
            &[&args[..], &["--out", out_arg]].concat(),
            Duration::from_secs(60),
        );
        assert_eq!(output.status.code(), Some(2), "{}", console(&output));
        assert!(console(&output).contains(says), "{}", console(&output));
        assert!(!out.exists(), "no scenario is written from no measurement");
    }
}

/// `surge profile` as `surge-limited`, a SCRAM user that may describe the test's topics and read
/// only one of them (and describe no config and no group), over SASL_SSL.
fn profile_as_limited_user(bootstrap_sasl: &str, filter: &str, out: &str) -> std::process::Output {
    let env = super::kafka::env();
    let get = |name: &str| env.iter().find(|(k, _)| k == name).unwrap().1.clone();
    let args = [
        "profile",
        "--bootstrap",
        bootstrap_sasl,
        "--auth",
        "scram-sha-512",
    ];
    let envs = [
        ("SURGE_CA_FILE", get("SURGE_CA_FILE")),
        ("SURGE_SASL_USERNAME", get("SURGE_LIMITED_USERNAME")),
        ("SURGE_SASL_PASSWORD", get("SURGE_LIMITED_PASSWORD")),
    ];
    let rest = ["--topics", filter, "--window", "5s", "--out", out];
    let mut child = common::spawn_surge(&[&args[..], &rest[..]].concat(), &envs);
    common::wait_within(&mut child, Duration::from_secs(120));
    child.wait_with_output().unwrap()
}

#[test]
fn what_an_acl_refuses_is_named_and_never_guessed() {
    let _machine = exclusive();
    let bootstrap = healthy_cluster();
    super::kafka::control(&["limited-user"]);
    let prefix = format!("acl-{}", std::process::id());
    let (open, closed) = (format!("{prefix}-open"), format!("{prefix}-closed"));
    let grant = |operation: &str, topic: &str, pattern: &str| {
        super::kafka::control(&[
            "acl",
            "--add",
            "--allow-principal",
            "User:surge-limited",
            "--operation",
            operation,
            "--topic",
            topic,
            "--resource-pattern-type",
            pattern,
        ]);
    };
    grant("Describe", &prefix, "prefixed");
    grant("Read", &open, "literal");
    let mut traffic = spec(&bootstrap, &prefix, 25);
    traffic["topics"] = serde_json::json!([
        {"name": open, "partitions": 3, "rate": 100, "types": [
            {"type": "Open", "aggregate": "open", "weight": 1.0, "law": "uniform", "keys": 100,
             "size_min": 500, "size_max": 500}]},
        {"name": closed, "partitions": 3, "rate": 50, "types": [
            {"type": "Closed", "aggregate": "closed", "weight": 1.0, "law": "uniform", "keys": 100,
             "size_min": 500, "size_max": 500}]}
    ]);
    traffic["groups"] = serde_json::json!([]);
    let (child, lines) = start_traffic(&traffic);
    let dir = tempfile::tempdir().unwrap();
    let sasl = super::kafka::sasl_ssl();

    // Both topics: the readable one is profiled; the other is listed with its rate, no event,
    // and a note naming the refusal; the refused configs are said to be unread.
    let out = dir.path().join("both.toml");
    let output = profile_as_limited_user(&sasl, &format!("^{prefix}-"), out.to_str().unwrap());
    let text = console(&output);
    assert!(output.status.success(), "{text}");
    let written = std::fs::read_to_string(&out).unwrap();
    let scenario = surge::validate(&out, &Overrides::default()).unwrap();
    let events: Vec<&str> = scenario.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["Open"], "{written}");
    assert!(
        written.contains(&format!("no record of {closed} could be read")),
        "{written}"
    );
    assert!(written.contains("Read is needed"), "{written}");
    assert!(
        written.contains("its settings could not be read"),
        "{written}"
    );

    // Only the refused topic: nothing measured, exit 2, no file.
    let only = dir.path().join("closed.toml");
    let output = profile_as_limited_user(&sasl, &format!("^{closed}$"), only.to_str().unwrap());
    let text = console(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("none could be read") && text.contains("grant"),
        "{text}"
    );
    assert!(!only.exists());
    traffic_sent(child, lines, Duration::from_secs(120));
}
