//! Where an event's milliseconds went: the parts of publish and end-to-end latency, the
//! client settings that drive each, and whether the clients or the brokers make most of it.

use super::Table;
use crate::format::format_micros;
use crate::summary::{GroupBreakdown, LatencyBreakdown, Part, Summary};

/// How to read the breakdown.
pub const BREAKDOWN_NOTE: &str = "Each part is measured from a source of its own, so the parts added can be held against the latency measured directly. Means add up; medians do not (the p50 of a sum is not the sum of p50s once two parts vary), so the p50s added are a guide only: each group's median event, under the table, takes the events around its e2e p50 apart event by event (their time to the ack and after it), and its parts add up. Schedule lag: surge, every event. Batching, send queue and round trip: librdkafka's statistics of every producer over the measured seconds (batching is timed per event from produce() until it is put in a request: linger.ms, and waiting while max.in.flight requests are out; the round trip includes the broker's wait for its followers under acks=all, and the network both ways); their p50 is each one-second window's, weighted by its count. After the ack: each event from its ack callback to its read by the group (every event up to 5,000 a second; above, one offset in a power of two): the fetch the broker held (fetch.min.bytes, fetch.wait.max.ms), the fetch's way back, and the member's poll; it is negative when events were read before their ack came back. Nothing times the ack's way from the response to the callback: it is what publish measured beyond its parts.";

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
        [settings(b, &["acks"]), "the cluster".into()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
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
            timed(b, g),
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

/// The settings, and how many events were timed after their ack.
fn timed(b: &LatencyBreakdown, g: &GroupBreakdown) -> String {
    let mut text = settings(b, &["fetch.min.bytes", "fetch.wait.max.ms"]);
    if !text.is_empty() {
        text.push_str("; ");
    }
    text.push_str(&format!(
        "{} events timed, {} read before their ack",
        g.timed, g.read_before_ack
    ));
    if g.untimed > 0 {
        text.push_str(&format!(
            ", {} not timed (their other side did not come while {} were waiting)",
            g.untimed,
            crate::metrics::delivery::MAX_PENDING
        ));
    }
    text
}

/// A setting's value in µs, for a setting in ms.
fn setting_us(b: &LatencyBreakdown, name: &str) -> Option<i64> {
    let ms: f64 = b.setting(name)?.value.parse().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| (ms * 1e3).min(i64::MAX as f64) as i64)
}

/// Whether the clients' settings or the brokers make most of each group's e2e.
pub fn breakdown_lines(summary: &Summary) -> Vec<String> {
    let Some(b) = summary.breakdown.as_ref() else {
        return Vec::new();
    };
    (b.groups.iter())
        .flat_map(|g| [group_line(b, g), median_line(b, g)])
        .flatten()
        .collect()
}

/// The events around a group's e2e median, taken apart: parts that add up to their e2e,
/// held against the e2e p50 measured.
fn median_line(b: &LatencyBreakdown, g: &GroupBreakdown) -> Option<String> {
    let m = b.median_parts(g)?;
    let p50 = g.e2e.p50_us;
    let apart = if p50 > 0 {
        format!(
            " ({:.0}% apart)",
            100.0 * m.e2e_us.saturating_sub(p50).unsigned_abs() as f64 / p50 as f64
        )
    } else {
        String::new()
    };
    Some(format!(
        "{}'s median event ({} timed events with e2e from {} to {}): {} = schedule lag {} + batching {} + send queue {} + round trip {} (its time to the ack, in the shares of their means) + after the ack {}; e2e p50 measured {}{apart}.",
        g.group,
        m.events,
        format_micros(m.from_us as f64),
        format_micros(m.to_us as f64),
        signed(m.e2e_us),
        signed(m.schedule_lag_us),
        signed(m.batching_us),
        signed(m.queue_us),
        signed(m.round_trip_us),
        signed(m.after_ack_us),
        signed(p50),
    ))
}

/// Shares of the parts added (means). Batching counts as the settings' up to `linger.ms`;
/// beyond it events waited for requests in flight, which the brokers' round trip sets. The
/// time after the ack counts as the settings' up to `fetch.wait.max.ms`; beyond it the group
/// lagged or worked.
fn group_line(b: &LatencyBreakdown, g: &GroupBreakdown) -> Option<String> {
    let total = b.e2e_parts(g).mean_us;
    if total <= 0 {
        return None;
    }
    let share = |us: i64| 100.0 * us.max(0) as f64 / total as f64;
    let mean = |part: Option<Part>| part.map_or(0, |p| p.mean_us);
    let (batching, round_trip) = (mean(b.batching), mean(b.round_trip));
    let after = g.after_ack.mean_us;
    let linger = setting_us(b, "linger.ms").unwrap_or(0);
    let fetch_wait = setting_us(b, "fetch.wait.max.ms").unwrap_or(0);
    let settings_made = batching
        .min(linger)
        .saturating_add(after.clamp(0, fetch_wait));
    let in_flight = batching.saturating_sub(linger).max(0);
    let beyond_fetch = after.saturating_sub(fetch_wait).max(0);
    let verdict = if share(settings_made) >= 50.0 {
        "the client settings make most of it: tune them before sizing brokers"
    } else if share(round_trip.saturating_add(in_flight)) >= 50.0 {
        "the round trip to the brokers (and requests waiting behind it) makes most of it"
    } else if share(beyond_fetch) >= 50.0 {
        "the group's lag or processing makes most of it"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Setting;

    fn breakdown(
        linger_ms: &str,
        batching_us: i64,
        round_trip_us: i64,
        after_us: i64,
    ) -> LatencyBreakdown {
        let part = |us: i64| Part {
            mean_us: us,
            p50_us: us,
        };
        let setting = |name: &str, value: &str| Setting {
            name: name.into(),
            value: value.into(),
            default: false,
        };
        LatencyBreakdown {
            schedule_lag: part(100),
            batching: Some(part(batching_us)),
            queue: Some(part(50)),
            round_trip: Some(part(round_trip_us)),
            publish: part(batching_us + round_trip_us),
            settings: vec![
                setting("linger.ms", linger_ms),
                setting("acks", "all"),
                setting("fetch.min.bytes", "1024"),
                setting("fetch.wait.max.ms", "500"),
            ],
            groups: vec![GroupBreakdown {
                group: "g".into(),
                after_ack: part(after_us),
                timed: 100,
                read_before_ack: 0,
                untimed: 0,
                e2e: part(batching_us + round_trip_us + after_us),
                median: None,
            }],
        }
    }

    fn line(b: &LatencyBreakdown) -> String {
        group_line(b, &b.groups[0]).unwrap()
    }

    #[test]
    fn waits_the_settings_make_are_named_as_the_settings() {
        assert!(
            line(&breakdown("10", 9_800, 2_000, 30_000)).contains("the client settings make most")
        );
    }

    #[test]
    fn batching_beyond_linger_is_waiting_behind_the_brokers_not_the_settings() {
        // linger.ms=10, yet events waited 60 ms: requests in flight held them.
        let slow = breakdown("10", 60_000, 30_000, 1_000);
        assert!(
            line(&slow).contains("the round trip to the brokers"),
            "{}",
            line(&slow)
        );
        // And a group 2 s behind is not a fetch wait.
        let lagging = breakdown("0", 50, 2_000, 2_000_000);
        assert!(
            line(&lagging).contains("the group's lag"),
            "{}",
            line(&lagging)
        );
        let mixed = breakdown("0", 50, 400_000, 700_000);
        assert!(line(&mixed).contains("no one part"), "{}", line(&mixed));
    }

    #[test]
    fn a_crafted_breakdown_saturates_instead_of_overflowing() {
        // Every figure at its limit and a linger of 1e300 ms: the sums saturate.
        let huge = breakdown("1e300", i64::MAX, 0, 0);
        assert!(
            line(&huge).contains("the client settings make most"),
            "{}",
            line(&huge)
        );
        let mut nan = breakdown("NaN", 1_000, 1_000, 1_000);
        nan.settings[0].value = "NaN".into();
        assert!(line(&nan).contains("linger.ms=NaN"));
        // A sum at or below zero has no shares to give.
        let negative = breakdown("10", 1_000, 1_000, i64::MIN);
        assert_eq!(group_line(&negative, &negative.groups[0]), None);
    }

    #[test]
    fn the_median_event_line_adds_up_and_is_held_against_the_p50() {
        let mut b = breakdown("10", 10_000, 2_000, 30_000);
        assert_eq!(median_line(&b, &b.groups[0]), None);
        b.groups[0].median = Some(crate::summary::MedianEvent {
            events: 120,
            e2e_us: 40_000,
            to_ack_us: 12_150,
            after_ack_us: 27_850,
            from_us: 38_000,
            to_us: 44_000,
        });
        b.groups[0].e2e.p50_us = 42_000;
        let text = median_line(&b, &b.groups[0]).unwrap();
        // Shares of 100 + 10,000 + 50 + 2,000 = 12,150: the means' own parts here.
        assert_eq!(
            text,
            "g's median event (120 timed events with e2e from 38ms to 44ms): 40ms = schedule lag 100us + batching 10ms + send queue 50us + round trip 2ms (its time to the ack, in the shares of their means) + after the ack 27.85ms; e2e p50 measured 42ms (5% apart)."
        );
        // Crafted extremes saturate.
        b.groups[0].median = Some(crate::summary::MedianEvent {
            events: 1,
            e2e_us: i64::MIN,
            to_ack_us: i64::MAX,
            after_ack_us: i64::MIN,
            from_us: 0,
            to_us: u64::MAX,
        });
        assert!(median_line(&b, &b.groups[0]).is_some());
    }
}
