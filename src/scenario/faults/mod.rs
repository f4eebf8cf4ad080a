//! `[[faults]]`: timed events on the plan's clock, each with what it needs to be applied.

use std::time::Duration;

use serde::Deserialize;

use super::units::{Scalar, format_duration, parse_duration};
use super::{Bootstrap, GroupSpec, ScenarioError, TopicSpec};

/// The most faults one scenario holds (each adds two marks to the producers' ledgers).
pub const MAX_FAULTS: usize = 32;

/// How long a `command` may run unless its `timeout` says otherwise.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// Kafka APIs a `request_errors` fault can fail on the embedded broker.
pub const FAULT_APIS: &[&str] = &[
    "Produce",
    "Fetch",
    "ListOffsets",
    "Metadata",
    "OffsetCommit",
    "OffsetFetch",
    "FindCoordinator",
    "JoinGroup",
    "Heartbeat",
    "LeaveGroup",
    "SyncGroup",
    "InitProducerId",
];

/// Error codes a `request_errors` fault can answer with (Kafka's names).
pub const FAULT_ERRORS: &[&str] = &[
    "NOT_LEADER_OR_FOLLOWER",
    "LEADER_NOT_AVAILABLE",
    "REQUEST_TIMED_OUT",
    "NOT_ENOUGH_REPLICAS",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    "NETWORK_EXCEPTION",
    "BROKER_NOT_AVAILABLE",
    "KAFKA_STORAGE_ERROR",
    "UNKNOWN_TOPIC_OR_PARTITION",
    "COORDINATOR_NOT_AVAILABLE",
    "NOT_COORDINATOR",
    "COORDINATOR_LOAD_IN_PROGRESS",
    "REBALANCE_IN_PROGRESS",
    "THROTTLING_QUOTA_EXCEEDED",
];

/// `[[faults]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub name: Option<String>,
    pub at: Option<String>,
    pub duration: Option<String>,
    pub kind: Option<String>,
    pub broker: Option<Scalar>,
    pub rtt: Option<String>,
    pub api: Option<String>,
    pub error: Option<String>,
    pub count: Option<i64>,
    pub topic: Option<String>,
    pub partition: Option<i64>,
    pub group: Option<String>,
    pub member: Option<i64>,
    pub run: Option<String>,
    pub undo: Option<String>,
    pub timeout: Option<String>,
}

/// Which embedded brokers an `rtt` fault slows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brokers {
    All,
    One(i32),
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// An embedded broker goes down (and comes back at the end of the duration).
    BrokerDown { broker: i32 },
    /// Round-trip time added to every request an embedded broker answers.
    Rtt { brokers: Brokers, rtt: Duration },
    /// The next `count` requests of `api` fail with `error` (embedded broker).
    RequestErrors {
        api: String,
        error: String,
        count: u32,
    },
    /// A partition's leader moves to another embedded broker.
    LeaderMove {
        topic: usize,
        partition: i32,
        broker: i32,
    },
    /// A member stops dead: no commit, no leave; the group waits out its session timeout.
    MemberCrash { group: usize, member: u16 },
    /// A member leaves gracefully, committing what it processed on revoke.
    MemberLeave { group: usize, member: u16 },
    /// One more member joins the group.
    MemberJoin { group: usize, member: u16 },
    /// The producers stop sending; the events they owe are sent late, as schedule lag.
    ProducerPause,
    /// A consumer group stops consuming (its members pause their partitions) while the
    /// producers go on, then resumes and catches up.
    GroupPause { group: usize },
    /// A shell command, outside surge (`--allow-commands`).
    Command {
        run: String,
        undo: Option<String>,
        timeout: Duration,
    },
}

impl FaultKind {
    /// The kind as a scenario writes it.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::BrokerDown { .. } => "broker_down",
            FaultKind::Rtt { .. } => "rtt",
            FaultKind::RequestErrors { .. } => "request_errors",
            FaultKind::LeaderMove { .. } => "leader_move",
            FaultKind::MemberCrash { .. } => "member_crash",
            FaultKind::MemberLeave { .. } => "member_leave",
            FaultKind::MemberJoin { .. } => "member_join",
            FaultKind::ProducerPause => "producer_pause",
            FaultKind::GroupPause { .. } => "group_pause",
            FaultKind::Command { .. } => "command",
        }
    }
}

const KINDS: &str = "broker_down, rtt, request_errors, leader_move (embedded broker); member_crash, member_leave, member_join, producer_pause, group_pause (any cluster); command (any cluster, with --allow-commands)";

/// One resolved fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub name: String,
    /// Offset from the plan's start.
    pub at: Duration,
    /// When set, the fault is undone at `at + duration`.
    pub duration: Option<Duration>,
    pub kind: FaultKind,
}

impl FaultSpec {
    /// When the fault is undone, if it is.
    pub fn end(&self) -> Option<Duration> {
        self.duration.map(|d| self.at + d)
    }

    /// A one-line description for reports.
    pub fn describe(&self, topics: &[TopicSpec], groups: &[GroupSpec]) -> String {
        match &self.kind {
            FaultKind::BrokerDown { broker } => format!("broker {broker} down"),
            FaultKind::Rtt { brokers, rtt } => format!(
                "{} round trip on {}",
                format_duration(*rtt),
                match brokers {
                    Brokers::All => "every broker".to_string(),
                    Brokers::One(b) => format!("broker {b}"),
                }
            ),
            FaultKind::RequestErrors { api, error, count } => {
                format!("{count} {api} requests fail with {error}")
            }
            FaultKind::LeaderMove {
                topic,
                partition,
                broker,
            } => format!(
                "leader of {}/{partition} moves to broker {broker}",
                topics[*topic].name
            ),
            FaultKind::MemberCrash { group, member } => {
                format!("member {member} of {} crashes", groups[*group].name)
            }
            FaultKind::MemberLeave { group, member } => {
                format!("member {member} of {} leaves", groups[*group].name)
            }
            FaultKind::MemberJoin { group, member } => {
                format!("member {member} joins {}", groups[*group].name)
            }
            FaultKind::ProducerPause => "producers pause".into(),
            FaultKind::GroupPause { group } => format!("{} stops consuming", groups[*group].name),
            FaultKind::Command { run, .. } => format!("command: {run}"),
        }
    }
}

/// Which keys each kind takes besides name, at, duration and kind.
fn allowed(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "broker_down" => &["broker"],
        "rtt" => &["broker", "rtt"],
        "request_errors" => &["api", "error", "count"],
        "leader_move" => &["topic", "partition", "broker"],
        "member_crash" | "member_leave" => &["group", "member"],
        "member_join" | "group_pause" => &["group"],
        "producer_pause" => &[],
        "command" => &["run", "undo", "timeout"],
        _ => return None,
    })
}

/// Kinds that are undone at the end of a duration; the others happen once.
fn takes_duration(kind: &str) -> bool {
    matches!(
        kind,
        "broker_down" | "rtt" | "producer_pause" | "group_pause" | "command" | "request_errors"
    )
}

/// What the resolver knows that faults are checked against.
pub struct FaultContext<'a> {
    pub file: &'a str,
    pub bootstrap: &'a Bootstrap,
    pub topics: &'a [TopicSpec],
    pub groups: &'a [GroupSpec],
    pub planned: Duration,
    pub duration_scale: f64,
}

impl FaultContext<'_> {
    fn err(&self, key: String, problem: String, fix: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            key,
            problem,
            fix: fix.into(),
        }
    }
}

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
    let mut faults: Vec<FaultSpec> = Vec::new();
    // Members that left or crashed, and members added, per group: who is left to fault.
    let mut gone: Vec<Vec<u16>> = cx.groups.iter().map(|_| Vec::new()).collect();
    let mut joined: Vec<u16> = cx.groups.iter().map(|_| 0).collect();
    let mut order: Vec<usize> = (0..raw.len()).collect();
    let ats: Vec<Option<Duration>> = raw
        .iter()
        .map(|f| f.at.as_deref().and_then(|t| parse_duration(t).ok()))
        .collect();
    // Members are picked in time order, whatever order the file lists the faults in.
    order.sort_by_key(|&i| ats[i]);
    let mut resolved: Vec<Option<FaultSpec>> = raw.iter().map(|_| None).collect();
    for i in order {
        let fault = &raw[i];
        resolved[i] = Some(resolve_one(cx, i, fault, &mut gone, &mut joined)?);
    }
    for (i, fault) in resolved.into_iter().enumerate() {
        let fault = fault.expect("every fault resolved");
        if faults.iter().any(|f| f.name == fault.name) {
            return Err(cx.err(
                format!("faults[{i}].name"),
                format!("fault `{}` is listed twice", fault.name),
                "give each fault its own name",
            ));
        }
        if let Some((earlier, group)) = faults
            .iter()
            .find_map(|f| paused_together(f, &fault).map(|group| (f, group)))
        {
            let end = |f: &FaultSpec| f.end().unwrap_or(f.at).as_secs_f64();
            return Err(cx.err(
                format!("faults[{i}].at"),
                format!(
                    "fault `{}` pauses group `{}` from {:.3}s to {:.3}s, while fault `{}` pauses it from {:.3}s to {:.3}s: the first resume would end both pauses, and their catch-ups could not be told apart",
                    fault.name,
                    cx.groups[group].name,
                    fault.at.as_secs_f64(),
                    end(&fault),
                    earlier.name,
                    earlier.at.as_secs_f64(),
                    end(earlier)
                ),
                "start one pause after the other has ended, or make them one longer pause",
            ));
        }
        faults.push(fault);
    }
    Ok(faults)
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

fn resolve_one(
    cx: &FaultContext,
    i: usize,
    fault: &RawFault,
    gone: &mut [Vec<u16>],
    joined: &mut [u16],
) -> Result<FaultSpec, ScenarioError> {
    let key = |field: &str| format!("faults[{i}].{field}");
    let kind = fault.kind.as_deref().ok_or_else(|| {
        cx.err(
            key("kind"),
            "the fault has no kind".into(),
            format!("add kind = \"...\"; the kinds: {KINDS}"),
        )
    })?;
    let Some(keys) = allowed(kind) else {
        return Err(cx.err(
            key("kind"),
            format!("`{kind}` is not a fault kind"),
            format!("use one of: {KINDS}"),
        ));
    };
    let given: [(&str, bool); 12] = [
        ("broker", fault.broker.is_some()),
        ("rtt", fault.rtt.is_some()),
        ("api", fault.api.is_some()),
        ("error", fault.error.is_some()),
        ("count", fault.count.is_some()),
        ("topic", fault.topic.is_some()),
        ("partition", fault.partition.is_some()),
        ("group", fault.group.is_some()),
        ("member", fault.member.is_some()),
        ("run", fault.run.is_some()),
        ("undo", fault.undo.is_some()),
        ("timeout", fault.timeout.is_some()),
    ];
    if let Some((field, _)) = given
        .iter()
        .find(|(field, set)| *set && !keys.contains(field))
    {
        return Err(cx.err(
            key(field),
            format!("`{field}` does not apply to a `{kind}` fault"),
            if keys.is_empty() {
                format!("remove it; `{kind}` takes no keys besides name, at and duration")
            } else {
                format!("remove it; `{kind}` takes {}", keys.join(", "))
            },
        ));
    }
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
            key("name"),
            format!("`{name}` is not a usable fault name"),
            "use letters, digits, `-` and `_` (SLOs name faults as fault.NAME.metric)",
        ));
    }
    let scaled = |field: &str, text: &str| -> Result<Duration, ScenarioError> {
        let parsed = parse_duration(text).map_err(|problem| {
            cx.err(
                key(field),
                problem,
                format!("write it as a quoted duration, e.g. {field} = \"20s\""),
            )
        })?;
        // Any time that cannot be represented once scaled lies far past a plan's 7 days.
        Duration::try_from_secs_f64(parsed.as_secs_f64() * cx.duration_scale).map_err(|_| {
            cx.err(
                key(field),
                format!(
                    "`{}` is far past the end of the plan ({}{})",
                    super::shapes::cut(text),
                    format_duration(cx.planned),
                    scale_note(cx.duration_scale)
                ),
                format!("set {field} to a time within the plan"),
            )
        })
    };
    let at_text = fault.at.as_deref().ok_or_else(|| {
        cx.err(
            key("at"),
            "the fault has no time".into(),
            "add at = \"30s\" (time since the plan started)",
        )
    })?;
    let at = scaled("at", at_text)?;
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
    let duration = match fault.duration.as_deref() {
        None => None,
        Some(_) if !takes_duration(kind) => {
            return Err(cx.err(
                key("duration"),
                format!("a `{kind}` fault happens once and is not undone"),
                "remove duration",
            ));
        }
        Some(text) => {
            let duration = scaled("duration", text)?;
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
                        "the fault would end at {}, after the plan ends ({plan}{})",
                        format_duration(at.saturating_add(duration)),
                        scale_note(cx.duration_scale)
                    ),
                    "shorten it, or remove duration to keep the fault until the run ends",
                ));
            }
            Some(duration)
        }
    };
    let embedded_brokers = match cx.bootstrap {
        Bootstrap::Embedded { brokers } => Some(*brokers),
        Bootstrap::Servers(_) => None,
    };
    let broker_kind = matches!(
        kind,
        "broker_down" | "rtt" | "request_errors" | "leader_move"
    );
    if broker_kind && embedded_brokers.is_none() {
        return Err(cx.err(
            key("kind"),
            format!("`{kind}` faults are injected into the embedded broker, and this run uses a real cluster"),
            "on a real cluster use kind = \"command\", e.g. run = \"scripts/local-kafka.sh kill 2\", undo = \"scripts/local-kafka.sh restart 2\" (with --allow-commands)",
        ));
    }
    let brokers = embedded_brokers.unwrap_or(0);
    let broker_number = |value: Option<&Scalar>, all: bool| -> Result<Brokers, ScenarioError> {
        match value {
            None if all => Ok(Brokers::All),
            None => Err(cx.err(
                key("broker"),
                format!("a `{kind}` fault needs a broker"),
                format!("add broker = 1 (the embedded cluster has brokers 1 to {brokers})"),
            )),
            Some(Scalar::Text(text)) if all && text == "all" => Ok(Brokers::All),
            Some(Scalar::Int(n)) if (1..=brokers as i64).contains(n) => Ok(Brokers::One(*n as i32)),
            Some(other) => Err(cx.err(
                key("broker"),
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
    };
    let one_broker = |value: Option<&Scalar>| -> Result<i32, ScenarioError> {
        match broker_number(value, false)? {
            Brokers::One(b) => Ok(b),
            Brokers::All => unreachable!("all is refused for one broker"),
        }
    };
    let group_index = || -> Result<usize, ScenarioError> {
        let name = fault.group.as_deref().ok_or_else(|| {
            cx.err(
                key("group"),
                format!("a `{kind}` fault needs a group"),
                "add group = \"NAME\" naming a [[consumer_groups]] entry",
            )
        })?;
        cx.groups
            .iter()
            .position(|g| g.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = cx.groups.iter().map(|g| g.name.as_str()).collect();
                cx.err(
                    key("group"),
                    format!("`{name}` is not a consumer group of this scenario"),
                    if known.is_empty() {
                        "add a [[consumer_groups]] entry first".to_string()
                    } else {
                        format!("use one of: {}", known.join(", "))
                    },
                )
            })
    };
    let kind = match kind {
        "broker_down" => FaultKind::BrokerDown {
            broker: one_broker(fault.broker.as_ref())?,
        },
        "rtt" => {
            let text = fault.rtt.as_deref().ok_or_else(|| {
                cx.err(
                    key("rtt"),
                    "an `rtt` fault needs a round-trip time".into(),
                    "add rtt = \"20ms\"",
                )
            })?;
            let rtt = parse_duration(text).map_err(|problem| {
                cx.err(key("rtt"), problem, "write it as e.g. rtt = \"20ms\"")
            })?;
            if rtt > Duration::from_secs(60) {
                return Err(cx.err(
                    key("rtt"),
                    format!(
                        "{} of round trip is beyond any client timeout",
                        format_duration(rtt)
                    ),
                    "use at most \"60s\"; to take a broker away use kind = \"broker_down\"",
                ));
            }
            FaultKind::Rtt {
                brokers: broker_number(fault.broker.as_ref(), true)?,
                rtt,
            }
        }
        "request_errors" => {
            let api = fault.api.as_deref().unwrap_or("");
            if !FAULT_APIS.contains(&api) {
                return Err(cx.err(
                    key("api"),
                    format!("`{api}` is not an API surge can fail"),
                    format!("use one of: {}", FAULT_APIS.join(", ")),
                ));
            }
            let error = fault.error.as_deref().unwrap_or("");
            if !FAULT_ERRORS.contains(&error) {
                return Err(cx.err(
                    key("error"),
                    format!("`{error}` is not an error surge can inject"),
                    format!("use one of: {}", FAULT_ERRORS.join(", ")),
                ));
            }
            let count = fault.count.unwrap_or(1);
            if !(1..=100_000).contains(&count) {
                return Err(cx.err(
                    key("count"),
                    format!("{count} is out of range"),
                    "use a whole number of requests from 1 to 100000",
                ));
            }
            FaultKind::RequestErrors {
                api: api.into(),
                error: error.into(),
                count: count as u32,
            }
        }
        "leader_move" => {
            let name = fault.topic.as_deref().unwrap_or("");
            let topic = cx
                .topics
                .iter()
                .position(|t| t.name == name)
                .ok_or_else(|| {
                    cx.err(
                        key("topic"),
                        format!("`{name}` is not a topic of this scenario"),
                        "name a [[topics]] entry",
                    )
                })?;
            let partitions = cx.topics[topic].partitions as i64;
            let partition = fault.partition.unwrap_or(0);
            if !(0..partitions).contains(&partition) {
                return Err(cx.err(
                    key("partition"),
                    format!(
                        "`{name}` has partitions 0 to {}, not {partition}",
                        partitions - 1
                    ),
                    format!("use a partition from 0 to {}", partitions - 1),
                ));
            }
            FaultKind::LeaderMove {
                topic,
                partition: partition as i32,
                broker: one_broker(fault.broker.as_ref())?,
            }
        }
        "member_crash" | "member_leave" => {
            let group = group_index()?;
            let spec = &cx.groups[group];
            let total = spec.members + joined[group];
            let member = match fault.member {
                Some(m) if (0..total as i64).contains(&m) => m as u16,
                Some(m) => {
                    return Err(cx.err(
                        key("member"),
                        format!(
                            "group `{}` has members 0 to {}, not {m}",
                            spec.name,
                            total - 1
                        ),
                        format!("use a member from 0 to {}", total - 1),
                    ));
                }
                None => (0..total)
                    .rev()
                    .find(|m| !gone[group].contains(m))
                    .unwrap_or(0),
            };
            if gone[group].contains(&member) {
                return Err(cx.err(
                    key("member"),
                    format!("member {member} of `{}` is already gone by then", spec.name),
                    "pick another member",
                ));
            }
            if gone[group].len() + 1 >= total as usize {
                return Err(cx.err(
                    key("group"),
                    format!(
                        "group `{}` would have no member left to consume ({} of {total})",
                        spec.name,
                        gone[group].len() + 1
                    ),
                    "raise the group's members, or add a member_join fault before this one",
                ));
            }
            gone[group].push(member);
            if kind == "member_crash" {
                FaultKind::MemberCrash { group, member }
            } else {
                FaultKind::MemberLeave { group, member }
            }
        }
        "member_join" => {
            let group = group_index()?;
            let member = cx.groups[group].members + joined[group];
            if member >= 64 {
                return Err(cx.err(
                    key("group"),
                    format!(
                        "group `{}` would have more than 64 members",
                        cx.groups[group].name
                    ),
                    "join fewer members",
                ));
            }
            joined[group] += 1;
            FaultKind::MemberJoin { group, member }
        }
        "producer_pause" => FaultKind::ProducerPause,
        "group_pause" => {
            if duration.is_none() {
                return Err(cx.err(
                    key("duration"),
                    "a group that stays paused never reads the rest of the run, and the drain waits for it in vain".into(),
                    "add duration = \"60s\": the group resumes then and its catch-up is measured",
                ));
            }
            let group = group_index()?;
            if cx.groups[group].starts_after.is_some() {
                return Err(cx.err(
                    key("group"),
                    format!(
                        "group `{}` joins late (starts_after), so there is nothing to pause and its catch-up would be its replay",
                        cx.groups[group].name
                    ),
                    "pause a group that consumes from the start, or drop starts_after",
                ));
            }
            FaultKind::GroupPause { group }
        }
        "command" => {
            let run = fault.run.as_deref().unwrap_or("").trim().to_string();
            if run.is_empty() {
                return Err(cx.err(
                    key("run"),
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
                        cx.err(
                            key("timeout"),
                            format!("`{text}` is not a timeout from 1ms to 10m"),
                            "write e.g. timeout = \"30s\"",
                        )
                    })?,
            };
            FaultKind::Command {
                run,
                undo: fault
                    .undo
                    .as_deref()
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(String::from),
                timeout,
            }
        }
        _ => unreachable!("kinds are checked above"),
    };
    Ok(FaultSpec {
        name,
        at,
        duration,
        kind,
    })
}

fn scale_note(scale: f64) -> String {
    if scale == 1.0 {
        String::new()
    } else {
        format!(", scaled by {scale} with --duration-scale")
    }
}

/// The times at which producers mark their per-key counts: every fault's start and end.
pub fn boundaries(faults: &[FaultSpec]) -> Vec<Duration> {
    let mut marks: Vec<Duration> = faults
        .iter()
        .flat_map(|f| std::iter::once(f.at).chain(f.end()))
        .collect();
    marks.sort_unstable();
    marks.dedup();
    marks
}
