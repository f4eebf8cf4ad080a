//! What stops a command before it could measure or judge anything: exit code 2.

use std::path::PathBuf;

use crate::engine::EngineError;
use crate::kafka::ConnectError;
use crate::live::LiveViewError;
use crate::report::ReportError;
use crate::scenario::ScenarioError;

/// Anything that stops a run before it could measure: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SurgeError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    LiveView(#[from] LiveViewError),
    #[error("cannot write to {path}: {source}\n  fix: choose a writable directory with --out")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot read the run in {path}: {detail}\n  fix: point at a directory written by `surge run` (it holds summary.json and *.hlog)"
    )]
    RunDir { path: PathBuf, detail: String },
    /// The runs or directories given cannot be used together (the wrong count, another
    /// scenario's run as a baseline or in a comparison, a budget too small for one probe).
    #[error("{problem}\n  fix: {fix}")]
    Usage { problem: String, fix: String },
    #[error("the async runtime could not start: {0}")]
    AsyncRuntime(std::io::Error),
}
