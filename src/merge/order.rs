//! Order across workers: a partition that moved from one worker to another was read in two
//! pieces, and each worker's checker saw only its own piece. The offset spans each worker read
//! tell the order of the pieces, and so the order of the keys' sequences across the move.

use std::collections::BTreeMap;

use crate::engine::GroupFacts;
use crate::metrics::checker::{KeyFacts, Partition, crossed_out_of_order};
use crate::scenario::{GroupSpec, Scenario};

/// Out-of-order deliveries the workers of one group miscounted where a partition moved from
/// one to another (see [`crossed_out_of_order`]), and the partitions that went back and forth,
/// whose order across the moves cannot be told.
pub(super) fn crossed_reading(
    scenario: &Scenario,
    spec: &GroupSpec,
    facts: &[&GroupFacts],
) -> (i64, Vec<String>) {
    let mut orders: BTreeMap<(usize, usize), Option<Vec<usize>>> = BTreeMap::new();
    let mut correction = 0i64;
    for (_, mut keyed) in readers(facts).into_iter().filter(|(_, r)| r.len() > 1) {
        let Some(partition) = keyed.iter().find_map(|(_, k)| k.partition).map(Partition) else {
            continue;
        };
        let Some(local) = spec.topics.iter().position(|&t| t == partition.topic()) else {
            continue;
        };
        let order = orders
            .entry((local, partition.partition()))
            .or_insert_with(|| reading_order(facts, local, partition.partition()));
        let Some(order) = order else { continue };
        keyed.sort_by_key(|(index, _)| order.iter().position(|i| i == index));
        let in_order: Vec<&KeyFacts> = keyed.iter().map(|(_, k)| *k).collect();
        correction = correction.saturating_add(crossed_out_of_order(&in_order));
    }
    let unordered: Vec<String> = orders
        .into_iter()
        .filter(|(_, order)| order.is_none())
        .map(|((local, partition), _)| {
            format!(
                "group {}: partition {}/{partition} went back to a worker that had read it before, so out-of-order delivery across its moves is not checked (loss and duplicates are)",
                spec.name,
                scenario.topics[spec.topics[local]].name
            )
        })
        .collect();
    (correction, unordered)
}

/// Per key, the workers that read it (indexes into `facts`) with what each read of it.
fn readers<'a>(facts: &[&'a GroupFacts]) -> BTreeMap<u64, Vec<(usize, &'a KeyFacts)>> {
    let mut readers: BTreeMap<u64, Vec<(usize, &KeyFacts)>> = BTreeMap::new();
    for (index, fact) in facts.iter().enumerate() {
        for key in &fact.keys {
            readers.entry(key.key).or_default().push((index, key));
        }
    }
    readers
}

/// The order in which workers read partition `partition` of the group's topic `local`, by
/// the lowest offset each consumed: `Some` (indexes into `facts`) when each read on past where
/// the one before stopped (give or take re-deliveries from the last commit), `None` when the
/// partition went back to a worker that had read it before, or a worker did not record where
/// it began.
fn reading_order(facts: &[&GroupFacts], local: usize, partition: usize) -> Option<Vec<usize>> {
    let mut spans: Vec<(i64, i64, usize)> = Vec::new();
    for (index, fact) in facts.iter().enumerate() {
        let at =
            |offsets: &Vec<Vec<i64>>| offsets.get(local).and_then(|t| t.get(partition)).copied();
        match (at(&fact.first_positions), at(&fact.positions)) {
            (Some(first), Some(last)) if first >= 0 && last >= 0 => {
                spans.push((first, last, index))
            }
            (_, Some(last)) if last >= 0 => return None,
            _ => {}
        }
    }
    spans.sort_unstable();
    spans
        .windows(2)
        .all(|pair| pair[1].1 > pair[0].1)
        .then(|| spans.iter().map(|s| s.2).collect())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::engine::LagTerms;
    use crate::metrics::checker::{KeyId, OrderingChecker};

    /// What one worker of a group read: per partition of `order-events` (6) and
    /// `payment-events` (3) its offset span, and its keys.
    fn facts(spans: &[(usize, i64, i64)], keys: Vec<KeyFacts>) -> GroupFacts {
        let mut first = vec![vec![-1i64; 6], vec![-1; 3]];
        let mut last = first.clone();
        for &(partition, from, to) in spans {
            first[0][partition] = from;
            last[0][partition] = to;
        }
        GroupFacts {
            name: "fast".into(),
            consumed: 0,
            foreign: 0,
            duplicates: 0,
            out_of_order: 0,
            causes: Default::default(),
            final_terms: LagTerms::default(),
            positions: last,
            first_positions: first,
            keys,
            errors: Vec::new(),
            ownership: Default::default(),
        }
    }

    /// One key of `order-events` partition 2, as a checker fed `sequences` exports it.
    fn key_read(sequences: &[u32]) -> KeyFacts {
        let mut checker = OrderingChecker::default();
        for &sequence in sequences {
            checker.observe_in(KeyId::new(0, 0, 7), sequence, Some(Partition::new(0, 2)));
        }
        checker.export().pop().unwrap()
    }

    #[test]
    fn workers_read_a_partition_in_the_order_their_offset_spans_say() {
        let a = facts(&[(2, 0, 100)], Vec::new());
        let b = facts(&[(2, 95, 200)], Vec::new());
        assert_eq!(reading_order(&[&a, &b], 0, 2), Some(vec![0, 1]));
        assert_eq!(reading_order(&[&b, &a], 0, 2), Some(vec![1, 0]));
        // Back to the first worker: no order to tell.
        let back = facts(&[(2, 0, 300)], Vec::new());
        assert_eq!(reading_order(&[&back, &b], 0, 2), None);
        // A worker that did not read it is left out; one that did not record where it began
        // (an older worker file) leaves the order unknown.
        assert_eq!(
            reading_order(&[&a, &facts(&[], Vec::new()), &b], 0, 2),
            Some(vec![0, 2])
        );
        let mut old = b.clone();
        old.first_positions.clear();
        assert_eq!(reading_order(&[&a, &old], 0, 2), None);
    }

    #[test]
    fn a_reordering_across_a_move_is_counted_and_a_partition_read_back_and_forth_is_named() {
        let root = env!("CARGO_MANIFEST_DIR");
        let scenario = crate::scenario::load(
            Path::new(&format!("{root}/scenarios/smoke.toml")),
            &Default::default(),
        )
        .unwrap();
        let spec = &scenario.groups[0];
        // The log holds 0 1 2 5 3 4 6 7; the partition moved after 5, given in either order.
        let a = facts(&[(2, 0, 3)], vec![key_read(&[0, 1, 2, 5])]);
        let b = facts(&[(2, 4, 7)], vec![key_read(&[3, 4, 6, 7])]);
        assert_eq!(crossed_reading(&scenario, spec, &[&a, &b]), (2, Vec::new()));
        assert_eq!(crossed_reading(&scenario, spec, &[&b, &a]), (2, Vec::new()));
        // In order across the move: nothing.
        let c = facts(&[(2, 4, 7)], vec![key_read(&[6, 7])]);
        let d = facts(&[(2, 0, 3)], vec![key_read(&[0, 1, 2, 5])]);
        assert_eq!(crossed_reading(&scenario, spec, &[&d, &c]), (0, Vec::new()));
        // Back and forth: not counted, named.
        let e = facts(&[(2, 0, 9)], vec![key_read(&[0, 1, 2, 5, 8, 9])]);
        let (correction, notes) = crossed_reading(&scenario, spec, &[&e, &b]);
        assert_eq!(correction, 0);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("order-events/2"), "{notes:?}");
    }
}
