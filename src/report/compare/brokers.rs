//! Each run held against its broker type's published per-broker limits
//! ([`crate::broker_types`]): ingress, egress and partitions per broker, the brokers those
//! limits call for, and a line for every limit a run passes.

use super::name;
use crate::broker_types::{BrokerType, BrokerTypes, Held, Measured};
use crate::format::{format_number, thousands};
use crate::report::RunData;
use crate::report::table::Table;
use crate::sizing;
use crate::summary::Summary;

/// The broker types, and the type and count for runs whose label names neither.
pub struct Sizing<'a> {
    pub types: &'a BrokerTypes,
    pub broker_type: Option<&'a str>,
    pub brokers: Option<u32>,
}

/// A run's type and broker count: its label's, else the flags', else the cluster's count.
fn option<'a>(
    summary: &Summary,
    sizing: &'a Sizing<'a>,
) -> (Option<&'a BrokerType>, Option<String>, u32) {
    let label = summary.label.as_ref();
    // As a report shows it: one line, no table or code marks, at most 60 characters.
    let asked = (label.and_then(|l| l.instance_type.clone()))
        .or(sizing.broker_type.map(String::from))
        .map(|name| {
            let plain = name.replace(['|', '`', '\n', '\r', '*', '<', '>'], " ");
            crate::input::quote(plain.trim(), 60)
        });
    let brokers = label
        .and_then(|l| l.brokers)
        .or(sizing.brokers)
        .unwrap_or(summary.cluster.brokers.min(u32::MAX as usize) as u32)
        .max(1);
    let found = asked.as_deref().and_then(|name| sizing.types.get(name));
    (found, asked, brokers)
}

/// A figure of `what`: partitions whole and grouped, MB/s as measured.
fn figure(what: &str, value: f64) -> String {
    if what == "partitions" {
        thousands(value.round().clamp(0.0, u64::MAX as f64) as u64)
    } else {
        format_number(value)
    }
}

fn cell(held: Option<&Held>, unit: &str) -> String {
    held.map_or("-".into(), |h| {
        format!(
            "{} of {}{unit} ({:.0}%){}",
            figure(h.what, h.measured),
            figure(h.what, h.limit),
            h.percent(),
            if h.over() { " OVER" } else { "" }
        )
    })
}

/// One column per run; `None` when no run names a broker type.
pub fn broker_type_table(runs: &[RunData], sizing: &Sizing, headroom: f64) -> Option<Table> {
    let options: Vec<_> = runs.iter().map(|r| option(&r.summary, sizing)).collect();
    if options.iter().all(|(found, _, _)| found.is_none()) {
        return None;
    }
    let mut header = vec!["per broker".to_string()];
    header.extend(runs.iter().enumerate().map(|(i, r)| name(&r.summary, i)));
    let mut table = Table {
        header,
        rows: Vec::new(),
    };
    let held: Vec<Vec<Held>> = (runs.iter().zip(&options))
        .map(|(run, (found, _, brokers))| {
            found.map_or_else(Vec::new, |t| t.hold(&Measured::of(&run.summary, *brokers)))
        })
        .collect();
    let mut row = |label: &str, cells: Vec<String>| {
        table
            .rows
            .push(std::iter::once(label.to_string()).chain(cells).collect());
    };
    row(
        "broker type x brokers",
        options
            .iter()
            .map(|(found, asked, brokers)| match (found, asked) {
                (Some(t), _) => format!("{} x {brokers}", t.name),
                (None, Some(asked)) => format!("{asked} (not in the file)"),
                (None, None) => "-".into(),
            })
            .collect(),
    );
    for (what, label, unit) in [
        (
            "ingress",
            "ingress at the peak (recommended limit)",
            " MB/s",
        ),
        ("egress", "egress at the peak (recommended limit)", " MB/s"),
        (
            "partitions",
            "partitions, replicas included (recommended)",
            "",
        ),
    ] {
        row(
            label,
            held.iter()
                .map(|h| cell(h.iter().find(|h| h.what == what), unit))
                .collect(),
        );
    }
    row(
        &format!(
            "brokers its limits call for at the peak +{}%",
            format_number(headroom * 100.0)
        ),
        (runs.iter().zip(&options))
            .map(|(run, (found, _, brokers))| {
                found.map_or("-".into(), |t| tighter(&run.summary, t, *brokers, headroom))
            })
            .collect(),
    );
    Some(table)
}

/// The brokers the type's limits call for at the run's peak (scaled to a capacity search's
/// target peak), and the tighter of that and the measured capacity's estimate.
fn tighter(summary: &Summary, broker_type: &BrokerType, brokers: u32, headroom: f64) -> String {
    let mut m = Measured::of(summary, brokers);
    let capacity = summary.capacity.as_ref();
    if let (Some(c), Some(peak)) = (capacity, summary.peak())
        && peak.achieved_rate > 0.0
        && c.target_peak > 0.0
    {
        let scale = c.target_peak / peak.achieved_rate;
        m.ingress_mb_s *= scale;
        m.egress_mb_s *= scale;
    }
    let by_limits = broker_type.brokers_for(&m, headroom);
    let by_capacity = capacity
        .and_then(|c| sizing::brokers_needed(brokers, c.sustained_rate?, c.target_peak, headroom));
    match by_capacity {
        Some(measured) if measured > by_limits => {
            format!("{measured} (the measured capacity; the limits: {by_limits})")
        }
        Some(measured) => format!("{by_limits} (the limits; the measured capacity: {measured})"),
        None => by_limits.to_string(),
    }
}

/// A line for each limit a run's peak passed, and for each run whose type the file lacks.
pub fn broker_type_lines(runs: &[RunData], sizing: &Sizing) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let (found, asked, brokers) = option(&run.summary, sizing);
        let who = name(&run.summary, i);
        let Some(t) = found else {
            if let Some(asked) = asked {
                lines.push(format!(
                    "{who}: broker type `{asked}` is not in {}; its limits are not checked",
                    sizing.types.file
                ));
            }
            continue;
        };
        for held in t
            .hold(&Measured::of(&run.summary, brokers))
            .iter()
            .filter(|h| h.over())
        {
            let what = match held.what {
                "partitions" => "partitions per broker (replicas included)".to_string(),
                other => format!("{other} per broker at the peak, MB/s"),
            };
            lines.push(format!(
                "{who}: {what} {} exceed {}'s recommended {} ({:.0}%)",
                figure(held.what, held.measured),
                t.name,
                figure(held.what, held.limit),
                held.percent()
            ));
        }
    }
    if !lines.is_empty() || runs.iter().any(|r| option(&r.summary, sizing).0.is_some()) {
        lines.push(format!(
            "Limits from {} (as of {}): {}.",
            sizing.types.file, sizing.types.as_of, sizing.types.source
        ));
    }
    lines
}
