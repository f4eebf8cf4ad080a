//! `surge capacity --sustain`: a short probe measures what the cluster does at first, which on
//! MSK Standard brokers can be a burst on EBS and network credits. After the search, the rate
//! it found is held for the whole sustain time; if throughput or latency falls off, the rate
//! is burst-bound, and lower rates are held until one holds.

use crate::metrics::TimelinePoint;
use crate::summary::{Hold, Status, Sustain};

/// Holds tried at most after the search: the found rate and three steps down.
pub const MAX_HOLDS: usize = 4;

/// Each step down offers this share of the last rate that fell off.
pub const STEP_DOWN: f64 = 0.75;

/// A second in which acked events fell under this share of the offered rate is a bad one.
pub const ACKED_SHARE: f64 = 0.9;

/// Bad seconds in a row that make a fall-off (one slow second is not one).
pub const BAD_IN_A_ROW: usize = 3;

/// Seconds into the hold's measured part at which it fell off: the first of
/// [`BAD_IN_A_ROW`] seconds in a row in which the generator sent at least [`ACKED_SHARE`] of
/// the plan's rate (it kept up: the cluster, not surge, fell behind) while the events acked
/// were under that share or the e2e p95 passed `p95_limit_us`. Only seconds of the plan count
/// (not the drain, where nothing is offered). `None` when it never fell off.
pub fn fell_off_at(
    points: &[TimelinePoint],
    measured_from_s: f64,
    p95_limit_us: Option<u64>,
) -> Option<f64> {
    let bad = |p: &TimelinePoint| {
        let share = p.target_rate * ACKED_SHARE;
        (p.produced as f64) >= share
            && ((p.acked as f64) < share
                || p95_limit_us.is_some_and(|limit| p.e2e_p95.is_some_and(|p95| p95 > limit)))
    };
    let mut run_start: Option<f64> = None;
    let mut run = 0;
    let planned = |p: &&TimelinePoint| {
        p.t > measured_from_s + 0.5 && p.target_rate > 0.0 && p.phase != "drain"
    };
    for point in points.iter().filter(planned) {
        if bad(point) {
            run_start.get_or_insert(point.t - 1.0);
            run += 1;
            if run >= BAD_IN_A_ROW {
                return run_start.map(|t| (t - measured_from_s).max(0.0));
            }
        } else {
            run_start = None;
            run = 0;
        }
    }
    None
}

/// The holds so far, and the next rate to hold (`None`: done).
#[derive(Debug, Clone)]
pub struct Holding {
    pub duration_s: f64,
    pub holds: Vec<Hold>,
    floor: f64,
}

impl Holding {
    /// Holds for `duration_s`, starting at the rate the search found; never below `floor`.
    pub fn new(duration_s: f64, floor: f64) -> Holding {
        Holding {
            duration_s,
            holds: Vec::new(),
            floor: floor.max(1.0),
        }
    }

    /// The rate to hold next, after the search found `found`.
    pub fn next_rate(&self, found: f64) -> Option<f64> {
        if self.holds.len() >= MAX_HOLDS {
            return None;
        }
        match self.holds.last() {
            None => Some(found),
            // Held; or no telling (the generator fell behind, or an error).
            Some(last) if last.status != Status::Fail => None,
            Some(last) => {
                let lower = (last.rate * STEP_DOWN).round();
                (lower >= self.floor && lower < last.rate).then_some(lower)
            }
        }
    }

    pub fn record(&mut self, hold: Hold) {
        self.holds.push(hold);
    }

    /// What the holds found.
    pub fn result(self) -> Sustain {
        let held_rate = (self.holds.iter())
            .filter(|h| h.status == Status::Pass)
            .map(|h| h.rate)
            .reduce(f64::max);
        let burst = self.holds.first().filter(|h| h.status == Status::Fail);
        Sustain {
            duration_s: self.duration_s,
            held_rate,
            burst_rate: burst.map(|h| h.rate),
            burst_held_s: burst.and_then(|h| h.held_s),
            holds: self.holds,
        }
    }
}

/// `15m`, `90s`, `1h 30m`.
pub fn time(seconds: f64) -> String {
    let seconds = if seconds.is_finite() {
        seconds.clamp(0.0, 1e9)
    } else {
        0.0
    };
    crate::scenario::units::format_duration(std::time::Duration::from_secs(seconds.round() as u64))
}

/// What the holds showed, for the end of a capacity conclusion (the rate that held is its
/// headline).
pub fn describe(sustain: &Sustain) -> String {
    let hold = time(sustain.duration_s);
    let Some(first) = sustain.holds.first() else {
        return format!("; the hold of {hold} did not run (stopped)");
    };
    let rate = crate::format::format_number(first.rate);
    match (sustain.burst_rate, sustain.held_rate) {
        (Some(_), held) => {
            let lasted = sustain
                .burst_held_s
                .map_or("it failed an SLO".to_string(), |s| {
                    format!("it fell off after {}", time(s))
                });
            let lower = match (held, sustain.holds.len()) {
                (Some(_), _) => String::new(),
                (None, 1) => "; no lower rate was tried".to_string(),
                (None, n) => format!("; {} lower rates tried, none held", n - 1),
            };
            format!(
                "; burst-bound: {rate} events/s passed the short probes but not a {hold} hold ({lasted}){lower}"
            )
        }
        (None, Some(_)) => String::new(),
        (None, None) => match first.status {
            Status::Inconclusive => format!(
                "; the hold of {hold} at {rate} events/s could not tell: the generator fell behind"
            ),
            _ => format!(
                "; the hold of {hold} at {rate} events/s ended in an error: {}",
                first.reasons.first().map_or("-", String::as_str)
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: f64, acked: u64, p95_ms: u64) -> TimelinePoint {
        TimelinePoint {
            t,
            target_rate: 1_000.0,
            phase: "probe".into(),
            produced: 1_000,
            acked,
            e2e_p95: Some(p95_ms * 1_000),
            ..TimelinePoint::default()
        }
    }

    #[test]
    fn a_fall_off_is_three_bad_seconds_in_a_row_counted_from_the_measured_start() {
        // 5 s of warmup, then 1,000/s until second 17, then 600/s.
        let points: Vec<TimelinePoint> = (1..=30)
            .map(|t| second(t as f64, if t <= 17 { 1_000 } else { 600 }, 20))
            .collect();
        assert_eq!(fell_off_at(&points, 5.0, Some(100_000)), Some(12.0));
        // One slow second alone is not a fall-off.
        let mut blip = points[..17].to_vec();
        blip[9].acked = 100;
        assert_eq!(fell_off_at(&blip, 5.0, Some(100_000)), None);
        // Nor are the drain's seconds, in which nothing is offered.
        let mut drained = points[..17].to_vec();
        for t in 18..=22 {
            let mut drain = second(t as f64, 0, 20);
            drain.target_rate = 0.0;
            drain.phase = "drain".into();
            drained.push(drain);
        }
        assert_eq!(fell_off_at(&drained, 5.0, Some(100_000)), None);
        // Nor seconds in which the generator itself fell behind: the host, not the cluster.
        let mut behind = points.clone();
        for p in behind.iter_mut().filter(|p| p.t > 17.0) {
            p.produced = 500;
        }
        assert_eq!(fell_off_at(&behind, 5.0, Some(100_000)), None);
        // Latency past the limit is one too, with every event acked.
        let slow: Vec<TimelinePoint> = (1..=20)
            .map(|t| second(t as f64, 1_000, if t > 10 { 400 } else { 20 }))
            .collect();
        assert_eq!(fell_off_at(&slow, 5.0, Some(100_000)), Some(5.0));
        assert_eq!(fell_off_at(&slow, 5.0, None), None);
    }

    fn hold(rate: f64, status: Status, held_s: Option<f64>) -> Hold {
        Hold {
            rate,
            status,
            planned_s: 60.0,
            held_s,
            reasons: Vec::new(),
        }
    }

    #[test]
    fn a_rate_that_falls_off_is_a_burst_and_lower_rates_are_held_until_one_holds() {
        let mut holding = Holding::new(60.0, 100.0);
        assert_eq!(holding.next_rate(1_000.0), Some(1_000.0));
        holding.record(hold(1_000.0, Status::Fail, Some(14.0)));
        assert_eq!(holding.next_rate(1_000.0), Some(750.0));
        holding.record(hold(750.0, Status::Fail, Some(31.0)));
        assert_eq!(holding.next_rate(1_000.0), Some(563.0));
        holding.record(hold(563.0, Status::Pass, None));
        assert_eq!(holding.next_rate(1_000.0), None);
        let result = holding.result();
        assert_eq!(result.held_rate, Some(563.0));
        assert_eq!(
            (result.burst_rate, result.burst_held_s),
            (Some(1_000.0), Some(14.0))
        );
    }

    #[test]
    fn a_rate_that_holds_is_no_burst_and_the_steps_stop_at_the_floor_and_the_cap() {
        let mut holding = Holding::new(60.0, 100.0);
        holding.record(hold(1_000.0, Status::Pass, None));
        assert_eq!(holding.next_rate(1_000.0), None);
        let result = holding.result();
        assert_eq!((result.held_rate, result.burst_rate), (Some(1_000.0), None));
        // A first hold that could not tell is no burst, and nothing lower is held.
        let mut unsure = Holding::new(60.0, 100.0);
        unsure.record(hold(1_000.0, Status::Inconclusive, Some(3.0)));
        assert_eq!(unsure.next_rate(1_000.0), None);
        let unsure = unsure.result();
        assert_eq!((unsure.burst_rate, unsure.held_rate), (None, None));
        assert!(
            describe(&unsure).contains("could not tell"),
            "{}",
            describe(&unsure)
        );
        let mut floored = Holding::new(60.0, 700.0);
        floored.record(hold(1_000.0, Status::Fail, Some(3.0)));
        assert_eq!(floored.next_rate(1_000.0), Some(750.0));
        floored.record(hold(750.0, Status::Fail, Some(3.0)));
        assert_eq!(floored.next_rate(1_000.0), None);
        let mut capped = Holding::new(60.0, 1.0);
        for _ in 0..MAX_HOLDS {
            let rate = capped.next_rate(1_000.0).unwrap();
            capped.record(hold(rate, Status::Fail, Some(1.0)));
        }
        assert_eq!(capped.next_rate(1_000.0), None);
        assert_eq!(capped.result().held_rate, None);
    }
}
