//! Where a run's results go: its directory, and the files written into it.

use std::path::{Path, PathBuf};

use crate::metrics;
use crate::report;
use crate::scenario::Scenario;

/// `reports/<scenario>-<UTC timestamp>/`, where a run writes without --out.
pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("reports").join(format!("{}-{stamp}", scenario.name))
}

/// Where `surge compare` writes without --out.
pub fn default_compare_dir() -> PathBuf {
    PathBuf::from("reports").join(format!(
        "compare-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ))
}

/// Writes every report of a run and its `ledger.json`; returns the files that failed.
pub fn write_run(
    out_dir: &Path,
    run: &report::RunData,
    ledger: &metrics::LedgerFile,
) -> Vec<(PathBuf, String)> {
    let mut failures = report::write_all(out_dir, run);
    write_json(&out_dir.join("ledger.json"), ledger, &mut failures);
    failures
}

/// Writes `value` as JSON to `path`, noting a failure.
pub fn write_json(
    path: &Path,
    value: &impl serde::Serialize,
    failures: &mut Vec<(PathBuf, String)>,
) {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other);
    if let Err(error) = bytes.and_then(|bytes| crate::output::write(path, &bytes)) {
        failures.push((path.to_path_buf(), error.to_string()));
    }
}
