//! The event producer: librdkafka's threaded producer with delivery callbacks.
//!
//! Sends never block: a full local queue is reported back so the pacer can account for it.
//! The opaque token of each message carries what the delivery callback needs to know.
//!
//! Sends go to librdkafka directly, the way its own C tools produce: through a topic handle
//! made once per topic, and a `__TypeId__` header set made once per event type and copied per
//! message. rust-rdkafka's `send` instead allocates a C string of the topic name, looks the
//! topic up by name and builds the header set anew for every message (issue 11: the header cost
//! surge half its produce throughput). Delivery reports still come through rust-rdkafka.
//!
//! The thread that sends also serves the delivery reports, as librdkafka's C tools do: while
//! it waits for its next send it blocks on a socket that librdkafka writes to when a report
//! arrives ([`ReportWaker`]), so each report is timed when it arrives and no second thread
//! wakes per report batch. rust-rdkafka's `ThreadedProducer` polled on a thread of its own;
//! its wake-ups, and freeing on one thread what another allocated, cost a quarter of surge's
//! produce throughput (benches/README.md section 8).

use std::ffi::{CString, c_void};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::bindings as rdsys;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer, ProducerContext, PurgeConfig};

use super::stats::{StatsHook, client_properties};
use super::{ConnectError, client_config, config_error};

/// One delivery report, as the sink sees it.
pub struct Delivery<'a> {
    /// The token given to [`EventProducer::send`].
    pub token: usize,
    /// Where the broker wrote it (meaningful when acked).
    pub partition: i32,
    pub offset: i64,
    /// `None` when the broker acked the message.
    pub error: Option<String>,
    pub payload: Option<&'a [u8]>,
    /// The payload's length in bytes, acked or not.
    pub payload_len: usize,
}

/// Receives delivery reports on the thread that sends (while it waits or serves).
pub trait DeliverySink: Send + Sync + 'static {
    /// A message was acked or finally failed.
    fn delivered(&self, delivery: Delivery<'_>);
    /// librdkafka reported a client-level error (broker down, auth, ...).
    fn client_error(&self, reason: &str);
    /// The idempotent producer raised a fatal error: the client can send no more and must be
    /// replaced ([`EventProducer::fatal_error`] says why). A sink that never replaces its
    /// client sees the refusals as failed sends.
    fn fatal(&self) {}
}

/// Adapts a [`DeliverySink`] to rdkafka's context traits.
pub struct SinkContext<S> {
    sink: Arc<S>,
    stats: Option<StatsHook>,
}

impl<S: DeliverySink> ClientContext for SinkContext<S> {
    super::iam_tokens_from_cache!();

    fn error(&self, error: KafkaError, reason: &str) {
        self.sink.client_error(&format!("{error}: {reason}"));
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            self.sink.fatal();
        }
    }

    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, _fac: &str, _message: &str) {}

    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(hook) = &self.stats {
            hook(statistics);
        }
    }
}

impl<S: DeliverySink> ProducerContext for SinkContext<S> {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, token: usize) {
        let delivery = match result {
            Ok(message) => Delivery {
                token,
                partition: message.partition(),
                offset: message.offset(),
                error: None,
                payload: message.payload(),
                payload_len: message.payload_len(),
            },
            Err((error, message)) => Delivery {
                token,
                partition: message.partition(),
                offset: message.offset(),
                error: Some(error.to_string()),
                payload: message.payload(),
                payload_len: message.payload_len(),
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
    /// Refused because the client hit a fatal error: it must be replaced.
    Fatal(String),
}

/// A librdkafka topic handle, made once and used for every send to that topic.
struct TopicHandle(NonNull<rdsys::rd_kafka_topic_t>);

// SAFETY: librdkafka's topic handles are reference-counted and safe to use from any thread.
unsafe impl Send for TopicHandle {}
unsafe impl Sync for TopicHandle {}

impl Drop for TopicHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from rd_kafka_topic_new and is destroyed once, here, before
        // the client (EventProducer declares its handles before the client).
        unsafe { rdsys::rd_kafka_topic_destroy(self.0.as_ptr()) }
    }
}

/// One prepared header set (`__TypeId__` and a type name); each message gets a copy.
struct HeaderSet(NonNull<rdsys::rd_kafka_headers_t>);

// SAFETY: the set is only read (copied) after it is built, and librdkafka's copy only reads.
unsafe impl Send for HeaderSet {}
unsafe impl Sync for HeaderSet {}

impl HeaderSet {
    fn type_id(type_name: &str) -> HeaderSet {
        const KEY: &str = "__TypeId__";
        // SAFETY: rd_kafka_headers_new never returns NULL (it aborts on allocation failure);
        // rd_kafka_header_add copies the name and value, whose lengths are given.
        unsafe {
            let headers = rdsys::rd_kafka_headers_new(1);
            rdsys::rd_kafka_header_add(
                headers,
                KEY.as_ptr().cast(),
                KEY.len() as isize,
                type_name.as_ptr().cast(),
                type_name.len() as isize,
            );
            HeaderSet(NonNull::new(headers).expect("rd_kafka_headers_new returned NULL"))
        }
    }
}

impl Drop for HeaderSet {
    fn drop(&mut self) {
        // SAFETY: the set is owned here and never handed to librdkafka (only copies are).
        unsafe { rdsys::rd_kafka_headers_destroy(self.0.as_ptr()) }
    }
}

/// librdkafka writes a byte to `write` whenever an event (a delivery report, an error, a token
/// refresh) lands on the client's empty main queue; the sending thread blocks reading `read`.
struct ReportWaker {
    queue: NonNull<rdsys::rd_kafka_queue_t>,
    read: UnixStream,
    _write: UnixStream,
}

// SAFETY: the queue handle is a reference-counted librdkafka queue, safe from any thread.
unsafe impl Send for ReportWaker {}
unsafe impl Sync for ReportWaker {}

impl ReportWaker {
    fn new(client: *mut rdsys::rd_kafka_t) -> std::io::Result<ReportWaker> {
        let (read, write) = UnixStream::pair()?;
        // librdkafka must never block on a full socket: a full one already holds a wake-up.
        write.set_nonblocking(true)?;
        read.set_nonblocking(true)?;
        // SAFETY: the client is alive; the handle is released in Drop.
        let queue = unsafe { rdsys::rd_kafka_queue_get_main(client) };
        let queue = NonNull::new(queue).ok_or_else(|| std::io::Error::other("no main queue"))?;
        // SAFETY: the write end stays open until Drop has turned the event off again.
        unsafe {
            rdsys::rd_kafka_queue_io_event_enable(
                queue.as_ptr(),
                write.as_raw_fd(),
                b"r".as_ptr().cast(),
                1,
            )
        };
        Ok(ReportWaker {
            queue,
            read,
            _write: write,
        })
    }

    fn queued(&self) -> usize {
        // SAFETY: the queue handle is alive.
        unsafe { rdsys::rd_kafka_queue_length(self.queue.as_ptr()) }
    }

    /// Blocks until librdkafka signals an event or `timeout` passes. `ppoll` times out to the
    /// microsecond (a socket's SO_RCVTIMEO counts in scheduler ticks of 4 ms).
    fn wait(&self, timeout: Duration) {
        if timeout.is_zero() {
            return;
        }
        let mut fd = libc::pollfd {
            fd: self.read.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs().min(60) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask change.
        let ready = unsafe { libc::ppoll(&mut fd, 1, &timeout, std::ptr::null()) };
        if ready > 0 {
            // Wake-ups carry no data: drain them (the socket does not block).
            while matches!((&self.read).read(&mut [0u8; 64]), Ok(64)) {}
        }
        // An error (an interrupt) or a timeout ends the wait just the same.
    }
}

impl Drop for ReportWaker {
    fn drop(&mut self) {
        // SAFETY: turns librdkafka's writes off before the sockets close, then releases the
        // handle taken in new.
        unsafe {
            rdsys::rd_kafka_queue_io_event_enable(self.queue.as_ptr(), -1, std::ptr::null(), 0);
            rdsys::rd_kafka_queue_destroy(self.queue.as_ptr());
        }
    }
}

/// At most this many events are served in one go, so that a flood of reports cannot hold up
/// the sends due meanwhile.
const SERVE_MAX: usize = 1024;

/// A producer of surge events.
pub struct EventProducer<S: DeliverySink> {
    // Fields drop in order: the topic handles, header sets and waker before the client.
    topics: Vec<TopicHandle>,
    type_headers: Vec<HeaderSet>,
    waker: ReportWaker,
    inner: BaseProducer<SinkContext<S>>,
}

impl<S: DeliverySink> EventProducer<S> {
    /// Creates the producer for `topics` (sends name them by index), with one `__TypeId__`
    /// header set per name in `type_names` (sends name those by index too, or send none).
    /// No network wait happens here.
    pub fn create(
        servers: &str,
        properties: &[(String, String)],
        sink: Arc<S>,
        topics: &[&str],
        type_names: &[&str],
        stats: Option<StatsHook>,
    ) -> Result<Self, ConnectError> {
        let properties = &*client_properties(properties, &stats);
        let inner: BaseProducer<SinkContext<S>> = client_config(servers, properties)
            .create_with_context(SinkContext { sink, stats })
            .map_err(|e| config_error(e, properties))?;
        let client = inner.client().native_ptr();
        let topics = topics
            .iter()
            .map(|name| {
                let name = CString::new(*name).map_err(|_| ConnectError::Config {
                    detail: format!("topic name {name:?} contains a NUL byte"),
                })?;
                // SAFETY: the client is alive; a NULL topic configuration means the client's
                // defaults, which is what a send by name would use.
                let handle = unsafe {
                    rdsys::rd_kafka_topic_new(client, name.as_ptr(), std::ptr::null_mut())
                };
                NonNull::new(handle)
                    .map(TopicHandle)
                    .ok_or_else(|| ConnectError::Config {
                        detail: format!("librdkafka refused topic {name:?}"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let type_headers = type_names.iter().map(|n| HeaderSet::type_id(n)).collect();
        let waker = ReportWaker::new(client).map_err(|e| ConnectError::Config {
            detail: format!("cannot set up the delivery-report wake-up socket: {e}"),
        })?;
        Ok(EventProducer {
            topics,
            type_headers,
            waker,
            inner,
        })
    }

    /// Queues one event on topic number `topic`; with `type_header`, a copy of that prepared
    /// `__TypeId__` header set, as Spring's JsonSerializer writes it.
    ///
    /// # Panics
    /// If `topic` or `type_header` is not an index given to [`EventProducer::create`].
    #[inline]
    pub fn send(
        &self,
        topic: usize,
        key: &[u8],
        payload: &[u8],
        type_header: Option<usize>,
        token: usize,
    ) -> SendOutcome {
        let rkt = self.topics[topic].0.as_ptr();
        let headers = type_header.map_or(std::ptr::null_mut(), |h| {
            // SAFETY: the prepared set is alive and only read.
            unsafe { rdsys::rd_kafka_headers_copy(self.type_headers[h].0.as_ptr()) }
        });
        // SAFETY: the client and topic handle are alive; key and payload are copied
        // (RD_KAFKA_MSG_F_COPY) before producev returns; the token travels as the message's
        // opaque pointer and comes back as usize in SinkContext::delivery (usize: IntoOpaque);
        // librdkafka owns the header copy only when producev succeeds.
        let error = unsafe {
            rdsys::rd_kafka_producev(
                self.inner.client().native_ptr(),
                rdsys::rd_kafka_vtype_t::RD_KAFKA_VTYPE_RKT,
                rkt,
                rdsys::rd_kafka_vtype_t::RD_KAFKA_VTYPE_PARTITION,
                -1i32, // RD_KAFKA_PARTITION_UA: the partitioner picks by key
                rdsys::rd_kafka_vtype_t::RD_KAFKA_VTYPE_MSGFLAGS,
                rdsys::RD_KAFKA_MSG_F_COPY,
                rdsys::rd_kafka_vtype_t::RD_KAFKA_VTYPE_VALUE,
                payload.as_ptr() as *mut c_void,
                payload.len(),
                rdsys::rd_kafka_vtype_t::RD_KAFKA_VTYPE_KEY,
                key.as_ptr() as *const c_void,
                key.len(),
                rdsys::rd_kafka_vtype_t::RD_KAFKA_VTYPE_OPAQUE,
                token as *mut c_void,
                rdsys::rd_kafka_vtype_t::RD_KAFKA_VTYPE_HEADERS,
                headers,
                rdsys::rd_kafka_vtype_t::RD_KAFKA_VTYPE_END,
            )
        };
        if error == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return SendOutcome::Queued;
        }
        if !headers.is_null() {
            // SAFETY: producev failed, so the copy is still ours.
            unsafe { rdsys::rd_kafka_headers_destroy(headers) }
        }
        match RDKafkaErrorCode::from(error) {
            RDKafkaErrorCode::QueueFull => SendOutcome::QueueFull,
            RDKafkaErrorCode::Fatal => {
                SendOutcome::Fatal(self.fatal_error().unwrap_or_else(|| {
                    KafkaError::MessageProduction(RDKafkaErrorCode::Fatal).to_string()
                }))
            }
            code => SendOutcome::Failed(KafkaError::MessageProduction(code).to_string()),
        }
    }

    /// Serves the delivery reports (and client errors) queued so far, without waiting.
    pub fn serve(&self) {
        for _ in 0..SERVE_MAX {
            if self.waker.queued() == 0 {
                break;
            }
            self.inner.poll(Duration::ZERO);
        }
    }

    /// Serves what is queued, then waits up to `timeout` for more and serves that: returns
    /// early when a report arrives, so that each is timed on arrival.
    pub fn wait(&self, timeout: Duration) {
        self.serve();
        // An event queued after the check above still writes its wake-up: none is missed.
        self.waker.wait(timeout);
        self.serve();
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

    /// The fatal error the client hit, if it hit one: after it, every send is refused.
    pub fn fatal_error(&self) -> Option<String> {
        let (code, reason) = self.inner.client().fatal_error()?;
        Some(format!("fatal producer error {code:?}: {reason}"))
    }

    /// Messages not yet acked or failed.
    pub fn in_flight(&self) -> i32 {
        self.inner.in_flight_count()
    }
}
