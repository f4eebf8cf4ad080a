//! The merged run judged: the verdict of a run of one process, then the merge's own reasons
//! not to trust it (workers missing or incomplete, clocks that cannot be compared).

use crate::kafka::clock::ClockOffset;
use crate::scenario::Scenario;
use crate::summary::{Status, Summary, Verdict, WorkerRow, WorkersSummary};

use super::read::{Worker, WorkerSet};
use super::saturating_sum;

/// How far apart the workers' clocks are, from each one's offset against the brokers'.
#[derive(Debug, Clone, Copy)]
struct ClockSkew {
    /// The largest difference between two workers' clock offsets.
    spread_us: u64,
    /// How much larger the true largest difference may be than `spread_us`.
    uncertainty_us: u64,
}

impl ClockSkew {
    /// `None` when a worker has no measurement.
    fn of(workers: &[Worker]) -> Option<ClockSkew> {
        let offsets: Vec<ClockOffset> = workers
            .iter()
            .map(|w| w.file.clock)
            .collect::<Option<_>>()?;
        (!offsets.is_empty()).then(|| ClockSkew::widest(&offsets))
    }

    /// The spread of the measured offsets, and how much wider the true one may be: any
    /// worker's highest bound against any one's lowest (a worker measured loosely can lie
    /// further out than the two measured extremes).
    fn widest(offsets: &[ClockOffset]) -> ClockSkew {
        let measured = offsets.iter().map(|o| o.offset_us);
        let spread_us = measured
            .clone()
            .max()
            .unwrap_or(0)
            .abs_diff(measured.min().unwrap_or(0));
        let bound = |o: &ClockOffset, sign: i128| {
            i128::from(o.offset_us) + sign * i128::from(o.uncertainty_us)
        };
        // The widest pair of two different workers: one's upper bound less another's lower.
        let worst = (0..offsets.len())
            .flat_map(|i| {
                (0..offsets.len())
                    .filter(move |&j| j != i)
                    .map(move |j| (i, j))
            })
            .map(|(i, j)| bound(&offsets[i], 1) - bound(&offsets[j], -1))
            .max()
            .map_or(0, |w| u64::try_from(w).unwrap_or(u64::MAX));
        ClockSkew {
            spread_us,
            uncertainty_us: worst.saturating_sub(spread_us),
        }
    }

    /// The largest skew the measurements allow.
    fn worst_us(&self) -> u64 {
        self.spread_us.saturating_add(self.uncertainty_us)
    }
}

/// Judges the merged summary and records the workers behind it.
pub(super) fn judge(
    summary: &mut Summary,
    scenario: &Scenario,
    set: &WorkerSet,
    max_skew_fraction: f64,
) {
    summary.verdict = crate::verdict::judge(summary, &scenario.slos, &scenario.limits);
    let skew = ClockSkew::of(&set.workers);
    let p50 = summary.latency.e2e_us.p50 as f64;
    let clocks = clock_reasons(&set.workers, skew, p50, max_skew_fraction);
    untrusted(&mut summary.verdict, incomplete_reasons(set), clocks);
    summary.workers = Some(WorkersSummary {
        count: set.count,
        index: None,
        rows: set.workers.iter().map(worker_row).collect(),
        missing: (set.missing.iter().cloned())
            .chain(set.dead.iter().map(|d| d.line()))
            .collect(),
        clock_skew_us: skew.map(|s| s.spread_us),
        clock_uncertainty_us: skew.map(|s| s.uncertainty_us),
        max_skew_fraction,
    });
}

/// Part of the log unaccounted for: nothing, loss included, can be judged.
fn incomplete_reasons(set: &WorkerSet) -> Vec<String> {
    let mut incomplete: Vec<String> = set
        .missing
        .iter()
        .map(|m| format!("a worker is missing: {m}"))
        .collect();
    incomplete.extend(set.dead.iter().map(|d| d.reason()));
    for worker in &set.workers {
        if !worker.file.complete {
            incomplete.push(format!(
                "worker {} ({}) did not run its share to the end: {}",
                worker.file.index,
                worker.dir.display(),
                worker.file.incomplete.as_deref().unwrap_or("incomplete")
            ));
        }
    }
    incomplete
}

/// Clocks that cannot be compared spoil the e2e latencies only, as a late generator does.
fn clock_reasons(
    workers: &[Worker],
    skew: Option<ClockSkew>,
    p50: f64,
    max_skew_fraction: f64,
) -> Vec<String> {
    match skew {
        None => workers
            .iter()
            .filter(|w| w.file.clock.is_none())
            .map(|worker| format!(
                "worker {} could not measure its clock against the brokers' ({}): its e2e latencies cannot be compared with the other workers'",
                worker.file.index,
                worker.file.clock_problem.as_deref().unwrap_or("not measured")
            ))
            .collect(),
        // The skew may be as large as measured plus its uncertainty: that is what is held to
        // the limit, so a skew the probes could not pin down is not trusted.
        Some(skew) if skew.worst_us() as f64 > max_skew_fraction * p50 => vec![format!(
            "the workers' clocks differ by up to {:.2} ms (±{:.2} ms), more than {:.0}% of the e2e p50 ({:.2} ms): end-to-end latency across hosts is not trustworthy; sync the hosts' clocks (chrony/NTP, Amazon Time Sync)",
            skew.spread_us as f64 / 1000.0,
            skew.uncertainty_us as f64 / 1000.0,
            max_skew_fraction * 100.0,
            p50 / 1000.0
        )],
        Some(_) => Vec::new(),
    }
}

/// Adds the merge's own reasons to the verdict: an incomplete run is inconclusive; clocks that
/// cannot be compared leave a failed integrity check failing, as the verdict does for a
/// generator that fell behind, and make anything else inconclusive.
fn untrusted(verdict: &mut Verdict, incomplete: Vec<String>, clocks: Vec<String>) {
    if verdict.status == Status::Error || (incomplete.is_empty() && clocks.is_empty()) {
        return;
    }
    if !incomplete.is_empty() || !verdict.integrity_failed() {
        verdict.status = Status::Inconclusive;
    }
    // Part of the log unaccounted for: its loss and order are not known.
    if !incomplete.is_empty() {
        verdict.integrity_judged = false;
    }
    verdict.reasons.extend(incomplete);
    verdict.reasons.extend(clocks);
}

fn worker_row(worker: &Worker) -> WorkerRow {
    let summary = &worker.run.summary;
    WorkerRow {
        index: worker.file.index,
        dir: worker.dir.display().to_string(),
        host: worker.file.host.clone(),
        instances: worker.file.instances,
        sent: summary.produced.sent,
        acked: summary.produced.acked,
        failed: summary.produced.failed,
        consumed: saturating_sum(worker.file.share.groups.iter().map(|g| g.consumed)),
        clock_offset_us: worker.file.clock.map(|c| c.offset_us),
        clock_uncertainty_us: worker.file.clock.map(|c| c.uncertainty_us),
        complete: worker.file.complete,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The fixture's verdict judged again, with `lost` events in its first group.
    fn verdict(lost: u64) -> Verdict {
        let root = env!("CARGO_MANIFEST_DIR");
        let text = std::fs::read_to_string(format!("{root}/tests/fixtures/smoke-run/summary.json"));
        let mut summary = Summary::from_json(&text.unwrap()).unwrap();
        summary.groups[0].lost = lost;
        let scenario = crate::scenario::load(
            Path::new(&format!("{root}/scenarios/smoke.toml")),
            &Default::default(),
        )
        .unwrap();
        crate::verdict::judge(&summary, &scenario.slos, &scenario.limits)
    }

    fn reason(text: &str) -> Vec<String> {
        vec![text.to_string()]
    }

    #[test]
    fn skewed_clocks_make_latency_inconclusive_but_loss_still_fails() {
        let mut clean = verdict(0);
        assert_eq!(clean.status, Status::Pass);
        untrusted(&mut clean, Vec::new(), reason("clocks differ"));
        assert_eq!(clean.status, Status::Inconclusive);

        let mut lossy = verdict(3);
        assert_eq!(lossy.status, Status::Fail);
        untrusted(&mut lossy, Vec::new(), reason("clocks differ"));
        assert_eq!(lossy.status, Status::Fail);
        assert_eq!(lossy.reasons, reason("clocks differ"));
        assert!(
            !lossy.timings_trusted(),
            "its latency checks are not judged"
        );
    }

    #[test]
    fn the_skew_allowed_for_is_the_widest_the_measurements_permit() {
        let offset = |offset_us, uncertainty_us| ClockOffset {
            offset_us,
            uncertainty_us,
        };
        // Measured extremes 0 and 300 us, each ±200; a third worker at 100 ±5,000 may be
        // 5,400 us from the second (its own two bounds are not a pair).
        let skew = ClockSkew::widest(&[offset(0, 200), offset(300, 200), offset(100, 5_000)]);
        assert_eq!(skew.spread_us, 300);
        assert_eq!(skew.worst_us(), 5_400);
        let tight = ClockSkew::widest(&[offset(-50, 100), offset(450, 150)]);
        assert_eq!((tight.spread_us, tight.worst_us()), (500, 750));
    }

    #[test]
    fn a_missing_worker_leaves_even_loss_unjudged() {
        let mut lossy = verdict(3);
        untrusted(&mut lossy, reason("a worker is missing: w2"), Vec::new());
        assert_eq!(lossy.status, Status::Inconclusive);
        let mut clean = verdict(0);
        untrusted(&mut clean, Vec::new(), Vec::new());
        assert_eq!((clean.status, clean.reasons.len()), (Status::Pass, 0));
    }
}
