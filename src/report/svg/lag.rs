//! Consumer lag over time, one line per group, with the lag SLOs.

use super::color;
use super::timeline::{Series, Threshold, TimeChart, YRange, group_points, thresholds};
use crate::format::thousands;
use crate::report::ReportError;
use crate::scenario::{Metric, RecoveryLimits};
use crate::summary::Summary;

pub(super) const FILE: &str = "consumer-lag.svg";

pub(super) fn render(summary: &Summary) -> Result<String, ReportError> {
    let series: Vec<Series> = summary
        .groups
        .iter()
        .enumerate()
        .map(|(index, group)| {
            Series::line(
                format!("{} (at most {})", group.name, thousands(group.max_lag)),
                color(index),
                2,
                group_points(summary, &group.name, |g| Some(g.lag as f64)),
            )
        })
        .collect();
    let mut limits = thresholds(
        summary,
        |m| matches!(m, Metric::LagMax { .. }),
        1.0,
        |v| format!("{} events", thousands(v as u64)),
    );
    // Without a lag SLO, the lag is drawn against the alert level recovery is judged by.
    if limits.is_empty() {
        let alert = RecoveryLimits::ADR.lag as f64;
        limits.push(Threshold {
            label: format!("alert level ({} events)", thousands(alert as u64)),
            value: alert,
            text: thousands(alert as u64),
        });
    }
    TimeChart {
        file: FILE,
        caption: "Consumer lag per group (acked, not yet consumed), against its limit",
        y_desc: "events behind",
        y_suffix: "",
        series,
        thresholds: limits,
        range: YRange::FitWithThresholds,
    }
    .render(summary)
}
