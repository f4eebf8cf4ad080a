//! SLO expressions such as `e2e.p95 < 100ms`, shared by the scenario file and `--slo`.

use crate::format::{format_micros, format_number};
use crate::metrics::causes::Cause;

mod text;

/// A statistic of a latency distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// A percentile, e.g. 95.0 or 99.9.
    Percentile(f64),
    /// The largest value recorded.
    Max,
}

/// A count kept by the ordering and loss checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Events acked by the broker and never consumed.
    Lost,
    /// Events consumed more than once.
    Duplicates,
    /// Events consumed after a higher sequence of the same key.
    OrderingViolations,
    /// Sequence jumps never filled by the end of the drain.
    Gaps,
    /// Ordering violations or duplicates of one cause (`ordering.written_out_of_order`,
    /// `duplicates.reread`, ...).
    Cause(Cause),
}

/// What an SLO measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// End-to-end latency from the intended send time; `None` means all groups merged.
    E2e { group: Option<String>, stat: Stat },
    /// Publish latency from the intended send time to the broker's ack.
    Publish(Stat),
    /// How late the generator sent, relative to its schedule.
    ScheduleLag(Stat),
    /// An ordering or loss count; `None` means summed over groups.
    Count { group: Option<String>, count: Count },
    /// Sends that the producer reported as failed.
    Failed,
    /// Achieved rate divided by target rate over the measured phases.
    AchievedRatio,
    /// Payload MB/s (MB = 2^20 bytes, as Kafka's tools print it) the brokers acked over the
    /// measured phases.
    MbPerSec,
    /// A figure over the seconds of one phase (`phase.NAME.figure`): what the scenario
    /// produced, acked and consumed while the plan was in that phase.
    Phase { phase: String, figure: Box<Metric> },
    /// Largest consumer lag, in events, seen on the timeline.
    LagMax { group: Option<String> },
    /// Seconds after the peak until every group's lag is back under its threshold.
    RecoveryLag,
    /// Seconds after the peak until e2e p95 is back under its SLO.
    RecoveryP95,
    /// A figure of one fault (`fault.NAME.figure`), or of all faults (`faults.figure`).
    Fault {
        fault: Option<String>,
        figure: FaultFigure,
    },
    /// A figure of the groups' failure handling; `None` means summed over groups.
    Failures {
        group: Option<String>,
        figure: FailureFigure,
    },
    /// Time from the first failure of an event to its last retry's outcome.
    RetryDelay { group: Option<String>, stat: Stat },
    /// Events/s a paused group drained above the produce rate after it resumed (the slowest
    /// group when unscoped).
    CatchupRate { group: Option<String> },
    /// Seconds from a group's resume until its lag is back under its limit (the slowest).
    CatchupTime { group: Option<String> },
    /// Events/s a late group read while it replayed (the slowest when unscoped).
    ReplayRate { group: Option<String> },
    /// A figure of a group's rebalances (`group.NAME.rebalance.figure`), the worst over the
    /// groups when unscoped.
    Rebalance {
        group: Option<String>,
        figure: RebalanceFigure,
    },
    /// A figure of one broker as the clients saw it (`broker.N.figure`), the worst broker's
    /// when unscoped.
    Broker {
        node: Option<i32>,
        figure: BrokerFigure,
    },
}

/// What an SLO judges of a broker, from librdkafka's per-client windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerFigure {
    /// Request round trip: the highest one-second p99 any client saw.
    RttP99,
    /// Request round trip: the mean over the run, every client's requests.
    RttMean,
    /// Request round trip: the longest any client timed.
    RttMax,
    /// Seconds in which requests went to the broker and no client got a response.
    Unanswered,
    /// The longest throttle time the broker asked for in one response.
    ThrottleMax,
}

impl BrokerFigure {
    /// The names an SLO uses after `broker.` (or `broker.N.`).
    pub const ALL: [(BrokerFigure, &'static str); 5] = [
        (BrokerFigure::RttP99, "rtt.p99"),
        (BrokerFigure::RttMean, "rtt.mean"),
        (BrokerFigure::RttMax, "rtt.max"),
        (BrokerFigure::Unanswered, "unanswered_s"),
        (BrokerFigure::ThrottleMax, "throttle.max"),
    ];

    pub(super) fn text(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, name)| name)
    }
}

/// What an SLO judges of a group's rebalances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebalanceFigure {
    /// The longest one partition had no owner, over every rebalance.
    UnownedMax,
    /// The most partition-seconds without an owner one rebalance cost.
    PartitionSeconds,
    /// Events delivered again because of rebalances, summed.
    Redelivered,
}

impl RebalanceFigure {
    /// The names an SLO uses after `rebalance.`.
    pub const ALL: [(RebalanceFigure, &'static str); 3] = [
        (RebalanceFigure::UnownedMax, "unowned_max"),
        (RebalanceFigure::PartitionSeconds, "partition_seconds"),
        (RebalanceFigure::Redelivered, "redelivered"),
    ];

    fn text(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, name)| name)
    }
}

/// A count of the failure handling, per group or summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureFigure {
    /// Events that needed at least one retry.
    Retried,
    /// Events published to the dead-letter topic (sends attempted).
    DeadLettered,
    /// Dead-letter sends not found exactly once when the topic was read back.
    DltLost,
}

impl FailureFigure {
    fn text(self) -> &'static str {
        match self {
            FailureFigure::Retried => "retried",
            FailureFigure::DeadLettered => "dead_lettered",
            FailureFigure::DltLost => "dlt.lost",
        }
    }
}

/// What an SLO can ask of a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultFigure {
    /// Seconds from the fault's end until every group is back under its p95 and lag limits.
    Recovery,
    /// Acked events intended during the fault's window that a group never consumed.
    Lost,
    /// Sends intended during the window that failed.
    Failed,
    /// Deliveries consumed during the window that were seen before.
    Duplicates,
    /// First deliveries consumed during the window after a higher sequence of their key.
    OutOfOrder,
    /// Publish latency p99 over the window.
    PublishP99,
    /// End-to-end latency p99 over the window, all groups.
    E2eP99,
}

impl FaultFigure {
    fn text(self) -> &'static str {
        match self {
            FaultFigure::Recovery => "recovery",
            FaultFigure::Lost => "lost",
            FaultFigure::Failed => "failed",
            FaultFigure::Duplicates => "duplicates",
            FaultFigure::OutOfOrder => "out_of_order",
            FaultFigure::PublishP99 => "publish.p99",
            FaultFigure::E2eP99 => "e2e.p99",
        }
    }

    fn parse(text: &str) -> Option<FaultFigure> {
        [
            FaultFigure::Recovery,
            FaultFigure::Lost,
            FaultFigure::Failed,
            FaultFigure::Duplicates,
            FaultFigure::OutOfOrder,
            FaultFigure::PublishP99,
            FaultFigure::E2eP99,
        ]
        .into_iter()
        .find(|f| f.text() == text)
    }
}

impl Metric {
    /// The figure itself, whatever phase it is scoped to.
    pub fn unscoped(&self) -> &Metric {
        match self {
            Metric::Phase { figure, .. } => figure,
            other => other,
        }
    }

    /// The phase the metric is scoped to, if any.
    pub fn phase(&self) -> Option<&str> {
        match self {
            Metric::Phase { phase, .. } => Some(phase),
            _ => None,
        }
    }

    /// Whether a phase has this figure of its own: latencies, rates, lag, failed sends and
    /// the disorder seen while it ran. Loss and gaps are facts of the whole log (an event is
    /// missing by the end of the drain, not during a phase).
    fn exists_per_phase(&self) -> bool {
        matches!(
            self,
            Metric::E2e { .. }
                | Metric::Publish(_)
                | Metric::ScheduleLag(_)
                | Metric::Count {
                    count: Count::Duplicates | Count::OrderingViolations,
                    ..
                }
                | Metric::Failed
                | Metric::AchievedRatio
                | Metric::MbPerSec
                | Metric::LagMax { .. }
        )
    }

    /// Whether its threshold is a duration (latency) rather than a plain number.
    pub fn is_latency(&self) -> bool {
        let metric = self.unscoped();
        matches!(
            metric,
            Metric::E2e { .. }
                | Metric::Publish(_)
                | Metric::ScheduleLag(_)
                | Metric::RecoveryLag
                | Metric::RecoveryP95
                | Metric::RetryDelay { .. }
                | Metric::CatchupTime { .. }
                | Metric::Rebalance {
                    figure: RebalanceFigure::UnownedMax,
                    ..
                }
                | Metric::Broker {
                    figure: BrokerFigure::RttP99
                        | BrokerFigure::RttMean
                        | BrokerFigure::RttMax
                        | BrokerFigure::ThrottleMax,
                    ..
                }
                | Metric::Fault {
                    figure: FaultFigure::Recovery | FaultFigure::PublishP99 | FaultFigure::E2eP99,
                    ..
                }
        )
    }

    /// Whether it counts facts of the log: events that failed, were lost, came twice or out of
    /// order, or dead letters missing. A generator that fell behind its schedule delays events
    /// but cannot cause these, so such a check fails a run whose timings are not trusted.
    pub fn is_integrity(&self) -> bool {
        matches!(
            self.unscoped(),
            Metric::Count { .. }
                | Metric::Failed
                | Metric::Failures {
                    figure: FailureFigure::DltLost,
                    ..
                }
                | Metric::Fault {
                    figure: FaultFigure::Lost
                        | FaultFigure::Failed
                        | FaultFigure::Duplicates
                        | FaultFigure::OutOfOrder,
                    ..
                }
        )
    }

    /// The fault the metric is scoped to, if any.
    pub fn fault(&self) -> Option<&str> {
        match self {
            Metric::Fault { fault, .. } => fault.as_deref(),
            _ => None,
        }
    }

    /// The consumer group the metric is scoped to, if any.
    pub fn group(&self) -> Option<&str> {
        match self.unscoped() {
            Metric::E2e { group, .. }
            | Metric::Count { group, .. }
            | Metric::LagMax { group }
            | Metric::Failures { group, .. }
            | Metric::RetryDelay { group, .. }
            | Metric::CatchupRate { group }
            | Metric::CatchupTime { group }
            | Metric::Rebalance { group, .. }
            | Metric::ReplayRate { group } => group.as_deref(),
            _ => None,
        }
    }
}

/// How the actual value must compare with the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
}

impl Comparison {
    /// Whether `actual <op> limit` can hold for some value from `low` to `high` (whole
    /// numbers only when `whole`).
    pub fn can_hold(self, limit: f64, (low, high, whole): (f64, f64, bool)) -> bool {
        match self {
            Comparison::Less => limit > low,
            Comparison::LessOrEqual => limit >= low,
            Comparison::Greater => limit < high,
            Comparison::GreaterOrEqual => limit <= high,
            Comparison::Equal => (low..=high).contains(&limit) && (!whole || limit.fract() == 0.0),
        }
    }

    /// Whether `actual <op> limit` holds.
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Comparison::Less => actual < limit,
            Comparison::LessOrEqual => actual <= limit,
            Comparison::Greater => actual > limit,
            Comparison::GreaterOrEqual => actual >= limit,
            Comparison::Equal => actual == limit,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Equal => "==",
        }
    }
}

/// One service-level objective: `metric op limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub metric: Metric,
    pub comparison: Comparison,
    /// The limit; latencies are in microseconds.
    pub limit: f64,
    /// Added by surge because the scenario set no limit of its own for this metric.
    pub default: bool,
}

/// The integrity checks judged on every run: `== 0` unless the scenario or `--slo` sets a limit
/// for the same count (in any form, for all groups or for one).
pub fn integrity_defaults() -> Vec<Slo> {
    let zero = |metric| Slo {
        metric,
        comparison: Comparison::Equal,
        limit: 0.0,
        default: true,
    };
    let count = |count| Metric::Count { group: None, count };
    vec![
        zero(Metric::Failed),
        zero(count(Count::Lost)),
        zero(count(Count::Gaps)),
        zero(count(Count::OrderingViolations)),
    ]
}

impl Metric {
    /// The values the metric can take: lowest, highest, and whether only whole numbers.
    /// Latencies are in microseconds; a histogram's go from 1 µs up to an hour.
    pub fn range(&self) -> (f64, f64, bool) {
        let histogram_max = crate::metrics::latency::MAX_TRACKABLE_US as f64;
        match self.unscoped() {
            Metric::AchievedRatio => (0.0, 1.0, false),
            Metric::MbPerSec => (0.0, f64::INFINITY, false),
            Metric::E2e { .. }
            | Metric::Publish(_)
            | Metric::ScheduleLag(_)
            | Metric::RetryDelay { .. }
            | Metric::Fault {
                figure: FaultFigure::PublishP99 | FaultFigure::E2eP99,
                ..
            } => (1.0, histogram_max, false),
            Metric::CatchupRate { .. } | Metric::ReplayRate { .. } => (0.0, f64::INFINITY, false),
            Metric::Rebalance {
                figure: RebalanceFigure::PartitionSeconds,
                ..
            } => (0.0, f64::INFINITY, false),
            metric if metric.is_latency() => (0.0, f64::INFINITY, false),
            _ => (0.0, u64::MAX as f64, true),
        }
    }

    /// The same measurement, whichever group it names: `lost` and `group.a.lost` are one kind.
    pub fn same_kind(&self, other: &Metric) -> bool {
        match (self, other) {
            (Metric::Count { count: a, .. }, Metric::Count { count: b, .. }) => a == b,
            (Metric::Failures { figure: a, .. }, Metric::Failures { figure: b, .. }) => a == b,
            (Metric::Rebalance { figure: a, .. }, Metric::Rebalance { figure: b, .. }) => a == b,
            _ => self == other,
        }
    }
}

impl Slo {
    /// The limit as a user reads it (`100ms`, `0`, `0.99`).
    pub fn limit_text(&self) -> String {
        if self.metric.is_latency() {
            format_micros(self.limit)
        } else {
            format_number(self.limit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_slos_parse_to_microseconds() {
        let slo: Slo = "e2e.p95 < 100ms".parse().unwrap();
        assert_eq!(
            slo.metric,
            Metric::E2e {
                group: None,
                stat: Stat::Percentile(95.0)
            }
        );
        assert_eq!(slo.comparison, Comparison::Less);
        assert_eq!(slo.limit, 100_000.0);
        assert_eq!(slo.to_string(), "e2e.p95 < 100ms");
        let tiny: Slo = "e2e.p95<1us".parse().unwrap();
        assert_eq!(tiny.limit, 1.0);
    }

    #[test]
    fn broker_slos_name_a_figure_and_maybe_a_node() {
        let slo: Slo = "broker.3.rtt.p99 < 250ms".parse().unwrap();
        assert_eq!(
            slo.metric,
            Metric::Broker {
                node: Some(3),
                figure: BrokerFigure::RttP99
            }
        );
        assert_eq!(slo.limit, 250_000.0);
        for bad in [
            "broker.rtt.p95 < 1s",
            "broker.x.rtt.p99 < 1s",
            "broker.3 < 1s",
        ] {
            let error = bad.parse::<Slo>().unwrap_err();
            assert!(error.contains("broker.N.rtt.p99"), "{bad}: {error}");
        }
        assert!(
            "broker.rtt.p99 < 5"
                .parse::<Slo>()
                .unwrap_err()
                .contains("needs a unit")
        );
    }

    #[test]
    fn group_scoped_and_count_slos_round_trip() {
        for text in [
            "group.payments.e2e.p99.9 <= 250ms",
            "group.audit.lost == 0",
            "ordering_violations == 0",
            "rate.achieved_ratio >= 0.99",
            "lag.max < 10000",
            "publish.max < 1s",
            "schedule_lag.p99 < 20ms",
            "recovery.lag < 60s",
            "recovery.p95 <= 30s",
            "dlt.lost == 0",
            "group.orders.dead_lettered < 100",
            "retried <= 50",
            "retry_delay.p99 < 8s",
            "group.audit.retry_delay.max <= 10s",
            "group.audit.catchup_rate >= 5000",
            "catchup_time < 90s",
            "group.replayer.replay.rate > 20000",
            "rate.mb_per_s >= 40",
            "phase.peak.e2e.p95 < 100ms",
            "phase.peak.rate.achieved_ratio >= 0.99",
            "phase.peak.group.analytics.lag.max < 10000",
            "phase.ramp.up.group.orders.e2e.p99.9 <= 250ms",
            "phase.normal.rate.mb_per_s > 1.5",
            "phase.peak:spike.ordering_violations == 0",
            "broker.rtt.p99 < 200ms",
            "broker.2.rtt.mean < 20ms",
            "broker.throttle.max < 1ms",
            "broker.rtt.max < 1s",
            "broker.1.unanswered_s == 0",
        ] {
            let slo: Slo = text.parse().unwrap();
            assert_eq!(slo.to_string(), text);
        }
    }

    #[test]
    fn bad_slos_explain_the_fix() {
        assert!(
            "e2e.p95 < 100"
                .parse::<Slo>()
                .unwrap_err()
                .contains("needs a unit")
        );
        assert!(
            "latency < 5ms"
                .parse::<Slo>()
                .unwrap_err()
                .contains("unknown metric")
        );
        assert!(
            "lost is zero"
                .parse::<Slo>()
                .unwrap_err()
                .contains("no comparison")
        );
        assert!("e2e.p100 < 1ms".parse::<Slo>().is_err());
        assert!(
            "e2e.p97 < 1ms"
                .parse::<Slo>()
                .unwrap_err()
                .contains("p99.9")
        );
        assert!("group.x.publish.p99 < 1ms".parse::<Slo>().is_err());
        for text in [
            "phase.peak.lost == 0",
            "phase.peak.gaps == 0",
            "phase..e2e.p95 < 1ms",
        ] {
            let problem = text.parse::<Slo>().unwrap_err();
            assert!(
                problem.contains("not a figure a phase has"),
                "{text}: {problem}"
            );
        }
        assert!("phase.peak.recovery.lag < 1s".parse::<Slo>().is_err());
    }
}

/// The e2e p95 and lag limits a recovery (after the peak, a fault or a pause) is judged
/// against: back under both means recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryLimits {
    pub e2e_p95_us: u64,
    pub lag: u64,
}

impl RecoveryLimits {
    /// ADR-005's numbers: e2e p95 under 100 ms, and its consumer-lag alert at 10,000 events.
    pub const ADR: RecoveryLimits = RecoveryLimits {
        e2e_p95_us: 100_000,
        lag: 10_000,
    };
}

impl super::Scenario {
    /// For a group, its own `group.NAME.e2e.p95` and `group.NAME.lag.max` SLOs first; then the
    /// scenario's `e2e.p95` and `lag.max`; then [`RecoveryLimits::ADR`].
    pub fn recovery_limits(&self, group: Option<&str>) -> RecoveryLimits {
        let find = |wanted: &dyn Fn(&Metric) -> bool| {
            self.slos
                .iter()
                .find(|s| wanted(&s.metric))
                .map(|s| s.limit as u64)
        };
        let is_p95 = |stat: &Stat| matches!(stat, Stat::Percentile(p) if *p == 95.0);
        let own = |name: &Option<String>| group.is_some() && name.as_deref() == group;
        let e2e_p95_us =
            find(&|m| matches!(m, Metric::E2e { group: g, stat } if own(g) && is_p95(stat)))
                .or_else(|| {
                    find(&|m| matches!(m, Metric::E2e { group: None, stat } if is_p95(stat)))
                })
                .unwrap_or(RecoveryLimits::ADR.e2e_p95_us);
        let lag = find(&|m| matches!(m, Metric::LagMax { group: g } if own(g)))
            .or_else(|| find(&|m| matches!(m, Metric::LagMax { group: None })))
            .unwrap_or(RecoveryLimits::ADR.lag);
        RecoveryLimits { e2e_p95_us, lag }
    }
}
