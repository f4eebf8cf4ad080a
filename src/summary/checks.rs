//! What a `summary.json` read back must hold before any report prints or draws it: times
//! within the run, and figures a run can have had.

use super::{LONGEST_RUN, Summary};

impl Summary {
    /// The run's length and every timeline point's time are seconds a run can have lasted,
    /// and each point holds figures a second can have: the reports draw their axes from them.
    pub(super) fn check_times(&self) -> Result<(), String> {
        let longest = LONGEST_RUN.as_secs_f64();
        let run_time = self.startup.run_time_s;
        if !(0.0..=longest).contains(&run_time) {
            return Err(format!(
                "`startup.run_time_s` is {run_time}: not the length of a run (0 to {longest} s)"
            ));
        }
        // Phases are planned: they may end after a run that was stopped early, not after
        // the longest plan.
        for (i, phase) in self.phases.iter().enumerate() {
            let within = |t: f64| (0.0..=longest).contains(&t);
            if !within(phase.start_s)
                || !within(phase.end_s)
                || phase.start_s > phase.end_s
                || !(0.0..=1e12).contains(&phase.target_rate)
            {
                return Err(format!(
                    "`phases[{i}]` runs from {} s to {} s at {}/s: not a phase of a plan",
                    phase.start_s, phase.end_s, phase.target_rate
                ));
            }
        }
        self.check_phases_and_trust(run_time)?;
        self.check_brokers(run_time)?;
        // One point a second: more would only be drawn, at any cost.
        if self.timeline.len() as f64 > run_time + 60.0 {
            return Err(format!(
                "`timeline` has {} points, more than one a second of this {run_time} s run",
                self.timeline.len()
            ));
        }
        for (i, point) in self.timeline.iter().enumerate() {
            if !(0.0..=run_time + 60.0).contains(&point.t) {
                return Err(format!(
                    "`timeline[{i}].t` is {}: not a second of this {run_time} s run",
                    point.t
                ));
            }
            if let Some(field) = point.implausible() {
                return Err(format!(
                    "`timeline[{i}]` has {field} that no second of a run can have"
                ));
            }
        }
        Ok(())
    }

    /// Per-phase figures and trust limits are numbers a run can have: finite, not negative,
    /// and seconds within the run (the reports print and draw them).
    fn check_phases_and_trust(&self, run_time: f64) -> Result<(), String> {
        let plausible = |v: f64| v.is_finite() && (0.0..=1e12).contains(&v);
        for (i, p) in self.by_phase.iter().enumerate() {
            let figures = [
                p.start_s,
                p.end_s,
                p.offered_rate,
                p.offered_peak_rate,
                p.offered_mb_per_s,
                p.achieved_rate,
                p.achieved_ratio,
                p.produced_mb_per_s,
                p.acked_mb_per_s,
                p.consumed_mb_per_s,
            ];
            let groups_plausible = p.groups.iter().all(|g| plausible(g.consumed_mb_per_s));
            if !figures.into_iter().all(plausible)
                || !groups_plausible
                || !(0.0..=run_time + 60.0).contains(&p.seconds)
                || p.achieved_ratio > 1.0
            {
                return Err(format!(
                    "`by_phase[{i}]` holds figures no phase of this {run_time} s run can have"
                ));
            }
        }
        if let Some(i) = self
            .verdict
            .trust
            .iter()
            .position(|t| !(t.limit.is_finite() && t.limit.abs() <= 1e12))
        {
            return Err(format!(
                "`verdict.trust[{i}].limit` is not a limit a check can have"
            ));
        }
        Ok(())
    }

    /// The broker view holds what a run's clients can have reported: a broker once, seconds
    /// of this run, one entry per fault of the run (every report lists them).
    fn check_brokers(&self, run_time: f64) -> Result<(), String> {
        if self.brokers.len() > MAX_BROKERS {
            return Err(format!(
                "`brokers` lists {} brokers, more than the {MAX_BROKERS} a cluster can have here",
                self.brokers.len()
            ));
        }
        let mut nodes: Vec<i32> = self.brokers.iter().map(|b| b.node).collect();
        nodes.sort_unstable();
        if nodes.windows(2).any(|w| w[0] == w[1]) {
            return Err("`brokers` lists a node id twice".into());
        }
        for (i, broker) in self.brokers.iter().enumerate() {
            if broker.faults.len() > self.faults.len() {
                return Err(format!(
                    "`brokers[{i}].faults` has {} entries for a run of {} faults",
                    broker.faults.len(),
                    self.faults.len()
                ));
            }
            if broker.seconds.len() as f64 > run_time + 60.0
                || broker
                    .seconds
                    .iter()
                    .any(|s| !(0.0..=run_time + 60.0).contains(&s.t))
            {
                return Err(format!(
                    "`brokers[{i}].seconds` holds seconds that are not this {run_time} s run's"
                ));
            }
        }
        Ok(())
    }
}

/// Brokers a summary may list: far more than any cluster surge measures.
const MAX_BROKERS: usize = 10_000;
