//! Distributed runs on the real cluster: worker processes with their own clocks, merged into
//! one run and held to what one process finds and what Kafka's own reader finds.

use std::path::{Path, PathBuf};

use surge::summary::Summary;

use super::common::{self, exclusive, kafka};
use super::fresh_name;

/// A scenario two groups read, for the distributed-run tests; `instances` producer instances
/// per process.
fn distributed_scenario(dir: &Path, orders: &str, payments: &str, instances: u16) -> PathBuf {
    let path = dir.join(format!("distributed-{instances}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "distributed"
[cluster]
bootstrap = "{bootstrap}"

[producer]
instances = {instances}

[[topics]]
name = "{orders}"
partitions = 6
config = {{ "min.insync.replicas" = "2" }}

[[topics]]
name = "{payments}"
partitions = 3

[[events]]
name = "OrderCreated"
topic = "{orders}"
keys = 600

[[events]]
name = "PaymentAuthorized"
topic = "{payments}"
keys = 300

[[phases]]
name = "warmup"
rate = "300/s"
duration = "3s"
warmup = true

[[phases]]
name = "steady"
rate = "600/s"
duration = "8s"

[[consumer_groups]]
name = "fulfilment"
topics = ["{orders}"]
members = 3

[[consumer_groups]]
name = "ledger"
topics = ["{orders}", "{payments}"]
members = 3

# Three surge processes beside three brokers on two cores: the verdicts compared here are
# about integrity and merging, not about this machine's latency or its generator's pace (a
# one-process run of this plan once sent 594 of its 600 events/s, inconclusive under the
# default 99%, while the brokers answered at a p95 of 751 ms).
[run]
max_schedule_lag_p99 = "1s"
min_achieved_ratio = 0.95

[slo]
checks = ["e2e.p95 < 10s"]
"#,
            bootstrap = kafka::plaintext()
        ),
    )
    .unwrap();
    path
}

/// `surge merge` of `dirs` into `out`.
fn merge(dirs: &[PathBuf], out: &Path) -> std::process::Output {
    merge_with(dirs, out, &[])
}

/// `surge merge` of `dirs` into `out`, with more flags.
fn merge_with(dirs: &[PathBuf], out: &Path, flags: &[&str]) -> std::process::Output {
    surge_bin()
        .arg("merge")
        .args(dirs)
        .args(flags)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn surge_bin() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_surge"));
    command.env_remove("KAFKA_BOOTSTRAP_SERVERS");
    command
}

/// How far ahead of their start the workers are started: time for three processes to connect,
/// probe their clocks and join. Three workers of this file's scenario were joined 4 s after
/// their start (group join 3.1 s at most) on this 2-core host: the lead is three times that.
/// (`--start-at` has whole seconds, so the lead is up to a second shorter.)
const LEAD_S: u64 = 12;

/// Starts three workers of `scenario` into `dir`/w0..w2, worker `i` under the clock offset
/// `clocks[i]` (libfaketime's form: "+0.05" is 50 ms ahead), their plans starting [`LEAD_S`]
/// from now.
fn start_workers(
    dir: &Path,
    scenario: &Path,
    clocks: [Option<&str>; 3],
    args: &[&str],
) -> (Vec<PathBuf>, Vec<std::process::Child>) {
    start_workers_in(None, dir, scenario, clocks, args)
}

/// [`start_workers`], each worker in its own network namespace of `hosts` when given
/// (`scripts/netns-workers.sh`).
fn start_workers_in(
    hosts: Option<&Hosts>,
    dir: &Path,
    scenario: &Path,
    clocks: [Option<&str>; 3],
    args: &[&str],
) -> (Vec<PathBuf>, Vec<std::process::Child>) {
    let start = chrono::Utc::now() + chrono::Duration::seconds(LEAD_S as i64);
    let start = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let workers: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("w{i}"))).collect();
    let children = workers
        .iter()
        .zip(clocks)
        .enumerate()
        .map(|(i, (out, clock))| {
            let mut worker = match hosts {
                Some(hosts) => {
                    let mut worker = hosts.exec(i);
                    worker.arg(env!("CARGO_BIN_EXE_surge"));
                    worker.env_remove("KAFKA_BOOTSTRAP_SERVERS");
                    worker
                }
                None => surge_bin(),
            };
            worker
                .args([
                    "run",
                    "--quiet",
                    "--worker-count",
                    "3",
                    "--start-at",
                    &start,
                ])
                .arg("--worker-index")
                .arg(i.to_string())
                .arg("--out")
                .arg(out)
                .args(args)
                .arg(scenario)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            if let Some(offset) = clock {
                common::faketime::skew(&mut worker, offset);
            }
            worker.spawn().unwrap()
        })
        .collect();
    (workers, children)
}

/// Network namespaces for three workers, removed when dropped (`scripts/netns-workers.sh`).
struct Hosts {
    name: String,
}

impl Hosts {
    /// Three worker hosts 2 ms +- 1 ms from the brokers; `None` without root, with the reason.
    fn up() -> Result<Hosts, String> {
        if !nix_is_root() {
            return Err("network namespaces need root".into());
        }
        if !has_ip() {
            return Err("network namespaces need iproute2's `ip`".into());
        }
        let name = format!("{:x}", std::process::id() % 0xff_ffff);
        let output = std::process::Command::new("scripts/netns-workers.sh")
            .args(["up", &name, "3"])
            .output()
            .map_err(|e| e.to_string())?;
        let hosts = Hosts { name };
        if output.status.success() {
            Ok(hosts)
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// A command run in worker `i`'s namespace: the program and its arguments follow.
    fn exec(&self, i: usize) -> std::process::Command {
        let mut command = std::process::Command::new("scripts/netns-workers.sh");
        command.args(["exec", &self.name, &i.to_string()]);
        command
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = std::process::Command::new("scripts/netns-workers.sh")
            .args(["down", &self.name])
            .status();
    }
}

/// Restarts broker `0` when dropped while it is down: a test that kills it and fails before
/// its undo ran leaves the next test three brokers.
struct BrokerBack(&'static str);

impl Drop for BrokerBack {
    fn drop(&mut self) {
        let status = std::process::Command::new("scripts/local-kafka.sh")
            .arg("status")
            .output();
        let down = status.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.starts_with(&format!("broker {}", self.0)) && l.contains(" down "))
        });
        if down {
            kafka::control(&["restart", self.0]);
        }
    }
}

fn has_ip() -> bool {
    std::process::Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The cluster, a directory, and the distributed scenario on fresh topics named after
/// `prefix`, one producer instance per worker.
fn prepared(prefix: &str) -> (tempfile::TempDir, PathBuf) {
    kafka::cluster();
    let dir = tempfile::tempdir().unwrap();
    let orders = fresh_name(&format!("{prefix}-orders"));
    let payments = fresh_name(&format!("{prefix}-payments"));
    let scenario = distributed_scenario(dir.path(), &orders, &payments, 1);
    (dir, scenario)
}

/// `scenario` run by one process into `out` (its commands allowed), which must pass.
fn one_process(scenario: &Path, out: &Path) -> Summary {
    let output = surge_bin()
        .args(["run", "--quiet", "--allow-commands", "--out"])
        .arg(out)
        .arg(scenario)
        .output()
        .unwrap();
    let alone = common::written_summary(out);
    assert_eq!(output.status.code(), Some(0), "{:#?}", alone.verdict);
    alone
}

/// Each check of a verdict, and whether it passed.
fn checks(s: &Summary) -> Vec<(String, bool)> {
    (s.verdict.checks.iter())
        .map(|c| (c.name.clone(), c.passed))
        .collect()
}

/// Waits for every worker (each stops by itself), then each must have passed: none is left
/// running when one fails.
fn all_passed(children: Vec<std::process::Child>) {
    let outputs: Vec<_> = (children.into_iter())
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    for output in outputs {
        assert_eq!(
            output.status.code(),
            Some(0),
            "a worker: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Runs three workers (see [`start_workers`]) to the end; each must pass.
fn run_workers(dir: &Path, scenario: &Path, clocks: [Option<&str>; 3]) -> Vec<PathBuf> {
    let (workers, children) = start_workers(dir, scenario, clocks, &[]);
    all_passed(children);
    workers
}

/// Slow (about 80 s): the workers start 12 s ahead (three processes connect, probe their clocks
/// and join on two cores), run an 11 s plan and drain; then the merges and the Java read-back.
/// Worker 1's clock runs 0.5 ms ahead (libfaketime): measured, and within the skew allowed.
#[test]
fn three_worker_processes_merge_into_the_run_one_process_makes() {
    let _machine = exclusive();
    kafka::cluster();
    let dir = tempfile::tempdir().unwrap();
    let (orders, payments) = (fresh_name("dist-orders"), fresh_name("dist-payments"));
    let scenario = distributed_scenario(dir.path(), &orders, &payments, 1);
    let workers = run_workers(dir.path(), &scenario, [None, Some("+0.0005"), None]);
    let parts: Vec<Summary> = workers.iter().map(|w| common::written_summary(w)).collect();
    let run_id = &parts[0].run_id;
    assert!(parts.iter().all(|p| &p.run_id == run_id), "one run id");
    // Each worker sent its third of the plan, with keys of its own.
    let planned = 300 * 3 + 600 * 8;
    for part in &parts {
        let sent = part.produced.sent as i64;
        assert!((sent - planned / 3).abs() <= 3, "a worker sent {sent}");
    }

    let merged = dir.path().join("merged");
    let output = merge(&workers, &merged);
    let summary = common::written_summary(&merged);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}\n{:#?}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        summary.verdict
    );
    // Counts: the sum of the parts, and nothing lost or repeated across workers.
    let sum = |f: fn(&Summary) -> u64| parts.iter().map(f).sum::<u64>();
    assert_eq!(summary.produced.sent, sum(|s| s.produced.sent));
    assert_eq!(summary.produced.acked, sum(|s| s.produced.acked));
    assert_eq!(summary.produced.acked, planned as u64);
    for group in &summary.groups {
        let consumed: u64 = parts
            .iter()
            .map(|p| {
                p.groups
                    .iter()
                    .find(|g| g.name == group.name)
                    .unwrap()
                    .consumed
            })
            .sum();
        assert_eq!(group.consumed, consumed, "{}", group.name);
        assert_eq!(
            (
                group.lost,
                group.unread,
                group.ordering.duplicates,
                group.ordering.gaps
            ),
            (0, 0, 0, 0),
            "{}",
            group.name
        );
        assert_eq!(group.ordering.out_of_order, 0);
    }
    let ledger_topics = summary.groups.iter().find(|g| g.name == "ledger").unwrap();
    assert_eq!(ledger_topics.consumed, planned as u64);
    // Kafka's own reader finds every acked event of the merged ledger, once.
    let ledger = kafka::ledger(&merged);
    let read = kafka::read_back(&kafka::plaintext(), &[&orders, &payments], run_id);
    assert_eq!(read.records, planned as u64);
    assert_eq!(read.lost(&ledger, &[0, 1]), 0);
    assert_eq!(read.duplicates(), 0);

    // The brokers as every worker's clients saw them: each broker's requests are the workers'
    // added, second by second.
    let requests = |s: &Summary, node: i32| -> u64 {
        (s.brokers.iter().filter(|b| b.node == node))
            .flat_map(|b| &b.seconds)
            .map(|second| u64::from(second.requests))
            .sum()
    };
    assert_eq!(summary.brokers.len(), 3, "{:#?}", summary.brokers);
    for broker in &summary.brokers {
        let parts: u64 = parts.iter().map(|p| requests(p, broker.node)).sum();
        assert!(
            parts > 0 && requests(&summary, broker.node) == parts,
            "broker {}",
            broker.node
        );
    }

    // Histograms: the merged ones are every worker's samples recorded together.
    let totals = |dir: &Path| surge::report::load_run(dir).unwrap().histograms.totals;
    let whole = totals(&merged);
    for (tag, histogram) in &whole {
        let mut together = surge::metrics::new_histogram();
        for worker in &workers {
            let part = totals(worker);
            together
                .add(&part.iter().find(|(t, _)| t == tag).unwrap().1)
                .unwrap();
        }
        assert_eq!(histogram.len(), together.len(), "{tag}");
        for q in [0.5, 0.95, 0.99, 1.0] {
            assert_eq!(
                histogram.value_at_quantile(q),
                together.value_at_quantile(q),
                "{tag} q{q}"
            );
        }
    }
    let e2e = &whole.iter().find(|(t, _)| t == "e2e.ledger").unwrap().1;
    // Every event of the measured phase, read by the group once, on whichever worker.
    assert_eq!(e2e.len(), 600 * 8);
    // The timeline is aligned on the shared start: its seconds add up to what was sent.
    let produced: u64 = summary.timeline.iter().map(|p| p.produced).sum();
    assert_eq!(produced, summary.produced.sent);
    // The worker table and the skew line: three rows, clocks measured on one host.
    let workers_summary = summary.workers.as_ref().expect("worker table");
    assert_eq!(workers_summary.rows.len(), 3);
    assert!(workers_summary.missing.is_empty());
    // Worker 1's clock is 0.5 ms ahead of the others' (one host's clock): each offset is
    // bounded by its uncertainty, so the differences are 500 us within the two added.
    let clock = |i: usize| {
        let row = &workers_summary.rows[i];
        (
            row.clock_offset_us.unwrap(),
            row.clock_uncertainty_us.unwrap() as i64,
        )
    };
    for other in [0, 2] {
        let ((offset, within), (skewed, skewed_within)) = (clock(other), clock(1));
        assert!(
            (offset - skewed - 500).abs() <= within + skewed_within,
            "worker {other}: {offset} ±{within} us, worker 1: {skewed} ±{skewed_within} us"
        );
    }
    let skew = workers_summary.clock_skew_us.expect("skew measured");
    let within = workers_summary.clock_uncertainty_us.unwrap();
    assert!(skew.abs_diff(500) <= within, "{skew} ±{within} us");

    // One process at the same total rate, with the same three producer instances, gets the
    // same verdict.
    let single = distributed_scenario(
        dir.path(),
        &fresh_name("one-orders"),
        &fresh_name("one-payments"),
        3,
    );
    let one = dir.path().join("one");
    let alone = one_process(&single, &one);
    assert_eq!(alone.verdict.status, summary.verdict.status);
    assert_eq!(alone.produced.acked, summary.produced.acked);
    assert_eq!(
        alone
            .verdict
            .checks
            .iter()
            .map(|c| &c.name)
            .collect::<Vec<_>>(),
        summary
            .verdict
            .checks
            .iter()
            .map(|c| &c.name)
            .collect::<Vec<_>>()
    );

    // A worker missing: inconclusive, naming it.
    let output = merge(&workers[..2], &dir.path().join("two"));
    assert_eq!(output.status.code(), Some(3));
    let partial = common::written_summary(&dir.path().join("two"));
    assert!(
        partial
            .verdict
            .reasons
            .iter()
            .any(|r| r.contains("worker 2")),
        "{:?}",
        partial.verdict.reasons
    );
    // A worker that did not run its share to the end: inconclusive, naming it.
    let cut = dir.path().join("w1-cut");
    std::fs::create_dir_all(&cut).unwrap();
    for entry in std::fs::read_dir(&workers[1]).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, cut.join(path.file_name().unwrap())).unwrap();
    }
    let file = cut.join("worker.json");
    let mut facts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    facts["complete"] = false.into();
    facts["incomplete"] = "interrupted (SIGTERM)".into();
    std::fs::write(&file, facts.to_string()).unwrap();
    let output = merge(
        &[workers[0].clone(), cut.clone(), workers[2].clone()],
        &dir.path().join("cut"),
    );
    assert_eq!(output.status.code(), Some(3));
    let reasons = common::written_summary(&dir.path().join("cut"))
        .verdict
        .reasons;
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("worker 1") && r.contains("SIGTERM")),
        "{reasons:?}"
    );
    // A directory of another run: bad input.
    let output = merge(
        &[&workers[..], std::slice::from_ref(&one)].concat(),
        &dir.path().join("mixed"),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("one") && stderr.contains("fix:"),
        "{stderr}"
    );
}

/// Slow (about 60 s): the three workers again, worker 1's clock 50 ms ahead. The merge names
/// the skew and calls the run inconclusive (exit 3); loss and order are still judged.
#[test]
fn a_worker_clock_50ms_ahead_makes_the_merged_run_inconclusive_naming_the_skew() {
    let _machine = exclusive();
    let (dir, scenario) = prepared("skew");
    let workers = run_workers(dir.path(), &scenario, [None, Some("+0.05"), None]);
    let merged = dir.path().join("merged");
    // The skew allowed is a share of the merged e2e p50: under the default 10%, 50 ms passed
    // in a full suite whose loaded brokers answered at a p95 of 1.16 s. At 1% the skew is
    // flagged whenever the p50 is under 5 s.
    let output = merge_with(&workers, &merged, &["--max-skew", "1%"]);
    let summary = common::written_summary(&merged);
    assert_eq!(output.status.code(), Some(3), "{:#?}", summary.verdict);
    let p50_us = summary.latency.e2e_us.p50 as f64;
    assert!(p50_us < 5e6, "e2e p50 {p50_us} us");
    let workers_summary = summary.workers.as_ref().unwrap();
    let skew = workers_summary.clock_skew_us.unwrap();
    let within = workers_summary.clock_uncertainty_us.unwrap();
    assert!(skew.abs_diff(50_000) <= within, "{skew} ±{within} us");
    assert_eq!(workers_summary.max_skew_fraction, 0.01);
    assert!(
        summary
            .verdict
            .reasons
            .iter()
            .any(|r| r.contains("clocks differ by up to")),
        "{:?}",
        summary.verdict.reasons
    );
    assert!(summary.verdict.integrity_judged);
    for group in &summary.groups {
        assert_eq!((group.lost, group.unread), (0, 0), "{}", group.name);
    }
    // The report's worker table shows each offset with its uncertainty.
    let report = std::fs::read_to_string(merged.join("report.md")).unwrap();
    assert!(report.contains(" ms ±"), "{report}");
}

/// Slow (about 50 s): the three workers again, worker 1 killed (SIGKILL) 6 s into the plan.
/// The merge names it with what it had sent by its last mark (exit 3), and calls nothing lost:
/// the events it acked are neither checked nor missed, and the others' are all read.
#[test]
fn a_worker_killed_mid_run_is_named_by_the_merge_and_nothing_is_called_lost() {
    let _machine = exclusive();
    let (dir, scenario) = prepared("kill");
    let (workers, mut children) = start_workers(dir.path(), &scenario, [None; 3], &[]);
    std::thread::sleep(std::time::Duration::from_secs(LEAD_S + 6));
    let mut killed = children.remove(1);
    killed.kill().unwrap();
    killed.wait().unwrap();
    all_passed(children);
    let mark: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workers[1].join("worker-mark.json")).unwrap(),
    )
    .unwrap();
    let marked = mark["so_far"]["sent"].as_u64().unwrap();
    assert!(marked > 0, "{mark}");
    let merged = dir.path().join("merged");
    let output = merge(&workers, &merged);
    let summary = common::written_summary(&merged);
    assert_eq!(output.status.code(), Some(3), "{:#?}", summary.verdict);
    assert!(
        (summary.verdict.reasons.iter())
            .any(|r| r.contains("worker 1 (") && r.contains("stopped mid-run")),
        "{:?}",
        summary.verdict.reasons
    );
    let part = |i: usize| common::written_summary(&workers[i]).produced;
    assert_eq!(summary.produced.sent, part(0).sent + part(2).sent + marked);
    let planned = 300 * 3 + 600 * 8;
    assert_eq!(summary.produced.not_sent, planned / 3 - marked);
    for group in &summary.groups {
        assert_eq!(group.lost, 0, "{}", group.name);
    }
}

/// Two groups more for `scenario`'s orders topic: `audit` fails 2% of its events and
/// dead-letters them to `dlt`; `replayer` joins 5 s into the plan and reads from the start.
fn failing_and_late_groups(scenario: &Path, dlt: &str) -> String {
    let text = std::fs::read_to_string(scenario).unwrap();
    // The first topic's name: the orders topic.
    let orders = text
        .split("name = \"")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    format!(
        "\n[[consumer_groups]]\nname = \"audit\"\ntopics = [\"{orders}\"]\nmembers = 3\nfailure_rate = 0.02\nretry_backoff = [\"10ms\"]\ndlt_topic = \"{dlt}\"\n\n[[consumer_groups]]\nname = \"replayer\"\ntopics = [\"{orders}\"]\nmembers = 3\nstart = \"earliest\"\nstarts_after = \"5s\"\n"
    )
}

/// Slow (about 70 s): the three workers with two faults on the shared timeline: a `command`
/// (it must run once, on worker 0) and a `group_pause` of `ledger` (every worker pauses its
/// members); a group that fails 2% of its events and dead-letters them, and a group that joins
/// 5 s into the plan and replays from the start. The merge rebuilds each fault's window and
/// figures, counts each dead letter once (as Kafka's Java reader finds them), measures the
/// replay from the first join to the last catch-up, and passes as one process does.
#[test]
fn faults_in_a_distributed_run_act_once_and_the_merge_rebuilds_their_figures() {
    let _machine = exclusive();
    let (dir, scenario) = prepared("fault");
    let ran = dir.path().join("ran.txt");
    let dlt = fresh_name("fault-dead");
    let faults = format!(
        "\n[[faults]]\nname = \"marker\"\nkind = \"command\"\nat = \"4s\"\nrun = \"echo ran >> '{}'\"\n\n[[faults]]\nname = \"ledger-paused\"\nkind = \"group_pause\"\ngroup = \"ledger\"\nat = \"5s\"\nduration = \"3s\"\n",
        ran.display()
    );
    let mut text = std::fs::read_to_string(&scenario).unwrap();
    text.push_str(&faults);
    text.push_str(&failing_and_late_groups(&scenario, &dlt));
    std::fs::write(&scenario, text).unwrap();
    let (workers, children) =
        start_workers(dir.path(), &scenario, [None; 3], &["--allow-commands"]);
    all_passed(children);
    // The command ran once, on worker 0.
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "ran\n");
    let merged = dir.path().join("merged");
    let output = merge(&workers, &merged);
    let summary = common::written_summary(&merged);
    assert_eq!(output.status.code(), Some(0), "{:#?}", summary.verdict);
    let fault = |name: &str| summary.faults.iter().find(|f| f.name == name).unwrap();
    let marker = fault("marker");
    assert_eq!(marker.commands.len(), 1, "{marker:#?}");
    assert!((marker.start_s - 4.0).abs() < 0.5, "{marker:#?}");
    let paused = fault("ledger-paused");
    assert!((paused.start_s - 5.0).abs() < 0.5, "{paused:#?}");
    assert!((paused.end_s - 8.0).abs() < 0.5, "{paused:#?}");
    for f in &summary.faults {
        assert_eq!((f.lost, f.failed), (0, 0), "{f:#?}");
    }
    // Every worker paused its members: the whole group's lag built up during the pause
    // (600 events/s for 3 s), and the group then read everything.
    let ledger = summary
        .groups
        .iter()
        .position(|g| g.name == "ledger")
        .unwrap();
    let during: u64 = (summary.timeline.iter())
        .filter(|p| p.t > 6.0 && p.t <= 8.0)
        .map(|p| p.groups[ledger].lag)
        .max()
        .unwrap();
    assert!(during >= 600, "ledger's lag during its pause: {during}");
    for group in &summary.groups {
        assert_eq!((group.lost, group.unread), (0, 0), "{}", group.name);
    }
    // The catch-up, at the merged timeline's one-second grain: about 3 s of 600 events/s
    // behind at the resume, under the 10,000 threshold at once.
    let catchups = &summary.groups[ledger].catchups;
    assert_eq!(catchups.len(), 1, "{catchups:#?}");
    assert!(
        (1_200..=2_400).contains(&catchups[0].backlog),
        "{catchups:#?}"
    );
    assert_eq!(catchups[0].catchup_time_s, Some(0.0));

    // The failing group: every worker's failures added, each dead letter found once by the
    // worker that wrote it, and Kafka's Java reader finds exactly those.
    let group = |s: &Summary, name: &str| s.groups.iter().find(|g| g.name == name).unwrap().clone();
    let audit = group(&summary, "audit");
    let f = audit.failures.clone().expect("the failing group's counts");
    let parts: u64 = (workers.iter())
        .map(|w| {
            group(&common::written_summary(w), "audit")
                .failures
                .unwrap()
                .dead_lettered
        })
        .sum();
    assert_eq!(f.dead_lettered, parts);
    // 2% of the events on the orders topic (every one of which `fulfilment` read), drawn per
    // event.
    let orders_events = group(&summary, "fulfilment").consumed;
    assert!(
        (orders_events / 100..=orders_events / 25).contains(&f.dead_lettered),
        "{orders_events} events: {f:#?}"
    );
    assert_eq!(
        (f.dlt_found, f.dlt_lost, f.dlt_duplicates, f.dlt_mismatched),
        (Some(f.dead_lettered), 0, 0, 0),
        "{f:#?}"
    );
    assert_eq!(f.retry_delay_us.count, f.failed, "{f:#?}");
    let java: Vec<serde_json::Value> = kafka::console_values(&kafka::plaintext(), &dlt)
        .iter()
        .map(|v| serde_json::from_str(v).expect("a FailedEvent is JSON"))
        .filter(|v: &serde_json::Value| v["surgeRun"] == summary.run_id.as_str())
        .collect();
    assert_eq!(java.len() as u64, f.dead_lettered);
    let writers: std::collections::BTreeSet<u64> = java
        .iter()
        .filter_map(|v| v["surgeWorker"].as_u64())
        .collect();
    assert_eq!(
        writers.len(),
        3,
        "every worker's members dead-lettered: {writers:?}"
    );
    // The late group: joined 5 s in on every worker, read every event of the orders topic.
    let replay = group(&summary, "replayer").replay.expect("a replay");
    assert!((replay.joined_s - 5.0).abs() < 0.5, "{replay:#?}");
    assert!(
        replay.caught_up_s.is_some_and(|t| t > replay.joined_s),
        "{replay:#?}"
    );
    assert_eq!(replay.records, orders_events, "{replay:#?}");
    assert_eq!(group(&summary, "replayer").lost, 0);

    // One process at the same total rate, with the same faults, gets the same verdict.
    let single = distributed_scenario(
        dir.path(),
        &fresh_name("fault-one-orders"),
        &fresh_name("fault-one-payments"),
        3,
    );
    let mut text = std::fs::read_to_string(&single).unwrap();
    text.push_str(&faults);
    text.push_str(&failing_and_late_groups(&single, &dlt));
    std::fs::write(&single, text).unwrap();
    let alone = one_process(&single, &dir.path().join("one"));
    assert_eq!(checks(&alone), checks(&summary));
    assert_eq!(alone.faults.len(), summary.faults.len());
    // The same events fail in one process: each event's fate is drawn from its key.
    let one_f = group(&alone, "audit").failures.unwrap();
    assert_eq!(one_f.dead_lettered, f.dead_lettered);
    assert_eq!(
        group(&alone, "replayer").replay.unwrap().records,
        replay.records
    );
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "ran\nran\n");
}

/// Slow (about 120 s): three workers on separate network hosts (`scripts/netns-workers.sh`:
/// a network namespace each, joined to the brokers by a veth link and a relay that delays each
/// chunk 2 ms +- 1 ms), worker 1's clock 0.5 ms ahead, with a broker killed and restarted by a
/// `command`, a `group_pause`, a failing group with its dead letters and a late group. Each
/// fault's figures and the dead letters equal what Kafka's Java console consumer finds, and
/// the merged checks equal a one-process run's of the same scenario and rate. Without root or
/// iproute2 (network namespaces), it says so and checks nothing.
#[test]
fn three_workers_on_separate_network_hosts_with_a_broker_killed_merge_as_one_process_runs() {
    let _machine = exclusive();
    let hosts = match Hosts::up() {
        Ok(hosts) => hosts,
        Err(why) if !nix_is_root() || !has_ip() => {
            eprintln!("skipped: {why}");
            return;
        }
        Err(why) => panic!("the worker hosts could not be made: {why}"),
    };
    let (dir, scenario) = prepared("hosts");
    let _broker_back = BrokerBack("2");
    let dlt = fresh_name("hosts-dead");
    // Worker 0 runs the command in its namespace; the broker it restarts must listen where
    // the brokers do (this test's namespace), as a command on MSK reaches its control plane.
    let here = format!("nsenter --net=/proc/{}/ns/net", std::process::id());
    let faults = format!(
        "\n[[faults]]\nname = \"broker-2-killed\"\nkind = \"command\"\nat = \"4s\"\nduration = \"4s\"\nrun = \"{here} scripts/local-kafka.sh kill 2\"\nundo = \"{here} scripts/local-kafka.sh restart 2\"\ntimeout = \"120s\"\n\n[[faults]]\nname = \"ledger-paused\"\nkind = \"group_pause\"\ngroup = \"ledger\"\nat = \"5s\"\nduration = \"3s\"\n"
    );
    // A broker's restart holds its partitions' events for seconds (e2e p95 of 10.3 and 11.6 s
    // in two runs of one process): the checks compared are integrity's, so latency gets room.
    let roomy = |text: String| text.replace("e2e.p95 < 10s", "e2e.p95 < 60s");
    let mut text = roomy(std::fs::read_to_string(&scenario).unwrap());
    text.push_str(&faults);
    text.push_str(&failing_and_late_groups(&scenario, &dlt));
    std::fs::write(&scenario, text).unwrap();
    let (workers, children) = start_workers_in(
        Some(&hosts),
        dir.path(),
        &scenario,
        [None, Some("+0.0005"), None],
        &["--allow-commands"],
    );
    all_passed(children);
    drop(hosts);
    let merged = dir.path().join("merged");
    let output = merge(&workers, &merged);
    let summary = common::written_summary(&merged);
    let failed: Vec<String> = (summary.verdict.checks.iter())
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {}", c.name, c.actual_text))
        .chain(summary.verdict.reasons.iter().cloned())
        .collect();
    assert_eq!(output.status.code(), Some(0), "{failed:#?}");

    // The broker died once, on worker 0's command, and came back on its undo.
    let killed = summary
        .faults
        .iter()
        .find(|f| f.name == "broker-2-killed")
        .unwrap();
    assert_eq!(killed.commands.len(), 2, "{killed:#?}");
    assert!(
        killed.commands[0].output.contains("broker 2 killed"),
        "{killed:#?}"
    );
    for fault in &summary.faults {
        assert_eq!((fault.lost, fault.failed), (0, 0), "{fault:#?}");
    }
    // Kafka's own reader finds every acked event, once: nothing lost in any fault's window.
    let run_id = &summary.run_id;
    let topics: Vec<String> = summary
        .scenario
        .topics
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let (orders, payments) = (topics[0].as_str(), topics[1].as_str());
    let ledger = kafka::ledger(&merged);
    let read = kafka::read_back(&kafka::plaintext(), &[orders, payments], run_id);
    assert_eq!(read.records, summary.produced.acked);
    assert_eq!(read.lost(&ledger, &[0, 1]), 0);
    assert_eq!(read.duplicates(), 0);
    for group in &summary.groups {
        assert_eq!((group.lost, group.unread), (0, 0), "{}", group.name);
    }
    // The dead letters: counted once across the three hosts, as the Java reader finds them.
    let audit = summary.groups.iter().find(|g| g.name == "audit").unwrap();
    let f = audit.failures.as_ref().unwrap();
    let java = kafka::console_values(&kafka::plaintext(), &dlt)
        .iter()
        .filter(|v| v.contains(run_id.as_str()))
        .count() as u64;
    assert!(f.dead_lettered > 0);
    assert_eq!(
        (java, f.dlt_found, f.dlt_lost),
        (f.dead_lettered, Some(f.dead_lettered), 0)
    );
    // The clocks, measured across the links: worker 1 is 0.5 ms ahead, within what the
    // delays let the probes tell.
    let table = summary.workers.as_ref().unwrap();
    let (skew, within) = (
        table.clock_skew_us.unwrap(),
        table.clock_uncertainty_us.unwrap(),
    );
    eprintln!("skew across the links: {skew} us +- {within} us");
    assert!(skew.abs_diff(500) <= within, "{skew} +- {within} us");

    // One process at the same total rate, with the same faults: the same checks pass and fail.
    let single = distributed_scenario(
        dir.path(),
        &fresh_name("hosts-one-orders"),
        &fresh_name("hosts-one-payments"),
        3,
    );
    let mut text = roomy(std::fs::read_to_string(&single).unwrap());
    text.push_str(&faults);
    text.push_str(&failing_and_late_groups(
        &single,
        &fresh_name("hosts-one-dead"),
    ));
    std::fs::write(&single, text).unwrap();
    let alone = one_process(&single, &dir.path().join("one"));
    assert_eq!(checks(&alone), checks(&summary));
    let one_f = alone.groups.iter().find(|g| g.name == "audit").unwrap();
    assert_eq!(
        one_f.failures.as_ref().unwrap().dead_lettered,
        f.dead_lettered
    );
    kafka::control(&["wait-replicated"]);
}

/// Slow (about 110 s): the three workers with `fulfilment` scaled from 3 to 6 members, a member
/// every 5 s from 4 s on (a join's rebalance takes seconds: 2 s apart, one row's changes went to
/// the next), in a steady phase of 20 s: members 3, 4 and 5 join on workers 0, 1 and 2. Each
/// worker records
/// its own members' partitions; the merge takes a partition as unowned while no worker's
/// member held it, and gives the rebalance rows one process gives for the same scale.
#[test]
fn a_group_scaled_across_workers_gives_the_rebalance_rows_of_one_process() {
    let _machine = exclusive();
    let (dir, scenario) = prepared("scaled");
    let scale = "\n[[faults]]\nname = \"out\"\nkind = \"scale_group\"\ngroup = \"fulfilment\"\nat = \"4s\"\nto = 6\nstep_every = \"5s\"\n";
    let longer = |text: String| text.replace("duration = \"8s\"", "duration = \"20s\"");
    let mut text = longer(std::fs::read_to_string(&scenario).unwrap());
    text.push_str(scale);
    std::fs::write(&scenario, text).unwrap();
    let workers = run_workers(dir.path(), &scenario, [None; 3]);
    let merged = dir.path().join("merged");
    let output = merge(&workers, &merged);
    let summary = common::written_summary(&merged);
    assert_eq!(output.status.code(), Some(0), "{:#?}", summary.verdict);
    let rows = |s: &Summary| {
        let group = s.groups.iter().find(|g| g.name == "fulfilment").unwrap();
        assert_eq!((group.lost, group.unread), (0, 0));
        group.rebalances.clone()
    };
    let merged_rows = rows(&summary);
    let triggers = |rows: &[surge::summary::RebalanceSummary]| {
        rows.iter().map(|r| r.trigger.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        triggers(&merged_rows),
        ["member 3 joined", "member 4 joined", "member 5 joined"],
        "{merged_rows:#?}"
    );
    for row in &merged_rows {
        // Each join moved partitions: some worker's member gave one up and another took it.
        assert!(row.first_change_s.is_some(), "{row:#?}");
        assert!(
            row.unowned_partition_s >= 0.0 && row.unowned_max_s < 10.0,
            "{row:#?}"
        );
    }
    // Each worker alone saw the partitions other workers' members held as not its own: far
    // more unowned time than the group had.
    let alone_unowned: f64 = workers
        .iter()
        .map(|w| common::written_summary(w))
        .flat_map(|s| rows(&s))
        .map(|r| r.unowned_partition_s)
        .sum();
    let merged_unowned: f64 = merged_rows.iter().map(|r| r.unowned_partition_s).sum();
    assert!(
        merged_unowned < alone_unowned,
        "{merged_unowned} against {alone_unowned}"
    );

    // One process, the same scale: the same rows, and the same checks.
    let single = distributed_scenario(
        dir.path(),
        &fresh_name("scaled-one-orders"),
        &fresh_name("scaled-one-payments"),
        3,
    );
    let mut text = longer(std::fs::read_to_string(&single).unwrap());
    text.push_str(scale);
    std::fs::write(&single, text).unwrap();
    let alone = one_process(&single, &dir.path().join("one"));
    assert_eq!(triggers(&rows(&alone)), triggers(&merged_rows));
    let figures = |rows: &[surge::summary::RebalanceSummary]| {
        (rows.iter())
            .map(|r| format!("{:.2}/{:.2}", r.unowned_partition_s, r.unowned_max_s))
            .collect::<Vec<_>>()
            .join(" ")
    };
    eprintln!(
        "unowned partition-s / longest per row: merged {}; one process {}",
        figures(&merged_rows),
        figures(&rows(&alone))
    );
    assert_eq!(checks(&alone), checks(&summary));
}
