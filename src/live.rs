//! The live view: `--metrics-addr` serves the run's figures in the Prometheus (OpenMetrics)
//! text format while it runs, updated once a second from the same timeline points the progress
//! line prints, so a war room can watch a peak test in Grafana (`deploy/grafana/`).
//!
//! Rates, lag and latency percentiles are gauges of the last second; sent, acked, failed,
//! consumed, duplicates and out-of-order deliveries are counters. A paused group's catch-up
//! appears when it resumes, labelled by group and fault: its backlog and whether it is still
//! draining, then its time and rate once its lag is under its limit. Lost events are known only
//! once the drain has ended: `surge_lost_events` appears then, for the last scrapes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::engine::Progress;
use crate::metrics::brokers::BrokerSecond;
use crate::summary::Summary;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// The metrics a run publishes.
#[derive(Default)]
struct Metrics {
    target_rate: FloatGauge,
    sent_rate: FloatGauge,
    acked_rate: FloatGauge,
    consumed_rate: Family<Labels, FloatGauge>,
    sent: Counter,
    acked: Counter,
    sent_bytes: Counter,
    acked_bytes: Counter,
    acked_mb_per_s: FloatGauge,
    consumed_bytes: Family<Labels, Counter>,
    failed: Counter,
    consumed: Family<Labels, Counter>,
    duplicates: Family<Labels, Counter>,
    out_of_order: Family<Labels, Counter>,
    retried: Family<Labels, Counter>,
    dead_lettered: Family<Labels, Counter>,
    lag: Family<Labels, Gauge>,
    unowned: Family<Labels, Gauge>,
    catchup_backlog: Family<Labels, Gauge>,
    catching_up: Family<Labels, Gauge>,
    catchup_seconds: Family<Labels, FloatGauge>,
    catchup_rate: Family<Labels, FloatGauge>,
    e2e: Family<Labels, FloatGauge>,
    publish: Family<Labels, FloatGauge>,
    schedule_lag: Family<Labels, FloatGauge>,
    generator_cpu: FloatGauge,
    elapsed: FloatGauge,
    stage: Family<Labels, Gauge>,
    info: Family<Labels, Gauge>,
    lost: Family<Labels, Gauge>,
    brokers: BrokerGauges,
}

/// Each broker's last second as the clients saw it ([`crate::metrics::brokers`]).
#[derive(Default)]
struct BrokerGauges {
    rtt: Family<Labels, FloatGauge>,
    queue: Family<Labels, FloatGauge>,
    throttle: Family<Labels, FloatGauge>,
    unanswered: Family<Labels, Gauge>,
    requests: Family<Labels, Counter>,
}

impl BrokerGauges {
    fn register(&self, r: &mut Registry) {
        r.register(
            "surge_broker_rtt_seconds",
            "The producers' request round trip to a broker in the last second: the worst client's percentile",
            self.rtt.clone(),
        );
        r.register(
            "surge_broker_queue_wait_seconds",
            "Time requests to a broker waited in the clients' output buffers in the last second: the worst client's p99",
            self.queue.clone(),
        );
        r.register(
            "surge_broker_throttle_seconds",
            "The longest throttle a broker asked the clients for in the last second (a quota)",
            self.throttle.clone(),
        );
        r.register(
            "surge_broker_unanswered",
            "1 when a broker answered no client in the last second while requests kept going to it",
            self.unanswered.clone(),
        );
        r.register(
            "surge_broker_requests",
            "Requests the clients sent to a broker",
            self.requests.clone(),
        );
    }

    fn update(&self, brokers: &[(i32, BrokerSecond)]) {
        let seconds = |us: u32| f64::from(us) / 1e6;
        for (node, second) in brokers {
            let node = node.to_string();
            let b = labels(&[("broker", &node)]);
            for (quantile, value) in [("0.5", second.rtt_p50_us), ("0.99", second.rtt_p99_us)] {
                if let Some(us) = value {
                    let l = labels(&[("broker", &node), ("quantile", quantile)]);
                    self.rtt.get_or_create(&l).set(seconds(us));
                }
            }
            if let Some(us) = second.queue_p99_us {
                let l = labels(&[("broker", &node), ("quantile", "0.99")]);
                self.queue.get_or_create(&l).set(seconds(us));
            }
            (self.throttle.get_or_create(&b)).set(f64::from(second.throttle_max_ms) / 1e3);
            (self.unanswered.get_or_create(&b)).set(i64::from(second.stalled()));
            (self.requests.get_or_create(&b)).inc_by(u64::from(second.requests));
        }
    }
}

impl Metrics {
    fn register(&self, registry: &mut Registry) {
        self.register_rates(registry);
        self.register_groups(registry);
        self.register_latency_and_run(registry);
        self.brokers.register(registry);
    }

    /// The producers' and groups' rates and counts.
    fn register_rates(&self, r: &mut Registry) {
        r.register(
            "surge_target_rate",
            "Events the plan offered in the last second",
            self.target_rate.clone(),
        );
        r.register(
            "surge_sent_rate",
            "Events handed to the producer in the last second",
            self.sent_rate.clone(),
        );
        r.register(
            "surge_acked_rate",
            "Events the brokers acknowledged in the last second",
            self.acked_rate.clone(),
        );
        r.register(
            "surge_consumed_rate",
            "Events a consumer group read in the last second",
            self.consumed_rate.clone(),
        );
        r.register(
            "surge_sent",
            "Events handed to the producer",
            self.sent.clone(),
        );
        r.register(
            "surge_acked",
            "Events the brokers acknowledged",
            self.acked.clone(),
        );
        r.register(
            "surge_sent_bytes",
            "Payload (record value) bytes handed to the producer",
            self.sent_bytes.clone(),
        );
        r.register(
            "surge_acked_bytes",
            "Payload (record value) bytes the brokers acknowledged",
            self.acked_bytes.clone(),
        );
        r.register(
            "surge_acked_mb_per_s",
            "Payload MB (2^20 bytes) the brokers acknowledged in the last second",
            self.acked_mb_per_s.clone(),
        );
        r.register(
            "surge_consumed_bytes",
            "Payload bytes a consumer group read, duplicates included",
            self.consumed_bytes.clone(),
        );
        r.register(
            "surge_failed",
            "Sends that failed (never acknowledged)",
            self.failed.clone(),
        );
        r.register(
            "surge_consumed",
            "Deliveries a consumer group read, duplicates included",
            self.consumed.clone(),
        );
        r.register(
            "surge_duplicates",
            "Deliveries of events the group had read before",
            self.duplicates.clone(),
        );
        r.register(
            "surge_out_of_order",
            "First deliveries that came after a higher sequence of their key",
            self.out_of_order.clone(),
        );
        r.register(
            "surge_retried",
            "Events a failing group retried in place before dead-lettering them",
            self.retried.clone(),
        );
        r.register(
            "surge_dead_lettered",
            "Events a failing group published to its dead-letter topic",
            self.dead_lettered.clone(),
        );
    }

    /// Each group's lag and its catch-ups after pauses.
    fn register_groups(&self, r: &mut Registry) {
        r.register(
            "surge_consumer_lag",
            "Acked events on the group's topics it has not read yet",
            self.lag.clone(),
        );
        r.register(
            "surge_partitions_unowned",
            "Partitions of the group's topics no live member held at the end of the second: a rebalance in progress, or a crashed member's partitions waiting for one",
            self.unowned.clone(),
        );
        r.register(
            "surge_catchup_backlog",
            "A paused group's lag when it resumed (group, and the group_pause fault)",
            self.catchup_backlog.clone(),
        );
        r.register(
            "surge_catching_up",
            "1 while a resumed group drains its backlog; 0 once its lag is under its limit, or it was paused again",
            self.catching_up.clone(),
        );
        r.register(
            "surge_catchup_seconds",
            "Seconds from a paused group's resume until its lag was under its limit (once it was)",
            self.catchup_seconds.clone(),
        );
        r.register(
            "surge_catchup_rate",
            "Events/s a resumed group drained above the produce rate until its lag was under its limit (once it was)",
            self.catchup_rate.clone(),
        );
    }

    /// Latency percentiles, the generator's health, and the run itself.
    fn register_latency_and_run(&self, r: &mut Registry) {
        r.register(
            "surge_e2e_latency_seconds",
            "End-to-end latency from the intended send time, percentile over the last second (group=\"all\": every group merged)",
            self.e2e.clone(),
        );
        r.register(
            "surge_publish_latency_seconds",
            "Publish latency from the intended send time to the ack, percentile over the last second",
            self.publish.clone(),
        );
        r.register(
            "surge_schedule_lag_seconds",
            "How late the generator sent against its schedule, percentile over the last second",
            self.schedule_lag.clone(),
        );
        r.register(
            "surge_generator_cpu_percent",
            "The load generator's CPU, in percent of all cores of its host",
            self.generator_cpu.clone(),
        );
        r.register(
            "surge_elapsed_seconds",
            "Seconds since the plan started",
            self.elapsed.clone(),
        );
        r.register(
            "surge_stage",
            "1 for the stage the run is in: joining, running, draining or done",
            self.stage.clone(),
        );
        r.register(
            "surge_run_info",
            "The run: scenario and run id",
            self.info.clone(),
        );
        r.register(
            "surge_lost_events",
            "Acked events a group never read, known once the drain has ended",
            self.lost.clone(),
        );
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const STAGES: [&str; 4] = ["joining", "running", "draining", "done"];

/// Why the live view could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveViewError {
    #[error(
        "--metrics-addr {address}: cannot listen there: {detail}\n  fix: pick a free port on an address of this host, e.g. --metrics-addr 127.0.0.1:9464"
    )]
    Bind { address: SocketAddr, detail: String },
    #[error("--metrics-addr: cannot start its thread: {0}")]
    Thread(std::io::Error),
}

/// The endpoint and what it serves. Dropping it stops the server.
pub struct LiveView {
    metrics: Metrics,
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl LiveView {
    /// Binds the endpoint; an address that cannot be bound is an error before any load is sent.
    pub fn start(address: SocketAddr) -> Result<LiveView, LiveViewError> {
        let server = tiny_http::Server::http(address).map_err(|e| LiveViewError::Bind {
            address,
            detail: e.to_string(),
        })?;
        let server = Arc::new(server);
        let address = server.server_addr().to_ip().unwrap_or(address);
        let metrics = Metrics::default();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let registry = Arc::new(registry);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stop) = (server.clone(), stop.clone());
            std::thread::Builder::new()
                .name("surge-metrics".into())
                .spawn(move || serve(&server, &registry, &stop))
                .map_err(LiveViewError::Thread)?
        };
        Ok(LiveView {
            metrics,
            address,
            stop,
            server,
            thread: Some(thread),
        })
    }

    /// Where it listens (the port the system chose, for `:0`).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Names the run.
    pub fn describe(&self, scenario: &str, run_id: &str) {
        self.metrics
            .info
            .get_or_create(&labels(&[("scenario", scenario), ("run_id", run_id)]))
            .set(1);
    }

    fn set_stage(&self, stage: &str) {
        for name in STAGES {
            self.metrics
                .stage
                .get_or_create(&labels(&[("stage", name)]))
                .set(i64::from(name == stage));
        }
    }

    /// Takes one progress update (once a second while the run runs).
    pub fn update(&self, progress: &Progress) {
        let m = &self.metrics;
        self.set_stage(progress.stage);
        m.elapsed.set(progress.elapsed.as_secs_f64());
        m.brokers.update(&progress.brokers);
        let Some(point) = &progress.point else {
            return;
        };
        m.target_rate.set(point.target_rate);
        m.sent_rate.set(point.produced as f64);
        m.acked_rate.set(point.acked as f64);
        m.sent.inc_by(point.produced);
        m.acked.inc_by(point.acked);
        m.sent_bytes.inc_by(point.produced_bytes);
        m.acked_bytes.inc_by(point.acked_bytes);
        m.acked_mb_per_s
            .set(point.acked_bytes as f64 / crate::summary::MB);
        m.failed.inc_by(point.failed);
        if let Some(cpu) = point.generator_cpu {
            m.generator_cpu.set(cpu);
        }
        let seconds = |us: Option<u64>| us.map(|v| v as f64 / 1e6);
        let percentiles =
            |family: &Family<Labels, FloatGauge>, group: &str, values: [(&str, Option<u64>); 3]| {
                for (quantile, value) in values {
                    if let Some(value) = seconds(value) {
                        family
                            .get_or_create(&labels(&[("group", group), ("quantile", quantile)]))
                            .set(value);
                    }
                }
            };
        percentiles(
            &m.e2e,
            "all",
            [
                ("0.5", point.e2e_p50),
                ("0.95", point.e2e_p95),
                ("0.99", point.e2e_p99),
            ],
        );
        for (family, value) in [
            (&m.publish, point.publish_p99),
            (&m.schedule_lag, point.schedule_lag_p99),
        ] {
            if let Some(value) = seconds(value) {
                family
                    .get_or_create(&labels(&[("quantile", "0.99")]))
                    .set(value);
            }
        }
        for group in &point.groups {
            let g = labels(&[("group", &group.name)]);
            m.consumed_rate.get_or_create(&g).set(group.consumed as f64);
            m.consumed.get_or_create(&g).inc_by(group.consumed);
            m.consumed_bytes
                .get_or_create(&g)
                .inc_by(group.consumed_bytes);
            m.duplicates.get_or_create(&g).inc_by(group.duplicates);
            m.out_of_order.get_or_create(&g).inc_by(group.out_of_order);
            m.retried.get_or_create(&g).inc_by(group.retried);
            m.dead_lettered
                .get_or_create(&g)
                .inc_by(group.dead_lettered);
            m.lag
                .get_or_create(&g)
                .set(i64::try_from(group.lag).unwrap_or(i64::MAX));
            m.unowned
                .get_or_create(&g)
                .set(i64::from(group.partitions_unowned));
            percentiles(
                &m.e2e,
                &group.name,
                [
                    ("0.5", group.e2e_p50),
                    ("0.95", group.e2e_p95),
                    ("0.99", group.e2e_p99),
                ],
            );
        }
        for (group, catchup) in &progress.catchups {
            let g = labels(&[("group", group), ("fault", &catchup.fault)]);
            m.catchup_backlog
                .get_or_create(&g)
                .set(i64::try_from(catchup.backlog).unwrap_or(i64::MAX));
            let draining = catchup.catchup_time_s.is_none() && catchup.paused_again_by.is_none();
            m.catching_up.get_or_create(&g).set(i64::from(draining));
            if let Some(seconds) = catchup.catchup_time_s {
                m.catchup_seconds.get_or_create(&g).set(seconds);
            }
            if let Some(rate) = catchup.catchup_rate {
                m.catchup_rate.get_or_create(&g).set(rate);
            }
        }
    }

    /// The run has ended: what only the end knows (lost events per group).
    pub fn finish(&self, summary: &Summary) {
        self.set_stage("done");
        for group in &summary.groups {
            self.metrics
                .lost
                .get_or_create(&labels(&[("group", &group.name)]))
                .set(i64::try_from(group.lost).unwrap_or(i64::MAX));
        }
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers scrapes until told to stop; each waits at most 200 ms for a request.
fn serve(server: &tiny_http::Server, registry: &Registry, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        let request = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(_) => break,
        };
        let path = request.url().split('?').next().unwrap_or("");
        let response = if path == "/metrics" {
            let mut text = String::new();
            match encode(&mut text, registry) {
                Ok(()) => tiny_http::Response::from_string(text).with_header(
                    tiny_http::Header::from_bytes(
                        "Content-Type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )
                    .expect("a valid header"),
                ),
                Err(error) => {
                    tiny_http::Response::from_string(error.to_string()).with_status_code(500)
                }
            }
        } else {
            tiny_http::Response::from_string("surge serves its live figures at /metrics\n")
                .with_status_code(404)
        };
        // A scraper that went away is not the run's problem.
        let _ = request.respond(response);
    }
}
