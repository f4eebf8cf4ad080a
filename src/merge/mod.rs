//! `surge merge`: the worker directories of one distributed run, added up into one run.
//!
//! Every figure is rebuilt from the workers' raw facts, never from their summaries'
//! percentiles: histograms are added, the checkers of each group are added key by key (an
//! event produced on one worker and consumed on another counts once), loss is judged against
//! every worker's ledger, and the timeline is added second by second from the shared start.
//! The merged record then goes through the same summary, verdict and reports as a run of one
//! process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::commands::RunOutcome;
use crate::engine::{
    GroupFacts, GroupRecord, LagTerms, Plan, RunRecord, Target, read_past, summarize,
};
use crate::error::SurgeError;
use crate::metrics::checker::{
    KeyFacts, KeyId, LedgerFile, OrderingChecker, Partition, crossed_out_of_order,
};
use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG, e2e_tag};
use crate::metrics::{
    GroupPoint, Histograms, IntervalSample, Intervals, SentLedger, TimelinePoint,
};
use crate::report::{self, RunData};
use crate::summary::{Status, Verdict, WorkerRow, WorkersSummary};
use crate::workers::{WORKER_FILE, WORKER_SCHEMA, WorkerFile};

/// The skew allowed by default: a tenth of the merged e2e p50.
pub const DEFAULT_MAX_SKEW_FRACTION: f64 = 0.1;

/// One worker directory, read.
struct Worker {
    dir: PathBuf,
    file: WorkerFile,
    run: RunData,
    ledger: SentLedger,
}

fn read_worker(dir: &Path) -> Result<Worker, String> {
    let path = dir.join(WORKER_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{} cannot be read ({e}): the worker did not finish, or this is not a worker's directory",
            path.display()
        )
    })?;
    let file: WorkerFile = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a worker file: {e}", path.display()))?;
    if file.schema != WORKER_SCHEMA {
        return Err(format!(
            "{} has schema {}, not {WORKER_SCHEMA}",
            path.display(),
            file.schema
        ));
    }
    let run = report::load_run(dir).map_err(|e| e.to_string())?;
    let ledger_path = dir.join("ledger.json");
    let ledger: LedgerFile = std::fs::read_to_string(&ledger_path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
        .map_err(|e| format!("{}: {e}", ledger_path.display()))?;
    Ok(Worker {
        dir: dir.to_path_buf(),
        file,
        run,
        ledger: SentLedger::import(&ledger),
    })
}

/// Adds the merge's own reasons to the verdict: an incomplete run is inconclusive; clocks that
/// cannot be compared leave a failed integrity check failing, as the verdict does for a
/// generator that fell behind, and make anything else inconclusive.
fn untrusted(verdict: &mut Verdict, incomplete: Vec<String>, clocks: Vec<String>) {
    if verdict.status == Status::Error || (incomplete.is_empty() && clocks.is_empty()) {
        return;
    }
    if !incomplete.is_empty() || !verdict.integrity_failed() {
        verdict.status = Status::Inconclusive;
    }
    verdict.reasons.extend(incomplete);
    verdict.reasons.extend(clocks);
}

fn bad_dirs(path: &Path, detail: String) -> SurgeError {
    SurgeError::RunDir {
        path: path.to_path_buf(),
        detail,
    }
}

/// Merges worker directories into `out`, judging the merged run; a worker missing or
/// incomplete makes it inconclusive, naming the worker.
pub fn merge(
    dirs: &[PathBuf],
    out: &Path,
    max_skew_fraction: f64,
) -> Result<RunOutcome, SurgeError> {
    let mut workers: Vec<Worker> = Vec::new();
    let mut unreadable: Vec<(PathBuf, String)> = Vec::new();
    for dir in dirs {
        if !dir.join(WORKER_FILE).exists() && dir.join("summary.json").exists() {
            return Err(bad_dirs(
                dir,
                format!(
                    "it is a run of one process (no {WORKER_FILE}): merge only the directories `surge run --worker-count N` wrote"
                ),
            ));
        }
        match read_worker(dir) {
            Ok(worker) => workers.push(worker),
            Err(detail) => unreadable.push((dir.clone(), detail)),
        }
    }
    workers.sort_by_key(|w| w.file.index);
    let Some(first) = workers.first() else {
        let (path, detail) = unreadable
            .first()
            .cloned()
            .unwrap_or_else(|| (PathBuf::from("."), "no worker directory given".into()));
        return Err(bad_dirs(&path, detail));
    };
    let (run_id, count, start) = (
        first.file.run_id.clone(),
        first.file.count,
        first.file.start_at_unix_us,
    );
    for worker in &workers {
        let file = &worker.file;
        if file.run_id != run_id || file.count != count || file.start_at_unix_us != start {
            return Err(bad_dirs(
                &worker.dir,
                format!(
                    "it is worker {} of {} of run {} starting at {}, not of run {run_id} ({count} workers, starting at {start}): merge the directories of one run",
                    file.index, file.count, file.run_id, file.start_at_unix_us
                ),
            ));
        }
        if let Some(twin) = workers
            .iter()
            .find(|w| w.file.index == file.index && w.dir != worker.dir)
        {
            return Err(bad_dirs(
                &worker.dir,
                format!(
                    "it is worker {}, and so is {}: give each worker's directory once",
                    file.index,
                    twin.dir.display()
                ),
            ));
        }
    }
    let mut missing: Vec<String> = (0..count)
        .filter(|i| !workers.iter().any(|w| w.file.index == *i))
        .map(|i| format!("worker {i}: no directory of it was given"))
        .collect();
    missing.extend(
        unreadable
            .iter()
            .map(|(dir, detail)| format!("{}: {detail}", dir.display())),
    );

    let instances = first.file.instances * count;
    let scenario = first.file.inputs.resolve(instances).map_err(|detail| {
        bad_dirs(
            &first.dir,
            format!("its scenario does not resolve: {detail}"),
        )
    })?;
    let (record, notes) = merged_record(&scenario, &workers);
    let cluster = &first.run.summary.cluster;
    let target = Target {
        kind: cluster.kind.clone(),
        bootstrap: cluster.bootstrap.clone(),
        brokers: cluster.brokers,
    };
    let mut summary = summarize(&scenario, &record, &run_id, &target);
    summary.notes.extend(notes);
    summary.verdict = crate::verdict::judge(&summary, &scenario.slos, &scenario.limits);
    // Part of the log unaccounted for: nothing, loss included, can be judged.
    let mut incomplete: Vec<String> = missing
        .iter()
        .map(|m| format!("a worker is missing: {m}"))
        .collect();
    for worker in &workers {
        if !worker.file.complete {
            incomplete.push(format!(
                "worker {} ({}) did not run its share to the end: {}",
                worker.file.index,
                worker.dir.display(),
                worker.file.incomplete.as_deref().unwrap_or("incomplete")
            ));
        }
    }
    // Clocks that cannot be compared spoil the e2e latencies only, as a late generator does.
    let mut clocks: Vec<String> = Vec::new();
    let (skew, uncertainty) = clock_skew(&workers);
    let p50 = summary.latency.e2e_us.p50 as f64;
    match skew {
        None => {
            for worker in workers.iter().filter(|w| w.file.clock.is_none()) {
                clocks.push(format!(
                    "worker {} could not measure its clock against the brokers' ({}): its e2e latencies cannot be compared with the other workers'",
                    worker.file.index,
                    worker.file.clock_problem.as_deref().unwrap_or("not measured")
                ));
            }
        }
        Some(skew) if skew as f64 > max_skew_fraction * p50 => clocks.push(format!(
            "the workers' clocks differ by up to {:.2} ms (±{:.2} ms), more than {:.0}% of the e2e p50 ({:.2} ms): end-to-end latency across hosts is not trustworthy; sync the hosts' clocks (chrony/NTP, Amazon Time Sync)",
            skew as f64 / 1000.0,
            uncertainty.unwrap_or(0) as f64 / 1000.0,
            max_skew_fraction * 100.0,
            p50 / 1000.0
        )),
        Some(_) => {}
    }
    untrusted(&mut summary.verdict, incomplete, clocks);
    summary.workers = Some(WorkersSummary {
        count,
        index: None,
        rows: workers.iter().map(worker_row).collect(),
        missing,
        clock_skew_us: skew,
        clock_uncertainty_us: uncertainty,
        max_skew_fraction,
    });
    std::fs::create_dir_all(out).map_err(|source| SurgeError::Output {
        path: out.to_path_buf(),
        source,
    })?;
    let run = RunData {
        summary,
        histograms: record.histograms,
    };
    let report_failures = crate::run_dir::write_run(out, &run, &record.ledger.export(&run_id));
    Ok(RunOutcome {
        status: run.summary.verdict.status,
        out_dir: out.to_path_buf(),
        summary: run.summary,
        report_failures,
    })
}

fn worker_row(worker: &Worker) -> WorkerRow {
    let summary = &worker.run.summary;
    WorkerRow {
        index: worker.file.index,
        dir: worker.dir.display().to_string(),
        host: worker.file.host.clone(),
        instances: worker.file.instances,
        sent: summary.produced.sent,
        acked: summary.produced.acked,
        failed: summary.produced.failed,
        consumed: worker.file.share.groups.iter().map(|g| g.consumed).sum(),
        clock_offset_us: worker.file.clock.map(|c| c.offset_us),
        complete: worker.file.complete,
    }
}

/// The largest difference between two workers' clock offsets, and its uncertainty; `None`
/// when a worker has no measurement.
fn clock_skew(workers: &[Worker]) -> (Option<u64>, Option<u64>) {
    let offsets: Option<Vec<_>> = workers.iter().map(|w| w.file.clock).collect();
    let Some(offsets) = offsets.filter(|o| !o.is_empty()) else {
        return (None, None);
    };
    let low = offsets
        .iter()
        .min_by_key(|o| o.offset_us)
        .expect("not empty");
    let high = offsets
        .iter()
        .max_by_key(|o| o.offset_us)
        .expect("not empty");
    (
        Some((high.offset_us - low.offset_us) as u64),
        Some(low.uncertainty_us + high.uncertainty_us),
    )
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Every surge histogram has the same bounds; a value beyond them saturates.
    let _ = into.add(from);
}

/// Elementwise maximum of per-topic, per-partition offsets.
fn max_offsets(into: &mut Vec<Vec<i64>>, from: &[Vec<i64>]) {
    if into.is_empty() {
        *into = from.to_vec();
        return;
    }
    for (mine, theirs) in into.iter_mut().zip(from) {
        for (m, t) in mine.iter_mut().zip(theirs) {
            *m = (*m).max(*t);
        }
    }
}

/// Per (second from the shared start, tag index): the longest interval and the histograms
/// of every worker's interval added.
type Seconds = BTreeMap<(u64, usize), (f64, Histogram<u64>)>;

/// Interval histograms added across workers, per tag and second from the shared start.
fn merged_intervals(workers: &[Worker]) -> (Vec<String>, Seconds) {
    let mut tags: Vec<String> = Vec::new();
    let mut merged = Seconds::new();
    for worker in workers {
        for interval in worker.run.histograms.intervals.iter() {
            let tag = match tags.iter().position(|t| t == interval.tag) {
                Some(i) => i,
                None => {
                    tags.push(interval.tag.to_string());
                    tags.len() - 1
                }
            };
            let second = interval.start_s.round().max(0.0) as u64;
            let histogram = interval.histogram();
            match merged.get_mut(&(second, tag)) {
                Some((duration, sum)) => {
                    *duration = duration.max(interval.duration_s);
                    add(sum, &histogram);
                }
                None => {
                    merged.insert((second, tag), (interval.duration_s, histogram));
                }
            }
        }
    }
    (tags, merged)
}

fn quantile(histogram: Option<&Histogram<u64>>, q: f64) -> Option<u64> {
    histogram
        .filter(|h| !h.is_empty())
        .map(|h| h.value_at_quantile(q))
}

/// Every worker's timeline added second by second.
fn merged_timeline(
    scenario: &crate::scenario::Scenario,
    workers: &[Worker],
    tags: &[String],
    intervals: &Seconds,
) -> Vec<TimelinePoint> {
    let length = workers
        .iter()
        .map(|w| w.run.summary.timeline.len())
        .max()
        .unwrap_or(0);
    let interval = |second: usize, tag: &str| {
        tags.iter()
            .position(|t| t == tag)
            .and_then(|i| intervals.get(&(second as u64, i)))
            .map(|(_, h)| h)
    };
    (0..length)
        .map(|i| {
            let points: Vec<&TimelinePoint> = workers
                .iter()
                .filter_map(|w| w.run.summary.timeline.get(i))
                .collect();
            let longest = points[0];
            let sum = |f: fn(&TimelinePoint) -> u64| points.iter().map(|p| f(p)).sum::<u64>();
            let max_of = |f: fn(&TimelinePoint) -> Option<f64>| {
                points.iter().filter_map(|p| f(p)).reduce(f64::max)
            };
            let groups: Vec<GroupPoint> = scenario
                .groups
                .iter()
                .enumerate()
                .map(|(g, spec)| {
                    let of = |f: fn(&GroupPoint) -> u64| {
                        points
                            .iter()
                            .filter_map(|p| p.groups.get(g))
                            .map(f)
                            .sum::<u64>()
                    };
                    // A worker that has ended keeps its final terms: its events stay acked.
                    let mut terms = LagTerms::default();
                    for w in workers {
                        terms += w
                            .file
                            .share
                            .lag_terms
                            .get(i)
                            .and_then(|t| t.get(g))
                            .copied()
                            .or_else(|| w.file.share.groups.get(g).map(|f| f.final_terms))
                            .unwrap_or_default();
                    }
                    let e2e = interval(i, &e2e_tag(&spec.name));
                    GroupPoint {
                        name: spec.name.clone(),
                        set_aside: false,
                        consumed: of(|p| p.consumed),
                        lag: terms.lag(),
                        e2e_p50: quantile(e2e, 0.50),
                        e2e_p95: quantile(e2e, 0.95),
                        e2e_p99: quantile(e2e, 0.99),
                        duplicates: of(|p| p.duplicates),
                        out_of_order: of(|p| p.out_of_order),
                        retried: 0,
                        dead_lettered: 0,
                        members: of(|p| u64::from(p.members)) as u16,
                        partitions_held: of(|p| u64::from(p.partitions_held)) as u32,
                    }
                })
                .collect();
            let mut e2e_all = crate::metrics::new_histogram();
            for spec in &scenario.groups {
                if let Some(h) = interval(i, &e2e_tag(&spec.name)) {
                    add(&mut e2e_all, h);
                }
            }
            TimelinePoint {
                t: points.iter().map(|p| p.t).fold(0.0, f64::max),
                phase: longest.phase.clone(),
                target_rate: (points.iter().map(|p| p.target_rate).sum::<f64>() * 10.0).round()
                    / 10.0,
                produced: sum(|p| p.produced),
                acked: sum(|p| p.acked),
                failed: sum(|p| p.failed),
                consumed: groups.iter().map(|g| g.consumed).sum(),
                e2e_p50: quantile(Some(&e2e_all), 0.50),
                e2e_p95: quantile(Some(&e2e_all), 0.95),
                e2e_p99: quantile(Some(&e2e_all), 0.99),
                publish_p99: quantile(interval(i, PUBLISH), 0.99),
                schedule_lag_p99: quantile(interval(i, SCHEDULE_LAG), 0.99),
                // The busiest worker's host: CPU shares of different hosts do not add.
                generator_cpu: max_of(|p| p.generator_cpu),
                generator_memory_mib: max_of(|p| p.generator_memory_mib),
                groups,
                events: points.iter().flat_map(|p| p.events.clone()).collect(),
            }
        })
        .collect()
}

/// The record one process would have made of the whole run.
/// The order in which workers read partition `partition` of the group's topic `local`, by
/// the lowest offset each consumed: `Some` (indexes into `facts`) when each read on past where
/// the one before stopped (give or take re-deliveries from the last commit), `None` when the
/// partition went back to a worker that had read it before, or a worker did not record where
/// it began.
fn reading_order(facts: &[&GroupFacts], local: usize, partition: usize) -> Option<Vec<usize>> {
    let mut spans: Vec<(i64, i64, usize)> = Vec::new();
    for (index, fact) in facts.iter().enumerate() {
        let at =
            |offsets: &Vec<Vec<i64>>| offsets.get(local).and_then(|t| t.get(partition)).copied();
        match (at(&fact.first_positions), at(&fact.positions)) {
            (Some(first), Some(last)) if first >= 0 && last >= 0 => {
                spans.push((first, last, index))
            }
            (_, Some(last)) if last >= 0 => return None,
            _ => {}
        }
    }
    spans.sort_unstable();
    spans
        .windows(2)
        .all(|pair| pair[1].1 > pair[0].1)
        .then(|| spans.iter().map(|s| s.2).collect())
}

/// Out-of-order deliveries the workers of one group miscounted where a partition moved from
/// one to another (see [`crossed_out_of_order`]), and the partitions that went back and forth,
/// whose order across the moves cannot be told.
fn crossed_reading(
    scenario: &crate::scenario::Scenario,
    spec: &crate::scenario::GroupSpec,
    facts: &[&GroupFacts],
) -> (i64, Vec<String>) {
    let mut readers: BTreeMap<u64, Vec<(usize, &KeyFacts)>> = BTreeMap::new();
    for (index, fact) in facts.iter().enumerate() {
        for key in &fact.keys {
            readers.entry(key.key).or_default().push((index, key));
        }
    }
    let mut orders: BTreeMap<(usize, usize), Option<Vec<usize>>> = BTreeMap::new();
    let mut correction = 0i64;
    for (_, mut keyed) in readers.into_iter().filter(|(_, r)| r.len() > 1) {
        let Some(partition) = keyed.iter().find_map(|(_, k)| k.partition).map(Partition) else {
            continue;
        };
        let Some(local) = spec.topics.iter().position(|&t| t == partition.topic()) else {
            continue;
        };
        let order = orders
            .entry((local, partition.partition()))
            .or_insert_with(|| reading_order(facts, local, partition.partition()));
        let Some(order) = order else { continue };
        keyed.sort_by_key(|(index, _)| order.iter().position(|i| i == index));
        let in_order: Vec<&KeyFacts> = keyed.iter().map(|(_, k)| *k).collect();
        correction += crossed_out_of_order(&in_order);
    }
    let unordered: Vec<String> = orders
        .into_iter()
        .filter(|(_, order)| order.is_none())
        .map(|((local, partition), _)| {
            format!(
                "group {}: partition {}/{partition} went back to a worker that had read it before, so out-of-order delivery across its moves is not checked (loss and duplicates are)",
                spec.name,
                scenario.topics[spec.topics[local]].name
            )
        })
        .collect();
    (correction, unordered)
}

fn merged_record(
    scenario: &crate::scenario::Scenario,
    workers: &[Worker],
) -> (RunRecord, Vec<String>) {
    let summaries: Vec<&crate::summary::Summary> = workers.iter().map(|w| &w.run.summary).collect();
    let mut ledger = SentLedger::default();
    for worker in workers {
        ledger.absorb(worker.ledger.clone());
    }
    let mut acked_high: Vec<Vec<i64>> = Vec::new();
    for worker in workers {
        max_offsets(&mut acked_high, &worker.file.share.acked_high);
    }
    let (tags, intervals) = merged_intervals(workers);
    let timeline = merged_timeline(scenario, workers, &tags, &intervals);
    let mut stored = Intervals::spilling();
    for (&(second, tag), (duration, histogram)) in &intervals {
        stored.push(IntervalSample::new(
            second as f64,
            *duration,
            tags[tag].clone(),
            histogram,
        ));
    }
    stored.sort_by_start();
    let total = |tag: &str| {
        let mut sum = crate::metrics::new_histogram();
        for worker in workers {
            if let Some(h) = worker.run.histograms.total(tag) {
                add(&mut sum, h);
            }
        }
        sum
    };
    let mut notes: Vec<String> = Vec::new();
    let groups: Vec<GroupRecord> = scenario
        .groups
        .iter()
        .enumerate()
        .map(|(g, spec)| {
            let facts: Vec<&crate::engine::GroupFacts> = workers
                .iter()
                .filter_map(|w| w.file.share.groups.get(g))
                .collect();
            let mut checker = OrderingChecker::default();
            let mut positions: Vec<Vec<i64>> = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            for fact in &facts {
                checker.absorb(&fact.keys, fact.duplicates, fact.out_of_order);
                max_offsets(&mut positions, &fact.positions);
                for error in &fact.errors {
                    if errors.len() < 10 && !errors.contains(error) {
                        errors.push(error.clone());
                    }
                }
            }
            // A partition that moved between workers: order across the move.
            let (correction, unordered) = crossed_reading(scenario, spec, &facts);
            checker.out_of_order = checker.out_of_order.saturating_add_signed(correction);
            notes.extend(unordered);
            let aggregates: Vec<u16> = scenario
                .aggregates
                .iter()
                .enumerate()
                .filter(|(_, a)| spec.topics.contains(&a.topic))
                .map(|(i, _)| i as u16)
                .collect();
            let loss = checker.reconcile_read(
                &ledger,
                &aggregates,
                10,
                |key: KeyId, partition: Option<Partition>| {
                    let topic = scenario.aggregates[key.aggregate() as usize].topic;
                    let Some(local) = spec.topics.iter().position(|&t| t == topic) else {
                        return true;
                    };
                    read_past(
                        &acked_high[topic],
                        positions.get(local).map_or(&[][..], Vec::as_slice),
                        partition.map(|p| p.partition()),
                    )
                },
            );
            let mut terms = LagTerms::default();
            for f in &facts {
                terms += f.final_terms;
            }
            GroupRecord {
                name: spec.name.clone(),
                members: spec.members,
                topics: spec
                    .topics
                    .iter()
                    .map(|&t| scenario.topics[t].name.clone())
                    .collect(),
                e2e: total(&e2e_tag(&spec.name)),
                consumed: facts.iter().map(|f| f.consumed).sum(),
                unique: checker.unique,
                duplicates: checker.duplicates,
                out_of_order: checker.out_of_order,
                loss,
                foreign: facts.iter().map(|f| f.foreign).sum(),
                max_lag: timeline
                    .iter()
                    .filter_map(|p| p.groups.get(g))
                    .map(|p| p.lag)
                    .max()
                    .unwrap_or(0),
                final_lag: terms.lag(),
                errors,
                failures: None,
                replay: None,
                catchups: Vec::new(),
            }
        })
        .collect();
    let mut totals: Vec<(String, Histogram<u64>)> = vec![
        (PUBLISH.to_string(), total(PUBLISH)),
        (SCHEDULE_LAG.to_string(), total(SCHEDULE_LAG)),
    ];
    for group in &groups {
        totals.push((e2e_tag(&group.name), group.e2e.clone()));
    }
    let mut acked_by_topic: Vec<(String, u64)> = scenario
        .topics
        .iter()
        .map(|t| (t.name.clone(), 0))
        .collect();
    for summary in &summaries {
        for (name, acked) in &summary.produced.acked_by_topic {
            if let Some(entry) = acked_by_topic.iter_mut().find(|(n, _)| n == name) {
                entry.1 += acked;
            }
        }
    }
    let mut errors: Vec<String> = Vec::new();
    for summary in &summaries {
        for error in &summary.errors {
            if !errors.contains(error) {
                errors.push(error.clone());
            }
        }
    }
    let behind = |w: &&Worker| {
        w.run
            .summary
            .partial_reason
            .as_deref()
            .is_some_and(|r| r.contains("behind schedule"))
    };
    let micros = |f: fn(&WorkerFile) -> u64| {
        Duration::from_micros(workers.iter().map(|w| f(&w.file)).max().unwrap_or(0))
    };
    let record = RunRecord {
        started_unix_us: workers[0].file.start_at_unix_us,
        group_join: micros(|f| f.group_join_us),
        run_time: micros(|f| f.run_time_us),
        interrupted: workers.iter().any(|w| !w.file.complete && !behind(&w)),
        fatal: None,
        out_of_time: workers.iter().any(|w| behind(&w)),
        plan: Arc::new(Plan::new(&scenario.phases)),
        sent: summaries.iter().map(|s| s.produced.sent).sum(),
        acked: summaries.iter().map(|s| s.produced.acked).sum(),
        acked_by_topic,
        failed: summaries.iter().map(|s| s.produced.failed).sum(),
        not_sent: summaries.iter().map(|s| s.produced.not_sent).sum(),
        last_send: micros(|f| f.last_send_us),
        publish: totals[0].1.clone(),
        schedule_lag: totals[1].1.clone(),
        groups,
        timeline,
        histograms: Histograms {
            intervals: stored,
            totals,
        },
        errors,
        ledger,
        faults: Vec::new(),
        share: None,
    };
    (record, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Summary;

    /// The fixture's verdict judged again, with `lost` events in its first group.
    fn verdict(lost: u64) -> Verdict {
        let root = env!("CARGO_MANIFEST_DIR");
        let text = std::fs::read_to_string(format!("{root}/tests/fixtures/smoke-run/summary.json"));
        let mut summary = Summary::from_json(&text.unwrap()).unwrap();
        summary.groups[0].lost = lost;
        let scenario = crate::scenario::load(
            Path::new(&format!("{root}/scenarios/smoke.toml")),
            &Default::default(),
        )
        .unwrap();
        crate::verdict::judge(&summary, &scenario.slos, &scenario.limits)
    }

    fn reason(text: &str) -> Vec<String> {
        vec![text.to_string()]
    }

    #[test]
    fn skewed_clocks_make_latency_inconclusive_but_loss_still_fails() {
        let mut clean = verdict(0);
        assert_eq!(clean.status, Status::Pass);
        untrusted(&mut clean, Vec::new(), reason("clocks differ"));
        assert_eq!(clean.status, Status::Inconclusive);

        let mut lossy = verdict(3);
        assert_eq!(lossy.status, Status::Fail);
        untrusted(&mut lossy, Vec::new(), reason("clocks differ"));
        assert_eq!(lossy.status, Status::Fail);
        assert_eq!(lossy.reasons, reason("clocks differ"));
        assert!(
            !lossy.timings_trusted(),
            "its latency checks are not judged"
        );
    }

    #[test]
    fn a_missing_worker_leaves_even_loss_unjudged() {
        let mut lossy = verdict(3);
        untrusted(&mut lossy, reason("a worker is missing: w2"), Vec::new());
        assert_eq!(lossy.status, Status::Inconclusive);
        let mut clean = verdict(0);
        untrusted(&mut clean, Vec::new(), Vec::new());
        assert_eq!((clean.status, clean.reasons.len()), (Status::Pass, 0));
    }

    /// What one worker of a group read: per partition of `order-events` (6) and
    /// `payment-events` (3) its offset span, and its keys.
    fn facts(spans: &[(usize, i64, i64)], keys: Vec<KeyFacts>) -> GroupFacts {
        let mut first = vec![vec![-1i64; 6], vec![-1; 3]];
        let mut last = first.clone();
        for &(partition, from, to) in spans {
            first[0][partition] = from;
            last[0][partition] = to;
        }
        GroupFacts {
            name: "fast".into(),
            consumed: 0,
            foreign: 0,
            duplicates: 0,
            out_of_order: 0,
            final_terms: LagTerms::default(),
            positions: last,
            first_positions: first,
            keys,
            errors: Vec::new(),
        }
    }

    /// One key of `order-events` partition 2, as a checker fed `sequences` exports it.
    fn key_read(sequences: &[u32]) -> KeyFacts {
        let mut checker = OrderingChecker::default();
        for &sequence in sequences {
            checker.observe_in(KeyId::new(0, 0, 7), sequence, Some(Partition::new(0, 2)));
        }
        checker.export().pop().unwrap()
    }

    #[test]
    fn workers_read_a_partition_in_the_order_their_offset_spans_say() {
        let a = facts(&[(2, 0, 100)], Vec::new());
        let b = facts(&[(2, 95, 200)], Vec::new());
        assert_eq!(reading_order(&[&a, &b], 0, 2), Some(vec![0, 1]));
        assert_eq!(reading_order(&[&b, &a], 0, 2), Some(vec![1, 0]));
        // Back to the first worker: no order to tell.
        let back = facts(&[(2, 0, 300)], Vec::new());
        assert_eq!(reading_order(&[&back, &b], 0, 2), None);
        // A worker that did not read it is left out; one that did not record where it began
        // (an older worker file) leaves the order unknown.
        assert_eq!(
            reading_order(&[&a, &facts(&[], Vec::new()), &b], 0, 2),
            Some(vec![0, 2])
        );
        let mut old = b.clone();
        old.first_positions.clear();
        assert_eq!(reading_order(&[&a, &old], 0, 2), None);
    }

    #[test]
    fn a_reordering_across_a_move_is_counted_and_a_partition_read_back_and_forth_is_named() {
        let root = env!("CARGO_MANIFEST_DIR");
        let scenario = crate::scenario::load(
            Path::new(&format!("{root}/scenarios/smoke.toml")),
            &Default::default(),
        )
        .unwrap();
        let spec = &scenario.groups[0];
        // The log holds 0 1 2 5 3 4 6 7; the partition moved after 5, given in either order.
        let a = facts(&[(2, 0, 3)], vec![key_read(&[0, 1, 2, 5])]);
        let b = facts(&[(2, 4, 7)], vec![key_read(&[3, 4, 6, 7])]);
        assert_eq!(crossed_reading(&scenario, spec, &[&a, &b]), (2, Vec::new()));
        assert_eq!(crossed_reading(&scenario, spec, &[&b, &a]), (2, Vec::new()));
        // In order across the move: nothing.
        let c = facts(&[(2, 4, 7)], vec![key_read(&[6, 7])]);
        let d = facts(&[(2, 0, 3)], vec![key_read(&[0, 1, 2, 5])]);
        assert_eq!(crossed_reading(&scenario, spec, &[&d, &c]), (0, Vec::new()));
        // Back and forth: not counted, named.
        let e = facts(&[(2, 0, 9)], vec![key_read(&[0, 1, 2, 5, 8, 9])]);
        let (correction, notes) = crossed_reading(&scenario, spec, &[&e, &b]);
        assert_eq!(correction, 0);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("order-events/2"), "{notes:?}");
    }
}
