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

/// Stage one: waits until every group holds all its partitions. The wait is warmup, not
/// measured; a group that does not get there in time is an error that says what it holds.
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
                g.is_ready()
            }
    };
    while !run.groups.iter().all(ready) && !stop.is_requested() {
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
