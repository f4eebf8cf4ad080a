//! `worker-mark.json`: what a worker of a distributed run had done, rewritten once a second
//! while it runs, so that a worker killed mid-run (its pod evicted, its host lost) is still
//! named by `surge merge`, with what it had sent by its last mark.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::SoFar;
use crate::scenario::Scenario;

/// The schema name of `worker-mark.json`.
pub const MARK_SCHEMA: &str = "surge.worker-mark/v1";
/// The file a worker rewrites while it runs.
pub const MARK_FILE: &str = "worker-mark.json";

/// One worker's last mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerMark {
    pub schema: String,
    pub run_id: String,
    pub index: u16,
    pub count: u16,
    pub start_at_unix_us: u64,
    /// Producer instances of this worker.
    pub instances: u16,
    /// When the mark was taken, from the plan's start, in microseconds (0 before it started).
    pub at_us: u64,
    /// What the worker's producers had done by then.
    pub so_far: SoFar,
}

impl WorkerMark {
    /// The mark of a worker that has not sent yet.
    pub fn new(scenario: &Scenario, run_id: &str) -> WorkerMark {
        WorkerMark {
            schema: MARK_SCHEMA.into(),
            run_id: run_id.into(),
            index: scenario.workers.index,
            count: scenario.workers.count,
            start_at_unix_us: scenario.start_at_unix_us.unwrap_or(0),
            instances: scenario.producer_instances,
            at_us: 0,
            so_far: SoFar::default(),
        }
    }

    /// Writes the mark over the last one: a new file synced and renamed into place (never
    /// through a symlink planted under its name), so that a kill never leaves half of one.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::output::write(&dir.join(MARK_FILE), &text)
    }

    /// Removes the mark once the worker's results are written: a directory with a mark and
    /// no `worker.json` is then one whose worker stopped before it could write them.
    pub fn remove(dir: &Path) {
        let _ = std::fs::remove_file(dir.join(MARK_FILE));
    }
}
