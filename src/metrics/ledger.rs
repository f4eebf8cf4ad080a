//! What the producers sent, per key, and what a group is found to have lost of it: the
//! ledger the checker is reconciled against, and the `ledger.json` a run writes.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::key::KeyId;

/// What the producers sent: per key, how many sequences, and which sends failed.
#[derive(Debug, Default, Clone)]
pub struct SentLedger {
    /// Sequences `0..count` were handed to the producer for each key.
    pub counts: FxHashMap<KeyId, u32>,
    /// Sends the producer reported as failed (never acked).
    pub failed: FxHashSet<(KeyId, u32)>,
    /// Per-key counts at each fault boundary, in time order (keys with a count of 0 left out).
    pub marks: Vec<FxHashMap<KeyId, u32>>,
}

impl SentLedger {
    /// Adds another instance's ledger (instances own disjoint keys).
    pub fn absorb(&mut self, other: SentLedger) {
        self.counts.extend(other.counts);
        self.failed.extend(other.failed);
        if self.marks.len() < other.marks.len() {
            self.marks
                .resize_with(other.marks.len(), FxHashMap::default);
        }
        for (mine, theirs) in self.marks.iter_mut().zip(other.marks) {
            mine.extend(theirs);
        }
    }

    /// Between which marks a key's `sequence` was generated: 0 before the first mark, `n`
    /// between mark `n - 1` and mark `n`, `marks.len()` after the last one.
    pub fn slot(&self, key: KeyId, sequence: u32) -> usize {
        self.marks
            .iter()
            .take_while(|mark| mark.get(&key).copied().unwrap_or(0) <= sequence)
            .count()
    }

    /// Reads a ledger back from `ledger.json`'s rows (fault marks are not kept there).
    pub fn import(file: &LedgerFile) -> Result<SentLedger, String> {
        let row = key_row;
        let counts: FxHashMap<KeyId, u32> = file
            .keys
            .iter()
            .map(|r| row("keys", r))
            .collect::<Result<_, _>>()?;
        if counts.len() != file.keys.len() {
            return Err("a key is listed twice under `keys`".into());
        }
        Ok(SentLedger {
            counts,
            failed: file
                .failed
                .iter()
                .map(|r| row("failed", r))
                .collect::<Result<_, _>>()?,
            marks: Vec::new(),
        })
    }

    /// The per-key counts at each fault boundary, as rows `[producer, aggregate, index,
    /// count]` sorted per mark: a worker's, for `surge merge` to place each event in its
    /// fault's window.
    pub fn export_marks(&self) -> Vec<Vec<[u64; 4]>> {
        self.marks.iter().map(count_rows).collect()
    }

    /// Reads back [`SentLedger::export_marks`]'s rows as this ledger's marks.
    pub fn import_marks(&mut self, marks: &[Vec<[u64; 4]>]) -> Result<(), String> {
        self.marks = marks
            .iter()
            .map(|rows| rows.iter().map(|r| key_row("fault_marks", r)).collect())
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// The ledger as plain rows, sorted, for `ledger.json`: what a reader that surge did not
    /// write needs to recount loss from the topics alone.
    pub fn export(&self, run_id: &str) -> LedgerFile {
        let keys = count_rows(&self.counts);
        let mut failed: Vec<[u64; 4]> = self
            .failed
            .iter()
            .map(|(k, s)| {
                [
                    k.producer().into(),
                    k.aggregate().into(),
                    k.index().into(),
                    (*s).into(),
                ]
            })
            .collect();
        failed.sort_unstable();
        LedgerFile {
            schema: LEDGER_SCHEMA.into(),
            run_id: run_id.into(),
            keys,
            failed,
        }
    }
}

/// Per key `[producer, aggregate, index, count]`, sorted.
fn count_rows(counts: &FxHashMap<KeyId, u32>) -> Vec<[u64; 4]> {
    let mut rows: Vec<[u64; 4]> = counts
        .iter()
        .map(|(k, &n)| {
            [
                k.producer().into(),
                k.aggregate().into(),
                k.index().into(),
                n.into(),
            ]
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// One row `[producer, aggregate, index, n]` of a ledger file as a key and its count.
fn key_row(what: &str, r: &[u64; 4]) -> Result<(KeyId, u32), String> {
    let fits = |v: u64, max: u64| (v <= max).then_some(v);
    match (
        fits(r[0], u16::MAX.into()),
        fits(r[1], u16::MAX.into()),
        fits(r[2], u32::MAX.into()),
        fits(r[3], u32::MAX.into()),
    ) {
        (Some(p), Some(a), Some(i), Some(n)) => {
            Ok((KeyId::new(p as u16, a as u16, i as u32), n as u32))
        }
        _ => Err(format!(
            "the {what} row {r:?} does not fit a key (producer and aggregate below 65,536, key index and count below 2^32)"
        )),
    }
}

/// The schema name of `ledger.json`.
pub const LEDGER_SCHEMA: &str = "surge.ledger/v1";

/// `ledger.json`: per key `[producer, aggregate, index, sent]` (sequences `0..sent` were
/// handed to the producer), and per failed send `[producer, aggregate, index, sequence]`.
/// Every other sequence below `sent` was acked by the broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerFile {
    pub schema: String,
    pub run_id: String,
    pub keys: Vec<[u64; 4]>,
    pub failed: Vec<[u64; 4]>,
}

/// An acked event that the group never consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostEvent {
    pub key: KeyId,
    pub sequence: u32,
}

/// The end-of-run comparison for one group.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossReport {
    /// Acked events never consumed, in partitions the group read past them.
    pub lost: u64,
    /// Acked events never consumed, in partitions the group had not read to the end.
    #[serde(default)]
    pub unread: u64,
    /// Sequences below the highest seen that never arrived (failed sends included).
    pub gaps: u64,
    #[serde(skip)]
    pub examples: Vec<LostEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_marks_read_back_place_every_event_in_the_same_window() {
        let (a, b) = (KeyId::new(0, 0, 1), KeyId::new(1, 0, 7));
        let mut ledger = SentLedger::default();
        ledger.counts.extend([(a, 10), (b, 6)]);
        // Two boundaries: `a` had sent 3 then 8, `b` 0 (left out) then 4.
        ledger.marks = vec![
            [(a, 3)].into_iter().collect(),
            [(a, 8), (b, 4)].into_iter().collect(),
        ];
        let mut read = SentLedger::default();
        read.import_marks(&ledger.export_marks()).unwrap();
        for (key, count) in [(a, 10), (b, 6)] {
            for sequence in 0..count {
                assert_eq!(
                    read.slot(key, sequence),
                    ledger.slot(key, sequence),
                    "{sequence}"
                );
            }
        }
        assert_eq!(
            (read.slot(a, 2), read.slot(a, 3), read.slot(a, 8)),
            (0, 1, 2)
        );
        let crafted = vec![vec![[0, 0, 1, u64::MAX]]];
        assert!(
            read.import_marks(&crafted)
                .unwrap_err()
                .contains("fault_marks")
        );
    }
}
