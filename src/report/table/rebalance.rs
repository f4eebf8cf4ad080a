//! The consumer groups' protocols, and what each rebalance cost.

use super::Table;
use crate::format::{format_micros, per_second, thousands};
use crate::summary::Summary;

/// Each group's protocol and assignor, when a group rebalanced or runs other than the
/// default (classic, librdkafka's eager assignors).
pub fn protocol_table(summary: &Summary) -> Option<Table> {
    let shown = summary
        .groups
        .iter()
        .any(|g| !g.rebalances.is_empty() || g.protocol.as_ref().is_some_and(|p| !p.is_default()));
    if !shown {
        return None;
    }
    let mut table = Table::new(&["group", "protocol"]);
    for g in &summary.groups {
        if let Some(protocol) = &g.protocol {
            table.row(vec![g.name.clone(), protocol.description.clone()]);
        }
    }
    (!table.is_empty()).then_some(table)
}

/// One row per rebalance of every group, in time order within each group.
pub fn rebalance_table(summary: &Summary) -> Option<Table> {
    let mut table = Table::new(&[
        "group",
        "trigger",
        "at",
        "duration",
        "revoked / assigned",
        "partitions unowned",
        "unowned partition-s",
        "longest unowned",
        "redelivered",
        "out of order",
        "e2e p99 before / during",
        "consumed/s before / slowest",
        "lag added",
    ]);
    let latency = |us: Option<u64>| us.map_or("-".into(), |v| format_micros(v as f64));
    let rate = |r: Option<f64>| r.map_or("-".into(), per_second);
    for (g, r) in summary
        .groups
        .iter()
        .flat_map(|g| g.rebalances.iter().map(move |r| (g, r)))
    {
        let trigger = match &r.fault {
            Some(fault) => format!("{} ({fault})", r.trigger),
            None => r.trigger.clone(),
        };
        let duration = match r.first_change_s {
            Some(_) => format!("{:.2} s", r.duration_s),
            None => "no change".into(),
        };
        let longest = if r.partitions_unowned == 0 {
            "-".into()
        } else {
            format!(
                "{:.2} s{} ({})",
                r.unowned_max_s,
                if r.unfinished { "+" } else { "" },
                r.unowned_max_partition
            )
        };
        table.row(vec![
            g.name.clone(),
            trigger,
            format!("{:.1} s", r.at_s),
            duration,
            format!("{} / {}", r.revoked, r.assigned),
            thousands(r.partitions_unowned as u64),
            format!("{:.2}", r.unowned_partition_s),
            longest,
            thousands(r.redelivered),
            thousands(r.out_of_order),
            format!(
                "{} / {}",
                latency(r.e2e_p99_before_us),
                latency(r.e2e_p99_during_us)
            ),
            format!(
                "{} / {}",
                rate(r.consumed_before_per_s),
                rate(r.consumed_min_per_s)
            ),
            thousands(r.lag_added),
        ]);
    }
    (!table.is_empty()).then_some(table)
}

/// How to read the rebalance table.
pub const REBALANCE_TABLE_NOTE: &str = "A row per member that joined or left (or a rebalance surge did not start), from the members' assignment callbacks: duration runs from the first revocation or assignment to the last; a partition is unowned from the moment its member gave it up (or left, or died) until a member was given it (+: still unowned at the end of the run). Redelivered: events the group read again, from the trigger until the next one. Eager protocols revoke every partition of every member; cooperative-sticky and the consumer protocol (KIP-848) revoke only those that move.";
