//! Exporters: one file each, behind one small trait. They read a [`Summary`] (and the
//! interval histograms) and never touch the engine or Kafka.

pub mod console;
pub mod json;
pub mod table;

use std::path::{Path, PathBuf};

use crate::summary::Summary;

/// Renders one output file from a finished (or partial) run.
pub trait Exporter {
    /// The file name inside the run's out dir.
    fn file_name(&self) -> &'static str;
    /// The file's bytes.
    fn render(&self, summary: &Summary) -> Result<Vec<u8>, String>;
}

/// Every exporter, in the order they are written.
pub fn exporters() -> Vec<Box<dyn Exporter>> {
    vec![Box::new(json::JsonExporter)]
}

/// Writes every export; one failing does not stop the others. Returns the failures.
pub fn write_all(dir: &Path, summary: &Summary) -> Vec<(PathBuf, String)> {
    let mut failures = Vec::new();
    for exporter in exporters() {
        let path = dir.join(exporter.file_name());
        let outcome = exporter
            .render(summary)
            .and_then(|bytes| std::fs::write(&path, bytes).map_err(|e| e.to_string()));
        if let Err(error) = outcome {
            failures.push((path, error));
        }
    }
    failures
}
