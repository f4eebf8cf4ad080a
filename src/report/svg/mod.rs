//! SVG charts drawn with plotters after the run, from the timeline and the histograms: one
//! file per chart, and here what they share (the frame with its legend column and footer, the
//! palette, and the axes' style). No system fonts: the SVG backend writes text elements that
//! the viewer renders.

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
pub const CHARTS: [(&str, &str); 6] = [
    (latency::FILE, "End-to-end latency over time"),
    (throughput::FILE, "Throughput over time"),
    (distribution::FILE, "Latency percentile distribution"),
    (lag::FILE, "Consumer lag over time"),
    (ordering::FILE, "Ordering and loss"),
    (generator::FILE, "Load generator CPU"),
];

const SIZE: (u32, u32) = (960, 440);
/// The legend's column on the right of every chart: it never covers the data.
const LEGEND_WIDTH: u32 = 250;
/// Characters of a legend line in the legend column.
const LEGEND_CHARS: usize = 30;
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
/// An SLO line more than this many times the data's peak would flatten the data: it is named
/// "off scale" in the legend instead.
const SLO_SCALE_REACH: f64 = 3.0;

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
    let footer = (FONT, 11).into_font().color(&RGBColor(120, 120, 120));
    let lines = wrap(&provenance(summary), 40);
    for (index, line) in lines.iter().enumerate() {
        let from_bottom = (lines.len() - index) as i32 * 14 + 4;
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
    let font = (FONT, 13).into_font();
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
            let at = (x1 + 8, y - 7 + line as i32 * 16);
            area.draw(&Text::new(text.clone(), at, font.clone()))?;
        }
        y += 16 * lines.len() as i32 + 6;
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
        .label_style((FONT, 13));
    if let Some(format) = axes.x_label {
        mesh.x_label_formatter(format);
    }
    if let Some(format) = axes.y_label {
        mesh.y_label_formatter(format);
    }
    if axes.faint_grid {
        mesh.axis_desc_style((FONT, 14))
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
        distribution::render(run)?,
        lag::render(s)?,
        ordering::render(s)?,
        generator::render(s)?,
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
