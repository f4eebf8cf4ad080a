//! Whether the generator's own measurements can be trusted: every check with its limit, so
//! that each report shows them passed or not, and the reasons of those that failed.

use std::time::Duration;

use crate::format::{format_against, format_micros, format_number};
use crate::metrics::TimelinePoint;
use crate::scenario::RunLimits;
use crate::summary::{FaultSummary, Summary, TrustCheck};

/// A generator above this share of its host's CPU ...
const SATURATED_CPU: f64 = 95.0;
/// ... for this many measured seconds is not trusted.
const SATURATED_SECONDS: usize = 3;

/// The run's `producer_pause` faults.
fn producer_pauses(faults: &[FaultSummary]) -> impl Iterator<Item = &FaultSummary> {
    let kind = crate::scenario::FaultKind::ProducerPause.name();
    faults.iter().filter(move |f| f.kind == kind)
}

/// The longest `producer_pause` of a run: its owed events are late by up to that much, on
/// purpose, and the generator's schedule-lag bound allows for it.
fn longest_pause(faults: &[FaultSummary]) -> Duration {
    producer_pauses(faults)
        .map(|f| Duration::from_secs_f64((f.end_s - f.start_s).max(0.0)))
        .max()
        .unwrap_or_default()
}

/// Every trust check of the run: that it finished, the generator's schedule lag, its
/// achieved rate and CPU over the measured phases, and lag and rate in each measured phase
/// (a peak the generator could not offer says nothing of the cluster).
pub fn trust_checks(summary: &Summary, limits: &RunLimits) -> Vec<TrustCheck> {
    let mut checks = vec![finished(summary)];
    let pause = longest_pause(&summary.faults);
    let bound = (limits.max_schedule_lag_p99 + pause).as_secs_f64() * 1e6;
    let lag = |scope: &str, p99: u64| TrustCheck {
        name: format!("{scope}schedule lag p99"),
        limit: bound,
        limit_text: format!("<= {} (run.max_schedule_lag_p99)", format_micros(bound)),
        actual_text: format_micros(p99 as f64),
        passed: p99 as f64 <= bound,
        reason: format!(
            "the load generator fell behind its schedule{}: schedule lag p99 {} exceeds {} (run.max_schedule_lag_p99); give it more CPU or lower the rate",
            in_phase(scope),
            format_micros(p99 as f64),
            format_micros(bound)
        ),
    };
    let min = limits.min_achieved_ratio;
    let rate = |scope: &str, ratio: f64, achieved: f64, target: f64| TrustCheck {
        name: format!("{scope}achieved rate"),
        limit: min * 100.0,
        limit_text: format!(
            ">= {}% of the plan (run.min_achieved_ratio)",
            format_number(min * 100.0)
        ),
        actual_text: format!("{}%", format_against(ratio * 100.0, min * 100.0)),
        passed: ratio >= min,
        reason: format!(
            "the load generator achieved {}% of the target rate{} ({} of {} events/s), below {}% (run.min_achieved_ratio)",
            format_against(ratio * 100.0, min * 100.0),
            in_phase(scope),
            format_number(achieved.round()),
            format_number(target.round()),
            format_number(min * 100.0)
        ),
    };
    let p = &summary.produced;
    checks.push(lag("", summary.latency.schedule_lag_us.p99));
    checks.push(rate("", p.achieved_ratio, p.achieved_rate, p.target_rate));
    checks.extend(cpu(summary));
    let measured: Vec<_> = summary
        .by_phase
        .iter()
        .filter(|p| !p.warmup && p.seconds > 0.0)
        .collect();
    if measured.len() > 1 {
        let paused = paused_windows(&summary.faults);
        for phase in measured {
            let scope = format!("phase {}: ", phase.name);
            // A p99 of fewer samples is the largest of a few: one hiccup, not a trend.
            if phase.schedule_lag_us.count >= PHASE_SAMPLES {
                checks.push(lag(&scope, phase.schedule_lag_us.p99));
            }
            // Events a producer_pause owes go out after it, on purpose, in whichever phase;
            // and a phase must plan enough events that one event more or less, across a
            // second's edge, cannot decide it.
            let planned = phase.offered_rate * phase.seconds;
            let overlaps_pause = paused
                .iter()
                .any(|(from, to)| phase.start_s < *to && *from < phase.end_s);
            if !overlaps_pause && planned * (1.0 - min) >= PHASE_SLACK_EVENTS {
                checks.push(rate(
                    &scope,
                    phase.achieved_ratio,
                    phase.achieved_rate,
                    phase.offered_rate,
                ));
            }
        }
    }
    checks
}

/// Samples a phase's schedule lag needs before its p99 is judged (ten above the p99).
const PHASE_SAMPLES: u64 = 1_000;
/// Events of slack a phase's plan must leave under the minimum achieved ratio before it is
/// judged on it.
const PHASE_SLACK_EVENTS: f64 = 10.0;

/// Each `producer_pause` fault's window, and as long again after it: while the generator
/// sends what the pause owed.
fn paused_windows(faults: &[FaultSummary]) -> Vec<(f64, f64)> {
    producer_pauses(faults)
        .map(|f| (f.start_s, f.end_s + (f.end_s - f.start_s).max(1.0)))
        .collect()
}

/// ` in phase peak` for a phase's check, nothing for the run's.
fn in_phase(scope: &str) -> String {
    scope
        .strip_prefix("phase ")
        .and_then(|s| s.strip_suffix(": "))
        .map_or(String::new(), |name| format!(" in phase {name}"))
}

/// The check that the run finished, from the summary's `complete` and `partial_reason`.
pub(crate) fn finished(summary: &Summary) -> TrustCheck {
    let reason = summary
        .partial_reason
        .as_deref()
        .unwrap_or("it did not finish");
    TrustCheck {
        name: "the run finished".into(),
        limit: 1.0,
        limit_text: "complete".into(),
        actual_text: if summary.complete {
            "complete".into()
        } else {
            format!("partial: {reason}")
        },
        passed: summary.complete,
        reason: format!("the run is partial: {reason}"),
    }
}

/// Measured seconds in which `busy` holds.
fn measured_seconds(summary: &Summary, busy: impl Fn(&TimelinePoint) -> bool) -> usize {
    let warmup: Vec<&str> = summary
        .phases
        .iter()
        .filter(|p| p.warmup)
        .map(|p| p.name.as_str())
        .collect();
    summary
        .timeline
        .iter()
        .filter(|p| !warmup.contains(&p.phase.as_str()) && busy(p))
        .count()
}

/// Seconds of the measured phases the generator's process spent at or above
/// [`SATURATED_CPU`] of its host, and those its busiest thread spent at or above that share
/// of one core: one pegged thread is a limit a many-core host's total hides.
fn cpu(summary: &Summary) -> Vec<TrustCheck> {
    let saturated = measured_seconds(summary, |p| {
        p.generator_cpu.is_some_and(|cpu| cpu >= SATURATED_CPU)
    });
    let mut checks = vec![host_cpu(summary, saturated)];
    if summary
        .timeline
        .iter()
        .any(|p| p.generator_thread_cpu.is_some())
    {
        let pegged = measured_seconds(summary, |p| {
            p.generator_thread_cpu
                .is_some_and(|cpu| cpu >= SATURATED_CPU)
        });
        checks.push(TrustCheck {
            name: "surge's busiest thread saturated".into(),
            limit: SATURATED_SECONDS as f64,
            limit_text: format!("< {SATURATED_SECONDS} seconds at {SATURATED_CPU}% of one core"),
            actual_text: format!("{pegged} seconds"),
            passed: pegged < SATURATED_SECONDS,
            reason: format!(
                "one of surge's threads (a producer, a consumer member or a client thread) used at least {SATURATED_CPU}% of a core for {pegged} measured seconds: it cannot go faster; add producer instances (producer.instances) or group members, or split the load"
            ),
        });
    }
    checks
}

fn host_cpu(summary: &Summary, saturated: usize) -> TrustCheck {
    TrustCheck {
        name: "generator CPU saturated".into(),
        limit: SATURATED_SECONDS as f64,
        limit_text: format!(
            "< {SATURATED_SECONDS} seconds at {SATURATED_CPU}% of its {} cores",
            summary.environment.cpus
        ),
        actual_text: format!("{saturated} seconds"),
        passed: saturated < SATURATED_SECONDS,
        reason: format!(
            "the load generator's CPU was saturated (at least {SATURATED_CPU}% of its {} cores) for {saturated} measured seconds; use a bigger host or split the load",
            summary.environment.cpus
        ),
    }
}
