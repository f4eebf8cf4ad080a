//! The frame of every chart over the run's seconds (latency, throughput, lag, generator):
//! fault windows, phase boundaries, the series, and each SLO line labelled on the chart, or
//! named "off scale" in the legend when it is far above the data.

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{
    Axes, FONT, LegendEntry, Plotted, SIZE, SLO_SCALE_REACH, SLO_STYLES, Swatch, draw, draw_mesh,
    tick_decimals,
};
use crate::metrics::GroupPoint;
use crate::report::ReportError;
use crate::scenario::{Metric, Slo};
use crate::summary::Summary;

type TimeAxes<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, TickedAxis>>;

/// A y axis with the ticks surge chose (1-2-5 steps), not plotters' own.
pub(super) struct TickedAxis {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Light (sub-tick) lines only where there is room for them: the ticks are enough.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn axis_pixel_range(&self, limit: (i32, i32)) -> std::ops::Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

impl ValueFormatter<f64> for TickedAxis {
    fn format(value: &f64) -> String {
        format!("{value}")
    }
}

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

    /// A line of short dashes, told apart from a dashed one without its colour.
    pub fn dotted(label: String, color: RGBColor, points: Vec<(f64, f64)>) -> Series {
        Series {
            label,
            style: color.stroke_width(2),
            dashes: Some((2, 3)),
            points,
        }
    }

    /// Each value drawn across the second it was measured in (a point at `t` closes the
    /// second that ended at `t`), so that a step in the data is drawn as a step; a second
    /// without a value breaks the line rather than bridging the gap.
    fn steps(&self) -> Vec<Vec<(f64, f64)>> {
        let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut previous: Option<f64> = None;
        for &(t, value) in &self.points {
            match previous.filter(|p| t - p <= 1.5) {
                Some(start) => segments
                    .last_mut()
                    .expect("a segment is open")
                    .extend([(start, value), (t, value)]),
                None => segments.push(vec![((t - 1.0).max(0.0), value), (t, value)]),
            }
            previous = Some(t);
        }
        segments
    }

    fn swatch(&self) -> Swatch {
        match self.dashes {
            Some((dash, gap)) => Swatch::Dashed(self.style, dash, gap),
            None => Swatch::Line(self.style),
        }
    }
}

/// A limit drawn across a time chart.
#[derive(Clone)]
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
    /// From 0 to above the data and every threshold: a limit far above the data is drawn,
    /// so the data reads small against it (lag against its alert level).
    FitWithThresholds,
    /// As `Fit`, on a logarithmic axis when the data spans more than [`LOG_SPAN`] times, so
    /// a fault's spike does not flatten the baseline (latency).
    LogWhenWide,
}

/// Characters of 14 px text that fit across a time chart's plot area (about 580 px).
const PLOT_CHARS: f64 = 72.0;

/// Data spanning more than this many times is drawn on a logarithmic axis (`LogWhenWide`).
const LOG_SPAN: f64 = 20.0;

/// A chart over the run's seconds.
pub(super) struct TimeChart<'a> {
    pub file: &'static str,
    pub caption: &'a str,
    pub y_desc: &'a str,
    /// Written after each tick's number (`%`), or nothing.
    pub y_suffix: &'a str,
    pub series: Vec<Series>,
    pub thresholds: Vec<Threshold>,
    pub range: YRange,
}

/// The y axis: its ends (in log10 of the value on a logarithmic axis), its ticks, and the
/// thresholds in legend order.
struct Scale {
    bottom: f64,
    top: f64,
    log: bool,
    ticks: Vec<f64>,
    thresholds: Vec<Threshold>,
}

impl Scale {
    /// Where a value is drawn.
    fn y(&self, value: f64) -> f64 {
        if self.log {
            value.max(10f64.powf(self.bottom)).log10()
        } else {
            value
        }
    }

    /// The value a position on the axis stands for.
    fn value(&self, y: f64) -> f64 {
        if self.log { 10f64.powf(y) } else { y }
    }
}

impl TimeChart<'_> {
    /// The SVG text.
    pub fn render(self, summary: &Summary) -> Result<String, ReportError> {
        let TimeChart {
            file,
            caption,
            y_desc,
            y_suffix,
            mut series,
            thresholds,
            range,
        } = self;
        let end = end_time(summary);
        let scale = scale(&mut series, thresholds, range);
        let series: Vec<Series> = series
            .into_iter()
            .map(|mut s| {
                for point in &mut s.points {
                    point.1 = scale.y(point.1);
                }
                s
            })
            .collect();
        let mut entries: Vec<LegendEntry> = series
            .iter()
            .map(|s| LegendEntry {
                label: s.label.clone(),
                swatch: s.swatch(),
            })
            .collect();
        let mut slo_lines = Vec::new();
        for (index, mut threshold) in scale.thresholds.iter().cloned().enumerate() {
            let (color, dash, gap) = SLO_STYLES[index % SLO_STYLES.len()];
            let on_chart = scale.y(threshold.value) <= scale.top
                && threshold.value >= scale.value(scale.bottom) * (1.0 - 1e-9)
                && (0.0..=1e15).contains(&threshold.value);
            entries.push(LegendEntry {
                label: if on_chart {
                    threshold.label.clone()
                } else {
                    format!("{} (off scale: at {})", threshold.label, threshold.text)
                },
                swatch: Swatch::Dashed(color.stroke_width(2), dash, gap),
            });
            if on_chart {
                threshold.value = scale.y(threshold.value);
                slo_lines.push(SloLine {
                    threshold,
                    color,
                    dash,
                    gap,
                });
            }
        }
        let decimals = tick_decimals(scale.ticks.iter().map(|y| scale.value(*y)));
        let format_tick = |y: &f64| tick_text(scale.value(*y), decimals, y_suffix);
        let log_desc;
        let y_desc = if scale.log {
            log_desc = format!("{y_desc}, logarithmic");
            log_desc.as_str()
        } else {
            y_desc
        };
        let x_decimals = if end < 10.0 { 1 } else { 0 };
        let x_tick = move |v: &f64| format!("{v:.x_decimals$}");
        let axes = Axes {
            x_desc: "seconds since the plan started",
            y_desc,
            x_label: Some(&x_tick),
            y_label: Some(&format_tick),
            faint_grid: true,
        };
        let bounds = (scale.bottom, scale.top);
        draw(summary, file, caption, SIZE, |root| {
            let mut chart = ChartBuilder::on(root)
                .caption(caption, (FONT, 20))
                .margin(14)
                .x_label_area_size(48)
                .y_label_area_size(86)
                .build_cartesian_2d(
                    0f64..end,
                    TickedAxis {
                        inner: (scale.bottom..scale.top).into(),
                        ticks: scale.ticks.clone(),
                    },
                )?;
            draw_mesh(&mut chart, &axes)?;
            draw_faults(&mut chart, summary, end, bounds)?;
            draw_rebalances(&mut chart, summary, end, bounds)?;
            draw_phases(&mut chart, summary, end, bounds)?;
            draw_series(&mut chart, series)?;
            draw_slo_lines(&mut chart, slo_lines, end, bounds)?;
            Ok(entries)
        })
    }
}

/// The y axis for the data and thresholds, and the thresholds in legend order: those within
/// reach of the data, then those off scale. Under a fixed top, the series are clamped to it.
fn scale(series: &mut [Series], thresholds: Vec<Threshold>, range: YRange) -> Scale {
    let values = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
    };
    let data_peak = values().fold(0.0, f64::max);
    let data_low = values().filter(|v| *v > 0.0).fold(f64::MAX, f64::min);
    let reach = if data_peak > 0.0 {
        data_peak * SLO_SCALE_REACH
    } else {
        f64::MAX
    };
    // A limit below zero or beyond any figure (a crafted summary's) is named, never drawn.
    let drawable = |t: &Threshold| t.value.is_finite() && (0.0..=1e15).contains(&t.value);
    let (drawable, never): (Vec<Threshold>, Vec<Threshold>) =
        thresholds.into_iter().partition(drawable);
    let (shown, mut off_scale): (Vec<Threshold>, Vec<Threshold>) = match range {
        YRange::Fixed(top) => drawable.into_iter().partition(|t| t.value <= top),
        YRange::Fit | YRange::LogWhenWide => drawable.into_iter().partition(|t| t.value <= reach),
        YRange::FitWithThresholds => (drawable, Vec::new()),
    };
    off_scale.extend(never);
    let highest = shown.iter().map(|t| t.value).fold(data_peak, f64::max);
    let log = matches!(range, YRange::LogWhenWide)
        && data_low < f64::MAX
        && highest / data_low > LOG_SPAN;
    let (bottom, top) = match range {
        YRange::Fixed(top) => {
            for point in series.iter_mut().flat_map(|s| s.points.iter_mut()) {
                point.1 = point.1.min(top);
            }
            (0.0, top)
        }
        _ if log => {
            // A decade's 1-2-5 ticks below the lowest value, a little room above the highest.
            let floor = 10f64.powf(data_low.log10().floor());
            (floor.log10(), highest.log10() + 0.08)
        }
        _ => (0.0, highest.max(1.0) * 1.12),
    };
    let ticks = if log {
        log_ticks(bottom, top)
    } else {
        linear_ticks(top)
    };
    Scale {
        bottom,
        top,
        log,
        ticks,
        thresholds: shown.into_iter().chain(off_scale).collect(),
    }
}

/// Ticks at 1-2-5 steps from 0 to `top`, five to ten of them.
fn linear_ticks(top: f64) -> Vec<f64> {
    let raw = top / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| top / s <= 10.0)
        .unwrap_or(10.0 * magnitude);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= top)
        .collect()
}

/// Ticks at 1, 2 and 5 times each power of ten between 10^`bottom` and 10^`top`, as log10.
fn log_ticks(bottom: f64, top: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(bottom.floor());
    while decade.log10() <= top {
        for m in [1.0, 2.0, 5.0] {
            let y = (m * decade).log10();
            if y >= bottom - 1e-9 && y <= top {
                ticks.push(y);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// A tick's number: thousands separated when whole, then the unit.
fn tick_text(value: f64, decimals: usize, suffix: &str) -> String {
    if decimals == 0 {
        format!(
            "{}{suffix}",
            crate::format::thousands(value.round().max(0.0) as u64)
        )
    } else {
        format!("{value:.decimals$}{suffix}")
    }
}

/// Each fault's window, shaded and labelled at the foot of the chart.
fn draw_faults(
    chart: &mut TimeAxes,
    summary: &Summary,
    end: f64,
    (bottom, top): (f64, f64),
) -> Plotted {
    for fault in summary.faults.iter().filter(|f| f.applied) {
        let until = fault.end_s.max(fault.start_s + end * 0.004);
        let shade = Rectangle::new(
            [(fault.start_s, bottom), (until, top)],
            RGBColor(230, 120, 40).mix(0.15).filled(),
        );
        chart.draw_series(std::iter::once(shade))?;
        let style = (FONT, 14).into_font().color(&RGBColor(150, 60, 0));
        let text = EmptyElement::at((fault.start_s, bottom))
            + Text::new(format!("fault: {}", fault.name), (4, -16), style);
        chart.draw_series(std::iter::once(text))?;
    }
    Ok(())
}

/// Each rebalance's changes (first revocation to last assignment), a violet band marked
/// `rebalance` at the top of the chart for the first of each group.
fn draw_rebalances(
    chart: &mut TimeAxes,
    summary: &Summary,
    end: f64,
    (bottom, top): (f64, f64),
) -> Plotted {
    let color = RGBColor(120, 70, 170);
    for group in &summary.groups {
        let mut labelled = false;
        for row in &group.rebalances {
            let (Some(first), Some(last)) = (row.first_change_s, row.last_change_s) else {
                continue;
            };
            let until = last.max(first + end * 0.003);
            let band = Rectangle::new([(first, bottom), (until, top)], color.mix(0.25).filled());
            chart.draw_series(std::iter::once(band))?;
            if !labelled {
                labelled = true;
                let style = (FONT, 12).into_font().color(&color);
                let text = EmptyElement::at((first, top))
                    + Text::new(format!("rebalance: {}", group.name), (4, 38), style);
                chart.draw_series(std::iter::once(text))?;
            }
        }
    }
    Ok(())
}

/// A line where each phase starts, named along the top.
fn draw_phases(
    chart: &mut TimeAxes,
    summary: &Summary,
    end: f64,
    (bottom, top): (f64, f64),
) -> Plotted {
    let mut previous: Option<&str> = None;
    // Where each of two rows of labels is free again, in seconds: a label too close to the
    // previous one goes on the second row, and is left out only when both are taken.
    let mut free_from = [f64::MIN; 2];
    let seconds_per_char = end / PLOT_CHARS;
    for phase in &summary.phases {
        // Shapes expand into several segments of one phase: mark where the phase starts.
        if previous == Some(phase.name.as_str()) {
            continue;
        }
        previous = Some(&phase.name);
        let boundary = PathElement::new(
            vec![(phase.start_s, bottom), (phase.start_s, top)],
            RGBColor(150, 150, 150).stroke_width(1),
        );
        chart.draw_series(std::iter::once(boundary))?;
        let label = if phase.warmup && !phase.name.contains("warmup") {
            format!("{} (warmup)", phase.name)
        } else {
            phase.name.clone()
        };
        let Some(row) = (0..2).find(|&r| phase.start_s >= free_from[r]) else {
            continue;
        };
        free_from[row] = phase.start_s + (label.chars().count() as f64 + 2.0) * seconds_per_char;
        let style = (FONT, 14).into_font().color(&RGBColor(80, 80, 80));
        let text = EmptyElement::at((phase.start_s, top))
            + Text::new(label, (4, 3 + 17 * row as i32), style);
        chart.draw_series(std::iter::once(text))?;
    }
    Ok(())
}

fn draw_series(chart: &mut TimeAxes, series: Vec<Series>) -> Plotted {
    for line in series {
        let style = line.style;
        for segment in line.steps() {
            match line.dashes {
                Some((dash, gap)) => {
                    chart.draw_series(DashedLineSeries::new(segment, dash, gap, style))?
                }
                None => chart.draw_series(LineSeries::new(segment, style))?,
            };
        }
    }
    Ok(())
}

/// Each SLO line across the chart, labelled where it is drawn, at its right end.
fn draw_slo_lines(
    chart: &mut TimeAxes,
    lines: Vec<SloLine>,
    end: f64,
    (bottom, top): (f64, f64),
) -> Plotted {
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
        let font = (FONT, 14).into_font().color(&color);
        // Above the line, or below it where the phase names run along the top.
        let dy = if threshold.value > bottom + (top - bottom) * 0.85 {
            4
        } else {
            -17
        };
        let text = EmptyElement::at((end, threshold.value))
            + Text::new(
                threshold.label.clone(),
                (-(threshold.label.len() as i32) * 8 - 4, dy),
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
