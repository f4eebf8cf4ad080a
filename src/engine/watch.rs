//! Stage three: while the producers run and then while the groups drain, ticks the timeline
//! once a second and walks the fault schedule, until every group has read everything acked,
//! the drain times out, or a stop.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::catchup::CatchupWatch;
use super::drain::{Drain, release_settled};
use super::faults::{Action, FaultHandle, FaultLog, FaultSchedule, Step};
use super::lock;
use super::producer::InstanceOutcome;
use super::record::Progress;
use super::setup::Run;
use super::signals::StopSignal;
use super::ticker::Ticker;
use crate::kafka::EmbeddedCluster;
use crate::scenario::{Auth, FaultKind, StartsAfter};

/// How often the loop looks at the clock, the faults and the drain.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// What the watch hands to the collection stage.
pub(super) struct WatchOutcome {
    pub ticker: Ticker,
    /// Per group, the highest lag any tick saw.
    pub max_lag: Vec<u64>,
    pub run_time: Duration,
    /// Why the run had to stop early (a failed fault, an expired IAM token).
    pub fatal: Option<String>,
    pub producer_tasks: Vec<JoinHandle<InstanceOutcome>>,
    pub fault_logs: Vec<FaultLog>,
    /// Every pause's catch-up, in the order the pauses ended.
    pub catchups: Vec<CatchupWatch>,
}

/// The watch's state between two looks at the clock.
struct Watch<'a> {
    run: &'a Run,
    stop: &'a StopSignal,
    plan_start: Instant,
    ticker: Ticker,
    next_tick: Duration,
    max_lag: Vec<u64>,
    schedule: FaultSchedule,
    faults: FaultHandle<'a>,
    catchups: Vec<CatchupWatch>,
    drain: Drain,
    producer_tasks: Vec<JoinHandle<InstanceOutcome>>,
    members: &'a mut Vec<JoinHandle<()>>,
}

/// Runs the watch loop; the members that faults and late groups start join `members`.
pub(super) async fn watch(
    run: &Run,
    embedded: Option<&EmbeddedCluster>,
    producer_tasks: Vec<JoinHandle<InstanceOutcome>>,
    members: &mut Vec<JoinHandle<()>>,
    stop: &StopSignal,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> WatchOutcome {
    let mut watch = Watch {
        plan_start: run.start.get().map_or_else(Instant::now, |(s, _)| *s),
        ticker: Ticker::new(run.plan.clone(), run.groups.len()),
        next_tick: Duration::from_secs(1),
        max_lag: vec![0; run.groups.len()],
        schedule: FaultSchedule::new(&run.scenario.faults),
        faults: FaultHandle::new(run.scenario.clone(), embedded, &run.groups, &run.instances),
        catchups: Vec::new(),
        drain: Drain::new(run),
        run,
        stop,
        producer_tasks,
        members,
    };
    let fatal = loop {
        tokio::time::sleep(POLL_EVERY).await;
        let now = watch.plan_start.elapsed();
        watch.walk_faults(now);
        watch.follow_groups(now);
        watch.tick_if_due(now, on_progress);
        if let Some(cause) = watch.fatal_cause().await {
            // The run cannot mean what it says any more: stop at once, keep what was measured.
            stop.abort();
            break Some(cause);
        }
        let produced = watch.producer_tasks.iter().all(|t| t.is_finished());
        if watch.drain.is_done(run, stop, produced, now) {
            break None;
        }
    };
    watch.finish(fatal).await
}

impl Watch<'_> {
    /// Applies the faults due at `now`, and starts and ends the catch-up watches of pauses.
    fn walk_faults(&mut self, now: Duration) {
        for step in self.schedule.due(now) {
            self.watch_catchup(step, now);
            if let Some(Action::JoinMember { group, member }) = self.faults.take(step, now) {
                match self.run.spawn_member(group, member) {
                    Ok(task) => self.members.push(task),
                    Err(error) => {
                        self.faults.logs[step.fault].error =
                            Some(format!("a member could not join: {error}"))
                    }
                }
            }
        }
        for watch in &mut self.catchups {
            watch.check(&self.run.groups[watch.group], &self.run.instances, now);
        }
    }

    /// A `group_pause` step: a pause ends any catch-up of its group still running (it ends
    /// unmeasured); a resume starts watching the group catch up.
    fn watch_catchup(&mut self, step: Step, now: Duration) {
        let scenario = &self.run.scenario;
        let spec = &scenario.faults[step.fault];
        let FaultKind::GroupPause { group } = spec.kind else {
            return;
        };
        if !step.undo {
            for watch in self.catchups.iter_mut().filter(|w| w.group == group) {
                watch.paused_again(&spec.name);
            }
        } else if self.faults.logs[step.fault].ended.is_none() {
            let limits = scenario.recovery_limits(Some(&scenario.groups[group].name));
            self.catchups.push(CatchupWatch::resumed(
                group,
                &self.run.groups[group],
                &self.run.instances,
                &spec.name,
                self.faults.logs[step.fault].started.unwrap_or(spec.at),
                now,
                limits.lag,
            ));
        }
    }

    /// Lets settled late groups fetch, and starts the late groups that are due.
    fn follow_groups(&mut self, now: Duration) {
        let (run, stop) = (self.run, self.stop);
        let produced = self.producer_tasks.iter().all(|t| t.is_finished());
        for group in &run.groups {
            release_settled(
                group,
                run.scenario.workers,
                now,
                run.scenario.limits.group_join_timeout,
            );
        }
        for (index, group) in run.groups.iter().enumerate() {
            let due = match group.spec.starts_after {
                None => false,
                Some(StartsAfter::Produce) => produced,
                Some(StartsAfter::At(at)) => now >= at,
            };
            if !due || group.joined_at.get().is_some() || stop.is_requested() {
                continue;
            }
            let _ = group.joined_at.set(now);
            // This process's members only: a distributed run deals them out.
            for member in
                (0..group.spec.members as usize).filter(|&m| run.scenario.workers.runs_member(m))
            {
                match run.spawn_member(index, member) {
                    Ok(task) => self.members.push(task),
                    Err(error) => lock(&group.state)
                        .errors
                        .push(format!("a member could not join: {error}")),
                }
            }
        }
    }

    /// Once a second: a timeline point, and the progress line.
    fn tick_if_due(&mut self, now: Duration, on_progress: &mut (dyn FnMut(&Progress) + Send)) {
        if now < self.next_tick {
            return;
        }
        self.tick(now);
        let scenario = &self.run.scenario;
        on_progress(&Progress {
            stage: if self.drain.is_draining() {
                "draining"
            } else {
                "running"
            },
            elapsed: now,
            point: self.ticker.timeline.last().cloned(),
            brokers: (self.ticker.timeline.last())
                .map_or_else(Vec::new, |p| self.ticker.brokers.at(p.t)),
            so_far: super::producer::so_far(&self.run.instances),
            catchups: self
                .catchups
                .iter()
                .map(|w| (scenario.groups[w.group].name.clone(), w.summary()))
                .collect(),
        });
        self.next_tick += Duration::from_secs(1);
    }

    fn tick(&mut self, now: Duration) {
        let point = self.ticker.tick(
            now,
            &self.run.instances,
            &self.run.groups,
            &self.run.brokers,
        );
        for (max, group) in self.max_lag.iter_mut().zip(&point.groups) {
            *max = (*max).max(group.lag);
        }
    }

    /// A fault that failed in a way that voids the run, or an MSK IAM token that expired.
    async fn fatal_cause(&mut self) -> Option<String> {
        let failed_fault = self.faults.poll().await;
        let iam = matches!(self.run.scenario.cluster.auth, Auth::Iam { .. });
        let expired = iam.then(crate::kafka::auth::iam_token_expired).flatten();
        failed_fault.or(expired
            .map(|cause| format!("the MSK IAM token expired and could not be renewed: {cause}")))
    }

    /// The last partial second's point, the faults undone, and what the loop measured.
    async fn finish(mut self, mut fatal: Option<String>) -> WatchOutcome {
        let last_tick = self
            .ticker
            .timeline
            .last()
            .map_or(Duration::ZERO, |p| Duration::from_secs_f64(p.t));
        // Whatever came after the last tick gets a point of its own, however short, so the
        // seconds add up to the run's totals (a drain often ends within 200 ms of a tick, with
        // the last retries, dead letters or acks counted after it). It is at least 1 ms long,
        // so its time, in whole ms, is never the last point's.
        let earliest = last_tick + Duration::from_millis(1);
        if let Some(wait) = earliest.checked_sub(self.plan_start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let run_time = self.plan_start.elapsed();
        self.tick(run_time);
        if let Some(failure) = self.faults.finish(run_time).await {
            fatal.get_or_insert(failure);
        }
        WatchOutcome {
            ticker: self.ticker,
            max_lag: self.max_lag,
            run_time,
            fatal,
            producer_tasks: self.producer_tasks,
            fault_logs: self.faults.logs,
            catchups: self.catchups,
        }
    }
}
