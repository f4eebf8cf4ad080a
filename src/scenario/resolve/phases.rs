//! `[[phases]]`: the load plan, each shape expanded into phases and scaled by
//! `--rate-scale` and `--duration-scale`.

use std::path::Path;
use std::time::Duration;

use super::{Ctx, Overrides};
use crate::scenario::raw::RawPhase;
use crate::scenario::shapes::{MAX_PLAN, MAX_RATE, expand};
use crate::scenario::{Phase, ScenarioError};

/// The plan: every phase expanded and scaled, the whole within a week and measuring something.
pub(super) fn resolve_phases(
    ctx: &Ctx,
    raw: Vec<RawPhase>,
    overrides: &Overrides,
) -> Result<Vec<Phase>, ScenarioError> {
    if raw.is_empty() {
        return Err(ctx.err("phases", "the scenario has no [[phases]]", "add a [[phases]] table with a rate and a duration, e.g. rate = \"5k/s\", duration = \"30s\""));
    }
    let scale = Scale {
        rate: overrides.rate_scale.unwrap_or(1.0),
        duration: overrides.duration_scale.unwrap_or(1.0),
    };
    let base = Path::new(ctx.file).parent().unwrap_or(Path::new("."));
    let mut phases = Vec::new();
    for (i, phase) in raw.into_iter().enumerate() {
        let name = phase
            .name
            .clone()
            .unwrap_or_else(|| format!("phase-{}", i + 1));
        if name.contains(':') {
            return Err(ctx.err(
                format!("phases[{i}].name"),
                format!(
                    "`{}` holds a `:`, which names a part of a phase (a spike is `NAME:spike`)",
                    crate::input::quote(&name, 60)
                ),
                "name the phase without `:`, e.g. `11h30` for a time of day",
            ));
        }
        let expanded = expand(&name, &phase, base).map_err(|(field, problem, fix)| {
            ctx.err(format!("phases[{i}].{field}"), problem, fix)
        })?;
        for p in expanded {
            phases.push(scale.apply(ctx, i, p)?);
        }
    }
    check_plan(ctx, &phases)?;
    Ok(phases)
}

/// `--rate-scale` and `--duration-scale`, 1 when not given.
struct Scale {
    rate: f64,
    duration: f64,
}

impl Scale {
    /// One expanded phase of `phases[i]`, scaled; it may not run past the plan's limit or offer
    /// more than the generator's top rate.
    fn apply(&self, ctx: &Ctx, i: usize, phase: Phase) -> Result<Phase, ScenarioError> {
        let duration_scale = self.duration;
        let rate_scale = self.rate;
        let duration = Duration::try_from_secs_f64(phase.duration.as_secs_f64() * duration_scale)
            .ok()
            .filter(|d| *d <= MAX_PLAN)
            .ok_or_else(|| {
                ctx.err(
                    format!("phases[{i}].duration"),
                    format!("scaled by {duration_scale} (--duration-scale), the phase would run past 7 days"),
                    "use a smaller --duration-scale or a shorter phase",
                )
            })?;
        if duration < Duration::from_millis(1) {
            return Err(ctx.err(
                format!("phases[{i}].duration"),
                format!(
                    "scaled by {duration_scale} (--duration-scale), a step of the phase lasts {}, under the 1ms the pacer can hold",
                    crate::scenario::units::format_duration(duration)
                ),
                "use a larger --duration-scale, or longer steps",
            ));
        }
        let shape = phase.shape.scaled(rate_scale);
        if shape.peak_rate() > MAX_RATE || !shape.peak_rate().is_finite() {
            return Err(ctx.err(
                format!("phases[{i}]"),
                format!(
                    "scaled by {rate_scale} (--rate-scale), the phase offers more than 10M events/s"
                ),
                "use a smaller --rate-scale; split larger loads across generator hosts",
            ));
        }
        Ok(Phase {
            shape,
            duration,
            ..phase
        })
    }
}

/// The whole plan stops by itself within a week, and measures at least one phase with load.
fn check_plan(ctx: &Ctx, phases: &[Phase]) -> Result<(), ScenarioError> {
    let total = phases
        .iter()
        .try_fold(Duration::ZERO, |sum, p| sum.checked_add(p.duration))
        .filter(|total| *total <= MAX_PLAN);
    if total.is_none() {
        return Err(ctx.err(
            "phases",
            "the phases together run longer than 7 days",
            "shorten the plan: every load test stops by itself within a week",
        ));
    }
    if !phases
        .iter()
        .any(|p| !p.warmup && p.shape.mean_rate() > 0.0)
    {
        return Err(ctx.err(
            "phases",
            "every phase is warmup or has rate 0, so nothing would be measured",
            "add a phase with warmup = false and a rate above 0",
        ));
    }
    let measured: f64 = phases
        .iter()
        .filter(|p| !p.warmup)
        .map(|p| p.shape.mean_rate() * p.duration.as_secs_f64())
        .sum();
    if measured < 1.0 {
        return Err(ctx.err(
            "phases",
            format!(
                "the measured phases plan {measured:.3} events in all (rate times duration, after --rate-scale and --duration-scale), so not one would be sent"
            ),
            "raise the rate or lengthen the measured phases so that they plan at least one event",
        ));
    }
    Ok(())
}
