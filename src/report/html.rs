//! `report.html`: one self-contained page (inline CSS and SVG, no network fetches) to put in
//! front of a capacity review.

use super::lines::{
    baseline_line, cause_lines, cluster_words, command_lines, failure_lines, headline,
    lost_example_lines, recovery_line, run_line, scenario_words, worker_line,
};
use super::markdown::{PHASE_TABLE_NOTE, TRUST_NOTE};
use super::svg::{CHARTS, capacity_chart, render_charts};
use super::table::{
    BREAKDOWN_NOTE, BROKER_TABLE_NOTE, FAULT_TABLE_NOTE, REBALANCE_TABLE_NOTE, Table,
    baseline_table, breakdown_lines, breakdown_table, broker_fault_lines, broker_table,
    capacity_table, consumer_tables, fault_table, group_table, integrity_table, phase_table,
    producer_table, slo_table, throttle_line, topic_table, trust_table, worker_table,
};
use super::{Exporter, Output, ReportError, RunData, escape};
use crate::format::thousands;
use crate::summary::{Status, Summary};

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}\
figcaption{font-size:.9rem;color:#444;margin-top:.2rem}\
h1{font-size:1.6rem;margin-bottom:.3rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}\
.verdict{font-size:1.15rem;padding:.7rem 1rem;border-radius:6px;margin:1rem 0;font-weight:600}.verdict .context{display:block;font-size:.95rem;font-weight:400;margin-top:.25rem}\
.pass{background:#e6f4ea;color:#1e6b34}.fail{background:#fce8e6;color:#a50e0e}.inconclusive,.error{background:#fef7e0;color:#7a4f01}\
.wide{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}th,td{padding:.3rem .6rem;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f6f6f6}td.ok{color:#1e6b34;font-weight:600}td.bad{color:#a50e0e;font-weight:700}\
figure{margin:1rem 0}figure svg{width:100%;height:auto;border:1px solid #eee}pre{background:#f6f6f6;padding:.8rem;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem}\
.meta{color:#555;font-size:.92rem}ul{margin:.3rem 0}td{white-space:nowrap}td:first-child,td.text{white-space:normal}\
@media (max-width:900px){body{margin:1rem auto;padding:0 .5rem}table{font-size:.78rem}th,td{padding:.25rem .35rem}h1{font-size:1.35rem}}\
@media print{body{max-width:none;margin:0;padding:0;font-size:10pt}.links{display:none}figure,tr,.verdict{break-inside:avoid}h2{break-after:avoid}pre{font-size:8pt}\
.wide{overflow:visible}figure svg{border:none}}";

/// A table; with `result_last`, its last column is a result, coloured good or bad.
fn table_html(table: &Table, result_last: bool) -> String {
    let status_column = result_last.then(|| table.header.len() - 1);
    let mut html = String::from("<table><thead><tr>");
    for cell in &table.header {
        html.push_str(&format!("<th>{}</th>", escape(cell)));
    }
    html.push_str("</tr></thead><tbody>");
    for row in &table.rows {
        html.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = match status_column {
                Some(column) if column == i && (cell == "pass" || cell == "clean") => {
                    " class=\"ok\""
                }
                // A check the verdict did not judge is neither good nor bad.
                Some(column) if column == i && cell == "not judged" => "",
                Some(column) if column == i => " class=\"bad\"",
                // Long text (topic lists, reasons) may wrap; figures never break.
                _ if cell.chars().count() > 24 => " class=\"text\"",
                _ => "",
            };
            html.push_str(&format!("<td{class}>{}</td>", escape(cell)));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// Under the capacity heading: how to read it.
const CAPACITY_NOTE: &str = "Each probe offers the scenario's mix at one constant rate; a probe passes when every SLO holds. The knee is the highest rate that passed.";

/// A section with a heading and a table that may scroll sideways on a narrow screen only as a
/// last resort.
fn section(title: &str, table: &Table, result_last: bool) -> String {
    format!(
        "<h2>{}</h2><div class=\"wide\">{}</div>\n",
        escape(title),
        table_html(table, result_last)
    )
}

/// A paragraph of secondary text.
fn meta(text: &str) -> String {
    format!("<p class=\"meta\">{}</p>\n", escape(text))
}

/// A bulleted list; nothing at all for no lines.
fn list(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let items: String = lines
        .iter()
        .map(|l| format!("<li>{}</li>", escape(l)))
        .collect();
    format!("<ul>{items}</ul>\n")
}

/// The raw files of the run, linked relative to the page.
fn links(run: &RunData) -> String {
    let mut files = vec![
        ("summary.json", "summary (JSON)".to_string()),
        ("ledger.json", "ledger of every send (JSON)".to_string()),
        ("junit.xml", "JUnit".to_string()),
        ("report.md", "Markdown report".to_string()),
        (
            super::hlog::TOTALS_FILE,
            "histogram totals (hlog)".to_string(),
        ),
    ];
    let tags = super::hlog::expected_tags(&run.summary);
    let names: Vec<String> = tags.iter().map(|t| super::hlog::file_name(t)).collect();
    for name in &names {
        files.push((name.as_str(), format!("interval histograms {name}")));
    }
    for (file, title) in CHARTS {
        files.push((file, format!("chart: {title}")));
    }
    if run.summary.capacity.is_some() {
        files.push(("capacity.svg", "chart: capacity".into()));
    }
    let items: String = files
        .iter()
        .map(|(file, title)| {
            format!(
                "<li><a href=\"{}\">{}</a></li>",
                escape(file),
                escape(title)
            )
        })
        .collect();
    format!("<section class=\"links\"><h2>Raw files</h2><ul>{items}</ul></section>\n")
}

/// The page's opening: title, the scenario in words, warnings and the verdict.
fn opening(s: &Summary) -> String {
    let class = match s.verdict.status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Inconclusive => "inconclusive",
        Status::Error => "error",
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>{status} · surge: {name} · run {run_id}</title><style>{STYLE}</style></head><body>\n<h1>surge: {name}</h1>\n<p class=\"meta\">{description}</p>\n",
        status = s.verdict.status.as_str().to_uppercase(),
        name = escape(&s.scenario.name),
        run_id = escape(&s.run_id),
        description = escape(&format!("{} {}", s.scenario.description, scenario_words(s))),
    );
    for warning in &s.warnings {
        html.push_str(&format!(
            "<div class=\"verdict error\">WARNING: {}</div>\n",
            escape(warning)
        ));
    }
    html.push_str(&format!(
        "<div class=\"verdict {class}\">{}<span class=\"context\">{}</span></div>\n",
        escape(&headline(s)),
        escape(&run_line(s))
    ));
    if let Some(line) = throttle_line(s) {
        html.push_str(&format!(
            "<div class=\"verdict inconclusive\">{}</div>\n",
            escape(&line)
        ));
    }
    html.push_str(&meta(&format!(
        "Run {} started {}; surge {}{}; scenario file {}.",
        s.run_id,
        s.started_at,
        s.surge_version,
        s.git_commit
            .as_ref()
            .map_or(String::new(), |c| format!(" (commit {c})")),
        s.scenario.file
    )));
    html
}

/// A capacity search answers first: how far the cluster goes, and the headroom. Empty for
/// any other run.
fn capacity(s: &Summary) -> String {
    if s.capacity.is_none() {
        return String::new();
    }
    let mut html = format!(
        "<h2>Capacity</h2><p class=\"meta\">{}</p>\n",
        escape(CAPACITY_NOTE)
    );
    if let Some(table) = capacity_table(s) {
        html.push_str(&format!(
            "<div class=\"wide\">{}</div>\n",
            table_html(&table, false)
        ));
    }
    match capacity_chart(s) {
        Some(Ok(svg)) => html.push_str(&inline_svg(
            &svg,
            "chart-capacity",
            "Capacity: e2e latency against offered rate",
        )),
        Some(Err(error)) => html.push_str(&format!(
            "<p class=\"bad\">the capacity chart could not be drawn: {}</p>",
            escape(&error.to_string())
        )),
        None => {}
    }
    html.push_str(&format!(
        "<h2>The probe at {}/s</h2><p class=\"meta\">Everything below is this probe: the highest rate that passed, or the last probe when none did.</p>\n",
        thousands(s.produced.target_rate.round() as u64)
    ));
    html
}

/// The SLO table, the baseline, recovery and the workers of a distributed run.
fn judgement(s: &Summary) -> String {
    let mut html = String::new();
    if !s.verdict.checks.is_empty() {
        html.push_str(&section("SLOs", &slo_table(s), true));
        html.push_str("<p class=\"meta\">Of limit: the measured value as a share of its limit; the rest is headroom.</p>\n");
    }
    if let Some(table) = trust_table(s) {
        html.push_str(&section("Can the generator be trusted?", &table, true));
        html.push_str(&meta(TRUST_NOTE));
    }
    if let Some(line) = baseline_line(s) {
        html.push_str(&meta(&line));
        if let Some(table) = baseline_table(s).filter(|t| !t.rows.is_empty()) {
            html.push_str(&section(
                "Other figures against the baseline",
                &table,
                false,
            ));
        }
    }
    if let Some(line) = recovery_line(s) {
        html.push_str(&meta(&line));
    }
    if let Some(line) = worker_line(s) {
        html.push_str(&meta(&line));
    }
    if let Some(table) = worker_table(s) {
        html.push_str(&section("Workers", &table, true));
    }
    html
}

/// Where the milliseconds went, and how to read it.
fn breakdown(s: &Summary) -> String {
    let Some(table) = breakdown_table(s) else {
        return String::new();
    };
    let mut html = section("Where the milliseconds go", &table, false);
    html.push_str(&list(&breakdown_lines(s)));
    html.push_str(&meta(BREAKDOWN_NOTE));
    html
}

/// Each broker as the clients saw it, each fault's effect per broker, and how to read them.
fn brokers(s: &Summary) -> String {
    let Some(table) = broker_table(s) else {
        return String::new();
    };
    let mut html = section("Brokers, as the clients saw them", &table, false);
    html.push_str(&list(&broker_fault_lines(s)));
    html.push_str(&meta(BROKER_TABLE_NOTE));
    html
}

/// The fault table, how to read it, and what each command fault ran.
fn faults(s: &Summary) -> String {
    let Some(table) = fault_table(s) else {
        return String::new();
    };
    let mut html = section("Faults", &table, false);
    html.push_str(&meta(FAULT_TABLE_NOTE));
    html.push_str(&list(&command_lines(s)));
    html
}

/// Each group's reading, its ordering and loss, and its consumer-behaviour tables.
fn groups(s: &Summary) -> String {
    if s.groups.is_empty() {
        return String::new();
    }
    let mut html = section("Consumer groups", &group_table(s), false);
    html.push_str("<p class=\"meta\">Expected: the events acked on the topics the group reads. Consumed: distinct events it read. Both include the warmup.</p>\n");
    html.push_str(&section("Ordering and loss", &integrity_table(s), true));
    html.push_str(&list(&lost_example_lines(s)));
    html.push_str(&list(&cause_lines(s)));
    for (title, table) in consumer_tables(s) {
        // The replay table ends with its order-and-completeness result.
        html.push_str(&section(title, &table, title == "Replay"));
        if title == "Rebalances" {
            html.push_str(&format!(
                "<p class=\"meta\">{}</p>\n",
                escape(REBALANCE_TABLE_NOTE)
            ));
        }
    }
    html.push_str(&list(&failure_lines(s)));
    html
}

/// The charts, inline.
fn charts(run: &RunData) -> String {
    let charts = match render_charts(run) {
        Ok(charts) => charts,
        Err(error) => {
            return format!(
                "<p class=\"bad\">charts could not be drawn: {}</p>",
                escape(&error.to_string())
            );
        }
    };
    let mut html = String::from("<h2>Charts</h2>\n");
    // The ordering and loss chart repeats the table above: it stays a file only.
    for (index, (_, title, svg)) in charts
        .into_iter()
        .filter(|(file, _, _)| *file != "ordering-loss.svg")
        .enumerate()
    {
        html.push_str(&inline_svg(&svg, &format!("chart-{index}"), title));
    }
    html
}

/// An SVG chart inline, named for assistive technology by its caption.
fn inline_svg(svg: &str, id: &str, title: &str) -> String {
    let svg = svg.trim_start_matches(|c| c != '<').replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-labelledby=\"{id}\" "),
        1,
    );
    format!(
        "<figure>{svg}<figcaption id=\"{id}\">{}</figcaption></figure>\n",
        escape(title)
    )
}

/// The run's notes and client errors.
fn notes(s: &Summary) -> String {
    if s.notes.is_empty() && s.errors.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = s.notes.iter().chain(&s.errors).cloned().collect();
    format!("<h2>Notes</h2>{}", list(&lines))
}

/// Where and with what the run ran: versions, host and cluster.
fn environment(s: &Summary) -> String {
    let mut environment = Table::new(&["environment", "value"]);
    let e = &s.environment;
    for (key, value) in [
        ("surge version", s.surge_version.clone()),
        (
            "git commit",
            s.git_commit.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("librdkafka version", e.librdkafka_version.clone()),
        ("host", e.host.clone()),
        ("OS", e.os.clone()),
        ("CPUs", e.cpus.to_string()),
        ("memory", format!("{} GiB", e.memory_gib)),
        ("cluster", cluster_words(s)),
        ("started", s.started_at.clone()),
        ("run id", s.run_id.clone()),
        ("complete", s.complete.to_string()),
    ] {
        environment.row(vec![key.into(), value]);
    }
    section("Environment", &environment, false)
}

/// The producer's and consumer's client properties side by side, one row per key.
fn client_config(s: &Summary) -> String {
    let mut config = Table::new(&["client property", "producer", "consumer"]);
    let mut keys: Vec<&String> = s
        .cluster
        .producer_config
        .iter()
        .chain(&s.cluster.consumer_config)
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    keys.dedup();
    let find = |list: &[(String, String)], key: &str| {
        list.iter()
            .find(|(k, _)| k == key)
            .map_or("".to_string(), |(_, v)| v.clone())
    };
    for key in keys {
        config.row(vec![
            key.clone(),
            find(&s.cluster.producer_config, key),
            find(&s.cluster.consumer_config, key),
        ]);
    }
    format!("<div class=\"wide\">{}</div>", table_html(&config, false))
}

/// The scenario file as it ran, and the page's end.
fn scenario_as_run(s: &Summary) -> String {
    format!(
        "<h2>Scenario as run</h2><p class=\"meta\">{}</p><pre>{}</pre>\n</body></html>\n",
        escape(&s.scenario.file),
        escape(&s.scenario.source)
    )
}

/// Writes `report.html`.
pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, ReportError> {
        let s = &run.summary;
        let html = [
            opening(s),
            capacity(s),
            judgement(s),
            phase_table(s).map_or(String::new(), |t| {
                section("Phases", &t, false) + &meta(PHASE_TABLE_NOTE)
            }),
            faults(s),
            breakdown(s),
            brokers(s),
            groups(s),
            section("Producers", &producer_table(s), false),
            topic_table(s).map_or(String::new(), |t| section("Topics", &t, false)),
            charts(run),
            notes(s),
            links(run),
            environment(s),
            client_config(s),
            scenario_as_run(s),
        ]
        .concat();
        Ok(vec![Output::text("report.html", html)])
    }
}
