//! SVG charts drawn with plotters after the run, from the timeline and the histograms: one
//! file per chart, and here what they share (the frame with its legend column and footer, the
//! palette, and the axes' style). No system fonts: the SVG backend writes text elements that
//! the viewer renders.

mod brokers;
mod capacity;
mod distribution;
mod generator;
mod lag;
mod latency;
mod ordering;
mod overlay;
mod throughput;
mod timeline;
mod title;

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

pub use capacity::capacity_chart;
pub use distribution::{MIN_TAIL_SAMPLES, supported, supported_inverse};
pub(super) use overlay::{Overlay, OverlayAxis, OverlayLine};
pub use title::titled;

use super::{Exporter, Output, ReportError, RunData};
use crate::summary::Summary;

/// The chart files, with their titles.
pub const CHARTS: [(&str, &str); 9] = [
    (latency::FILE, "End-to-end latency over time"),
    (throughput::FILE, "Throughput over time"),
    (throughput::BYTES_FILE, "Throughput in MB/s over time"),
    (distribution::FILE, "Latency percentile distribution"),
    (lag::FILE, "Consumer lag over time"),
    (ordering::FILE, "Ordering and loss"),
    (generator::FILE, "Load generator CPU"),
    (generator::SCHEDULE_FILE, "Load generator schedule lag"),
    (brokers::FILE, "Brokers, as the clients saw them"),
];

const SIZE: (u32, u32) = (960, 460);
/// The legend's column on the right of every chart: it never covers the data.
const LEGEND_WIDTH: u32 = 270;
/// Characters of a legend line in the legend column.
const LEGEND_CHARS: usize = 27;
const FONT: &str = "sans-serif";
/// Ticks, legend and footer text: at least 12 px where a chart is shown 800 px wide.
const TEXT_SIZE: u32 = 15;
/// Group colours, each at least 3:1 against white (Okabe-Ito, darkened where needed).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 128, 96),
    RGBColor(140, 70, 160),
    RGBColor(120, 90, 0),
    RGBColor(204, 51, 130),
];
/// SLO lines: one colour and dash pattern each, so two limits on one chart are told apart.
const SLO_STYLES: [(RGBColor, u32, u32); 4] = [
    (RGBColor(214, 39, 40), 8, 5),
    (RGBColor(140, 20, 90), 3, 3),
    (RGBColor(200, 90, 0), 14, 4),
    (RGBColor(90, 30, 30), 6, 2),
];
/// An SLO line more than this many times the data's peak would flatten the data: it is named
/// "off scale" in the legend instead.
const SLO_SCALE_REACH: f64 = 3.0;

/// Decimals that print every tick exactly (at most 3): one precision for a whole axis.
fn tick_decimals(ticks: impl Iterator<Item = f64>) -> usize {
    ticks
        .filter(|v| *v > 0.0)
        .map(|v| {
            (0..4)
                .find(|&d| ((v * 10f64.powi(d)).round() - v * 10f64.powi(d)).abs() < 1e-6)
                .unwrap_or(3) as usize
        })
        .max()
        .unwrap_or(0)
}

fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// What drawing on an SVG string can fail with.
type Plotted<T = ()> = Result<T, DrawingAreaErrorKind<std::io::Error>>;

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

/// Draws the chart `file`, its legend column and a footer naming the run, and returns the
/// SVG with a `<title>` and `<desc>` so a chart copied out of its report still says where it
/// came from.
fn draw(
    summary: &Summary,
    file: &'static str,
    caption: &str,
    size: (u32, u32),
    build: impl FnOnce(&Area) -> Plotted<Vec<LegendEntry>>,
) -> Result<String, ReportError> {
    let mut svg = String::new();
    frame(&mut svg, summary, size, build).map_err(|e| ReportError::chart(file, e))?;
    Ok(title::stamp(svg, caption, summary))
}

fn frame(
    svg: &mut String,
    summary: &Summary,
    size: (u32, u32),
    build: impl FnOnce(&Area) -> Plotted<Vec<LegendEntry>>,
) -> Plotted {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot, side) = root.split_horizontally(size.0 - LEGEND_WIDTH);
    let entries = build(&plot)?;
    draw_legend(&side, &entries)?;
    let footer = (FONT, TEXT_SIZE - 2)
        .into_font()
        .color(&RGBColor(85, 85, 85));
    let lines = wrap(&provenance(summary), 34);
    for (index, line) in lines.iter().enumerate() {
        let from_bottom = (lines.len() - index) as i32 * 16 + 4;
        let at = (
            size.0 as i32 - LEGEND_WIDTH as i32 + 8,
            size.1 as i32 - from_bottom,
        );
        root.draw(&Text::new(line.clone(), at, footer.clone()))?;
    }
    root.present()
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

fn draw_legend(area: &Area, entries: &[LegendEntry]) -> Plotted {
    let font = (FONT, TEXT_SIZE).into_font();
    let mut y = 44;
    for entry in entries {
        let (x0, x1) = (8, 34);
        match entry.swatch {
            Swatch::Line(style) => area.draw(&PathElement::new(vec![(x0, y), (x1, y)], style))?,
            Swatch::Dashed(style, dash, gap) => {
                let mut x = x0;
                while x < x1 {
                    let to = (x + dash as i32).min(x1);
                    area.draw(&PathElement::new(vec![(x, y), (to, y)], style))?;
                    x = to + gap as i32;
                }
            }
            Swatch::Dot(c) => area.draw(&Circle::new(((x0 + x1) / 2, y), 5, c.filled()))?,
        }
        let lines = wrap(&entry.label, LEGEND_CHARS);
        for (line, text) in lines.iter().enumerate() {
            let at = (x1 + 8, y - 8 + line as i32 * 18);
            area.draw(&Text::new(text.clone(), at, font.clone()))?;
        }
        y += 18 * lines.len() as i32 + 6;
    }
    Ok(())
}

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

/// What a chart's axes say, and how their ticks read (plotters' own numbers when `None`).
struct Axes<'a> {
    x_desc: &'a str,
    y_desc: &'a str,
    x_label: Option<&'a dyn Fn(&f64) -> String>,
    y_label: Option<&'a dyn Fn(&f64) -> String>,
    /// The run report's faint grid and larger axis descriptions; the comparison's charts keep
    /// plotters' defaults for both.
    faint_grid: bool,
}

/// Draws the grid, the ticks and the axis descriptions, the same way on every chart.
fn draw_mesh<X, Y>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    axes: &Axes,
) -> Plotted
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .label_style((FONT, TEXT_SIZE));
    if let Some(format) = axes.x_label {
        mesh.x_label_formatter(format);
    }
    if let Some(format) = axes.y_label {
        mesh.y_label_formatter(format);
    }
    if axes.faint_grid {
        mesh.axis_desc_style((FONT, TEXT_SIZE))
            .light_line_style(RGBColor(235, 235, 235));
    }
    mesh.draw()
}

/// Every chart as (file name, title, SVG text).
pub fn render_charts(
    run: &RunData,
) -> Result<Vec<(&'static str, &'static str, String)>, ReportError> {
    let s = &run.summary;
    let svgs = [
        latency::render(s)?,
        throughput::render(s)?,
        throughput::render_bytes(s)?,
        distribution::render(run)?,
        lag::render(s)?,
        ordering::render(s)?,
        generator::render(s)?,
        generator::render_schedule(s)?,
        brokers::render(s)?,
    ];
    Ok(CHARTS
        .iter()
        .zip(svgs)
        .map(|((file, title), svg)| (*file, *title, svg))
        .collect())
}

/// Writes the nine SVG charts (and the capacity chart of a capacity search).
pub struct SvgExporter;

impl Exporter for SvgExporter {
    fn name(&self) -> &'static str {
        "SVG charts"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, ReportError> {
        let capacity = capacity_chart(&run.summary)
            .transpose()?
            .map(|svg| Output::text(capacity::FILE, svg));
        Ok(render_charts(run)?
            .into_iter()
            .map(|(file, _, svg)| Output::text(file, svg))
            .chain(capacity)
            .collect())
    }
}
