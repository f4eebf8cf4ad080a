//! The sentences every report shares: the verdict, the run and the scenario in words, and
//! one line per fault command, lost example, loss count and failure.

use crate::format::{format_micros, format_number, percent_change, thousands};
use crate::metrics::causes::{ALL, Cause};
use crate::summary::{LOSS_CAUSES, Status, Summary};

/// The verdict in one line.
pub fn headline(summary: &Summary) -> String {
    let verdict = &summary.verdict;
    let failed = verdict.checks.iter().filter(|c| !c.passed).count();
    let total = verdict.checks.len();
    let detail = match verdict.status {
        // A capacity search is judged on whether the peak is sustained, not on one probe.
        _ if let Some(capacity) = &summary.capacity => capacity.conclusion.clone(),
        Status::Pass if total == 0 => "no SLOs to check".to_string(),
        Status::Pass => format!("all {total} SLOs met"),
        Status::Fail if !verdict.timings_trusted() => {
            let failed: Vec<&str> = verdict
                .checks
                .iter()
                .filter(|c| c.integrity && !c.passed)
                .map(|c| c.name.as_str())
                .collect();
            format!(
                "integrity failed ({}); the other SLOs are not judged: {}",
                failed.join(", "),
                verdict.reasons.join("; ")
            )
        }
        Status::Fail => format!("{failed} of {total} SLOs failed"),
        Status::Inconclusive | Status::Error => verdict.reasons.join("; "),
    };
    let partial = if summary.complete {
        ""
    } else {
        " (partial run)"
    };
    format!(
        "{}: {} — {detail}{partial}",
        verdict.status.as_str().to_uppercase(),
        summary.scenario.name
    )
}

/// What was offered, for how long, against which cluster: the verdict's context in one line.
pub fn run_line(summary: &Summary) -> String {
    if let Some(capacity) = &summary.capacity {
        let rates = capacity.probes.iter().map(|p| p.offered_rate);
        let (low, high) = (
            rates.clone().fold(f64::MAX, f64::min),
            rates.fold(0.0, f64::max),
        );
        return format!(
            "{} probes from {}/s to {}/s in {}s of a {}s budget, on {}",
            capacity.probes.len(),
            thousands(low.round() as u64),
            thousands(high.round() as u64),
            format_number(capacity.elapsed_s.round()),
            format_number(capacity.budget_s.round()),
            cluster_words(summary)
        );
    }
    let warmup: f64 = summary
        .phases
        .iter()
        .filter(|p| p.warmup)
        .map(|p| p.end_s - p.start_s)
        .sum();
    let warmup = if warmup > 0.0 {
        format!(" after {}s of warmup", format_number(warmup.round()))
    } else {
        String::new()
    };
    let measured = summary
        .by_phase
        .iter()
        .filter(|p| !p.warmup && p.part_of.is_none())
        .count();
    let mb = |mb_per_s: f64| {
        format!(
            "{} MB/s",
            format_number(crate::format::significant(mb_per_s))
        )
    };
    match summary.peak() {
        Some(peak) if measured > 1 => {
            let up_to = if peak.offered_peak_rate > peak.offered_rate * 1.001 {
                format!(
                    ", up to {}/s",
                    thousands(peak.offered_peak_rate.round() as u64)
                )
            } else {
                String::new()
            };
            format!(
                "peak {}/s offered ({}) in phase {}{up_to}; {}/s mean over {}s{warmup}, on {}",
                thousands(peak.offered_rate.round() as u64),
                mb(peak.offered_mb_per_s),
                peak.name,
                thousands(summary.produced.target_rate.round() as u64),
                format_number(summary.produced.measured_seconds.round()),
                cluster_words(summary)
            )
        }
        peak => format!(
            "{}/s offered{} for {}s{warmup}, on {}",
            thousands(summary.produced.target_rate.round() as u64),
            peak.map_or(String::new(), |p| format!(" ({})", mb(p.offered_mb_per_s))),
            format_number(summary.produced.measured_seconds.round()),
            cluster_words(summary)
        ),
    }
}

/// `m5.xlarge x3 (external, 3 brokers at b-1...:9092)`, or `the embedded cluster (3 brokers)`.
pub fn cluster_words(summary: &Summary) -> String {
    let c = &summary.cluster;
    let what = if c.kind == "embedded" {
        format!("the embedded cluster ({} brokers)", c.brokers)
    } else {
        format!(
            "a {} cluster ({} brokers at {})",
            c.kind, c.brokers, c.bootstrap
        )
    };
    match &summary.label {
        Some(label) if !label.name.is_empty() => format!("{}: {what}", label.name),
        _ => what,
    }
}

/// The scenario in words: topics, groups and what each reads.
pub fn scenario_words(summary: &Summary) -> String {
    let topics: Vec<&str> = summary
        .produced
        .acked_by_topic
        .iter()
        .map(|(t, _)| t.as_str())
        .collect();
    let groups: Vec<String> = summary
        .groups
        .iter()
        .map(|g| {
            format!(
                "{} ({} member{}, reads {})",
                g.name,
                g.members,
                if g.members == 1 { "" } else { "s" },
                g.topics.join(", ")
            )
        })
        .collect();
    format!(
        "Scenario {} sends events to {} topic{} ({}){}.",
        summary.scenario.name,
        topics.len(),
        if topics.len() == 1 { "" } else { "s" },
        topics.join(", "),
        if groups.is_empty() {
            ", with no consumer group".to_string()
        } else {
            format!(
                " read by {} consumer group{}: {}",
                groups.len(),
                if groups.len() == 1 { "" } else { "s" },
                groups.join("; ")
            )
        }
    )
}

/// How fast the groups recovered after the peak, in one line.
pub fn recovery_line(summary: &Summary) -> Option<String> {
    let r = summary.recovery.as_ref()?;
    let seconds = |s: Option<f64>| {
        s.map_or("not by the end of the run".to_string(), |s| {
            format!("{s:.0} s")
        })
    };
    Some(format!(
        "recovery after {}: lag under {} in {}, e2e p95 under {} in {}",
        r.after_phase,
        thousands(r.lag_threshold),
        seconds(r.lag_s),
        format_micros(r.p95_threshold_us as f64),
        seconds(r.p95_s)
    ))
}

/// Which run the baseline is, and whether its plan was the same, in one line.
pub fn baseline_line(summary: &Summary) -> Option<String> {
    let b = summary.baseline.as_ref()?;
    let limit = b.max_regression.map_or(String::new(), |max| {
        format!(
            "; a p95 or p99 worse by more than {} fails the run",
            percent_change(max)
        )
    });
    let plan = if b.plan_differences.is_empty() {
        "same offered plan".to_string()
    } else {
        format!("DIFFERENT offered plan: {}", b.plan_differences.join("; "))
    };
    Some(format!(
        "Against baseline run {} ({}, started {}): {plan}{limit}.",
        b.run_id, b.dir, b.started_at
    ))
}

/// What each `command` fault ran, with its exit code and the end of its output.
pub fn command_lines(summary: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    for fault in &summary.faults {
        for run in &fault.commands {
            lines.push(format!(
                "fault {} {}: `{}` {} after {:.1} s{}",
                fault.name,
                run.step,
                run.command,
                match (run.timed_out, run.exit_code) {
                    (true, _) => "timed out".to_string(),
                    (false, Some(code)) => format!("exited {code}"),
                    (false, None) => "could not run".to_string(),
                },
                run.seconds,
                match crate::summary::last_line(&run.output) {
                    "" => String::new(),
                    line => format!(": {line}"),
                }
            ));
        }
        if let Some(error) = &fault.error {
            lines.push(format!("fault {}: {error}", fault.name));
        }
    }
    lines
}

/// Examples of lost events, one line per group that lost any.
pub fn lost_example_lines(summary: &Summary) -> Vec<String> {
    summary
        .groups
        .iter()
        .filter(|g| !g.lost_examples.is_empty())
        .map(|g| {
            let examples: Vec<String> = g
                .lost_examples
                .iter()
                .map(|e| {
                    let cause = e
                        .cause
                        .map_or_else(String::new, |c| format!(", {}", c.name()));
                    let at = match (e.partition, e.offset) {
                        (Some(p), Some(o)) => format!(", in the log at [{p}]@{o}"),
                        _ => String::new(),
                    };
                    format!(
                        "{}#{} (producer {}{cause}{at})",
                        e.key, e.sequence, e.producer
                    )
                })
                .collect();
            let causes: Vec<String> = LOSS_CAUSES
                .iter()
                .filter(|&&c| g.loss_causes.get(c) > 0)
                .map(|&c| {
                    format!(
                        "{} {} ({})",
                        thousands(g.loss_causes.get(c)),
                        c.name(),
                        c.meaning()
                    )
                })
                .collect();
            format!(
                "lost by {}: {}; for example: {}",
                g.name,
                causes.join("; "),
                examples.join(", ")
            )
        })
        .collect()
}

/// Why reads were out of order or repeated, one line per group that had any: each cause's
/// count with what it means, and the first example of each.
pub fn cause_lines(summary: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    for g in &summary.groups {
        let causes = &g.ordering.causes;
        let parts: Vec<String> = ALL
            .iter()
            .filter(|&&c| causes.get(c) > 0)
            .map(|&c| {
                let example = g
                    .ordering
                    .examples
                    .iter()
                    .find(|e| e.cause == c)
                    .map_or_else(String::new, |e| format!(", e.g. {}", e.describe()));
                format!(
                    "{} {} ({}{example})",
                    thousands(causes.get(c)),
                    c.name(),
                    cause_meaning(c)
                )
            })
            .collect();
        if !parts.is_empty() {
            lines.push(format!(
                "{} out of order or read twice: {}",
                g.name,
                parts.join("; ")
            ));
        }
    }
    lines
}

/// What a cause says happened.
fn cause_meaning(cause: Cause) -> &'static str {
    match cause {
        Cause::WrittenOutOfOrder => {
            "the log holds the key out of order: a producer retry without idempotence, or two producers on one key"
        }
        Cause::SkippedThenRead => {
            "read at an earlier offset after the group had read past it: a seek, or a commit past what was processed"
        }
        Cause::PartitionMoved => "the key's partition changed during the run",
        Cause::Unclassified => "crossed between workers, where no offsets tell",
        Cause::Reread => "read again after the group went back: redelivery after a rebalance",
        Cause::WrittenTwice => "the log holds a second copy: a retried batch appended twice",
    }
}

/// Ordering and loss per group, one line each: "clean" when every count is zero.
pub fn loss_lines(summary: &Summary) -> Vec<String> {
    summary
        .groups
        .iter()
        .map(|g| {
            let o = &g.ordering;
            if g.is_clean() {
                format!(
                    "{}: clean: 0 lost, 0 duplicates, 0 out of order, 0 gaps",
                    g.name
                )
            } else {
                let examples: Vec<String> = g
                    .lost_examples
                    .iter()
                    .map(|e| format!("{}#{}", e.key, e.sequence))
                    .collect();
                let mut line = format!(
                    "{}: {} lost, {} duplicates, {} out of order, {} gaps",
                    g.name,
                    thousands(g.lost),
                    thousands(o.duplicates),
                    thousands(o.out_of_order),
                    thousands(o.gaps)
                );
                if g.unread > 0 {
                    line.push_str(&format!(
                        ", {} unread when the drain ended (not judged as lost)",
                        thousands(g.unread)
                    ));
                }
                if !examples.is_empty() {
                    line.push_str(&format!("; lost for example: {}", examples.join(", ")));
                }
                line
            }
        })
        .collect()
}

/// What went wrong with dead-letter sends and the read-back, one line per problem.
pub fn failure_lines(summary: &Summary) -> Vec<String> {
    summary
        .groups
        .iter()
        .filter_map(|g| g.failures.as_ref().map(|f| (g, f)))
        .flat_map(|(g, f)| f.errors.iter().map(move |e| format!("{}: {e}", g.name)))
        .collect()
}

/// A distributed run: how many workers, and how far apart their clocks were.
pub fn worker_line(summary: &Summary) -> Option<String> {
    let workers = summary.workers.as_ref()?;
    if let Some(index) = workers.index {
        return Some(format!(
            "worker {index} of {}: this directory holds its share of the run; `surge merge` of every worker's directory judges the run",
            workers.count
        ));
    }
    let skew = match (workers.clock_skew_us, workers.clock_uncertainty_us) {
        (Some(skew), Some(uncertainty)) => format!(
            "clock skew between workers: {:.2} ms (±{:.2} ms), allowed {:.0}% of the e2e p50",
            skew as f64 / 1000.0,
            uncertainty as f64 / 1000.0,
            workers.max_skew_fraction * 100.0
        ),
        _ => "clock skew between workers: not measured (see the verdict)".into(),
    };
    Some(format!(
        "{} of {} workers merged; {skew}",
        workers.rows.len(),
        workers.count
    ))
}
