//! `junit.xml`: one suite per run, one test case per SLO check, for CI dashboards.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Exporter, Output, RunData};
use crate::summary::Status;

/// Writes `junit.xml`.
pub struct JunitExporter;

impl Exporter for JunitExporter {
    fn name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, String> {
        let summary = &run.summary;
        let mut suite = TestSuite::new(format!("surge.{}", summary.scenario.name));
        for check in &summary.verdict.checks {
            let status = if check.passed {
                TestCaseStatus::success()
            } else {
                let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
                failure.set_message(format!(
                    "{}: limit {}, actual {}",
                    check.name, check.limit_text, check.actual_text
                ));
                failure.set_type("slo");
                failure
            };
            let mut case = TestCase::new(check.name.clone(), status);
            case.set_classname(format!("surge.{}.slo", summary.scenario.name));
            suite.add_test_case(case);
        }
        // An untrustworthy run must not look green on a dashboard.
        let trusted = !matches!(summary.verdict.status, Status::Inconclusive | Status::Error);
        let status = if trusted {
            TestCaseStatus::success()
        } else {
            let mut failure = TestCaseStatus::non_success(NonSuccessKind::Error);
            failure.set_message(format!(
                "{}: {}",
                summary.verdict.status.as_str(),
                summary.verdict.reasons.join("; ")
            ));
            failure.set_type(summary.verdict.status.as_str());
            failure
        };
        let mut case = TestCase::new(
            "run is complete and the generator kept its schedule",
            status,
        );
        case.set_classname(format!("surge.{}.trust", summary.scenario.name));
        suite.add_test_case(case);

        for warning in &summary.warnings {
            suite.add_property(("warning", warning.as_str()));
        }
        let mut report = Report::new("surge");
        report.add_test_suite(suite);
        let xml = report.to_string().map_err(|e| e.to_string())?;
        Ok(vec![Output::text("junit.xml", xml)])
    }
}
