//! A capacity search: e2e p95 and p99 against the offered rate, one dot per probe (hollow
//! where it failed), the p95 limit and the knee.

use plotters::coord::combinators::{BindKeyPoints, WithKeyPoints};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::distribution::{Curve, one_two_five};
use super::{
    Axes, FONT, LegendEntry, Plotted, SIZE, SLO_SCALE_REACH, SLO_STYLES, Swatch, color, draw,
    draw_mesh,
};
use crate::format::{axis_millis, format_micros, thousands};
use crate::report::ReportError;
use crate::summary::{Capacity, Probe, Status, Summary};

pub(super) const FILE: &str = "capacity.svg";

/// Picks one latency of a capacity probe.
type ProbePick = fn(&Probe) -> u64;

type RateAxes<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, WithKeyPoints<LogCoord<f64>>>>;

/// Where the chart's lines and labels go, in its units (events/s across, ms up).
struct Layout {
    max_rate: f64,
    peak: f64,
    /// The p95 limit, when it is within reach of the data.
    limit_shown: Option<f64>,
    knee_label: Option<String>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Latency against offered rate for a capacity search, with the knee marked.
pub fn capacity_chart(summary: &Summary) -> Option<Result<String, ReportError>> {
    let capacity = summary.capacity.as_ref()?;
    let probes = &capacity.probes;
    let data_peak = probes.iter().map(|p| ms(p.e2e_p99_us)).fold(1.0, f64::max);
    let limit = capacity.p95_limit_us.map(ms);
    let limit_shown = limit.filter(|l| *l <= data_peak * SLO_SCALE_REACH);
    let layout = Layout {
        max_rate: probes.iter().map(|p| p.offered_rate).fold(1.0, f64::max) * 1.1,
        peak: limit_shown.map_or(data_peak, |l| l.max(data_peak)),
        limit_shown,
        knee_label: capacity
            .sustained_rate
            .map(|knee| format!("knee: sustains {} events/s", thousands(knee as u64))),
    };
    let picks: [(&str, RGBColor, ProbePick); 2] = [
        ("e2e p95", color(0), |p| p.e2e_p95_us),
        ("e2e p99", color(1), |p| p.e2e_p99_us),
    ];
    let curves: Vec<Curve> = picks
        .into_iter()
        .map(|(label, color, pick)| Curve {
            label: label.to_string(),
            color,
            points: probes
                .iter()
                .map(|p| (p.offered_rate, ms(pick(p)).max(0.5)))
                .collect(),
        })
        .collect();
    let entries = legend(&curves, limit, &layout);
    let caption = "Capacity: e2e latency against offered rate";
    let events = |v: &f64| thousands(*v as u64);
    let axes = Axes {
        x_desc: "offered rate (events per second)",
        y_desc: "latency (ms, log)",
        x_label: Some(&events),
        y_label: Some(&axis_millis),
        faint_grid: true,
    };
    Some(draw(summary, FILE, caption, SIZE, |root| {
        let top = layout.peak * 1.5;
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 18))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(
                0f64..layout.max_rate,
                (0.5f64..top)
                    .log_scale()
                    .with_key_points(one_two_five(0.5, top)),
            )?;
        draw_mesh(&mut chart, &axes)?;
        draw_probes(&mut chart, curves, probes)?;
        draw_limit_and_knee(&mut chart, capacity, &layout)?;
        Ok(entries)
    }))
}

/// The curves, the probes, the limit (named off scale when it is far above the data) and the
/// knee.
fn legend(curves: &[Curve], limit: Option<f64>, layout: &Layout) -> Vec<LegendEntry> {
    let mut entries: Vec<LegendEntry> = curves.iter().map(Curve::legend_entry).collect();
    entries.push(LegendEntry {
        label: "probe (hollow: it failed)".into(),
        swatch: Swatch::Dot(color(0)),
    });
    let (slo_color, dash, gap) = SLO_STYLES[0];
    if let Some(limit) = limit {
        entries.push(LegendEntry {
            label: if layout.limit_shown.is_some() {
                "SLO e2e p95".into()
            } else {
                format!(
                    "SLO e2e p95 (off scale, at {})",
                    format_micros(limit * 1000.0)
                )
            },
            swatch: Swatch::Dashed(slo_color.stroke_width(2), dash, gap),
        });
    }
    if let Some(label) = &layout.knee_label {
        entries.push(LegendEntry {
            label: label.clone(),
            swatch: Swatch::Line(BLACK.stroke_width(2)),
        });
    }
    entries
}

/// Each curve, and a dot per probe on it: filled where the probe passed.
fn draw_probes(chart: &mut RateAxes, curves: Vec<Curve>, probes: &[Probe]) -> Plotted {
    for curve in curves {
        let color = curve.color;
        chart.draw_series(LineSeries::new(curve.points.clone(), color.stroke_width(2)))?;
        chart.draw_series(curve.points.into_iter().zip(probes).map(|(point, probe)| {
            let fill = if probe.status == Status::Pass {
                color.filled()
            } else {
                WHITE.filled()
            };
            Circle::new(point, 5, fill)
        }))?;
    }
    Ok(())
}

/// The p95 limit across the chart, and the knee as a vertical line, each labelled.
fn draw_limit_and_knee(chart: &mut RateAxes, capacity: &Capacity, layout: &Layout) -> Plotted {
    let (slo_color, dash, gap) = SLO_STYLES[0];
    let top = layout.peak * 1.5;
    if let Some(limit) = layout.limit_shown {
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, limit), (layout.max_rate, limit)],
            dash,
            gap,
            slo_color.stroke_width(2),
        ))?;
        let font = (FONT, 12).into_font().color(&slo_color);
        let text = EmptyElement::at((0.0, limit)) + Text::new("SLO e2e p95", (6, -15), font);
        chart.draw_series(std::iter::once(text))?;
    }
    if let (Some(knee), Some(label)) = (capacity.sustained_rate, layout.knee_label.clone()) {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(knee, 0.5), (knee, top)],
            BLACK.stroke_width(2),
        )))?;
        let font = (FONT, 12).into_font().color(&BLACK);
        // Right of the line, or left of it when the line is near the right edge.
        let dx = if knee > layout.max_rate * 0.6 {
            -(label.len() as i32) * 7 - 6
        } else {
            6
        };
        let text = EmptyElement::at((knee, top)) + Text::new(label, (dx, 4), font);
        chart.draw_series(std::iter::once(text))?;
    }
    Ok(())
}
