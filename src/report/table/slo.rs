//! The verdict's tables: each SLO check against its limit, and the figures against a baseline.

use super::Table;
use crate::format::{
    format_micros, format_number, micros, percent_change, share_percent, significant,
};
use crate::summary::Summary;

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
            Some(value) if check.unit == "us" => {
                let shown = micros(value as u64, 1);
                // Rounded to three digits it may read as its limit: then it is shown whole.
                if value != check.limit && shown == micros(check.limit as u64, 1) {
                    format_micros(value)
                } else {
                    shown
                }
            }
            _ => check.actual_text.clone(),
        };
        let share = match check.share_of_limit() {
            Some(share) if check.unit != "percent" && check.name.contains('<') => {
                share_percent(share)
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
                    row.push(delta.change.map_or("-".into(), percent_change));
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

/// The generator's trust checks with their limits, passed or not; `None` for a summary
/// written before they were recorded.
pub fn trust_table(summary: &Summary) -> Option<Table> {
    let trust = &summary.verdict.trust;
    if trust.is_empty() {
        return None;
    }
    let mut table = Table::new(&["trust check", "limit", "actual", "result"]);
    for check in trust {
        table.row(vec![
            check.name.clone(),
            check.limit_text.clone(),
            check.actual_text.clone(),
            if check.passed { "pass" } else { "FAIL" }.into(),
        ]);
    }
    Some(table)
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
            delta.change.map_or("-".into(), percent_change),
        ]);
    }
    Some(table)
}
