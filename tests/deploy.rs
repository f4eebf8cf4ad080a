//! The Kubernetes manifests in deploy/k8s/: valid against the Kubernetes API schemas (by
//! kubernetes-validate, a Python validator from PyPI that the tests fetch, since no cluster runs
//! here), and
//! consistent with surge: the ConfigMap's scenario is one surge accepts as a distributed run,
//! and the Job, its worker count and the merge Job agree.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::repo;

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn validate(files: &[PathBuf]) -> std::process::Output {
    common::python()
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .args(["--kubernetes-version", "1.33.0"])
        .args(files)
        .output()
        .expect("python3 runs kubernetes-validate")
}

/// A manifest as JSON, through PyYAML (fetched with kubernetes-validate).
fn load(name: &str) -> serde_json::Value {
    let output = common::python()
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(repo(&format!("deploy/k8s/{name}")))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn env<'a>(container: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} is set"))
}

#[test]
fn the_manifests_validate_and_a_broken_one_does_not() {
    let files = manifests();
    assert!(files.len() >= 5, "{files:?}");
    let output = validate(&files);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The validator is not a rubber stamp: a misspelt field fails it.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("job.yaml");
    let text = std::fs::read_to_string(repo("deploy/k8s/job.yaml")).unwrap();
    std::fs::write(&broken, text.replace("completionMode:", "completionMood:")).unwrap();
    assert!(!validate(&[broken]).status.success());
}

#[test]
fn the_job_runs_the_configmap_scenario_as_a_valid_distributed_run() {
    let job = load("job.yaml");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(
        spec["backoffLimit"], 0,
        "a retried worker would send its share twice"
    );
    let workers = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(workers));
    let container = &spec["template"]["spec"]["containers"][0];
    let count = env(container, "SURGE_WORKER_COUNT")["value"]
        .as_str()
        .unwrap();
    assert_eq!(count, workers.to_string());
    let password = env(container, "SURGE_SASL_PASSWORD");
    assert_eq!(password["valueFrom"]["secretKeyRef"]["name"], "surge-scram");
    let merge = load("merge-job.yaml");
    let merge_container = &merge["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env(merge_container, "SURGE_WORKER_COUNT")["value"].as_str(),
        Some(count)
    );
    assert_eq!(
        env(merge_container, "SURGE_RESULTS")["value"],
        env(container, "SURGE_RESULTS")["value"]
    );

    // The scenario the ConfigMap holds, run as worker 0 of that many: surge accepts every
    // part of it (it stops at connecting, as no cluster listens at port 1).
    let config = load("configmap.yaml");
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(&scenario, config["data"]["scenario.toml"].as_str().unwrap()).unwrap();
    let start = (chrono::Utc::now() + chrono::Duration::seconds(300))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let output = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args([
            "run",
            "--quiet",
            "--bootstrap",
            "127.0.0.1:1",
            "--start-at",
            &start,
        ])
        .args(["--worker-count", count, "--worker-index", "0", "--out"])
        .arg(dir.path().join("out"))
        .arg(&scenario)
        .env("SURGE_SASL_USERNAME", "surge")
        .env("SURGE_SASL_PASSWORD", "not-a-real-password")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("127.0.0.1:1"),
        "it got as far as connecting: {stderr}"
    );
    assert!(!stderr.contains("not-a-real-password"), "{stderr}");
}
