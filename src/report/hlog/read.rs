//! Reading interval logs back, as untrusted input: line by line, each histogram's header
//! checked against surge's bounds before anything is allocated for it, tags and times checked,
//! and at most one interval a second of the run kept (in a temporary file).

use std::path::Path;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use super::TOTALS_FILE;
use crate::metrics::{Histograms, IntervalSample};
use crate::report::ReportError;

/// The longest line an interval log may have. One of surge's histograms (1 µs to an hour,
/// 3 digits: 23,552 counts) encodes to at most about 210 KB, 280 KB in base64.
const MAX_LINE: usize = 1 << 20;

/// The most interval logs a run directory may hold: publish, schedule lag and one per group
/// (16 at most), with room to spare. Each holds one interval a second of the run at most.
pub const MAX_LOGS: usize = 32;

/// The most histograms the totals log holds: publish, schedule lag, and for each group its
/// e2e, and when it fails events, their retry delay and e2e.
pub const MAX_TOTALS: usize = 2 + 3 * crate::scenario::MAX_GROUPS;

/// Seconds an interval log may hold beyond the run's length (its last interval, rounding).
const SPARE_SECONDS: f64 = 120.0;

/// The longest run a log's timestamps may reach.
const LONGEST_S: f64 = crate::summary::LONGEST_RUN.as_secs_f64();

/// One histogram read from a log: start, length, tag.
type Logged = (f64, f64, String, Histogram<u64>);

/// Reads the log at `path` line by line, handing each histogram to `each` as it is decoded:
/// memory holds one line and one histogram, however long the run was.
fn read_log(
    path: &Path,
    each: &mut dyn FnMut(Logged) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let damaged = |line: usize, detail: String| ReportError::Parse {
        path: path.to_path_buf(),
        detail: format!("line {line}: {detail}"),
    };
    if !path.is_file() {
        return Err(ReportError::Input(crate::input::InputError::NotAFile {
            path: path.to_path_buf(),
        }));
    }
    let file = std::fs::File::open(path).map_err(|source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    for number in 1.. {
        let read = crate::input::read_line(&mut reader, &mut line, MAX_LINE).map_err(|source| {
            ReportError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        match read {
            Ok(false) => return Ok(()),
            Err(()) => {
                return Err(damaged(
                    number,
                    format!("longer than {MAX_LINE} bytes, which no surge histogram needs"),
                ));
            }
            Ok(true) => {}
        }
        // The parser wants every line ended, the last one too.
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        for entry in IntervalLogIterator::new(&line) {
            let entry = entry.map_err(|_| {
                damaged(
                    number,
                    "not an interval-log line (a `#` comment or `Tag=NAME,start,length,max,histogram`)".into(),
                )
            })?;
            if let LogEntry::Interval(interval) = entry {
                let histogram = decode_line(interval.encoded_histogram())
                    .map_err(|detail| damaged(number, detail))?;
                let tag = interval
                    .tag()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default();
                check_tag(&tag).map_err(|detail| damaged(number, detail))?;
                let (start, length) = (
                    interval.start_timestamp().as_secs_f64(),
                    interval.duration().as_secs_f64(),
                );
                if !(0.0..=LONGEST_S).contains(&start) || !(0.0..=LONGEST_S).contains(&length) {
                    return Err(damaged(
                        number,
                        format!(
                            "the interval starts at {start} s and lasts {length} s: not within a run (0 to {LONGEST_S} s)"
                        ),
                    ));
                }
                each((start, length, tag, histogram))?;
            }
        }
    }
    Ok(())
}

/// A tag is a metric surge records: `publish`, `schedule_lag` or `e2e.GROUP`, whose names
/// are letters, digits, `-`, `_` and `.`. Logs are written under names made of tags, so a tag
/// read back may not name a path (`/tmp/x`, `sub/x`) or anything else.
fn check_tag(tag: &str) -> Result<(), String> {
    let plain = tag
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if tag.is_empty() || tag.len() > 200 || !plain {
        return Err(format!(
            "the tag `{}` is not one of surge's metrics (letters, digits, `-`, `_` and `.`)",
            crate::input::quote(tag, 60)
        ));
    }
    Ok(())
}

/// Decodes one base64 V2 histogram, compressed or not, checking what its header claims
/// before anything is allocated for it: a payload no longer than a histogram of surge's
/// bounds can need, and bounds within surge's. The result has surge's bounds.
pub fn decode_line(encoded: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("the histogram is not base64: {e}"))?;
    let plain = plain_v2(&bytes)?;
    let header = V2Header::parse(&plain)?;
    header.check()?;
    check_counts(&plain[V2Header::LEN..V2Header::LEN + header.payload_len as usize])?;
    let decoded: Histogram<u64> = Deserializer::new()
        .deserialize(&mut plain.as_slice())
        .map_err(|e| format!("the histogram does not decode: {e}"))?;
    let mut histogram = crate::metrics::latency::new_histogram();
    histogram
        .add(&decoded)
        .map_err(|e| format!("the histogram holds values surge does not record: {e:?}"))?;
    Ok(histogram)
}

/// The most events one histogram may count: far beyond any run, far below where adding
/// counts could overflow.
const MAX_COUNT: u64 = 1 << 50;

/// Walks a V2 payload's counts as the decoder will (zigzag LEB128, at most 9 bytes a number,
/// a negative number a run of empty buckets) and refuses what would overflow it or what it
/// adds up to: a number it cannot negate, runs past the buckets, counts beyond [`MAX_COUNT`].
fn check_counts(payload: &[u8]) -> Result<(), String> {
    let buckets = crate::metrics::latency::new_histogram().distinct_values() as u64;
    let (mut at, mut bucket, mut total) = (0usize, 0u64, 0u64);
    while at < payload.len() {
        let mut value: u64 = 0;
        let mut read = 0;
        loop {
            let Some(&byte) = payload.get(at + read) else {
                return Err("the histogram's counts end inside a number".into());
            };
            if read == 8 {
                value |= u64::from(byte) << 56;
                read += 1;
                break;
            }
            value |= u64::from(byte & 0x7f) << (7 * read);
            read += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        at += read;
        let number = ((value >> 1) as i64) ^ -((value & 1) as i64);
        if number < 0 {
            bucket = bucket.saturating_add(number.unsigned_abs());
        } else {
            bucket += 1;
            total = total.saturating_add(number as u64);
        }
        if number == i64::MIN || bucket > buckets || total > MAX_COUNT {
            return Err(format!(
                "the histogram's counts are not a histogram's (more than {buckets} buckets, or more than {MAX_COUNT} events)"
            ));
        }
    }
    Ok(())
}

/// The V2 cookies, plain and deflate-compressed, with the word size bits (0x10) set as every
/// V2 writer sets them.
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;

/// The bytes of a plain V2 histogram: `bytes` itself, or `bytes` inflated, reading no more
/// than a histogram of surge's bounds can take.
fn plain_v2(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cookie = |b: &[u8]| {
        b.get(..4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    };
    match cookie(bytes) {
        Some(V2_COOKIE) => Ok(bytes.to_vec()),
        Some(V2_COMPRESSED_COOKIE) => {
            let body = bytes
                .get(8..)
                .ok_or("the compressed histogram is cut short")?;
            let mut plain = Vec::new();
            flate2::read::ZlibDecoder::new(body)
                .take(V2Header::LEN as u64 + max_payload() as u64 + 1)
                .read_to_end(&mut plain)
                .map_err(|e| format!("the compressed histogram does not inflate: {e}"))?;
            if cookie(&plain) != Some(V2_COOKIE) {
                return Err("the compressed histogram holds no V2 histogram".into());
            }
            Ok(plain)
        }
        _ => Err("not an HdrHistogram V2 histogram (unknown cookie)".into()),
    }
}

/// The most payload bytes a histogram of surge's bounds encodes to: 9 bytes a count.
fn max_payload() -> usize {
    crate::metrics::latency::new_histogram().distinct_values() * 9
}

/// What a plain V2 histogram's header declares.
struct V2Header {
    payload_len: u32,
    digits: u32,
    low: u64,
    high: u64,
    available: usize,
}

impl V2Header {
    /// Cookie, payload length, normalizing offset, digits, lowest, highest, ratio.
    const LEN: usize = 4 + 4 + 4 + 4 + 8 + 8 + 8;

    fn parse(plain: &[u8]) -> Result<V2Header, String> {
        if plain.len() < Self::LEN {
            return Err("the histogram's header is cut short".into());
        }
        let u32_at =
            |at: usize| u32::from_be_bytes(plain[at..at + 4].try_into().unwrap_or_default());
        let u64_at =
            |at: usize| u64::from_be_bytes(plain[at..at + 8].try_into().unwrap_or_default());
        Ok(V2Header {
            payload_len: u32_at(4),
            digits: u32_at(12),
            low: u64_at(16),
            high: u64_at(24),
            available: plain.len() - Self::LEN,
        })
    }

    fn check(&self) -> Result<(), String> {
        let max = crate::metrics::latency::MAX_TRACKABLE_US;
        if self.payload_len as usize > self.available || self.payload_len as usize > max_payload() {
            return Err(format!(
                "the histogram claims {} bytes of counts, and {} follow (at most {} for surge's histograms)",
                self.payload_len,
                self.available,
                max_payload()
            ));
        }
        if self.digits > 3
            || self.low == 0
            || self.high > max
            || self.low.saturating_mul(2) > self.high
        {
            return Err(format!(
                "the histogram's bounds ({} to {} µs, {} digits) are not within surge's (1 to {max} µs, 3 digits)",
                self.low, self.high, self.digits
            ));
        }
        Ok(())
    }
}

/// Reads back every `*.hlog` a run of `seconds` wrote: at most [`MAX_LOGS`] logs, each with
/// at most one interval a second of the run, and as many totals. The intervals go to a
/// temporary file as they are read (see [`crate::metrics::Intervals`]), so memory holds about
/// 40 bytes an interval: 1.6 MB for an hour of four metrics.
pub fn read(dir: &Path, seconds: f64) -> Result<Histograms, ReportError> {
    let mut histograms = Histograms {
        intervals: crate::metrics::Intervals::spilling(),
        totals: Vec::new(),
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| ReportError::ListDir {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "hlog"))
        .collect();
    entries.sort();
    if entries.len() > MAX_LOGS {
        return Err(ReportError::Parse {
            path: dir.to_path_buf(),
            detail: format!(
                "{} interval logs, more than a run writes ({MAX_LOGS} at most)",
                entries.len()
            ),
        });
    }
    // The last second an interval may start at, and so the most a log may hold.
    let last_start = seconds.clamp(0.0, LONGEST_S) + SPARE_SECONDS;
    let per_log = last_start as usize;
    for path in &entries {
        let totals = path.file_name().is_some_and(|n| n == TOTALS_FILE);
        let mut count = 0usize;
        read_log(path, &mut |(start, length, tag, h)| {
            count += 1;
            if start > last_start {
                return Err(ReportError::Parse {
                    path: path.to_path_buf(),
                    detail: format!(
                        "an interval starts at {start} s, after the run's {seconds:.0} s: it is not this run's log"
                    ),
                });
            }
            if count > if totals { MAX_TOTALS } else { per_log } {
                return Err(too_many(path, seconds));
            }
            if totals {
                histograms.totals.push((tag, h));
            } else {
                histograms
                    .intervals
                    .push(IntervalSample::new(start, length, tag, &h));
            }
            Ok(())
        })?;
    }
    histograms.intervals.sort_by_start();
    Ok(histograms)
}

fn too_many(path: &Path, seconds: f64) -> ReportError {
    ReportError::Parse {
        path: path.to_path_buf(),
        detail: format!(
            "more histograms than a run of {seconds:.0} s writes (one a second of each metric, one total of each): it is not this run's log"
        ),
    }
}
