//! The runs' rebalances side by side: per group, its protocol in each run, and each rebalance
//! (matched by its place in the run: the same scenario scales the same way) with what it cost.

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
        let most = of_run
            .iter()
            .map(|g| g.map_or(0, |g| g.rebalances.len()))
            .max()
            .unwrap_or(0);
        if most == 0 {
            continue;
        }
        let mut push = |label: String, cell: &dyn Fn(&GroupSummary) -> String| {
            let mut row = vec![label];
            row.extend(of_run.iter().map(|g| g.map_or("-".into(), cell)));
            table.rows.push(row);
        };
        push(format!("{group}: protocol"), &|g| g.protocol.clone());
        push(format!("{group}: all rebalances"), &|g| {
            totals(&g.rebalances)
        });
        for k in 0..most {
            let trigger = of_run
                .iter()
                .find_map(|g| g.and_then(|g| g.rebalances.get(k)))
                .map_or(String::new(), |r| r.trigger.clone());
            push(format!("{group} #{}: {trigger}", k + 1), &|g| {
                g.rebalances.get(k).map_or("-".into(), cost)
            });
        }
    }
    (!table.rows.is_empty()).then_some(table)
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
