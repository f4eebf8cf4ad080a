//! surge's own per-event work: pacing, encoding, decoding, histogram recording and the
//! ordering checker. Target: well under 1 us per event for all of it together.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use surge::engine::pacer::{Pacer, Plan};
use surge::metrics::{KeyId, LatencyRecorder, OrderingChecker};
use surge::scenario::{Overrides, Scenario};
use surge::workload::{EventGenerator, decode};

const RUN_ID: &[u8; 8] = b"benchrun";

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/black-friday.toml");
    surge::validate(&path, &Overrides::default()).expect("black-friday.toml is valid")
}

fn hot_paths(c: &mut Criterion) {
    let scenario = scenario();
    let plan = Plan::new(&scenario.phases);

    c.bench_function("pacer: next intended time", |b| {
        let mut pacer = Pacer::new(0, 1);
        b.iter(|| {
            let tick = pacer.peek(&plan).unwrap_or_else(|| {
                pacer = Pacer::new(0, 1);
                pacer.peek(&plan).expect("plan has events")
            });
            pacer.advance();
            black_box(tick)
        })
    });

    c.bench_function("encode: pick, number and template one event", |b| {
        let mut generator = EventGenerator::new(&scenario, RUN_ID, 0);
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let event = generator.next_event(n, 1_764_244_800_000_000 + n * 10);
            black_box(event.payload.len())
        })
    });

    let mut generator = EventGenerator::new(&scenario, RUN_ID, 0);
    let payload = generator
        .next_event(1, 1_764_244_800_000_000)
        .payload
        .to_vec();
    c.bench_function("decode: surge prefix of one payload", |b| {
        b.iter(|| black_box(decode(black_box(&payload), RUN_ID)))
    });

    c.bench_function("histogram: record one latency (interval + total)", |b| {
        let mut recorder = LatencyRecorder::default();
        let mut v = 0u64;
        b.iter(|| {
            v = (v + 7919) % 200_000;
            recorder.record(black_box(v + 1));
        })
    });

    c.bench_function("checker: observe one in-order event (100k keys)", |b| {
        let mut checker = OrderingChecker::default();
        let mut sequences = vec![0u32; 100_000];
        let mut k = 0u32;
        b.iter(|| {
            k = (k + 7919) % 100_000;
            let sequence = sequences[k as usize];
            sequences[k as usize] += 1;
            black_box(checker.observe(KeyId::new(0, 0, k), sequence))
        })
    });

    c.bench_function("all of surge's per-event work together", |b| {
        let mut pacer = Pacer::new(0, 1);
        let mut generator = EventGenerator::new(&scenario, RUN_ID, 0);
        let mut publish = LatencyRecorder::default();
        let mut e2e = LatencyRecorder::default();
        let mut checker = OrderingChecker::default();
        b.iter(|| {
            let tick = pacer.peek(&plan).unwrap_or_else(|| {
                pacer = Pacer::new(0, 1);
                pacer.peek(&plan).expect("plan has events")
            });
            pacer.advance();
            let intended = 1_764_244_800_000_000 + tick.intended.as_micros() as u64;
            let event = generator.next_event(tick.event, intended);
            if let surge::workload::Decoded::Ours(meta) = decode(event.payload, RUN_ID) {
                checker.observe(
                    KeyId::new(meta.producer, meta.aggregate, meta.index),
                    meta.sequence,
                );
                publish.record(1_500);
                e2e.record(intended % 50_000 + 1);
            }
        })
    });
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
