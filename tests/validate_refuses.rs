//! `surge validate` refuses what cannot be judged or run, and the TLS and secret guards cannot
//! be walked around: each case is a scenario or a flag that validation once accepted, and
//! that then failed after the whole load, crashed, or quietly ran insecure.

mod common;

use std::time::Duration;

use common::{console, surge_within};
use surge::scenario::Overrides;

const BASE: &str = r#"
[cluster]
bootstrap = "127.0.0.1:9092"

[[topics]]
name = "orders"
partitions = 2

[[events]]
name = "OrderCreated"
topic = "orders"

[[phases]]
name = "steady"
rate = "100/s"
duration = "2s"

[[consumer_groups]]
name = "svc"
topics = ["orders"]
"#;

/// The error `surge::validate` gives for `text` with `overrides`.
fn refused(text: &str, overrides: &Overrides) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    match surge::validate(&path, overrides) {
        Ok(_) => panic!("accepted:\n{text}\nwith {overrides:?}"),
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains("s.toml"), "no file named: {message}");
            assert!(message.contains("fix:"), "no fix: {message}");
            message
        }
    }
}

fn with_slo(slo: &str) -> String {
    format!("{BASE}\n[slo]\nchecks = [\"{slo}\"]\n")
}

fn flags(properties: &[(&str, &str)]) -> Overrides {
    Overrides {
        properties: properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Overrides::default()
    }
}

#[test]
fn slos_that_can_never_pass_are_refused() {
    for slo in [
        "lost == -1",
        "lost == 0.5",
        "rate.achieved_ratio >= 2",
        "e2e.p95 < 0ms",
        "publish.p99 > 2h",
        "e2e.p95 <= 0us",
        "lost > 18446744073709551615",
    ] {
        let error = refused(&with_slo(slo), &Overrides::default());
        assert!(error.contains("can never pass"), "{slo}: {error}");
    }
}

#[test]
fn slos_that_contradict_each_other_are_refused() {
    let text = format!("{BASE}\n[slo]\nchecks = [\"e2e.p95 < 100ms\", \"e2e.p95 > 200ms\"]\n");
    let error = refused(&text, &Overrides::default());
    assert!(error.contains("can never both pass"), "{error}");
    let text = format!("{BASE}\n[slo]\nchecks = [\"lost < 5\", \"lost > 4\"]\n");
    let error = refused(&text, &Overrides::default());
    assert!(error.contains("can never both pass"), "{error}");
    for (a, b) in [
        ("e2e.p99 < 10ms", "e2e.p95 > 20ms"),
        ("e2e.max < 10ms", "e2e.p50 >= 10ms"),
        ("group.svc.lost > 5", "lost < 3"),
    ] {
        let text = format!("{BASE}\n[slo]\nchecks = [\"{a}\", \"{b}\"]\n");
        let error = refused(&text, &Overrides::default());
        assert!(error.contains("can never both pass"), "{a} {b}: {error}");
    }
    // Figures ordered the other way are no contradiction.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let text = format!(
        "{BASE}\n[slo]\nchecks = [\"e2e.p95 < 10ms\", \"e2e.p99 > 20ms\", \"group.svc.lost < 3\", \"lost > 5\"]\n"
    );
    std::fs::write(&path, text).unwrap();
    surge::validate(&path, &Overrides::default()).expect("possible together");
    let checks = vec!["\"lost == 0\""; 501].join(", ");
    let error = refused(
        &format!("{BASE}\n[slo]\nchecks = [{checks}]\n"),
        &Overrides::default(),
    );
    assert!(error.contains("slo.checks[500]"), "{error}");
}

#[test]
fn slos_on_figures_the_scenario_never_produces_are_refused_naming_what_would() {
    for (slo, needs) in [
        ("group.svc.catchup_time < 30s", "group_pause"),
        ("replay.rate > 100", "starts_after"),
        ("recovery.lag < 30s", "lower rate"),
        ("retry_delay.p99 < 1s", "failure_rate"),
        ("group.svc.retried == 0", "failure_rate"),
    ] {
        let error = refused(&with_slo(slo), &Overrides::default());
        assert!(
            error.contains("never produces") && error.contains(needs),
            "{slo}: {error}"
        );
    }
    // With what produces it, the same SLO is accepted.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let text = format!(
        "{}\n[[phases]]\nname = \"calm\"\nrate = \"10/s\"\nduration = \"2s\"\n",
        with_slo("recovery.lag < 30s")
    );
    std::fs::write(&path, text).unwrap();
    surge::validate(&path, &Overrides::default()).expect("a peak then a calm phase recovers");
    // The broker view is the clients' statistics once a second: another interval (0: none)
    // cannot judge it, and the default can.
    for interval in ["0", "5000"] {
        let error = refused(
            &with_slo("broker.rtt.p99 < 100ms"),
            &flags(&[("statistics.interval.ms", interval)]),
        );
        assert!(
            error.contains("never produces") && error.contains("statistics.interval.ms"),
            "{interval}: {error}"
        );
    }
    let path = dir.path().join("b.toml");
    std::fs::write(&path, with_slo("broker.2.unanswered_s == 0")).unwrap();
    surge::validate(&path, &Overrides::default()).expect("the default interval judges brokers");
}

#[test]
fn numbers_that_are_not_finite_or_add_up_to_infinity_are_refused() {
    let zipf = BASE.replace(
        "topic = \"orders\"\n",
        "topic = \"orders\"\ndistribution = \"zipf\"\nzipf_exponent = nan\n",
    );
    let error = refused(&zipf, &Overrides::default());
    assert!(
        error.contains("events[0].zipf_exponent") && error.contains("not finite"),
        "{error}"
    );
    let weights = format!(
        "{}\n[[events]]\nname = \"B\"\ntopic = \"orders\"\nweight = 1e308\n",
        BASE.replace(
            "topic = \"orders\"\n\n[[phases]]",
            "topic = \"orders\"\nweight = 1e308\n\n[[phases]]"
        )
    );
    let error = refused(&weights, &Overrides::default());
    assert!(error.contains("weights add up"), "{error}");
}

#[test]
fn plans_that_send_nothing_or_steps_under_a_millisecond_are_refused() {
    let error = refused(
        &BASE.replace("duration = \"2s\"", "duration = \"1ns\""),
        &Overrides::default(),
    );
    assert!(
        error.contains("phases[0].duration") && error.contains("1ms"),
        "{error}"
    );
    let scaled = Overrides {
        duration_scale: Some(1e-6),
        ..Overrides::default()
    };
    let error = refused(BASE, &scaled);
    assert!(
        error.contains("--duration-scale") && error.contains("1ms"),
        "{error}"
    );
    let starved = Overrides {
        rate_scale: Some(1e-6),
        ..Overrides::default()
    };
    let error = refused(BASE, &starved);
    assert!(error.contains("not one would be sent"), "{error}");
}

#[test]
fn client_properties_librdkafka_refuses_are_refused_at_validation() {
    for (key, value) in [
        ("acks", "constant"),
        ("linger.ms", "abc"),
        ("no.such.thing", "1"),
    ] {
        let error = refused(BASE, &flags(&[(key, value)]));
        assert!(
            error.contains(&format!("-X {key}")) && error.contains("librdkafka"),
            "{error}"
        );
        let written = format!("{BASE}\n[cluster.producer]\n\"{key}\" = \"{value}\"\n");
        let error = refused(&written, &Overrides::default());
        assert!(
            error.contains(&format!("cluster.producer.\"{key}\"")),
            "{error}"
        );
    }
    let error = refused(
        &format!("{BASE}\n[cluster.consumer]\n\"\" = \"1\"\n"),
        &Overrides::default(),
    );
    assert!(error.contains("empty name"), "{error}");
    let error = refused(
        &format!("{BASE}\n[run]\nconnect_timeout = \"0s\"\n"),
        &Overrides::default(),
    );
    assert!(error.contains("run.connect_timeout"), "{error}");
}

#[test]
fn every_spelling_of_false_for_tls_verification_needs_the_flag() {
    // librdkafka reads these as false (and refuses "no" and "off" outright).
    for value in ["f", "F", "false", "0", "FALSE", "False"] {
        let error = refused(
            BASE,
            &flags(&[("enable.ssl.certificate.verification", value)]),
        );
        assert!(error.contains("turns off TLS"), "{value}: {error}");
        let written = format!(
            "{BASE}\n[cluster.producer]\n\"enable.ssl.certificate.verification\" = \"{value}\"\n"
        );
        let error = refused(&written, &Overrides::default());
        assert!(error.contains("turns off TLS"), "{value}: {error}");
    }
    for value in ["no", "off"] {
        let error = refused(
            BASE,
            &flags(&[("enable.ssl.certificate.verification", value)]),
        );
        assert!(error.contains("librdkafka refuses"), "{value}: {error}");
    }
    let error = refused(
        BASE,
        &flags(&[("consumer.ssl.endpoint.identification.algorithm", "NONE")]),
    );
    assert!(error.contains("turns off TLS"), "{error}");
}

#[test]
fn a_flag_cannot_downgrade_the_protocol_auth_chose_without_the_insecure_flag() {
    for (auth, protocol) in [
        ("tls", "PLAINTEXT"),
        ("tls", "sasl_plaintext"),
        ("scram-sha-512", "SASL_PLAINTEXT"),
        ("iam", "ssl"),
    ] {
        let overrides = Overrides {
            auth: Some(auth.into()),
            ..flags(&[("security.protocol", protocol)])
        };
        let error = refused(BASE, &overrides);
        assert!(
            error.contains("contradicts auth"),
            "{auth} {protocol}: {error}"
        );
        // With the flag the run may downgrade, and every report says so.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, BASE).unwrap();
        let insecure = Overrides {
            insecure_skip_tls_verify: true,
            ..overrides
        };
        let scenario = surge::validate(&path, &insecure).unwrap();
        let warning = scenario.cluster.protocol_override.expect("a warning");
        assert!(
            warning.contains(&protocol.to_ascii_lowercase()),
            "{warning}"
        );
    }
    // Nor the SASL mechanism: PLAIN would send the password itself.
    for (auth, key, mechanism) in [
        ("scram-sha-512", "sasl.mechanism", "PLAIN"),
        ("scram-sha-512", "sasl.mechanisms", "SCRAM-SHA-256"),
        ("iam", "producer.sasl.mechanism", "PLAIN"),
    ] {
        let overrides = Overrides {
            auth: Some(auth.into()),
            ..flags(&[(key, mechanism)])
        };
        let error = refused(BASE, &overrides);
        assert!(
            error.contains("contradicts auth"),
            "{auth} {mechanism}: {error}"
        );
    }
    // Saying what auth says is fine.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, BASE).unwrap();
    let same = Overrides {
        auth: Some("tls".into()),
        ..flags(&[("security.protocol", "SSL")])
    };
    surge::validate(&path, &same).unwrap();
}

#[test]
fn long_values_deep_nesting_and_secret_looking_arguments_are_not_echoed() {
    let long = "x".repeat(1 << 20);
    let error = refused(
        &BASE.replace("name = \"svc\"", &format!("name = \"{long}\"")),
        &Overrides::default(),
    );
    assert!(error.len() < 2_000, "{} bytes", error.len());
    let deep = format!(
        "{BASE}\nnested = {}1{}\n",
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    let error = refused(&deep, &Overrides::default());
    assert!(error.contains("line "), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, BASE).unwrap();
    let path = path.to_str().unwrap();
    for args in [
        vec!["validate", path, "-X", "sasl.password hunter2"],
        vec!["validate", path, "-X", "ssl.key.password:hunter2"],
    ] {
        let output = surge_within(&args, Duration::from_secs(20));
        let message = console(&output);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    for (flag, value) in [
        ("--monthly-cost", "NaN"),
        ("--rate-scale", &*"9".repeat(400)),
    ] {
        let output = surge_within(&["validate", path, flag, value], Duration::from_secs(20));
        let message = console(&output);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(message.contains(flag) && message.len() < 800, "{message}");
    }
}

#[test]
fn properties_that_load_code_or_name_brokers_are_refused_and_aliases_are_one_property() {
    for key in [
        "plugin.library.paths",
        "ssl.engine.location",
        "sasl.kerberos.kinit.cmd",
        "bootstrap.servers",
    ] {
        let error = refused(
            BASE,
            &flags(&[(key, "/lib/x86_64-linux-gnu/libbz2.so.1.0")]),
        );
        assert!(
            error.contains("does not pass this property on"),
            "{key}: {error}"
        );
        let written = format!("{BASE}\n[cluster.producer]\n\"{key}\" = \"x\"\n");
        let error = refused(&written, &Overrides::default());
        assert!(
            error.contains("does not pass this property on"),
            "{key}: {error}"
        );
    }
    // Two spellings of one property: the later wins, every time, and only one is kept.
    let overrides = Overrides {
        auth: Some("scram-sha-512".into()),
        ..flags(&[
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.mechanisms", "PLAIN"),
        ])
    };
    for _ in 0..20 {
        let error = refused(BASE, &overrides);
        assert!(
            error.contains("-X sasl.mechanisms") && error.contains("PLAIN"),
            "{error}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, BASE).unwrap();
    let scenario = surge::validate(&path, &flags(&[("request.required.acks", "1")])).unwrap();
    let acks: Vec<_> = scenario
        .cluster
        .producer
        .iter()
        .filter(|(k, _)| k == "acks" || k == "request.required.acks")
        .collect();
    assert_eq!(
        acks,
        [&("request.required.acks".to_string(), "1".to_string())]
    );
}

#[test]
fn group_names_that_would_share_a_log_are_refused() {
    let text = format!(
        "{BASE}\n[[consumer_groups]]\nname = \"a_b\"\ntopics = [\"orders\"]\n[[consumer_groups]]\nname = \"a-b\"\ntopics = [\"orders\"]\n"
    );
    let error = refused(&text, &Overrides::default());
    assert!(
        error.contains("consumer_groups[2].name") && error.contains("one latency log"),
        "{error}"
    );
}

#[test]
fn phase_slos_must_name_one_phase_of_the_plan_and_a_figure_a_phase_has() {
    let missing = refused(
        &with_slo("phase.peek.e2e.p95 < 100ms"),
        &Overrides::default(),
    );
    assert!(
        missing.contains("slo") && missing.contains("phase `peek`") && missing.contains("`steady`"),
        "{missing}"
    );
    let loss = refused(&with_slo("phase.steady.lost == 0"), &Overrides::default());
    assert!(loss.contains("not a figure a phase has"), "{loss}");
    let twice = format!(
        "{BASE}\n[[phases]]\nname = \"burst\"\nrate = \"500/s\"\nduration = \"1s\"\n[[phases]]\nname = \"steady\"\nrate = \"50/s\"\nduration = \"1s\"\n[slo]\nchecks = [\"phase.steady.e2e.p95 < 1s\"]\n"
    );
    let shared = refused(&twice, &Overrides::default());
    assert!(shared.contains("2 phases are called that"), "{shared}");
    let peak = format!("{BASE}\n[slo]\npeak_phase = \"nope\"\n");
    let undeclared = refused(&peak, &Overrides::default());
    assert!(
        undeclared.contains("slo.peak_phase") && undeclared.contains("`steady`"),
        "{undeclared}"
    );
    // A phase SLO measured by consumers needs a group, as the run-wide one does.
    let no_group = BASE.replace(
        "[[consumer_groups]]\nname = \"svc\"\ntopics = [\"orders\"]\n",
        "",
    );
    let lonely = refused(
        &format!("{no_group}\n[slo]\nchecks = [\"phase.steady.e2e.p95 < 1s\"]\n"),
        &Overrides::default(),
    );
    assert!(lonely.contains("needs a consumer group"), "{lonely}");
    // A late group replays on purpose: no e2e to judge, run-wide or in a phase.
    let late = format!(
        "{BASE}\n[[consumer_groups]]\nname = \"late\"\ntopics = [\"orders\"]\nstart = \"earliest\"\nstarts_after = \"produce\"\n[slo]\nchecks = [\"phase.steady.group.late.e2e.p95 < 1s\"]\n"
    );
    let replay = refused(&late, &Overrides::default());
    assert!(replay.contains("replay.rate"), "{replay}");
    // Warmup phases, phases under a second and `:` in a name.
    let warm = BASE.replace(
        "[[phases]]\nname = \"steady\"",
        "[[phases]]\nname = \"warm\"\nrate = \"10/s\"\nduration = \"2s\"\nwarmup = true\n\n[[phases]]\nname = \"steady\"",
    );
    let discarded = refused(
        &format!("{warm}\n[slo]\nchecks = [\"phase.warm.e2e.p95 < 1s\"]\n"),
        &Overrides::default(),
    );
    assert!(discarded.contains("warmup"), "{discarded}");
    let short = BASE.replace("duration = \"2s\"", "duration = \"500ms\"");
    let grain = refused(
        &format!("{short}\n[slo]\nchecks = [\"phase.steady.e2e.p95 < 1s\"]\n"),
        &Overrides::default(),
    );
    assert!(grain.contains("whole seconds"), "{grain}");
    let colon = refused(
        &BASE.replace("name = \"steady\"", "name = \"11:30\""),
        &Overrides::default(),
    );
    assert!(colon.contains("phases[0].name"), "{colon}");
    // A name with dots is read against the plan's names, whole.
    let dotted = BASE.replace("name = \"steady\"", "name = \"x.group.svc\"");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        format!("{dotted}\n[slo]\nchecks = [\"phase.x.group.svc.e2e.p95 < 1s\"]\n"),
    )
    .unwrap();
    let scenario = surge::validate(&path, &Overrides::default()).unwrap();
    let phases: Vec<&str> = scenario
        .slos
        .iter()
        .filter_map(|s| s.metric.phase())
        .collect();
    assert_eq!(phases, ["x.group.svc"]);
    // `peak` names the busiest phase when none is called that, and an existing phase passes.
    for ok in [
        "phase.peak.e2e.p95 < 100ms",
        "phase.steady.rate.mb_per_s > 0",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, with_slo(ok)).unwrap();
        surge::validate(&path, &Overrides::default()).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

/// A group scaled by a fault, with its base plan 60 s long.
fn scaled(faults: &str, group_keys: &str) -> String {
    let base = BASE
        .replace("duration = \"2s\"", "duration = \"60s\"")
        .replace(
            "topics = [\"orders\"]\n",
            &format!("topics = [\"orders\"]\nmembers = 2\n{group_keys}\n"),
        );
    format!("{base}\n{faults}")
}

#[test]
fn scale_group_faults_that_cannot_run_as_written_are_refused() {
    let scale = |keys: &str| {
        format!("[[faults]]\nkind = \"scale_group\"\ngroup = \"svc\"\nat = \"5s\"\n{keys}\n")
    };
    let cases: [(String, &str, &str); 6] = [
        (scale(""), "faults[0].to", "needs the member count"),
        (scale("to = 0"), "faults[0].to", "out of range"),
        (
            scale("to = 2"),
            "faults[0].to",
            "has 2 members by then already",
        ),
        (scale("to = 65"), "faults[0].to", "out of range"),
        (
            scale("to = 6\nstep_every = \"20s\""),
            "faults[0].step_every",
            "after the plan ends",
        ),
        (
            scale("to = 4\nstep_every = \"1ms\""),
            "faults[0].step_every",
            "from 100ms to 1h",
        ),
    ];
    for (faults, key, problem) in &cases {
        let message = refused(&scaled(faults, ""), &Overrides::default());
        assert!(message.contains(key), "{key}: {message}");
        assert!(message.contains(problem), "{problem}: {message}");
    }
    // A late group's members start with its replay, not on a scale's steps.
    let late = scaled(&scale("to = 4"), "starts_after = \"10s\"");
    let message = refused(&late, &Overrides::default());
    assert!(message.contains("joins late"), "{message}");
    // Another change to the group's members while the scale takes its steps (at 5 s and 10 s).
    let crash = "[[faults]]\nkind = \"member_crash\"\ngroup = \"svc\"\nat = \"8s\"\n";
    let message = refused(
        &scaled(
            &format!("{}{crash}", scale("to = 4\nstep_every = \"5s\"")),
            "",
        ),
        &Overrides::default(),
    );
    assert!(
        message.contains("while a scale_group is still taking its steps"),
        "{message}"
    );
    // After its last step, the group may change again.
    let later = crash.replace("8s", "11s");
    let text = scaled(
        &format!("{}{later}", scale("to = 4\nstep_every = \"5s\"")),
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    let scenario = surge::validate(&path, &Overrides::default()).unwrap();
    assert_eq!(
        scenario.member_slots(0),
        4,
        "2 members, 2 joined by the scale"
    );
}

#[test]
fn a_group_protocol_that_contradicts_the_client_properties_is_refused() {
    let consumer = "protocol = \"consumer\"";
    let with_consumer_property = |key: &str| {
        format!(
            "{}\n[cluster.consumer]\n\"{key}\" = \"3000\"\n",
            scaled("", consumer)
        )
    };
    for key in ["session.timeout.ms", "heartbeat.interval.ms"] {
        let message = refused(&with_consumer_property(key), &Overrides::default());
        assert!(
            message.contains(&format!("cluster.consumer.\"{key}\"")),
            "{message}"
        );
        assert!(message.contains("KIP-848"), "{message}");
    }
    let message = refused(
        &scaled("", consumer),
        &flags(&[("consumer.partition.assignment.strategy", "range")]),
    );
    assert!(message.contains("every group at once"), "{message}");
    let message = refused(&scaled("", "assignor = \"sticky\""), &Overrides::default());
    assert!(message.contains("consumer_groups[0].assignor"), "{message}");
    let unknown_group = Overrides {
        group_settings: vec![
            surge::scenario::GroupSetting::parse("group.nope.protocol=consumer").unwrap(),
        ],
        ..Overrides::default()
    };
    let message = refused(&scaled("", ""), &unknown_group);
    assert!(
        message.contains("--set group.nope.protocol") && message.contains("svc"),
        "{message}"
    );
}
