//! The events around the end-to-end median, taken apart event by event: for every timed event,
//! its time from the intended send to the ack callback and from the ack to the read, added
//! into cells by its end-to-end latency (each cell 2% wide). The cell that holds the median,
//! widened a cell a side at a time until it holds [`WANTED`] events or spans about 10%, gives
//! the median event's parts, which add up to its end-to-end time exactly (medians of parts do
//! not: the p50 of a sum is not the sum of the p50s).

use serde::{Deserialize, Serialize};

/// Each cell holds end-to-end times within this factor of each other (2%).
const CELL_GROWTH: f64 = 1.02;

/// The most cells: 2% cells from 1 µs reach past a day.
const MAX_CELLS: usize = 1_700;

/// The events the band around the median gathers when it can, and the cells it widens by on
/// each side at most (5 cells: from the median cell's ends, at most 10% either way).
pub const WANTED: u64 = 100;
const MAX_WIDENING: usize = 5;

/// The timed events whose e2e lies around the group's median: their mean time from the
/// intended send to the ack callback and from the ack to the read, which add up to their mean
/// e2e exactly, and the e2e range they lie in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct MedianEvent {
    pub events: u64,
    pub e2e_us: i64,
    pub to_ack_us: i64,
    pub after_ack_us: i64,
    /// The band's e2e range, in µs.
    #[serde(default)]
    pub from_us: u64,
    #[serde(default)]
    pub to_us: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    events: u64,
    /// Sums, saturating: a cell of 1 s events holds 10^13 of them before it would.
    e2e_us: u64,
    to_ack_us: i64,
}

/// Timed events' parts, by their end-to-end time (at most [`MAX_CELLS`] cells of 24 bytes, grown one by one: about 16 KiB for times up to 0.5 s).
#[derive(Debug, Default)]
pub struct MedianBand {
    cells: Vec<Cell>,
}

fn cell_of(e2e_us: u64) -> usize {
    let index = ((e2e_us.max(1) as f64).ln() / CELL_GROWTH.ln()) as usize;
    index.min(MAX_CELLS - 1)
}

impl MedianBand {
    /// One event: intended at `intended_us`, acked at `acked_us`, read at `read_us` (one clock).
    pub fn record(&mut self, intended_us: u64, acked_us: u64, read_us: u64) {
        let e2e = read_us.saturating_sub(intended_us);
        let index = cell_of(e2e);
        if self.cells.len() <= index {
            self.cells.reserve_exact(index + 1 - self.cells.len());
            self.cells.resize(index + 1, Cell::default());
        }
        let to_ack = i64::try_from(i128::from(acked_us) - i128::from(intended_us)).unwrap_or(
            if acked_us > intended_us {
                i64::MAX
            } else {
                i64::MIN
            },
        );
        let cell = &mut self.cells[index];
        cell.events += 1;
        cell.e2e_us = cell.e2e_us.saturating_add(e2e);
        cell.to_ack_us = cell.to_ack_us.saturating_add(to_ack);
    }

    /// The events of the cell that holds the median, and of its neighbours until the band
    /// holds [`WANTED`] events or is widened [`MAX_WIDENING`] cells a side, their parts
    /// averaged; `None` before any event.
    pub fn median_event(&self) -> Option<MedianEvent> {
        let total: u64 = self.cells.iter().map(|c| c.events).sum();
        if total == 0 {
            return None;
        }
        let rank = total.div_ceil(2);
        let mut below = 0;
        let middle = (self.cells.iter())
            .position(|c| {
                below += c.events;
                below >= rank
            })
            .unwrap_or(0);
        let (mut lo, mut hi) = (middle, middle);
        let held = |lo: usize, hi: usize| self.cells[lo..=hi].iter().map(|c| c.events).sum::<u64>();
        for _ in 0..MAX_WIDENING {
            if held(lo, hi) >= WANTED.min(total) {
                break;
            }
            lo = lo.saturating_sub(1);
            hi = (hi + 1).min(self.cells.len() - 1);
        }
        let band = &self.cells[lo..=hi];
        let events: u64 = band.iter().map(|c| c.events).sum();
        let e2e: i128 = band.iter().map(|c| i128::from(c.e2e_us)).sum();
        let to_ack: i128 = band.iter().map(|c| i128::from(c.to_ack_us)).sum();
        let mean =
            |sum: i128| (sum / i128::from(events)).clamp(i64::MIN.into(), i64::MAX.into()) as i64;
        let (e2e_us, to_ack_us) = (mean(e2e), mean(to_ack));
        let bound = |index: usize| CELL_GROWTH.powi(index as i32).min(u64::MAX as f64) as u64;
        Some(MedianEvent {
            events,
            e2e_us,
            to_ack_us,
            // The rest of the e2e time, so that the parts add up to it to the microsecond.
            after_ack_us: e2e_us.saturating_sub(to_ack_us),
            from_us: bound(lo),
            to_us: bound(hi + 1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_event_s_parts_add_up_to_its_end_to_end_time() {
        let mut band = MedianBand::default();
        // 100 events: e2e 1..=100 ms, acked half-way.
        for ms in 1..=100u64 {
            let e2e = ms * 1_000;
            band.record(5_000, 5_000 + e2e / 2, 5_000 + e2e);
        }
        let median = band.median_event().unwrap();
        // One event a ms: the band widens 5 cells a side (about 10% either way of 50 ms).
        assert!((9..=13).contains(&median.events), "{median:?}");
        assert!((48_000..=52_000).contains(&median.e2e_us), "{median:?}");
        assert!(
            median.from_us <= 45_000 && median.to_us >= 55_000,
            "{median:?}"
        );
        assert!(
            median.from_us >= 44_000 && median.to_us <= 57_000,
            "{median:?}"
        );
        assert_eq!(median.to_ack_us + median.after_ack_us, median.e2e_us);
        // A read before the ack counts negative after it.
        let mut early = MedianBand::default();
        early.record(0, 3_000, 2_000);
        let median = early.median_event().unwrap();
        assert_eq!((median.to_ack_us, median.after_ack_us), (3_000, -1_000));
        assert_eq!(MedianBand::default().median_event(), None);
    }

    #[test]
    fn the_band_is_the_middle_whatever_the_tails_and_its_cells_stay_bounded() {
        let mut band = MedianBand::default();
        for _ in 0..1_000 {
            band.record(0, 1_000, 10_000);
        }
        // A tail of very slow events, and times past a day, move neither the band nor memory.
        for _ in 0..400 {
            band.record(0, 1_000, u64::MAX / 2);
        }
        let median = band.median_event().unwrap();
        assert_eq!((median.e2e_us, median.events), (10_000, 1_000));
        assert!(
            median.from_us <= 10_000 && median.to_us > 10_000,
            "{median:?}"
        );
        assert!(band.cells.len() <= MAX_CELLS);
        // Near zero, the band still widens at most 5 cells a side.
        let mut tiny = MedianBand::default();
        tiny.record(0, 0, 1);
        tiny.record(0, 0, 1_000);
        tiny.record(0, 0, 2_000);
        let median = tiny.median_event().unwrap();
        assert_eq!((median.events, median.e2e_us), (1, 1_000), "{median:?}");
    }
}
