//! The runs' rebalances side by side: per group, its protocol in each run, and each rebalance
//! (matched by its place in the run: the same scenario scales the same way) with what it cost.

use std::collections::HashMap;

use super::name;
use crate::format::thousands;
use crate::report::RunData;
use crate::report::table::Table;
use crate::summary::{GroupSummary, RebalanceSummary};

/// One table for every group that rebalanced in any run; `None` when none did.
pub fn rebalance_table(runs: &[RunData]) -> Option<Table> {
    let mut header = vec!["group, rebalance".to_string()];
    header.extend(runs.iter().enumerate().map(|(i, r)| name(&r.summary, i)));
    let mut table = Table {
        header,
        rows: Vec::new(),
    };
    let names: Vec<&str> = runs[0]
        .summary
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    for group in names {
        let of_run: Vec<Option<&GroupSummary>> = runs
            .iter()
            .map(|r| r.summary.groups.iter().find(|g| g.name == group))
            .collect();
        let keys = row_keys(&of_run);
        if keys.is_empty() {
            continue;
        }
        let mut push = |label: String, cell: &dyn Fn(&GroupSummary) -> String| {
            let mut row = vec![label];
            row.extend(of_run.iter().map(|g| g.map_or("-".into(), cell)));
            table.rows.push(row);
        };
        push(format!("{group}: protocol"), &|g| {
            g.protocol
                .as_ref()
                .map_or("-".into(), |p| p.description.clone())
        });
        push(format!("{group}: all rebalances"), &|g| {
            totals(&g.rebalances)
        });
        for key in &keys {
            let label = match &key.fault {
                Some(fault) => format!("{group}: {} ({fault})", key.trigger),
                None => format!("{group}: {} #{}", key.trigger, key.occurrence + 1),
            };
            push(label, &|g| {
                find(&g.rebalances, key).map_or("-".into(), cost)
            });
        }
    }
    (!table.rows.is_empty()).then_some(table)
}

/// What names a rebalance across runs of one scenario: its fault and trigger ("member 3
/// joined" of `scale-out`), and which of the rows alike it is (rows surge did not start all
/// share one name).
#[derive(Debug, Clone, PartialEq)]
struct RowKey {
    fault: Option<String>,
    trigger: String,
    occurrence: usize,
}

/// Every row's key, in order.
fn keys_of(rows: &[RebalanceSummary]) -> Vec<RowKey> {
    let mut seen: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    rows.iter()
        .map(|row| {
            let occurrence = seen
                .entry((row.fault.as_deref(), row.trigger.as_str()))
                .or_default();
            let key = RowKey {
                fault: row.fault.clone(),
                trigger: row.trigger.clone(),
                occurrence: *occurrence,
            };
            *occurrence += 1;
            key
        })
        .collect()
}

/// Every run's row keys, in the order the runs first show them.
fn row_keys(of_run: &[Option<&GroupSummary>]) -> Vec<RowKey> {
    let mut keys: Vec<RowKey> = Vec::new();
    for g in of_run.iter().flatten() {
        for key in keys_of(&g.rebalances) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

fn find<'a>(rows: &'a [RebalanceSummary], key: &RowKey) -> Option<&'a RebalanceSummary> {
    let index = keys_of(rows).iter().position(|k| k == key)?;
    rows.get(index)
}

/// Unowned partition-seconds, the longest single gap and redeliveries of one rebalance.
fn cost(r: &RebalanceSummary) -> String {
    format!(
        "{:.2} partition-s, longest {:.2} s, {} redelivered",
        r.unowned_partition_s,
        r.unowned_max_s,
        thousands(r.redelivered)
    )
}

/// The same, summed (longest: the longest of any) over a group's rebalances.
fn totals(rows: &[RebalanceSummary]) -> String {
    let partition_s: f64 = rows.iter().map(|r| r.unowned_partition_s).sum();
    let longest = rows.iter().map(|r| r.unowned_max_s).fold(0.0, f64::max);
    let redelivered: u64 = rows.iter().map(|r| r.redelivered).sum();
    format!(
        "{} rebalances: {partition_s:.2} partition-s, longest {longest:.2} s, {} redelivered",
        rows.len(),
        thousands(redelivered)
    )
}
