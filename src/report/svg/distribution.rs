//! Latency by percentile: each group's e2e spectrum and the publish spectrum from the HDR
//! histograms (warmup excluded), on log axes, with each e2e percentile SLO as a dot.

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

use super::timeline::slos;
use super::{
    Axes, FONT, LegendEntry, SIZE, SLO_SCALE_REACH, SLO_STYLES, Swatch, color, draw, draw_mesh,
};
use crate::format::axis_percentile;
use crate::metrics::histograms::{PUBLISH, e2e_tag};
use crate::report::{ReportError, RunData};
use crate::scenario::{Metric, Stat};
use crate::summary::Summary;

pub(super) const FILE: &str = "latency-distribution.svg";

/// A percentile is drawn only where at least this many samples lie above it: the p99 of 300
/// samples is their third-largest value, not a tail.
pub const MIN_TAIL_SAMPLES: f64 = 10.0;

/// Whether `count` samples support a percentile at `quantile` (0.99 for p99).
pub fn supported(count: u64, quantile: f64) -> bool {
    quantile < 1.0 && 1.0 / (1.0 - quantile) <= supported_inverse(count)
}

/// The highest `1/(1-p)` that `count` samples support: the end of a spectrum's x axis.
pub fn supported_inverse(count: u64) -> f64 {
    count as f64 / MIN_TAIL_SAMPLES
}

/// A labelled, coloured line of (x, y) points.
pub(super) struct Curve {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    /// Its line in the legend.
    pub fn legend_entry(&self) -> LegendEntry {
        LegendEntry {
            label: self.label.clone(),
            swatch: Swatch::Line(self.color.stroke_width(2)),
        }
    }
}

/// An SLO drawn as a dot at its percentile and limit.
struct Marker {
    label: String,
    at: f64,
    limit: f64,
    color: RGBColor,
}

/// Each group's e2e spectrum, then the publish spectrum.
fn curves(run: &RunData) -> Vec<Curve> {
    let mut curves: Vec<Curve> = Vec::new();
    for (index, group) in run.summary.groups.iter().enumerate() {
        if let Some(h) = run.histograms.total(&e2e_tag(&group.name)) {
            curves.push(Curve {
                label: format!("e2e {}", group.name),
                color: color(index),
                points: spectrum(h),
            });
        }
    }
    if let Some(h) = run.histograms.total(PUBLISH) {
        curves.push(Curve {
            label: "publish".into(),
            color: RGBColor(60, 60, 60),
            points: spectrum(h),
        });
    }
    curves
}

pub(super) fn render(run: &RunData) -> Result<String, ReportError> {
    let summary = &run.summary;
    let curves = curves(run);
    // An empty run (no histogram, or only zeros) draws an empty chart on a unit range.
    let values = || {
        curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let low = values().fold(f64::MAX, f64::min).clamp(0.01, 1e12);
    let data_high = values().fold(0.0, f64::max);
    // The x axis ends at the highest percentile some curve can support.
    let x_end = curves
        .iter()
        .filter_map(|c| c.points.last().map(|p| p.0))
        .fold(10.0, f64::max)
        * 1.2;
    let mut entries: Vec<LegendEntry> = curves.iter().map(Curve::legend_entry).collect();
    let markers = markers(summary, x_end, data_high, &mut entries);
    let high = markers
        .iter()
        .fold(data_high.clamp(low * 10.0, 1e13), |high, m| {
            high.max(m.limit)
        });
    // The axis starts at a 1-2-5 value below the data, so the lowest values have a tick.
    let bottom = one_two_five_floor(low * 0.8);
    let y_ticks = one_two_five(bottom, high * 1.3);
    let decimals = super::tick_decimals(y_ticks.iter().copied());
    let y_label = move |v: &f64| format!("{v:.decimals$}");
    let keys: Vec<f64> = [2.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0]
        .into_iter()
        .filter(|k| *k <= x_end)
        .collect();
    let caption = "Latency by percentile (HDR spectrum, warmup excluded)";
    let x_desc = format!(
        "percentile (log scale of 1/(1-p); drawn where {MIN_TAIL_SAMPLES} samples lie above)"
    );
    let axes = Axes {
        x_desc: &x_desc,
        y_desc: "latency (ms, log)",
        x_label: Some(&axis_percentile),
        y_label: Some(&y_label),
        faint_grid: true,
    };
    draw(summary, FILE, caption, SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 18))
            .margin(14)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (2f64..x_end).log_scale().with_key_points(keys),
                (bottom..high * 1.3).log_scale().with_key_points(y_ticks),
            )?;
        draw_mesh(&mut chart, &axes)?;
        for curve in curves {
            chart.draw_series(LineSeries::new(curve.points, curve.color.stroke_width(2)))?;
        }
        for Marker {
            label,
            at,
            limit,
            color,
        } in markers
        {
            chart.draw_series(std::iter::once(Circle::new((at, limit), 6, color.filled())))?;
            let font = (FONT, 14).into_font().color(&color);
            let text =
                EmptyElement::at((at, limit)) + Text::new(format!("SLO {label}"), (-40, -22), font);
            chart.draw_series(std::iter::once(text))?;
        }
        Ok(entries)
    })
}

/// The e2e percentile SLOs: a legend entry each, and a marker for those the chart can show
/// (not past the percentiles the samples support, nor far above the data).
fn markers(
    summary: &Summary,
    x_end: f64,
    data_high: f64,
    entries: &mut Vec<LegendEntry>,
) -> Vec<Marker> {
    let mut markers = Vec::new();
    for slo in slos(summary) {
        let p = match slo.metric {
            Metric::E2e {
                stat: Stat::Percentile(p),
                ..
            }
            | Metric::Publish(Stat::Percentile(p)) => p,
            _ => continue,
        };
        let (at, limit) = (1.0 / (1.0 - p / 100.0), slo.limit / 1000.0);
        let reason = if at > x_end {
            Some("not enough samples for that percentile")
        } else if data_high > 0.0 && limit > data_high * SLO_SCALE_REACH {
            Some("off scale")
        } else {
            None
        };
        let (color, _, _) = SLO_STYLES[markers.len() % SLO_STYLES.len()];
        let label = match reason {
            Some(reason) => format!("SLO {slo} ({reason})"),
            None => format!("SLO {slo}"),
        };
        entries.push(LegendEntry {
            label,
            swatch: Swatch::Dot(color),
        });
        if reason.is_none() {
            markers.push(Marker {
                label: slo.to_string(),
                at,
                limit,
                color,
            });
        }
    }
    markers
}

/// Percentiles from p50 up to the highest the histogram's count supports (at most p99.999),
/// as (1/(1-p), milliseconds).
fn spectrum(histogram: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let last = supported_inverse(histogram.len()).min(100_000.0);
    (0..=80)
        .map(|step| 2.0 * 10f64.powf(step as f64 / 80.0 * (50_000f64).log10()))
        .take_while(|inverse| *inverse <= last)
        .map(|inverse| {
            let quantile = 1.0 - 1.0 / inverse;
            (
                inverse,
                histogram.value_at_quantile(quantile) as f64 / 1000.0,
            )
        })
        .collect()
}

/// The largest of 1, 2, 5, 10, 20, 50, ... at or below `value` (`value` itself when it is not
/// a positive number).
fn one_two_five_floor(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return value;
    }
    let decade = 10f64.powf(value.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|tick| *tick <= value * (1.0 + 1e-9))
        .unwrap_or(decade)
}

/// Tick values 1, 2, 5, 10, 20, 50, ... within a range; none for a range that is empty, not
/// finite or not positive, and never more than 40 decades, whatever the input.
pub(super) fn one_two_five(low: f64, high: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    if !(low.is_finite() && high.is_finite() && low > 0.0 && high >= low) {
        return ticks;
    }
    let mut decade = 10f64.powf(low.log10().floor());
    for _ in 0..40 {
        if decade > high {
            break;
        }
        for step in [1.0, 2.0, 5.0] {
            let tick = decade * step;
            if tick >= low && tick <= high {
                ticks.push(tick);
            }
        }
        decade *= 10.0;
    }
    ticks
}
