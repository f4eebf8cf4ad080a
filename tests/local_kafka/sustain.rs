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

/// The rate the short probes find, which falls off in a hold, and the next one down (the
/// holds step down by a quarter), which holds. At 400/s and 300/s the C1-only brokers of the
/// test cluster and surge kept both cores 95-100% busy, and 300/s failed its hold on the
/// cluster's own latency (p95 up to 846 ms, no throttling) in 2 of the last 4 full suites.
const BURST: f64 = 200.0;
const HELD: f64 = 150.0;

/// The quota, in bytes/s per broker, halfway (geometrically) between the two rates' loads.
/// Uncompressed events of 512 B on 6 partitions over 3 brokers, in requests of a few records
/// each, took about 660 B an event on the wire (the brokers' `produced_bytes_out`): 44 kB/s a
/// broker at 200/s and 33 kB/s at 150/s, 16% over the quota and 13% under it. (A quota taken
/// from the payload size alone once sat on the lower rate, which was then throttled.)
const QUOTA: u32 = 38_000;

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
            start: Some(BURST / 2.0),
            max: Some(BURST),
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
    // The search's probes end before the quota lands: the burst rate passes.
    assert!(
        capacity
            .probes
            .iter()
            .any(|p| p.offered_rate == BURST && p.status == Status::Pass),
        "{capacity:#?}"
    );
    // Held, the burst rate falls off once the quota lands, about 8 s into the hold.
    let burst = &sustain.holds[0];
    assert_eq!(
        (burst.rate, burst.status),
        (BURST, Status::Fail),
        "{sustain:#?}"
    );
    // The quota is set about 13 s into the run; Kafka throttles once the rate over its window
    // passes it, and three bad seconds make a fall-off: measured 14 s into the hold.
    let fell = burst.held_s.expect("a fall-off");
    assert!((3.0..=24.0).contains(&fell), "{sustain:#?}");
    assert_eq!(sustain.burst_rate, Some(BURST));
    // The next rate down is under the quota and holds; it is the sustained rate now.
    assert_eq!(sustain.held_rate, Some(HELD), "{sustain:#?}");
    assert_eq!(capacity.sustained_rate, Some(HELD));
    assert!(
        capacity
            .conclusion
            .contains(&format!("burst-bound: {BURST} events/s")),
        "{}",
        capacity.conclusion
    );
    // The brokers' own account of the fall-off: they throttled the clients in the hold.
    let throttled = Throttling::of(&hold_summary(out.path(), BURST).brokers);
    assert!(
        throttled.as_ref().is_some_and(|t| t.is_material()),
        "{throttled:?}"
    );
    let calm = Throttling::of(&hold_summary(out.path(), HELD).brokers);
    assert!(calm.as_ref().is_none_or(|t| t.share() < 0.5), "{calm:?}");
}
