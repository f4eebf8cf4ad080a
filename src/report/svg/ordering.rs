//! Ordering and loss per consumer group: a table drawn as a chart, its counts green at zero
//! and red otherwise, with examples of lost keys under a group that lost any.

use plotters::prelude::*;

use super::{Area, FONT, Plotted, SIZE, draw};
use crate::format::thousands;
use crate::report::ReportError;
use crate::report::lines::loss_lines;
use crate::summary::{GroupSummary, Summary};

pub(super) const FILE: &str = "ordering-loss.svg";

const CLEAN_GREEN: RGBColor = RGBColor(44, 140, 44);
const SLO_RED: RGBColor = RGBColor(214, 39, 40);

/// The columns' headings and where each starts.
const COLUMNS: [(&str, i32); 6] = [
    ("group", 16),
    ("lost", 250),
    ("duplicates", 330),
    ("out of order", 450),
    ("gaps", 570),
    ("verdict", 630),
];

pub(super) fn render(summary: &Summary) -> Result<String, ReportError> {
    let rows = summary.groups.len().max(1) as u32;
    let caption = "Ordering and loss per consumer group";
    draw(summary, FILE, caption, (SIZE.0, 130 + rows * 40), |root| {
        let title = (FONT, 18).into_font();
        root.draw(&Text::new(caption, (16, 14), title))?;
        let header = (FONT, 15).into_font().color(&RGBColor(90, 90, 90));
        for (name, x) in COLUMNS {
            root.draw(&Text::new(name, (x, 60), header.clone()))?;
        }
        let lines = loss_lines(summary);
        for (row, (group, line)) in summary.groups.iter().zip(&lines).enumerate() {
            draw_row(root, 92 + row as i32 * 34, group, line)?;
        }
        if summary.groups.is_empty() {
            root.draw(&Text::new(
                "no consumer groups in this scenario",
                (16, 96),
                (FONT, 16).into_font(),
            ))?;
        }
        Ok(Vec::new())
    })
}

/// One group's row at `y`; `line` is its loss line, which names the lost keys.
fn draw_row(root: &Area, y: i32, group: &GroupSummary, line: &str) -> Plotted {
    let o = &group.ordering;
    let clean = group.lost + o.duplicates + o.out_of_order + o.gaps == 0;
    let cell = |value: u64| if value == 0 { CLEAN_GREEN } else { SLO_RED };
    root.draw(&Text::new(
        group.name.clone(),
        (16, y),
        (FONT, 16).into_font(),
    ))?;
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
        ))?;
    }
    let verdict = if clean {
        ("clean", CLEAN_GREEN)
    } else {
        ("NOT CLEAN", SLO_RED)
    };
    root.draw(&Text::new(
        verdict.0,
        (630, y),
        (FONT, 16).into_font().color(&verdict.1),
    ))?;
    if !clean
        && let Some(examples) = line
            .split_once("; lost for example: ")
            .map(|(_, e)| e.to_string())
    {
        root.draw(&Text::new(
            format!("lost keys: {examples}"),
            (36, y + 17),
            (FONT, 12).into_font().color(&SLO_RED),
        ))?;
    }
    Ok(())
}
