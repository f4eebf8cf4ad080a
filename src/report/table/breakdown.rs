//! Where an event's milliseconds went: the parts of publish and end-to-end latency, the
//! client settings that drive each, and whether the clients or the brokers make most of it.

use super::Table;
use crate::format::format_micros;
use crate::summary::{GroupBreakdown, LatencyBreakdown, Part, Summary};

/// How to read the breakdown.
pub const BREAKDOWN_NOTE: &str = "Each part is measured from a source of its own, so the parts added can be held against the latency measured directly. Means add up; medians do not (the p50 of a sum is not the sum of p50s once two parts vary), so the p50s added are a guide only. Schedule lag: surge, every event. Batching, send queue and round trip: librdkafka's statistics of every producer over the measured seconds (batching is timed per event from produce() until it is put in a request: linger.ms, and waiting while max.in.flight requests are out; the round trip includes the broker's wait for its followers under acks=all, and the network both ways); their p50 is each one-second window's, weighted by its count. After the ack: each event from its ack callback to its read by the group (every event up to 5,000 a second; above, one offset in a power of two): the fetch the broker held (fetch.min.bytes, fetch.wait.max.ms), the fetch's way back, and the member's poll; it is negative when events were read before their ack came back. Nothing times the ack's way from the response to the callback: it is what publish measured beyond its parts.";

fn signed(us: i64) -> String {
    let text = format_micros(us.unsigned_abs() as f64);
    if us < 0 { format!("-{text}") } else { text }
}

/// `name=value` for each of `names`, as the clients use them.
fn settings(breakdown: &LatencyBreakdown, names: &[&str]) -> String {
    names
        .iter()
        .filter_map(|name| breakdown.setting(name))
        .map(|s| {
            let default = if s.default { " (default)" } else { "" };
            format!("{}={}{default}", s.name, s.value)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row per part, then publish and each group's e2e with the parts added.
pub fn breakdown_table(summary: &Summary) -> Option<Table> {
    let b = summary.breakdown.as_ref()?;
    let mut table = Table::new(&["part", "mean", "p50", "driven by"]);
    let mut row = |name: String, part: Option<Part>, driven_by: String| {
        let (mean, p50) = part.map_or(("-".into(), "-".into()), |p| {
            (signed(p.mean_us), signed(p.p50_us))
        });
        table.row(vec![name, mean, p50, driven_by]);
    };
    row(
        "schedule lag: intended time to produce()".into(),
        Some(b.schedule_lag),
        "the generator's host".into(),
    );
    row(
        "batching: produce() to in a request".into(),
        b.batching,
        settings(
            b,
            &[
                "linger.ms",
                "batch.size",
                "max.in.flight.requests.per.connection",
            ],
        ),
    );
    row(
        "send queue: request built to sent".into(),
        b.queue,
        "the client's connection".into(),
    );
    row(
        "produce round trip: network, broker, followers".into(),
        b.round_trip,
        format!("{}; the cluster", settings(b, &["acks"])),
    );
    row(
        "publish, parts added".into(),
        Some(b.publish_parts()),
        String::new(),
    );
    row("publish, measured".into(), Some(b.publish), String::new());
    for g in &b.groups {
        row(
            format!("after the ack: read by {}", g.group),
            Some(g.after_ack),
            format!(
                "{}; {} events timed, {} read before their ack",
                settings(b, &["fetch.min.bytes", "fetch.wait.max.ms"]),
                g.timed,
                g.read_before_ack
            ),
        );
        row(
            format!("e2e {}, parts added", g.group),
            Some(b.e2e_parts(g)),
            String::new(),
        );
        row(
            format!("e2e {}, measured", g.group),
            Some(g.e2e),
            String::new(),
        );
    }
    Some(table)
}

/// Whether the clients' settings or the brokers make most of each group's e2e.
pub fn breakdown_lines(summary: &Summary) -> Vec<String> {
    let Some(b) = summary.breakdown.as_ref() else {
        return Vec::new();
    };
    b.groups.iter().filter_map(|g| group_line(b, g)).collect()
}

/// Shares of the means: they add up to the parts added.
fn group_line(b: &LatencyBreakdown, g: &GroupBreakdown) -> Option<String> {
    let total = b.e2e_parts(g).mean_us;
    if total <= 0 {
        return None;
    }
    let share = |us: i64| 100.0 * us.max(0) as f64 / total as f64;
    let mean = |part: Option<Part>| part.map_or(0, |p| p.mean_us);
    let (batching, round_trip) = (mean(b.batching), mean(b.round_trip));
    let after = g.after_ack.mean_us;
    let verdict = if share(batching) + share(after) >= 50.0 {
        "the client settings make most of it: tune them before sizing brokers"
    } else if share(round_trip) >= 50.0 {
        "the round trip to the brokers makes most of it"
    } else {
        "no one part makes most of it"
    };
    Some(format!(
        "Where {}'s e2e goes (means, {} added): batching {} ({:.0}%, {}), after the ack {} ({:.0}%, {}), produce round trip {} ({:.0}%, {}): {verdict}.",
        g.group,
        signed(total),
        signed(batching),
        share(batching),
        settings(b, &["linger.ms"]),
        signed(after),
        share(after),
        settings(b, &["fetch.min.bytes", "fetch.wait.max.ms"]),
        signed(round_trip),
        share(round_trip),
        settings(b, &["acks"]),
    ))
}
