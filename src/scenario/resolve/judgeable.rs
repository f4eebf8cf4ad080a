//! Every SLO can be judged: its limit is a value its metric can take, and the scenario
//! produces the figure it names. A check that can never pass, or that would find nothing to
//! judge after the whole load has run, is refused before any load is sent.

use super::Ctx;
use crate::scenario::faults::FaultKind;
use crate::scenario::phase_rows::{named_row, peak_row, phase_rows};
use crate::scenario::{
    Comparison, FaultSpec, GroupSpec, Metric, Phase, ScenarioError, Slo, Stat, recovery_peak,
};

/// What the scenario produces that SLOs may name.
pub(super) struct Produces<'a> {
    /// `slo.peak_phase`, checked.
    pub(super) peak_phase: Option<&'a str>,
    pub(super) phases: &'a [Phase],
    pub(super) groups: &'a [GroupSpec],
    pub(super) faults: &'a [FaultSpec],
    /// A client's `statistics.interval.ms` other than the broker view's one second, if set.
    pub(super) statistics_interval: Option<&'a str>,
}

/// Refuses an SLO whose limit its metric cannot meet, or whose figure the scenario never
/// produces, naming what would produce it.
pub(super) fn check_judgeable(
    ctx: &Ctx,
    slos: &[Slo],
    produces: &Produces,
) -> Result<(), ScenarioError> {
    for slo in slos {
        if !slo.limit.is_finite() {
            return Err(ctx.err(
                "slo",
                format!("`{slo}` has a limit that is not a number"),
                "write a finite limit, e.g. 0 or 100ms",
            ));
        }
        if !slo.comparison.can_hold(slo.limit, slo.metric.range()) {
            let (low, high, whole) = slo.metric.range();
            let range = match (whole, high.is_finite()) {
                (true, _) => "a whole number of at least 0".to_string(),
                (false, false) => format!("at least {low}"),
                (false, true) if slo.metric.is_latency() => format!(
                    "from {} to {}",
                    crate::format::format_micros(low),
                    crate::format::format_micros(high)
                ),
                (false, true) => format!("from {low} to {high}"),
            };
            return Err(ctx.err(
                "slo",
                format!("`{slo}` can never pass: the figure is {range}"),
                "give a limit the figure can meet, e.g. `lost == 0`, `rate.achieved_ratio >= 0.99`, `e2e.p95 < 100ms`",
            ));
        }
        if let Some(other) = slos.iter().find(|o| {
            (o.metric == slo.metric && !jointly_possible(slo, o)) || ordered_apart(slo, o)
        }) {
            return Err(ctx.err(
                "slo",
                format!("`{slo}` and `{other}` can never both pass"),
                "keep one limit per figure, or limits that leave room between them",
            ));
        }
        if let Some(phase) = slo.metric.phase() {
            produces.check_phase(ctx, slo, phase)?;
        }
        if let Some(missing) = produces.missing(slo.metric.unscoped()) {
            return Err(ctx.err(
                "slo",
                format!("`{slo}` judges a figure this scenario never produces: {missing}"),
                "add what produces it, or drop this SLO",
            ));
        }
    }
    Ok(())
}

/// Whether some value of the two SLOs' metric passes both: tried at both limits, just beside
/// them, between them and at the metric's ends (whole numbers only, for counts).
fn jointly_possible(a: &Slo, b: &Slo) -> bool {
    let (low, high, whole) = a.metric.range();
    let step = |v: f64| {
        if whole {
            1.0
        } else {
            (v.abs() * 1e-9).max(1e-9)
        }
    };
    let mut candidates = vec![low, high, (a.limit + b.limit) / 2.0];
    for limit in [a.limit, b.limit] {
        candidates.extend([limit, limit - step(limit), limit + step(limit)]);
    }
    candidates
        .into_iter()
        .filter(|v| v.is_finite() && (low..=high).contains(v))
        .map(|v| if whole { v.round() } else { v })
        .any(|v| a.comparison.holds(v, a.limit) && b.comparison.holds(v, b.limit))
}

/// Whether `a`'s figure is never above `b`'s, whatever the run: a lower percentile of one
/// latency against a higher one (or its max), a group's count against the run's.
fn never_above(a: &Metric, b: &Metric) -> bool {
    let rank = |stat: &Stat| match stat {
        Stat::Percentile(p) => *p,
        Stat::Max => f64::INFINITY,
    };
    match (a, b) {
        (
            Metric::Phase {
                phase: p,
                figure: f,
            },
            Metric::Phase {
                phase: q,
                figure: g,
            },
        ) => p == q && never_above(f, g),
        (Metric::E2e { group: g, stat: s }, Metric::E2e { group: h, stat: t })
        | (Metric::RetryDelay { group: g, stat: s }, Metric::RetryDelay { group: h, stat: t }) => {
            g == h && rank(s) <= rank(t)
        }
        (Metric::Publish(s), Metric::Publish(t))
        | (Metric::ScheduleLag(s), Metric::ScheduleLag(t)) => rank(s) <= rank(t),
        (
            Metric::Count {
                group: Some(_),
                count: c,
            },
            Metric::Count {
                group: None,
                count: d,
            },
        ) => c == d,
        (
            Metric::Failures {
                group: Some(_),
                figure: f,
            },
            Metric::Failures {
                group: None,
                figure: e,
            },
        ) => f == e,
        _ => false,
    }
}

/// Whether `a` asks its figure to be above a limit that `b` asks a figure never below it to be
/// under (or both ways round): `e2e.p95 > 20ms` with `e2e.p99 < 10ms`, `group.a.lost > 5` with
/// `lost < 3`.
fn ordered_apart(a: &Slo, b: &Slo) -> bool {
    let lower = |slo: &Slo| match slo.comparison {
        Comparison::Greater => Some((slo.limit, true)),
        Comparison::GreaterOrEqual | Comparison::Equal => Some((slo.limit, false)),
        _ => None,
    };
    let upper = |slo: &Slo| match slo.comparison {
        Comparison::Less => Some((slo.limit, true)),
        Comparison::LessOrEqual | Comparison::Equal => Some((slo.limit, false)),
        _ => None,
    };
    let apart = |low: &Slo, high: &Slo| {
        if a.metric == b.metric || !never_above(&low.metric, &high.metric) {
            return false;
        }
        match (lower(low), upper(high)) {
            (Some((above, strict_a)), Some((below, strict_b))) => {
                above > below || (above == below && (strict_a || strict_b))
            }
            _ => false,
        }
    };
    apart(a, b) || apart(b, a)
}

/// Reads each `phase.NAME` SLO again against the plan's phase names (see
/// [`Metric::scoped_to`]); one that fits none is left as parsed, for [`check_judgeable`] to
/// refuse by name.
pub(super) fn rescope_phases(slos: &mut [Slo], phases: &[Phase]) {
    let rows = phase_rows(phases);
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.push("peak");
    for slo in slos.iter_mut().filter(|s| s.metric.phase().is_some()) {
        if let Some(metric) = slo.metric.scoped_to(&names) {
            slo.metric = metric;
        }
    }
}

/// `slo.peak_phase`, when given: it must name a phase of the plan.
pub(super) fn peak_phase(
    ctx: &Ctx,
    declared: Option<String>,
    phases: &[Phase],
) -> Result<Option<String>, ScenarioError> {
    let Some(name) = declared else {
        return Ok(None);
    };
    let rows = phase_rows(phases);
    let found: Vec<_> = rows.iter().filter(|r| r.name == name).collect();
    match found.as_slice() {
        [row] if row.warmup => Err(ctx.err(
            "slo.peak_phase",
            format!("`{name}` is a warmup phase, whose measurements are discarded"),
            "name a measured phase",
        )),
        [_] => Ok(Some(name)),
        [] => Err(ctx.err(
            "slo.peak_phase",
            format!(
                "`{}` is not a phase of the plan; its phases are {}",
                crate::input::quote(&name, 60),
                phase_list(&rows)
            ),
            "name one of them",
        )),
        _ => Err(ctx.err(
            "slo.peak_phase",
            format!("{} phases are called `{name}`", found.len()),
            "give the phases distinct names",
        )),
    }
}

/// `a`, `b`, `c`: the phase names SLOs may use.
fn phase_list(rows: &[crate::scenario::phase_rows::PhaseRow]) -> String {
    let names: Vec<String> = rows.iter().map(|r| format!("`{}`", r.name)).collect();
    names.join(", ")
}

impl Produces<'_> {
    /// A `phase.NAME` SLO must name one phase of the plan (`peak`: the peak phase, when no
    /// phase is called that).
    fn check_phase(&self, ctx: &Ctx, slo: &Slo, phase: &str) -> Result<(), ScenarioError> {
        let rows = phase_rows(self.phases);
        let same_name = rows.iter().filter(|r| r.name == phase).count();
        if same_name > 1 {
            return Err(ctx.err(
                "slo",
                format!("`{slo}` names phase `{phase}`, and {same_name} phases are called that"),
                "give the phases distinct names",
            ));
        }
        let peak = peak_row(&rows, self.phases, self.peak_phase);
        let Some(row) = named_row(&rows, peak, phase).map(|r| &rows[r]) else {
            let peak_note = if phase == "peak" {
                " (`peak` means the busiest measured phase, and every phase is a warmup)"
            } else {
                ""
            };
            return Err(ctx.err(
                "slo",
                format!(
                    "`{slo}` names phase `{phase}`, which the plan does not have{peak_note}; its phases are {}",
                    phase_list(&rows)
                ),
                "name one of them, or `peak` for the busiest measured phase",
            ));
        };
        if row.warmup {
            return Err(ctx.err(
                "slo",
                format!(
                    "`{slo}` judges warmup phase `{}`, whose measurements are discarded",
                    row.name
                ),
                "judge a measured phase, or make this phase measured (warmup = false)",
            ));
        }
        let seconds = row.duration(self.phases).as_secs_f64();
        if seconds < 1.0 {
            return Err(ctx.err(
                "slo",
                format!(
                    "`{slo}` judges phase `{}`, which lasts {seconds:.3} s: per-phase figures are counted in whole seconds of the run",
                    row.name
                ),
                "judge a phase of at least 1s (mind --duration-scale), or the whole run",
            ));
        }
        Ok(())
    }

    /// What the scenario lacks to produce `metric`'s figure, if anything.
    fn missing(&self, metric: &Metric) -> Option<&'static str> {
        let named =
            |group: &Option<String>, g: &GroupSpec| group.as_ref().is_none_or(|n| *n == g.name);
        let pauses = |group: &Option<String>| {
            self.faults.iter().any(|f| match f.kind {
                FaultKind::GroupPause { group: g } => named(group, &self.groups[g]),
                _ => false,
            })
        };
        match metric {
            Metric::RecoveryLag | Metric::RecoveryP95 if recovery_peak(self.phases).is_none() => {
                Some(
                    "recovery is measured after the highest-rate phase, and no phase of a lower rate follows it",
                )
            }
            Metric::CatchupRate { group } | Metric::CatchupTime { group } if !pauses(group) => {
                Some(
                    "catch-up is measured after a `group_pause` fault of the group, and there is none",
                )
            }
            Metric::ReplayRate { group }
                if !self
                    .groups
                    .iter()
                    .any(|g| named(group, g) && g.starts_after.is_some()) =>
            {
                Some(
                    "replay is measured on a group that joins late (`starts_after`), and there is none",
                )
            }
            Metric::E2e {
                group: Some(group), ..
            } if self
                .groups
                .iter()
                .any(|g| g.name == *group && g.starts_after.is_some()) =>
            {
                Some(
                    "a group that joins late (`starts_after`) replays on purpose and records no e2e latency: judge its `replay.rate`",
                )
            }
            Metric::RetryDelay { group, .. } | Metric::Failures { group, .. }
                if !self
                    .groups
                    .iter()
                    .any(|g| named(group, g) && g.failures.is_some()) =>
            {
                Some(
                    "retries and dead letters come from a group with `failure_rate` or `poison_keys`, and there is none",
                )
            }
            Metric::Broker { .. } if self.statistics_interval.is_some() => Some(
                "the broker view counts the clients' statistics once a second, and `statistics.interval.ms` sets another interval (0 turns them off): drop that property to judge the brokers",
            ),
            _ => None,
        }
    }
}
