//! SLOs against a summary: pure functions, no I/O.

mod trust;

pub(crate) use trust::finished;

use crate::format::{format_against, format_micros, format_number};
use crate::metrics::LatencyStats;
use crate::scenario::{
    BrokerFigure, Count, FailureFigure, FaultFigure, Metric, RebalanceFigure, RunLimits, Slo, Stat,
};
use crate::summary::{BrokerSummary, FaultSummary, PhaseFigures};
use crate::summary::{Check, GroupSummary, Status, Summary, Verdict};

fn latency(stats: &LatencyStats, stat: Stat) -> Option<f64> {
    if stats.count == 0 {
        return None;
    }
    let value = match stat {
        Stat::Max => stats.max,
        Stat::Percentile(p) => {
            let known = [
                (50.0, stats.p50),
                (90.0, stats.p90),
                (95.0, stats.p95),
                (99.0, stats.p99),
                (99.9, stats.p999),
            ];
            known.iter().find(|(q, _)| *q == p).map(|(_, v)| *v)?
        }
    };
    Some(value as f64)
}

fn count_of(group: &GroupSummary, count: Count) -> u64 {
    match count {
        Count::Lost => group.lost,
        Count::Duplicates => group.ordering.duplicates,
        Count::OrderingViolations => group.ordering.out_of_order,
        Count::Gaps => group.ordering.gaps,
        Count::Cause(cause) => group.ordering.causes.get(cause),
    }
}

/// The measured value of a metric, in the SLO's unit; `None` when nothing was measured.
pub fn actual(summary: &Summary, metric: &Metric) -> Option<f64> {
    let group = |name: &Option<String>| {
        name.as_ref()
            .map(|n| summary.groups.iter().find(|g| &g.name == n))
    };
    match metric {
        Metric::E2e { group: name, stat } => match group(name) {
            None => latency(&summary.latency.e2e_us, *stat),
            Some(found) => found.and_then(|g| latency(&g.e2e_latency_us, *stat)),
        },
        Metric::Publish(stat) => latency(&summary.latency.publish_us, *stat),
        Metric::ScheduleLag(stat) => latency(&summary.latency.schedule_lag_us, *stat),
        Metric::Count { group: name, count } => match group(name) {
            None => Some(summary.total(|g| count_of(g, *count)) as f64),
            Some(found) => found.map(|g| count_of(g, *count) as f64),
        },
        Metric::Failed => Some(summary.produced.failed as f64),
        Metric::AchievedRatio => Some(summary.produced.achieved_ratio),
        Metric::MbPerSec => Some(summary.produced.acked_mb_per_s),
        Metric::Phase { phase, figure } => summary
            .phase(phase)
            .filter(|p| p.seconds > 0.0)
            .and_then(|p| phase_figure(p, figure)),
        Metric::RecoveryLag => summary
            .recovery
            .as_ref()
            .and_then(|r| r.lag_s)
            .map(|s| s * 1e6),
        Metric::RecoveryP95 => summary
            .recovery
            .as_ref()
            .and_then(|r| r.p95_s)
            .map(|s| s * 1e6),
        Metric::Fault { fault, figure } => {
            let chosen: Vec<&FaultSummary> = summary
                .faults
                .iter()
                .filter(|f| fault.as_ref().is_none_or(|name| &f.name == name))
                .collect();
            fault_figure(&chosen, *figure)
        }
        Metric::LagMax { group: name } => match group(name) {
            None => summary
                .groups
                .iter()
                .filter(|g| !g.set_aside)
                .map(|g| g.max_lag as f64)
                .reduce(f64::max),
            Some(found) => found.map(|g| g.max_lag as f64),
        },
        Metric::Failures {
            group: name,
            figure,
        } => failures_figure(summary, name, *figure),
        Metric::RetryDelay { group: name, stat } => match group(name) {
            None => summary
                .latency
                .retry_delay_us
                .as_ref()
                .and_then(|l| latency(l, *stat)),
            Some(found) => found
                .and_then(|g| g.failures.as_ref())
                .and_then(|f| latency(&f.retry_delay_us, *stat)),
        },
        Metric::CatchupRate { group: name } => catchup_rate(summary, name),
        Metric::CatchupTime { group: name } => slowest(
            summary,
            name,
            |g| {
                g.catchups
                    .iter()
                    .map(|c| c.catchup_time_s.map(|s| s * 1e6))
                    .collect()
            },
            f64::max,
        ),
        Metric::ReplayRate { group: name } => slowest(
            summary,
            name,
            |g| g.replay.iter().map(|r| r.rate).collect(),
            f64::min,
        ),
        Metric::Rebalance {
            group: name,
            figure,
        } => rebalance_figure(summary, name, *figure),
        Metric::Broker { node, figure } => broker_figure(summary, *node, *figure),
    }
}

/// A broker's figure (µs), or the worst broker's; `None` when no client reported the broker,
/// or timed nothing on it.
fn broker_figure(summary: &Summary, node: Option<i32>, figure: BrokerFigure) -> Option<f64> {
    let of_broker = |b: &BrokerSummary| -> Option<f64> {
        match figure {
            BrokerFigure::RttP99 => b.rtt_p99_peak_us.map(|v| v as f64),
            BrokerFigure::RttMean => b.rtt_mean_us.map(|v| v as f64),
            BrokerFigure::RttMax => b.rtt_max_us.map(|v| v as f64),
            BrokerFigure::Unanswered => Some(b.stalled_seconds as f64),
            BrokerFigure::ThrottleMax => Some(b.throttle_max_ms as f64 * 1e3),
        }
    };
    (summary.brokers.iter())
        .filter(|b| node.is_none_or(|n| b.node == n))
        .filter_map(of_broker)
        .reduce(f64::max)
}

/// A rebalance figure of one group, or the worst over the groups: 0 where no rebalance
/// happened.
fn rebalance_figure(
    summary: &Summary,
    group: &Option<String>,
    figure: RebalanceFigure,
) -> Option<f64> {
    let of_group = |g: &GroupSummary| -> f64 {
        let rows = &g.rebalances;
        match figure {
            RebalanceFigure::UnownedMax => rows
                .iter()
                .map(|r| r.unowned_max_s * 1e6)
                .fold(0.0, f64::max),
            RebalanceFigure::PartitionSeconds => rows
                .iter()
                .map(|r| r.unowned_partition_s)
                .fold(0.0, f64::max),
            RebalanceFigure::Redelivered => rows.iter().map(|r| r.redelivered as f64).sum(),
        }
    };
    let groups: Vec<&GroupSummary> = (summary.groups.iter())
        .filter(|g| group.as_ref().is_none_or(|name| &g.name == name))
        .collect();
    // A record cut short at its cap cannot say what the later rebalances cost.
    if groups.is_empty() || groups.iter().any(|g| g.rebalances_truncated) {
        return None;
    }
    groups.into_iter().map(of_group).reduce(f64::max)
}

/// A figure over one phase's seconds (see [`Metric::Phase`]).
fn phase_figure(phase: &PhaseFigures, figure: &Metric) -> Option<f64> {
    let group = |name: &String| phase.groups.iter().find(|g| &g.name == name);
    match figure {
        Metric::E2e { group: None, stat } => latency(&phase.e2e_us, *stat),
        Metric::E2e {
            group: Some(name),
            stat,
        } => group(name).and_then(|g| latency(&g.e2e_us, *stat)),
        Metric::Publish(stat) => latency(&phase.publish_us, *stat),
        Metric::ScheduleLag(stat) => latency(&phase.schedule_lag_us, *stat),
        Metric::Count { group: name, count } => {
            let pick = |duplicates: u64, out_of_order: u64| match count {
                Count::Duplicates => Some(duplicates as f64),
                Count::OrderingViolations => Some(out_of_order as f64),
                Count::Lost | Count::Gaps | Count::Cause(_) => None,
            };
            match name {
                None => pick(phase.duplicates, phase.out_of_order),
                Some(name) => group(name).and_then(|g| pick(g.duplicates, g.out_of_order)),
            }
        }
        Metric::Failed => Some(phase.failed as f64),
        Metric::AchievedRatio => Some(phase.achieved_ratio),
        Metric::MbPerSec => Some(phase.acked_mb_per_s),
        Metric::LagMax { group: None } => Some(phase.max_lag as f64),
        Metric::LagMax { group: Some(name) } => group(name).map(|g| g.max_lag as f64),
        _ => None,
    }
}

/// A failure count of the named group, or summed over the groups.
fn failures_figure(summary: &Summary, name: &Option<String>, figure: FailureFigure) -> Option<f64> {
    let pick = |g: &GroupSummary| {
        g.failures.as_ref().map(|f| match figure {
            FailureFigure::Retried => f.retried,
            FailureFigure::DeadLettered => f.dead_lettered,
            FailureFigure::DltLost => f.dlt_lost,
        })
    };
    match name {
        None => Some(
            summary
                .groups
                .iter()
                .filter_map(pick)
                .fold(0, u64::saturating_add) as f64,
        ),
        // A group without failures fails nothing: zero, not "not measured".
        Some(n) => summary
            .groups
            .iter()
            .find(|g| &g.name == n)
            .map(|g| pick(g).unwrap_or(0) as f64),
    }
}

/// The slowest pause of the slowest group decides; a pause the group never caught up from (or
/// was paused again before) has none. A resume under the threshold left nothing to drain: it
/// has no rate, and counts for the rate only when every pause did.
fn catchup_rate(summary: &Summary, name: &Option<String>) -> Option<f64> {
    slowest(
        summary,
        name,
        |g| {
            let drained: Vec<_> = g.catchups.iter().filter(|c| c.had_backlog()).collect();
            let pauses = if drained.is_empty() {
                g.catchups.iter().collect()
            } else {
                drained
            };
            pauses.iter().map(|c| c.catchup_rate).collect()
        },
        f64::min,
    )
}

/// A figure of the named group, or the worst (`pick_worst`) over the groups that have it.
/// `figure` gives a group's values (none for a group without it); a `None` value is one that
/// did not get there, and makes the whole figure `None`.
fn slowest(
    summary: &Summary,
    name: &Option<String>,
    figure: impl Fn(&GroupSummary) -> Vec<Option<f64>>,
    pick_worst: fn(f64, f64) -> f64,
) -> Option<f64> {
    let chosen: Vec<Option<f64>> = summary
        .groups
        .iter()
        .filter(|g| name.as_ref().is_none_or(|n| &g.name == n))
        .flat_map(&figure)
        .collect();
    if chosen.is_empty() {
        return None;
    }
    chosen
        .into_iter()
        .try_fold(None, |worst: Option<f64>, value| {
            value.map(|v| Some(worst.map_or(v, |w| pick_worst(w, v))))
        })
        .flatten()
}

/// A figure of one fault, or over several: counts add up, recovery is the slowest (and
/// missing when any fault did not recover), latencies are those of the one fault.
fn fault_figure(faults: &[&FaultSummary], figure: FaultFigure) -> Option<f64> {
    if faults.is_empty() {
        return None;
    }
    let sum = |pick: fn(&FaultSummary) -> u64| {
        Some(faults.iter().map(|f| pick(f)).fold(0, u64::saturating_add) as f64)
    };
    match figure {
        FaultFigure::Lost => sum(|f| f.lost),
        FaultFigure::Failed => sum(|f| f.failed),
        FaultFigure::Duplicates => sum(|f| f.duplicates),
        FaultFigure::OutOfOrder => sum(|f| f.out_of_order),
        FaultFigure::Recovery => faults
            .iter()
            .map(|f| f.recovery_s.map(|s| s * 1e6))
            .try_fold(0.0f64, |slowest, r| r.map(|r| slowest.max(r))),
        FaultFigure::PublishP99 => faults
            .iter()
            .filter_map(|f| f.publish_p99_us)
            .max()
            .map(|v| v as f64),
        FaultFigure::E2eP99 => faults
            .iter()
            .filter_map(|f| f.e2e_p99_us)
            .max()
            .map(|v| v as f64),
    }
}

/// Judges one SLO.
pub fn check(summary: &Summary, slo: &Slo) -> Check {
    let actual = actual(summary, &slo.metric);
    let is_latency = slo.metric.is_latency();
    Check {
        name: slo.to_string(),
        metric: slo.metric.to_string(),
        limit: slo.limit,
        actual,
        unit: if is_latency {
            "us"
        } else {
            match slo.metric.unscoped() {
                Metric::AchievedRatio => "ratio",
                Metric::MbPerSec => "MB/s",
                Metric::CatchupRate { .. } | Metric::ReplayRate { .. } => "events/s",
                _ => "count",
            }
        }
        .into(),
        passed: actual.is_some_and(|value| slo.comparison.holds(value, slo.limit)),
        default: slo.default,
        integrity: slo.metric.is_integrity(),
        limit_text: slo.limit_text(),
        actual_text: match actual {
            None if matches!(slo.metric, Metric::RecoveryLag | Metric::RecoveryP95) => {
                match &summary.recovery {
                    Some(recovery) => format!(
                        "not recovered by the end of the run (after {})",
                        recovery.after_phase
                    ),
                    None => "no peak followed by a lower rate".into(),
                }
            }
            None if matches!(
                slo.metric,
                Metric::Fault {
                    figure: FaultFigure::Recovery,
                    ..
                }
            ) =>
            {
                "not recovered by the end of the run".into()
            }
            None if matches!(
                slo.metric,
                Metric::CatchupRate { .. } | Metric::CatchupTime { .. }
            ) =>
            {
                "not measured: no group_pause fault, not caught up by the end of the run, or the backlog was already under the lag limit at resume".into()
            }
            None if matches!(slo.metric, Metric::ReplayRate { .. }) => {
                "no late group, or it did not finish its replay".into()
            }
            None => match slo.metric.phase() {
                Some(phase) if summary.phase(phase).is_some_and(|p| p.seconds > 0.0) => {
                    "not measured in this phase".into()
                }
                Some(phase) => format!("not measured: the run did not reach phase {phase}"),
                None => "not measured".into(),
            },
            Some(value)
                if matches!(
                    slo.metric,
                    Metric::RecoveryLag
                        | Metric::RecoveryP95
                        | Metric::CatchupTime { .. }
                        | Metric::Fault {
                            figure: FaultFigure::Recovery,
                            ..
                        }
                ) =>
            {
                format!("{}s", format_against(value / 1e6, slo.limit / 1e6))
            }
            Some(value) if is_latency => format_micros(value),
            Some(value) => format_against(value, slo.limit),
        },
    }
}

/// Groups that had not read every acked event when the drain ended. Their unread events have
/// no e2e latency and may or may not be lost, so a run that otherwise passes cannot pass; a run
/// that fails an SLO fails all the same (more late events only make it worse).
pub fn unread_problems(summary: &Summary) -> Vec<String> {
    summary
        .groups
        .iter()
        .filter(|g| g.unread > 0)
        .map(|group| format!(
            "group `{}` had not read {} acked events when the drain ended (run.drain_timeout): they are neither seen nor lost, so loss cannot be judged; give the drain more time or the group more members",
            group.name,
            format_number(group.unread as f64)
        ))
        .collect()
}

/// Judges every SLO and the generator's trustworthiness.
///
/// A generator that fell behind makes its timings untrustworthy, so such a run is
/// inconclusive, except that a failed integrity check still fails it: events that failed,
/// were lost or came out of order are facts of the log whatever the generator's pace. An
/// interrupted run stays inconclusive: what it did not drain is not known.
pub fn judge(summary: &Summary, slos: &[Slo], limits: &RunLimits) -> Verdict {
    let trust = trust::trust_checks(summary, limits);
    let unread = unread_problems(summary);
    let mut verdict = Verdict {
        status: Status::Pass,
        reasons: trust
            .iter()
            .filter(|t| !t.passed)
            .map(|t| t.reason.clone())
            .collect(),
        checks: slos.iter().map(|slo| check(summary, slo)).collect(),
        // A late generator cannot lose or reorder events: the log's facts are judged on every
        // complete run whose groups read all that was acked.
        integrity_judged: summary.complete && unread.is_empty(),
        trust,
    };
    verdict.status = if !verdict.reasons.is_empty() {
        verdict.reasons.extend(unread);
        if verdict.integrity_failed() && summary.complete {
            Status::Fail
        } else {
            Status::Inconclusive
        }
    } else if verdict.checks.iter().any(|c| !c.passed) {
        Status::Fail
    } else if !unread.is_empty() {
        verdict.reasons = unread;
        Status::Inconclusive
    } else {
        Status::Pass
    };
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Summary {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/smoke-run/summary.json"
        ))
        .unwrap();
        Summary::from_json(&text).unwrap()
    }

    /// The default limits (a 50 ms schedule-lag bound), as smoke.toml resolves them.
    fn limits() -> RunLimits {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml");
        let overrides = crate::scenario::Overrides::default();
        crate::scenario::load(std::path::Path::new(path), &overrides)
            .unwrap()
            .limits
    }

    fn slos(texts: &[&str]) -> Vec<Slo> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    /// The fixture's generator fell 90 ms behind (over the 50 ms bound).
    fn lagging(mut summary: Summary) -> Summary {
        summary.latency.schedule_lag_us.p99 = 91_519;
        summary
    }

    #[test]
    fn rebalance_figures_are_the_worst_row_and_not_judged_from_a_truncated_record() {
        let mut summary = fixture();
        let row =
            |partition_s: f64, longest: f64, redelivered: u64| crate::summary::RebalanceSummary {
                unowned_partition_s: partition_s,
                unowned_max_s: longest,
                redelivered,
                ..Default::default()
            };
        let name = summary.groups[0].name.clone();
        summary.groups[0].rebalances = vec![row(3.0, 0.5, 10), row(7.5, 2.0, 5)];
        let metric = |figure: &str| -> Metric {
            format!("group.{name}.rebalance.{figure}").parse().unwrap()
        };
        assert_eq!(actual(&summary, &metric("unowned_max")), Some(2e6));
        assert_eq!(actual(&summary, &metric("partition_seconds")), Some(7.5));
        assert_eq!(actual(&summary, &metric("redelivered")), Some(15.0));
        // A group that never rebalanced cost nothing.
        let unscoped: Metric = "rebalance.redelivered".parse().unwrap();
        summary.groups[0].rebalances.clear();
        assert_eq!(actual(&summary, &unscoped), Some(0.0));
        summary.groups[0].rebalances_truncated = true;
        assert_eq!(
            actual(&summary, &unscoped),
            None,
            "a record cut short is not judged"
        );
    }

    #[test]
    fn a_lagging_generator_makes_a_run_with_clean_integrity_inconclusive() {
        let verdict = judge(
            &lagging(fixture()),
            &slos(&["e2e.p95 < 1us", "lost == 0"]),
            &limits(),
        );
        // The e2e check fails, but the generator's lag is inside it: not the cluster's fault.
        assert_eq!(verdict.status, Status::Inconclusive);
        assert!(verdict.reasons[0].contains("fell behind its schedule"));
        // Integrity is judged all the same: a clean log shows as passed, not "not judged".
        assert!(!verdict.judged(&verdict.checks[0]));
        assert!(verdict.judged(&verdict.checks[1]) && verdict.checks[1].passed);
        let trust = &verdict.trust;
        assert!(
            trust
                .iter()
                .any(|t| !t.passed && t.name == "schedule lag p99")
        );
        assert!(trust.iter().all(|t| !t.limit_text.is_empty()));
    }

    #[test]
    fn lost_failed_or_reordered_events_fail_the_run_whatever_the_generators_pace() {
        type Spoil = fn(&mut Summary);
        let cases: [(&str, Spoil); 4] = [
            ("lost == 0", |s| s.groups[0].lost = 3),
            ("failed == 0", |s| s.produced.failed = 7),
            ("gaps == 0", |s| s.groups[0].ordering.gaps = 1),
            ("ordering_violations == 0", |s| {
                s.groups[0].ordering.out_of_order = 2
            }),
        ];
        for (slo, spoil) in cases {
            let mut summary = lagging(fixture());
            spoil(&mut summary);
            let verdict = judge(&summary, &slos(&["e2e.p95 < 1us", slo]), &limits());
            assert_eq!(verdict.status, Status::Fail, "{slo}: {verdict:#?}");
            // The reason the latency check is not judged stays with the verdict.
            assert!(!verdict.timings_trusted());
            assert!(verdict.reasons[0].contains("fell behind its schedule"));
            let (e2e, integrity) = (&verdict.checks[0], &verdict.checks[1]);
            assert!(integrity.integrity && !integrity.passed && verdict.judged(integrity));
            assert!(!e2e.integrity && !verdict.judged(e2e), "{slo}");
        }
    }

    #[test]
    fn an_interrupted_run_stays_inconclusive_even_with_loss() {
        let mut summary = fixture();
        summary.complete = false;
        summary.groups[0].lost = 3;
        let verdict = judge(&summary, &slos(&["lost == 0"]), &limits());
        assert_eq!(verdict.status, Status::Inconclusive);
        // What it did not drain is not known: its integrity is not judged either.
        assert!(!verdict.judged(&verdict.checks[0]));
    }

    #[test]
    fn every_comparison_holds_at_its_boundary_as_written() {
        let mut summary = fixture();
        let ratio = |s: &mut Summary, v: f64| s.produced.achieved_ratio = v;
        // (operator, below the limit, at it, above it)
        let cases = [
            ("<", true, false, false),
            ("<=", true, true, false),
            (">", false, false, true),
            (">=", false, true, true),
            ("==", false, true, false),
        ];
        for (op, below, at, above) in cases {
            let slo: Slo = format!("rate.achieved_ratio {op} 0.99").parse().unwrap();
            for (value, expected) in [(0.98999999, below), (0.99, at), (0.99000001, above)] {
                ratio(&mut summary, value);
                let check = check(&summary, &slo);
                assert_eq!(check.passed, expected, "{value} {op} 0.99: {check:?}");
            }
        }
        summary.groups[0].lost = 1;
        for (op, passes) in [("<", false), ("<=", true), (">", false), (">=", true)] {
            let slo: Slo = format!("lost {op} 1").parse().unwrap();
            assert_eq!(check(&summary, &slo).passed, passes, "lost {op} 1");
        }
    }

    #[test]
    fn a_trusted_run_judges_every_check() {
        let verdict = judge(
            &fixture(),
            &slos(&["e2e.p95 < 1us", "lost == 0"]),
            &limits(),
        );
        assert_eq!(verdict.status, Status::Fail);
        assert!(verdict.reasons.is_empty() && verdict.timings_trusted());
        assert!(verdict.checks.iter().all(|c| verdict.judged(c)));
    }
}
