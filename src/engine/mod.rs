//! The run itself: consumer groups join, producers follow the plan, the ticker samples,
//! groups drain, and everything measured comes back as a [`RunRecord`].
//! The only module that spawns tasks.

pub mod consumer;
pub mod fault_figures;
pub mod faults;
pub mod monitor;
pub mod pacer;
pub mod producer;
pub mod summarize;
pub mod ticker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use crate::kafka::{
    ConnectError, EmbeddedCluster, EventProducer, GroupMember, start_groups_at_end,
};
use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG, e2e_tag};
use crate::metrics::{Histograms, LossReport, SentLedger, TimelinePoint, new_histogram};
use crate::scenario::{GroupStart, Scenario};
use crate::workload::RUN_ID_LEN;
use consumer::{GroupShared, MemberArgs, run_member};
use pacer::{PaceEnd, Plan};
use producer::{InstanceShared, run_instance};

/// Locks a mutex, tolerating a panicked holder: measurements beat a second panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A stop request (first Ctrl-C: stop producing and drain) and an abort (second: stop now).
#[derive(Debug, Default)]
pub struct StopSignal {
    requested: AtomicBool,
    aborted: AtomicBool,
}

impl StopSignal {
    /// Asks the run to stop producing; a second call aborts the drain too.
    pub fn request(&self) {
        if self.requested.swap(true, Ordering::AcqRel) {
            self.aborted.store(true, Ordering::Release);
        }
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    pub fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }
}

/// Where the run is, for the live progress line.
#[derive(Debug, Clone)]
pub struct Progress {
    /// `joining`, `running` or `draining`.
    pub stage: &'static str,
    pub elapsed: Duration,
    pub point: Option<TimelinePoint>,
}

/// Why the run could not produce trustworthy measurements at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(
        "consumer group `{group}` did not get all {expected} partitions within {timeout_s}s ({detail})\n  fix: check that the brokers run a group coordinator, or raise run.group_join_timeout"
    )]
    GroupJoin {
        group: String,
        expected: usize,
        timeout_s: u64,
        detail: String,
    },
}

/// What one consumer group measured.
#[derive(Debug, Clone)]
pub struct GroupRecord {
    pub name: String,
    pub members: u16,
    pub topics: Vec<String>,
    pub e2e: Histogram<u64>,
    pub consumed: u64,
    pub unique: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub loss: LossReport,
    pub foreign: u64,
    pub max_lag: u64,
    pub final_lag: u64,
    pub errors: Vec<String>,
}

/// Everything the engine measured; the summary is built from it.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub started_unix_us: u64,
    pub group_join: Duration,
    /// From the plan's start to the end of the drain.
    pub run_time: Duration,
    pub interrupted: bool,
    /// Why the run had to end early as an error (an expired MSK IAM token).
    pub fatal: Option<String>,
    /// The generator was still behind schedule when its grace period ran out.
    pub out_of_time: bool,
    pub plan: Arc<Plan>,
    pub sent: u64,
    pub acked: u64,
    pub acked_by_topic: Vec<(String, u64)>,
    pub failed: u64,
    pub not_sent: u64,
    /// Offset of the last send from the plan start.
    pub last_send: Duration,
    pub publish: Histogram<u64>,
    pub schedule_lag: Histogram<u64>,
    pub groups: Vec<GroupRecord>,
    pub timeline: Vec<TimelinePoint>,
    /// Per-second and cumulative histograms, for the interval logs and charts.
    pub histograms: Histograms,
    pub errors: Vec<String>,
    /// What every producer sent, per key, and which sends failed.
    pub ledger: SentLedger,
    /// Per scenario fault, in the scenario's order.
    pub faults: Vec<FaultRecord>,
}

/// What one fault did, as the engine saw it.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    pub log: faults::FaultLog,
    /// Acked events intended in the fault's window that a group never consumed, summed over
    /// groups (as the run's `lost` is).
    pub lost: u64,
    /// Sends intended in the fault's window that failed.
    pub failed: u64,
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// What every stage of a run shares.
struct Shared {
    scenario: Arc<Scenario>,
    servers: String,
    run_id: [u8; RUN_ID_LEN],
    plan: Arc<Plan>,
    /// The plan's monotonic start and its wall-clock microseconds, set when it starts.
    start: Arc<OnceLock<(Instant, u64)>>,
    instances: Vec<Arc<InstanceShared>>,
    groups: Vec<Arc<GroupShared>>,
}

/// What the run loop hands to the collection stage.
struct Watched {
    ticker: ticker::Ticker,
    max_lag: Vec<u64>,
    run_time: Duration,
    fatal: Option<String>,
    producer_tasks: Vec<tokio::task::JoinHandle<producer::InstanceOutcome>>,
    fault_logs: Vec<faults::FaultLog>,
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
    let (run, producers) = Shared::create(scenario, servers, run_id)?;
    start_at_end(&run.scenario, servers, &run.groups).await?;
    let mut members = Vec::new();
    for (group, shared) in run.groups.iter().enumerate() {
        for member in 0..shared.spec.members as usize {
            members.push(run.spawn_member(group, member)?);
        }
    }
    let group_join = match join(&run, &stop, on_progress).await {
        Ok(waited) => waited,
        Err(error) => {
            stop_members(&run.groups, members).await;
            return Err(error);
        }
    };
    let started_unix_us = unix_micros();
    let _ = run.start.set((Instant::now(), started_unix_us));
    let producer_tasks = produce(&run, producers, &stop, started_unix_us);
    let watched = watch(
        &run,
        embedded,
        producer_tasks,
        &mut members,
        &stop,
        on_progress,
    )
    .await;
    Ok(collect(&run, watched, members, group_join, started_unix_us, &stop).await)
}

impl Shared {
    /// Creates every client first, so a bad property fails before anyone waits.
    fn create(
        scenario: &Scenario,
        servers: &str,
        run_id: [u8; RUN_ID_LEN],
    ) -> Result<(Shared, Vec<EventProducer<InstanceShared>>), EngineError> {
        let scenario = Arc::new(scenario.clone());
        let plan = Arc::new(Plan::new(&scenario.phases));
        let start = Arc::new(OnceLock::<(Instant, u64)>::new());
        let run_tag = String::from_utf8_lossy(&run_id).into_owned();
        let partitions: Vec<u32> = scenario
            .topics
            .iter()
            .map(|t| t.partitions.max(0) as u32)
            .collect();
        let instances: Vec<Arc<InstanceShared>> = (0..scenario.producer_instances)
            .map(|_| {
                Arc::new(InstanceShared::new(
                    run_id,
                    plan.clone(),
                    start.clone(),
                    &partitions,
                ))
            })
            .collect();
        let topic_names: Vec<&str> = scenario.topics.iter().map(|t| t.name.as_str()).collect();
        let type_names: Vec<&str> = if scenario.type_headers {
            scenario.events.iter().map(|e| e.name.as_str()).collect()
        } else {
            Vec::new()
        };
        let producers = instances
            .iter()
            .map(|shared| {
                EventProducer::create(
                    servers,
                    &scenario.cluster.producer,
                    shared.clone(),
                    &topic_names,
                    &type_names,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let groups = (0..scenario.groups.len())
            .map(|index| Arc::new(GroupShared::new(index, &scenario, &run_tag)))
            .collect();
        let shared = Shared {
            scenario,
            servers: servers.to_string(),
            run_id,
            plan,
            start,
            instances,
            groups,
        };
        Ok((shared, producers))
    }

    /// Starts one member of a group polling on its own thread.
    fn spawn_member(
        &self,
        group: usize,
        member: usize,
    ) -> Result<tokio::task::JoinHandle<()>, ConnectError> {
        let shared = &self.groups[group];
        let topics: Vec<String> = shared
            .spec
            .topics
            .iter()
            .map(|&t| self.scenario.topics[t].name.clone())
            .collect();
        let client_id = format!("{}-{member}", shared.group_id);
        let joined = GroupMember::join(
            &self.servers,
            &self.scenario.cluster.consumer,
            &shared.group_id,
            &client_id,
            &topics,
        )?;
        let args = MemberArgs {
            group: shared.clone(),
            member,
            run_id: self.run_id,
            plan: self.plan.clone(),
            start: self.start.clone(),
        };
        Ok(tokio::task::spawn_blocking(move || {
            run_member(joined, args)
        }))
    }
}

/// Stage one: waits until every group holds all its partitions. The wait is warmup, not
/// measured; a group that does not get there in time is an error that says what it holds.
async fn join(
    run: &Shared,
    stop: &StopSignal,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Duration, EngineError> {
    let started = Instant::now();
    let mut next_report = Duration::ZERO;
    let timeout = run.scenario.limits.group_join_timeout;
    while !run.groups.iter().all(|g| g.is_ready()) && !stop.is_requested() {
        let waited = started.elapsed();
        if waited > timeout {
            let group = run
                .groups
                .iter()
                .find(|g| !g.is_ready())
                .expect("one group is not ready");
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
            });
            next_report += Duration::from_secs(1);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed())
}

/// Stage two: every producer instance follows the plan on its own thread.
fn produce(
    run: &Shared,
    producers: Vec<EventProducer<InstanceShared>>,
    stop: &Arc<StopSignal>,
    started_unix_us: u64,
) -> Vec<tokio::task::JoinHandle<producer::InstanceOutcome>> {
    run.instances
        .iter()
        .cloned()
        .zip(producers)
        .enumerate()
        .map(|(instance, (shared, producer))| {
            let (scenario, stop) = (run.scenario.clone(), stop.clone());
            tokio::task::spawn_blocking(move || {
                run_instance(
                    &scenario,
                    producer,
                    instance as u16,
                    shared,
                    &stop,
                    started_unix_us,
                )
            })
        })
        .collect()
}

/// Stage three: while the producers run and then while the groups drain, ticks the timeline
/// once a second and walks the fault schedule, until every group has read everything acked,
/// the drain times out, or a stop.
async fn watch(
    run: &Shared,
    embedded: Option<&EmbeddedCluster>,
    producer_tasks: Vec<tokio::task::JoinHandle<producer::InstanceOutcome>>,
    members: &mut Vec<tokio::task::JoinHandle<()>>,
    stop: &StopSignal,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Watched {
    let scenario = &run.scenario;
    let plan_start = run.start.get().map_or_else(Instant::now, |(s, _)| *s);
    let mut ticker = ticker::Ticker::new(run.plan.clone(), run.groups.len());
    let mut next_tick = Duration::from_secs(1);
    let mut drain_started: Option<Instant> = None;
    let mut max_lag = vec![0u64; run.groups.len()];
    let iam = matches!(scenario.cluster.auth, crate::scenario::Auth::Iam { .. });
    let mut fatal = None;
    let mut schedule = faults::FaultSchedule::new(&scenario.faults);
    let mut handle =
        faults::FaultHandle::new(scenario.clone(), embedded, &run.groups, &run.instances);
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = plan_start.elapsed();
        for step in schedule.due(now) {
            if let Some(faults::Action::JoinMember { group, member }) = handle.take(step, now) {
                match run.spawn_member(group, member) {
                    Ok(task) => members.push(task),
                    Err(error) => {
                        handle.logs[step.fault].error =
                            Some(format!("a member could not join: {error}"))
                    }
                }
            }
        }
        if now >= next_tick {
            let point = ticker.tick(now, &run.instances, &run.groups);
            for (max, group) in max_lag.iter_mut().zip(&point.groups) {
                *max = (*max).max(group.lag);
            }
            on_progress(&Progress {
                stage: if drain_started.is_some() {
                    "draining"
                } else {
                    "running"
                },
                elapsed: now,
                point: Some(point.clone()),
            });
            next_tick += Duration::from_secs(1);
        }
        let failed_fault = handle.poll().await;
        let expired = iam.then(crate::kafka::auth::iam_token_expired).flatten();
        if let Some(cause) = failed_fault.or(expired
            .map(|cause| format!("the MSK IAM token expired and could not be renewed: {cause}")))
        {
            // The run cannot mean what it says any more: stop at once, keep what was measured.
            fatal = Some(cause);
            stop.request();
            stop.request();
            break;
        }
        match drain_started {
            None if producer_tasks.iter().all(|t| t.is_finished()) => {
                drain_started = Some(Instant::now())
            }
            None => {}
            Some(drain) => {
                // Every producer has flushed, so the acked offsets are final. A group has caught
                // up when it has consumed past the highest acked offset of every partition it
                // reads. (Acked minus consumed would not do: a send reported failed whose event
                // the broker wrote all the same is consumed too.)
                let acked_high = producer::acked_high(&run.instances);
                let caught_up = run
                    .groups
                    .iter()
                    .all(|g| g.has_read_everything(&acked_high));
                if caught_up || drain.elapsed() > scenario.limits.drain_timeout || stop.is_aborted()
                {
                    break;
                }
            }
        }
    }
    let run_time = plan_start.elapsed();
    if run_time > ticker_last(&ticker) + Duration::from_millis(200) {
        let point = ticker.tick(run_time, &run.instances, &run.groups);
        for (max, group) in max_lag.iter_mut().zip(&point.groups) {
            *max = (*max).max(group.lag);
        }
    }
    if let Some(failure) = handle.finish(run_time).await {
        fatal.get_or_insert(failure);
    }
    Watched {
        ticker,
        max_lag,
        run_time,
        fatal,
        producer_tasks,
        fault_logs: handle.logs,
    }
}

/// Stage four: the producers' outcomes, the members stopped, and every count reconciled into
/// the record the summary is built from.
async fn collect(
    run: &Shared,
    watched: Watched,
    members: Vec<tokio::task::JoinHandle<()>>,
    group_join: Duration,
    started_unix_us: u64,
    stop: &StopSignal,
) -> RunRecord {
    let scenario = &run.scenario;
    let instances = &run.instances;
    let final_lags: Vec<u64> = run.groups.iter().map(|g| lag_of(g, instances)).collect();
    let acked_high = producer::acked_high(instances);

    let mut ledger = SentLedger::default();
    let (mut not_sent, mut out_of_time, mut errors) = (0, false, Vec::new());
    for task in watched.producer_tasks {
        match task.await {
            Ok(outcome) => {
                not_sent += outcome.not_sent;
                out_of_time |= outcome.end == PaceEnd::OutOfTime;
                if !outcome.flushed {
                    errors.push("the producer could not deliver everything before the drain timeout; the rest was purged and counted as failed".into());
                }
                ledger.absorb(outcome.ledger);
            }
            Err(join_error) => errors.push(format!(
                "a producer instance stopped unexpectedly: {join_error}"
            )),
        }
    }
    stop_members(&run.groups, members).await;

    let mut publish = new_histogram();
    let mut schedule_lag = new_histogram();
    let (mut sent, mut acked, mut failed, mut last_send_us) = (0, 0, 0, 0);
    for instance in instances {
        publish
            .add(lock(&instance.publish).total())
            .expect("same bounds");
        schedule_lag
            .add(lock(&instance.schedule_lag).total())
            .expect("same bounds");
        sent += instance.sent.load(Ordering::Relaxed);
        acked += instance.acked.load(Ordering::Relaxed);
        failed += instance.failed.load(Ordering::Relaxed);
        last_send_us = last_send_us.max(instance.last_send_us.load(Ordering::Relaxed));
        for error in instance.errors() {
            if !errors.contains(&error) {
                errors.push(error);
            }
        }
    }
    let mut totals = vec![
        (PUBLISH.to_string(), publish.clone()),
        (SCHEDULE_LAG.to_string(), schedule_lag.clone()),
    ];
    let windows = FaultWindows::new(&scenario.faults);
    let mut lost_in = vec![0u64; scenario.faults.len()];
    let group_records: Vec<GroupRecord> = run
        .groups
        .iter()
        .zip(final_lags.iter().zip(&watched.max_lag))
        .map(|(group, (&final_lag, &max_lag))| {
            let state = lock(&group.state);
            let aggregates: Vec<u16> = scenario
                .aggregates
                .iter()
                .enumerate()
                .filter(|(_, a)| group.spec.topics.contains(&a.topic))
                .map(|(i, _)| i as u16)
                .collect();
            let loss = state.checker.reconcile_each(
                &ledger,
                &aggregates,
                10,
                |key, partition| {
                    let topic = scenario.aggregates[key.aggregate() as usize].topic;
                    let partition = partition.map(|p| p.partition());
                    group.has_read(&state, &acked_high, topic, partition)
                },
                |key, sequence| windows.count(&mut lost_in, ledger.slot(key, sequence)),
            );
            GroupRecord {
                name: group.spec.name.clone(),
                members: group.spec.members,
                topics: group
                    .spec
                    .topics
                    .iter()
                    .map(|&t| scenario.topics[t].name.clone())
                    .collect(),
                e2e: state.e2e.total().clone(),
                consumed: state.consumed,
                unique: state.checker.unique,
                duplicates: state.checker.duplicates,
                out_of_order: state.checker.out_of_order,
                loss,
                foreign: state.foreign,
                max_lag,
                final_lag,
                errors: state.errors.clone(),
            }
        })
        .collect();
    for group in &group_records {
        totals.push((e2e_tag(&group.name), group.e2e.clone()));
    }
    let mut failed_in = vec![0u64; scenario.faults.len()];
    for &(key, sequence) in &ledger.failed {
        windows.count(&mut failed_in, ledger.slot(key, sequence));
    }
    let faults = watched
        .fault_logs
        .into_iter()
        .zip(lost_in.into_iter().zip(failed_in))
        .map(|(log, (lost, failed))| FaultRecord { log, lost, failed })
        .collect();

    RunRecord {
        started_unix_us,
        group_join,
        run_time: watched.run_time,
        interrupted: stop.is_requested(),
        fatal: watched.fatal,
        out_of_time,
        plan: run.plan.clone(),
        sent,
        acked,
        acked_by_topic: scenario
            .topics
            .iter()
            .map(|topic| topic.name.clone())
            .zip(producer::acked_by_topic(instances))
            .collect(),
        failed,
        not_sent,
        last_send: Duration::from_micros(last_send_us),
        publish,
        schedule_lag,
        groups: group_records,
        timeline: watched.ticker.timeline,
        histograms: Histograms {
            intervals: watched.ticker.intervals,
            totals,
        },
        errors,
        ledger,
        faults,
    }
}

/// Which ledger slots (see [`SentLedger::slot`]) fall in each fault's window: from its start
/// to its end, or to the end of the run for a fault that is not undone.
struct FaultWindows {
    /// Per fault, the first and last slot of its window.
    slots: Vec<(usize, usize)>,
}

impl FaultWindows {
    fn new(faults: &[crate::scenario::FaultSpec]) -> FaultWindows {
        let marks = crate::scenario::faults::boundaries(faults);
        let index = |at: Duration| marks.iter().position(|&m| m == at).unwrap_or(marks.len());
        FaultWindows {
            slots: faults
                .iter()
                .map(|f| (index(f.at) + 1, f.end().map_or(usize::MAX, index)))
                .collect(),
        }
    }

    /// Adds one event of `slot` to the count of every fault whose window holds it.
    fn count(&self, counts: &mut [u64], slot: usize) {
        for (count, &(first, last)) in counts.iter_mut().zip(&self.slots) {
            if (first..=last).contains(&slot) {
                *count += 1;
            }
        }
    }
}

fn ticker_last(ticker: &ticker::Ticker) -> Duration {
    ticker
        .timeline
        .last()
        .map_or(Duration::ZERO, |p| Duration::from_secs_f64(p.t))
}

/// On a real cluster, new groups start at the current end of their topics: a fresh group
/// with `auto.offset.reset=earliest` would otherwise replay the topics' whole retention.
/// The embedded broker's topics are new for every run, so there is nothing to skip.
async fn start_at_end(
    scenario: &Arc<Scenario>,
    servers: &str,
    groups: &[Arc<GroupShared>],
) -> Result<(), ConnectError> {
    if scenario.cluster.bootstrap.is_embedded() {
        return Ok(());
    }
    let plan: Vec<(String, Vec<(String, i32)>)> = groups
        .iter()
        .filter(|g| g.spec.start == GroupStart::End)
        .map(|g| {
            let topics = g
                .spec
                .topics
                .iter()
                .map(|&t| {
                    (
                        scenario.topics[t].name.clone(),
                        scenario.topics[t].partitions,
                    )
                })
                .collect();
            (g.group_id.clone(), topics)
        })
        .collect();
    if plan.is_empty() {
        return Ok(());
    }
    let (servers, properties, timeout) = (
        servers.to_string(),
        scenario.cluster.consumer.clone(),
        scenario.limits.connect_timeout,
    );
    tokio::task::spawn_blocking(move || start_groups_at_end(&servers, &properties, &plan, timeout))
        .await
        .unwrap_or_else(|e| {
            Err(ConnectError::Embedded {
                detail: e.to_string(),
            })
        })
}

/// Turns Ctrl-C (SIGINT) and SIGTERM, which a CI runner sends when it cancels a job, into stop
/// requests: the first stops producing and drains, the second aborts the drain.
pub fn watch_interrupts(stop: Arc<StopSignal>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = interrupt.recv() => stop.request(),
                    _ = terminate.recv() => stop.request(),
                }
            }
        }
        #[cfg(not(unix))]
        while tokio::signal::ctrl_c().await.is_ok() {
            stop.request();
        }
    })
}

/// Re-signs the MSK IAM token at 80% of its lifetime, off librdkafka's threads: the client
/// callback only reads the cached token, so it never blocks.
pub fn keep_iam_token_fresh(
    region: String,
    lifetime: Duration,
    timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut wait = lifetime.mul_f64(0.8);
        loop {
            tokio::time::sleep(wait.max(Duration::from_secs(5))).await;
            wait = match crate::kafka::auth::refresh_iam_token(&region, timeout).await {
                Ok(lifetime) => lifetime.mul_f64(0.8),
                // Keep the old token while it lasts and try again soon; the failure goes on
                // the timeline, and an expired token ends the run (see `run`).
                Err(error) => {
                    crate::kafka::auth::note_iam_refresh_failure(&error.to_string());
                    Duration::from_secs(10)
                }
            };
        }
    })
}

/// Acked events on the group's topics that the group has not consumed yet.
fn lag_of(group: &GroupShared, instances: &[Arc<InstanceShared>]) -> u64 {
    let unique = lock(&group.state).checker.unique;
    group.lag(&producer::acked_by_topic(instances), unique)
}

/// Tells members to commit and leave, waiting a bounded time for them.
async fn stop_members(groups: &[Arc<GroupShared>], members: Vec<tokio::task::JoinHandle<()>>) {
    for group in groups {
        group.stop.store(true, Ordering::Release);
    }
    let all = async {
        for member in members {
            let _ = member.await;
        }
    };
    // A member stuck in a commit to a dead broker must not hold the run hostage.
    let _ = tokio::time::timeout(Duration::from_secs(15), all).await;
}
