//! The event producer: librdkafka's threaded producer with delivery callbacks.
//!
//! Sends never block: a full local queue is reported back so the pacer can account for it.
//! The opaque token of each message carries what the delivery callback needs to know.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
};

use super::{ConnectError, client_config, config_error};

/// One delivery report, as the sink sees it.
pub struct Delivery<'a> {
    /// The token given to [`EventProducer::send`].
    pub token: usize,
    pub topic: &'a str,
    /// Where the broker wrote it (meaningful when acked).
    pub partition: i32,
    pub offset: i64,
    /// `None` when the broker acked the message.
    pub error: Option<String>,
    pub payload: Option<&'a [u8]>,
}

/// Receives delivery reports on librdkafka's polling thread.
pub trait DeliverySink: Send + Sync + 'static {
    /// A message was acked or finally failed.
    fn delivered(&self, delivery: Delivery<'_>);
    /// librdkafka reported a client-level error (broker down, auth, ...).
    fn client_error(&self, reason: &str);
}

/// Adapts a [`DeliverySink`] to rdkafka's context traits.
pub struct SinkContext<S> {
    sink: Arc<S>,
}

impl<S: DeliverySink> ClientContext for SinkContext<S> {
    super::iam_tokens_from_cache!();

    fn error(&self, error: KafkaError, reason: &str) {
        self.sink.client_error(&format!("{error}: {reason}"));
    }

    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, _fac: &str, _message: &str) {}
}

impl<S: DeliverySink> ProducerContext for SinkContext<S> {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, token: usize) {
        let delivery = match result {
            Ok(message) => Delivery {
                token,
                topic: message.topic(),
                partition: message.partition(),
                offset: message.offset(),
                error: None,
                payload: None,
            },
            Err((error, message)) => Delivery {
                token,
                topic: message.topic(),
                partition: message.partition(),
                offset: message.offset(),
                error: Some(error.to_string()),
                payload: message.payload(),
            },
        };
        self.sink.delivered(delivery);
    }
}

/// What happened to one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Handed to librdkafka; a delivery report will follow.
    Queued,
    /// librdkafka's local queue is full: poll and try again.
    QueueFull,
    /// Refused outright; no delivery report will follow.
    Failed(String),
}

/// A producer of surge events.
pub struct EventProducer<S: DeliverySink> {
    inner: ThreadedProducer<SinkContext<S>>,
}

impl<S: DeliverySink> EventProducer<S> {
    /// Creates the producer; no network wait happens here.
    pub fn create(
        servers: &str,
        properties: &[(String, String)],
        sink: Arc<S>,
    ) -> Result<Self, ConnectError> {
        let inner = client_config(servers, properties)
            .create_with_context(SinkContext { sink })
            .map_err(|e| config_error(e, properties))?;
        Ok(EventProducer { inner })
    }

    /// Queues one event; with `type_header`, a `__TypeId__` header as Spring's
    /// JsonSerializer writes (it costs librdkafka several allocations per message).
    #[inline]
    pub fn send(
        &self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
        type_header: Option<&str>,
        token: usize,
    ) -> SendOutcome {
        let mut record = BaseRecord::with_opaque_to(topic, token)
            .key(key)
            .payload(payload);
        if let Some(event_type) = type_header {
            record = record.headers(OwnedHeaders::new_with_capacity(1).insert(Header {
                key: "__TypeId__",
                value: Some(event_type),
            }));
        }
        match self.inner.send(record) {
            Ok(()) => SendOutcome::Queued,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                SendOutcome::QueueFull
            }
            Err((error, _)) => SendOutcome::Failed(error.to_string()),
        }
    }

    /// Serves delivery callbacks for up to `timeout` (the background thread does so too).
    pub fn poll(&self, timeout: Duration) {
        self.inner.poll(timeout);
    }

    /// Waits up to `timeout` for every queued message to be acked or failed.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.inner.flush(timeout).is_ok()
    }

    /// Fails everything still queued or in flight, so each gets its delivery report.
    pub fn purge(&self) {
        self.inner.purge(PurgeConfig::default().queue().inflight());
        self.inner.poll(Duration::from_millis(100));
    }

    /// Messages not yet acked or failed.
    pub fn in_flight(&self) -> i32 {
        self.inner.in_flight_count()
    }
}
