//! The frame of every chart over the run's seconds (latency, throughput, lag, generator):
//! fault windows, phase boundaries, the series, and each SLO line labelled on the chart, or
//! named "off scale" in the legend when it is far above the data.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{
    Axes, FONT, LegendEntry, Plotted, SIZE, SLO_SCALE_REACH, SLO_STYLES, Swatch, draw, draw_mesh,
};
use crate::metrics::GroupPoint;
use crate::report::ReportError;
use crate::scenario::{Metric, Slo};
use crate::summary::Summary;

type TimeAxes<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One line of a chart.
pub(super) struct Series {
    pub label: String,
    pub style: ShapeStyle,
    /// Dash and gap lengths, for a dashed line.
    pub dashes: Option<(u32, u32)>,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A solid line.
    pub fn line(label: String, color: RGBColor, width: u32, points: Vec<(f64, f64)>) -> Series {
        Series {
            label,
            style: color.stroke_width(width),
            dashes: None,
            points,
        }
    }

    /// A dashed line, as the target rate is drawn.
    pub fn dashed(label: String, color: RGBColor, points: Vec<(f64, f64)>) -> Series {
        Series {
            label,
            style: color.stroke_width(2),
            dashes: Some((8, 5)),
            points,
        }
    }

    fn swatch(&self) -> Swatch {
        match self.dashes {
            Some((dash, gap)) => Swatch::Dashed(self.style, dash, gap),
            None => Swatch::Line(self.style),
        }
    }
}

/// A limit drawn across a time chart.
pub(super) struct Threshold {
    pub label: String,
    pub value: f64,
    /// How the value reads in the chart's unit, for the off-scale note.
    pub text: String,
}

/// A threshold drawn on the chart, in its colour and dash pattern.
struct SloLine {
    threshold: Threshold,
    color: RGBColor,
    dash: u32,
    gap: u32,
}

/// How a time chart's y axis is set.
pub(super) enum YRange {
    /// From 0 to just above the data (and the SLO lines within reach).
    Fit,
    /// Fixed, values above it clamped (CPU to 100%).
    Fixed(f64),
}

/// A chart over the run's seconds.
pub(super) struct TimeChart<'a> {
    pub file: &'static str,
    pub caption: &'a str,
    pub y_desc: &'a str,
    pub y_label: &'a dyn Fn(&f64) -> String,
    pub series: Vec<Series>,
    pub thresholds: Vec<Threshold>,
    pub range: YRange,
}

impl TimeChart<'_> {
    /// The SVG text.
    pub fn render(self, summary: &Summary) -> Result<String, ReportError> {
        let TimeChart {
            file,
            caption,
            y_desc,
            y_label,
            mut series,
            thresholds,
            range,
        } = self;
        let end = end_time(summary);
        let (top, thresholds) = scale(&mut series, thresholds, range);
        let mut entries: Vec<LegendEntry> = series
            .iter()
            .map(|s| LegendEntry {
                label: s.label.clone(),
                swatch: s.swatch(),
            })
            .collect();
        let mut slo_lines = Vec::new();
        for (index, threshold) in thresholds.into_iter().enumerate() {
            let (color, dash, gap) = SLO_STYLES[index % SLO_STYLES.len()];
            let on_chart = threshold.value <= top;
            entries.push(LegendEntry {
                label: if on_chart {
                    threshold.label.clone()
                } else {
                    format!("{} (off scale: at {})", threshold.label, threshold.text)
                },
                swatch: Swatch::Dashed(color.stroke_width(2), dash, gap),
            });
            if on_chart {
                slo_lines.push(SloLine {
                    threshold,
                    color,
                    dash,
                    gap,
                });
            }
        }
        let axes = Axes {
            x_desc: "seconds since the plan started",
            y_desc,
            x_label: None,
            y_label: Some(y_label),
            faint_grid: true,
        };
        draw(summary, file, caption, SIZE, |root| {
            let mut chart = ChartBuilder::on(root)
                .caption(caption, (FONT, 18))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(80)
                .build_cartesian_2d(0f64..end, 0f64..top)?;
            draw_mesh(&mut chart, &axes)?;
            draw_faults(&mut chart, summary, end, top)?;
            draw_phases(&mut chart, summary, end, top)?;
            draw_series(&mut chart, series)?;
            draw_slo_lines(&mut chart, slo_lines, end, top)?;
            Ok(entries)
        })
    }
}

/// The y axis' top, and the thresholds in legend order: those within reach of the data, then
/// those off scale. Under a fixed top, the series are clamped to it.
fn scale(
    series: &mut [Series],
    thresholds: Vec<Threshold>,
    range: YRange,
) -> (f64, Vec<Threshold>) {
    let data_peak = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let reach = if data_peak > 0.0 {
        data_peak * SLO_SCALE_REACH
    } else {
        f64::MAX
    };
    let (shown, off_scale): (Vec<Threshold>, Vec<Threshold>) = match range {
        YRange::Fixed(top) => thresholds.into_iter().partition(|t| t.value <= top),
        YRange::Fit => thresholds.into_iter().partition(|t| t.value <= reach),
    };
    let top = match range {
        YRange::Fixed(top) => {
            for point in series.iter_mut().flat_map(|s| s.points.iter_mut()) {
                point.1 = point.1.min(top);
            }
            top
        }
        YRange::Fit => {
            shown
                .iter()
                .map(|t| t.value)
                .fold(data_peak, f64::max)
                .max(1.0)
                * 1.12
        }
    };
    (top, shown.into_iter().chain(off_scale).collect())
}

/// Each fault's window, shaded and labelled at the foot of the chart.
fn draw_faults(chart: &mut TimeAxes, summary: &Summary, end: f64, top: f64) -> Plotted {
    for fault in summary.faults.iter().filter(|f| f.applied) {
        let until = fault.end_s.max(fault.start_s + end * 0.004);
        let shade = Rectangle::new(
            [(fault.start_s, 0.0), (until, top)],
            RGBColor(230, 120, 40).mix(0.15).filled(),
        );
        chart.draw_series(std::iter::once(shade))?;
        let style = (FONT, 12).into_font().color(&RGBColor(170, 80, 20));
        let text = EmptyElement::at((fault.start_s, 0.0))
            + Text::new(format!("fault: {}", fault.name), (4, -16), style);
        chart.draw_series(std::iter::once(text))?;
    }
    Ok(())
}

/// A line where each phase starts, named along the top.
fn draw_phases(chart: &mut TimeAxes, summary: &Summary, end: f64, top: f64) -> Plotted {
    let mut previous: Option<&str> = None;
    let mut last_label = f64::MIN;
    for phase in &summary.phases {
        // Shapes expand into several segments of one phase: mark where the phase starts.
        if previous == Some(phase.name.as_str()) {
            continue;
        }
        previous = Some(&phase.name);
        let boundary = PathElement::new(
            vec![(phase.start_s, 0.0), (phase.start_s, top)],
            RGBColor(150, 150, 150).stroke_width(1),
        );
        chart.draw_series(std::iter::once(boundary))?;
        let label = if phase.warmup && !phase.name.contains("warmup") {
            format!("{} (warmup)", phase.name)
        } else {
            phase.name.clone()
        };
        // A label too close to the previous one would print over it: the line stays.
        if phase.start_s - last_label < end * 0.06 {
            continue;
        }
        last_label = phase.start_s;
        let style = (FONT, 13).into_font().color(&RGBColor(90, 90, 90));
        let text = EmptyElement::at((phase.start_s, top)) + Text::new(label, (4, 3), style);
        chart.draw_series(std::iter::once(text))?;
    }
    Ok(())
}

fn draw_series(chart: &mut TimeAxes, series: Vec<Series>) -> Plotted {
    for line in series {
        let style = line.style;
        match line.dashes {
            Some((dash, gap)) => {
                chart.draw_series(DashedLineSeries::new(line.points, dash, gap, style))?
            }
            None => chart.draw_series(LineSeries::new(line.points, style))?,
        };
    }
    Ok(())
}

/// Each SLO line across the chart, labelled where it is drawn, at its right end.
fn draw_slo_lines(chart: &mut TimeAxes, lines: Vec<SloLine>, end: f64, top: f64) -> Plotted {
    for SloLine {
        threshold,
        color,
        dash,
        gap,
    } in lines
    {
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, threshold.value), (end, threshold.value)],
            dash,
            gap,
            color.stroke_width(2),
        ))?;
        let font = (FONT, 12).into_font().color(&color);
        // Above the line, or below it where the phase names run along the top.
        let dy = if threshold.value > top * 0.85 { 4 } else { -15 };
        let text = EmptyElement::at((end, threshold.value))
            + Text::new(
                threshold.label.clone(),
                (-(threshold.label.len() as i32) * 7 - 4, dy),
                font,
            );
        chart.draw_series(std::iter::once(text))?;
    }
    Ok(())
}

/// A group's value at each second of the timeline, where it has one.
pub(super) fn group_points(
    summary: &Summary,
    group: &str,
    pick: impl Fn(&GroupPoint) -> Option<f64>,
) -> Vec<(f64, f64)> {
    summary
        .timeline
        .iter()
        .filter_map(|p| {
            p.groups
                .iter()
                .find(|g| g.name == group)
                .and_then(&pick)
                .map(|v| (p.t, v))
        })
        .collect()
}

fn end_time(summary: &Summary) -> f64 {
    summary.timeline.last().map_or(1.0, |p| p.t).max(1.0)
}

/// The SLOs the run was judged against.
pub(super) fn slos(summary: &Summary) -> Vec<Slo> {
    summary
        .verdict
        .checks
        .iter()
        .filter_map(|c| c.name.parse::<Slo>().ok())
        .collect()
}

/// SLO limits on metrics matching `pick`, in the chart's unit.
pub(super) fn thresholds(
    summary: &Summary,
    pick: impl Fn(&Metric) -> bool,
    scale: f64,
    text: impl Fn(f64) -> String,
) -> Vec<Threshold> {
    slos(summary)
        .into_iter()
        .filter(|s| pick(&s.metric))
        .map(|s| Threshold {
            label: format!("SLO {s}"),
            value: s.limit * scale,
            text: text(s.limit),
        })
        .collect()
}
