//! Consumer lag over time, one line per group, with the lag SLOs.

use super::color;
use super::timeline::{Series, TimeChart, YRange, group_points, thresholds};
use crate::format::thousands;
use crate::report::ReportError;
use crate::scenario::Metric;
use crate::summary::Summary;

pub(super) const FILE: &str = "consumer-lag.svg";

pub(super) fn render(summary: &Summary) -> Result<String, ReportError> {
    let series: Vec<Series> = summary
        .groups
        .iter()
        .enumerate()
        .map(|(index, group)| {
            Series::line(
                group.name.clone(),
                color(index),
                2,
                group_points(summary, &group.name, |g| Some(g.lag as f64)),
            )
        })
        .collect();
    TimeChart {
        file: FILE,
        caption: "Consumer lag per group (acked, not yet consumed)",
        y_desc: "events behind",
        y_label: &|v: &f64| thousands(*v as u64),
        series,
        thresholds: thresholds(
            summary,
            |m| matches!(m, Metric::LagMax { .. }),
            1.0,
            |v| format!("{} events", thousands(v as u64)),
        ),
        range: YRange::Fit,
    }
    .render(summary)
}
