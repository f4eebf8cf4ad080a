//! `summary.json`: the summary itself, pretty-printed.

use super::{Exporter, Output, RunData};

/// Writes `summary.json`.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn name(&self) -> &'static str {
        "summary.json"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, String> {
        let mut bytes = serde_json::to_vec_pretty(&run.summary).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        Ok(vec![Output {
            name: "summary.json".into(),
            bytes,
        }])
    }
}
