//! Per-fault figures: what happened during each fault's window, and how long the groups took
//! to recover from it. Built from the run's record after the run; no I/O.

use crate::metrics::histograms::PUBLISH;
use crate::metrics::{TimelinePoint, new_histogram};
use crate::scenario::Scenario;
use crate::summary::FaultSummary;

use super::record::RunRecord;
use crate::scenario::RecoveryLimits;

/// Whether every group is within its limits during this second. A group that consumed
/// nothing is within them only when it has nothing to consume.
fn healthy(point: &TimelinePoint, limits: &[(String, RecoveryLimits)]) -> bool {
    point.groups.iter().filter(|g| !g.set_aside).all(|g| {
        let limit = limits
            .iter()
            .find(|(name, _)| *name == g.name)
            .map_or(RecoveryLimits::ADR, |(_, l)| *l);
        g.lag <= limit.lag
            && match g.e2e_p95 {
                Some(value) => value <= limit.e2e_p95_us,
                None => g.lag == 0,
            }
    })
}

/// Seconds from `from` until every group is healthy again: the start of the first whole
/// timeline second after `from` in which every group is within its limits. A second that
/// began before `from` still holds the fault, so it does not count.
fn recovery(
    timeline: &[TimelinePoint],
    from: f64,
    limits: &[(String, RecoveryLimits)],
) -> Option<f64> {
    if limits.is_empty() {
        return None;
    }
    let mut start = 0.0;
    for point in timeline {
        let second_start = std::mem::replace(&mut start, point.t);
        // Ticks land within a few ms of whole seconds: allow for that.
        if second_start >= from - 0.05 && healthy(point, limits) {
            return Some(tick_seconds(second_start - from));
        }
    }
    None
}

/// Seconds between timeline ticks, to the tenth: ticks land a few milliseconds after whole
/// seconds, and that jitter is not part of what was measured (a recovery is seen a second at
/// a time), so it must not decide a `< 30s` check.
pub(super) fn tick_seconds(seconds: f64) -> f64 {
    (seconds.max(0.0) * 10.0).round() / 10.0
}

/// The figures of every fault of the run, in the scenario's order.
pub fn fault_summaries(scenario: &Scenario, record: &RunRecord) -> Vec<FaultSummary> {
    let run_end = record.run_time.as_secs_f64();
    let group_limits: Vec<(String, RecoveryLimits)> = scenario
        .groups
        .iter()
        .map(|g| (g.name.clone(), scenario.recovery_limits(Some(&g.name))))
        .collect();
    let limits = scenario.recovery_limits(None);
    let (p95_limit_us, lag_limit) = (limits.e2e_p95_us, limits.lag);
    scenario
        .faults
        .iter()
        .zip(&record.faults)
        .map(|(spec, outcome)| {
            let log = &outcome.log;
            let start = log.started.unwrap_or(spec.at).as_secs_f64();
            let end = match (spec.duration, log.ended) {
                (Some(_), Some(ended)) => ended.as_secs_f64(),
                (Some(duration), None) => (spec.at + duration).as_secs_f64().min(run_end),
                (None, _) => run_end,
            }
            .max(start);
            let recovery_from = if spec.duration.is_some() { end } else { start };
            let recovery_s = recovery(&record.timeline, recovery_from, &group_limits);
            // What was consumed and acked late because of the fault shows after it: latency
            // and disorder are counted from its start until it recovered (or the run ended),
            // and at least through the second after its end, where the events it held are
            // acked and read (whether they land before or after that tick is a matter of ms).
            let impact_end = recovery_s
                .map_or(run_end, |r| recovery_from + r)
                .max(end)
                .max((end + 1.0).min(run_end));
            let overlaps = |t: f64, length: f64| t > start + 1e-3 && t - length < impact_end - 1e-3;
            let mut duplicates = 0;
            let mut out_of_order = 0;
            let points = TimelinePoint::with_starts(&record.timeline);
            for (point, _) in points.filter(|(p, start)| overlaps(p.t, p.t - start)) {
                for group in &point.groups {
                    duplicates += group.duplicates;
                    out_of_order += group.out_of_order;
                }
            }
            let mut publish = new_histogram();
            let mut e2e = new_histogram();
            for sample in record.histograms.intervals.iter() {
                if !overlaps(sample.start_s + sample.duration_s, sample.duration_s) {
                    continue;
                }
                let target = if sample.tag == PUBLISH {
                    &mut publish
                } else if sample.tag.starts_with("e2e.") {
                    &mut e2e
                } else {
                    continue;
                };
                let _ = target.add(sample.histogram());
            }
            let p99 = |h: &hdrhistogram::Histogram<u64>| {
                (!h.is_empty()).then(|| h.value_at_quantile(0.99))
            };
            FaultSummary {
                name: spec.name.clone(),
                kind: spec.kind.name().into(),
                description: spec.describe(&scenario.topics, &scenario.groups),
                start_s: round(start),
                end_s: round(end),
                applied: log.started.is_some(),
                failed: outcome.failed,
                lost: outcome.lost,
                duplicates,
                out_of_order,
                publish_p99_us: p99(&publish),
                e2e_p99_us: p99(&e2e),
                recovery_from_s: round(recovery_from),
                recovery_s,
                impact_end_s: round(impact_end),
                p95_limit_us,
                lag_limit,
                // Redacted where they were recorded (engine::faults).
                commands: log.commands.clone(),
                error: log.error.clone(),
            }
        })
        .collect()
}

fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
