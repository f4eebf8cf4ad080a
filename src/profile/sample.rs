//! The sampled records of one topic, tallied as they are read: per record type its count, value
//! sizes and a counter per key. A key is kept only as a 64-bit hash and a type only as its
//! name: no key or payload bytes outlive the read.

use std::hash::BuildHasher;

use rustc_hash::{FxBuildHasher, FxHashMap};

use super::fit::{self, KeyFit, QUANTILE_POINTS};

/// What one record type of a topic's sample showed.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSample {
    /// The type header's value; empty for records without it.
    pub name: String,
    pub count: u64,
    /// Its share of the topic's sampled records.
    pub share: f64,
    /// Value sizes at every 5% quantile, smallest first.
    pub sizes: Vec<u64>,
    /// The key space; `None` when no record of the type had a key.
    pub keys: Option<KeyFit>,
    /// Records of the type without a key.
    pub keyless: u64,
    /// The keys a type without any is replayed with ([`KEYLESS_KEYS`], or fewer when the run's
    /// key states are bounded).
    pub keyless_keys: u64,
}

/// The uniform keys that spread a keyless type's events over the partitions.
pub const KEYLESS_KEYS: u64 = 10_000;

/// At most this many header names are counted, and types told apart: a producer that writes
/// a new name into every record cannot grow the tallies without bound.
const MAX_HEADER_NAMES: usize = 100;
const MAX_TYPES: usize = 1_000;

/// The type the records of types past [`MAX_TYPES`] are counted under.
pub const OTHER_TYPES: &str = "(other types)";

#[derive(Default)]
struct Tally {
    count: u64,
    sizes: Vec<u32>,
    keys: FxHashMap<u64, u32>,
    keyless: u64,
}

/// One topic's sample, being read.
#[derive(Default)]
pub struct SampleBook {
    types: FxHashMap<String, Tally>,
    headers: FxHashMap<String, u64>,
    records: u64,
    value_bytes: u64,
}

impl SampleBook {
    /// Tallies one record: its key, value size, header names, and its type from `type_header`.
    pub fn add(
        &mut self,
        key: Option<&[u8]>,
        value_len: usize,
        headers: &[(impl AsRef<str>, Option<&[u8]>)],
        type_header: &str,
    ) {
        self.records += 1;
        self.value_bytes += value_len as u64;
        for (name, _) in headers {
            let name = name.as_ref();
            if let Some(count) = self.headers.get_mut(name) {
                *count += 1;
            } else if self.headers.len() < MAX_HEADER_NAMES {
                self.headers.insert(name.to_string(), 1);
            }
        }
        let kind = headers
            .iter()
            .find(|(name, _)| name.as_ref() == type_header)
            .and_then(|(_, value)| *value)
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let kind = if self.types.contains_key(kind.as_ref()) || self.types.len() < MAX_TYPES {
            kind
        } else {
            std::borrow::Cow::Borrowed(OTHER_TYPES)
        };
        let tally = match self.types.get_mut(kind.as_ref()) {
            Some(tally) => tally,
            None => self.types.entry(kind.into_owned()).or_default(),
        };
        tally.count += 1;
        tally.sizes.push(value_len.min(u32::MAX as usize) as u32);
        match key {
            Some(key) => *tally.keys.entry(FxBuildHasher.hash_one(key)).or_default() += 1,
            None => tally.keyless += 1,
        }
    }

    /// Records tallied.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Mean value bytes of a tallied record (0 for none).
    pub fn mean_value_bytes(&self) -> f64 {
        self.value_bytes as f64 / self.records.max(1) as f64
    }

    /// Each header name with the share of records that carried it, most common first.
    pub fn headers(&self) -> Vec<(String, f64)> {
        let mut shares: Vec<(String, f64)> = self
            .headers
            .iter()
            .map(|(name, &count)| (name.clone(), count as f64 / self.records.max(1) as f64))
            .collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        shares
    }

    /// The types found, largest share first, each with its sizes and key space fitted.
    pub fn types(self) -> Vec<TypeSample> {
        let total = self.records.max(1) as f64;
        let mut types: Vec<TypeSample> = self
            .types
            .into_iter()
            .map(|(name, mut tally)| {
                let counts: Vec<u32> = tally.keys.into_values().collect();
                TypeSample {
                    name,
                    count: tally.count,
                    share: tally.count as f64 / total,
                    sizes: fit::quantiles(&mut tally.sizes, QUANTILE_POINTS),
                    keys: fit::fit_keys(&counts),
                    keyless: tally.keyless,
                    keyless_keys: KEYLESS_KEYS,
                }
            })
            .collect();
        types.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        types
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_tallied_by_their_type_header() {
        let mut book = SampleBook::default();
        let typed: [(&str, Option<&[u8]>); 2] = [
            ("__TypeId__", Some(b"com.shop.OrderCreated")),
            ("traceparent", None),
        ];
        for i in 0..30_u32 {
            let key = (i % 3).to_string();
            book.add(Some(key.as_bytes()), 100 + i as usize, &typed, "__TypeId__");
        }
        book.add(None, 50, &[] as &[(&str, Option<&[u8]>)], "__TypeId__");
        assert_eq!(book.records(), 31);
        let headers = book.headers();
        assert_eq!(headers[0].0, "__TypeId__");
        assert!((headers[0].1 - 30.0 / 31.0).abs() < 1e-9);
        let types = book.types();
        assert_eq!(types.len(), 2);
        assert_eq!(types[0].name, "com.shop.OrderCreated");
        assert_eq!(types[0].count, 30);
        assert_eq!(types[0].keys.as_ref().unwrap().distinct, 3);
        assert_eq!((types[0].sizes[0], types[0].sizes[20]), (100, 129));
        assert_eq!((types[1].name.as_str(), types[1].keyless), ("", 1));
        assert_eq!(types[1].keys, None);
    }
}
