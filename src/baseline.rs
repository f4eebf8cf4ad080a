//! A run against an earlier run of the same scenario: each SLO metric's change, how the two
//! plans differ, and the regression limit (`--max-regression`) that fails a run whose p95 or p99
//! worsened by more than it, even while under its SLO. Pure functions over summaries.

use crate::format::{format_micros, format_number, percent_change};
use crate::scenario::{Metric, Stat};
use crate::summary::{BaselineComparison, BaselineDelta, Check, Status, Summary};
use crate::verdict;

/// Compared in every run, whatever SLOs the scenario sets.
const HEADLINE: [&str; 4] = ["e2e.p95", "e2e.p99", "publish.p95", "publish.p99"];

/// The metrics to compare: the headline latencies, then every SLO's metric.
fn metrics(summary: &Summary) -> Vec<(String, Metric)> {
    let mut names: Vec<String> = HEADLINE.iter().map(|m| m.to_string()).collect();
    for check in &summary.verdict.checks {
        let name = check.metric_name();
        if !names.contains(&name) && !name.starts_with("baseline.") {
            names.push(name);
        }
    }
    names
        .into_iter()
        .filter_map(|name| name.parse::<Metric>().ok().map(|m| (name, m)))
        .collect()
}

/// Whether a regression limit applies to this metric: a p95 or p99 latency.
fn is_tail_latency(metric: &Metric) -> bool {
    let stat = match metric {
        Metric::E2e { stat, .. } | Metric::Publish(stat) => *stat,
        _ => return false,
    };
    matches!(stat, Stat::Percentile(p) if p == 95.0 || p == 99.0)
}

/// One way two runs' plans differ.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanDifference {
    /// In words, naming both sides.
    pub text: String,
    /// Whether the offered load differs (every measured figure is affected), not only the SLOs.
    pub changes_load: bool,
}

/// How the plan of `run` differs from that of `other` (named `other_name` in the text, e.g.
/// "the baseline"); empty when they offered the same load against the same SLOs.
pub fn plan_differences(run: &Summary, other: &Summary, other_name: &str) -> Vec<PlanDifference> {
    let mut differences = Vec::new();
    let mut differ =
        |changes_load: bool, text: String| differences.push(PlanDifference { text, changes_load });
    let (a, b) = (&run.settings, &other.settings);
    if a.rate_scale != b.rate_scale {
        differ(
            true,
            format!(
                "--rate-scale {} here, {} in {other_name}",
                format_number(a.rate_scale),
                format_number(b.rate_scale)
            ),
        );
    }
    if a.duration_scale != b.duration_scale {
        differ(
            true,
            format!(
                "--duration-scale {} here, {} in {other_name}",
                format_number(a.duration_scale),
                format_number(b.duration_scale)
            ),
        );
    }
    if a.properties != b.properties {
        let show = |p: &[(String, String)]| {
            if p.is_empty() {
                "none".to_string()
            } else {
                p.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        differ(
            true,
            format!(
                "-X properties {} here, {} in {other_name}",
                show(&a.properties),
                show(&b.properties)
            ),
        );
    }
    if a.slos != b.slos {
        differ(
            false,
            format!(
                "--slo overrides [{}] here, [{}] in {other_name}",
                a.slos.join(", "),
                b.slos.join(", ")
            ),
        );
    }
    let (target, theirs) = (run.produced.target_rate, other.produced.target_rate);
    if (target - theirs).abs() > 0.01 * target.max(theirs) {
        differ(
            true,
            format!(
                "target rate {}/s here, {}/s in {other_name}",
                format_number(target.round()),
                format_number(theirs.round())
            ),
        );
    }
    let (planned, theirs) = (
        run.scenario.planned_duration_s,
        other.scenario.planned_duration_s,
    );
    if (planned - theirs).abs() > 0.5 {
        differ(
            true,
            format!(
                "planned duration {}s here, {}s in {other_name}",
                format_number(planned),
                format_number(theirs)
            ),
        );
    }
    if run.surge_version != other.surge_version {
        differ(
            true,
            format!(
                "surge {} here, {} in {other_name}",
                run.surge_version, other.surge_version
            ),
        );
    }
    differences
}

/// Each metric in this run and in the baseline.
pub fn compare(
    run: &Summary,
    baseline: &Summary,
    dir: &str,
    max_regression: Option<f64>,
) -> BaselineComparison {
    let deltas = metrics(run)
        .into_iter()
        .filter_map(|(name, metric)| {
            let actual = verdict::actual(run, &metric)?;
            let before = verdict::actual(baseline, &metric)?;
            Some(BaselineDelta {
                metric: name,
                baseline: before,
                actual,
                unit: if metric.is_latency() { "us" } else { "count" }.into(),
                change: (before > 0.0).then(|| actual / before - 1.0),
            })
        })
        .collect();
    BaselineComparison {
        dir: dir.to_string(),
        run_id: baseline.run_id.clone(),
        started_at: baseline.started_at.clone(),
        max_regression,
        deltas,
        plan_differences: plan_differences(run, baseline, "the baseline")
            .into_iter()
            .map(|d| d.text)
            .collect(),
    }
}

/// One check per p95/p99 latency: its change against the baseline within the limit. Named
/// `baseline.<metric>`, so CI histories keep them apart from the SLOs.
pub fn regression_checks(comparison: &BaselineComparison) -> Vec<Check> {
    let Some(max) = comparison.max_regression else {
        return Vec::new();
    };
    comparison
        .deltas
        .iter()
        .filter(|d| {
            d.metric
                .parse::<Metric>()
                .is_ok_and(|m| is_tail_latency(&m))
        })
        .map(|delta| {
            let change = delta.change;
            Check {
                name: format!("{} vs baseline <= {}", delta.metric, percent_change(max)),
                metric: format!("baseline.{}", delta.metric),
                limit: max * 100.0,
                actual: change.map(|c| c * 100.0),
                unit: "percent".into(),
                // A baseline of 0 us cannot regress by a share: judge on the values.
                passed: change.map_or(delta.actual <= delta.baseline, |c| c <= max),
                limit_text: percent_change(max),
                actual_text: format!(
                    "{} ({} against {})",
                    change.map_or("n/a".into(), percent_change),
                    format_micros(delta.actual),
                    format_micros(delta.baseline)
                ),
                default: false,
                integrity: false,
            }
        })
        .collect()
}

/// Puts the comparison into the summary, adds the regression checks to the verdict (a run that
/// passed its SLOs but regressed fails), and warns when the plans differ.
pub fn apply(run: &mut Summary, baseline: &Summary, dir: &str, max_regression: Option<f64>) {
    let comparison = compare(run, baseline, dir, max_regression);
    let checks = regression_checks(&comparison);
    if run.verdict.status == Status::Pass && checks.iter().any(|c| !c.passed) {
        run.verdict.status = Status::Fail;
    }
    run.verdict.checks.extend(checks);
    if !comparison.plan_differences.is_empty() {
        run.warnings.push(format!(
            "the baseline {} offered a different plan ({}): its figures are not like for like",
            comparison.run_id,
            comparison.plan_differences.join("; ")
        ));
    }
    run.baseline = Some(comparison);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::LatencyStats;

    fn summary(p95: u64, p99: u64) -> Summary {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/smoke-run/summary.json"
        ))
        .unwrap();
        let mut s = Summary::from_json(&text).unwrap();
        s.latency.e2e_us = LatencyStats {
            p95,
            p99,
            ..s.latency.e2e_us.clone()
        };
        s
    }

    #[test]
    fn a_p99_worse_by_more_than_the_limit_fails_a_passing_run() {
        let baseline = summary(30_000, 40_000);
        let mut run = summary(31_000, 46_000);
        assert_eq!(run.verdict.status, Status::Pass);
        apply(&mut run, &baseline, "reports/base", Some(0.10));
        assert_eq!(run.verdict.status, Status::Fail);
        let p99 = run
            .verdict
            .checks
            .iter()
            .find(|c| c.metric == "baseline.e2e.p99")
            .unwrap();
        assert!(!p99.passed);
        assert_eq!(p99.actual_text, "+15% (46ms against 40ms)");
        let p95 = run
            .verdict
            .checks
            .iter()
            .find(|c| c.metric == "baseline.e2e.p95")
            .unwrap();
        assert!(p95.passed, "{p95:?}");
        let comparison = run.baseline.as_ref().unwrap();
        let delta = comparison
            .deltas
            .iter()
            .find(|d| d.metric == "e2e.p95")
            .unwrap();
        assert_eq!((delta.baseline, delta.actual), (30_000.0, 31_000.0));
        assert!(comparison.plan_differences.is_empty());
        assert!(run.warnings.is_empty());
    }

    #[test]
    fn without_a_limit_the_changes_are_shown_and_the_verdict_is_kept() {
        let baseline = summary(30_000, 40_000);
        let mut run = summary(60_000, 80_000);
        apply(&mut run, &baseline, "reports/base", None);
        assert_eq!(run.verdict.status, Status::Pass);
        assert!(
            run.verdict
                .checks
                .iter()
                .all(|c| !c.metric.starts_with("baseline."))
        );
        let comparison = run.baseline.unwrap();
        // Every SLO metric of the run has a row, besides the headline latencies.
        for metric in ["e2e.p95", "e2e.p99", "publish.p99", "lost", "lag.max"] {
            assert!(
                comparison.deltas.iter().any(|d| d.metric == metric),
                "{metric}: {:?}",
                comparison.deltas
            );
        }
    }

    #[test]
    fn a_different_offered_plan_is_named_and_warned_about() {
        let baseline = summary(30_000, 40_000);
        let mut run = summary(30_000, 40_000);
        run.settings.rate_scale = 0.5;
        run.produced.target_rate /= 2.0;
        run.settings.properties = vec![("producer.linger.ms".into(), "20".into())];
        apply(&mut run, &baseline, "reports/base", None);
        let differences = &run.baseline.as_ref().unwrap().plan_differences;
        assert_eq!(differences.len(), 3, "{differences:?}");
        assert!(differences[0].contains("--rate-scale 0.5 here, 1 in the baseline"));
        assert!(differences[1].contains("producer.linger.ms=20"));
        assert!(differences[2].contains("target rate"));
        assert!(run.warnings[0].contains("not like for like"));
    }
}
