//! `[slo]`: the scenario's checks, `--slo` replacing or adding, the integrity checks every run
//! is judged on, and what each check names (a group, a fault) present in the scenario.

use super::{Ctx, Overrides};
use crate::scenario::slo::integrity_defaults;
use crate::scenario::{
    Comparison, FailureFigure, FaultSpec, GroupSpec, Metric, Phase, ScenarioError, Slo,
};

/// The SLOs a run is judged against, in the file's order, then flags, then defaults.
pub(super) fn resolve_slos(
    ctx: &Ctx,
    raw: Vec<String>,
    overrides: &Overrides,
    phases: &[Phase],
    groups: &[GroupSpec],
    faults: &[FaultSpec],
) -> Result<Vec<Slo>, ScenarioError> {
    let mut slos = parse_slos(ctx, &raw)?;
    let mut flags = overrides.slos.clone();
    // A phase's name may hold dots: each `phase.NAME` is read against the plan's names.
    super::judgeable::rescope_phases(&mut slos, phases);
    super::judgeable::rescope_phases(&mut flags, phases);
    for slo in flags {
        match slos.iter_mut().find(|s| s.metric == slo.metric) {
            Some(existing) => *existing = slo,
            None => slos.push(slo),
        }
    }
    add_defaults(&mut slos, groups);
    for slo in &slos {
        check_faults_named(ctx, slo, faults)?;
        check_groups_named(ctx, slo, groups)?;
    }
    Ok(slos)
}

/// The most checks a scenario lists: every figure, per group and per fault, fits.
const MAX_CHECKS: usize = 500;

/// `slo.checks`, each parsed.
fn parse_slos(ctx: &Ctx, raw: &[String]) -> Result<Vec<Slo>, ScenarioError> {
    if raw.len() > MAX_CHECKS {
        return Err(ctx.err(
            format!("slo.checks[{MAX_CHECKS}]"),
            format!(
                "{} checks are more than a run is judged on ({MAX_CHECKS})",
                raw.len()
            ),
            "keep one check per figure",
        ));
    }
    let mut slos: Vec<Slo> = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        let slo: Slo = text.parse().map_err(|problem: String| {
            ctx.err(
                format!("slo.checks[{i}]"),
                problem,
                "see docs/scenarios.md, \"SLOs\"",
            )
        })?;
        slos.push(slo);
    }
    Ok(slos)
}

/// Adds the checks judged on every run that the scenario does not name.
fn add_defaults(slos: &mut Vec<Slo>, groups: &[GroupSpec]) {
    // Integrity is judged on every run; a scenario relaxes a check only by naming its metric.
    // A produce-only scenario has no group to count loss in: only `failed` applies there.
    for integrity in integrity_defaults() {
        let no_group_to_count =
            matches!(integrity.metric, Metric::Count { .. }) && groups.is_empty();
        let named = slos.iter().any(|s| s.metric.same_kind(&integrity.metric));
        if !no_group_to_count && !named {
            slos.push(integrity);
        }
    }
    // Dead-letter sends are writes like any other: one the topic does not hold is lost.
    let dlt_lost = Metric::Failures {
        group: None,
        figure: FailureFigure::DltLost,
    };
    if groups.iter().any(|g| g.failures.is_some())
        && !slos.iter().any(|s| s.metric.same_kind(&dlt_lost))
    {
        slos.push(Slo {
            metric: dlt_lost,
            comparison: Comparison::Equal,
            limit: 0.0,
            default: true,
        });
    }
}

/// An SLO on a fault needs that fault, or any fault, in `[[faults]]`.
fn check_faults_named(ctx: &Ctx, slo: &Slo, faults: &[FaultSpec]) -> Result<(), ScenarioError> {
    if let Some(fault) = slo.metric.fault()
        && !faults.iter().any(|f| f.name == fault)
    {
        let known: Vec<&str> = faults.iter().map(|f| f.name.as_str()).collect();
        return Err(ctx.err(
            "slo",
            format!("`{slo}` names fault `{fault}`, which is not in [[faults]]"),
            if known.is_empty() {
                "add a [[faults]] entry with that name, or drop this SLO".to_string()
            } else {
                format!("use one of: {}", known.join(", "))
            },
        ));
    }
    if matches!(slo.metric, Metric::Fault { fault: None, .. }) && faults.is_empty() {
        return Err(ctx.err(
            "slo",
            format!("`{slo}` judges faults, and the scenario has none"),
            "add a [[faults]] entry or drop this SLO",
        ));
    }
    Ok(())
}

/// An SLO on a group needs that group, and one measured by consumers needs some group.
fn check_groups_named(ctx: &Ctx, slo: &Slo, groups: &[GroupSpec]) -> Result<(), ScenarioError> {
    let needs_groups = matches!(
        slo.metric.unscoped(),
        Metric::E2e { .. }
            | Metric::Count { .. }
            | Metric::LagMax { .. }
            | Metric::Failures { .. }
            | Metric::RetryDelay { .. }
            | Metric::CatchupRate { .. }
            | Metric::CatchupTime { .. }
            | Metric::ReplayRate { .. }
            | Metric::Rebalance { .. }
    );
    if let Some(group) = slo.metric.group() {
        if !groups.iter().any(|g| g.name == group) {
            return Err(ctx.err(
                "slo",
                format!("`{slo}` names group `{group}`, which is not in [[consumer_groups]]"),
                "use the name of a consumer group of this scenario",
            ));
        }
    } else if needs_groups && groups.is_empty() {
        return Err(ctx.err(
            "slo",
            format!("`{slo}` needs a consumer group, and the scenario has none"),
            "add a [[consumer_groups]] entry or drop this SLO",
        ));
    }
    Ok(())
}
