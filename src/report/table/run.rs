//! The run's own tables: the producers, the capacity probes, the faults and the workers.

use super::Table;
use crate::format::{format_number, micros, thousands};
use crate::summary::Summary;

/// Producer-side figures.
pub fn producer_table(summary: &Summary) -> Table {
    let p = &summary.produced;
    let l = &summary.latency;
    let mut table = Table::new(&["producer", "value"]);
    table.row(vec![
        "sent / acked / failed (whole run, warmup included)".into(),
        format!(
            "{} / {} / {}",
            thousands(p.sent),
            thousands(p.acked),
            thousands(p.failed)
        ),
    ]);
    // A summary written before bytes were counted has none for its acked events.
    if p.acked_bytes > 0 || p.acked == 0 {
        table.row(vec![
            "payload acked (whole run) / acked MB/s (measured phases)".into(),
            format!(
                "{} MB / {} MB/s",
                super::mb_per_s(p.acked_bytes as f64 / crate::summary::MB),
                super::mb_per_s(p.acked_mb_per_s)
            ),
        ]);
    }
    if p.not_sent > 0 {
        table.row(vec!["planned but not sent".into(), thousands(p.not_sent)]);
    }
    table.row(vec![
        "target rate (measured phases, warmup excluded)".into(),
        format!("{}/s", thousands(p.target_rate.round() as u64)),
    ]);
    table.row(vec![
        "achieved rate (measured phases)".into(),
        format!(
            "{}/s ({:.1}%)",
            thousands(p.achieved_rate.round() as u64),
            p.achieved_ratio * 100.0
        ),
    ]);
    let stats = |s: &crate::metrics::LatencyStats| {
        format!(
            "p50 {}  p95 {}  p99 {}  max {}",
            micros(s.p50, s.count),
            micros(s.p95, s.count),
            micros(s.p99, s.count),
            micros(s.max, s.count)
        )
    };
    table.row(vec!["publish latency".into(), stats(&l.publish_us)]);
    table.row(vec!["schedule lag".into(), stats(&l.schedule_lag_us)]);
    let which = if summary.groups.iter().any(|g| g.set_aside) {
        "e2e latency, groups consuming throughout"
    } else {
        "e2e latency, all groups"
    };
    table.row(vec![which.into(), stats(&l.e2e_us)]);
    table
}

/// One row per capacity probe, when the run was a capacity search.
pub fn capacity_table(summary: &Summary) -> Option<Table> {
    let capacity = summary.capacity.as_ref()?;
    let mut table = Table::new(&[
        "offered/s",
        "result",
        "achieved/s",
        "e2e p95",
        "e2e p99",
        "max lag",
        "why",
    ]);
    for probe in &capacity.probes {
        table.row(vec![
            thousands(probe.offered_rate as u64),
            probe.status.as_str().into(),
            thousands(probe.achieved_rate as u64),
            micros(probe.e2e_p95_us, 1),
            micros(probe.e2e_p99_us, 1),
            thousands(probe.max_lag),
            probe.reasons.first().cloned().unwrap_or_default(),
        ]);
    }
    // `--sustain`: each rate held for the whole time.
    for hold in capacity.sustain.iter().flat_map(|s| &s.holds) {
        let planned = crate::scenario::units::format_duration(std::time::Duration::from_secs(
            hold.planned_s.clamp(0.0, 1e9) as u64,
        ));
        let what = match hold.held_s {
            Some(s) => format!("hold of {planned}: fell off after {}", format_number(s)) + "s",
            None if hold.status == crate::summary::Status::Pass => format!("held for {planned}"),
            None => format!("hold of {planned}"),
        };
        let why = hold
            .reasons
            .first()
            .map_or(what.clone(), |r| format!("{what}; {r}"));
        table.row(vec![
            thousands(hold.rate as u64),
            hold.status.as_str().into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            why,
        ]);
    }
    Some(table)
}

/// How to read the fault table; every report prints it under the table.
pub const FAULT_TABLE_NOTE: &str = "Failed and lost count events intended in the fault's window; duplicates, disorder and latency are counted from its start until the groups recovered. Recovery: seconds from the fault's end (its start, for a fault that is not undone) until every group's e2e p95 and lag are back under their limits.";

/// One row per fault: its window, what it cost, and how long the groups took to recover.
pub fn fault_table(summary: &Summary) -> Option<Table> {
    if summary.faults.is_empty() {
        return None;
    }
    let mut table = Table::new(&[
        "fault",
        "what",
        "window",
        "failed",
        "lost",
        "dup",
        "out of order",
        "publish p99",
        "e2e p99",
        "recovery",
    ]);
    let latency = |v: Option<u64>| v.map_or("-".to_string(), |v| micros(v, 1));
    for f in &summary.faults {
        table.row(vec![
            f.name.clone(),
            f.description.clone(),
            if f.applied {
                format!("{:.1}-{:.1} s", f.start_s, f.end_s)
            } else {
                "not applied".into()
            },
            thousands(f.failed),
            thousands(f.lost),
            thousands(f.duplicates),
            thousands(f.out_of_order),
            latency(f.publish_p99_us),
            latency(f.e2e_p99_us),
            match f.recovery_s {
                Some(s) => format!("{s:.0} s"),
                None if summary.groups.is_empty() => "no group".into(),
                None => "not recovered".into(),
            },
        ]);
    }
    Some(table)
}

/// A merged distributed run: one row per worker.
pub fn worker_table(summary: &Summary) -> Option<Table> {
    let workers = summary.workers.as_ref().filter(|w| w.index.is_none())?;
    let mut table = Table::new(&[
        "worker",
        "host",
        "instances",
        "sent",
        "acked",
        "failed",
        "consumed",
        "clock offset",
        "result",
    ]);
    for row in &workers.rows {
        table.row(vec![
            row.index.to_string(),
            row.host.clone(),
            row.instances.to_string(),
            thousands(row.sent),
            thousands(row.acked),
            thousands(row.failed),
            thousands(row.consumed),
            clock_offset(row.clock_offset_us, row.clock_uncertainty_us),
            if row.complete {
                "complete"
            } else {
                "incomplete"
            }
            .into(),
        ]);
    }
    for missing in &workers.missing {
        table.row(vec![
            "-".into(),
            missing.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "missing".into(),
        ]);
    }
    Some(table)
}

/// A worker's clock against the brokers', with how far it may be off when known.
fn clock_offset(offset_us: Option<i64>, uncertainty_us: Option<u64>) -> String {
    match (offset_us, uncertainty_us) {
        (None, _) => "not measured".into(),
        (Some(us), None) => format!("{:+.2} ms", us as f64 / 1000.0),
        (Some(us), Some(within)) => format!(
            "{:+.2} ms ±{:.2}",
            us as f64 / 1000.0,
            within as f64 / 1000.0
        ),
    }
}
