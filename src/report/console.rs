//! The summary printed at the end of a run.

use super::lines::{
    cause_lines, command_lines, failure_lines, headline, lost_example_lines, recovery_line,
    run_line, worker_line,
};
use super::table::{
    breakdown_lines, breakdown_table, broker_fault_lines, broker_table, capacity_table,
    consumer_tables, fault_table, group_table, integrity_table, phase_table, producer_table,
    slo_table, throttle_line, trust_table, worker_table,
};
use crate::summary::Summary;

/// The final summary as plain text.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    for warning in &summary.warnings {
        out.push_str(&format!("\nWARNING: {warning}\n"));
    }
    out.push_str(&format!("\n{}\n{}\n", headline(summary), run_line(summary)));
    if let Some(line) = throttle_line(summary) {
        out.push_str(&format!("{line}\n"));
    }
    if let (Some(capacity), Some(table)) = (&summary.capacity, capacity_table(summary)) {
        out.push_str(&format!(
            "\ncapacity: {}\n\n{}\n\nthe run at the sustained rate:\n",
            capacity.conclusion,
            table.to_text()
        ));
    }
    if !summary.verdict.checks.is_empty() {
        out.push_str(&format!("\n{}\n", slo_table(summary).to_text()));
    }
    if let Some(table) = trust_table(summary) {
        out.push_str(&format!("\n{}\n", table.to_text()));
    }
    if let Some(table) = phase_table(summary) {
        out.push_str(&format!("\n{}\n", table.to_text()));
    }
    out.push_str(&format!("\n{}\n", producer_table(summary).to_text()));
    if !summary.groups.is_empty() {
        out.push_str(&format!("\n{}\n", group_table(summary).to_text()));
        out.push_str(&format!("\n{}\n", integrity_table(summary).to_text()));
    }
    for line in lost_example_lines(summary)
        .into_iter()
        .chain(cause_lines(summary))
    {
        out.push_str(&format!("\n{line}\n"));
    }
    for table in consumer_tables(summary) {
        out.push_str(&format!("\n{}\n", table.1.to_text()));
    }
    for line in failure_lines(summary) {
        out.push_str(&format!("{line}\n"));
    }
    if let Some(line) = recovery_line(summary) {
        out.push_str(&format!("\n{line}\n"));
    }
    if let Some(table) = fault_table(summary) {
        out.push_str(&format!("\n{}\n", table.to_text()));
    }
    if let Some(table) = breakdown_table(summary) {
        out.push_str(&format!(
            "\nWhere the milliseconds go\n{}\n",
            table.to_text()
        ));
    }
    for line in breakdown_lines(summary) {
        out.push_str(&format!("{line}\n"));
    }
    if let Some(table) = broker_table(summary) {
        out.push_str(&format!(
            "\nBrokers, as the clients saw them\n{}\n",
            table.to_text()
        ));
    }
    for line in broker_fault_lines(summary) {
        out.push_str(&format!("{line}\n"));
    }
    if let Some(line) = worker_line(summary) {
        out.push_str(&format!("\n{line}\n"));
    }
    if let Some(table) = worker_table(summary) {
        out.push_str(&format!("{}\n", table.to_text()));
    }
    for line in command_lines(summary) {
        out.push_str(&format!("{line}\n"));
    }
    for note in &summary.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for error in summary.errors.iter().take(5) {
        out.push_str(&format!("client error: {error}\n"));
    }
    out
}
