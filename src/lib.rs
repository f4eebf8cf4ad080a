//! surge: open-loop load tests of Kafka-protocol clusters, judged against SLOs.
//!
//! Orchestration only: load the scenario, run the engine, judge, write the reports.

pub mod cli;
pub mod engine;
pub mod kafka;
pub mod metrics;
pub mod progress;
pub mod report;
pub mod scenario;
pub mod summary;
pub mod verdict;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::summarize::{Target, summarize};
use engine::{EngineError, StopSignal};
use kafka::{ConnectError, EmbeddedCluster};
use scenario::{Bootstrap, Overrides, Scenario, ScenarioError};
use summary::{Status, Summary};

/// Anything that stops a run before it could measure: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SurgeError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write to {path}: {source}\n  fix: choose a writable directory with --out")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot read the run in {path}: {detail}\n  fix: point at a directory written by `surge run` (it holds summary.json and *.hlog)"
    )]
    RunDir { path: PathBuf, detail: String },
    #[error("{0}")]
    Runtime(String),
}

/// What `surge run` needs besides the scenario file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub scenario: PathBuf,
    pub overrides: Overrides,
    /// Output directory; `reports/<scenario>-<UTC timestamp>/` when `None`.
    pub out: Option<PathBuf>,
    pub quiet: bool,
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

/// Loads and fully validates a scenario, as `surge validate` does.
pub fn validate(path: &Path, overrides: &Overrides) -> Result<Scenario, SurgeError> {
    let scenario = scenario::load(path, overrides)?;
    workload::validate(&scenario)?;
    Ok(scenario)
}

fn default_out_dir(scenario: &Scenario) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("reports").join(format!("{}-{stamp}", scenario.name))
}

fn new_run_id() -> [u8; workload::RUN_ID_LEN] {
    let value: u32 = rand::random();
    let mut id = [0u8; workload::RUN_ID_LEN];
    id.copy_from_slice(format!("{value:08x}").as_bytes());
    id
}

/// Re-renders every report of a saved run; returns the exports that failed.
pub fn regenerate(dir: &Path) -> Result<Vec<(PathBuf, String)>, SurgeError> {
    let run = report::load_run(dir).map_err(|detail| SurgeError::RunDir {
        path: dir.to_path_buf(),
        detail,
    })?;
    Ok(report::write_all(dir, &run))
}

/// Runs a scenario end to end. `stop` lets a caller (Ctrl-C, a test) end it early.
pub fn run(options: &RunOptions, stop: Arc<StopSignal>) -> Result<RunOutcome, SurgeError> {
    let scenario = validate(&options.scenario, &options.overrides)?;
    let out_dir = options
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&scenario));
    // Create the output first, so a bad --out fails before any load is sent.
    std::fs::create_dir_all(&out_dir).map_err(|source| SurgeError::Output {
        path: out_dir.clone(),
        source,
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SurgeError::Runtime(e.to_string()))?;
    runtime.block_on(run_async(&scenario, &out_dir, options.quiet, stop))
}

async fn run_async(
    scenario: &Scenario,
    out_dir: &Path,
    quiet: bool,
    stop: Arc<StopSignal>,
) -> Result<RunOutcome, SurgeError> {
    let limits = &scenario.limits;
    // The embedded cluster lives on this stack for the whole run.
    let mut embedded = None;
    let (servers, target) = match &scenario.cluster.bootstrap {
        Bootstrap::Embedded { brokers } => {
            let cluster = EmbeddedCluster::start(*brokers)?;
            for topic in &scenario.topics {
                cluster.create_topic(&topic.name, topic.partitions, topic.replication_factor)?;
            }
            let servers = cluster.bootstrap_servers();
            let target = Target {
                kind: "embedded".into(),
                bootstrap: "embedded".into(),
                brokers: cluster.brokers() as usize,
            };
            embedded = Some(cluster);
            (servers, target)
        }
        Bootstrap::Servers(servers) => {
            let info = kafka::probe(servers, &scenario.cluster.consumer, limits.connect_timeout)?;
            kafka::ensure_topics(
                servers,
                &scenario.cluster.producer,
                &scenario.topics,
                &info,
                limits.connect_timeout,
            )
            .await?;
            (
                servers.clone(),
                Target {
                    kind: "external".into(),
                    bootstrap: servers.clone(),
                    brokers: info.brokers.len(),
                },
            )
        }
    };

    let interrupt = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            interrupt.request();
        }
    });
    let run_id = new_run_id();
    let mut line = progress::ProgressLine::new(quiet);
    let record = engine::run(scenario, &servers, run_id, stop, &mut |p| line.update(p)).await;
    line.finish();
    ctrl_c.abort();
    drop(embedded);
    let record = record?;

    let mut summary = summarize(
        scenario,
        &record,
        &String::from_utf8_lossy(&run_id),
        &target,
    );
    summary.verdict = verdict::judge(&summary, &scenario.slos, limits);
    let run = report::RunData {
        summary,
        histograms: record.histograms,
    };
    let report_failures = report::write_all(out_dir, &run);
    Ok(RunOutcome {
        status: run.summary.verdict.status,
        out_dir: out_dir.to_path_buf(),
        summary: run.summary,
        report_failures,
    })
}
