//! End-to-end latency over time: each group's p50, p95 and p99 per second, with the e2e SLOs.

use plotters::prelude::*;

use super::color;
use super::distribution::supported;
use super::timeline::{Series, TimeChart, YRange, group_points, thresholds};
use crate::format::format_micros;
use crate::metrics::GroupPoint;
use crate::report::ReportError;
use crate::scenario::Metric;
use crate::summary::Summary;

pub(super) const FILE: &str = "e2e-latency.svg";

/// Picks one percentile from a group's point on the timeline.
type Pick = fn(&GroupPoint) -> Option<u64>;

/// One percentile's line: its name, where it is, its quantile, and its dash pattern (every
/// percentile of a group shares the group's colour; the pattern tells them apart).
struct Percentile {
    label: &'static str,
    pick: Pick,
    quantile: f64,
    dashes: Option<(u32, u32)>,
}

const PERCENTILES: [Percentile; 3] = [
    Percentile {
        label: "p50",
        pick: |g| g.e2e_p50,
        quantile: 0.50,
        dashes: Some((2, 3)),
    },
    Percentile {
        label: "p95",
        pick: |g| g.e2e_p95,
        quantile: 0.95,
        dashes: Some((9, 4)),
    },
    Percentile {
        label: "p99",
        pick: |g| g.e2e_p99,
        quantile: 0.99,
        dashes: None,
    },
];

pub(super) fn render(summary: &Summary) -> Result<String, ReportError> {
    let ms = |v: Option<u64>| v.map(|us| us as f64 / 1000.0);
    let mut series = Vec::new();
    for (index, group) in summary.groups.iter().enumerate() {
        for percentile in &PERCENTILES {
            // A second's percentile is drawn only when that second had the samples for it.
            let points = group_points(summary, &group.name, |g| {
                ms((percentile.pick)(g)).filter(|_| supported(g.consumed, percentile.quantile))
            });
            if points.is_empty() {
                continue;
            }
            series.push(Series {
                label: format!("{} {}", group.name, percentile.label),
                style: color(index).stroke_width(2),
                dashes: percentile.dashes,
                points,
            });
        }
    }
    TimeChart {
        file: FILE,
        caption: "End-to-end latency per second (p50 dotted, p95 dashed, p99 solid)",
        y_desc: "latency (ms)",
        y_suffix: "",
        series,
        thresholds: thresholds(
            summary,
            |m| matches!(m, Metric::E2e { .. }),
            1e-3,
            format_micros,
        ),
        range: YRange::LogWhenWide,
    }
    .render(summary)
}
