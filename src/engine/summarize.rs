//! Turns a [`RunRecord`] into the plain-data [`Summary`].

use super::rebalance_figures::rebalance_summaries;
use crate::kafka::librdkafka_version;
use crate::metrics::{LatencyStats, TimelinePoint};
use crate::scenario::Scenario;
use crate::summary::{
    BrokerSummary, ClusterSummary, Environment, FailureSummary, FaultSummary, GroupSummary,
    LOSS_CAUSES, Latency, LossCauses, LostExample, Ordering, OrderingExample, PhaseSummary,
    Produced, Recovery, SCHEMA, ScenarioInfo, Startup, Status, Summary, Verdict,
};

use super::record::RunRecord;
use super::redact::{redact_errors, redact_properties, redact_source};

/// Where the run went, for the summary.
#[derive(Debug, Clone)]
pub struct Target {
    /// `embedded` or `external`.
    pub kind: String,
    pub bootstrap: String,
    pub brokers: usize,
}

/// The run's client errors, then what the timeline recorded (each with its second), at most
/// ten of those.
fn with_timeline_events(record: &RunRecord) -> Vec<String> {
    let mut errors = record.errors.clone();
    let events = record
        .timeline
        .iter()
        .flat_map(|p| p.events.iter().map(move |e| format!("at {:.0}s: {e}", p.t)));
    errors.extend(events.take(10));
    errors
}

/// Facts about the load-generator host.
pub fn environment() -> Environment {
    let memory = sysinfo::System::new().map(|mut system| {
        system.refresh_memory();
        system.total_memory()
    });
    Environment {
        host: sysinfo::System::host_name().unwrap_or_else(|_| "unknown".into()),
        os: sysinfo::System::long_os_version().unwrap_or_else(|_| std::env::consts::OS.into()),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib: (memory.unwrap_or(0) as f64 / (1u64 << 30) as f64 * 10.0).round() / 10.0,
        librdkafka_version: librdkafka_version(),
    }
}

fn started_at(unix_us: u64) -> String {
    chrono::DateTime::from_timestamp_micros(unix_us as i64).map_or_else(String::new, |t| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    })
}

/// Builds the summary; the verdict is left pending for [`crate::verdict::judge`].
pub fn summarize(
    scenario: &Scenario,
    record: &RunRecord,
    run_id: &str,
    target: &Target,
) -> Summary {
    let partial_reason = partial_reason(scenario, record);
    let faults = super::fault_figures::fault_summaries(scenario, record);
    Summary {
        schema: SCHEMA.into(),
        surge_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: option_env!("VERGEN_GIT_SHA").map(String::from),
        settings: scenario.settings.clone(),
        baseline: None,
        workers: None,
        run_id: run_id.into(),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            file: scenario.source.display().to_string(),
            description: scenario.description.clone(),
            planned_duration_s: scenario.planned_duration().as_secs_f64(),
            source: redact_source(&scenario.source_text),
            topics: (scenario.topics.iter())
                .map(|t| crate::summary::TopicInfo {
                    name: t.name.clone(),
                    partitions: t.partitions,
                    replication_factor: t.replication_factor,
                })
                .collect(),
        },
        started_at: started_at(record.started_unix_us),
        complete: partial_reason.is_none(),
        partial_reason,
        environment: environment(),
        cluster: ClusterSummary {
            kind: target.kind.clone(),
            bootstrap: target.bootstrap.clone(),
            brokers: target.brokers,
            producer_config: redact_properties(&scenario.cluster.producer),
            consumer_config: redact_properties(&scenario.cluster.consumer),
        },
        notes: notes(scenario, record, target),
        warnings: scenario
            .cluster
            .insecure_tls
            .then(|| crate::scenario::INSECURE_TLS_WARNING.to_string())
            .into_iter()
            .chain(scenario.cluster.protocol_override.clone())
            .chain(scenario.cluster.producer_reorders.clone())
            .chain(scenario.embedded_soak_warning())
            .collect(),
        verdict: Verdict {
            status: Status::Error,
            reasons: vec!["not judged yet".into()],
            checks: Vec::new(),
            integrity_judged: false,
            trust: Vec::new(),
        },
        produced: produced(record),
        latency: latency(scenario, record),
        groups: (0..record.groups.len())
            .map(|index| group_summary(scenario, record, index))
            .collect(),
        phases: phase_summaries(scenario, record),
        by_phase: super::phase_figures::phase_figures(scenario, record),
        timeline: record
            .timeline
            .iter()
            .map(|point| TimelinePoint {
                events: redact_errors(&point.events, scenario),
                ..point.clone()
            })
            .collect(),
        startup: Startup {
            group_join_ms: record.group_join.as_millis() as u64,
            run_time_s: (record.run_time.as_secs_f64() * 1000.0).round() / 1000.0,
        },
        recovery: recovery(scenario, record),
        label: scenario.label.clone(),
        capacity: None,
        errors: redact_errors(&with_timeline_events(record), scenario),
        brokers: broker_summaries(record, &faults),
        breakdown: super::breakdown::breakdown(scenario, record),
        faults,
    }
}

/// A row per broker the clients reported, with its worst second inside each applied fault's
/// window (from its start to the groups' recovery).
fn broker_summaries(record: &RunRecord, faults: &[FaultSummary]) -> Vec<BrokerSummary> {
    let windows: Vec<(String, f64, f64)> = faults
        .iter()
        .filter(|f| f.applied)
        .map(|f| (f.name.clone(), f.start_s, f.impact_end_s))
        .collect();
    record
        .brokers
        .iter()
        .map(|(&node, seconds)| BrokerSummary::from_seconds(node, seconds.clone(), &windows))
        .collect()
}

/// Why the run's figures are partial, when they are.
fn partial_reason(scenario: &Scenario, record: &RunRecord) -> Option<String> {
    if let Some(fatal) = &record.fatal {
        Some(fatal.clone())
    } else if record.interrupted {
        Some(
            "interrupted (Ctrl-C or SIGTERM): production stopped early and the drain was bounded"
                .to_string(),
        )
    } else if record.out_of_time {
        Some(format!(
            "the generator was still behind schedule {:.0}s after the plan ended (run.send_grace)",
            scenario.limits.send_grace.as_secs_f64()
        ))
    } else {
        None
    }
}

/// What was sent, and the rate achieved: the share of the plan sent on time (late sends
/// stretch the time it took) applied to the measured phases' target rate.
fn produced(record: &RunRecord) -> Produced {
    let (measured_planned, measured_time) = record.plan.measured();
    let planned = record.plan.planned_events().max(1.0);
    let plan_time = record.plan.duration();
    let stretch = plan_time.as_secs_f64() / record.last_send.max(plan_time).as_secs_f64().max(1e-9);
    let achieved_ratio = (record.sent as f64 / planned * stretch).min(1.0);
    let measured_seconds = measured_time.as_secs_f64();
    let target_rate = measured_planned / measured_seconds.max(1e-9);
    let achieved_rate = target_rate * achieved_ratio;
    Produced {
        sent: record.sent,
        acked: record.acked,
        acked_by_topic: record.acked_by_topic.clone(),
        sent_bytes: record.sent_bytes,
        acked_bytes: record
            .acked_bytes_by_topic
            .iter()
            .map(|(_, bytes)| *bytes)
            .fold(0, u64::saturating_add),
        acked_bytes_by_topic: record.acked_bytes_by_topic.clone(),
        acked_mb_per_s: super::phase_figures::measured_acked_mb_per_s(record),
        failed: record.failed,
        not_sent: record.not_sent,
        // Unrounded: SLOs compare these, and reports round them only to print.
        target_rate,
        achieved_rate,
        achieved_ratio,
        measured_seconds,
    }
}

/// The run's latencies: e2e merged over the groups that are not set aside, retry delays over
/// the groups that fail events.
fn latency(scenario: &Scenario, record: &RunRecord) -> Latency {
    let mut e2e_all = crate::metrics::new_histogram();
    let mut retry_delay_all: Option<hdrhistogram::Histogram<u64>> = None;
    for (index, g) in record.groups.iter().enumerate() {
        // Every histogram is built with the same bounds, so adding cannot fail.
        if !scenario.is_set_aside(index) {
            let _ = e2e_all.add(&g.e2e);
        }
        if let Some(failures) = &g.failures {
            let _ = retry_delay_all
                .get_or_insert_with(crate::metrics::new_histogram)
                .add(&failures.retry_delay);
        }
    }
    Latency {
        publish_us: LatencyStats::of(&record.publish),
        schedule_lag_us: LatencyStats::of(&record.schedule_lag),
        e2e_us: LatencyStats::of(&e2e_all),
        retry_delay_us: retry_delay_all.as_ref().map(LatencyStats::of),
    }
}

fn group_summary(scenario: &Scenario, record: &RunRecord, index: usize) -> GroupSummary {
    let g = &record.groups[index];
    let key_name = |aggregate: u16, index: u32| {
        let name = scenario
            .aggregates
            .get(aggregate as usize)
            .map_or("unknown", |a| a.name.as_str());
        format!("{name}-{index:010}")
    };
    GroupSummary {
        name: g.name.clone(),
        members: g.members,
        topics: g.topics.clone(),
        consumed: g.consumed,
        consumed_bytes: g.consumed_bytes,
        unique: g.unique,
        e2e_latency_us: LatencyStats::of(&g.e2e),
        ordering: Ordering {
            out_of_order: g.out_of_order,
            duplicates: g.duplicates,
            gaps: g.loss.gaps,
            causes: g.causes,
            examples: g
                .cause_examples
                .iter()
                .map(|e| OrderingExample {
                    cause: e.cause,
                    key: key_name(e.key.aggregate(), e.key.index()),
                    producer: e.key.producer(),
                    sequence: e.sequence,
                    topic: scenario
                        .topics
                        .get(e.at.partition.topic())
                        .map_or_else(String::new, |t| t.name.clone()),
                    partition: e.at.partition.partition() as u32,
                    offset: e.at.offset,
                    after_sequence: e.after_sequence,
                    after_partition: e.after.partition.partition() as u32,
                    after_offset: e.after.offset,
                })
                .collect(),
        },
        lost: g.loss.lost,
        loss_causes: loss_causes(g),
        unread: g.loss.unread,
        lost_examples: g
            .loss
            .examples
            .iter()
            .map(|e| {
                let classed = g.loss_audit.classed.get(&(e.key, e.sequence));
                let at = classed.and_then(|(_, at)| *at);
                LostExample {
                    key: key_name(e.key.aggregate(), e.key.index()),
                    producer: e.key.producer(),
                    sequence: e.sequence,
                    cause: classed.map(|(cause, _)| *cause),
                    partition: at.map(|(p, _)| p.partition() as u32),
                    offset: at.map(|(_, offset)| offset),
                }
            })
            .collect(),
        foreign: g.foreign,
        max_lag: g.max_lag,
        final_lag: g.final_lag,
        errors: redact_errors(&with_ownership_note(g), scenario),
        failures: g.failures.as_ref().map(|f| FailureSummary {
            retry_delay_us: LatencyStats::of(&f.retry_delay),
            e2e_failed_us: LatencyStats::of(&f.e2e_failed),
            errors: redact_errors(&f.counts.errors, scenario),
            ..f.counts.clone()
        }),
        catchups: g.catchups.clone(),
        set_aside: scenario.is_set_aside(index),
        replay: g.replay.clone(),
        protocol: Some(protocol_summary(&scenario.groups[index].protocol)),
        rebalances: rebalance_summaries(scenario, record, index),
        rebalances_truncated: g.ownership.truncated,
    }
}

/// A group's errors, and a note when its ownership record reached its cap.
fn with_ownership_note(g: &super::record::GroupRecord) -> Vec<String> {
    let mut errors = g.errors.clone();
    if g.ownership.truncated {
        errors.push("the group's partition-ownership record reached its cap (100,000 entries): later rebalances are not in its rebalance table, and rebalance SLOs are not judged".into());
    }
    errors
}

fn protocol_summary(protocol: &crate::scenario::GroupProtocol) -> crate::summary::ProtocolSummary {
    crate::summary::ProtocolSummary {
        name: protocol.name().into(),
        assignor: protocol.assignor().map(String::from),
        incremental: protocol.is_incremental(),
        description: protocol.describe(),
    }
}

/// The audit's causes, with the lost events it did not class (beyond its cap, or a merged
/// run's) as unexplained: the causes add up to `lost`.
fn loss_causes(g: &super::record::GroupRecord) -> LossCauses {
    let mut causes = g.loss_audit.causes;
    let classed: u64 = LOSS_CAUSES.iter().map(|&c| causes.get(c)).sum();
    causes.unexplained = causes
        .unexplained
        .saturating_add(g.loss.lost.saturating_sub(classed));
    causes
}

fn phase_summaries(scenario: &Scenario, record: &RunRecord) -> Vec<PhaseSummary> {
    record
        .plan
        .phase_spans()
        .into_iter()
        .zip(&scenario.phases)
        .map(|((name, start, end, warmup), phase)| PhaseSummary {
            name,
            start_s: start.as_secs_f64(),
            end_s: end.as_secs_f64(),
            warmup,
            target_rate: phase.shape.mean_rate(),
        })
        .collect()
}

/// Seconds from the end of the highest-rate phase (when a lower rate follows it) until the
/// groups' lag, and then e2e p95, are back under their thresholds.
fn recovery(scenario: &Scenario, record: &RunRecord) -> Option<Recovery> {
    let index = crate::scenario::recovery_peak(&scenario.phases)?;
    let phase = &scenario.phases[index];
    let limits = scenario.recovery_limits(None);
    let (p95_threshold_us, lag_threshold) = (limits.e2e_p95_us, limits.lag);
    let at = record.plan.phase_spans()[index].2.as_secs_f64();
    // Timeline points close one-second intervals: the first one ending at or after `at`
    // already covers the end of the peak, so being under the threshold there counts as 0.
    let after: Vec<_> = record
        .timeline
        .iter()
        .filter(|p| p.t >= at - 1e-6)
        .collect();
    let first = after.first().map_or(at, |p| p.t);
    let seconds = |point: &&crate::metrics::TimelinePoint| {
        super::fault_figures::tick_seconds(point.t - first)
    };
    Some(Recovery {
        after_phase: phase.name.clone(),
        at_s: at,
        lag_threshold,
        lag_s: after
            .iter()
            .find(|p| p.max_lag() <= lag_threshold)
            .map(seconds),
        p95_threshold_us,
        p95_s: after
            .iter()
            .find(|p| p.e2e_p95.is_some_and(|v| v <= p95_threshold_us))
            .map(seconds),
    })
}

/// The embedded broker keeps about 5 MB or 100k batches per partition.
const EMBEDDED_PARTITION_BYTES: f64 = 5.0 * 1024.0 * 1024.0;
const EMBEDDED_PARTITION_BATCHES: f64 = 100_000.0;

/// The scenario's notes, plus a warning when a group's backlog neared the embedded
/// broker's retention: events it discarded would be counted as lost.
fn notes(scenario: &Scenario, record: &RunRecord, target: &Target) -> Vec<String> {
    let mut notes = scenario.notes.clone();
    if record.statistics_dropped > 0 {
        notes.push(format!(
            "{} of the clients' statistics documents were dropped (more than the broker view \
             keeps between two seconds): the broker table undercounts",
            record.statistics_dropped
        ));
    }
    if target.kind != "embedded" {
        return notes;
    }
    let mean_size = super::phase_figures::mean_event_bytes(scenario);
    for (group, spec) in record.groups.iter().zip(&scenario.groups) {
        let partitions: i32 = spec
            .topics
            .iter()
            .map(|&t| scenario.topics[t].partitions)
            .sum();
        let per_partition = group.max_lag as f64 / partitions.max(1) as f64;
        if per_partition * mean_size > 0.8 * EMBEDDED_PARTITION_BYTES
            || per_partition > 0.8 * EMBEDDED_PARTITION_BATCHES
        {
            notes.push(format!(
                "group {} fell up to {} events behind: near the embedded broker's retention \
                 (about 5 MB or 100k batches per partition), so some `lost` events may have \
                 been discarded by the broker rather than lost by the pipeline",
                group.name, group.max_lag
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Overrides;

    /// A scenario file in a fresh directory, validated with no overrides.
    fn scenario(name: &str, text: &str) -> (std::path::PathBuf, Scenario) {
        let dir = std::env::temp_dir().join(format!("surge-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.toml");
        std::fs::write(&path, text).unwrap();
        let scenario = crate::validate(&path, &Overrides::default()).unwrap();
        (dir, scenario)
    }

    #[test]
    fn the_achieved_ratio_is_compared_unrounded() {
        let (dir, scenario) = scenario(
            "unrounded",
            "[[topics]]\nname = \"t\"\n[[events]]\nname = \"E\"\ntopic = \"t\"\n[[phases]]\nrate = \"10k/s\"\nduration = \"10s\"\n",
        );
        let mut record = RunRecord::not_started(&scenario, String::new());
        record.fatal = None;
        record.last_send = record.plan.duration();
        let target = Target {
            kind: "embedded".into(),
            bootstrap: "embedded".into(),
            brokers: 1,
        };
        let slo: crate::scenario::Slo = "rate.achieved_ratio >= 0.99".parse().unwrap();
        // 98,995 of 100,000 planned events: a ratio of 0.98995, which rounds to 0.99.
        for (sent, passes) in [(98_995, false), (99_000, true), (98_999, false)] {
            record.sent = sent;
            let summary = summarize(&scenario, &record, "r", &target);
            let check = crate::verdict::check(&summary, &slo);
            assert_eq!(check.passed, passes, "{sent} sent: {check:?}");
            if !passes {
                assert_ne!(
                    check.actual_text, "0.99",
                    "a failed ratio reads as its limit"
                );
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn client_errors_lose_every_secret_the_run_used() {
        let dir = std::env::temp_dir().join(format!("surge-redact-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.toml");
        std::fs::write(
            &path,
            "[[topics]]\nname = \"t\"\n[[events]]\nname = \"E\"\ntopic = \"t\"\n[[phases]]\nrate = \"1/s\"\nduration = \"1s\"\n",
        )
        .unwrap();
        let overrides = Overrides {
            bootstrap: Some("127.0.0.1:9092".into()),
            properties: vec![
                ("sasl.password".into(), "hunter2-not-shown".into()),
                ("consumer.ssl.key.password".into(), "s3cr3t-value".into()),
            ],
            ..Overrides::default()
        };
        let scenario = crate::validate(&path, &overrides).unwrap();
        let errors = vec![
            "SASL authentication error: user surge password hunter2-not-shown rejected".to_string(),
            "token request with s3cr3t-value failed".to_string(),
        ];
        let clean = redact_errors(&errors, &scenario);
        assert_eq!(
            clean,
            [
                "SASL authentication error: user surge password *** rejected",
                "token request with *** failed"
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
