//! Exporters: one per kind of file, behind one small trait. They read a finished (or partial)
//! run's summary and histograms, and never touch the engine or Kafka.

pub mod compare;
pub mod console;
mod error;
pub mod hlog;
pub mod html;
pub mod json;
pub mod junit;
pub mod lines;
pub mod markdown;
pub mod metric_words;
pub mod step_summary;
pub mod svg;
pub mod table;

use std::path::{Path, PathBuf};

pub use error::ReportError;

use crate::metrics::Histograms;
use crate::summary::Summary;

/// What every exporter reads.
#[derive(Debug, Clone)]
pub struct RunData {
    pub summary: Summary,
    pub histograms: Histograms,
}

/// One file an exporter produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// File name inside the run's out dir.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Output {
    pub fn text(name: &str, text: String) -> Output {
        Output {
            name: name.into(),
            bytes: text.into_bytes(),
        }
    }
}

/// Renders files from a run.
pub trait Exporter {
    /// What it writes, for error messages.
    fn name(&self) -> &'static str;
    /// The files' bytes.
    fn render(&self, run: &RunData) -> Result<Vec<Output>, ReportError>;
}

/// Every exporter, in the order they are written (the summary first).
pub fn exporters() -> Vec<Box<dyn Exporter>> {
    vec![
        Box::new(json::JsonExporter),
        Box::new(hlog::HlogExporter),
        Box::new(svg::SvgExporter),
        Box::new(markdown::MarkdownExporter),
        Box::new(junit::JunitExporter),
        Box::new(html::HtmlExporter),
    ]
}

/// Writes every export; one failing does not stop the others. Returns the failures.
pub fn write_all(dir: &Path, run: &RunData) -> Vec<(PathBuf, String)> {
    write_exports(dir, run, exporters())
}

/// Writes every export but the interval logs, which a run directory read back already holds
/// (`surge report`): rewriting them from themselves would hold each whole log in memory.
pub fn write_reports(dir: &Path, run: &RunData) -> Vec<(PathBuf, String)> {
    let reports = exporters()
        .into_iter()
        .filter(|e| e.name() != hlog::HlogExporter.name())
        .collect();
    write_exports(dir, run, reports)
}

fn write_exports(
    dir: &Path,
    run: &RunData,
    exporters: Vec<Box<dyn Exporter>>,
) -> Vec<(PathBuf, String)> {
    let mut failures = Vec::new();
    for exporter in exporters {
        match exporter.render(run) {
            Err(error) => {
                failures.push((dir.to_path_buf(), format!("{}: {error}", exporter.name())))
            }
            Ok(outputs) => {
                for output in outputs {
                    let path = dir.join(&output.name);
                    if let Err(error) = crate::output::write(&path, &output.bytes) {
                        failures.push((path, error.to_string()));
                    }
                }
            }
        }
    }
    failures
}

/// Reads a run directory's `summary.json`.
pub fn load_summary(dir: &Path) -> Result<Summary, ReportError> {
    let path = dir.join("summary.json");
    let text = crate::input::read_text(&path, crate::input::SUMMARY)?;
    Summary::from_json(&text).map_err(|detail| ReportError::Parse { path, detail })
}

/// Reads a run directory back: `summary.json` and the interval logs.
pub fn load_run(dir: &Path) -> Result<RunData, ReportError> {
    let summary = load_summary(dir)?;
    // Every histogram the run recorded must be there: a chart drawn from less would be a
    // different run's picture.
    let mut expected: Vec<String> = hlog::expected_tags(&summary)
        .iter()
        .map(|tag| hlog::file_name(tag))
        .collect();
    expected.push(hlog::TOTALS_FILE.to_string());
    if let Some(missing) = expected.iter().find(|name| !dir.join(name).is_file()) {
        return Err(ReportError::Missing {
            path: dir.join(missing),
        });
    }
    let histograms = hlog::read(dir, summary.startup.run_time_s)?;
    Ok(RunData {
        summary,
        histograms,
    })
}

/// Escapes text for HTML and XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
