//! `[[consumer_groups]]`: who reads which topics, from where, when they join, and how long
//! each event takes them.

use std::time::Duration;

use super::events::topic_index;
use super::failures::resolve_failures;
use super::protocol::{
    GroupSetting, RawProtocol, check_no_protocol_properties, check_settings_name_groups,
    resolve_protocol,
};
use super::{Ctx, Overrides};
use crate::scenario::raw::RawGroup;
use crate::scenario::shapes::cut;
use crate::scenario::units::{format_duration, parse_duration};
use crate::scenario::{
    ClusterProfile, GroupSpec, GroupStart, Phase, RunLimits, ScenarioError, StartsAfter, TopicSpec,
};

/// The plan's timeline, which a late group's join time falls on.
#[derive(Clone, Copy)]
pub(super) struct Timeline {
    /// The plan's length, scaled.
    pub(super) planned: Duration,
    /// `--duration-scale`, 1 when not given.
    pub(super) duration_scale: f64,
}

impl Timeline {
    /// The timeline of `phases`, already scaled by `--duration-scale`.
    pub(super) fn of(phases: &[Phase], overrides: &Overrides) -> Timeline {
        Timeline {
            planned: phases.iter().map(|p| p.duration).sum(),
            duration_scale: overrides.duration_scale.unwrap_or(1.0),
        }
    }
}

/// `[[consumer_groups]]`, each with its failure model; a dead-letter topic not in `topics` is
/// added to it.
pub(super) fn resolve_groups(
    ctx: &Ctx,
    raw: Vec<RawGroup>,
    topics: &mut Vec<TopicSpec>,
    cluster: &ClusterProfile,
    notes: &mut Vec<String>,
    timeline: Timeline,
    settings: &[GroupSetting],
) -> Result<Vec<GroupSpec>, ScenarioError> {
    super::limits::check_group_count(ctx, raw.len())?;
    check_no_protocol_properties(ctx, &cluster.consumer_set)?;
    let mut groups: Vec<GroupSpec> = Vec::new();
    for (i, group) in raw.into_iter().enumerate() {
        let failures = resolve_failures(ctx, i, &group, topics, &cluster.bootstrap, notes)?;
        let key = |field: &str| format!("consumer_groups[{i}].{field}");
        let name = group_name(ctx, &key("name"), group.name.as_ref(), &groups)?;
        let raw_protocol = RawProtocol {
            protocol: group.protocol.as_ref(),
            assignor: group.assignor.as_ref(),
        };
        let (protocol, protocol_keys) = resolve_protocol(
            ctx,
            (i, &name),
            raw_protocol,
            settings,
            &cluster.consumer_set,
            notes,
        )?;
        let indices = group_topics(ctx, i, group.topics.unwrap_or_default(), topics)?;
        let members = ctx.positive(&key("members"), group.members, 1, 64)? as u16;
        if group.member_leaves_at.is_some() {
            return Err(ctx.err(
                key("member_leaves_at"),
                "a member leaving is a fault now, on the scenario's timeline",
                format!("replace it with\n  [[faults]]\n  kind = \"member_leave\"\n  group = \"{name}\"\n  at = \"{}\"", group.member_leaves_at.as_deref().unwrap_or("10s")),
            ));
        }
        let start = group_start(ctx, &key("start"), group.start.as_deref())?;
        let starts_after = starts_after(
            ctx,
            &key("starts_after"),
            group.starts_after.as_deref(),
            start,
            timeline,
        )?;
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
            protocol,
            protocol_keys,
        });
    }
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    check_settings_name_groups(ctx, settings, &names)?;
    Ok(groups)
}

/// A group's name: valid, free of dots (SLOs name groups as `group.NAME.metric`), and its own.
fn group_name(
    ctx: &Ctx,
    key: &str,
    written: Option<&String>,
    groups: &[GroupSpec],
) -> Result<String, ScenarioError> {
    let name = ctx.name(key, written, "consumer group")?;
    if name.contains('.') {
        return Err(ctx.err(key, format!("`{name}` contains a dot"), "use letters, digits, `-` and `_` in group names (SLOs name groups as group.NAME.metric)"));
    }
    if groups.iter().any(|g| g.name == name) {
        return Err(ctx.err(
            key,
            format!("group `{name}` is listed twice"),
            "give each consumer group its own name",
        ));
    }
    // Each group's latency log is named after it with `_` written `-` (e2e-NAME.hlog).
    let file_name = |n: &str| n.replace('_', "-");
    if let Some(other) = groups
        .iter()
        .find(|g| file_name(&g.name) == file_name(&name))
    {
        return Err(ctx.err(
            key,
            format!(
                "groups `{}` and `{name}` differ only by `-` and `_`, and would share one latency log",
                other.name
            ),
            "give the groups names that differ otherwise",
        ));
    }
    Ok(name)
}

/// The indices of the topics a group reads: at least one, each listed once.
fn group_topics(
    ctx: &Ctx,
    i: usize,
    names: Vec<String>,
    topics: &[TopicSpec],
) -> Result<Vec<usize>, ScenarioError> {
    if names.is_empty() {
        return Err(ctx.err(
            format!("consumer_groups[{i}].topics"),
            "the group reads no topics",
            "add topics = [\"...\"] naming [[topics]] entries",
        ));
    }
    let mut indices = Vec::new();
    for (j, topic) in names.iter().enumerate() {
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
    Ok(indices)
}

/// Where a new group starts reading: the end of each partition (the default) or the earliest
/// retained offset.
fn group_start(ctx: &Ctx, key: &str, written: Option<&str>) -> Result<GroupStart, ScenarioError> {
    match written.unwrap_or("end") {
        "end" => Ok(GroupStart::End),
        "earliest" => Ok(GroupStart::Earliest),
        other => Err(ctx.err(
            key,
            format!("`{other}` is not a start position"),
            "use \"end\" (only this run's events) or \"earliest\" (replay retention)",
        )),
    }
}

/// When a late group joins: once the producers finish, or at a time before the plan ends. A
/// late group replays from the earliest offset, or its loss check could not tell what was sent
/// before it joined from loss.
fn starts_after(
    ctx: &Ctx,
    key: &str,
    written: Option<&str>,
    start: GroupStart,
    timeline: Timeline,
) -> Result<Option<StartsAfter>, ScenarioError> {
    let starts_after = match written {
        None => None,
        Some("produce") => Some(StartsAfter::Produce),
        // A time on the plan's timeline, scaled with it by --duration-scale (as faults are).
        Some(text) => Some(StartsAfter::At(
            parse_duration(text)
                .ok()
                .and_then(|at| {
                    Duration::try_from_secs_f64(at.as_secs_f64() * timeline.duration_scale).ok()
                })
                .ok_or_else(|| {
                    ctx.err(
                        key,
                        format!("`{}` is neither \"produce\" nor a duration", cut(text)),
                        "write starts_after = \"produce\" (join once the producers finish) or a time from the plan's start, e.g. \"30s\"",
                    )
                })?,
        )),
    };
    if let Some(StartsAfter::At(at)) = starts_after
        && at >= timeline.planned
    {
        return Err(ctx.err(
            key,
            format!(
                "{} is not before the plan ends ({})",
                format_duration(at),
                format_duration(timeline.planned)
            ),
            "join during the plan, or write starts_after = \"produce\" to join once the producers finish",
        ));
    }
    if starts_after.is_some() && start != GroupStart::Earliest {
        return Err(ctx.err(
            key,
            "a group that joins late and starts at the end of its topics reads only what is sent after it joins, and its loss check cannot tell that from loss",
            "add start = \"earliest\" to replay what was sent before it joined",
        ));
    }
    Ok(starts_after)
}

/// Simulated work per event cannot outlast the drain, or stopping a member would wait on it.
pub(super) fn check_processing_time(
    ctx: &Ctx,
    groups: &[GroupSpec],
    limits: &RunLimits,
) -> Result<(), ScenarioError> {
    for (i, group) in groups.iter().enumerate() {
        if group.processing_time >= limits.drain_timeout {
            return Err(ctx.err(
                format!("consumer_groups[{i}].processing_time"),
                format!(
                    "{} per event is not shorter than run.drain_timeout ({})",
                    format_duration(group.processing_time),
                    format_duration(limits.drain_timeout)
                ),
                "simulate at most a fraction of the drain per event, e.g. processing_time = \"2ms\"",
            ));
        }
    }
    Ok(())
}
