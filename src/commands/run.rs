//! `surge run`: a scenario run end to end, judged, and written to its directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::connect::{Connected, connect, runtime, use_existing_partitions};
use crate::engine::{self, RunRecord, StopSignal, Target, summarize};
use crate::error::SurgeError;
use crate::run_dir::{default_out_dir, write_json, write_run};
use crate::scenario::{self, Overrides, Scenario};
use crate::summary::{Status, Summary};
use crate::workers::WorkerMark;
use crate::{baseline, kafka, live, progress, report, verdict, workers, workload};

use super::validate;

/// What `surge run` needs besides the scenario file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub scenario: PathBuf,
    pub overrides: Overrides,
    /// Output directory; `reports/<scenario>-<UTC timestamp>/` when `None`.
    pub out: Option<PathBuf>,
    pub quiet: bool,
    /// `--metrics-addr`: serve the live figures there in the Prometheus text format.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `--worker-index`, `--worker-count`, `--start-at`.
    pub workers: workers::WorkerFlags,
}

/// The result of a run that measured something.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: Status,
    pub out_dir: PathBuf,
    pub summary: Summary,
    /// Exports that could not be written (the others were).
    pub report_failures: Vec<(PathBuf, String)>,
}

fn new_run_id() -> [u8; workload::RUN_ID_LEN] {
    let value: u32 = rand::random();
    let mut id = [0u8; workload::RUN_ID_LEN];
    id.copy_from_slice(format!("{value:08x}").as_bytes());
    id
}

/// Runs a scenario end to end. `stop` lets a caller (Ctrl-C, a test) end it early.
pub fn run(options: &RunOptions, stop: Arc<StopSignal>) -> Result<RunOutcome, SurgeError> {
    let mut scenario = validate(&options.scenario, &options.overrides)?;
    workers::apply(&mut scenario, &options.workers, kafka::clock::unix_micros())?;
    scenario.check_commands_allowed()?;
    if let Some(warning) = scenario.embedded_soak_warning()
        && !options.quiet
    {
        eprintln!("warning: {warning}");
    }
    let out_dir = options
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&scenario));
    let live = start_live_view(options)?;
    run_scenario(&scenario, &out_dir, options.quiet, stop, live.as_ref())
}

/// Binds `--metrics-addr`, when given, before any load is sent, and says where it listens.
pub(super) fn start_live_view(options: &RunOptions) -> Result<Option<live::LiveView>, SurgeError> {
    let live = options
        .metrics_addr
        .map(live::LiveView::start)
        .transpose()?;
    if let Some(live) = &live
        && !options.quiet
    {
        eprintln!("live figures at http://{}/metrics", live.address());
    }
    Ok(live)
}

/// Runs a resolved scenario and writes its reports to `out_dir`, publishing its figures to the
/// live view while it runs, when there is one.
pub fn run_scenario(
    scenario: &Scenario,
    out_dir: &Path,
    quiet: bool,
    stop: Arc<StopSignal>,
    live: Option<&live::LiveView>,
) -> Result<RunOutcome, SurgeError> {
    // A bad baseline and a bad --out fail before any load is sent.
    let baseline = load_baseline(scenario)?;
    std::fs::create_dir_all(out_dir).map_err(|source| SurgeError::Output {
        path: out_dir.to_path_buf(),
        source,
    })?;
    runtime()?.block_on(run_async(
        scenario,
        out_dir,
        quiet,
        stop,
        baseline.as_ref(),
        live,
    ))
}

/// The baseline run's summary, when the scenario names one; it must be a run of this scenario.
fn load_baseline(scenario: &Scenario) -> Result<Option<Summary>, SurgeError> {
    let Some(dir) = &scenario.limits.baseline else {
        return Ok(None);
    };
    let summary = report::load_summary(dir).map_err(|error| SurgeError::RunDir {
        path: dir.clone(),
        detail: error.to_string(),
    })?;
    if summary.scenario.name != scenario.name {
        return Err(SurgeError::Usage {
            problem: format!(
                "the baseline {} is a run of scenario `{}`, not `{}`: its figures compare nothing",
                dir.display(),
                summary.scenario.name,
                scenario.name
            ),
            fix: format!(
                "pass --baseline (or set run.baseline to) a run directory of `{}`",
                scenario.name
            ),
        });
    }
    Ok(Some(summary))
}

async fn run_async(
    scenario: &Scenario,
    out_dir: &Path,
    quiet: bool,
    stop: Arc<StopSignal>,
    baseline: Option<&Summary>,
    live: Option<&live::LiveView>,
) -> Result<RunOutcome, SurgeError> {
    let (connected, scenario) = match prepare(scenario).await {
        Ok(prepared) => prepared,
        Err(error) => {
            write_not_started(scenario, out_dir, &error);
            return Err(error);
        }
    };
    let scenario = &scenario;
    let distributed = scenario.workers.is_distributed();
    let run_id = if distributed {
        workers::shared_run_id(scenario)
    } else {
        new_run_id()
    };
    // One worker of several measures its clock against the brokers', for `surge merge`.
    let clock = match (&connected.info, distributed) {
        (Some(info), true) => Some(
            kafka::clock::measure(
                &connected.servers,
                &scenario.cluster.producer,
                info,
                scenario.limits.connect_timeout,
            )
            .await
            .map_err(|e| e.to_string()),
        ),
        _ => None,
    };
    let run_tag = String::from_utf8_lossy(&run_id).into_owned();
    let marks = distributed.then(|| Marks::start(WorkerMark::new(scenario, &run_tag), out_dir));
    let record = measure(scenario, &connected, run_id, stop, quiet, live, marks).await?;
    let summary = judge(scenario, &record, &run_tag, &connected.target, baseline);
    if let Some(live) = live {
        live.finish(&summary);
    }
    let worker_file = record
        .share
        .clone()
        .map(|share| workers::worker_file(scenario, &record, &summary, &run_tag, clock, share));
    let run = report::RunData {
        summary,
        histograms: record.histograms,
    };
    let mut report_failures = write_run(out_dir, &run, &record.ledger.export(&run_tag));
    if let Some(file) = worker_file {
        write_json(
            &out_dir.join(workers::WORKER_FILE),
            &file,
            &mut report_failures,
        );
        if out_dir.join(workers::WORKER_FILE).exists() {
            WorkerMark::remove(out_dir);
        }
    }
    Ok(RunOutcome {
        status: run.summary.verdict.status,
        out_dir: out_dir.to_path_buf(),
        summary: run.summary,
        report_failures,
    })
}

/// The directory of a run that could not start: `summary.json` (status error, with the
/// reason) and the empty files a run writes, as every run directory has them.
fn write_not_started(scenario: &Scenario, out_dir: &Path, error: &SurgeError) {
    let reason = format!("the run could not start: {error}");
    let record = RunRecord::not_started(scenario, reason);
    let target = match &scenario.cluster.bootstrap {
        scenario::Bootstrap::Embedded { .. } => Target {
            kind: "embedded".into(),
            bootstrap: "embedded".into(),
            brokers: 0,
        },
        scenario::Bootstrap::Servers(servers) => Target {
            kind: "external".into(),
            bootstrap: servers.clone(),
            brokers: 0,
        },
    };
    let run_id = new_run_id();
    let summary = judge(
        scenario,
        &record,
        &String::from_utf8_lossy(&run_id),
        &target,
        None,
    );
    let run = report::RunData {
        summary,
        histograms: record.histograms,
    };
    for (path, failure) in write_run(out_dir, &run, &record.ledger.export("")) {
        eprintln!("warning: {}: {failure}", path.display());
    }
}

/// Connects, and on a real cluster creates the topics that are missing and takes the partition
/// counts of those that exist.
async fn prepare(scenario: &Scenario) -> Result<(Connected, Scenario), SurgeError> {
    let connected = connect(scenario).await?;
    let mut scenario = connected.scenario.clone();
    if let Some(info) = &connected.info {
        kafka::ensure_topics(
            &connected.servers,
            &scenario.cluster.producer,
            &scenario.topics,
            info,
            scenario.limits.connect_timeout,
        )
        .await?;
        use_existing_partitions(&mut scenario, info);
    }
    Ok((connected, scenario))
}

/// The engine's run, with the progress line and the live view following it, and interrupts
/// turned into stop requests while it lasts.
async fn measure(
    scenario: &Scenario,
    connected: &Connected,
    run_id: [u8; workload::RUN_ID_LEN],
    stop: Arc<StopSignal>,
    quiet: bool,
    live: Option<&live::LiveView>,
    mut marks: Option<Marks<'_>>,
) -> Result<RunRecord, SurgeError> {
    let interrupts = engine::watch_interrupts(stop.clone());
    let mut line = progress::ProgressLine::new(quiet);
    if let Some(live) = live {
        live.describe(&scenario.name, &String::from_utf8_lossy(&run_id));
    }
    let record = engine::run(
        scenario,
        &connected.servers,
        connected.embedded.as_ref(),
        run_id,
        stop,
        &mut |p| {
            line.update(p);
            if let Some(live) = live {
                live.update(p);
            }
            if let Some(marks) = &mut marks {
                marks.update(p);
            }
        },
    )
    .await;
    line.finish();
    interrupts.abort();
    Ok(record?)
}

/// A worker's marks, rewritten with every progress report (once a second) into its directory.
struct Marks<'a> {
    mark: WorkerMark,
    dir: &'a Path,
    warned: bool,
}

impl<'a> Marks<'a> {
    /// The first mark, written before the groups join.
    fn start(mark: WorkerMark, dir: &'a Path) -> Marks<'a> {
        let _ = std::fs::create_dir_all(dir);
        let mut marks = Marks {
            mark,
            dir,
            warned: false,
        };
        marks.write();
        marks
    }

    fn update(&mut self, progress: &engine::Progress) {
        if progress.stage != "joining" {
            self.mark.at_us = progress.elapsed.as_micros() as u64;
            self.mark.so_far = progress.so_far;
        }
        self.write();
    }

    fn write(&mut self) {
        if let Err(error) = self.mark.write(self.dir)
            && !std::mem::replace(&mut self.warned, true)
        {
            eprintln!(
                "warning: {}: {error}: `surge merge` cannot name this worker if it dies",
                self.dir.join(workers::MARK_FILE).display()
            );
        }
    }
}

/// The summary with its verdict: the SLOs, a worker's share, a fatal stop, and the baseline.
fn judge(
    scenario: &Scenario,
    record: &RunRecord,
    run_tag: &str,
    target: &Target,
    baseline: Option<&Summary>,
) -> Summary {
    let limits = &scenario.limits;
    let mut summary = summarize(scenario, record, run_tag, target);
    summary.verdict = verdict::judge(&summary, &scenario.slos, limits);
    if scenario.workers.is_distributed() {
        workers::judge_share(&mut summary, scenario);
    }
    if let Some(fatal) = &record.fatal {
        summary.verdict.status = Status::Error;
        summary.verdict.reasons.insert(0, fatal.clone());
    }
    if let (Some(before), Some(dir)) = (baseline, &limits.baseline) {
        baseline::apply(
            &mut summary,
            before,
            &dir.display().to_string(),
            limits.max_regression,
        );
    }
    summary
}
