//! One test per defect found by mutating scenario files and interrupting runs (issue 9): each
//! used to panic, hang, grow without bound or pass falsely. Every case runs the real `surge`
//! binary with a hard time limit, so a hang fails the test instead of holding the suite.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{console, exclusive, repo, surge_within, wait_within};
use surge::summary::Status;

/// `surge run PATH FLAGS... --out OUT` on the embedded broker within 90 s, and what it printed.
fn run_within(path: &Path, flags: &[&str], out: &Path) -> (Output, String) {
    let mut args = vec!["run", path.to_str().unwrap()];
    args.extend(flags);
    args.extend(["--out", out.to_str().unwrap()]);
    let output = surge_within(&args, Duration::from_secs(90));
    let message = console(&output);
    (output, message)
}

const BASE: &str = r#"
[[topics]]
name = "orders"
partitions = 2

[[events]]
name = "OrderCreated"
topic = "orders"

[[phases]]
rate = "100/s"
duration = "2s"

[[consumer_groups]]
name = "svc"
topics = ["orders"]
"#;

fn scenario_file(dir: &Path, text: &[u8]) -> std::path::PathBuf {
    let path = dir.join("scenario.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text)
        .unwrap();
    path
}

/// `surge validate` on `bytes` (written as `dir`/scenario.toml) with `flags`: exit 2 within
/// seconds, with every one of `expected` and a fix in the message.
fn rejected_in(dir: &Path, bytes: &[u8], flags: &[&str], expected: &[&str]) {
    let path = scenario_file(dir, bytes);
    let mut args = vec!["validate", path.to_str().unwrap()];
    args.extend(flags);
    let output = surge_within(&args, Duration::from_secs(20));
    let message = console(&output);
    let text = String::from_utf8_lossy(bytes);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{message}\n--- for ---\n{text}"
    );
    for fragment in expected {
        assert!(
            message.contains(fragment),
            "expected `{fragment}` in:\n{message}"
        );
    }
    assert!(message.contains("fix:"), "{message}");
}

/// `surge validate` on `text`: exit 2, naming `expected`.
fn rejected(text: &str, expected: &str) {
    rejected_in(
        tempfile::tempdir().unwrap().path(),
        text.as_bytes(),
        &[],
        &[expected],
    );
}

fn with_phase(phase: &str) -> String {
    BASE.replace("[[phases]]\nrate = \"100/s\"\nduration = \"2s\"", phase)
}

#[test]
fn a_phase_duration_of_u64_max_seconds_is_an_error() {
    rejected(
        &with_phase("[[phases]]\nrate = \"100/s\"\nduration = \"18446744073709551615s\""),
        "phases[0].duration",
    );
}

#[test]
fn a_spike_at_of_u64_max_seconds_is_an_error() {
    rejected(
        &with_phase(
            "[[phases]]\nshape = \"spike\"\nrate = \"100/s\"\nfactor = 2\nspike_at = \"18446744073709551615s\"\nspike_duration = \"1s\"\nduration = \"10s\"",
        ),
        "phases[0].spike_at",
    );
}

#[test]
fn a_replay_row_far_in_the_future_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("curve.csv"), "0,100\n1e30,200\n").unwrap();
    let text = with_phase("[[phases]]\nshape = \"replay\"\ncsv = \"curve.csv\"");
    rejected_in(
        dir.path(),
        text.as_bytes(),
        &[],
        &["phases[0].csv", "curve.csv:2"],
    );
}

#[test]
fn a_rate_of_1e308_is_an_error_naming_the_limit() {
    rejected(
        &with_phase("[[phases]]\nrate = \"1e308/s\"\nduration = \"2s\""),
        "10M/s",
    );
}

#[test]
fn a_send_grace_of_u64_max_seconds_is_an_error() {
    rejected(
        &format!("{BASE}\n[run]\nsend_grace = \"18446744073709551615s\"\n"),
        "run.send_grace",
    );
}

#[test]
fn a_processing_time_longer_than_the_drain_is_an_error() {
    rejected(
        &BASE.replace(
            "topics = [\"orders\"]\n",
            "topics = [\"orders\"]\nprocessing_time = \"999999h\"\n",
        ),
        "consumer_groups[0].processing_time",
    );
}

#[test]
fn a_bare_integer_size_gets_the_size_cap() {
    rejected(
        &BASE.replace(
            "topic = \"orders\"\n",
            "topic = \"orders\"\nsize = 100000000000\n",
        ),
        "events[0].size",
    );
}

#[test]
fn keys_of_another_shape_are_errors() {
    rejected(
        &with_phase("[[phases]]\nrate = \"100/s\"\nfactor = 3\nduration = \"2s\""),
        "phases[0].factor",
    );
    rejected(
        &with_phase(
            "[[phases]]\nshape = \"ramp\"\nfrom = \"1/s\"\nto = \"5/s\"\ncsv = \"x.csv\"\nduration = \"2s\"",
        ),
        "phases[0].csv",
    );
}

#[test]
fn a_step_phase_with_steps_shorter_than_a_millisecond_is_an_error() {
    rejected(
        &with_phase(
            "[[phases]]\nshape = \"step\"\nrates = [\"1/s\", \"2/s\", \"3/s\", \"4/s\", \"5/s\"]\nduration = \"3ms\"",
        ),
        "phases[0].rates",
    );
}

#[test]
fn scales_beyond_a_millionfold_are_refused_by_the_flag_parser() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(dir.path(), BASE.as_bytes());
    for (flag, value) in [
        ("--duration-scale", "1e300"),
        ("--rate-scale", "1e-300"),
        ("--rate-scale", "1e300"),
    ] {
        let output = surge_within(
            &["validate", path.to_str().unwrap(), flag, value],
            Duration::from_secs(20),
        );
        let message = console(&output);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(
            message.contains(flag) && message.contains("from 0.000001 to 1000000"),
            "{message}"
        );
        assert!(
            message.len() < 600,
            "the value is not echoed at length: {message}"
        );
    }
}

#[test]
fn a_file_that_is_not_utf8_gets_the_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = BASE.as_bytes().to_vec();
    bytes.splice(10..10, [0xFF, 0xFE]);
    rejected_in(dir.path(), &bytes, &[], &["byte 10", "UTF-8"]);
}

#[test]
fn failed_sends_fail_a_run_whose_slos_name_neither_failed_nor_gaps() {
    // The fixture run, with sends that failed and the gaps they left.
    let text = std::fs::read_to_string(repo("tests/fixtures/smoke-run/summary.json")).unwrap();
    let mut summary = surge::summary::Summary::from_json(&text).unwrap();
    summary.produced.failed = 4_072;
    summary.groups[0].ordering.gaps = 917;
    let scenario = surge::validate(&repo("scenarios/smoke.toml"), &Default::default()).unwrap();
    assert!(
        !scenario
            .slos
            .iter()
            .any(|s| !s.default && s.to_string().starts_with("failed"))
    );
    let verdict = surge::verdict::judge(&summary, &scenario.slos, &scenario.limits);
    assert_eq!(verdict.status, Status::Fail, "{verdict:#?}");
    for name in ["failed == 0", "gaps == 0"] {
        let check = verdict.checks.iter().find(|c| c.name == name).expect(name);
        assert!(check.default && !check.passed, "{check:#?}");
    }
}

#[test]
fn a_scenario_relaxes_an_integrity_check_only_by_naming_it() {
    let relaxed = format!("{BASE}\n[slo]\nchecks = [\"failed < 10\"]\n");
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(dir.path(), relaxed.as_bytes());
    let scenario = surge::validate(&path, &Default::default()).unwrap();
    let names: Vec<String> = scenario.slos.iter().map(|s| s.to_string()).collect();
    assert!(names.contains(&"failed < 10".to_string()), "{names:?}");
    assert!(!names.contains(&"failed == 0".to_string()), "{names:?}");
    // The other integrity checks stay, as defaults.
    for name in ["lost == 0", "gaps == 0", "ordering_violations == 0"] {
        let slo = scenario
            .slos
            .iter()
            .find(|s| s.to_string() == name)
            .expect(name);
        assert!(slo.default);
    }
}

#[test]
fn report_on_a_run_dir_without_totals_says_which_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo("tests/fixtures/smoke-run")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::remove_file(dir.path().join("totals.hlog")).unwrap();
    let output = surge_within(
        &["report", dir.path().to_str().unwrap()],
        Duration::from_secs(30),
    );
    let message = console(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("totals.hlog is missing"), "{message}");
}

/// The `sent N/s` figure of a progress line, 0 when the line has none.
fn sent_per_second(line: &str) -> u64 {
    line.split_once(" sent ")
        .and_then(|(_, rest)| rest.trim_start().split('/').next())
        .map(|figure| figure.replace(',', ""))
        .and_then(|figure| figure.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sigterm_mid_run_writes_a_partial_summary_and_exits_3() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args([
            "run",
            repo("scenarios/smoke.toml").to_str().unwrap(),
            "--out",
        ])
        .arg(out.path())
        .env_remove("KAFKA_BOOTSTRAP_SERVERS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-run means producing: wait for a progress line that reports sends, however long the
    // join takes on this machine, instead of guessing a sleep.
    let stderr = child.stderr.take().unwrap();
    let (lines, progress) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match progress.recv_timeout(left) {
            Ok(line) if sent_per_second(&line) > 0 => break,
            Ok(line) => seen.push(line),
            Err(_) => {
                child.kill().unwrap();
                panic!("no progress line reported sends within 90 s: {seen:?}");
            }
        }
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_within(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(3), "SIGTERM is an interruption: exit 3");
    let summary = common::written_summary(out.path());
    assert!(!summary.complete);
    assert!(
        summary
            .partial_reason
            .unwrap_or_default()
            .contains("SIGTERM")
    );
    assert!(summary.produced.sent > 0);
    assert!(out.path().join("report.html").metadata().unwrap().len() > 0);
}

#[test]
fn an_output_file_that_cannot_be_written_makes_the_run_exit_2_naming_it() {
    let _machine = exclusive();
    let out = tempfile::tempdir().unwrap();
    // A directory where junit.xml should go: the write fails, as on a full disk.
    std::fs::create_dir(out.path().join("junit.xml")).unwrap();
    let output = surge_within(
        &[
            "run",
            repo("scenarios/smoke.toml").to_str().unwrap(),
            "--rate-scale",
            "0.2",
            "--duration-scale",
            "0.3",
            "--out",
            out.path().to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    let message = console(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("junit.xml"), "{message}");
    // The verdict is still printed, and the other files are written.
    assert!(message.contains("smoke"), "{message}");
    assert!(out.path().join("summary.json").is_file());
}

#[test]
fn a_group_behind_at_the_drain_deadline_is_unread_and_inconclusive_not_lost() {
    let _machine = exclusive();
    // 2,000 events for a group that reads about 200 a second, and a 2 s drain: most of the
    // backlog is still unread when the drain ends. None of it is lost.
    let text = format!(
        "{}processing_time = \"5ms\"\n\n[run]\ndrain_timeout = \"2s\"\n",
        BASE.replace(
            "rate = \"100/s\"\nduration = \"2s\"",
            "rate = \"500/s\"\nduration = \"4s\""
        )
        .replace("name = \"svc\"", "name = \"slow\"")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(dir.path(), text.as_bytes());
    let out = dir.path().join("out");
    let (output, message) = run_within(&path, &["--quiet"], &out);
    assert_eq!(output.status.code(), Some(3), "{message}");
    let summary = common::written_summary(&out);
    let group = &summary.groups[0];
    assert_eq!(group.lost, 0, "{message}");
    assert!(group.unread > 500, "unread {}: {message}", group.unread);
    assert_eq!(
        group.unique + group.unread,
        summary.produced.acked,
        "every acked event is either seen or unread"
    );
    assert_eq!(summary.verdict.status, Status::Inconclusive);
    assert!(
        summary
            .verdict
            .reasons
            .iter()
            .any(|r| r.contains("`slow`") && r.contains("neither seen nor lost")),
        "{:#?}",
        summary.verdict
    );
}

#[test]
fn tls_checks_turned_off_need_the_flag_and_every_report_says_so() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(dir.path(), BASE.as_bytes());
    let off = "ssl.endpoint.identification.algorithm=none";
    // Without the flag: refused, naming the property and the flag.
    rejected_in(
        dir.path(),
        BASE.as_bytes(),
        &["-X", off],
        &[
            "ssl.endpoint.identification.algorithm",
            "--insecure-skip-tls-verify",
        ],
    );
    // With it: the run goes ahead, each property appears once with the value that ran, and
    // every report carries the warning.
    let out = dir.path().join("out");
    let (output, message) = run_within(&path, &["-X", off, "--insecure-skip-tls-verify"], &out);
    assert_eq!(output.status.code(), Some(0), "{message}");
    assert!(
        message.contains("WARNING: TLS verification was OFF"),
        "{message}"
    );
    let summary = common::written_summary(&out);
    assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
    for config in [
        &summary.cluster.producer_config,
        &summary.cluster.consumer_config,
    ] {
        let values: Vec<&str> = config
            .iter()
            .filter(|(k, _)| k == "ssl.endpoint.identification.algorithm")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(values, ["none"], "{config:?}");
        let names: std::collections::BTreeSet<&str> =
            config.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names.len(), config.len(), "a key listed twice: {config:?}");
    }
    for file in ["report.html", "report.md"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(text.contains("TLS verification was OFF"), "{file}");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("TLS verification was OFF"));
}

#[test]
fn asking_the_embedded_broker_for_tls_or_sasl_is_named_at_once_not_a_join_timeout() {
    let dir = tempfile::tempdir().unwrap();
    rejected_in(
        dir.path(),
        BASE.as_bytes(),
        &["-X", "security.protocol=sasl_ssl"],
        &[
            "-X security.protocol",
            "embedded broker speaks plaintext only",
        ],
    );
    rejected_in(
        dir.path(),
        BASE.as_bytes(),
        &["-X", "consumer.security.protocol=SSL"],
        &["-X security.protocol", "`security.protocol=SSL`"],
    );
}

#[test]
fn unread_events_stop_a_pass_but_not_a_fail() {
    let text = std::fs::read_to_string(repo("tests/fixtures/smoke-run/summary.json")).unwrap();
    let mut summary = surge::summary::Summary::from_json(&text).unwrap();
    let scenario = surge::validate(&repo("scenarios/smoke.toml"), &Default::default()).unwrap();
    let judge =
        |s: &surge::summary::Summary| surge::verdict::judge(s, &scenario.slos, &scenario.limits);
    assert_eq!(judge(&summary).status, Status::Pass);
    // A backlog at the drain deadline: a pass can no longer be certified.
    summary.groups[0].unread = 120;
    let verdict = judge(&summary);
    assert_eq!(verdict.status, Status::Inconclusive);
    assert!(verdict.reasons[0].contains("had not read 120 acked events"));
    // A failed SLO is a failure whatever the backlog: more late events only make it worse.
    summary.produced.failed = 3;
    assert_eq!(judge(&summary).status, Status::Fail);
}

#[test]
fn a_secret_written_in_the_scenario_is_an_error_naming_the_key() {
    rejected(
        &format!("[cluster]\nconsumer = {{ \"sasl.password\" = \"x\" }}\n{BASE}"),
        "cluster.consumer.\"sasl.password\"",
    );
}

/// BASE (a 2 s plan, group `svc`) with one `[[faults]]` entry.
fn with_fault(fault: &str) -> String {
    format!("{BASE}\n[[faults]]\n{fault}\n")
}

#[test]
fn bad_faults_are_errors_that_name_the_key_and_the_fix() {
    for (fault, expected) in [
        // After the plan ends.
        ("kind = \"producer_pause\"\nat = \"5s\"", "faults[0].at"),
        (
            "kind = \"producer_pause\"\nat = \"1s\"\nduration = \"5s\"",
            "faults[0].duration",
        ),
        // Far too large to represent.
        (
            "kind = \"producer_pause\"\nat = \"18446744073709551615s\"",
            "faults[0].at",
        ),
        (
            "kind = \"producer_pause\"\nat = \"1s\"\nduration = \"18446744073709551615s\"",
            "faults[0].duration",
        ),
        // An unknown kind, or none.
        (
            "kind = \"meteor\"\nat = \"1s\"",
            "`meteor` is not a fault kind",
        ),
        ("at = \"1s\"", "faults[0].kind"),
        // A broker the embedded cluster does not have (3 by default), or not a number.
        (
            "kind = \"broker_down\"\nbroker = 4\nat = \"1s\"",
            "brokers 1 to 3",
        ),
        (
            "kind = \"broker_down\"\nbroker = \"two\"\nat = \"1s\"",
            "faults[0].broker",
        ),
        // A group that does not exist; a member it does not have; its only member.
        (
            "kind = \"member_crash\"\ngroup = \"nobody\"\nat = \"1s\"",
            "`nobody` is not a consumer group",
        ),
        (
            "kind = \"member_leave\"\ngroup = \"svc\"\nmember = 5\nat = \"1s\"",
            "faults[0].member",
        ),
        (
            "kind = \"member_leave\"\ngroup = \"svc\"\nat = \"1s\"",
            "no member left to consume",
        ),
        // A key of another kind; a duration for a fault that happens once.
        (
            "kind = \"broker_down\"\nbroker = 1\nrtt = \"5ms\"\nat = \"1s\"",
            "`rtt` does not apply",
        ),
        (
            "kind = \"member_join\"\ngroup = \"svc\"\nat = \"1s\"\nduration = \"1s\"",
            "faults[0].duration",
        ),
        // Unknown API or error names; a command with no command or a silly timeout.
        (
            "kind = \"request_errors\"\napi = \"Produce\"\nerror = \"OOPS\"\nat = \"1s\"",
            "faults[0].error",
        ),
        ("kind = \"command\"\nat = \"1s\"", "faults[0].run"),
        (
            "kind = \"command\"\nrun = \"true\"\ntimeout = \"2h\"\nat = \"1s\"",
            "faults[0].timeout",
        ),
        // A name an SLO could not address.
        (
            "name = \"a.b\"\nkind = \"producer_pause\"\nat = \"1s\"",
            "faults[0].name",
        ),
    ] {
        rejected(&with_fault(fault), expected);
    }
}

#[test]
fn slos_on_faults_name_faults_that_exist() {
    rejected(
        &format!(
            "{}\n[slo]\nchecks = [\"fault.nope.recovery < 30s\"]\n",
            with_fault("name = \"pause\"\nkind = \"producer_pause\"\nat = \"1s\"")
        ),
        "which is not in [[faults]]",
    );
    rejected(
        &format!("{BASE}\n[slo]\nchecks = [\"faults.lost == 0\"]\n"),
        "the scenario has none",
    );
}

#[test]
fn the_old_fault_keys_point_to_the_faults_table() {
    rejected(
        &BASE.replace(
            "topics = [\"orders\"]",
            "topics = [\"orders\"]\nmember_leaves_at = \"1s\"",
        ),
        "kind = \"member_leave\"",
    );
    rejected(
        &format!("[cluster]\nembedded_rtt = \"2ms\"\n{BASE}"),
        "kind = \"rtt\"",
    );
}

#[test]
fn broker_faults_on_a_real_cluster_point_to_command_faults() {
    let dir = tempfile::tempdir().unwrap();
    rejected_in(
        dir.path(),
        with_fault("kind = \"broker_down\"\nbroker = 1\nat = \"1s\"").as_bytes(),
        &["--bootstrap", "127.0.0.1:9"],
        &["embedded broker", "kind = \"command\"", "--allow-commands"],
    );
}

#[test]
fn a_scenario_with_commands_runs_nothing_without_allow_commands() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let path = scenario_file(
        dir.path(),
        with_fault(&format!(
            "kind = \"command\"\nat = \"1s\"\nrun = \"touch {}\"",
            marker.display()
        ))
        .as_bytes(),
    );
    let out = dir.path().join("out");
    let (output, message) = run_within(&path, &[], &out);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("--allow-commands") && message.contains("touch"),
        "{message}"
    );
    assert!(!marker.exists(), "the command ran without --allow-commands");
    // `surge validate` lists the commands and does not run them either.
    let listed = surge_within(
        &["validate", path.to_str().unwrap()],
        Duration::from_secs(20),
    );
    assert_eq!(listed.status.code(), Some(0));
    assert!(console(&listed).contains("faults[0].run: touch"));
    assert!(!marker.exists());
}
