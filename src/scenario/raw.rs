//! Stage one: a raw mirror of the file. Every field optional, unknown keys rejected.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::units::Scalar;

/// The file exactly as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub cluster: Option<RawCluster>,
    pub producer: Option<RawProducer>,
    pub run: Option<RawRun>,
    pub topics: Option<Vec<RawTopic>>,
    pub events: Option<Vec<RawEvent>>,
    pub phases: Option<Vec<RawPhase>>,
    pub consumer_groups: Option<Vec<RawGroup>>,
    pub slo: Option<RawSlo>,
    pub label: Option<RawLabel>,
    pub faults: Option<Vec<RawFault>>,
}

/// `[label]`: which cluster option this run measures.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLabel {
    pub name: Option<String>,
    pub brokers: Option<u32>,
    pub instance_type: Option<String>,
    pub monthly_cost_usd: Option<f64>,
}

/// `[cluster]`: which cluster and which client settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub bootstrap: Option<String>,
    pub embedded_brokers: Option<i64>,
    pub embedded_rtt: Option<String>,
    pub auth: Option<String>,
    pub ca_file: Option<String>,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub aws_region: Option<String>,
    pub producer: Option<BTreeMap<String, Scalar>>,
    pub consumer: Option<BTreeMap<String, Scalar>>,
}

/// `[producer]`: how the load is generated.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProducer {
    pub instances: Option<i64>,
    pub type_headers: Option<bool>,
}

/// `[run]`: bounds on the run itself.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub connect_timeout: Option<String>,
    pub group_join_timeout: Option<String>,
    pub drain_timeout: Option<String>,
    pub send_grace: Option<String>,
    pub max_schedule_lag_p99: Option<String>,
    pub min_achieved_ratio: Option<f64>,
    pub baseline: Option<String>,
    pub max_regression: Option<String>,
}

/// `[[topics]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub name: Option<String>,
    pub partitions: Option<i64>,
    pub replication_factor: Option<i64>,
    pub config: Option<BTreeMap<String, Scalar>>,
}

/// `[[events]]`: one domain event type in the mix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub name: Option<String>,
    pub topic: Option<String>,
    pub weight: Option<f64>,
    pub size: Option<RawSize>,
    pub aggregate: Option<String>,
    pub keys: Option<i64>,
    pub distribution: Option<String>,
    pub zipf_exponent: Option<f64>,
}

/// An event's `size`: one size or a range (`"512B..2KiB"`), or sizes at evenly spaced
/// quantiles (`["400B", "800B", "2KiB"]`: the smallest, the median, the largest).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RawSize {
    One(Scalar),
    Quantiles(Vec<Scalar>),
}

/// `[[phases]]`: one step of the load plan.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub name: Option<String>,
    pub rate: Option<Scalar>,
    pub duration: Option<String>,
    pub warmup: Option<bool>,
    /// constant (default), ramp, step, spike or replay.
    pub shape: Option<String>,
    pub from: Option<Scalar>,
    pub to: Option<Scalar>,
    pub rates: Option<Vec<Scalar>>,
    pub factor: Option<f64>,
    pub spike_at: Option<String>,
    pub spike_duration: Option<String>,
    pub csv: Option<String>,
    pub scale: Option<f64>,
}

/// `[[consumer_groups]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub name: Option<String>,
    pub topics: Option<Vec<String>>,
    pub members: Option<i64>,
    pub processing_time: Option<String>,
    pub commit_interval: Option<String>,
    pub member_leaves_at: Option<String>,
    pub start: Option<String>,
    /// `produce` (after the producers finish) or a duration from the plan's start.
    pub starts_after: Option<String>,
    /// `classic` (the default) or `consumer` (KIP-848).
    pub protocol: Option<String>,
    /// The partition assignor: client-side for `classic`, broker-side for `consumer`.
    pub assignor: Option<String>,
    pub failure_rate: Option<f64>,
    pub non_retryable_rate: Option<f64>,
    pub poison_keys: Option<i64>,
    pub retry_backoff: Option<Vec<String>>,
    pub dlt_topic: Option<String>,
}

/// `[slo]`: thresholds the run is judged against.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub checks: Option<Vec<String>>,
    pub peak_phase: Option<String>,
}

/// `[[faults]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub name: Option<String>,
    pub at: Option<String>,
    pub duration: Option<String>,
    pub kind: Option<String>,
    pub broker: Option<Scalar>,
    pub rtt: Option<String>,
    pub api: Option<String>,
    pub error: Option<String>,
    pub count: Option<i64>,
    pub topic: Option<String>,
    pub partition: Option<i64>,
    pub group: Option<String>,
    pub member: Option<i64>,
    /// `scale_group`: the member count to reach, one member every `step_every`.
    pub to: Option<i64>,
    pub step_every: Option<String>,
    pub run: Option<String>,
    pub undo: Option<String>,
    pub timeout: Option<String>,
}
