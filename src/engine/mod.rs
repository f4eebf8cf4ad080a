//! The run itself, as stages: clients are created (`setup`), consumer groups join (`join`),
//! producers follow the plan while the timeline ticks and faults apply (`watch`), groups drain
//! (`drain`), and everything measured is gathered into a [`RunRecord`] (`collect`).
//! The only module that spawns tasks.

mod breakdown;
mod catchup;
mod collect;
mod consumer;
mod dead_letters;
mod drain;
mod fault_figures;
mod fault_windows;
mod faults;
mod join;
mod loss_audit;
mod monitor;
mod pacer;
mod phase_figures;
mod producer;
mod rebalance_figures;
mod record;
mod redact;
mod replace;
mod setup;
mod share;
mod signals;
mod summarize;
mod ticker;
mod watch;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::task::JoinHandle;

pub use consumer::read_past;
pub use fault_windows::FaultWindows;
pub use faults::FaultLog;
pub use pacer::{Clock, PaceEnd, Pacer, Plan, pace};
pub use rebalance_figures::{ChangeAt, GapAt, OwnershipRecord, TriggerAt};
pub use record::{
    EngineError, FailureRecord, FaultRecord, GroupRecord, Progress, RunRecord, SoFar,
    histogram_totals,
};
pub use redact::redact_source;
pub use share::{GroupFacts, LagTerms, ShareFacts};
pub use signals::{StopSignal, keep_iam_token_fresh, watch_interrupts};
pub use summarize::{Target, summarize};

/// The shared state the timeline is built from, for the envelope test and benches that
/// measure the ticker alone.
pub mod parts {
    pub use super::consumer::GroupShared;
    pub use super::producer::InstanceShared;
    pub use super::ticker::Ticker;
}

use crate::kafka::clock::unix_micros;
use crate::kafka::{EmbeddedCluster, EventProducer};
use crate::scenario::Scenario;
use crate::workload::RUN_ID_LEN;
use producer::{InstanceOutcome, InstanceShared, run_instance};
use setup::Run;

/// Locks a mutex, tolerating a panicked holder: measurements beat a second panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the scenario against `servers` until the plan ends and the groups drain, or a stop.
/// Faults of the embedded kinds are applied to `embedded`.
pub async fn run(
    scenario: &Scenario,
    servers: &str,
    embedded: Option<&EmbeddedCluster>,
    run_id: [u8; RUN_ID_LEN],
    stop: Arc<StopSignal>,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunRecord, EngineError> {
    let (mut run, producers) = Run::create(scenario, servers, run_id)?;
    setup::start_at_end(&run.scenario, servers, &run.groups).await?;
    run.dlt_starts = setup::dlt_starts(&run.scenario, servers).await?;
    let mut members = spawn_first_members(&run)?;
    let group_join = match join::join(&run, &stop, on_progress).await {
        Ok(waited) => waited,
        Err(error) => {
            collect::stop_members(&run.groups, members).await;
            return Err(error);
        }
    };
    let (start, started_unix_us) = match scenario.start_at_unix_us {
        Some(at) => join::wait_for_start(at, &stop).await,
        None => (Instant::now(), unix_micros()),
    };
    let _ = run.start.set((start, started_unix_us));
    let producer_tasks = produce(&run, producers, &stop, started_unix_us);
    let watched = watch::watch(
        &run,
        embedded,
        producer_tasks,
        &mut members,
        &stop,
        on_progress,
    )
    .await;
    let collected =
        collect::collect(&run, watched, members, group_join, started_unix_us, &stop).await;
    Ok(collected)
}

/// Every member this process runs of the groups that join before the plan starts.
fn spawn_first_members(run: &Run) -> Result<Vec<JoinHandle<()>>, EngineError> {
    let mut members = Vec::new();
    for (group, shared) in run.groups.iter().enumerate() {
        if shared.spec.starts_after.is_some() {
            continue;
        }
        for member in 0..shared.spec.members as usize {
            if run.scenario.workers.runs_member(member) {
                members.push(run.spawn_member(group, member)?);
            }
        }
    }
    Ok(members)
}

/// Stage two: every producer instance follows the plan on its own thread.
fn produce(
    run: &Run,
    producers: Vec<EventProducer<InstanceShared>>,
    stop: &Arc<StopSignal>,
    started_unix_us: u64,
) -> Vec<JoinHandle<InstanceOutcome>> {
    run.instances
        .iter()
        .cloned()
        .zip(producers)
        .enumerate()
        .map(|(instance, (shared, producer))| {
            let (scenario, stop) = (run.scenario.clone(), stop.clone());
            let (servers, brokers) = (run.servers.clone(), run.brokers.clone());
            tokio::task::spawn_blocking(move || {
                let sink = shared.clone();
                let rebuild = || setup::event_producer(&scenario, &servers, sink.clone(), &brokers);
                run_instance(
                    &scenario,
                    producer,
                    &rebuild,
                    scenario.first_instance() + instance as u16,
                    shared,
                    &stop,
                    started_unix_us,
                )
            })
        })
        .collect()
}
