//! `surge capacity --sustain` on the real cluster, against a cluster whose throughput falls
//! after a while: each run's `command` fault lifts the producer's quota at its start (2-3 s:
//! a JVM tool), then sets one 8 s later (a Standard broker's credits running out, in
//! miniature), about 13 s into the run. The short probes (5 s of warmup, in which the last
//! run's quota is lifted, and 6 s measured) end before it lands and pass; the hold of the rate
//! they found falls off some seconds after it lands, and the next rate down holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use surge::capacity::SearchOptions;
use surge::engine::StopSignal;
use surge::summary::{Status, Summary, Throttling};
use surge::{CapacityOptions, RunOptions};

use super::brokers::{PEAK, SLOS, quota_text};
use super::common::{exclusive, kafka};
use super::{fresh_name, healthy_cluster, overrides};

/// The quota, in bytes/s per broker, halfway (geometrically) between the two rates' loads.
/// Uncompressed events of 512 B on 6 partitions over 3 brokers, in requests of a few records
/// each, took 640-650 B an event on the wire (the brokers' `produced_bytes_out`): about
/// 86 kB/s a broker at 400/s and 65 kB/s at 300/s, with single seconds from 55 to 79 kB/s at
/// 300/s. At 66 kB/s (taken from the payload size alone) 300/s sat on the quota: throttled for
/// 10 s on one broker in a passing run, and held only 16 s in a failing one.
const QUOTA: u32 = 75_000;

fn scenario(dir: &Path, topic: &str, client: &str) -> PathBuf {
    let faults = format!(
        "[[faults]]\nname = \"credits-run-out\"\nkind = \"command\"\nat = \"0s\"\nrun = \"scripts/local-kafka.sh quota {client} 0 && sleep 8 && scripts/local-kafka.sh quota {client} {QUOTA}\"\ntimeout = \"40s\"\n\n{SLOS}"
    );
    let path = dir.join("sustain.toml");
    std::fs::write(&path, quota_text("sustain", topic, true, PEAK, &faults)).unwrap();
    path
}

fn hold_summary(out: &Path, rate: f64) -> Summary {
    let path = out
        .join("holds")
        .join(format!("{rate:09.0}"))
        .join("summary.json");
    Summary::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Prints a hold's seconds and each broker's produced bytes a second and throttling: what
/// a failed assertion needs to tell the quota from the cluster's own slowness.
fn describe_hold(out: &Path, rate: f64) {
    let summary = hold_summary(out, rate);
    let seconds: Vec<(f64, u64, Option<u64>)> = (summary.timeline.iter())
        .map(|p| (p.t, p.acked, p.e2e_p95.map(|us| us / 1000)))
        .collect();
    eprintln!("the {rate}/s hold, (second, acked, e2e p95 ms): {seconds:?}");
    for broker in &summary.brokers {
        let seconds: Vec<(u64, u32)> = (broker.seconds.iter())
            .map(|s| (s.produced_bytes_out / 1000, s.throttle_ms))
            .collect();
        eprintln!(
            "  broker {} (produced kB, throttle ms) a second: {seconds:?}",
            broker.node
        );
    }
}

/// Slow (about 120 s): two probes and two holds of 30 s, each waiting for its quota command.
#[test]
fn a_rate_that_falls_off_in_a_long_hold_is_named_a_burst_and_a_lower_one_holds() {
    let _machine = exclusive();
    let bootstrap = healthy_cluster();
    let client = fresh_name("surge-sustain");
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), &fresh_name("sustain"), &client);
    let options = CapacityOptions {
        run: RunOptions {
            scenario: path,
            out: Some(out.path().to_path_buf()),
            quiet: true,
            overrides: surge::scenario::Overrides {
                allow_commands: true,
                ..overrides(&bootstrap, &[("producer.client.id", &client)])
            },
            ..RunOptions::default()
        },
        search: SearchOptions {
            start: Some(200.0),
            max: Some(400.0),
            precision: 0.2,
            probe_warmup: Duration::from_secs(5),
            probe_duration: Duration::from_secs(6),
            budget: Duration::from_secs(120),
            sustain: Some(Duration::from_secs(30)),
        },
        broker_types: None,
    };
    let outcome = surge::capacity(&options, Arc::new(StopSignal::default()));
    kafka::control(&["quota", &client, "0"]);
    let capacity = outcome
        .unwrap()
        .summary
        .capacity
        .expect("a capacity result");
    let sustain = capacity.sustain.clone().expect("holds");
    eprintln!("{}", capacity.conclusion);
    for hold in &sustain.holds {
        describe_hold(out.path(), hold.rate);
    }
    // The search's probes end before the quota lands: 400/s passes.
    assert!(
        capacity
            .probes
            .iter()
            .any(|p| p.offered_rate == 400.0 && p.status == Status::Pass),
        "{capacity:#?}"
    );
    // Held, 400/s falls off once the quota lands, about 8 s into the hold.
    let burst = &sustain.holds[0];
    assert_eq!(
        (burst.rate, burst.status),
        (400.0, Status::Fail),
        "{sustain:#?}"
    );
    // The quota is set about 13 s into the run; Kafka throttles once the rate over its window
    // passes it, and three bad seconds make a fall-off: measured 14 s into the hold.
    let fell = burst.held_s.expect("a fall-off");
    assert!((3.0..=24.0).contains(&fell), "{sustain:#?}");
    assert_eq!(sustain.burst_rate, Some(400.0));
    // 300/s is under the quota and holds; it is the sustained rate now.
    assert_eq!(sustain.held_rate, Some(300.0), "{sustain:#?}");
    assert_eq!(capacity.sustained_rate, Some(300.0));
    assert!(
        capacity.conclusion.contains("burst-bound: 400 events/s"),
        "{}",
        capacity.conclusion
    );
    // The brokers' own account of the fall-off: they throttled the clients in the hold.
    let throttled = Throttling::of(&hold_summary(out.path(), 400.0).brokers);
    assert!(
        throttled.as_ref().is_some_and(|t| t.is_material()),
        "{throttled:?}"
    );
    let calm = Throttling::of(&hold_summary(out.path(), 300.0).brokers);
    assert!(calm.as_ref().is_none_or(|t| t.share() < 0.5), "{calm:?}");
}
