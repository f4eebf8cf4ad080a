//! A comparison's chart: one line per run on one chart, latency up on a log scale, with
//! plotters' own legend in the corner (the runs' names are short, and there is no footer: the
//! chart's `<desc>` names the runs).

use plotters::prelude::*;

use super::{Axes, FONT, PALETTE, Plotted, draw_mesh};
use crate::format::{axis_percentile, thousands};
use crate::report::ReportError;

/// What a comparison chart's x axis shows.
pub(in crate::report) enum OverlayAxis {
    /// Percentiles, as 1/(1-p) on a log scale from p50 to p99.999.
    Percentile,
    /// The offered rate, in events per second.
    Rate,
}

/// One run's line.
pub(in crate::report) struct OverlayLine {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Runs' lines overlaid on one chart, the file `file`.
pub(in crate::report) struct Overlay<'a> {
    pub file: &'static str,
    pub caption: &'a str,
    pub x_desc: &'a str,
    pub x_axis: OverlayAxis,
    pub lines: Vec<OverlayLine>,
}

impl Overlay<'_> {
    /// The SVG text.
    pub fn render(self) -> Result<String, ReportError> {
        let file = self.file;
        let mut svg = String::new();
        self.draw(&mut svg)
            .map_err(|e| ReportError::chart(file, e))?;
        Ok(svg)
    }

    fn draw(self, svg: &mut String) -> Plotted {
        let root = SVGBackend::with_string(svg, (960, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let xs = self.lines.iter().flat_map(|l| l.points.iter().map(|q| q.0));
        let ys = self.lines.iter().flat_map(|l| l.points.iter().map(|q| q.1));
        let (x_max, y_max) = (xs.fold(1.0, f64::max), ys.fold(1.0, f64::max));
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(self.caption, (FONT, 20))
            .margin(14)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(70);
        let y_range = (0.1f64..y_max * 2.0).log_scale();
        let events = |x: &f64| thousands(*x as u64);
        let x_label: &dyn Fn(&f64) -> String = match self.x_axis {
            OverlayAxis::Percentile => &axis_percentile,
            OverlayAxis::Rate => &events,
        };
        let axes = Axes {
            x_desc: self.x_desc,
            y_desc: "latency (ms, log)",
            x_label: Some(x_label),
            y_label: None,
            faint_grid: false,
        };
        match self.x_axis {
            OverlayAxis::Percentile => plot(
                builder.build_cartesian_2d((2f64..100_000f64).log_scale(), y_range)?,
                &axes,
                self.lines,
            )?,
            OverlayAxis::Rate => plot(
                builder.build_cartesian_2d(0f64..x_max * 1.1, y_range)?,
                &axes,
                self.lines,
            )?,
        }
        root.present()
    }
}

/// The axes, a line per run, and the legend naming them.
fn plot<'a, X>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, LogCoord<f64>>>,
    axes: &Axes,
    lines: Vec<OverlayLine>,
) -> Plotted
where
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    draw_mesh(&mut chart, axes)?;
    // A comparison cycles through the first four colours of the palette.
    let palette = &PALETTE[..4];
    for (i, line) in lines.into_iter().enumerate() {
        let style = palette[i % palette.len()].stroke_width(2);
        chart
            .draw_series(LineSeries::new(line.points, style))?
            .label(line.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
}
