//! Stage two: defaults, overrides and validation, from [`RawScenario`] to [`Scenario`].
//!
//! [`resolve`] walks the file's tables in a fixed order, each step checking what the earlier
//! ones resolved, so a file with several mistakes always reports the same one first.

use std::collections::BTreeMap;
use std::path::Path;

mod cluster;
mod ctx;
mod events;
mod failures;
mod groups;
mod idempotence;
mod judgeable;
mod librdkafka;
mod limits;
mod phases;
mod properties;
mod protocol;
mod slos;

pub use events::MAX_EVENT_SIZE;
pub use librdkafka::property;
pub use limits::{MAX_CLIENT_BUFFER_KIB, MAX_GROUPS, MAX_KEY_STATE_BYTES, MAX_KEY_STATES};
pub use properties::{INSECURE_TLS_WARNING, is_secret_property, merge};
pub use protocol::{GroupField, GroupSetting};

use self::cluster::resolve_cluster;
use self::ctx::Ctx;
use self::events::{resolve_events, resolve_topics};
use self::failures::check_dead_letter_topics;
use self::groups::{Timeline, check_processing_time, resolve_groups};
use self::limits::{bound_client_buffers, bound_message_timeout, check_envelope, resolve_limits};
use self::phases::resolve_phases;
use self::slos::resolve_slos;
use super::faults::{FaultContext, resolve_faults};
use super::raw::{RawLabel, RawProducer, RawScenario};
use super::units::Scalar;
use super::{Label, PlanSettings, Scenario, ScenarioError, Slo, WorkerShare, members_at_most};

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
    pub label: Label,
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
    /// `--set group.NAME.protocol=...`: replace a group's protocol or assignor.
    pub group_settings: Vec<GroupSetting>,
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
    let name = scenario_name(&ctx, raw.name.as_ref(), path)?;

    let raw_cluster = raw.cluster.unwrap_or_default();
    let mut cluster = resolve_cluster(&ctx, raw_cluster, overrides, &mut notes)?;
    let limits = resolve_limits(&ctx, raw.run.unwrap_or_default(), path, overrides)?;
    bound_message_timeout(&mut cluster.producer, &limits);
    let producer_instances = producer_instances(&ctx, raw.producer.as_ref())?;

    let raw_topics = raw.topics.unwrap_or_default();
    let mut topics = resolve_topics(&ctx, raw_topics, &cluster.bootstrap, &mut notes)?;
    let (aggregates, events) = resolve_events(&ctx, raw.events.unwrap_or_default(), &topics)?;
    let phases = resolve_phases(&ctx, raw.phases.unwrap_or_default(), overrides)?;
    let timeline = Timeline::of(&phases, overrides);
    let groups = resolve_groups(
        &ctx,
        raw.consumer_groups.unwrap_or_default(),
        &mut topics,
        &cluster,
        &mut notes,
        timeline,
        &overrides.group_settings,
    )?;
    check_dead_letter_topics(&ctx, &groups, &events, &aggregates, &topics)?;
    check_processing_time(&ctx, &groups, &limits)?;

    let fault_context = FaultContext {
        file: &file,
        bootstrap: &cluster.bootstrap,
        topics: &topics,
        groups: &groups,
        planned: timeline.planned,
        duration_scale: timeline.duration_scale,
    };
    let faults = resolve_faults(&fault_context, raw.faults.unwrap_or_default())?;
    // Every member a group may have, its own and those faults add, shares the consumer cap.
    let members: u64 = (0..groups.len())
        .map(|g| members_at_most(&groups, &faults, g))
        .sum();
    bound_client_buffers(&ctx, &mut cluster, producer_instances, members)?;
    check_envelope(&ctx, &aggregates, &events, &groups, &faults)?;
    let raw_slo = raw.slo.unwrap_or_default();
    let slos = resolve_slos(
        &ctx,
        raw_slo.checks.unwrap_or_default(),
        overrides,
        &phases,
        &groups,
        &faults,
    )?;
    let peak_phase = judgeable::peak_phase(&ctx, raw_slo.peak_phase, &phases)?;
    let produces = judgeable::Produces {
        peak_phase: peak_phase.as_deref(),
        phases: &phases,
        groups: &groups,
        faults: &faults,
        statistics_interval: [&cluster.producer, &cluster.consumer]
            .into_iter()
            .filter_map(|properties| librdkafka::property(properties, "statistics.interval.ms"))
            .find(|value| *value != super::STATISTICS_INTERVAL_MS),
    };
    judgeable::check_judgeable(&ctx, &slos, &produces)?;
    note_scales(overrides, &mut notes);

    Ok(Scenario {
        name,
        label: label(raw.label.unwrap_or_default(), &overrides.label),
        description: raw.description.unwrap_or_default(),
        source: path.to_path_buf(),
        source_text,
        seed: raw.seed.unwrap_or(1),
        cluster,
        producer_instances,
        workers: WorkerShare::default(),
        start_at_unix_us: None,
        type_headers: raw.producer.and_then(|p| p.type_headers).unwrap_or(true),
        limits,
        topics,
        aggregates,
        events,
        phases,
        groups,
        slos,
        peak_phase,
        faults,
        allow_commands: overrides.allow_commands,
        notes,
        settings: plan_settings(overrides),
    })
}

/// `name`, or the file's stem.
fn scenario_name(
    ctx: &Ctx,
    written: Option<&String>,
    path: &Path,
) -> Result<String, ScenarioError> {
    let default_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    ctx.name("name", Some(written.unwrap_or(&default_name)), "scenario")
}

/// `producer.instances`: how many producers send the load.
fn producer_instances(ctx: &Ctx, raw: Option<&RawProducer>) -> Result<u16, ScenarioError> {
    let instances = ctx.positive("producer.instances", raw.and_then(|p| p.instances), 1, 64)?;
    Ok(instances as u16)
}

/// Notes the scales the flags applied, for every report.
fn note_scales(overrides: &Overrides, notes: &mut Vec<String>) {
    if let Some(scale) = overrides.rate_scale {
        notes.push(format!("rates scaled by {scale} (--rate-scale)"));
    }
    if let Some(scale) = overrides.duration_scale {
        notes.push(format!("durations scaled by {scale} (--duration-scale)"));
    }
}

/// `[label]`, each field replaced by its flag; none without a name or a broker type (a type
/// alone names the label after itself: `express.m7g.large x 3`).
fn label(written: RawLabel, flags: &Label) -> Option<Label> {
    let brokers = flags.brokers.or(written.brokers);
    let instance_type = flags.instance_type.clone().or(written.instance_type);
    let name = if flags.name.is_empty() {
        written.name
    } else {
        Some(flags.name.clone())
    };
    let name = name.or_else(|| {
        let broker_type = instance_type.as_deref()?;
        Some(brokers.map_or(broker_type.to_string(), |n| format!("{broker_type} x {n}")))
    });
    name.map(|name| Label {
        name,
        brokers,
        instance_type,
        monthly_cost_usd: flags.monthly_cost_usd.or(written.monthly_cost_usd),
    })
}

/// What the command line changed in the plan, with secret property values redacted.
fn plan_settings(overrides: &Overrides) -> PlanSettings {
    PlanSettings {
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
        group_settings: overrides
            .group_settings
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// A table of scalars (`cluster.producer`, a topic's `config`) as property pairs, in key order.
fn scalar_map(map: Option<&BTreeMap<String, Scalar>>) -> Vec<(String, String)> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}
