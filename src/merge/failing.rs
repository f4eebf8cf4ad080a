//! What failing and late groups did, added across the workers that ran their members: each
//! worker counts the events its members failed and the dead letters it wrote (and found again,
//! by its own index on them), so the counts add up; a late group joined when its first worker
//! told its members to, and caught up when its last worker saw its commits pass every ack.

use crate::engine::FailureRecord;
use crate::metrics::histograms::{e2e_failed_tag, retry_delay_tag};
use crate::scenario::{GroupSpec, Scenario};
use crate::summary::{FailureSummary, GroupSummary, ReplaySummary};

use super::read::Worker;
use super::total;

/// Group `g`'s failures, added; `None` for a group that does not fail events.
pub(super) fn failures(
    scenario: &Scenario,
    workers: &[Worker],
    g: usize,
    spec: &GroupSpec,
) -> Option<FailureRecord> {
    let dlt_topic = scenario.topics.get(spec.failures.as_ref()?.dlt_topic)?;
    let parts: Vec<&FailureSummary> = workers
        .iter()
        .filter_map(|w| group_of(w, g, &spec.name)?.failures.as_ref())
        .collect();
    let mut counts = FailureSummary {
        dlt_topic: dlt_topic.name.clone(),
        // Found only when every worker read its dead letters back.
        dlt_found: (parts.len() == workers.len()).then_some(0),
        ..FailureSummary::default()
    };
    for part in &parts {
        add(&mut counts, part);
    }
    if parts.len() < workers.len() {
        counts.errors.push(format!(
            "{} of {} workers kept no failure counts for this group: its dead letters are not verified",
            workers.len() - parts.len(),
            workers.len()
        ));
    }
    Some(FailureRecord {
        counts,
        retry_delay: total(workers, &retry_delay_tag(&spec.name)),
        e2e_failed: total(workers, &e2e_failed_tag(&spec.name)),
    })
}

/// Group `g` of a worker's summary, when it is the scenario's group of that name.
fn group_of<'a>(worker: &'a Worker, g: usize, name: &str) -> Option<&'a GroupSummary> {
    worker
        .run
        .summary
        .groups
        .get(g)
        .filter(|group| group.name == name)
}

/// `part`'s counts added into `into`, saturating (a crafted file must not overflow them).
fn add(into: &mut FailureSummary, part: &FailureSummary) {
    let sum = |a: &mut u64, b: u64| *a = a.saturating_add(b);
    sum(&mut into.failed, part.failed);
    sum(&mut into.retried, part.retried);
    sum(&mut into.retries, part.retries);
    sum(&mut into.non_retryable, part.non_retryable);
    sum(&mut into.poisoned, part.poisoned);
    sum(&mut into.dead_lettered, part.dead_lettered);
    sum(&mut into.dlt_acked, part.dlt_acked);
    sum(&mut into.dlt_duplicates, part.dlt_duplicates);
    sum(&mut into.dlt_mismatched, part.dlt_mismatched);
    sum(&mut into.dlt_lost, part.dlt_lost);
    into.dlt_found = match (into.dlt_found, part.dlt_found) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        _ => None,
    };
    for error in &part.errors {
        if into.errors.len() < 10 && !into.errors.contains(error) {
            into.errors.push(error.clone());
        }
    }
}

/// A late group's replay across workers: from the earliest join to the latest catch-up (none
/// when a worker's did not come), the records every worker's members read.
pub(super) fn replay(workers: &[Worker], g: usize, spec: &GroupSpec) -> Option<ReplaySummary> {
    let parts: Vec<&ReplaySummary> = workers
        .iter()
        .filter_map(|w| group_of(w, g, &spec.name)?.replay.as_ref())
        .collect();
    let joined_s = (parts.iter().map(|p| p.joined_s)).reduce(f64::min)?;
    let caught_up_s = if parts.len() == workers.len() {
        (parts.iter().map(|p| p.caught_up_s)).try_fold(f64::MIN, |latest, at| Some(latest.max(at?)))
    } else {
        None
    };
    let records = (parts.iter().map(|p| p.records)).fold(0, u64::saturating_add);
    let rate = caught_up_s.and_then(|done| {
        let took = done - joined_s;
        (took > 0.0).then(|| records as f64 / took)
    });
    Some(ReplaySummary {
        joined_s,
        caught_up_s,
        records,
        rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_a_worker_that_could_not_read_back_verifies_nothing() {
        let part = |dead: u64, found: Option<u64>| FailureSummary {
            failed: dead.saturating_add(1),
            dead_lettered: dead,
            dlt_acked: dead,
            dlt_found: found,
            dlt_lost: dead - found.unwrap_or(0),
            errors: vec!["same".into()],
            ..FailureSummary::default()
        };
        let mut sum = FailureSummary {
            dlt_found: Some(0),
            ..FailureSummary::default()
        };
        add(&mut sum, &part(4, Some(4)));
        add(&mut sum, &part(3, Some(3)));
        assert_eq!(
            (sum.failed, sum.dead_lettered, sum.dlt_found),
            (9, 7, Some(7))
        );
        assert_eq!((sum.dlt_lost, sum.errors.len()), (0, 1));
        add(&mut sum, &part(2, None));
        assert_eq!((sum.dlt_found, sum.dlt_lost), (None, 2));
        let mut huge = part(u64::MAX, Some(u64::MAX));
        huge.dlt_lost = 0;
        add(&mut sum, &huge);
        assert_eq!(sum.dead_lettered, u64::MAX);
    }
}
