//! Reports from a fixed run (tests/fixtures/smoke-run, written by a real smoke run):
//! snapshots of the Markdown and JUnit, well-formed SVG and HTML with the expected series,
//! hlog round trips, and `surge report` regenerating everything without a broker.

mod common;

use std::path::Path;

use surge::report::{self, Exporter, RunData};
use surge::summary::{LossCause, LostExample, Status};

fn fixture() -> RunData {
    report::load_run(&common::repo("tests/fixtures/smoke-run")).expect("fixture loads")
}

fn render(exporter: &dyn Exporter, run: &RunData) -> Vec<(String, String)> {
    exporter
        .render(run)
        .unwrap()
        .into_iter()
        .map(|o| (o.name, String::from_utf8(o.bytes).unwrap()))
        .collect()
}

/// The fixture with a group that lost events and failed its SLO.
fn failing_fixture() -> RunData {
    let mut run = fixture();
    let group = &mut run.summary.groups[1];
    group.lost = 2;
    group.ordering.gaps = 1;
    group.loss_causes.skipped_by_group = 1;
    group.loss_causes.truncated = 1;
    group.lost_examples = vec![
        LostExample {
            key: "order-0000000042".into(),
            producer: 0,
            sequence: 7,
            cause: Some(LossCause::SkippedByGroup),
            partition: Some(2),
            offset: Some(1234),
        },
        LostExample {
            key: "order-0000004711".into(),
            producer: 0,
            sequence: 3,
            cause: Some(LossCause::Truncated),
            partition: None,
            offset: None,
        },
    ];
    let check = run
        .summary
        .verdict
        .checks
        .iter_mut()
        .find(|c| c.name == "lost == 0")
        .unwrap();
    check.actual = Some(2.0);
    check.actual_text = "2".into();
    check.passed = false;
    run.summary.verdict.status = Status::Fail;
    run
}

#[test]
fn markdown_report_is_pinned() {
    let files = render(&report::markdown::MarkdownExporter, &fixture());
    assert_eq!(files.len(), 1);
    insta::assert_snapshot!("report_md", files[0].1);
}

#[test]
fn junit_report_is_pinned_and_carries_limit_and_actual_on_failure() {
    let files = render(&report::junit::JunitExporter, &fixture());
    insta::assert_snapshot!("junit_xml_pass", files[0].1);
    let failing = render(&report::junit::JunitExporter, &failing_fixture());
    insta::assert_snapshot!("junit_xml_fail", failing[0].1);
    assert!(failing[0].1.contains("limit 0, actual 2"));
}

/// Validates a JUnit file against the Jenkins xUnit plugin's schema (fetched by
/// scripts/junit-xsd.sh) with xmlschema, a Python XML Schema validator the tests fetch.
fn validate_junit(xml: &str) {
    let script = common::repo("scripts/junit-xsd.sh");
    let fetched = std::process::Command::new(&script)
        .output()
        .expect("scripts/junit-xsd.sh runs");
    assert!(
        fetched.status.success(),
        "the schema could not be fetched: {}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let xsd = String::from_utf8(fetched.stdout)
        .unwrap()
        .trim()
        .to_string();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), xml).unwrap();
    let checked = common::python()
        .args([
            "-c",
            "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])",
            &xsd,
        ])
        .arg(file.path())
        .output()
        .expect("python3 runs xmlschema");
    assert!(
        checked.status.success(),
        "junit.xml does not match {xsd}:\n{}\n{xml}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

fn junit_doc_cases(xml: &str) -> Vec<(String, Option<String>, String)> {
    let doc = parse(xml);
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|case| {
            let outcome = case
                .children()
                .find(|c| ["failure", "skipped", "error"].contains(&c.tag_name().name()));
            (
                case.attribute("name").unwrap().to_string(),
                outcome.map(|o| o.tag_name().name().to_string()),
                outcome
                    .and_then(|o| o.text())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn junit_passes_the_xsd_and_names_cases_by_metric_with_the_reason_in_the_body() {
    let passing = render(&report::junit::JunitExporter, &fixture());
    validate_junit(&passing[0].1);
    let failing = render(&report::junit::JunitExporter, &failing_fixture());
    validate_junit(&failing[0].1);
    let doc = parse(&failing[0].1);
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert!(suite.attribute("timestamp").unwrap().starts_with("20"));
    assert!(suite.attribute("time").unwrap().parse::<f64>().unwrap() > 1.0);
    let cases = junit_doc_cases(&failing[0].1);
    // Names carry the figure in words and its metric, not the limit: a changed limit keeps
    // the history.
    let lost = cases
        .iter()
        .find(|c| c.0 == "events lost (all groups) [lost]")
        .expect("a case for lost");
    assert_eq!(lost.1.as_deref(), Some("failure"));
    assert!(
        lost.2.contains("lost == 0 failed: measured 2, limit 0"),
        "{lost:?}"
    );
    assert!(
        cases
            .iter()
            .all(|c| !c.0.contains('<') && !c.0.contains("=="))
    );
    let mut relaxed = failing_fixture();
    relaxed.summary.verdict.checks[0].limit = 250_000.0;
    relaxed.summary.verdict.checks[0].name = "e2e.p95 < 250ms".into();
    let names = |run: &RunData| {
        junit_doc_cases(&render(&report::junit::JunitExporter, run)[0].1)
            .into_iter()
            .map(|c| c.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&relaxed), names(&failing_fixture()));
}

#[test]
fn an_inconclusive_run_skips_its_slo_cases_and_fails_only_the_trust_case() {
    let mut run = failing_fixture();
    run.summary.verdict.status = Status::Inconclusive;
    run.summary.verdict.reasons =
        vec!["the load generator fell behind its schedule: schedule lag p99 2.1s".into()];
    let xml = &render(&report::junit::JunitExporter, &run)[0].1;
    validate_junit(xml);
    let cases = junit_doc_cases(xml);
    let (trust, slos): (Vec<_>, Vec<_>) =
        cases.iter().partition(|c| c.0 == report::junit::TRUST_CASE);
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0].1.as_deref(), Some("failure"));
    assert!(trust[0].2.contains("fell behind its schedule"), "{trust:?}");
    assert!(!slos.is_empty());
    for case in &slos {
        assert_eq!(case.1.as_deref(), Some("skipped"), "{case:?}");
    }
    assert!(!xml.contains("type=\"slo\""), "{xml}");
}

#[test]
fn a_run_that_lost_events_while_its_generator_lagged_fails_on_integrity_and_skips_latency() {
    // Judged by the real verdict, not set by hand: the fixture's group lost 2 events and the
    // generator fell 2.1 s behind its schedule.
    let mut run = failing_fixture();
    run.summary.latency.schedule_lag_us.p99 = 2_100_000;
    let slos: Vec<surge::scenario::Slo> = run
        .summary
        .verdict
        .checks
        .iter()
        .map(|c| c.name.parse().unwrap())
        .collect();
    // The default limits (a 50 ms schedule-lag bound), as the fixture's scenario resolves them.
    let scenario = surge::scenario::load(
        &common::repo("scenarios/smoke.toml"),
        &surge::scenario::Overrides::default(),
    )
    .unwrap();
    run.summary.verdict = surge::verdict::judge(&run.summary, &slos, &scenario.limits);
    assert_eq!(run.summary.verdict.status, Status::Fail);
    let xml = &render(&report::junit::JunitExporter, &run)[0].1;
    validate_junit(xml);
    let cases = junit_doc_cases(xml);
    let outcome = |name: &str| {
        cases
            .iter()
            .find(|c| c.0.ends_with(&format!("[{name}]")) || c.0 == name)
            .unwrap_or_else(|| panic!("a case named {name} in {xml}"))
    };
    assert_eq!(outcome("lost").1.as_deref(), Some("failure"));
    assert_eq!(outcome("ordering_violations").1, None, "judged and passed");
    assert_eq!(outcome("e2e.p95").1.as_deref(), Some("skipped"));
    let trust = outcome(report::junit::TRUST_CASE);
    assert_eq!(trust.1.as_deref(), Some("failure"));
    assert!(
        trust.2.contains("other than the integrity checks"),
        "{trust:?}"
    );
    let headline = report::lines::headline(&run.summary);
    assert!(
        headline.starts_with("FAIL")
            && headline.contains("lost == 0")
            && headline.contains("fell behind its schedule"),
        "{headline}"
    );
    let md = &render(&report::markdown::MarkdownExporter, &run)[0].1;
    assert!(md.contains("not judged"), "{md}");
    // The page shows it too, neither green nor red; the lost check stays red.
    let html = render(&report::html::HtmlExporter, &run)
        .into_iter()
        .find(|(name, _)| name == "report.html")
        .unwrap()
        .1;
    assert!(html.contains("<td>not judged</td>"), "{html}");
    assert!(html.contains("<td class=\"bad\">FAIL</td>"), "{html}");
}

fn parse(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not well-formed: {e}"))
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

#[test]
fn every_chart_is_well_formed_svg_with_its_series_and_labels() {
    let run = fixture();
    let charts = report::svg::render_charts(&run).unwrap();
    assert_eq!(charts.len(), 9);
    let expect: [(&str, &[&str]); 9] = [
        (
            "e2e-latency.svg",
            &[
                "latency (ms)",
                "seconds since the plan started",
                "order-service p95",
                "analytics p99",
                "SLO e2e.p95 < 100ms",
                "steady",
            ],
        ),
        (
            "throughput.svg",
            &[
                "events per second",
                "target",
                "produced",
                "consumed by order-service",
                "consumed by analytics (71%",
                "expected for analytics",
            ],
        ),
        (
            // The fixture predates byte counts: its lines lie at zero, but are drawn.
            "throughput-bytes.svg",
            &[
                "MB per second",
                "acked by the brokers",
                "consumed by order-service",
            ],
        ),
        (
            "latency-distribution.svg",
            &[
                "p50",
                "p99",
                "p99.9",
                "e2e order-service",
                "publish",
                "SLO e2e.p95 < 100ms",
            ],
        ),
        (
            "consumer-lag.svg",
            &[
                "events behind",
                "order-service (at most 40)",
                "analytics (at most 30)",
                "SLO lag.max < 10000",
            ],
        ),
        (
            "ordering-loss.svg",
            &["lost", "duplicates", "out of order", "gaps", "clean"],
        ),
        (
            "generator.svg",
            &[
                "CPU (% of the host's 2 cores)",
                "saturated: the run is inconclusive above",
            ],
        ),
        (
            "schedule-lag.svg",
            &["schedule lag p99 (ms)", "schedule lag p99"],
        ),
        // The fixture predates the broker view: an empty frame.
        ("brokers.svg", &["seconds since the plan started"]),
    ];
    for ((file, _, svg), (expected_file, labels)) in charts.iter().zip(expect) {
        assert_eq!(*file, expected_file);
        let doc = parse(svg);
        assert!(doc.root_element().has_tag_name("svg"), "{file}");
        let found = texts(&doc);
        for label in labels {
            assert!(
                found.iter().any(|t| t == label),
                "{file}: no `{label}` in {found:?}"
            );
        }
        let lines = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline") || n.has_tag_name("path"))
            .count();
        assert!(
            lines > 0 || *file == "ordering-loss.svg",
            "{file} draws no series"
        );
    }
}

/// The largest number among a chart's axis labels matching `keep`.
fn tick_values(doc: &roxmltree::Document, keep: impl Fn(&str) -> bool) -> Vec<f64> {
    texts(doc)
        .iter()
        .filter(|t| keep(t))
        .filter_map(|t| t.trim_end_matches('%').replace(',', "").parse::<f64>().ok())
        .collect()
}

#[test]
fn charts_fit_their_data_name_far_slos_off_scale_and_say_which_run_they_show() {
    let mut run = fixture();
    // A limit far above the data: named off scale, not drawn, and the axis still fits the data.
    for check in &mut run.summary.verdict.checks {
        if check.name == "e2e.p95 < 100ms" {
            check.name = "e2e.p95 < 2s".into();
            check.limit = 2_000_000.0;
        }
    }
    // A CPU reading above 100% (sampling jitter) is drawn at 100%.
    for point in &mut run.summary.timeline {
        point.generator_cpu = Some(140.0);
    }
    let charts = report::svg::render_charts(&run).unwrap();
    for (file, _, svg) in &charts {
        let doc = parse(svg);
        let root = doc.root_element();
        let svg_title = root
            .children()
            .find(|n| n.has_tag_name("title"))
            .and_then(|n| n.text())
            .unwrap_or_else(|| panic!("{file} has no <title>"));
        assert!(
            svg_title.contains(" — surge · smoke · run "),
            "{file}: {svg_title}"
        );
        assert!(
            svg_title.contains(&run.summary.run_id),
            "{file}: {svg_title}"
        );
        assert!(svg_title.contains("smoke"), "{file}: {svg_title}");
        let desc = root
            .children()
            .find(|n| n.has_tag_name("desc"))
            .and_then(|n| n.text())
            .unwrap_or_else(|| panic!("{file} has no <desc>"));
        assert!(desc.contains("2026-11-27T13:12"), "{file}: {desc}");
    }
    let e2e = parse(&charts[0].2);
    let labels = texts(&e2e);
    // Legend labels wrap over lines: read them as one text.
    assert!(
        labels
            .join(" ")
            .contains("SLO e2e.p95 < 2s (off scale: at 2s)"),
        "{labels:?}"
    );
    let peak_ms = run.summary.latency.e2e_us.max as f64 / 1000.0;
    let top = tick_values(&e2e, |t| {
        t.contains('.') || t.chars().all(|c| c.is_ascii_digit())
    })
    .into_iter()
    .fold(0.0, f64::max);
    assert!(
        top < peak_ms * 3.0,
        "the y axis reaches {top} ms for data up to {peak_ms} ms"
    );
    let generator = parse(&charts[6].2);
    let percents = tick_values(&generator, |t| t.ends_with('%'));
    assert_eq!(
        percents.iter().copied().fold(0.0, f64::max),
        100.0,
        "{percents:?}"
    );
    // 30k-odd samples support p99.9 (30 above it) but not p99.99 (3 above it).
    let distribution = texts(&parse(&charts[3].2));
    assert!(
        distribution.iter().any(|t| t == "p99.9"),
        "{distribution:?}"
    );
    assert!(
        !distribution.iter().any(|t| t == "p99.99"),
        "{distribution:?}"
    );
}

#[test]
fn the_loss_chart_shows_counts_and_lost_keys_when_not_clean() {
    let charts = report::svg::render_charts(&failing_fixture()).unwrap();
    let doc = parse(&charts[5].2);
    let found = texts(&doc);
    assert!(found.iter().any(|t| t == "NOT CLEAN"), "{found:?}");
    assert!(
        found.iter().any(|t| t.contains("order-0000000042#7")),
        "{found:?}"
    );
    assert!(found.iter().any(|t| t == "2"), "{found:?}");
}

#[test]
fn every_report_names_why_each_lost_event_was_lost() {
    let run = failing_fixture();
    let markdown = &render(&report::markdown::MarkdownExporter, &run)[0].1;
    let html = &render(&report::html::HtmlExporter, &run)[0].1;
    let console = report::console::render(&run.summary);
    for text in [markdown, html, &console] {
        assert!(
            text.contains("1 skipped_by_group (the log holds it")
                && text.contains("1 truncated (the log was truncated"),
            "{text}"
        );
        assert!(
            text.contains(
                "order-0000000042#7 (producer 0, skipped_by_group, in the log at [2]@1234)"
            ),
            "{text}"
        );
    }
}

#[test]
fn the_html_report_is_self_contained_and_matches_the_summary() {
    let run = fixture();
    let files = render(&report::html::HtmlExporter, &run);
    let html = &files[0].1;
    let doc = parse(html.trim_start_matches("<!DOCTYPE html>\n"));
    // The inline SVGs name their XML namespaces; nothing else may point at the network.
    for scheme in ["http://", "https://"] {
        for (at, _) in html.match_indices(scheme) {
            let before = &html[..at];
            assert!(
                before.ends_with("xmlns=\"") || before.ends_with("xmlns:xlink=\""),
                "a network address in the page: {}",
                &html[at.saturating_sub(40)..(at + 60).min(html.len())]
            );
        }
    }
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("src=\"http"), "no network fetches");
    assert!(!html.contains("href=\"http"), "no network fetches");
    let verdict = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("verdict pass"))
        .expect("verdict line");
    assert_eq!(verdict.text().unwrap(), "PASS: smoke — all 7 SLOs met");
    let context = verdict
        .children()
        .find(|n| n.attribute("class") == Some("context"))
        .and_then(|n| n.text())
        .unwrap();
    assert_eq!(
        context,
        "3,000/s offered for 15s after 3s of warmup, on the embedded cluster (3 brokers)"
    );
    let figures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("figure"))
        .collect();
    // The ordering and loss chart stays a file: its facts are in one table on the page.
    assert_eq!(figures.len(), 8);
    assert!(
        figures
            .iter()
            .all(|f| f.children().any(|c| c.has_tag_name("svg")))
    );
    let cells: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("td"))
        .filter_map(|n| n.text())
        .map(String::from)
        .collect();
    let p95 = surge::format::format_micros(surge::format::significant(
        run.summary.latency.e2e_us.p95 as f64,
    ));
    assert!(
        cells.contains(&p95),
        "e2e p95 {p95} from summary.json is in the tables"
    );
    assert!(cells.contains(&"48,000".to_string()));
    assert!(cells.contains(&run.summary.environment.librdkafka_version));
    assert!(
        html.contains("[[consumer_groups]]"),
        "the scenario as run is included"
    );
}

#[test]
fn interval_logs_round_trip_with_the_same_percentiles() {
    let run = fixture();
    let dir = tempfile::tempdir().unwrap();
    for output in report::hlog::HlogExporter.render(&run).unwrap() {
        std::fs::write(dir.path().join(&output.name), output.bytes).unwrap();
    }
    let read = report::hlog::read(dir.path(), run.summary.startup.run_time_s).unwrap();
    assert_eq!(read.intervals.len(), run.histograms.intervals.len());
    for (tag, original) in &run.histograms.totals {
        let back = read.total(tag).unwrap_or_else(|| panic!("{tag} read back"));
        for q in [0.5, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(
                back.value_at_quantile(q),
                original.value_at_quantile(q),
                "{tag} q{q}"
            );
        }
        assert_eq!(back.len(), original.len());
    }
    for (a, b) in read.intervals.iter().zip(run.histograms.intervals.iter()) {
        assert_eq!((a.tag, a.start_s), (b.tag, b.start_s));
        assert_eq!(
            a.histogram().value_at_quantile(0.99),
            b.histogram().value_at_quantile(0.99)
        );
    }
    // The cumulative e2e histograms agree with the summary's percentiles.
    let group = &run.summary.groups[0];
    let total = read.total(&format!("e2e.{}", group.name)).unwrap();
    assert_eq!(total.value_at_quantile(0.95), group.e2e_latency_us.p95);
}

#[test]
fn surge_report_regenerates_every_file_without_a_broker() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_fixture(dir.path());
    let failures = surge::regenerate(dir.path()).unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    for file in [
        "report.html",
        "report.md",
        "junit.xml",
        "summary.json",
        "e2e-latency.svg",
        "throughput.svg",
        "latency-distribution.svg",
        "consumer-lag.svg",
        "ordering-loss.svg",
        "totals.hlog",
        "publish.hlog",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} written");
    }
    let again = report::load_run(dir.path()).unwrap();
    assert_eq!(again.summary, fixture().summary);
}

#[test]
fn one_failing_export_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_fixture(dir.path());
    std::fs::create_dir(dir.path().join("report.md")).unwrap();
    let failures = surge::regenerate(dir.path()).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].0.ends_with("report.md"));
    assert!(dir.path().join("report.html").is_file());
    assert!(dir.path().join("junit.xml").is_file());
}

#[test]
fn a_missing_run_dir_is_a_clear_error() {
    let error = surge::regenerate(Path::new("/no/such/run"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("/no/such/run") && error.contains("fix:"),
        "{error}"
    );
}

#[test]
fn a_run_stopped_before_any_sample_still_writes_every_log_and_re_renders() {
    // As a run stopped during the group join leaves it: groups, but no interval sample.
    let mut run = fixture();
    run.histograms.intervals.clear();
    let dir = tempfile::tempdir().unwrap();
    let failures = report::write_all(dir.path(), &run);
    assert!(failures.is_empty(), "{failures:?}");
    for group in &run.summary.groups {
        let name = format!("e2e-{}.hlog", group.name);
        assert!(dir.path().join(&name).is_file(), "{name} written");
    }
    // The run dir is whole, so it loads back; a deleted log is named, not drawn around.
    let loaded = report::load_run(dir.path()).expect("an empty run dir loads back");
    assert_eq!(loaded.summary.groups.len(), run.summary.groups.len());
    std::fs::remove_file(dir.path().join("publish.hlog")).unwrap();
    let error = report::load_run(dir.path()).unwrap_err().to_string();
    assert!(error.contains("publish.hlog is missing"), "{error}");
}

/// The page's text in document order, tags dropped.
fn page_text(doc: &roxmltree::Document) -> String {
    doc.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_page_holds_at_any_width_states_each_fact_once_and_links_its_raw_files() {
    let run = fixture();
    let html = &render(&report::html::HtmlExporter, &run)[0].1;
    let doc = parse(html.trim_start_matches("<!DOCTYPE html>\n"));
    assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width"));
    assert!(html.contains("@media print") && html.contains("@media (max-width:900px)"));
    let headings: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("h2"))
        .filter_map(|n| n.text())
        .collect();
    for once in [
        "SLOs",
        "Consumer groups",
        "Ordering and loss",
        "Producers",
        "Raw files",
    ] {
        assert_eq!(
            headings.iter().filter(|h| **h == once).count(),
            1,
            "{once}: {headings:?}"
        );
    }
    // Ordering and loss: the table only, not the list and the chart as well.
    assert!(!html.contains("clean: 0 lost"));
    assert!(!html.contains("Ordering and loss per consumer group"));
    // Every link points at a file the run wrote.
    let dir = common::repo("tests/fixtures/smoke-run");
    let links: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("a"))
        .filter_map(|n| n.attribute("href"))
        .collect();
    for expected in [
        "summary.json",
        "junit.xml",
        "report.md",
        "e2e-order-service.hlog",
    ] {
        assert!(links.contains(&expected), "{expected}: {links:?}");
    }
    // The fixture predates ledger.json; tests/phases.rs checks every link of a fresh run.
    for link in links
        .iter()
        .filter(|l| l.ends_with(".hlog") || l.ends_with(".json"))
        .filter(|l| **l != "ledger.json")
    {
        assert!(dir.join(link).is_file(), "{link} is not in the run dir");
    }
    let text = page_text(&doc);
    // Headroom, expected against consumed, the version and the scenario in words.
    assert!(text.contains("33%"), "e2e.p95 33.4ms of 100ms");
    assert!(text.contains("reads order-events"), "{text}");
    assert!(text.contains("34,228"));
    assert!(text.contains("git commit"));
    assert!(text.contains("Scenario smoke sends events to 2 topics"));
}

#[test]
fn a_capacity_run_answers_first_with_its_conclusion_probes_and_chart() {
    let mut run = fixture();
    run.summary.capacity = Some(surge::summary::Capacity {
        probes: common::probes(&[
            (1000.0, 20_000, Status::Pass),
            (4000.0, 300_000, Status::Fail),
        ]),
        sustained_rate: Some(1000.0),
        target_peak: 3000.0,
        headroom_percent: Some(-66.7),
        generator_limit: None,
        p95_limit_us: Some(100_000),
        elapsed_s: 60.0,
        budget_s: 600.0,
        conclusion: "sustains 1,000 events/s at e2e p95 < 100ms: 66.7% short of the 3,000/s peak"
            .into(),
        sustain: None,
        broker_type: None,
        stopped: false,
    });
    let html = &render(&report::html::HtmlExporter, &run)[0].1;
    let verdict = html.find("class=\"verdict pass\"").unwrap();
    let capacity = html.find("<h2>Capacity</h2>").expect("a capacity section");
    let probe = html
        .find("<h2>The probe at 3,000/s</h2>")
        .expect("the probe's heading");
    let slos = html.find("<h2>SLOs</h2>").unwrap();
    assert!(
        verdict < capacity && capacity < probe && probe < slos,
        "the capacity answer comes first"
    );
    // The verdict line is the capacity answer, not the one probe's SLO count.
    let line = &html[verdict..capacity];
    assert!(line.contains("sustains 1,000 events/s"), "{line}");
    assert!(line.contains("2 probes from 1,000/s to 4,000/s"), "{line}");
    assert!(!line.contains("SLOs met"), "{line}");
    let section = &html[capacity..probe];
    assert!(section.contains("<figure") && section.contains("knee: sustains 1,000 events/s"));
    assert!(section.contains("<td>4,000</td>"), "the probe table");
}

#[test]
fn a_run_with_a_baseline_shows_each_slo_metrics_change() {
    let baseline = fixture().summary;
    let mut run = fixture();
    run.summary.latency.e2e_us.p95 = baseline.latency.e2e_us.p95 * 12 / 10;
    for check in &mut run.summary.verdict.checks {
        if check.metric_name() == "e2e.p95" {
            check.actual = Some(run.summary.latency.e2e_us.p95 as f64);
        }
    }
    surge::baseline::apply(&mut run.summary, &baseline, "reports/before", Some(0.1));
    assert_eq!(run.summary.verdict.status, Status::Fail);
    let md = &render(&report::markdown::MarkdownExporter, &run)[0].1;
    let row = md
        .lines()
        .find(|l| l.starts_with("| e2e.p95 < 100ms"))
        .unwrap();
    assert!(row.contains("+20%") && row.contains("33.4ms"), "{row}");
    assert!(md.contains("Against baseline run c3d21e2b (reports/before"));
    assert!(md.contains("same offered plan"));
    let regression = md
        .lines()
        .find(|l| l.starts_with("| e2e.p95 vs baseline"))
        .unwrap();
    assert!(regression.contains("FAIL"), "{regression}");
    let html = &render(&report::html::HtmlExporter, &run)[0].1;
    assert!(html.contains("<th>change</th>"));
    let junit = &render(&report::junit::JunitExporter, &run)[0].1;
    validate_junit(junit);
    assert!(junit.contains(
        "name=\"regression of end-to-end latency p95 (all groups) against the baseline [baseline.e2e.p95]\""
    ));
    assert!(junit.contains("type=\"regression\""));
}

/// Broker 2's round trip rises alone for two seconds: the broker chart draws each broker's
/// round trip and queue wait, and the broker round-trip SLO as a line.
#[test]
fn the_broker_chart_draws_each_broker_s_round_trip_and_queue_wait() {
    use surge::summary::{BrokerSecond, BrokerSummary};
    let mut run = fixture();
    let second = |t: f64, rtt_ms: u32| BrokerSecond {
        t,
        rtt_p99_us: Some(rtt_ms * 1_000),
        rtt_count: 10,
        answered: 10,
        requests: 10,
        queue_p99_us: Some(rtt_ms * 100),
        ..BrokerSecond::default()
    };
    run.summary.brokers = [(1, [4, 4, 5, 4]), (2, [4, 900, 1_200, 5])]
        .into_iter()
        .map(|(node, rtts)| {
            let seconds = (rtts.iter().enumerate())
                .map(|(i, &ms)| second(i as f64 + 1.0, ms))
                .collect();
            BrokerSummary::from_seconds(node, seconds, &[])
        })
        .collect();
    run.summary.verdict.checks.push(surge::summary::Check {
        name: "broker.rtt.p99 < 500ms".into(),
        ..run.summary.verdict.checks[0].clone()
    });
    let charts = report::svg::render_charts(&run).unwrap();
    let (_, title, svg) = charts
        .iter()
        .find(|(file, _, _)| *file == "brokers.svg")
        .expect("a broker chart");
    assert_eq!(*title, "Brokers, as the clients saw them");
    let found = texts(&parse(svg));
    for label in [
        "broker 1 RTT p99",
        "broker 2 RTT p99",
        "broker 1 queue wait p99",
        "broker 2 queue wait p99",
    ] {
        assert!(
            found.iter().any(|t| t == label),
            "no `{label}` in {found:?}"
        );
    }
    // 0.4 ms to 1.2 s: more than 20 times, so the axis is logarithmic.
    assert!(
        found.iter().any(|t| t == "latency (ms), logarithmic"),
        "{found:?}"
    );
    // The limit sits within reach of broker 2's 1.2 s seconds: drawn and labelled.
    assert!(
        found.iter().any(|t| t == "SLO broker.rtt.p99 < 500ms"),
        "{found:?}"
    );
}
