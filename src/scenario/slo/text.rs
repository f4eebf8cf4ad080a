//! The SLO's text form, read and written: `e2e.p95 < 100ms`, `group.NAME.lost == 0`,
//! `phase.NAME.figure`, with the errors that name every metric a check may use.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::super::units::parse_duration;
use super::{
    BrokerFigure, Comparison, Count, FailureFigure, FaultFigure, Metric, RebalanceFigure, Slo, Stat,
};
use crate::format::format_number;
use crate::metrics::causes::Cause;

/// Percentiles a summary keeps, and so the ones an SLO may name.
pub const SUPPORTED_PERCENTILES: [f64; 5] = [50.0, 90.0, 95.0, 99.0, 99.9];

fn parse_stat(text: &str) -> Option<Stat> {
    if text == "max" {
        return Some(Stat::Max);
    }
    let number: f64 = text.strip_prefix('p')?.parse().ok()?;
    SUPPORTED_PERCENTILES
        .contains(&number)
        .then_some(Stat::Percentile(number))
}

fn stat_text(stat: Stat) -> String {
    match stat {
        Stat::Max => "max".into(),
        Stat::Percentile(p) => format!("p{}", format_number(p)),
    }
}

/// The SLO name of one cause's count: `ordering.CAUSE` for violations, `duplicates.CAUSE`.
fn cause_metric(cause: Cause) -> String {
    let family = if cause.is_violation() {
        "ordering"
    } else {
        "duplicates"
    };
    format!("{family}.{}", cause.name())
}

/// The rebalance figure `rebalance.NAME` names, if it does.
fn rebalance_figure(text: &str) -> Option<RebalanceFigure> {
    let name = text.strip_prefix("rebalance.")?;
    RebalanceFigure::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(f, _)| *f)
}

/// The cause an SLO name counts, if it names one.
fn cause_named(text: &str) -> Option<Cause> {
    crate::metrics::causes::ALL
        .into_iter()
        .find(|&c| cause_metric(c) == text)
}

const METRIC_HELP: &str = "known metrics: e2e.p95, e2e.p99, e2e.max, publish.p99, schedule_lag.p99, \
(percentiles p50, p90, p95, p99, p99.9, and max), \
lost, duplicates, ordering_violations, gaps, ordering.written_out_of_order, ordering.skipped_then_read, \
ordering.partition_moved, ordering.unclassified, duplicates.reread, duplicates.written_twice, failed, rate.achieved_ratio, rate.mb_per_s, lag.max, recovery.lag, \
recovery.p95, dead_lettered, retried, dlt.lost, retry_delay.p99, catchup_rate, catchup_time, \
replay.rate, rebalance.unowned_max, rebalance.partition_seconds, rebalance.redelivered, \
broker.rtt.p99, broker.rtt.mean, broker.rtt.max, broker.unanswered_s, broker.throttle.max (one broker: broker.N.rtt.p99), per group \
group.NAME.e2e.p95, group.NAME.lost, group.NAME.lag.max, group.NAME.catchup_time ..., per fault fault.NAME.recovery, \
fault.NAME.lost, fault.NAME.failed, fault.NAME.duplicates, fault.NAME.out_of_order, \
fault.NAME.publish.p99, fault.NAME.e2e.p99, and over all faults faults.lost, faults.failed, \
faults.duplicates, faults.out_of_order, faults.recovery, and per phase phase.NAME.e2e.p95, \
phase.NAME.group.NAME.e2e.p99, phase.NAME.publish.p99, phase.NAME.schedule_lag.p99, \
phase.NAME.rate.achieved_ratio, phase.NAME.rate.mb_per_s, phase.NAME.lag.max, \
phase.NAME.group.NAME.lag.max, phase.NAME.failed, phase.NAME.duplicates, \
phase.NAME.ordering_violations (`phase.peak` is the peak phase when none is called `peak`)";

impl Metric {
    /// A `phase.NAME.figure` metric read again against the plan's phase names, longest first:
    /// a name with dots (`x.group.g`) is found whole, where the first split that parses would
    /// have cut it. `None` when no name of the plan fits.
    pub fn scoped_to(&self, names: &[&str]) -> Option<Metric> {
        let text = self.to_string();
        let scoped = text.strip_prefix("phase.")?;
        let mut names: Vec<&str> = names.to_vec();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        names.into_iter().find_map(|name| {
            let figure: Metric = scoped.strip_prefix(name)?.strip_prefix('.')?.parse().ok()?;
            figure.exists_per_phase().then(|| Metric::Phase {
                phase: name.to_string(),
                figure: Box::new(figure),
            })
        })
    }
}

/// `phase.NAME.figure`: the first split of NAME and figure whose figure exists per phase
/// (a phase name may hold dots; validation reads it again against the plan's names).
fn parse_phase_scoped(scoped: &str) -> Option<Metric> {
    scoped
        .match_indices('.')
        .map(|(at, _)| (&scoped[..at], &scoped[at + 1..]))
        .filter(|(name, _)| !name.is_empty())
        .find_map(|(name, rest)| {
            let figure = rest.parse::<Metric>().ok()?;
            figure.exists_per_phase().then(|| Metric::Phase {
                phase: name.to_string(),
                figure: Box::new(figure),
            })
        })
}

/// `FIGURE` or `N.FIGURE` after `broker.`.
fn parse_broker(scoped: &str) -> Option<Metric> {
    let (node, figure) = match scoped.split_once('.') {
        Some((node, rest)) if !node.is_empty() && node.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(node.parse::<i32>().ok()?), rest)
        }
        _ => (None, scoped),
    };
    let figure = BrokerFigure::ALL
        .iter()
        .find(|(_, name)| *name == figure)?
        .0;
    Some(Metric::Broker { node, figure })
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || format!("unknown metric `{text}`; {METRIC_HELP}");
        if let Some(scoped) = text.strip_prefix("phase.") {
            return parse_phase_scoped(scoped).ok_or_else(|| {
                format!(
                    "`{text}` is not a figure a phase has: write phase.NAME.FIGURE, where FIGURE is \
                     e2e.pNN, group.NAME.e2e.pNN, publish.pNN, schedule_lag.pNN, \
                     rate.achieved_ratio, rate.mb_per_s, lag.max, group.NAME.lag.max, failed, \
                     duplicates or ordering_violations (loss and gaps are judged over the whole \
                     run: use `lost`, `gaps`)"
                )
            });
        }
        if let Some(scoped) = text.strip_prefix("broker.") {
            return parse_broker(scoped).ok_or_else(|| {
                format!(
                    "unknown broker metric `{text}`: write broker.rtt.p99, broker.rtt.mean, \
                     broker.rtt.max, broker.unanswered_s or broker.throttle.max, or one broker's \
                     as broker.N.rtt.p99 (N its node id)"
                )
            });
        }
        if let Some(scoped) = text.strip_prefix("fault.") {
            let (name, figure) = scoped.split_once('.').ok_or_else(unknown)?;
            let figure = FaultFigure::parse(figure).ok_or_else(unknown)?;
            return Ok(Metric::Fault {
                fault: Some(name.to_string()),
                figure,
            });
        }
        if let Some(figure) = text.strip_prefix("faults.") {
            let figure = FaultFigure::parse(figure)
                .filter(|f| !matches!(f, FaultFigure::PublishP99 | FaultFigure::E2eP99))
                .ok_or_else(unknown)?;
            return Ok(Metric::Fault {
                fault: None,
                figure,
            });
        }
        let (group, rest) = match text.strip_prefix("group.") {
            Some(scoped) => {
                let (name, rest) = scoped.split_once('.').ok_or_else(unknown)?;
                (Some(name.to_string()), rest)
            }
            None => (None, text),
        };
        let count = |count| Metric::Count {
            group: group.clone(),
            count,
        };
        let metric = match rest {
            "lost" => count(Count::Lost),
            "duplicates" => count(Count::Duplicates),
            "ordering_violations" | "out_of_order" => count(Count::OrderingViolations),
            "gaps" => count(Count::Gaps),
            cause if cause_named(cause).is_some() => {
                count(Count::Cause(cause_named(cause).expect("checked")))
            }
            "lag.max" => Metric::LagMax {
                group: group.clone(),
            },
            "retried" | "dead_lettered" | "dlt.lost" => Metric::Failures {
                group: group.clone(),
                figure: match rest {
                    "retried" => FailureFigure::Retried,
                    "dead_lettered" => FailureFigure::DeadLettered,
                    _ => FailureFigure::DltLost,
                },
            },
            "catchup_rate" => Metric::CatchupRate {
                group: group.clone(),
            },
            "catchup_time" => Metric::CatchupTime {
                group: group.clone(),
            },
            "replay.rate" => Metric::ReplayRate {
                group: group.clone(),
            },
            figure if rebalance_figure(figure).is_some() => Metric::Rebalance {
                group: group.clone(),
                figure: rebalance_figure(figure).expect("checked"),
            },
            "failed" if group.is_none() => Metric::Failed,
            "rate.achieved_ratio" if group.is_none() => Metric::AchievedRatio,
            "rate.mb_per_s" if group.is_none() => Metric::MbPerSec,
            "recovery.lag" if group.is_none() => Metric::RecoveryLag,
            "recovery.p95" if group.is_none() => Metric::RecoveryP95,
            _ => {
                let (family, stat) = rest.split_once('.').ok_or_else(unknown)?;
                let stat = parse_stat(stat).ok_or_else(unknown)?;
                match (family, &group) {
                    ("e2e", _) => Metric::E2e {
                        group: group.clone(),
                        stat,
                    },
                    ("publish", None) => Metric::Publish(stat),
                    ("retry_delay", _) => Metric::RetryDelay {
                        group: group.clone(),
                        stat,
                    },
                    ("schedule_lag", None) => Metric::ScheduleLag(stat),
                    _ => return Err(unknown()),
                }
            }
        };
        Ok(metric)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Metric::Phase { phase, figure } = self {
            return write!(f, "phase.{phase}.{figure}");
        }
        if let Some(group) = self.group() {
            write!(f, "group.{group}.")?;
        }
        match self {
            Metric::E2e { stat, .. } => write!(f, "e2e.{}", stat_text(*stat)),
            Metric::Publish(stat) => write!(f, "publish.{}", stat_text(*stat)),
            Metric::ScheduleLag(stat) => write!(f, "schedule_lag.{}", stat_text(*stat)),
            Metric::Count { count, .. } => f.write_str(match count {
                Count::Lost => "lost",
                Count::Duplicates => "duplicates",
                Count::OrderingViolations => "ordering_violations",
                Count::Gaps => "gaps",
                Count::Cause(cause) => return write!(f, "{}", cause_metric(*cause)),
            }),
            Metric::Failed => f.write_str("failed"),
            Metric::AchievedRatio => f.write_str("rate.achieved_ratio"),
            Metric::MbPerSec => f.write_str("rate.mb_per_s"),
            Metric::Phase { .. } => unreachable!("written above"),
            Metric::LagMax { .. } => f.write_str("lag.max"),
            Metric::Failures { figure, .. } => f.write_str(figure.text()),
            Metric::RetryDelay { stat, .. } => write!(f, "retry_delay.{}", stat_text(*stat)),
            Metric::CatchupRate { .. } => f.write_str("catchup_rate"),
            Metric::CatchupTime { .. } => f.write_str("catchup_time"),
            Metric::ReplayRate { .. } => f.write_str("replay.rate"),
            Metric::Rebalance { figure, .. } => write!(f, "rebalance.{}", figure.text()),
            Metric::Broker {
                node: Some(node),
                figure,
            } => write!(f, "broker.{node}.{}", figure.text()),
            Metric::Broker { node: None, figure } => write!(f, "broker.{}", figure.text()),
            Metric::RecoveryLag => f.write_str("recovery.lag"),
            Metric::RecoveryP95 => f.write_str("recovery.p95"),
            Metric::Fault {
                fault: Some(name),
                figure,
            } => write!(f, "fault.{name}.{}", figure.text()),
            Metric::Fault {
                fault: None,
                figure,
            } => write!(f, "faults.{}", figure.text()),
        }
    }
}

impl FromStr for Slo {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shape = "write an SLO as `METRIC OP LIMIT`, e.g. `e2e.p95 < 100ms` or `lost == 0`";
        let operators = [
            ("<=", Comparison::LessOrEqual),
            (">=", Comparison::GreaterOrEqual),
            ("==", Comparison::Equal),
            ("<", Comparison::Less),
            (">", Comparison::Greater),
        ];
        let (position, symbol, comparison) = operators
            .iter()
            .filter_map(|(symbol, comparison)| {
                text.find(symbol).map(|pos| (pos, *symbol, *comparison))
            })
            .min_by_key(|(pos, symbol, _)| (*pos, usize::MAX - symbol.len()))
            .ok_or_else(|| format!("`{text}` has no comparison; {shape}"))?;
        let metric: Metric = text[..position].trim().parse()?;
        let limit_text = text[position + symbol.len()..].trim();
        let limit = if metric.is_latency() {
            let duration: Duration = parse_duration(limit_text).map_err(|_| {
                format!("`{text}`: {metric} is a latency, so its limit needs a unit, e.g. 100ms")
            })?;
            duration.as_secs_f64() * 1e6
        } else {
            limit_text
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{text}`: the limit of {metric} must be a number"))?
        };
        Ok(Slo {
            metric,
            comparison,
            limit,
            default: false,
        })
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric,
            self.comparison.symbol(),
            self.limit_text()
        )
    }
}
