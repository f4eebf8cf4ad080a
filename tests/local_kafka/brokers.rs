//! The per-broker view on the real cluster: a broker paused (SIGSTOP) mid-run is the one left
//! unanswered, whose round trip rises to the pause's length, and the line for the pause names
//! it. acks=1, so that the other leaders answer produce requests without waiting for the
//! paused follower (under acks=all every leader waits for it while it stays in the ISR, and
//! their round trips rise with it).

use std::path::{Path, PathBuf};

use surge::scenario::Overrides;
use surge::summary::BrokerSummary;

use super::common::{self, exclusive};
use super::{fresh_name, healthy_cluster, overrides};

const PAUSED: i32 = 2;

/// 6 partitions at 600 events/s for 20 s; broker 2 is paused 8 s into the plan for 4 s.
fn scenario(dir: &Path, topic: &str) -> PathBuf {
    let path = dir.join("paused.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "paused-broker"
[[topics]]
name = "{topic}"
partitions = 6
config = {{ "min.insync.replicas" = "2" }}

[[events]]
name = "OrderCreated"
topic = "{topic}"
keys = 2000

[[phases]]
name = "steady"
rate = "600/s"
duration = "20s"

[[consumer_groups]]
name = "reader"
topics = ["{topic}"]

[run]
drain_timeout = "40s"

[[faults]]
name = "b{PAUSED}-paused"
kind = "command"
at = "8s"
duration = "4s"
run = "scripts/local-kafka.sh pause {PAUSED}"
undo = "scripts/local-kafka.sh resume {PAUSED}"
timeout = "30s"

[slo]
checks = ["lost == 0", "broker.{PAUSED}.rtt.max < 2s", "broker.{PAUSED}.unanswered_s == 0", "broker.1.unanswered_s == 0"]
"#
        ),
    )
    .unwrap();
    path
}

/// Slow (about 40 s): 20 s of plan with the pause inside it, the drain, and the cluster's heal.
#[test]
fn a_paused_broker_is_the_one_left_unanswered_and_the_report_names_it() {
    let _machine = exclusive();
    let bootstrap = healthy_cluster();
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), &fresh_name("paused"));
    let outcome = common::run(
        path.to_str().unwrap(),
        Overrides {
            allow_commands: true,
            ..overrides(&bootstrap, &[("producer.acks", "1")])
        },
        out.path(),
    )
    .unwrap();
    let summary = &outcome.summary;
    assert_eq!(summary.groups[0].lost, 0, "{:#?}", summary.verdict);
    let broker = |node: i32| -> &BrokerSummary {
        (summary.brokers.iter())
            .find(|b| b.node == node)
            .unwrap_or_else(|| panic!("no broker {node}: {:#?}", summary.brokers))
    };
    let during = |b: &BrokerSummary| b.faults[0].clone();
    let paused = broker(PAUSED);
    // Nothing came back from it while it was stopped, and the requests sent just before the
    // pause were answered 4 s later.
    let stopped = during(paused);
    assert!(
        stopped.stalled_seconds >= 2,
        "broker {PAUSED}: {stopped:#?}"
    );
    assert!(
        stopped.rtt_max_us.unwrap_or(0) >= 3_000_000,
        "broker {PAUSED}: {stopped:#?}"
    );
    // The others kept answering the producers at once (acks=1); their fetches waited for data
    // the paused follower held back, which is the fetch column, not the round trip.
    for node in [1, 3] {
        let other = during(broker(node));
        assert_eq!(other.stalled_seconds, 0, "broker {node}: {other:#?}");
        assert!(
            other.rtt_max_us.unwrap_or(0) < 1_000_000,
            "broker {node}: {other:#?}"
        );
    }
    let passed = |metric: &str| {
        (summary.verdict.checks.iter())
            .find(|c| c.metric == metric)
            .unwrap_or_else(|| panic!("no check of {metric}"))
            .passed
    };
    assert!(!passed(&format!("broker.{PAUSED}.rtt.max")));
    assert!(!passed(&format!("broker.{PAUSED}.unanswered_s")));
    assert!(passed("broker.1.unanswered_s"));
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        report.contains(&format!(
            "during fault b{PAUSED}-paused: broker {PAUSED} unanswered for"
        )),
        "{report}"
    );
    eprintln!(
        "{}",
        surge::report::table::broker_fault_lines(summary).join("\n")
    );
}
