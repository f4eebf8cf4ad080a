//! Resolving `[[faults]]`: what every kind shares (its keys, name, time and duration, where it
//! can run) is checked here; what each kind needs is checked by its own resolver (`kinds`).

use std::time::Duration;

use super::kinds::{self, Entry, KindDef};
use super::members::Members;
use super::{Bootstrap, FaultContext, FaultKind, FaultSpec, MAX_FAULTS};
use crate::scenario::ScenarioError;
use crate::scenario::raw::RawFault;
use crate::scenario::units::{format_duration, parse_duration};

/// Resolves and checks every `[[faults]]` entry.
pub fn resolve_faults(
    cx: &FaultContext,
    raw: Vec<RawFault>,
) -> Result<Vec<FaultSpec>, ScenarioError> {
    if raw.len() > MAX_FAULTS {
        return Err(cx.err(
            format!("faults[{MAX_FAULTS}]"),
            format!(
                "{} faults are more than one run holds ({MAX_FAULTS})",
                raw.len()
            ),
            "split the faults over several runs",
        ));
    }
    // Members are picked in time order, whatever order the file lists the faults in.
    let ats: Vec<Option<Duration>> = raw
        .iter()
        .map(|f| f.at.as_deref().and_then(|t| parse_duration(t).ok()))
        .collect();
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by_key(|&i| ats[i]);
    let mut members = Members::new(cx.groups.len());
    let mut resolved: Vec<Option<FaultSpec>> = raw.iter().map(|_| None).collect();
    for i in order {
        resolved[i] = Some(resolve_one(cx, i, &raw[i], &mut members)?);
    }
    let mut faults: Vec<FaultSpec> = Vec::with_capacity(raw.len());
    for (i, fault) in resolved.into_iter().flatten().enumerate() {
        check_against_earlier(cx, i, &fault, &faults)?;
        faults.push(fault);
    }
    Ok(faults)
}

/// A fault's name is its own, and no two pauses of one group overlap.
fn check_against_earlier(
    cx: &FaultContext,
    i: usize,
    fault: &FaultSpec,
    earlier: &[FaultSpec],
) -> Result<(), ScenarioError> {
    if earlier.iter().any(|f| f.name == fault.name) {
        return Err(cx.err(
            format!("faults[{i}].name"),
            format!("fault `{}` is listed twice", fault.name),
            "give each fault its own name",
        ));
    }
    if let Some(other) = earlier.iter().find(|f| scaling_meanwhile(f, fault)) {
        return Err(cx.err(
            format!("faults[{i}].at"),
            format!(
                "faults `{}` and `{}` change group `{}`'s members while a scale_group is still taking its steps: the members each would add or remove cannot be told",
                other.name,
                fault.name,
                member_group(fault).map_or("", |g| cx.groups[g].name.as_str())
            ),
            "start one after the other's last step, or make them one scale_group",
        ));
    }
    let Some((other, group)) = earlier
        .iter()
        .find_map(|f| paused_together(f, fault).map(|group| (f, group)))
    else {
        return Ok(());
    };
    let end = |f: &FaultSpec| f.end().unwrap_or(f.at).as_secs_f64();
    Err(cx.err(
        format!("faults[{i}].at"),
        format!(
            "fault `{}` pauses group `{}` from {:.3}s to {:.3}s, while fault `{}` pauses it from {:.3}s to {:.3}s: the first resume would end both pauses, and their catch-ups could not be told apart",
            fault.name,
            cx.groups[group].name,
            fault.at.as_secs_f64(),
            end(fault),
            other.name,
            other.at.as_secs_f64(),
            end(other)
        ),
        "start one pause after the other has ended, or make them one longer pause",
    ))
}

/// The group whose members a fault adds or removes.
fn member_group(fault: &FaultSpec) -> Option<usize> {
    match fault.kind {
        FaultKind::MemberCrash { group, .. }
        | FaultKind::MemberLeave { group, .. }
        | FaultKind::MemberJoin { group, .. }
        | FaultKind::ScaleGroup { group, .. } => Some(group),
        _ => None,
    }
}

/// Whether two faults change one group's members while either is a scale still taking steps
/// (from its `at` to its last step).
fn scaling_meanwhile(a: &FaultSpec, b: &FaultSpec) -> bool {
    let (Some(group_a), Some(group_b)) = (member_group(a), member_group(b)) else {
        return false;
    };
    let span = |f: &FaultSpec| {
        let times = f.step_times();
        (f.at, times.last().copied().unwrap_or(f.at))
    };
    let is_scale = |f: &FaultSpec| matches!(f.kind, FaultKind::ScaleGroup { .. });
    let ((a_from, a_to), (b_from, b_to)) = (span(a), span(b));
    group_a == group_b && (is_scale(a) || is_scale(b)) && a_from <= b_to && b_from <= a_to
}

/// The group two `group_pause` faults hold at once, if they do.
fn paused_together(a: &FaultSpec, b: &FaultSpec) -> Option<usize> {
    match (&a.kind, &b.kind) {
        (FaultKind::GroupPause { group }, FaultKind::GroupPause { group: other })
            if group == other
                && a.at < b.end().unwrap_or(b.at)
                && b.at < a.end().unwrap_or(a.at) =>
        {
            Some(*group)
        }
        _ => None,
    }
}

/// Checks what every kind shares, then hands the entry to its kind's resolver.
fn resolve_one(
    cx: &FaultContext,
    i: usize,
    fault: &RawFault,
    members: &mut Members,
) -> Result<FaultSpec, ScenarioError> {
    let key = |field: &str| format!("faults[{i}].{field}");
    let kind = fault.kind.as_deref().ok_or_else(|| {
        cx.err(
            key("kind"),
            "the fault has no kind".into(),
            format!("add kind = \"...\"; the kinds: {}", kinds::listed()),
        )
    })?;
    let Some(def) = kinds::find(kind) else {
        return Err(cx.err(
            key("kind"),
            format!("`{kind}` is not a fault kind"),
            format!("use one of: {}", kinds::listed()),
        ));
    };
    check_keys(cx, i, fault, def)?;
    let name = fault_name(cx, i, fault, kind)?;
    let at = scaled(cx, i, "at", fault.at.as_deref())?;
    let plan = format_duration(cx.planned);
    if at >= cx.planned {
        return Err(cx.err(
            key("at"),
            format!(
                "{} is not before the plan ends ({plan}{})",
                format_duration(at),
                scale_note(cx.duration_scale)
            ),
            format!("inject the fault while load runs: at = \"0s\" up to below {plan}"),
        ));
    }
    let duration = fault_duration(cx, i, fault, def, at)?;
    let brokers = match cx.bootstrap {
        Bootstrap::Embedded { brokers } => *brokers,
        Bootstrap::Servers(_) if def.embedded_only => {
            return Err(cx.err(
                key("kind"),
                format!("`{kind}` faults are injected into the embedded broker, and this run uses a real cluster"),
                "on a real cluster use kind = \"command\", e.g. run = \"scripts/local-kafka.sh kill 2\", undo = \"scripts/local-kafka.sh restart 2\" (with --allow-commands)",
            ));
        }
        Bootstrap::Servers(_) => 0,
    };
    let entry = Entry {
        cx,
        index: i,
        kind,
        fault,
        brokers,
        at,
        duration,
    };
    Ok(FaultSpec {
        name,
        at,
        duration,
        kind: (def.resolve)(&entry, members)?,
    })
}

/// Every key given must be one the kind takes.
fn check_keys(
    cx: &FaultContext,
    i: usize,
    fault: &RawFault,
    def: &KindDef,
) -> Result<(), ScenarioError> {
    let given: [(&str, bool); 14] = [
        ("broker", fault.broker.is_some()),
        ("rtt", fault.rtt.is_some()),
        ("api", fault.api.is_some()),
        ("error", fault.error.is_some()),
        ("count", fault.count.is_some()),
        ("topic", fault.topic.is_some()),
        ("partition", fault.partition.is_some()),
        ("group", fault.group.is_some()),
        ("member", fault.member.is_some()),
        ("to", fault.to.is_some()),
        ("step_every", fault.step_every.is_some()),
        ("run", fault.run.is_some()),
        ("undo", fault.undo.is_some()),
        ("timeout", fault.timeout.is_some()),
    ];
    let Some((field, _)) = given
        .iter()
        .find(|(field, set)| *set && !def.keys.contains(field))
    else {
        return Ok(());
    };
    let kind = def.name;
    Err(cx.err(
        format!("faults[{i}].{field}"),
        format!("`{field}` does not apply to a `{kind}` fault"),
        if def.keys.is_empty() {
            format!("remove it; `{kind}` takes no keys besides name, at and duration")
        } else {
            format!("remove it; `{kind}` takes {}", def.keys.join(", "))
        },
    ))
}

/// The fault's name, or one made from its kind and position.
fn fault_name(
    cx: &FaultContext,
    i: usize,
    fault: &RawFault,
    kind: &str,
) -> Result<String, ScenarioError> {
    let name = match &fault.name {
        Some(name) => name.trim().to_string(),
        None => format!("{kind}-{}", i + 1),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(cx.err(
            format!("faults[{i}].name"),
            format!("`{name}` is not a usable fault name"),
            "use letters, digits, `-` and `_` (SLOs name faults as fault.NAME.metric)",
        ));
    }
    Ok(name)
}

/// How long the fault lasts before it is undone; `None` keeps it to the end of the run.
fn fault_duration(
    cx: &FaultContext,
    i: usize,
    fault: &RawFault,
    def: &KindDef,
    at: Duration,
) -> Result<Option<Duration>, ScenarioError> {
    let key = |field: &str| format!("faults[{i}].{field}");
    let Some(text) = fault.duration.as_deref() else {
        return Ok(None);
    };
    if !def.undone {
        return Err(cx.err(
            key("duration"),
            format!("a `{}` fault happens once and is not undone", def.name),
            "remove duration",
        ));
    }
    let duration = scaled(cx, i, "duration", Some(text))?;
    if duration.is_zero() {
        return Err(cx.err(
            key("duration"),
            "a fault of zero duration does nothing".into(),
            "give a duration above 0, or remove it to keep the fault until the run ends",
        ));
    }
    if at.saturating_add(duration) > cx.planned {
        return Err(cx.err(
            key("duration"),
            format!(
                "the fault would end at {}, after the plan ends ({}{})",
                format_duration(at.saturating_add(duration)),
                format_duration(cx.planned),
                scale_note(cx.duration_scale)
            ),
            "shorten it, or remove duration to keep the fault until the run ends",
        ));
    }
    Ok(Some(duration))
}

/// A time of the plan (`at`, `duration`), scaled by --duration-scale.
fn scaled(
    cx: &FaultContext,
    i: usize,
    field: &str,
    text: Option<&str>,
) -> Result<Duration, ScenarioError> {
    let key = format!("faults[{i}].{field}");
    let text = text.ok_or_else(|| {
        cx.err(
            key.clone(),
            "the fault has no time".into(),
            "add at = \"30s\" (time since the plan started)",
        )
    })?;
    let parsed = parse_duration(text).map_err(|problem| {
        cx.err(
            key.clone(),
            problem,
            format!("write it as a quoted duration, e.g. {field} = \"20s\""),
        )
    })?;
    // Any time that cannot be represented once scaled lies far past a plan's 7 days.
    Duration::try_from_secs_f64(parsed.as_secs_f64() * cx.duration_scale).map_err(|_| {
        cx.err(
            key,
            format!(
                "`{}` is far past the end of the plan ({}{})",
                crate::scenario::shapes::cut(text),
                format_duration(cx.planned),
                scale_note(cx.duration_scale)
            ),
            format!("set {field} to a time within the plan"),
        )
    })
}

fn scale_note(scale: f64) -> String {
    if scale == 1.0 {
        String::new()
    } else {
        format!(", scaled by {scale} with --duration-scale")
    }
}
