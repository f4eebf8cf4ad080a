//! Event payloads: JSON like Spring's `JsonSerializer` writes, templated per event type.
//!
//! The surge fields come first, at fixed offsets with space-padded numbers (valid JSON),
//! so that a consumer decodes them without a JSON parser and a producer writes them
//! without allocating.

use chrono::DateTime;

/// The literal every surge payload starts with.
const MAGIC: &[u8] = b"{\"surge\":1,\"runId\":\"";
/// Length of a run id in the payload.
pub const RUN_ID_LEN: usize = 8;

const PRODUCER_KEY: &[u8] = b"\",\"producerId\":";
const AGGREGATE_KEY: &[u8] = b",\"aggregateType\":";
const INDEX_KEY: &[u8] = b",\"aggregateIdx\":";
const SEQUENCE_KEY: &[u8] = b",\"sequence\":";
const INTENDED_KEY: &[u8] = b",\"intendedAtUs\":";

const PRODUCER_WIDTH: usize = 5;
const AGGREGATE_WIDTH: usize = 5;
const INDEX_WIDTH: usize = 10;
const SEQUENCE_WIDTH: usize = 10;
const INTENDED_WIDTH: usize = 17;

const RUN_ID_AT: usize = MAGIC.len();
const PRODUCER_AT: usize = RUN_ID_AT + RUN_ID_LEN + PRODUCER_KEY.len();
const AGGREGATE_AT: usize = PRODUCER_AT + PRODUCER_WIDTH + AGGREGATE_KEY.len();
const INDEX_AT: usize = AGGREGATE_AT + AGGREGATE_WIDTH + INDEX_KEY.len();
const SEQUENCE_AT: usize = INDEX_AT + INDEX_WIDTH + SEQUENCE_KEY.len();
const INTENDED_AT: usize = SEQUENCE_AT + SEQUENCE_WIDTH + INTENDED_KEY.len();
/// Bytes of the fixed prefix a consumer decodes.
pub const PREFIX_LEN: usize = INTENDED_AT + INTENDED_WIDTH;

/// The surge fields of one event, as decoded by a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMeta {
    pub producer: u16,
    pub aggregate: u16,
    pub index: u32,
    pub sequence: u32,
    pub intended_at_us: u64,
}

/// What a consumer makes of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// An event of this run.
    Ours(EventMeta),
    /// A surge event of another run, or a record surge did not write.
    Foreign,
}

/// Writes `value` right-aligned into `field`, padding on the left with `pad`.
#[inline]
fn write_number(field: &mut [u8], mut value: u64, pad: u8) {
    let mut i = field.len();
    loop {
        i -= 1;
        field[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 || i == 0 {
            break;
        }
    }
    field[..i].fill(pad);
}

#[inline]
fn read_number(field: &[u8]) -> Option<u64> {
    let digits = field.iter().skip_while(|&&b| b == b' ');
    let mut value: u64 = 0;
    let mut any = false;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((b - b'0') as u64)?;
        any = true;
    }
    any.then_some(value)
}

/// Decodes the surge prefix of a payload, checking it belongs to `run_id`.
#[inline]
pub fn decode(payload: &[u8], run_id: &[u8; RUN_ID_LEN]) -> Decoded {
    if payload.len() < PREFIX_LEN || &payload[RUN_ID_AT..RUN_ID_AT + RUN_ID_LEN] != run_id {
        return Decoded::Foreign;
    }
    decode_any(payload).map_or(Decoded::Foreign, |(_, meta)| Decoded::Ours(meta))
}

/// Decodes the surge prefix of a payload of any run: the run id and the event's fields.
#[inline]
pub fn decode_any(payload: &[u8]) -> Option<([u8; RUN_ID_LEN], EventMeta)> {
    if payload.len() < PREFIX_LEN || !payload.starts_with(MAGIC) {
        return None;
    }
    let field = |at: usize, width: usize| read_number(&payload[at..at + width]);
    let meta = EventMeta {
        producer: u16::try_from(field(PRODUCER_AT, PRODUCER_WIDTH)?).ok()?,
        aggregate: u16::try_from(field(AGGREGATE_AT, AGGREGATE_WIDTH)?).ok()?,
        index: u32::try_from(field(INDEX_AT, INDEX_WIDTH)?).ok()?,
        sequence: u32::try_from(field(SEQUENCE_AT, SEQUENCE_WIDTH)?).ok()?,
        intended_at_us: field(INTENDED_AT, INTENDED_WIDTH)?,
    };
    let run: [u8; RUN_ID_LEN] = payload[RUN_ID_AT..RUN_ID_AT + RUN_ID_LEN].try_into().ok()?;
    Some((run, meta))
}

/// A pre-built payload template for one event type, rewritten in place per event.
#[derive(Debug, Clone)]
pub struct EventEncoder {
    buffer: Vec<u8>,
    event_id_at: usize,
    key_index_at: usize,
    occurred_at: usize,
    /// Length of the payload with no padding characters.
    envelope_len: usize,
    key: Vec<u8>,
    key_index_in_key: usize,
    cached_second: i64,
    dirty_close: Option<usize>,
}

const EVENT_ID_WIDTH: usize = 12;
const OCCURRED_LEN: usize = "2026-11-27T12:00:00.000000Z".len();

impl EventEncoder {
    /// Builds the template; `max_size` bounds the payload length.
    pub fn new(
        run_id: &[u8; RUN_ID_LEN],
        producer: u16,
        aggregate: u16,
        event_type: &str,
        aggregate_name: &str,
        max_size: usize,
    ) -> EventEncoder {
        let mut buffer = Vec::with_capacity(max_size.max(512));
        buffer.extend_from_slice(MAGIC);
        buffer.extend_from_slice(run_id);
        buffer.extend_from_slice(PRODUCER_KEY);
        let field = |buffer: &mut Vec<u8>, key: &[u8], width: usize, value: u64| {
            buffer.extend_from_slice(key);
            let at = buffer.len();
            buffer.resize(at + width, b' ');
            write_number(&mut buffer[at..], value, b' ');
        };
        field(&mut buffer, b"", PRODUCER_WIDTH, producer as u64);
        field(
            &mut buffer,
            AGGREGATE_KEY,
            AGGREGATE_WIDTH,
            aggregate as u64,
        );
        field(&mut buffer, INDEX_KEY, INDEX_WIDTH, 0);
        field(&mut buffer, SEQUENCE_KEY, SEQUENCE_WIDTH, 0);
        field(&mut buffer, INTENDED_KEY, INTENDED_WIDTH, 0);
        debug_assert_eq!(buffer.len(), PREFIX_LEN);
        buffer.extend_from_slice(b",\"eventId\":\"");
        buffer.extend_from_slice(run_id);
        buffer.extend_from_slice(format!("-{producer:04x}-").as_bytes());
        let event_id_at = buffer.len();
        buffer.resize(event_id_at + EVENT_ID_WIDTH, b'0');
        buffer.extend_from_slice(
            format!(
                "\",\"eventType\":{},\"aggregateId\":\"{aggregate_name}-",
                json_string(event_type)
            )
            .as_bytes(),
        );
        let key_index_at = buffer.len();
        buffer.resize(key_index_at + INDEX_WIDTH, b'0');
        buffer.extend_from_slice(b"\",\"occurredOn\":\"");
        let occurred_at = buffer.len();
        buffer.extend_from_slice(b"1970-01-01T00:00:00.000000Z");
        buffer.extend_from_slice(b"\",\"padding\":\"");
        let padding_at = buffer.len();
        let envelope_len = padding_at + 2;
        let padding = max_size.saturating_sub(envelope_len);
        buffer.resize(padding_at + padding, b'x');
        buffer.extend_from_slice(b"\"}");
        let key = format!("{aggregate_name}-{}", "0".repeat(INDEX_WIDTH)).into_bytes();
        let key_index_in_key = key.len() - INDEX_WIDTH;
        EventEncoder {
            buffer,
            event_id_at,
            key_index_at,
            occurred_at,
            envelope_len,
            key,
            key_index_in_key,
            cached_second: i64::MIN,
            dirty_close: None,
        }
    }

    /// The smallest payload this event type can have.
    pub fn envelope_len(&self) -> usize {
        self.envelope_len
    }

    /// Writes one event and returns (key, payload). `size` is clamped to what fits.
    #[inline]
    pub fn encode(
        &mut self,
        event_number: u64,
        index: u32,
        sequence: u32,
        intended_at_us: u64,
        size: usize,
    ) -> (&[u8], &[u8]) {
        let buf = &mut self.buffer;
        write_number(
            &mut buf[INDEX_AT..INDEX_AT + INDEX_WIDTH],
            index as u64,
            b' ',
        );
        write_number(
            &mut buf[SEQUENCE_AT..SEQUENCE_AT + SEQUENCE_WIDTH],
            sequence as u64,
            b' ',
        );
        write_number(
            &mut buf[INTENDED_AT..INTENDED_AT + INTENDED_WIDTH],
            intended_at_us,
            b' ',
        );
        write_hex(
            &mut buf[self.event_id_at..self.event_id_at + EVENT_ID_WIDTH],
            event_number,
        );
        write_number(
            &mut buf[self.key_index_at..self.key_index_at + INDEX_WIDTH],
            index as u64,
            b'0',
        );
        write_number(&mut self.key[self.key_index_in_key..], index as u64, b'0');
        self.write_occurred(intended_at_us);

        // Close the JSON early for a smaller size; the next event restores the padding.
        let full = self.buffer.len();
        let end = full - 2;
        if let Some(close) = self.dirty_close.take() {
            for position in close..(close + 2).min(end) {
                self.buffer[position] = b'x';
            }
            self.buffer[end..].copy_from_slice(b"\"}");
        }
        let size = size.clamp(self.envelope_len, full);
        if size < full {
            self.buffer[size - 2..size].copy_from_slice(b"\"}");
            self.dirty_close = Some(size - 2);
        }
        (&self.key, &self.buffer[..size])
    }

    fn write_occurred(&mut self, intended_at_us: u64) {
        let second = (intended_at_us / 1_000_000) as i64;
        let at = self.occurred_at;
        if second != self.cached_second {
            let text = DateTime::from_timestamp(second, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_else(|| "1970-01-01T00:00:00".into());
            self.buffer[at..at + 19].copy_from_slice(&text.as_bytes()[..19]);
            self.cached_second = second;
        }
        write_number(
            &mut self.buffer[at + 20..at + 26],
            intended_at_us % 1_000_000,
            b'0',
        );
        debug_assert_eq!(at + OCCURRED_LEN, at + 27);
    }
}

#[inline]
fn write_hex(field: &mut [u8], mut value: u64) {
    for slot in field.iter_mut().rev() {
        *slot = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &[u8; RUN_ID_LEN] = b"a1b2c3d4";

    #[test]
    fn encoded_events_are_valid_json_with_the_spring_fields() {
        let mut encoder = EventEncoder::new(RUN, 3, 1, "OrderCreated", "order", 600);
        let (key, payload) = encoder.encode(42, 12_345, 17, 1_764_244_800_123_456, 600);
        assert_eq!(key, b"order-0000012345");
        assert_eq!(payload.len(), 600);
        let json: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(json["eventType"], "OrderCreated");
        assert_eq!(json["aggregateId"], "order-0000012345");
        assert_eq!(json["sequence"], 17);
        assert_eq!(json["producerId"], 3);
        assert_eq!(json["intendedAtUs"], 1_764_244_800_123_456u64);
        assert_eq!(json["occurredOn"], "2025-11-27T12:00:00.123456Z");
        assert_eq!(json["eventId"], "a1b2c3d4-0003-00000000002a");
    }

    #[test]
    fn decode_reads_back_what_encode_wrote() {
        let mut encoder = EventEncoder::new(RUN, 65_535, 9, "PaymentAuthorized", "payment", 512);
        let (_, payload) = encoder.encode(1, u32::MAX, 4_000_000_000, 99, 512);
        assert_eq!(
            decode(payload, RUN),
            Decoded::Ours(EventMeta {
                producer: 65_535,
                aggregate: 9,
                index: u32::MAX,
                sequence: 4_000_000_000,
                intended_at_us: 99
            })
        );
        assert_eq!(decode(payload, b"otherrun"), Decoded::Foreign);
        assert_eq!(decode(b"{\"hello\":1}", RUN), Decoded::Foreign);
        assert_eq!(decode(&payload[..PREFIX_LEN - 1], RUN), Decoded::Foreign);
    }

    #[test]
    fn variable_sizes_stay_valid_json_in_any_order() {
        let mut encoder = EventEncoder::new(RUN, 0, 0, "OrderItemAdded", "order", 1024);
        let floor = encoder.envelope_len();
        for size in [1024, floor, 700, 1024, 300, 10, 5000] {
            let (_, payload) = encoder.encode(5, 1, 2, 3, size);
            assert_eq!(payload.len(), size.clamp(floor, 1024));
            serde_json::from_slice::<serde_json::Value>(payload)
                .unwrap_or_else(|e| panic!("size {size}: {e}"));
        }
    }
}
