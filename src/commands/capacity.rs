//! `surge capacity`: the probes a search asks for, each a run of its own, and the result
//! written with the best probe's reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::capacity::sustain;
use crate::engine::StopSignal;
use crate::error::SurgeError;
use crate::live::LiveView;
use crate::run_dir::default_out_dir;
use crate::scenario::{Scenario, ScenarioError};
use crate::summary::{self, Status};
use crate::{capacity, format, report};

use super::run::{RunOptions, RunOutcome, run_scenario, start_live_view};
use super::validate;

/// What `surge capacity` needs besides the scenario.
#[derive(Debug, Clone, Default)]
pub struct CapacityOptions {
    pub run: RunOptions,
    pub search: capacity::SearchOptions,
    /// A broker-type file of the user's, instead of the built-in one: the labelled type's
    /// published limits are held against the rate found.
    pub broker_types: Option<PathBuf>,
}

/// Searches the highest rate at which every SLO holds; writes each probe's reports under
/// `probes/` and the capacity result with the best probe's reports to the out dir.
pub fn capacity_search(
    options: &CapacityOptions,
    stop: Arc<StopSignal>,
) -> Result<RunOutcome, SurgeError> {
    let scenario = validate(&options.run.scenario, &options.run.overrides)?;
    // A steady condition (at 0s, never undone, such as an injected round trip) holds for every
    // probe; a timed fault would land at a different load in each.
    if let Some(i) = scenario
        .faults
        .iter()
        .position(|f| !f.at.is_zero() || f.duration.is_some())
    {
        return Err(SurgeError::Scenario(ScenarioError {
            file: scenario.source.display().to_string(),
            key: format!("faults[{i}]"),
            problem: "a capacity search replaces the plan with its own probes, so a timed fault would hit each probe at a different load".into(),
            fix: "keep only faults at \"0s\" without a duration (steady conditions) for surge capacity, or measure timed faults with surge run".into(),
        }));
    }
    // A type named by the flag must be in the file: a typo ends the command before a probe.
    let flag_type = options.run.overrides.label.instance_type.as_deref();
    let types = super::broker_types(options.broker_types.as_deref(), flag_type)?;
    let out_dir = options
        .run
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&scenario));
    let search_options = &options.search;
    let live = start_live_view(&options.run)?;
    let started = std::time::Instant::now();
    let start = search_options
        .start
        .unwrap_or_else(|| (capacity::target_peak(&scenario) / 10.0).round().max(1.0));
    let mut search = capacity::Search::new(start, search_options.precision, search_options.max);
    let mut probes = Vec::new();
    let mut best: Option<(f64, PathBuf)> = None;
    let mut last: Option<PathBuf> = None;
    while let Some(rate) = search.next_rate() {
        let mut probe = capacity::probe_scenario(&scenario, rate, search_options);
        // Probes are judged on their SLOs alone; a baseline compares whole runs.
        probe.limits.baseline = None;
        probe.limits.max_regression = None;
        if started.elapsed() + capacity::probe_cost(search_options, &probe) > search_options.budget
            || stop.is_requested()
        {
            break;
        }
        let dir = out_dir.join("probes").join(format!("{:09.0}", rate));
        if !options.run.quiet {
            eprintln!("capacity: probing {} events/s", format::format_number(rate));
        }
        let outcome = run_scenario(&probe, &dir, true, stop.clone(), live.as_ref())?;
        let mut figures = probe_figures(rate, &outcome);
        // Cut short by the stop, not merely followed by it.
        figures.interrupted = stop.is_requested() && !outcome.summary.complete;
        let interrupted = figures.interrupted;
        probes.push(figures);
        last = Some(dir.clone());
        if interrupted {
            // Its figures are partial: they bracket nothing, and no later probe runs.
            break;
        }
        if outcome.status == Status::Pass && best.as_ref().is_none_or(|(r, _)| rate > *r) {
            best = Some((rate, dir));
        }
        search.record(rate, outcome.status);
    }
    probes.sort_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate));
    let mut result = capacity::conclude(
        &scenario,
        probes,
        &search,
        started.elapsed(),
        search_options.budget,
    );
    if let (Some(time), Some(found)) = (search_options.sustain, result.sustained_rate)
        && !stop.is_requested()
    {
        let holds = Holds {
            scenario: &scenario,
            options,
            out_dir: &out_dir,
            time,
            p95_limit_us: result.p95_limit_us,
        };
        let sustain = holds.run(found, &stop, live.as_ref());
        result = capacity::with_sustain(result, sustain);
    }
    let shown = best
        .map(|(_, dir)| dir)
        .or(last)
        .ok_or_else(|| SurgeError::Usage {
            problem: format!(
                "the budget of {}s does not fit one probe",
                search_options.budget.as_secs()
            ),
            fix: "raise --budget".into(),
        })?;
    let mut run = report::load_run(&shown).map_err(|error| SurgeError::RunDir {
        path: shown.clone(),
        detail: error.to_string(),
    })?;
    let mut result = held_against_type(result, &scenario, &types, &run.summary);
    if stop.is_requested() {
        result = capacity::with_stop(result);
        mark_partial(&mut run.summary, &result);
    }
    run.summary.verdict.status = capacity::status(&result);
    run.summary.capacity = Some(result);
    let report_failures = report::write_all(&out_dir, &run);
    Ok(RunOutcome {
        status: run.summary.verdict.status,
        out_dir,
        summary: run.summary,
        report_failures,
    })
}

/// A search stopped by Ctrl-C or SIGTERM (during a probe, between two, or during a hold) is
/// unfinished: the summary shown is marked partial, whatever the probe it shows measured.
fn mark_partial(summary: &mut summary::Summary, result: &summary::Capacity) {
    let reason = format!(
        "interrupted (Ctrl-C or SIGTERM) {}: the search is unfinished",
        capacity::where_stopped(result)
    );
    summary.complete = false;
    summary.partial_reason = Some(reason.clone());
    summary
        .verdict
        .reasons
        .push(format!("the run is partial: {reason}"));
    let finished = crate::verdict::finished(summary);
    let trust = &mut summary.verdict.trust;
    if let Some(check) = trust.iter_mut().find(|c| c.name == finished.name) {
        *check = finished;
    }
}

/// The result held against the labelled broker type's limits, at the bytes the events took
/// in `probe` (the best probe's summary).
fn held_against_type(
    result: summary::Capacity,
    scenario: &Scenario,
    types: &crate::broker_types::BrokerTypes,
    probe: &summary::Summary,
) -> summary::Capacity {
    if let Some(label) = &scenario.label
        && let Some(name) = &label.instance_type
    {
        let limit = capacity::types::type_limit(types, name, label.brokers, probe);
        capacity::with_type_limit(result, limit)
    } else {
        result
    }
}

/// `--sustain`: the rate found held for the whole time, and lower rates when it falls off.
struct Holds<'a> {
    scenario: &'a Scenario,
    options: &'a CapacityOptions,
    out_dir: &'a Path,
    time: Duration,
    p95_limit_us: Option<u64>,
}

impl Holds<'_> {
    /// Holds `found`, then lower rates, each under `holds/` in the out dir.
    fn run(&self, found: f64, stop: &Arc<StopSignal>, live: Option<&LiveView>) -> summary::Sustain {
        let mut holding = sustain::Holding::new(self.time.as_secs_f64(), 1.0);
        let search = capacity::SearchOptions {
            probe_duration: self.time,
            ..self.options.search.clone()
        };
        while let Some(rate) = holding.next_rate(found) {
            if stop.is_requested() {
                break;
            }
            let mut probe = capacity::probe_scenario(self.scenario, rate, &search);
            probe.limits.baseline = None;
            probe.limits.max_regression = None;
            let dir = self.out_dir.join("holds").join(format!("{:09.0}", rate));
            if !self.options.run.quiet {
                eprintln!(
                    "capacity: holding {} events/s for {}",
                    format::format_number(rate),
                    crate::scenario::units::format_duration(self.time)
                );
            }
            let outcome = match run_scenario(&probe, &dir, true, stop.clone(), live) {
                Ok(outcome) => outcome,
                // The search's result stands; the hold confirms nothing.
                Err(error) => {
                    holding.record(summary::Hold {
                        rate,
                        status: Status::Error,
                        planned_s: self.time.as_secs_f64(),
                        held_s: None,
                        reasons: vec![error.to_string()],
                    });
                    break;
                }
            };
            // An interrupted hold is no evidence either way.
            if stop.is_requested() {
                break;
            }
            let warmup_s = search.probe_warmup.as_secs_f64();
            let held_s =
                sustain::fell_off_at(&outcome.summary.timeline, warmup_s, self.p95_limit_us);
            // Every SLO met, yet throughput fell off for a while: not held. Inconclusive (the
            // generator fell behind later, its queue full of what the cluster did not take),
            // yet it fell off while the generator kept up: not held either.
            let status = match (outcome.status, held_s) {
                (Status::Pass | Status::Inconclusive, Some(_)) => Status::Fail,
                (status, _) => status,
            };
            holding.record(summary::Hold {
                rate,
                status,
                planned_s: self.time.as_secs_f64(),
                held_s,
                reasons: probe_figures(rate, &outcome).reasons,
            });
        }
        holding.result()
    }
}

/// What one probe measured, and why it failed when it did.
fn probe_figures(rate: f64, outcome: &RunOutcome) -> summary::Probe {
    let summary = &outcome.summary;
    let mut reasons = summary.verdict.reasons.clone();
    reasons.extend(
        summary
            .verdict
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.actual_text)),
    );
    summary::Probe {
        offered_rate: rate,
        status: outcome.status,
        achieved_rate: summary.produced.achieved_rate,
        e2e_p95_us: summary.latency.e2e_us.p95,
        e2e_p99_us: summary.latency.e2e_us.p99,
        max_lag: summary.groups.iter().map(|g| g.max_lag).max().unwrap_or(0),
        reasons,
        throttled_share: summary::Throttling::of(&summary.brokers).map_or(0.0, |t| t.share()),
        acked_mb_per_s: summary.produced.acked_mb_per_s,
        interrupted: false,
    }
}
