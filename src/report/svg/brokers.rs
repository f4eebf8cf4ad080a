//! Each broker's round trip per second as the clients saw it (the worst client's p99 of the
//! producers' requests), with the time requests waited in the clients' output buffers, and
//! the broker round-trip SLOs: a slow or paused broker is the line that rises alone.

use super::color;
use super::timeline::{Series, TimeChart, YRange, thresholds};
use crate::format::format_micros;
use crate::report::ReportError;
use crate::scenario::{BrokerFigure, Metric};
use crate::summary::{BrokerSecond, Summary};

pub(super) const FILE: &str = "brokers.svg";

/// One broker's seconds that timed `pick`, in ms.
fn points(seconds: &[BrokerSecond], pick: fn(&BrokerSecond) -> Option<u32>) -> Vec<(f64, f64)> {
    seconds
        .iter()
        .filter_map(|s| pick(s).map(|us| (s.t, f64::from(us) / 1000.0)))
        .collect()
}

pub(super) fn render(summary: &Summary) -> Result<String, ReportError> {
    let mut series = Vec::new();
    for (index, broker) in summary.brokers.iter().enumerate() {
        let rtt = points(&broker.seconds, |s| s.rtt_p99_us);
        if !rtt.is_empty() {
            series.push(Series::line(
                format!("broker {} RTT p99", broker.node),
                color(index),
                2,
                rtt,
            ));
        }
        let queue = points(&broker.seconds, |s| s.queue_p99_us);
        if !queue.is_empty() {
            series.push(Series {
                dashes: Some((6, 4)),
                ..Series::line(
                    format!("broker {} queue wait p99", broker.node),
                    color(index),
                    1,
                    queue,
                )
            });
        }
    }
    TimeChart {
        file: FILE,
        caption: "Each broker per second, as the clients saw it: the worst client's request round trip p99 (solid) and output-buffer wait p99 (dashed)",
        y_desc: "latency (ms)",
        y_suffix: "",
        series,
        thresholds: thresholds(
            summary,
            |m| {
                matches!(
                    m,
                    Metric::Broker {
                        figure: BrokerFigure::RttP99,
                        ..
                    }
                )
            },
            1e-3,
            format_micros,
        ),
        range: YRange::LogWhenWide,
    }
    .render(summary)
}
