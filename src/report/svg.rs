//! SVG charts drawn with plotters after the run, from the timeline and the histograms.
//! No system fonts: the SVG backend writes text elements that the viewer renders.

use plotters::coord::Shift;
use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

use super::table::{loss_lines, thousands};
use super::{Exporter, Output, RunData};
use crate::metrics::GroupPoint;
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
const FONT: &str = "sans-serif";
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];
const SLO_RED: RGBColor = RGBColor(214, 39, 40);

fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// Picks one percentile from a group's point on the timeline.
type Pick = fn(&GroupPoint) -> Option<u64>;
/// A labelled, coloured line of (x, y) points.
type Curve = (String, RGBColor, Vec<(f64, f64)>);

fn draw(build: impl FnOnce(&Area) -> Result<(), String>) -> Result<String, String> {
    draw_sized(SIZE, build)
}

fn draw_sized(
    size: (u32, u32),
    build: impl FnOnce(&Area) -> Result<(), String>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        build(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
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
    dashed: bool,
    points: Vec<(f64, f64)>,
}

impl Series {
    fn line(label: String, color: RGBColor, width: u32, points: Vec<(f64, f64)>) -> Series {
        Series {
            label,
            style: color.stroke_width(width),
            dashed: false,
            points,
        }
    }

    fn dashed(label: String, color: RGBColor, points: Vec<(f64, f64)>) -> Series {
        Series {
            label,
            style: color.stroke_width(2),
            dashed: true,
            points,
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

/// A chart over the run's seconds: phase boundaries, the series, SLO thresholds, a legend.
fn time_chart(
    summary: &Summary,
    caption: &str,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
    mut series: Vec<Series>,
    thresholds: Vec<(String, f64)>,
) -> Result<String, String> {
    let end = end_time(summary);
    let peak = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(thresholds.iter().map(|t| t.1))
        .fold(1.0, f64::max);
    // Headroom above the curves keeps the legend (upper right) off the data.
    let top = peak * 1.5;
    for (label, limit) in thresholds {
        series.push(Series::dashed(
            label,
            SLO_RED,
            vec![(0.0, limit), (end, limit)],
        ));
    }
    draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 20))
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
            let style = (FONT, 13).into_font().color(&RGBColor(90, 90, 90));
            let text = EmptyElement::at((phase.start_s, top)) + Text::new(label, (4, 3), style);
            chart.draw_series(std::iter::once(text)).map_err(err)?;
        }
        for line in series {
            let style = line.style;
            let drawn = if line.dashed {
                chart.draw_series(DashedLineSeries::new(line.points, 8, 5, style))
            } else {
                chart.draw_series(LineSeries::new(line.points, style))
            };
            drawn
                .map_err(err)?
                .label(line.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        legend(&mut chart)
    })
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)
}

/// SLO limits on metrics matching `pick`, in the chart's unit.
fn thresholds(summary: &Summary, pick: impl Fn(&Metric) -> bool, scale: f64) -> Vec<(String, f64)> {
    slos(summary)
        .into_iter()
        .filter(|s| pick(&s.metric))
        .map(|s| (format!("SLO {s}"), s.limit * scale))
        .collect()
}

fn e2e_over_time(summary: &Summary) -> Result<String, String> {
    let ms = |v: Option<u64>| v.map(|us| us as f64 / 1000.0);
    let mut series = Vec::new();
    for (index, group) in summary.groups.iter().enumerate() {
        let percentiles: [(&str, Pick, u32, f64); 3] = [
            ("p50", |g| g.e2e_p50, 1, 0.55),
            ("p95", |g| g.e2e_p95, 2, 1.0),
            ("p99", |g| g.e2e_p99, 3, 1.0),
        ];
        for (label, pick, width, alpha) in percentiles {
            let points = group_points(summary, &group.name, |g| ms(pick(g)));
            let style = color(index).mix(alpha).stroke_width(width);
            series.push(Series {
                label: format!("{} {label}", group.name),
                style,
                dashed: false,
                points,
            });
        }
    }
    let lines = thresholds(summary, |m| matches!(m, Metric::E2e { .. }), 1e-3);
    time_chart(
        summary,
        "End-to-end latency per second (p50 / p95 / p99)",
        "latency (ms)",
        &ms_label,
        series,
        lines,
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
    for (index, group) in summary.groups.iter().enumerate() {
        let points = group_points(summary, &group.name, |g| Some(g.consumed as f64));
        series.push(Series::line(
            format!("consumed by {}", group.name),
            color(index),
            2,
            points,
        ));
    }
    let events = |v: &f64| thousands(*v as u64);
    time_chart(
        summary,
        "Throughput: target, produced and consumed per group",
        "events per second",
        &events,
        series,
        Vec::new(),
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
    let peak = summary
        .timeline
        .iter()
        .map(|p| p.max_lag() as f64)
        .fold(10.0, f64::max);
    // A threshold far above the curves would flatten them: show it only when within reach.
    let mut lines = thresholds(summary, |m| matches!(m, Metric::LagMax { .. }), 1.0);
    lines.retain(|(_, limit)| *limit <= peak * 4.0);
    let events = |v: &f64| thousands(*v as u64);
    time_chart(
        summary,
        "Consumer lag per group (acked, not yet consumed)",
        "events behind",
        &events,
        series,
        lines,
    )
}

/// Percentiles from p50 to p99.999 of a histogram, as (1/(1-p), milliseconds).
fn spectrum(histogram: &hdrhistogram::Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    (0..=80)
        .map(|step| {
            let inverse = 2.0 * 10f64.powf(step as f64 / 80.0 * (50_000f64).log10());
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
    let mut high = values().fold(0.0, f64::max).clamp(low * 10.0, 1e13);
    let lines: Vec<(String, f64, f64)> = slos(summary)
        .into_iter()
        .filter_map(|s| match s.metric {
            Metric::E2e {
                stat: Stat::Percentile(p),
                ..
            } => Some((s.to_string(), 1.0 / (1.0 - p / 100.0), s.limit / 1000.0)),
            _ => None,
        })
        .collect();
    // Keep the SLO markers inside the plot.
    high = lines.iter().map(|l| l.2).fold(high, f64::max);
    draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Latency by percentile (HDR spectrum, warmup excluded)",
                (FONT, 20),
            )
            .margin(14)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (2f64..100_000f64)
                    .log_scale()
                    .with_key_points(vec![2.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0]),
                (low * 0.8..high * 1.5)
                    .log_scale()
                    .with_key_points(one_two_five(low * 0.8, high * 1.5)),
            )
            .map_err(err)?;
        let percentile = |x: &f64| {
            let p = 100.0 - 100.0 / x;
            let text = format!("{p:.3}");
            format!("p{}", text.trim_end_matches('0').trim_end_matches('.'))
        };
        chart
            .configure_mesh()
            .x_desc("percentile (log scale of 1/(1-p))")
            .y_desc("latency (ms, log)")
            .x_label_formatter(&percentile)
            .y_label_formatter(&ms_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (label, c, points) in curves {
            let style = c.stroke_width(2);
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        for (label, at, limit) in lines {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (at, limit),
                    6,
                    SLO_RED.filled(),
                )))
                .map_err(err)?
                .label(format!("SLO {label}"))
                .legend(move |(x, y)| Circle::new((x + 9, y), 5, SLO_RED.filled()));
        }
        legend(&mut chart)
    })
}

fn ordering_loss(summary: &Summary) -> Result<String, String> {
    let rows = summary.groups.len().max(1) as u32;
    draw_sized((SIZE.0, 110 + rows * 40), |root| {
        let title = (FONT, 20).into_font();
        root.draw(&Text::new(
            "Ordering and loss per consumer group",
            (16, 14),
            title,
        ))
        .map_err(err)?;
        let header = (FONT, 15).into_font().color(&RGBColor(90, 90, 90));
        let columns = [
            ("group", 16),
            ("lost", 330),
            ("duplicates", 440),
            ("out of order", 580),
            ("gaps", 730),
            ("verdict", 820),
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
                (group.lost, 330),
                (o.duplicates, 440),
                (o.out_of_order, 580),
                (o.gaps, 730),
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
                (820, y),
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
        Ok(())
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
        format!(
            "CPU, % of {} cores (peak memory {peak_memory:.0} MiB)",
            summary.environment.cpus
        ),
        RGBColor(60, 60, 60),
        2,
        cpu,
    )];
    let saturated = vec![("saturated: the run is inconclusive above".to_string(), 95.0)];
    let percent = |v: &f64| format!("{v:.0}%");
    time_chart(
        summary,
        "Load generator: its own CPU (a saturated generator makes a run inconclusive)",
        "CPU (% of the host)",
        &percent,
        series,
        saturated,
    )
}

/// Latency against offered rate for a capacity search, with the knee marked.
pub fn capacity_chart(summary: &Summary) -> Option<Result<String, String>> {
    let capacity = summary.capacity.as_ref()?;
    let probes = &capacity.probes;
    let max_rate = probes.iter().map(|p| p.offered_rate).fold(1.0, f64::max) * 1.1;
    let ms = |us: u64| us as f64 / 1000.0;
    let peak = probes
        .iter()
        .map(|p| ms(p.e2e_p99_us))
        .chain(capacity.p95_limit_us.map(ms))
        .fold(1.0, f64::max);
    Some(draw(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Capacity: e2e latency against offered rate", (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(
                0f64..max_rate,
                (0.5f64..peak * 3.0)
                    .log_scale()
                    .with_key_points(one_two_five(0.5, peak * 3.0)),
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
        for (label, pick, c) in [("e2e p95", 0usize, color(0)), ("e2e p99", 1, color(1))] {
            let points: Vec<(f64, f64)> = probes
                .iter()
                .map(|p| {
                    (
                        p.offered_rate,
                        ms(if pick == 0 {
                            p.e2e_p95_us
                        } else {
                            p.e2e_p99_us
                        })
                        .max(0.5),
                    )
                })
                .collect();
            let style = c.stroke_width(2);
            chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
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
        if let Some(limit) = capacity.p95_limit_us.map(ms) {
            let style = SLO_RED.stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, limit), (max_rate, limit)],
                    8,
                    5,
                    style,
                ))
                .map_err(err)?
                .label("SLO e2e p95")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        if let Some(knee) = capacity.sustained_rate {
            let style = BLACK.stroke_width(2);
            let label = format!("knee: sustains {} events/s", thousands(knee as u64));
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(knee, 0.5), (knee, peak * 3.0)],
                    style,
                )))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        legend(&mut chart)
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

/// Writes the five SVG charts.
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
