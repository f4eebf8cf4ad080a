//! The CI job summary: when `GITHUB_STEP_SUMMARY` names a file (GitHub Actions sets it), the
//! Markdown verdict and tables are appended to it, without the chart images, whose relative
//! links would break on the job page.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::ReportError;
use crate::summary::Summary;

/// The environment variable GitHub Actions sets to the job summary's file.
pub const VARIABLE: &str = "GITHUB_STEP_SUMMARY";

/// The text appended for one run.
pub fn render(summary: &Summary, out_dir: &Path) -> String {
    format!(
        "{}\nFull report with charts: `{}` (keep the run directory as a job artifact).\n\n",
        super::markdown::render(summary, false),
        out_dir.join("report.html").display()
    )
}

/// Appends the run to the file `GITHUB_STEP_SUMMARY` names; `None` when it is not set.
pub fn append_from_env(summary: &Summary, out_dir: &Path) -> Option<Result<PathBuf, ReportError>> {
    let path = PathBuf::from(std::env::var_os(VARIABLE).filter(|v| !v.is_empty())?);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(render(summary, out_dir).as_bytes()));
    Some(match written {
        Ok(()) => Ok(path),
        Err(source) => Err(ReportError::Write { path, source }),
    })
}
