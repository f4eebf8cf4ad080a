//! The load generator's own CPU over time: a saturated generator makes a run inconclusive.

use plotters::prelude::*;

use super::timeline::{Series, Threshold, TimeChart, YRange};
use crate::report::ReportError;
use crate::summary::Summary;

pub(super) const FILE: &str = "generator.svg";

pub(super) fn render(summary: &Summary) -> Result<String, ReportError> {
    let cpu: Vec<(f64, f64)> = summary
        .timeline
        .iter()
        .filter_map(|p| p.generator_cpu.map(|c| (p.t, c)))
        .collect();
    let peak_memory = summary
        .timeline
        .iter()
        .filter_map(|p| p.generator_memory_mib)
        .fold(0.0, f64::max);
    TimeChart {
        file: FILE,
        caption: "Load generator: its own CPU (a saturated generator makes a run inconclusive)",
        y_desc: &format!("CPU (% of the host's {} cores)", summary.environment.cpus),
        y_label: &|v: &f64| format!("{v:.0}%"),
        series: vec![Series::line(
            format!("CPU (peak memory {peak_memory:.0} MiB)"),
            RGBColor(60, 60, 60),
            2,
            cpu,
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
