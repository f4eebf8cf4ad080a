//! The one table helper shared by the console, Markdown and HTML reports, and the standard
//! tables, one file per part of the run they show.

mod breakdown;
mod brokers;
mod groups;
mod phases;
mod rebalance;
mod run;
mod slo;

pub use breakdown::{BREAKDOWN_NOTE, breakdown_lines, breakdown_table};
pub use brokers::{BROKER_TABLE_NOTE, broker_fault_lines, broker_table, throttle_line};
pub use groups::{
    catchup_table, consumer_tables, expected_for, failure_table, group_table, integrity_table,
    replay_table,
};
pub use phases::{mb_per_s, phase_table, topic_table};
pub use rebalance::{REBALANCE_TABLE_NOTE, protocol_table, rebalance_table};
pub use run::{FAULT_TABLE_NOTE, capacity_table, fault_table, producer_table, worker_table};
pub use slo::{baseline_table, slo_table, trust_table};

/// A table of text cells; the first column is left-aligned, the rest right-aligned.
#[derive(Debug, Default, Clone)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headings.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds a row, one cell per column.
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
