//! What each SLO's figure is, in words: the names CI dashboards and tables show.

use crate::format::format_number;
use crate::metrics::causes::Cause;
use crate::scenario::{
    BrokerFigure, Count, FailureFigure, FaultFigure, Metric, RebalanceFigure, Stat,
};

fn stat_words(stat: Stat) -> String {
    match stat {
        Stat::Max => "max".into(),
        Stat::Percentile(p) => format!("p{}", format_number(p)),
    }
}

/// ` of group NAME`, or ` (all groups)` for an unscoped figure.
fn of_group(group: &Option<String>) -> String {
    group
        .as_ref()
        .map_or(" (all groups)".into(), |g| format!(" of group {g}"))
}

/// The figure in words: `end-to-end latency p95 (all groups)`, `events lost of group audit`,
/// `phase peak: end-to-end latency p95 (all groups)`.
pub fn metric_words(metric: &Metric) -> String {
    match metric {
        Metric::Phase { phase, figure } => format!("phase {phase}: {}", metric_words(figure)),
        Metric::E2e { group, stat } => {
            format!(
                "end-to-end latency {}{}",
                stat_words(*stat),
                of_group(group)
            )
        }
        Metric::Publish(stat) => format!("publish latency {}", stat_words(*stat)),
        Metric::ScheduleLag(stat) => format!("generator schedule lag {}", stat_words(*stat)),
        Metric::Count { group, count } => {
            let what = match count {
                Count::Lost => "events lost",
                Count::Duplicates => "events delivered twice",
                Count::OrderingViolations => "events out of order within their key",
                Count::Gaps => "gaps in a key's sequence",
                Count::Cause(cause) => cause_words(*cause),
            };
            format!("{what}{}", of_group(group))
        }
        Metric::Failed => "sends failed".into(),
        Metric::AchievedRatio => "share of the planned rate achieved".into(),
        Metric::MbPerSec => "payload MB/s acked".into(),
        Metric::LagMax { group } => format!("highest consumer lag{}", of_group(group)),
        Metric::RecoveryLag => "seconds until lag recovered after the peak".into(),
        Metric::RecoveryP95 => "seconds until e2e p95 recovered after the peak".into(),
        Metric::Fault { fault, figure } => {
            let what = match figure {
                FaultFigure::Recovery => "recovery time",
                FaultFigure::Lost => "events lost",
                FaultFigure::Failed => "sends failed",
                FaultFigure::Duplicates => "duplicates",
                FaultFigure::OutOfOrder => "events out of order",
                FaultFigure::PublishP99 => "publish latency p99",
                FaultFigure::E2eP99 => "end-to-end latency p99",
            };
            match fault {
                Some(name) => format!("fault {name}: {what}"),
                None => format!("all faults: {what}"),
            }
        }
        Metric::Failures { group, figure } => {
            let what = match figure {
                FailureFigure::Retried => "events retried",
                FailureFigure::DeadLettered => "events dead-lettered",
                FailureFigure::DltLost => "dead letters missing from their topic",
            };
            format!("{what}{}", of_group(group))
        }
        Metric::RetryDelay { group, stat } => {
            format!("retry delay {}{}", stat_words(*stat), of_group(group))
        }
        Metric::CatchupRate { group } => format!("catch-up rate{}", of_group(group)),
        Metric::CatchupTime { group } => format!("catch-up time{}", of_group(group)),
        Metric::ReplayRate { group } => format!("replay rate{}", of_group(group)),
        Metric::Rebalance { group, figure } => {
            let what = match figure {
                RebalanceFigure::UnownedMax => "longest a partition had no owner in a rebalance",
                RebalanceFigure::PartitionSeconds => {
                    "most partition-seconds without an owner in one rebalance"
                }
                RebalanceFigure::Redelivered => "events redelivered by rebalances",
            };
            format!("{what}{}", of_group(group))
        }
        Metric::Broker { node, figure } => {
            let what = match figure {
                BrokerFigure::RttP99 => "request round trip p99 (worst client, worst second)",
                BrokerFigure::RttMean => "request round trip mean",
                BrokerFigure::RttMax => "longest request round trip",
                BrokerFigure::Unanswered => "seconds without a response",
                BrokerFigure::ThrottleMax => "longest throttle the broker asked for",
            };
            match node {
                Some(node) => format!("{what} of broker {node}"),
                None => format!("{what} (worst broker)"),
            }
        }
    }
}

/// The name of a check's figure in words, from its stable metric text; the text itself when
/// it does not parse (a baseline figure, an older summary).
pub fn check_words(metric: &str) -> String {
    if let Some(figure) = metric.strip_prefix("baseline.") {
        return format!("regression of {} against the baseline", check_words(figure));
    }
    metric
        .parse::<Metric>()
        .map_or_else(|_| metric.to_string(), |m| metric_words(&m))
}

/// What one cause's count counts, in words.
fn cause_words(cause: Cause) -> &'static str {
    match cause {
        Cause::WrittenOutOfOrder => "events the log holds out of order within their key",
        Cause::SkippedThenRead => "events read after the group had read past them",
        Cause::PartitionMoved => "events out of order because their key's partition changed",
        Cause::Unclassified => "events out of order across workers (unclassified)",
        Cause::Reread => "events read again after the group went back",
        Cause::WrittenTwice => "events the log holds twice",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_words() {
        assert_eq!(check_words("lost"), "events lost (all groups)");
        assert_eq!(
            check_words("phase.peak.group.audit.e2e.p99.9"),
            "phase peak: end-to-end latency p99.9 of group audit"
        );
        assert_eq!(
            check_words("baseline.e2e.p95"),
            "regression of end-to-end latency p95 (all groups) against the baseline"
        );
        assert_eq!(check_words("something.else"), "something.else");
    }
}
