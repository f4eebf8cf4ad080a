//! A mutation fuzzer for the scenario loader, run for a bounded number of cases in every test
//! run: each case mutates a file of the corpus (tests/fuzz-corpus, built from scenarios/*.toml)
//! with hostile values, deleted, repeated or misplaced lines, flipped bytes and truncation. The
//! loader must never panic, and must answer with either a bounded scenario or an error that names
//! the file and a key or a position. `SURGE_FUZZ_SCENARIO=N` (or `SURGE_FUZZ_CASES`) runs more
//! cases, `SURGE_FUZZ_SEED` others; scripts/fuzz.sh runs a million across every reader.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use surge::scenario::Overrides;

/// Values a careless or hostile file might hold.
const HOSTILE: &[&str] = &[
    "\"18446744073709551615s\"",
    "\"1e308/s\"",
    "\"1e30/s\"",
    "1e308",
    "-1",
    "0",
    "\"\"",
    "18446744073709551615",
    "9223372036854775807",
    "100000000000",
    "\"999999h\"",
    "\"7d\"",
    "\"8d\"",
    "true",
    "[]",
    "{}",
    "nan",
    "inf",
    "\"0s\"",
    "\"1ms\"",
    "\"10M/s\"",
    "\"10.1M/s\"",
    "\"1B..999999999B\"",
    "\"512B..256B\"",
    "[\"1/s\", \"2/s\", \"3/s\", \"4/s\", \"5/s\"]",
    "\"zipf\"",
    "\"spike\"",
    "\"step\"",
    "\"replay\"",
    "\"ramp\"",
    "\"embedded\"",
    "\"127.0.0.1:1\"",
    "\"not a host\"",
];

/// Keys a mutation may add to a table, whether or not they belong there.
const KEYS: &[&str] = &[
    "factor",
    "spike_at",
    "spike_duration",
    "csv",
    "scale",
    "rates",
    "from",
    "to",
    "shape",
    "rate",
    "duration",
    "warmup",
    "size",
    "keys",
    "members",
    "processing_time",
    "send_grace",
    "drain_timeout",
    "at",
    "kind",
    "broker",
    "group",
    "member",
    "rtt",
    "count",
    "partitions",
    "replication_factor",
    "weight",
];

fn corpus() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect("tests/fuzz-corpus exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 4, "the corpus holds the shipped scenarios");
    files
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// One to three mutations of a file's bytes.
fn mutate(rng: &mut StdRng, text: &str) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut tail: Option<Vec<u8>> = None;
    for _ in 0..rng.random_range(1..=3) {
        if lines.is_empty() {
            break;
        }
        let at = rng.random_range(0..lines.len());
        match rng.random_range(0..7) {
            // A hostile value for an existing key.
            0 | 1 => {
                let assignments: Vec<usize> = (0..lines.len())
                    .filter(|&i| lines[i].contains(" = "))
                    .collect();
                if let Some(&at) = assignments.get(rng.random_range(0..assignments.len().max(1))) {
                    let key = lines[at]
                        .split_once(" = ")
                        .map(|(k, _)| k.to_string())
                        .unwrap_or_default();
                    lines[at] = format!("{key} = {}", pick(rng, HOSTILE));
                }
            }
            // A key added where it may not belong.
            2 => lines.insert(at, format!("{} = {}", pick(rng, KEYS), pick(rng, HOSTILE))),
            3 => {
                lines.remove(at);
            }
            4 => {
                let line = lines[at].clone();
                lines.insert(at, line);
            }
            // A byte that is not UTF-8, or any byte.
            5 => {
                let mut bytes = lines[at].clone().into_bytes();
                let i = rng.random_range(0..=bytes.len());
                bytes.insert(
                    i,
                    if rng.random_bool(0.5) {
                        0xFF
                    } else {
                        rng.random()
                    },
                );
                lines[at] = String::new();
                tail = Some(bytes);
            }
            // A truncated file.
            _ => lines.truncate(at),
        }
    }
    let mut out = lines.join("\n").into_bytes();
    if let Some(bytes) = tail {
        out.push(b'\n');
        out.extend(bytes);
    }
    out
}

#[test]
fn the_loader_never_panics_and_always_names_a_key_or_a_position() {
    let cases: usize = ["SURGE_FUZZ_SCENARIO", "SURGE_FUZZ_CASES"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse().ok())
        .unwrap_or(1500);
    let seed: u64 = std::env::var("SURGE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261127);
    let mut rng = StdRng::seed_from_u64(seed);
    let corpus = corpus();
    let dir = tempfile::tempdir().unwrap();
    // Relative CSV paths in the corpus resolve beside the mutated file.
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let (mut accepted, mut rejected) = (0, 0);
    for case in 0..cases {
        let (origin, text) = pick(&mut rng, &corpus);
        let bytes = mutate(&mut rng, text);
        let file = dir.path().join(format!("case-{case}.toml"));
        std::fs::write(&file, &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            surge::validate(&file, &Overrides::default())
        }));
        let shown = || {
            format!(
                "case {case} (seed {seed}, from {}):\n{}",
                origin.display(),
                String::from_utf8_lossy(&bytes)
            )
        };
        match outcome {
            Err(_) => panic!("the loader panicked on {}", shown()),
            Ok(Ok(scenario)) => {
                accepted += 1;
                let plan: Duration = scenario.phases.iter().map(|p| p.duration).sum();
                assert!(
                    plan <= Duration::from_secs(7 * 24 * 3600),
                    "plan of {plan:?} accepted: {}",
                    shown()
                );
                assert!(
                    scenario.phases.iter().all(|p| p.shape.peak_rate() <= 10e6),
                    "a rate above 10M/s accepted: {}",
                    shown()
                );
                assert!(
                    scenario.events.iter().all(|e| e.size_max < 1_000_000),
                    "{}",
                    shown()
                );
            }
            Ok(Err(error)) => {
                rejected += 1;
                let message = error.to_string();
                assert!(
                    message.contains(&file.display().to_string()),
                    "no file named in `{message}`: {}",
                    shown()
                );
                assert!(
                    message.contains('`') || message.contains("line ") || message.contains("byte "),
                    "no key or position in `{message}`: {}",
                    shown()
                );
                assert!(
                    message.len() < 2000,
                    "a message of {} bytes: {}",
                    message.len(),
                    shown()
                );
            }
        }
    }
    // Both sides were exercised: the mutations are neither all harmless nor all fatal.
    assert!(
        accepted > cases / 20 && rejected > cases / 4,
        "{accepted} accepted, {rejected} rejected"
    );
}
