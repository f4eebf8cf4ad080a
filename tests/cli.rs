//! The binary's exit codes and messages, as a CI pipeline sees them.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{exclusive, repo};
use surge::summary::Status;

fn surge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_surge"));
    command.env_remove("KAFKA_BOOTSTRAP_SERVERS");
    command
}

#[test]
fn an_unreachable_bootstrap_exits_2_within_30_seconds() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = surge()
        .args(["run", "--quiet", "--bootstrap", "127.0.0.1:1", "--out"])
        .arg(out.path())
        .arg(repo("scenarios/smoke.toml"))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(
        stderr.contains("127.0.0.1:1"),
        "names the address: {stderr}"
    );
    assert!(stderr.contains("fix:"), "gives a fix: {stderr}");
}

#[test]
fn validate_reports_ok_and_bad_files_with_exit_codes() {
    let ok = surge()
        .args(["validate"])
        .arg(repo("scenarios/smoke.toml"))
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("ok (2 topics"));

    let missing = surge()
        .args(["validate", "no/such/scenario.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/scenario.toml"));
}

#[test]
fn bad_flags_exit_2_with_the_fix() {
    let output = surge()
        .args(["run", "--slo", "e2e.p95 < soon"])
        .arg(repo("scenarios/smoke.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs a unit"));

    let output = surge()
        .args(["run", "-X", "linger.ms=banana", "--out"])
        .arg(tempfile::tempdir().unwrap().path())
        .arg(repo("scenarios/smoke.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("linger.ms"), "{stderr}");
}

#[test]
fn a_bad_baseline_or_a_limit_without_one_exits_2_before_any_load() {
    let out = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--baseline", "/nonexistent/run"], "summary.json"),
        (&["--max-regression", "10%"], "needs a baseline"),
        (&["--max-regression", "10"], "with %"),
        (
            &["--baseline", "tests/fixtures/capacity-knee.toml"],
            "summary.json",
        ),
    ];
    for (flags, expected) in cases {
        let started = Instant::now();
        let output = surge()
            .current_dir(repo(""))
            .arg("run")
            .args(flags)
            .arg("--out")
            .arg(out.path().join("run"))
            .arg("scenarios/smoke.toml")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(10), "{flags:?}");
        assert!(!out.path().join("run/summary.json").exists(), "{flags:?}");
    }
    // A run of another scenario is no baseline.
    let other = tempfile::tempdir().unwrap();
    common::copy_fixture(other.path());
    let summary_path = other.path().join("summary.json");
    let text = std::fs::read_to_string(&summary_path).unwrap().replacen(
        "\"name\": \"smoke\"",
        "\"name\": \"black-friday\"",
        1,
    );
    std::fs::write(&summary_path, text).unwrap();
    let output = surge()
        .arg("run")
        .arg("--baseline")
        .arg(other.path())
        .arg(repo("scenarios/smoke.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not `smoke`"), "{stderr}");
}

#[test]
fn a_run_against_a_baseline_reports_changes_and_fills_the_ci_job_summary() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let job_summary = out.path().join("step-summary.md");
    std::fs::write(&job_summary, "earlier step\n").unwrap();
    let output = surge()
        .env("GITHUB_STEP_SUMMARY", &job_summary)
        .args([
            "run",
            "--quiet",
            "--rate-scale",
            "0.1",
            "--duration-scale",
            "0.3",
        ])
        .args(["--max-regression", "10%", "--baseline"])
        .arg(repo("tests/fixtures/smoke-run"))
        .arg("--out")
        .arg(out.path().join("run"))
        .arg(repo("scenarios/smoke.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = surge::report::load_summary(&out.path().join("run")).expect(&stderr);
    let baseline = summary.baseline.as_ref().expect("a baseline comparison");
    assert_eq!(baseline.run_id, "c3d21e2b");
    assert_eq!(baseline.max_regression, Some(0.1));
    // The baseline ran at full rate: the comparison says so, and warns.
    assert!(
        baseline.plan_differences[0].contains("--rate-scale 0.1 here, 1 in the baseline"),
        "{:?}",
        baseline.plan_differences
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("not like for like"))
    );
    let regressions: Vec<_> = summary
        .verdict
        .checks
        .iter()
        .filter(|c| c.metric.starts_with("baseline."))
        .collect();
    assert_eq!(regressions.len(), 4, "e2e and publish p95 and p99");
    // The exit code follows the checks: a regression beyond 10% fails even under the SLOs.
    let regressed = regressions.iter().any(|c| !c.passed);
    let slo_failed = summary
        .verdict
        .checks
        .iter()
        .any(|c| !c.passed && !c.metric.starts_with("baseline."));
    let expected = match summary.verdict.status {
        Status::Inconclusive => 3,
        _ if regressed || slo_failed => 1,
        _ => 0,
    };
    assert_eq!(output.status.code(), Some(expected), "{stderr}");
    // The job summary got the verdict and tables, without image links.
    let appended = std::fs::read_to_string(&job_summary).unwrap();
    assert!(
        appended.starts_with("earlier step\n# surge: smoke"),
        "{appended}"
    );
    assert!(appended.contains("| SLO "), "{appended}");
    assert!(appended.contains("Against baseline run c3d21e2b"));
    assert!(!appended.contains("!["), "{appended}");
    assert!(appended.contains("report.html"));
}

#[test]
fn replay_refuses_the_embedded_broker_an_unknown_group_and_an_unreachable_cluster() {
    let smoke = repo("scenarios/smoke.toml");
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &[
                "--group",
                "analytics",
                "--bootstrap",
                "127.0.0.1:1",
                "--timeout",
                "99999999999999h",
            ],
            &["--timeout", "at most 24h"],
        ),
        (
            &["--group", "order-service"],
            &["--bootstrap", "embedded broker starts empty"],
        ),
        (
            &["--group", "nobody", "--bootstrap", "127.0.0.1:1"],
            &["--group", "`nobody`", "order-service, analytics"],
        ),
        (
            &["--group", "analytics", "--bootstrap", "127.0.0.1:1"],
            &["127.0.0.1:1", "fix:"],
        ),
    ];
    for (args, expected) in cases {
        let out = tempfile::tempdir().unwrap();
        let output = surge()
            .arg("replay")
            .arg(&smoke)
            .args(args)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        for text in expected {
            assert!(stderr.contains(text), "{args:?}: `{text}` in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Runs `surge` with `args`, expecting exit 2 with a message naming `names` and a fix.
fn refused(args: &[&str], names: &[&str]) {
    let output = surge().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    for name in names {
        assert!(
            stderr.contains(name),
            "{args:?} should name {name}: {stderr}"
        );
    }
    assert!(
        stderr.contains("fix:") || stderr.contains("e.g."),
        "{args:?} gives no fix: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_worker_flags_exit_2_naming_the_flag() {
    let smoke = repo("scenarios/smoke.toml");
    let smoke = smoke.to_str().unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let remote = ["--bootstrap", "127.0.0.1:1"];
    let with = |extra: &[&str]| -> Vec<String> {
        ["run", "--quiet", smoke]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            with(&[
                "--worker-index",
                "3",
                "--worker-count",
                "3",
                "--start-at",
                &soon,
                remote[0],
                remote[1],
            ]),
            vec!["--worker-index", "0 to 2"],
        ),
        (with(&["--worker-count", "0"]), vec!["--worker-count"]),
        (
            with(&["--worker-index", "1"]),
            vec!["--worker-count", "without"],
        ),
        (
            with(&[
                "--worker-count",
                "3",
                "--worker-index",
                "0",
                remote[0],
                remote[1],
            ]),
            vec!["--start-at", "share"],
        ),
        (
            with(&[
                "--worker-count",
                "3",
                "--worker-index",
                "0",
                "--start-at",
                &soon,
            ]),
            vec!["--bootstrap", "embedded"],
        ),
        (
            with(&["--start-at", "next tuesday"]),
            vec!["next tuesday", "RFC 3339"],
        ),
        (
            with(&["--start-at", "2001-01-01T00:00:00Z"]),
            vec!["--start-at", "ago"],
        ),
        (
            with(&["--start-at", "2099-01-01T00:00:00Z"]),
            vec!["--start-at", "minutes away"],
        ),
    ];
    for (args, names) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, &names);
    }
    // The Indexed Job's variable is read as the index.
    let output = surge()
        .args(["run", "--quiet", smoke, "--worker-count", "2"])
        .env("JOB_COMPLETION_INDEX", "5")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("worker index 5"));
}

#[test]
fn merge_refuses_what_is_not_a_distributed_run() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing there at all.
    refused(
        &[
            "merge",
            dir.path().join("nowhere").to_str().unwrap(),
            "--out",
            "/tmp/x",
        ],
        &["nowhere"],
    );
    // A run of one process.
    common::copy_fixture(dir.path());
    refused(
        &[
            "merge",
            dir.path().to_str().unwrap(),
            "--out",
            dir.path().join("m").to_str().unwrap(),
        ],
        &["one process", "worker.json"],
    );
    // A worker file that is not one.
    let fake = dir.path().join("fake");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("worker.json"), "{\"schema\": 7}").unwrap();
    refused(
        &[
            "merge",
            fake.to_str().unwrap(),
            "--out",
            dir.path().join("m2").to_str().unwrap(),
        ],
        &["worker.json", "not a worker file"],
    );
    let output = surge().args(["merge", "--out", "x"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn surge_profile_refuses_bad_flags_an_unreachable_cluster_and_an_existing_file_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.toml");
    let out_arg = out.to_str().unwrap().to_string();
    let cases: [(&[&str], &str); 7] = [
        (&["--window", "1s"], "a window from 2s to 24h"),
        (&["--window", "soon"], "not a duration"),
        (&["--scale", "0.5"], "not a peak factor"),
        (&["--sample", "5"], "100..=1000000"),
        (&["--topics", "orders("], "not a regular expression"),
        (&["--bootstrap", "embedded"], "reads a real cluster"),
        (&["--bootstrap", "127.0.0.1:1"], "no broker at 127.0.0.1:1"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["profile", "--out", &out_arg];
        args.extend_from_slice(flags);
        if !flags.contains(&"--bootstrap") {
            args.extend_from_slice(&["--bootstrap", "127.0.0.1:1"]);
        }
        let output = common::surge_within(&args, Duration::from_secs(60));
        let console = common::console(&output);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {console}");
        assert!(console.contains(expected), "{flags:?}: {console}");
        assert!(!out.exists());
    }
    // An --out that cannot be written is refused before the window, not after it.
    let output = common::surge_within(
        &[
            "profile",
            "--out",
            "/nonexistent/dir/p.toml",
            "--bootstrap",
            "127.0.0.1:1",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(common::console(&output).contains("does not exist"));
    // An existing file is kept unless --force says otherwise, before any connection.
    std::fs::write(&out, "mine").unwrap();
    let output = common::surge_within(
        &["profile", "--out", &out_arg, "--bootstrap", "127.0.0.1:1"],
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(common::console(&output).contains("--force"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
}

#[test]
fn a_capacity_rate_flag_above_the_highest_rate_exits_2_before_any_probe() {
    let out = tempfile::tempdir().unwrap();
    for flags in [["--start", "1e300"], ["--max", "20M/s"]] {
        let output = surge()
            .current_dir(repo(""))
            .arg("capacity")
            .args(flags)
            .arg("--out")
            .arg(out.path().join("run"))
            .arg("tests/fixtures/capacity-knee.toml")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(flags[0]) && stderr.contains("at most 10M/s"),
            "{flags:?}: {stderr}"
        );
        assert!(!out.path().join("run").exists(), "{flags:?}");
    }
}
