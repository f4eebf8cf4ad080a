//! Each broker as the run's clients saw it: round trips, the time requests waited in the
//! clients, throttling, and what went wrong on the connection; and each fault's effect per
//! broker.

use super::Table;
use crate::format::{format_micros, thousands};
use crate::summary::{BrokerFault, BrokerSummary, Summary, Throttling};

/// How to read the broker table.
pub const BROKER_TABLE_NOTE: &str = "From librdkafka's statistics of every producer and consumer of the run, once a second. librdkafka gives each client's percentiles, not its histogram, so a p99 here is the worst client's: in the median second (typical) and in the worst second (peak); the mean is exact over every client's requests. RTT: the producers' requests (produce, metadata); fetch: the consumers' round trips, which include the time the broker held a fetch waiting for data (fetch.wait.max.ms). Unanswered: seconds in which no client got a response from the broker while requests that expect one kept going to it (at least 5) or a producer had waited a second or more (not counted while the broker throttled). Down: seconds in which a client's connection to it was down or reconnecting. Warmup seconds are left out of every column. Queue wait: time requests waited in the client's output buffer before they were sent (a broker that does not read its socket, or max.in.flight reached). Batching: time producer messages waited before their request was made (linger.ms and the queue behind it). Throttle: time the broker asked the clients to hold off (a quota).";

/// `N s`, or `-` for none.
fn seconds(n: u64) -> String {
    if n == 0 { "-".into() } else { format!("{n} s") }
}

/// One row per broker any client reported.
pub fn broker_table(summary: &Summary) -> Option<Table> {
    let mut table = Table::new(&[
        "broker",
        "requests",
        "RTT mean",
        "RTT p99 typical / peak",
        "RTT max",
        "fetch p99 typical",
        "unanswered",
        "down",
        "queue wait p99 peak",
        "batching p99 typical",
        "throttled (max)",
        "retries",
        "timeouts",
        "disconnects",
    ]);
    let latency = |us: Option<u64>| us.map_or("-".into(), |v| format_micros(v as f64));
    for b in &summary.brokers {
        let throttled = if b.throttle_ms == 0 {
            "-".into()
        } else {
            format!(
                "{} in {} s ({})",
                format_micros(b.throttle_ms as f64 * 1e3),
                b.throttled_seconds,
                format_micros(b.throttle_max_ms as f64 * 1e3)
            )
        };
        table.row(vec![
            b.node.to_string(),
            thousands(b.requests),
            latency(b.rtt_mean_us),
            format!(
                "{} / {}",
                latency(b.rtt_p99_typical_us),
                latency(b.rtt_p99_peak_us)
            ),
            latency(b.rtt_max_us),
            latency(b.fetch_p99_typical_us),
            seconds(b.stalled_seconds),
            seconds(b.down_seconds),
            latency(b.queue_p99_peak_us),
            latency(b.batching_p99_typical_us),
            throttled,
            thousands(b.retries),
            thousands(b.timeouts),
            thousands(b.disconnects),
        ]);
    }
    (!table.is_empty()).then_some(table)
}

/// Node ids a fault line lists at most; beyond, "and N more".
const LISTED_NODES: usize = 12;

/// Per fault, the broker that fared worst and the others: "during fault b2-paused: broker 2
/// unanswered for 3 s, RTT max 4.03s; brokers 1, 3 RTT max 58ms". The worst is the one left
/// unanswered or down longest, then the one with the longest round trip (producers' requests).
pub fn broker_fault_lines(summary: &Summary) -> Vec<String> {
    let faults = summary.brokers.iter().map(|b| b.faults.len()).max();
    (0..faults.unwrap_or(0).min(summary.faults.len()))
        .filter_map(|index| fault_line(&summary.brokers, index))
        .collect()
}

/// A broker's figures in one fault, in words.
fn fault_words(f: &BrokerFault) -> String {
    let rtt = f.rtt_max_us.map_or("no RTT timed".into(), |us| {
        format!("RTT max {}", format_micros(us as f64))
    });
    let mut words = Vec::new();
    if f.down_seconds > 0 {
        words.push(format!("down for {} s", f.down_seconds));
    }
    if f.stalled_seconds > 0 {
        words.push(format!("unanswered for {} s", f.stalled_seconds));
    }
    words.push(rtt);
    words.join(", ")
}

fn fault_line(brokers: &[BrokerSummary], index: usize) -> Option<String> {
    let during: Vec<(i32, &BrokerFault)> = brokers
        .iter()
        .filter_map(|b| Some((b.node, b.faults.get(index)?)))
        .collect();
    let &(worst, worst_fault) = during.iter().max_by_key(|(_, f)| f.severity())?;
    let mut line = format!(
        "during fault {}: broker {worst} {}",
        worst_fault.fault,
        fault_words(worst_fault)
    );
    let others: Vec<&(i32, &BrokerFault)> = during.iter().filter(|(n, _)| *n != worst).collect();
    if let Some((_, other)) = others.iter().max_by_key(|(_, f)| f.severity()) {
        let mut nodes: Vec<String> = others
            .iter()
            .take(LISTED_NODES)
            .map(|(n, _)| n.to_string())
            .collect();
        if others.len() > LISTED_NODES {
            nodes.push(format!("and {} more", others.len() - LISTED_NODES));
        }
        line.push_str(&format!(
            "; broker{} {} {}",
            if others.len() > 1 { "s" } else { "" },
            nodes.join(", "),
            fault_words(other)
        ));
    }
    Some(line)
}

/// When the brokers throttled the clients in a material share of the run's seconds: which
/// brokers, how often and how long, and what it means for the verdict's latencies.
pub fn throttle_line(summary: &Summary) -> Option<String> {
    let throttling = Throttling::of(&summary.brokers)?;
    if !throttling.is_material() {
        return None;
    }
    let nodes: Vec<String> = throttling.brokers.iter().map(i32::to_string).collect();
    Some(format!(
        "Throttled by a broker quota: broker{} {} asked the clients to hold off in {} of {} seconds ({:.0}%), up to {} a response. Latency and rate here are the quota's, not the cluster's capacity.",
        if nodes.len() > 1 { "s" } else { "" },
        nodes.join(", "),
        throttling.seconds,
        throttling.of_seconds,
        throttling.share() * 100.0,
        format_micros(throttling.max_ms as f64 * 1e3)
    ))
}
