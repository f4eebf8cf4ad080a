//! The one table helper shared by the console and Markdown reports, and the standard tables.

use crate::scenario::slo::{format_micros, format_number};
use crate::summary::{Status, Summary};

/// A table of text cells; the first column is left-aligned, the rest right-aligned.
#[derive(Debug, Default, Clone)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        widths
    }

    fn line(cells: &[String], widths: &[usize], separator: &str) -> String {
        cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, &width))| {
                if i == 0 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect::<Vec<_>>()
            .join(separator)
    }

    /// Plain text with aligned columns.
    pub fn to_text(&self) -> String {
        let widths = self.widths();
        let mut out = Self::line(&self.header, &widths, "  ")
            .trim_end()
            .to_string();
        for row in &self.rows {
            out.push('\n');
            out.push_str(Self::line(row, &widths, "  ").trim_end());
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let widths = self.widths();
        let escape = |cells: &[String]| {
            cells
                .iter()
                .map(|c| c.replace('|', "\\|"))
                .collect::<Vec<_>>()
        };
        let mut out = format!("| {} |", Self::line(&escape(&self.header), &widths, " | "));
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                if i == 0 {
                    format!(":{}", "-".repeat(w.max(2) - 1))
                } else {
                    format!("{}:", "-".repeat(w.max(2) - 1))
                }
            })
            .collect();
        out.push_str(&format!("\n| {} |", rule.join(" | ")));
        for row in &self.rows {
            out.push_str(&format!(
                "\n| {} |",
                Self::line(&escape(row), &widths, " | ")
            ));
        }
        out
    }
}

/// `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds as `850us` / `12.5ms`, or `-` when nothing was recorded: three significant
/// digits, the precision the HDR histograms keep.
pub fn micros(value: u64, count: u64) -> String {
    if count == 0 {
        "-".into()
    } else {
        format_micros(significant(value as f64))
    }
}

/// A value rounded to three significant digits.
pub fn significant(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(2 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
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
    format!(
        "{}/s offered for {}s{warmup}, on {}",
        thousands(summary.produced.target_rate.round() as u64),
        format_number(summary.produced.measured_seconds.round()),
        cluster_words(summary)
    )
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

/// How to read the fault table; every report prints it under the table.
pub const FAULT_TABLE_NOTE: &str = "Failed and lost count events intended in the fault's window; duplicates, disorder and latency are counted from its start until the groups recovered. Recovery: seconds from the fault's end (its start, for a fault that is not undone) until every group's e2e p95 and lag are back under their limits.";

/// One row per fault: its window, what it cost, and how long the groups took to recover.
pub fn fault_table(summary: &Summary) -> Option<Table> {
    if summary.faults.is_empty() {
        return None;
    }
    let mut table = Table::new(&[
        "fault",
        "what",
        "window",
        "failed",
        "lost",
        "dup",
        "out of order",
        "publish p99",
        "e2e p99",
        "recovery",
    ]);
    let latency = |v: Option<u64>| v.map_or("-".to_string(), |v| micros(v, 1));
    for f in &summary.faults {
        table.row(vec![
            f.name.clone(),
            f.description.clone(),
            if f.applied {
                format!("{:.1}-{:.1} s", f.start_s, f.end_s)
            } else {
                "not applied".into()
            },
            thousands(f.failed),
            thousands(f.lost),
            thousands(f.duplicates),
            thousands(f.out_of_order),
            latency(f.publish_p99_us),
            latency(f.e2e_p99_us),
            match f.recovery_s {
                Some(s) => format!("{s:.0} s"),
                None if summary.groups.is_empty() => "no group".into(),
                None => "not recovered".into(),
            },
        ]);
    }
    Some(table)
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

/// One row per capacity probe, when the run was a capacity search.
pub fn capacity_table(summary: &Summary) -> Option<Table> {
    let capacity = summary.capacity.as_ref()?;
    let mut table = Table::new(&[
        "offered/s",
        "result",
        "achieved/s",
        "e2e p95",
        "e2e p99",
        "max lag",
        "why",
    ]);
    for probe in &capacity.probes {
        table.row(vec![
            thousands(probe.offered_rate as u64),
            probe.status.as_str().into(),
            thousands(probe.achieved_rate as u64),
            micros(probe.e2e_p95_us, 1),
            micros(probe.e2e_p99_us, 1),
            thousands(probe.max_lag),
            probe.reasons.first().cloned().unwrap_or_default(),
        ]);
    }
    Some(table)
}

/// One row per SLO check: the measured value as a share of its limit (the headroom), and its
/// change against the baseline when there is one.
pub fn slo_table(summary: &Summary) -> Table {
    let mut header = vec!["SLO", "limit", "actual", "of limit"];
    if summary.baseline.is_some() {
        header.extend(["baseline", "change"]);
    }
    header.push("result");
    let mut table = Table::new(&header);
    for check in &summary.verdict.checks {
        let actual = match check.actual {
            Some(value) if check.unit == "us" => format_micros(significant(value)),
            _ => check.actual_text.clone(),
        };
        let share = match check.share_of_limit() {
            Some(share) if check.unit != "percent" && check.name.contains('<') => {
                if share > 0.0 && share < 0.01 {
                    "<1%".into()
                } else {
                    format!("{:.0}%", share * 100.0)
                }
            }
            _ => "-".into(),
        };
        let mut row = vec![
            if check.default {
                format!("{} (default)", check.name)
            } else {
                check.name.clone()
            },
            check.limit_text.clone(),
            actual,
            share,
        ];
        if let Some(baseline) = &summary.baseline {
            let metric = check.metric_name();
            match baseline.deltas.iter().find(|d| d.metric == metric) {
                Some(delta) => {
                    row.push(if delta.unit == "us" {
                        format_micros(significant(delta.baseline))
                    } else {
                        format_number(delta.baseline)
                    });
                    row.push(
                        delta
                            .change
                            .map_or("-".into(), crate::baseline::percent_change),
                    );
                }
                None => row.extend(["-".to_string(), "-".to_string()]),
            }
        }
        row.push(if !summary.verdict.judged(check) {
            "not judged".into()
        } else if check.passed {
            "pass".into()
        } else {
            "FAIL".into()
        });
        table.row(row);
    }
    table
}

/// The baseline figures that the SLO table does not already show (the headline latencies of a
/// scenario without SLOs on them), with their change.
pub fn baseline_table(summary: &Summary) -> Option<Table> {
    let baseline = summary.baseline.as_ref()?;
    let in_slos: Vec<String> = summary
        .verdict
        .checks
        .iter()
        .map(|c| c.metric_name())
        .collect();
    let mut table = Table::new(&["metric", "baseline", "this run", "change"]);
    for delta in baseline
        .deltas
        .iter()
        .filter(|d| !in_slos.contains(&d.metric))
    {
        let show = |v: f64| {
            if delta.unit == "us" {
                format_micros(significant(v))
            } else {
                format_number(v)
            }
        };
        table.row(vec![
            delta.metric.clone(),
            show(delta.baseline),
            show(delta.actual),
            delta
                .change
                .map_or("-".into(), crate::baseline::percent_change),
        ]);
    }
    Some(table)
}

/// Which run the baseline is, and whether its plan was the same, in one line.
pub fn baseline_line(summary: &Summary) -> Option<String> {
    let b = summary.baseline.as_ref()?;
    let limit = b.max_regression.map_or(String::new(), |max| {
        format!(
            "; a p95 or p99 worse by more than {} fails the run",
            crate::baseline::percent_change(max)
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

/// Producer-side figures.
pub fn producer_table(summary: &Summary) -> Table {
    let p = &summary.produced;
    let l = &summary.latency;
    let mut table = Table::new(&["producer", "value"]);
    table.row(vec![
        "sent / acked / failed (whole run, warmup included)".into(),
        format!(
            "{} / {} / {}",
            thousands(p.sent),
            thousands(p.acked),
            thousands(p.failed)
        ),
    ]);
    if p.not_sent > 0 {
        table.row(vec!["planned but not sent".into(), thousands(p.not_sent)]);
    }
    table.row(vec![
        "target rate (measured phases, warmup excluded)".into(),
        format!("{}/s", thousands(p.target_rate.round() as u64)),
    ]);
    table.row(vec![
        "achieved rate (measured phases)".into(),
        format!(
            "{}/s ({:.1}%)",
            thousands(p.achieved_rate.round() as u64),
            p.achieved_ratio * 100.0
        ),
    ]);
    let stats = |s: &crate::metrics::LatencyStats| {
        format!(
            "p50 {}  p95 {}  p99 {}  max {}",
            micros(s.p50, s.count),
            micros(s.p95, s.count),
            micros(s.p99, s.count),
            micros(s.max, s.count)
        )
    };
    table.row(vec!["publish latency".into(), stats(&l.publish_us)]);
    table.row(vec!["schedule lag".into(), stats(&l.schedule_lag_us)]);
    let which = if summary.groups.iter().any(|g| g.set_aside) {
        "e2e latency, groups consuming throughout"
    } else {
        "e2e latency, all groups"
    };
    table.row(vec![which.into(), stats(&l.e2e_us)]);
    table
}

/// The events a group should read: those acked on the topics it reads (warmup included).
pub fn expected_for(summary: &Summary, group: &crate::summary::GroupSummary) -> u64 {
    summary
        .produced
        .acked_by_topic
        .iter()
        .filter(|(topic, _)| group.topics.contains(topic))
        .map(|(_, acked)| acked)
        .sum()
}

/// One row per consumer group: what it should have read and did, its latency and lag.
/// Ordering and loss are in [`integrity_table`].
pub fn group_table(summary: &Summary) -> Table {
    let mut table = Table::new(&[
        "group", "reads", "members", "expected", "consumed", "e2e p50", "p95", "p99", "max",
        "max lag",
    ]);
    for g in &summary.groups {
        let e = &g.e2e_latency_us;
        table.row(vec![
            g.name.clone(),
            g.topics.join(", "),
            g.members.to_string(),
            thousands(expected_for(summary, g)),
            thousands(g.unique),
            micros(e.p50, e.count),
            micros(e.p95, e.count),
            micros(e.p99, e.count),
            micros(e.max, e.count),
            thousands(g.max_lag),
        ]);
    }
    table
}

/// Ordering and loss, one row per group.
pub fn integrity_table(summary: &Summary) -> Table {
    let mut table = Table::new(&[
        "group",
        "lost",
        "duplicates",
        "out of order",
        "gaps",
        "unread at drain end",
        "result",
    ]);
    for g in &summary.groups {
        let o = &g.ordering;
        let clean = g.is_clean();
        table.row(vec![
            g.name.clone(),
            thousands(g.lost),
            thousands(o.duplicates),
            thousands(o.out_of_order),
            thousands(o.gaps),
            thousands(g.unread),
            if clean {
                "clean".into()
            } else {
                "NOT CLEAN".into()
            },
        ]);
    }
    table
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
                .map(|e| format!("{}#{} (producer {})", e.key, e.sequence, e.producer))
                .collect();
            format!("lost by {}, for example: {}", g.name, examples.join(", "))
        })
        .collect()
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

/// Failure handling, one row per group that fails events: what failed, was retried and
/// dead-lettered, and whether the dead-letter topic holds every dead-lettered event.
pub fn failure_table(summary: &Summary) -> Option<Table> {
    let mut table = Table::new(&[
        "group",
        "dead-letter topic",
        "failed",
        "retried",
        "non-retryable",
        "poisoned",
        "dead-lettered",
        "acked",
        "read back",
        "dlt lost",
        "retry delay p50",
        "p99",
        "failed e2e p99",
    ]);
    for g in &summary.groups {
        let Some(f) = &g.failures else { continue };
        table.row(vec![
            g.name.clone(),
            f.dlt_topic.clone(),
            thousands(f.failed),
            thousands(f.retried),
            thousands(f.non_retryable),
            thousands(f.poisoned),
            thousands(f.dead_lettered),
            thousands(f.dlt_acked),
            f.dlt_found.map_or("not read".into(), thousands),
            thousands(f.dlt_lost),
            micros(f.retry_delay_us.p50, f.retry_delay_us.count),
            micros(f.retry_delay_us.p99, f.retry_delay_us.count),
            micros(f.e2e_failed_us.p99, f.e2e_failed_us.count),
        ]);
    }
    (!table.is_empty()).then_some(table)
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

/// Backlog catch-up after a `group_pause`, one row per pause.
pub fn catchup_table(summary: &Summary) -> Option<Table> {
    let mut table = Table::new(&[
        "group",
        "fault",
        "paused",
        "backlog at resume",
        "caught up at lag",
        "catch-up time",
        "drained above ingress",
        "consumed",
        "ingress",
    ]);
    let rate = |r: Option<f64>| r.map_or("-".into(), |r| format!("{}/s", thousands(r as u64)));
    for (g, c) in summary
        .groups
        .iter()
        .flat_map(|g| g.catchups.iter().map(move |c| (g, c)))
    {
        let not_caught_up = match &c.paused_again_by {
            Some(fault) => format!("paused again by {fault} first"),
            None => "not caught up".into(),
        };
        table.row(vec![
            g.name.clone(),
            c.fault.clone(),
            format!("{:.1}-{:.1} s", c.paused_s, c.resumed_s),
            thousands(c.backlog),
            format!("<= {}", thousands(c.threshold)),
            c.catchup_time_s
                .map_or(not_caught_up, |t| format!("{t:.1} s")),
            rate(c.catchup_rate),
            rate(c.consume_rate),
            rate(c.produce_rate),
        ]);
    }
    (!table.is_empty()).then_some(table)
}

/// The reading of late groups: when they joined, what they read, and how fast.
pub fn replay_table(summary: &Summary) -> Option<Table> {
    let mut table = Table::new(&[
        "group",
        "joined at",
        "records read",
        "this run's events",
        "read everything at",
        "rate",
        "order and completeness",
    ]);
    for g in &summary.groups {
        let Some(r) = &g.replay else { continue };
        table.row(vec![
            g.name.clone(),
            format!("{:.1} s", r.joined_s),
            thousands(r.records),
            format!(
                "{} of {}",
                thousands(g.unique),
                thousands(expected_for(summary, g))
            ),
            r.caught_up_s
                .map_or("not by the drain's end".into(), |t| format!("{t:.1} s")),
            r.rate
                .map_or("-".into(), |r| format!("{}/s", thousands(r as u64))),
            if g.is_clean() { "clean" } else { "NOT CLEAN" }.into(),
        ]);
    }
    (!table.is_empty()).then_some(table)
}

/// The consumer-behaviour tables a run has, titled: failures, catch-up, replay.
pub fn consumer_tables(summary: &Summary) -> Vec<(&'static str, Table)> {
    [
        ("Retries and dead letters", failure_table(summary)),
        ("Backlog catch-up", catchup_table(summary)),
        ("Replay", replay_table(summary)),
    ]
    .into_iter()
    .filter_map(|(title, table)| table.map(|t| (title, t)))
    .collect()
}

/// A merged distributed run: one row per worker.
pub fn worker_table(summary: &Summary) -> Option<Table> {
    let workers = summary.workers.as_ref().filter(|w| w.index.is_none())?;
    let mut table = Table::new(&[
        "worker",
        "host",
        "instances",
        "sent",
        "acked",
        "failed",
        "consumed",
        "clock offset",
        "result",
    ]);
    for row in &workers.rows {
        table.row(vec![
            row.index.to_string(),
            row.host.clone(),
            row.instances.to_string(),
            thousands(row.sent),
            thousands(row.acked),
            thousands(row.failed),
            thousands(row.consumed),
            row.clock_offset_us.map_or_else(
                || "not measured".into(),
                |us| format!("{:+.2} ms", us as f64 / 1000.0),
            ),
            if row.complete {
                "complete"
            } else {
                "incomplete"
            }
            .into(),
        ]);
    }
    for missing in &workers.missing {
        table.row(vec![
            "-".into(),
            missing.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "missing".into(),
        ]);
    }
    Some(table)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_text_and_markdown() {
        let mut table = Table::new(&["check", "actual"]);
        table.row(vec!["e2e.p95 < 100ms".into(), "23ms".into()]);
        table.row(vec!["lost == 0".into(), "0".into()]);
        assert_eq!(
            table.to_text(),
            "check            actual\ne2e.p95 < 100ms    23ms\nlost == 0             0"
        );
        assert_eq!(
            table.to_markdown(),
            "| check           | actual |\n| :-------------- | -----: |\n| e2e.p95 < 100ms |   23ms |\n| lost == 0       |      0 |"
        );
    }
}
