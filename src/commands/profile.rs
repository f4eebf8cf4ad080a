//! `surge profile`: measures a live cluster's traffic through a window (read-only: offsets,
//! group offsets, and a bounded sample of records read without a group), then writes a
//! scenario that replays it ([`crate::profile`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::connect::{connect, runtime};
use crate::error::SurgeError;
use crate::kafka::profile::{GroupListing, list_groups, sample_spans, topic_settings};
use crate::kafka::reader::{Span, watermarks};
use crate::kafka::{ClusterInfo, CommittedOffsets};
use crate::profile::{GroupProfile, Profile, SampleBook, TopicProfile, scenario};
use crate::scenario::{Overrides, Scenario};

/// At most this many partitions of a topic are read for its sample, spread over its partitions.
pub const MAX_SAMPLED_PARTITIONS: usize = 64;
/// At most this many consumer groups are asked for their offsets.
pub const MAX_GROUPS: usize = 500;
/// How long reading the sample may take, whatever its size.
const SAMPLE_READ_LIMIT: Duration = Duration::from_secs(60);

/// What `surge profile` was asked for.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    pub overrides: Overrides,
    /// Topics to profile (every non-internal one when `None`).
    pub topics: Option<regex::Regex>,
    pub window: Duration,
    /// Records to read per topic, at most.
    pub sample: u64,
    /// The peak factor: above 1, the scenario ramps to this many times the observed rate.
    pub scale: f64,
    pub out: PathBuf,
    pub type_header: String,
    pub redact_types: bool,
    pub force: bool,
}

/// What a profile wrote.
#[derive(Debug)]
pub struct ProfileOutcome {
    pub profile: Profile,
    pub scenario: PathBuf,
    pub curve: Option<PathBuf>,
}

/// Measures, writes the scenario (and its curve), and checks it loads as `surge validate` would.
pub fn profile(options: &ProfileOptions) -> Result<ProfileOutcome, SurgeError> {
    if options.out.exists() && !options.force {
        return Err(SurgeError::Usage {
            problem: format!("{} exists", options.out.display()),
            fix: "choose another --out, or pass --force to replace it".into(),
        });
    }
    let scenario = super::check::connectivity_scenario(&options.overrides, "surge profile")?;
    let profile = runtime()?.block_on(measure(&scenario, options))?;
    let stem = options
        .out
        .file_stem()
        .map_or("profile".into(), |s| s.to_string_lossy().into_owned());
    let curve = (profile.curve.len() >= 3).then(|| options.out.with_extension("rates.csv"));
    let write = |path: &Path, text: &str| {
        crate::output::write(path, text.as_bytes()).map_err(|source| SurgeError::Output {
            path: path.to_path_buf(),
            source,
        })
    };
    if let Some(path) = &curve {
        write(path, &scenario::curve_csv(&profile))?;
    }
    let curve_name = curve
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let text = scenario::write(&profile, &scenario::sanitized(&stem), curve_name.as_deref());
    write(&options.out, &text)?;
    super::validate(&options.out, &Overrides::default())?;
    Ok(ProfileOutcome {
        profile,
        scenario: options.out.clone(),
        curve,
    })
}

/// The topics to profile: every listed one the filter matches, internal ones (`__`) left out.
fn chosen_topics(
    info: &ClusterInfo,
    servers: &str,
    filter: Option<&regex::Regex>,
) -> Result<Vec<(String, i32, i32)>, SurgeError> {
    let mut chosen: Vec<(String, i32, i32)> = info
        .topics
        .iter()
        .filter(|(name, _, _)| !name.starts_with("__"))
        .filter(|(name, _, _)| filter.is_none_or(|f| f.is_match(name)))
        .cloned()
        .collect();
    chosen.sort();
    if chosen.is_empty() {
        let listed: Vec<&str> = info.topics.iter().map(|t| t.0.as_str()).take(10).collect();
        return Err(SurgeError::Usage {
            problem: format!(
                "no topic of {servers} matches --topics{} (it lists {} topics{}{})",
                filter.map_or(String::new(), |f| format!(" `{f}`")),
                info.topics.len(),
                if listed.is_empty() { "" } else { ": " },
                listed.join(", ")
            ),
            fix: "pass a --topics regular expression that matches the topics to profile (an ACL \
                  may also hide topics from this principal: Describe is needed)"
                .into(),
        });
    }
    Ok(chosen)
}

/// The end offsets of every chosen topic's partitions.
fn end_offsets(
    servers: &str,
    properties: &[(String, String)],
    topics: &[(String, i32, i32)],
    timeout: Duration,
) -> Result<Vec<Vec<i64>>, SurgeError> {
    let asked: Vec<(&str, i32)> = topics.iter().map(|t| (t.0.as_str(), t.1)).collect();
    let marks = watermarks(servers, properties, &asked, timeout)?;
    Ok(marks
        .into_iter()
        .map(|topic| topic.into_iter().map(|(_, high)| high).collect())
        .collect())
}

/// The window: end offsets at its start, every `step` and at its end; the groups at both ends.
async fn measure(scenario: &Scenario, options: &ProfileOptions) -> Result<Profile, SurgeError> {
    let connected = connect(scenario).await?;
    let servers = connected.servers.clone();
    let properties = connected.scenario.cluster.consumer.clone();
    let timeout = scenario.limits.connect_timeout;
    let info = connected.info.clone().expect("a real cluster was probed");
    let topics = chosen_topics(&info, &servers, options.topics.as_ref())?;
    let names: Vec<String> = topics.iter().map(|t| t.0.clone()).collect();
    let settings = topic_settings(&servers, &properties, &names, timeout).await?;
    let mut notes = Vec::new();
    let groups = group_candidates(&servers, &properties, timeout, &mut notes);
    let began = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let committed_at_start = committed(&servers, &properties, &groups, &topics, timeout);
    let start = Instant::now();
    let first = end_offsets(&servers, &properties, &topics, timeout)?;
    let step = (options.window / 6).clamp(Duration::from_secs(1), Duration::from_secs(10));
    let step = step.max(options.window / 1000);
    let mut curve = Vec::new();
    let (mut last, mut last_at) = (first.clone(), Duration::ZERO);
    while last_at < options.window {
        let next = (last_at + step).min(options.window);
        tokio::time::sleep(next.saturating_sub(start.elapsed())).await;
        let now = end_offsets(&servers, &properties, &topics, timeout)?;
        let at = start.elapsed();
        let written: i64 = now.iter().flatten().sum::<i64>() - last.iter().flatten().sum::<i64>();
        let seconds = (at - last_at).as_secs_f64();
        curve.push((
            (last_at + at).as_secs_f64() / 2.0,
            written.max(0) as f64 / seconds,
        ));
        (last, last_at) = (now, at);
    }
    let measured = last_at;
    let ends = list_groups(&servers, &properties, timeout).unwrap_or_default();
    let committed_at_end = committed(&servers, &properties, &groups, &topics, timeout);
    let mut topic_profiles = topic_profiles(&topics, settings, &first, &last, measured);
    let sampled = sample(&servers, &properties, &topics, &first, &last, options);
    for (profile, (book, read, written)) in topic_profiles.iter_mut().zip(sampled.books) {
        fill_sample(profile, book, read, written);
    }
    notes.extend(sampled.notes);
    for topic in topic_profiles.iter().filter(|t| t.records == 0) {
        notes.push(format!(
            "no record was written to {} during the window: it is listed with no event",
            topic.name
        ));
    }
    if topic_profiles.iter().all(|t| t.records == 0) {
        return Err(SurgeError::Usage {
            problem: format!(
                "no record was written to the {} profiled topics of {servers} during the {} s \
                 window: there is no traffic to measure",
                topics.len(),
                options.window.as_secs()
            ),
            fix: "profile while the traffic runs, with a longer --window, or other --topics".into(),
        });
    }
    let group_profiles = group_profiles(
        &groups,
        &ends,
        [&committed_at_start, &committed_at_end],
        &topic_profiles,
        [&first, &last],
        measured,
    );
    Ok(Profile {
        servers,
        began,
        window: options.window,
        measured,
        type_header: options.type_header.clone(),
        redact_types: options.redact_types,
        topics: topic_profiles,
        groups: group_profiles,
        curve,
        notes,
        scale: options.scale,
    })
}

/// The consumer groups that may commit on the topics (Kafka consumers, and groups that only
/// commit, which list no protocol), at most [`MAX_GROUPS`].
fn group_candidates(
    servers: &str,
    properties: &[(String, String)],
    timeout: Duration,
    notes: &mut Vec<String>,
) -> Vec<GroupListing> {
    match list_groups(servers, properties, timeout) {
        Err(why) => {
            notes.push(format!("the consumer groups could not be listed: {why}"));
            Vec::new()
        }
        Ok(mut groups) => {
            groups.retain(|g| matches!(g.protocol_type.as_str(), "consumer" | ""));
            groups.sort_by(|a, b| a.name.cmp(&b.name));
            if groups.len() > MAX_GROUPS {
                notes.push(format!(
                    "{} consumer groups are listed: the first {MAX_GROUPS} by name were asked",
                    groups.len()
                ));
                groups.truncate(MAX_GROUPS);
            }
            groups
        }
    }
}

/// Each group's committed offsets on the topics (`None` when its coordinator did not answer).
fn committed(
    servers: &str,
    properties: &[(String, String)],
    groups: &[GroupListing],
    topics: &[(String, i32, i32)],
    timeout: Duration,
) -> Vec<Option<Vec<Vec<i64>>>> {
    let asked: Vec<(String, i32)> = topics.iter().map(|t| (t.0.clone(), t.1)).collect();
    groups
        .iter()
        .map(|group| {
            CommittedOffsets::new(servers, properties, &group.name, asked.clone())
                .ok()?
                .read(timeout)
        })
        .collect()
}

fn topic_profiles(
    topics: &[(String, i32, i32)],
    settings: Vec<Result<Vec<(String, String)>, String>>,
    first: &[Vec<i64>],
    last: &[Vec<i64>],
    measured: Duration,
) -> Vec<TopicProfile> {
    topics
        .iter()
        .zip(settings)
        .enumerate()
        .map(|(i, ((name, partitions, replicas), settings))| {
            let written: Vec<u64> = first[i]
                .iter()
                .zip(&last[i])
                .map(|(a, b)| (b - a).max(0) as u64)
                .collect();
            let records: u64 = written.iter().sum();
            let mean = records as f64 / written.len().max(1) as f64;
            let busiest = written.iter().copied().max().unwrap_or(0) as f64;
            TopicProfile {
                name: name.clone(),
                partitions: *partitions,
                replication_factor: *replicas,
                settings,
                records,
                rate: records as f64 / measured.as_secs_f64().max(1e-3),
                partition_skew: if mean > 0.0 { busiest / mean } else { 1.0 },
                sampled_partitions: 0,
                sampled: 0,
                types: Vec::new(),
                headers: Vec::new(),
                mean_value_bytes: 0.0,
            }
        })
        .collect()
}

/// Per topic, its sample and the partitions it came from.
struct Sampled {
    /// Per topic: its sample, the partitions read for it and the partitions written to.
    books: Vec<(SampleBook, usize, usize)>,
    notes: Vec<String>,
}

/// Reads each topic's sample: at most `options.sample` records from at most
/// [`MAX_SAMPLED_PARTITIONS`] of its partitions (spread evenly over those written to), each
/// partition's share in proportion to its records, the last of the window's.
fn sample(
    servers: &str,
    properties: &[(String, String)],
    topics: &[(String, i32, i32)],
    first: &[Vec<i64>],
    last: &[Vec<i64>],
    options: &ProfileOptions,
) -> Sampled {
    let mut spans = Vec::new();
    let mut topic_of = Vec::new();
    let mut partitions_of = vec![(0, 0); topics.len()];
    for (i, (name, _, _)) in topics.iter().enumerate() {
        let written: Vec<(i32, i64, i64)> = (0..)
            .zip(first[i].iter().zip(&last[i]))
            .filter(|(_, (a, b))| b > a)
            .map(|(p, (a, b))| (p, *a, *b))
            .collect();
        let every = written.len().div_ceil(MAX_SAMPLED_PARTITIONS).max(1);
        let chosen: Vec<&(i32, i64, i64)> = written.iter().step_by(every).collect();
        partitions_of[i] = (chosen.len(), written.len());
        let total: i64 = chosen.iter().map(|(_, a, b)| b - a).sum();
        for &&(partition, from, to) in &chosen {
            let share = (options.sample as f64 * (to - from) as f64 / total as f64).ceil() as i64;
            spans.push(Span {
                topic: name.clone(),
                partition,
                from: (to - share).max(from),
                to,
            });
            topic_of.push(i);
        }
    }
    let mut books: Vec<SampleBook> = topics.iter().map(|_| SampleBook::default()).collect();
    let mut notes = Vec::new();
    let deadline = Instant::now() + SAMPLE_READ_LIMIT;
    let read = sample_spans(servers, properties, &spans, deadline, |index, record| {
        books[topic_of[index]].add(
            record.key,
            record.value_len,
            &record.headers,
            &options.type_header,
        );
    });
    if let Err(why) = read {
        notes.push(format!(
            "the sample was read for {} s and stopped ({why}): what was read is used",
            SAMPLE_READ_LIMIT.as_secs()
        ));
    }
    Sampled {
        books: books
            .into_iter()
            .zip(partitions_of)
            .map(|(book, (read, written))| (book, read, written))
            .collect(),
        notes,
    }
}

/// A topic's figures from its sample. The key counts of a sample from some of the partitions
/// written to are scaled up by their share: a key lives in one partition.
fn fill_sample(topic: &mut TopicProfile, book: SampleBook, read: usize, written: usize) {
    topic.sampled = book.records();
    topic.sampled_partitions = read;
    topic.mean_value_bytes = book.mean_value_bytes();
    topic.headers = book.headers();
    topic.types = book.types();
    if read == 0 || written <= read {
        return;
    }
    let factor = written as f64 / read as f64;
    for kind in &mut topic.types {
        if let Some(keys) = &mut kind.keys {
            let scaled = |n: u64| (n as f64 * factor).round() as u64;
            keys.keys = scaled(keys.keys);
            keys.keys_low = scaled(keys.keys_low);
            keys.keys_high = keys.keys_high.map(scaled);
        }
    }
}

/// Every group with an offset committed on a profiled topic, with its lag and rate.
fn group_profiles(
    groups: &[GroupListing],
    ends: &[GroupListing],
    committed: [&[Option<Vec<Vec<i64>>>]; 2],
    topics: &[TopicProfile],
    offsets: [&[Vec<i64>]; 2],
    measured: Duration,
) -> Vec<GroupProfile> {
    let seconds = measured.as_secs_f64().max(1e-3);
    groups
        .iter()
        .enumerate()
        .filter_map(|(g, group)| {
            let (Some(before), Some(after)) = (&committed[0][g], &committed[1][g]) else {
                return None;
            };
            let on: Vec<usize> = (0..topics.len())
                .filter(|&t| after[t].iter().any(|&c| c >= 0))
                .collect();
            if on.is_empty() {
                return None;
            }
            let lag = |marks: &[Vec<i64>], commits: &[Vec<i64>]| -> i64 {
                on.iter()
                    .flat_map(|&t| marks[t].iter().zip(&commits[t]))
                    .filter(|&(_, &c)| c >= 0)
                    .map(|(&end, &c)| (end - c).max(0))
                    .sum()
            };
            let consumed: i64 = on
                .iter()
                .flat_map(|&t| before[t].iter().zip(&after[t]))
                .filter(|&(&b, &a)| b >= 0 && a >= 0)
                .map(|(&b, &a)| (a - b).max(0))
                .sum();
            let end = ends.iter().find(|e| e.name == group.name);
            Some(GroupProfile {
                name: group.name.clone(),
                state: end.map_or(group.state.clone(), |e| e.state.clone()),
                members: end.map(|e| e.members),
                topics: on.iter().map(|&t| topics[t].name.clone()).collect(),
                lag_start: lag(offsets[0], before),
                lag_end: lag(offsets[1], after),
                rate: consumed as f64 / seconds,
                ingress: on.iter().map(|&t| topics[t].rate).sum(),
            })
        })
        .collect()
}
