//! Capacity search on the embedded broker with round-trip time injected and a consumer that
//! cannot exceed ~500 events/s: the search must find that knee, within its budget.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use surge::capacity::SearchOptions;
use surge::engine::StopSignal;
use surge::summary::Status;
use surge::{CapacityOptions, RunOptions};

/// Slow (about 78 s): a search of 7-8 probes of 7 s each; shorter probes would let a rate just
/// above the 500/s knee pass before its backlog shows in the p95.
#[test]
fn capacity_search_finds_the_known_knee_within_its_budget() {
    let _machine = common::exclusive();
    let out = tempfile::tempdir().unwrap();
    let budget = Duration::from_secs(180);
    // A broker type of 0.15 MB/s in a broker: about 307 events/s of the fixture's 512-byte
    // events on one broker, under the knee, so the answer is the type's.
    let types = out.path().join("types.toml");
    std::fs::write(
        &types,
        "source = \"a test\"\nas_of = \"today\"\n[[types]]\nname = \"lab.tiny\"\nkind = \"express\"\ningress_mb_s = 0.15\negress_mb_s = 0.3\npartitions_recommended = 2\n",
    )
    .unwrap();
    let mut overrides = surge::scenario::Overrides::default();
    overrides.label.instance_type = Some("lab.tiny".into());
    overrides.label.brokers = Some(1);
    let options = CapacityOptions {
        run: RunOptions {
            scenario: common::repo("tests/fixtures/capacity-knee.toml"),
            overrides,
            out: Some(out.path().join("run")),
            quiet: true,
            ..RunOptions::default()
        },
        search: SearchOptions {
            start: Some(125.0),
            max: None,
            precision: 0.2,
            probe_warmup: Duration::from_secs(1),
            probe_duration: Duration::from_secs(6),
            budget,
            sustain: None,
        },
        broker_types: Some(types),
    };
    let started = Instant::now();
    let outcome = surge::capacity(&options, Arc::new(StopSignal::default())).unwrap();
    assert!(started.elapsed() < budget, "took {:?}", started.elapsed());

    let capacity = outcome.summary.capacity.clone().expect("a capacity result");
    let sustained = capacity.sustained_rate.expect("some probe passed");
    // One member at 2 ms per event: about 500 events/s, minus sleep overhead.
    assert!(
        (350.0..=560.0).contains(&sustained),
        "sustained {sustained}: {:#?}",
        capacity.probes
    );
    assert!(
        capacity
            .probes
            .iter()
            .any(|p| p.status == Status::Fail && p.offered_rate > sustained)
    );
    assert!(
        capacity
            .probes
            .iter()
            .all(|p| p.status != Status::Fail || p.offered_rate > sustained)
    );
    assert_eq!(capacity.target_peak, 1000.0);
    // The type's limits, from the bytes the probes' events took: 512 each.
    let limit = capacity
        .broker_type
        .clone()
        .expect("the labelled type's limits");
    let bytes_in = limit.bytes_in.unwrap();
    assert!((500.0..=525.0).contains(&bytes_in), "{limit:?}");
    // Out: what the group read per event produced, a little less while it lags at the knee
    // (485 in one run).
    assert!(
        (400.0..=525.0).contains(&limit.bytes_out.unwrap()),
        "{limit:?}"
    );
    let allowed = limit.rate.unwrap();
    assert!(
        (allowed - 0.15 * 1_048_576.0 / bytes_in).abs() <= 1.0 && allowed < sustained,
        "{limit:?}"
    );
    // The headroom is the type's, the tighter; its 3 partitions x RF 3 exceed 2 a broker.
    let headroom = (allowed / 1000.0 - 1.0) * 100.0;
    assert!((capacity.headroom_percent.unwrap() - headroom).abs() < 0.1);
    assert!(
        capacity.conclusion.contains(&format!(
            "lab.tiny x 1's published limits allow {} events/s (ingress 0.15 MB/s a broker",
            allowed as u64
        )) && capacity.conclusion.contains("under the rate measured")
            && capacity
                .conclusion
                .contains("exceed lab.tiny's recommended 2"),
        "{}",
        capacity.conclusion
    );
    assert!(
        capacity.conclusion.starts_with(&format!(
            "sustains {} events/s at e2e p95 < 500ms; target peak 1000; headroom -",
            sustained as u64
        )),
        "{}",
        capacity.conclusion
    );
    // Below the target peak: the cluster does not hold it.
    assert_eq!(outcome.status, Status::Fail);

    // Results land in summary.json, with each probe's own reports and the capacity chart.
    let run = out.path().join("run");
    let written = common::written_summary(&run);
    assert_eq!(written.capacity, Some(capacity.clone()));
    assert!(run.join("capacity.svg").is_file());
    assert_eq!(
        std::fs::read_dir(run.join("probes")).unwrap().count(),
        capacity.probes.len()
    );
}

/// Slow (about 12 s): a real search on the embedded broker, stopped as SIGTERM would stop it,
/// 9 s in: during its second probe of 4 s plans here (its first on a slower host).
#[test]
fn an_interrupted_search_is_unfinished_and_never_blames_the_generator() {
    let _machine = common::exclusive();
    let out = tempfile::tempdir().unwrap();
    let options = CapacityOptions {
        run: RunOptions {
            scenario: common::repo("tests/fixtures/capacity-knee.toml"),
            out: Some(out.path().join("run")),
            quiet: true,
            ..RunOptions::default()
        },
        search: SearchOptions {
            start: Some(100.0),
            max: None,
            precision: 0.2,
            probe_warmup: Duration::from_secs(1),
            probe_duration: Duration::from_secs(3),
            budget: Duration::from_secs(120),
            sustain: None,
        },
        broker_types: None,
    };
    let stops = common::stops_at(&[Duration::from_secs(9)]);
    let outcome = surge::capacity(&options, stops.signal()).unwrap();
    stops.join();
    let capacity = outcome.summary.capacity.clone().expect("a capacity result");
    let last = capacity.probes.last().expect("probes ran");
    assert!(last.interrupted, "{:#?}", capacity.probes);
    assert_eq!(
        capacity.probes.iter().filter(|p| p.interrupted).count(),
        1,
        "{:#?}",
        capacity.probes
    );
    assert_eq!(capacity.generator_limit, None, "{}", capacity.conclusion);
    assert!(
        capacity.conclusion.contains(&format!(
            "the search was interrupted during the probe of {} events/s",
            last.offered_rate
        )) && !capacity.conclusion.contains("generator fell behind"),
        "{}",
        capacity.conclusion
    );
    assert_eq!(outcome.status, Status::Inconclusive);
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("run/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        written["capacity"]["probes"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["interrupted"],
        true
    );
    assert_eq!(written["complete"], false);
    let finished = written["verdict"]["trust"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "the run finished")
        .expect("the finished check");
    assert_eq!(finished["passed"], false, "{finished}");
    assert!(
        written["partial_reason"]
            .as_str()
            .is_some_and(|r| r.contains("the search is unfinished")),
        "{}",
        written["partial_reason"]
    );
}

#[test]
fn an_inconclusive_probe_is_never_the_cluster_limit() {
    let probes = vec![
        probe(100.0, Status::Pass),
        probe(200.0, Status::Pass),
        probe(400.0, Status::Inconclusive),
    ];
    let mut search = surge::capacity::Search::new(100.0, 0.1, None);
    for p in &probes {
        search.record(p.offered_rate, p.status);
    }
    let scenario = surge::validate(
        &common::repo("tests/fixtures/capacity-knee.toml"),
        &Default::default(),
    )
    .unwrap();
    let capacity = surge::capacity::conclude(
        &scenario,
        probes,
        &search,
        Duration::from_secs(10),
        Duration::from_secs(60),
    );
    assert_eq!(capacity.generator_limit, Some(400.0));
    assert!(
        capacity
            .conclusion
            .contains("the generator fell behind at 400 events/s"),
        "{}",
        capacity.conclusion
    );
    assert_eq!(surge::capacity::status(&capacity), Status::Inconclusive);
}

#[test]
fn a_search_stopped_by_a_quota_says_so_and_not_that_the_cluster_is_full() {
    let mut throttled = probe(800.0, Status::Fail);
    throttled.throttled_share = 0.9;
    throttled.acked_mb_per_s = 0.244;
    let probes = vec![
        probe(200.0, Status::Pass),
        probe(400.0, Status::Pass),
        throttled,
        probe(600.0, Status::Fail),
    ];
    let mut search = surge::capacity::Search::new(200.0, 0.1, None);
    for p in &probes {
        search.record(p.offered_rate, p.status);
    }
    let scenario = surge::validate(
        &common::repo("tests/fixtures/capacity-knee.toml"),
        &Default::default(),
    )
    .unwrap();
    let conclude = |probes| {
        surge::capacity::conclude(
            &scenario,
            probes,
            &search,
            Duration::from_secs(10),
            Duration::from_secs(60),
        )
        .conclusion
    };
    // The lowest failing probe (600/s) was not throttled: the cluster's own limit.
    assert!(!conclude(probes.clone()).contains("quota"));
    // It was: the answer is the quota's.
    let mut quota = probes;
    quota[3].throttled_share = 0.5;
    quota[3].acked_mb_per_s = 0.244;
    let text = conclude(quota);
    assert!(
        text.contains("quota-bound: from 600 events/s the brokers throttled the clients in 50%")
            && text.contains("0.244 MB/s"),
        "{text}"
    );
}

fn probe(rate: f64, status: Status) -> surge::summary::Probe {
    surge::summary::Probe {
        offered_rate: rate,
        status,
        achieved_rate: rate,
        e2e_p95_us: 1000,
        e2e_p99_us: 2000,
        max_lag: 0,
        reasons: vec![],
        throttled_share: 0.0,
        acked_mb_per_s: rate * 512.0 / 1_048_576.0,
        interrupted: false,
    }
}
