//! `surge capacity`: the highest offered rate at which every SLO holds. It steps the rate up
//! (doubling) until a probe fails, then bisects, within a time budget. Each probe is a short
//! warmup and a steady phase of the scenario at one rate. A probe in which the generator fell
//! behind is inconclusive: it bounds the search but is never reported as the cluster's limit.

pub mod sustain;
pub mod types;

use std::time::Duration;

use crate::format::{format_micros, format_number};
use crate::scenario::{Metric, Phase, Rate, Scenario, Shape, Stat};
use crate::summary::{Capacity, Probe, Status, Sustain, Throttling, TypeLimit};

/// How the search runs.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// The first offered rate; default a tenth of the scenario's peak.
    pub start: Option<f64>,
    /// Never offer more than this.
    pub max: Option<f64>,
    /// Stop bisecting when the bracket is narrower than this share of its upper end.
    pub precision: f64,
    pub probe_warmup: Duration,
    pub probe_duration: Duration,
    pub budget: Duration,
    /// Hold the rate found for this long after the search (`--sustain`).
    pub sustain: Option<Duration>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            start: None,
            max: None,
            precision: 0.1,
            probe_warmup: Duration::from_secs(5),
            probe_duration: Duration::from_secs(20),
            budget: Duration::from_secs(600),
            sustain: None,
        }
    }
}

/// The search itself, as plain state: what passed, what did not, what to try next.
#[derive(Debug, Clone)]
pub struct Search {
    passed: Option<f64>,
    failed: Option<f64>,
    next: Option<f64>,
    precision: f64,
    max: f64,
}

impl Search {
    pub fn new(start: f64, precision: f64, max: Option<f64>) -> Search {
        let max = max.unwrap_or(f64::INFINITY);
        Search {
            passed: None,
            failed: None,
            next: Some(start.min(max)),
            precision,
            max,
        }
    }

    /// The next rate to probe, or `None` when the search is done.
    pub fn next_rate(&self) -> Option<f64> {
        self.next
    }

    /// The highest rate that passed.
    pub fn sustained(&self) -> Option<f64> {
        self.passed
    }

    /// Records a probe's outcome and picks the next rate.
    pub fn record(&mut self, rate: f64, status: Status) {
        match status {
            Status::Pass => self.passed = Some(self.passed.map_or(rate, |p| p.max(rate))),
            Status::Fail | Status::Inconclusive => {
                self.failed = Some(self.failed.map_or(rate, |f| f.min(rate)))
            }
            Status::Error => {
                self.next = None;
                return;
            }
        }
        self.next = match (self.passed, self.failed) {
            (Some(passed), None) if passed >= self.max => None,
            (_, None) => Some((rate * 2.0).min(self.max)),
            (None, Some(failed)) if failed < 1.0 => None,
            (None, Some(failed)) => Some((failed / 2.0).round().max(1.0)),
            (Some(passed), Some(failed)) if (failed - passed) / failed <= self.precision => None,
            (Some(passed), Some(failed)) => Some(((passed + failed) / 2.0).round()),
        };
    }
}

/// The scenario's highest planned rate: the peak to hold.
pub fn target_peak(scenario: &Scenario) -> f64 {
    scenario
        .phases
        .iter()
        .map(|p| match p.shape {
            Shape::Constant(rate) => rate.0,
            Shape::Ramp { from, to } => from.0.max(to.0),
        })
        .fold(0.0, f64::max)
}

/// The scenario with its phases replaced by one probe at `rate`.
pub fn probe_scenario(base: &Scenario, rate: f64, options: &SearchOptions) -> Scenario {
    let mut scenario = base.clone();
    scenario.phases = vec![
        Phase {
            name: "warmup".into(),
            shape: Shape::Constant(Rate(rate)),
            duration: options.probe_warmup,
            warmup: true,
        },
        Phase {
            name: "probe".into(),
            shape: Shape::Constant(Rate(rate)),
            duration: options.probe_duration,
            warmup: false,
        },
    ];
    // A probe above capacity leaves a backlog: a short drain is enough to judge it.
    scenario.limits.drain_timeout = scenario.limits.drain_timeout.min(Duration::from_secs(5));
    rescope_to_probe(&mut scenario, base);
    scenario.notes.push(format!(
        "capacity probe at {} events/s",
        format_number(rate)
    ));
    scenario
}

/// A probe offers the peak: the SLOs on the scenario's peak phase (`phase.peak.*`, or the
/// phase's own name) judge the probe's steady phase; SLOs on other phases are not judged.
fn rescope_to_probe(scenario: &mut Scenario, base: &Scenario) {
    use crate::scenario::phase_rows::{peak_row, phase_rows};
    let rows = phase_rows(&base.phases);
    let peak = peak_row(&rows, &base.phases, base.peak_phase.as_deref()).map(|i| &rows[i].name);
    let mut dropped = Vec::new();
    scenario.slos.retain_mut(|slo| {
        let Metric::Phase { phase, .. } = &mut slo.metric else {
            return true;
        };
        if phase == "peak" || Some(&*phase) == peak {
            *phase = "probe".into();
            true
        } else {
            dropped.push(format!("`{slo}`"));
            false
        }
    });
    scenario.peak_phase = Some("probe".into());
    if !dropped.is_empty() {
        scenario.notes.push(format!(
            "a probe offers the peak only: {} not judged",
            dropped.join(", ")
        ));
    }
}

/// The time one probe needs at most, join and drain included.
pub fn probe_cost(options: &SearchOptions, scenario: &Scenario) -> Duration {
    options.probe_warmup
        + options.probe_duration
        + Duration::from_secs(5)
        + scenario.limits.drain_timeout.min(Duration::from_secs(5))
        + Duration::from_secs(4)
}

/// Assembles the result and its one-line conclusion.
pub fn conclude(
    scenario: &Scenario,
    probes: Vec<Probe>,
    search: &Search,
    elapsed: Duration,
    budget: Duration,
) -> Capacity {
    let target = target_peak(scenario);
    let sustained = search.sustained();
    let generator_limit = probes
        .iter()
        .filter(|p| p.status == Status::Inconclusive && !p.interrupted)
        .map(|p| p.offered_rate)
        .reduce(f64::min);
    let p95_limit_us = scenario
        .slos
        .iter()
        .find(|s| matches!(s.metric, Metric::E2e { group: None, stat: Stat::Percentile(p) } if p == 95.0))
        .map(|s| s.limit as u64);
    let headroom_percent = sustained.map(|s| headroom(s, target));
    let mut capacity = Capacity {
        probes,
        sustained_rate: sustained,
        target_peak: target,
        headroom_percent,
        generator_limit,
        p95_limit_us,
        elapsed_s: elapsed.as_secs_f64().round(),
        budget_s: budget.as_secs_f64(),
        conclusion: String::new(),
        sustain: None,
        broker_type: None,
        stopped: false,
    };
    capacity.conclusion = conclusion(&capacity);
    capacity
}

/// The result held against the labelled broker type's published limits: where they allow
/// less than was measured, the headroom and the status are theirs.
pub fn with_type_limit(mut capacity: Capacity, limit: TypeLimit) -> Capacity {
    let planned = types::planning_rate(capacity.sustained_rate, Some(&limit));
    capacity.headroom_percent = planned.map(|r| headroom(r, capacity.target_peak));
    capacity.broker_type = Some(limit);
    capacity.conclusion = conclusion(&capacity);
    capacity
}

/// `sustained / target - 1`, in percent to one decimal.
fn headroom(sustained: f64, target: f64) -> f64 {
    ((sustained / target - 1.0) * 1000.0).round() / 10.0
}

/// A headroom as the conclusion shows it: `+25%`, `-14.3%`.
fn signed_headroom(sustained: f64, target: f64) -> String {
    let percent = headroom(sustained, target);
    let sign = if percent >= 0.0 { "+" } else { "" };
    format!("{sign}{}%", format_number(percent))
}

/// The one line a capacity result ends with, from its fields alone.
pub fn conclusion(c: &Capacity) -> String {
    let slo = c.p95_limit_us.map_or("every SLO".to_string(), |l| {
        format!("e2e p95 < {}", format_micros(l as f64))
    });
    let target = format_number(c.target_peak);
    let sustain = c.sustain.as_ref();
    let held_for = sustain
        .filter(|s| s.held_rate.is_some() && s.held_rate == c.sustained_rate)
        .map_or(String::new(), |s| {
            format!(" held for {}", sustain::time(s.duration_s))
        });
    let mut text = match c.sustained_rate {
        Some(rate) => format!(
            "sustains {} events/s{held_for} at {slo}; target peak {target}; headroom {}",
            format_number(rate),
            signed_headroom(rate, c.target_peak)
        ),
        _ if sustain.is_some_and(|s| s.burst_rate.is_some()) => format!(
            "no rate held for {} at {slo}; target peak {target}",
            sustain.map_or(String::new(), |s| sustain::time(s.duration_s))
        ),
        _ => format!(
            "no probe met every SLO (lowest tried {} events/s); target peak {target}",
            format_number(
                (c.probes.iter())
                    .map(|p| p.offered_rate)
                    .fold(f64::MAX, f64::min)
            ),
        ),
    };
    if let Some(sustain) = sustain {
        text.push_str(&sustain::describe(sustain));
    }
    if let Some(quota) = quota_bound(&c.probes) {
        text.push_str(&quota);
    }
    if let Some(limit) = &c.broker_type {
        text.push_str(&types::describe(limit, c.sustained_rate, c.target_peak));
    }
    if let Some(limit) = c.generator_limit {
        text.push_str(&format!(
            "; the generator fell behind at {} events/s, so the cluster's limit may be higher",
            format_number(limit)
        ));
    }
    if c.stopped {
        text.push_str(&format!(
            "; the search was interrupted {}, so it is unfinished",
            where_stopped(c)
        ));
    }
    text
}

/// Where a stopped search was stopped, as its conclusion and its partial reason say.
pub fn where_stopped(c: &Capacity) -> String {
    match c.probes.iter().find(|p| p.interrupted) {
        Some(probe) => format!(
            "during the probe of {} events/s (its figures are partial)",
            format_number(probe.offered_rate)
        ),
        None => "before the search and its holds ended".into(),
    }
}

/// The result of a search that was stopped before it and its holds ended.
pub fn with_stop(mut capacity: Capacity) -> Capacity {
    capacity.stopped = true;
    capacity.conclusion = conclusion(&capacity);
    capacity
}

/// The search's result with what holding its rate showed: when the rate the search found
/// fell off, the rate that held (if any) becomes the sustained rate and sets the headroom.
pub fn with_sustain(mut capacity: Capacity, sustain: Sustain) -> Capacity {
    if sustain.burst_rate.is_some() {
        capacity.sustained_rate = sustain.held_rate;
        capacity.headroom_percent = sustain.held_rate.map(|s| headroom(s, capacity.target_peak));
    }
    capacity.sustain = Some(sustain);
    capacity.conclusion = conclusion(&capacity);
    capacity
}

/// When the lowest failing probe was throttled by the brokers in a material share of its
/// seconds, the limit found is a quota's: said, with the rate the brokers let through.
fn quota_bound(probes: &[Probe]) -> Option<String> {
    let failing = probes
        .iter()
        .filter(|p| p.status == Status::Fail)
        .min_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate))?;
    (failing.throttled_share >= Throttling::MATERIAL).then(|| {
        format!(
            "; quota-bound: from {} events/s the brokers throttled the clients in {:.0}% of the probe's seconds, letting {} MB/s through: the limit found is a client quota's, not the cluster's capacity",
            format_number(failing.offered_rate),
            failing.throttled_share * 100.0,
            format_number((failing.acked_mb_per_s * 1000.0).round() / 1000.0)
        )
    })
}

/// The exit status of a capacity search: pass when the peak is sustained.
pub fn status(capacity: &Capacity) -> Status {
    // An interrupted search found what it found, but not the limit: it decides nothing.
    if capacity.stopped {
        return Status::Inconclusive;
    }
    // A hold that could not tell (the generator fell behind, or an error) confirms nothing.
    if let Some(sustain) = &capacity.sustain
        && !sustain.holds.is_empty()
        && sustain.held_rate.is_none()
        && sustain.burst_rate.is_none()
    {
        return Status::Inconclusive;
    }
    match types::planning_rate(capacity.sustained_rate, capacity.broker_type.as_ref()) {
        Some(rate) if rate >= capacity.target_peak => Status::Pass,
        _ if capacity
            .generator_limit
            .is_some_and(|g| g <= capacity.target_peak) =>
        {
            Status::Inconclusive
        }
        _ => Status::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the search against a cluster whose limit is `knee`.
    fn search(knee: f64, start: f64, precision: f64, max: Option<f64>) -> (Vec<f64>, Option<f64>) {
        let mut search = Search::new(start, precision, max);
        let mut tried = Vec::new();
        while let Some(rate) = search.next_rate() {
            tried.push(rate);
            search.record(
                rate,
                if rate <= knee {
                    Status::Pass
                } else {
                    Status::Fail
                },
            );
            assert!(tried.len() < 50, "the search must end");
        }
        (tried, search.sustained())
    }

    #[test]
    fn steps_up_by_doubling_then_bisects_to_the_knee() {
        let (tried, sustained) = search(1_000.0, 100.0, 0.05, None);
        assert_eq!(&tried[..5], &[100.0, 200.0, 400.0, 800.0, 1_600.0]);
        assert_eq!(tried[5], 1_200.0);
        let sustained = sustained.unwrap();
        assert!(
            (950.0..=1_000.0).contains(&sustained),
            "{sustained} from {tried:?}"
        );
    }

    #[test]
    fn a_failing_start_searches_downwards_and_a_cap_stops_the_climb() {
        let (tried, sustained) = search(300.0, 1_000.0, 0.1, None);
        assert_eq!(&tried[..3], &[1_000.0, 500.0, 250.0]);
        assert!(sustained.unwrap() > 270.0);
        let (tried, sustained) = search(1e9, 100.0, 0.1, Some(500.0));
        assert_eq!(tried, vec![100.0, 200.0, 400.0, 500.0]);
        assert_eq!(sustained, Some(500.0));
    }

    #[test]
    fn a_probe_judges_the_peak_phase_s_slos_and_drops_the_others() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/black-friday.toml");
        let base = crate::scenario::load(std::path::Path::new(path), &Default::default()).unwrap();
        let named: Vec<String> = base
            .slos
            .iter()
            .filter(|s| s.metric.phase().is_some())
            .map(|s| s.to_string())
            .collect();
        assert!(
            named.iter().any(|s| s.starts_with("phase.peak.")),
            "{named:?}"
        );
        let probe = probe_scenario(&base, 1_000.0, &SearchOptions::default());
        let phases: Vec<&str> = probe.slos.iter().filter_map(|s| s.metric.phase()).collect();
        assert!(
            !phases.is_empty() && phases.iter().all(|p| *p == "probe"),
            "{phases:?}"
        );
        assert_eq!(probe.peak_phase.as_deref(), Some("probe"));
        let rows = crate::scenario::phase_rows::phase_rows(&probe.phases);
        assert!(rows.iter().any(|r| r.name == "probe"));
    }

    fn result(sustained: f64) -> Capacity {
        let mut c = Capacity {
            probes: Vec::new(),
            sustained_rate: Some(sustained),
            target_peak: 350.0,
            headroom_percent: Some(headroom(sustained, 350.0)),
            generator_limit: None,
            p95_limit_us: Some(500_000),
            elapsed_s: 60.0,
            budget_s: 120.0,
            conclusion: String::new(),
            sustain: None,
            broker_type: None,
            stopped: false,
        };
        c.conclusion = conclusion(&c);
        c
    }

    fn limit(rate: Option<f64>, file: bool, partitions: f64) -> TypeLimit {
        TypeLimit {
            name: "express.m7g.large".into(),
            brokers: 3,
            file: file.then(|| "types.toml, as of 2026-01".into()),
            rate,
            bound_by: Some("ingress".into()),
            limit_mb_s: Some(15.625),
            bytes_in: Some(1024.0),
            bytes_out: Some(2048.0),
            partitions_per_broker: Some(partitions),
            partitions_recommended: Some(1000),
        }
    }

    #[test]
    fn a_broker_type_that_allows_less_than_was_measured_sets_the_headroom_and_the_status() {
        // Measured 400/s against a 350/s target: a pass, unless the type allows less.
        let tight = with_type_limit(result(400.0), limit(Some(300.0), true, 60.0));
        assert_eq!(tight.sustained_rate, Some(400.0));
        assert_eq!(tight.headroom_percent, Some(-14.3));
        assert_eq!(status(&tight), Status::Fail);
        assert!(
            tight.conclusion.ends_with(
                "headroom +14.3%; express.m7g.large x 3's published limits allow 300 events/s (ingress 15.625 MB/s a broker at 1024 payload bytes an event), under the rate measured: plan on 300 (headroom -14.3%) (limits from types.toml, as of 2026-01)"
            ),
            "{}",
            tight.conclusion
        );
        // Egress-bound: the bytes quoted are the groups' reads.
        let mut egress = limit(Some(300.0), true, 60.0);
        egress.bound_by = Some("egress".into());
        egress.limit_mb_s = Some(31.25);
        let egress = with_type_limit(result(400.0), egress);
        assert!(
            egress
                .conclusion
                .contains("(egress 31.25 MB/s a broker at 2048 payload bytes an event)"),
            "{}",
            egress.conclusion
        );
        let loose = with_type_limit(result(400.0), limit(Some(900.0), true, 60.0));
        assert_eq!(loose.headroom_percent, Some(14.3));
        assert_eq!(status(&loose), Status::Pass);
        assert!(loose.conclusion.contains("allow 900 events/s"));
        assert!(loose.conclusion.contains("above the rate measured"));
        // Over the partition recommendation: named, and the throughput still judges.
        let crowded = with_type_limit(result(400.0), limit(Some(900.0), true, 1500.0));
        assert!(
            crowded.conclusion.contains(
                "its 1,500 partitions a broker (replicas included) exceed express.m7g.large's recommended 1,000"
            ),
            "{}",
            crowded.conclusion
        );
        assert_eq!(status(&crowded), Status::Pass);
        // A type the file lacks is named as unchecked; nothing else changes.
        let unknown = with_type_limit(result(400.0), limit(None, false, 60.0));
        assert!(
            unknown
                .conclusion
                .contains("is not in the broker-type file")
        );
        assert_eq!(status(&unknown), Status::Pass);
        // No probe passed: the type's rate is no sustained rate.
        let mut none = result(400.0);
        none.sustained_rate = None;
        let none = with_type_limit(none, limit(Some(900.0), true, 60.0));
        assert_eq!((none.headroom_percent, status(&none)), (None, Status::Fail));
    }

    fn hold(rate: f64, status: Status, held_s: Option<f64>) -> crate::summary::Hold {
        crate::summary::Hold {
            rate,
            status,
            planned_s: 20.0,
            held_s,
            reasons: vec!["e2e.p95 < 500ms: 1.2s".into()],
        }
    }

    #[test]
    fn a_burst_gives_way_to_the_rate_that_held_in_the_headline_and_the_headroom() {
        let mut holding = sustain::Holding::new(20.0, 1.0);
        holding.record(hold(400.0, Status::Fail, Some(8.0)));
        holding.record(hold(300.0, Status::Pass, None));
        let c = with_sustain(result(400.0), holding.result());
        assert_eq!(c.sustained_rate, Some(300.0));
        assert_eq!(c.headroom_percent, Some(-14.3));
        assert_eq!(
            c.conclusion,
            "sustains 300 events/s held for 20s at e2e p95 < 500ms; target peak 350; headroom -14.3%; burst-bound: 400 events/s passed the short probes but not a 20s hold (it fell off after 8s)"
        );
        assert_eq!(status(&c), Status::Fail);
        // Held at once: no burst, the search's rate stands.
        let mut steady = sustain::Holding::new(20.0, 1.0);
        steady.record(hold(400.0, Status::Pass, None));
        let c = with_sustain(result(400.0), steady.result());
        assert!(
            c.conclusion
                .starts_with("sustains 400 events/s held for 20s"),
            "{}",
            c.conclusion
        );
        assert_eq!(status(&c), Status::Pass);
        // Nothing held: no sustained rate at all.
        let mut none = sustain::Holding::new(20.0, 1.0);
        none.record(hold(400.0, Status::Fail, Some(2.0)));
        let c = with_sustain(result(400.0), none.result());
        assert_eq!(c.sustained_rate, None);
        assert!(
            c.conclusion.starts_with("no rate held for 20s"),
            "{}",
            c.conclusion
        );
        // An error in the hold confirms nothing.
        let mut broken = sustain::Holding::new(20.0, 1.0);
        broken.record(hold(400.0, Status::Error, None));
        let c = with_sustain(result(400.0), broken.result());
        assert_eq!(status(&c), Status::Inconclusive);
        assert!(
            c.conclusion.contains("ended in an error"),
            "{}",
            c.conclusion
        );
    }

    #[test]
    fn an_error_ends_the_search() {
        let mut search = Search::new(100.0, 0.1, None);
        search.record(100.0, Status::Error);
        assert_eq!(search.next_rate(), None);
    }
}
