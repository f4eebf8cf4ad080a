//! Stage zero: every client created (so a bad property fails before anyone waits), groups
//! placed at the end of their topics, and the dead-letter topics' starting offsets read.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::consumer::{GroupShared, MemberArgs, run_member};
use super::pacer::Plan;
use super::producer::InstanceShared;
use super::record::EngineError;
use crate::kafka::stats::StatsHook;
use crate::kafka::{ConnectError, EventProducer, GroupMember, start_groups_at_end};
use crate::metrics::brokers::BrokerBoard;
use crate::metrics::delivery::{Deliveries, sample_every};
use crate::scenario::{GroupStart, Scenario};
use crate::workload::RUN_ID_LEN;

/// What every stage of a run shares.
pub(super) struct Run {
    pub(super) scenario: Arc<Scenario>,
    pub(super) servers: String,
    pub(super) run_id: [u8; RUN_ID_LEN],
    pub(super) plan: Arc<Plan>,
    /// The plan's monotonic start and its wall-clock microseconds, set when it starts.
    pub(super) start: Arc<OnceLock<(Instant, u64)>>,
    pub(super) instances: Vec<Arc<InstanceShared>>,
    pub(super) groups: Vec<Arc<GroupShared>>,
    /// Per dead-letter topic (index into the scenario's topics), its end offsets before the
    /// run: where this run's dead-letter records begin.
    pub(super) dlt_starts: Vec<(usize, Vec<i64>)>,
    /// Every client's statistics documents, for the per-broker view.
    pub(super) brokers: Arc<BrokerBoard>,
    /// Sampled events' ack and read times, for each group's ack-to-consumption share.
    pub(super) deliveries: Arc<Deliveries>,
}

impl Run {
    /// Creates every client first, so a bad property fails before anyone waits.
    pub(super) fn create(
        scenario: &Scenario,
        servers: &str,
        run_id: [u8; RUN_ID_LEN],
    ) -> Result<(Run, Vec<EventProducer<InstanceShared>>), EngineError> {
        let scenario = Arc::new(scenario.clone());
        let plan = Arc::new(Plan::new(&scenario.phases).shared_by(scenario.workers.count));
        let start = Arc::new(OnceLock::<(Instant, u64)>::new());
        let run_tag = String::from_utf8_lossy(&run_id).into_owned();
        let partitions: Vec<u32> = scenario
            .topics
            .iter()
            .map(|t| t.partitions.max(0) as u32)
            .collect();
        let deliveries = Arc::new(deliveries(&scenario));
        let instances: Vec<Arc<InstanceShared>> = (0..scenario.producer_instances)
            .map(|_| {
                Arc::new(InstanceShared::new(
                    run_id,
                    plan.clone(),
                    start.clone(),
                    &partitions,
                    deliveries.clone(),
                ))
            })
            .collect();
        let brokers = Arc::new(BrokerBoard::default());
        let producers = instances
            .iter()
            .map(|shared| event_producer(&scenario, servers, shared.clone(), &brokers))
            .collect::<Result<Vec<_>, _>>()?;
        let groups = (0..scenario.groups.len())
            .map(|index| {
                let dlt = match &scenario.groups[index].failures {
                    None => None,
                    Some(failures) => Some(crate::kafka::DltProducer::create(
                        servers,
                        &scenario.cluster.producer,
                        &scenario.topics[failures.dlt_topic].name,
                        DLT_SEND_TIMEOUT.min(scenario.limits.drain_timeout),
                    )?),
                };
                Ok(Arc::new(GroupShared::new(index, &scenario, &run_tag, dlt)))
            })
            .collect::<Result<Vec<_>, ConnectError>>()?;
        let shared = Run {
            scenario,
            servers: servers.to_string(),
            run_id,
            plan,
            start,
            instances,
            groups,
            dlt_starts: Vec::new(),
            brokers,
            deliveries,
        };
        Ok((shared, producers))
    }

    /// Starts one member of a group polling on its own thread.
    pub(super) fn spawn_member(
        &self,
        group: usize,
        member: usize,
    ) -> Result<tokio::task::JoinHandle<()>, ConnectError> {
        let shared = &self.groups[group];
        let client_id = format!("{}-{member}", shared.group_id);
        let joined = GroupMember::join(
            &self.servers,
            &self.scenario.member_properties(group),
            &shared.group_id,
            &client_id,
            &shared.topic_names,
            shared.holding.load(Ordering::Acquire),
            Some(stats_hook(&self.brokers, true)),
        )?;
        let args = MemberArgs {
            group: shared.clone(),
            member,
            run_id: self.run_id,
            plan: self.plan.clone(),
            start: self.start.clone(),
            deliveries: self.deliveries.clone(),
        };
        Ok(tokio::task::spawn_blocking(move || {
            run_member(joined, args)
        }))
    }
}

/// A group's topics with their partition counts.
pub(super) fn group_topics(scenario: &Scenario, group: &GroupShared) -> Vec<(String, i32)> {
    group
        .spec
        .topics
        .iter()
        .map(|&t| {
            (
                scenario.topics[t].name.clone(),
                scenario.topics[t].partitions,
            )
        })
        .collect()
}

/// On a real cluster, new groups start at the current end of their topics: a fresh group
/// with `auto.offset.reset=earliest` would otherwise replay the topics' whole retention.
/// The embedded broker's topics are new for every run, so there is nothing to skip.
pub(super) async fn start_at_end(
    scenario: &Arc<Scenario>,
    servers: &str,
    groups: &[Arc<GroupShared>],
) -> Result<(), ConnectError> {
    if scenario.cluster.bootstrap.is_embedded() {
        return Ok(());
    }
    let plan: Vec<(String, Vec<(String, i32)>)> = groups
        .iter()
        .filter(|g| g.spec.start == GroupStart::End)
        .map(|g| (g.group_id.clone(), group_topics(scenario, g)))
        .collect();
    if plan.is_empty() {
        return Ok(());
    }
    let (servers, properties, timeout) = (
        servers.to_string(),
        scenario.cluster.consumer.clone(),
        scenario.limits.connect_timeout,
    );
    let keep_committed = scenario.workers.is_distributed();
    tokio::task::spawn_blocking(move || {
        start_groups_at_end(&servers, &properties, &plan, timeout, keep_committed)
    })
    .await
    .unwrap_or_else(|e| {
        Err(ConnectError::Embedded {
            detail: e.to_string(),
        })
    })
}

/// How long a dead-letter send may wait for its ack (bounded further by the drain timeout).
const DLT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn run_tag(run_id: &[u8; RUN_ID_LEN]) -> String {
    String::from_utf8_lossy(run_id).into_owned()
}

/// The end offsets of every dead-letter topic before the run.
pub(super) async fn dlt_starts(
    scenario: &Arc<Scenario>,
    servers: &str,
) -> Result<Vec<(usize, Vec<i64>)>, ConnectError> {
    let mut topics: Vec<usize> = scenario
        .groups
        .iter()
        .filter_map(|g| g.failures.as_ref().map(|f| f.dlt_topic))
        .collect();
    topics.sort_unstable();
    topics.dedup();
    let mut starts = Vec::new();
    for topic in topics {
        let (servers, properties, name, partitions, timeout) = (
            servers.to_string(),
            scenario.cluster.consumer.clone(),
            scenario.topics[topic].name.clone(),
            scenario.topics[topic].partitions,
            scenario.limits.connect_timeout,
        );
        let ends = tokio::task::spawn_blocking(move || {
            crate::kafka::dlt::end_offsets(&servers, &properties, &name, partitions, timeout)
        })
        .await
        .unwrap_or_else(|e| {
            Err(ConnectError::Embedded {
                detail: e.to_string(),
            })
        })?;
        starts.push((topic, ends));
    }
    Ok(starts)
}

/// One producer instance's client: every topic of the scenario, and a `__TypeId__` header set
/// per event type when the scenario sends them.
pub(super) fn event_producer(
    scenario: &Scenario,
    servers: &str,
    shared: Arc<InstanceShared>,
    brokers: &Arc<BrokerBoard>,
) -> Result<EventProducer<InstanceShared>, ConnectError> {
    let topic_names: Vec<&str> = scenario.topics.iter().map(|t| t.name.as_str()).collect();
    let type_names: Vec<&str> = if scenario.type_headers {
        scenario.events.iter().map(|e| e.name.as_str()).collect()
    } else {
        Vec::new()
    };
    EventProducer::create(
        servers,
        &scenario.cluster.producer,
        shared,
        &topic_names,
        &type_names,
        Some(stats_hook(brokers, !acks_zero(&scenario.cluster.producer))),
    )
}

/// Whether the producer asks for no acknowledgement (its produce requests get no response).
fn acks_zero(properties: &[(String, String)]) -> bool {
    crate::scenario::property(properties, "acks") == Some("0")
}

/// Hands a client's statistics documents to the board, as they come.
fn stats_hook(brokers: &Arc<BrokerBoard>, expects_answers: bool) -> StatsHook {
    let brokers = brokers.clone();
    Arc::new(move |document: &[u8]| brokers.push(document, expects_answers))
}

/// Each group's ack-to-read timing. Not timed: a group set aside (it reads late or is paused
/// on purpose), and every group of a distributed run (events are acked in one worker and read
/// in another).
fn deliveries(scenario: &Scenario) -> Deliveries {
    let peak = (scenario.phases.iter())
        .map(|p| p.shape.peak_rate())
        .fold(0.0, f64::max);
    let groups: Vec<Option<Vec<usize>>> = (0..scenario.groups.len())
        .map(|g| {
            let timed = scenario.workers.count <= 1 && !scenario.is_set_aside(g);
            timed.then(|| scenario.groups[g].topics.clone())
        })
        .collect();
    Deliveries::new(scenario.topics.len(), &groups, sample_every(peak))
}
