//! `report.md`: verdict, tables and chart links, ready for a pull request or review doc. The
//! same text, without the chart images (relative links break there), is what a CI job summary
//! gets (`GITHUB_STEP_SUMMARY`).

use super::svg::CHARTS;
use super::table::{
    baseline_line, baseline_table, group_table, headline, integrity_table, lost_example_lines,
    producer_table, run_line, scenario_words, slo_table,
};
use super::{Exporter, Output, RunData};
use crate::summary::Summary;

/// Writes `report.md`.
pub struct MarkdownExporter;

/// The Markdown report; `images` links the SVG charts beside it.
pub fn render(s: &Summary, images: bool) -> String {
    let mut md = format!("# surge: {}\n\n", s.scenario.name);
    for warning in &s.warnings {
        md.push_str(&format!("> **WARNING:** {warning}\n\n"));
    }
    md.push_str(&format!("**{}**  \n{}\n\n", headline(s), run_line(s)));
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
    if let (Some(capacity), Some(table)) = (&s.capacity, super::table::capacity_table(s)) {
        md.push_str(&format!(
            "## Capacity\n\n**{}**\n\n{}\n\n",
            capacity.conclusion,
            table.to_markdown()
        ));
        if images {
            md.push_str("![Latency against offered rate](capacity.svg)\n\n");
        }
        md.push_str("The sections below show the probe at the sustained rate.\n\n");
    }
    if !s.verdict.checks.is_empty() {
        md.push_str(&format!(
            "## SLOs\n\n{}\n\nOf limit: the measured value as a share of its limit.\n\n",
            slo_table(s).to_markdown()
        ));
    }
    if let Some(line) = baseline_line(s) {
        md.push_str(&format!("{line}\n\n"));
        if let Some(table) = baseline_table(s).filter(|t| !t.rows.is_empty()) {
            md.push_str(&format!("{}\n\n", table.to_markdown()));
        }
    }
    if let Some(line) = super::table::recovery_line(s) {
        md.push_str(&format!("{line}\n\n"));
    }
    if let Some(line) = super::table::worker_line(s) {
        md.push_str(&format!("## Workers\n\n{line}\n\n"));
    }
    if let Some(table) = super::table::worker_table(s) {
        md.push_str(&format!("{}\n\n", table.to_markdown()));
    }
    if let Some(table) = super::table::fault_table(s) {
        md.push_str(&format!("## Faults\n\n{}\n\n", table.to_markdown()));
        md.push_str(&format!("{}\n\n", super::table::FAULT_TABLE_NOTE));
        for line in super::table::command_lines(s) {
            md.push_str(&format!("- {line}\n"));
        }
        md.push('\n');
    }
    if !s.groups.is_empty() {
        md.push_str(&format!(
            "## Consumer groups\n\n{}\n\nExpected: the events acked on the topics the group reads; consumed: distinct events it read (both include the warmup).\n\n",
            group_table(s).to_markdown()
        ));
        md.push_str(&format!(
            "## Ordering and loss\n\n{}\n\n",
            integrity_table(s).to_markdown()
        ));
        for line in lost_example_lines(s) {
            md.push_str(&format!("- {line}\n"));
        }
        for (title, table) in super::table::consumer_tables(s) {
            md.push_str(&format!("\n## {title}\n\n{}\n\n", table.to_markdown()));
        }
        for line in super::table::failure_lines(s) {
            md.push_str(&format!("- {line}\n"));
        }
    }
    md.push_str(&format!(
        "## Producers\n\n{}\n\n",
        producer_table(s).to_markdown()
    ));
    if images {
        md.push_str("## Charts\n\n");
        for (file, title) in CHARTS {
            md.push_str(&format!("![{title}]({file})\n\n"));
        }
    }
    if !s.notes.is_empty() {
        md.push_str("## Notes\n\n");
        for note in &s.notes {
            md.push_str(&format!("- {note}\n"));
        }
    }
    md
}

impl Exporter for MarkdownExporter {
    fn name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, String> {
        Ok(vec![Output::text("report.md", render(&run.summary, true))])
    }
}
