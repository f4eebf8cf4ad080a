//! The scenario file: a strict raw mirror (`raw`), then a resolved, validated [`Scenario`].
//!
//! Traffic (topics, events, phases, groups, SLOs) lives beside the cluster profile
//! (`[cluster]`: bootstrap and client properties), so one workload runs against any cluster.

pub mod faults;
mod label;
pub mod phase_rows;
mod protocol;
pub mod raw;
mod resolve;
pub mod shapes;
pub mod slo;
pub mod units;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use faults::{Brokers, FaultKind, FaultSpec};
pub use label::{Label, PlanSettings};
pub use protocol::{CLASSIC_ONLY_PROPERTIES, GroupProtocol, ProtocolKeys};
pub use resolve::{
    GroupField, GroupSetting, INSECURE_TLS_WARNING, MAX_CLIENT_BUFFER_KIB, MAX_EVENT_SIZE,
    MAX_GROUPS, MAX_KEY_STATE_BYTES, MAX_KEY_STATES, Overrides, is_secret_property,
    merge as merge_properties, property, resolve,
};
pub use slo::{
    BrokerFigure, Comparison, Count, FailureFigure, FaultFigure, Metric, RebalanceFigure,
    RecoveryLimits, Slo, Stat,
};
pub use units::{Rate, Size};

/// How often each client reports librdkafka's statistics for the per-broker view, in ms: the
/// view's one-second grain. A scenario that sets another interval cannot judge the brokers.
pub const STATISTICS_INTERVAL_MS: &str = "1000";

/// A scenario problem a user can fix: the file, the key, what is wrong, and the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    /// The scenario file, or `command line` for flags.
    pub file: String,
    /// The key path, such as `events[2].topic`.
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for ScenarioError {
    /// Every part is shown short: a problem quoting a megabyte value shows its first
    /// characters and its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::input::quote;
        let problem: Vec<String> = self.problem.lines().map(|l| quote(l, 300)).collect();
        let problem = problem.join("\n");
        let file = quote(&self.file, 300);
        if self.key.is_empty() {
            write!(f, "{file}: {problem}")?;
        } else {
            write!(f, "{file}: `{}`: {problem}", quote(&self.key, 200))?;
        }
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// Where the cluster is.
#[derive(Debug, Clone, PartialEq)]
pub enum Bootstrap {
    /// librdkafka's in-process mock cluster with this many brokers.
    Embedded { brokers: i32 },
    /// A real cluster, as a `host:port,...` list.
    Servers(String),
}

impl Bootstrap {
    /// Whether the run uses the in-process mock cluster.
    pub fn is_embedded(&self) -> bool {
        matches!(self, Bootstrap::Embedded { .. })
    }
}

/// Where a secret comes from; its value is never written in a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    /// An environment variable's name.
    Env(String),
    /// A file whose content (trimmed) is the secret.
    File(std::path::PathBuf),
}

/// How clients authenticate.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// Plaintext, no authentication (MSK port 9092).
    None,
    /// TLS (MSK port 9094); the CA file is optional, system roots otherwise.
    Tls { ca_file: Option<std::path::PathBuf> },
    /// SASL/SCRAM-SHA-512 over TLS (MSK port 9096).
    Scram {
        ca_file: Option<std::path::PathBuf>,
        username: SecretSource,
        password: SecretSource,
    },
    /// MSK IAM: SASL/OAUTHBEARER with a SigV4-signed token (MSK port 9098).
    Iam {
        ca_file: Option<std::path::PathBuf>,
        region: Option<String>,
    },
}

impl Auth {
    /// The mode's name as written in a scenario.
    pub fn name(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Tls { .. } => "tls",
            Auth::Scram { .. } => "scram-sha-512",
            Auth::Iam { .. } => "iam",
        }
    }

    /// The SASL mechanism the mode uses; `None` for modes without SASL.
    pub fn mechanism(&self) -> Option<&'static str> {
        match self {
            Auth::None | Auth::Tls { .. } => None,
            Auth::Scram { .. } => Some("SCRAM-SHA-512"),
            Auth::Iam { .. } => Some("OAUTHBEARER"),
        }
    }

    /// The `security.protocol` the mode speaks (as librdkafka spells it); `None` leaves it
    /// to the client properties.
    pub fn protocol(&self) -> Option<&'static str> {
        match self {
            Auth::None => None,
            Auth::Tls { .. } => Some("ssl"),
            Auth::Scram { .. } | Auth::Iam { .. } => Some("sasl_ssl"),
        }
    }
}

/// The cluster profile: where, and with which client properties.
#[derive(Debug, Clone)]
pub struct ClusterProfile {
    pub bootstrap: Bootstrap,
    pub auth: Auth,
    /// librdkafka producer properties, defaults already merged, in order of precedence.
    pub producer: Vec<(String, String)>,
    /// librdkafka consumer properties, defaults already merged.
    pub consumer: Vec<(String, String)>,
    /// The consumer properties the scenario or the flags set, each with how an error names
    /// it (`cluster.consumer."key"` or `-X key`).
    pub consumer_set: Vec<(String, String)>,
    /// TLS certificate and host name verification were turned off (--insecure-skip-tls-verify).
    pub insecure_tls: bool,
    /// The client properties set a security protocol other than the auth mode's, which
    /// --insecure-skip-tls-verify allowed: the warning every report carries.
    pub protocol_override: Option<String>,
    /// The producer runs without idempotence: the warning every report carries (its retries
    /// can reorder a key by themselves).
    pub producer_reorders: Option<String>,
}

/// A topic surge creates if it is missing.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub config: Vec<(String, String)>,
}

/// How aggregate ids are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyDistribution {
    Uniform,
    Zipf { exponent: f64 },
}

/// A key space: events that share an aggregate share its keys and its sequence numbers.
#[derive(Debug, Clone)]
pub struct AggregateSpec {
    pub name: String,
    /// Index into [`Scenario::topics`].
    pub topic: usize,
    pub keys: u64,
    pub distribution: KeyDistribution,
}

/// One domain event type in the mix.
#[derive(Debug, Clone)]
pub struct EventSpec {
    pub name: String,
    /// Index into [`Scenario::aggregates`].
    pub aggregate: usize,
    pub weight: f64,
    pub size_min: u64,
    pub size_max: u64,
    /// Sizes at evenly spaced quantiles (smallest first), drawn between neighbours linearly;
    /// empty when the size is one size or a uniform range.
    pub size_quantiles: Vec<u64>,
}

impl EventSpec {
    /// The mean event size the size settings draw.
    pub fn mean_size(&self) -> f64 {
        match self.size_quantiles.as_slice() {
            [] | [_] => (self.size_min + self.size_max) as f64 / 2.0,
            table => {
                let sum: f64 = table.windows(2).map(|w| (w[0] + w[1]) as f64 / 2.0).sum();
                sum / (table.len() - 1) as f64
            }
        }
    }
}

/// How the target rate moves within a phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A fixed rate.
    Constant(Rate),
    /// Linear from one rate to another over the phase.
    Ramp { from: Rate, to: Rate },
}

impl Shape {
    /// Multiplies every rate of the shape.
    pub fn scaled(self, factor: f64) -> Shape {
        match self {
            Shape::Constant(rate) => Shape::Constant(Rate(rate.0 * factor)),
            Shape::Ramp { from, to } => Shape::Ramp {
                from: Rate(from.0 * factor),
                to: Rate(to.0 * factor),
            },
        }
    }

    /// The highest rate the phase reaches.
    pub fn peak_rate(self) -> f64 {
        match self {
            Shape::Constant(rate) => rate.0,
            Shape::Ramp { from, to } => from.0.max(to.0),
        }
    }

    /// The mean rate over the phase.
    pub fn mean_rate(self) -> f64 {
        match self {
            Shape::Constant(rate) => rate.0,
            Shape::Ramp { from, to } => (from.0 + to.0) / 2.0,
        }
    }
}

/// One step of the load plan, walked in order by the pacer.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub shape: Shape,
    pub duration: Duration,
    /// Measurements of events intended in a warmup phase are discarded.
    pub warmup: bool,
}

/// The phase recovery is measured after: the highest-rate measured phase, when a phase of a
/// lower rate follows it. `None`: the plan has no recovery to measure.
pub fn recovery_peak(phases: &[Phase]) -> Option<usize> {
    let (index, peak) = phases
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.warmup)
        .max_by(|a, b| a.1.shape.peak_rate().total_cmp(&b.1.shape.peak_rate()))?;
    let next = phases.get(index + 1)?;
    (next.shape.peak_rate() < peak.shape.peak_rate()).then_some(index)
}

/// A consumer group surge runs.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub name: String,
    /// Indices into [`Scenario::topics`].
    pub topics: Vec<usize>,
    pub members: u16,
    pub processing_time: Duration,
    pub commit_interval: Duration,
    /// Where a new group starts reading.
    pub start: GroupStart,
    /// When its members join: with the run (`None`), or later, to replay.
    pub starts_after: Option<StartsAfter>,
    /// Simulated processing failures, retries and the dead-letter topic.
    pub failures: Option<FailureSpec>,
    /// The group protocol its members speak, and their assignor.
    pub protocol: GroupProtocol,
    /// Where each was set, as an error names it (`consumer_groups[0].protocol`, or
    /// `--set group.NAME.protocol`).
    pub protocol_keys: ProtocolKeys,
}

/// The members group `group` may have over a run: its own, and every one a fault adds.
pub(crate) fn members_at_most(groups: &[GroupSpec], faults: &[FaultSpec], group: usize) -> u64 {
    let added: u64 = faults
        .iter()
        .map(|f| match &f.kind {
            FaultKind::MemberJoin { group: g, .. } if *g == group => 1,
            FaultKind::ScaleGroup {
                group: g, from, to, ..
            } if *g == group => u64::from(to.saturating_sub(*from)),
            _ => 0,
        })
        .sum();
    u64::from(groups[group].members) + added
}

/// When a late group joins the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartsAfter {
    /// Once every producer has finished (and flushed).
    Produce,
    /// At this offset from the plan's start.
    At(Duration),
}

/// How a group's processing fails, the way Spring's `DefaultErrorHandler` handles it: a
/// failing record is retried in place (blocking its member) after each backoff, then
/// published to the dead-letter topic, and the group commits past it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureSpec {
    /// Share of events whose processing fails on every attempt (retried, then dead-lettered).
    pub rate: f64,
    /// Share of events that fail with a non-retryable error: dead-lettered at once.
    pub non_retryable_rate: f64,
    /// The first N keys of every aggregate type the group reads fail on every event.
    pub poison_keys: u32,
    /// The wait before each retry; its length is the number of retries.
    pub retry_backoff: Vec<Duration>,
    /// Index into [`Scenario::topics`] of the dead-letter topic.
    pub dlt_topic: usize,
}

/// The dead-letter topic of Spring's `DeadLetterPublisher` in ADR-005.
pub const DEFAULT_DLT_TOPIC: &str = "dead-letter-topic";

/// Where a consumer group starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStart {
    /// At the end of each partition when the run starts: only this run's events.
    End,
    /// At the earliest retained offset: replays retention (older events count as foreign).
    Earliest,
}

/// Bounds on the run, so that it always stops by itself.
#[derive(Debug, Clone)]
pub struct RunLimits {
    pub connect_timeout: Duration,
    pub group_join_timeout: Duration,
    pub drain_timeout: Duration,
    /// How far past the plan's end the generator may keep sending a backlog.
    pub send_grace: Duration,
    /// Above this schedule-lag p99 the generator is not trusted: inconclusive.
    pub max_schedule_lag_p99: Duration,
    /// Below this achieved/target ratio the generator is not trusted: inconclusive.
    pub min_achieved_ratio: f64,
    /// A earlier run's directory whose figures every report compares against
    /// (`run.baseline`, relative to the scenario file, or `--baseline`).
    pub baseline: Option<PathBuf>,
    /// Fail the run when a p95 or p99 worsens against the baseline by more than this fraction.
    pub max_regression: Option<f64>,
}

/// A resolved, validated scenario: no optional fields left.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The file it came from.
    pub source: PathBuf,
    /// The file's text, as read (reports show it with secrets redacted).
    pub source_text: String,
    pub seed: u64,
    pub cluster: ClusterProfile,
    pub producer_instances: u16,
    /// Which share of the run this process sends and consumes.
    pub workers: WorkerShare,
    /// `--start-at`: the wall-clock start of the plan (unix microseconds), shared by workers.
    pub start_at_unix_us: Option<u64>,
    /// Whether events carry Spring's `__TypeId__` header.
    pub type_headers: bool,
    pub limits: RunLimits,
    pub topics: Vec<TopicSpec>,
    pub aggregates: Vec<AggregateSpec>,
    pub events: Vec<EventSpec>,
    pub phases: Vec<Phase>,
    pub groups: Vec<GroupSpec>,
    pub slos: Vec<Slo>,
    /// `slo.peak_phase`: the phase called the peak, when the file names one.
    pub peak_phase: Option<String>,
    /// Timed faults, in the order the file lists them.
    pub faults: Vec<FaultSpec>,
    /// `--allow-commands`: `command` faults may run.
    pub allow_commands: bool,
    /// Which cluster option this run measures (`[label]` or --label and friends).
    pub label: Option<Label>,
    /// Adjustments the resolver made that a reader of the report should know about.
    pub notes: Vec<String>,
    /// What the command line changed in the plan, for comparisons between runs.
    pub settings: PlanSettings,
}

/// A run planned longer than this on the embedded broker carries a warning.
pub const EMBEDDED_SOAK_LIMIT: Duration = Duration::from_secs(300);

impl Scenario {
    /// Total planned duration of all phases.
    pub fn planned_duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// The warning of a long run on the embedded broker: the mock cluster keeps every event in
    /// memory and slows as it grows, so such a run measures the mock, not a cluster.
    pub fn embedded_soak_warning(&self) -> Option<String> {
        (self.cluster.bootstrap.is_embedded() && self.planned_duration() > EMBEDDED_SOAK_LIMIT)
            .then(|| {
                format!(
                    "this {} run uses the embedded broker, which keeps every event in memory and slows as it fills (a 5-minute run at 10k/s stalled it for 50 s): past {} it measures librdkafka's mock cluster, not a Kafka cluster; run soaks against a real cluster (--bootstrap, or scripts/local-kafka.sh start)",
                    units::format_duration(self.planned_duration()),
                    units::format_duration(EMBEDDED_SOAK_LIMIT),
                )
            })
    }

    /// Whether a group is set aside from the run-wide e2e, lag and recovery figures: a
    /// `group_pause` fault pauses it on purpose, or it joins late (`starts_after`). Its own
    /// figures (catch-up, replay) and group-scoped SLOs judge it.
    pub fn is_set_aside(&self, group: usize) -> bool {
        self.groups[group].starts_after.is_some()
            || self
                .faults
                .iter()
                .any(|f| matches!(f.kind, FaultKind::GroupPause { group: g } if g == group))
    }

    /// Producer instances across every worker: each has its own keys and its share of events.
    pub fn total_instances(&self) -> u16 {
        self.producer_instances * self.workers.count
    }

    /// The id of this process's first producer instance (instances are numbered across
    /// workers, and the id is part of every key).
    pub fn first_instance(&self) -> u16 {
        self.producer_instances * self.workers.index
    }

    /// The librdkafka properties of group `group`'s members: the cluster's consumer
    /// properties with the group's protocol and assignor. Under the consumer protocol the
    /// broker owns the session and heartbeat settings, so the embedded broker's defaults for
    /// them are dropped (resolving refused any the scenario or flags set).
    pub fn member_properties(&self, group: usize) -> Vec<(String, String)> {
        let protocol = &self.groups[group].protocol;
        let mut properties: Vec<(String, String)> = self.cluster.consumer.clone();
        match protocol {
            GroupProtocol::Classic { assignor } => {
                if let Some(assignor) = assignor {
                    properties.push(("partition.assignment.strategy".into(), assignor.clone()));
                }
            }
            GroupProtocol::Consumer { assignor } => {
                properties.retain(|(k, _)| !CLASSIC_ONLY_PROPERTIES.contains(&k.as_str()));
                properties.push(("group.protocol".into(), "consumer".into()));
                if let Some(assignor) = assignor {
                    properties.push(("group.remote.assignor".into(), assignor.clone()));
                }
            }
        }
        properties
    }

    /// Partitions of the topics group `group` reads.
    pub fn partitions_of(&self, group: usize) -> usize {
        self.groups[group]
            .topics
            .iter()
            .map(|&t| self.topics[t].partitions.max(0) as usize)
            .sum()
    }

    /// Members a group holds at most: its own plus those `member_join` and `scale_group`
    /// faults add.
    pub fn member_slots(&self, group: usize) -> usize {
        members_at_most(&self.groups, &self.faults, group) as usize
    }

    /// The shell commands `command` faults run (`run`, then `undo`), with their keys.
    pub fn commands(&self) -> Vec<(String, String)> {
        let mut commands = Vec::new();
        for (i, fault) in self.faults.iter().enumerate() {
            if let FaultKind::Command { run, undo, .. } = &fault.kind {
                commands.push((format!("faults[{i}].run"), run.clone()));
                if let Some(undo) = undo {
                    commands.push((format!("faults[{i}].undo"), undo.clone()));
                }
            }
        }
        commands
    }

    /// The error a run gives when the scenario runs commands and `--allow-commands` is absent.
    pub fn check_commands_allowed(&self) -> Result<(), ScenarioError> {
        let commands = self.commands();
        if self.allow_commands || commands.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = commands
            .iter()
            .map(|(key, command)| format!("    {key}: {command}"))
            .collect();
        Err(ScenarioError {
            file: self.source.display().to_string(),
            key: commands[0].0.clone(),
            problem: format!(
                "the scenario runs shell commands, and surge runs them only when told to:\n{}",
                list.join("\n")
            ),
            fix: "read the commands, then pass --allow-commands to run them".into(),
        })
    }
}

/// This process's part of a distributed run: worker `index` of `count` (`--worker-index`,
/// `--worker-count`). One process alone is worker 0 of 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkerShare {
    pub index: u16,
    pub count: u16,
}

impl Default for WorkerShare {
    fn default() -> WorkerShare {
        WorkerShare { index: 0, count: 1 }
    }
}

impl WorkerShare {
    /// Whether the run is spread over more than one process.
    pub fn is_distributed(&self) -> bool {
        self.count > 1
    }

    /// Whether this worker runs member `member` of a group: members are dealt round-robin.
    pub fn runs_member(&self, member: usize) -> bool {
        member % self.count.max(1) as usize == self.index as usize
    }
}

/// The TOML parser's message, each line quoted short (it quotes the offending line, which
/// can be a megabyte), with a position added where the parser gives none (nesting too deep).
fn toml_problem(err: &toml::de::Error, text: &str) -> String {
    let message: Vec<String> = err
        .to_string()
        .trim_end()
        .lines()
        .map(|line| crate::input::quote(line, 160))
        .collect();
    let mut problem = message.join("\n");
    if err.span().is_none()
        && let Some(line) = too_deep_at(text)
    {
        problem.push_str(&format!(
            " (line {line}: arrays or tables nested more than {MAX_NESTING} deep)"
        ));
    }
    problem
}

/// How deep a scenario's brackets may nest before the position is named.
const MAX_NESTING: usize = 64;

/// The line where `[` and `{` (outside strings and comments) first nest deeper than
/// [`MAX_NESTING`].
fn too_deep_at(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (number, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(number + 1);
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

/// Reads and resolves a scenario file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let bytes = crate::input::read(path, crate::input::SCENARIO).map_err(|err| ScenarioError {
        file: file.clone(),
        key: String::new(),
        problem: format!("cannot read the scenario file: {err}"),
        fix: "check the path; ready-made scenarios are in scenarios/".into(),
    })?;
    let text = String::from_utf8(bytes).map_err(|err| {
        let at = err.utf8_error().valid_up_to();
        let line = err.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        ScenarioError {
            file: file.clone(),
            key: String::new(),
            problem: format!(
                "the file is not UTF-8 text: byte {at} (line {line}) is not valid UTF-8"
            ),
            fix: "save the scenario as UTF-8 (TOML files are UTF-8)".into(),
        }
    })?;
    let raw: raw::RawScenario = toml::from_str(&text).map_err(|err| ScenarioError {
        file: file.clone(),
        key: String::new(),
        problem: toml_problem(&err, &text),
        fix: "correct the key or value at that line; every key is listed in docs/scenarios.md \
              under \"Scenario file\""
            .into(),
    })?;
    if let Some(key) = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|table| non_finite(&table, ""))
    {
        return Err(ScenarioError {
            file,
            key,
            problem: "the number is not finite (nan or inf)".into(),
            fix: "write a finite number".into(),
        });
    }
    resolve(raw, path, text, overrides)
}

/// The key of the first float in `table` that is NaN or infinite: no number of a scenario
/// means anything as one, and a NaN compares false with every limit.
fn non_finite(table: &toml::Table, prefix: &str) -> Option<String> {
    fn walk(value: &toml::Value, key: String) -> Option<String> {
        match value {
            toml::Value::Float(f) if !f.is_finite() => Some(key),
            toml::Value::Table(table) => non_finite(table, &key),
            toml::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, format!("{key}[{i}]"))),
            _ => None,
        }
    }
    table.iter().find_map(|(name, value)| {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        walk(value, key)
    })
}

/// A scenario resolved from TOML text with no overrides (unit tests).
#[cfg(test)]
pub fn from_text(text: &str) -> Scenario {
    let raw = toml::from_str(text).expect("the test's scenario parses");
    resolve(raw, Path::new("t.toml"), text.into(), &Overrides::default())
        .expect("the test's scenario is valid")
}
