//! How a group's members share its partitions: the group protocol, its assignor, and where
//! the scenario set them.

/// Where a group's protocol and assignor were set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolKeys {
    pub protocol: String,
    pub assignor: String,
}

/// Consumer properties the classic protocol reads and KIP-848's consumer protocol refuses
/// (the broker sets them, or `group.remote.assignor` replaces them).
pub const CLASSIC_ONLY_PROPERTIES: &[&str] = &[
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "partition.assignment.strategy",
    "group.protocol.type",
];

/// How a group's members share its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupProtocol {
    /// The classic protocol (JoinGroup/SyncGroup), with a client-side assignor; `None` is
    /// librdkafka's default, `range,roundrobin` (eager).
    Classic { assignor: Option<String> },
    /// KIP-848's consumer protocol (ConsumerGroupHeartbeat), with a broker-side assignor;
    /// `None` is the broker's default.
    Consumer { assignor: Option<String> },
}

impl GroupProtocol {
    /// The name a scenario file gives it.
    pub fn name(&self) -> &'static str {
        match self {
            GroupProtocol::Classic { .. } => "classic",
            GroupProtocol::Consumer { .. } => "consumer",
        }
    }

    /// Whether a rebalance revokes only the partitions that move (cooperative, or KIP-848),
    /// rather than every partition of every member (eager).
    pub fn is_incremental(&self) -> bool {
        match self {
            GroupProtocol::Classic { assignor } => assignor
                .as_deref()
                .is_some_and(|a| a.contains("cooperative-sticky")),
            GroupProtocol::Consumer { .. } => true,
        }
    }

    /// The assignor as the scenario or `--set` named it; none for the default.
    pub fn assignor(&self) -> Option<&str> {
        match self {
            GroupProtocol::Classic { assignor } | GroupProtocol::Consumer { assignor } => {
                assignor.as_deref()
            }
        }
    }

    /// The effective settings in words, as reports show them.
    pub fn describe(&self) -> String {
        match self {
            GroupProtocol::Classic { assignor } => {
                let assignor = assignor.as_deref().unwrap_or("range,roundrobin");
                let kind = if self.is_incremental() {
                    "cooperative"
                } else {
                    "eager"
                };
                format!("classic protocol, assignor {assignor} ({kind})")
            }
            GroupProtocol::Consumer { assignor: None } => {
                "consumer protocol (KIP-848), the broker's default assignor".to_string()
            }
            GroupProtocol::Consumer { assignor: Some(a) } => {
                format!("consumer protocol (KIP-848), broker-side assignor {a}")
            }
        }
    }
}
