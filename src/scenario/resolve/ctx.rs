//! The file being resolved, and the checks every table shares.

use std::time::Duration;

use crate::scenario::ScenarioError;
use crate::scenario::shapes::cut;
use crate::scenario::units::parse_duration;

/// The scenario file being resolved: every error names it.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
}

impl Ctx<'_> {
    /// An error at `key`: what is wrong and how to fix it.
    pub(super) fn err(
        &self,
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// A duration of at most a day; `default` when unset.
    pub(super) fn duration(
        &self,
        key: &str,
        value: Option<&String>,
        default: Duration,
    ) -> Result<Duration, ScenarioError> {
        match value {
            None => Ok(default),
            Some(text) => {
                let parsed = parse_duration(text).map_err(|problem| {
                    self.err(
                        key,
                        problem,
                        format!("write it as a quoted duration, e.g. {key} = \"30s\""),
                    )
                })?;
                // Timeouts and grace periods are waits surge sits out: a day is beyond any use.
                if parsed > Duration::from_secs(24 * 3600) {
                    return Err(self.err(
                        key,
                        format!("`{}` is longer than a day", cut(text)),
                        format!("set {key} to at most \"24h\""),
                    ));
                }
                Ok(parsed)
            }
        }
    }

    /// A whole number from 1 to `max`; `default` when unset.
    pub(super) fn positive(
        &self,
        key: &str,
        value: Option<i64>,
        default: i64,
        max: i64,
    ) -> Result<i64, ScenarioError> {
        let value = value.unwrap_or(default);
        if value < 1 || value > max {
            return Err(self.err(
                key,
                format!("{value} is out of range"),
                format!("use a whole number from 1 to {max}"),
            ));
        }
        Ok(value)
    }

    /// The name of a `what` (topic, event, group): letters, digits, `-`, `_` and `.`.
    pub(super) fn name(
        &self,
        key: &str,
        value: Option<&String>,
        what: &str,
    ) -> Result<String, ScenarioError> {
        let name = value.ok_or_else(|| {
            self.err(
                key,
                format!("every {what} needs a name"),
                format!("add {key} = \"...\""),
            )
        })?;
        if name.is_empty()
            || name.len() > 200
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(self.err(
                key,
                format!("`{name}` is not a valid {what} name"),
                "use letters, digits, `-`, `_` and `.` only (at most 200)",
            ));
        }
        Ok(name.clone())
    }
}
