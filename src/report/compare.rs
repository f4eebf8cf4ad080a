//! `compare.md` and `compare.html`: two or more runs (or capacity searches) side by side,
//! with differences against the first run, overlaid charts and cost per sustained rate.

use plotters::prelude::*;

use super::table::{Table, micros, thousands};
use super::{RunData, escape};
use crate::metrics::histograms::e2e_tag;
use crate::scenario::slo::format_number;
use crate::sizing;
use crate::summary::Summary;

/// Picks one latency, in microseconds, from a summary.
type Pick = fn(&Summary) -> u64;

/// One row of numbers, one value per run.
struct Row {
    name: String,
    values: Vec<Option<f64>>,
    format: fn(f64) -> String,
    /// Whether a percentage against the first run means something.
    relative: bool,
}

fn latency(us: f64) -> String {
    micros(us as u64, 1)
}

fn rate(value: f64) -> String {
    format!("{}/s", thousands(value as u64))
}

fn usd(value: f64) -> String {
    format!("${}", format_number((value * 100.0).round() / 100.0))
}

fn plain(value: f64) -> String {
    format_number(value)
}

/// The rate a run sustained: its capacity result, else what it achieved.
fn sustained(summary: &Summary) -> f64 {
    summary
        .capacity
        .as_ref()
        .and_then(|c| c.sustained_rate)
        .unwrap_or(summary.produced.achieved_rate)
}

fn name(summary: &Summary, index: usize) -> String {
    summary.label.as_ref().map_or_else(
        || format!("run {} ({})", index + 1, summary.run_id),
        |l| l.name.clone(),
    )
}

fn rows(runs: &[RunData], headroom: f64) -> Vec<Row> {
    let each = |f: &dyn Fn(&Summary) -> Option<f64>| {
        runs.iter().map(|r| f(&r.summary)).collect::<Vec<_>>()
    };
    let latencies: [(&str, Pick); 5] = [
        ("e2e p50", |s| s.latency.e2e_us.p50),
        ("e2e p95", |s| s.latency.e2e_us.p95),
        ("e2e p99", |s| s.latency.e2e_us.p99),
        ("e2e max", |s| s.latency.e2e_us.max),
        ("publish p99", |s| s.latency.publish_us.p99),
    ];
    let mut rows = vec![Row {
        name: "achieved rate".into(),
        values: each(&|s| Some(s.produced.achieved_rate)),
        format: rate,
        relative: true,
    }];
    for (name, pick) in latencies {
        rows.push(Row {
            name: name.into(),
            values: each(&|s| Some(pick(s) as f64)),
            format: latency,
            relative: true,
        });
    }
    rows.push(Row {
        name: "max consumer lag".into(),
        values: each(&|s| s.groups.iter().map(|g| g.max_lag as f64).reduce(f64::max)),
        format: plain,
        relative: true,
    });
    rows.push(Row {
        name: "lost".into(),
        values: each(&|s| Some(s.total(|g| g.lost) as f64)),
        format: plain,
        relative: false,
    });
    if runs.iter().any(|r| r.summary.capacity.is_some()) {
        rows.push(Row {
            name: "sustained rate (capacity)".into(),
            values: each(&|s| s.capacity.as_ref().and_then(|c| c.sustained_rate)),
            format: rate,
            relative: true,
        });
        rows.push(Row {
            name: "headroom over the peak, %".into(),
            values: each(&|s| s.capacity.as_ref().and_then(|c| c.headroom_percent)),
            format: plain,
            relative: false,
        });
    }
    if runs.iter().any(|r| {
        r.summary
            .label
            .as_ref()
            .is_some_and(|l| l.monthly_cost_usd.is_some())
    }) {
        rows.push(Row {
            name: "monthly cost".into(),
            values: each(&|s| s.label.as_ref().and_then(|l| l.monthly_cost_usd)),
            format: usd,
            relative: true,
        });
        rows.push(Row {
            name: "cost per 1,000 sustained events/s per month".into(),
            values: each(&|s| {
                s.label
                    .as_ref()
                    .and_then(|l| l.monthly_cost_usd)
                    .and_then(|c| sizing::cost_per_thousand(c, sustained(s)))
            }),
            format: usd,
            relative: true,
        });
    }
    if runs.iter().any(|r| {
        r.summary.capacity.is_some()
            && r.summary
                .label
                .as_ref()
                .is_some_and(|l| l.brokers.is_some())
    }) {
        rows.push(Row {
            name: format!(
                "brokers for the peak +{}% (estimate)",
                format_number(headroom * 100.0)
            ),
            values: each(&|s| {
                let capacity = s.capacity.as_ref()?;
                sizing::brokers_needed(
                    s.label.as_ref()?.brokers?,
                    capacity.sustained_rate?,
                    capacity.target_peak,
                    headroom,
                )
                .map(f64::from)
            }),
            format: plain,
            relative: false,
        });
    }
    rows
}

/// The mark on rows that compare runs whose offered plans differ.
pub const PLAN_MARK: &str = " †";

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

/// The side-by-side table: text cells with differences against the first run. Rows that the
/// runs' different plans affect carry [`PLAN_MARK`].
pub fn table(runs: &[RunData], headroom: f64) -> Table {
    let differences = plan_differences(runs);
    let slos_differ = !differences.is_empty();
    let load_differs = differences.iter().any(|(_, load)| *load);
    let mark = |affected: bool| if affected { PLAN_MARK } else { "" };
    let mut header = vec!["".to_string()];
    header.extend(runs.iter().enumerate().map(|(i, r)| name(&r.summary, i)));
    let mut table = Table {
        header,
        rows: Vec::new(),
    };
    let text =
        |f: &dyn Fn(&Summary) -> String| runs.iter().map(|r| f(&r.summary)).collect::<Vec<_>>();
    let mut push = |label: &str, cells: Vec<String>| {
        let mut row = vec![label.to_string()];
        row.extend(cells);
        table.rows.push(row);
    };
    push(
        "verdict",
        text(&|s| s.verdict.status.as_str().to_uppercase()),
    );
    push(
        "instance type x brokers",
        text(&|s| {
            s.label.as_ref().map_or("-".into(), |l| {
                format!(
                    "{} x {}",
                    l.instance_type.as_deref().unwrap_or("?"),
                    l.brokers.map_or("?".into(), |b| b.to_string())
                )
            })
        }),
    );
    // Checks are matched by metric, so runs judged against different limits line up.
    let checks: Vec<(String, String)> = runs[0]
        .summary
        .verdict
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.metric_name()))
        .collect();
    for (check, metric) in checks {
        push(
            &format!("{check}{}", mark(slos_differ)),
            text(&|s| {
                s.verdict
                    .checks
                    .iter()
                    .find(|c| c.metric_name() == metric)
                    .map_or("-".into(), |c| {
                        let limit = if c.name == check {
                            String::new()
                        } else {
                            format!(" (limit {})", c.limit_text)
                        };
                        format!(
                            "{} {}{limit}",
                            c.actual_text,
                            if c.passed { "pass" } else { "FAIL" }
                        )
                    })
            }),
        );
    }
    for row in rows(runs, headroom) {
        let first = row.values[0];
        let cells = row
            .values
            .iter()
            .enumerate()
            .map(|(i, value)| match (value, first) {
                (None, _) => "-".to_string(),
                (Some(v), Some(base)) if i > 0 && row.relative && base != 0.0 => {
                    format!("{} ({:+.1}%)", (row.format)(*v), (v - base) / base * 100.0)
                }
                (Some(v), _) => (row.format)(*v),
            })
            .collect();
        push(&format!("{}{}", row.name, mark(load_differs)), cells);
    }
    table
}

fn chart(
    caption: &str,
    x_desc: &str,
    log_x: bool,
    series: Vec<(String, Vec<(f64, f64)>)>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let xs = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0));
        let ys = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
        let (x_max, y_max) = (xs.fold(1.0, f64::max), ys.fold(1.0, f64::max));
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(caption, ("sans-serif", 20))
            .margin(14)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(70);
        let palette = [
            RGBColor(31, 119, 180),
            RGBColor(255, 127, 14),
            RGBColor(44, 160, 44),
            RGBColor(148, 103, 189),
        ];
        macro_rules! plot {
            ($chart:expr, $x_label:expr) => {{
                let mut chart = $chart.map_err(|e| e.to_string())?;
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc("latency (ms, log)")
                    .x_label_formatter(&$x_label)
                    .label_style(("sans-serif", 13))
                    .draw()
                    .map_err(|e| e.to_string())?;
                for (i, (label, points)) in series.into_iter().enumerate() {
                    let style = palette[i % palette.len()].stroke_width(2);
                    chart
                        .draw_series(LineSeries::new(points, style))
                        .map_err(|e| e.to_string())?
                        .label(label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(180, 180, 180))
                    .label_font(("sans-serif", 13))
                    .position(SeriesLabelPosition::UpperLeft)
                    .draw()
                    .map_err(|e| e.to_string())?;
            }};
        }
        if log_x {
            let percentile = |x: &f64| format!("p{}", format_number(100.0 - 100.0 / x));
            plot!(
                builder.build_cartesian_2d(
                    (2f64..100_000f64).log_scale(),
                    (0.1f64..y_max * 2.0).log_scale()
                ),
                percentile
            );
        } else {
            let events = |x: &f64| thousands(*x as u64);
            plot!(
                builder.build_cartesian_2d(0f64..x_max * 1.1, (0.1f64..y_max * 2.0).log_scale()),
                events
            );
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Overlaid e2e percentile spectra (all groups of a run merged).
pub fn distribution_chart(runs: &[RunData]) -> Result<String, String> {
    let series = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let mut merged = crate::metrics::new_histogram();
            for group in &run.summary.groups {
                if let Some(h) = run.histograms.total(&e2e_tag(&group.name)) {
                    merged.add(h).expect("same bounds");
                }
            }
            // Up to the percentile the run's count supports, as in its own report.
            let last = super::svg::supported_inverse(merged.len());
            let points = if merged.is_empty() {
                Vec::new()
            } else {
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
            };
            (name(&run.summary, i), points)
        })
        .collect();
    chart(
        "End-to-end latency by percentile, run against run",
        "percentile (log scale of 1/(1-p))",
        true,
        series,
    )
    .map(|svg| {
        super::svg::titled(
            svg,
            "surge compare: end-to-end latency by percentile",
            &runs_described(runs),
        )
    })
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
pub fn capacity_chart(runs: &[RunData]) -> Option<Result<String, String>> {
    let series: Vec<(String, Vec<(f64, f64)>)> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, run)| {
            let capacity = run.summary.capacity.as_ref()?;
            Some((
                format!("{} p95", name(&run.summary, i)),
                capacity
                    .probes
                    .iter()
                    .map(|p| (p.offered_rate, (p.e2e_p95_us as f64 / 1000.0).max(0.1)))
                    .collect(),
            ))
        })
        .collect();
    (!series.is_empty()).then(|| {
        chart(
            "e2e p95 against offered rate, run against run",
            "offered rate (events per second)",
            false,
            series,
        )
        .map(|svg| {
            super::svg::titled(
                svg,
                "surge compare: e2e p95 against offered rate",
                &runs_described(runs),
            )
        })
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
pub fn markdown(runs: &[RunData], headroom: f64, warnings: &[String]) -> String {
    let mut md = String::from("# surge: comparison\n\n");
    for warning in warnings {
        md.push_str(&format!("> **warning:** {warning}\n\n"));
    }
    md.push_str(&format!(
        "Scenario `{}`; differences are against the first column.\n\n",
        runs[0].summary.scenario.name
    ));
    md.push_str(&table(runs, headroom).to_markdown());
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
    for line in sizing_lines() {
        md.push_str(&format!("{line}\n\n"));
    }
    md
}

/// `compare.html`, self-contained.
pub fn html(runs: &[RunData], headroom: f64, warnings: &[String]) -> String {
    let table = table(runs, headroom);
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
