//! The phases a verdict and a report name: one row per `[[phases]]` entry (a ramp's steps,
//! a curve's segments and a spike's three parts are one row), plus one for each named part
//! of an entry (a spike's `NAME:spike`), and which row is the run's peak.

use super::Phase;

/// One phase as the verdict names it: `phase.NAME.*`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseRow {
    pub name: String,
    /// Indices into the plan's phases it covers, contiguous and in order.
    pub parts: Vec<usize>,
    /// A named part of an entry (`peak:spike`), inside its entry's row.
    pub part_of: Option<String>,
    pub warmup: bool,
}

impl PhaseRow {
    /// Mean planned events/s over the row.
    pub fn mean_rate(&self, phases: &[Phase]) -> f64 {
        let (events, seconds) =
            self.parts
                .iter()
                .map(|&i| &phases[i])
                .fold((0.0, 0.0), |(events, seconds), p| {
                    let s = p.duration.as_secs_f64();
                    (events + p.shape.mean_rate() * s, seconds + s)
                });
        if seconds > 0.0 { events / seconds } else { 0.0 }
    }

    /// How long the row lasts in the plan.
    pub fn duration(&self, phases: &[Phase]) -> std::time::Duration {
        self.parts.iter().map(|&i| phases[i].duration).sum()
    }

    /// The highest planned rate within the row.
    pub fn peak_rate(&self, phases: &[Phase]) -> f64 {
        self.parts
            .iter()
            .map(|&i| phases[i].shape.peak_rate())
            .fold(0.0, f64::max)
    }
}

/// An expanded phase's entry: `peak:spike` belongs to `peak`.
fn entry_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(entry, _)| entry)
}

/// Every row, entries first in plan order, each followed by its named parts.
pub fn phase_rows(phases: &[Phase]) -> Vec<PhaseRow> {
    let mut rows: Vec<PhaseRow> = Vec::new();
    for (index, phase) in phases.iter().enumerate() {
        let entry = entry_name(&phase.name);
        let last_entry = rows.iter().rposition(|r| r.part_of.is_none());
        // One entry goes on while the name and the warmup flag stay the same.
        match last_entry.filter(|&r| {
            rows[r].name == entry
                && rows[r].warmup == phase.warmup
                && rows[r].parts.last().map(|p| p + 1) == Some(index)
        }) {
            Some(r) => rows[r].parts.push(index),
            None => rows.push(PhaseRow {
                name: entry.to_string(),
                parts: vec![index],
                part_of: None,
                warmup: phase.warmup,
            }),
        }
        if phase.name != entry {
            // A part goes on only from the phase just before (two spikes are two parts).
            let previous = index.checked_sub(1);
            match rows
                .last_mut()
                .filter(|r| r.name == phase.name && r.parts.last().copied() == previous)
            {
                Some(row) => row.parts.push(index),
                None => rows.push(PhaseRow {
                    name: phase.name.clone(),
                    parts: vec![index],
                    part_of: Some(entry.to_string()),
                    warmup: phase.warmup,
                }),
            }
        }
    }
    rows
}

/// The row called the peak: the one named `declared`, else a measured phase called `peak`,
/// else the measured entry with the highest mean planned rate (the first of equals). `None`:
/// every phase is a warmup.
pub fn peak_row(rows: &[PhaseRow], phases: &[Phase], declared: Option<&str>) -> Option<usize> {
    if let Some(name) = declared {
        return rows.iter().position(|r| r.name == name);
    }
    if let Some(called) = rows.iter().position(|r| r.name == "peak" && !r.warmup) {
        return Some(called);
    }
    rows.iter()
        .enumerate()
        .filter(|(_, r)| !r.warmup && r.part_of.is_none())
        .fold(None, |best: Option<(usize, f64)>, (i, r)| {
            let rate = r.mean_rate(phases);
            match best {
                Some((_, top)) if top >= rate => best,
                _ => Some((i, rate)),
            }
        })
        .map(|(i, _)| i)
}

/// The row an SLO's `phase.NAME` means: the row of that name, or the peak for `peak` when
/// no measured row is called that.
pub fn named_row(rows: &[PhaseRow], peak: Option<usize>, name: &str) -> Option<usize> {
    if name == "peak" {
        return rows
            .iter()
            .position(|r| r.name == name && !r.warmup)
            .or(peak);
    }
    rows.iter().position(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Rate, Shape};
    use std::time::Duration;

    fn phase(name: &str, rate: f64, seconds: u64, warmup: bool) -> Phase {
        Phase {
            name: name.into(),
            shape: Shape::Constant(Rate(rate)),
            duration: Duration::from_secs(seconds),
            warmup,
        }
    }

    #[test]
    fn a_spike_is_one_row_with_its_spike_as_a_part() {
        let phases = [
            phase("warmup", 10.0, 10, true),
            phase("normal", 10.0, 60, false),
            phase("peak", 100.0, 60, false),
            phase("peak:spike", 130.0, 20, false),
            phase("peak", 100.0, 40, false),
            phase("drain", 10.0, 60, false),
        ];
        let rows = phase_rows(&phases);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["warmup", "normal", "peak", "peak:spike", "drain"]);
        assert_eq!(rows[2].parts, [2, 3, 4]);
        assert_eq!(rows[3].parts, [3]);
        assert_eq!(rows[3].part_of.as_deref(), Some("peak"));
        assert_eq!(rows[2].mean_rate(&phases), 105.0);
        assert_eq!(rows[2].peak_rate(&phases), 130.0);
        // The highest measured entry, not its spike.
        let peak = peak_row(&rows, &phases, None);
        assert_eq!(peak, Some(2));
        assert_eq!(peak_row(&rows, &phases, Some("peak:spike")), Some(3));
        assert_eq!(named_row(&rows, peak, "peak"), Some(2));
        assert_eq!(named_row(&rows, peak, "drain"), Some(5 - 1));
        assert_eq!(named_row(&rows, peak, "missing"), None);
    }

    #[test]
    fn two_spikes_are_two_parts_and_a_warmup_never_merges_with_a_measured_phase() {
        let phases = [
            phase("load", 10.0, 10, true),
            phase("load", 10.0, 60, false),
            phase("a", 100.0, 5, false),
            phase("a:spike", 130.0, 2, false),
            phase("a", 100.0, 5, false),
            phase("a:spike", 130.0, 2, false),
            phase("a", 100.0, 5, false),
        ];
        let rows = phase_rows(&phases);
        let names: Vec<(&str, &[usize])> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.parts.as_slice()))
            .collect();
        assert_eq!(
            names,
            [
                ("load", &[0][..]),
                ("load", &[1][..]),
                ("a", &[2, 3, 4, 5, 6][..]),
                ("a:spike", &[3][..]),
                ("a:spike", &[5][..]),
            ]
        );
        // `peak` never means a warmup, even one called that.
        let warm = [phase("peak", 10.0, 5, true), phase("run", 50.0, 5, false)];
        let rows = phase_rows(&warm);
        assert_eq!(
            named_row(&rows, peak_row(&rows, &warm, None), "peak"),
            Some(1)
        );
    }

    #[test]
    fn peak_names_the_busiest_phase_when_no_phase_is_called_that() {
        let phases = [
            phase("steady", 10.0, 60, false),
            phase("burst", 50.0, 10, false),
            phase("steady", 10.0, 60, false),
        ];
        let rows = phase_rows(&phases);
        // A name used again later is a new row, not the first one stretched over the gap.
        assert_eq!(rows.len(), 3);
        assert_eq!(
            named_row(&rows, peak_row(&rows, &phases, None), "peak"),
            Some(1)
        );
        let warm = [phase("w", 10.0, 5, true)];
        assert_eq!(peak_row(&phase_rows(&warm), &warm, None), None);
    }
}
