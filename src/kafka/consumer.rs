//! One consumer-group member: polls, and commits exactly the offsets it processed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use rustc_hash::FxHashMap;

use super::stats::{StatsHook, client_properties};
use super::{ConnectError, ErrorLog, client_config, config_error};

/// Offsets processed but not yet committed, by (topic index, partition): the next offset.
type Processed = FxHashMap<(usize, i32), i64>;

/// Partitions a member was given or gave up, when its rebalance callback ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentChange {
    pub at: Instant,
    /// Given (true) or taken away (false).
    pub assigned: bool,
    /// (index into the member's topics, partition).
    pub partitions: Vec<(usize, i32)>,
}

/// Tracks the assignment and commits on revocation, inside librdkafka's callbacks.
pub struct MemberContext {
    topics: Vec<String>,
    assigned: AtomicUsize,
    /// What the rebalance callbacks changed since the member last took them.
    changes: Mutex<Vec<AssignmentChange>>,
    /// While set, partitions are paused as they are assigned: nothing is fetched.
    held: AtomicBool,
    processed: Mutex<Processed>,
    errors: ErrorLog,
    stats: Option<StatsHook>,
}

impl MemberContext {
    fn offsets(&self, only: Option<&TopicPartitionList>) -> TopicPartitionList {
        let processed = self.processed.lock().unwrap_or_else(|e| e.into_inner());
        let mut list = TopicPartitionList::new();
        for (&(topic, partition), &next) in processed.iter() {
            let name = &self.topics[topic];
            if only.is_none_or(|revoked| revoked.find_partition(name, partition).is_some()) {
                let _ = list.add_partition_offset(name, partition, Offset::Offset(next));
            }
        }
        list
    }

    /// Index of `name` among the member's topics.
    fn topic_index(&self, name: &str) -> Option<usize> {
        self.topics.iter().position(|t| t == name)
    }

    /// Notes a change of the assignment, as the callback sees it.
    fn note(&self, assigned: bool, list: &TopicPartitionList) {
        let partitions: Vec<(usize, i32)> = list
            .elements()
            .iter()
            .filter_map(|e| Some((self.topic_index(e.topic())?, e.partition())))
            .collect();
        if partitions.is_empty() {
            return;
        }
        let mut changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        changes.push(AssignmentChange {
            at: Instant::now(),
            assigned,
            partitions,
        });
    }
}

impl ClientContext for MemberContext {
    super::iam_tokens_from_cache!();

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.errors.push(&format!("{error}: {reason}"));
    }

    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, _fac: &str, _message: &str) {}

    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(hook) = &self.stats {
            hook(statistics);
        }
    }
}

impl ConsumerContext for MemberContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(revoked) = rebalance {
            self.note(false, revoked);
            // Hand over exactly what was processed, so the next owner neither skips nor repeats.
            let offsets = self.offsets(Some(revoked));
            if offsets.count() > 0 {
                let _ = consumer.commit(&offsets, CommitMode::Sync);
            }
            let mut processed = self.processed.lock().unwrap_or_else(|e| e.into_inner());
            processed.retain(|&(topic, partition), _| {
                revoked
                    .find_partition(&self.topics[topic], partition)
                    .is_none()
            });
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            self.note(true, assigned);
        }
        if let Rebalance::Assign(assigned) = rebalance
            && self.held.load(Ordering::Acquire)
        {
            // Paused inside the callback, before any fetched record reaches the member.
            let _ = consumer.pause(assigned);
        }
        let count = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        self.assigned.store(count, Ordering::Release);
    }
}

/// One record handed to the member's handler.
pub struct Record<'a> {
    /// Index into the topics the member subscribed to.
    pub topic: usize,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
}

/// The outcome of one poll.
pub enum Polled<R> {
    Record(R),
    Idle,
    Error(String),
}

/// A member of a consumer group, subscribed to its topics.
pub struct GroupMember {
    consumer: BaseConsumer<MemberContext>,
}

impl GroupMember {
    /// Creates the member and subscribes; the group join happens while it polls. A `held`
    /// member joins but fetches nothing until [`GroupMember::release`].
    pub fn join(
        servers: &str,
        properties: &[(String, String)],
        group_id: &str,
        client_id: &str,
        topics: &[String],
        held: bool,
        stats: Option<StatsHook>,
    ) -> Result<GroupMember, ConnectError> {
        let properties = &*client_properties(properties, &stats);
        let mut config = client_config(servers, properties);
        config
            .set("group.id", group_id)
            .set("client.id", client_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let context = MemberContext {
            topics: topics.to_vec(),
            assigned: AtomicUsize::new(0),
            changes: Mutex::new(Vec::new()),
            held: AtomicBool::new(held),
            processed: Mutex::new(Processed::default()),
            errors: ErrorLog::default(),
            stats,
        };
        let consumer: BaseConsumer<MemberContext> = config
            .create_with_context(context)
            .map_err(|e| config_error(e, properties))?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| config_error(e, properties))?;
        Ok(GroupMember { consumer })
    }

    /// Polls once; `handle` sees the record while it is borrowed from librdkafka.
    pub fn poll<R>(&self, timeout: Duration, handle: impl FnOnce(Record<'_>) -> R) -> Polled<R> {
        match self.consumer.poll(timeout) {
            None => Polled::Idle,
            // A fatal error reaches the queue as its code alone; librdkafka keeps the reason
            // (a refused ConsumerGroupHeartbeat names the broker's answer).
            Some(Err(error)) => Polled::Error(match self.consumer.client().fatal_error() {
                Some((_, reason)) => format!("{error}: {reason}"),
                None => error.to_string(),
            }),
            Some(Ok(message)) => {
                let context = self.consumer.context();
                let topic = context.topic_index(message.topic()).unwrap_or(0);
                Polled::Record(handle(Record {
                    topic,
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key(),
                    payload: message.payload(),
                }))
            }
        }
    }

    /// Marks a record as processed; its offset is committed at the next commit.
    #[inline]
    pub fn mark_processed(&self, topic: usize, partition: i32, offset: i64) {
        let mut processed = self
            .consumer
            .context()
            .processed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let next = processed.entry((topic, partition)).or_insert(0);
        *next = (*next).max(offset + 1);
    }

    /// Commits every processed offset, asynchronously or waiting for the broker.
    pub fn commit(&self, wait: bool) {
        let offsets = self.consumer.context().offsets(None);
        if offsets.count() > 0 {
            let mode = if wait {
                CommitMode::Sync
            } else {
                CommitMode::Async
            };
            let _ = self.consumer.commit(&offsets, mode);
        }
    }

    /// Stops (or restarts) fetching from every partition the member holds; it keeps polling,
    /// so it stays in the group. Partitions assigned later are not paused: call again.
    pub fn set_paused(&self, paused: bool) {
        if let Ok(assignment) = self.consumer.assignment() {
            let _ = if paused {
                self.consumer.pause(&assignment)
            } else {
                self.consumer.resume(&assignment)
            };
        }
    }

    /// Lets a held member fetch what it holds and whatever it is assigned from now on.
    pub fn release(&self) {
        self.consumer.context().held.store(false, Ordering::Release);
        self.set_paused(false);
    }

    /// Partitions currently assigned to this member.
    pub fn assigned_partitions(&self) -> usize {
        self.consumer.context().assigned.load(Ordering::Acquire)
    }

    /// The assignment changes since the last call, oldest first.
    pub fn take_changes(&self) -> Vec<AssignmentChange> {
        let mut changes = self
            .consumer
            .context()
            .changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *changes)
    }

    /// Recent client errors, for a diagnostic.
    pub fn recent_errors(&self) -> String {
        self.consumer.context().errors.summary()
    }

    /// Commits what was processed and leaves the group.
    pub fn leave(self) {
        self.commit(true);
        self.consumer.unsubscribe();
        // Serve the revocation so the group rebalances promptly rather than after a timeout.
        let _ = self.consumer.poll(Duration::from_millis(100));
    }

    /// Dies the way a killed process does: no commit, no LeaveGroup. The client is destroyed
    /// without closing the consumer (librdkafka's `RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE`), so
    /// its heartbeats stop and the coordinator rebalances only after `session.timeout.ms`.
    pub fn crash(self) {
        let client = self.consumer.client().native_ptr() as usize;
        // The Rust wrapper would close the consumer (and so leave the group) on drop: it is
        // forgotten, and the native client destroyed without the close. Its small allocations
        // leak, once per crash fault.
        std::mem::forget(self);
        // Destroying waits for librdkafka's threads; no part of the run waits for that.
        std::thread::spawn(move || {
            // SAFETY: the pointer comes from a live client whose Rust owner was forgotten
            // above, so nothing else uses or destroys it.
            unsafe {
                rdkafka::bindings::rd_kafka_destroy_flags(
                    client as *mut rdkafka::bindings::rd_kafka_t,
                    rdkafka::bindings::RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE,
                )
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::embedded::EmbeddedCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::collections::HashSet;
    use std::time::Instant;

    /// Polls every member for `period`, collecting (partition, offset) of what they read.
    fn poll_all(members: &[GroupMember], period: Duration, read: &mut Vec<(i32, i64)>) {
        let until = Instant::now() + period;
        while Instant::now() < until {
            for member in members {
                if let Polled::Record(origin) =
                    member.poll(Duration::from_millis(20), |r| (r.partition, r.offset))
                {
                    read.push(origin);
                    member.mark_processed(0, origin.0, origin.1);
                }
            }
        }
    }

    fn settle(members: &[GroupMember], partitions: usize, read: &mut Vec<(i32, i64)>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            poll_all(members, Duration::from_millis(200), read);
            let counts: Vec<usize> = members.iter().map(|m| m.assigned_partitions()).collect();
            if counts.iter().sum::<usize>() == partitions && counts.iter().all(|&c| c > 0) {
                return;
            }
            assert!(Instant::now() < deadline, "never settled: {counts:?}");
        }
    }

    #[test]
    fn a_held_member_fetches_nothing_across_a_rebalance_until_released() {
        let cluster = EmbeddedCluster::start(1).unwrap();
        cluster.create_topic("held", 4, 1).unwrap();
        let servers = cluster.bootstrap_servers();
        let producer: BaseProducer = client_config(&servers, &[]).create().unwrap();
        for i in 0..200u32 {
            let key = (i % 16).to_string();
            producer
                .send(BaseRecord::to("held").key(&key).payload("x"))
                .unwrap();
        }
        assert!(producer.flush(Duration::from_secs(10)).is_ok());
        // A join into a stable group makes the mock wait the session timeout less 1 s.
        let props = [
            ("auto.offset.reset".to_string(), "earliest".to_string()),
            ("session.timeout.ms".to_string(), "6000".to_string()),
        ];
        let topics = ["held".to_string()];
        let join =
            |id: &str| GroupMember::join(&servers, &props, "g", id, &topics, true, None).unwrap();

        // The first member gets every partition, then gives half up when the second joins.
        let mut read = Vec::new();
        let first = join("first");
        settle(std::slice::from_ref(&first), 4, &mut read);
        let second = join("second");
        let members = [first, second];
        settle(&members, 4, &mut read);
        poll_all(&members, Duration::from_millis(500), &mut read);
        assert!(read.is_empty(), "held members read {} records", read.len());

        for member in &members {
            member.release();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while read.len() < 200 && Instant::now() < deadline {
            poll_all(&members, Duration::from_millis(200), &mut read);
        }
        let distinct: HashSet<_> = read.iter().collect();
        assert_eq!((read.len(), distinct.len()), (200, 200));
    }
}
