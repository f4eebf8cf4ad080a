//! Workers that died mid-run (killed, their pod evicted): no `worker.json`, but the last
//! `worker-mark.json` of this run. The merge names them with what they had sent by then; the
//! rest of their share counts as not sent, and their events are not checked, as their ledger
//! was never written.

use std::path::{Path, PathBuf};

use crate::engine::Plan;
use crate::format::thousands;
use crate::scenario::Scenario;
use crate::workers::{MARK_FILE, MARK_SCHEMA, WORKER_FILE, WorkerFile, WorkerMark};

/// A worker directory that holds only a mark of this run.
#[derive(Debug, Clone)]
pub(super) struct DeadWorker {
    pub(super) dir: PathBuf,
    pub(super) mark: WorkerMark,
}

impl DeadWorker {
    /// The worker in `dir`, when it left a mark and no results, and its mark is of the run
    /// `first` (a worker read) belongs to; `None` otherwise.
    pub(super) fn read(dir: &Path, first: &WorkerFile) -> Option<DeadWorker> {
        // A worker that wrote its results is not dead, even if they cannot be read.
        if dir.join(WORKER_FILE).exists() {
            return None;
        }
        let text = crate::input::read_text(&dir.join(MARK_FILE), crate::input::SUMMARY).ok()?;
        let mark: WorkerMark = serde_json::from_str(&text).ok()?;
        let ours = mark.schema == MARK_SCHEMA
            && mark.run_id == first.run_id
            && mark.count == first.count
            && mark.index < first.count
            && mark.start_at_unix_us == first.start_at_unix_us
            && mark.instances == first.instances;
        ours.then(|| DeadWorker {
            dir: dir.to_path_buf(),
            mark,
        })
    }

    /// The events of the plan this worker's producer instances owned.
    pub(super) fn planned(&self, scenario: &Scenario) -> u64 {
        let plan = Plan::new(&scenario.phases);
        let instances = u64::from(scenario.total_instances());
        let first = u64::from(self.mark.index) * u64::from(self.mark.instances);
        (first..first + u64::from(self.mark.instances))
            .map(|instance| plan.events_of_instance(instance, instances))
            .sum()
    }

    /// What it had done by its last mark.
    fn marked(&self) -> String {
        let so_far = &self.mark.so_far;
        format!(
            "by its last mark, {:.1} s into the plan, it had sent {}, {} acked and {} failed",
            self.mark.at_us as f64 / 1e6,
            thousands(so_far.sent),
            thousands(so_far.acked),
            thousands(so_far.failed)
        )
    }

    /// Its line in the worker table.
    pub(super) fn line(&self) -> String {
        let (index, dir) = (self.mark.index, self.dir.display());
        format!("worker {index} ({dir}): stopped mid-run; {}", self.marked())
    }

    /// Why the merged run cannot be judged whole.
    pub(super) fn reason(&self) -> String {
        let (index, dir) = (self.mark.index, self.dir.display());
        format!(
            "worker {index} ({dir}) stopped mid-run and wrote no results (killed, or its host or pod lost): {}; the rest of its share counts as not sent, and its events are not checked (its ledger was never written)",
            self.marked()
        )
    }
}
