//! `surge compare`: two or more runs side by side.

use std::path::{Path, PathBuf};

use crate::error::SurgeError;
use crate::report;
use crate::report::compare::Sizing;

/// How `surge compare` compares.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Compare runs of different scenarios anyway, with a warning.
    pub force: bool,
    /// Headroom the sizing estimates keep above the peak (0.3 = 30%).
    pub headroom: f64,
    /// A broker-type file of the user's, instead of the built-in one.
    pub broker_types: Option<PathBuf>,
    /// The broker type and count of runs whose label names none.
    pub broker_type: Option<String>,
    pub brokers: Option<u32>,
}

impl Default for CompareOptions {
    fn default() -> CompareOptions {
        CompareOptions {
            force: false,
            headroom: 0.3,
            broker_types: None,
            broker_type: None,
            brokers: None,
        }
    }
}

/// Puts two or more runs side by side; refuses runs of different scenarios unless
/// `options.force`. Returns the warnings it wrote into the comparison.
pub fn compare(
    dirs: &[PathBuf],
    out: &Path,
    options: &CompareOptions,
) -> Result<Vec<String>, SurgeError> {
    let (force, headroom) = (options.force, options.headroom);
    let types = super::broker_types(
        options.broker_types.as_deref(),
        options.broker_type.as_deref(),
    )?;
    let sizing = Sizing {
        types: &types,
        broker_type: options.broker_type.as_deref(),
        brokers: options.brokers,
    };
    if dirs.len() < 2 {
        return Err(SurgeError::Usage {
            problem: "compare needs two or more run directories".into(),
            fix: "surge compare RUN_DIR RUN_DIR...".into(),
        });
    }
    let runs = dirs
        .iter()
        .map(|dir| {
            report::load_run(dir).map_err(|error| SurgeError::RunDir {
                path: dir.clone(),
                detail: error.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut warnings = report::compare::plan_warnings(&runs);
    let first = &runs[0].summary.scenario.name;
    for (dir, run) in dirs.iter().zip(&runs).skip(1) {
        if &run.summary.scenario.name != first {
            let message = format!(
                "{} ran scenario `{}`, not `{first}`",
                dir.display(),
                run.summary.scenario.name
            );
            if !force {
                return Err(SurgeError::Usage {
                    problem: format!("{message}: comparing different scenarios compares nothing"),
                    fix: "compare runs of one scenario, or pass --force".into(),
                });
            }
            warnings.push(format!("{message} (compared anyway, --force)"));
        }
    }
    std::fs::create_dir_all(out).map_err(|source| SurgeError::Output {
        path: out.to_path_buf(),
        source,
    })?;
    let mut files = vec![
        (
            "compare.md",
            report::compare::markdown(&runs, headroom, &warnings, &sizing),
        ),
        (
            "compare.html",
            report::compare::html(&runs, headroom, &warnings, &sizing),
        ),
        (
            "compare-distribution.svg",
            report::compare::distribution_chart(&runs)?,
        ),
    ];
    if let Some(chart) = report::compare::capacity_chart(&runs) {
        files.push(("compare-capacity.svg", chart?));
    }
    for (name, text) in files {
        let path = out.join(name);
        crate::output::write(&path, text.as_bytes())
            .map_err(|source| SurgeError::Output { path, source })?;
    }
    Ok(warnings)
}
