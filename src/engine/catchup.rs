//! A paused group's catch-up, watched from the moment it resumes until its lag is back under
//! its limit, at the run loop's 20 ms resolution (the one-second timeline is too coarse: a
//! fast group drains a 15,000-event backlog in well under a second).

use std::sync::Arc;
use std::time::Duration;

use super::consumer::GroupShared;
use super::lock;
use super::producer::{InstanceShared, acked_by_topic};
use crate::summary::CatchupSummary;

/// Acked events on the group's topics, and distinct events it consumed.
fn counts(group: &GroupShared, instances: &[Arc<InstanceShared>]) -> (u64, u64) {
    let acked = group.acked_on_topics(&acked_by_topic(instances));
    (acked, lock(&group.state).checker.unique)
}

/// One group's catch-up after one pause.
pub struct CatchupWatch {
    pub group: usize,
    fault: String,
    paused: Duration,
    resumed: Duration,
    threshold: u64,
    /// Acked and consumed when the group resumed.
    at_resume: (u64, u64),
    /// When the lag was first at or under the threshold, with the counts then.
    caught_up: Option<(Duration, (u64, u64))>,
    /// The fault that paused the group again before it caught up.
    paused_again: Option<String>,
}

impl CatchupWatch {
    /// Starts watching `group`, which resumes now.
    pub fn resumed(
        group: usize,
        shared: &GroupShared,
        instances: &[Arc<InstanceShared>],
        fault: &str,
        paused: Duration,
        now: Duration,
        threshold: u64,
    ) -> CatchupWatch {
        let mut watch = CatchupWatch {
            group,
            fault: fault.to_string(),
            paused,
            resumed: now,
            threshold,
            at_resume: counts(shared, instances),
            caught_up: None,
            paused_again: None,
        };
        watch.check(shared, instances, now);
        watch
    }

    /// Ends the watch unmeasured when `fault` pauses the group before it caught up.
    pub fn paused_again(&mut self, fault: &str) {
        if self.caught_up.is_none() && self.paused_again.is_none() {
            self.paused_again = Some(fault.to_string());
        }
    }

    /// Notes the moment the lag is back at or under the threshold.
    pub fn check(
        &mut self,
        shared: &GroupShared,
        instances: &[Arc<InstanceShared>],
        now: Duration,
    ) {
        if self.caught_up.is_some() || self.paused_again.is_some() {
            return;
        }
        let (acked, unique) = counts(shared, instances);
        if acked.saturating_sub(unique) <= self.threshold {
            self.caught_up = Some((now, (acked, unique)));
        }
    }

    /// The figures: backlog at resume, time to the threshold, and the rates meanwhile.
    pub fn summary(&self) -> CatchupSummary {
        let (acked0, unique0) = self.at_resume;
        let backlog = acked0.saturating_sub(unique0);
        let mut summary = CatchupSummary {
            fault: self.fault.clone(),
            paused_s: self.paused.as_secs_f64(),
            resumed_s: self.resumed.as_secs_f64(),
            backlog,
            threshold: self.threshold,
            paused_again_by: self.paused_again.clone(),
            ..CatchupSummary::default()
        };
        if let Some((at, (acked, unique))) = self.caught_up {
            let took = at.saturating_sub(self.resumed).as_secs_f64();
            summary.catchup_time_s = Some(took);
            if took > 0.0 {
                let consumed = unique.saturating_sub(unique0) as f64 / took;
                let ingress = acked.saturating_sub(acked0) as f64 / took;
                summary.consume_rate = Some(consumed);
                summary.produce_rate = Some(ingress);
                summary.catchup_rate = Some(consumed - ingress);
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_the_counts_at_resume_and_at_the_threshold() {
        let watch = CatchupWatch {
            group: 0,
            fault: "down".into(),
            paused: Duration::from_secs(3),
            resumed: Duration::from_secs(8),
            threshold: 1_000,
            // 20,000 acked, 5,000 consumed: a backlog of 15,000.
            at_resume: (20_000, 5_000),
            // 2 s later: 26,000 acked, 25,500 consumed (lag 500).
            caught_up: Some((Duration::from_secs(10), (26_000, 25_500))),
            paused_again: None,
        };
        let summary = watch.summary();
        assert_eq!(summary.backlog, 15_000);
        assert_eq!(summary.catchup_time_s, Some(2.0));
        assert_eq!(summary.consume_rate, Some(10_250.0));
        assert_eq!(summary.produce_rate, Some(3_000.0));
        // Drained above ingress: (15,000 - 500) / 2 s.
        assert_eq!(summary.catchup_rate, Some(7_250.0));
        let never = CatchupWatch {
            caught_up: None,
            ..watch
        };
        let summary = never.summary();
        assert_eq!((summary.catchup_time_s, summary.catchup_rate), (None, None));
        assert_eq!(summary.paused_again_by, None);
        assert!(summary.had_backlog());
    }

    #[test]
    fn a_second_pause_before_the_catch_up_ends_the_first_unmeasured() {
        let mut watch = CatchupWatch {
            group: 0,
            fault: "first".into(),
            paused: Duration::from_secs(3),
            resumed: Duration::from_secs(8),
            threshold: 1_000,
            at_resume: (20_000, 5_000),
            caught_up: None,
            paused_again: None,
        };
        watch.paused_again("second");
        // A later pause does not rename it.
        watch.paused_again("third");
        let summary = watch.summary();
        assert_eq!(summary.paused_again_by.as_deref(), Some("second"));
        assert_eq!((summary.catchup_time_s, summary.catchup_rate), (None, None));
        assert_eq!(summary.backlog, 15_000);
        // One that had caught up keeps its figures.
        let mut done = CatchupWatch {
            caught_up: Some((Duration::from_secs(10), (26_000, 25_500))),
            paused_again: None,
            ..watch
        };
        done.paused_again("second");
        let summary = done.summary();
        assert_eq!(summary.paused_again_by, None);
        assert_eq!(summary.catchup_time_s, Some(2.0));
    }

    #[test]
    fn a_resume_under_the_threshold_has_no_backlog_to_drain() {
        let watch = CatchupWatch {
            group: 0,
            fault: "blip".into(),
            paused: Duration::from_secs(3),
            resumed: Duration::from_secs(4),
            threshold: 10_000,
            at_resume: (8_000, 5_000),
            caught_up: Some((Duration::from_secs(4), (8_000, 5_000))),
            paused_again: None,
        };
        let summary = watch.summary();
        assert_eq!(summary.catchup_time_s, Some(0.0));
        assert_eq!(summary.catchup_rate, None);
        assert!(!summary.had_backlog());
    }
}
