//! `summary.json`: the summary itself, pretty-printed.

use super::{Exporter, Output, ReportError, RunData};

/// Writes `summary.json`.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn name(&self) -> &'static str {
        "summary.json"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, ReportError> {
        let mut bytes = serde_json::to_vec_pretty(&run.summary)
            .map_err(|e| ReportError::encode("summary.json", e))?;
        bytes.push(b'\n');
        Ok(vec![Output {
            name: "summary.json".into(),
            bytes,
        }])
    }
}
