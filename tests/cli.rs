//! The binary's exit codes and messages, as a CI pipeline sees them.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{exclusive, repo};

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
