//! A paused group's catch-up in a distributed run, rebuilt from the merged timeline. No
//! worker sees the whole group's counts while it runs, so the merge measures the catch-up at
//! the timeline's one-second grain, where one process watches it every 20 ms.

use crate::engine::FaultRecord;
use crate::metrics::TimelinePoint;
use crate::scenario::{FaultKind, Scenario};
use crate::summary::CatchupSummary;

/// The catch-up after every `group_pause` of group `g` that was undone, in resume order.
pub(super) fn catchups(
    scenario: &Scenario,
    g: usize,
    faults: &[FaultRecord],
    timeline: &[TimelinePoint],
) -> Vec<CatchupSummary> {
    let threshold = scenario.recovery_limits(Some(&scenario.groups[g].name)).lag;
    let pauses: Vec<(&str, f64, Option<f64>)> = scenario
        .faults
        .iter()
        .zip(faults)
        .filter(|(spec, _)| matches!(spec.kind, FaultKind::GroupPause { group } if group == g))
        .filter_map(|(spec, record)| {
            let started = record.log.started?.as_secs_f64();
            let resumed = record.log.ended.map(|e| e.as_secs_f64());
            Some((spec.name.as_str(), started, resumed))
        })
        .collect();
    let mut summaries: Vec<CatchupSummary> = pauses
        .iter()
        .filter_map(|&(name, paused, resumed)| {
            let resumed = resumed?;
            let next_pause = (pauses.iter())
                .filter(|(_, start, _)| *start > resumed)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            Some(catchup(
                g,
                name,
                (paused, resumed),
                next_pause,
                threshold,
                timeline,
            ))
        })
        .collect();
    summaries.sort_by(|a, b| a.resumed_s.total_cmp(&b.resumed_s));
    summaries
}

/// One catch-up: the lag at the second nearest the resume, and the first second after it at
/// or under the threshold; the rates from the lag's fall and what the group read meanwhile.
fn catchup(
    g: usize,
    fault: &str,
    (paused_s, resumed_s): (f64, f64),
    next_pause: Option<&(&str, f64, Option<f64>)>,
    threshold: u64,
    timeline: &[TimelinePoint],
) -> CatchupSummary {
    let lag = |p: &TimelinePoint| p.groups.get(g).map_or(0, |group| group.lag);
    let mut summary = CatchupSummary {
        fault: fault.to_string(),
        paused_s,
        resumed_s,
        threshold,
        ..CatchupSummary::default()
    };
    let Some(start) = (0..timeline.len()).min_by(|&a, &b| {
        (timeline[a].t - resumed_s)
            .abs()
            .total_cmp(&(timeline[b].t - resumed_s).abs())
    }) else {
        return summary;
    };
    summary.backlog = lag(&timeline[start]);
    let caught = (start..timeline.len()).find(|&i| lag(&timeline[i]) <= threshold);
    let paused_first = next_pause.filter(|(_, at, _)| caught.is_none_or(|i| timeline[i].t > *at));
    if let Some((name, _, _)) = paused_first {
        summary.paused_again_by = Some(name.to_string());
        return summary;
    }
    let Some(caught) = caught else {
        return summary;
    };
    // Under the threshold at the resume's own second: nothing to drain.
    let took = if caught == start {
        0.0
    } else {
        (timeline[caught].t - resumed_s).max(0.0)
    };
    summary.catchup_time_s = Some(took);
    if caught > start && took > 0.0 {
        let consumed: u64 = (timeline[start + 1..=caught].iter())
            .filter_map(|p| p.groups.get(g))
            .map(|group| group.consumed)
            .sum();
        let consume_rate = consumed as f64 / took;
        let drained = summary.backlog as f64 - lag(&timeline[caught]) as f64;
        summary.consume_rate = Some(consume_rate);
        summary.catchup_rate = Some(drained / took);
        summary.produce_rate = Some(consume_rate - drained / took);
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::GroupPoint;

    /// One group's timeline: (t, lag, consumed that second).
    fn timeline(points: &[(f64, u64, u64)]) -> Vec<TimelinePoint> {
        (points.iter())
            .map(|&(t, lag, consumed)| TimelinePoint {
                t,
                groups: vec![GroupPoint {
                    lag,
                    consumed,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn the_lag_at_the_resume_and_its_fall_give_the_backlog_and_rates() {
        // Resumed at 8.0 s with 15,000 behind; 2 s later 500 behind, 30,000 read meanwhile.
        let points = timeline(&[
            (7.0, 12_000, 0),
            (8.0, 15_000, 0),
            (9.0, 8_000, 15_000),
            (10.0, 500, 15_000),
        ]);
        let summary = catchup(0, "down", (5.0, 8.0), None, 1_000, &points);
        assert_eq!(summary.backlog, 15_000);
        assert_eq!(summary.catchup_time_s, Some(2.0));
        assert_eq!(summary.consume_rate, Some(15_000.0));
        assert_eq!(summary.catchup_rate, Some(7_250.0));
        assert_eq!(summary.produce_rate, Some(7_750.0));
        // Never back under: no time, no rate.
        let never = catchup(0, "down", (5.0, 8.0), None, 100, &points);
        assert_eq!((never.catchup_time_s, never.catchup_rate), (None, None));
        // Paused again at 9.5 s, before it caught up at 10.0 s: unmeasured, naming it.
        let again = ("again", 9.5, Some(12.0));
        let cut = catchup(0, "down", (5.0, 8.0), Some(&again), 1_000, &points);
        assert_eq!(cut.paused_again_by.as_deref(), Some("again"));
        assert_eq!(cut.catchup_time_s, None);
    }

    #[test]
    fn a_resume_under_the_threshold_has_nothing_to_drain() {
        // The nearest second ends just after the resume.
        let points = timeline(&[(4.013, 300, 600), (5.013, 200, 700)]);
        let summary = catchup(0, "blip", (3.0, 4.0), None, 10_000, &points);
        assert_eq!(summary.catchup_time_s, Some(0.0));
        assert_eq!(summary.catchup_rate, None);
        assert!(!summary.had_backlog());
    }
}
