//! What a rebalance costs, on the real cluster, for the classic protocol and KIP-848's
//! consumer protocol: a group scaled out and back in under load gives one rebalance row per
//! member that joined or left, its unowned time agrees with the group coordinator's own account
//! (Kafka's Java Admin client polling the members' assignments, tests/fixtures/
//! GroupWatch.java), its redelivered events are the duplicates the checker counted, and
//! nothing is lost.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use surge::scenario::Overrides;
use surge::summary::{GroupSummary, RebalanceSummary};

use super::common::{self, exclusive, repo};
use super::{fresh_name, healthy_cluster};

/// How often the watcher asks the coordinator.
const POLL_MS: u64 = 100;
const PARTITIONS: usize = 12;

/// A group of 2 scaled to 4 members and back, one member every 11 s, at 800 events/s. Under
/// KIP-848 a join takes up to two 5 s heartbeats (Kafka's group.consumer.heartbeat.interval.ms)
/// to reach the new member: the old owners learn to revoke on their next heartbeat, the new
/// member gets the partitions on its own next one. Steps 5 s apart once let a join land after
/// the next step (a row that "changed nothing"); 11 s apart, each rebalance ends before the
/// next begins.
fn scenario(dir: &Path, topic: &str, protocol: &str) -> PathBuf {
    let path = dir.join("scaling.toml");
    std::fs::write(
        &path,
        format!(
            r#"name = "scaling"
[[topics]]
name = "{topic}"
partitions = {PARTITIONS}
config = {{ "min.insync.replicas" = "2" }}

[[events]]
name = "OrderCreated"
topic = "{topic}"
keys = 2000

[[phases]]
name = "warmup"
rate = "300/s"
duration = "3s"
warmup = true

[[phases]]
name = "peak"
rate = "800/s"
duration = "50s"

[[consumer_groups]]
name = "scaling"
topics = ["{topic}"]
members = 2
protocol = "{protocol}"

[[faults]]
name = "out"
kind = "scale_group"
group = "scaling"
at = "5s"
to = 4
step_every = "11s"

[[faults]]
name = "in"
kind = "scale_group"
group = "scaling"
at = "30s"
to = 2
step_every = "11s"

[slo]
checks = ["e2e.p99 < 20s", "lost == 0"]
"#
        ),
    )
    .unwrap();
    path
}

/// GroupWatch, compiled once per test binary against the cluster's own jars.
fn watcher_classpath() -> String {
    static CLASSPATH: OnceLock<String> = OnceLock::new();
    CLASSPATH
        .get_or_init(|| {
            let jars = common::kafka::script(&["classpath"]);
            assert!(jars.status.success(), "{}", common::console(&jars));
            let jars = String::from_utf8_lossy(&jars.stdout).trim().to_string();
            let classes = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("group-watch");
            std::fs::create_dir_all(&classes).unwrap();
            let compiled = Command::new("javac")
                .args(["-d", classes.to_str().unwrap(), "-cp", &jars])
                .arg(repo("tests/fixtures/GroupWatch.java"))
                .output()
                .expect("javac runs (a JDK is among the README's toolchains)");
            assert!(compiled.status.success(), "{}", common::console(&compiled));
            format!("{jars}:{}", classes.display())
        })
        .clone()
}

/// Starts watching the next group surge creates for `group`, for at most `seconds`.
fn watch(bootstrap: &str, group: &str, topic: &str, seconds: u64) -> Child {
    Command::new("java")
        .args([
            "-Xmx256m",
            "-cp",
            &watcher_classpath(),
            "GroupWatch",
            bootstrap,
        ])
        .arg(format!("surge-{group}-"))
        .args([topic, &PARTITIONS.to_string(), &POLL_MS.to_string()])
        .arg(seconds.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("java runs GroupWatch")
}

/// One poll: seconds since the plan started, whether the group was Stable, and the
/// partitions no member held.
struct Poll {
    t: f64,
    stable: bool,
    unowned: Vec<usize>,
}

/// Stops the watcher, and returns its polls.
fn polls(mut watcher: Child, plan_start_unix_s: f64) -> Vec<Poll> {
    let _ = watcher.kill();
    let output = watcher.wait_with_output().unwrap();
    BufReader::new(&output.stdout[..])
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let ms: f64 = parts.next()?.parse().ok()?;
            let state = parts.next()?;
            if state == "ERROR" {
                return None;
            }
            let unowned = match parts.next()? {
                "-" => Vec::new(),
                list => list.split(',').filter_map(|p| p.parse().ok()).collect(),
            };
            Some(Poll {
                t: ms / 1000.0 - plan_start_unix_s,
                stable: state.eq_ignore_ascii_case("stable"),
                unowned,
            })
        })
        .collect()
}

/// What the coordinator's account says of one row's window: partition-seconds and the longest
/// gap, at least (partitions no member was assigned) and at most (also every partition while
/// the group was not Stable: a classic member revokes when its heartbeat tells it of the
/// rebalance, which the coordinator's description does not show until the new generation).
struct Account {
    total: (f64, f64),
    longest: (f64, f64),
}

fn coordinator_account(polls: &[Poll], from: f64, to: f64) -> Account {
    let mut total = (0.0, 0.0);
    let mut running = [(0.0f64, 0.0f64); PARTITIONS];
    let mut longest = (0.0f64, 0.0f64);
    for pair in polls.windows(2) {
        let (poll, next) = (&pair[0], &pair[1]);
        if poll.t < from || poll.t >= to {
            continue;
        }
        let step = next.t - poll.t;
        for (p, run) in running.iter_mut().enumerate() {
            let surely = poll.unowned.contains(&p);
            let maybe = surely || !poll.stable;
            run.0 = if surely { run.0 + step } else { 0.0 };
            run.1 = if maybe { run.1 + step } else { 0.0 };
            total.0 += if surely { step } else { 0.0 };
            total.1 += if maybe { step } else { 0.0 };
            longest = (longest.0.max(run.0), longest.1.max(run.1));
        }
    }
    Account { total, longest }
}

fn run_scaled(protocol: &str) -> (GroupSummary, Vec<Poll>, f64) {
    let bootstrap = healthy_cluster();
    let dir = tempfile::tempdir().unwrap();
    let topic = fresh_name("scaling");
    let path = scenario(dir.path(), &topic, protocol);
    let watcher = watch(&bootstrap, "scaling", &topic, 150);
    let overrides = Overrides {
        bootstrap: Some(bootstrap.clone()),
        ..Overrides::default()
    };
    let out = dir.path().join("run");
    let outcome = common::run(path.to_str().unwrap(), overrides, &out).unwrap();
    let summary = outcome.summary;
    let start = chrono_seconds(&summary.started_at);
    let polls = polls(watcher, start);
    let run_end = summary.startup.run_time_s;
    let group = summary.groups.into_iter().next().unwrap();
    (group, polls, run_end)
}

/// `started_at` (RFC 3339, when the plan started) in unix seconds.
fn chrono_seconds(text: &str) -> f64 {
    let at = chrono::DateTime::parse_from_rfc3339(text).expect("started_at is RFC 3339");
    at.timestamp_millis() as f64 / 1000.0
}

fn assert_rows_agree(protocol: &str, group: &GroupSummary, polls: &[Poll], run_end: f64) {
    let rows: &[RebalanceSummary] = &group.rebalances;
    let triggers: Vec<&str> = rows.iter().map(|r| r.trigger.as_str()).collect();
    assert_eq!(
        triggers,
        [
            "member 2 joined",
            "member 3 joined",
            "member 3 left",
            "member 2 left"
        ],
        "{protocol}: one row per member that joined or left, none surge did not start: {rows:#?}"
    );
    assert!(
        polls.len() > 200,
        "{protocol}: the watcher polled {} times",
        polls.len()
    );
    for (i, row) in rows.iter().enumerate() {
        assert!(
            row.first_change_s.is_some(),
            "{protocol}: {row:?} changed nothing"
        );
        let to = rows.get(i + 1).map_or(run_end, |next| next.at_s);
        let account = coordinator_account(polls, row.at_s, to);
        // The watcher sees each handover within a poll (plus its request) at either end.
        let slack = 1.0f64.max(2.5 * POLL_MS as f64 / 1000.0 * row.partitions_unowned as f64);
        // Under KIP-848 the coordinator describes a member's assignment once the member
        // acknowledges it, on a later heartbeat (5 s apart here): it may show a partition
        // unowned that its new owner already reads, so only its upper bound holds.
        let floor = |low: f64| if protocol == "consumer" { 0.0 } else { low };
        let within = |value: f64, (low, high): (f64, f64), slack: f64| {
            floor(low) - slack <= value && value <= high + slack
        };
        assert!(
            within(row.unowned_partition_s, account.total, slack),
            "{protocol}, {}: surge counted {:.2} unowned partition-s, the coordinator {:.2} to {:.2} (slack {slack:.1})",
            row.trigger,
            row.unowned_partition_s,
            account.total.0,
            account.total.1
        );
        assert!(
            within(row.unowned_max_s, account.longest, 1.0),
            "{protocol}, {}: surge's longest unowned {:.2} s, the coordinator's {:.2} to {:.2} s",
            row.trigger,
            row.unowned_max_s,
            account.longest.0,
            account.longest.1
        );
    }
    let redelivered: u64 = rows.iter().map(|r| r.redelivered).sum();
    assert_eq!(
        redelivered, group.ordering.duplicates,
        "{protocol}: the rows' redeliveries are the checker's duplicates"
    );
    assert_eq!(
        (group.lost, group.unread),
        (0, 0),
        "{protocol}: nothing lost"
    );
}

/// Slow (two 53 s runs, each joined by a watcher JVM): the point is the coordinator's account
/// over whole rebalances of both protocols.
#[test]
fn a_scaled_group_gives_one_row_per_change_and_the_coordinator_agrees_for_both_protocols() {
    let _machine = exclusive();
    let mut figures = Vec::new();
    for protocol in ["classic", "consumer"] {
        let (group, polls, run_end) = run_scaled(protocol);
        assert_eq!(group.protocol.as_ref().unwrap().name, protocol);
        assert_rows_agree(protocol, &group, &polls, run_end);
        figures.push(format!(
            "{protocol}: {}",
            group
                .rebalances
                .iter()
                .map(|r| format!("{:.2}/{:.2}", r.unowned_partition_s, r.unowned_max_s))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    // The figures, for docs/rebalances.md; no protocol is expected to win.
    eprintln!(
        "unowned partition-s / longest per row: {}",
        figures.join("; ")
    );
}

/// The broker's refusal of a consumer-protocol group reaches the user at the join, named:
/// Kafka answers an assignor it does not have with UNSUPPORTED_ASSIGNOR, which librdkafka
/// makes a fatal error whose reason only `fatal_error()` keeps.
#[test]
fn an_assignor_the_broker_does_not_have_is_exit_2_at_the_join_naming_the_flag() {
    let _machine = exclusive();
    let bootstrap = healthy_cluster();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), &fresh_name("refused"), "classic");
    let out = dir.path().join("run");
    let output = common::surge_within(
        &[
            "run",
            path.to_str().unwrap(),
            "--bootstrap",
            &bootstrap,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
            "--set",
            "group.scaling.protocol=consumer",
            "--set",
            "group.scaling.assignor=no-such-assignor",
        ],
        std::time::Duration::from_secs(90),
    );
    let text = common::console(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("--set group.scaling.assignor = \"no-such-assignor\""),
        "{text}"
    );
    assert!(
        text.contains("assignor or its version range is not supported"),
        "{text}"
    );
}
