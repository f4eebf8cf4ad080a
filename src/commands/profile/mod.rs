//! `surge profile`: measures a live cluster's traffic through a window (read-only: end
//! offsets, group offsets, and a bounded sample of records read without a group), then writes
//! a scenario that replays it ([`crate::profile`]).

mod sample;
mod window;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::connect::{connect, runtime};
use crate::engine::StopSignal;
use crate::error::SurgeError;
use crate::kafka::ClusterInfo;
use crate::kafka::profile::{EndOffsets, GroupListing, list_groups, topic_settings};
use crate::profile::{Profile, TopicProfile, envelope, names, scenario};
use crate::scenario::{Overrides, Scenario};

/// At most this many consumer groups are asked for their offsets.
pub const MAX_GROUPS: usize = 500;

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
    /// Interrupted (Ctrl-C, SIGTERM): the window was cut short, and the scenario says so.
    pub partial: bool,
}

/// Measures, fits the findings to what a run holds, and writes the scenario (and its curve)
/// once it loads as `surge validate` would.
pub fn profile(
    options: &ProfileOptions,
    stop: Arc<StopSignal>,
) -> Result<ProfileOutcome, SurgeError> {
    let curve_path = options.out.with_extension("rates.csv");
    // Where the files go is checked before the window, not after it.
    let dir = options
        .out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if options.out.is_dir() || !dir.is_dir() {
        return Err(SurgeError::Usage {
            problem: format!(
                "--out {} is a directory, or its directory does not exist",
                options.out.display()
            ),
            fix: "pass --out a file path in an existing directory, e.g. profile.toml".into(),
        });
    }
    for path in [&options.out, &curve_path] {
        if path.exists() && !options.force {
            return Err(SurgeError::Usage {
                problem: format!("{} exists", path.display()),
                fix: "choose another --out, or pass --force to replace it".into(),
            });
        }
    }
    let scenario = super::check::connectivity_scenario(&options.overrides, "surge profile")?;
    let rt = runtime()?;
    let interrupts = {
        let _entered = rt.enter();
        crate::engine::watch_interrupts(stop.clone())
    };
    let measured = rt.block_on(measure(&scenario, options, &stop));
    interrupts.abort();
    let mut profile = measured?;
    envelope::fit(&mut profile);
    let stem = options
        .out
        .file_stem()
        .map_or("profile".into(), |s| s.to_string_lossy().into_owned());
    let curve = (profile.curve.len() >= 3).then_some(curve_path);
    write_checked(
        &options.out,
        curve.as_deref(),
        &profile,
        &names::sanitized(&stem),
    )?;
    Ok(ProfileOutcome {
        profile,
        scenario: options.out.clone(),
        curve,
        partial: stop.is_requested(),
    })
}

/// Writes the scenario and its curve into a private directory beside `out`, loads the scenario
/// as `surge validate` would, then moves both into place: a scenario that would not load is
/// never left behind, nor written over a file that was there.
fn write_checked(
    out: &Path,
    curve: Option<&Path>,
    profile: &Profile,
    name: &str,
) -> Result<(), SurgeError> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SurgeError::Output { path, source }
    };
    let staging = tempfile::Builder::new()
        .prefix(".surge-profile-")
        .tempdir_in(dir)
        .map_err(failed(dir))?;
    let staged = |path: &Path| staging.path().join(path.file_name().unwrap_or_default());
    let curve_name = curve.map(|c| {
        c.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    });
    if let Some(curve) = curve {
        let csv = scenario::curve_csv(profile);
        crate::output::write(&staged(curve), csv.as_bytes()).map_err(failed(curve))?;
    }
    let text = scenario::write(profile, name, curve_name.as_deref());
    crate::output::write(&staged(out), text.as_bytes()).map_err(failed(out))?;
    super::validate(&staged(out), &Overrides::default()).map_err(|error| SurgeError::Usage {
        problem: format!("the scenario measured from the cluster would not load: {error}"),
        fix: "profile fewer topics with --topics; a profile that does not load is a bug in \
              surge, worth reporting"
            .into(),
    })?;
    std::fs::rename(staged(out), out).map_err(failed(out))?;
    if let Some(curve) = curve {
        std::fs::rename(staged(curve), curve).map_err(failed(curve))?;
    }
    Ok(())
}

/// The topics to profile: every listed one the filter matches, internal ones (`__`) left out.
fn chosen_topics(
    info: &ClusterInfo,
    servers: &str,
    filter: Option<&regex::Regex>,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, i32, i32)>, SurgeError> {
    let mut chosen: Vec<(String, i32, i32)> = info
        .topics
        .iter()
        .filter(|(name, _, _)| !name.starts_with("__"))
        .filter(|(name, _, _)| filter.is_none_or(|f| f.is_match(name)))
        .cloned()
        .collect();
    chosen.sort();
    let unfit: Vec<String> = chosen
        .iter()
        .filter(|(name, partitions, rf)| !envelope::holds_topic(name, *partitions, *rf))
        .map(|t| t.0.chars().take(60).collect())
        .collect();
    chosen.retain(|(name, partitions, rf)| envelope::holds_topic(name, *partitions, *rf));
    if !unfit.is_empty() {
        notes.push(format!(
            "left out, as a scenario cannot hold them (a name over 200 characters, over 10,000 \
             partitions or a replication factor over 16): {}",
            unfit.join(", ")
        ));
    }
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

/// The window, the groups at both ends, then the sample; every figure from the cluster.
async fn measure(
    scenario: &Scenario,
    options: &ProfileOptions,
    stop: &StopSignal,
) -> Result<Profile, SurgeError> {
    let connected = connect(scenario).await?;
    let servers = connected.servers.clone();
    let properties = connected.scenario.cluster.consumer.clone();
    let timeout = scenario.limits.connect_timeout;
    let info = connected.info.clone().expect("a real cluster was probed");
    let mut notes = Vec::new();
    let topics = chosen_topics(&info, &servers, options.topics.as_ref(), &mut notes)?;
    let asked: Vec<(String, i32)> = topics.iter().map(|t| (t.0.clone(), t.1)).collect();
    let names: Vec<String> = topics.iter().map(|t| t.0.clone()).collect();
    let settings = topic_settings(&servers, &properties, &names, timeout).await?;
    let groups = group_candidates(&servers, &properties, timeout, &mut notes);
    let ends = EndOffsets::new(&servers, &properties)?;
    let began = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let read_groups = |notes: &mut Vec<String>| {
        window::committed(&servers, &properties, &groups, &asked, timeout, notes)
    };
    let at_start = read_groups(&mut notes);
    let offsets = window::watch(&ends, &asked, options.window, timeout, stop).await?;
    if stop.is_requested() {
        notes.push(format!(
            "partial: interrupted {:.1} s into the {} s window; the rates are over what was \
             watched",
            offsets.measured.as_secs_f64(),
            options.window.as_secs()
        ));
    }
    let listed_at_end = list_groups(&servers, &properties, timeout).unwrap_or_default();
    let at_end = read_groups(&mut notes);
    if offsets.unanswered > 0 {
        notes.push(format!(
            "{} readings of the end offsets got no answer within {} s and were skipped",
            offsets.unanswered,
            timeout.as_secs()
        ));
    }
    for name in &offsets.vanished {
        notes.push(format!(
            "{name} stopped answering for its end offsets during the window (deleted, or a \
             leader moving): its records are counted to its last answer"
        ));
    }
    let spans = (0..topics.len())
        .map(|i| {
            let (first, last) = (&offsets.first[i], &offsets.last[i]);
            sample::spans_of(&topics[i].0, first, last, options.sample)
        })
        .collect();
    let samples = sample::read(&servers, &properties, spans, options, stop, &mut notes);
    let refused = samples.iter().any(|s| s.refused);
    let mut profiles = topic_profiles(&topics, settings, &offsets);
    for (topic, sample) in profiles.iter_mut().zip(samples) {
        fill_sample(topic, sample, &mut notes);
    }
    note_topics_without_events(&profiles, &mut notes);
    if profiles.iter().all(|t| t.types.is_empty()) {
        let watched = offsets.measured;
        return Err(nothing_measured(
            &profiles, &servers, watched, refused, &notes,
        ));
    }
    let at = [at_start.as_slice(), at_end.as_slice()];
    let groups = window::group_profiles(&groups, &listed_at_end, at, &profiles, &offsets);
    Ok(Profile {
        servers,
        began,
        window: options.window,
        measured: offsets.measured,
        type_header: options.type_header.clone(),
        redact_types: options.redact_types,
        topics: profiles,
        groups,
        curve: offsets.curve,
        notes,
        scale: options.scale,
    })
}

/// A note for each topic the scenario lists with no event, saying why.
fn note_topics_without_events(topics: &[TopicProfile], notes: &mut Vec<String>) {
    for topic in topics.iter().filter(|t| t.types.is_empty()) {
        notes.push(if topic.records == 0 {
            format!(
                "no record was written to {} during the window: it is listed with no event",
                topic.name
            )
        } else {
            format!(
                "no record of {} could be read for its sample: it is listed with no event",
                topic.name
            )
        });
    }
}

/// Why no event could be measured: no traffic in the window, or no record could be read.
fn nothing_measured(
    topics: &[TopicProfile],
    servers: &str,
    watched: Duration,
    refused: bool,
    notes: &[String],
) -> SurgeError {
    if topics.iter().all(|t| t.records == 0) {
        return SurgeError::Usage {
            problem: format!(
                "no record was written to the {} profiled topics of {servers} in the {:.1} s \
                 watched: there is no traffic to measure",
                topics.len(),
                watched.as_secs_f64()
            ),
            fix: "profile while the traffic runs, with a longer --window, or other --topics".into(),
        };
    }
    SurgeError::Usage {
        problem: format!(
            "records were written to the profiled topics of {servers}, but none could be read \
             for a sample: {}",
            notes.join("; ")
        ),
        fix: if refused {
            "grant this principal Read on the topics (and Describe), or profile other --topics"
        } else {
            "profile fewer topics at once (the sample read is bounded), or other --topics"
        }
        .into(),
    }
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
            if groups.is_empty() {
                notes.push(
                    "no consumer group was listed (a principal without Describe on a group does \
                     not see it)"
                        .into(),
                );
            }
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

fn topic_profiles(
    topics: &[(String, i32, i32)],
    settings: Vec<Result<Vec<(String, String)>, String>>,
    offsets: &window::Offsets,
) -> Vec<TopicProfile> {
    let seconds = offsets.measured.as_secs_f64().max(1e-3);
    topics
        .iter()
        .zip(settings)
        .enumerate()
        .map(|(i, ((name, partitions, replicas), settings))| {
            let written: Vec<u64> = offsets.first[i]
                .iter()
                .zip(&offsets.last[i])
                .map(|(a, b)| match (a, b) {
                    (Some(a), Some(b)) => (b - a).max(0) as u64,
                    _ => 0,
                })
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
                rate: records as f64 / seconds,
                offset_rate: records as f64 / seconds,
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

/// A topic's figures from its sample. Offsets that held no record (transaction markers,
/// aborted records) are taken out of its rate, by their share of the sampled spans. The key
/// counts of a sample from some of the partitions written to are scaled up by their share: a
/// key lives in one partition.
fn fill_sample(topic: &mut TopicProfile, sample: sample::TopicSample, notes: &mut Vec<String>) {
    let book = sample.book;
    topic.sampled = book.records();
    topic.sampled_partitions = sample.read;
    topic.mean_value_bytes = book.mean_value_bytes();
    topic.headers = book.headers();
    topic.types = book.types();
    if let Some(offsets) = sample.offsets.filter(|&o| o > 0) {
        let share = topic.sampled as f64 / offsets as f64;
        if share < 0.99 {
            topic.records = (topic.records as f64 * share).round() as u64;
            topic.rate *= share;
            notes.push(format!(
                "{:.1}% of the sampled offsets of {} held no record (transaction markers or \
                 aborted records): its rate counts records",
                (1.0 - share) * 100.0,
                topic.name
            ));
        }
    }
    if sample.read == 0 || sample.written <= sample.read {
        return;
    }
    let factor = sample.written as f64 / sample.read as f64;
    for kind in &mut topic.types {
        if let Some(keys) = &mut kind.keys {
            let scaled = |n: u64| (n as f64 * factor).round() as u64;
            keys.keys = scaled(keys.keys);
            keys.keys_low = scaled(keys.keys_low);
            keys.keys_high = keys.keys_high.map(scaled);
        }
    }
    notes.push(format!(
        "the key counts of {} are scaled by {factor:.2}: its sample read {} of the {} partitions \
         written to",
        topic.name, sample.read, sample.written
    ));
}
