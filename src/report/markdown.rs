//! `report.md`: verdict, tables and chart links, ready for a pull request or review doc. The
//! same text, without the chart images (relative links break there), is what a CI job summary
//! gets (`GITHUB_STEP_SUMMARY`).

use super::lines::{
    baseline_line, cause_lines, command_lines, failure_lines, headline, lost_example_lines,
    recovery_line, run_line, scenario_words, worker_line,
};
use super::svg::CHARTS;
use super::table::{
    BREAKDOWN_NOTE, BROKER_TABLE_NOTE, FAULT_TABLE_NOTE, REBALANCE_TABLE_NOTE, baseline_table,
    breakdown_lines, breakdown_table, broker_fault_lines, broker_table, capacity_table,
    consumer_tables, fault_table, group_table, integrity_table, phase_table, producer_table,
    slo_table, throttle_line, topic_table, trust_table, worker_table,
};
use super::{Exporter, Output, ReportError, RunData};
use crate::summary::Summary;

/// Writes `report.md`.
pub struct MarkdownExporter;

/// The Markdown report; `images` links the SVG charts beside it.
pub fn render(s: &Summary, images: bool) -> String {
    [
        opening(s),
        capacity(s, images),
        judgement(s),
        phases(s),
        faults(s),
        breakdown(s),
        brokers(s),
        groups(s),
        format!("## Producers\n\n{}\n\n", producer_table(s).to_markdown()),
        topic_table(s).map_or(String::new(), |t| format!("{}\n\n", t.to_markdown())),
        charts(images),
        notes(s),
    ]
    .concat()
}

/// The title, warnings, the verdict and what ran where.
fn opening(s: &Summary) -> String {
    let mut md = format!("# surge: {}\n\n", s.scenario.name);
    for warning in &s.warnings {
        md.push_str(&format!("> **WARNING:** {warning}\n\n"));
    }
    md.push_str(&format!("**{}**  \n{}\n\n", headline(s), run_line(s)));
    if let Some(line) = throttle_line(s) {
        md.push_str(&format!("> **{line}**\n\n"));
    }
    md.push_str(&format!(
        "{}\n\nRun `{}` started {} on {}, {:.0} s; surge {}{}.\n\n",
        scenario_words(s),
        s.run_id,
        s.started_at,
        s.environment.host,
        s.startup.run_time_s,
        s.surge_version,
        s.git_commit
            .as_ref()
            .map_or(String::new(), |c| format!(" ({c})"))
    ));
    md
}

/// A capacity search's conclusion and probes; empty for any other run.
fn capacity(s: &Summary, images: bool) -> String {
    let (Some(capacity), Some(table)) = (&s.capacity, capacity_table(s)) else {
        return String::new();
    };
    let mut md = format!(
        "## Capacity\n\n**{}**\n\n{}\n\n",
        capacity.conclusion,
        table.to_markdown()
    );
    if images {
        md.push_str("![Latency against offered rate](capacity.svg)\n\n");
    }
    md.push_str("The sections below show the probe at the sustained rate.\n\n");
    md
}

/// The SLO table, the baseline, recovery and the workers of a distributed run.
fn judgement(s: &Summary) -> String {
    let mut md = String::new();
    if !s.verdict.checks.is_empty() {
        md.push_str(&format!(
            "## SLOs\n\n{}\n\nOf limit: the measured value as a share of its limit.\n\n",
            slo_table(s).to_markdown()
        ));
    }
    if let Some(table) = trust_table(s) {
        md.push_str(&format!(
            "### Can the generator be trusted?\n\n{}\n\n{TRUST_NOTE}\n\n",
            table.to_markdown()
        ));
    }
    if let Some(line) = baseline_line(s) {
        md.push_str(&format!("{line}\n\n"));
        if let Some(table) = baseline_table(s).filter(|t| !t.rows.is_empty()) {
            md.push_str(&format!("{}\n\n", table.to_markdown()));
        }
    }
    if let Some(line) = recovery_line(s) {
        md.push_str(&format!("{line}\n\n"));
    }
    if let Some(line) = worker_line(s) {
        md.push_str(&format!("## Workers\n\n{line}\n\n"));
    }
    if let Some(table) = worker_table(s) {
        md.push_str(&format!("{}\n\n", table.to_markdown()));
    }
    md
}

/// The per-phase table, and how its seconds are counted.
fn phases(s: &Summary) -> String {
    phase_table(s).map_or(String::new(), |table| {
        format!(
            "## Phases\n\n{}\n\n{PHASE_TABLE_NOTE}\n\n",
            table.to_markdown()
        )
    })
}

/// How to read the trust table.
pub const TRUST_NOTE: &str = "When the generator falls behind its schedule or cannot offer the plan, its latencies say more about its host than about the cluster: the run is inconclusive, and only the integrity checks (loss, order, failed sends) are still judged.";

/// How to read the per-phase table.
pub const PHASE_TABLE_NOTE: &str = "Each phase counts the seconds the plan spent in it: e2e latency of the events consumed, publish latency of those acked, and schedule lag of those sent in those seconds, added up as histograms. MB = 2^20 bytes of payload (record values), as Kafka's tools count it.";

/// Where the milliseconds went, and how to read it.
fn breakdown(s: &Summary) -> String {
    let Some(table) = breakdown_table(s) else {
        return String::new();
    };
    let mut md = format!(
        "## Where the milliseconds go\n\n{}\n\n",
        table.to_markdown()
    );
    for line in breakdown_lines(s) {
        md.push_str(&format!("- {line}\n"));
    }
    md.push_str(&format!("\n{BREAKDOWN_NOTE}\n\n"));
    md
}

/// Each broker as the clients saw it, each fault's effect per broker, and how to read them.
fn brokers(s: &Summary) -> String {
    let Some(table) = broker_table(s) else {
        return String::new();
    };
    let mut md = format!(
        "## Brokers, as the clients saw them\n\n{}\n\n",
        table.to_markdown()
    );
    for line in broker_fault_lines(s) {
        md.push_str(&format!("- {line}\n"));
    }
    md.push_str(&format!("\n{BROKER_TABLE_NOTE}\n\n"));
    md
}

/// The fault table, how to read it, and what each command fault ran.
fn faults(s: &Summary) -> String {
    let Some(table) = fault_table(s) else {
        return String::new();
    };
    let mut md = format!("## Faults\n\n{}\n\n", table.to_markdown());
    md.push_str(&format!("{FAULT_TABLE_NOTE}\n\n"));
    for line in command_lines(s) {
        md.push_str(&format!("- {line}\n"));
    }
    md.push('\n');
    md
}

/// Each group's reading, its ordering and loss, and its consumer-behaviour tables.
fn groups(s: &Summary) -> String {
    if s.groups.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "## Consumer groups\n\n{}\n\nExpected: the events acked on the topics the group reads; consumed: distinct events it read (both include the warmup).\n\n",
        group_table(s).to_markdown()
    );
    md.push_str(&format!(
        "## Ordering and loss\n\n{}\n\n",
        integrity_table(s).to_markdown()
    ));
    for line in lost_example_lines(s).into_iter().chain(cause_lines(s)) {
        md.push_str(&format!("- {line}\n"));
    }
    for (title, table) in consumer_tables(s) {
        md.push_str(&format!("\n## {title}\n\n{}\n\n", table.to_markdown()));
        if title == "Rebalances" {
            md.push_str(&format!("{REBALANCE_TABLE_NOTE}\n\n"));
        }
    }
    for line in failure_lines(s) {
        md.push_str(&format!("- {line}\n"));
    }
    md
}

/// Links to the chart files beside the report; none without `images`.
fn charts(images: bool) -> String {
    if !images {
        return String::new();
    }
    let mut md = String::from("## Charts\n\n");
    for (file, title) in CHARTS {
        md.push_str(&format!("![{title}]({file})\n\n"));
    }
    md
}

/// The run's notes, as a list.
fn notes(s: &Summary) -> String {
    if s.notes.is_empty() {
        return String::new();
    }
    let mut md = String::from("## Notes\n\n");
    for note in &s.notes {
        md.push_str(&format!("- {note}\n"));
    }
    md
}

impl Exporter for MarkdownExporter {
    fn name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, ReportError> {
        Ok(vec![Output::text("report.md", render(&run.summary, true))])
    }
}
