//! SVG charts drawn with plotters after the run, from the timeline and the histograms.
//! No system fonts: the SVG backend writes text elements that the viewer renders.

use plotters::coord::Shift;
use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

use super::escape;
use super::table::{expected_for, loss_lines, thousands};
use super::{Exporter, Output, RunData};
use crate::metrics::GroupPoint;
use crate::scenario::slo::format_micros;
use crate::scenario::{Metric, Slo, Stat};
use crate::summary::Summary;

/// The chart files, with their titles.
pub const CHARTS: [(&str, &str); 6] = [
    ("e2e-latency.svg", "End-to-end latency over time"),
    ("throughput.svg", "Throughput over time"),
    (
        "latency-distribution.svg",
        "Latency percentile distribution",
    ),
    ("consumer-lag.svg", "Consumer lag over time"),
    ("ordering-loss.svg", "Ordering and loss"),
    ("generator.svg", "Load generator CPU"),
];

const SIZE: (u32, u32) = (960, 440);
/// The legend's column on the right of every chart: it never covers the data.
const LEGEND_WIDTH: u32 = 250;
const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];
/// SLO lines: one colour and dash pattern each, so two limits on one chart are told apart.
const SLO_STYLES: [(RGBColor, u32, u32); 4] = [
    (RGBColor(214, 39, 40), 8, 5),
    (RGBColor(140, 20, 90), 3, 3),
    (RGBColor(200, 90, 0), 14, 4),
    (RGBColor(90, 30, 30), 6, 2),
];
const SLO_RED: RGBColor = RGBColor(214, 39, 40);
/// A percentile is drawn only where at least this many samples lie above it: the p99 of 300
/// samples is their third-largest value, not a tail.
pub const MIN_TAIL_SAMPLES: f64 = 10.0;
/// An SLO line more than this many times the data's peak would flatten the data: it is named
/// "off scale" in the legend instead.
const SLO_SCALE_REACH: f64 = 3.0;

fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// Whether `count` samples support a percentile at `quantile` (0.99 for p99).
pub fn supported(count: u64, quantile: f64) -> bool {
    quantile < 1.0 && 1.0 / (1.0 - quantile) <= supported_inverse(count)
}

/// The highest `1/(1-p)` that `count` samples support: the end of a spectrum's x axis.
pub fn supported_inverse(count: u64) -> f64 {
    count as f64 / MIN_TAIL_SAMPLES
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// Picks one percentile from a group's point on the timeline.
type Pick = fn(&GroupPoint) -> Option<u64>;
/// Picks one latency of a capacity probe.
type ProbePick = fn(&crate::summary::Probe) -> u64;
/// A labelled, coloured line of (x, y) points.
type Curve = (String, RGBColor, Vec<(f64, f64)>);

/// What a legend entry shows beside its label.
#[derive(Clone, Copy)]
enum Swatch {
    Line(ShapeStyle),
    Dashed(ShapeStyle, u32, u32),
    Dot(RGBColor),
}

/// One line of a chart's legend.
struct LegendEntry {
    label: String,
    swatch: Swatch,
}

/// Draws the chart, its legend column and a footer naming the run, and returns the SVG with a
/// `<title>` and `<desc>` so a chart copied out of its report still says where it came from.
fn draw(
    summary: &Summary,
    title: &str,
    size: (u32, u32),
    build: impl FnOnce(&Area) -> Result<Vec<LegendEntry>, String>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot, side) = root.split_horizontally(size.0 - LEGEND_WIDTH);
        let entries = build(&plot)?;
        draw_legend(&side, &entries)?;
        let footer = (FONT, 11).into_font().color(&RGBColor(120, 120, 120));
        let lines = wrap(&provenance(summary), 40);
        for (index, line) in lines.iter().enumerate() {
            let from_bottom = (lines.len() - index) as i32 * 14 + 4;
            root.draw(&Text::new(
                line.clone(),
                (
                    size.0 as i32 - LEGEND_WIDTH as i32 + 8,
                    size.1 as i32 - from_bottom,
                ),
                footer.clone(),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(stamp(svg, title, summary))
}

/// `surge · smoke · run c3d21e2b · 2026-11-27 13:12 UTC`.
fn provenance(summary: &Summary) -> String {
    let started = chrono::DateTime::parse_from_rfc3339(&summary.started_at).map_or_else(
        |_| summary.started_at.clone(),
        |t| t.to_utc().format("%Y-%m-%d %H:%M UTC").to_string(),
    );
    format!(
        "surge · {} · run {} · {started}",
        summary.scenario.name, summary.run_id
    )
}

/// Puts `<title>` and `<desc>` first inside the `<svg>` element.
fn stamp(svg: String, title: &str, summary: &Summary) -> String {
    let description = format!(
        "{title}. Scenario {} ({}), run {}, started {}, cluster {} ({}).",
        summary.scenario.name,
        summary.scenario.file,
        summary.run_id,
        summary.started_at,
        summary.cluster.kind,
        summary.cluster.bootstrap
    );
    titled(
        svg,
        &format!("{title} — {}", provenance(summary)),
        &description,
    )
}

/// Puts a `<title>` and a `<desc>` first inside an `<svg>` element.
pub fn titled(svg: String, title: &str, description: &str) -> String {
    let Some(open) = svg.find("<svg") else {
        return svg;
    };
    let Some(close) = svg[open..].find('>').map(|at| open + at + 1) else {
        return svg;
    };
    format!(
        "{}\n<title>{}</title>\n<desc>{}</desc>{}",
        &svg[..close],
        escape(title),
        escape(description),
        &svg[close..]
    )
}

fn draw_legend(area: &Area, entries: &[LegendEntry]) -> Result<(), String> {
    let font = (FONT, 13).into_font();
    let mut y = 44;
    for entry in entries {
        let (x0, x1) = (8, 34);
        match entry.swatch {
            Swatch::Line(style) => area
                .draw(&PathElement::new(vec![(x0, y), (x1, y)], style))
                .map_err(err)?,
            Swatch::Dashed(style, dash, gap) => {
                let mut x = x0;
                while x < x1 {
                    let to = (x + dash as i32).min(x1);
                    area.draw(&PathElement::new(vec![(x, y), (to, y)], style))
                        .map_err(err)?;
                    x = to + gap as i32;
                }
            }
            Swatch::Dot(c) => area
                .draw(&Circle::new(((x0 + x1) / 2, y), 5, c.filled()))
                .map_err(err)?,
        }
        for (line, text) in wrap(&entry.label, LEGEND_CHARS).iter().enumerate() {
            area.draw(&Text::new(
                text.clone(),
                (x1 + 8, y - 7 + line as i32 * 16),
                font.clone(),
            ))
            .map_err(err)?;
        }
        y += 16 * wrap(&entry.label, LEGEND_CHARS).len() as i32 + 6;
    }
    Ok(())
}

/// Characters of a legend line in the legend column.
const LEGEND_CHARS: usize = 30;

/// Breaks a label at spaces into lines of at most `width` characters (a longer word keeps its
/// own line).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Milliseconds with a sensible number of decimals, for axis labels.
fn ms_label(value: &f64) -> String {
    if *value >= 100.0 {
        format!("{value:.0}")
    } else if *value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn slos(summary: &Summary) -> Vec<Slo> {
    summary
        .verdict
        .checks
        .iter()
        .filter_map(|c| c.name.parse::<Slo>().ok())
        .collect()
}

/// One line of a chart.
struct Series {
    label: String,
    style: ShapeStyle,
    /// Dash and gap lengths, for a dashed line.
    dashes: Option<(u32, u32)>,
    points: Vec<(f64, f64)>,
}

impl Series {
    fn line(label: String, color: RGBColor, width: u32, points: Vec<(f64, f64)>) -> Series {
        Series {
            label,
            style: color.stroke_width(width),
            dashes: None,
            points,
        }
    }

    fn dashed(label: String, color: RGBColor, points: Vec<(f64, f64)>) -> Series {
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

/// A group's value at each second of the timeline, where it has one.
fn group_points(
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

/// A limit drawn across a time chart.
struct Threshold {
    label: String,
    value: f64,
    /// How the value reads in the chart's unit, for the off-scale note.
    text: String,
}

/// How a time chart's y axis is set.
enum YRange {
    /// From 0 to just above the data (and the SLO lines within reach).
    Fit,
    /// Fixed, values above it clamped (CPU to 100%).
    Fixed(f64),
}

/// A chart over the run's seconds: fault windows, phase boundaries, the series, and each SLO
/// line labelled on the chart, or named "off scale" in the legend when it is far above the
/// data.
fn time_chart(
    summary: &Summary,
    caption: &str,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
    mut series: Vec<Series>,
    thresholds: Vec<Threshold>,
    range: YRange,
) -> Result<String, String> {
    let end = end_time(summary);
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
        YRange::Fixed(top) => top,
        YRange::Fit => {
            shown
                .iter()
                .map(|t| t.value)
                .fold(data_peak, f64::max)
                .max(1.0)
                * 1.12
        }
    };
    if let YRange::Fixed(top) = range {
        for line in &mut series {
            for point in &mut line.points {
                point.1 = point.1.min(top);
            }
        }
    }
    let mut entries: Vec<LegendEntry> = series
        .iter()
        .map(|s| LegendEntry {
            label: s.label.clone(),
            swatch: s.swatch(),
        })
        .collect();
    let mut slo_lines = Vec::new();
    for (index, threshold) in shown.into_iter().chain(off_scale).enumerate() {
        let (c, dash, gap) = SLO_STYLES[index % SLO_STYLES.len()];
        let style = c.stroke_width(2);
        let on_chart = threshold.value <= top;
        entries.push(LegendEntry {
            label: if on_chart {
                threshold.label.clone()
            } else {
                format!("{} (off scale: at {})", threshold.label, threshold.text)
            },
            swatch: Swatch::Dashed(style, dash, gap),
        });
        if on_chart {
            slo_lines.push((threshold, style, dash, gap, c));
        }
    }
    draw(summary, caption, SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 18))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..end, 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the plan started")
            .y_desc(y_desc)
            .y_label_formatter(y_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        // Each fault's window, shaded and labelled at the foot of the chart.
        for fault in summary.faults.iter().filter(|f| f.applied) {
            let end = fault.end_s.max(fault.start_s + end * 0.004);
            let shade = Rectangle::new(
                [(fault.start_s, 0.0), (end, top)],
                RGBColor(230, 120, 40).mix(0.15).filled(),
            );
            chart.draw_series(std::iter::once(shade)).map_err(err)?;
            let style = (FONT, 12).into_font().color(&RGBColor(170, 80, 20));
            let text = EmptyElement::at((fault.start_s, 0.0))
                + Text::new(format!("fault: {}", fault.name), (4, -16), style);
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
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
            chart.draw_series(std::iter::once(boundary)).map_err(err)?;
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
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        for line in series {
            let style = line.style;
            match line.dashes {
                Some((dash, gap)) => chart
                    .draw_series(DashedLineSeries::new(line.points, dash, gap, style))
                    .map_err(err)?,
                None => chart
                    .draw_series(LineSeries::new(line.points, style))
                    .map_err(err)?,
            };
        }
        for (threshold, style, dash, gap, c) in slo_lines {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, threshold.value), (end, threshold.value)],
                    dash,
                    gap,
                    style,
                ))
                .map_err(err)?;
            // Labelled where it is drawn, at its right end.
            let font = (FONT, 12).into_font().color(&c);
            // Above the line, or below it where the phase names run along the top.
            let dy = if threshold.value > top * 0.85 { 4 } else { -15 };
            let text = EmptyElement::at((end, threshold.value))
                + Text::new(
                    threshold.label.clone(),
                    (-(threshold.label.len() as i32) * 7 - 4, dy),
                    font,
                );
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        Ok(entries)
    })
}

/// SLO limits on metrics matching `pick`, in the chart's unit.
fn thresholds(
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

fn e2e_over_time(summary: &Summary) -> Result<String, String> {
    let ms = |v: Option<u64>| v.map(|us| us as f64 / 1000.0);
    let mut series = Vec::new();
    for (index, group) in summary.groups.iter().enumerate() {
        let percentiles: [(&str, Pick, f64, u32, f64); 3] = [
            ("p50", |g| g.e2e_p50, 0.50, 1, 0.55),
            ("p95", |g| g.e2e_p95, 0.95, 2, 1.0),
            ("p99", |g| g.e2e_p99, 0.99, 3, 1.0),
        ];
        for (label, pick, quantile, width, alpha) in percentiles {
            // A second's percentile is drawn only when that second had the samples for it.
            let points = group_points(summary, &group.name, |g| {
                ms(pick(g)).filter(|_| supported(g.consumed, quantile))
            });
            if points.is_empty() {
                continue;
            }
            series.push(Series {
                label: format!("{} {label}", group.name),
                style: color(index).mix(alpha).stroke_width(width),
                dashes: None,
                points,
            });
        }
    }
    let lines = thresholds(
        summary,
        |m| matches!(m, Metric::E2e { .. }),
        1e-3,
        format_micros,
    );
    time_chart(
        summary,
        "End-to-end latency per second (p50 / p95 / p99)",
        "latency (ms)",
        &ms_label,
        series,
        lines,
        YRange::Fit,
    )
}

fn throughput(summary: &Summary) -> Result<String, String> {
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
    let events = |v: &f64| thousands(*v as u64);
    time_chart(
        summary,
        "Throughput: target, produced and consumed per group",
        "events per second",
        &events,
        series,
        Vec::new(),
        YRange::Fit,
    )
}

fn lag(summary: &Summary) -> Result<String, String> {
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
    let lines = thresholds(
        summary,
        |m| matches!(m, Metric::LagMax { .. }),
        1.0,
        |v| format!("{} events", thousands(v as u64)),
    );
    let events = |v: &f64| thousands(*v as u64);
    time_chart(
        summary,
        "Consumer lag per group (acked, not yet consumed)",
        "events behind",
        &events,
        series,
        lines,
        YRange::Fit,
    )
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

/// Tick values 1, 2, 5, 10, 20, 50, ... within a range; none for a range that is empty, not
/// finite or not positive, and never more than 40 decades, whatever the input.
fn one_two_five(low: f64, high: f64) -> Vec<f64> {
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

fn distribution(run: &RunData) -> Result<String, String> {
    let summary = &run.summary;
    let mut curves: Vec<Curve> = Vec::new();
    for (index, group) in summary.groups.iter().enumerate() {
        if let Some(h) = run
            .histograms
            .total(&crate::metrics::histograms::e2e_tag(&group.name))
        {
            curves.push((format!("e2e {}", group.name), color(index), spectrum(h)));
        }
    }
    if let Some(h) = run.histograms.total(crate::metrics::histograms::PUBLISH) {
        curves.push(("publish".into(), RGBColor(60, 60, 60), spectrum(h)));
    }
    // An empty run (no histogram, or only zeros) draws an empty chart on a unit range.
    let values = || {
        curves
            .iter()
            .flat_map(|(_, _, c)| c.iter().map(|p| p.1))
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let low = values().fold(f64::MAX, f64::min).clamp(0.01, 1e12);
    let data_high = values().fold(0.0, f64::max);
    let mut high = data_high.clamp(low * 10.0, 1e13);
    // The x axis ends at the highest percentile some curve can support.
    let x_end = curves
        .iter()
        .filter_map(|(_, _, c)| c.last().map(|p| p.0))
        .fold(10.0, f64::max)
        * 1.2;
    let mut entries: Vec<LegendEntry> = curves
        .iter()
        .map(|(label, c, _)| LegendEntry {
            label: label.clone(),
            swatch: Swatch::Line(c.stroke_width(2)),
        })
        .collect();
    let mut markers = Vec::new();
    for slo in slos(summary) {
        let Metric::E2e {
            stat: Stat::Percentile(p),
            ..
        } = slo.metric
        else {
            continue;
        };
        let (at, limit) = (1.0 / (1.0 - p / 100.0), slo.limit / 1000.0);
        let reason = if at > x_end {
            Some("not enough samples for that percentile")
        } else if data_high > 0.0 && limit > data_high * SLO_SCALE_REACH {
            Some("off scale")
        } else {
            None
        };
        let (c, _, _) = SLO_STYLES[markers.len() % SLO_STYLES.len()];
        match reason {
            Some(reason) => entries.push(LegendEntry {
                label: format!("SLO {slo} ({reason})"),
                swatch: Swatch::Dot(c),
            }),
            None => {
                high = high.max(limit);
                entries.push(LegendEntry {
                    label: format!("SLO {slo}"),
                    swatch: Swatch::Dot(c),
                });
                markers.push((slo.to_string(), at, limit, c));
            }
        }
    }
    let keys: Vec<f64> = [2.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0]
        .into_iter()
        .filter(|k| *k <= x_end)
        .collect();
    let caption = "Latency by percentile (HDR spectrum, warmup excluded)";
    draw(summary, caption, SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 18))
            .margin(14)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (2f64..x_end).log_scale().with_key_points(keys),
                (low * 0.8..high * 1.3)
                    .log_scale()
                    .with_key_points(one_two_five(low * 0.8, high * 1.3)),
            )
            .map_err(err)?;
        let percentile = |x: &f64| {
            let p = 100.0 - 100.0 / x;
            let text = format!("{p:.3}");
            format!("p{}", text.trim_end_matches('0').trim_end_matches('.'))
        };
        chart
            .configure_mesh()
            .x_desc(format!(
                "percentile (log scale of 1/(1-p); drawn where {MIN_TAIL_SAMPLES} samples lie above)"
            ))
            .y_desc("latency (ms, log)")
            .x_label_formatter(&percentile)
            .y_label_formatter(&ms_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (_, c, points) in curves {
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))
                .map_err(err)?;
        }
        for (label, at, limit, c) in markers {
            chart
                .draw_series(std::iter::once(Circle::new((at, limit), 6, c.filled())))
                .map_err(err)?;
            let font = (FONT, 12).into_font().color(&c);
            let text =
                EmptyElement::at((at, limit)) + Text::new(format!("SLO {label}"), (-40, -22), font);
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        Ok(entries)
    })
}

fn ordering_loss(summary: &Summary) -> Result<String, String> {
    let rows = summary.groups.len().max(1) as u32;
    let caption = "Ordering and loss per consumer group";
    draw(summary, caption, (SIZE.0, 130 + rows * 40), |root| {
        let title = (FONT, 18).into_font();
        root.draw(&Text::new(caption, (16, 14), title))
            .map_err(err)?;
        let header = (FONT, 15).into_font().color(&RGBColor(90, 90, 90));
        let columns = [
            ("group", 16),
            ("lost", 250),
            ("duplicates", 330),
            ("out of order", 450),
            ("gaps", 570),
            ("verdict", 630),
        ];
        for (name, x) in columns {
            root.draw(&Text::new(name, (x, 60), header.clone()))
                .map_err(err)?;
        }
        let lines = loss_lines(summary);
        for (row, (group, line)) in summary.groups.iter().zip(&lines).enumerate() {
            let y = 92 + row as i32 * 34;
            let o = &group.ordering;
            let clean = group.lost + o.duplicates + o.out_of_order + o.gaps == 0;
            let cell = |value: u64| {
                if value == 0 {
                    RGBColor(44, 140, 44)
                } else {
                    SLO_RED
                }
            };
            root.draw(&Text::new(
                group.name.clone(),
                (16, y),
                (FONT, 16).into_font(),
            ))
            .map_err(err)?;
            for (value, x) in [
                (group.lost, 250),
                (o.duplicates, 330),
                (o.out_of_order, 450),
                (o.gaps, 570),
            ] {
                root.draw(&Text::new(
                    thousands(value),
                    (x, y),
                    (FONT, 18).into_font().color(&cell(value)),
                ))
                .map_err(err)?;
            }
            let verdict = if clean {
                ("clean", RGBColor(44, 140, 44))
            } else {
                ("NOT CLEAN", SLO_RED)
            };
            root.draw(&Text::new(
                verdict.0,
                (630, y),
                (FONT, 16).into_font().color(&verdict.1),
            ))
            .map_err(err)?;
            if !clean
                && let Some(examples) = line
                    .split_once("; lost for example: ")
                    .map(|(_, e)| e.to_string())
            {
                root.draw(&Text::new(
                    format!("lost keys: {examples}"),
                    (36, y + 17),
                    (FONT, 12).into_font().color(&SLO_RED),
                ))
                .map_err(err)?;
            }
        }
        if summary.groups.is_empty() {
            root.draw(&Text::new(
                "no consumer groups in this scenario",
                (16, 96),
                (FONT, 16).into_font(),
            ))
            .map_err(err)?;
        }
        Ok(Vec::new())
    })
}

fn generator(summary: &Summary) -> Result<String, String> {
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
    let series = vec![Series::line(
        format!("CPU (peak memory {peak_memory:.0} MiB)"),
        RGBColor(60, 60, 60),
        2,
        cpu,
    )];
    let saturated = vec![Threshold {
        label: "saturated: the run is inconclusive above".to_string(),
        value: 95.0,
        text: "95%".into(),
    }];
    let percent = |v: &f64| format!("{v:.0}%");
    time_chart(
        summary,
        "Load generator: its own CPU (a saturated generator makes a run inconclusive)",
        &format!("CPU (% of the host's {} cores)", summary.environment.cpus),
        &percent,
        series,
        saturated,
        YRange::Fixed(100.0),
    )
}

/// Latency against offered rate for a capacity search, with the knee marked.
pub fn capacity_chart(summary: &Summary) -> Option<Result<String, String>> {
    let capacity = summary.capacity.as_ref()?;
    let probes = &capacity.probes;
    let max_rate = probes.iter().map(|p| p.offered_rate).fold(1.0, f64::max) * 1.1;
    let ms = |us: u64| us as f64 / 1000.0;
    let data_peak = probes.iter().map(|p| ms(p.e2e_p99_us)).fold(1.0, f64::max);
    let limit = capacity.p95_limit_us.map(ms);
    let limit_shown = limit.filter(|l| *l <= data_peak * SLO_SCALE_REACH);
    let peak = limit_shown.map_or(data_peak, |l| l.max(data_peak));
    let mut entries = Vec::new();
    let picks: [(&str, RGBColor, ProbePick); 2] = [
        ("e2e p95", color(0), |p| p.e2e_p95_us),
        ("e2e p99", color(1), |p| p.e2e_p99_us),
    ];
    let curves: Vec<Curve> = picks
        .into_iter()
        .map(|(label, c, pick)| {
            entries.push(LegendEntry {
                label: label.into(),
                swatch: Swatch::Line(c.stroke_width(2)),
            });
            (
                label.to_string(),
                c,
                probes
                    .iter()
                    .map(|p| (p.offered_rate, ms(pick(p)).max(0.5)))
                    .collect(),
            )
        })
        .collect();
    entries.push(LegendEntry {
        label: "probe (hollow: it failed)".into(),
        swatch: Swatch::Dot(color(0)),
    });
    let (slo_color, dash, gap) = SLO_STYLES[0];
    if let Some(limit) = limit {
        entries.push(LegendEntry {
            label: if limit_shown.is_some() {
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
    let knee_label = capacity
        .sustained_rate
        .map(|knee| format!("knee: sustains {} events/s", thousands(knee as u64)));
    if let Some(label) = &knee_label {
        entries.push(LegendEntry {
            label: label.clone(),
            swatch: Swatch::Line(BLACK.stroke_width(2)),
        });
    }
    let caption = "Capacity: e2e latency against offered rate";
    Some(draw(summary, caption, SIZE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 18))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(
                0f64..max_rate,
                (0.5f64..peak * 1.5)
                    .log_scale()
                    .with_key_points(one_two_five(0.5, peak * 1.5)),
            )
            .map_err(err)?;
        let events = |v: &f64| thousands(*v as u64);
        chart
            .configure_mesh()
            .x_desc("offered rate (events per second)")
            .y_desc("latency (ms, log)")
            .x_label_formatter(&events)
            .y_label_formatter(&ms_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (_, c, points) in curves {
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .map_err(err)?;
            chart
                .draw_series(points.into_iter().zip(probes).map(|(point, probe)| {
                    let fill = if probe.status == crate::summary::Status::Pass {
                        c.filled()
                    } else {
                        WHITE.filled()
                    };
                    Circle::new(point, 5, fill)
                }))
                .map_err(err)?;
        }
        if let Some(limit) = limit_shown {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, limit), (max_rate, limit)],
                    dash,
                    gap,
                    slo_color.stroke_width(2),
                ))
                .map_err(err)?;
            let font = (FONT, 12).into_font().color(&slo_color);
            let text = EmptyElement::at((0.0, limit)) + Text::new("SLO e2e p95", (6, -15), font);
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        if let (Some(knee), Some(label)) = (capacity.sustained_rate, knee_label) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(knee, 0.5), (knee, peak * 1.5)],
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
            let font = (FONT, 12).into_font().color(&BLACK);
            // Right of the line, or left of it when the line is near the right edge.
            let dx = if knee > max_rate * 0.6 {
                -(label.len() as i32) * 7 - 6
            } else {
                6
            };
            let text = EmptyElement::at((knee, peak * 1.5)) + Text::new(label, (dx, 4), font);
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        Ok(entries)
    }))
}

/// Every chart as (file name, title, SVG text).
pub fn render_charts(run: &RunData) -> Result<Vec<(&'static str, &'static str, String)>, String> {
    let s = &run.summary;
    let svgs = [
        e2e_over_time(s)?,
        throughput(s)?,
        distribution(run)?,
        lag(s)?,
        ordering_loss(s)?,
        generator(s)?,
    ];
    Ok(CHARTS
        .iter()
        .zip(svgs)
        .map(|((file, title), svg)| (*file, *title, svg))
        .collect())
}

/// Writes the six SVG charts (and the capacity chart of a capacity search).
pub struct SvgExporter;

impl Exporter for SvgExporter {
    fn name(&self) -> &'static str {
        "SVG charts"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, String> {
        let capacity = capacity_chart(&run.summary)
            .transpose()?
            .map(|svg| Output::text("capacity.svg", svg));
        Ok(render_charts(run)?
            .into_iter()
            .map(|(file, _, svg)| Output::text(file, svg))
            .chain(capacity)
            .collect())
    }
}
