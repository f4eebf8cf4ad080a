//! `junit.xml`: one suite per run, one test case per SLO check, for CI dashboards.
//!
//! Case names are the figure in words with its metric (`events lost (all groups) [lost]`), not
//! the SLO text, so a changed threshold keeps the test's history in Jenkins or GitLab. Every
//! case carries its measured value, limit and headroom in `system-out` (and the suite as properties), so
//! headroom can be followed over builds; a failure carries them in its body too, which is
//! what GitLab shows. Each generator trust check is a case of its own, and each warning a
//! skipped case (and the suite's `system-err`), so a run with a warning does not look all
//! green. When the run itself cannot be trusted (inconclusive or
//! error), the SLO cases are skipped with that reason and only the trust case fails: the
//! generator's trouble is not blamed on the cluster. A run failed by its integrity checks while
//! the generator's timings were not trusted keeps those cases judged, and skips the rest.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::metric_words::check_words;
use super::{Exporter, Output, ReportError, RunData};
use crate::format::format_number;
use crate::summary::{Check, Status, Summary, TrustCheck};

/// The trust case's name.
pub const TRUST_CASE: &str = "run is complete and the generator kept its schedule";

/// Writes `junit.xml`.
pub struct JunitExporter;

fn slo_case(summary: &Summary, check: &Check) -> TestCase {
    let status = if !summary.verdict.judged(check) {
        let mut skipped = TestCaseStatus::skipped();
        skipped.set_message(format!(
            "not judged: the run is {} ({})",
            summary.verdict.status.as_str(),
            summary.verdict.reasons.join("; ")
        ));
        skipped.set_type(summary.verdict.status.as_str());
        skipped
    } else if check.passed {
        TestCaseStatus::success()
    } else {
        let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
        failure.set_message(format!(
            "limit {}, actual {}",
            check.limit_text, check.actual_text
        ));
        failure.set_type(if check.metric_name().starts_with("baseline.") {
            "regression"
        } else {
            "slo"
        });
        failure.set_description(format!(
            "{} failed: measured {}, limit {}{}.\nscenario {}, run {}, started {}.",
            check.name,
            check.actual_text,
            check.limit_text,
            match check.share_of_limit() {
                Some(share) => format!(" ({:.0}% of the limit)", share * 100.0),
                None => String::new(),
            },
            summary.scenario.name,
            summary.run_id,
            summary.started_at
        ));
        failure
    };
    let metric = check.metric_name();
    let words = check_words(&metric);
    let name = if words == metric {
        metric.clone()
    } else {
        format!("{words} [{metric}]")
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(format!("surge.{}.slo", summary.scenario.name));
    let headroom = headroom(check);
    case.set_system_out(format!(
        "{}: measured {}, limit {}{}",
        check.name,
        check.actual_text,
        check.limit_text,
        headroom
            .as_ref()
            .map_or(String::new(), |h| format!(", headroom {h}"))
    ));
    case
}

/// A check's figures as suite properties (`check.e2e.p95.actual`, `.value`, `.limit`,
/// `.headroom`): the Jenkins schema allows properties on a suite, not on a case.
fn check_properties(suite: &mut TestSuite, check: &Check) {
    let metric = check.metric_name();
    let mut add = |name: &str, value: String| {
        suite.add_property((format!("check.{metric}.{name}").as_str(), value.as_str()));
    };
    add("limit", check.limit_text.clone());
    add("actual", check.actual_text.clone());
    add("unit", check.unit.clone());
    if let Some(value) = check.actual {
        add("value", value.to_string());
    }
    if let Some(headroom) = headroom(check) {
        add("headroom", headroom);
    }
}

/// How far the measured value is from its limit, as a share of the limit: `77%` for 23 ms
/// under a 100 ms limit; `None` without a positive limit or a measured value, and for `==`.
fn headroom(check: &Check) -> Option<String> {
    let share = check.share_of_limit()?;
    let text = &check.name;
    let room = if text.contains('<') {
        1.0 - share
    } else if text.contains('>') {
        share - 1.0
    } else {
        return None;
    };
    Some(format!(
        "{}%",
        format_number((room * 1000.0).round() / 10.0)
    ))
}

/// One case per trust check of the generator; a failed one fails.
fn trust_case(summary: &Summary, trust: &TrustCheck) -> TestCase {
    let status = if trust.passed {
        TestCaseStatus::success()
    } else {
        let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
        failure.set_message(trust.reason.clone());
        failure.set_type("trust");
        failure
    };
    let mut case = TestCase::new(format!("generator trust: {}", trust.name), status);
    case.set_classname(format!("surge.{}.trust", summary.scenario.name));
    case.set_system_out(format!(
        "{}: measured {}, limit {}",
        trust.name, trust.actual_text, trust.limit_text
    ));
    case
}

/// A warning as a skipped case: CI dashboards list it, and it fails nothing.
fn warning_case(summary: &Summary, index: usize, warning: &str) -> TestCase {
    let mut skipped = TestCaseStatus::skipped();
    skipped.set_message(warning.to_string());
    skipped.set_type("warning");
    let mut case = TestCase::new(format!("warning {}", index + 1), skipped);
    case.set_classname(format!("surge.{}.warning", summary.scenario.name));
    case.set_system_err(warning.to_string());
    case
}

impl Exporter for JunitExporter {
    fn name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, ReportError> {
        let summary = &run.summary;
        let trusted = summary.verdict.timings_trusted();
        let mut suite = TestSuite::new(format!("surge.{}", summary.scenario.name));
        if let Ok(started) = chrono::DateTime::parse_from_rfc3339(&summary.started_at) {
            suite.set_timestamp(started);
        }
        let time = Duration::try_from_secs_f64(summary.startup.run_time_s).unwrap_or_default();
        suite.set_time(time);
        for check in &summary.verdict.checks {
            suite.add_test_case(slo_case(summary, check));
            check_properties(&mut suite, check);
        }
        // An untrustworthy run must not look green on a dashboard: this case fails.
        let status = if trusted {
            TestCaseStatus::success()
        } else {
            let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let reasons = summary.verdict.reasons.join("; ");
            failure.set_message(format!("{}: {reasons}", summary.verdict.status.as_str()));
            failure.set_type(summary.verdict.status.as_str());
            failure.set_description(format!(
                "The run is {}, so {} (they are skipped):\n- {}",
                summary.verdict.status.as_str(),
                if summary.verdict.status == Status::Fail {
                    "its SLOs other than the integrity checks were not judged"
                } else {
                    "its SLOs were not judged"
                },
                summary.verdict.reasons.join("\n- ")
            ));
            failure
        };
        let mut case = TestCase::new(TRUST_CASE, status);
        case.set_classname(format!("surge.{}.trust", summary.scenario.name));
        case.set_time(time);
        suite.add_test_case(case);
        for trust in &summary.verdict.trust {
            suite.add_test_case(trust_case(summary, trust));
        }
        for (i, warning) in summary.warnings.iter().enumerate() {
            suite.add_test_case(warning_case(summary, i, warning));
        }
        if !summary.warnings.is_empty() {
            suite.set_system_err(format!("WARNING: {}", summary.warnings.join("\nWARNING: ")));
        }

        suite.add_property(("run_id", summary.run_id.as_str()));
        suite.add_property(("surge_version", summary.surge_version.as_str()));
        for warning in &summary.warnings {
            suite.add_property(("warning", warning.as_str()));
        }
        let mut report = Report::new("surge");
        report.set_time(time);
        report.add_test_suite(suite);
        let xml = report
            .to_string()
            .map_err(|e| ReportError::encode("junit.xml", e))?;
        Ok(vec![Output::text("junit.xml", without_root_skipped(xml))])
    }
}

/// Drops the `skipped` count from the root `<testsuites>` element: the Jenkins xUnit schema
/// (junit-10.xsd) allows it on each `<testsuite>`, which keeps it, but not on the root.
fn without_root_skipped(xml: String) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml;
    };
    let end = xml[start..].find('>').map_or(xml.len(), |e| start + e);
    let root = &xml[start..end];
    let Some(at) = root.find(" skipped=\"") else {
        return xml;
    };
    let value_end = root[at + 10..]
        .find('"')
        .map_or(root.len(), |e| at + 10 + e + 1);
    format!(
        "{}{}{}",
        &xml[..start + at],
        &root[value_end..],
        &xml[end..]
    )
}
