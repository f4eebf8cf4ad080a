//! The synthetic domain-event workload: which event, which key, which sequence, which bytes.

pub mod codec;

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rand_distr::Zipf;

use crate::metrics::{KeyId, SentLedger};
use crate::scenario::{KeyDistribution, Scenario, ScenarioError};
use codec::EventEncoder;
pub use codec::{Decoded, EventMeta, RUN_ID_LEN, decode};

/// Largest key space per aggregate: each producer keeps a sequence counter per key.
pub const MAX_KEYS: u64 = 10_000_000;

/// Checks what the scenario parser cannot: event sizes against the JSON envelope.
pub fn validate(scenario: &Scenario) -> Result<(), ScenarioError> {
    let run_id = [b'0'; RUN_ID_LEN];
    for (i, event) in scenario.events.iter().enumerate() {
        let aggregate = &scenario.aggregates[event.aggregate];
        let envelope =
            EventEncoder::new(&run_id, u16::MAX, u16::MAX, &event.name, &aggregate.name, 0)
                .envelope_len() as u64;
        if event.size_min < envelope {
            return Err(ScenarioError {
                file: scenario.source.display().to_string(),
                key: format!("events[{i}].size"),
                problem: format!(
                    "{} bytes is smaller than the event's JSON envelope of {envelope} bytes",
                    event.size_min
                ),
                fix: format!("use a size of at least {envelope}B"),
            });
        }
        if aggregate.keys > MAX_KEYS {
            return Err(ScenarioError {
                file: scenario.source.display().to_string(),
                key: format!("events[{i}].keys"),
                problem: format!(
                    "{} keys is more than surge tracks per aggregate",
                    aggregate.keys
                ),
                fix: format!("use at most {MAX_KEYS} keys"),
            });
        }
    }
    Ok(())
}

enum KeySampler {
    Uniform(u64),
    Zipf(Zipf<f64>),
}

impl KeySampler {
    fn sample(&self, rng: &mut SmallRng) -> u32 {
        match self {
            KeySampler::Uniform(keys) => rng.random_range(0..*keys) as u32,
            KeySampler::Zipf(zipf) => (zipf.sample(rng) as u64).saturating_sub(1) as u32,
        }
    }
}

/// One event ready to send; borrows the generator's buffers.
pub struct OutgoingEvent<'a> {
    pub topic: usize,
    /// The index of its event type in the scenario's `[[events]]`.
    pub kind: usize,
    pub event_type: &'a str,
    pub key: &'a [u8],
    pub payload: &'a [u8],
    pub key_id: KeyId,
    pub sequence: u32,
}

/// Generates events for one producer instance. Sequences are per (instance, aggregate, key).
pub struct EventGenerator {
    instance: u16,
    rng: SmallRng,
    mix: WeightedIndex<f64>,
    events: Vec<(EventEncoder, usize, u64, u64)>,
    event_names: Vec<String>,
    samplers: Vec<KeySampler>,
    aggregate_topics: Vec<usize>,
    sequences: Vec<Vec<u32>>,
    /// Copies of `sequences` taken by [`EventGenerator::mark`].
    marks: Vec<Vec<Vec<u32>>>,
}

impl EventGenerator {
    /// A generator for one producer instance; call [`validate`] on the scenario first.
    pub fn new(scenario: &Scenario, run_id: &[u8; RUN_ID_LEN], instance: u16) -> EventGenerator {
        let weights: Vec<f64> = scenario.events.iter().map(|e| e.weight).collect();
        let events = scenario
            .events
            .iter()
            .map(|e| {
                let aggregate = &scenario.aggregates[e.aggregate];
                let encoder = EventEncoder::new(
                    run_id,
                    instance,
                    e.aggregate as u16,
                    &e.name,
                    &aggregate.name,
                    e.size_max as usize,
                );
                (encoder, e.aggregate, e.size_min, e.size_max)
            })
            .collect();
        let samplers = scenario
            .aggregates
            .iter()
            .map(|a| match a.distribution {
                KeyDistribution::Uniform => KeySampler::Uniform(a.keys),
                KeyDistribution::Zipf { exponent } => KeySampler::Zipf(
                    Zipf::new(a.keys as f64, exponent).expect("validated zipf parameters"),
                ),
            })
            .collect();
        EventGenerator {
            instance,
            rng: SmallRng::seed_from_u64(scenario.seed.wrapping_add(instance as u64 * 0x9E37_79B9)),
            mix: WeightedIndex::new(weights).expect("validated positive weights"),
            events,
            event_names: scenario.events.iter().map(|e| e.name.clone()).collect(),
            samplers,
            aggregate_topics: scenario.aggregates.iter().map(|a| a.topic).collect(),
            sequences: scenario
                .aggregates
                .iter()
                .map(|a| vec![0; a.keys as usize])
                .collect(),
            marks: Vec::new(),
        }
    }

    /// Picks, numbers and encodes the next event.
    #[inline]
    pub fn next_event(&mut self, event_number: u64, intended_at_us: u64) -> OutgoingEvent<'_> {
        let kind = self.mix.sample(&mut self.rng);
        let (encoder, aggregate, size_min, size_max) = &mut self.events[kind];
        let index = self.samplers[*aggregate].sample(&mut self.rng);
        let counter = &mut self.sequences[*aggregate][index as usize];
        let sequence = *counter;
        *counter += 1;
        let size = if size_min == size_max {
            *size_max
        } else {
            self.rng.random_range(*size_min..=*size_max)
        };
        let (key, payload) =
            encoder.encode(event_number, index, sequence, intended_at_us, size as usize);
        OutgoingEvent {
            topic: self.aggregate_topics[*aggregate],
            kind,
            event_type: &self.event_names[kind],
            key,
            payload,
            key_id: KeyId::new(self.instance, *aggregate as u16, index),
            sequence,
        }
    }

    /// Remembers every key's count at this point: the events numbered below it were
    /// generated before the mark.
    pub fn mark(&mut self) {
        self.marks.push(self.sequences.clone());
    }

    /// What this instance sent, per key, with its marks (failed sends are added by the caller).
    pub fn ledger(&self) -> SentLedger {
        let sparse = |sequences: &Vec<Vec<u32>>| {
            let mut counts = rustc_hash::FxHashMap::default();
            for (aggregate, counters) in sequences.iter().enumerate() {
                for (index, &count) in counters.iter().enumerate() {
                    if count > 0 {
                        counts.insert(
                            KeyId::new(self.instance, aggregate as u16, index as u32),
                            count,
                        );
                    }
                }
            }
            counts
        };
        SentLedger {
            counts: sparse(&self.sequences),
            marks: self.marks.iter().map(sparse).collect(),
            ..SentLedger::default()
        }
    }
}
