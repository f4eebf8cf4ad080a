//! The consumer groups' tables: what each read, its ordering and loss, and how it handled
//! failures, a backlog and a replay.

use super::Table;
use crate::format::{micros, per_second, thousands};
use crate::summary::{GroupSummary, Summary};

/// The events a group should read: those acked on the topics it reads (warmup included).
pub fn expected_for(summary: &Summary, group: &GroupSummary) -> u64 {
    summary
        .produced
        .acked_by_topic
        .iter()
        .filter(|(topic, _)| group.topics.contains(topic))
        .map(|(_, acked)| *acked)
        .fold(0, u64::saturating_add)
}

/// One row per consumer group: what it should have read and did, its latency and lag.
/// Ordering and loss are in [`integrity_table`].
pub fn group_table(summary: &Summary) -> Table {
    let mut table = Table::new(&[
        "group",
        "reads",
        "members",
        "expected",
        "consumed",
        "consumed MB",
        "e2e p50",
        "p95",
        "p99",
        "max",
        "max lag",
    ]);
    for g in &summary.groups {
        let e = &g.e2e_latency_us;
        table.row(vec![
            g.name.clone(),
            g.topics.join(", "),
            g.members.to_string(),
            thousands(expected_for(summary, g)),
            thousands(g.unique),
            if g.consumed_bytes == 0 && g.consumed > 0 {
                "-".into()
            } else {
                super::mb_per_s(g.consumed_bytes as f64 / crate::summary::MB)
            },
            micros(e.p50, e.count),
            micros(e.p95, e.count),
            micros(e.p99, e.count),
            micros(e.max, e.count),
            thousands(g.max_lag),
        ]);
    }
    table
}

/// Ordering and loss, one row per group.
pub fn integrity_table(summary: &Summary) -> Table {
    let mut table = Table::new(&[
        "group",
        "lost",
        "duplicates",
        "out of order",
        "gaps",
        "unread at drain end",
        "result",
    ]);
    for g in &summary.groups {
        let o = &g.ordering;
        let clean = g.is_clean();
        table.row(vec![
            g.name.clone(),
            thousands(g.lost),
            thousands(o.duplicates),
            thousands(o.out_of_order),
            thousands(o.gaps),
            thousands(g.unread),
            if clean {
                "clean".into()
            } else {
                "NOT CLEAN".into()
            },
        ]);
    }
    table
}

/// Failure handling, one row per group that fails events: what failed, was retried and
/// dead-lettered, and whether the dead-letter topic holds every dead-lettered event.
pub fn failure_table(summary: &Summary) -> Option<Table> {
    let mut table = Table::new(&[
        "group",
        "dead-letter topic",
        "failed",
        "retried",
        "non-retryable",
        "poisoned",
        "dead-lettered",
        "acked",
        "read back",
        "dlt lost",
        "retry delay p50",
        "p99",
        "failed e2e p99",
    ]);
    for g in &summary.groups {
        let Some(f) = &g.failures else { continue };
        table.row(vec![
            g.name.clone(),
            f.dlt_topic.clone(),
            thousands(f.failed),
            thousands(f.retried),
            thousands(f.non_retryable),
            thousands(f.poisoned),
            thousands(f.dead_lettered),
            thousands(f.dlt_acked),
            f.dlt_found.map_or("not read".into(), thousands),
            thousands(f.dlt_lost),
            micros(f.retry_delay_us.p50, f.retry_delay_us.count),
            micros(f.retry_delay_us.p99, f.retry_delay_us.count),
            micros(f.e2e_failed_us.p99, f.e2e_failed_us.count),
        ]);
    }
    (!table.is_empty()).then_some(table)
}

/// Backlog catch-up after a `group_pause`, one row per pause.
pub fn catchup_table(summary: &Summary) -> Option<Table> {
    let mut table = Table::new(&[
        "group",
        "fault",
        "paused",
        "backlog at resume",
        "caught up at lag",
        "catch-up time",
        "drained above ingress",
        "consumed",
        "ingress",
    ]);
    let rate = |r: Option<f64>| r.map_or("-".into(), per_second);
    for (g, c) in summary
        .groups
        .iter()
        .flat_map(|g| g.catchups.iter().map(move |c| (g, c)))
    {
        let not_caught_up = match &c.paused_again_by {
            Some(fault) => format!("paused again by {fault} first"),
            None => "not caught up".into(),
        };
        table.row(vec![
            g.name.clone(),
            c.fault.clone(),
            format!("{:.1}-{:.1} s", c.paused_s, c.resumed_s),
            thousands(c.backlog),
            format!("<= {}", thousands(c.threshold)),
            c.catchup_time_s
                .map_or(not_caught_up, |t| format!("{t:.1} s")),
            rate(c.catchup_rate),
            rate(c.consume_rate),
            rate(c.produce_rate),
        ]);
    }
    (!table.is_empty()).then_some(table)
}

/// The reading of late groups: when they joined, what they read, and how fast.
pub fn replay_table(summary: &Summary) -> Option<Table> {
    let mut table = Table::new(&[
        "group",
        "joined at",
        "records read",
        "this run's events",
        "read everything at",
        "rate",
        "order and completeness",
    ]);
    for g in &summary.groups {
        let Some(r) = &g.replay else { continue };
        table.row(vec![
            g.name.clone(),
            format!("{:.1} s", r.joined_s),
            thousands(r.records),
            format!(
                "{} of {}",
                thousands(g.unique),
                thousands(expected_for(summary, g))
            ),
            r.caught_up_s
                .map_or("not by the drain's end".into(), |t| format!("{t:.1} s")),
            r.rate.map_or("-".into(), per_second),
            if g.is_clean() { "clean" } else { "NOT CLEAN" }.into(),
        ]);
    }
    (!table.is_empty()).then_some(table)
}

/// The consumer-behaviour tables a run has, titled: failures, catch-up, replay, the groups'
/// protocols and their rebalances.
pub fn consumer_tables(summary: &Summary) -> Vec<(&'static str, Table)> {
    [
        ("Retries and dead letters", failure_table(summary)),
        ("Backlog catch-up", catchup_table(summary)),
        ("Replay", replay_table(summary)),
        ("Group protocols", super::protocol_table(summary)),
        ("Rebalances", super::rebalance_table(summary)),
    ]
    .into_iter()
    .filter_map(|(title, table)| table.map(|t| (title, t)))
    .collect()
}
