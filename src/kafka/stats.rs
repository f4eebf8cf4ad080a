//! librdkafka's statistics, read for the per-broker view ([`crate::metrics::brokers`]): the
//! clients are asked for them once a second, hand the JSON over as it comes (no parsing on a
//! producer's sending thread), and the engine's ticker reads each broker's part here.
//!
//! Only the fields the view uses are read; the rest of the document (topics, partitions) is
//! skipped. Windows are librdkafka's: `rtt`, `outbuf_latency` and `int_latency` in
//! microseconds, `throttle` in milliseconds.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::metrics::brokers::{BrokerReport, Totals, Window};

pub use crate::scenario::STATISTICS_INTERVAL_MS as INTERVAL_MS;

/// What a client calls with each statistics document it emits.
pub type StatsHook = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// The client's properties: with statistics turned on when it has a hook for them.
pub(crate) fn client_properties<'a>(
    properties: &'a [(String, String)],
    stats: &Option<StatsHook>,
) -> Cow<'a, [(String, String)]> {
    match stats {
        Some(_) => Cow::Owned(with_statistics(properties)),
        None => Cow::Borrowed(properties),
    }
}

/// The properties with statistics turned on, unless the user set their own interval.
pub fn with_statistics(properties: &[(String, String)]) -> Vec<(String, String)> {
    let mut properties = properties.to_vec();
    if !properties
        .iter()
        .any(|(key, _)| key == "statistics.interval.ms")
    {
        properties.push(("statistics.interval.ms".into(), INTERVAL_MS.into()));
    }
    properties
}

#[derive(Deserialize)]
struct Document {
    name: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    brokers: HashMap<String, RawBroker>,
}

#[derive(Deserialize)]
struct RawBroker {
    nodeid: i32,
    #[serde(default)]
    source: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    tx: u64,
    #[serde(default)]
    txbytes: u64,
    #[serde(default)]
    rxbytes: u64,
    #[serde(default)]
    txretries: u64,
    #[serde(default)]
    req_timeouts: u64,
    #[serde(default)]
    waitresp_cnt: i64,
    #[serde(default)]
    txidle: i64,
    #[serde(default)]
    rxidle: i64,
    #[serde(default)]
    disconnects: Option<i64>,
    rtt: Option<RawWindow>,
    outbuf_latency: Option<RawWindow>,
    int_latency: Option<RawWindow>,
    throttle: Option<RawWindow>,
}

#[derive(Deserialize)]
struct RawWindow {
    #[serde(default)]
    max: i64,
    /// Values above the histogram's fixed top (`rtt` 0.5 s, `int_latency` and
    /// `outbuf_latency` 0.1 s, `throttle` 5 s): counted in `cnt`, `sum` and `max`, but in no
    /// percentile.
    #[serde(default)]
    outofrange: i64,
    #[serde(default)]
    sum: i64,
    #[serde(default)]
    cnt: i64,
    #[serde(default)]
    p50: i64,
    #[serde(default)]
    p99: i64,
}

fn window(raw: Option<RawWindow>) -> Window {
    let Some(raw) = raw else {
        return Window::default();
    };
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let (count, above) = (n(raw.cnt), n(raw.outofrange));
    // librdkafka's percentiles are its histogram's bucket bounds, which can pass the true
    // maximum: none is reported above it. Values above the histogram's top are in no
    // percentile: when they are at least 1% of the window (half), its p99 (p50) is somewhere
    // above the top, and the max is the one figure that says where.
    let max = n(raw.max);
    let percentile = |value: i64, share: u64| {
        if count > 0 && above.saturating_mul(share) >= count {
            max
        } else {
            n(value).min(max)
        }
    };
    Window {
        count,
        sum: n(raw.sum),
        max,
        p50: percentile(raw.p50, 2),
        p99: percentile(raw.p99, 100),
    }
}

/// The client's name and its report of every broker it knows by node id (bootstrap entries
/// and the logical coordinator handles are left out). `None` for a document that does not
/// parse.
pub fn broker_reports(raw: &[u8]) -> Option<(String, Vec<BrokerReport>)> {
    let document: Document = serde_json::from_slice(raw).ok()?;
    let producer = document.kind == "producer";
    let mut reports: Vec<BrokerReport> = document
        .brokers
        .into_values()
        .filter(|b| b.nodeid >= 0 && b.source != "logical" && b.source != "internal")
        .map(|b| BrokerReport {
            node: b.nodeid,
            // Never connected (INIT) is not down: the client had no need of it.
            up: !matches!(b.state.as_str(), "DOWN" | "TRY_CONNECT"),
            producer,
            expects_answers: true,
            // A request has waited a second or more and nothing came back meanwhile (-1:
            // never sent or received).
            waiting: b.waitresp_cnt > 0 && b.txidle >= 1_000_000 && b.rxidle >= 1_000_000,
            rtt: window(b.rtt),
            queue: window(b.outbuf_latency),
            batching: window(b.int_latency),
            throttle: window(b.throttle),
            totals: Totals {
                requests: b.tx,
                bytes_out: b.txbytes,
                bytes_in: b.rxbytes,
                retries: b.txretries,
                timeouts: b.req_timeouts,
                disconnects: b.disconnects.map_or(0, |d| u64::try_from(d).unwrap_or(0)),
            },
        })
        .collect();
    reports.sort_by_key(|r| r.node);
    Some((document.name, reports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_learned_broker_is_read_and_bootstrap_and_logical_entries_are_not() {
        let raw = br#"{"name": "surge-p0#producer-1", "type": "producer", "ts": 1,
          "brokers": {
            "127.0.0.1:9092/bootstrap": {"name": "127.0.0.1:9092/bootstrap", "nodeid": -1,
              "source": "configured", "state": "UP", "tx": 3},
            "GroupCoordinator": {"name": "GroupCoordinator", "nodeid": 2, "source": "logical",
              "state": "UP", "tx": 9},
            "127.0.0.1:9093/2": {"name": "127.0.0.1:9093/2", "nodeid": 2, "source": "learned",
              "state": "UP", "tx": 120, "txbytes": 50000, "rxbytes": 9000, "txretries": 2,
              "req_timeouts": 1, "disconnects": 1, "waitresp_cnt": 5, "txidle": 1500000,
              "rxidle": 2500000,
              "rtt": {"min": 900, "max": 40000, "avg": 2100, "sum": 252000, "cnt": 120,
                      "p50": 1800, "p99": 39000, "p99_99": 40000},
              "outbuf_latency": {"max": 30, "sum": 900, "cnt": 120, "p50": 6, "p99": 28},
              "int_latency": {"max": 8000, "sum": 600000, "cnt": 3000, "p50": 200, "p99": 7000},
              "throttle": {"max": 0, "sum": 0, "cnt": 0, "p50": 0, "p99": 0},
              "toppars": {"t-0": {"topic": "t", "partition": 0}}}
          },
          "topics": {"t": {"partitions": {}}}}"#;
        let (name, reports) = broker_reports(raw).unwrap();
        assert_eq!(name, "surge-p0#producer-1");
        assert_eq!(reports.len(), 1);
        let b = &reports[0];
        assert_eq!((b.node, b.up, b.producer, b.waiting), (2, true, true, true));
        assert_eq!((b.rtt.count, b.rtt.p99, b.rtt.max), (120, 39_000, 40_000));
        assert_eq!((b.queue.p99, b.batching.p99), (28, 7_000));
        assert_eq!(b.totals.requests, 120);
        assert_eq!(
            (b.totals.retries, b.totals.timeouts, b.totals.disconnects),
            (2, 1, 1)
        );
    }

    #[test]
    fn values_above_the_histogram_s_top_raise_the_percentiles_to_the_max() {
        let document = |outofrange: u32| {
            format!(
                r#"{{"name": "p", "type": "producer", "brokers": {{"b/1": {{"nodeid": 1,
                "source": "learned", "state": "UP", "rtt": {{"max": 4020000, "sum": 4300000,
                "cnt": 100, "p50": 0, "p99": 0, "outofrange": {outofrange}}}}}}}}}"#
            )
        };
        let rtt = |outofrange| broker_reports(document(outofrange).as_bytes()).unwrap().1[0].rtt;
        // Every value above 0.5 s: librdkafka's histogram is empty, its percentiles 0.
        assert_eq!((rtt(100).p50, rtt(100).p99), (4_020_000, 4_020_000));
        // 3 of 100: the p99 is among them, the p50 is not.
        assert_eq!((rtt(3).p50, rtt(3).p99), (0, 4_020_000));
        assert_eq!(rtt(0).p99, 0);
    }

    #[test]
    fn a_document_that_does_not_parse_gives_nothing() {
        assert!(broker_reports(b"{\"name\": 3}").is_none());
        assert!(broker_reports(b"not json").is_none());
    }

    #[test]
    fn a_user_s_own_interval_is_kept() {
        let own = vec![("statistics.interval.ms".to_string(), "5000".to_string())];
        assert_eq!(with_statistics(&own), own);
        let none = with_statistics(&[]);
        assert_eq!(
            none,
            [("statistics.interval.ms".into(), INTERVAL_MS.into())]
        );
    }
}
