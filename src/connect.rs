//! Reaching the cluster a command runs against, within bounds: the embedded broker started, or a
//! real cluster authenticated to and probed.

use std::time::Duration;

use crate::engine::{self, Target};
use crate::error::SurgeError;
use crate::kafka::{self, ConnectError, EmbeddedCluster};
use crate::scenario::{self, Bootstrap, Scenario};

/// How long a command's runtime, once its work is done, waits for blocking tasks still running
/// (a client stuck on a broker that does not answer) before it ends without them.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

/// The multi-threaded runtime every command that talks to a cluster runs on.
pub(crate) fn runtime() -> Result<CommandRuntime, SurgeError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map(|runtime| CommandRuntime(Some(runtime)))
        .map_err(SurgeError::AsyncRuntime)
}

/// A runtime whose drop waits at most [`SHUTDOWN_LIMIT`] for its blocking tasks: tokio's own
/// waits for them without a limit.
pub(crate) struct CommandRuntime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for CommandRuntime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("the runtime lives until drop")
    }
}

impl Drop for CommandRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_timeout(SHUTDOWN_LIMIT);
        }
    }
}

/// A cluster ready for load. The embedded cluster and the token refresher live as long as
/// this value does.
pub(crate) struct Connected {
    pub servers: String,
    /// The scenario with the auth mode's client properties merged in.
    pub scenario: Scenario,
    pub target: Target,
    pub info: Option<kafka::ClusterInfo>,
    pub embedded: Option<EmbeddedCluster>,
    refresher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Connected {
    fn drop(&mut self) {
        if let Some(task) = self.refresher.take() {
            task.abort();
        }
    }
}

/// Starts the embedded broker, or authenticates to and probes a real cluster, within bounds.
pub(crate) async fn connect(scenario: &Scenario) -> Result<Connected, SurgeError> {
    let limits = &scenario.limits;
    let servers = match &scenario.cluster.bootstrap {
        Bootstrap::Embedded { brokers } => {
            let largest_group = scenario.groups.iter().map(|g| g.members).max().unwrap_or(1);
            let cluster = EmbeddedCluster::start(*brokers, largest_group)?;
            for topic in &scenario.topics {
                cluster.create_topic(&topic.name, topic.partitions, topic.replication_factor)?;
                // The mock picks each partition's leader at random, so a broker may lead none
                // of a topic's partitions in one run and half of them in the next. Kafka spreads
                // leaders evenly: so does surge, so that runs (and broker faults) repeat.
                for partition in 0..topic.partitions {
                    cluster
                        .move_leader(&topic.name, partition, partition % *brokers + 1)
                        .map_err(|detail| ConnectError::Embedded { detail })?;
                }
            }
            let target = Target {
                kind: "embedded".into(),
                bootstrap: "embedded".into(),
                brokers: cluster.brokers() as usize,
            };
            return Ok(Connected {
                servers: cluster.bootstrap_servers(),
                scenario: scenario.clone(),
                target,
                info: None,
                embedded: Some(cluster),
                refresher: None,
            });
        }
        Bootstrap::Servers(servers) => servers.clone(),
    };
    let mut scenario = scenario.clone();
    let auth = kafka::auth::properties(&scenario.cluster.auth)?;
    // The mode's properties come first, so the scenario and -X can still override them; each
    // key is kept once, so what runs is what the reports list.
    for properties in [
        &mut scenario.cluster.producer,
        &mut scenario.cluster.consumer,
    ] {
        *properties = scenario::merge_properties(&[auth.clone(), std::mem::take(properties)]);
    }
    let mut refresher = None;
    if let scenario::Auth::Iam { region, .. } = &scenario.cluster.auth {
        let region = region
            .clone()
            .or_else(|| kafka::auth::infer_region(&servers))
            .ok_or_else(|| kafka::ConnectError::Credentials {
                detail: "cannot tell the AWS region of the MSK cluster".into(),
                fix: "set cluster.aws_region or AWS_REGION".into(),
            })?;
        kafka::auth::reset_iam_health();
        let lifetime = kafka::auth::refresh_iam_token(&region, limits.connect_timeout).await?;
        refresher = Some(engine::keep_iam_token_fresh(
            region,
            lifetime,
            limits.connect_timeout,
        ));
    }
    let info = kafka::probe(&servers, &scenario.cluster.consumer, limits.connect_timeout)?;
    let target = Target {
        kind: "external".into(),
        bootstrap: servers.clone(),
        brokers: info.brokers.len(),
    };
    Ok(Connected {
        servers,
        scenario,
        target,
        info: Some(info),
        embedded: None,
        refresher,
    })
}

/// An existing topic keeps its partition count, whatever the scenario says: keys spread over
/// the partitions it has, and the group join and the loss check must count those.
pub(crate) fn use_existing_partitions(scenario: &mut Scenario, info: &kafka::ClusterInfo) {
    for topic in &mut scenario.topics {
        if let Some(actual) = info.partitions(&topic.name)
            && actual != topic.partitions
        {
            scenario.notes.push(format!(
                "topic `{}` already has {actual} partitions on the cluster (the scenario says {}); the run used {actual}",
                topic.name, topic.partitions
            ));
            topic.partitions = actual;
        }
    }
}
