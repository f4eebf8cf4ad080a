//! The dead-letter topic: a producer that waits for each send's ack, as Spring's
//! `DeadLetterPublishingRecoverer` does, and a reader that reads the topic back after the drain.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::message::Message;
use rdkafka::producer::{
    BaseRecord, DeliveryResult, NoCustomPartitioner, Producer, ProducerContext, ThreadedProducer,
};

use super::{ConnectError, ErrorLog, cause, client_config, config_error, redact};

/// Where the broker wrote a dead-letter record, or why it did not.
type Ack = Result<(i32, i64), String>;

/// Hands each delivery report to the send waiting for it.
pub struct DltContext {
    errors: ErrorLog,
}

impl ClientContext for DltContext {
    super::iam_tokens_from_cache!();

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.errors.push(&format!("{error}: {reason}"));
    }

    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, _fac: &str, _message: &str) {}
}

impl ProducerContext<NoCustomPartitioner> for DltContext {
    type DeliveryOpaque = Box<SyncSender<Ack>>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiting: Self::DeliveryOpaque) {
        let ack = match result {
            Ok(message) => Ok((message.partition(), message.offset())),
            Err((error, _)) => Err(cause(&error.to_string())),
        };
        let _ = waiting.send(ack);
    }
}

/// A producer of dead-letter records to one topic.
pub struct DltProducer {
    producer: ThreadedProducer<DltContext>,
    topic: String,
    /// How long one send may wait for its ack.
    timeout: Duration,
    properties: Vec<(String, String)>,
}

impl DltProducer {
    /// Creates the producer with the scenario's producer properties (acks=all and friends).
    pub fn create(
        servers: &str,
        properties: &[(String, String)],
        topic: &str,
        timeout: Duration,
    ) -> Result<DltProducer, ConnectError> {
        let mut config = client_config(servers, properties);
        config.set(
            "message.timeout.ms",
            timeout.as_millis().clamp(1, i32::MAX as u128).to_string(),
        );
        let producer = config
            .create_with_context(DltContext {
                errors: ErrorLog::default(),
            })
            .map_err(|e| config_error(e, properties))?;
        Ok(DltProducer {
            producer,
            topic: topic.to_string(),
            timeout,
            properties: properties.to_vec(),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Sends one record and waits for the broker's answer (bounded by the timeout).
    pub fn publish(&self, key: &[u8], value: &[u8]) -> Ack {
        let deadline = Instant::now() + self.timeout + Duration::from_secs(1);
        let (tell, answer) = sync_channel(1);
        let mut tell = Box::new(tell);
        loop {
            let record = BaseRecord::with_opaque_to(&self.topic, tell)
                .key(key)
                .payload(value);
            match self.producer.send(record) {
                Ok(()) => break,
                Err((error, record)) => {
                    let full = matches!(
                        error.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    );
                    if !full || Instant::now() >= deadline {
                        return Err(redact(&cause(&error.to_string()), &self.properties));
                    }
                    tell = record.delivery_opaque;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(ack) => ack.map_err(|e| redact(&e, &self.properties)),
            Err(_) => Err(redact(
                &format!(
                    "no answer from the broker within {}s{}",
                    self.timeout.as_secs(),
                    match self.producer.context().errors.summary() {
                        errors if errors.is_empty() => String::new(),
                        errors => format!(" ({errors})"),
                    }
                ),
                &self.properties,
            )),
        }
    }
}

impl Drop for DltProducer {
    fn drop(&mut self) {
        let _ = self.producer.flush(Duration::from_secs(5));
    }
}

/// The end offset of every partition of `topic`: where this run's dead-letter records begin.
pub fn end_offsets(
    servers: &str,
    properties: &[(String, String)],
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<Vec<i64>, ConnectError> {
    let marks = super::reader::topic_watermarks(servers, properties, topic, partitions, timeout)?;
    Ok(marks.into_iter().map(|(_, high)| high).collect())
}

/// Why a dead-letter topic could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum DltReadError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The reader's own account: what it reached, and what it did not.
    #[error("the dead-letter topic was {0}")]
    Read(String),
    #[error("the read-back stopped unexpectedly: {0}")]
    Stopped(String),
}

/// Reads every record of `topic` from the offsets `from` (one per partition) to its current
/// end, handing each value to `each`. Fails when the end is not reached within `timeout`.
pub fn read_from(
    servers: &str,
    properties: &[(String, String)],
    topic: &str,
    from: &[i64],
    timeout: Duration,
    mut each: impl FnMut(&[u8]),
) -> Result<(), DltReadError> {
    let deadline = Instant::now() + timeout;
    let ends =
        super::reader::topic_watermarks(servers, properties, topic, from.len() as i32, timeout)?;
    let spans: Vec<super::reader::Span> = from
        .iter()
        .zip(ends)
        .enumerate()
        .map(|(partition, (&from, (_, to)))| super::reader::Span {
            topic: topic.to_string(),
            partition: partition as i32,
            from,
            to,
        })
        .collect();
    super::reader::read_spans(
        servers,
        properties,
        &spans,
        deadline,
        || false,
        |_, _, value| {
            if let Some(value) = value {
                each(value);
            }
        },
    )
    .map_err(DltReadError::Read)
}
