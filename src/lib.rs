//! surge: open-loop load tests of Kafka-protocol clusters, judged against SLOs.
//!
//! Orchestration only: load the scenario, run the engine, judge, write the reports.

pub mod baseline;
pub mod capacity;
pub mod check;
pub mod cli;
pub mod engine;
pub mod format;
pub mod kafka;
pub mod live;
pub mod merge;
pub mod metrics;
pub mod progress;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod sizing;
pub mod summary;
pub mod verdict;
pub mod workers;
pub mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::{EngineError, StopSignal};
use engine::{Target, summarize};
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
    #[error(transparent)]
    Report(#[from] report::ReportError),
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

/// A scenario that only names a cluster: what `surge check` uses without a scenario file.
const CONNECTIVITY_ONLY: &str = "[[topics]]\nname = \"surge-check\"\npartitions = 1\n\
[[events]]\nname = \"Probe\"\ntopic = \"surge-check\"\n[[phases]]\nrate = 1\nduration = \"1s\"\n";

/// The preflight: connect and authenticate within bounds, list brokers and topics, and
/// compare the scenario's topics (when a scenario is given) with the cluster's.
pub fn check(path: Option<&Path>, overrides: &Overrides) -> Result<check::CheckReport, SurgeError> {
    let scenario = match path {
        Some(path) => validate(path, overrides)?,
        None => {
            let raw = toml::from_str(CONNECTIVITY_ONLY)
                .map_err(|e| SurgeError::Runtime(e.to_string()))?;
            let mut scenario =
                scenario::resolve(raw, Path::new("surge-check"), String::new(), overrides)?;
            scenario.topics.clear();
            scenario
        }
    };
    if scenario.cluster.bootstrap.is_embedded() {
        return Err(SurgeError::Scenario(ScenarioError {
            file: "command line".into(),
            key: "--bootstrap".into(),
            problem: "surge check probes a real cluster, and none was given".into(),
            fix: "pass --bootstrap host:port (or set KAFKA_BOOTSTRAP_SERVERS)".into(),
        }));
    }
    runtime()?.block_on(async {
        let connected = connect(&scenario).await?;
        let scenario = &connected.scenario;
        let info = connected.info.clone().expect("a real cluster was probed");
        let facts = kafka::describe_topics(
            &connected.servers,
            &scenario.cluster.producer,
            &info,
            &scenario.topics,
            scenario.limits.connect_timeout,
        )
        .await?;
        Ok(check::CheckReport {
            servers: connected.servers.clone(),
            auth: scenario.cluster.auth.name().into(),
            brokers: info.brokers.clone(),
            existing_topics: info.topics.len(),
            round_trip: info.round_trip,
            topics: check::compare(&scenario.topics, &facts),
        })
    })
}

/// Where `surge compare` writes without --out.
pub fn default_compare_dir() -> PathBuf {
    PathBuf::from("reports").join(format!(
        "compare-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ))
}

/// Puts two or more runs side by side; refuses runs of different scenarios unless `force`.
/// Returns the warnings it wrote into the comparison.
pub fn compare(
    dirs: &[PathBuf],
    out: &Path,
    force: bool,
    headroom: f64,
) -> Result<Vec<String>, SurgeError> {
    if dirs.len() < 2 {
        return Err(SurgeError::Runtime(
            "compare needs two or more run directories\n  fix: surge compare RUN_DIR RUN_DIR..."
                .into(),
        ));
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
                return Err(SurgeError::Runtime(format!(
                    "{message}: comparing different scenarios compares nothing\n  fix: compare runs of one scenario, or pass --force"
                )));
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
            report::compare::markdown(&runs, headroom, &warnings),
        ),
        (
            "compare.html",
            report::compare::html(&runs, headroom, &warnings),
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
        std::fs::write(&path, text).map_err(|source| SurgeError::Output { path, source })?;
    }
    Ok(warnings)
}

/// Re-renders every report of a saved run; returns the exports that failed.
pub fn regenerate(dir: &Path) -> Result<Vec<(PathBuf, String)>, SurgeError> {
    let run = report::load_run(dir).map_err(|error| SurgeError::RunDir {
        path: dir.to_path_buf(),
        detail: error.to_string(),
    })?;
    Ok(report::write_all(dir, &run))
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
fn start_live_view(options: &RunOptions) -> Result<Option<live::LiveView>, SurgeError> {
    let live = options
        .metrics_addr
        .map(live::LiveView::start)
        .transpose()
        .map_err(SurgeError::Runtime)?;
    if let Some(live) = &live
        && !options.quiet
    {
        eprintln!("live figures at http://{}/metrics", live.address());
    }
    Ok(live)
}

fn runtime() -> Result<tokio::runtime::Runtime, SurgeError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SurgeError::Runtime(e.to_string()))
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

/// Writes every report of a run and its `ledger.json`; returns the files that failed.
pub(crate) fn write_run(
    out_dir: &Path,
    run: &report::RunData,
    ledger: &metrics::LedgerFile,
) -> Vec<(PathBuf, String)> {
    let mut failures = report::write_all(out_dir, run);
    write_json(&out_dir.join("ledger.json"), ledger, &mut failures);
    failures
}

/// Writes `value` as JSON to `path`, noting a failure.
fn write_json(path: &Path, value: &impl serde::Serialize, failures: &mut Vec<(PathBuf, String)>) {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other);
    if let Err(error) = bytes.and_then(|bytes| std::fs::write(path, bytes)) {
        failures.push((path.to_path_buf(), error.to_string()));
    }
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
        return Err(SurgeError::Runtime(format!(
            "the baseline {} is a run of scenario `{}`, not `{}`: its figures compare nothing\n  fix: pass --baseline (or set run.baseline to) a run directory of `{}`",
            dir.display(),
            summary.scenario.name,
            scenario.name,
            scenario.name
        )));
    }
    Ok(Some(summary))
}

/// What `surge capacity` needs besides the scenario.
#[derive(Debug, Clone, Default)]
pub struct CapacityOptions {
    pub run: RunOptions,
    pub search: capacity::SearchOptions,
}

/// Searches the highest rate at which every SLO holds; writes each probe's reports under
/// `probes/` and the capacity result with the best probe's reports to the out dir.
pub fn capacity(
    options: &CapacityOptions,
    stop: Arc<StopSignal>,
) -> Result<RunOutcome, SurgeError> {
    let scenario = validate(&options.run.scenario, &options.run.overrides)?;
    // A steady condition (at 0s, never undone, such as an injected round trip) holds for every
    // probe; a timed fault would land at a different load in each.
    if let Some(i) = scenario
        .faults
        .iter()
        .position(|f| !f.at.is_zero() || f.duration.is_some())
    {
        return Err(SurgeError::Scenario(ScenarioError {
            file: scenario.source.display().to_string(),
            key: format!("faults[{i}]"),
            problem: "a capacity search replaces the plan with its own probes, so a timed fault would hit each probe at a different load".into(),
            fix: "keep only faults at \"0s\" without a duration (steady conditions) for surge capacity, or measure timed faults with surge run".into(),
        }));
    }
    let out_dir = options
        .run
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&scenario));
    let search_options = &options.search;
    let live = start_live_view(&options.run)?;
    let started = std::time::Instant::now();
    let start = search_options
        .start
        .unwrap_or_else(|| (capacity::target_peak(&scenario) / 10.0).round().max(1.0));
    let mut search = capacity::Search::new(start, search_options.precision, search_options.max);
    let mut probes = Vec::new();
    let mut best: Option<(f64, PathBuf)> = None;
    let mut last: Option<PathBuf> = None;
    while let Some(rate) = search.next_rate() {
        let mut probe = capacity::probe_scenario(&scenario, rate, search_options);
        // Probes are judged on their SLOs alone; a baseline compares whole runs.
        probe.limits.baseline = None;
        probe.limits.max_regression = None;
        if started.elapsed() + capacity::probe_cost(search_options, &probe) > search_options.budget
            || stop.is_requested()
        {
            break;
        }
        let dir = out_dir.join("probes").join(format!("{:09.0}", rate));
        if !options.run.quiet {
            eprintln!("capacity: probing {} events/s", format::format_number(rate));
        }
        let outcome = run_scenario(&probe, &dir, true, stop.clone(), live.as_ref())?;
        let summary = &outcome.summary;
        let mut reasons = summary.verdict.reasons.clone();
        reasons.extend(
            summary
                .verdict
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{}: {}", c.name, c.actual_text)),
        );
        probes.push(summary::Probe {
            offered_rate: rate,
            status: outcome.status,
            achieved_rate: summary.produced.achieved_rate,
            e2e_p95_us: summary.latency.e2e_us.p95,
            e2e_p99_us: summary.latency.e2e_us.p99,
            max_lag: summary.groups.iter().map(|g| g.max_lag).max().unwrap_or(0),
            reasons,
        });
        if outcome.status == Status::Pass && best.as_ref().is_none_or(|(r, _)| rate > *r) {
            best = Some((rate, dir.clone()));
        }
        last = Some(dir);
        search.record(rate, outcome.status);
    }
    probes.sort_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate));
    let result = capacity::conclude(
        &scenario,
        probes,
        &search,
        started.elapsed(),
        search_options.budget,
    );
    let shown = best.map(|(_, dir)| dir).or(last).ok_or_else(|| {
        SurgeError::Runtime(format!(
            "the budget of {}s does not fit one probe",
            search_options.budget.as_secs()
        ))
    })?;
    let mut run = report::load_run(&shown).map_err(|error| SurgeError::RunDir {
        path: shown.clone(),
        detail: error.to_string(),
    })?;
    run.summary.verdict.status = capacity::status(&result);
    run.summary.capacity = Some(result);
    let report_failures = report::write_all(&out_dir, &run);
    Ok(RunOutcome {
        status: run.summary.verdict.status,
        out_dir,
        summary: run.summary,
        report_failures,
    })
}

/// A cluster ready for load. The embedded cluster and the token refresher live as long as
/// this value does.
struct Connected {
    servers: String,
    /// The scenario with the auth mode's client properties merged in.
    scenario: Scenario,
    target: Target,
    info: Option<kafka::ClusterInfo>,
    embedded: Option<EmbeddedCluster>,
    refresher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Connected {
    fn drop(&mut self) {
        if let Some(task) = self.refresher.take() {
            task.abort();
        }
    }
}

/// Starts the embedded broker, or authenticates to and probes a real cluster, within bounds.
async fn connect(scenario: &Scenario) -> Result<Connected, SurgeError> {
    let limits = &scenario.limits;
    let servers = match &scenario.cluster.bootstrap {
        Bootstrap::Embedded { brokers } => {
            let cluster = EmbeddedCluster::start(*brokers)?;
            for topic in &scenario.topics {
                cluster.create_topic(&topic.name, topic.partitions, topic.replication_factor)?;
                // The mock picks each partition's leader at random, so a broker may lead none
                // of a topic's partitions in one run and half of them in the next. Kafka spreads
                // leaders evenly: so does surge, so that runs (and broker faults) repeat.
                for partition in 0..topic.partitions {
                    cluster
                        .move_leader(&topic.name, partition, partition % *brokers + 1)
                        .map_err(SurgeError::Runtime)?;
                }
            }
            let target = Target {
                kind: "embedded".into(),
                bootstrap: "embedded".into(),
                brokers: cluster.brokers() as usize,
            };
            return Ok(Connected {
                servers: cluster.bootstrap_servers(),
                scenario: scenario.clone(),
                target,
                info: None,
                embedded: Some(cluster),
                refresher: None,
            });
        }
        Bootstrap::Servers(servers) => servers.clone(),
    };
    let mut scenario = scenario.clone();
    let auth = kafka::auth::properties(&scenario.cluster.auth)?;
    // The mode's properties come first, so the scenario and -X can still override them; each
    // key is kept once, so what runs is what the reports list.
    for properties in [
        &mut scenario.cluster.producer,
        &mut scenario.cluster.consumer,
    ] {
        *properties = scenario::merge_properties(&[auth.clone(), std::mem::take(properties)]);
    }
    let mut refresher = None;
    if let scenario::Auth::Iam { region, .. } = &scenario.cluster.auth {
        let region = region
            .clone()
            .or_else(|| kafka::auth::infer_region(&servers))
            .ok_or_else(|| kafka::ConnectError::Credentials {
                detail: "cannot tell the AWS region of the MSK cluster".into(),
                fix: "set cluster.aws_region or AWS_REGION".into(),
            })?;
        kafka::auth::reset_iam_health();
        let lifetime = kafka::auth::refresh_iam_token(&region, limits.connect_timeout).await?;
        refresher = Some(engine::keep_iam_token_fresh(
            region,
            lifetime,
            limits.connect_timeout,
        ));
    }
    let info = kafka::probe(&servers, &scenario.cluster.consumer, limits.connect_timeout)?;
    let target = Target {
        kind: "external".into(),
        bootstrap: servers.clone(),
        brokers: info.brokers.len(),
    };
    Ok(Connected {
        servers,
        scenario,
        target,
        info: Some(info),
        embedded: None,
        refresher,
    })
}

/// An existing topic keeps its partition count, whatever the scenario says: keys spread over
/// the partitions it has, and the group join and the loss check must count those.
fn use_existing_partitions(scenario: &mut Scenario, info: &kafka::ClusterInfo) {
    for topic in &mut scenario.topics {
        if let Some(actual) = info.partitions(&topic.name)
            && actual != topic.partitions
        {
            scenario.notes.push(format!(
                "topic `{}` already has {actual} partitions on the cluster (the scenario says {}); the run used {actual}",
                topic.name, topic.partitions
            ));
            topic.partitions = actual;
        }
    }
}

async fn run_async(
    scenario: &Scenario,
    out_dir: &Path,
    quiet: bool,
    stop: Arc<StopSignal>,
    baseline: Option<&Summary>,
    live: Option<&live::LiveView>,
) -> Result<RunOutcome, SurgeError> {
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
    let scenario = &scenario;
    let limits = &scenario.limits;
    let (servers, target) = (&connected.servers, &connected.target);

    let interrupts = engine::watch_interrupts(stop.clone());
    let distributed = scenario.workers.is_distributed();
    let run_id = if distributed {
        workers::shared_run_id(scenario)
    } else {
        new_run_id()
    };
    let clock = match (&connected.info, distributed) {
        (Some(info), true) => Some(
            kafka::clock::measure(
                servers,
                &scenario.cluster.producer,
                info,
                limits.connect_timeout,
            )
            .await
            .map_err(|e| e.to_string()),
        ),
        _ => None,
    };
    let mut line = progress::ProgressLine::new(quiet);
    if let Some(live) = live {
        live.describe(&scenario.name, &String::from_utf8_lossy(&run_id));
    }
    let record = engine::run(
        scenario,
        servers,
        connected.embedded.as_ref(),
        run_id,
        stop,
        &mut |p| {
            line.update(p);
            if let Some(live) = live {
                live.update(p);
            }
        },
    )
    .await;
    line.finish();
    interrupts.abort();
    let record = record?;

    let run_tag = String::from_utf8_lossy(&run_id);
    let mut summary = summarize(scenario, &record, &run_tag, target);
    summary.verdict = verdict::judge(&summary, &scenario.slos, limits);
    if distributed {
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
    }
    Ok(RunOutcome {
        status: run.summary.verdict.status,
        out_dir: out_dir.to_path_buf(),
        summary: run.summary,
        report_failures,
    })
}
