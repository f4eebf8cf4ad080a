//! Throughput over time: the target, what was produced, and what each group consumed (and,
//! for a group that reads some topics only, the share it is expected to read).

use plotters::prelude::*;

use super::color;
use super::timeline::{Series, TimeChart, YRange, group_points};
use crate::report::ReportError;
use crate::report::table::expected_for;
use crate::summary::Summary;

pub(super) const FILE: &str = "throughput.svg";

pub(super) fn render(summary: &Summary) -> Result<String, ReportError> {
    let timeline = &summary.timeline;
    let mut series = vec![
        Series::dashed(
            "target".into(),
            BLACK,
            timeline.iter().map(|p| (p.t, p.target_rate)).collect(),
        ),
        Series::line(
            "produced".into(),
            RGBColor(60, 60, 60),
            2,
            timeline.iter().map(|p| (p.t, p.produced as f64)).collect(),
        ),
    ];
    let acked = summary.produced.acked.max(1) as f64;
    for (index, group) in summary.groups.iter().enumerate() {
        let share = expected_for(summary, group) as f64 / acked;
        let points = group_points(summary, &group.name, |g| Some(g.consumed as f64));
        let label = if share < 0.999 {
            format!(
                "consumed by {} ({:.0}% of the mix)",
                group.name,
                share * 100.0
            )
        } else {
            format!("consumed by {}", group.name)
        };
        series.push(Series::line(label, color(index), 2, points));
        // A group that reads some topics only is expected to read that share of the events.
        if share < 0.999 {
            series.push(Series {
                label: format!("expected for {}", group.name),
                style: color(index).mix(0.7).stroke_width(1),
                dashes: Some((3, 3)),
                points: timeline
                    .iter()
                    .map(|p| (p.t, p.produced as f64 * share))
                    .collect(),
            });
        }
    }
    TimeChart {
        file: FILE,
        caption: "Throughput: target, produced and consumed per group",
        y_desc: "events per second",
        y_suffix: "",
        series,
        thresholds: Vec::new(),
        range: YRange::Fit,
    }
    .render(summary)
}

pub(super) const BYTES_FILE: &str = "throughput-bytes.svg";

/// Payload MB/s per second: produced, acked by the brokers, and consumed by each group.
pub(super) fn render_bytes(summary: &Summary) -> Result<String, ReportError> {
    let mb = |bytes: u64| bytes as f64 / crate::summary::MB;
    let timeline = &summary.timeline;
    let mut series = vec![
        Series::dashed(
            "produced".into(),
            RGBColor(40, 40, 40),
            timeline
                .iter()
                .map(|p| (p.t, mb(p.produced_bytes)))
                .collect(),
        ),
        Series::line(
            "acked by the brokers".into(),
            RGBColor(40, 40, 40),
            2,
            timeline.iter().map(|p| (p.t, mb(p.acked_bytes))).collect(),
        ),
    ];
    for (index, group) in summary.groups.iter().enumerate() {
        series.push(Series::line(
            format!("consumed by {}", group.name),
            color(index),
            2,
            group_points(summary, &group.name, |g| Some(mb(g.consumed_bytes))),
        ));
    }
    TimeChart {
        file: BYTES_FILE,
        caption: "Throughput in payload MB/s (MB = 2^20 bytes of record values)",
        y_desc: "MB per second",
        y_suffix: "",
        series,
        thresholds: Vec::new(),
        range: YRange::Fit,
    }
    .render(summary)
}
