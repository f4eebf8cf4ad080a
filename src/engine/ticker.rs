//! Once a second: interval histograms and counters into one timeline point.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::consumer::GroupShared;
use super::lock;
use super::pacer::Plan;
use super::producer::{InstanceShared, ProducerTotals, producer_totals};
use super::share::LagTerms;
use crate::kafka::stats::broker_reports;
use crate::metrics::brokers::{BrokerBoard, BrokerTimeline};
use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG, e2e_tag};
use crate::metrics::{
    GroupPoint, IntervalSample, Intervals, LatencyRecorder, TimelinePoint, new_histogram,
};

fn some_if_recorded(histogram: &Histogram<u64>, quantile: f64) -> Option<u64> {
    (!histogram.is_empty()).then(|| histogram.value_at_quantile(quantile))
}

/// Builds the timeline from the shared counters, one interval at a time.
pub struct Ticker {
    plan: Arc<Plan>,
    last: Duration,
    last_sent: u64,
    last_acked: u64,
    last_failed: u64,
    /// Payload bytes sent and acked at the last tick.
    last_bytes: (u64, u64),
    /// Per group: events and payload bytes consumed at the last tick.
    last_consumed: Vec<(u64, u64)>,
    /// Per group: duplicates and out-of-order deliveries counted so far.
    last_disorder: Vec<(u64, u64)>,
    /// Per group, retried and dead-lettered events at the last tick.
    last_failures: Vec<(u64, u64)>,
    pub timeline: Vec<TimelinePoint>,
    /// Per point, per group: acked events on the group's topics and distinct events it
    /// consumed. A worker's lag alone means little (other workers' members read its events);
    /// `surge merge` adds these up across workers into the group's lag.
    pub lag_terms: Vec<Vec<LagTerms>>,
    pub intervals: Intervals,
    /// Every broker's seconds, as the clients saw it.
    pub brokers: BrokerTimeline,
    monitor: super::monitor::SelfMonitor,
}

impl Ticker {
    pub fn new(plan: Arc<Plan>, groups: usize) -> Ticker {
        Ticker {
            plan,
            last: Duration::ZERO,
            last_sent: 0,
            last_acked: 0,
            last_failed: 0,
            last_bytes: (0, 0),
            last_consumed: vec![(0, 0); groups],
            last_disorder: vec![(0, 0); groups],
            last_failures: vec![(0, 0); groups],
            timeline: Vec::new(),
            lag_terms: Vec::new(),
            intervals: Intervals::spilling(),
            brokers: BrokerTimeline::default(),
            monitor: super::monitor::SelfMonitor::new(),
        }
    }

    /// Closes the interval ending at `now` (time since the plan start).
    pub fn tick(
        &mut self,
        now: Duration,
        instances: &[Arc<InstanceShared>],
        groups: &[Arc<GroupShared>],
        brokers: &BrokerBoard,
    ) -> &TimelinePoint {
        let length = now.saturating_sub(self.last).as_secs_f64().max(1e-3);
        let start_s = self.last.as_secs_f64();
        let acked_by_topic = super::producer::acked_by_topic(instances);
        let ProducerTotals {
            publish,
            schedule_lag,
            sent,
            sent_bytes,
            acked,
            acked_bytes,
            failed,
            ..
        } = producer_totals(instances, LatencyRecorder::take_interval);
        let last_bytes = std::mem::replace(&mut self.last_bytes, (sent_bytes, acked_bytes));
        let mut e2e_all = new_histogram();
        let mut group_points = Vec::with_capacity(groups.len());
        let mut lag_terms = Vec::with_capacity(groups.len());
        for (index, group) in groups.iter().enumerate() {
            let (point, terms, e2e) = self.group_point(index, group, &acked_by_topic);
            if !point.set_aside {
                e2e_all.add(&e2e).expect("same bounds");
            }
            group_points.push(point);
            lag_terms.push(terms);
            self.keep(start_s, length, e2e_tag(&group.spec.name), e2e);
        }
        let target = self.plan.planned_before(now) - self.plan.planned_before(self.last);
        let phase = match self
            .plan
            .phase_at(now.saturating_sub(Duration::from_millis(1)))
        {
            Some(index) => self.plan.phase_name(index).to_string(),
            None => "drain".into(),
        };
        let host = self.monitor.sample();
        let point = TimelinePoint {
            t: (now.as_secs_f64() * 1000.0).round() / 1000.0,
            phase,
            target_rate: target / length,
            produced: sent - self.last_sent,
            acked: acked - self.last_acked,
            failed: failed - self.last_failed,
            consumed: group_points.iter().map(|g| g.consumed).sum(),
            produced_bytes: sent_bytes - last_bytes.0,
            acked_bytes: acked_bytes - last_bytes.1,
            consumed_bytes: group_points.iter().map(|g| g.consumed_bytes).sum(),
            e2e_p50: some_if_recorded(&e2e_all, 0.50),
            e2e_p95: some_if_recorded(&e2e_all, 0.95),
            e2e_p99: some_if_recorded(&e2e_all, 0.99),
            publish_p99: some_if_recorded(&publish, 0.99),
            schedule_lag_p99: some_if_recorded(&schedule_lag, 0.99),
            generator_cpu: host.cpu,
            generator_memory_mib: host.memory_mib,
            generator_process_cpu: host.process_cpu,
            generator_thread_cpu: host.busiest_thread_cpu,
            broker_cpu: host.broker_cpu,
            groups: group_points,
            events: crate::kafka::auth::take_iam_events(),
        };
        self.keep(start_s, length, PUBLISH.into(), publish);
        self.keep(start_s, length, SCHEDULE_LAG.into(), schedule_lag);
        let reports = brokers
            .take()
            .iter()
            .filter_map(|(expects_answers, document)| {
                let (client, mut reports) = broker_reports(document)?;
                for report in &mut reports {
                    report.expects_answers = *expects_answers;
                }
                Some((client, reports))
            })
            .collect();
        let warmup = self
            .plan
            .is_warmup_at(now.saturating_sub(Duration::from_millis(1)));
        self.brokers.fold(point.t, warmup, reports);
        self.last = now;
        self.last_sent = sent;
        self.last_acked = acked;
        self.last_failed = failed;
        self.timeline.push(point);
        self.lag_terms.push(lag_terms);
        self.timeline.last().expect("just pushed")
    }

    /// One group's counts since the last tick, its lag terms, and its interval's e2e latency.
    fn group_point(
        &mut self,
        index: usize,
        group: &GroupShared,
        acked_by_topic: &[u64],
    ) -> (GroupPoint, LagTerms, Histogram<u64>) {
        let (e2e, consumed, unique, disorder, failures) = {
            let mut state = lock(&group.state);
            let failures = state
                .failures
                .as_ref()
                .map_or((0, 0), |f| (f.retried, f.dead_lettered.len() as u64));
            (
                state.e2e.take_interval(),
                (state.consumed, state.consumed_bytes),
                state.checker.unique,
                (state.checker.duplicates, state.checker.out_of_order),
                failures,
            )
        };
        let terms = LagTerms {
            acked: group.acked_on_topics(acked_by_topic),
            unique,
        };
        let last = std::mem::replace(&mut self.last_disorder[index], disorder);
        let last_failures = std::mem::replace(&mut self.last_failures[index], failures);
        let point = GroupPoint {
            set_aside: group.set_aside,
            retried: failures.0 - last_failures.0,
            dead_lettered: failures.1 - last_failures.1,
            name: group.spec.name.clone(),
            consumed: consumed.0 - self.last_consumed[index].0,
            consumed_bytes: consumed.1 - self.last_consumed[index].1,
            lag: group.lag(acked_by_topic, unique),
            e2e_p50: some_if_recorded(&e2e, 0.50),
            e2e_p95: some_if_recorded(&e2e, 0.95),
            e2e_p99: some_if_recorded(&e2e, 0.99),
            duplicates: disorder.0 - last.0,
            out_of_order: disorder.1 - last.1,
            members: group
                .assigned
                .iter()
                .filter(|a| a.load(Ordering::Acquire) > 0)
                .count() as u16,
            partitions_held: group.partitions_held() as u32,
            // A late group owns nothing until it joins, by design: not a rebalance.
            partitions_unowned: if group.spec.starts_after.is_some()
                && group.joined_at.get().is_none()
            {
                0
            } else {
                group
                    .expected_partitions
                    .saturating_sub(group.partitions_held()) as u32
            },
        };
        self.last_consumed[index] = consumed;
        (point, terms, e2e)
    }

    fn keep(&mut self, start_s: f64, duration_s: f64, tag: String, histogram: Histogram<u64>) {
        self.intervals
            .push(IntervalSample::new(start_s, duration_s, tag, &histogram));
    }
}
