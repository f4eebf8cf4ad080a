//! The workers' facts checked against the run's scenario before anything is added: a file
//! that names a topic, group, key or count the scenario cannot have is refused (exit 2,
//! naming the file and the field), never indexed, looped over or trusted.

use std::path::Path;

use crate::engine::Plan;
use crate::error::SurgeError;
use crate::scenario::Scenario;

use super::read::Worker;

/// Checks every worker's `worker.json` share and ledger against `scenario`.
pub(super) fn check_workers(scenario: &Scenario, workers: &[Worker]) -> Result<(), SurgeError> {
    let planned = Plan::new(&scenario.phases).total_events();
    // Every key's sequences start at 0, and each worker's pacers round their share up by at
    // most one event per producer instance.
    let most = planned.saturating_add(u64::from(scenario.producer_instances));
    let mut sent: u64 = 0;
    for worker in workers {
        check_share(scenario, worker).map_err(|detail| bad(&worker.dir, "worker.json", detail))?;
        let ledger = check_ledger(scenario, worker)
            .map_err(|detail| bad(&worker.dir, "ledger.json", detail))?;
        sent = sent.saturating_add(ledger);
        if sent > most {
            return Err(bad(
                &worker.dir,
                "ledger.json",
                format!(
                    "the workers' ledgers count {sent} events sent by here, more than the {planned} the plan holds"
                ),
            ));
        }
    }
    Ok(())
}

fn bad(dir: &Path, file: &str, detail: String) -> SurgeError {
    SurgeError::RunDir {
        path: dir.join(file),
        detail,
    }
}

/// The share's shape is the scenario's: one entry per topic and group, in its order.
fn check_share(scenario: &Scenario, worker: &Worker) -> Result<(), String> {
    let share = &worker.file.share;
    if share.acked_high.len() != scenario.topics.len() {
        return Err(format!(
            "`share.acked_high` has {} topics, and the scenario {}",
            share.acked_high.len(),
            scenario.topics.len()
        ));
    }
    if let Some(t) = share.acked_high.iter().position(|p| p.len() > 1 << 16) {
        return Err(format!(
            "`share.acked_high[{t}]` has more partitions than a topic of surge's can (65,536)"
        ));
    }
    if share.groups.len() != scenario.groups.len() {
        return Err(format!(
            "`share.groups` has {} groups, and the scenario {}",
            share.groups.len(),
            scenario.groups.len()
        ));
    }
    for (g, (facts, spec)) in share.groups.iter().zip(&scenario.groups).enumerate() {
        if facts.name != spec.name || facts.positions.len() != spec.topics.len() {
            return Err(format!(
                "`share.groups[{g}]` is not the scenario's group `{}` reading {} topics",
                spec.name,
                spec.topics.len()
            ));
        }
        if let Some(key) = facts
            .keys
            .iter()
            .find(|k| !k.above.is_sorted_by(|a, b| a < b))
        {
            return Err(format!(
                "`share.groups[{g}].keys` has key {} whose `above` sequences are not strictly ascending",
                key.key
            ));
        }
    }
    if let Some(second) = share
        .lag_terms
        .iter()
        .position(|terms| terms.len() > scenario.groups.len())
    {
        return Err(format!(
            "`share.lag_terms[{second}]` has more groups than the scenario's {}",
            scenario.groups.len()
        ));
    }
    Ok(())
}

/// Every ledger key is one the scenario has; returns the events the ledger counts sent.
fn check_ledger(scenario: &Scenario, worker: &Worker) -> Result<u64, String> {
    let mut sent: u64 = 0;
    for (key, &count) in &worker.ledger.counts {
        let aggregate = scenario.aggregates.get(usize::from(key.aggregate()));
        let fits = key.producer() < scenario.producer_instances
            && aggregate.is_some_and(|a| u64::from(key.index()) < a.keys);
        if !fits {
            return Err(format!(
                "key (producer {}, aggregate {}, index {}) is not one of the scenario's ({} producer instances, {} aggregates)",
                key.producer(),
                key.aggregate(),
                key.index(),
                scenario.producer_instances,
                scenario.aggregates.len()
            ));
        }
        sent = sent.saturating_add(u64::from(count));
    }
    Ok(sent)
}
