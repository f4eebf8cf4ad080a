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
    for (i, event) in scenario.events.iter().enumerate() {
        let aggregate = &scenario.aggregates[event.aggregate];
        let envelope = envelope_len(&event.name, &aggregate.name);
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

/// The smallest event of this type and aggregate: its JSON envelope with an empty body.
pub fn envelope_len(event_name: &str, aggregate_name: &str) -> u64 {
    let run_id = [b'0'; RUN_ID_LEN];
    EventEncoder::new(&run_id, u16::MAX, u16::MAX, event_name, aggregate_name, 0).envelope_len()
        as u64
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

/// How an event type's sizes are drawn.
enum Sizes {
    Fixed(u64),
    /// Uniform between the two, both included.
    Range(u64, u64),
    /// Sizes at evenly spaced quantiles: a quantile drawn uniformly, its size read linearly
    /// between the two nearest.
    Quantiles(Vec<u64>),
}

impl Sizes {
    #[inline]
    fn draw(&self, rng: &mut SmallRng) -> u64 {
        match self {
            Sizes::Fixed(size) => *size,
            Sizes::Range(min, max) => rng.random_range(*min..=*max),
            Sizes::Quantiles(table) => {
                let at = rng.random::<f64>() * (table.len() - 1) as f64;
                let low = at as usize;
                let (a, b) = (
                    table[low] as f64,
                    table[(low + 1).min(table.len() - 1)] as f64,
                );
                (a + (b - a) * (at - low as f64)).round() as u64
            }
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
    events: Vec<(EventEncoder, usize, Sizes)>,
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
                let sizes = match e.size_quantiles.as_slice() {
                    [] | [_] if e.size_min == e.size_max => Sizes::Fixed(e.size_max),
                    [] | [_] => Sizes::Range(e.size_min, e.size_max),
                    table => Sizes::Quantiles(table.to_vec()),
                };
                (encoder, e.aggregate, sizes)
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
        let (encoder, aggregate, sizes) = &mut self.events[kind];
        let index = self.samplers[*aggregate].sample(&mut self.rng);
        let counter = &mut self.sequences[*aggregate][index as usize];
        let sequence = *counter;
        *counter += 1;
        let size = sizes.draw(&mut self.rng);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_at_quantiles_are_drawn_in_their_proportions() {
        let scenario = crate::scenario::from_text(
            "[[topics]]\nname = \"t\"\n[[events]]\nname = \"E\"\ntopic = \"t\"\n\
             size = [\"400B\", \"500B\", \"1000B\", \"3000B\", \"5000B\"]\n\
             [[phases]]\nrate = 1\nduration = \"1s\"\n",
        );
        validate(&scenario).unwrap();
        let mut generator = EventGenerator::new(&scenario, &[b'r'; RUN_ID_LEN], 0);
        let mut sizes: Vec<usize> = (0..40_000)
            .map(|n| generator.next_event(n, 0).payload.len())
            .collect();
        sizes.sort_unstable();
        let at = |q: f64| sizes[((sizes.len() - 1) as f64 * q) as usize] as f64;
        // The table's quartiles are its points: 500 B at 25%, 1000 B at 50%, 3000 B at 75%.
        for (q, expected) in [
            (0.25, 500.0),
            (0.5, 1000.0),
            (0.75, 3000.0),
            (0.875, 4000.0),
        ] {
            assert!((at(q) / expected - 1.0).abs() < 0.03, "p{q}: {}", at(q));
        }
        assert_eq!((sizes[0], sizes[sizes.len() - 1]), (400, 5000));
        assert_eq!(scenario.events[0].mean_size(), 1800.0);
    }
}
