//! `compare.md` and `compare.html`: two or more runs (or capacity searches) side by side,
//! with differences against the first run, overlaid charts and cost per sustained rate.

mod brokers;
mod rebalance;
mod table;

pub use brokers::{Sizing, broker_type_lines, broker_type_table};

pub use rebalance::rebalance_table;
pub use table::{PLAN_MARK, table};

use super::svg::{Overlay, OverlayAxis, OverlayLine, supported_inverse, titled};
use super::{ReportError, RunData, escape};
use crate::metrics::histograms::e2e_tag;
use crate::sizing;
use crate::summary::Summary;

/// A run's name in the comparison: its label, else its place and id.
fn name(summary: &Summary, index: usize) -> String {
    summary.label.as_ref().map_or_else(
        || format!("run {} ({})", index + 1, summary.run_id),
        |l| l.name.clone(),
    )
}

/// How each run's offered plan differs from the first run's, one warning per run that differs:
/// (warning, whether the load differs, not only the SLOs).
fn plan_differences(runs: &[RunData]) -> Vec<(String, bool)> {
    runs.iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, run)| {
            let differences =
                crate::baseline::plan_differences(&run.summary, &runs[0].summary, "the first run");
            if differences.is_empty() {
                return None;
            }
            let load = differences.iter().any(|d| d.changes_load);
            let text = differences
                .iter()
                .map(|d| d.text.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            Some((
                format!(
                    "{} did not run the same plan as {}: {text}. Rows marked † compare different offered loads (or, for SLO rows, different SLOs), not the clusters alone.",
                    name(&run.summary, i),
                    name(&runs[0].summary, 0)
                ),
                load,
            ))
        })
        .collect()
}

/// The warnings a comparison of runs with different plans opens with.
pub fn plan_warnings(runs: &[RunData]) -> Vec<String> {
    plan_differences(runs).into_iter().map(|(w, _)| w).collect()
}

/// Overlaid e2e percentile spectra (all groups of a run merged).
pub fn distribution_chart(runs: &[RunData]) -> Result<String, ReportError> {
    let lines = runs
        .iter()
        .enumerate()
        .map(|(i, run)| OverlayLine {
            label: name(&run.summary, i),
            points: merged_spectrum(run),
        })
        .collect();
    let svg = Overlay {
        file: "compare-distribution.svg",
        caption: "End-to-end latency by percentile, run against run",
        x_desc: "percentile (log scale of 1/(1-p))",
        x_axis: OverlayAxis::Percentile,
        lines,
    }
    .render()?;
    Ok(titled(
        svg,
        "surge compare: end-to-end latency by percentile",
        &runs_described(runs),
    ))
}

/// A run's groups' e2e histograms merged, as (1/(1-p), milliseconds) up to the percentile its
/// count supports, as in its own report.
fn merged_spectrum(run: &RunData) -> Vec<(f64, f64)> {
    let mut merged = crate::metrics::new_histogram();
    for group in &run.summary.groups {
        if let Some(h) = run.histograms.total(&e2e_tag(&group.name)) {
            // Every histogram read back has surge's bounds (`hlog::decode_line` makes it so),
            // so the addition cannot fail; a crafted file cannot make it panic either way.
            let _ = merged.add(h);
        }
    }
    if merged.is_empty() {
        return Vec::new();
    }
    let last = supported_inverse(merged.len());
    (0..=60)
        .map(|step| 2.0 * 10f64.powf(step as f64 / 60.0 * 50_000f64.log10()))
        .take_while(|inv| *inv <= last)
        .map(|inv| {
            (
                inv,
                merged.value_at_quantile(1.0 - 1.0 / inv) as f64 / 1000.0,
            )
        })
        .collect()
}

/// The compared runs in one line, for a chart's `<desc>`.
fn runs_described(runs: &[RunData]) -> String {
    let runs: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{} (scenario {}, run {}, started {})",
                name(&r.summary, i),
                r.summary.scenario.name,
                r.summary.run_id,
                r.summary.started_at
            )
        })
        .collect();
    format!("surge compare of {}", runs.join("; "))
}

/// Overlaid p95 against offered rate, for capacity searches.
pub fn capacity_chart(runs: &[RunData]) -> Option<Result<String, ReportError>> {
    let lines: Vec<OverlayLine> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, run)| {
            let capacity = run.summary.capacity.as_ref()?;
            Some(OverlayLine {
                label: format!("{} p95", name(&run.summary, i)),
                points: capacity
                    .probes
                    .iter()
                    .map(|p| (p.offered_rate, (p.e2e_p95_us as f64 / 1000.0).max(0.1)))
                    .collect(),
            })
        })
        .collect();
    (!lines.is_empty()).then(|| {
        let svg = Overlay {
            file: "compare-capacity.svg",
            caption: "e2e p95 against offered rate, run against run",
            x_desc: "offered rate (events per second)",
            x_axis: OverlayAxis::Rate,
            lines,
        }
        .render()?;
        Ok(titled(
            svg,
            "surge compare: e2e p95 against offered rate",
            &runs_described(runs),
        ))
    })
}

const SIZING_NOTE: &str = "Sizing is an **estimate**";

fn sizing_lines() -> Vec<String> {
    vec![
        format!("{SIZING_NOTE}: it scales each run's measured capacity linearly in brokers."),
        format!("Bound: {}.", sizing::BOUND),
        format!("Estimate: {}.", sizing::FORMULA),
    ]
}

/// `compare.md`.
pub fn markdown(runs: &[RunData], headroom: f64, warnings: &[String], sizing: &Sizing) -> String {
    let mut md = String::from("# surge: comparison\n\n");
    for warning in warnings {
        md.push_str(&format!("> **warning:** {warning}\n\n"));
    }
    md.push_str(&format!(
        "Scenario `{}`; differences are against the first column.\n\n",
        runs[0].summary.scenario.name
    ));
    md.push_str(&table(runs, headroom).to_markdown());
    if let Some(rebalances) = rebalance_table(runs) {
        md.push_str("\n\n## Rebalances\n\n");
        md.push_str(&rebalances.to_markdown());
    }
    md.push_str("\n\n![e2e latency by percentile](compare-distribution.svg)\n\n");
    if runs.iter().any(|r| r.summary.capacity.is_some()) {
        md.push_str("![p95 against offered rate](compare-capacity.svg)\n\n");
        for (i, run) in runs.iter().enumerate() {
            if let Some(capacity) = &run.summary.capacity {
                md.push_str(&format!(
                    "- {}: {}\n",
                    name(&run.summary, i),
                    capacity.conclusion
                ));
            }
        }
        md.push('\n');
    }
    let (types, lines) = (
        broker_type_table(runs, sizing, headroom),
        broker_type_lines(runs, sizing),
    );
    if types.is_some() || !lines.is_empty() {
        md.push_str("## Against each broker type's published limits\n\n");
        if let Some(types) = types {
            md.push_str(&types.to_markdown());
            md.push_str("\n\n");
        }
        for line in lines {
            md.push_str(&format!("- {line}\n"));
        }
        md.push('\n');
    }
    for line in sizing_lines() {
        md.push_str(&format!("{line}\n\n"));
    }
    md
}

/// A table as HTML.
fn html_table(table: &crate::report::table::Table) -> String {
    let mut body = String::from("<table><thead><tr>");
    for cell in &table.header {
        body.push_str(&format!("<th>{}</th>", escape(cell)));
    }
    body.push_str("</tr></thead><tbody>");
    for row in &table.rows {
        body.push_str("<tr>");
        for cell in row {
            body.push_str(&format!("<td>{}</td>", escape(cell)));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
    body
}

/// `compare.html`, self-contained.
pub fn html(runs: &[RunData], headroom: f64, warnings: &[String], sizing: &Sizing) -> String {
    let mut body = html_table(&table(runs, headroom));
    if let Some(rebalances) = rebalance_table(runs) {
        body.push_str("<h2>Rebalances</h2>");
        body.push_str(&html_table(&rebalances));
    }
    let (types, lines) = (
        broker_type_table(runs, sizing, headroom),
        broker_type_lines(runs, sizing),
    );
    if types.is_some() || !lines.is_empty() {
        body.push_str("<h2>Against each broker type's published limits</h2>");
        if let Some(types) = types {
            body.push_str(&html_table(&types));
        }
        let items: String = lines
            .iter()
            .map(|l| format!("<li>{}</li>", escape(l)))
            .collect();
        body.push_str(&format!("<ul>{items}</ul>"));
    }
    let mut charts = String::new();
    if let Ok(svg) = distribution_chart(runs) {
        charts.push_str(&format!("<figure>{svg}</figure>"));
    }
    if let Some(Ok(svg)) = capacity_chart(runs) {
        charts.push_str(&format!("<figure>{svg}</figure>"));
    }
    let warnings: String = warnings
        .iter()
        .map(|w| format!("<p class=\"warn\">warning: {}</p>", escape(w)))
        .collect();
    let sizing: String = sizing_lines()
        .iter()
        .map(|l| format!("<p>{}</p>", escape(&l.replace("**", ""))))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>surge: comparison</title><style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem}}table{{border-collapse:collapse}}th,td{{padding:.3rem .7rem;border-bottom:1px solid #eee;text-align:right}}th:first-child,td:first-child{{text-align:left}}figure svg{{width:100%;height:auto}}.warn{{color:#7a4f01}}</style></head><body><h1>surge: comparison of {}</h1>{warnings}{body}{charts}{sizing}</body></html>\n",
        escape(&runs[0].summary.scenario.name)
    )
}
