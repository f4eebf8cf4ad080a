//! A run against its baseline (`--baseline`): each figure's change and the limit.

use serde::{Deserialize, Serialize};

/// A run against its baseline: each figure's change, and the regression limit if one was set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaselineComparison {
    /// The baseline's directory, as given.
    pub dir: String,
    pub run_id: String,
    pub started_at: String,
    /// Fail when a p95 or p99 worsens by more than this fraction.
    pub max_regression: Option<f64>,
    pub deltas: Vec<BaselineDelta>,
    /// How the two runs' plans differ; empty when they offered the same load.
    pub plan_differences: Vec<String>,
}

/// One figure in this run and in the baseline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BaselineDelta {
    /// The metric (`e2e.p95`, `group.analytics.e2e.p99`, `lost`).
    pub metric: String,
    /// In `unit`.
    pub baseline: f64,
    pub actual: f64,
    pub unit: String,
    /// `actual / baseline - 1`; `None` when the baseline is 0.
    pub change: Option<f64>,
}
