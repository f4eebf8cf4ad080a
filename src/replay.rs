//! `surge replay`: ADR-005's recovery drill. One consumer group of a scenario reads its topics
//! from the earliest retained offset to the end they had when it started, on an existing
//! cluster, and reports its throughput and whether every key's events came in order.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::commands::validate;
use crate::connect::{connect, runtime};
use crate::engine::StopSignal;
use crate::error::SurgeError;
use crate::kafka::reader::{Span, read_spans, watermarks};
use crate::metrics::{KeyId, OrderingChecker};
use crate::scenario::{GroupSpec, Overrides, Scenario, ScenarioError};
use crate::workload::{RUN_ID_LEN, codec::decode_any};

/// What `surge replay` was asked.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub scenario: PathBuf,
    pub overrides: Overrides,
    pub group: String,
    /// The most the reading may take; past it the report is partial.
    pub timeout: Duration,
    /// Fail below this many records per second.
    pub min_rate: Option<f64>,
    pub out: Option<PathBuf>,
}

/// The longest `--timeout`: a wait surge sits out, like the scenario's `[run]` waits.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The schema of replay.json.
pub const REPLAY_SCHEMA: &str = "surge.replay/v1";

/// What one replay read and found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReplayReport {
    pub schema: String,
    pub scenario: String,
    pub group: String,
    pub bootstrap: String,
    pub members: u16,
    pub started_at: String,
    /// Records between the low and high watermarks when the replay started.
    pub retained: u64,
    /// Records read, of which surge events (of any run) and other records.
    pub records: u64,
    pub surge_events: u64,
    pub foreign: u64,
    /// Distinct surge runs whose events were read.
    pub runs: u64,
    /// Per key of each run: a sequence read after a higher one, and a sequence read again.
    pub out_of_order: u64,
    pub duplicates: u64,
    pub seconds: f64,
    /// Records per second over the reading.
    pub rate: f64,
    pub complete: bool,
    pub partial_reason: Option<String>,
    pub min_rate: Option<f64>,
    /// PASS, FAIL or INCOMPLETE, and why.
    pub verdict: String,
    pub reasons: Vec<String>,
}

impl ReplayReport {
    /// 0 when it passed, 1 when it failed, 3 when it did not read everything.
    pub fn exit_code(&self) -> u8 {
        match self.verdict.as_str() {
            "PASS" => 0,
            "FAIL" => 1,
            _ => 3,
        }
    }

    /// The console text.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{}: replay of group {} ({} members) on {}\n",
            self.verdict, self.group, self.members, self.bootstrap
        );
        for reason in &self.reasons {
            out.push_str(&format!("  {reason}\n"));
        }
        out.push_str(&format!(
            "read {} of {} retained records in {:.1}s: {:.0} records/s\n",
            self.records, self.retained, self.seconds, self.rate
        ));
        out.push_str(&format!(
            "surge events {} from {} runs, other records {}; out of order {}, duplicates {}\n",
            self.surge_events, self.runs, self.foreign, self.out_of_order, self.duplicates
        ));
        out
    }
}

/// What one reader thread counted.
#[derive(Default)]
struct Tally {
    records: u64,
    surge_events: u64,
    foreign: u64,
    checkers: FxHashMap<[u8; RUN_ID_LEN], OrderingChecker>,
    error: Option<String>,
}

fn replay_error(key: &str, problem: String, fix: &str) -> SurgeError {
    SurgeError::Scenario(ScenarioError {
        file: "command line".into(),
        key: key.into(),
        problem,
        fix: fix.into(),
    })
}

/// Reads the group's topics from the earliest offset to their end at the start, with as many
/// readers as the group has members (partitions dealt round-robin, as a group's assignor
/// would), and judges order per key.
pub fn replay(options: &ReplayOptions, stop: Arc<StopSignal>) -> Result<ReplayReport, SurgeError> {
    let (scenario, group) = replayed_group(options)?;
    let rt = runtime()?;
    let interrupts = {
        let _entered = rt.enter();
        crate::engine::watch_interrupts(stop.clone())
    };
    let connected = rt.block_on(connect(&scenario))?;
    let Some(info) = connected.info.clone() else {
        return Err(replay_error(
            "--bootstrap",
            "no cluster was probed".into(),
            "pass --bootstrap host:port of a running cluster",
        ));
    };
    let servers = connected.servers.clone();
    let properties = connected.scenario.cluster.consumer.clone();
    let spans = retained_spans(&scenario, &group, &info, &servers, &properties)?;
    let members = group.members.max(1) as usize;
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let started = Instant::now();
    let deadline = started + options.timeout;
    let reader = Reader {
        servers: &servers,
        properties: &properties,
        deadline,
        stop: &stop,
    };
    let tallies = reader.read_all(&spans, members);
    interrupts.abort();
    let seconds = started.elapsed().as_secs_f64();
    let mut report = ReplayReport {
        schema: REPLAY_SCHEMA.into(),
        scenario: scenario.name.clone(),
        group: group.name.clone(),
        bootstrap: servers.clone(),
        members: members as u16,
        started_at,
        retained: spans.iter().map(|s| (s.to - s.from).max(0) as u64).sum(),
        records: 0,
        surge_events: 0,
        foreign: 0,
        runs: 0,
        out_of_order: 0,
        duplicates: 0,
        seconds: (seconds * 1000.0).round() / 1000.0,
        rate: 0.0,
        complete: true,
        partial_reason: None,
        min_rate: options.min_rate,
        verdict: String::new(),
        reasons: Vec::new(),
    };
    add_up(&mut report, tallies);
    report.rate = if seconds > 0.0 {
        report.records as f64 / seconds
    } else {
        0.0
    };
    judge(&mut report);
    write(&report, options, &scenario.name)?;
    Ok(report)
}

/// The scenario and the group to replay, once the options are checked.
fn replayed_group(options: &ReplayOptions) -> Result<(Scenario, GroupSpec), SurgeError> {
    if options.timeout > MAX_TIMEOUT {
        return Err(replay_error(
            "--timeout",
            format!(
                "{} is longer than a replay may run (24h)",
                crate::scenario::units::format_duration(options.timeout)
            ),
            "give --timeout a duration of at most 24h, e.g. --timeout 1h",
        ));
    }
    let scenario = validate(&options.scenario, &options.overrides)?;
    if scenario.cluster.bootstrap.is_embedded() {
        return Err(replay_error(
            "--bootstrap",
            "surge replay reads what an existing cluster retains, and the embedded broker starts empty".into(),
            "pass --bootstrap host:port (or set KAFKA_BOOTSTRAP_SERVERS); in a run, a group with start = \"earliest\" and starts_after = \"produce\" replays on any cluster",
        ));
    }
    let Some(group) = scenario.groups.iter().find(|g| g.name == options.group) else {
        let known: Vec<&str> = scenario.groups.iter().map(|g| g.name.as_str()).collect();
        return Err(replay_error(
            "--group",
            format!(
                "`{}` is not a consumer group of {}",
                options.group,
                options.scenario.display()
            ),
            &if known.is_empty() {
                "add a [[consumer_groups]] entry to the scenario".to_string()
            } else {
                format!("use one of: {}", known.join(", "))
            },
        ));
    };
    let group = group.clone();
    Ok((scenario, group))
}

/// Every partition of the group's topics, from its earliest retained offset to its end now.
fn retained_spans(
    scenario: &Scenario,
    group: &GroupSpec,
    info: &crate::kafka::ClusterInfo,
    servers: &str,
    properties: &[(String, String)],
) -> Result<Vec<Span>, SurgeError> {
    let mut topics: Vec<(&str, i32)> = Vec::new();
    for &t in &group.topics {
        let name = &scenario.topics[t].name;
        let partitions = info.partitions(name).ok_or_else(|| {
            replay_error(
                "--group",
                format!("topic `{name}`, which group {} reads, does not exist on {servers}", group.name),
                "replay a cluster that holds the topic (run the scenario there first), or pick another group",
            )
        })?;
        topics.push((name, partitions));
    }
    let timeout = scenario.limits.connect_timeout;
    let mut spans = Vec::new();
    for (&(topic, _), marks) in topics
        .iter()
        .zip(watermarks(servers, properties, &topics, timeout)?)
    {
        for (partition, (low, high)) in (0..).zip(marks) {
            spans.push(Span {
                topic: topic.to_string(),
                partition,
                from: low,
                to: high,
            });
        }
    }
    Ok(spans)
}

/// What the readers share: where to read, until when, and the stop.
struct Reader<'a> {
    servers: &'a str,
    properties: &'a [(String, String)],
    deadline: Instant,
    stop: &'a StopSignal,
}

impl Reader<'_> {
    /// One reader per member, each over its round-robin share of the spans.
    fn read_all(&self, spans: &[Span], members: usize) -> Vec<Tally> {
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..members)
                .map(|member| {
                    let mine: Vec<Span> = spans
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % members == member)
                        .map(|(_, s)| s.clone())
                        .collect();
                    scope.spawn(move || self.read(&mine))
                })
                .collect();
            readers
                .into_iter()
                .map(|r| {
                    r.join().unwrap_or_else(|_| Tally {
                        error: Some("a reader stopped unexpectedly".into()),
                        ..Tally::default()
                    })
                })
                .collect()
        })
    }

    /// Reads some spans, checking every surge event's order per key within its run.
    fn read(&self, spans: &[Span]) -> Tally {
        let mut tally = Tally::default();
        let outcome = read_spans(
            self.servers,
            self.properties,
            spans,
            self.deadline,
            || self.stop.is_requested(),
            |_, _, value| {
                tally.records += 1;
                match value.and_then(decode_any) {
                    Some((run, meta)) => {
                        tally.surge_events += 1;
                        tally.checkers.entry(run).or_default().observe(
                            KeyId::new(meta.producer, meta.aggregate, meta.index),
                            meta.sequence,
                        );
                    }
                    None => tally.foreign += 1,
                }
            },
        );
        tally.error = outcome.err();
        tally
    }
}

/// The readers' tallies added into the report; runs are counted once across readers.
fn add_up(report: &mut ReplayReport, tallies: Vec<Tally>) {
    let mut runs: Vec<[u8; RUN_ID_LEN]> = Vec::new();
    for tally in tallies {
        report.records += tally.records;
        report.surge_events += tally.surge_events;
        report.foreign += tally.foreign;
        for (run, checker) in tally.checkers {
            if !runs.contains(&run) {
                runs.push(run);
            }
            report.out_of_order += checker.out_of_order;
            report.duplicates += checker.duplicates;
        }
        if let Some(error) = tally.error {
            report.complete = false;
            report.partial_reason.get_or_insert(error);
        }
    }
    report.runs = runs.len() as u64;
}

/// PASS when every record was read, in per-key order, without repeats, at the rate asked.
fn judge(report: &mut ReplayReport) {
    let mut failures = Vec::new();
    if report.out_of_order > 0 {
        failures.push(format!(
            "{} events came after a higher sequence of their key",
            report.out_of_order
        ));
    }
    if report.duplicates > 0 {
        failures.push(format!(
            "{} events were read more than once",
            report.duplicates
        ));
    }
    if let Some(min) = report.min_rate
        && report.complete
        && report.rate < min
    {
        failures.push(format!(
            "{:.0} records/s is below --min-rate {min:.0}",
            report.rate
        ));
    }
    report.verdict = if !report.complete {
        report.reasons.push(format!(
            "partial: {}",
            report
                .partial_reason
                .as_deref()
                .unwrap_or("not read to the end")
        ));
        "INCOMPLETE".into()
    } else if failures.is_empty() {
        "PASS".into()
    } else {
        "FAIL".into()
    };
    report.reasons.extend(failures);
}

fn write(report: &ReplayReport, options: &ReplayOptions, scenario: &str) -> Result<(), SurgeError> {
    let dir = options.out.clone().unwrap_or_else(|| {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        PathBuf::from("reports").join(format!("{scenario}-replay-{}-{stamp}", report.group))
    });
    let path = dir.join("replay.json");
    let text = serde_json::to_string_pretty(report).map_err(|e| SurgeError::Output {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    std::fs::create_dir_all(&dir)
        .and_then(|()| crate::output::write(&path, text.as_bytes()))
        .map_err(|source| SurgeError::Output {
            path: path.clone(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(out_of_order: u64, complete: bool, rate: f64, min_rate: Option<f64>) -> ReplayReport {
        ReplayReport {
            schema: REPLAY_SCHEMA.into(),
            scenario: "s".into(),
            group: "g".into(),
            bootstrap: "127.0.0.1:9092".into(),
            members: 1,
            started_at: String::new(),
            retained: 10,
            records: 10,
            surge_events: 10,
            foreign: 0,
            runs: 1,
            out_of_order,
            duplicates: 0,
            seconds: 1.0,
            rate,
            complete,
            partial_reason: (!complete).then(|| "timeout".into()),
            min_rate,
            verdict: String::new(),
            reasons: Vec::new(),
        }
    }

    #[test]
    fn the_verdict_follows_order_completeness_and_rate() {
        for (r, verdict, code) in [
            (report(0, true, 100.0, None), "PASS", 0),
            (report(1, true, 100.0, None), "FAIL", 1),
            (report(0, true, 100.0, Some(200.0)), "FAIL", 1),
            (report(0, false, 100.0, Some(200.0)), "INCOMPLETE", 3),
        ] {
            let mut r = r;
            judge(&mut r);
            assert_eq!(r.verdict, verdict, "{r:#?}");
            assert_eq!(r.exit_code(), code);
        }
    }
}
