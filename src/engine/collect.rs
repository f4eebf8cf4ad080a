//! Stage four: the producers' outcomes, the members stopped, the dead letters read back, and
//! every count reconciled into the record the summary is built from.

use super::rebalance_figures::OwnershipRecord;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::catchup::CatchupWatch;
use super::consumer::GroupShared;
use super::dead_letters::{DeadLetterRead, failure_record, read_dead_letters};
use super::fault_windows::FaultWindows;
use super::faults::FaultLog;
use super::lock;
use super::loss_audit::{LossAudit, LostAt, MAX_AUDITED, audit};
use super::pacer::PaceEnd;
use super::producer::{self, InstanceOutcome, producer_totals};
use super::record::{FaultRecord, GroupRecord, RunRecord, histogram_totals};
use super::setup::Run;
use super::share::{GroupFacts, LagTerms, ShareFacts};
use super::signals::StopSignal;
use super::watch::WatchOutcome;
use crate::metrics::{Histograms, LossReport, SentLedger};
use crate::summary::ReplaySummary;

/// At most this many example keys per group in a loss report.
const LOSS_EXAMPLES: usize = 10;
/// How long members may take to commit and leave before the run goes on without them.
const MEMBER_STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// What the producer threads handed back when their loops ended.
struct ProducerOutcomes {
    ledger: SentLedger,
    not_sent: u64,
    out_of_time: bool,
    errors: Vec<String>,
}

/// Builds the run's record once the watch has ended.
pub(super) async fn collect(
    run: &Run,
    watched: WatchOutcome,
    members: Vec<JoinHandle<()>>,
    group_join: Duration,
    started_unix_us: u64,
    stop: &StopSignal,
) -> RunRecord {
    let scenario = &run.scenario;
    // The drain may end while a producer still flushes or purges: its last acks count, so
    // the acked offsets are read once every producer has finished (members still read).
    let mut outcomes = producer_outcomes(watched.producer_tasks).await;
    let final_terms = final_lag_terms(run);
    let acked_high = producer::acked_high(&run.instances);
    stop_members(&run.groups, members).await;
    let dlt_reads = read_dead_letters(run, stop).await;

    let totals = producer_totals(&run.instances, |recorder| recorder.total().clone());
    for instance in run.instances.iter() {
        for error in instance.errors() {
            if !outcomes.errors.contains(&error) {
                outcomes.errors.push(error);
            }
        }
    }
    let share = scenario
        .workers
        .is_distributed()
        .then(|| share_facts(run, &acked_high, &watched.ticker.lag_terms, &final_terms));
    let windows = FaultWindows::new(&scenario.faults);
    let reconciled = Reconciled {
        ledger: &outcomes.ledger,
        acked_high: &acked_high,
        windows: &windows,
        dlt_reads: &dlt_reads,
    };
    let mut lost_in = vec![0u64; scenario.faults.len()];
    let mut lost = vec![Vec::new(); run.groups.len()];
    let mut groups = reconciled.group_records(
        run,
        (&watched.max_lag, &watched.catchups),
        &final_terms,
        &mut lost_in,
        &mut lost,
    );
    let audits = audit_losses(run, lost).await;
    for (group, audit) in groups.iter_mut().zip(audits) {
        if let Some(note) = &audit.note {
            group.errors.push(note.clone());
        }
        group.loss_audit = audit;
    }
    let faults = reconciled.fault_records(watched.fault_logs, lost_in);
    let histogram_totals = histogram_totals(&totals.publish, &totals.schedule_lag, &groups);
    RunRecord {
        started_unix_us,
        group_join,
        run_time: watched.run_time,
        interrupted: stop.is_requested(),
        fatal: watched.fatal,
        out_of_time: outcomes.out_of_time,
        plan: run.plan.clone(),
        sent: totals.sent,
        acked: totals.acked,
        acked_by_topic: scenario
            .topics
            .iter()
            .map(|topic| topic.name.clone())
            .zip(producer::acked_by_topic(&run.instances))
            .collect(),
        sent_bytes: totals.sent_bytes,
        acked_bytes_by_topic: scenario
            .topics
            .iter()
            .map(|topic| topic.name.clone())
            .zip(producer::acked_bytes_by_topic(&run.instances))
            .collect(),
        failed: totals.failed,
        not_sent: outcomes.not_sent,
        last_send: Duration::from_micros(totals.last_send_us),
        publish: totals.publish,
        schedule_lag: totals.schedule_lag,
        groups,
        timeline: watched.ticker.timeline,
        histograms: Histograms {
            intervals: watched.ticker.intervals,
            totals: histogram_totals,
        },
        errors: outcomes.errors,
        ledger: outcomes.ledger,
        faults,
        share,
        brokers: watched.ticker.brokers.seconds,
        client_path: watched.ticker.brokers.path,
        statistics_dropped: run.brokers.dropped(),
    }
}

/// Per group at the end: acked events on its topics, and distinct events it consumed.
fn final_lag_terms(run: &Run) -> Vec<LagTerms> {
    let acked_now = producer::acked_by_topic(&run.instances);
    run.groups
        .iter()
        .map(|g| LagTerms {
            acked: g.acked_on_topics(&acked_now),
            unique: lock(&g.state).checker.unique,
        })
        .collect()
}

/// For one worker of several: the raw facts `surge merge` adds up.
fn share_facts(
    run: &Run,
    acked_high: &[Vec<i64>],
    lag_terms: &[Vec<LagTerms>],
    final_terms: &[LagTerms],
) -> ShareFacts {
    ShareFacts {
        acked_high: acked_high.to_vec(),
        lag_terms: lag_terms.to_vec(),
        groups: run
            .groups
            .iter()
            .zip(final_terms)
            .map(|(group, &terms)| group_facts(run, group, terms))
            .collect(),
    }
}

/// Waits for every producer thread and gathers what each hands back.
async fn producer_outcomes(tasks: Vec<JoinHandle<InstanceOutcome>>) -> ProducerOutcomes {
    let mut outcomes = ProducerOutcomes {
        ledger: SentLedger::default(),
        not_sent: 0,
        out_of_time: false,
        errors: Vec::new(),
    };
    for task in tasks {
        match task.await {
            Ok(outcome) => {
                outcomes.not_sent += outcome.not_sent;
                outcomes.out_of_time |= outcome.end == PaceEnd::OutOfTime;
                if !outcome.flushed {
                    outcomes.errors.push("the producer could not deliver everything before the drain timeout; the rest was purged and counted as failed".into());
                }
                outcomes.ledger.absorb(outcome.ledger);
            }
            Err(join_error) => outcomes.errors.push(format!(
                "a producer instance stopped unexpectedly: {join_error}"
            )),
        }
    }
    outcomes
}

/// Tells members to commit and leave, waiting a bounded time for them.
pub(super) async fn stop_members(groups: &[Arc<GroupShared>], members: Vec<JoinHandle<()>>) {
    for group in groups {
        group.stop.store(true, std::sync::atomic::Ordering::Release);
    }
    let all = async {
        for member in members {
            let _ = member.await;
        }
    };
    // A member stuck in a commit to a dead broker must not hold the run hostage.
    let _ = tokio::time::timeout(MEMBER_STOP_TIMEOUT, all).await;
}

/// What this process's members of one group read, for `surge merge`.
fn group_facts(run: &Run, group: &GroupShared, final_terms: LagTerms) -> GroupFacts {
    let state = lock(&group.state);
    GroupFacts {
        ownership: (run.start.get())
            .map(|(start, _)| OwnershipRecord::of(&state.ownership, *start))
            .unwrap_or_default(),
        name: group.spec.name.clone(),
        consumed: state.consumed,
        foreign: state.foreign,
        duplicates: state.checker.duplicates,
        out_of_order: state.checker.out_of_order,
        causes: state.checker.causes,
        final_terms,
        positions: state.positions.clone(),
        first_positions: state.first_positions.clone(),
        keys: state.checker.export(),
        errors: state.errors.clone(),
    }
}

/// What a group's figures are reconciled against: what was sent and acked, the fault
/// windows, and the dead letters read back.
struct Reconciled<'a> {
    ledger: &'a SentLedger,
    acked_high: &'a [Vec<i64>],
    windows: &'a FaultWindows,
    dlt_reads: &'a [DeadLetterRead],
}

impl Reconciled<'_> {
    /// Every group's record, with its highest lag and its catch-ups from the watch.
    fn group_records(
        &self,
        run: &Run,
        (max_lag, catchups): (&[u64], &[CatchupWatch]),
        final_terms: &[LagTerms],
        lost_in: &mut [u64],
        lost: &mut [Vec<LostAt>],
    ) -> Vec<GroupRecord> {
        (0..run.groups.len())
            .map(|index| {
                let mut record = self.group_record(run, index, lost_in, &mut lost[index]);
                record.final_lag = final_terms[index].lag();
                record.max_lag = max_lag[index];
                record.catchups = catchups
                    .iter()
                    .filter(|w| w.group == index)
                    .map(CatchupWatch::summary)
                    .collect();
                record
            })
            .collect()
    }

    /// What each fault did, with the events lost and the sends failed in its window.
    fn fault_records(&self, logs: Vec<FaultLog>, lost_in: Vec<u64>) -> Vec<FaultRecord> {
        let failed_in = self.windows.failed_in(self.ledger);
        logs.into_iter()
            .zip(lost_in.into_iter().zip(failed_in))
            .map(|(log, (lost, failed))| FaultRecord { log, lost, failed })
            .collect()
    }

    /// One group's record; its lag and catch-ups are the caller's to fill in. Its lost events
    /// are added to the count of each fault whose window they fall in.
    fn group_record(
        &self,
        run: &Run,
        index: usize,
        lost_in: &mut [u64],
        lost: &mut Vec<LostAt>,
    ) -> GroupRecord {
        let group = &run.groups[index];
        let scenario = &run.scenario;
        let loss = self.loss(run, group, lost_in, lost);
        let state = lock(&group.state);
        let failures = state.failures.as_ref().map(|f| {
            let dlt_topic = group.spec.failures.as_ref().map(|s| s.dlt_topic);
            let read = self
                .dlt_reads
                .iter()
                .find(|read| Some(read.topic) == dlt_topic)
                .map(|read| &read.records);
            failure_record(group, f, read, scenario)
        });
        let read = state.consumed + state.foreign;
        let replay = group.joined_at.get().map(|joined| ReplaySummary {
            joined_s: joined.as_secs_f64(),
            caught_up_s: group.caught_up_at.get().map(Duration::as_secs_f64),
            records: read,
            rate: group.caught_up_at.get().and_then(|done| {
                let took = done.saturating_sub(*joined).as_secs_f64();
                (took > 0.0).then(|| read as f64 / took)
            }),
        });
        GroupRecord {
            delivery: run.deliveries.stats(index),
            failures,
            replay,
            catchups: Vec::new(),
            name: group.spec.name.clone(),
            members: group.spec.members,
            topics: group.topic_names.clone(),
            e2e: state.e2e.total().clone(),
            consumed: state.consumed,
            consumed_bytes: state.consumed_bytes,
            unique: state.checker.unique,
            duplicates: state.checker.duplicates,
            out_of_order: state.checker.out_of_order,
            causes: state.checker.causes,
            cause_examples: state.checker.cause_examples.clone(),
            loss,
            loss_audit: LossAudit::default(),
            foreign: state.foreign,
            max_lag: 0,
            final_lag: 0,
            errors: state.errors.clone(),
            ownership: run
                .start
                .get()
                .map(|(start, _)| OwnershipRecord::of(&state.ownership, *start))
                .unwrap_or_default(),
        }
    }

    /// Acked events the group never read in partitions it read past (the first
    /// [`MAX_AUDITED`] of them kept in `lost`, for the log audit). One worker alone cannot
    /// tell loss (other workers' members read its events): `surge merge` does.
    fn loss(
        &self,
        run: &Run,
        group: &GroupShared,
        lost_in: &mut [u64],
        lost: &mut Vec<LostAt>,
    ) -> LossReport {
        let scenario = &run.scenario;
        if scenario.workers.is_distributed() {
            return LossReport::default();
        }
        let state = lock(&group.state);
        let aggregates: Vec<u16> = scenario
            .aggregates
            .iter()
            .enumerate()
            .filter(|(_, a)| group.spec.topics.contains(&a.topic))
            .map(|(i, _)| i as u16)
            .collect();
        state.checker.reconcile_each(
            self.ledger,
            &aggregates,
            LOSS_EXAMPLES,
            |key, partition| {
                let topic = scenario.aggregates[key.aggregate() as usize].topic;
                let partition = partition.map(|p| p.partition());
                group.has_read(&state, self.acked_high, topic, partition)
            },
            |key, sequence| {
                self.windows.count(lost_in, self.ledger.slot(key, sequence));
                if lost.len() < MAX_AUDITED {
                    lost.push(LostAt {
                        key,
                        sequence,
                        partition: state.checker.partition_of(key),
                    });
                }
            },
        )
    }
}

/// Classes every group's lost events ([`loss_audit`](super::loss_audit)), off the async
/// threads: it reads the partitions again.
async fn audit_losses(run: &Run, lost: Vec<Vec<LostAt>>) -> Vec<LossAudit> {
    let groups = lost.len();
    if lost.iter().all(Vec::is_empty) {
        return vec![LossAudit::default(); groups];
    }
    let evidence = super::loss_audit::evidence(&run.instances);
    let (scenario, servers, run_id) = (run.scenario.clone(), run.servers.clone(), run.run_id);
    tokio::task::spawn_blocking(move || audit(&scenario, &servers, &run_id, &lost, &evidence))
        .await
        .unwrap_or_else(|_| {
            let note = LossAudit {
                note: Some("the log audit failed, so the lost events are unexplained".into()),
                ..LossAudit::default()
            };
            vec![note; groups]
        })
}
