//! The scenario a profile writes: the measured topics, event types, sizes, key spaces and
//! groups, with the ADR's Black Friday shape around the observed rate when a peak factor is
//! asked for. Every derived number carries a comment saying what it was measured from.

use std::fmt::Write;

use super::fit::{KeyLaw, quantile_of};
use super::names::{event_names, group_names};
use super::{GroupProfile, Profile, TopicProfile, TypeSample};
use crate::format::thousands;

/// The SLOs every profiled scenario is judged by: ADR-005's publish latency and offered rate,
/// and, when a group reads, its end-to-end latency, integrity and lag limits.
const ADR_CHECKS: [&str; 2] = ["publish.p95 < 100ms", "rate.achieved_ratio >= 0.99"];
const ADR_GROUP_CHECKS: [&str; 4] = [
    "e2e.p95 < 100ms",
    "lost == 0",
    "ordering_violations == 0",
    "lag.max < 10000",
];

/// The scenario text. `curve_file` names the CSV of the observed curve beside it, when the
/// window was long enough to have one.
pub fn write(profile: &Profile, name: &str, curve_file: Option<&str>) -> String {
    let mut out = String::new();
    header(&mut out, profile, name);
    let names = event_names(profile);
    for (topic, names) in profile.topics.iter().zip(&names) {
        topic_table(&mut out, topic, profile.measured.as_secs_f64());
        for (kind, name) in topic.types.iter().zip(names) {
            event_table(&mut out, profile, topic, kind, name);
        }
    }
    phases(&mut out, profile, curve_file);
    for (group, name) in profile.groups.iter().zip(group_names(profile)) {
        group_table(&mut out, group, &name);
    }
    slos(&mut out, profile);
    out
}

/// The observed curve as `surge`'s replay shape reads it: rows of seconds,events_per_second
/// from 0, each interval's rate at its middle, held to the window's ends.
pub fn curve_csv(profile: &Profile) -> String {
    // Topics that could not be sampled have no event: the curve is the replayed topics' share.
    let share = profile.replayed_rate() / profile.offset_rate().max(f64::MIN_POSITIVE);
    let curve: Vec<(f64, f64)> = profile.curve.iter().map(|&(t, r)| (t, r * share)).collect();
    let mut rows = vec![(0.0, curve.first().map_or(0.0, |p| p.1))];
    rows.extend(curve.iter().copied());
    let end = profile.measured.as_secs_f64();
    rows.push((end, curve.last().map_or(0.0, |p| p.1)));
    rows.dedup_by(|b, a| b.0 <= a.0);
    let mut csv = String::from("seconds,events_per_second\n");
    for (at, rate) in rows {
        let _ = writeln!(csv, "{at:.3},{rate:.3}");
    }
    csv
}

/// Text from the cluster as a comment may hold it: control characters (a newline would end the
/// comment and start TOML of the cluster's choosing) become `?`, and at most 200 characters.
pub fn comment_text(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 200 {
        shown.push_str("...");
    }
    shown
}

/// A positive number as the scenario writes it: six decimals, never rounded down to 0.
fn positive(value: f64) -> String {
    format!("{:.6}", value.max(0.000_001))
}

/// A rate or count, whole, with thousands separators.
fn whole(value: f64) -> String {
    thousands(value.round().max(0.0) as u64)
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn header(out: &mut String, profile: &Profile, name: &str) {
    let _ = writeln!(
        out,
        "# Written by `surge profile` from the traffic of {} over a {} s window that began {}\n\
         # ({:.1} s measured between the first and the last offsets read). Each derived number says\n\
         # what it was measured from. No key or payload bytes were kept: sizes, counts, type names\n\
         # and fitted parameters only.",
        comment_text(&profile.servers),
        profile.window.as_secs(),
        profile.began,
        profile.measured.as_secs_f64()
    );
    for note in &profile.notes {
        let _ = writeln!(out, "# note: {}", comment_text(note));
    }
    let _ = writeln!(
        out,
        "#\n# The bootstrap is left out on purpose: run it against a cluster with --bootstrap, never\n\
         # against the one it was measured on unless that is the intent.\nname = {}\n\
         description = {}\nseed = 1\n",
        quoted(name),
        quoted(&format!(
            "{} topics at {} events/s as profiled{}",
            profile.topics.len(),
            whole(profile.replayed_rate()),
            if profile.scale > 1.0 {
                format!(", with a peak at {}x", profile.scale)
            } else {
                String::new()
            }
        ))
    );
    let typed = profile
        .topics
        .iter()
        .flat_map(|t| &t.types)
        .any(|k| !k.name.is_empty());
    let header = comment_text(&profile.type_header);
    let _ = writeln!(
        out,
        "[producer]\ntype_headers = {typed}   # records with a `{header}` header were {}found{}\n",
        if typed { "" } else { "not " },
        if typed && profile.type_header != "__TypeId__" {
            "; surge writes each event's type in `__TypeId__`"
        } else {
            ""
        }
    );
}

fn topic_table(out: &mut String, topic: &TopicProfile, seconds: f64) {
    let _ = writeln!(
        out,
        "[[topics]]\nname = {}\npartitions = {}\nreplication_factor = {}",
        quoted(&topic.name),
        topic.partitions,
        topic.replication_factor
    );
    match &topic.settings {
        Ok(settings) if !settings.is_empty() => {
            let pairs: Vec<String> = settings
                .iter()
                .map(|(k, v)| format!("{} = {}", quoted(k), quoted(v)))
                .collect();
            let _ = writeln!(out, "config = {{ {} }}", pairs.join(", "));
        }
        Ok(_) => {}
        Err(why) => {
            let _ = writeln!(out, "# its settings could not be read: {why}");
        }
    }
    if topic.records > 0 && topic.types.is_empty() {
        let _ = writeln!(
            out,
            "# measured: {} events/s ({} records in {seconds:.1} s), but no record could be read \
             for a sample (see the notes), so no event is written for it\n",
            whole(topic.rate),
            thousands(topic.records)
        );
        return;
    }
    if topic.records == 0 {
        let _ = writeln!(
            out,
            "# measured: no record was written during the {seconds:.1} s window, so no event \
             is written for it\n"
        );
        return;
    }
    let _ = writeln!(
        out,
        "# measured: {} events/s ({} records in {seconds:.1} s), {:.3} MB/s of values; the busiest \
         partition took {:.2}x the mean\n# sampled {} records from {} of {} partitions (each \
         partition's last records of the window, in proportion to its share)\n",
        whole(topic.rate),
        thousands(topic.records),
        topic.bytes_per_s() / (1 << 20) as f64,
        topic.partition_skew,
        thousands(topic.sampled),
        topic.sampled_partitions,
        topic.partitions
    );
    if !topic.headers.is_empty() {
        let seen: Vec<String> = topic
            .headers
            .iter()
            .take(10)
            .map(|(name, share)| format!("{} {:.0}%", comment_text(name), share * 100.0))
            .collect();
        out.pop();
        let _ = writeln!(out, "# headers on sampled records: {}\n", seen.join(", "));
    }
}

fn event_table(
    out: &mut String,
    profile: &Profile,
    topic: &TopicProfile,
    kind: &TypeSample,
    name: &str,
) {
    let origin = match (kind.name.is_empty(), profile.redact_types) {
        (true, _) => format!(
            "records without a `{}` header",
            comment_text(&profile.type_header)
        ),
        (false, true) => format!(
            "{} (type name redacted)",
            comment_text(&profile.type_header)
        ),
        (false, false) => format!(
            "{} {}",
            comment_text(&profile.type_header),
            comment_text(&kind.name)
        ),
    };
    let _ = writeln!(
        out,
        "[[events]]\nname = {}\ntopic = {}\nweight = {}   # events/s: {origin}, {:.1}% of the \
         topic's sample ({} of {})",
        quoted(name),
        quoted(&topic.name),
        positive(topic.rate * kind.share),
        kind.share * 100.0,
        thousands(kind.count),
        thousands(topic.sampled)
    );
    if let Some(keys) = &kind.keys {
        let _ = match keys.keys_high {
            Some(high) => writeln!(
                out,
                "keys = {}   # {} distinct keys in {} sampled records; 95% interval {}..{}",
                keys.keys.max(1),
                thousands(keys.distinct),
                thousands(keys.sampled),
                thousands(keys.keys_low),
                thousands(high)
            ),
            None => writeln!(
                out,
                "keys = {}   # at least this many: {} distinct keys in {} sampled records, so \
                 nearly every record had a key of its own",
                keys.keys.max(1),
                thousands(keys.distinct),
                thousands(keys.sampled)
            ),
        };
        let top = format!(
            "the top 1% of keys held {:.1}% of the sample",
            keys.top_share * 100.0
        );
        match keys.law {
            KeyLaw::Uniform => {
                let _ = writeln!(out, "distribution = \"uniform\"   # {top}");
            }
            KeyLaw::Zipf { exponent } => {
                let _ = writeln!(
                    out,
                    "distribution = \"zipf\"   # {top}\nzipf_exponent = {exponent:.3}   # maximum \
                     likelihood over the keys seen at least 8 times"
                );
            }
        }
    }
    if kind.keys.is_none() {
        let _ = writeln!(
            out,
            "keys = {}   # no sampled record had a key: surge keys every event, and this many \
             uniform keys spread them over the partitions as a keyless producer does",
            kind.keyless_keys
        );
    } else if kind.keyless > 0 {
        let _ = writeln!(
            out,
            "# {} sampled records had no key: surge keys every event",
            thousands(kind.keyless)
        );
    }
    size_line(out, kind, name);
    out.push('\n');
}

/// The value sizes: one size, or sizes at every 5% quantile; none below the event's envelope.
fn size_line(out: &mut String, kind: &TypeSample, name: &str) {
    let floor = crate::workload::envelope_len(name, &name.to_lowercase());
    let below = kind.sizes.iter().filter(|&&s| s < floor).count();
    let sizes: Vec<u64> = kind.sizes.iter().map(|&s| s.max(floor)).collect();
    let measured = format!(
        "value sizes of {} sampled: p50 {:.0} B, p95 {:.0} B",
        thousands(kind.count),
        quantile_of(&kind.sizes, 0.5),
        quantile_of(&kind.sizes, 0.95)
    );
    match sizes.as_slice() {
        [] => {}
        [first, ..] if sizes.iter().all(|s| s == first) => {
            let _ = writeln!(out, "size = \"{first}B\"   # {measured}");
        }
        _ => {
            let list: Vec<String> = sizes.iter().map(|s| format!("\"{s}B\"")).collect();
            let _ = writeln!(
                out,
                "size = [{}]\n# ^ {measured}; at every 5% quantile",
                list.join(", ")
            );
        }
    }
    if below > 0 {
        let _ = writeln!(
            out,
            "# {below} of the 21 quantiles were below surge's JSON envelope for this event \
             ({floor} B) and are written as {floor} B"
        );
    }
}

fn phases(out: &mut String, profile: &Profile, curve_file: Option<&str>) {
    let rate = positive(profile.replayed_rate());
    let window = profile.measured.as_secs().max(30);
    let observed = match curve_file {
        Some(file) => format!(
            "[[phases]]\nname = \"observed\"\nshape = \"replay\"\ncsv = {}   # the measured rate \
             per interval through the window\n",
            quoted(file)
        ),
        None => format!(
            "[[phases]]\nname = \"observed\"\nrate = \"{rate}/s\"   # the measured rate over \
             every profiled topic with events\nduration = \"{window}s\"\n"
        ),
    };
    let _ = writeln!(
        out,
        "[[phases]]\nname = \"warmup\"\nrate = \"{rate}/s\"\nduration = \"{}s\"\nwarmup = true\n\n{observed}",
        if profile.scale > 1.0 { 30 } else { 10 }
    );
    if profile.scale > 1.0 {
        let peak = positive(profile.replayed_rate() * profile.scale);
        let _ = writeln!(
            out,
            "[[phases]]\nname = \"ramp-up\"\nshape = \"ramp\"\nfrom = \"{rate}/s\"\nto = \
             \"{peak}/s\"\nduration = \"60s\"\n\n[[phases]]\nname = \"peak\"\nrate = \
             \"{peak}/s\"   # {}x the observed rate\nduration = \"120s\"\n\n[[phases]]\nname = \
             \"drain\"\nrate = \"{rate}/s\"   # back to the observed rate: the backlog's recovery\n\
             duration = \"60s\"\n",
            profile.scale
        );
    }
}

fn group_table(out: &mut String, group: &GroupProfile, name: &str) {
    let topics: Vec<String> = group.topics.iter().map(|t| quoted(t)).collect();
    let members = match group.members {
        Some(m) if m > 0 => format!("{m}   # members at the end of the window"),
        Some(_) => "1   # no member was connected at the end of the window".into(),
        None => "1   # the cluster did not describe the group's members".into(),
    };
    let _ = writeln!(
        out,
        "[[consumer_groups]]\nname = {}   # {}state {}; committed {} events/s of the {} written; \
         lag {} at the start, {} at the end\ntopics = [{}]\nmembers = {members}",
        quoted(name),
        if name == group.name {
            String::new()
        } else {
            format!("group {}: ", comment_text(&group.name))
        },
        comment_text(&group.state),
        whole(group.rate),
        whole(group.ingress),
        thousands(group.lag_start.max(0) as u64),
        thousands(group.lag_end.max(0) as u64),
        topics.join(", ")
    );
    if let Some(time) = group.processing_time() {
        let _ = writeln!(
            out,
            "processing_time = \"{}us\"   # the group fell behind: this per-event time makes its \
             members consume at the measured rate{}",
            time.as_micros().max(1),
            if time >= super::envelope::MAX_PROCESSING_TIME {
                " (at most 10 s, under the drain timeout)"
            } else {
                ""
            }
        );
    }
    out.push('\n');
}

fn slos(out: &mut String, profile: &Profile) {
    let mut checks: Vec<String> = ADR_CHECKS.iter().map(|c| quoted(c)).collect();
    let read = !profile.groups.is_empty();
    if read {
        checks.extend(ADR_GROUP_CHECKS.iter().map(|c| quoted(c)));
    }
    if profile.scale > 1.0 {
        checks.push(quoted("phase.peak.publish.p95 < 100ms"));
        if read {
            checks.push(quoted("phase.peak.e2e.p95 < 100ms"));
            checks.push(quoted("recovery.lag < 60s"));
        }
    }
    let _ = writeln!(
        out,
        "[slo]   # ADR-005's limits\nchecks = [\n  {},\n]",
        checks.join(",\n  ")
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::profile::{KeyFit, KeyLaw};
    use crate::scenario::Shape;

    fn kind(name: &str, share: f64, law: KeyLaw) -> TypeSample {
        TypeSample {
            name: name.into(),
            count: (share * 1000.0) as u64,
            share,
            sizes: (0..21).map(|i| 600 + i * 40).collect(),
            keys: Some(KeyFit {
                sampled: 1000,
                distinct: 380,
                law,
                keys: 400,
                keys_low: 390,
                keys_high: Some(410),
                top_share: 0.02,
            }),
            keyless: 0,
            keyless_keys: 10_000,
        }
    }

    fn profile(scale: f64) -> Profile {
        let topic = |name: &str, rate: f64, types: Vec<TypeSample>| TopicProfile {
            name: name.into(),
            partitions: 6,
            replication_factor: 3,
            settings: Ok(vec![("min.insync.replicas".into(), "2".into())]),
            records: (rate * 20.0) as u64,
            rate,
            offset_rate: rate,
            partition_skew: 1.2,
            sampled_partitions: 6,
            sampled: 1000,
            types,
            headers: vec![("__TypeId__".into(), 1.0)],
            mean_value_bytes: 1000.0,
        };
        Profile {
            servers: "broker:9092".into(),
            began: "2026-12-06T10:00:00Z".into(),
            window: Duration::from_secs(20),
            measured: Duration::from_secs(20),
            type_header: "__TypeId__".into(),
            redact_types: false,
            topics: vec![
                topic(
                    "orders",
                    240.0,
                    vec![
                        kind("com.shop.OrderCreated", 0.6, KeyLaw::Uniform),
                        kind("com.shop.OrderPaid", 0.4, KeyLaw::Zipf { exponent: 1.1 }),
                    ],
                ),
                topic("quiet", 0.0, Vec::new()),
            ],
            groups: vec![GroupProfile {
                name: "billing svc".into(),
                state: "Stable".into(),
                members: Some(3),
                topics: vec!["orders".into()],
                lag_start: 0,
                lag_end: 12_000,
                rate: 120.0,
                ingress: 240.0,
            }],
            curve: Vec::new(),
            notes: vec!["no record was written to quiet".into()],
            scale,
        }
    }

    #[test]
    fn the_written_scenario_replays_the_measured_mix_and_groups() {
        let scenario = crate::scenario::from_text(&write(&profile(1.0), "p", None));
        let rates: Vec<(String, f64)> = scenario
            .events
            .iter()
            .map(|e| (e.name.clone(), e.weight))
            .collect();
        assert_eq!(
            rates,
            [
                ("com.shop.OrderCreated".to_string(), 144.0),
                ("com.shop.OrderPaid".to_string(), 96.0)
            ]
        );
        assert_eq!(scenario.topics.len(), 2, "the quiet topic is listed too");
        assert_eq!(scenario.aggregates[1].keys, 400);
        assert!(matches!(
            scenario.aggregates[1].distribution,
            crate::scenario::KeyDistribution::Zipf { exponent } if exponent == 1.1
        ));
        assert_eq!(scenario.events[0].size_quantiles.len(), 21);
        assert_eq!(scenario.events[0].mean_size(), 1000.0);
        let group = &scenario.groups[0];
        assert_eq!((group.name.as_str(), group.members), ("billing_svc", 3));
        // The group fell behind: 3 members at 120 events/s is 25 ms an event each.
        assert_eq!(group.processing_time, Duration::from_millis(25));
        let peak = scenario
            .phases
            .iter()
            .map(|p| p.shape.peak_rate())
            .fold(0.0, f64::max);
        assert_eq!(peak, 240.0);
    }

    #[test]
    fn a_peak_factor_ramps_to_that_many_times_the_observed_rate_and_back() {
        let scenario = crate::scenario::from_text(&write(&profile(3.0), "p", None));
        let shapes: Vec<(&str, Shape)> = scenario
            .phases
            .iter()
            .map(|p| (p.name.as_str(), p.shape))
            .collect();
        let at = |rate: f64| Shape::Constant(crate::scenario::units::Rate(rate));
        assert_eq!(shapes[0], ("warmup", at(240.0)));
        assert_eq!(shapes[1], ("observed", at(240.0)));
        assert_eq!(shapes[3], ("peak", at(720.0)));
        assert_eq!(shapes[4], ("drain", at(240.0)));
        assert!(
            scenario
                .slos
                .iter()
                .any(|s| s.to_string().contains("phase.peak"))
        );
    }

    #[test]
    fn names_from_the_cluster_cannot_break_or_steer_the_scenario() {
        let mut hostile = profile(1.0);
        let orders = &mut hostile.topics[0];
        orders.types[0].name = "x\n[cluster]\nbootstrap = \"10.0.0.1:9092\"".into();
        orders.types[1].name = "X\n[cluster]\nbootstrap = \"10.0.0.1:9092\"".into();
        orders.headers = vec![("trace\nbootstrap = 1".into(), 1.0)];
        let mut also = orders.types[1].clone();
        also.name = "com.shop.OrderPaid".into();
        orders.types.push(also);
        let template = hostile.groups[0].clone();
        hostile.groups = (0..20)
            .map(|i| GroupProfile {
                name: match i {
                    0 => "svc.v2".into(),
                    1 => "svc_v2".into(),
                    2 => "svc-v2".into(),
                    _ => format!("group-{i}"),
                },
                rate: 100.0 - i as f64,
                members: Some(100),
                ..template.clone()
            })
            .collect();
        hostile.notes.push("a note\n[cluster]".into());
        crate::profile::envelope::fit(&mut hostile);
        let text = write(&hostile, "p", None);
        let scenario = crate::scenario::from_text(&text);
        assert!(scenario.cluster.bootstrap.is_embedded(), "{text}");
        assert_eq!(scenario.events.len(), 3);
        assert_eq!(scenario.groups.len(), 16);
        assert!(scenario.groups.iter().all(|g| g.members == 64));
        let names: Vec<&str> = scenario.groups[..3]
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(names, ["svc_v2", "svc_v2-2", "svc-v2-3"]);
        assert!(
            hostile
                .notes
                .iter()
                .any(|n| n.contains("the busiest are kept"))
        );
    }

    #[test]
    fn without_groups_only_the_producer_side_is_judged() {
        let mut alone = profile(3.0);
        alone.groups.clear();
        let scenario = crate::scenario::from_text(&write(&alone, "p", None));
        assert!(scenario.groups.is_empty());
        let checks: Vec<String> = scenario.slos.iter().map(|s| s.to_string()).collect();
        assert!(
            checks
                .iter()
                .all(|c| !c.contains("e2e") && !c.contains("lost")),
            "{checks:?}"
        );
    }

    #[test]
    fn redacted_types_become_stable_placeholders() {
        let mut redacted = profile(1.0);
        redacted.redact_types = true;
        let text = write(&redacted, "p", None);
        assert!(!text.contains("OrderCreated"), "{text}");
        assert_eq!(text, write(&redacted, "p", None));
        let scenario = crate::scenario::from_text(&text);
        assert!(scenario.events[0].name.starts_with("type-"));
    }

    #[test]
    fn the_curve_runs_from_zero_to_the_window_end() {
        let mut curved = profile(1.0);
        curved.curve = vec![(5.0, 100.0), (15.0, 300.0)];
        assert_eq!(
            curve_csv(&curved),
            "seconds,events_per_second\n0.000,100.000\n5.000,100.000\n15.000,300.000\n20.000,300.000\n"
        );
    }
}
