//! Group consumers that commit and close within a bound, even when no broker answers.
//!
//! librdkafka defers a commit while the group has no coordinator (for up to
//! `session.timeout.ms`), and a consumer's close waits for those commits and for its leave of
//! the group. rust-rdkafka's synchronous commit waits for the answer without a limit, and a
//! group consumer dropped polls until the close completes, however long that takes: with every
//! broker down, that could be forever. Here each wait has a limit: a close that runs out of
//! time is abandoned and the client destroyed without it, and the destroy (which joins
//! librdkafka's threads) runs on a thread of its own, waited for within the same limit.

use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::time::{Duration, Instant};

use rdkafka::TopicPartitionList;
use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};

/// How long a group consumer's close, on drop, may wait for its coordinator before it is
/// abandoned.
pub const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// A group consumer whose close and destroy, on drop, wait at most [`CLOSE_LIMIT`] (and a
/// second).
pub struct BoundedConsumer<C: ConsumerContext + Send + Sync + 'static> {
    consumer: ManuallyDrop<BaseConsumer<C>>,
}

impl<C: ConsumerContext + Send + Sync + 'static> BoundedConsumer<C> {
    pub fn new(consumer: BaseConsumer<C>) -> BoundedConsumer<C> {
        BoundedConsumer {
            consumer: ManuallyDrop::new(consumer),
        }
    }

    /// Destroys the client without closing it: no commit and no leave of the group, as a
    /// killed process would. Its coordinator notices only after `session.timeout.ms`.
    /// (A consumer whose close ran out of time is destroyed the same way, but its close had
    /// begun: it may have revoked and sent its leave.)
    pub fn abandon(mut self) {
        // SAFETY: the consumer is taken once, and `self` is forgotten at once, so its drop
        // never sees the emptied slot.
        let consumer = unsafe { ManuallyDrop::take(&mut self.consumer) };
        std::mem::forget(self);
        // The destroy joins librdkafka's threads; nothing waits for that.
        std::thread::spawn(move || destroy_without_close(consumer));
    }
}

impl<C: ConsumerContext + Send + Sync + 'static> Deref for BoundedConsumer<C> {
    type Target = BaseConsumer<C>;

    fn deref(&self) -> &BaseConsumer<C> {
        &self.consumer
    }
}

impl<C: ConsumerContext + Send + Sync + 'static> Drop for BoundedConsumer<C> {
    fn drop(&mut self) {
        let deadline = Instant::now() + CLOSE_LIMIT;
        // An error means there is nothing to wait for: the consumer is closed already, or a
        // fatal error makes librdkafka's destroy skip the close.
        let mut closed = true;
        if self.consumer.close_queue().is_ok() {
            while !self.consumer.closed() && Instant::now() < deadline {
                // Serves the revocation and the close's own events; records are discarded.
                let _ = self.consumer.poll(Duration::from_millis(100));
            }
            closed = self.consumer.closed();
            if !closed {
                // A rebalance left unserved would keep librdkafka's terminate (and so the
                // destroy's threads) waiting for ever: serve what is queued.
                for _ in 0..1_000 {
                    if self.consumer.poll(Duration::ZERO).is_none() {
                        break;
                    }
                }
            }
        }
        // SAFETY: taken once; this is the value's drop, so nothing uses it after.
        let consumer = unsafe { ManuallyDrop::take(&mut self.consumer) };
        // The destroy joins librdkafka's threads: it runs on a thread of its own, waited for
        // until the limit (at least a second), never longer.
        let (destroyed, wait) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if closed {
                drop(consumer);
            } else {
                destroy_without_close(consumer);
            }
            drop(destroyed);
        });
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = wait.recv_timeout(left.max(Duration::from_secs(1)));
    }
}

/// Destroys a consumer's client without the consumer close, on the calling thread. The Rust
/// wrapper is forgotten (it would close), so its small allocations leak, once per abandoned
/// client.
fn destroy_without_close<C: ConsumerContext>(consumer: BaseConsumer<C>) {
    let client = consumer.client().native_ptr() as usize;
    std::mem::forget(consumer);
    // SAFETY: the pointer comes from a live client whose Rust owner was forgotten above, so
    // nothing else uses or destroys it.
    unsafe {
        rdsys::rd_kafka_destroy_flags(
            client as *mut rdsys::rd_kafka_t,
            rdsys::RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE,
        )
    }
}

/// Commits `offsets` and waits at most `limit` for the answer. A commit not answered in time
/// is left to librdkafka (it may still land) and reported as timed out.
pub fn commit_within<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    offsets: &TopicPartitionList,
    limit: Duration,
) -> KafkaResult<()> {
    let client = consumer.client().native_ptr();
    let wait_ms = limit.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: the client and the list are alive for the call, which copies the list; the
    // queue is ours, polled and destroyed here (an answer after that is dropped by
    // librdkafka), and the event, when there is one, is destroyed once.
    let code = unsafe {
        let queue = rdsys::rd_kafka_queue_new(client);
        let mut code =
            rdsys::rd_kafka_commit_queue(client, offsets.ptr(), queue, None, std::ptr::null_mut());
        if code == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let event = rdsys::rd_kafka_queue_poll(queue, wait_ms);
            code = if event.is_null() {
                rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__TIMED_OUT
            } else {
                let code = rdsys::rd_kafka_event_error(event);
                rdsys::rd_kafka_event_destroy(event);
                code
            };
        }
        rdsys::rd_kafka_queue_destroy(queue);
        code
    };
    match RDKafkaErrorCode::from(code) {
        RDKafkaErrorCode::NoError => Ok(()),
        error => Err(KafkaError::ConsumerCommit(error)),
    }
}
