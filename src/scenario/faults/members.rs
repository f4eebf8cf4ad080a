//! The fault kinds that change a group's members (`member_crash`, `member_leave`,
//! `member_join`, `scale_group`), and who is left to fault as they happen.

use std::time::Duration;

use super::FaultKind;
use super::kinds::{Entry, MAX_MEMBERS, group_index};
use crate::scenario::ScenarioError;
use crate::scenario::units::{format_duration, parse_duration};

/// Members that left or crashed, and members added, per group: who is left to fault, in
/// the order the faults happen.
pub(in crate::scenario::faults) struct Members {
    gone: Vec<Vec<u16>>,
    joined: Vec<u16>,
}

impl Members {
    pub fn new(groups: usize) -> Members {
        Members {
            gone: vec![Vec::new(); groups],
            joined: vec![0; groups],
        }
    }
}

/// `member_crash` and `member_leave`: a member goes, and at least one stays to consume.
pub(super) fn member_gone(
    entry: &Entry,
    members: &mut Members,
) -> Result<FaultKind, ScenarioError> {
    let group = group_index(entry)?;
    let spec = &entry.cx.groups[group];
    let total = spec.members + members.joined[group];
    let gone = &mut members.gone[group];
    let member = match entry.fault.member {
        Some(m) if (0..total as i64).contains(&m) => m as u16,
        Some(m) => {
            return Err(entry.err(
                "member",
                format!(
                    "group `{}` has members 0 to {}, not {m}",
                    spec.name,
                    total - 1
                ),
                format!("use a member from 0 to {}", total - 1),
            ));
        }
        None => (0..total).rev().find(|m| !gone.contains(m)).unwrap_or(0),
    };
    if gone.contains(&member) {
        return Err(entry.err(
            "member",
            format!("member {member} of `{}` is already gone by then", spec.name),
            "pick another member",
        ));
    }
    if gone.len() + 1 >= total as usize {
        return Err(entry.err(
            "group",
            format!(
                "group `{}` would have no member left to consume ({} of {total})",
                spec.name,
                gone.len() + 1
            ),
            "raise the group's members, or add a member_join fault before this one",
        ));
    }
    gone.push(member);
    Ok(if entry.kind == "member_crash" {
        FaultKind::MemberCrash { group, member }
    } else {
        FaultKind::MemberLeave { group, member }
    })
}

pub(super) fn member_join(
    entry: &Entry,
    members: &mut Members,
) -> Result<FaultKind, ScenarioError> {
    let group = group_index(entry)?;
    let member = entry.cx.groups[group].members + members.joined[group];
    if member >= MAX_MEMBERS {
        return Err(entry.err(
            "group",
            format!(
                "group `{}` would have more than {MAX_MEMBERS} members",
                entry.cx.groups[group].name
            ),
            "join fewer members",
        ));
    }
    members.joined[group] += 1;
    Ok(FaultKind::MemberJoin { group, member })
}

/// `scale_group`: from the members the group has at `at` to `to`, one member per step.
pub(super) fn scale_group(
    entry: &Entry,
    members: &mut Members,
) -> Result<FaultKind, ScenarioError> {
    let group = group_index(entry)?;
    let spec = &entry.cx.groups[group];
    if spec.starts_after.is_some() {
        return Err(entry.err(
            "group",
            format!(
                "group `{}` joins late (starts_after): its members start with its replay, not on the fault's steps",
                spec.name
            ),
            "scale a group that consumes from the start, or drop starts_after",
        ));
    }
    let total = spec.members + members.joined[group];
    let live: Vec<u16> = (0..total)
        .filter(|m| !members.gone[group].contains(m))
        .collect();
    let from = live.len() as u16;
    let to = scale_target(entry, &spec.name, total, from)?;
    let step_every = step_interval(entry)?;
    let last = entry.at + step_every * u32::from(from.abs_diff(to) - 1);
    if last >= entry.cx.planned {
        return Err(entry.err(
            "step_every",
            format!(
                "the last of {} steps would come at {}, after the plan ends ({})",
                from.abs_diff(to),
                format_duration(last),
                format_duration(entry.cx.planned)
            ),
            "start the scale earlier, or shorten step_every",
        ));
    }
    let steps: Vec<u16> = if to > from {
        let added = (total..total + (to - from)).collect();
        members.joined[group] += to - from;
        added
    } else {
        // The newest members go first, as an autoscaler removes the pods it added last.
        let removed: Vec<u16> = live
            .iter()
            .rev()
            .take((from - to) as usize)
            .copied()
            .collect();
        members.gone[group].extend(&removed);
        removed
    };
    Ok(FaultKind::ScaleGroup {
        group,
        from,
        to,
        step_every,
        steps,
    })
}

/// `to`: a member count other than the `from` the group has by then, with at least one member
/// left and at most [`MAX_MEMBERS`] ever (`total` so far).
fn scale_target(entry: &Entry, group: &str, total: u16, from: u16) -> Result<u16, ScenarioError> {
    let Some(to) = entry.fault.to else {
        return Err(entry.err(
            "to",
            "a `scale_group` fault needs the member count to reach".into(),
            "add to = 6",
        ));
    };
    if to == i64::from(from) {
        return Err(entry.err(
            "to",
            format!("group `{group}` has {from} members by then already"),
            "scale to another member count",
        ));
    }
    if !(1..=i64::from(MAX_MEMBERS)).contains(&to) {
        return Err(entry.err(
            "to",
            format!("{to} members is out of range"),
            format!("scale to 1 to {MAX_MEMBERS} members (at least one stays to consume)"),
        ));
    }
    let to = to as u16;
    if to > from && total + (to - from) > MAX_MEMBERS {
        return Err(entry.err(
            "to",
            format!("group `{group}` would have had more than {MAX_MEMBERS} members in all"),
            "scale to fewer members",
        ));
    }
    Ok(to)
}

/// `step_every`, 2 s when unset, scaled by `--duration-scale` like every time of the plan.
fn step_interval(entry: &Entry) -> Result<Duration, ScenarioError> {
    let written = match entry.fault.step_every.as_deref() {
        None => Duration::from_secs(2),
        Some(text) => parse_duration(text)
            .ok()
            .filter(|d| *d >= Duration::from_millis(100) && *d <= Duration::from_secs(3600))
            .ok_or_else(|| {
                entry.err(
                    "step_every",
                    format!("`{text}` is not a step interval from 100ms to 1h"),
                    "write it as a quoted duration, e.g. step_every = \"5s\"",
                )
            })?,
    };
    Ok(written.mul_f64(entry.cx.duration_scale))
}
