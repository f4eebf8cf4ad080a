//! What one run may take: `[run]`'s timeouts, baseline and trust thresholds, and the memory and
//! time bounds every scenario must fit (key states, client buffers, unsent events).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Ctx, Overrides};
use crate::scenario::faults::boundaries;
use crate::scenario::raw::RawRun;
use crate::scenario::units::parse_percent;
use crate::scenario::{
    AggregateSpec, ClusterProfile, EventSpec, FaultSpec, GroupSpec, RunLimits, ScenarioError,
};

/// The most key states surge holds: one per key for the sent ledger, plus one per key for each
/// group that reads the key's topic (docs/measuring.md, "Envelope": 60-140 bytes each).
pub const MAX_KEY_STATES: u64 = 20_000_000;
/// The most memory [`MAX_KEY_STATES`] key states take, proven by `tests/envelope.rs`:
/// 2.5 GiB (hash tables grow in powers of two, so a key state takes 60-140 bytes).
pub const MAX_KEY_STATE_BYTES: u64 = 5 * 512 * 1024 * 1024;
/// The most consumer groups one run holds.
pub const MAX_GROUPS: usize = 16;

/// What librdkafka may buffer, over all clients of one kind together (KiB): 4 GiB.
pub const MAX_CLIENT_BUFFER_KIB: u64 = 4 * 1024 * 1024;

/// `[run]`, with `--baseline` and `--max-regression` replacing what it says.
pub(super) fn resolve_limits(
    ctx: &Ctx,
    raw: RawRun,
    path: &Path,
    overrides: &Overrides,
) -> Result<RunLimits, ScenarioError> {
    let baseline = baseline(ctx, &raw, path, overrides)?;
    let max_regression = max_regression(ctx, &raw, overrides, baseline.as_ref().map(|b| &b.1))?;
    let baseline = baseline
        .map(|(key, dir)| run_dir(ctx, key, dir))
        .transpose()?;
    let min_achieved_ratio = raw.min_achieved_ratio.unwrap_or(0.99);
    if !(0.0..=1.0).contains(&min_achieved_ratio) {
        return Err(ctx.err(
            "run.min_achieved_ratio",
            format!("{min_achieved_ratio} is not a ratio"),
            "use a number from 0 to 1, e.g. 0.99",
        ));
    }
    Ok(RunLimits {
        connect_timeout: at_least(
            ctx,
            "run.connect_timeout",
            raw.connect_timeout.as_ref(),
            Duration::from_secs(10),
            Duration::from_millis(100),
        )?,
        group_join_timeout: at_least(
            ctx,
            "run.group_join_timeout",
            raw.group_join_timeout.as_ref(),
            Duration::from_secs(60),
            Duration::from_millis(100),
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
        max_schedule_lag_p99: at_least(
            ctx,
            "run.max_schedule_lag_p99",
            raw.max_schedule_lag_p99.as_ref(),
            Duration::from_millis(50),
            Duration::from_micros(1),
        )?,
        min_achieved_ratio,
        baseline,
        max_regression,
    })
}

/// A duration of `[run]` that is at least `minimum`: a connect timeout of 0s would fail every
/// run with a timeout that says nothing of the cluster.
fn at_least(
    ctx: &Ctx,
    key: &str,
    value: Option<&String>,
    default: Duration,
    minimum: Duration,
) -> Result<Duration, ScenarioError> {
    let duration = ctx.duration(key, value, default)?;
    if duration < minimum {
        return Err(ctx.err(
            key,
            format!(
                "{} is shorter than {}, which no run can work within",
                crate::scenario::units::format_duration(duration),
                crate::scenario::units::format_duration(minimum)
            ),
            format!(
                "set {key} to at least \"{}\"",
                crate::scenario::units::format_duration(minimum)
            ),
        ));
    }
    Ok(duration)
}

/// A baseline written in the file is relative to the file; a flag, to the current directory.
/// Returns the key that named it, and the directory.
fn baseline(
    ctx: &Ctx,
    raw: &RawRun,
    path: &Path,
    overrides: &Overrides,
) -> Result<Option<(&'static str, PathBuf)>, ScenarioError> {
    let (key, dir) = match (&overrides.baseline, &raw.baseline) {
        (Some(flag), _) => ("--baseline", flag.clone()),
        (None, Some(written)) if written.trim().is_empty() => {
            return Err(ctx.err(
                "run.baseline",
                "the baseline is an empty path",
                "name the run directory of an earlier run of this scenario, or remove run.baseline",
            ));
        }
        (None, Some(written)) => (
            "run.baseline",
            path.parent().unwrap_or_else(|| Path::new("")).join(written),
        ),
        (None, None) => return Ok(None),
    };
    Ok(Some((key, dir)))
}

/// A baseline must name a run directory: one with a `summary.json`.
fn run_dir(ctx: &Ctx, key: &str, dir: PathBuf) -> Result<PathBuf, ScenarioError> {
    if dir.as_os_str().is_empty() || !dir.join("summary.json").is_file() {
        return Err(ctx.err(
            key,
            format!(
                "`{}` is not a run directory (it holds no summary.json)",
                crate::input::quote(&dir.display().to_string(), 100)
            ),
            "name the directory an earlier `surge run` of this scenario wrote",
        ));
    }
    Ok(dir)
}

/// The tolerated worsening of p95 and p99 against the baseline, as a fraction.
fn max_regression(
    ctx: &Ctx,
    raw: &RawRun,
    overrides: &Overrides,
    baseline: Option<&PathBuf>,
) -> Result<Option<f64>, ScenarioError> {
    let max_regression = match (overrides.max_regression, raw.max_regression.as_deref()) {
        (Some(flag), _) => Some(flag),
        (None, Some(text)) => Some(parse_percent(text).map_err(|problem| {
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
    Ok(max_regression)
}

/// librdkafka keeps an unsent event for `message.timeout.ms` (300 s by default): a stalled
/// cluster would hold the run that long past its plan and past the first Ctrl-C. Unless the
/// scenario or -X sets it, an event may wait at most `send_grace + drain_timeout`.
pub(super) fn bound_message_timeout(producer: &mut Vec<(String, String)>, limits: &RunLimits) {
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

/// Bounds what the producers and the groups' members buffer together.
pub(super) fn bound_client_buffers(
    ctx: &Ctx,
    cluster: &mut ClusterProfile,
    producer_instances: u16,
    members: u64,
) -> Result<(), ScenarioError> {
    bound_client_buffer(
        ctx,
        &mut cluster.producer,
        "queue.buffering.max.kbytes",
        1_048_576,
        producer_instances as u64,
    )?;
    bound_client_buffer(
        ctx,
        &mut cluster.consumer,
        "queued.max.messages.kbytes",
        65_536,
        members,
    )
}

/// librdkafka buffers up to `key` KiB per client (`default` when unset): 1 GiB of unsent events
/// per producer, 64 MiB of prefetched records per consumer. Unless the scenario or -X sets it,
/// the clients share [`MAX_CLIENT_BUFFER_KIB`]; a value set explicitly must fit in it.
fn bound_client_buffer(
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

/// Keeps the scenario inside the envelope docs/measuring.md states and `tests/envelope.rs` proves.
pub(super) fn check_envelope(
    ctx: &Ctx,
    aggregates: &[AggregateSpec],
    events: &[EventSpec],
    groups: &[GroupSpec],
    faults: &[FaultSpec],
) -> Result<(), ScenarioError> {
    let fault_marks = boundaries(faults).len() as u64;
    check_group_count(ctx, groups.len())?;
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

/// At most [`MAX_GROUPS`] consumer groups: checked before any is resolved, so that a file
/// listing a hundred thousand costs nothing.
pub(super) fn check_group_count(ctx: &Ctx, groups: usize) -> Result<(), ScenarioError> {
    if groups > MAX_GROUPS {
        return Err(ctx.err(
            format!("consumer_groups[{MAX_GROUPS}]"),
            format!("{groups} consumer groups are more than one run holds ({MAX_GROUPS})"),
            "split the groups over several runs",
        ));
    }
    Ok(())
}
