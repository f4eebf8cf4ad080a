//! Against a real broker process over TCP: Tansu on 127.0.0.1, started by
//! scripts/local-broker.sh (which installs it if missing). Each test restarts it with empty
//! storage, because Tansu's memory storage slows produce as data accumulates.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{exclusive, repo};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use surge::scenario::Overrides;
use surge::summary::{Status, Summary};
use surge::workload::{Decoded, decode};

/// A free loopback port for this test binary's broker, so that a broker left running by
/// another checkout cannot get in the way.
fn port() -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        listener.local_addr().expect("bound").port()
    })
}

/// Restarts the local broker with empty storage and returns its address.
fn fresh_broker() -> String {
    let status = Command::new(repo("scripts/local-broker.sh"))
        .arg("restart")
        .env("SURGE_BROKER_PORT", port().to_string())
        .env("SURGE_BROKER_DIR", repo("target/tansu-test"))
        .status()
        .expect("scripts/local-broker.sh runs");
    assert!(status.success(), "the local broker did not start");
    format!("127.0.0.1:{}", port())
}

/// Overrides for Tansu: it holds an empty fetch for the whole fetch.wait.max.ms, and waits
/// out one session timeout when a group forms.
fn tansu(bootstrap: String, duration_scale: f64) -> Overrides {
    Overrides {
        bootstrap: Some(bootstrap),
        properties: vec![
            ("consumer.fetch.wait.max.ms".into(), "10".into()),
            ("consumer.session.timeout.ms".into(), "6000".into()),
        ],
        duration_scale: Some(duration_scale),
        ..Overrides::default()
    }
}

/// smoke.toml on Tansu. These tests check correctness over TCP (loss, order, duplicates), not
/// Tansu's speed on a shared 2-core machine, whose latency swings by 10x between runs: the
/// latency SLOs are widened to catch only a broken pipeline; loss, ordering and lag SLOs stay
/// as the scenario writes them.
fn tansu_smoke(bootstrap: String, duration_scale: f64) -> Overrides {
    let widened = ["e2e.p95 < 2s", "e2e.p99 < 5s", "publish.p99 < 2s"];
    Overrides {
        slos: widened.iter().map(|s| s.parse().unwrap()).collect(),
        ..tansu(bootstrap, duration_scale)
    }
}

fn acked_on(summary: &Summary, topics: &[String]) -> u64 {
    summary
        .produced
        .acked_by_topic
        .iter()
        .filter(|(t, _)| topics.contains(t))
        .map(|(_, n)| n)
        .sum()
}

/// Reads every partition back from the earliest offset, independently of surge's consumers,
/// and counts this run's events: (records, distinct (producer, aggregate, key, sequence)).
fn read_back(bootstrap: &str, summary: &Summary, topics: &[(&str, i32)]) -> (u64, u64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "surge-test-read-back")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for (topic, partitions) in topics {
        for partition in 0..*partitions {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .unwrap();
        }
    }
    consumer.assign(&assignment).unwrap();
    let run_id: [u8; 8] = summary.run_id.as_bytes().try_into().unwrap();
    let (mut records, mut distinct) = (0u64, HashSet::new());
    // Tansu's "latest" offset is not the high watermark, so read until the topic goes quiet.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(4) && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                quiet_since = Instant::now();
                if let Decoded::Ours(meta) = decode(message.payload().unwrap_or_default(), &run_id)
                {
                    records += 1;
                    distinct.insert((meta.producer, meta.aggregate, meta.index, meta.sequence));
                }
            }
            Some(Err(error)) => panic!("read-back failed: {error}"),
            None => {}
        }
    }
    (records, distinct.len() as u64)
}

#[test]
fn smoke_passes_on_a_real_broker_with_everything_consumed_in_order() {
    let _machine = exclusive();
    let bootstrap = fresh_broker();
    let out = tempfile::tempdir().unwrap();
    let outcome = common::run(
        "scenarios/smoke.toml",
        tansu_smoke(bootstrap.clone(), 0.5),
        out.path(),
    )
    .unwrap();
    let summary = &outcome.summary;
    assert_eq!(outcome.status, Status::Pass, "{:#?}", summary.verdict);
    assert_eq!(summary.cluster.kind, "external");
    assert_eq!(summary.cluster.brokers, 1);
    assert_eq!(summary.produced.acked, summary.produced.sent);
    for group in &summary.groups {
        let acked = acked_on(summary, &group.topics);
        assert_eq!(group.consumed, acked, "group {}", group.name);
        assert_eq!(group.unique, acked, "group {}", group.name);
        assert_eq!(
            (group.lost, group.ordering.out_of_order, group.ordering.gaps),
            (0, 0, 0),
            "group {}",
            group.name
        );
    }

    // An independent reader finds exactly the events surge says the groups consumed.
    let (records, distinct) = read_back(
        &bootstrap,
        summary,
        &[("order-events", 6), ("payment-events", 3)],
    );
    let order_service = &summary.groups[0];
    assert_eq!(
        distinct, summary.produced.acked,
        "every acked event is in the log once"
    );
    assert_eq!(order_service.unique, distinct);
    assert_eq!(order_service.lost, summary.produced.acked - distinct);
    assert_eq!(
        order_service.ordering.duplicates,
        records - distinct,
        "duplicates in the log are the duplicates consumed"
    );
}

#[test]
fn a_group_survives_a_member_leaving_mid_run_without_loss() {
    let _machine = exclusive();
    let bootstrap = fresh_broker();
    let out = tempfile::tempdir().unwrap();
    let outcome = common::run(
        "tests/fixtures/member-leaves.toml",
        tansu(bootstrap.clone(), 1.0),
        out.path(),
    )
    .unwrap();
    let summary = &outcome.summary;
    assert_eq!(
        outcome.status,
        Status::Pass,
        "{:#?}\n{:#?}",
        summary.verdict,
        summary.groups
    );
    let group = &summary.groups[0];
    assert_eq!(group.members, 3);
    assert_eq!(group.lost, 0);
    assert_eq!(group.final_lag, 0);
    assert_eq!(group.unique, summary.produced.acked);
    // Partitions moved during the run: what the leaver had processed but not yet committed
    // may arrive twice, which is at-least-once delivery, never loss.
    assert!(group.consumed >= group.unique);

    let (records, distinct) = read_back(&bootstrap, summary, &[("order-events-rebalance", 6)]);
    assert_eq!(distinct, summary.produced.acked);
    assert_eq!(group.lost, summary.produced.acked - distinct);
    assert!(group.ordering.duplicates >= records - distinct);
}

#[test]
fn a_second_run_reads_only_its_own_events() {
    let _machine = exclusive();
    let bootstrap = fresh_broker();
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let overrides = || tansu_smoke(bootstrap.clone(), 0.3);
    common::run("scenarios/smoke.toml", overrides(), first.path()).unwrap();
    let outcome = common::run("scenarios/smoke.toml", overrides(), second.path()).unwrap();
    let summary = &outcome.summary;
    for group in &summary.groups {
        assert_eq!(
            group.unique,
            acked_on(summary, &group.topics),
            "group {}",
            group.name
        );
        assert_eq!(group.lost, 0);
        // New groups start at the end of the topics; Tansu's "latest" offset is the last
        // batch's base offset + 1, so at most a few earlier events per partition are re-read.
        assert!(
            group.foreign < 200,
            "group {} replayed {} earlier events",
            group.name,
            group.foreign
        );
    }
}

fn surge_check(args: &[&str]) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_surge"))
        .arg("check")
        .args(args)
        .env_remove("KAFKA_BOOTSTRAP_SERVERS")
        .env("SURGE_SASL_USERNAME", "loadtest")
        .env("SURGE_SASL_PASSWORD", "Planted-Tansu-Secret-41")
        .output()
        .unwrap();
    let text = common::console(&output);
    (output.status.code(), text, started.elapsed())
}

#[test]
fn check_lists_the_broker_and_compares_topics_and_fails_clearly() {
    let _machine = exclusive();
    let bootstrap = fresh_broker();
    let scenario = repo("scenarios/smoke.toml");
    let (code, text, _) = surge_check(&[scenario.to_str().unwrap(), "--bootstrap", &bootstrap]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("connected to {bootstrap} (auth: none)")),
        "{text}"
    );
    assert!(text.contains(&format!("at 127.0.0.1:{}", port())), "{text}");
    assert!(
        text.contains("order-events") && text.contains("payment-events"),
        "{text}"
    );

    // TLS against a plaintext listener: a TLS sentence, exit 2, within the connect timeout.
    let (code, text, took) = surge_check(&["--bootstrap", &bootstrap, "--auth", "tls"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("TLS handshake") && text.contains("fix:"),
        "{text}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");

    // SCRAM against a broker that refuses it: credentials rejected, and the secret stays out.
    let (code, text, took) = surge_check(&[
        "--bootstrap",
        &bootstrap,
        "--auth",
        "scram-sha-512",
        "-X",
        "security.protocol=sasl_plaintext",
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("rejected authentication") && text.contains("fix:"),
        "{text}"
    );
    assert!(!text.contains("Planted-Tansu-Secret-41"), "{text}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}
