//! The run itself: consumer groups join, producers follow the plan, the ticker samples,
//! groups drain, and everything measured comes back as a [`RunRecord`].
//! The only module that spawns tasks.

pub mod catchup;
pub mod consumer;
pub mod fault_figures;
pub mod faults;
pub mod monitor;
pub mod pacer;
pub mod producer;
pub mod share;
pub mod summarize;
pub mod ticker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::kafka::clock::unix_micros;

use hdrhistogram::Histogram;

use crate::kafka::{
    ConnectError, EmbeddedCluster, EventProducer, GroupMember, start_groups_at_end,
};
use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG, e2e_tag};
use crate::metrics::{Histograms, LossReport, SentLedger, TimelinePoint, new_histogram};
use crate::scenario::{GroupStart, Scenario, StartsAfter};
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
    /// Each `group_pause` catch-up so far (group name and figures), in the order the pauses
    /// ended: the backlog from the resume on, the time and rate once the lag is under its limit.
    pub catchups: Vec<(String, crate::summary::CatchupSummary)>,
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
    /// For a group that fails events: its counts, and the histograms behind its latencies.
    pub failures: Option<FailureRecord>,
    /// For a late group: when it joined and when it had read everything.
    pub replay: Option<crate::summary::ReplaySummary>,
    /// For a group `group_pause` faults paused: how it caught up after each pause.
    pub catchups: Vec<crate::summary::CatchupSummary>,
}

/// A group's failure handling as the engine measured it.
#[derive(Debug, Clone)]
pub struct FailureRecord {
    /// The counts; its latency fields are filled from the histograms by the summary.
    pub counts: crate::summary::FailureSummary,
    pub retry_delay: Histogram<u64>,
    pub e2e_failed: Histogram<u64>,
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
    /// For one worker of several: the raw facts `surge merge` adds up.
    pub share: Option<share::ShareFacts>,
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
    /// Per dead-letter topic (index into the scenario's topics), its end offsets before the
    /// run: where this run's dead-letter records begin.
    dlt_starts: Vec<(usize, Vec<i64>)>,
}

/// What the run loop hands to the collection stage.
struct Watched {
    ticker: ticker::Ticker,
    max_lag: Vec<u64>,
    run_time: Duration,
    fatal: Option<String>,
    producer_tasks: Vec<tokio::task::JoinHandle<producer::InstanceOutcome>>,
    fault_logs: Vec<faults::FaultLog>,
    /// Every pause's catch-up, in the order the pauses ended.
    catchups: Vec<catchup::CatchupWatch>,
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
    let (mut run, producers) = Shared::create(scenario, servers, run_id)?;
    start_at_end(&run.scenario, servers, &run.groups).await?;
    run.dlt_starts = dlt_starts(&run.scenario, servers).await?;
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
    let group_join = match join(&run, &stop, on_progress).await {
        Ok(waited) => waited,
        Err(error) => {
            stop_members(&run.groups, members).await;
            return Err(error);
        }
    };
    let (start, started_unix_us) = match scenario.start_at_unix_us {
        Some(at) => wait_for_start(at, &stop).await,
        None => (Instant::now(), unix_micros()),
    };
    let _ = run.start.set((start, started_unix_us));
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
        let plan = Arc::new(Plan::new(&scenario.phases).shared_by(scenario.workers.count));
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
            .map(|index| {
                let dlt = match &scenario.groups[index].failures {
                    None => None,
                    Some(failures) => Some(crate::kafka::DltProducer::create(
                        servers,
                        &scenario.cluster.producer,
                        &scenario.topics[failures.dlt_topic].name,
                        DLT_SEND_TIMEOUT.min(scenario.limits.drain_timeout),
                    )?),
                };
                Ok(Arc::new(GroupShared::new(index, &scenario, &run_tag, dlt)))
            })
            .collect::<Result<Vec<_>, ConnectError>>()?;
        let shared = Shared {
            scenario,
            servers: servers.to_string(),
            run_id,
            plan,
            start,
            instances,
            groups,
            dlt_starts: Vec::new(),
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
        let client_id = format!("{}-{member}", shared.group_id);
        let joined = GroupMember::join(
            &self.servers,
            &self.scenario.cluster.consumer,
            &shared.group_id,
            &client_id,
            &shared.topic_names,
            shared.holding.load(Ordering::Acquire),
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

/// For one worker of several: a reader of each group's committed offsets. `None` in a run of
/// one process, and for a worker that cannot make the reader (it then drains by time).
fn committed_readers(run: &Shared) -> Option<Vec<(usize, crate::kafka::CommittedOffsets)>> {
    let scenario = &run.scenario;
    if !scenario.workers.is_distributed() {
        return None;
    }
    run.groups
        .iter()
        .enumerate()
        .map(|(index, group)| {
            crate::kafka::CommittedOffsets::new(
                &run.servers,
                &scenario.cluster.consumer,
                &group.group_id,
                group_topics(scenario, group),
            )
            .map(|reader| (index, reader))
            .ok()
        })
        .collect()
}

/// A group's topics with their partition counts.
fn group_topics(scenario: &Scenario, group: &GroupShared) -> Vec<(String, i32)> {
    group
        .spec
        .topics
        .iter()
        .map(|&t| {
            (
                scenario.topics[t].name.clone(),
                scenario.topics[t].partitions,
            )
        })
        .collect()
}

/// Whether a group, in whichever process its members run, has committed past every offset
/// this worker's producers had acked on its topics.
fn committed_past(
    group: &GroupShared,
    reader: &crate::kafka::CommittedOffsets,
    acked_high: &[Vec<i64>],
) -> bool {
    let Some(committed) = tokio::task::block_in_place(|| reader.read(Duration::from_secs(2)))
    else {
        return false;
    };
    group.spec.topics.iter().zip(&committed).all(|(&t, next)| {
        acked_high[t]
            .iter()
            .zip(next)
            .all(|(&high, &next)| high < 0 || next > high)
    })
}

/// Waits for the wall-clock start every worker shares (unix microseconds), or a stop, and
/// anchors the plan on it: a worker that gets there late starts behind schedule, and its
/// pacer catches up (the delay shows as schedule lag), so every worker's second `t` is the
/// same wall-clock second.
async fn wait_for_start(at_unix_us: u64, stop: &StopSignal) -> (Instant, u64) {
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
async fn join(
    run: &Shared,
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
            let group = run
                .groups
                .iter()
                .find(|g| !ready(g))
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
                catchups: Vec::new(),
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
                    scenario.first_instance() + instance as u16,
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
    let mut catchups: Vec<catchup::CatchupWatch> = Vec::new();
    // One worker of several drains on what each group committed, across every process.
    let committed = committed_readers(run);
    let mut last_committed_check = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = plan_start.elapsed();
        for step in schedule.due(now) {
            let spec = &scenario.faults[step.fault];
            if let crate::scenario::FaultKind::GroupPause { group } = spec.kind {
                if !step.undo {
                    // Paused again before it caught up: that catch-up ends unmeasured.
                    for watch in catchups.iter_mut().filter(|w| w.group == group) {
                        watch.paused_again(&spec.name);
                    }
                } else if handle.logs[step.fault].ended.is_none() {
                    let threshold =
                        summarize::recovery_limits(scenario, Some(&scenario.groups[group].name)).1;
                    catchups.push(catchup::CatchupWatch::resumed(
                        group,
                        &run.groups[group],
                        &run.instances,
                        &spec.name,
                        handle.logs[step.fault].started.unwrap_or(spec.at),
                        now,
                        threshold,
                    ));
                }
            }
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
        for watch in &mut catchups {
            watch.check(&run.groups[watch.group], &run.instances, now);
        }
        let produced = producer_tasks.iter().all(|t| t.is_finished());
        for group in &run.groups {
            // A late group fetches once its members have settled (or the join timeout passed:
            // then it reads as it is, and any repeats are counted).
            if let Some(&joined) = group.joined_at.get()
                && group.holding.load(Ordering::Acquire)
                && (group.settled() || now - joined > scenario.limits.group_join_timeout)
            {
                group.holding.store(false, Ordering::Release);
            }
        }
        for (index, group) in run.groups.iter().enumerate() {
            let due = match group.spec.starts_after {
                None => false,
                Some(StartsAfter::Produce) => produced,
                Some(StartsAfter::At(at)) => now >= at,
            };
            if due && group.joined_at.get().is_none() && !stop.is_requested() {
                let _ = group.joined_at.set(now);
                for member in 0..group.spec.members as usize {
                    match run.spawn_member(index, member) {
                        Ok(task) => members.push(task),
                        Err(error) => lock(&group.state)
                            .errors
                            .push(format!("a member could not join: {error}")),
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
                catchups: catchups
                    .iter()
                    .map(|w| (scenario.groups[w.group].name.clone(), w.summary()))
                    .collect(),
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
                let mut caught_up = true;
                if let Some(readers) = &committed {
                    if last_committed_check.elapsed() >= Duration::from_millis(500) {
                        last_committed_check = Instant::now();
                        caught_up = readers.iter().all(|(group, reader)| {
                            committed_past(&run.groups[*group], reader, &acked_high)
                        });
                    } else {
                        caught_up = false;
                    }
                }
                for group in run.groups.iter().filter(|_| committed.is_none()) {
                    // A late group a stop kept from joining reads nothing: the drain does not
                    // wait for it (what it did not read is reported as unread).
                    let never_joins = stop.is_requested()
                        && group.spec.starts_after.is_some()
                        && group.joined_at.get().is_none();
                    if group.has_read_everything(&acked_high) {
                        if group.joined_at.get().is_some() {
                            let _ = group.caught_up_at.set(plan_start.elapsed());
                        }
                    } else if !never_joins {
                        caught_up = false;
                    }
                }
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
        catchups,
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
    // Per group, at the end: acked events on its topics, and distinct events it consumed.
    let acked_now = producer::acked_by_topic(instances);
    let final_terms: Vec<[u64; 2]> = run
        .groups
        .iter()
        .map(|g| [g.acked_on_topics(&acked_now), lock(&g.state).checker.unique])
        .collect();
    let final_lags: Vec<u64> = final_terms
        .iter()
        .map(|[acked, unique]| acked.saturating_sub(*unique))
        .collect();
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
    let dlt_reads = read_dead_letters(run, &run_tag(&run.run_id)).await;

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
    let share = scenario
        .workers
        .is_distributed()
        .then(|| share::ShareFacts {
            acked_high: acked_high.clone(),
            lag_terms: watched.ticker.lag_terms.clone(),
            groups: run
                .groups
                .iter()
                .zip(&final_terms)
                .map(|(group, &final_terms)| {
                    let state = lock(&group.state);
                    share::GroupFacts {
                        name: group.spec.name.clone(),
                        consumed: state.consumed,
                        foreign: state.foreign,
                        duplicates: state.checker.duplicates,
                        out_of_order: state.checker.out_of_order,
                        final_terms,
                        positions: state.positions.clone(),
                        first_positions: state.first_positions.clone(),
                        keys: state.checker.export(),
                        errors: state.errors.clone(),
                    }
                })
                .collect(),
        });
    let windows = FaultWindows::new(&scenario.faults);
    let mut lost_in = vec![0u64; scenario.faults.len()];
    let group_records: Vec<GroupRecord> = run
        .groups
        .iter()
        .zip(final_lags.iter().zip(&watched.max_lag))
        .enumerate()
        .map(|(index, (group, (&final_lag, &max_lag)))| {
            let state = lock(&group.state);
            let aggregates: Vec<u16> = scenario
                .aggregates
                .iter()
                .enumerate()
                .filter(|(_, a)| group.spec.topics.contains(&a.topic))
                .map(|(i, _)| i as u16)
                .collect();
            // One worker alone cannot tell loss: other workers' members read its events.
            let loss = if scenario.workers.is_distributed() {
                LossReport::default()
            } else {
                state.checker.reconcile_each(
                    &ledger,
                    &aggregates,
                    10,
                    |key, partition| {
                        let topic = scenario.aggregates[key.aggregate() as usize].topic;
                        let partition = partition.map(|p| p.partition());
                        group.has_read(&state, &acked_high, topic, partition)
                    },
                    |key, sequence| windows.count(&mut lost_in, ledger.slot(key, sequence)),
                )
            };
            let failures = state.failures.as_ref().map(|f| {
                let dlt_topic = group.spec.failures.as_ref().map(|s| s.dlt_topic);
                let read = dlt_reads
                    .iter()
                    .find(|(t, _)| Some(*t) == dlt_topic)
                    .map(|(_, read)| read);
                failure_record(group, f, read, scenario)
            });
            let replay = group
                .joined_at
                .get()
                .map(|joined| crate::summary::ReplaySummary {
                    joined_s: joined.as_secs_f64(),
                    caught_up_s: group.caught_up_at.get().map(Duration::as_secs_f64),
                    records: state.consumed + state.foreign,
                    rate: group.caught_up_at.get().and_then(|done| {
                        let took = done.saturating_sub(*joined).as_secs_f64();
                        (took > 0.0).then(|| (state.consumed + state.foreign) as f64 / took)
                    }),
                });
            GroupRecord {
                failures,
                replay,
                catchups: watched
                    .catchups
                    .iter()
                    .filter(|w| w.group == index)
                    .map(catchup::CatchupWatch::summary)
                    .collect(),
                name: group.spec.name.clone(),
                members: group.spec.members,
                topics: group.topic_names.clone(),
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
        share,
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
        .map(|g| (g.group_id.clone(), group_topics(scenario, g)))
        .collect();
    if plan.is_empty() {
        return Ok(());
    }
    let (servers, properties, timeout) = (
        servers.to_string(),
        scenario.cluster.consumer.clone(),
        scenario.limits.connect_timeout,
    );
    let keep_committed = scenario.workers.is_distributed();
    tokio::task::spawn_blocking(move || {
        start_groups_at_end(&servers, &properties, &plan, timeout, keep_committed)
    })
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

/// How long a dead-letter send may wait for its ack (bounded further by the drain timeout).
const DLT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

fn run_tag(run_id: &[u8; RUN_ID_LEN]) -> String {
    String::from_utf8_lossy(run_id).into_owned()
}

/// The end offsets of every dead-letter topic before the run.
async fn dlt_starts(
    scenario: &Arc<Scenario>,
    servers: &str,
) -> Result<Vec<(usize, Vec<i64>)>, ConnectError> {
    let mut topics: Vec<usize> = scenario
        .groups
        .iter()
        .filter_map(|g| g.failures.as_ref().map(|f| f.dlt_topic))
        .collect();
    topics.sort_unstable();
    topics.dedup();
    let mut starts = Vec::new();
    for topic in topics {
        let (servers, properties, name, partitions, timeout) = (
            servers.to_string(),
            scenario.cluster.consumer.clone(),
            scenario.topics[topic].name.clone(),
            scenario.topics[topic].partitions,
            scenario.limits.connect_timeout,
        );
        let ends = tokio::task::spawn_blocking(move || {
            crate::kafka::dlt::end_offsets(&servers, &properties, &name, partitions, timeout)
        })
        .await
        .unwrap_or_else(|e| {
            Err(ConnectError::Embedded {
                detail: e.to_string(),
            })
        })?;
        starts.push((topic, ends));
    }
    Ok(starts)
}

/// One dead-letter record of this run, as read back.
#[derive(Debug)]
struct DltRecord {
    group: String,
    topic: String,
    partition: i32,
    offset: i64,
    /// The event it carries, when it is one of this run's.
    meta: Option<crate::workload::EventMeta>,
}

/// Reads every dead-letter topic back from where this run's records begin to its end.
async fn read_dead_letters(
    run: &Shared,
    run_tag: &str,
) -> Vec<(usize, Result<Vec<DltRecord>, String>)> {
    let mut reads = Vec::new();
    for (topic, starts) in &run.dlt_starts {
        let (servers, properties, name, starts, run_id, run_tag) = (
            run.servers.clone(),
            run.scenario.cluster.consumer.clone(),
            run.scenario.topics[*topic].name.clone(),
            starts.clone(),
            run.run_id,
            run_tag.to_string(),
        );
        let timeout = run
            .scenario
            .limits
            .drain_timeout
            .max(Duration::from_secs(10));
        let read = tokio::task::spawn_blocking(move || {
            let mut records = Vec::new();
            crate::kafka::dlt::read_from(&servers, &properties, &name, &starts, timeout, |value| {
                let Ok(event) = serde_json::from_slice::<consumer::FailedEventIn>(value) else {
                    return;
                };
                if event.surge_run != run_tag {
                    return;
                }
                let meta = match crate::workload::decode(event.value.get().as_bytes(), &run_id) {
                    crate::workload::Decoded::Ours(meta) => Some(meta),
                    crate::workload::Decoded::Foreign => None,
                };
                records.push(DltRecord {
                    group: event.surge_group,
                    topic: event.topic,
                    partition: event.partition,
                    offset: event.offset,
                    meta,
                });
            })
            .map(|()| records)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        reads.push((*topic, read));
    }
    reads
}

/// A group's failure counts, with its dead-letter sends matched against the read-back: each
/// must be there exactly once, carrying the event it failed.
fn failure_record(
    group: &GroupShared,
    state: &consumer::FailureState,
    read: Option<&Result<Vec<DltRecord>, String>>,
    scenario: &Scenario,
) -> FailureRecord {
    let dlt_topic = group
        .spec
        .failures
        .as_ref()
        .map_or(String::new(), |f| scenario.topics[f.dlt_topic].name.clone());
    let dead_lettered = state.dead_lettered.len() as u64;
    let mut errors = state.errors.clone();
    let (mut found, mut duplicates, mut mismatched) = (0u64, 0u64, 0u64);
    let dlt_found = match read {
        Some(Ok(records)) => {
            let mut seen: rustc_hash::FxHashMap<consumer::Origin, u32> = Default::default();
            for record in records.iter().filter(|r| r.group == group.spec.name) {
                let origin = group
                    .topic_names
                    .iter()
                    .position(|t| *t == record.topic)
                    .map(|local| (local, record.partition, record.offset));
                let expected = origin.and_then(|o| state.dead_lettered.get(&o).map(|e| (o, e)));
                let intact = expected.filter(|(_, (key, sequence))| {
                    record.meta.is_some_and(|m| {
                        crate::metrics::KeyId::new(m.producer, m.aggregate, m.index) == *key
                            && m.sequence == *sequence
                    })
                });
                match intact {
                    Some((origin, _)) => {
                        let count = seen.entry(origin).or_default();
                        *count += 1;
                        if *count == 1 {
                            found += 1;
                        } else {
                            duplicates += 1;
                        }
                    }
                    None => mismatched += 1,
                }
            }
            Some(found)
        }
        Some(Err(reason)) => {
            errors.push(format!(
                "the dead-letter topic {dlt_topic} could not be read back, so no dead-letter send is verified: {reason}"
            ));
            None
        }
        None => None,
    };
    if mismatched > 0 {
        errors.push(format!(
            "{mismatched} dead-letter records on {dlt_topic} do not carry the event their origin fields name"
        ));
    }
    FailureRecord {
        counts: crate::summary::FailureSummary {
            dlt_topic,
            failed: state.failed,
            retried: state.retried,
            retries: state.retries,
            non_retryable: state.non_retryable,
            poisoned: state.poisoned,
            dead_lettered,
            dlt_acked: state.dlt_acked,
            dlt_found,
            dlt_duplicates: duplicates,
            dlt_mismatched: mismatched,
            dlt_lost: dead_lettered.saturating_sub(found),
            errors,
            ..Default::default()
        },
        retry_delay: state.retry_delay.clone(),
        e2e_failed: state.e2e_failed.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::EventMeta;

    fn scenario() -> Scenario {
        let text = r#"
[[topics]]
name = "orders"
partitions = 3

[[events]]
name = "OrderCreated"
topic = "orders"

[[phases]]
rate = "1k/s"
duration = "5s"

[[consumer_groups]]
name = "g"
topics = ["orders"]
failure_rate = 0.01
"#;
        let raw = toml::from_str(text).unwrap();
        crate::scenario::resolve(
            raw,
            std::path::Path::new("t.toml"),
            text.into(),
            &crate::scenario::Overrides::default(),
        )
        .unwrap()
    }

    fn meta(index: u32, sequence: u32) -> EventMeta {
        EventMeta {
            producer: 0,
            aggregate: 0,
            index,
            sequence,
            intended_at_us: 0,
        }
    }

    fn record(partition: i32, offset: i64, carried: Option<EventMeta>) -> DltRecord {
        DltRecord {
            group: "g".into(),
            topic: "orders".into(),
            partition,
            offset,
            meta: carried,
        }
    }

    #[test]
    fn the_read_back_counts_each_dead_letter_once_and_names_missing_and_mismatched_ones() {
        let scenario = scenario();
        let group = GroupShared::new(0, &scenario, "run", None);
        let mut state = consumer::FailureState::default();
        for (offset, index) in [(10, 1), (11, 2), (12, 3), (13, 4)] {
            state
                .dead_lettered
                .insert((0, 0, offset), (crate::metrics::KeyId::new(0, 0, index), 0));
        }
        state.dlt_acked = 4;
        let read = Ok(vec![
            record(0, 10, Some(meta(1, 0))),
            // Written twice: found once, one duplicate.
            record(0, 11, Some(meta(2, 0))),
            record(0, 11, Some(meta(2, 0))),
            // Origin fields that name offset 12, carrying another event: not intact.
            record(0, 12, Some(meta(9, 0))),
            // Another group's record is not this group's business.
            DltRecord {
                group: "other".into(),
                ..record(0, 13, Some(meta(4, 0)))
            },
        ]);
        let figures = failure_record(&group, &state, Some(&read), &scenario).counts;
        assert_eq!(figures.dead_lettered, 4);
        assert_eq!(figures.dlt_found, Some(2));
        assert_eq!(figures.dlt_duplicates, 1);
        assert_eq!(figures.dlt_mismatched, 1);
        // Offsets 12 (mismatched) and 13 (never written by this group) are lost.
        assert_eq!(figures.dlt_lost, 2);
        assert!(
            figures
                .errors
                .iter()
                .any(|e| e.contains("1 dead-letter records"))
        );
        // A topic that could not be read verifies nothing.
        let unread = Err("timed out".to_string());
        let figures = failure_record(&group, &state, Some(&unread), &scenario).counts;
        assert_eq!((figures.dlt_found, figures.dlt_lost), (None, 4));
        assert!(figures.errors.iter().any(|e| e.contains("timed out")));
    }

    #[test]
    fn the_failure_draw_matches_the_rates_and_repeats_for_a_redelivery() {
        let spec = crate::scenario::FailureSpec {
            rate: 0.01,
            non_retryable_rate: 0.002,
            poison_keys: 2,
            retry_backoff: Vec::new(),
            dlt_topic: 0,
        };
        let (mut always, mut non_retryable, mut poisoned) = (0, 0, 0);
        let draws = 200_000u32;
        for i in 0..draws {
            let event = meta(2 + i % 1000, i / 1000);
            let first = consumer::fate(&spec, 7, 0, &event);
            assert_eq!(
                first,
                consumer::fate(&spec, 7, 0, &event),
                "the same fate again"
            );
            match first {
                consumer::Fate::FailsAlways { poisoned: true } => poisoned += 1,
                consumer::Fate::FailsAlways { poisoned: false } => always += 1,
                consumer::Fate::NonRetryable => non_retryable += 1,
                consumer::Fate::Succeeds => {}
            }
        }
        // 2,000 and 400 expected; standard deviations 44 and 20.
        assert!((always as i64 - 2_000).abs() < 250, "{always}");
        assert!((non_retryable as i64 - 400).abs() < 110, "{non_retryable}");
        assert_eq!(poisoned, 0, "keys from 2 up are not poisoned");
        for sequence in 0..50 {
            assert_eq!(
                consumer::fate(&spec, 7, 0, &meta(1, sequence)),
                consumer::Fate::FailsAlways { poisoned: true }
            );
        }
        // Another group (or seed) draws other events.
        let differs = (0..1000u32)
            .filter(|&i| {
                let event = meta(2 + i, 0);
                consumer::fate(&spec, 7, 0, &event) != consumer::fate(&spec, 7, 1, &event)
            })
            .count();
        assert!(differs > 0);
    }
}
