//! One load test spread over several processes: which share this process runs, the start
//! every worker shares, and `worker.json`, the raw facts `surge merge` adds up.
//!
//! There is no coordinator: workers agree by construction. Each runs the same scenario with
//! its own `--worker-index`, so it sends every event whose producer instance is its own (its
//! keys are its own), runs every member whose slot is its own, and starts its plan at the
//! same `--start-at`. The run id, and so every consumer group id, is derived from the
//! scenario and the start, so every worker names the same groups.

mod mark;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use mark::{MARK_FILE, MARK_SCHEMA, WorkerMark};

use crate::engine::ShareFacts;
use crate::kafka::clock::ClockOffset;
use crate::scenario::{Bootstrap, Overrides, Scenario, ScenarioError, WorkerShare};
use crate::workload::RUN_ID_LEN;

/// The schema name of `worker.json`.
pub const WORKER_SCHEMA: &str = "surge.worker/v1";
/// The file a worker writes beside its reports.
pub const WORKER_FILE: &str = "worker.json";
/// Workers one run may have.
pub const MAX_WORKERS: u16 = 1024;
/// How far ahead `--start-at` may be: a run waits for it, and every run stops by itself.
pub const MAX_START_WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// What the command line says about this process's part: `--worker-index` (or
/// `JOB_COMPLETION_INDEX`), `--worker-count`, `--start-at`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkerFlags {
    pub index: Option<u16>,
    pub count: Option<u16>,
    pub start_at_unix_us: Option<u64>,
}

fn flag_error(key: &str, problem: String, fix: &str) -> ScenarioError {
    ScenarioError {
        file: "command line".into(),
        key: key.into(),
        problem,
        fix: fix.into(),
    }
}

fn scenario_error(scenario: &Scenario, key: String, problem: String, fix: &str) -> ScenarioError {
    ScenarioError {
        file: scenario.source.display().to_string(),
        key,
        problem,
        fix: fix.into(),
    }
}

/// Applies the flags to a resolved scenario, refusing what a distributed run cannot do.
pub fn apply(
    scenario: &mut Scenario,
    flags: &WorkerFlags,
    now_unix_us: u64,
) -> Result<(), ScenarioError> {
    let count = flags.count.unwrap_or(1);
    if count == 0 || count > MAX_WORKERS {
        return Err(flag_error(
            "--worker-count",
            format!("{count} workers: a run has 1 to {MAX_WORKERS}"),
            "pass the number of worker processes (the Indexed Job's completions)",
        ));
    }
    let index = flags.index.unwrap_or(0);
    if flags.index.is_some() && flags.count.is_none() {
        return Err(flag_error(
            "--worker-count",
            format!("--worker-index {index} is given without --worker-count"),
            "pass --worker-count N (or SURGE_WORKER_COUNT) to every worker",
        ));
    }
    if index >= count {
        return Err(flag_error(
            "--worker-index",
            format!(
                "worker index {index} with {count} workers: indexes run from 0 to {}",
                count - 1
            ),
            "give each worker an index below --worker-count (JOB_COMPLETION_INDEX does this on Kubernetes)",
        ));
    }
    if let Some(at) = flags.start_at_unix_us {
        check_start(scenario, at, now_unix_us)?;
    }
    let share = WorkerShare { index, count };
    scenario.workers = share;
    scenario.start_at_unix_us = flags.start_at_unix_us;
    if !share.is_distributed() {
        return Ok(());
    }
    if flags.start_at_unix_us.is_none() {
        return Err(flag_error(
            "--start-at",
            format!("{count} workers need a start they share"),
            "pass the same --start-at (RFC 3339, a few minutes ahead) to every worker",
        ));
    }
    if matches!(scenario.cluster.bootstrap, Bootstrap::Embedded { .. }) {
        return Err(flag_error(
            "--bootstrap",
            "workers each have their own embedded broker: they would not share a cluster".into(),
            "pass --bootstrap (or KAFKA_BOOTSTRAP_SERVERS) naming the cluster every worker loads",
        ));
    }
    check_distributable(scenario, count)
}

/// The shared start must be near: not far ahead, and not so far behind that the plan is over.
fn check_start(scenario: &Scenario, at: u64, now_unix_us: u64) -> Result<(), ScenarioError> {
    let ahead = at.saturating_sub(now_unix_us);
    if ahead > MAX_START_WAIT.as_micros() as u64 {
        return Err(flag_error(
            "--start-at",
            format!(
                "the start is {:.0} minutes away; a run waits at most {} minutes for it",
                ahead as f64 / 60e6,
                MAX_START_WAIT.as_secs() / 60
            ),
            "set --start-at a few minutes ahead: time for every worker to start and join",
        ));
    }
    let behind = now_unix_us.saturating_sub(at);
    if behind > scenario.planned_duration().as_micros() as u64 {
        return Err(flag_error(
            "--start-at",
            format!(
                "the start was {:.0}s ago, longer than the whole {:.0}s plan",
                behind as f64 / 1e6,
                scenario.planned_duration().as_secs_f64()
            ),
            "set --start-at in the future (RFC 3339, e.g. 2026-11-27T09:00:00Z)",
        ));
    }
    Ok(())
}

/// What a scenario must not hold to be spread over `count` workers.
fn check_distributable(scenario: &Scenario, count: u16) -> Result<(), ScenarioError> {
    if (scenario.producer_instances as u32) * (count as u32) > u16::MAX as u32 {
        return Err(scenario_error(
            scenario,
            "producer.instances".into(),
            format!(
                "{} instances on each of {count} workers is more than the {} keys can name",
                scenario.producer_instances,
                u16::MAX
            ),
            "lower producer.instances",
        ));
    }
    for (i, group) in scenario.groups.iter().enumerate() {
        if group.members < count {
            return Err(scenario_error(
                scenario,
                format!("consumer_groups[{i}].members"),
                format!(
                    "group `{}` has {} members for {count} workers: every worker runs at least one member of every group, so that a worker that finishes first can leave its partitions to the others",
                    group.name, group.members
                ),
                "set members to the worker count or more",
            ));
        }
    }
    Ok(())
}

/// The run id every worker of a run derives alike, from the scenario's name, the start and
/// the worker count: the consumer group ids and the events' run tag are made from it.
pub fn shared_run_id(scenario: &Scenario) -> [u8; RUN_ID_LEN] {
    // FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let text = format!(
        "{}|{}|{}",
        scenario.name,
        scenario.start_at_unix_us.unwrap_or(0),
        scenario.workers.count
    );
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut id = [0u8; RUN_ID_LEN];
    id.copy_from_slice(format!("{:08x}", (hash ^ (hash >> 32)) as u32).as_bytes());
    id
}

/// What `surge merge` needs to resolve the scenario again as the workers did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeInputs {
    /// The scenario file the workers ran (curve files are read relative to it).
    pub source_path: String,
    /// Its text, with secret values replaced.
    pub source_text: String,
    pub rate_scale: Option<f64>,
    pub duration_scale: Option<f64>,
    /// `--slo` flags, as written.
    pub slos: Vec<String>,
    /// `-X` flags, secret values replaced.
    pub properties: Vec<(String, String)>,
    pub label: crate::summary::Label,
    /// `--set` flags, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_settings: Vec<String>,
}

impl MergeInputs {
    /// From the resolved scenario: its settings hold the flags (secret values redacted).
    pub fn new(scenario: &Scenario) -> MergeInputs {
        let settings = &scenario.settings;
        MergeInputs {
            source_path: scenario.source.display().to_string(),
            source_text: crate::engine::redact_source(&scenario.source_text),
            rate_scale: (settings.rate_scale != 1.0).then_some(settings.rate_scale),
            duration_scale: (settings.duration_scale != 1.0).then_some(settings.duration_scale),
            slos: settings.slos.clone(),
            properties: settings.properties.clone(),
            label: scenario.label.clone().unwrap_or_default(),
            group_settings: settings.group_settings.clone(),
        }
    }

    /// The scenario as the workers resolved it, but run by one process: every producer
    /// instance and every member, no worker share.
    pub fn resolve(&self, instances: u16) -> Result<Scenario, String> {
        let path = Path::new(&self.source_path);
        let raw = toml::from_str(&self.source_text).map_err(|e| e.to_string())?;
        let slos = self
            .slos
            .iter()
            .map(|s| s.parse())
            .collect::<Result<Vec<_>, String>>()?;
        let group_settings = (self.group_settings.iter())
            .map(|s| crate::scenario::GroupSetting::parse(s))
            .collect::<Result<Vec<_>, String>>()?;
        let overrides = Overrides {
            properties: self.properties.clone(),
            group_settings,
            slos,
            label: self.label.clone(),
            rate_scale: self.rate_scale,
            duration_scale: self.duration_scale,
            ..Overrides::default()
        };
        let mut scenario =
            crate::scenario::resolve(raw, path, self.source_text.clone(), &overrides)
                .map_err(|e| e.to_string())?;
        scenario.producer_instances = instances;
        Ok(scenario)
    }
}

/// `worker.json`: one worker's part of a distributed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerFile {
    pub schema: String,
    pub run_id: String,
    pub index: u16,
    pub count: u16,
    pub start_at_unix_us: u64,
    /// Producer instances of this worker.
    pub instances: u16,
    pub host: String,
    /// The worker ran its share to the end (not interrupted, no fatal error).
    pub complete: bool,
    /// Why it is not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// This host's clock against the brokers'; `None` with the reason when not measured.
    pub clock: Option<ClockOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_problem: Option<String>,
    /// Offset of the last send from the plan start, in microseconds.
    pub last_send_us: u64,
    pub group_join_us: u64,
    pub run_time_us: u64,
    pub inputs: MergeInputs,
    pub share: ShareFacts,
    /// Each fault as this worker saw it (its window; the commands it ran), in scenario order.
    #[serde(default)]
    pub faults: Vec<crate::engine::FaultLog>,
    /// Per fault boundary, each of this worker's keys' count then (see
    /// [`SentLedger::export_marks`](crate::metrics::SentLedger::export_marks)).
    #[serde(default)]
    pub fault_marks: Vec<Vec<[u64; 4]>>,
}

/// One worker's own verdict: it saw its share only (other workers' members read its events,
/// and its members read theirs), so its SLO checks mean nothing alone. It passes when it ran
/// its share to the end; `surge merge` judges the run.
pub fn judge_share(summary: &mut crate::summary::Summary, scenario: &Scenario) {
    let share = scenario.workers;
    summary.verdict.checks.clear();
    summary.verdict.reasons = vec![format!(
        "worker {} of {}: its share of the run only; `surge merge` of every worker's directory judges the run",
        share.index, share.count
    )];
    summary.verdict.status = if summary.complete {
        crate::summary::Status::Pass
    } else {
        crate::summary::Status::Inconclusive
    };
    summary.workers = Some(crate::summary::WorkersSummary {
        count: share.count,
        index: Some(share.index),
        rows: Vec::new(),
        missing: Vec::new(),
        clock_skew_us: None,
        clock_uncertainty_us: None,
        max_skew_fraction: 0.0,
    });
}

/// The worker's `worker.json`.
pub fn worker_file(
    scenario: &Scenario,
    record: &crate::engine::RunRecord,
    summary: &crate::summary::Summary,
    run_id: &str,
    clock: Option<Result<ClockOffset, String>>,
    share: ShareFacts,
) -> WorkerFile {
    let (clock, clock_problem) = match clock {
        Some(Ok(offset)) => (Some(offset), None),
        Some(Err(problem)) => (None, Some(problem)),
        None => (None, Some("not measured".into())),
    };
    WorkerFile {
        schema: WORKER_SCHEMA.into(),
        run_id: run_id.into(),
        index: scenario.workers.index,
        count: scenario.workers.count,
        start_at_unix_us: record.started_unix_us,
        instances: scenario.producer_instances,
        host: summary.environment.host.clone(),
        complete: summary.complete && record.fatal.is_none(),
        incomplete: record
            .fatal
            .clone()
            .or_else(|| summary.partial_reason.clone()),
        clock,
        clock_problem,
        last_send_us: record.last_send.as_micros() as u64,
        group_join_us: record.group_join.as_micros() as u64,
        run_time_us: record.run_time.as_micros() as u64,
        inputs: MergeInputs::new(scenario),
        share,
        faults: record.faults.iter().map(|f| f.log.clone()).collect(),
        fault_marks: record.ledger.export_marks(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Pacer, Plan};

    fn scenario() -> Scenario {
        let text = "name = \"w\"\n[cluster]\nbootstrap = \"127.0.0.1:9092\"\n[producer]\ninstances = 2\n\
            [[topics]]\nname = \"t\"\npartitions = 6\n[[events]]\nname = \"E\"\ntopic = \"t\"\n\
            [[phases]]\nrate = \"1k/s\"\nduration = \"10s\"\n\
            [[consumer_groups]]\nname = \"g\"\ntopics = [\"t\"]\nmembers = 3\n";
        crate::scenario::resolve(
            toml::from_str(text).unwrap(),
            Path::new("w.toml"),
            text.into(),
            &Overrides::default(),
        )
        .unwrap()
    }

    fn share(index: u16, count: u16, start: u64) -> Scenario {
        let mut scenario = scenario();
        let flags = WorkerFlags {
            index: Some(index),
            count: Some(count),
            start_at_unix_us: Some(start),
        };
        apply(&mut scenario, &flags, start - 1_000_000).unwrap();
        scenario
    }

    #[test]
    fn rebalance_and_broker_slos_are_judged_and_group_settings_reach_the_merge() {
        let start = 1_800_000_000_000_000;
        let flags = WorkerFlags {
            index: Some(0),
            count: Some(2),
            start_at_unix_us: Some(start),
        };
        // Rebalances and the brokers' view are merged from every worker's: judged across them.
        for slo in [
            "group.g.rebalance.redelivered == 0",
            "broker.rtt.p99 < 100ms",
        ] {
            let mut scenario = scenario();
            scenario.slos.push(slo.parse().unwrap());
            apply(&mut scenario, &flags, start - 1_000_000).unwrap();
        }
        // A worker run with --set: the merge resolves the scenario with it again.
        let mut worker = share(0, 2, start);
        worker.settings.group_settings = vec!["group.g.protocol=consumer".into()];
        let whole = MergeInputs::new(&worker).resolve(4).unwrap();
        assert_eq!(whole.groups[0].protocol.name(), "consumer");
    }

    #[test]
    fn every_worker_derives_the_same_run_id_and_another_start_another() {
        let start = 1_800_000_000_000_000;
        let ids: Vec<_> = (0..3).map(|i| shared_run_id(&share(i, 3, start))).collect();
        assert!(ids.iter().all(|id| *id == ids[0]));
        assert_ne!(shared_run_id(&share(0, 3, start + 1)), ids[0]);
        assert!(ids[0].iter().all(u8::is_ascii_hexdigit));
    }

    #[test]
    fn the_workers_shares_are_disjoint_and_cover_the_plan_and_every_member() {
        let start = 1_800_000_000_000_000;
        let workers: Vec<Scenario> = (0..3).map(|i| share(i, 3, start)).collect();
        let plan = Plan::new(&workers[0].phases);
        let mut seen = vec![0u8; plan.total_events() as usize];
        let mut producers = Vec::new();
        for worker in &workers {
            assert_eq!(worker.total_instances(), 6);
            for local in 0..worker.producer_instances {
                let id = worker.first_instance() + local;
                producers.push(id);
                let mut pacer = Pacer::new(id, worker.total_instances());
                while let Some(tick) = pacer.peek(&plan) {
                    seen[tick.event as usize] += 1;
                    pacer.advance();
                }
            }
            let shared = Plan::new(&worker.phases).shared_by(worker.workers.count);
            assert!((shared.planned_events() - 10_000.0 / 3.0).abs() < 1e-6);
        }
        assert!(
            seen.iter().all(|&n| n == 1),
            "every event sent exactly once"
        );
        producers.sort_unstable();
        assert_eq!(producers, (0..6).collect::<Vec<u16>>(), "keys of its own");
        for member in 0..3 {
            let runners = workers
                .iter()
                .filter(|w| w.workers.runs_member(member))
                .count();
            assert_eq!(runners, 1, "member {member}");
        }
    }

    #[test]
    fn merge_inputs_resolve_to_the_whole_run() {
        let worker = share(1, 3, 1_800_000_000_000_000);
        let whole = MergeInputs::new(&worker).resolve(6).unwrap();
        assert_eq!(whole.workers, WorkerShare::default());
        assert_eq!(whole.producer_instances, 6);
        assert_eq!(whole.slos, worker.slos);
        assert_eq!(whole.planned_duration(), worker.planned_duration());
    }
}
