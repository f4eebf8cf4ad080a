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
use crate::scenario::GroupProtocol;

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

/// The error for a group whose protocol or assignor the cluster refused, from its members'
/// errors: librdkafka ends a consumer-protocol member with a fatal ConsumerGroupHeartbeat
/// error when the broker cannot serve KIP-848 or does not know the assignor.
fn protocol_refusal(
    index: usize,
    group: &str,
    protocol: &GroupProtocol,
    errors: &[String],
) -> Option<EngineError> {
    let GroupProtocol::Consumer { assignor } = protocol else {
        return None;
    };
    let answer = errors
        .iter()
        .find(|e| e.contains("ConsumerGroupHeartbeat") || e.contains("group.protocol"))?;
    let (field, fix) = if answer.to_ascii_lowercase().contains("assignor") {
        (
            "assignor",
            "use an assignor the brokers list in group.consumer.assignors (Kafka's own: uniform, range), or drop assignor",
        )
    } else {
        (
            "protocol",
            "use protocol = \"classic\", or a cluster that serves KIP-848's consumer protocol (Kafka 4.0 or later; MSK with Kafka 4.x)",
        )
    };
    let value = match field {
        "assignor" => assignor.as_deref().unwrap_or_default(),
        _ => "consumer",
    };
    Some(EngineError::GroupProtocol {
        group: group.to_string(),
        key: format!("consumer_groups[{index}].{field} = \"{value}\""),
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
        if let Some(refused) = run.groups.iter().enumerate().find_map(|(i, g)| {
            let errors = lock(&g.state).errors.clone();
            protocol_refusal(i, &g.spec.name, &g.spec.protocol, &errors)
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

    #[test]
    fn a_refused_protocol_or_assignor_names_its_key_and_the_brokers_answer() {
        let consumer = GroupProtocol::Consumer {
            assignor: Some("sticky".into()),
        };
        // librdkafka's words when the broker lacks ConsumerGroupHeartbeat (Kafka before 4.0).
        let unsupported = ["Fatal error: Local: Required feature not supported by broker: ConsumerGroupHeartbeat fatal error: Local: Required feature not supported by broker".to_string()];
        let error = protocol_refusal(1, "orders", &consumer, &unsupported)
            .unwrap()
            .to_string();
        assert!(
            error.contains("consumer_groups[1].protocol = \"consumer\""),
            "{error}"
        );
        assert!(error.contains("Required feature not supported"), "{error}");
        assert!(error.contains("Kafka 4.0"), "{error}");
        let unknown =
            ["ConsumerGroupHeartbeat fatal error: Broker: Unsupported assignor".to_string()];
        let error = protocol_refusal(0, "orders", &consumer, &unknown)
            .unwrap()
            .to_string();
        assert!(
            error.contains("consumer_groups[0].assignor = \"sticky\""),
            "{error}"
        );
        // Other errors, and classic groups, wait for the join timeout as before.
        let transient = ["Broker: Coordinator not available".to_string()];
        assert!(protocol_refusal(0, "orders", &consumer, &transient).is_none());
        let classic = GroupProtocol::Classic { assignor: None };
        assert!(protocol_refusal(0, "orders", &classic, &unsupported).is_none());
    }
}
