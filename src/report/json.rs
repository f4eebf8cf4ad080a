//! `summary.json`: the summary itself, pretty-printed.

use super::Exporter;
use crate::summary::Summary;

/// Writes `summary.json`.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn file_name(&self) -> &'static str {
        "summary.json"
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>, String> {
        let mut bytes = serde_json::to_vec_pretty(summary).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}
