//! `report.html`: one self-contained page (inline CSS and SVG, no network fetches) to put in
//! front of a capacity review.

use super::svg::render_charts;
use super::table::{Table, group_table, headline, loss_lines, producer_table, slo_table};
use super::{Exporter, Output, RunData, escape};
use crate::summary::Status;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1000px;color:#222;padding:0 1rem}\
h1{font-size:1.6rem;margin-bottom:.3rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}\
.verdict{font-size:1.15rem;padding:.7rem 1rem;border-radius:6px;margin:1rem 0;font-weight:600}\
.pass{background:#e6f4ea;color:#1e6b34}.fail{background:#fce8e6;color:#a50e0e}.inconclusive,.error{background:#fef7e0;color:#7a4f01}\
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}th,td{padding:.3rem .7rem;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f6f6f6}td.ok{color:#1e6b34;font-weight:600}td.bad{color:#a50e0e;font-weight:700}\
figure{margin:1rem 0}figure svg{width:100%;height:auto;border:1px solid #eee}pre{background:#f6f6f6;padding:.8rem;overflow-x:auto;font-size:.85rem}\
.meta{color:#555;font-size:.92rem}ul{margin:.3rem 0}";

fn table_html(table: &Table, status_column: Option<usize>) -> String {
    let mut html = String::from("<table><thead><tr>");
    for cell in &table.header {
        html.push_str(&format!("<th>{}</th>", escape(cell)));
    }
    html.push_str("</tr></thead><tbody>");
    for row in &table.rows {
        html.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = match status_column {
                Some(column) if column == i && cell == "pass" => " class=\"ok\"",
                Some(column) if column == i => " class=\"bad\"",
                _ => "",
            };
            html.push_str(&format!("<td{class}>{}</td>", escape(cell)));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// Writes `report.html`.
pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, String> {
        let s = &run.summary;
        let class = match s.verdict.status {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Inconclusive => "inconclusive",
            Status::Error => "error",
        };
        let mut html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>surge: {name}</title><style>{STYLE}</style></head><body>\n<h1>surge: {name}</h1>\n<p class=\"meta\">{description}</p>\n<div class=\"verdict {class}\">{headline}</div>\n",
            name = escape(&s.scenario.name),
            description = escape(&s.scenario.description),
            headline = escape(&headline(s)),
        );
        for warning in &s.warnings {
            html.push_str(&format!(
                "<div class=\"verdict error\">WARNING: {}</div>\n",
                escape(warning)
            ));
        }
        if !s.verdict.checks.is_empty() {
            html.push_str(&format!(
                "<h2>SLOs</h2>{}\n",
                table_html(&slo_table(s), Some(3))
            ));
        }
        if let Some(line) = super::table::recovery_line(s) {
            html.push_str(&format!("<p class=\"meta\">{}</p>\n", escape(&line)));
        }
        if let Some(table) = super::table::fault_table(s) {
            html.push_str(&format!(
                "<h2>Faults</h2>{}\n<p class=\"meta\">{}</p>\n",
                table_html(&table, None),
                escape(super::table::FAULT_TABLE_NOTE)
            ));
            let lines = super::table::command_lines(s);
            if !lines.is_empty() {
                html.push_str("<ul>");
                for line in lines {
                    html.push_str(&format!("<li>{}</li>", escape(&line)));
                }
                html.push_str("</ul>\n");
            }
        }
        match render_charts(run) {
            Ok(charts) => {
                html.push_str("<h2>Charts</h2>\n");
                for (_, title, svg) in charts {
                    let svg = svg.trim_start_matches(|c| c != '<').to_string();
                    html.push_str(&format!(
                        "<figure aria-label=\"{}\">{svg}</figure>\n",
                        escape(title)
                    ));
                }
            }
            Err(error) => html.push_str(&format!(
                "<p class=\"bad\">charts could not be drawn: {}</p>",
                escape(&error)
            )),
        }
        html.push_str(&format!(
            "<h2>Producers</h2>{}\n",
            table_html(&producer_table(s), None)
        ));
        if !s.groups.is_empty() {
            html.push_str(&format!(
                "<h2>Consumer groups</h2>{}\n<ul>",
                table_html(&group_table(s), None)
            ));
            for line in loss_lines(s) {
                html.push_str(&format!("<li>{}</li>", escape(&line)));
            }
            html.push_str("</ul>\n");
        }
        if !s.notes.is_empty() || !s.errors.is_empty() {
            html.push_str("<h2>Notes</h2><ul>");
            for line in s.notes.iter().chain(s.errors.iter().map(|e| e as &String)) {
                html.push_str(&format!("<li>{}</li>", escape(line)));
            }
            html.push_str("</ul>\n");
        }
        let mut environment = Table::new(&["environment", "value"]);
        let e = &s.environment;
        for (key, value) in [
            ("surge version", s.surge_version.clone()),
            ("librdkafka version", e.librdkafka_version.clone()),
            ("host", e.host.clone()),
            ("OS", e.os.clone()),
            ("CPUs", e.cpus.to_string()),
            ("memory", format!("{} GiB", e.memory_gib)),
            (
                "cluster",
                format!("{} ({})", s.cluster.kind, s.cluster.bootstrap),
            ),
            ("brokers", s.cluster.brokers.to_string()),
            ("started", s.started_at.clone()),
            ("run id", s.run_id.clone()),
            ("complete", s.complete.to_string()),
        ] {
            environment.row(vec![key.into(), value]);
        }
        html.push_str(&format!(
            "<h2>Environment</h2>{}\n",
            table_html(&environment, None)
        ));
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
        html.push_str(&table_html(&config, None));
        html.push_str(&format!(
            "<h2>Scenario as run</h2><p class=\"meta\">{}</p><pre>{}</pre>\n</body></html>\n",
            escape(&s.scenario.file),
            escape(&s.scenario.source)
        ));
        Ok(vec![Output::text("report.html", html)])
    }
}
