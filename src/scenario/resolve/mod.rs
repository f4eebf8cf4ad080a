//! Stage two: defaults, overrides and validation, from [`RawScenario`] to [`Scenario`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::raw::{RawCluster, RawEvent, RawGroup, RawPhase, RawRun, RawScenario, RawTopic};
use super::units::{Scalar, Size, parse_duration};
use super::*;

/// What the command line changes in a scenario.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--bootstrap` or `KAFKA_BOOTSTRAP_SERVERS`.
    pub bootstrap: Option<String>,
    /// `-X key=value`; a `producer.` or `consumer.` prefix targets one client.
    pub properties: Vec<(String, String)>,
    /// `--slo`: added, or replacing the scenario's SLO on the same metric.
    pub slos: Vec<Slo>,
    /// `--auth`: replaces `cluster.auth`.
    pub auth: Option<String>,
    /// `--ca-file` or `SURGE_CA_FILE`: replaces `cluster.ca_file`.
    pub ca_file: Option<std::path::PathBuf>,
    /// `--label`, `--brokers`, `--instance-type`, `--monthly-cost`: replace `[label]` fields.
    pub label: crate::summary::Label,
    /// `--rate-scale`.
    pub rate_scale: Option<f64>,
    /// `--duration-scale`.
    pub duration_scale: Option<f64>,
    /// `--insecure-skip-tls-verify`: the only way to turn TLS verification off.
    pub insecure_skip_tls_verify: bool,
    /// `--allow-commands`: `command` faults may run shell commands.
    pub allow_commands: bool,
    /// `--baseline`: replaces `run.baseline`.
    pub baseline: Option<std::path::PathBuf>,
    /// `--max-regression`, as a fraction: replaces `run.max_regression`.
    pub max_regression: Option<f64>,
}

/// Properties that turn TLS verification off, with the values that do it.
const INSECURE_TLS: &[(&str, &[&str])] = &[
    ("ssl.endpoint.identification.algorithm", &["none", ""]),
    (
        "enable.ssl.certificate.verification",
        &["false", "0", "no", "off"],
    ),
];

/// The first property of `layers` (section, pairs) that `matches`: how to name it in an error
/// (`-X key` or `section."key"`), its key and its value.
fn find_property<'a>(
    layers: &[(&str, &'a Vec<(String, String)>)],
    matches: impl Fn(&str, &str) -> bool,
) -> Option<(String, &'a str, &'a str)> {
    layers.iter().find_map(|(section, pairs)| {
        let (key, value) = pairs.iter().find(|(k, v)| matches(k, v))?;
        let name = if *section == "-X" {
            format!("-X {key}")
        } else {
            format!("{section}.\"{key}\"")
        };
        Some((name, key.as_str(), value.as_str()))
    })
}

/// Whether a property turns TLS verification off.
fn turns_off_tls_checks(key: &str, value: &str) -> bool {
    INSECURE_TLS.iter().any(|(k, values)| {
        *k == key && values.contains(&value.trim().to_ascii_lowercase().as_str())
    })
}

/// The warning every report shows for a run with TLS verification off.
pub const INSECURE_TLS_WARNING: &str = "TLS verification was OFF for this run (--insecure-skip-tls-verify): the brokers' certificates and host names were not checked";

/// The ADR's producer settings (acks=all, retries, snappy, 16 KiB batches, 10 ms linger).
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("retries", "3"),
    ("compression.type", "snappy"),
    ("batch.size", "16384"),
    ("linger.ms", "10"),
];

/// The ADR's consumer settings: earliest, manual commits, 1 KiB minimum fetch.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("auto.offset.reset", "earliest"),
    ("enable.auto.commit", "false"),
    ("fetch.min.bytes", "1024"),
];

/// Both clients on a real cluster: TCP_NODELAY, as Kafka's Java client (the ADR's Spring
/// services) always sets it. librdkafka leaves Nagle on by default, which held each connection
/// to the local cluster to a few dozen acks=all requests a second (publish p50 937 ms against
/// 54 ms at 600 events/s, benches/README.md). The embedded broker keeps Nagle on: it pays for
/// every small request in-process (black-friday's e2e p95 went from 0.4 s to 2.7 s without it).
const REAL_CLUSTER_DEFAULTS: &[(&str, &str)] = &[("socket.nagle.disable", "true")];

/// Client defaults that apply on the embedded broker only, each with the reason a report
/// shows. Scenario keys and -X still win over them.
const EMBEDDED_CONSUMER_DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "fetch.wait.max.ms",
        "10",
        "the embedded broker holds an empty fetch for the whole wait, so 500 ms would measure the wait",
    ),
    (
        "session.timeout.ms",
        "6000",
        "the embedded broker's group coordinator can wait out a whole session before a rebalance completes",
    ),
    (
        "heartbeat.interval.ms",
        "500",
        "members learn of a rebalance on their next heartbeat",
    ),
];
const EMBEDDED_PRODUCER_DEFAULTS: &[(&str, &str, &str)] = &[(
    "linger.ms",
    "25",
    "the embedded broker looks batches up linearly, so many tiny batches measure its lookup",
)];

/// Adds embedded-only defaults that the scenario and flags left alone, noting each one.
fn embedded_defaults(
    table: &[(&str, &str, &str)],
    defaults: &mut Vec<(String, String)>,
    written: &[&(String, String)],
    notes: &mut Vec<String>,
) {
    for (key, value, why) in table {
        if !written.iter().any(|(k, _)| k == key) {
            defaults.push((key.to_string(), value.to_string()));
            notes.push(format!("{key} = {value} on the embedded broker: {why}"));
        }
    }
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    fn duration(
        &self,
        key: &str,
        value: Option<&String>,
        default: Duration,
    ) -> Result<Duration, ScenarioError> {
        match value {
            None => Ok(default),
            Some(text) => {
                let parsed = parse_duration(text).map_err(|problem| {
                    self.err(
                        key,
                        problem,
                        format!("write it as a quoted duration, e.g. {key} = \"30s\""),
                    )
                })?;
                // Timeouts and grace periods are waits surge sits out: a day is beyond any use.
                if parsed > Duration::from_secs(24 * 3600) {
                    return Err(self.err(
                        key,
                        format!("`{}` is longer than a day", super::shapes::cut(text)),
                        format!("set {key} to at most \"24h\""),
                    ));
                }
                Ok(parsed)
            }
        }
    }

    fn positive(
        &self,
        key: &str,
        value: Option<i64>,
        default: i64,
        max: i64,
    ) -> Result<i64, ScenarioError> {
        let value = value.unwrap_or(default);
        if value < 1 || value > max {
            return Err(self.err(
                key,
                format!("{value} is out of range"),
                format!("use a whole number from 1 to {max}"),
            ));
        }
        Ok(value)
    }

    fn name(&self, key: &str, value: Option<&String>, what: &str) -> Result<String, ScenarioError> {
        let name = value.ok_or_else(|| {
            self.err(
                key,
                format!("every {what} needs a name"),
                format!("add {key} = \"...\""),
            )
        })?;
        if name.is_empty()
            || name.len() > 200
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(self.err(
                key,
                format!("`{name}` is not a valid {what} name"),
                "use letters, digits, `-`, `_` and `.` only (at most 200)",
            ));
        }
        Ok(name.clone())
    }
}

fn scalar_map(map: Option<&BTreeMap<String, Scalar>>) -> Vec<(String, String)> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

/// Later entries win: defaults, then the scenario, then `-X`.
/// Merges property layers: each key once, in first-seen order, the last layer's value winning.
pub fn merge(layers: &[Vec<(String, String)>]) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::new();
    for (key, value) in layers.iter().flatten() {
        match merged.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => merged.push((key.clone(), value.clone())),
        }
    }
    merged
}

fn defaults(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Resolves defaults and overrides, and validates every cross-reference.
pub fn resolve(
    raw: RawScenario,
    path: &Path,
    source_text: String,
    overrides: &Overrides,
) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let ctx = Ctx { file: &file };
    let mut notes = Vec::new();

    let default_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let name = ctx.name(
        "name",
        Some(raw.name.as_ref().unwrap_or(&default_name)),
        "scenario",
    )?;

    let cluster = resolve_cluster(&ctx, raw.cluster.unwrap_or_default(), overrides, &mut notes)?;
    let limits = resolve_limits(&ctx, raw.run.unwrap_or_default(), path, overrides)?;
    let mut cluster = cluster;
    bound_message_timeout(&mut cluster.producer, &limits);
    let producer_instances = ctx.positive(
        "producer.instances",
        raw.producer.as_ref().and_then(|p| p.instances),
        1,
        64,
    )? as u16;

    let topics = resolve_topics(
        &ctx,
        raw.topics.unwrap_or_default(),
        &cluster.bootstrap,
        &mut notes,
    )?;
    let (aggregates, events) = resolve_events(&ctx, raw.events.unwrap_or_default(), &topics)?;
    let phases = resolve_phases(&ctx, raw.phases.unwrap_or_default(), overrides)?;
    let mut topics = topics;
    let groups = resolve_groups(
        &ctx,
        raw.consumer_groups.unwrap_or_default(),
        &mut topics,
        &cluster.bootstrap,
        &mut notes,
        phases.iter().map(|p| p.duration).sum(),
        overrides.duration_scale.unwrap_or(1.0),
    )?;
    check_dead_letter_topics(&ctx, &groups, &events, &aggregates, &topics)?;
    let members: u64 = groups.iter().map(|g| g.members as u64).sum();
    bound_client_buffers(
        &ctx,
        &mut cluster.producer,
        "queue.buffering.max.kbytes",
        1_048_576,
        producer_instances as u64,
    )?;
    bound_client_buffers(
        &ctx,
        &mut cluster.consumer,
        "queued.max.messages.kbytes",
        65_536,
        members,
    )?;
    // Simulated work per event cannot outlast the drain, or stopping a member would wait on it.
    for (i, group) in groups.iter().enumerate() {
        if group.processing_time >= limits.drain_timeout {
            return Err(ctx.err(
                format!("consumer_groups[{i}].processing_time"),
                format!(
                    "{} per event is not shorter than run.drain_timeout ({})",
                    super::units::format_duration(group.processing_time),
                    super::units::format_duration(limits.drain_timeout)
                ),
                "simulate at most a fraction of the drain per event, e.g. processing_time = \"2ms\"",
            ));
        }
    }
    let faults = super::faults::resolve_faults(
        &super::faults::FaultContext {
            file: &file,
            bootstrap: &cluster.bootstrap,
            topics: &topics,
            groups: &groups,
            planned: phases.iter().map(|p| p.duration).sum(),
            duration_scale: overrides.duration_scale.unwrap_or(1.0),
        },
        raw.faults.unwrap_or_default(),
    )?;
    check_envelope(
        &ctx,
        &aggregates,
        &events,
        &groups,
        super::faults::boundaries(&faults).len() as u64,
    )?;
    let slos = resolve_slos(
        &ctx,
        raw.slo.and_then(|s| s.checks).unwrap_or_default(),
        overrides,
        &groups,
        &faults,
    )?;

    if let Some(scale) = overrides.rate_scale {
        notes.push(format!("rates scaled by {scale} (--rate-scale)"));
    }
    if let Some(scale) = overrides.duration_scale {
        notes.push(format!("durations scaled by {scale} (--duration-scale)"));
    }

    let written = raw.label.unwrap_or_default();
    let flags = &overrides.label;
    let label_name = if flags.name.is_empty() {
        written.name
    } else {
        Some(flags.name.clone())
    };
    let label = label_name.map(|name| crate::summary::Label {
        name,
        brokers: flags.brokers.or(written.brokers),
        instance_type: flags.instance_type.clone().or(written.instance_type),
        monthly_cost_usd: flags.monthly_cost_usd.or(written.monthly_cost_usd),
    });
    Ok(Scenario {
        name,
        label,
        description: raw.description.unwrap_or_default(),
        source: path.to_path_buf(),
        source_text,
        seed: raw.seed.unwrap_or(1),
        cluster,
        producer_instances,
        workers: super::WorkerShare::default(),
        start_at_unix_us: None,
        type_headers: raw
            .producer
            .as_ref()
            .and_then(|p| p.type_headers)
            .unwrap_or(true),
        limits,
        topics,
        aggregates,
        events,
        phases,
        groups,
        slos,
        faults,
        allow_commands: overrides.allow_commands,
        notes,
        settings: crate::summary::PlanSettings {
            rate_scale: overrides.rate_scale.unwrap_or(1.0),
            duration_scale: overrides.duration_scale.unwrap_or(1.0),
            properties: overrides
                .properties
                .iter()
                .map(|(k, v)| {
                    let value = if is_secret_property(k) {
                        "[redacted]".to_string()
                    } else {
                        v.clone()
                    };
                    (k.clone(), value)
                })
                .collect(),
            slos: overrides.slos.iter().map(|s| s.to_string()).collect(),
        },
    })
}

fn resolve_cluster(
    ctx: &Ctx,
    raw: RawCluster,
    overrides: &Overrides,
    notes: &mut Vec<String>,
) -> Result<ClusterProfile, ScenarioError> {
    let brokers = ctx.positive("cluster.embedded_brokers", raw.embedded_brokers, 3, 10)? as i32;
    let written = overrides
        .bootstrap
        .clone()
        .or(raw.bootstrap.clone())
        .filter(|b| !b.trim().is_empty());
    let bootstrap = match written.as_deref().map(str::trim) {
        None | Some("embedded") => Bootstrap::Embedded { brokers },
        Some(servers) => {
            for server in servers.split(',') {
                let server = server.trim();
                let port_ok = server
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !port_ok {
                    return Err(ctx.err(
                        "cluster.bootstrap",
                        format!("`{server}` is not a broker address"),
                        "write host:port pairs separated by commas, e.g. 127.0.0.1:9092, or \"embedded\"",
                    ));
                }
            }
            Bootstrap::Servers(servers.to_string())
        }
    };

    let mut cli_producer = Vec::new();
    let mut cli_consumer = Vec::new();
    for (key, value) in &overrides.properties {
        if let Some(key) = key.strip_prefix("producer.") {
            cli_producer.push((key.to_string(), value.clone()));
        } else if let Some(key) = key.strip_prefix("consumer.") {
            cli_consumer.push((key.to_string(), value.clone()));
        } else {
            cli_producer.push((key.clone(), value.clone()));
            cli_consumer.push((key.clone(), value.clone()));
        }
    }
    let scenario_producer = scalar_map(raw.producer.as_ref());
    let scenario_consumer = scalar_map(raw.consumer.as_ref());
    let layers = [
        ("cluster.producer", &scenario_producer),
        ("cluster.consumer", &scenario_consumer),
        ("-X", &cli_producer),
        ("-X", &cli_consumer),
    ];
    if let Some((name, _, _)) = find_property(&layers[..2], |k, _| is_secret_property(k)) {
        return Err(ctx.err(
            name,
            "a secret is written in the scenario file",
            "remove it from the file and pass it at run time (an environment variable read by -X, or a credentials file)",
        ));
    }
    if !overrides.insecure_skip_tls_verify
        && let Some((name, key, value)) = find_property(&layers, turns_off_tls_checks)
    {
        return Err(ctx.err(
            name,
            format!("`{key}={value}` turns off TLS certificate or host name verification"),
            "remove it, or pass --insecure-skip-tls-verify to run without verification on purpose (every report will say so)",
        ));
    }
    // The embedded broker speaks plaintext only: a client told to use TLS or SASL would wait out
    // the group join and report a timeout instead of what is wrong. (sasl.* alone is ignored on
    // a plaintext connection; the protocol decides.)
    let speaks_other =
        |k: &str, v: &str| k == "security.protocol" && !v.eq_ignore_ascii_case("plaintext");
    if bootstrap.is_embedded()
        && let Some((name, key, value)) = find_property(&layers, speaks_other)
    {
        return Err(ctx.err(
            name,
            format!("`{key}={value}` asks for TLS or SASL, and the embedded broker speaks plaintext only"),
            "give --bootstrap (or cluster.bootstrap) a real cluster's TLS/SASL listeners, or drop the property",
        ));
    }

    let mut producer_defaults = defaults(PRODUCER_DEFAULTS);
    let mut consumer_defaults = defaults(CONSUMER_DEFAULTS);
    if !bootstrap.is_embedded() {
        producer_defaults.extend(defaults(REAL_CLUSTER_DEFAULTS));
        consumer_defaults.extend(defaults(REAL_CLUSTER_DEFAULTS));
    }
    if bootstrap.is_embedded() {
        let written: Vec<_> = scenario_producer.iter().chain(&cli_producer).collect();
        embedded_defaults(
            EMBEDDED_PRODUCER_DEFAULTS,
            &mut producer_defaults,
            &written,
            notes,
        );
        let written: Vec<_> = scenario_consumer.iter().chain(&cli_consumer).collect();
        embedded_defaults(
            EMBEDDED_CONSUMER_DEFAULTS,
            &mut consumer_defaults,
            &written,
            notes,
        );
    }
    // The flag turns both checks off; the scenario and -X may still set them explicitly.
    let insecure = if overrides.insecure_skip_tls_verify {
        defaults(&[
            ("enable.ssl.certificate.verification", "false"),
            ("ssl.endpoint.identification.algorithm", "none"),
        ])
    } else {
        Vec::new()
    };
    let auth = resolve_auth(ctx, &raw, overrides)?;
    if matches!(bootstrap, Bootstrap::Embedded { .. }) && auth != Auth::None {
        return Err(ctx.err(
            "cluster.auth",
            format!(
                "auth `{}` needs a real cluster, and the scenario runs on the embedded broker",
                auth.name()
            ),
            "give --bootstrap (or cluster.bootstrap) the cluster's TLS/SASL listeners",
        ));
    }
    if raw.embedded_rtt.is_some() {
        return Err(ctx.err(
            "cluster.embedded_rtt",
            "round-trip injection is a fault now, on the scenario's timeline",
            "replace it with\n  [[faults]]\n  kind = \"rtt\"\n  at = \"0s\"\n  rtt = \"2ms\"",
        ));
    }
    Ok(ClusterProfile {
        bootstrap,
        auth,
        producer: merge(&[
            producer_defaults,
            insecure.clone(),
            scenario_producer,
            cli_producer,
        ]),
        consumer: merge(&[consumer_defaults, insecure, scenario_consumer, cli_consumer]),
        insecure_tls: overrides.insecure_skip_tls_verify,
    })
}

fn resolve_auth(ctx: &Ctx, raw: &RawCluster, overrides: &Overrides) -> Result<Auth, ScenarioError> {
    let ca_file = overrides
        .ca_file
        .clone()
        .or_else(|| raw.ca_file.as_ref().map(std::path::PathBuf::from));
    let mode = overrides
        .auth
        .as_deref()
        .or(raw.auth.as_deref())
        .unwrap_or("none");
    let auth = match mode {
        "none" => Auth::None,
        "tls" => Auth::Tls { ca_file },
        "scram-sha-512" => {
            let username = SecretSource::Env(
                raw.username_env
                    .clone()
                    .unwrap_or_else(|| "SURGE_SASL_USERNAME".into()),
            );
            let password = match (&raw.password_file, &raw.password_env) {
                (Some(_), Some(_)) => {
                    return Err(ctx.err(
                        "cluster.password_file",
                        "both password_file and password_env are set",
                        "keep one of them",
                    ));
                }
                (Some(file), None) => SecretSource::File(file.into()),
                (None, env) => {
                    SecretSource::Env(env.clone().unwrap_or_else(|| "SURGE_SASL_PASSWORD".into()))
                }
            };
            Auth::Scram {
                ca_file,
                username,
                password,
            }
        }
        "iam" => Auth::Iam {
            ca_file,
            region: raw.aws_region.clone(),
        },
        other => {
            return Err(ctx.err(
                "cluster.auth",
                format!("`{other}` is not an auth mode"),
                "use \"none\", \"tls\", \"scram-sha-512\" or \"iam\"",
            ));
        }
    };
    Ok(auth)
}

/// Property names whose values are credentials.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "passphrase",
        "sasl.oauthbearer.config",
        "private.key",
        "ssl.key.pem",
        "ssl_key",
        "aws_secret",
        "session.token",
    ]
    .iter()
    .any(|needle| key.contains(needle))
}

/// The most key states surge holds: one per key for the sent ledger, plus one per key for each
/// group that reads the key's topic (docs/measuring.md, "Envelope": about 60 bytes each).
pub const MAX_KEY_STATES: u64 = 20_000_000;
/// The most memory [`MAX_KEY_STATES`] key states take, proven by `tests/envelope.rs`:
/// 2.5 GiB (hash tables grow in powers of two, so a key state takes 60-115 bytes).
pub const MAX_KEY_STATE_BYTES: u64 = 5 * 512 * 1024 * 1024;
/// The most consumer groups one run holds.
pub const MAX_GROUPS: usize = 16;

/// Keeps the scenario inside the envelope docs/measuring.md states and `tests/envelope.rs` proves.
fn check_envelope(
    ctx: &Ctx,
    aggregates: &[AggregateSpec],
    events: &[EventSpec],
    groups: &[GroupSpec],
    fault_marks: u64,
) -> Result<(), ScenarioError> {
    if groups.len() > MAX_GROUPS {
        return Err(ctx.err(
            format!("consumer_groups[{MAX_GROUPS}]"),
            format!(
                "{} consumer groups are more than one run holds ({MAX_GROUPS})",
                groups.len()
            ),
            "split the groups over several runs",
        ));
    }
    let states = |a: &AggregateSpec| {
        let readers = groups
            .iter()
            .filter(|g| g.topics.contains(&a.topic))
            .count() as u64;
        // Each fault boundary keeps a copy of the producers' per-key counts.
        a.keys.saturating_mul(1 + readers + fault_marks)
    };
    let total = aggregates
        .iter()
        .map(states)
        .fold(0u64, u64::saturating_add);
    if total > MAX_KEY_STATES {
        let (largest, _) = aggregates
            .iter()
            .enumerate()
            .max_by_key(|(_, a)| states(a))
            .expect("a total above zero has an aggregate");
        let event = events
            .iter()
            .position(|e| e.aggregate == largest)
            .unwrap_or(0);
        return Err(ctx.err(
            format!("events[{event}].keys"),
            format!(
                "the scenario tracks {total} key states (each aggregate's keys, once for the producers, once per group that reads them and once per fault start or end), more than the {MAX_KEY_STATES} surge holds in memory"
            ),
            "use fewer keys (a few million distinct keys already spread any partition count evenly) or fewer groups or faults; see docs/measuring.md, \"Envelope\"",
        ));
    }
    Ok(())
}

/// What librdkafka may buffer, over all clients of one kind together (KiB): 4 GiB.
pub const MAX_CLIENT_BUFFER_KIB: u64 = 4 * 1024 * 1024;

/// librdkafka buffers up to `key` KiB per client (`default` when unset): 1 GiB of unsent events
/// per producer, 64 MiB of prefetched records per consumer. Unless the scenario or -X sets it,
/// the clients share [`MAX_CLIENT_BUFFER_KIB`]; a value set explicitly must fit in it.
fn bound_client_buffers(
    ctx: &Ctx,
    properties: &mut Vec<(String, String)>,
    key: &str,
    default: u64,
    clients: u64,
) -> Result<(), ScenarioError> {
    let clients = clients.max(1);
    match properties.iter().rev().find(|(k, _)| k == key) {
        Some((_, value)) => {
            let per_client = value.trim().parse::<u64>().unwrap_or(0);
            if per_client.saturating_mul(clients) > MAX_CLIENT_BUFFER_KIB {
                return Err(ctx.err(
                    key,
                    format!(
                        "{value} KiB for each of {clients} clients is more than the {} GiB surge lets librdkafka buffer",
                        MAX_CLIENT_BUFFER_KIB / 1024 / 1024
                    ),
                    format!("set {key} to at most {}", MAX_CLIENT_BUFFER_KIB / clients),
                ));
            }
        }
        None if default.saturating_mul(clients) > MAX_CLIENT_BUFFER_KIB => {
            properties.push((
                key.to_string(),
                (MAX_CLIENT_BUFFER_KIB / clients).to_string(),
            ));
        }
        None => {}
    }
    Ok(())
}

/// librdkafka keeps an unsent event for `message.timeout.ms` (300 s by default): a stalled
/// cluster would hold the run that long past its plan and past the first Ctrl-C. Unless the
/// scenario or -X sets it, an event may wait at most `send_grace + drain_timeout`.
fn bound_message_timeout(producer: &mut Vec<(String, String)>, limits: &RunLimits) {
    if producer
        .iter()
        .any(|(k, _)| k == "message.timeout.ms" || k == "delivery.timeout.ms")
    {
        return;
    }
    let bound = (limits.send_grace + limits.drain_timeout)
        .max(Duration::from_secs(5))
        .as_millis()
        .min(300_000);
    // Shown with the other client properties in every report.
    producer.push(("message.timeout.ms".into(), bound.to_string()));
}

fn resolve_limits(
    ctx: &Ctx,
    raw: RawRun,
    path: &Path,
    overrides: &Overrides,
) -> Result<RunLimits, ScenarioError> {
    // A baseline written in the file is relative to the file; a flag, to the current directory.
    let baseline = overrides.baseline.clone().or_else(|| {
        raw.baseline
            .as_ref()
            .map(|dir| path.parent().unwrap_or_else(|| Path::new("")).join(dir))
    });
    let max_regression = match (overrides.max_regression, raw.max_regression.as_deref()) {
        (Some(flag), _) => Some(flag),
        (None, Some(text)) => Some(super::units::parse_percent(text).map_err(|problem| {
            ctx.err(
                "run.max_regression",
                problem,
                "write the largest tolerated worsening of p95 and p99 as a percentage, e.g. max_regression = \"10%\"",
            )
        })?),
        (None, None) => None,
    };
    if max_regression.is_some() && baseline.is_none() {
        return Err(ctx.err(
            "run.max_regression",
            "a regression limit needs a baseline run to compare with",
            "set run.baseline = \"reports/<earlier run>\" or pass --baseline RUN_DIR",
        ));
    }
    let min_achieved_ratio = raw.min_achieved_ratio.unwrap_or(0.99);
    if !(0.0..=1.0).contains(&min_achieved_ratio) {
        return Err(ctx.err(
            "run.min_achieved_ratio",
            format!("{min_achieved_ratio} is not a ratio"),
            "use a number from 0 to 1, e.g. 0.99",
        ));
    }
    Ok(RunLimits {
        connect_timeout: ctx.duration(
            "run.connect_timeout",
            raw.connect_timeout.as_ref(),
            Duration::from_secs(10),
        )?,
        group_join_timeout: ctx.duration(
            "run.group_join_timeout",
            raw.group_join_timeout.as_ref(),
            Duration::from_secs(60),
        )?,
        drain_timeout: ctx.duration(
            "run.drain_timeout",
            raw.drain_timeout.as_ref(),
            Duration::from_secs(15),
        )?,
        send_grace: ctx.duration(
            "run.send_grace",
            raw.send_grace.as_ref(),
            Duration::from_secs(5),
        )?,
        max_schedule_lag_p99: ctx.duration(
            "run.max_schedule_lag_p99",
            raw.max_schedule_lag_p99.as_ref(),
            Duration::from_millis(50),
        )?,
        min_achieved_ratio,
        baseline,
        max_regression,
    })
}

fn resolve_topics(
    ctx: &Ctx,
    raw: Vec<RawTopic>,
    bootstrap: &Bootstrap,
    notes: &mut Vec<String>,
) -> Result<Vec<TopicSpec>, ScenarioError> {
    if raw.is_empty() {
        return Err(ctx.err(
            "topics",
            "the scenario has no [[topics]]",
            "add at least one [[topics]] table with a name and partitions",
        ));
    }
    let mut topics: Vec<TopicSpec> = Vec::new();
    for (i, topic) in raw.into_iter().enumerate() {
        let name = ctx.name(&format!("topics[{i}].name"), topic.name.as_ref(), "topic")?;
        if topics.iter().any(|t| t.name == name) {
            return Err(ctx.err(
                format!("topics[{i}].name"),
                format!("topic `{name}` is listed twice"),
                "give each [[topics]] entry its own name",
            ));
        }
        let partitions = ctx.positive(
            &format!("topics[{i}].partitions"),
            topic.partitions,
            1,
            10_000,
        )? as i32;
        let mut replication_factor = ctx.positive(
            &format!("topics[{i}].replication_factor"),
            topic.replication_factor,
            3,
            16,
        )? as i32;
        if let Bootstrap::Embedded { brokers } = bootstrap
            && replication_factor > *brokers
        {
            notes.push(format!(
                "topic {name}: replication factor {replication_factor} capped at the embedded broker count {brokers}"
            ));
            replication_factor = *brokers;
        }
        topics.push(TopicSpec {
            name,
            partitions,
            replication_factor,
            config: scalar_map(topic.config.as_ref()),
        });
    }
    Ok(topics)
}

fn topic_index(
    ctx: &Ctx,
    key: &str,
    name: &str,
    topics: &[TopicSpec],
) -> Result<usize, ScenarioError> {
    topics.iter().position(|t| t.name == name).ok_or_else(|| {
        let known: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        ctx.err(
            key,
            format!(
                "`{name}` is not one of the [[topics]] ({})",
                known.join(", ")
            ),
            "name a topic listed under [[topics]], or add it there",
        )
    })
}

/// The largest event: librdkafka's default `message.max.bytes` (1,000,000) less 1 KiB for the
/// key, the headers and the record overhead.
const MAX_EVENT_SIZE: u64 = 1_000_000 - 1024;

fn resolve_size(ctx: &Ctx, key: &str, size: Option<&Scalar>) -> Result<(u64, u64), ScenarioError> {
    let fix = "write a size such as \"512B\" or \"2KiB\", or a range such as \"256B..2KiB\"";
    let text = match size {
        None => return Ok((512, 512)),
        Some(Scalar::Int(bytes)) if *bytes > 0 => format!("{bytes}B"),
        Some(Scalar::Text(text)) => text.clone(),
        Some(other) => return Err(ctx.err(key, format!("`{other}` is not a size"), fix)),
    };
    let parse = |part: &str| {
        part.parse::<Size>()
            .map(|s| s.0)
            .map_err(|problem| ctx.err(key, problem, fix))
    };
    let (min, max) = match text.split_once("..") {
        Some((low, high)) => (parse(low)?, parse(high)?),
        None => {
            let size = parse(&text)?;
            (size, size)
        }
    };
    if min > max {
        return Err(ctx.err(
            key,
            format!("`{}` is not a usable size range", super::shapes::cut(&text)),
            "keep min <= max",
        ));
    }
    if max > MAX_EVENT_SIZE {
        return Err(ctx.err(
            key,
            format!("`{}` is larger than a producer sends ({MAX_EVENT_SIZE} bytes)", super::shapes::cut(&text)),
            "keep events at most 998,976 bytes: librdkafka's message.max.bytes (1,000,000) less 1 KiB for key, headers and record overhead",
        ));
    }
    Ok((min, max))
}

fn resolve_events(
    ctx: &Ctx,
    raw: Vec<RawEvent>,
    topics: &[TopicSpec],
) -> Result<(Vec<AggregateSpec>, Vec<EventSpec>), ScenarioError> {
    if raw.is_empty() {
        return Err(ctx.err(
            "events",
            "the scenario has no [[events]]",
            "add at least one [[events]] table with a name and a topic",
        ));
    }
    let mut aggregates: Vec<AggregateSpec> = Vec::new();
    let mut events: Vec<EventSpec> = Vec::new();
    for (i, event) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("events[{i}].{field}");
        let name = ctx.name(&key("name"), event.name.as_ref(), "event")?;
        if events.iter().any(|e| e.name == name) {
            return Err(ctx.err(
                key("name"),
                format!("event `{name}` is listed twice"),
                "give each [[events]] entry its own name",
            ));
        }
        let topic_name = event.topic.ok_or_else(|| {
            ctx.err(
                key("topic"),
                "the event has no topic",
                "add topic = \"...\" naming one of the [[topics]]",
            )
        })?;
        let topic = topic_index(ctx, &key("topic"), &topic_name, topics)?;
        let weight = event.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight > 0.0) {
            return Err(ctx.err(
                key("weight"),
                format!("{weight} is not a weight"),
                "use a number above 0; weights are relative shares of the mix",
            ));
        }
        let (size_min, size_max) = resolve_size(ctx, &key("size"), event.size.as_ref())?;
        let keys = ctx.positive(&key("keys"), event.keys, 10_000, u32::MAX as i64)? as u64;
        let distribution = match event.distribution.as_deref().unwrap_or("uniform") {
            "uniform" => KeyDistribution::Uniform,
            "zipf" => {
                let exponent = event.zipf_exponent.unwrap_or(1.0);
                if !(exponent.is_finite() && exponent > 0.0) {
                    return Err(ctx.err(
                        key("zipf_exponent"),
                        format!("{exponent} is not a zipf exponent"),
                        "use a number above 0, e.g. 1.0",
                    ));
                }
                KeyDistribution::Zipf { exponent }
            }
            other => {
                return Err(ctx.err(
                    key("distribution"),
                    format!("`{other}` is not a key distribution"),
                    "use \"uniform\" or \"zipf\"",
                ));
            }
        };
        let aggregate_name = event.aggregate.unwrap_or_else(|| name.to_lowercase());
        let aggregate = match aggregates.iter().position(|a| a.name == aggregate_name) {
            Some(index) => {
                let existing = &aggregates[index];
                let same_keys = event.keys.is_none_or(|k| k as u64 == existing.keys);
                if existing.topic != topic
                    || !same_keys
                    || (event.distribution.is_some() && distribution != existing.distribution)
                {
                    return Err(ctx.err(
                        key("aggregate"),
                        format!("aggregate `{aggregate_name}` is already used with another topic, key count or distribution"),
                        "events of one aggregate share its keys and partition: give them the same topic, keys and distribution, or another aggregate name",
                    ));
                }
                index
            }
            None => {
                aggregates.push(AggregateSpec {
                    name: aggregate_name,
                    topic,
                    keys,
                    distribution,
                });
                aggregates.len() - 1
            }
        };
        events.push(EventSpec {
            name,
            aggregate,
            weight,
            size_min,
            size_max,
        });
    }
    Ok((aggregates, events))
}

fn resolve_phases(
    ctx: &Ctx,
    raw: Vec<RawPhase>,
    overrides: &Overrides,
) -> Result<Vec<Phase>, ScenarioError> {
    if raw.is_empty() {
        return Err(ctx.err("phases", "the scenario has no [[phases]]", "add a [[phases]] table with a rate and a duration, e.g. rate = \"5k/s\", duration = \"30s\""));
    }
    let rate_scale = overrides.rate_scale.unwrap_or(1.0);
    let duration_scale = overrides.duration_scale.unwrap_or(1.0);
    let base = Path::new(ctx.file).parent().unwrap_or(Path::new("."));
    let mut phases = Vec::new();
    for (i, phase) in raw.into_iter().enumerate() {
        let name = phase
            .name
            .clone()
            .unwrap_or_else(|| format!("phase-{}", i + 1));
        let expanded =
            super::shapes::expand(&name, &phase, base).map_err(|(field, problem, fix)| {
                ctx.err(format!("phases[{i}].{field}"), problem, fix)
            })?;
        for p in expanded {
            let duration = Duration::try_from_secs_f64(p.duration.as_secs_f64() * duration_scale)
                .ok()
                .filter(|d| *d <= super::shapes::MAX_PLAN)
                .ok_or_else(|| {
                    ctx.err(
                        format!("phases[{i}].duration"),
                        format!("scaled by {duration_scale} (--duration-scale), the phase would run past 7 days"),
                        "use a smaller --duration-scale or a shorter phase",
                    )
                })?;
            let shape = p.shape.scaled(rate_scale);
            if shape.peak_rate() > super::shapes::MAX_RATE || !shape.peak_rate().is_finite() {
                return Err(ctx.err(
                    format!("phases[{i}]"),
                    format!("scaled by {rate_scale} (--rate-scale), the phase offers more than 10M events/s"),
                    "use a smaller --rate-scale; split larger loads across generator hosts",
                ));
            }
            phases.push(Phase {
                shape,
                duration: duration.max(Duration::from_millis(1)),
                ..p
            });
        }
    }
    let total = phases
        .iter()
        .try_fold(Duration::ZERO, |sum, p| sum.checked_add(p.duration))
        .filter(|total| *total <= super::shapes::MAX_PLAN);
    if total.is_none() {
        return Err(ctx.err(
            "phases",
            "the phases together run longer than 7 days",
            "shorten the plan: every load test stops by itself within a week",
        ));
    }
    if !phases
        .iter()
        .any(|p| !p.warmup && p.shape.mean_rate() > 0.0)
    {
        return Err(ctx.err(
            "phases",
            "every phase is warmup or has rate 0, so nothing would be measured",
            "add a phase with warmup = false and a rate above 0",
        ));
    }
    Ok(phases)
}

fn resolve_groups(
    ctx: &Ctx,
    raw: Vec<RawGroup>,
    topics: &mut Vec<TopicSpec>,
    bootstrap: &Bootstrap,
    notes: &mut Vec<String>,
    planned: Duration,
    duration_scale: f64,
) -> Result<Vec<GroupSpec>, ScenarioError> {
    let mut groups: Vec<GroupSpec> = Vec::new();
    for (i, group) in raw.into_iter().enumerate() {
        let failures = resolve_failures(ctx, i, &group, topics, bootstrap, notes)?;
        let topics: &[TopicSpec] = topics;
        let key = |field: &str| format!("consumer_groups[{i}].{field}");
        let name = ctx.name(&key("name"), group.name.as_ref(), "consumer group")?;
        if name.contains('.') {
            return Err(ctx.err(key("name"), format!("`{name}` contains a dot"), "use letters, digits, `-` and `_` in group names (SLOs name groups as group.NAME.metric)"));
        }
        if groups.iter().any(|g| g.name == name) {
            return Err(ctx.err(
                key("name"),
                format!("group `{name}` is listed twice"),
                "give each consumer group its own name",
            ));
        }
        let topic_names = group.topics.unwrap_or_default();
        if topic_names.is_empty() {
            return Err(ctx.err(
                key("topics"),
                "the group reads no topics",
                "add topics = [\"...\"] naming [[topics]] entries",
            ));
        }
        let mut indices = Vec::new();
        for (j, topic) in topic_names.iter().enumerate() {
            let index = topic_index(
                ctx,
                &format!("consumer_groups[{i}].topics[{j}]"),
                topic,
                topics,
            )?;
            if !indices.contains(&index) {
                indices.push(index);
            }
        }
        let members = ctx.positive(&key("members"), group.members, 1, 64)? as u16;
        if group.member_leaves_at.is_some() {
            return Err(ctx.err(
                key("member_leaves_at"),
                "a member leaving is a fault now, on the scenario's timeline",
                format!("replace it with\n  [[faults]]\n  kind = \"member_leave\"\n  group = \"{name}\"\n  at = \"{}\"", group.member_leaves_at.as_deref().unwrap_or("10s")),
            ));
        }
        let start = match group.start.as_deref().unwrap_or("end") {
            "end" => GroupStart::End,
            "earliest" => GroupStart::Earliest,
            other => {
                return Err(ctx.err(
                    key("start"),
                    format!("`{other}` is not a start position"),
                    "use \"end\" (only this run's events) or \"earliest\" (replay retention)",
                ));
            }
        };
        let starts_after = match group.starts_after.as_deref() {
            None => None,
            Some("produce") => Some(StartsAfter::Produce),
            // A time on the plan's timeline, scaled with it by --duration-scale (as faults are).
            Some(text) => Some(StartsAfter::At(parse_duration(text).ok().and_then(|at| Duration::try_from_secs_f64(at.as_secs_f64() * duration_scale).ok()).ok_or(()).map_err(|_| {
                ctx.err(
                    key("starts_after"),
                    format!("`{}` is neither \"produce\" nor a duration", super::shapes::cut(text)),
                    "write starts_after = \"produce\" (join once the producers finish) or a time from the plan's start, e.g. \"30s\"",
                )
            })?)),
        };
        if let Some(StartsAfter::At(at)) = starts_after
            && at >= planned
        {
            return Err(ctx.err(
                key("starts_after"),
                format!(
                    "{} is not before the plan ends ({})",
                    super::units::format_duration(at),
                    super::units::format_duration(planned)
                ),
                "join during the plan, or write starts_after = \"produce\" to join once the producers finish",
            ));
        }
        if starts_after.is_some() && start != GroupStart::Earliest {
            return Err(ctx.err(
                key("starts_after"),
                "a group that joins late and starts at the end of its topics reads only what is sent after it joins, and its loss check cannot tell that from loss",
                "add start = \"earliest\" to replay what was sent before it joined",
            ));
        }
        groups.push(GroupSpec {
            name,
            topics: indices,
            members,
            processing_time: ctx.duration(
                &key("processing_time"),
                group.processing_time.as_ref(),
                Duration::ZERO,
            )?,
            commit_interval: ctx.duration(
                &key("commit_interval"),
                group.commit_interval.as_ref(),
                Duration::from_millis(500),
            )?,
            start,
            starts_after,
            failures,
        });
    }
    Ok(groups)
}

/// The most retries a group may take per event, and the longest single backoff.
const MAX_RETRIES: usize = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A group's failure model: failure_rate, non_retryable_rate, poison_keys, retry_backoff and
/// dlt_topic. A dead-letter topic not listed in [[topics]] is added, so surge creates it.
fn resolve_failures(
    ctx: &Ctx,
    i: usize,
    group: &RawGroup,
    topics: &mut Vec<TopicSpec>,
    bootstrap: &Bootstrap,
    notes: &mut Vec<String>,
) -> Result<Option<FailureSpec>, ScenarioError> {
    let key = |field: &str| format!("consumer_groups[{i}].{field}");
    let share = |field: &str, value: Option<f64>| -> Result<f64, ScenarioError> {
        match value {
            None => Ok(0.0),
            Some(v) if v.is_finite() && (0.0..=1.0).contains(&v) => Ok(v),
            Some(v) => Err(ctx.err(
                key(field),
                format!("{v} is not a share of events"),
                format!("write a fraction from 0 to 1, e.g. {field} = 0.001 for 0.1%"),
            )),
        }
    };
    let rate = share("failure_rate", group.failure_rate)?;
    let non_retryable_rate = share("non_retryable_rate", group.non_retryable_rate)?;
    if rate + non_retryable_rate > 1.0 {
        return Err(ctx.err(
            key("non_retryable_rate"),
            format!(
                "failure_rate and non_retryable_rate add up to {}, more than every event",
                rate + non_retryable_rate
            ),
            "keep their sum at most 1",
        ));
    }
    let poison_keys = match group.poison_keys {
        None => 0,
        Some(n) if (1..=1_000_000).contains(&n) => n as u32,
        Some(n) => {
            return Err(ctx.err(
                key("poison_keys"),
                format!("{n} is out of range"),
                "use a whole number from 1 to 1000000 (the first N keys of every aggregate type the group reads always fail)",
            ));
        }
    };
    let fails = rate > 0.0 || non_retryable_rate > 0.0 || poison_keys > 0;
    if !fails {
        for (field, set) in [
            ("retry_backoff", group.retry_backoff.is_some()),
            ("dlt_topic", group.dlt_topic.is_some()),
        ] {
            if set {
                return Err(ctx.err(
                    key(field),
                    format!("{field} applies to failing events, and the group has none"),
                    "add failure_rate (e.g. 0.001), non_retryable_rate or poison_keys, or remove it",
                ));
            }
        }
        return Ok(None);
    }
    let retry_backoff = match &group.retry_backoff {
        None => vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4),
        ],
        Some(list) => {
            if list.len() > MAX_RETRIES {
                return Err(ctx.err(
                    key("retry_backoff"),
                    format!(
                        "{} retries per event are more than surge runs ({MAX_RETRIES})",
                        list.len()
                    ),
                    "list at most 10 backoffs, e.g. [\"1s\", \"2s\", \"4s\"]",
                ));
            }
            let mut waits = Vec::new();
            for (j, text) in list.iter().enumerate() {
                let wait = parse_duration(text)
                    .ok()
                    .filter(|w| *w <= MAX_BACKOFF)
                    .ok_or_else(|| {
                        ctx.err(
                            format!("consumer_groups[{i}].retry_backoff[{j}]"),
                            format!("`{}` is not a backoff from 0s to 60s", super::shapes::cut(text)),
                            "write durations such as retry_backoff = [\"1s\", \"2s\", \"4s\"], or [] for no retries",
                        )
                    })?;
                waits.push(wait);
            }
            waits
        }
    };
    let dlt_name = group
        .dlt_topic
        .clone()
        .unwrap_or_else(|| super::DEFAULT_DLT_TOPIC.to_string());
    let dlt_name = ctx.name(&key("dlt_topic"), Some(&dlt_name), "topic")?;
    let dlt_topic = match topics.iter().position(|t| t.name == dlt_name) {
        Some(index) => index,
        None => {
            let replication_factor = match bootstrap {
                Bootstrap::Embedded { brokers } => (*brokers).min(3),
                _ => 3,
            };
            notes.push(format!(
                "dead-letter topic `{dlt_name}` is not in [[topics]]: surge creates it with 3 partitions and replication factor {replication_factor} when it does not exist"
            ));
            topics.push(TopicSpec {
                name: dlt_name,
                partitions: 3,
                replication_factor,
                config: Vec::new(),
            });
            topics.len() - 1
        }
    };
    Ok(Some(FailureSpec {
        rate,
        non_retryable_rate,
        poison_keys,
        retry_backoff,
        dlt_topic,
    }))
}

/// A dead-letter topic holds what surge's groups publish and check after the drain: no event
/// is sent there and no group reads it (its records carry the events they failed, which a
/// group would count as duplicates).
fn check_dead_letter_topics(
    ctx: &Ctx,
    groups: &[GroupSpec],
    events: &[EventSpec],
    aggregates: &[AggregateSpec],
    topics: &[TopicSpec],
) -> Result<(), ScenarioError> {
    for (g, group) in groups.iter().enumerate() {
        let Some(failures) = &group.failures else {
            continue;
        };
        let name = &topics[failures.dlt_topic].name;
        if let Some(e) = events
            .iter()
            .position(|e| aggregates[e.aggregate].topic == failures.dlt_topic)
        {
            return Err(ctx.err(
                format!("events[{e}].topic"),
                format!(
                    "`{name}` is the dead-letter topic of group `{}`",
                    group.name
                ),
                "send events to another topic, or give the group another dlt_topic",
            ));
        }
        if let Some((r, reader)) = groups
            .iter()
            .enumerate()
            .find(|(_, r)| r.topics.contains(&failures.dlt_topic))
        {
            return Err(ctx.err(
                format!("consumer_groups[{r}].topics"),
                format!(
                    "group `{}` reads `{name}`, the dead-letter topic of group `{}`; surge reads it back itself after the drain",
                    reader.name, groups[g].name
                ),
                "remove the dead-letter topic from the group's topics",
            ));
        }
    }
    Ok(())
}

fn resolve_slos(
    ctx: &Ctx,
    raw: Vec<String>,
    overrides: &Overrides,
    groups: &[GroupSpec],
    faults: &[FaultSpec],
) -> Result<Vec<Slo>, ScenarioError> {
    let mut slos: Vec<Slo> = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        let slo: Slo = text.parse().map_err(|problem: String| {
            ctx.err(
                format!("slo.checks[{i}]"),
                problem,
                "see docs/scenarios.md, \"SLOs\"",
            )
        })?;
        slos.push(slo);
    }
    for slo in &overrides.slos {
        match slos.iter_mut().find(|s| s.metric == slo.metric) {
            Some(existing) => *existing = slo.clone(),
            None => slos.push(slo.clone()),
        }
    }
    // Integrity is judged on every run; a scenario relaxes a check only by naming its metric.
    // A produce-only scenario has no group to count loss in: only `failed` applies there.
    for integrity in crate::scenario::slo::integrity_defaults() {
        let no_group_to_count =
            matches!(integrity.metric, Metric::Count { .. }) && groups.is_empty();
        let named = slos.iter().any(|s| s.metric.same_kind(&integrity.metric));
        if !no_group_to_count && !named {
            slos.push(integrity);
        }
    }
    // Dead-letter sends are writes like any other: one the topic does not hold is lost.
    let dlt_lost = Metric::Failures {
        group: None,
        figure: crate::scenario::FailureFigure::DltLost,
    };
    if groups.iter().any(|g| g.failures.is_some())
        && !slos.iter().any(|s| s.metric.same_kind(&dlt_lost))
    {
        slos.push(Slo {
            metric: dlt_lost,
            comparison: Comparison::Equal,
            limit: 0.0,
            default: true,
        });
    }
    for slo in &slos {
        let needs_groups = matches!(
            slo.metric,
            Metric::E2e { .. }
                | Metric::Count { .. }
                | Metric::LagMax { .. }
                | Metric::Failures { .. }
                | Metric::RetryDelay { .. }
                | Metric::CatchupRate { .. }
                | Metric::CatchupTime { .. }
                | Metric::ReplayRate { .. }
        );
        if let Some(fault) = slo.metric.fault()
            && !faults.iter().any(|f| f.name == fault)
        {
            let known: Vec<&str> = faults.iter().map(|f| f.name.as_str()).collect();
            return Err(ctx.err(
                "slo",
                format!("`{slo}` names fault `{fault}`, which is not in [[faults]]"),
                if known.is_empty() {
                    "add a [[faults]] entry with that name, or drop this SLO".to_string()
                } else {
                    format!("use one of: {}", known.join(", "))
                },
            ));
        }
        if matches!(slo.metric, Metric::Fault { fault: None, .. }) && faults.is_empty() {
            return Err(ctx.err(
                "slo",
                format!("`{slo}` judges faults, and the scenario has none"),
                "add a [[faults]] entry or drop this SLO",
            ));
        }
        if let Some(group) = slo.metric.group() {
            if !groups.iter().any(|g| g.name == group) {
                return Err(ctx.err(
                    "slo",
                    format!("`{slo}` names group `{group}`, which is not in [[consumer_groups]]"),
                    "use the name of a consumer group of this scenario",
                ));
            }
        } else if needs_groups && groups.is_empty() {
            return Err(ctx.err(
                "slo",
                format!("`{slo}` needs a consumer group, and the scenario has none"),
                "add a [[consumer_groups]] entry or drop this SLO",
            ));
        }
    }
    Ok(slos)
}

#[cfg(test)]
mod secret_tests {
    use super::is_secret_property;

    #[test]
    fn every_sensitive_librdkafka_property_is_secret() {
        // The properties librdkafka itself marks sensitive, and surge's AWS variables.
        for key in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.key.pem",
            "ssl_key",
            "sasl.oauthbearer.config",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.assertion.private.key.passphrase",
            "sasl.oauthbearer.assertion.private.key.pem",
        ] {
            assert!(is_secret_property(key), "{key}");
        }
        for key in [
            "sasl.username",
            "ssl.ca.location",
            "linger.ms",
            "sasl.oauthbearer.client.id",
        ] {
            assert!(!is_secret_property(key), "{key}");
        }
    }
}
