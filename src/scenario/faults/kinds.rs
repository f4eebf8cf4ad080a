//! One resolver per fault kind, and the table that names each kind, the keys it takes, and
//! whether it is undone and where it can run. A new kind is a [`FaultKind`] variant, a row
//! here with its resolver, and its application in the engine.

use std::time::Duration;

use super::members::{Members, member_gone, member_join, scale_group};
use super::{
    Brokers, DEFAULT_COMMAND_TIMEOUT, FAULT_APIS, FAULT_ERRORS, FaultContext, FaultKind,
    MAX_COMMAND_TIMEOUT,
};
use crate::scenario::ScenarioError;
use crate::scenario::raw::RawFault;
use crate::scenario::units::{Scalar, format_duration, parse_duration};

/// The most members a group can have once `member_join` faults have added theirs.
pub(super) const MAX_MEMBERS: u16 = 64;

type Resolve = fn(&Entry, &mut Members) -> Result<FaultKind, ScenarioError>;

/// A fault kind as a scenario file names it.
pub(super) struct KindDef {
    pub name: &'static str,
    /// The keys it takes besides name, at, duration and kind.
    pub keys: &'static [&'static str],
    /// Undone at the end of a `duration`; the other kinds happen once.
    pub undone: bool,
    /// Injected into the embedded broker, so not available on a real cluster.
    pub embedded_only: bool,
    pub resolve: Resolve,
}

const fn kind(
    name: &'static str,
    keys: &'static [&'static str],
    undone: bool,
    embedded_only: bool,
    resolve: Resolve,
) -> KindDef {
    KindDef {
        name,
        keys,
        undone,
        embedded_only,
        resolve,
    }
}

/// Every fault kind.
const KINDS: &[KindDef] = &[
    kind("broker_down", &["broker"], true, true, broker_down),
    kind("rtt", &["broker", "rtt"], true, true, rtt),
    kind(
        "request_errors",
        &["api", "error", "count"],
        true,
        true,
        request_errors,
    ),
    kind(
        "leader_move",
        &["topic", "partition", "broker"],
        false,
        true,
        leader_move,
    ),
    kind(
        "member_crash",
        &["group", "member"],
        false,
        false,
        member_gone,
    ),
    kind(
        "member_leave",
        &["group", "member"],
        false,
        false,
        member_gone,
    ),
    kind("member_join", &["group"], false, false, member_join),
    kind(
        "scale_group",
        &["group", "to", "step_every"],
        false,
        false,
        scale_group,
    ),
    kind("producer_pause", &[], true, false, producer_pause),
    kind("group_pause", &["group"], true, false, group_pause),
    kind("command", &["run", "undo", "timeout"], true, false, command),
];

pub(super) fn find(name: &str) -> Option<&'static KindDef> {
    KINDS.iter().find(|k| k.name == name)
}

/// The kinds, grouped by where they can run, for error messages.
pub(super) fn listed() -> String {
    let names = |embedded: bool| -> Vec<&str> {
        KINDS
            .iter()
            .filter(|k| k.embedded_only == embedded && k.name != "command")
            .map(|k| k.name)
            .collect()
    };
    format!(
        "{} (embedded broker); {} (any cluster); command (any cluster, with --allow-commands)",
        names(true).join(", "),
        names(false).join(", ")
    )
}

/// One `[[faults]]` entry as its kind's resolver sees it.
pub(super) struct Entry<'a> {
    pub cx: &'a FaultContext<'a>,
    /// Its position in the file.
    pub index: usize,
    pub kind: &'a str,
    pub fault: &'a RawFault,
    /// How many brokers the embedded cluster has (0 on a real cluster).
    pub brokers: i32,
    /// When it starts, scaled.
    pub at: Duration,
    pub duration: Option<Duration>,
}

impl Entry<'_> {
    pub fn key(&self, field: &str) -> String {
        format!("faults[{}].{field}", self.index)
    }

    pub fn err(&self, field: &str, problem: String, fix: impl Into<String>) -> ScenarioError {
        self.cx.err(self.key(field), problem, fix)
    }
}

fn broker_down(entry: &Entry, _: &mut Members) -> Result<FaultKind, ScenarioError> {
    Ok(FaultKind::BrokerDown {
        broker: one_broker(entry)?,
    })
}

fn rtt(entry: &Entry, _: &mut Members) -> Result<FaultKind, ScenarioError> {
    let text = entry.fault.rtt.as_deref().ok_or_else(|| {
        entry.err(
            "rtt",
            "an `rtt` fault needs a round-trip time".into(),
            "add rtt = \"20ms\"",
        )
    })?;
    let rtt = parse_duration(text)
        .map_err(|problem| entry.err("rtt", problem, "write it as e.g. rtt = \"20ms\""))?;
    if rtt > Duration::from_secs(60) {
        return Err(entry.err(
            "rtt",
            format!(
                "{} of round trip is beyond any client timeout",
                format_duration(rtt)
            ),
            "use at most \"60s\"; to take a broker away use kind = \"broker_down\"",
        ));
    }
    Ok(FaultKind::Rtt {
        brokers: broker_number(entry, true)?,
        rtt,
    })
}

fn request_errors(entry: &Entry, _: &mut Members) -> Result<FaultKind, ScenarioError> {
    let fault = entry.fault;
    let api = fault.api.as_deref().unwrap_or("");
    if !FAULT_APIS.contains(&api) {
        return Err(entry.err(
            "api",
            format!("`{api}` is not an API surge can fail"),
            format!("use one of: {}", FAULT_APIS.join(", ")),
        ));
    }
    let error = fault.error.as_deref().unwrap_or("");
    if !FAULT_ERRORS.contains(&error) {
        return Err(entry.err(
            "error",
            format!("`{error}` is not an error surge can inject"),
            format!("use one of: {}", FAULT_ERRORS.join(", ")),
        ));
    }
    let count = fault.count.unwrap_or(1);
    if !(1..=100_000).contains(&count) {
        return Err(entry.err(
            "count",
            format!("{count} is out of range"),
            "use a whole number of requests from 1 to 100000",
        ));
    }
    Ok(FaultKind::RequestErrors {
        api: api.into(),
        error: error.into(),
        count: count as u32,
    })
}

fn leader_move(entry: &Entry, _: &mut Members) -> Result<FaultKind, ScenarioError> {
    let topics = entry.cx.topics;
    let name = entry.fault.topic.as_deref().unwrap_or("");
    let topic = topics.iter().position(|t| t.name == name).ok_or_else(|| {
        entry.err(
            "topic",
            format!("`{name}` is not a topic of this scenario"),
            "name a [[topics]] entry",
        )
    })?;
    let partitions = topics[topic].partitions as i64;
    let partition = entry.fault.partition.unwrap_or(0);
    if !(0..partitions).contains(&partition) {
        return Err(entry.err(
            "partition",
            format!(
                "`{name}` has partitions 0 to {}, not {partition}",
                partitions - 1
            ),
            format!("use a partition from 0 to {}", partitions - 1),
        ));
    }
    Ok(FaultKind::LeaderMove {
        topic,
        partition: partition as i32,
        broker: one_broker(entry)?,
    })
}

fn producer_pause(_: &Entry, _: &mut Members) -> Result<FaultKind, ScenarioError> {
    Ok(FaultKind::ProducerPause)
}

fn group_pause(entry: &Entry, _: &mut Members) -> Result<FaultKind, ScenarioError> {
    if entry.duration.is_none() {
        return Err(entry.err(
            "duration",
            "a group that stays paused never reads the rest of the run, and the drain waits for it in vain".into(),
            "add duration = \"60s\": the group resumes then and its catch-up is measured",
        ));
    }
    let group = group_index(entry)?;
    if entry.cx.groups[group].starts_after.is_some() {
        return Err(entry.err(
            "group",
            format!(
                "group `{}` joins late (starts_after), so there is nothing to pause and its catch-up would be its replay",
                entry.cx.groups[group].name
            ),
            "pause a group that consumes from the start, or drop starts_after",
        ));
    }
    Ok(FaultKind::GroupPause { group })
}

fn command(entry: &Entry, _: &mut Members) -> Result<FaultKind, ScenarioError> {
    let fault = entry.fault;
    let run = fault.run.as_deref().unwrap_or("").trim().to_string();
    if run.is_empty() {
        return Err(entry.err(
            "run",
            "a `command` fault needs a command".into(),
            "add run = \"scripts/local-kafka.sh kill 2\"",
        ));
    }
    let timeout = match fault.timeout.as_deref() {
        None => DEFAULT_COMMAND_TIMEOUT,
        Some(text) => parse_duration(text)
            .ok()
            .filter(|t| !t.is_zero() && *t <= MAX_COMMAND_TIMEOUT)
            .ok_or_else(|| {
                entry.err(
                    "timeout",
                    format!("`{text}` is not a timeout from 1ms to 10m"),
                    "write e.g. timeout = \"30s\"",
                )
            })?,
    };
    Ok(FaultKind::Command {
        run,
        undo: fault
            .undo
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from),
        timeout,
    })
}

/// The `broker` key: a broker of the embedded cluster, or (where `all` is allowed) "all".
fn broker_number(entry: &Entry, all: bool) -> Result<Brokers, ScenarioError> {
    let (kind, brokers) = (entry.kind, entry.brokers);
    match entry.fault.broker.as_ref() {
        None if all => Ok(Brokers::All),
        None => Err(entry.err(
            "broker",
            format!("a `{kind}` fault needs a broker"),
            format!("add broker = 1 (the embedded cluster has brokers 1 to {brokers})"),
        )),
        Some(Scalar::Text(text)) if all && text == "all" => Ok(Brokers::All),
        Some(Scalar::Int(n)) if (1..=brokers as i64).contains(n) => Ok(Brokers::One(*n as i32)),
        Some(other) => Err(entry.err(
            "broker",
            format!(
                "{} is not a broker of the embedded cluster, which has brokers 1 to {brokers}",
                other
            ),
            format!(
                "use a broker number from 1 to {brokers}{}, or raise cluster.embedded_brokers",
                if all { " or \"all\"" } else { "" }
            ),
        )),
    }
}

fn one_broker(entry: &Entry) -> Result<i32, ScenarioError> {
    match broker_number(entry, false)? {
        Brokers::One(broker) => Ok(broker),
        // `all` is refused above when it is not allowed.
        Brokers::All => Err(entry.err(
            "broker",
            "a single broker is needed".into(),
            "use a broker number",
        )),
    }
}

/// The `group` key: a consumer group of the scenario.
pub(super) fn group_index(entry: &Entry) -> Result<usize, ScenarioError> {
    let groups = entry.cx.groups;
    let name = entry.fault.group.as_deref().ok_or_else(|| {
        entry.err(
            "group",
            format!("a `{}` fault needs a group", entry.kind),
            "add group = \"NAME\" naming a [[consumer_groups]] entry",
        )
    })?;
    groups.iter().position(|g| g.name == name).ok_or_else(|| {
        let known: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        entry.err(
            "group",
            format!("`{name}` is not a consumer group of this scenario"),
            if known.is_empty() {
                "add a [[consumer_groups]] entry first".to_string()
            } else {
                format!("use one of: {}", known.join(", "))
            },
        )
    })
}
