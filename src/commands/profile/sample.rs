//! The sample: after the window, at most `--sample` records per topic read from assigned
//! partitions (no group), all topics through one client within [`SAMPLE_READ_LIMIT`]; after
//! a refusal, one topic after another, to name the one refused.

use std::time::{Duration, Instant};

use super::ProfileOptions;
use crate::engine::StopSignal;
use crate::kafka::profile::sample_spans;
use crate::kafka::reader::{REFUSED, Span};
use crate::profile::SampleBook;

/// At most this many partitions of a topic are read for its sample, spread over its partitions.
pub const MAX_SAMPLED_PARTITIONS: usize = 64;
/// How long reading every topic's sample may take, whatever their number and size.
pub const SAMPLE_READ_LIMIT: Duration = Duration::from_secs(60);

/// One topic's sample, and what it was read from.
pub struct TopicSample {
    pub book: SampleBook,
    /// Partitions read, and partitions written to during the window.
    pub read: usize,
    pub written: usize,
    /// Offsets the spans covered, when every span was read to its end (`None` otherwise): with
    /// the records read, the share of offsets that are records (not transaction markers or
    /// aborted records).
    pub offsets: Option<u64>,
    /// Whether an ACL refused the read.
    pub refused: bool,
}

impl TopicSample {
    fn new(read: usize, written: usize) -> TopicSample {
        TopicSample {
            book: SampleBook::default(),
            read,
            written,
            offsets: None,
            refused: false,
        }
    }
}

/// The offsets the spans cover.
fn offsets_of(spans: &[Span]) -> u64 {
    spans.iter().map(|s| (s.to - s.from) as u64).sum()
}

/// The spans to read for one topic's sample: at most `sample` records from at most
/// [`MAX_SAMPLED_PARTITIONS`] of its partitions (spread evenly over those written to), each
/// partition's share in proportion to its records, the last of the window's. Also returns how
/// many partitions were written to.
pub fn spans_of(
    name: &str,
    first: &[Option<i64>],
    last: &[Option<i64>],
    sample: u64,
) -> (Vec<Span>, usize) {
    let written: Vec<(i32, i64, i64)> = (0..)
        .zip(first.iter().zip(last))
        .filter_map(|(p, (a, b))| Some((p, (*a)?, (*b)?)))
        .filter(|(_, a, b)| b > a)
        .collect();
    let every = written.len().div_ceil(MAX_SAMPLED_PARTITIONS).max(1);
    let chosen: Vec<&(i32, i64, i64)> = written.iter().step_by(every).collect();
    let total: i64 = chosen.iter().map(|(_, a, b)| b - a).sum();
    let spans = chosen
        .iter()
        .map(|&&(partition, from, to)| {
            let share = (sample as f64 * (to - from) as f64 / total as f64).ceil() as i64;
            Span {
                topic: name.to_string(),
                partition,
                from: (to - share).max(from),
                to,
            }
        })
        .collect();
    (spans, written.len())
}

/// Reads every topic's sample through one client, within [`SAMPLE_READ_LIMIT`]. A refusal
/// cannot be told apart by topic in that read, so then each topic is read again on its own
/// ([`read_each`]), and the one this principal may not read is named.
pub fn read(
    servers: &str,
    properties: &[(String, String)],
    spans: Vec<(Vec<Span>, usize)>,
    options: &ProfileOptions,
    stop: &StopSignal,
    notes: &mut Vec<String>,
) -> Vec<TopicSample> {
    let deadline = Instant::now() + SAMPLE_READ_LIMIT;
    let mut samples: Vec<TopicSample> = spans
        .iter()
        .map(|(spans, written)| TopicSample::new(spans.len(), *written))
        .collect();
    let topic_of: Vec<usize> = spans
        .iter()
        .enumerate()
        .flat_map(|(t, (spans, _))| std::iter::repeat_n(t, spans.len()))
        .collect();
    let all: Vec<Span> = spans.iter().flat_map(|(s, _)| s.iter().cloned()).collect();
    if all.is_empty() {
        return samples;
    }
    let type_header = options.type_header.as_str();
    // A second Ctrl-C (an abort) stops the sample read too.
    let stopped = || stop.is_aborted();
    let outcome = sample_spans(servers, properties, &all, deadline, stopped, |i, r| {
        samples[topic_of[i]]
            .book
            .add(r.key, r.value_len, &r.headers, type_header)
    });
    match outcome {
        Ok(()) => {
            for (sample, (spans, _)) in samples.iter_mut().zip(&spans) {
                sample.offsets = Some(offsets_of(spans));
            }
            samples
        }
        Err(why) if why.contains(REFUSED) => {
            read_each(servers, properties, spans, options, stop, deadline, notes)
        }
        Err(why) => {
            notes.push(format!(
                "the sample read stopped after {} records in all: {why}",
                samples.iter().map(|s| s.book.records()).sum::<u64>()
            ));
            samples
        }
    }
}

/// Reads each topic's sample with a client of its own, each within its share of the time left
/// until `deadline`; a topic this principal may not read, or one its share cut short, is named.
fn read_each(
    servers: &str,
    properties: &[(String, String)],
    spans: Vec<(Vec<Span>, usize)>,
    options: &ProfileOptions,
    stop: &StopSignal,
    deadline: Instant,
    notes: &mut Vec<String>,
) -> Vec<TopicSample> {
    let type_header = options.type_header.as_str();
    let mut left = spans.iter().filter(|(s, _)| !s.is_empty()).count() as u32;
    spans
        .into_iter()
        .map(|(spans, written)| {
            let mut sample = TopicSample::new(spans.len(), written);
            let Some(first) = spans.first() else {
                return sample;
            };
            let share = deadline.saturating_duration_since(Instant::now()) / left.max(1);
            left = left.saturating_sub(1);
            let book = &mut sample.book;
            let until = Instant::now() + share;
            let stopped = || stop.is_aborted();
            let outcome = sample_spans(servers, properties, &spans, until, stopped, |_, r| {
                book.add(r.key, r.value_len, &r.headers, type_header)
            });
            match outcome {
                Ok(()) => sample.offsets = Some(offsets_of(&spans)),
                Err(why) => {
                    sample.refused = why.contains(REFUSED);
                    notes.push(format!(
                        "the sample of {} stopped after {} records: {why}",
                        first.topic,
                        sample.book.records()
                    ));
                }
            }
            sample
        })
        .collect()
}
