//! Every worker's timeline added second by second from the shared start.

use hdrhistogram::Histogram;

use crate::engine::LagTerms;
use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG, e2e_tag};
use crate::metrics::{GroupPoint, TimelinePoint};
use crate::scenario::{GroupSpec, Scenario};

use super::intervals::MergedIntervals;
use super::read::Worker;
use super::{add, saturating_sum};

/// Every worker's timeline added second by second.
pub(super) fn merged_timeline(
    scenario: &Scenario,
    workers: &[Worker],
    intervals: &MergedIntervals,
) -> Vec<TimelinePoint> {
    let length = workers
        .iter()
        .map(|w| w.run.summary.timeline.len())
        .max()
        .unwrap_or(0);
    let merging = TimelineMerge {
        scenario,
        workers,
        intervals,
    };
    (0..length).map(|second| merging.point(second)).collect()
}

/// What each merged point of the timeline is added from.
struct TimelineMerge<'a> {
    scenario: &'a Scenario,
    workers: &'a [Worker],
    intervals: &'a MergedIntervals,
}

impl TimelineMerge<'_> {
    /// The run's point at `second`, from every worker whose timeline reaches it.
    fn point(&self, second: usize) -> TimelinePoint {
        let points: Vec<&TimelinePoint> = self
            .workers
            .iter()
            .filter_map(|w| w.run.summary.timeline.get(second))
            .collect();
        let longest = points[0];
        let sum = |f: fn(&TimelinePoint) -> u64| saturating_sum(points.iter().map(|p| f(p)));
        let max_of = |f: fn(&TimelinePoint) -> Option<f64>| {
            points.iter().filter_map(|p| f(p)).reduce(f64::max)
        };
        let groups: Vec<GroupPoint> = self
            .scenario
            .groups
            .iter()
            .enumerate()
            .map(|(g, spec)| self.group_point(second, &points, g, spec))
            .collect();
        let e2e_all = self.e2e_all(second);
        TimelinePoint {
            t: points.iter().map(|p| p.t).fold(0.0, f64::max),
            phase: longest.phase.clone(),
            target_rate: points.iter().map(|p| p.target_rate).sum::<f64>(),
            produced: sum(|p| p.produced),
            acked: sum(|p| p.acked),
            failed: sum(|p| p.failed),
            consumed: saturating_sum(groups.iter().map(|g| g.consumed)),
            produced_bytes: sum(|p| p.produced_bytes),
            acked_bytes: sum(|p| p.acked_bytes),
            consumed_bytes: saturating_sum(groups.iter().map(|g| g.consumed_bytes)),
            e2e_p50: quantile(Some(&e2e_all), 0.50),
            e2e_p95: quantile(Some(&e2e_all), 0.95),
            e2e_p99: quantile(Some(&e2e_all), 0.99),
            publish_p99: quantile(self.intervals.get(second, PUBLISH).as_ref(), 0.99),
            schedule_lag_p99: quantile(self.intervals.get(second, SCHEDULE_LAG).as_ref(), 0.99),
            // The busiest worker's host: CPU shares of different hosts do not add.
            generator_cpu: max_of(|p| p.generator_cpu),
            generator_memory_mib: max_of(|p| p.generator_memory_mib),
            generator_process_cpu: max_of(|p| p.generator_process_cpu),
            generator_thread_cpu: max_of(|p| p.generator_thread_cpu),
            broker_cpu: max_of(|p| p.broker_cpu),
            groups,
            events: points.iter().flat_map(|p| p.events.clone()).collect(),
        }
    }

    /// Group `g`'s point at `second`, from the workers' `points` at that second.
    fn group_point(
        &self,
        second: usize,
        points: &[&TimelinePoint],
        g: usize,
        spec: &GroupSpec,
    ) -> GroupPoint {
        let of = |f: fn(&GroupPoint) -> u64| {
            saturating_sum(points.iter().filter_map(|p| p.groups.get(g)).map(f))
        };
        let e2e = self.intervals.get(second, &e2e_tag(&spec.name));
        let e2e = e2e.as_ref();
        GroupPoint {
            name: spec.name.clone(),
            set_aside: false,
            consumed: of(|p| p.consumed),
            consumed_bytes: of(|p| p.consumed_bytes),
            lag: self.lag_terms(second, g).lag(),
            e2e_p50: quantile(e2e, 0.50),
            e2e_p95: quantile(e2e, 0.95),
            e2e_p99: quantile(e2e, 0.99),
            duplicates: of(|p| p.duplicates),
            out_of_order: of(|p| p.out_of_order),
            retried: 0,
            dead_lettered: 0,
            members: u16::try_from(of(|p| u64::from(p.members))).unwrap_or(u16::MAX),
            partitions_held: u32::try_from(of(|p| u64::from(p.partitions_held)))
                .unwrap_or(u32::MAX),
            partitions_unowned: u32::try_from(
                (self.scenario.partitions_of(g) as u64)
                    .saturating_sub(of(|p| u64::from(p.partitions_held))),
            )
            .unwrap_or(u32::MAX),
        }
    }

    /// Group `g`'s lag terms at `second`, added across every worker.
    fn lag_terms(&self, second: usize, g: usize) -> LagTerms {
        // A worker that has ended keeps its final terms: its events stay acked.
        let mut terms = LagTerms::default();
        for w in self.workers {
            terms += w
                .file
                .share
                .lag_terms
                .get(second)
                .and_then(|t| t.get(g))
                .copied()
                .or_else(|| w.file.share.groups.get(g).map(|f| f.final_terms))
                .unwrap_or_default();
        }
        terms
    }

    /// Every group's e2e histogram at `second`, added.
    fn e2e_all(&self, second: usize) -> Histogram<u64> {
        let mut e2e_all = crate::metrics::new_histogram();
        for spec in &self.scenario.groups {
            if let Some(h) = self.intervals.get(second, &e2e_tag(&spec.name)) {
                add(&mut e2e_all, &h);
            }
        }
        e2e_all
    }
}

fn quantile(histogram: Option<&Histogram<u64>>, q: f64) -> Option<u64> {
    histogram
        .filter(|h| !h.is_empty())
        .map(|h| h.value_at_quantile(q))
}
