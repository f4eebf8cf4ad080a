//! surge's own per-event work: pacing, encoding, decoding, histogram recording and the
//! ordering checker. Target: well under 1 us per event for all of it together.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

use surge::engine::{Clock, PaceEnd, Pacer, Plan, pace};
use surge::metrics::{KeyId, LatencyRecorder, OrderingChecker};
use surge::scenario::{Overrides, Scenario};
use surge::workload::{EventGenerator, decode};

const RUN_ID: &[u8; 8] = b"benchrun";

/// A clock that jumps to each wake-up: the pacing loop's own cost, without sleeping.
struct JumpClock(Duration);

impl Clock for JumpClock {
    fn elapsed(&self) -> Duration {
        self.0
    }
    fn wait_until(&mut self, at: Duration) {
        self.0 = self.0.max(at);
    }
}

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

    // 10k/s for 100 ms with a wake-up every millisecond: 100 bursts of 10 due events each.
    let paced = Plan::new(
        &surge::validate(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/paced-10k.toml"),
            &Overrides {
                duration_scale: Some(0.01),
                ..Overrides::default()
            },
        )
        .expect("benches/paced-10k.toml is valid")
        .phases,
    );
    assert_eq!(paced.total_events(), 1000);
    c.bench_function(
        "pacer: 100 bursts of 10 due events (10k/s, 1 ms wakes)",
        |b| {
            b.iter(|| {
                let mut sent = 0u64;
                let end = pace(
                    &paced,
                    &mut Pacer::new(0, 1),
                    &mut JumpClock(Duration::ZERO),
                    Duration::from_secs(1),
                    || false,
                    |tick, at| sent += black_box(tick.event) + black_box(at).subsec_nanos() as u64,
                );
                assert_eq!(end, PaceEnd::Finished);
                black_box(sent)
            })
        },
    );

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
