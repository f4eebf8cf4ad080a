//! `surge profile`'s findings, as plain data: what a window of a live cluster's traffic showed
//! (rates, sampled records, consumer groups), and the scenario that replays it
//! ([`scenario::write`]). No I/O here: `commands/profile.rs` measures, this module describes.

pub mod console;
pub mod envelope;
pub mod fit;
pub mod names;
pub mod sample;
pub mod scenario;

use std::time::Duration;

pub use console::render;
pub use fit::{KeyFit, KeyLaw};
pub use sample::{SampleBook, TypeSample};

/// Everything one profile measured.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profiled cluster's bootstrap servers (written as a comment, never as the bootstrap:
    /// the scenario must not aim a load test at the cluster it was measured on by default).
    pub servers: String,
    /// When the window began (UTC, RFC 3339).
    pub began: String,
    /// The window as asked, and as measured between the first and the last offsets read.
    pub window: Duration,
    pub measured: Duration,
    /// The header that names each record's type (`__TypeId__` unless told otherwise).
    pub type_header: String,
    pub redact_types: bool,
    pub topics: Vec<TopicProfile>,
    pub groups: Vec<GroupProfile>,
    /// The whole traffic's rate per interval: (seconds since the window began at the interval's
    /// middle, events/s).
    pub curve: Vec<(f64, f64)>,
    /// Facts a reader needs that are not numbers: what could not be read, what was left out.
    pub notes: Vec<String>,
    /// The peak factor asked for with `--scale`.
    pub scale: f64,
}

impl Profile {
    /// Events/s over every topic.
    pub fn total_rate(&self) -> f64 {
        self.topics.iter().map(|t| t.rate).sum()
    }

    /// Offsets/s over every topic: what the curve counts.
    pub fn offset_rate(&self) -> f64 {
        self.topics.iter().map(|t| t.offset_rate).sum()
    }

    /// Events/s over the topics the scenario replays: those whose records were sampled.
    pub fn replayed_rate(&self) -> f64 {
        self.topics
            .iter()
            .filter(|t| !t.types.is_empty())
            .map(|t| t.rate)
            .sum()
    }
}

/// One topic: its layout, its rate through the window and what its sampled records showed.
#[derive(Debug, Clone)]
pub struct TopicProfile {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    /// The settings carried over ([`crate::kafka::profile::TOPIC_SETTINGS`]), or why the
    /// broker did not describe them.
    pub settings: Result<Vec<(String, String)>, String>,
    /// Records appended during the window, and the rate they make.
    pub records: u64,
    pub rate: f64,
    /// Offsets appended per second: the rate before transaction markers and aborted records
    /// are taken out (what group offsets and the curve count).
    pub offset_rate: f64,
    /// The busiest partition's records against the mean partition's (1.0: even).
    pub partition_skew: f64,
    /// Partitions read for the sample, and records read.
    pub sampled_partitions: usize,
    pub sampled: u64,
    /// The record types found, by share of the sample (largest first).
    pub types: Vec<TypeSample>,
    /// Header names seen, with the share of sampled records that carried each.
    pub headers: Vec<(String, f64)>,
    /// Mean value bytes of a sampled record.
    pub mean_value_bytes: f64,
}

impl TopicProfile {
    /// Value bytes per second: the rate times the sampled mean value size.
    pub fn bytes_per_s(&self) -> f64 {
        self.rate * self.mean_value_bytes
    }
}

/// One consumer group that commits offsets on the profiled topics.
#[derive(Debug, Clone)]
pub struct GroupProfile {
    pub name: String,
    pub state: String,
    /// Members at the end of the window; `None` when the cluster did not describe the group.
    pub members: Option<usize>,
    /// The profiled topics it has committed offsets on.
    pub topics: Vec<String>,
    /// Its lag (end offsets minus committed) at the window's start and end, summed.
    pub lag_start: i64,
    pub lag_end: i64,
    /// Events/s it committed through the window, and the rate its topics were written at.
    pub rate: f64,
    pub ingress: f64,
}

impl GroupProfile {
    /// Whether the group could not keep up: its lag grew by more than a second of ingress and
    /// it consumed less than 95% of what was written.
    pub fn is_bottleneck(&self) -> bool {
        self.lag_end - self.lag_start > self.ingress.max(1.0) as i64
            && self.rate < 0.95 * self.ingress
    }

    /// The processing time per event and member that makes this group consume at its measured
    /// rate, at most [`envelope::MAX_PROCESSING_TIME`]: `None` unless it was the bottleneck
    /// (then surge's default leaves it as fast as it can be).
    pub fn processing_time(&self) -> Option<Duration> {
        let members = self.members.filter(|&m| m > 0)? as f64;
        (self.is_bottleneck() && self.rate > 0.0).then(|| {
            Duration::from_secs_f64(members / self.rate).min(envelope::MAX_PROCESSING_TIME)
        })
    }
}
