//! The run's faults as they happened: each one's window, what it cost, and the shell
//! commands a `command` fault ran.

use serde::{Deserialize, Serialize};

/// One fault of the run. Its window runs from `start_s` to `end_s`: the fault's duration, or
/// to the end of the run for a fault that is not undone. `failed` and `lost` count events
/// intended in the window; duplicates, disorder and latency are counted from `start_s` to
/// `impact_end_s` (when the groups had recovered), because a fault's effects show after it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultSummary {
    pub name: String,
    pub kind: String,
    /// What it does, in words.
    pub description: String,
    /// Seconds since the plan started (when it was applied; planned when it never was).
    pub start_s: f64,
    pub end_s: f64,
    /// Whether it was applied at all (a run that stopped early may not get there).
    pub applied: bool,
    /// Sends intended in the window that failed.
    pub failed: u64,
    /// Acked events intended in the window that a group never consumed (summed over groups).
    pub lost: u64,
    /// Deliveries consumed from the start to `impact_end_s` that were seen before (all groups).
    pub duplicates: u64,
    /// First deliveries consumed then after a higher sequence of their key.
    pub out_of_order: u64,
    /// Until when latency and disorder are counted: recovery, or the end of the run.
    pub impact_end_s: f64,
    /// Publish and end-to-end p99 over the seconds from the start to `impact_end_s`,
    /// histograms merged.
    pub publish_p99_us: Option<u64>,
    pub e2e_p99_us: Option<u64>,
    /// Recovery is timed from here: the fault's end, or its start when it is not undone.
    pub recovery_from_s: f64,
    /// Seconds until every group's e2e p95 and lag were back under their limits (`None`: not
    /// by the end of the run, or no group to judge).
    pub recovery_s: Option<f64>,
    pub p95_limit_us: u64,
    pub lag_limit: u64,
    /// `command` faults: what ran, its exit code and (redacted) output.
    #[serde(default)]
    pub commands: Vec<CommandRun>,
    /// Why it could not be applied or undone.
    #[serde(default)]
    pub error: Option<String>,
}

/// One run of a `command` fault's shell command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRun {
    /// `run` or `undo`.
    pub step: String,
    pub command: String,
    /// `None` when it was killed (timeout) or could not start.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub seconds: f64,
    /// The end of its output (stdout, then stderr), redacted.
    pub output: String,
}

impl CommandRun {
    /// Why the run is an error because of this command, if it is.
    pub fn failure(&self) -> Option<String> {
        let what = if self.timed_out {
            format!("did not finish within its timeout ({:.0}s)", self.seconds)
        } else {
            match self.exit_code {
                Some(0) => return None,
                Some(code) => format!("exited with {code}"),
                None => "could not run".into(),
            }
        };
        let output = self.output.trim();
        Some(format!(
            "`{}` {what}{}",
            self.command,
            if output.is_empty() {
                String::new()
            } else {
                format!(": {}", last_line(output))
            }
        ))
    }
}

/// The last non-empty line of a text, for a one-line message.
pub fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}
