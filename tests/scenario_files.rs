//! Every shipped scenario loads; bad scenario files give errors naming file, key and fix.

mod common;

use std::io::Write;

use common::repo;
use surge::scenario::Overrides;

#[test]
fn every_shipped_scenario_validates() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let scenario = surge::validate(&path, &Overrides::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!scenario.phases.is_empty());
            seen += 1;
        }
    }
    assert!(seen >= 4, "found {seen} scenarios");
}

#[test]
fn black_friday_carries_the_adr_topics_and_slos() {
    let scenario =
        surge::validate(&repo("scenarios/black-friday.toml"), &Overrides::default()).unwrap();
    let partitions: Vec<(&str, i32)> = scenario
        .topics
        .iter()
        .map(|t| (t.name.as_str(), t.partitions))
        .collect();
    for expected in [
        ("customer-events", 10),
        ("order-events", 20),
        ("product-events", 10),
        ("payment-events", 15),
        ("inventory-events", 10),
        ("notification-events", 5),
    ] {
        assert!(
            partitions.contains(&expected),
            "{expected:?} in {partitions:?}"
        );
    }
    let slos: Vec<String> = scenario.slos.iter().map(|s| s.to_string()).collect();
    for expected in [
        "e2e.p95 < 100ms",
        "lost == 0",
        "ordering_violations == 0",
        "lag.max < 10000",
    ] {
        assert!(
            slos.contains(&expected.to_string()),
            "{expected} in {slos:?}"
        );
    }
    assert!(scenario.groups.len() >= 2);
    let rates: Vec<f64> = scenario
        .phases
        .iter()
        .map(|p| p.shape.mean_rate())
        .collect();
    assert!(
        rates.contains(&10_000.0) && rates.contains(&100_000.0),
        "{rates:?}"
    );
}

fn error_for(text: &str) -> String {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let error = surge::validate(file.path(), &Overrides::default())
        .unwrap_err()
        .to_string();
    let name = file.path().display().to_string();
    assert!(error.contains(&name), "error names the file: {error}");
    assert!(error.contains("fix:"), "error gives a fix: {error}");
    error
}

const VALID: &str = r#"
[[topics]]
name = "orders"
partitions = 3

[[events]]
name = "OrderCreated"
topic = "orders"

[[phases]]
rate = "1k/s"
duration = "5s"
"#;

#[test]
fn the_minimal_scenario_is_valid() {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(VALID.as_bytes()).unwrap();
    let scenario = surge::validate(file.path(), &Overrides::default()).unwrap();
    assert_eq!(scenario.events[0].size_min, 512);
    assert!(scenario.cluster.bootstrap.is_embedded());
    let producer = &scenario.cluster.producer;
    assert!(producer.contains(&("acks".into(), "all".into())));
    assert!(producer.contains(&("compression.type".into(), "snappy".into())));
}

#[test]
fn an_unknown_key_is_named_with_line_and_column() {
    let error = error_for(&format!(
        "{VALID}\n[[consumer_groups]]\nname = \"g\"\ntopics = [\"orders\"]\nmembrs = 3\n"
    ));
    assert!(error.contains("unknown field `membrs`"), "{error}");
    assert!(error.contains("line 17"), "{error}");
    assert!(error.contains("column 1"), "{error}");
}

#[test]
fn a_bad_rate_names_the_phase_key() {
    let error = error_for(&VALID.replace("\"1k/s\"", "\"lots\""));
    assert!(error.contains("`phases[0].rate`"), "{error}");
    assert!(error.contains("10k/s"), "{error}");
}

#[test]
fn a_missing_topic_reference_names_the_event_key() {
    let error = error_for(&VALID.replace("topic = \"orders\"", "topic = \"ordrs\""));
    assert!(error.contains("`events[0].topic`"), "{error}");
    assert!(
        error.contains("`ordrs` is not one of the [[topics]] (orders)"),
        "{error}"
    );
}

#[test]
fn other_mistakes_are_caught_before_any_load() {
    let cases = [
        (
            VALID.replace("partitions = 3", "partitions = 0"),
            "topics[0].partitions",
        ),
        (
            VALID.replace("duration = \"5s\"", "duration = \"5 parsecs\""),
            "phases[0].duration",
        ),
        (
            format!("{VALID}\n[cluster]\nbootstrap = \"localhost\"\n"),
            "cluster.bootstrap",
        ),
        (
            format!("{VALID}\n[slo]\nchecks = [\"e2e.p95 < 100\"]\n"),
            "slo.checks[0]",
        ),
        (
            format!("{VALID}\n[slo]\nchecks = [\"lost == 0\"]\n"),
            "needs a consumer group",
        ),
        (
            format!("{VALID}\n[cluster.producer]\n\"sasl.password\" = \"hunter2\"\n"),
            "secret",
        ),
        (
            VALID.replace("topic = \"orders\"", "topic = \"orders\"\nsize = \"64B\""),
            "events[0].size",
        ),
        (
            VALID.replace(
                "topic = \"orders\"",
                "topic = \"orders\"\nsize = [\"1KiB\", \"600B\"]",
            ),
            "events[0].size[1]",
        ),
        (
            VALID.replace(
                "topic = \"orders\"",
                "topic = \"orders\"\nsize = [\"1KiB..2KiB\", \"3KiB\"]",
            ),
            "events[0].size[0]",
        ),
        (
            VALID.replace(
                "topic = \"orders\"",
                "topic = \"orders\"\nsize = [\"1KiB\"]",
            ),
            "2 to 101 sizes",
        ),
        (
            VALID.replace(
                "topic = \"orders\"",
                "topic = \"orders\"\nsize = [\"64B\", \"2KiB\"]",
            ),
            "events[0].size",
        ),
        (
            format!("{VALID}\n[run]\nbaseline = \"reports/x\"\nmax_regression = \"ten%\"\n"),
            "run.max_regression",
        ),
        (
            format!("{VALID}\n[run]\nmax_regression = \"10%\"\n"),
            "needs a baseline run",
        ),
        (
            format!("{VALID}\n[run]\nbaseline = \"reports/x\"\nmax_regression = \"0.1\"\n"),
            "with %",
        ),
    ];
    for (text, expected) in cases {
        let error = error_for(&text);
        assert!(
            error.contains(expected),
            "expected `{expected}` in: {error}"
        );
        assert!(!error.contains("hunter2"), "secret leaked: {error}");
    }
}

#[test]
fn a_soak_targets_a_real_cluster_and_a_long_embedded_run_is_warned_about() {
    let soak = surge::validate(&repo("scenarios/soak.toml"), &Overrides::default()).unwrap();
    assert!(!soak.cluster.bootstrap.is_embedded());
    assert_eq!(soak.planned_duration().as_secs(), 61 * 60);
    assert_eq!(soak.groups.len(), 3);
    assert_eq!(soak.embedded_soak_warning(), None);
    // The same hour on the embedded broker is warned about, naming the way out.
    let embedded = Overrides {
        bootstrap: Some("embedded".into()),
        ..Overrides::default()
    };
    let on_mock = surge::validate(&repo("scenarios/soak.toml"), &embedded).unwrap();
    let warning = on_mock
        .embedded_soak_warning()
        .expect("an hour on the mock is warned about");
    assert!(warning.contains("1h 1m"), "{warning}");
    assert!(
        warning.contains("--bootstrap") && warning.contains("local-kafka.sh"),
        "{warning}"
    );
    // Five minutes or less on the embedded broker is not.
    let short = Overrides {
        duration_scale: Some(300.0 / 3660.0),
        ..embedded
    };
    let brief = surge::validate(&repo("scenarios/soak.toml"), &short).unwrap();
    assert!(brief.planned_duration().as_secs() <= 300);
    assert_eq!(brief.embedded_soak_warning(), None);
}

#[test]
fn a_baseline_in_the_file_is_relative_to_the_file_and_a_flag_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    // A baseline must be a run directory: each holds a summary.json.
    for run in [dir.path().join("runs/main"), dir.path().join("other")] {
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("summary.json"), "{}").unwrap();
    }
    std::fs::create_dir_all(&scenarios).unwrap();
    let path = scenarios.join("s.toml");
    std::fs::write(
        &path,
        format!("{VALID}\n[run]\nbaseline = \"../runs/main\"\nmax_regression = \"12.5%\"\n"),
    )
    .unwrap();
    let scenario = surge::validate(&path, &Overrides::default()).unwrap();
    assert_eq!(
        scenario.limits.baseline.as_deref(),
        Some(scenarios.join("../runs/main").as_path())
    );
    assert_eq!(scenario.limits.max_regression, Some(0.125));
    let flags = Overrides {
        baseline: Some(dir.path().join("other")),
        max_regression: Some(0.05),
        ..Overrides::default()
    };
    let scenario = surge::validate(&path, &flags).unwrap();
    assert_eq!(
        scenario.limits.baseline.as_deref(),
        Some(dir.path().join("other").as_path())
    );
    // An empty baseline, and one that is no run directory, are refused.
    for (written, expected) in [("", "empty path"), ("../nothing", "holds no summary.json")] {
        std::fs::write(&path, format!("{VALID}\n[run]\nbaseline = \"{written}\"\n")).unwrap();
        let error = surge::validate(&path, &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(expected) && error.contains("run.baseline"),
            "{error}"
        );
    }
    assert_eq!(scenario.limits.max_regression, Some(0.05));
}

#[test]
fn consumer_failure_pause_and_replay_mistakes_name_the_key() {
    let group = |extra: &str| {
        format!("{VALID}\n[[consumer_groups]]\nname = \"g\"\ntopics = [\"orders\"]\n{extra}\n")
    };
    let cases = [
        (
            group("failure_rate = 1.5"),
            "consumer_groups[0].failure_rate",
        ),
        (group("failure_rate = -0.1"), "a fraction from 0 to 1"),
        (
            group("failure_rate = 0.6\nnon_retryable_rate = 0.6"),
            "consumer_groups[0].non_retryable_rate",
        ),
        (group("poison_keys = 0"), "consumer_groups[0].poison_keys"),
        (
            group("retry_backoff = [\"1s\"]"),
            "applies to failing events, and the group has none",
        ),
        (
            group("dlt_topic = \"dead\""),
            "consumer_groups[0].dlt_topic",
        ),
        (
            group("failure_rate = 0.01\nretry_backoff = [\"1s\", \"soon\"]"),
            "consumer_groups[0].retry_backoff[1]",
        ),
        (
            group("failure_rate = 0.01\nretry_backoff = [\"2m\"]"),
            "from 0s to 60s",
        ),
        (
            group("failure_rate = 0.01\ndlt_topic = \"orders\""),
            "`orders` is the dead-letter topic of group `g`",
        ),
        (
            format!(
                "{}\n[[consumer_groups]]\nname = \"dlt-reader\"\ntopics = [\"dead-letter-topic\"]\n",
                group("failure_rate = 0.01").replace(
                    "[[events]]",
                    "[[topics]]\nname = \"dead-letter-topic\"\npartitions = 1\n\n[[events]]"
                )
            ),
            "surge reads it back itself",
        ),
        (
            group("starts_after = \"produce\""),
            "add start = \"earliest\"",
        ),
        (
            group("start = \"earliest\"\nstarts_after = \"later\""),
            "consumer_groups[0].starts_after",
        ),
        (
            format!(
                "{}\n[[faults]]\nkind = \"group_pause\"\ngroup = \"g\"\nat = \"1s\"\n",
                group("")
            ),
            "faults[0].duration",
        ),
        (
            format!(
                "{}\n[[faults]]\nkind = \"group_pause\"\nat = \"1s\"\nduration = \"1s\"\n",
                group("")
            ),
            "needs a group",
        ),
        (
            format!(
                "{}\n[[faults]]\nkind = \"group_pause\"\ngroup = \"g\"\nat = \"1s\"\nduration = \"1s\"\n",
                group("start = \"earliest\"\nstarts_after = \"produce\"")
            ),
            "joins late",
        ),
        (
            format!(
                "{}\n[[faults]]\nname = \"a\"\nkind = \"group_pause\"\ngroup = \"g\"\nat = \"1s\"\nduration = \"3s\"\n\n[[faults]]\nname = \"b\"\nkind = \"group_pause\"\ngroup = \"g\"\nat = \"2s\"\nduration = \"1s\"\n",
                group("")
            ),
            "faults[1].at",
        ),
        (group("retry_backoff = \"1s\""), "retry_backoff"),
        (
            group("start = \"earliest\"\nstarts_after = \"9999h\""),
            "not before the plan ends",
        ),
        (
            format!(
                "{}\n[slo]\nchecks = [\"group.h.catchup_time < 5s\"]\n",
                group("")
            ),
            "names group `h`",
        ),
        (
            format!("{}\n[slo]\nchecks = [\"catchup_rate > fast\"]\n", group("")),
            "must be a number",
        ),
    ];
    for (text, expected) in cases {
        let error = error_for(&text);
        assert!(
            error.contains(expected),
            "expected `{expected}` in: {error}"
        );
    }
}

#[test]
fn a_failing_group_gets_the_adr_backoff_a_dead_letter_topic_and_a_dlt_integrity_check() {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(
        format!(
            "{VALID}\n[[consumer_groups]]\nname = \"g\"\ntopics = [\"orders\"]\nfailure_rate = 0.001\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let scenario = surge::validate(file.path(), &Overrides::default()).unwrap();
    let failures = scenario.groups[0].failures.as_ref().unwrap();
    assert_eq!(
        failures.retry_backoff,
        [1, 2, 4].map(std::time::Duration::from_secs)
    );
    let dlt = &scenario.topics[failures.dlt_topic];
    assert_eq!(
        (dlt.name.as_str(), dlt.partitions),
        ("dead-letter-topic", 3)
    );
    assert!(
        scenario
            .notes
            .iter()
            .any(|n| n.contains("dead-letter-topic"))
    );
    let slos: Vec<String> = scenario.slos.iter().map(|s| s.to_string()).collect();
    assert!(slos.contains(&"dlt.lost == 0".to_string()), "{slos:?}");
    // A scenario relaxes it only by naming it.
    let mut relaxed = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    relaxed
        .write_all(
            format!(
                "{VALID}\n[[consumer_groups]]\nname = \"g\"\ntopics = [\"orders\"]\nfailure_rate = 0.001\n\n[slo]\nchecks = [\"dlt.lost <= 5\"]\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let scenario = surge::validate(relaxed.path(), &Overrides::default()).unwrap();
    let dlt_checks: Vec<String> = scenario
        .slos
        .iter()
        .map(|s| s.to_string())
        .filter(|s| s.starts_with("dlt.lost"))
        .collect();
    assert_eq!(dlt_checks, ["dlt.lost <= 5"]);
}
