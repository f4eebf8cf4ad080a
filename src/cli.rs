//! The command line: the only place that knows about flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use std::time::Duration;

use crate::scenario::units::{parse_duration, parse_percent, parse_scale};
use crate::scenario::{GroupSetting, Overrides, Slo};

/// Load-testing and throughput benchmarks for Apache Kafka and Amazon MSK, judged against SLOs.
///
/// Exit codes: 0 every SLO met; 1 an SLO failed; 2 the run could not run (bad input,
/// broker unreachable, auth); 3 inconclusive (the generator fell behind, or interrupted).
#[derive(Debug, Parser)]
#[command(name = "surge", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and judge it against its SLOs (or one worker's share of it).
    Run(RunCommandArgs),
    /// Merge the directories of a distributed run's workers into one run, judged as one.
    Merge(MergeArgs),
    /// Find the highest rate at which every SLO holds: step up, then bisect, within a budget.
    Capacity(CapacityArgs),
    /// Put two or more runs (or capacity searches) side by side.
    Compare(CompareArgs),
    /// Check a scenario file without running it.
    Validate(ScenarioArgs),
    /// Preflight: connect, authenticate, list brokers and topics, compare with a scenario.
    Check(CheckArgs),
    /// Measure a live cluster's traffic through a window (read-only) and write a scenario that
    /// replays it: topics, rates, event types, sizes, key spaces, consumer groups.
    Profile(ProfileArgs),
    /// Re-render every report of a run from its summary.json and *.hlog, without a broker.
    Report(ReportArgs),
    /// Recovery drill: one group of a scenario reads its topics from the earliest retained
    /// offset on an existing cluster; reports throughput and per-key order.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,

    /// The consumer group of the scenario whose topics to replay.
    #[arg(long, value_name = "NAME")]
    pub group: String,

    /// The most the reading may take; the report is partial (exit 3) past it.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Fail (exit 1) when fewer records per second than this were read.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub min_rate: Option<f64>,

    /// Output directory for replay.json [default: reports/<scenario>-replay-<group>-<UTC>/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl ReplayArgs {
    /// What `surge replay` needs from these flags.
    pub fn options(&self) -> crate::replay::ReplayOptions {
        crate::replay::ReplayOptions {
            scenario: self.scenario.scenario.clone(),
            overrides: self.scenario.overrides(),
            group: self.group.clone(),
            timeout: self.timeout,
            min_rate: self.min_rate,
            out: self.out.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// Total time the search may take, probes included.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub budget: Duration,

    /// First offered rate [default: a tenth of the scenario's peak].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub start: Option<f64>,

    /// Never offer more than this rate.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub max: Option<f64>,

    /// Stop when the bracket around the knee is narrower than this share of it.
    #[arg(long, value_name = "F", default_value = "0.1", value_parser = parse_scale)]
    pub precision: f64,

    /// Steady time of each probe.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    pub probe_duration: Duration,

    /// Broker types and their per-broker limits, instead of the built-in
    /// data/broker-types.toml: the labelled type's (--broker-type, --brokers) are held against
    /// the rate found.
    #[arg(long, value_name = "FILE")]
    pub broker_types: Option<PathBuf>,

    /// Warmup of each probe (discarded).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub probe_warmup: Duration,

    /// After the search, hold the rate found this long (e.g. 15m): a rate that falls off is
    /// a burst (MSK Standard brokers' credits), and lower rates are held until one holds (at
    /// most 4 holds, outside --budget).
    #[arg(long, value_name = "DURATION", value_parser = parse_sustain)]
    pub sustain: Option<Duration>,
}

impl RunArgs {
    /// What `surge run` needs from these flags.
    pub fn options(&self) -> crate::RunOptions {
        crate::RunOptions {
            scenario: self.scenario.scenario.clone(),
            overrides: self.scenario.overrides(),
            out: self.out.clone(),
            quiet: self.quiet,
            metrics_addr: self.metrics_addr,
            workers: crate::workers::WorkerFlags::default(),
        }
    }
}

/// `surge run`: a run's flags, and its part in a distributed run.
#[derive(Debug, Args)]
pub struct RunCommandArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// This worker's index in a distributed run, from 0 (Kubernetes Indexed Jobs set
    /// JOB_COMPLETION_INDEX).
    #[arg(long, env = "JOB_COMPLETION_INDEX", value_name = "I")]
    pub worker_index: Option<u16>,

    /// Worker processes in the run: each sends 1/N of the plan with keys of its own, and
    /// runs every N-th member of each group.
    #[arg(long, env = "SURGE_WORKER_COUNT", value_name = "N")]
    pub worker_count: Option<u16>,

    /// When the plan starts, on the wall clock (RFC 3339, e.g. 2026-11-27T09:00:00Z): every
    /// worker starts its share at the same moment.
    #[arg(long, env = "SURGE_START_AT", value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<u64>,
}

impl RunCommandArgs {
    /// What `surge run` needs from these flags.
    pub fn options(&self) -> crate::RunOptions {
        crate::RunOptions {
            workers: crate::workers::WorkerFlags {
                index: self.worker_index,
                count: self.worker_count,
                start_at_unix_us: self.start_at,
            },
            ..self.run.options()
        }
    }
}

/// An RFC 3339 time, as unix microseconds.
fn parse_start_at(text: &str) -> Result<u64, String> {
    let time = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        format!("`{text}` is not an RFC 3339 time ({e}), e.g. 2026-11-27T09:00:00Z")
    })?;
    u64::try_from(time.timestamp_micros())
        .map_err(|_| format!("`{text}` is before 1970: give the run's start"))
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Every worker's output directory (one per worker index).
    #[arg(required = true, value_name = "WORKER_DIR")]
    pub worker_dirs: Vec<PathBuf>,

    /// Output directory of the merged run.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// The clock skew between workers allowed, as a percentage of the merged e2e p50; more
    /// makes the run inconclusive.
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_percent)]
    pub max_skew: f64,
}

impl CapacityArgs {
    /// What `surge capacity` needs from these flags.
    pub fn options(&self) -> crate::CapacityOptions {
        crate::CapacityOptions {
            run: self.run.options(),
            search: crate::capacity::SearchOptions {
                start: self.start,
                max: self.max,
                precision: self.precision,
                probe_warmup: self.probe_warmup,
                probe_duration: self.probe_duration,
                budget: self.budget,
                sustain: self.sustain,
            },
            broker_types: self.broker_types.clone(),
        }
    }
}

/// A headroom fraction: finite, from 0 to 10 (1000%).
fn parse_headroom(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && (0.0..=10.0).contains(&value) => Ok(value),
        _ => Err(format!(
            "{} is not a headroom: a fraction from 0 to 10, e.g. 0.3 for 30%",
            shown_value(text)
        )),
    }
}

/// A sustain time: from 10 s (a fall-off needs seconds to show) to a day.
fn parse_sustain(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if (Duration::from_secs(10)..=Duration::from_secs(86_400)).contains(&duration) {
        Ok(duration)
    } else {
        Err(format!(
            "{} is not a sustain time: from 10s to 24h, e.g. 15m",
            shown_value(text)
        ))
    }
}

/// A monthly cost in US dollars: finite, at least 0.
fn parse_cost(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if (0.0..1e12).contains(&value) => Ok(value),
        _ => Err(format!(
            "{} is not a monthly cost: dollars, at least 0, e.g. 1450",
            shown_value(text)
        )),
    }
}

/// A rate flag, bounded as a phase's rate is.
fn parse_rate(text: &str) -> Result<f64, String> {
    let rate = text.parse::<crate::scenario::Rate>()?.0;
    if rate > crate::scenario::shapes::MAX_RATE {
        return Err(format!(
            "{rate} events/s is above the highest rate surge offers (10M/s): give at most 10M/s, and split larger loads across generator hosts"
        ));
    }
    Ok(rate)
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run directories written by `surge run` or `surge capacity`; the first is the baseline.
    #[arg(required = true, num_args = 2..)]
    pub run_dirs: Vec<PathBuf>,

    /// Output directory [default: reports/compare-<UTC timestamp>/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Compare runs of different scenarios anyway (with a warning).
    #[arg(long)]
    pub force: bool,

    /// Headroom the sizing estimate keeps above the peak, e.g. 0.3 for 30%.
    #[arg(long, value_name = "F", default_value = "0.3", value_parser = parse_headroom)]
    pub headroom: f64,

    /// Broker types and their per-broker limits, instead of the built-in
    /// data/broker-types.toml (the same format).
    #[arg(long, value_name = "FILE")]
    pub broker_types: Option<PathBuf>,

    /// The broker type of runs whose label names none, e.g. express.m7g.large.
    #[arg(long, value_name = "TYPE")]
    pub broker_type: Option<String>,

    /// The broker count of runs whose label names none (else the cluster's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub brokers: Option<u32>,
}

impl CompareArgs {
    /// What `surge compare` needs from these flags.
    pub fn options(&self) -> crate::CompareOptions {
        crate::CompareOptions {
            force: self.force,
            headroom: self.headroom,
            broker_types: self.broker_types.clone(),
            broker_type: self.broker_type.clone(),
            brokers: self.brokers,
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A scenario whose topics to compare (optional).
    pub scenario: Option<PathBuf>,

    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// How to reach and authenticate to a real cluster.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Bootstrap servers (host:port,...).
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS", value_name = "SERVERS")]
    pub bootstrap: Option<String>,

    /// A librdkafka property; prefix `producer.` or `consumer.` for one client.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_property)]
    pub property: Vec<(String, String)>,

    /// Authentication: none, tls, scram-sha-512 or iam.
    #[arg(long, value_name = "MODE", value_parser = ["none", "tls", "scram-sha-512", "iam"])]
    pub auth: Option<String>,

    /// The CA certificate (PEM) that signed the brokers' certificates (replaces cluster.ca_file).
    #[arg(long, env = "SURGE_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Run without checking the brokers' TLS certificates and host names. Required for
    /// properties that turn the checks off; every report then carries a warning.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
}

impl ClusterArgs {
    /// The overrides these flags make.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            bootstrap: self.bootstrap.clone(),
            properties: self.property.clone(),
            auth: self.auth.clone(),
            ca_file: self.ca_file.clone(),
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
            ..Overrides::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Profile only the topics this regular expression matches (internal `__` topics never).
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub topics: Option<regex::Regex>,

    /// How long to watch the traffic: rates come from the end offsets through it.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_window)]
    pub window: Duration,

    /// Records to read per topic for sizes, types and keys, at most (100 to 1,000,000).
    #[arg(long, value_name = "N", default_value = "20000", value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub sample: u64,

    /// The Black Friday factor: above 1, the scenario ramps from the observed rate to this many
    /// times it, holds the peak, and drains (1 to 100).
    #[arg(long, value_name = "F", default_value = "1", value_parser = parse_peak_factor)]
    pub scale: f64,

    /// The scenario file to write (its curve, when the window has one, goes beside it as
    /// NAME.rates.csv).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,

    /// The header that names each record's type.
    #[arg(long, value_name = "NAME", default_value = "__TypeId__")]
    pub type_header: String,

    /// Write stable placeholders instead of the record types' names.
    #[arg(long)]
    pub redact_types: bool,
}

impl ProfileArgs {
    /// The options these flags make.
    pub fn options(&self) -> crate::ProfileOptions {
        crate::ProfileOptions {
            overrides: self.cluster.overrides(),
            topics: self.topics.clone(),
            window: self.window,
            sample: self.sample,
            scale: self.scale,
            out: self.out.clone(),
            type_header: self.type_header.clone(),
            redact_types: self.redact_types,
            force: self.force,
        }
    }
}

fn parse_regex(text: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(text).map_err(|e| format!("not a regular expression: {e}"))
}

fn parse_window(text: &str) -> Result<Duration, String> {
    let window = parse_duration(text)?;
    if !(Duration::from_secs(2)..=Duration::from_secs(86_400)).contains(&window) {
        return Err("a window from 2s to 24h, e.g. 60s or 15m".into());
    }
    Ok(window)
}

fn parse_peak_factor(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && (1.0..=100.0).contains(&value) => Ok(value),
        _ => Err(format!(
            "`{}` is not a peak factor: a number from 1 to 100, e.g. 3",
            crate::input::quote(text, 40)
        )),
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run's output directory.
    pub run_dir: PathBuf,
}

/// A scenario file and what the command line changes in it.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,

    /// Bootstrap servers (host:port,...); without them the embedded broker is used.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS", value_name = "SERVERS")]
    pub bootstrap: Option<String>,

    /// A librdkafka property for both clients; prefix `producer.` or `consumer.` for one.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_property)]
    pub property: Vec<(String, String)>,

    /// Adds an SLO, or replaces the scenario's SLO on the same metric: 'e2e.p95 < 50ms'.
    #[arg(long = "slo", value_name = "EXPR", value_parser = parse_slo)]
    pub slo: Vec<Slo>,

    /// Replaces a consumer group's protocol or assignor, to run one scenario both ways:
    /// group.NAME.protocol=consumer, group.NAME.assignor=cooperative-sticky.
    #[arg(long = "set", value_name = "group.NAME.KEY=VALUE", value_parser = GroupSetting::parse)]
    pub set: Vec<GroupSetting>,

    /// Authentication: none, tls, scram-sha-512 or iam (replaces cluster.auth).
    #[arg(long, value_name = "MODE", value_parser = ["none", "tls", "scram-sha-512", "iam"])]
    pub auth: Option<String>,

    /// The CA certificate (PEM) that signed the brokers' certificates (replaces cluster.ca_file).
    #[arg(long, env = "SURGE_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Names the cluster option this run measures, e.g. 'm5.xlarge x3' (replaces [label]).
    #[arg(long, value_name = "NAME")]
    pub label: Option<String>,

    /// The labelled cluster's broker count.
    #[arg(long, value_name = "N")]
    pub brokers: Option<u32>,

    /// The labelled cluster's broker instance type, e.g. kafka.m5.xlarge or
    /// express.m7g.large; `surge capacity` holds the rate found against its published limits.
    #[arg(long, visible_alias = "broker-type", value_name = "TYPE")]
    pub instance_type: Option<String>,

    /// The labelled cluster's monthly cost in USD.
    #[arg(long, value_name = "USD", value_parser = parse_cost)]
    pub monthly_cost: Option<f64>,

    /// Multiplies every rate of the plan, e.g. 0.1 for a CI-sized copy.
    #[arg(long, value_name = "F", value_parser = parse_scale)]
    pub rate_scale: Option<f64>,

    /// Multiplies every phase duration, e.g. 0.2.
    #[arg(long, value_name = "F", value_parser = parse_scale)]
    pub duration_scale: Option<f64>,

    /// Run without checking the brokers' TLS certificates and host names. Required for
    /// properties that turn the checks off; every report then carries a warning.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,

    /// Lets `command` faults run their shell commands. A scenario is data and may come from
    /// someone else: without this flag, a scenario with commands is refused (and they are listed).
    #[arg(long)]
    pub allow_commands: bool,

    /// An earlier run of this scenario to compare with: every report shows each SLO metric's
    /// change against it (replaces run.baseline).
    #[arg(long, value_name = "RUN_DIR")]
    pub baseline: Option<PathBuf>,

    /// With --baseline: fail when e2e or publish p95/p99 worsens by more than this, e.g. 10%,
    /// even while under the SLO (replaces run.max_regression).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub max_regression: Option<f64>,
}

impl ScenarioArgs {
    /// The overrides these flags make.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            bootstrap: self.bootstrap.clone(),
            properties: self.property.clone(),
            slos: self.slo.clone(),
            auth: self.auth.clone(),
            ca_file: self.ca_file.clone(),
            label: crate::summary::Label {
                name: self.label.clone().unwrap_or_default(),
                brokers: self.brokers,
                instance_type: self.instance_type.clone(),
                monthly_cost_usd: self.monthly_cost,
            },
            rate_scale: self.rate_scale,
            duration_scale: self.duration_scale,
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
            allow_commands: self.allow_commands,
            baseline: self.baseline.clone(),
            max_regression: self.max_regression,
            group_settings: self.set.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,

    /// Output directory [default: reports/<scenario>-<UTC timestamp>/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// No live progress line.
    #[arg(long, short)]
    pub quiet: bool,

    /// Serve the live figures (rates, lag, latency percentiles, failed, duplicates) in the
    /// Prometheus text format at http://ADDR/metrics while the run runs, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "{} is not KEY=VALUE, e.g. -X linger.ms=5",
            shown_value(text)
        )),
    }
}

/// How an error shows a value given on the command line: quoted, at most 100 characters,
/// and not at all when it may hold a secret (`-X "sasl.password hunter2"` has no `=`, so no
/// key to tell a secret by: any secret property's name in it keeps it out).
fn shown_value(text: &str) -> String {
    if crate::scenario::is_secret_property(text) {
        "the argument (not shown: it names a secret property)".into()
    } else {
        format!("`{}`", crate::input::quote(text, 100))
    }
}

/// The command line, parsed; a usage error exits 2 with clap's message, except that a value
/// that may hold a secret, or a long one, is not echoed back.
pub fn parse() -> Cli {
    use clap::error::{ContextKind, ContextValue};
    let error = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(error) => error,
    };
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => value.clone(),
        _ => error.exit(),
    };
    if !crate::scenario::is_secret_property(&value) && value.chars().count() <= 100 {
        error.exit();
    }
    let arg = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.clone(),
        _ => "an argument".into(),
    };
    let why = std::error::Error::source(&error)
        .map(|source| format!(": {}", crate::input::quote(&source.to_string(), 300)))
        .unwrap_or_default();
    eprintln!(
        "error: invalid value {} for '{arg}'{why}",
        shown_value(&value)
    );
    std::process::exit(2)
}

fn parse_slo(text: &str) -> Result<Slo, String> {
    text.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_into_typed_overrides() {
        let cli = Cli::try_parse_from([
            "surge",
            "run",
            "s.toml",
            "-X",
            "producer.linger.ms=5",
            "--slo",
            "e2e.p95 < 50ms",
            "--rate-scale",
            "0.1",
            "--bootstrap",
            "127.0.0.1:9092",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("expected run")
        };
        let overrides = run.run.scenario.overrides();
        assert_eq!(
            overrides.properties,
            vec![("producer.linger.ms".to_string(), "5".to_string())]
        );
        assert_eq!(overrides.slos[0].to_string(), "e2e.p95 < 50ms");
        assert_eq!(overrides.rate_scale, Some(0.1));
        assert_eq!(overrides.bootstrap.as_deref(), Some("127.0.0.1:9092"));
    }

    #[test]
    fn bad_flags_are_rejected_with_the_fix() {
        let error = Cli::try_parse_from(["surge", "run", "s.toml", "--slo", "e2e.p95 < fast"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs a unit"), "{error}");
        let error = Cli::try_parse_from(["surge", "run", "s.toml", "--rate-scale=0"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("from 0.000001 to 1000000"), "{error}");
        let error = Cli::try_parse_from(["surge", "run", "s.toml", "-X", "novalue"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("KEY=VALUE"), "{error}");
    }
}
