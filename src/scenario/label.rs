//! What a run is labelled with and what the command line changed in its plan: carried from the
//! scenario into the summary, where comparisons between runs read them.

use serde::{Deserialize, Serialize};

/// Which cluster, and what it costs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Label {
    pub name: String,
    pub brokers: Option<u32>,
    pub instance_type: Option<String>,
    pub monthly_cost_usd: Option<f64>,
}

/// What the command line changed in a scenario's plan. Two runs whose settings differ did not
/// offer the same load, and a comparison says so.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlanSettings {
    pub rate_scale: f64,
    pub duration_scale: f64,
    /// `-X` properties (secret values redacted).
    pub properties: Vec<(String, String)>,
    /// `--slo` expressions.
    pub slos: Vec<String>,
    /// `--set` group settings (`group.NAME.protocol=consumer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_settings: Vec<String>,
}

impl Default for PlanSettings {
    fn default() -> PlanSettings {
        PlanSettings {
            rate_scale: 1.0,
            duration_scale: 1.0,
            properties: Vec::new(),
            slos: Vec::new(),
            group_settings: Vec::new(),
        }
    }
}
