//! HdrHistogram interval logs (`*.hlog`), V2 compressed, one-second intervals, values in
//! microseconds. Java's HistogramLogProcessor and HistogramLogAnalyzer read them; pass
//! `-outputValueUnitRatio 1000` to see milliseconds. `totals.hlog` holds the cumulative,
//! warmup-free histogram of each metric, which `surge report` reads back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::{Exporter, Output, ReportError, RunData};

mod read;

pub use read::{MAX_LOGS, MAX_TOTALS, decode_line, read};

/// The file of cumulative histograms.
pub const TOTALS_FILE: &str = "totals.hlog";

/// The interval logs every run writes: publish, schedule lag, and each group's e2e latency.
pub fn expected_tags(summary: &crate::summary::Summary) -> Vec<String> {
    use crate::metrics::histograms::{PUBLISH, SCHEDULE_LAG, e2e_tag};
    let mut tags = vec![PUBLISH.to_string(), SCHEDULE_LAG.to_string()];
    tags.extend(summary.groups.iter().map(|g| e2e_tag(&g.name)));
    tags
}

/// File name of a tag's interval log: `e2e.orders` -> `e2e-orders.hlog`.
pub fn file_name(tag: &str) -> String {
    format!("{}.hlog", tag.replace(['.', '_'], "-"))
}

fn start_time(started_at: &str) -> SystemTime {
    chrono::DateTime::parse_from_rfc3339(started_at)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_micros()).ok())
        .map_or(UNIX_EPOCH, |micros| {
            UNIX_EPOCH + Duration::from_micros(micros)
        })
}

/// Encodes one interval log, the bytes of `file`.
fn write_log<'h>(
    file: &str,
    start: SystemTime,
    comment: &str,
    histograms: impl Iterator<Item = (f64, f64, &'h str, Histogram<u64>)>,
) -> Result<Vec<u8>, ReportError> {
    let failed = |error: &dyn std::fmt::Display| ReportError::encode(file, error);
    let mut bytes = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(comment)
        .add_comment("Values are in microseconds (use -outputValueUnitRatio 1000 for milliseconds)")
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1.0);
    let mut writer = builder
        .begin_log_with(&mut bytes, &mut serializer)
        .map_err(|e| failed(&e))?;
    for (start_s, duration_s, tag, histogram) in histograms {
        let tag = Tag::new(tag).ok_or_else(|| failed(&format!("`{tag}` cannot be an hlog tag")))?;
        writer
            .write_histogram(
                &histogram,
                Duration::from_secs_f64(start_s),
                Duration::from_secs_f64(duration_s),
                Some(tag),
            )
            .map_err(|e| failed(&e))?;
    }
    drop(writer);
    Ok(bytes)
}

/// Writes one interval log per metric and group, and `totals.hlog`.
pub struct HlogExporter;

impl Exporter for HlogExporter {
    fn name(&self) -> &'static str {
        "hdrhistogram interval logs"
    }

    fn render(&self, run: &RunData) -> Result<Vec<Output>, ReportError> {
        let start = start_time(&run.summary.started_at);
        let mut outputs = Vec::new();
        // Every metric the run records gets its log, an empty one when it saw no sample (a run
        // stopped during the group join), so that a missing file always means a damaged run dir.
        let mut tags = expected_tags(&run.summary);
        for tag in run.histograms.interval_tags() {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        for tag in tags {
            let samples = run.histograms.intervals.iter().filter(|s| s.tag == tag);
            let comment = format!(
                "surge {}: {tag}, one-second intervals",
                run.summary.scenario.name
            );
            let name = file_name(&tag);
            let bytes = write_log(
                &name,
                start,
                &comment,
                samples.map(|s| (s.start_s, s.duration_s, tag.as_str(), s.histogram())),
            )?;
            outputs.push(Output { name, bytes });
        }
        let length = run.summary.startup.run_time_s;
        let comment = format!(
            "surge {}: cumulative histograms, warmup excluded",
            run.summary.scenario.name
        );
        let totals = run
            .histograms
            .totals
            .iter()
            .map(|(tag, h)| (0.0, length, tag.as_str(), h.clone()));
        outputs.push(Output {
            name: TOTALS_FILE.into(),
            bytes: write_log(TOTALS_FILE, start, &comment, totals)?,
        });
        Ok(outputs)
    }
}
