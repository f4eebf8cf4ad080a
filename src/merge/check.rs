//! The workers' facts checked against the run's scenario before anything is added: a file
//! that names a topic, group, key or count the scenario cannot have is refused (exit 2,
//! naming the file and the field), never indexed, looped over or trusted.

use std::path::Path;

use crate::engine::Plan;
use crate::error::SurgeError;
use crate::metrics::KeyId;
use crate::metrics::checker::KeyFacts;
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
        check_share(scenario, worker, most)
            .map_err(|detail| bad(&worker.dir, "worker.json", detail))?;
        check_faults(scenario, worker).map_err(|detail| bad(&worker.dir, "worker.json", detail))?;
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

/// One log per scenario fault, each inside the worker's run, and one mark per boundary.
fn check_faults(scenario: &Scenario, worker: &Worker) -> Result<(), String> {
    let file = &worker.file;
    if file.faults.len() != scenario.faults.len() {
        return Err(format!(
            "`faults` lists {} faults where the scenario has {}",
            file.faults.len(),
            scenario.faults.len()
        ));
    }
    let run_end = std::time::Duration::from_micros(file.run_time_us);
    for (i, log) in file.faults.iter().enumerate() {
        let inside = |at: Option<std::time::Duration>| at.is_none_or(|at| at <= run_end);
        let ordered = match (log.started, log.ended) {
            (Some(started), Some(ended)) => started <= ended,
            (None, Some(_)) => false,
            _ => true,
        };
        if !inside(log.started) || !inside(log.ended) || !ordered {
            return Err(format!(
                "`faults[{i}]` starts at {:?} and ends at {:?}: not in order inside the run's {:?} (`run_time_us`)",
                log.started, log.ended, run_end
            ));
        }
    }
    let boundaries = crate::scenario::faults::boundaries(&scenario.faults).len();
    if !file.fault_marks.is_empty() && file.fault_marks.len() != boundaries {
        return Err(format!(
            "`fault_marks` holds {} marks where the scenario's faults have {boundaries} boundaries",
            file.fault_marks.len()
        ));
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
fn check_share(scenario: &Scenario, worker: &Worker, most: u64) -> Result<(), String> {
    let longest_us = crate::summary::LONGEST_RUN.as_micros() as u64;
    let file = &worker.file;
    for (field, value) in [
        ("run_time_us", file.run_time_us),
        ("last_send_us", file.last_send_us),
        ("group_join_us", file.group_join_us),
    ] {
        if value > longest_us {
            return Err(format!(
                "`{field}` is {value}: longer than a run can last (8 days)"
            ));
        }
    }
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
        let partitions = |p: &[Vec<i64>]| p.iter().all(|t| t.len() <= 1 << 16);
        let first_ok =
            facts.first_positions.is_empty() || facts.first_positions.len() == spec.topics.len();
        if !partitions(&facts.positions) || !partitions(&facts.first_positions) || !first_ok {
            return Err(format!(
                "`share.groups[{g}]` has positions for more partitions or topics than the group reads"
            ));
        }
        if let Some((key, problem)) = facts
            .keys
            .iter()
            .find_map(|k| key_problem(scenario, k, most).map(|p| (k.key, p)))
        {
            return Err(format!("`share.groups[{g}].keys` has key {key}: {problem}"));
        }
        super::ownership::check(scenario, g, spec, &facts.ownership)?;
    }
    let seconds = file.run_time_us / 1_000_000 + 60;
    if share.lag_terms.len() as u64 > seconds {
        return Err(format!(
            "`share.lag_terms` has {} seconds, more than the worker's run of {} s",
            share.lag_terms.len(),
            file.run_time_us / 1_000_000
        ));
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

/// What is wrong with one key's facts, if anything: a key the scenario cannot have, or
/// sequences out of their order or beyond what the plan sends.
fn key_problem(scenario: &Scenario, facts: &KeyFacts, most: u64) -> Option<&'static str> {
    let key = KeyId(facts.key);
    let known = key.producer() < scenario.producer_instances
        && scenario
            .aggregates
            .get(usize::from(key.aggregate()))
            .is_some_and(|a| u64::from(key.index()) < a.keys);
    let (next, highest) = (facts.next, facts.highest);
    let within = |s: &u32| *s < highest;
    if !known {
        Some("not one of the scenario's keys")
    } else if next > highest || u64::from(highest) > most {
        Some("its `next` and `highest` are not sequences the plan sends")
    } else if !facts.above.is_sorted_by(|a, b| a < b)
        || !facts.above.iter().all(|s| *s >= next && within(s))
    {
        Some("its `above` sequences are not strictly ascending between `next` and `highest`")
    } else if !facts.out_of_order.iter().all(within) {
        Some("its `out_of_order` sequences are not below `highest`")
    } else {
        None
    }
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
    // A failed send is one of the key's sequences the ledger counts sent.
    let ledger = &worker.ledger;
    if let Some((key, sequence)) = ledger
        .failed
        .iter()
        .find(|(key, sequence)| ledger.counts.get(key).is_none_or(|&n| *sequence >= n))
    {
        return Err(format!(
            "`failed` has sequence {sequence} of key (producer {}, aggregate {}, index {}), which `keys` does not count sent",
            key.producer(),
            key.aggregate(),
            key.index()
        ));
    }
    Ok(sent)
}
