//! The side-by-side table: each SLO check and headline figure per run, with differences
//! against the first run, and cost and broker estimates where the runs carry them.

use super::{name, plan_differences};
use crate::format::{format_number, micros, per_second, usd};
use crate::report::RunData;
use crate::report::table::Table;
use crate::sizing;
use crate::summary::Summary;

/// The mark on rows that compare runs whose offered plans differ.
pub const PLAN_MARK: &str = " †";

/// Picks one latency, in microseconds, from a summary.
type Pick = fn(&Summary) -> u64;
/// Picks one latency of a phase, in microseconds, with the count it was measured on.
type PhasePick = fn(&crate::summary::PhaseFigures) -> (u64, u64);

/// One row of numbers, one value per run.
struct Row {
    name: String,
    values: Vec<Option<f64>>,
    format: fn(f64) -> String,
    /// Whether a percentage against the first run means something.
    relative: bool,
}

impl Row {
    /// The values as text, each after the first with its change against the first run.
    fn cells(&self) -> Vec<String> {
        let first = self.values[0];
        self.values
            .iter()
            .enumerate()
            .map(|(i, value)| match (value, first) {
                (None, _) => "-".to_string(),
                (Some(v), Some(base)) if i > 0 && self.relative && base != 0.0 => {
                    format!("{} ({:+.1}%)", (self.format)(*v), (v - base) / base * 100.0)
                }
                (Some(v), _) => (self.format)(*v),
            })
            .collect()
    }
}

fn latency(us: f64) -> String {
    micros(us as u64, 1)
}

/// Each run's value of `figure`.
fn each(runs: &[RunData], figure: &dyn Fn(&Summary) -> Option<f64>) -> Vec<Option<f64>> {
    runs.iter().map(|r| figure(&r.summary)).collect()
}

/// The rate a run sustained: its capacity result, else what it achieved.
fn sustained(summary: &Summary) -> f64 {
    summary
        .capacity
        .as_ref()
        .and_then(|c| c.sustained_rate)
        .unwrap_or(summary.produced.achieved_rate)
}

/// The figures every run has: rate, latencies, lag and loss; then those only some runs have.
fn rows(runs: &[RunData], headroom: f64) -> Vec<Row> {
    let latencies: [(&str, Pick); 5] = [
        ("e2e p50", |s| s.latency.e2e_us.p50),
        ("e2e p95", |s| s.latency.e2e_us.p95),
        ("e2e p99", |s| s.latency.e2e_us.p99),
        ("e2e max", |s| s.latency.e2e_us.max),
        ("publish p99", |s| s.latency.publish_us.p99),
    ];
    let mut rows = vec![Row {
        name: "achieved rate".into(),
        values: each(runs, &|s| Some(s.produced.achieved_rate)),
        format: per_second,
        relative: true,
    }];
    for (name, pick) in latencies {
        rows.push(Row {
            name: name.into(),
            values: each(runs, &|s| Some(pick(s) as f64)),
            format: latency,
            relative: true,
        });
    }
    rows.push(Row {
        name: "max consumer lag".into(),
        values: each(runs, &|s| {
            s.groups.iter().map(|g| g.max_lag as f64).reduce(f64::max)
        }),
        format: format_number,
        relative: true,
    });
    rows.push(Row {
        name: "lost".into(),
        values: each(runs, &|s| Some(s.total(|g| g.lost) as f64)),
        format: format_number,
        relative: false,
    });
    rows.extend(throughput_and_peak_rows(runs));
    rows.extend(capacity_rows(runs));
    rows.extend(cost_rows(runs));
    rows.extend(broker_rows(runs, headroom));
    rows
}

/// Acked MB/s, and the peak phase's own rate and latencies: a sizing option is chosen for the
/// peak, which the run-wide figures average with the calm around it. Only for runs that
/// recorded them (summaries written before bytes and phases were counted have neither).
fn throughput_and_peak_rows(runs: &[RunData]) -> Vec<Row> {
    let mut rows = Vec::new();
    if runs.iter().any(|r| r.summary.produced.acked_bytes > 0) {
        rows.push(Row {
            name: "acked MB/s (measured phases)".into(),
            values: each(runs, &|s| {
                (s.produced.acked_bytes > 0).then_some(s.produced.acked_mb_per_s)
            }),
            format: crate::report::table::mb_per_s,
            relative: true,
        });
    }
    if !runs.iter().any(|r| r.summary.peak().is_some()) {
        return rows;
    }
    let peak = |s: &Summary| s.peak().filter(|p| p.seconds > 0.0).cloned();
    rows.push(Row {
        name: "peak phase: achieved rate".into(),
        values: each(runs, &|s| peak(s).map(|p| p.achieved_rate)),
        format: per_second,
        relative: true,
    });
    let latencies: [(&str, PhasePick); 3] = [
        ("peak phase: e2e p95", |p| (p.e2e_us.p95, p.e2e_us.count)),
        ("peak phase: e2e p99", |p| (p.e2e_us.p99, p.e2e_us.count)),
        ("peak phase: publish p99", |p| {
            (p.publish_us.p99, p.publish_us.count)
        }),
    ];
    for (name, pick) in latencies {
        rows.push(Row {
            name: name.into(),
            values: each(runs, &|s| {
                peak(s)
                    .map(|p| pick(&p))
                    .filter(|(_, count)| *count > 0)
                    .map(|(value, _)| value as f64)
            }),
            format: latency,
            relative: true,
        });
    }
    rows
}

/// The sustained rate and headroom, when a run is a capacity search.
fn capacity_rows(runs: &[RunData]) -> Vec<Row> {
    if !runs.iter().any(|r| r.summary.capacity.is_some()) {
        return Vec::new();
    }
    vec![
        Row {
            name: "sustained rate (capacity)".into(),
            values: each(runs, &|s| {
                s.capacity.as_ref().and_then(|c| c.sustained_rate)
            }),
            format: per_second,
            relative: true,
        },
        Row {
            name: "headroom over the peak, %".into(),
            values: each(runs, &|s| {
                s.capacity.as_ref().and_then(|c| c.headroom_percent)
            }),
            format: format_number,
            relative: false,
        },
    ]
}

/// The monthly cost and the cost per sustained rate, when a run's label has a cost.
fn cost_rows(runs: &[RunData]) -> Vec<Row> {
    let costed = runs.iter().any(|r| {
        r.summary
            .label
            .as_ref()
            .is_some_and(|l| l.monthly_cost_usd.is_some())
    });
    if !costed {
        return Vec::new();
    }
    vec![
        Row {
            name: "monthly cost".into(),
            values: each(runs, &|s| s.label.as_ref().and_then(|l| l.monthly_cost_usd)),
            format: usd,
            relative: true,
        },
        Row {
            name: "cost per 1,000 sustained events/s per month".into(),
            values: each(runs, &|s| {
                s.label
                    .as_ref()
                    .and_then(|l| l.monthly_cost_usd)
                    .and_then(|c| sizing::cost_per_thousand(c, sustained(s)))
            }),
            format: usd,
            relative: true,
        },
    ]
}

/// The brokers a capacity search's cluster would need for its peak plus `headroom`.
fn broker_rows(runs: &[RunData], headroom: f64) -> Vec<Row> {
    let sized = runs.iter().any(|r| {
        r.summary.capacity.is_some()
            && r.summary
                .label
                .as_ref()
                .is_some_and(|l| l.brokers.is_some())
    });
    if !sized {
        return Vec::new();
    }
    vec![Row {
        name: format!(
            "brokers for the peak +{}% (estimate)",
            format_number(headroom * 100.0)
        ),
        values: each(runs, &|s| {
            let capacity = s.capacity.as_ref()?;
            sizing::brokers_needed(
                s.label.as_ref()?.brokers?,
                capacity.sustained_rate?,
                capacity.target_peak,
                headroom,
            )
            .map(f64::from)
        }),
        format: format_number,
        relative: false,
    }]
}

/// The side-by-side table: text cells with differences against the first run. Rows that the
/// runs' different plans affect carry [`PLAN_MARK`].
pub fn table(runs: &[RunData], headroom: f64) -> Table {
    let differences = plan_differences(runs);
    let slos_differ = !differences.is_empty();
    let load_differs = differences.iter().any(|(_, load)| *load);
    let mark = |affected: bool| if affected { PLAN_MARK } else { "" };
    let mut header = vec!["".to_string()];
    header.extend(runs.iter().enumerate().map(|(i, r)| name(&r.summary, i)));
    let mut table = Table {
        header,
        rows: Vec::new(),
    };
    let text =
        |f: &dyn Fn(&Summary) -> String| runs.iter().map(|r| f(&r.summary)).collect::<Vec<_>>();
    let mut push = |label: &str, cells: Vec<String>| {
        let mut row = vec![label.to_string()];
        row.extend(cells);
        table.rows.push(row);
    };
    push(
        "verdict",
        text(&|s| s.verdict.status.as_str().to_uppercase()),
    );
    push(
        "instance type x brokers",
        text(&|s| {
            s.label.as_ref().map_or("-".into(), |l| {
                format!(
                    "{} x {}",
                    l.instance_type.as_deref().unwrap_or("?"),
                    l.brokers.map_or("?".into(), |b| b.to_string())
                )
            })
        }),
    );
    // Checks are matched by metric, so runs judged against different limits line up.
    let checks: Vec<(String, String)> = runs[0]
        .summary
        .verdict
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.metric_name()))
        .collect();
    for (check, metric) in checks {
        push(
            &format!("{check}{}", mark(slos_differ)),
            text(&|s| check_cell(s, &check, &metric)),
        );
    }
    for row in rows(runs, headroom) {
        push(&format!("{}{}", row.name, mark(load_differs)), row.cells());
    }
    table
}

/// A run's result on the first run's check `check`, found by its metric; its own limit is
/// named when it differs.
fn check_cell(summary: &Summary, check: &str, metric: &str) -> String {
    summary
        .verdict
        .checks
        .iter()
        .find(|c| c.metric_name() == metric)
        .map_or("-".into(), |c| {
            let limit = if c.name == check {
                String::new()
            } else {
                format!(" (limit {})", c.limit_text)
            };
            format!(
                "{} {}{limit}",
                c.actual_text,
                if c.passed { "pass" } else { "FAIL" }
            )
        })
}
