//! Run directories as they arrive as CI artifacts, damaged or crafted: opening one with
//! `surge report` or `surge compare` must end in a clear error (exit 2, the file named), never
//! an abort, a panic, a hang or a write outside the directory.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use common::{console, copy_fixture, surge_within};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

/// The V2 cookies with the word-size bits every writer sets.
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;

/// A plain V2 histogram header declaring `payload_len` bytes of counts, and no counts.
fn header(payload_len: u32, low: u64, high: u64, digits: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend(V2_COOKIE.to_be_bytes());
    bytes.extend(payload_len.to_be_bytes());
    bytes.extend(0u32.to_be_bytes());
    bytes.extend(digits.to_be_bytes());
    bytes.extend(low.to_be_bytes());
    bytes.extend(high.to_be_bytes());
    bytes.extend(1.0f64.to_be_bytes());
    bytes
}

/// `plain` deflated inside a compressed V2 envelope, in base64.
fn compressed(plain: &[u8]) -> String {
    let mut deflater = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    deflater.write_all(plain).unwrap();
    let deflated = deflater.finish().unwrap();
    let mut bytes = Vec::new();
    bytes.extend(V2_COMPRESSED_COOKIE.to_be_bytes());
    bytes.extend((deflated.len() as u32).to_be_bytes());
    bytes.extend(deflated);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A histogram in base64, as surge's writer encodes it.
fn encoded(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn append(path: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(file, "{line}").unwrap();
}

/// `surge report DIR` refuses the directory: exit 2, naming `file` and `detail`.
fn report_refuses(dir: &Path, file: &str, detail: &str) {
    let output = surge_within(&["report", dir.to_str().unwrap()], Duration::from_secs(60));
    let message = console(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains(file) && message.contains(detail),
        "expected {file} and `{detail}` in: {message}"
    );
}

#[test]
fn a_line_claiming_a_4gib_histogram_is_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let line = format!(
        "Tag=publish,20.000,1.000,1.000,{}",
        compressed(&header(0xFFFF_FFF0, 1, 3_600_000_000, 3))
    );
    assert!(line.len() < 200, "a short line: {}", line.len());
    append(&dir.path().join("publish.hlog"), &line);
    report_refuses(
        dir.path(),
        "publish.hlog",
        "claims 4294967280 bytes of counts",
    );
    // compare opens the same reader.
    compare_refuses(dir.path());
}

/// `surge compare` of the intact fixture against `dir` refuses it: exit 2, no panic.
fn compare_refuses(dir: &Path) {
    let baseline = tempfile::tempdir().unwrap();
    copy_fixture(baseline.path());
    let out = tempfile::tempdir().unwrap();
    let output = surge_within(
        &[
            "compare",
            baseline.path().to_str().unwrap(),
            dir.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    let message = console(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn a_histogram_wider_than_surges_is_refused_by_report_and_compare_alike() {
    // A value of 1.5 hours, in a histogram whose bounds reach 2 hours: `report` read it, and
    // `compare` panicked adding it to one of surge's (1 hour at most).
    let mut wide = Histogram::<u64>::new_with_bounds(1, 7_200_000_000, 3).unwrap();
    wide.record(5_400_000_000).unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    append(
        &dir.path().join("totals.hlog"),
        &format!("Tag=e2e.analytics,0.000,18.000,1.000,{}", encoded(&wide)),
    );
    report_refuses(dir.path(), "totals.hlog", "not within surge's");
    compare_refuses(dir.path());
}

#[test]
fn damaged_histograms_name_their_file_and_line() {
    let cases = [
        ("not base64 at all!", "not base64"),
        ("AAAA", "unknown cookie"),
        (
            compressed(&header(8, 1, 3_600_000_000, 3)).as_str(),
            "8 bytes of counts, and 0 follow",
        ),
        (
            compressed(&header(0, 0, 3_600_000_000, 3)).as_str(),
            "bounds",
        ),
        (
            compressed(&header(0, 1, 3_600_000_000, 9)).as_str(),
            "bounds",
        ),
        (compressed(&header(0, 1, u64::MAX, 3)).as_str(), "bounds"),
        (compressed(&[1, 2, 3]).as_str(), "no V2 histogram"),
    ]
    .map(|(payload, detail)| (payload.to_string(), detail));
    for (payload, detail) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_fixture(dir.path());
        append(
            &dir.path().join("schedule-lag.hlog"),
            &format!("Tag=schedule_lag,30.000,1.000,1.000,{payload}"),
        );
        let error = surge::report::load_run(dir.path())
            .err()
            .map(|e| e.to_string());
        let error = error.unwrap_or_else(|| panic!("`{payload}` was read"));
        assert!(
            error.contains("schedule-lag.hlog: line ") && error.contains(detail),
            "expected `{detail}` in: {error}"
        );
    }
}

#[test]
fn a_line_longer_than_any_histogram_and_an_endless_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    append(
        &dir.path().join("publish.hlog"),
        &format!("Tag=publish,20.000,1.000,1.000,{}", "A".repeat(2 << 20)),
    );
    report_refuses(dir.path(), "publish.hlog", "longer than 1048576 bytes");
    // A summary.json that never ends (/dev/zero) is not read at all.
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    std::fs::remove_file(dir.path().join("summary.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("summary.json")).unwrap();
    report_refuses(dir.path(), "summary.json", "is not a regular file");
}

#[test]
fn a_tag_that_names_a_path_or_a_time_beyond_a_run_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let escaped = outside.path().join("ESCAPED");
    let valid =
        std::fs::read_to_string(common::repo("tests/fixtures/smoke-run/publish.hlog")).unwrap();
    let histogram = valid
        .lines()
        .find(|l| l.starts_with("Tag="))
        .and_then(|l| l.rsplit_once(','))
        .map(|(_, h)| h.to_string())
        .unwrap();
    let cases = [
        (
            format!("Tag={},3.000,1.000,10.0,{histogram}", escaped.display()),
            "is not one of surge's metrics",
        ),
        (
            format!("Tag=sub/x,3.000,1.000,10.0,{histogram}"),
            "is not one of surge's metrics",
        ),
        (
            format!("Tag=e2e.<img src=x>,3.000,1.000,10.0,{histogram}"),
            "is not one of surge's metrics",
        ),
        (
            format!("Tag=publish,18446744073709551615.000,1.000,10.0,{histogram}"),
            "not within a run",
        ),
    ];
    let cases = cases.into_iter().chain([
        // A count the decoder cannot negate, and counts that add up past 2^64.
        (
            "Tag=publish,3.000,1.000,1.0,HISTFAAAACN4nJNpmSzMwMDAyQABzFCaEURcm7yEwf4DROA/DAAAp+YNhw==".to_string(),
            "counts are not a histogram's",
        ),
        (
            "Tag=publish,3.000,1.000,1.0,HISTFAAAACh4nJNpmSzMwMAgywABzFCaEURcm7yEwf4DROA8/7//UIDJAABssCBk".to_string(),
            "counts are not a histogram's",
        ),
        (format!("Tag=publish,691199.000,1.000,10.0,{histogram}"), "after the run's"),
    ]);
    for (line, detail) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_fixture(dir.path());
        append(&dir.path().join("publish.hlog"), &line);
        report_refuses(dir.path(), "publish.hlog", detail);
        assert!(
            !escaped.with_extension("hlog").exists(),
            "written outside: {line}"
        );
    }
    // One totals line too many is refused before each decodes to a full histogram.
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let total = format!("Tag=publish,0.000,18.000,1.000,{histogram}");
    for _ in 0..=surge::report::hlog::MAX_TOTALS {
        append(&dir.path().join("totals.hlog"), &total);
    }
    report_refuses(dir.path(), "totals.hlog", "more histograms than a run");
}

#[test]
fn a_summary_with_more_points_than_seconds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let path = dir.path().join("summary.json");
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let point = summary["timeline"][0].clone();
    summary["timeline"] = serde_json::Value::Array(vec![point; 100_000]);
    std::fs::write(&path, summary.to_string()).unwrap();
    report_refuses(dir.path(), "summary.json", "more than one a second");
}

/// A broker row as `summary.json` holds one, with `faults` fault entries.
fn broker(node: i32, faults: usize) -> serde_json::Value {
    let fault = serde_json::json!({"fault": "f", "rtt_p99_peak_us": null, "rtt_max_us": null,
        "stalled_seconds": 0, "down_seconds": 0, "timeouts": 0});
    serde_json::json!({"node": node, "rtt_mean_us": null, "rtt_p99_typical_us": null,
        "rtt_p99_peak_us": null, "rtt_max_us": null, "fetch_p99_typical_us": null,
        "stalled_seconds": 0, "down_seconds": 0, "queue_p99_peak_us": null,
        "batching_p99_typical_us": null, "throttle_ms": 0, "throttle_max_ms": 0,
        "throttled_seconds": 0, "requests": 0, "bytes_out": 0, "bytes_in": 0, "retries": 0,
        "timeouts": 0, "disconnects": 0, "faults": vec![fault; faults], "seconds": []})
}

#[test]
fn crafted_broker_rows_are_refused_before_a_report_lists_them() {
    let cases: [(serde_json::Value, &str); 3] = [
        // Every report lists, per fault, the brokers' node ids: fault rows the run does not
        // have, times thousands of brokers, would print without end.
        (
            serde_json::json!([broker(1, 50_000), broker(2, 0)]),
            "faults",
        ),
        (
            serde_json::json!([broker(1, 0), broker(1, 0)]),
            "node id twice",
        ),
        (
            serde_json::Value::Array((0..10_001).map(|n| broker(n, 0)).collect()),
            "more than the 10000",
        ),
    ];
    for (brokers, detail) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_fixture(dir.path());
        let path = dir.path().join("summary.json");
        let mut summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        summary["brokers"] = brokers;
        std::fs::write(&path, summary.to_string()).unwrap();
        report_refuses(dir.path(), "summary.json", detail);
    }
}

#[test]
fn crafted_phase_figures_trust_limits_and_slo_limits_are_refused_or_drawn_off_scale() {
    let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
        let dir = tempfile::tempdir().unwrap();
        copy_fixture(dir.path());
        let path = dir.path().join("summary.json");
        let mut summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut summary);
        std::fs::write(&path, summary.to_string()).unwrap();
        dir
    };
    let phase = serde_json::json!({"name": "steady", "warmup": false, "peak": true,
        "start_s": 3.0, "end_s": 18.0, "seconds": -5.0, "offered_rate": 1e308,
        "offered_peak_rate": 3000.0, "offered_mb_per_s": 1.0, "achieved_rate": 3000.0,
        "achieved_ratio": 1.0, "produced_mb_per_s": 1.0, "acked_mb_per_s": 1.0,
        "consumed_mb_per_s": 1.0, "publish_us": {"count": 0, "p50": 0, "p90": 0, "p95": 0,
        "p99": 0, "p999": 0, "max": 0, "mean": 0.0}, "schedule_lag_us": {"count": 0, "p50": 0,
        "p90": 0, "p95": 0, "p99": 0, "p999": 0, "max": 0, "mean": 0.0}, "e2e_us": {"count": 0,
        "p50": 0, "p90": 0, "p95": 0, "p99": 0, "p999": 0, "max": 0, "mean": 0.0},
        "max_lag": 0, "failed": 0, "duplicates": 0, "out_of_order": 0, "groups": []});
    let dir = edited(&|s| s["by_phase"] = serde_json::json!([phase.clone()]));
    report_refuses(dir.path(), "summary.json", "by_phase[0]");
    let trust = serde_json::json!([{"name": "schedule lag p99", "limit": -1e300,
        "limit_text": "x", "actual_text": "y", "passed": true, "reason": ""}]);
    let dir = edited(&|s| s["verdict"]["trust"] = trust.clone());
    report_refuses(dir.path(), "summary.json", "verdict.trust[0].limit");
    // A limit no figure can reach is named in the legend, never drawn (plotters overflowed).
    let dir = edited(&|s| {
        s["verdict"]["checks"][6]["name"] = serde_json::json!("lag.max < -1e12");
        s["verdict"]["trust"] = serde_json::json!([{"name": "schedule lag p99",
            "limit": 1e12, "limit_text": "x", "actual_text": "y", "passed": true,
            "reason": ""}]);
    });
    let output = surge_within(
        &["report", dir.path().to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(0), "{}", console(&output));
    let lag = std::fs::read_to_string(dir.path().join("consumer-lag.svg")).unwrap();
    assert!(lag.contains("off scale"), "{lag}");
}

#[test]
fn report_replaces_a_planted_symlink_and_leaves_its_target_alone() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let planted = dir.path().join("throughput.svg");
    std::os::unix::fs::symlink(&target, &planted).unwrap();
    let output = surge_within(
        &["report", dir.path().to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(0), "{}", console(&output));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    let written = std::fs::symlink_metadata(&planted).unwrap();
    assert!(
        written.is_file(),
        "the link itself was replaced by the chart"
    );
    assert!(std::fs::read_to_string(&planted).unwrap().contains("<svg"));
}

/// A copy of the worker set of a two-worker run (tests/fixtures/worker-set), with `edit`
/// applied to worker `index`'s `file` (parsed as JSON).
fn worker_set(
    index: usize,
    file: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for w in ["w0", "w1"] {
        let from = common::repo("tests/fixtures/worker-set").join(w);
        common::copy_dir(&from, &dir.path().join(w));
    }
    let path = dir.path().join(format!("w{index}")).join(file);
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    dir
}

/// `surge merge` of the set: its exit code and what it printed.
fn merge(set: &Path) -> (Option<i32>, String) {
    let out = set.join("merged");
    let output = surge_within(
        &[
            "merge",
            set.join("w0").to_str().unwrap(),
            set.join("w1").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    (output.status.code(), console(&output))
}

#[test]
fn one_worker_directory_given_twice_is_refused() {
    let set = worker_set(0, "ledger.json", |_| {});
    let w0 = set.path().join("w0");
    let output = surge_within(
        &[
            "merge",
            w0.to_str().unwrap(),
            w0.to_str().unwrap(),
            "--out",
            set.path().join("m").to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    let message = console(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("give each worker's directory once"),
        "{message}"
    );
}

#[test]
fn the_intact_worker_set_merges() {
    let set = worker_set(0, "ledger.json", |_| {});
    let (code, message) = merge(set.path());
    assert_eq!(code, Some(0), "{message}");
    let summary = common::written_summary(&set.path().join("merged"));
    assert_eq!(summary.produced.sent, 350);
    assert_eq!(summary.groups[0].lost, 0);
}

#[test]
fn crafted_worker_files_are_refused_naming_the_file_and_the_field() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(usize, &str, Edit, &str)> = vec![
        // These panicked (an index out of bounds) or hung (four billion sequences to check).
        (
            0,
            "worker.json",
            Box::new(|v| v["share"]["acked_high"] = serde_json::json!([])),
            "share.acked_high",
        ),
        (
            1,
            "ledger.json",
            Box::new(|v| v["keys"][0][3] = serde_json::json!(4_294_967_295u64)),
            "more than the",
        ),
        (
            1,
            "ledger.json",
            Box::new(|v| v["keys"][0][3] = serde_json::json!(4_294_967_296u64)),
            "does not fit",
        ),
        (
            0,
            "ledger.json",
            Box::new(|v| v["keys"][0][1] = serde_json::json!(7)),
            "not one of the scenario's",
        ),
        // These were accepted, and the merge passed.
        (
            1,
            "worker.json",
            Box::new(|v| v["index"] = serde_json::json!(5)),
            "`index` 5 and `count` 2",
        ),
        // A fault the scenario does not have, ending 2^64 s in (it panicked a trust check).
        (
            0,
            "worker.json",
            Box::new(|v| {
                v["faults"] = serde_json::json!([{
                    "started": { "secs": 1, "nanos": 0 },
                    "ended": { "secs": u64::MAX, "nanos": 0 },
                    "commands": [],
                    "error": null
                }])
            }),
            "`faults` lists 1 faults where the scenario has 0",
        ),
        (
            0,
            "worker.json",
            Box::new(|v| v["count"] = serde_json::json!(0)),
            "`count` 0",
        ),
        (
            1,
            "ledger.json",
            Box::new(|v| v["run_id"] = serde_json::json!("deadbeef")),
            "`run_id` deadbeef",
        ),
        (
            0,
            "summary.json",
            Box::new(|v| v["run_id"] = serde_json::json!("deadbeef")),
            "`run_id`",
        ),
        (
            0,
            "worker.json",
            Box::new(|v| v["share"]["groups"][0]["positions"] = serde_json::json!([])),
            "share.groups[0]",
        ),
        // Ownership the group cannot have: a partition past its topics, a gap that ends before
        // it starts, a member past its slots.
        (
            1,
            "worker.json",
            Box::new(|v| {
                v["share"]["groups"][0]["ownership"]["gaps"] =
                    serde_json::json!([{ "partition": [0, 99], "from": 0.0, "to": null }])
            }),
            "share.groups[0].ownership.gaps",
        ),
        (
            1,
            "worker.json",
            Box::new(|v| {
                v["share"]["groups"][0]["ownership"]["gaps"] =
                    serde_json::json!([{ "partition": [0, 0], "from": 5.0, "to": 1.0 }])
            }),
            "share.groups[0].ownership.gaps",
        ),
        (
            0,
            "worker.json",
            Box::new(|v| {
                v["share"]["groups"][0]["ownership"]["changes"] = serde_json::json!([
                    { "t": 1.0, "member": 60000, "assigned": true, "partitions": 1 }
                ])
            }),
            "share.groups[0].ownership.changes",
        ),
        // A callback that moved more partitions than the group reads.
        (
            0,
            "worker.json",
            Box::new(|v| {
                v["share"]["groups"][0]["ownership"]["changes"] = serde_json::json!([
                    { "t": 1.0, "member": 0, "assigned": true, "partitions": 4_000_000_000u32 }
                ])
            }),
            "share.groups[0].ownership.changes",
        ),
    ];
    for (index, file, edit, expected) in cases {
        let set = worker_set(index, file, edit);
        let (code, message) = merge(set.path());
        assert_eq!(code, Some(2), "{file} ({expected}): {message}");
        assert!(
            message.contains(&format!("w{index}")) && message.contains(expected),
            "expected w{index} and `{expected}` in: {message}"
        );
    }
}

#[test]
fn a_run_that_cannot_connect_still_writes_its_summary_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        "[cluster]\nbootstrap = \"127.0.0.1:1\"\n[run]\nconnect_timeout = \"2s\"\n[[topics]]\nname = \"t\"\n[[events]]\nname = \"E\"\ntopic = \"t\"\n[[phases]]\nrate = \"10/s\"\nduration = \"1s\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = surge_within(
        &[
            "run",
            "--quiet",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(2), "{}", console(&output));
    let summary = common::written_summary(&out);
    assert_eq!(summary.verdict.status, surge::summary::Status::Error);
    assert!(!summary.complete);
    let reason = summary.partial_reason.unwrap_or_default();
    assert!(
        reason.contains("could not start") && reason.contains("127.0.0.1:1"),
        "{reason}"
    );
    assert!(out.join("report.html").is_file() && out.join("publish.hlog").is_file());
}

/// Worker 1 of the fixture's set as a worker killed mid-run leaves it: no results, only its
/// last mark (written by `edit`).
fn dead_worker_set(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let set = worker_set(1, "worker.json", |_| {});
    let w1 = set.path().join("w1");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w1.join("worker.json")).unwrap()).unwrap();
    std::fs::remove_dir_all(&w1).unwrap();
    std::fs::create_dir(&w1).unwrap();
    let mut mark = serde_json::json!({
        "schema": "surge.worker-mark/v1",
        "run_id": file["run_id"],
        "index": 1,
        "count": file["count"],
        "start_at_unix_us": file["start_at_unix_us"],
        "instances": file["instances"],
        "at_us": 1_500_000,
        "so_far": { "sent": 60, "acked": 58, "failed": 1 },
    });
    edit(&mut mark);
    std::fs::write(w1.join("worker-mark.json"), mark.to_string()).unwrap();
    set
}

#[test]
fn a_worker_killed_mid_run_is_named_with_its_last_mark_and_nothing_called_lost() {
    let set = dead_worker_set(|_| {});
    let (code, message) = merge(set.path());
    assert_eq!(code, Some(3), "{message}");
    let summary = common::written_summary(&set.path().join("merged"));
    let named = summary
        .verdict
        .reasons
        .iter()
        .find(|r| r.contains("worker 1 ("));
    assert!(
        named.is_some_and(|r| r.contains("1.5 s into the plan") && r.contains("sent 60")),
        "{:?}",
        summary.verdict.reasons
    );
    // Worker 0's 175 and the 60 of the dead worker's mark; the rest of its 175 never sent.
    assert_eq!(summary.produced.sent, 175 + 60);
    assert_eq!(summary.produced.acked, 175 + 58);
    assert_eq!(summary.produced.failed, 1);
    assert_eq!(summary.produced.not_sent, 175 - 60);
    assert_eq!(summary.groups[0].lost, 0);
    assert!(!summary.verdict.integrity_judged);
    let workers = summary.workers.unwrap();
    assert_eq!(workers.missing.len(), 1, "{:?}", workers.missing);
    assert!(workers.missing[0].contains("stopped mid-run"));
}

#[test]
fn a_mark_of_another_run_or_of_a_worker_given_is_not_taken_for_a_dead_worker() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("another run", Box::new(|m| m["run_id"] = "00000000".into())),
        ("worker 0, given", Box::new(|m| m["index"] = 0.into())),
        (
            "an index past the count",
            Box::new(|m| m["index"] = 7.into()),
        ),
        ("another schema", Box::new(|m| m["schema"] = "x".into())),
        (
            "other instances",
            Box::new(|m| m["instances"] = 65_535.into()),
        ),
        (
            "counts that overflow",
            Box::new(|m| m["so_far"]["sent"] = u64::MAX.into()),
        ),
    ];
    for (case, edit) in cases {
        let set = dead_worker_set(edit);
        let (code, message) = merge(set.path());
        assert_eq!(code, Some(3), "{case}: {message}");
        let summary = common::written_summary(&set.path().join("merged"));
        let taken = summary
            .verdict
            .reasons
            .iter()
            .any(|r| r.contains("stopped mid-run"));
        // Only the overflowing mark is of this run; its sums saturate.
        assert_eq!(
            taken,
            case == "counts that overflow",
            "{case}: {:?}",
            summary.verdict.reasons
        );
        assert_eq!(summary.groups[0].lost, 0, "{case}");
    }
}
