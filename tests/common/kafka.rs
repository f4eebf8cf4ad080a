//! The local Apache Kafka cluster (scripts/local-kafka.sh) and an independent read-back with
//! Kafka's own Java console consumer, a client that shares no code with surge or librdkafka.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use surge::metrics::LedgerFile;
use surge::workload::{Decoded, decode};

use super::repo;

/// The script, with this checkout's defaults; its warm-up drives the surge binary under test.
pub fn script(args: &[&str]) -> Output {
    script_with_warm_up(args, WARM_UP_EACH)
}

/// At most this many seconds of warm-up when the tests first start the cluster. With C1 only
/// (below) the brokers' JIT settles in one or two rounds, 10-20 s; with C2 it ran the whole
/// 120 s budget on this 2-core host (benches/README.md, section 5).
const WARM_UP_FIRST: &str = "120";
/// And before each test: one round, which ends the warm-up once the JIT has settled.
const WARM_UP_EACH: &str = "15";

/// The brokers the tests start compile with C1 alone. A cold C2 broker needs minutes of load
/// before its compilers stop taking a core of this 2-core host, and every broker a test kills
/// comes back cold. C1-only brokers ran the durability fixture (3,000 events/s, acks=all)
/// cold at e2e p95 630-680 ms with 27 s of broker CPU, against 474 ms and 31 s for C2 brokers
/// warmed for 120 s: these tests judge integrity, with latency limits that only catch a stall.
/// A cluster already running (started by hand) is used as it is.
const JVM_OPTIONS: &str = "-XX:TieredStopAtLevel=1";

fn script_with_warm_up(args: &[&str], warm_up: &str) -> Output {
    Command::new(repo("scripts/local-kafka.sh"))
        .args(args)
        .env("SURGE_BIN", env!("CARGO_BIN_EXE_surge"))
        .env("SURGE_KAFKA_WARM_UP", warm_up)
        .env("SURGE_KAFKA_JVM_OPTS", JVM_OPTIONS)
        // A cluster this test binary starts is stopped when the binary ends, however it ends.
        .env("SURGE_KAFKA_OWNER", std::process::id().to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("scripts/local-kafka.sh runs")
}

/// Runs the script and fails the test, with its output, when it fails.
pub fn control(args: &[&str]) {
    control_with_warm_up(args, WARM_UP_EACH)
}

fn control_with_warm_up(args: &[&str], warm_up: &str) {
    let output = script_with_warm_up(args, warm_up);
    assert!(
        output.status.success(),
        "local-kafka.sh {args:?} failed:\n{}",
        super::console(&output)
    );
}

/// Starts the cluster once per test binary (a no-op when it already runs), and returns its
/// plaintext bootstrap servers.
pub fn cluster() -> String {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| control_with_warm_up(&["ready"], WARM_UP_FIRST));
    plaintext()
}

fn base_port() -> u16 {
    std::env::var("SURGE_KAFKA_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9092)
}

/// The three brokers' PLAINTEXT listeners.
pub fn plaintext() -> String {
    listeners(0)
}

/// The three brokers' SSL listeners.
pub fn tls() -> String {
    listeners(100)
}

/// The three brokers' SASL_SSL (SCRAM-SHA-512) listeners.
pub fn sasl_ssl() -> String {
    listeners(200)
}

fn listeners(offset: u16) -> String {
    (0..3)
        .map(|n| format!("127.0.0.1:{}", base_port() + offset + n))
        .collect::<Vec<_>>()
        .join(",")
}

/// `scripts/local-kafka.sh env`, as (name, value) pairs.
pub fn env() -> Vec<(String, String)> {
    let output = script(&["env"]);
    assert!(output.status.success(), "{}", super::console(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A key as the reader names it: (producer, aggregate, index).
type Key = (u64, u64, u64);

/// What the independent reader found of one run's events on a set of topics.
#[derive(Debug, Default)]
pub struct ReadBack {
    /// Records of this run, duplicates included.
    pub records: u64,
    /// Their values' bytes, duplicates included.
    pub bytes: u64,
    /// Per key (producer, aggregate, index): each sequence and how often it is in the log.
    pub keys: BTreeMap<Key, BTreeMap<u64, u64>>,
    /// Per key, its records in log order: (partition, offset, sequence).
    pub log: BTreeMap<Key, Vec<(u32, i64, u64)>>,
}

impl ReadBack {
    /// Distinct events in the log.
    pub fn distinct(&self) -> u64 {
        self.keys.values().map(|s| s.len() as u64).sum()
    }

    /// Records beyond the first copy of each event.
    pub fn duplicates(&self) -> u64 {
        self.records - self.distinct()
    }

    /// Sequences below a key's highest one that are not in the log.
    pub fn gaps(&self) -> u64 {
        self.keys
            .values()
            .map(|seqs| {
                let highest = seqs.keys().next_back().map_or(0, |&s| s + 1);
                highest - seqs.len() as u64
            })
            .sum()
    }

    /// First copies that sit in the log after a higher sequence of their key (in offset
    /// order within the key's partition): what a reader of the log finds written out of order.
    pub fn written_out_of_order(&self) -> u64 {
        let mut count = 0;
        for records in self.log.values() {
            let mut records = records.clone();
            records.sort_unstable();
            let mut seen = BTreeSet::new();
            let mut highest = None;
            for &(_, _, sequence) in &records {
                if !seen.insert(sequence) {
                    continue;
                }
                if highest.is_some_and(|h| sequence < h) {
                    count += 1;
                }
                highest = highest.max(Some(sequence));
            }
        }
        count
    }

    /// Events the ledger says were acked (sent and not failed) that the log does not hold,
    /// on keys of the given aggregates.
    pub fn lost(&self, ledger: &LedgerFile, aggregates: &[u64]) -> u64 {
        let failed: BTreeSet<[u64; 4]> = ledger.failed.iter().copied().collect();
        let empty = BTreeMap::new();
        let mut lost = 0;
        for &[producer, aggregate, index, sent] in &ledger.keys {
            if !aggregates.contains(&aggregate) {
                continue;
            }
            let seen = self
                .keys
                .get(&(producer, aggregate, index))
                .unwrap_or(&empty);
            lost += (0..sent)
                .filter(|s| !seen.contains_key(s))
                .filter(|&s| !failed.contains(&[producer, aggregate, index, s]))
                .count() as u64;
        }
        lost
    }

    /// Failed sends that are in the log all the same (the broker wrote them, the ack was lost).
    pub fn failed_but_written(&self, ledger: &LedgerFile) -> u64 {
        ledger
            .failed
            .iter()
            .filter(|[p, a, i, s]| {
                self.keys
                    .get(&(*p, *a, *i))
                    .is_some_and(|seqs| seqs.contains_key(s))
            })
            .count() as u64
    }
}

/// Reads a run's ledger.json.
pub fn ledger(dir: &Path) -> LedgerFile {
    let text = std::fs::read_to_string(dir.join("ledger.json")).expect("ledger.json written");
    serde_json::from_str(&text).expect("ledger.json parses")
}

/// Every record value of `topic`, from the earliest offset, as Kafka's Java console consumer
/// prints it; it must say it processed exactly as many records as it printed.
pub fn console_values(bootstrap: &str, topic: &str) -> Vec<String> {
    console_records(bootstrap, topic)
        .into_iter()
        .map(|(_, _, value)| value)
        .collect()
}

/// Kafka's jars, for its own Java tools.
fn classpath() -> &'static str {
    static CLASSPATH: OnceLock<String> = OnceLock::new();
    CLASSPATH.get_or_init(|| {
        let classpath = script(&["classpath"]);
        assert!(classpath.status.success(), "{}", super::console(&classpath));
        String::from_utf8_lossy(&classpath.stdout)
            .trim()
            .to_string()
    })
}

/// Kafka's own EndToEndLatency tool on `topic` (which must exist): `records` records of 512
/// bytes, each sent with acks=all and read back before the next is sent (no batching, no
/// fetch wait). Its median in whole ms (it truncates each latency to ms), and its mean in ms
/// (from nanosecond timings, its first, cold records included).
pub fn end_to_end_latency_ms(bootstrap: &str, topic: &str, records: u32) -> (u64, f64) {
    let output = Command::new("java")
        .args(["-Xmx512m", "-cp", classpath()])
        .arg("org.apache.kafka.tools.EndToEndLatency")
        .args([bootstrap, topic, &records.to_string(), "all", "512"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("java runs EndToEndLatency");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // "Avg latency: 2.1154 ms" and "Percentiles: 50th = 1, 99th = 9, 99.9th = 64"
    let mean = stdout.lines().find_map(|line| {
        line.strip_prefix("Avg latency: ")?
            .strip_suffix(" ms")?
            .parse()
            .ok()
    });
    let median = stdout.lines().find_map(|line| {
        let rest = line.strip_prefix("Percentiles: 50th = ")?;
        rest.split(',').next()?.trim().parse().ok()
    });
    match (median, mean) {
        (Some(median), Some(mean)) => (median, mean),
        _ => panic!(
            "EndToEndLatency printed no figures:\n{}",
            super::console(&output)
        ),
    }
}

/// How many records `topic` holds, as its partitions' leaders answer: high watermark less low,
/// summed. Nothing here writes transactions, so every offset below the high watermark is a
/// record. Read with surge's own watermark reader, which retries a partition whose leader is
/// still settling (a broker restarted near the run's end gets its leadership back within 30 s,
/// while the read-back runs).
fn records_in(bootstrap: &str, topic: &str) -> u64 {
    use rdkafka::consumer::Consumer;
    let metadata = metadata_reader(bootstrap)
        .fetch_metadata(Some(topic), std::time::Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let marks = surge::kafka::reader::topic_watermarks(
        bootstrap,
        &[],
        topic,
        partitions,
        std::time::Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("watermarks of {topic}: {e}"));
    marks.iter().map(|(low, high)| (high - low) as u64).sum()
}

/// A client that only asks the cluster for metadata.
pub fn metadata_reader(bootstrap: &str) -> rdkafka::consumer::BaseConsumer {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("a metadata client")
}

/// Every record of `topic` as the console consumer prints it: partition, offset, value.
///
/// The reader stops once it has read as many records as the log holds (`--max-messages`), so
/// a read costs the JVM's start and the read, not an idle timeout after the last record (8 s a
/// read, on some twenty reads a suite). The idle timeout stays as the bound: a reader that finds
/// fewer records than the log holds still ends, and the read fails naming both counts.
pub fn console_records(bootstrap: &str, topic: &str) -> Vec<(u32, i64, String)> {
    let expected = records_in(bootstrap, topic);
    let classpath = classpath();
    let mut java = Command::new("java");
    // C1 and the serial collector: the reader's JVM starts sooner and takes less of the two
    // cores from the cluster.
    java.args(["-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
        .args(["-cp", classpath])
        .arg("org.apache.kafka.tools.consumer.ConsoleConsumer")
        .args(["--bootstrap-server", bootstrap, "--topic", topic])
        .args(["--from-beginning", "--timeout-ms", "8000"]);
    // An empty log is read until the idle timeout: the reader, not the watermarks, says so.
    if expected > 0 {
        java.args(["--max-messages", &expected.to_string()]);
    }
    let output = java
        .args(["--property", "print.partition=true"])
        .args(["--property", "print.offset=true"])
        .args(["--consumer-property", "isolation.level=read_uncommitted"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("java runs the console consumer");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // "Partition:N\tOffset:M\tVALUE" per record.
    let values: Vec<(u32, i64, String)> = stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let partition = parts.next()?.strip_prefix("Partition:")?.parse().ok()?;
            let offset = parts.next()?.strip_prefix("Offset:")?.parse().ok()?;
            Some((partition, offset, parts.next()?.to_string()))
        })
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Processed a total of"),
        "the console consumer did not finish on {topic}:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("Processed a total of {} messages", values.len())),
        "the console consumer printed {} records on {topic}, but said:\n{stderr}",
        values.len()
    );
    assert_eq!(
        values.len() as u64,
        expected,
        "the console consumer read {} records of {topic}, whose partitions hold {expected}",
        values.len()
    );
    values
}

/// Reads every partition of `topics` from the earliest offset with Kafka's Java console
/// consumer and keeps the events of run `run_id`.
pub fn read_back(bootstrap: &str, topics: &[&str], run_id: &str) -> ReadBack {
    let run_id: [u8; 8] = run_id.as_bytes().try_into().expect("an 8-byte run id");
    let mut found = ReadBack::default();
    for topic in topics {
        for (partition, offset, value) in console_records(bootstrap, topic) {
            if let Decoded::Ours(meta) = decode(value.as_bytes(), &run_id) {
                found.records += 1;
                found.bytes += value.len() as u64;
                let key = (
                    meta.producer.into(),
                    meta.aggregate.into(),
                    meta.index.into(),
                );
                *found
                    .keys
                    .entry(key)
                    .or_default()
                    .entry(meta.sequence.into())
                    .or_default() += 1;
                found
                    .log
                    .entry(key)
                    .or_default()
                    .push((partition, offset, meta.sequence.into()));
            }
        }
    }
    found
}
