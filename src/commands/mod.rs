//! The commands, one file each where a command has logic of its own; `main.rs` calls them
//! through the crate's re-exports.

mod capacity;
mod check;
mod compare;
mod profile;
mod run;

use std::path::{Path, PathBuf};

pub use capacity::{CapacityOptions, capacity_search};
pub use check::preflight;
pub use compare::{CompareOptions, compare};
pub use profile::{ProfileOptions, ProfileOutcome, profile};
pub use run::{RunOptions, RunOutcome, run, run_scenario};

use crate::broker_types::BrokerTypes;
use crate::error::SurgeError;
use crate::scenario::{self, Overrides, Scenario};
use crate::{report, workload};

/// Loads and fully validates a scenario, as `surge validate` does.
pub fn validate(path: &Path, overrides: &Overrides) -> Result<Scenario, SurgeError> {
    let scenario = scenario::load(path, overrides)?;
    workload::validate(&scenario)?;
    Ok(scenario)
}

/// The broker types of `file` (else the built-in ones), with the type `--broker-type` names
/// checked against them.
fn broker_types(file: Option<&Path>, broker_type: Option<&str>) -> Result<BrokerTypes, SurgeError> {
    let types = BrokerTypes::load(file).map_err(|e| SurgeError::Usage {
        problem: format!("{}: {}", e.file, e.problem),
        fix: e.fix,
    })?;
    if let Some(name) = broker_type
        && types.get(name).is_none()
    {
        let known: Vec<&str> = types
            .types
            .iter()
            .take(8)
            .map(|t| t.name.as_str())
            .collect();
        return Err(SurgeError::Usage {
            problem: format!(
                "--broker-type {}: no such type in {}",
                crate::input::quote(name, 60),
                types.file
            ),
            fix: format!(
                "name one of its types ({}, ...), or add it to a file given with --broker-types",
                known.join(", ")
            ),
        });
    }
    Ok(types)
}

/// Re-renders every report of a saved run; returns the exports that failed.
pub fn regenerate(dir: &Path) -> Result<Vec<(PathBuf, String)>, SurgeError> {
    let run = report::load_run(dir).map_err(|error| SurgeError::RunDir {
        path: dir.to_path_buf(),
        detail: error.to_string(),
    })?;
    Ok(report::write_reports(dir, &run))
}
