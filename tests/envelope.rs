//! The envelope the README states: the largest key space a scenario may track, and the memory
//! its per-key state takes at that size, counted by a global allocator (bytes, not time).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use surge::metrics::{KeyId, OrderingChecker, Partition, SentLedger};
use surge::scenario::{MAX_KEY_STATE_BYTES, MAX_KEY_STATES};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed to the system allocator unchanged; only the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, size) };
        if !moved.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A scenario with one aggregate of `keys` keys read by `groups` groups.
fn scenario(keys: u64, groups: usize) -> String {
    let mut text = format!(
        "[[topics]]\nname = \"orders\"\npartitions = 20\n\n[[events]]\nname = \"OrderCreated\"\ntopic = \"orders\"\nkeys = {keys}\n\n[[phases]]\nrate = \"1k/s\"\nduration = \"1s\"\n"
    );
    for g in 0..groups {
        text.push_str(&format!(
            "\n[[consumer_groups]]\nname = \"g{g}\"\ntopics = [\"orders\"]\n"
        ));
    }
    text
}

fn validate(text: &str) -> Result<surge::scenario::Scenario, surge::SurgeError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(&path, text).unwrap();
    surge::validate(&path, &Default::default())
}

#[test]
fn the_largest_key_space_is_accepted_and_fits_in_the_stated_memory() {
    // At the edge: 5,000,000 keys, tracked once for the producers and once by each of three
    // groups, is exactly MAX_KEY_STATES. One key more is refused, naming the key.
    let (keys, groups) = (MAX_KEY_STATES / 4, 3);
    assert!(validate(&scenario(keys, groups)).is_ok());
    let refused = validate(&scenario(keys + 1, groups))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("events[0].keys"), "{refused}");
    assert!(refused.contains("20000000"), "{refused}");

    // What a run keeps per key at that size: every key sent (the ledger), every key seen by
    // every group (the checkers), then the end-of-run comparison.
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut ledger = SentLedger::default();
    for index in 0..keys as u32 {
        ledger.counts.insert(KeyId::new(0, 0, index), 1);
    }
    let checkers: Vec<OrderingChecker> = (0..groups)
        .map(|_| {
            let mut checker = OrderingChecker::default();
            for index in 0..keys as u32 {
                checker.observe_in(
                    KeyId::new(0, 0, index),
                    0,
                    Some(Partition::new(0, (index % 20) as i32)),
                );
            }
            checker
        })
        .collect();
    for checker in &checkers {
        let report = checker.reconcile(&ledger, &[0], 10);
        assert_eq!((report.lost, report.gaps), (0, 0));
        assert_eq!(checker.unique, keys);
    }
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let held = CURRENT.load(Ordering::Relaxed) - before;
    eprintln!(
        "{MAX_KEY_STATES} key states: {} MiB held, {} MiB at the peak",
        held >> 20,
        peak >> 20
    );
    assert!(
        peak as u64 <= MAX_KEY_STATE_BYTES,
        "peak {peak} bytes is above the stated {MAX_KEY_STATE_BYTES}"
    );
    drop(checkers);
    drop(ledger);
}
