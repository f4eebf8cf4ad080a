//! A group's failure model: which events fail, how often they are retried, and the
//! dead-letter topic they end on.

use std::time::Duration;

use super::Ctx;
use crate::scenario::raw::RawGroup;
use crate::scenario::shapes::cut;
use crate::scenario::units::parse_duration;
use crate::scenario::{
    AggregateSpec, Bootstrap, DEFAULT_DLT_TOPIC, EventSpec, FailureSpec, GroupSpec, ScenarioError,
    TopicSpec,
};

/// The most retries a group may take per event, and the longest single backoff.
const MAX_RETRIES: usize = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A group's failure model: failure_rate, non_retryable_rate, poison_keys, retry_backoff and
/// dlt_topic. A dead-letter topic not listed in [[topics]] is added, so surge creates it.
pub(super) fn resolve_failures(
    ctx: &Ctx,
    i: usize,
    group: &RawGroup,
    topics: &mut Vec<TopicSpec>,
    bootstrap: &Bootstrap,
    notes: &mut Vec<String>,
) -> Result<Option<FailureSpec>, ScenarioError> {
    let rate = share(ctx, i, "failure_rate", group.failure_rate)?;
    let non_retryable_rate = share(ctx, i, "non_retryable_rate", group.non_retryable_rate)?;
    if rate + non_retryable_rate > 1.0 {
        return Err(ctx.err(
            format!("consumer_groups[{i}].non_retryable_rate"),
            format!(
                "failure_rate and non_retryable_rate add up to {}, more than every event",
                rate + non_retryable_rate
            ),
            "keep their sum at most 1",
        ));
    }
    let poison_keys = poison_keys(ctx, i, group.poison_keys)?;
    let fails = rate > 0.0 || non_retryable_rate > 0.0 || poison_keys > 0;
    if !fails {
        check_no_failure_settings(ctx, i, group)?;
        return Ok(None);
    }
    let retry_backoff = retry_backoff(ctx, i, group.retry_backoff.as_ref())?;
    let dlt_topic = dead_letter_topic(ctx, i, group.dlt_topic.as_ref(), topics, bootstrap, notes)?;
    Ok(Some(FailureSpec {
        rate,
        non_retryable_rate,
        poison_keys,
        retry_backoff,
        dlt_topic,
    }))
}

/// A share of events, from 0 to 1; 0 when unset.
fn share(ctx: &Ctx, i: usize, field: &str, value: Option<f64>) -> Result<f64, ScenarioError> {
    match value {
        None => Ok(0.0),
        Some(v) if v.is_finite() && (0.0..=1.0).contains(&v) => Ok(v),
        Some(v) => Err(ctx.err(
            format!("consumer_groups[{i}].{field}"),
            format!("{v} is not a share of events"),
            format!("write a fraction from 0 to 1, e.g. {field} = 0.001 for 0.1%"),
        )),
    }
}

/// How many keys of every aggregate type the group reads always fail; 0 when unset.
fn poison_keys(ctx: &Ctx, i: usize, written: Option<i64>) -> Result<u32, ScenarioError> {
    match written {
        None => Ok(0),
        Some(n) if (1..=1_000_000).contains(&n) => Ok(n as u32),
        Some(n) => Err(ctx.err(
            format!("consumer_groups[{i}].poison_keys"),
            format!("{n} is out of range"),
            "use a whole number from 1 to 1000000 (the first N keys of every aggregate type the group reads always fail)",
        )),
    }
}

/// A group with no failing events has nothing to retry or dead-letter: setting either is a
/// mistake worth naming.
fn check_no_failure_settings(ctx: &Ctx, i: usize, group: &RawGroup) -> Result<(), ScenarioError> {
    for (field, set) in [
        ("retry_backoff", group.retry_backoff.is_some()),
        ("dlt_topic", group.dlt_topic.is_some()),
    ] {
        if set {
            return Err(ctx.err(
                format!("consumer_groups[{i}].{field}"),
                format!("{field} applies to failing events, and the group has none"),
                "add failure_rate (e.g. 0.001), non_retryable_rate or poison_keys, or remove it",
            ));
        }
    }
    Ok(())
}

/// The wait before each retry (1 s, 2 s and 4 s unless written): at most [`MAX_RETRIES`] of
/// them, each at most [`MAX_BACKOFF`].
fn retry_backoff(
    ctx: &Ctx,
    i: usize,
    written: Option<&Vec<String>>,
) -> Result<Vec<Duration>, ScenarioError> {
    let Some(list) = written else {
        return Ok(vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4),
        ]);
    };
    if list.len() > MAX_RETRIES {
        return Err(ctx.err(
            format!("consumer_groups[{i}].retry_backoff"),
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
                    format!("`{}` is not a backoff from 0s to 60s", cut(text)),
                    "write durations such as retry_backoff = [\"1s\", \"2s\", \"4s\"], or [] for no retries",
                )
            })?;
        waits.push(wait);
    }
    Ok(waits)
}

/// The index of the group's dead-letter topic, added to `topics` (and noted) when the scenario
/// does not list it.
fn dead_letter_topic(
    ctx: &Ctx,
    i: usize,
    written: Option<&String>,
    topics: &mut Vec<TopicSpec>,
    bootstrap: &Bootstrap,
    notes: &mut Vec<String>,
) -> Result<usize, ScenarioError> {
    let dlt_name = written
        .cloned()
        .unwrap_or_else(|| DEFAULT_DLT_TOPIC.to_string());
    let dlt_name = ctx.name(
        &format!("consumer_groups[{i}].dlt_topic"),
        Some(&dlt_name),
        "topic",
    )?;
    if let Some(index) = topics.iter().position(|t| t.name == dlt_name) {
        return Ok(index);
    }
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
    Ok(topics.len() - 1)
}

/// A dead-letter topic holds what surge's groups publish and check after the drain: no event
/// is sent there and no group reads it (its records carry the events they failed, which a
/// group would count as duplicates).
pub(super) fn check_dead_letter_topics(
    ctx: &Ctx,
    groups: &[GroupSpec],
    events: &[EventSpec],
    aggregates: &[AggregateSpec],
    topics: &[TopicSpec],
) -> Result<(), ScenarioError> {
    for group in groups {
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
                    reader.name, group.name
                ),
                "remove the dead-letter topic from the group's topics",
            ));
        }
    }
    Ok(())
}
