//! The load generator's own health over time: its CPU (the process, its busiest thread, and
//! the embedded brokers apart), and how late it sent each second. A saturated or late
//! generator makes a run inconclusive.

use plotters::prelude::*;

use super::timeline::{Series, Threshold, TimeChart, YRange};
use crate::metrics::TimelinePoint;
use crate::report::ReportError;
use crate::summary::Summary;

pub(super) const FILE: &str = "generator.svg";
pub(super) const SCHEDULE_FILE: &str = "schedule-lag.svg";

fn points(summary: &Summary, pick: fn(&TimelinePoint) -> Option<f64>) -> Vec<(f64, f64)> {
    summary
        .timeline
        .iter()
        .filter_map(|p| pick(p).map(|v| (p.t, v)))
        .collect()
}

pub(super) fn render(summary: &Summary) -> Result<String, ReportError> {
    let peak_memory = summary
        .timeline
        .iter()
        .filter_map(|p| p.generator_memory_mib)
        .fold(0.0, f64::max);
    let process = points(summary, |p| p.generator_process_cpu);
    if process.is_empty() {
        return render_host_share(summary, peak_memory);
    }
    let mut series = vec![
        Series::line(
            format!("surge, all threads (peak memory {peak_memory:.0} MiB)"),
            RGBColor(40, 40, 40),
            2,
            process,
        ),
        Series::dashed(
            "surge's busiest thread".into(),
            RGBColor(0, 114, 178),
            points(summary, |p| p.generator_thread_cpu),
        ),
    ];
    let brokers = points(summary, |p| p.broker_cpu);
    if !brokers.is_empty() {
        series.push(Series::dotted(
            "embedded brokers (not surge)".into(),
            RGBColor(213, 94, 0),
            brokers,
        ));
    }
    TimeChart {
        file: FILE,
        caption: "Load generator: its own CPU, in cores (a thread cannot pass one core)",
        y_desc: &format!(
            "CPU (% of one core; the host has {})",
            summary.environment.cpus
        ),
        y_suffix: "%",
        series,
        thresholds: vec![Threshold {
            label: "one core: a thread here cannot go faster".to_string(),
            value: 100.0,
            text: "100%".into(),
        }],
        range: YRange::FitWithThresholds,
    }
    .render(summary)
}

/// A summary written before threads were sampled: the process as a share of the host.
fn render_host_share(summary: &Summary, peak_memory: f64) -> Result<String, ReportError> {
    TimeChart {
        file: FILE,
        caption: "Load generator: its own CPU (a saturated generator makes a run inconclusive)",
        y_desc: &format!("CPU (% of the host's {} cores)", summary.environment.cpus),
        y_suffix: "%",
        series: vec![Series::line(
            format!("CPU (peak memory {peak_memory:.0} MiB)"),
            RGBColor(60, 60, 60),
            2,
            points(summary, |p| p.generator_cpu),
        )],
        thresholds: vec![Threshold {
            label: "saturated: the run is inconclusive above".to_string(),
            value: 95.0,
            text: "95%".into(),
        }],
        range: YRange::Fixed(100.0),
    }
    .render(summary)
}

/// Schedule lag p99 per second, against the bound the generator is trusted within.
pub(super) fn render_schedule(summary: &Summary) -> Result<String, ReportError> {
    let lag = points(summary, |p| p.schedule_lag_p99.map(|v| v as f64 / 1000.0));
    let thresholds = summary
        .verdict
        .trust
        .iter()
        .find(|t| t.name == "schedule lag p99")
        .map(|t| Threshold {
            label: "trusted up to (run.max_schedule_lag_p99)".to_string(),
            value: t.limit / 1000.0,
            text: crate::format::format_micros(t.limit),
        })
        .into_iter()
        .collect();
    TimeChart {
        file: SCHEDULE_FILE,
        caption: "Load generator: how late it sent, each second (schedule lag p99)",
        y_desc: "schedule lag p99 (ms)",
        y_suffix: "",
        series: vec![Series::line(
            "schedule lag p99".into(),
            RGBColor(0, 114, 178),
            2,
            lag,
        )],
        thresholds,
        range: YRange::Fit,
    }
    .render(summary)
}
