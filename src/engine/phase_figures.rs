//! Per-phase figures from the run's record: each timeline second and each interval
//! histogram counts toward the phases its midpoint falls in; the drain after the plan counts
//! toward the last phase's latencies, lag and disorder (its events are the ones consumed
//! then), not its rates. Latencies are added as histograms, never averaged. No I/O beyond
//! reading the spilled intervals.

use hdrhistogram::Histogram;

use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG, e2e_tag};
use crate::metrics::{LatencyStats, TimelinePoint, new_histogram};
use crate::scenario::Scenario;
use crate::scenario::phase_rows::{PhaseRow, peak_row, phase_rows};
use crate::summary::{MB, PhaseFigures, PhaseGroup};

use super::record::RunRecord;

/// What is being added up for one phase.
struct Tally {
    start: f64,
    end: f64,
    /// The last phase of the plan (or a part ending with it): the drain is its tail.
    tail: bool,
    seconds: f64,
    planned: f64,
    produced: u64,
    bytes: [u64; 3],
    failed: u64,
    max_lag: u64,
    publish: Histogram<u64>,
    schedule_lag: Histogram<u64>,
    /// Per group: e2e, consumed, consumed bytes, max lag, duplicates, out of order.
    groups: Vec<(Histogram<u64>, [u64; 5])>,
}

impl Tally {
    fn new(start: f64, end: f64, tail: bool, groups: usize) -> Tally {
        Tally {
            start,
            end,
            tail,
            seconds: 0.0,
            planned: 0.0,
            produced: 0,
            bytes: [0; 3],
            failed: 0,
            max_lag: 0,
            publish: new_histogram(),
            schedule_lag: new_histogram(),
            groups: (0..groups).map(|_| (new_histogram(), [0; 5])).collect(),
        }
    }

    /// Whether the second (or interval) from `start` lasting `length` counts toward the
    /// phase: `Some(true)` within the plan's phase, `Some(false)` in the drain after the last
    /// phase, `None` not at all.
    fn holds(&self, start: f64, length: f64) -> Option<bool> {
        let middle = start + length / 2.0;
        if (self.start..self.end).contains(&middle) {
            Some(true)
        } else {
            (self.tail && middle >= self.end).then_some(false)
        }
    }

    /// Adds the timeline second that ends at `point.t` and lasted `length`; its rates only
    /// when it is `in_plan`.
    fn second(&mut self, point: &TimelinePoint, length: f64, in_plan: bool) {
        if in_plan {
            self.seconds += length;
            self.planned += point.target_rate * length;
            self.produced += point.produced;
            let bytes = [
                point.produced_bytes,
                point.acked_bytes,
                point.consumed_bytes,
            ];
            for (sum, add) in self.bytes.iter_mut().zip(bytes) {
                *sum = sum.saturating_add(add);
            }
        }
        self.failed = self.failed.saturating_add(point.failed);
        self.max_lag = self.max_lag.max(point.max_lag());
        for (group, (_, counts)) in point.groups.iter().zip(&mut self.groups) {
            if in_plan {
                counts[0] = counts[0].saturating_add(group.consumed);
                counts[1] = counts[1].saturating_add(group.consumed_bytes);
            }
            counts[2] = counts[2].max(group.lag);
            counts[3] = counts[3].saturating_add(group.duplicates);
            counts[4] = counts[4].saturating_add(group.out_of_order);
        }
    }
}

/// Every phase's figures, in the order of [`phase_rows`].
pub fn phase_figures(scenario: &Scenario, record: &RunRecord) -> Vec<PhaseFigures> {
    let rows = phase_rows(&scenario.phases);
    let spans = record.plan.phase_spans();
    let last_phase = spans.len().saturating_sub(1);
    let mut tallies: Vec<Tally> = rows
        .iter()
        .map(|row| {
            let last_part = *row.parts.last().expect("a row has a part");
            Tally::new(
                spans[row.parts[0]].1.as_secs_f64(),
                spans[last_part].2.as_secs_f64(),
                last_part == last_phase,
                scenario.groups.len(),
            )
        })
        .collect();
    let mut start = 0.0;
    for point in &record.timeline {
        let length = (point.t - start).max(0.0);
        for tally in tallies.iter_mut() {
            if let Some(in_plan) = tally.holds(start, length) {
                tally.second(point, length, in_plan);
            }
        }
        start = point.t;
    }
    add_intervals(scenario, record, &mut tallies);
    let peak = peak_row(&rows, &scenario.phases, scenario.peak_phase.as_deref());
    let share = share_of_plan(scenario, record);
    rows.iter()
        .zip(tallies)
        .enumerate()
        .map(|(i, (row, tally))| {
            let mut figures = figures(scenario, row, tally, share);
            figures.peak = peak == Some(i);
            figures
        })
        .collect()
}

/// Acked payload MB/s over the measured (non-warmup) phases' timeline seconds.
pub fn measured_acked_mb_per_s(record: &RunRecord) -> f64 {
    let spans: Vec<(f64, f64)> = record
        .plan
        .phase_spans()
        .into_iter()
        .filter(|(_, _, _, warmup)| !warmup)
        .map(|(_, start, end, _)| (start.as_secs_f64(), end.as_secs_f64()))
        .collect();
    let (mut start, mut seconds, mut bytes) = (0.0, 0.0, 0u64);
    for point in &record.timeline {
        let middle = (start + point.t) / 2.0;
        if spans.iter().any(|(s, e)| (*s..*e).contains(&middle)) {
            seconds += point.t - start;
            bytes = bytes.saturating_add(point.acked_bytes);
        }
        start = point.t;
    }
    per_second(bytes as f64 / MB, seconds)
}

/// Each interval histogram added to every phase its midpoint falls in (a part's and its
/// phase's).
fn add_intervals(scenario: &Scenario, record: &RunRecord, tallies: &mut [Tally]) {
    let e2e_tags: Vec<String> = scenario.groups.iter().map(|g| e2e_tag(&g.name)).collect();
    for interval in record.histograms.intervals.iter() {
        let holding: Vec<usize> = (0..tallies.len())
            .filter(|&i| {
                tallies[i]
                    .holds(interval.start_s, interval.duration_s)
                    .is_some()
            })
            .collect();
        if holding.is_empty() {
            continue;
        }
        let group = e2e_tags.iter().position(|t| t == interval.tag);
        if group.is_none() && interval.tag != PUBLISH && interval.tag != SCHEDULE_LAG {
            continue;
        }
        let histogram = interval.histogram();
        for i in holding {
            let tally = &mut tallies[i];
            // Every histogram has the same bounds, so adding cannot fail.
            let _ = match group {
                Some(g) => tally.groups[g].0.add(&histogram),
                None if interval.tag == PUBLISH => tally.publish.add(&histogram),
                None => tally.schedule_lag.add(&histogram),
            };
        }
    }
}

/// The share of the scenario's plan this record's process ran: one worker of several plans
/// a share of every rate.
fn share_of_plan(scenario: &Scenario, record: &RunRecord) -> f64 {
    if record.share.is_some() {
        1.0 / f64::from(scenario.workers.count.max(1))
    } else {
        1.0
    }
}

/// Mean payload bytes of an event, by the events' weights and size ranges.
pub(super) fn mean_event_bytes(scenario: &Scenario) -> f64 {
    let weight: f64 = scenario.events.iter().map(|e| e.weight).sum();
    if weight <= 0.0 {
        return 0.0;
    }
    scenario
        .events
        .iter()
        .map(|e| e.weight / weight * e.mean_size())
        .sum()
}

fn per_second(amount: f64, seconds: f64) -> f64 {
    if seconds > 0.0 { amount / seconds } else { 0.0 }
}

fn figures(scenario: &Scenario, row: &PhaseRow, tally: Tally, share: f64) -> PhaseFigures {
    let offered_rate = row.mean_rate(&scenario.phases) * share;
    let mb = |bytes: u64| per_second(bytes as f64 / MB, tally.seconds);
    let mut e2e_all = new_histogram();
    let groups: Vec<PhaseGroup> = scenario
        .groups
        .iter()
        .enumerate()
        .zip(&tally.groups)
        .map(|((index, spec), (e2e, counts))| {
            let set_aside = scenario.is_set_aside(index);
            if !set_aside {
                let _ = e2e_all.add(e2e);
            }
            PhaseGroup {
                name: spec.name.clone(),
                consumed: counts[0],
                consumed_mb_per_s: mb(counts[1]),
                e2e_us: LatencyStats::of(e2e),
                max_lag: counts[2],
                duplicates: counts[3],
                out_of_order: counts[4],
                set_aside,
            }
        })
        .collect();
    let sum = |pick: fn(&PhaseGroup) -> u64| groups.iter().map(pick).fold(0, u64::saturating_add);
    PhaseFigures {
        name: row.name.clone(),
        part_of: row.part_of.clone(),
        warmup: row.warmup,
        peak: false,
        start_s: tally.start,
        end_s: tally.end,
        seconds: tally.seconds,
        offered_rate,
        offered_peak_rate: row.peak_rate(&scenario.phases) * share,
        offered_mb_per_s: offered_rate * mean_event_bytes(scenario) / MB,
        achieved_rate: per_second(tally.produced as f64, tally.seconds),
        achieved_ratio: if tally.planned > 0.0 {
            (tally.produced as f64 / tally.planned).min(1.0)
        } else {
            1.0
        },
        produced_mb_per_s: mb(tally.bytes[0]),
        acked_mb_per_s: mb(tally.bytes[1]),
        consumed_mb_per_s: mb(tally.bytes[2]),
        publish_us: LatencyStats::of(&tally.publish),
        schedule_lag_us: LatencyStats::of(&tally.schedule_lag),
        e2e_us: LatencyStats::of(&e2e_all),
        max_lag: tally.max_lag,
        failed: tally.failed,
        duplicates: sum(|g| g.duplicates),
        out_of_order: sum(|g| g.out_of_order),
        groups,
    }
}
