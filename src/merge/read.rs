//! The worker directories of one run, read and checked to belong together.

use std::path::{Path, PathBuf};

use crate::engine::Target;
use crate::error::SurgeError;
use crate::metrics::{LedgerFile, SentLedger};
use crate::report::{self, RunData};
use crate::scenario::Scenario;
use crate::workers::{WORKER_FILE, WORKER_SCHEMA, WorkerFile};

use super::dead::DeadWorker;

/// One worker directory, read.
pub(super) struct Worker {
    pub(super) dir: PathBuf,
    pub(super) file: WorkerFile,
    pub(super) run: RunData,
    pub(super) ledger: SentLedger,
}

/// The most workers a run has: each is a generator host or pod.
const MAX_WORKERS: u16 = 1024;

/// A directory given that could not be read as a worker's, and why.
struct Unreadable {
    dir: PathBuf,
    detail: String,
}

/// The workers of one run: at least one, sorted by index, each given once.
pub(super) struct WorkerSet {
    pub(super) workers: Vec<Worker>,
    pub(super) run_id: String,
    pub(super) count: u16,
    /// Workers that died mid-run, by the last mark each left.
    pub(super) dead: Vec<DeadWorker>,
    /// One line per worker of the run that was not given or could not be read.
    pub(super) missing: Vec<String>,
}

impl WorkerSet {
    /// Reads `dirs`, refusing a run of one process, workers of different runs and a worker
    /// given twice; directories that cannot be read are kept as missing workers.
    pub(super) fn read(dirs: &[PathBuf]) -> Result<WorkerSet, SurgeError> {
        let mut workers: Vec<Worker> = Vec::new();
        let mut unreadable: Vec<Unreadable> = Vec::new();
        for dir in dirs {
            refuse_one_process_run(dir)?;
            match read_worker(dir) {
                Ok(worker) => workers.push(worker),
                Err(Unread::Missing(detail)) => unreadable.push(Unreadable {
                    dir: dir.clone(),
                    detail,
                }),
                Err(Unread::Invalid(detail)) => return Err(bad_dirs(dir, detail)),
            }
        }
        workers.sort_by_key(|w| w.file.index);
        let Some(first) = workers.first() else {
            return Err(nothing_readable(&unreadable));
        };
        let (run_id, count) = (first.file.run_id.clone(), first.file.count);
        check_one_run(&workers)?;
        let dead = dead_workers(&workers, &mut unreadable);
        let missing = missing(&workers, &dead, count, &unreadable);
        Ok(WorkerSet {
            workers,
            run_id,
            count,
            dead,
            missing,
        })
    }

    /// The worker of the lowest index given.
    fn first(&self) -> &Worker {
        &self.workers[0]
    }

    /// The scenario of the whole run: the first worker's, with every worker's instances.
    pub(super) fn scenario(&self) -> Result<Scenario, SurgeError> {
        let first = self.first();
        let Some(instances) = first.file.instances.checked_mul(self.count) else {
            return Err(bad_dirs(
                &first.dir,
                format!(
                    "{} producer instances on each of {} workers is more than a run holds ({})",
                    first.file.instances,
                    self.count,
                    u16::MAX
                ),
            ));
        };
        first.file.inputs.resolve(instances).map_err(|detail| {
            bad_dirs(
                &first.dir,
                format!("its scenario does not resolve: {detail}"),
            )
        })
    }

    /// The cluster the run measured, as the first worker saw it.
    pub(super) fn target(&self) -> Target {
        let cluster = &self.first().run.summary.cluster;
        Target {
            kind: cluster.kind.clone(),
            bootstrap: cluster.bootstrap.clone(),
            brokers: cluster.brokers,
        }
    }
}

/// Why a directory is not read as a worker's: its files are missing or damaged (the worker
/// counts as missing: the run is inconclusive), or they contradict each other (exit 2).
enum Unread {
    Missing(String),
    Invalid(String),
}

impl From<String> for Unread {
    fn from(detail: String) -> Unread {
        Unread::Missing(detail)
    }
}

fn read_worker(dir: &Path) -> Result<Worker, Unread> {
    let path = dir.join(WORKER_FILE);
    let text = crate::input::read_text(&path, crate::input::SUMMARY).map_err(|e| {
        format!("{e}: the worker did not finish, or this is not a worker's directory")
    })?;
    let file: WorkerFile = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a worker file: {e}", path.display()))?;
    if file.schema != WORKER_SCHEMA {
        return Err(Unread::Missing(format!(
            "{} has schema {}, not {WORKER_SCHEMA}",
            path.display(),
            crate::input::quote(&file.schema, 60)
        )));
    }
    if file.count == 0 || file.count > MAX_WORKERS || file.index >= file.count {
        return Err(Unread::Invalid(format!(
            "{}: `index` {} and `count` {} do not name a worker (the index is below the count, which is from 1 to {MAX_WORKERS})",
            path.display(),
            file.index,
            file.count
        )));
    }
    let run = report::load_run(dir).map_err(|e| e.to_string())?;
    if run.summary.run_id != file.run_id {
        return Err(Unread::Invalid(format!(
            "{}: `run_id` {} is not the run {} its summary.json names: the directory mixes two runs' files",
            path.display(),
            crate::input::quote(&file.run_id, 60),
            crate::input::quote(&run.summary.run_id, 60)
        )));
    }
    let ledger_path = dir.join("ledger.json");
    let ledger: LedgerFile = crate::input::read_text(&ledger_path, crate::input::LEDGER)
        .map_err(|e| e.to_string())
        .and_then(|text| {
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", ledger_path.display()))
        })?;
    if ledger.schema != crate::metrics::checker::LEDGER_SCHEMA {
        return Err(Unread::Invalid(format!(
            "{}: `schema` is {}, not {}",
            ledger_path.display(),
            crate::input::quote(&ledger.schema, 60),
            crate::metrics::checker::LEDGER_SCHEMA
        )));
    }
    if ledger.run_id != file.run_id {
        return Err(Unread::Invalid(format!(
            "{}: `run_id` {} is not the run {} its worker.json names: the directory mixes two runs' files",
            ledger_path.display(),
            crate::input::quote(&ledger.run_id, 60),
            crate::input::quote(&file.run_id, 60)
        )));
    }
    let mut ledger = SentLedger::import(&ledger)
        .map_err(|e| Unread::Invalid(format!("{}: {e}", ledger_path.display())))?;
    ledger
        .import_marks(&file.fault_marks)
        .map_err(|e| Unread::Invalid(format!("{}: {e}", path.display())))?;
    Ok(Worker {
        dir: dir.to_path_buf(),
        file,
        run,
        ledger,
    })
}

/// A directory with a summary but no worker file is a run of one process: say so, rather
/// than count it as a worker whose file cannot be read.
fn refuse_one_process_run(dir: &Path) -> Result<(), SurgeError> {
    if !dir.join(WORKER_FILE).exists() && dir.join("summary.json").exists() {
        return Err(bad_dirs(
            dir,
            format!(
                "it is a run of one process (no {WORKER_FILE}): merge only the directories `surge run --worker-count N` wrote"
            ),
        ));
    }
    Ok(())
}

/// The error when no directory could be read: the first one's reason.
fn nothing_readable(unreadable: &[Unreadable]) -> SurgeError {
    match unreadable.first() {
        Some(first) => bad_dirs(&first.dir, first.detail.clone()),
        None => bad_dirs(Path::new("."), "no worker directory given".into()),
    }
}

/// Every worker is of the first one's run, and no two directories are of the same worker.
fn check_one_run(workers: &[Worker]) -> Result<(), SurgeError> {
    let first = &workers[0].file;
    let (run_id, count, start) = (&first.run_id, first.count, first.start_at_unix_us);
    for worker in workers {
        let file = &worker.file;
        if file.run_id != *run_id || file.count != count || file.start_at_unix_us != start {
            return Err(bad_dirs(
                &worker.dir,
                format!(
                    "it is worker {} of {} of run {} starting at {}, not of run {run_id} ({count} workers, starting at {start}): merge the directories of one run",
                    file.index, file.count, file.run_id, file.start_at_unix_us
                ),
            ));
        }
        // The same directory given twice is a twin too.
        if let Some(twin) = workers
            .iter()
            .find(|w| w.file.index == file.index && !std::ptr::eq(*w, worker))
        {
            return Err(bad_dirs(
                &worker.dir,
                format!(
                    "it is worker {}, and so is {}: give each worker's directory once",
                    file.index,
                    twin.dir.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The directories that could not be read as workers' but hold a mark of this run, taken
/// out of `unreadable`: one per worker not read otherwise.
fn dead_workers(workers: &[Worker], unreadable: &mut Vec<Unreadable>) -> Vec<DeadWorker> {
    let first = &workers[0].file;
    let mut dead: Vec<DeadWorker> = Vec::new();
    unreadable.retain(|u| {
        let found = DeadWorker::read(&u.dir, first).filter(|d| {
            let index = d.mark.index;
            !workers.iter().any(|w| w.file.index == index)
                && !dead.iter().any(|o| o.mark.index == index)
        });
        let keep = found.is_none();
        dead.extend(found);
        keep
    });
    dead.sort_by_key(|d| d.mark.index);
    dead
}

/// The workers of the run not given, then the directories that could not be read.
fn missing(
    workers: &[Worker],
    dead: &[DeadWorker],
    count: u16,
    unreadable: &[Unreadable],
) -> Vec<String> {
    let mut missing: Vec<String> = (0..count)
        .filter(|i| !workers.iter().any(|w| w.file.index == *i))
        .filter(|i| !dead.iter().any(|d| d.mark.index == *i))
        .map(|i| format!("worker {i}: no directory of it was given"))
        .collect();
    missing.extend(
        unreadable
            .iter()
            .map(|Unreadable { dir, detail }| format!("{}: {detail}", dir.display())),
    );
    missing
}

fn bad_dirs(path: &Path, detail: String) -> SurgeError {
    SurgeError::RunDir {
        path: path.to_path_buf(),
        detail,
    }
}
