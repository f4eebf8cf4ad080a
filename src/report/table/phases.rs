//! The run phase by phase: what was offered and achieved, in events and bytes, and the
//! latencies, lag and disorder of each phase's own seconds.

use super::Table;
use crate::format::{format_number, micros, significant, thousands};
use crate::summary::{MB, Summary};

/// MB/s with three significant digits.
pub fn mb_per_s(value: f64) -> String {
    format_number(significant(value))
}

/// One row per phase (a named part such as a spike indented under its phase); `None` for a
/// summary without per-phase figures.
pub fn phase_table(summary: &Summary) -> Option<Table> {
    if summary.by_phase.is_empty() {
        return None;
    }
    let mut table = Table::new(&[
        "phase",
        "seconds",
        "offered/s",
        "achieved/s",
        "achieved",
        "offered MB/s",
        "acked MB/s",
        "publish p99",
        "e2e p95",
        "e2e p99",
        "schedule lag p99",
        "max lag",
        "failed",
        "dup / out of order",
    ]);
    for p in &summary.by_phase {
        let mut name = match &p.part_of {
            Some(_) => format!("  {}", p.name),
            None => p.name.clone(),
        };
        if p.peak {
            name.push_str(" (peak)");
        }
        if p.warmup && !p.name.contains("warmup") {
            name.push_str(" (warmup)");
        }
        let reached = p.seconds > 0.0;
        let figure = |text: String| if reached { text } else { "-".to_string() };
        table.row(vec![
            name,
            format!("{:.0}", p.seconds),
            thousands(p.offered_rate.round() as u64),
            figure(thousands(p.achieved_rate.round() as u64)),
            figure(format!("{:.1}%", p.achieved_ratio * 100.0)),
            mb_per_s(p.offered_mb_per_s),
            figure(mb_per_s(p.acked_mb_per_s)),
            micros(p.publish_us.p99, p.publish_us.count),
            micros(p.e2e_us.p95, p.e2e_us.count),
            micros(p.e2e_us.p99, p.e2e_us.count),
            micros(p.schedule_lag_us.p99, p.schedule_lag_us.count),
            figure(thousands(p.max_lag)),
            figure(thousands(p.failed)),
            figure(format!(
                "{} / {}",
                thousands(p.duplicates),
                thousands(p.out_of_order)
            )),
        ]);
    }
    Some(table)
}

/// What the brokers acked per topic: events and payload bytes (warmup included).
pub fn topic_table(summary: &Summary) -> Option<Table> {
    let p = &summary.produced;
    if p.acked_bytes_by_topic.is_empty() {
        return None;
    }
    let mut table = Table::new(&["topic", "acked events", "acked MB", "share of bytes"]);
    for (topic, events) in &p.acked_by_topic {
        let bytes = p
            .acked_bytes_by_topic
            .iter()
            .find(|(t, _)| t == topic)
            .map_or(0, |(_, b)| *b);
        let share = if p.acked_bytes > 0 {
            format!("{:.1}%", bytes as f64 / p.acked_bytes as f64 * 100.0)
        } else {
            "-".into()
        };
        table.row(vec![
            topic.clone(),
            thousands(*events),
            mb_per_s(bytes as f64 / MB),
            share,
        ]);
    }
    Some(table)
}
