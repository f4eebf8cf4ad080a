//! The clients' view of every broker, from librdkafka's statistics: each client reports, once
//! a statistics interval, per broker the request round trip, the time requests and messages
//! waited in the client, the throttle time the broker asked for, and its running counts.
//! [`BrokerBoard`] takes those reports as they come (from librdkafka's callbacks) and folds
//! them, once a second, into one row per broker and second ([`BrokerSecond`]).
//!
//! librdkafka gives each window's percentiles, not its histogram: windows of different
//! clients cannot be merged into one percentile. A second's p50 and p99 are the worst client's
//! (the highest any client saw), its mean is exact (sums and counts add), and its max is the
//! highest of all.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Statistics documents a board keeps between two folds, and their bytes; beyond either,
/// documents are dropped and counted.
const MAX_PENDING: usize = 4_096;
const MAX_PENDING_BYTES: usize = 64 << 20;

/// Requests a second must see sent, unanswered, to count as stalled: a broker a client only
/// sends a heartbeat now and then may answer it in the next second, which is not a stall.
pub const STALL_REQUESTS: u32 = 5;

/// One of librdkafka's rolling windows (a metric over one statistics interval).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub count: u64,
    pub sum: u64,
    pub max: u64,
    pub p50: u64,
    pub p99: u64,
}

/// What one client reported of one broker for its last statistics interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerReport {
    /// The broker's node id.
    pub node: i32,
    /// False when the client's connection to it was down (or reconnecting).
    pub up: bool,
    /// Whether the client is a producer. A consumer's round trips include the time the broker
    /// held its fetches waiting for data (`fetch.wait.max.ms`): they are kept apart.
    pub producer: bool,
    /// The client had a request waiting for a second or more with nothing received from the
    /// broker meanwhile (producers only: a consumer's fetch may wait longer by design).
    pub waiting: bool,
    /// Whether its requests expect a response (not an acks=0 producer's).
    pub expects_answers: bool,
    /// Request round trip, in microseconds.
    pub rtt: Window,
    /// Time requests waited in the client's output buffer before they were sent, in µs.
    pub queue: Window,
    /// Producers only: time messages waited in the client before their request was made
    /// (batching under `linger.ms`, and the queue behind it), in µs.
    pub batching: Window,
    /// Throttle time the broker asked for in its responses (only throttled ones count), ms.
    pub throttle: Window,
    /// Running counts since the client started.
    pub totals: Totals,
}

/// A client's running counts for one broker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub retries: u64,
    pub timeouts: u64,
    pub disconnects: u64,
}

impl Totals {
    /// Counts since `before` (a restarted client's counts start again from 0).
    fn since(self, before: Totals) -> Totals {
        let d = |now: u64, then: u64| if now >= then { now - then } else { now };
        Totals {
            requests: d(self.requests, before.requests),
            bytes_out: d(self.bytes_out, before.bytes_out),
            bytes_in: d(self.bytes_in, before.bytes_in),
            retries: d(self.retries, before.retries),
            timeouts: d(self.timeouts, before.timeouts),
            disconnects: d(self.disconnects, before.disconnects),
        }
    }
}

/// One broker over one second of the run, all clients together. Latencies in µs (at most
/// `u32::MAX`, 71 minutes), counts saturate: a row is 144 bytes, kept for every second.
/// `rtt_*` are the producers' requests (produce and metadata); the consumers' round trips,
/// which include the broker's fetch wait, are `fetch_p99_us`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerSecond {
    /// The second's end, in seconds since the plan started.
    pub t: f64,
    /// In a warmup phase (or before the plan): left out of the run's figures and SLOs.
    #[serde(default)]
    pub warmup: bool,
    pub rtt_p50_us: Option<u32>,
    pub rtt_p99_us: Option<u32>,
    pub rtt_mean_us: Option<u32>,
    pub rtt_max_us: Option<u32>,
    /// Requests timed, and their round trips added (µs): means add up exactly from these.
    pub rtt_count: u32,
    pub rtt_sum_us: u64,
    /// Consumers' round trips, the worst client's p99: the fetch wait included.
    pub fetch_p99_us: Option<u32>,
    /// Responses any client timed: none while requests were sent means the broker did not
    /// answer that second ([`BrokerSecond::stalled`]).
    pub answered: u32,
    /// Clients that had waited a second or more for a response when they reported.
    pub waiting: u32,
    /// Requests sent by clients that expect a response to each (acks=0 produce does not).
    pub answerable: u32,
    pub queue_p99_us: Option<u32>,
    pub batching_p99_us: Option<u32>,
    /// The longest throttle a response asked for, and all of them added (ms).
    pub throttle_max_ms: u32,
    pub throttle_ms: u32,
    pub requests: u32,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Of `bytes_out`, the producers' (the bytes a produce quota counts, with their other
    /// requests such as metadata).
    #[serde(default)]
    pub produced_bytes_out: u64,
    pub retries: u32,
    pub timeouts: u32,
    pub disconnects: u32,
    /// Clients whose connection to it was down, or reconnecting, at their last report.
    pub clients_down: u32,
}

impl BrokerSecond {
    /// No client timed a response from the broker, while requests that expect one kept going
    /// to it (at least [`STALL_REQUESTS`]) or a producer had waited a second or more (at its
    /// in-flight limit it sends no more). A second in which the broker asked for throttle time
    /// is not a stall: a throttled connection is muted on purpose.
    pub fn stalled(&self) -> bool {
        self.answered == 0
            && self.throttle_ms == 0
            && (self.answerable >= STALL_REQUESTS || self.waiting > 0)
    }

    /// Nothing happened between any client and the broker: not kept.
    fn idle(&self) -> bool {
        self.requests == 0
            && self.answered == 0
            && self.waiting == 0
            && self.throttle_ms == 0
            && self.clients_down == 0
            && self.bytes_in == 0
    }
}

/// A value as the row keeps it: at most `u32::MAX`.
fn narrow(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl BrokerSecond {
    /// One client's report of the broker, with its counts since its last report.
    fn add(&mut self, report: &BrokerReport, counts: Totals) {
        let add = |kept: &mut u32, value: u64| *kept = kept.saturating_add(narrow(value));
        add(&mut self.requests, counts.requests);
        if report.expects_answers {
            add(&mut self.answerable, counts.requests);
        }
        add(&mut self.retries, counts.retries);
        add(&mut self.timeouts, counts.timeouts);
        add(&mut self.disconnects, counts.disconnects);
        add(&mut self.throttle_ms, report.throttle.sum);
        add(&mut self.answered, report.rtt.count);
        self.bytes_out = self.bytes_out.saturating_add(counts.bytes_out);
        if report.producer {
            self.produced_bytes_out = self.produced_bytes_out.saturating_add(counts.bytes_out);
        }
        self.bytes_in = self.bytes_in.saturating_add(counts.bytes_in);
        self.clients_down += u32::from(!report.up);
        self.waiting += u32::from(report.waiting && report.producer);
        self.throttle_max_ms = self.throttle_max_ms.max(narrow(report.throttle.max));
        // The worst client's, for windows that timed anything.
        let worst = |kept: &mut Option<u32>, window: &Window, value: u64| {
            if window.count > 0 {
                *kept = Some(kept.map_or(narrow(value), |k| k.max(narrow(value))));
            }
        };
        if report.producer {
            add(&mut self.rtt_count, report.rtt.count);
            self.rtt_sum_us = self.rtt_sum_us.saturating_add(report.rtt.sum);
            worst(&mut self.rtt_p50_us, &report.rtt, report.rtt.p50);
            worst(&mut self.rtt_p99_us, &report.rtt, report.rtt.p99);
            worst(&mut self.rtt_max_us, &report.rtt, report.rtt.max);
        } else {
            worst(&mut self.fetch_p99_us, &report.rtt, report.rtt.p99);
        }
        worst(&mut self.queue_p99_us, &report.queue, report.queue.p99);
        worst(
            &mut self.batching_p99_us,
            &report.batching,
            report.batching.p99,
        );
    }
}

impl BrokerSecond {
    /// Another process's clients' view of the same broker and second, added as one process
    /// adds its clients': counts summed, each percentile the worst client's, the mean from the
    /// sums.
    pub fn absorb(&mut self, other: &BrokerSecond) {
        let add = |kept: &mut u32, value: u32| *kept = kept.saturating_add(value);
        let worst = |kept: &mut Option<u32>, value: Option<u32>| {
            *kept = match (*kept, value) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        };
        for (kept, value) in [
            (&mut self.rtt_count, other.rtt_count),
            (&mut self.answered, other.answered),
            (&mut self.waiting, other.waiting),
            (&mut self.answerable, other.answerable),
            (&mut self.throttle_ms, other.throttle_ms),
            (&mut self.requests, other.requests),
            (&mut self.retries, other.retries),
            (&mut self.timeouts, other.timeouts),
            (&mut self.disconnects, other.disconnects),
            (&mut self.clients_down, other.clients_down),
        ] {
            add(kept, value);
        }
        for (kept, value) in [
            (&mut self.rtt_p50_us, other.rtt_p50_us),
            (&mut self.rtt_p99_us, other.rtt_p99_us),
            (&mut self.rtt_max_us, other.rtt_max_us),
            (&mut self.fetch_p99_us, other.fetch_p99_us),
            (&mut self.queue_p99_us, other.queue_p99_us),
            (&mut self.batching_p99_us, other.batching_p99_us),
        ] {
            worst(kept, value);
        }
        self.rtt_sum_us = self.rtt_sum_us.saturating_add(other.rtt_sum_us);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
        self.produced_bytes_out = self
            .produced_bytes_out
            .saturating_add(other.produced_bytes_out);
        self.bytes_in = self.bytes_in.saturating_add(other.bytes_in);
        self.throttle_max_ms = self.throttle_max_ms.max(other.throttle_max_ms);
        self.warmup &= other.warmup;
        self.rtt_mean_us =
            (self.rtt_count > 0).then(|| narrow(self.rtt_sum_us / u64::from(self.rtt_count)));
    }
}

/// A statistics document as it came, with whether its client's requests expect a response.
type Pending = (bool, Vec<u8>);

/// Where the clients' statistics documents wait for the next fold, as they came: they are read
/// on the ticker's thread, not on a producer's sending thread.
#[derive(Debug, Default)]
pub struct BrokerBoard {
    /// Each document, with whether its client's requests expect a response.
    pending: Mutex<(Vec<Pending>, usize)>,
    /// Documents dropped because the board was full between two folds.
    dropped: AtomicU64,
}

impl BrokerBoard {
    /// One client's statistics document (called from librdkafka's statistics callback);
    /// `expects_answers` is false for a producer with acks=0.
    pub fn push(&self, document: &[u8], expects_answers: bool) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (documents, bytes) = &mut *pending;
        if documents.len() >= MAX_PENDING || *bytes + document.len() > MAX_PENDING_BYTES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *bytes += document.len();
        documents.push((expects_answers, document.to_vec()));
    }

    /// The documents pushed since the last take.
    pub fn take(&self) -> Vec<Pending> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.1 = 0;
        std::mem::take(&mut pending.0)
    }

    /// Documents dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Timed values of one kind, added: their mean is exact; their median is the windows'
/// medians weighted by what each timed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Added {
    pub count: u64,
    pub sum_us: u64,
    /// Each window's p50 times its count, added.
    pub p50_sum_us: u64,
}

impl Added {
    fn add(&mut self, window: &Window) {
        self.count = self.count.saturating_add(window.count);
        self.sum_us = self.sum_us.saturating_add(window.sum);
        let p50s = window.p50.saturating_mul(window.count);
        self.p50_sum_us = self.p50_sum_us.saturating_add(p50s);
    }

    /// The mean in µs, when anything was timed.
    pub fn mean_us(&self) -> Option<u64> {
        (self.count > 0).then(|| self.sum_us / self.count)
    }

    /// The windows' medians, weighted by their counts, in µs: not a median of the values.
    pub fn p50_of_windows_us(&self) -> Option<u64> {
        (self.count > 0).then(|| self.p50_sum_us / self.count)
    }
}

/// An event's way through the clients, from librdkafka's windows over the measured seconds
/// (warmup left out), every broker together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientPath {
    /// Producers: from `produce()` until the event is put in a request (`int_latency`, one
    /// value per event): `linger.ms`, and waiting for a request in flight to return.
    pub batching: Added,
    /// Producers: a request from built to written to the socket (`outbuf_latency`).
    pub queue: Added,
    /// Producers: a request's round trip (`rtt`): the network, the broker, and under
    /// acks=all the wait for the followers.
    pub round_trip: Added,
    /// Consumers: a request's round trip, fetches held by the broker included.
    pub consumer_round_trip: Added,
}

/// Every broker's seconds, built fold by fold.
#[derive(Debug, Default)]
pub struct BrokerTimeline {
    /// Each client's last running counts per broker.
    last: FxHashMap<(String, i32), Totals>,
    /// Per node id, its seconds in order.
    pub seconds: std::collections::BTreeMap<i32, Vec<BrokerSecond>>,
    /// The measured seconds' windows, added.
    pub path: ClientPath,
}

impl ClientPath {
    fn add(&mut self, report: &BrokerReport) {
        if report.producer {
            self.batching.add(&report.batching);
            self.queue.add(&report.queue);
            self.round_trip.add(&report.rtt);
        } else {
            self.consumer_round_trip.add(&report.rtt);
        }
    }
}

impl BrokerTimeline {
    /// Each broker's second ending at `t`, for those that had one.
    pub fn at(&self, t: f64) -> Vec<(i32, BrokerSecond)> {
        (self.seconds.iter())
            .filter_map(|(&node, seconds)| {
                let last = seconds.last().filter(|s| s.t == t)?;
                Some((node, last.clone()))
            })
            .collect()
    }

    /// Folds each client's reports since the last fold into one second per broker that any
    /// client reported, ending at `t` (in a warmup phase when `warmup`).
    pub fn fold(&mut self, t: f64, warmup: bool, clients: Vec<(String, Vec<BrokerReport>)>) {
        let mut rows: FxHashMap<i32, BrokerSecond> = FxHashMap::default();
        let reports = clients
            .into_iter()
            .flat_map(|(client, reports)| reports.into_iter().map(move |r| (client.clone(), r)));
        for (client, report) in reports {
            let last = self.last.entry((client, report.node)).or_default();
            let counts = report.totals.since(*last);
            *last = report.totals;
            let row = rows.entry(report.node).or_default();
            row.add(&report, counts);
            if !warmup {
                self.path.add(&report);
            }
        }
        for (node, mut row) in rows {
            if row.idle() {
                continue;
            }
            row.t = t;
            row.warmup = warmup;
            row.rtt_mean_us =
                (row.rtt_count > 0).then(|| narrow(row.rtt_sum_us / u64::from(row.rtt_count)));
            self.seconds.entry(node).or_default().push(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_workers_second_adds_as_another_clients_would() {
        let row = |requests: u32, p99: Option<u32>, count: u32, sum: u64| BrokerSecond {
            t: 3.0,
            warmup: false,
            rtt_p50_us: p99.map(|p| p / 2),
            rtt_p99_us: p99,
            rtt_mean_us: (count > 0).then(|| (sum / u64::from(count)) as u32),
            rtt_max_us: p99,
            rtt_count: count,
            rtt_sum_us: sum,
            fetch_p99_us: None,
            answered: count,
            waiting: 0,
            answerable: requests,
            queue_p99_us: None,
            batching_p99_us: None,
            throttle_max_ms: 0,
            throttle_ms: 0,
            requests,
            bytes_out: 1000,
            bytes_in: 10,
            produced_bytes_out: 1000,
            retries: 0,
            timeouts: 0,
            disconnects: 0,
            clients_down: 0,
        };
        let mut one = row(10, Some(800), 10, 4_000);
        one.absorb(&row(30, Some(2_000), 30, 36_000));
        // Counts add; the p99 is the worst client's; the mean comes from the sums.
        assert_eq!((one.requests, one.rtt_count, one.bytes_out), (40, 40, 2000));
        assert_eq!(
            (one.rtt_p99_us, one.rtt_mean_us),
            (Some(2_000), Some(1_000))
        );
        // A worker whose clients timed nothing leaves the others' percentiles.
        one.absorb(&row(0, None, 0, 0));
        assert_eq!(one.rtt_p99_us, Some(2_000));
        assert!(!one.stalled());
    }

    fn window(count: u64, sum: u64, p50: u64, p99: u64, max: u64) -> Window {
        Window {
            count,
            sum,
            max,
            p50,
            p99,
        }
    }

    fn report(node: i32, rtt: Window, requests: u64) -> BrokerReport {
        BrokerReport {
            node,
            up: true,
            producer: true,
            expects_answers: true,
            rtt,
            totals: Totals {
                requests,
                ..Totals::default()
            },
            ..BrokerReport::default()
        }
    }

    fn client(name: &str, reports: Vec<BrokerReport>) -> (String, Vec<BrokerReport>) {
        (name.to_string(), reports)
    }

    #[test]
    fn a_second_takes_the_worst_client_s_percentiles_and_an_exact_mean() {
        let mut timeline = BrokerTimeline::default();
        timeline.fold(
            1.0,
            false,
            vec![
                client("p0", vec![report(1, window(10, 1_000, 90, 200, 250), 10)]),
                client(
                    "c0",
                    vec![
                        report(1, window(30, 9_000, 300, 400, 900), 30),
                        report(2, Window::default(), 5),
                    ],
                ),
            ],
        );
        let one = &timeline.seconds[&1][0];
        assert_eq!(one.rtt_p50_us, Some(300));
        assert_eq!(one.rtt_p99_us, Some(400));
        assert_eq!(one.rtt_max_us, Some(900));
        assert_eq!(one.rtt_mean_us, Some(250));
        assert_eq!(one.requests, 40);
        // A broker a client talked to but timed nothing on has no latency, only counts.
        let two = &timeline.seconds[&2][0];
        assert_eq!(
            (two.rtt_p99_us, two.rtt_mean_us, two.requests),
            (None, None, 5)
        );
    }

    #[test]
    fn the_client_path_adds_the_measured_seconds_windows_with_consumers_apart() {
        let mut timeline = BrokerTimeline::default();
        let mut producer = report(1, window(4, 8_000, 2_000, 2_000, 2_000), 4);
        producer.batching = window(100, 1_000_000, 10_000, 10_000, 10_000);
        producer.queue = window(4, 400, 100, 100, 100);
        let mut consumer = report(2, window(2, 600_000, 300_000, 300_000, 300_000), 2);
        consumer.producer = false;
        consumer.batching = window(9, 9, 1, 1, 1);
        timeline.fold(1.0, true, vec![client("p0", vec![producer.clone()])]);
        timeline.fold(2.0, false, vec![client("p0", vec![producer])]);
        timeline.fold(3.0, false, vec![client("c0", vec![consumer])]);
        let mut busier = report(1, Window::default(), 0);
        busier.batching = window(300, 6_000_000, 20_000, 20_000, 20_000);
        timeline.fold(4.0, false, vec![client("p1", vec![busier])]);
        let path = timeline.path;
        // 100 events at 10 ms and 300 at 20 ms: the warmup second's 100 left out.
        assert_eq!(
            (path.batching.count, path.batching.mean_us()),
            (400, Some(17_500))
        );
        assert_eq!(path.batching.p50_of_windows_us(), Some(17_500));
        assert_eq!(path.queue.mean_us(), Some(100));
        assert_eq!(path.round_trip.mean_us(), Some(2_000));
        assert_eq!(path.round_trip.count, 4);
        assert_eq!(path.consumer_round_trip.mean_us(), Some(300_000));
    }

    #[test]
    fn consumers_round_trips_are_kept_apart_and_a_silent_broker_is_stalled() {
        let mut timeline = BrokerTimeline::default();
        let mut fetch = report(1, window(5, 2_500_000, 500_000, 500_000, 500_000), 5);
        fetch.producer = false;
        let silent = report(2, Window::default(), 7);
        let heartbeat = report(3, Window::default(), 1);
        let mut blocked = report(4, Window::default(), 0);
        blocked.waiting = true;
        let mut muted = report(5, Window::default(), 9);
        muted.throttle = window(1, 800, 800, 800, 800);
        let mut acks_0 = report(6, Window::default(), 50);
        acks_0.expects_answers = false;
        timeline.fold(
            1.0,
            false,
            vec![client(
                "c0",
                vec![fetch, silent, heartbeat, blocked, muted, acks_0],
            )],
        );
        let one = &timeline.seconds[&1][0];
        // A consumer's 500 ms fetch wait is not a slow produce round trip.
        assert_eq!((one.rtt_p99_us, one.rtt_count), (None, 0));
        assert_eq!((one.fetch_p99_us, one.answered), (Some(500_000), 5));
        assert!(!one.stalled());
        // Requests went to broker 2 and nothing came back; broker 3's one request may be
        // answered in the next second.
        assert!(timeline.seconds[&2][0].stalled());
        assert!(!timeline.seconds[&3][0].stalled());
        // A producer at its in-flight limit sends nothing more, and waits.
        assert!(timeline.seconds[&4][0].stalled());
        // A throttled connection is muted on purpose; acks=0 expects no answer.
        assert!(!timeline.seconds[&5][0].stalled());
        assert!(!timeline.seconds[&6][0].stalled());
    }

    #[test]
    fn a_row_is_as_small_as_its_documentation_says() {
        // The envelope's hour of seconds (tests/envelope.rs) counts on it.
        assert_eq!(std::mem::size_of::<BrokerSecond>(), 144);
    }

    #[test]
    fn running_counts_become_counts_per_second_and_survive_a_client_restart() {
        let mut timeline = BrokerTimeline::default();
        for (t, requests) in [(1.0, 100), (2.0, 250), (3.0, 40)] {
            timeline.fold(
                t,
                false,
                vec![client("p0", vec![report(1, Window::default(), requests)])],
            );
        }
        let counts: Vec<u32> = timeline.seconds[&1].iter().map(|s| s.requests).collect();
        // The third report's counts went down: a new client, counted from 0.
        assert_eq!(counts, [100, 150, 40]);
        // A fold with no report adds no second, nor does one in which nothing happened.
        timeline.fold(4.0, false, Vec::new());
        timeline.fold(
            5.0,
            false,
            vec![client("p0", vec![report(1, Window::default(), 40)])],
        );
        assert_eq!(timeline.seconds[&1].len(), 3);
    }

    #[test]
    fn throttling_is_added_and_the_longest_kept() {
        let mut throttled = report(3, Window::default(), 1);
        throttled.throttle = window(4, 1_200, 300, 500, 500);
        throttled.up = false;
        let mut timeline = BrokerTimeline::default();
        timeline.fold(1.0, false, vec![client("p0", vec![throttled])]);
        let row = &timeline.seconds[&3][0];
        assert_eq!((row.throttle_max_ms, row.throttle_ms), (500, 1_200));
        assert_eq!(row.clients_down, 1);
    }

    #[test]
    fn a_full_board_drops_and_counts_what_it_cannot_keep() {
        let board = BrokerBoard::default();
        for _ in 0..MAX_PENDING + 7 {
            board.push(b"{}", true);
        }
        assert_eq!(board.dropped(), 7);
        assert_eq!(board.take().len(), MAX_PENDING);
        board.push(&vec![b' '; MAX_PENDING_BYTES + 1], true);
        assert_eq!(board.dropped(), 8);
        assert!(board.take().is_empty());
    }
}
