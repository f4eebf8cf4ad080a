//! `surge merge`: the worker directories of one distributed run, added up into one run.
//!
//! Every figure is rebuilt from the workers' raw facts, never from their summaries'
//! percentiles: histograms are added, the checkers of each group are added key by key (an
//! event produced on one worker and consumed on another counts once), loss is judged against
//! every worker's ledger, and the timeline is added second by second from the shared start.
//! The merged record then goes through the same summary, verdict and reports as a run of one
//! process.

mod brokers;
mod catchup;
mod check;
mod dead;
mod failing;
mod group;
mod intervals;
mod judge;
mod order;
mod ownership;
mod read;
mod record;
mod timeline;

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::commands::RunOutcome;
use crate::engine::{RunRecord, summarize};
use crate::error::SurgeError;
use crate::report::RunData;
use crate::summary::Summary;

use read::{Worker, WorkerSet};

/// The skew allowed by default: a tenth of the merged e2e p50.
pub const DEFAULT_MAX_SKEW_FRACTION: f64 = 0.1;

/// Merges worker directories into `out`, judging the merged run; a worker missing or
/// incomplete makes it inconclusive, naming the worker.
pub fn merge(
    dirs: &[PathBuf],
    out: &Path,
    max_skew_fraction: f64,
) -> Result<RunOutcome, SurgeError> {
    let set = WorkerSet::read(dirs)?;
    let scenario = set.scenario()?;
    check::check_workers(&scenario, &set.workers)?;
    let (record, notes) = record::merged_record(&scenario, &set.workers, &set.dead);
    let mut summary = summarize(&scenario, &record, &set.run_id, &set.target());
    summary.notes.extend(notes);
    judge::judge(&mut summary, &scenario, &set, max_skew_fraction);
    write(out, summary, record, &set.run_id)
}

/// Writes the merged run into `out`, as a run of one process is written.
fn write(
    out: &Path,
    summary: Summary,
    record: RunRecord,
    run_id: &str,
) -> Result<RunOutcome, SurgeError> {
    std::fs::create_dir_all(out).map_err(|source| SurgeError::Output {
        path: out.to_path_buf(),
        source,
    })?;
    let run = RunData {
        summary,
        histograms: record.histograms,
    };
    let report_failures = crate::run_dir::write_run(out, &run, &record.ledger.export(run_id));
    Ok(RunOutcome {
        status: run.summary.verdict.status,
        out_dir: out.to_path_buf(),
        summary: run.summary,
        report_failures,
    })
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Every surge histogram has the same bounds; a value beyond them saturates.
    let _ = into.add(from);
}

/// Every worker's cumulative histogram of `tag`, added.
fn total(workers: &[Worker], tag: &str) -> Histogram<u64> {
    let mut sum = crate::metrics::new_histogram();
    for worker in workers {
        if let Some(h) = worker.run.histograms.total(tag) {
            add(&mut sum, h);
        }
    }
    sum
}

/// The sum of counts read from worker files, saturating: a crafted file must not overflow it.
fn saturating_sum(counts: impl IntoIterator<Item = u64>) -> u64 {
    counts.into_iter().fold(0, u64::saturating_add)
}

/// Elementwise maximum of per-topic, per-partition offsets.
fn max_offsets(into: &mut Vec<Vec<i64>>, from: &[Vec<i64>]) {
    if into.is_empty() {
        *into = from.to_vec();
        return;
    }
    for (mine, theirs) in into.iter_mut().zip(from) {
        for (m, t) in mine.iter_mut().zip(theirs) {
            *m = (*m).max(*t);
        }
    }
}
