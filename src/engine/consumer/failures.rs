//! Events whose processing fails: which ones (a seeded draw), their retries with backoff, and
//! their dead-letter records.

use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;

use crate::metrics::{KeyId, new_histogram};
use crate::scenario::FailureSpec;
use crate::workload::EventMeta;

/// One dead-lettered event, by its origin (group topic index, partition, offset).
pub type Origin = (usize, i32, i64);

/// What a group's failing events cost; kept in [`GroupState`].
pub struct FailureState {
    pub failed: u64,
    pub retried: u64,
    pub retries: u64,
    pub non_retryable: u64,
    pub poisoned: u64,
    pub dlt_acked: u64,
    /// Every dead-letter send, by origin: the event it carried.
    pub dead_lettered: FxHashMap<Origin, (KeyId, u32)>,
    pub retry_delay: Histogram<u64>,
    pub e2e_failed: Histogram<u64>,
    pub errors: Vec<String>,
}

impl Default for FailureState {
    fn default() -> Self {
        FailureState {
            failed: 0,
            retried: 0,
            retries: 0,
            non_retryable: 0,
            poisoned: 0,
            dlt_acked: 0,
            dead_lettered: FxHashMap::default(),
            retry_delay: new_histogram(),
            e2e_failed: new_histogram(),
            errors: Vec::new(),
        }
    }
}

/// How processing one event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Succeeds,
    /// Fails on every attempt: retried after each backoff, then dead-lettered.
    FailsAlways {
        poisoned: bool,
    },
    /// Fails with a non-retryable error: dead-lettered at once.
    NonRetryable,
}

/// The fate of an event in a group: a pure function of the seed, the group and the event,
/// so that a redelivery fails the same way.
pub fn fate(failures: &FailureSpec, seed: u64, group: usize, meta: &EventMeta) -> Fate {
    if meta.index < failures.poison_keys {
        return Fate::FailsAlways { poisoned: true };
    }
    let mut h = seed
        ^ (group as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ KeyId::new(meta.producer, meta.aggregate, meta.index).0;
    h ^= (meta.sequence as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    // splitmix64's finaliser: a uniform draw from the event's identity.
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    let draw = (h >> 11) as f64 / (1u64 << 53) as f64;
    if draw < failures.non_retryable_rate {
        Fate::NonRetryable
    } else if draw < failures.non_retryable_rate + failures.rate {
        Fate::FailsAlways { poisoned: false }
    } else {
        Fate::Succeeds
    }
}

/// An event whose processing fails, with what its dead-letter record carries.
pub(super) struct FailingEvent {
    pub(super) topic: usize,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) key: Vec<u8>,
    pub(super) value: Vec<u8>,
    pub(super) meta: EventMeta,
    pub(super) fate: Fate,
}

/// The dead-letter record: ADR-005's `FailedEvent` as JSON (origin topic, partition, offset,
/// key, the event itself, the error and when it failed), plus the run and group it came from.
pub(super) fn failed_event(
    topic: &str,
    failing: &FailingEvent,
    error: &str,
    run: &str,
    group: &str,
    worker: Option<u16>,
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct FailedEvent<'a> {
        topic: &'a str,
        partition: i32,
        offset: i64,
        key: std::borrow::Cow<'a, str>,
        value: &'a serde_json::value::RawValue,
        error_message: &'a str,
        timestamp: String,
        surge_run: &'a str,
        surge_group: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        surge_worker: Option<u16>,
    }
    let text = String::from_utf8_lossy(&failing.value).into_owned();
    let raw = serde_json::value::RawValue::from_string(text.clone())
        .unwrap_or_else(|_| serde_json::value::to_raw_value(&text).expect("a string"));
    let event = FailedEvent {
        topic,
        partition: failing.partition,
        offset: failing.offset,
        key: String::from_utf8_lossy(&failing.key),
        value: &raw,
        error_message: error,
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        surge_run: run,
        surge_group: group,
        surge_worker: worker,
    };
    serde_json::to_vec(&event).expect("serialisable")
}

/// A dead-letter record as read back: the origin and the event it carries.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedEventIn {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Never read, but required: a record without it is not a FailedEvent.
    #[allow(dead_code)]
    pub key: String,
    pub value: Box<serde_json::value::RawValue>,
    pub surge_run: String,
    pub surge_group: String,
    /// The worker of a distributed run that wrote it.
    #[serde(default)]
    pub surge_worker: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(index: u32, sequence: u32) -> EventMeta {
        EventMeta {
            producer: 0,
            aggregate: 0,
            index,
            sequence,
            intended_at_us: 0,
        }
    }

    #[test]
    fn the_failure_draw_matches_the_rates_and_repeats_for_a_redelivery() {
        let spec = crate::scenario::FailureSpec {
            rate: 0.01,
            non_retryable_rate: 0.002,
            poison_keys: 2,
            retry_backoff: Vec::new(),
            dlt_topic: 0,
        };
        let (mut always, mut non_retryable, mut poisoned) = (0, 0, 0);
        let draws = 200_000u32;
        for i in 0..draws {
            let event = meta(2 + i % 1000, i / 1000);
            let first = fate(&spec, 7, 0, &event);
            assert_eq!(first, fate(&spec, 7, 0, &event), "the same fate again");
            match first {
                Fate::FailsAlways { poisoned: true } => poisoned += 1,
                Fate::FailsAlways { poisoned: false } => always += 1,
                Fate::NonRetryable => non_retryable += 1,
                Fate::Succeeds => {}
            }
        }
        // 2,000 and 400 expected; standard deviations 44 and 20.
        assert!((always as i64 - 2_000).abs() < 250, "{always}");
        assert!((non_retryable as i64 - 400).abs() < 110, "{non_retryable}");
        assert_eq!(poisoned, 0, "keys from 2 up are not poisoned");
        for sequence in 0..50 {
            assert_eq!(
                fate(&spec, 7, 0, &meta(1, sequence)),
                Fate::FailsAlways { poisoned: true }
            );
        }
        // Another group (or seed) draws other events.
        let differs = (0..1000u32)
            .filter(|&i| {
                let event = meta(2 + i, 0);
                fate(&spec, 7, 0, &event) != fate(&spec, 7, 1, &event)
            })
            .count();
        assert!(differs > 0);
    }
}
