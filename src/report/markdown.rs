//! `report.md`: verdict, tables and chart links, ready for a pull request or review doc.

use super::svg::CHARTS;
use super::table::{group_table, headline, loss_lines, producer_table, slo_table};
use super::{Exporter, Output, RunData};

/// Writes `report.md`.
pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, String> {
        let s = &run.summary;
        let mut md = format!("# surge: {}\n\n", s.scenario.name);
        for warning in &s.warnings {
            md.push_str(&format!("> **WARNING:** {warning}\n\n"));
        }
        md.push_str(&format!("**{}**\n\n", headline(s)));
        md.push_str(&format!(
            "Run `{}` started {} on {} ({} cluster, {} brokers), {:.0} s.\n\n",
            s.run_id,
            s.started_at,
            s.environment.host,
            s.cluster.kind,
            s.cluster.brokers,
            s.startup.run_time_s
        ));
        if let (Some(capacity), Some(table)) = (&s.capacity, super::table::capacity_table(s)) {
            md.push_str(&format!("## Capacity\n\n**{}**\n\n{}\n\n![Latency against offered rate](capacity.svg)\n\nThe sections below show the probe at the sustained rate.\n\n", capacity.conclusion, table.to_markdown()));
        }
        if !s.verdict.checks.is_empty() {
            md.push_str(&format!("## SLOs\n\n{}\n\n", slo_table(s).to_markdown()));
        }
        md.push_str(&format!(
            "## Producers\n\n{}\n\n",
            producer_table(s).to_markdown()
        ));
        if !s.groups.is_empty() {
            md.push_str(&format!(
                "## Consumer groups\n\n{}\n\n",
                group_table(s).to_markdown()
            ));
            md.push_str("## Ordering and loss\n\n");
            for line in loss_lines(s) {
                md.push_str(&format!("- {line}\n"));
            }
            md.push('\n');
        }
        if let Some(line) = super::table::recovery_line(s) {
            md.push_str(&format!("{line}\n\n"));
        }
        if let Some(table) = super::table::fault_table(s) {
            md.push_str(&format!("## Faults\n\n{}\n\n", table.to_markdown()));
            md.push_str(&format!("{}\n\n", super::table::FAULT_TABLE_NOTE));
            for line in super::table::command_lines(s) {
                md.push_str(&format!("- {line}\n"));
            }
            md.push('\n');
        }
        md.push_str("## Charts\n\n");
        for (file, title) in CHARTS {
            md.push_str(&format!("![{title}]({file})\n\n"));
        }
        if !s.notes.is_empty() {
            md.push_str("## Notes\n\n");
            for note in &s.notes {
                md.push_str(&format!("- {note}\n"));
            }
        }
        Ok(vec![Output::text("report.md", md)])
    }
}
