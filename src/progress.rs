//! The live progress line on stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::engine::Progress;
use crate::format::{micros, thousands};

/// Prints progress: rewritten in place on a terminal, every few seconds otherwise.
pub struct ProgressLine {
    terminal: bool,
    quiet: bool,
    last_printed: Option<Instant>,
}

impl ProgressLine {
    pub fn new(quiet: bool) -> ProgressLine {
        ProgressLine {
            terminal: std::io::stderr().is_terminal(),
            quiet,
            last_printed: None,
        }
    }

    /// Formats one progress update.
    pub fn format(progress: &Progress) -> String {
        let elapsed = progress.elapsed.as_secs();
        match &progress.point {
            None => format!(
                "[{elapsed:>4}s] {}: waiting for every consumer group to get its partitions",
                progress.stage
            ),
            Some(point) => {
                let e2e = point.e2e_p95.map_or("-".into(), |v| micros(v, 1));
                format!(
                    "[{elapsed:>4}s] {} {:<10} target {:>9}/s  sent {:>9}/s  acked {:>6.1} MB/s  consumed {:>9}/s  e2e p95 {:>8}  lag {}",
                    progress.stage,
                    point.phase,
                    thousands(point.target_rate.round() as u64),
                    thousands(point.produced),
                    point.acked_bytes as f64 / crate::summary::MB,
                    thousands(point.consumed),
                    e2e,
                    thousands(point.max_lag())
                )
            }
        }
    }

    /// Prints an update if it is time to.
    pub fn update(&mut self, progress: &Progress) {
        if self.quiet {
            return;
        }
        let line = Self::format(progress);
        let mut stderr = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(stderr, "\r\x1b[2K{line}");
        } else if self
            .last_printed
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(5))
        {
            let _ = writeln!(stderr, "{line}");
            self.last_printed = Some(Instant::now());
        }
        let _ = stderr.flush();
    }

    /// Ends the in-place line.
    pub fn finish(&self) {
        if self.terminal && !self.quiet {
            eprintln!();
        }
    }
}
