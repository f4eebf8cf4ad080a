//! Mutation fuzzers for everything surge reads back from disk, run for a bounded number of
//! cases in every test run (`SURGE_FUZZ_CASES=N` for more, `SURGE_FUZZ_SEED` for others;
//! scripts/fuzz.sh runs a million): hlog lines, the histograms they hold, `summary.json` with
//! the reports drawn from it, and the worker sets `surge merge` adds up. None may panic; a
//! refusal names the file.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use base64::Engine;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

/// Cases to run: `SURGE_FUZZ_<TARGET>`, else `SURGE_FUZZ_CASES`, else `default`.
fn cases(target: &str, default: usize) -> usize {
    [format!("SURGE_FUZZ_{target}"), "SURGE_FUZZ_CASES".into()]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse().ok())
        .unwrap_or(default)
}

fn rng() -> (StdRng, u64) {
    let seed = std::env::var("SURGE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261206);
    (StdRng::seed_from_u64(seed), seed)
}

/// Numbers and values a crafted file might hold where surge expects its own.
fn hostile_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..12) {
        0 => json!(u64::MAX),
        1 => json!(-1),
        2 => json!(1e308),
        3 => json!(-1e308),
        4 => json!(0),
        5 => json!(4_294_967_295u64),
        6 => json!(null),
        7 => json!("x".repeat(rng.random_range(0..3000))),
        8 => json!([]),
        9 => json!({}),
        10 => json!(65_535),
        _ => json!(rng.random::<u32>()),
    }
}

/// Every path to a leaf of `value`, as JSON pointers.
fn leaves(value: &Value, at: String, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| leaves(v, format!("{at}/{k}"), into)),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{at}/{i}"), into)),
        _ => into.push(at),
    }
}

/// One to four leaves of `value` replaced by hostile values, or an array emptied.
fn mutate_json(rng: &mut StdRng, value: &mut Value) {
    let mut paths = Vec::new();
    leaves(value, String::new(), &mut paths);
    for _ in 0..rng.random_range(1..=4) {
        let path = &paths[rng.random_range(0..paths.len())];
        if rng.random_bool(0.2)
            && let Some((parent, _)) = path.rsplit_once('/')
            && let Some(Value::Array(items)) = value.pointer_mut(parent)
        {
            items.clear();
            continue;
        }
        if let Some(slot) = value.pointer_mut(path) {
            *slot = hostile_value(rng);
        }
    }
}

/// A V2 histogram's bytes with hostile values in its header or its counts.
fn mutate_histogram(rng: &mut StdRng, encoded: &str) -> String {
    use std::io::{Read, Write};
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine.decode(encoded).unwrap();
    let mut plain = Vec::new();
    flate2::read::ZlibDecoder::new(&bytes[8..])
        .read_to_end(&mut plain)
        .unwrap();
    for _ in 0..rng.random_range(1..=3) {
        let at = rng.random_range(0..plain.len());
        match rng.random_range(0..4) {
            0 => plain[at] = rng.random(),
            1 => plain[at..].iter_mut().take(4).for_each(|b| *b = 0xff),
            2 => plain.truncate(at),
            _ => plain.extend((0..rng.random_range(1..64)).map(|_| rng.random::<u8>())),
        }
        if plain.is_empty() {
            break;
        }
    }
    let mut deflater = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    deflater.write_all(&plain).unwrap();
    let deflated = deflater.finish().unwrap();
    let mut out = bytes[..4].to_vec();
    out.extend((deflated.len() as u32).to_be_bytes());
    out.extend(deflated);
    engine.encode(out)
}

/// One mutation of an hlog's text: a line's bytes, its histogram, or the lines themselves.
fn mutate_log(rng: &mut StdRng, text: &str) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
    let intervals: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with(b"Tag="))
        .collect();
    let at = intervals[rng.random_range(0..intervals.len())];
    match rng.random_range(0..5) {
        0 | 1 => {
            let line = String::from_utf8(lines[at].clone()).unwrap();
            let (head, histogram) = line.rsplit_once(',').unwrap();
            lines[at] = format!("{head},{}", mutate_histogram(rng, histogram)).into_bytes();
        }
        2 => {
            let i = rng.random_range(0..lines[at].len());
            lines[at][i] = rng.random();
        }
        3 => {
            let copies = rng.random_range(1..200);
            let line = lines[at].clone();
            lines.splice(at..at, std::iter::repeat_n(line, copies));
        }
        _ => {
            let fields = ["-1.000", "nan", "1e308", "", "18446744073709551616"];
            let line = String::from_utf8(lines[at].clone()).unwrap();
            let mut parts: Vec<&str> = line.split(',').collect();
            let field = rng.random_range(1..parts.len() - 1);
            parts[field] = fields[rng.random_range(0..fields.len())];
            lines[at] = parts.join(",").into_bytes();
        }
    }
    let mut text = lines.join(&b'\n');
    text.push(b'\n');
    text
}

#[test]
fn the_hlog_reader_never_panics_and_names_the_file() {
    let (mut rng, seed) = rng();
    let fixture = common::repo("tests/fixtures/smoke-run");
    let logs = ["publish.hlog", "e2e-analytics.hlog", "totals.hlog"];
    let originals: Vec<String> = logs
        .iter()
        .map(|l| std::fs::read_to_string(fixture.join(l)).unwrap())
        .collect();
    // One log alone in the directory: the reader reads every *.hlog there.
    let dir = tempfile::tempdir().unwrap();
    let (mut read, mut refused) = (0, 0);
    for case in 0..cases("HLOG", 400) {
        let pick = rng.random_range(0..logs.len());
        let bytes = mutate_log(&mut rng, &originals[pick]);
        std::fs::write(dir.path().join(logs[pick]), &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            surge::report::hlog::read(dir.path(), 18.2)
        }));
        match outcome {
            Err(_) => panic!("case {case} (seed {seed}) panicked on {}", logs[pick]),
            Ok(Ok(_)) => read += 1,
            Ok(Err(error)) => {
                refused += 1;
                let message = error.to_string();
                assert!(
                    message.contains(".hlog") && message.len() < 2_000,
                    "case {case}: {message}"
                );
            }
        }
        std::fs::remove_file(dir.path().join(logs[pick])).unwrap();
    }
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
}

/// `summary.json` of `dir`, parsed.
fn json_of(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_mutated_summary_is_refused_or_rendered_never_a_panic() {
    let (mut rng, seed) = rng();
    let dir = tempfile::tempdir().unwrap();
    common::copy_fixture(dir.path());
    let original = json_of(&dir.path().join("summary.json"));
    let (mut rendered, mut refused) = (0, 0);
    for case in 0..cases("SUMMARY", 150) {
        let mut summary = original.clone();
        mutate_json(&mut rng, &mut summary);
        std::fs::write(dir.path().join("summary.json"), summary.to_string()).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            surge::report::load_run(dir.path())
                .map(|run| surge::report::write_all(dir.path(), &run))
        }));
        match outcome {
            Err(_) => panic!("case {case} (seed {seed}) panicked on:\n{summary}"),
            Ok(Ok(_)) => rendered += 1,
            Ok(Err(error)) => {
                refused += 1;
                // The refusal names the file: summary.json, or one it says the run wrote.
                let message = error.to_string();
                assert!(
                    message.contains(dir.path().to_str().unwrap()) && message.len() < 2_000,
                    "case {case}: {message}"
                );
            }
        }
    }
    assert!(
        rendered > 0 && refused > 0,
        "{rendered} rendered, {refused} refused"
    );
}

#[test]
fn a_mutated_worker_set_is_refused_or_merged_never_a_panic_or_a_hang() {
    let (mut rng, seed) = rng();
    let set = tempfile::tempdir().unwrap();
    let fixture = common::repo("tests/fixtures/worker-set");
    let workers = ["w0", "w1"];
    for w in workers {
        common::copy_dir(&fixture.join(w), &set.path().join(w));
    }
    let files = ["worker.json", "ledger.json", "summary.json"];
    let dirs: Vec<_> = workers.iter().map(|w| set.path().join(w)).collect();
    let (mut merged, mut refused) = (0, 0);
    for case in 0..cases("MERGE", 60) {
        let (w, file) = (
            rng.random_range(0..2),
            files[rng.random_range(0..files.len())],
        );
        let path = dirs[w].join(file);
        let original = json_of(&fixture.join(workers[w]).join(file));
        let mut value = original.clone();
        mutate_json(&mut rng, &mut value);
        std::fs::write(&path, value.to_string()).unwrap();
        let out = set.path().join("merged");
        let outcome = catch_unwind(AssertUnwindSafe(|| surge::merge::merge(&dirs, &out, 0.1)));
        match outcome {
            Err(_) => panic!(
                "case {case} (seed {seed}) panicked on {}:\n{value}",
                path.display()
            ),
            Ok(Ok(_)) => merged += 1,
            Ok(Err(_)) => refused += 1,
        }
        std::fs::write(&path, original.to_string()).unwrap();
    }
    assert!(
        merged > 0 && refused > 0,
        "{merged} merged, {refused} refused"
    );
}

#[test]
fn client_properties_never_panic_validation_or_leak_a_secret() {
    let (mut rng, seed) = rng();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        "[cluster]\nbootstrap = \"127.0.0.1:9092\"\n[[topics]]\nname = \"t\"\n[[events]]\nname = \"E\"\ntopic = \"t\"\n[[phases]]\nrate = \"1/s\"\nduration = \"1s\"\n",
    )
    .unwrap();
    let keys = [
        "sasl.password",
        "ssl.key.password",
        "security.protocol",
        "enable.ssl.certificate.verification",
        "ssl.endpoint.identification.algorithm",
        "linger.ms",
        "acks",
        "producer.acks",
        "consumer.fetch.min.bytes",
        "batch.size",
        "",
        " ",
        "producer.",
        "no.such",
        "sasl.mechanism",
    ];
    let values = [
        "",
        " ",
        "f",
        "F",
        "0",
        "none",
        "PLAINTEXT",
        "sasl_plaintext",
        "ssl",
        "-1",
        "1e308",
        "nan",
        "all",
        "SECRET-marker-1",
        "\u{0}",
        "9999999999999999999999",
    ];
    for case in 0..cases("PROPERTIES", 2000) {
        let properties: Vec<(String, String)> = (0..rng.random_range(1..4))
            .map(|_| {
                let key = keys[rng.random_range(0..keys.len())];
                let value = values[rng.random_range(0..values.len())];
                (key.to_string(), value.to_string())
            })
            .collect();
        let overrides = surge::scenario::Overrides {
            properties: properties.clone(),
            auth: [None, Some("tls"), Some("scram-sha-512")][rng.random_range(0..3)]
                .map(String::from),
            insecure_skip_tls_verify: rng.random_bool(0.2),
            ..Default::default()
        };
        let secrets: Vec<&str> = properties
            .iter()
            .filter(|(k, v)| surge::scenario::is_secret_property(k) && v.starts_with("SECRET"))
            .map(|(_, v)| v.as_str())
            // The same value given to a property that is no secret is shown as that one's.
            .filter(|v| {
                !properties
                    .iter()
                    .any(|(k, w)| w == v && !surge::scenario::is_secret_property(k))
            })
            .collect();
        let outcome = catch_unwind(AssertUnwindSafe(|| surge::validate(&path, &overrides)));
        let shown = match outcome {
            Err(_) => panic!("case {case} (seed {seed}) panicked on {properties:?}"),
            Ok(Ok(scenario)) => format!(
                "{:?} {:?}",
                scenario.settings.properties, scenario.cluster.protocol_override
            ),
            Ok(Err(error)) => error.to_string(),
        };
        for secret in secrets {
            assert!(!shown.contains(secret), "case {case}: {shown}");
        }
    }
}
