//! `junit.xml`: one suite per run, one test case per SLO check, for CI dashboards.
//!
//! Case names are the metric (`e2e.p95`), not the SLO text, so a changed threshold keeps the
//! test's history in Jenkins or GitLab. A failure carries limit, actual and the reason in its
//! body, which is what GitLab shows. When the run itself cannot be trusted (inconclusive or
//! error), the SLO cases are skipped with that reason and only the trust case fails: the
//! generator's trouble is not blamed on the cluster. A run failed by its integrity checks while
//! the generator's timings were not trusted keeps those cases judged, and skips the rest.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Exporter, Output, ReportError, RunData};
use crate::summary::{Check, Status, Summary};

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
    let mut case = TestCase::new(check.metric_name(), status);
    case.set_classname(format!("surge.{}.slo", summary.scenario.name));
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
