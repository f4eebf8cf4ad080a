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

use crate::error::SurgeError;
use crate::scenario::{self, Overrides, Scenario};
use crate::{report, workload};

/// Loads and fully validates a scenario, as `surge validate` does.
pub fn validate(path: &Path, overrides: &Overrides) -> Result<Scenario, SurgeError> {
    let scenario = scenario::load(path, overrides)?;
    workload::validate(&scenario)?;
    Ok(scenario)
}

/// Re-renders every report of a saved run; returns the exports that failed.
pub fn regenerate(dir: &Path) -> Result<Vec<(PathBuf, String)>, SurgeError> {
    let run = report::load_run(dir).map_err(|error| SurgeError::RunDir {
        path: dir.to_path_buf(),
        detail: error.to_string(),
    })?;
    Ok(report::write_reports(dir, &run))
}
