//! Stage one: every group holds its partitions before the plan starts, and every worker
//! starts the plan on the same wall-clock second.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::consumer::GroupShared;
use super::lock;
use super::record::{EngineError, Progress};
use super::setup::Run;
use super::signals::StopSignal;
use crate::kafka::clock::unix_micros;
use crate::scenario::{GroupProtocol, GroupSpec, Scenario};

/// Waits for the wall-clock start every worker shares (unix microseconds), or a stop, and
/// anchors the plan on it: a worker that gets there late starts behind schedule, and its
/// pacer catches up (the delay shows as schedule lag), so every worker's second `t` is the
/// same wall-clock second.
pub(super) async fn wait_for_start(at_unix_us: u64, stop: &StopSignal) -> (Instant, u64) {
    loop {
        let now = unix_micros();
        if now >= at_unix_us || stop.is_requested() {
            let behind = Duration::from_micros(now.saturating_sub(at_unix_us));
            let start = Instant::now()
                .checked_sub(behind)
                .unwrap_or_else(Instant::now);
            return (start, at_unix_us);
        }
        let wait = Duration::from_micros(at_unix_us - now).min(Duration::from_millis(100));
        tokio::time::sleep(wait).await;
    }
}

/// librdkafka's words for the answers that refuse a consumer-protocol group: the broker has
/// no ConsumerGroupHeartbeat (UNSUPPORTED_VERSION, or the client's own
/// `__UNSUPPORTED_FEATURE`), or does not know the assignor (UNSUPPORTED_ASSIGNOR).
const REFUSALS: [(&str, bool); 3] = [
    ("Broker: API version not supported", false),
    ("Local: Required feature not supported by broker", false),
    (
        "Broker: The assignor or its version range is not supported",
        true,
    ),
];

/// The error for a group whose protocol or assignor the cluster refused, from its members'
/// errors: librdkafka ends a consumer-protocol member with a fatal ConsumerGroupHeartbeat
/// error (other fatal answers, such as an authorization failure, wait for the join timeout).
fn protocol_refusal(
    scenario: &Scenario,
    group: &GroupSpec,
    errors: &[String],
) -> Option<EngineError> {
    let GroupProtocol::Consumer { assignor } = &group.protocol else {
        return None;
    };
    let (answer, is_assignor) = errors.iter().find_map(|e| {
        let refusal = e.contains("ConsumerGroupHeartbeat");
        (REFUSALS.iter())
            .find(|(words, _)| refusal && e.contains(words))
            .map(|&(_, is_assignor)| (e, is_assignor))
    })?;
    let (key, value, fix) = if is_assignor {
        (
            &group.protocol_keys.assignor,
            assignor.as_deref().unwrap_or_default(),
            "use an assignor the brokers list in group.consumer.assignors (Kafka's own: uniform, range), or drop assignor",
        )
    } else {
        (
            &group.protocol_keys.protocol,
            "consumer",
            "use protocol = \"classic\", or a cluster that serves KIP-848's consumer protocol (Kafka 4.0 or later)",
        )
    };
    Some(EngineError::GroupProtocol {
        group: group.name.clone(),
        key: format!("{}: {key} = \"{value}\"", scenario.source.display()),
        answer: answer.chars().take(300).collect(),
        fix,
    })
}

/// Stage one: waits until every group holds all its partitions, each member its share. The
/// wait is warmup, not measured; a group that does not get there in time is an error that says what it holds.
pub(super) async fn join(
    run: &Run,
    stop: &StopSignal,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Duration, EngineError> {
    let started = Instant::now();
    let mut next_report = Duration::ZERO;
    let timeout = run.scenario.limits.group_join_timeout;
    let workers = run.scenario.workers;
    let ready = |g: &Arc<GroupShared>| {
        g.spec.starts_after.is_some()
            || if workers.is_distributed() {
                g.members_placed(workers)
            } else {
                // Every member holds its share: a member that joined a moment after the
                // others is given its partitions before the plan starts, not during it (a
                // KIP-848 group moves them on the members' heartbeats, seconds apart).
                g.settled()
            }
    };
    while !run.groups.iter().all(ready) && !stop.is_requested() {
        if let Some(refused) = run.groups.iter().find_map(|g| {
            let errors = lock(&g.state).errors.clone();
            protocol_refusal(&run.scenario, &g.spec, &errors)
        }) {
            return Err(refused);
        }
        let waited = started.elapsed();
        if waited > timeout {
            let Some(group) = run.groups.iter().find(|g| !ready(g)) else {
                break;
            };
            let held: Vec<String> = group
                .assigned
                .iter()
                .take(group.spec.members as usize)
                .map(|a| a.load(Ordering::Acquire).to_string())
                .collect();
            let errors = lock(&group.state).errors.join("; ");
            return Err(EngineError::GroupJoin {
                group: group.spec.name.clone(),
                expected: group.expected_partitions,
                timeout_s: timeout.as_secs(),
                detail: format!(
                    "members hold [{}] partitions; {}",
                    held.join(", "),
                    if errors.is_empty() {
                        "no error reported by the client".to_string()
                    } else {
                        errors
                    }
                ),
            });
        }
        if waited >= next_report {
            on_progress(&Progress {
                stage: "joining",
                elapsed: waited,
                point: None,
                catchups: Vec::new(),
                brokers: Vec::new(),
                so_far: Default::default(),
            });
            next_report += Duration::from_secs(1);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(protocol: GroupProtocol, errors: &[&str]) -> Option<String> {
        let mut scenario = crate::scenario::from_text(
            "[[topics]]\nname = \"o\"\npartitions = 2\n[[events]]\nname = \"E\"\ntopic = \"o\"\n\
             [[phases]]\nname = \"p\"\nrate = \"10/s\"\nduration = \"1s\"\n\
             [[consumer_groups]]\nname = \"orders\"\ntopics = [\"o\"]\n",
        );
        let mut group = scenario.groups[0].clone();
        group.protocol = protocol;
        group.protocol_keys.protocol = "--set group.orders.protocol".into();
        group.protocol_keys.assignor = "consumer_groups[0].assignor".into();
        scenario.source = "s.toml".into();
        let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        protocol_refusal(&scenario, &group, &errors).map(|e| e.to_string())
    }

    #[test]
    fn a_refused_protocol_or_assignor_names_its_key_and_the_brokers_answer() {
        let consumer = GroupProtocol::Consumer {
            assignor: Some("sticky".into()),
        };
        // librdkafka's words when the broker lacks ConsumerGroupHeartbeat (Kafka before 4.0).
        let unsupported = "Fatal error: Local: Required feature not supported by broker: ConsumerGroupHeartbeat fatal error: Local: Required feature not supported by broker";
        let error = refused(consumer.clone(), &[unsupported]).unwrap();
        assert!(
            error.contains("s.toml: --set group.orders.protocol = \"consumer\""),
            "{error}"
        );
        assert!(error.contains("Required feature not supported"), "{error}");
        assert!(error.contains("Kafka 4.0"), "{error}");
        // As Kafka 4.4 and librdkafka 2.12 gave it for an assignor the broker lacks.
        let unknown = "(Fatal) Message consumption error: UnsupportedAssignor (Broker: The assignor or its version range is not supported by the consumer group): ConsumerGroupHeartbeat fatal error: Broker: The assignor or its version range is not supported by the consumer group";
        let error = refused(consumer.clone(), &[unknown]).unwrap();
        assert!(
            error.contains("consumer_groups[0].assignor = \"sticky\""),
            "{error}"
        );
        // Other answers, fatal ones included, and classic groups wait for the join timeout.
        let denied = "ConsumerGroupHeartbeat fatal error: Broker: Group authorization failed";
        let transient = "Broker: Coordinator not available";
        assert_eq!(refused(consumer, &[denied, transient]), None);
        let classic = GroupProtocol::Classic { assignor: None };
        assert_eq!(refused(classic, &[unsupported]), None);
    }
}
