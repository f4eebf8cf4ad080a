//! `[[faults]]`: timed events on the plan's clock, each with what it needs to be applied.

use std::time::Duration;

mod kinds;
mod members;
mod resolve;

pub use resolve::resolve_faults;

use super::units::format_duration;
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
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
    "UNKNOWN_PRODUCER_ID",
];

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
    /// Members join (or leave gracefully) one at a time, `step_every` apart, as an
    /// autoscaler adds or removes them: `steps` are the members, in order.
    ScaleGroup {
        group: usize,
        from: u16,
        to: u16,
        step_every: Duration,
        steps: Vec<u16>,
    },
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
            FaultKind::ScaleGroup { .. } => "scale_group",
            FaultKind::ProducerPause => "producer_pause",
            FaultKind::GroupPause { .. } => "group_pause",
            FaultKind::Command { .. } => "command",
        }
    }
}

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

    /// When each of its steps happens: one for most kinds, one per member for a scale.
    pub fn step_times(&self) -> Vec<Duration> {
        match &self.kind {
            FaultKind::ScaleGroup {
                step_every, steps, ..
            } => (0..steps.len() as u32)
                .map(|k| self.at + *step_every * k)
                .collect(),
            _ => vec![self.at],
        }
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
            FaultKind::ScaleGroup {
                group,
                from,
                to,
                step_every,
                ..
            } => format!(
                "{} scales from {from} to {to} members, one every {}",
                groups[*group].name,
                format_duration(*step_every)
            ),
            FaultKind::ProducerPause => "producers pause".into(),
            FaultKind::GroupPause { group } => format!("{} stops consuming", groups[*group].name),
            FaultKind::Command { run, .. } => format!("command: {run}"),
        }
    }
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
