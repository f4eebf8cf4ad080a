//! One consumer-group member: polls, and commits exactly the offsets it processed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use rustc_hash::FxHashMap;

#[cfg(test)]
use super::bounded::CLOSE_LIMIT;
use super::bounded::{BoundedConsumer, commit_within};
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
                let _ = commit_within(consumer, &offsets, REVOKE_COMMIT_LIMIT);
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

/// How long a revocation waits for its commit: the handover is exact when it lands in time;
/// otherwise the next owner may repeat what was processed, and the repeats are counted.
const REVOKE_COMMIT_LIMIT: Duration = Duration::from_secs(10);
/// How long a member leaving waits for its last commit (its close then waits
/// [`super::bounded::CLOSE_LIMIT`]).
const LEAVE_COMMIT_LIMIT: Duration = Duration::from_secs(5);

/// A member of a consumer group, subscribed to its topics.
pub struct GroupMember {
    consumer: BoundedConsumer<MemberContext>,
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
        let consumer = BoundedConsumer::new(consumer);
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

    /// Commits every processed offset, without waiting for the answer.
    pub fn commit(&self) {
        let offsets = self.consumer.context().offsets(None);
        if offsets.count() > 0 {
            let _ = self.consumer.commit(&offsets, CommitMode::Async);
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

    /// Commits what was processed and leaves the group, each within its limit.
    pub fn leave(self) {
        let context = self.consumer.context();
        let offsets = context.offsets(None);
        if offsets.count() > 0 {
            let _ = commit_within(&self.consumer, &offsets, LEAVE_COMMIT_LIMIT);
        }
        // Committed, or not in time: the revocation the close serves has nothing to commit, so
        // the close stays within its limit. (The commit's answer comes on a queue of its own:
        // no rebalance callback runs between the commit and this.)
        context
            .processed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        // Dropped, the consumer closes: it revokes, leaves the group and ends, within its limit.
    }

    /// Dies the way a killed process does: no commit, no LeaveGroup. The client is destroyed
    /// without closing the consumer (librdkafka's `RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE`), so
    /// its heartbeats stop and the coordinator rebalances only after `session.timeout.ms`.
    pub fn crash(self) {
        self.consumer.abandon();
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

    /// Polls every member until `count` records are read, for at most 30 s.
    fn read_until(members: &[GroupMember], count: usize, read: &mut Vec<(i32, i64)>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while read.len() < count && Instant::now() < deadline {
            poll_all(members, Duration::from_millis(200), read);
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

    /// A topic of `partitions` on the embedded cluster with `records` in it, over 16 keys;
    /// returns the bootstrap servers.
    fn filled(cluster: &EmbeddedCluster, topic: &str, partitions: i32, records: u32) -> String {
        cluster.create_topic(topic, partitions, 1).unwrap();
        let servers = cluster.bootstrap_servers();
        let producer: BaseProducer = client_config(&servers, &[]).create().unwrap();
        for i in 0..records {
            let key = (i % 16).to_string();
            producer
                .send(BaseRecord::to(topic).key(&key).payload("x"))
                .unwrap();
        }
        assert!(producer.flush(Duration::from_secs(10)).is_ok());
        servers
    }

    /// Members read from the start; a join into a stable group makes the mock wait the
    /// session timeout less 1 s.
    fn member_properties() -> [(String, String); 2] {
        [
            ("auto.offset.reset".to_string(), "earliest".to_string()),
            ("session.timeout.ms".to_string(), "6000".to_string()),
        ]
    }

    #[test]
    fn a_held_member_fetches_nothing_across_a_rebalance_until_released() {
        let cluster = EmbeddedCluster::start(1, 1).unwrap();
        let servers = filled(&cluster, "held", 4, 200);
        let props = member_properties();
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
        read_until(&members, 200, &mut read);
        let distinct: HashSet<_> = read.iter().collect();
        assert_eq!((read.len(), distinct.len()), (200, 200));
    }

    #[test]
    fn a_member_leaves_within_its_limits_when_no_broker_answers() {
        let cluster = EmbeddedCluster::start(1, 1).unwrap();
        let servers = filled(&cluster, "gone", 2, 50);
        let props = member_properties();
        let topics = ["gone".to_string()];
        let member = GroupMember::join(&servers, &props, "g", "m", &topics, false, None).unwrap();
        let mut read = Vec::new();
        read_until(std::slice::from_ref(&member), 50, &mut read);
        assert_eq!(read.len(), 50);
        // The broker goes down with processed offsets not yet committed: the last commit and
        // the leave wait for a coordinator that never comes back.
        cluster.broker_down(1).unwrap();
        poll_all(
            std::slice::from_ref(&member),
            Duration::from_secs(2),
            &mut read,
        );
        let (left, leaving) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            member.leave();
            let _ = left.send(());
        });
        // The limits add up to 10 s (commit, then close); rust-rdkafka's own close waited
        // for ever. Generous for a loaded host, and far from a hang.
        let limits = LEAVE_COMMIT_LIMIT + CLOSE_LIMIT;
        assert!(
            leaving.recv_timeout(limits * 3).is_ok(),
            "the member was still leaving after {:?}",
            limits * 3
        );
    }
}
