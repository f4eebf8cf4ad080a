//! Load shapes, expanded into the constant and linear segments the one pacer walks:
//! constant, ramp, step (a staircase), spike (a burst on a base), and replay (a CSV curve).

use std::path::Path;
use std::time::Duration;

use super::raw::RawPhase;
use super::units::{Rate, Scalar, parse_duration};
use super::{Phase, Shape};

/// A problem with one key of a phase: (field, problem, fix).
pub type ShapeError = (String, String, String);

fn err(field: &str, problem: impl Into<String>, fix: impl Into<String>) -> ShapeError {
    (field.to_string(), problem.into(), fix.into())
}

const RATE_FIX: &str = "write a rate such as \"10k/s\" or 2500";

fn parse_rate(field: &str, value: Option<&Scalar>) -> Result<Rate, ShapeError> {
    match value {
        None => Err(err(field, format!("the phase needs `{field}`"), RATE_FIX)),
        Some(Scalar::Int(v)) if *v >= 0 => Ok(Rate(*v as f64)),
        Some(Scalar::Float(v)) if *v >= 0.0 && v.is_finite() => Ok(Rate(*v)),
        Some(Scalar::Text(text)) => text
            .parse()
            .map_err(|problem| err(field, problem, RATE_FIX)),
        Some(other) => Err(err(field, format!("`{other}` is not a rate"), RATE_FIX)),
    }
}

fn rate(field: &str, value: Option<&Scalar>) -> Result<Rate, ShapeError> {
    bounded_rate(field, parse_rate(field, value)?)
}

fn duration(field: &str, value: Option<&String>) -> Result<Duration, ShapeError> {
    let text = value.ok_or_else(|| {
        err(
            field,
            format!("the phase needs `{field}`"),
            format!("add {field} = \"30s\""),
        )
    })?;
    let parsed = bounded_duration(field, text)?;
    if parsed.is_zero() {
        return Err(err(
            field,
            "the duration is zero",
            "give it a positive duration",
        ));
    }
    Ok(parsed)
}

/// The longest plan surge runs: every load test stops by itself, within a week at most.
pub const MAX_PLAN: Duration = Duration::from_secs(7 * 24 * 3600);
/// The highest rate a phase may ask for.
pub const MAX_RATE: f64 = 10e6;
/// The shortest step of a step phase.
pub const MIN_STEP: Duration = Duration::from_millis(1);

fn bounded_duration(field: &str, text: &str) -> Result<Duration, ShapeError> {
    let parsed =
        parse_duration(text).map_err(|problem| err(field, problem, "write e.g. \"30s\""))?;
    if parsed > MAX_PLAN {
        return Err(err(
            field,
            format!("`{}` is longer than a plan may run (7 days)", cut(text)),
            "write a duration of at most \"7d\"",
        ));
    }
    Ok(parsed)
}

fn bounded_rate(field: &str, rate: Rate) -> Result<Rate, ShapeError> {
    if rate.0 > MAX_RATE {
        return Err(err(
            field,
            format!(
                "{} events/s is above the highest rate surge offers (10M/s)",
                rate.0
            ),
            "write a rate of at most \"10M/s\", and split larger loads across generator hosts",
        ));
    }
    Ok(rate)
}

/// A value as a message shows it: at most 60 characters.
pub fn cut(text: &str) -> String {
    if text.chars().count() <= 60 {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(57).collect::<String>())
    }
}

/// Keys of `[[phases]]` that only some shapes read: one given to another shape is an error, not
/// silently ignored (`factor` on a constant phase would otherwise run a test without its spike).
fn check_keys_apply(kind: &str, raw: &RawPhase) -> Result<(), ShapeError> {
    let present: [(&str, bool); 10] = [
        ("rate", raw.rate.is_some()),
        ("duration", raw.duration.is_some()),
        ("from", raw.from.is_some()),
        ("to", raw.to.is_some()),
        ("rates", raw.rates.is_some()),
        ("factor", raw.factor.is_some()),
        ("spike_at", raw.spike_at.is_some()),
        ("spike_duration", raw.spike_duration.is_some()),
        ("csv", raw.csv.is_some()),
        ("scale", raw.scale.is_some()),
    ];
    let allowed: &[&str] = match kind {
        "constant" => &["rate", "duration"],
        "ramp" => &["from", "to", "duration"],
        "step" => &["rates", "duration"],
        "spike" => &["rate", "factor", "spike_at", "spike_duration", "duration"],
        "replay" => &["csv", "scale"],
        _ => return Ok(()),
    };
    match present
        .iter()
        .find(|(key, set)| *set && !allowed.contains(key))
    {
        None => Ok(()),
        Some((key, _)) => Err(err(
            key,
            format!("`{key}` does not apply to a {kind} phase"),
            format!(
                "a {kind} phase takes {}; remove `{key}` or set the shape it belongs to",
                allowed.join(", ")
            ),
        )),
    }
}

/// A CSV of `offset_seconds,events_per_second` rows (a header line is allowed).
pub fn read_curve(path: &Path) -> Result<Vec<(f64, f64)>, String> {
    let text = crate::input::read_text(path, crate::input::CURVE).map_err(|e| e.to_string())?;
    let mut points: Vec<(f64, f64)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cells = line.split(',').map(str::trim);
        let (offset, rate) = (cells.next().unwrap_or(""), cells.next().unwrap_or(""));
        match (offset.parse::<f64>(), rate.parse::<f64>()) {
            (Ok(t), Ok(r))
                if t.is_finite()
                    && r.is_finite()
                    && r >= 0.0
                    && t <= MAX_PLAN.as_secs_f64()
                    && r <= MAX_RATE =>
            {
                if points.last().is_some_and(|&(last, _)| t <= last) {
                    return Err(format!(
                        "{}:{}: offsets must increase",
                        path.display(),
                        number + 1
                    ));
                }
                points.push((t, r));
            }
            _ if points.is_empty() && number == 0 => {} // a header
            _ => {
                return Err(format!(
                    "{}:{}: expected `seconds,events_per_second` with seconds at most 604800 (7 days) and a rate at most 10000000, found `{}`",
                    path.display(),
                    number + 1,
                    cut(line)
                ));
            }
        }
    }
    if points.len() < 2 || points[0].0 != 0.0 {
        return Err(format!(
            "{}: needs at least two rows, the first at offset 0",
            path.display()
        ));
    }
    Ok(points)
}

/// Expands one `[[phases]]` entry into segments; `base` resolves a relative CSV path.
pub fn expand(name: &str, raw: &RawPhase, base: &Path) -> Result<Vec<Phase>, ShapeError> {
    let kind = raw.shape.as_deref().unwrap_or(if raw.from.is_some() {
        "ramp"
    } else {
        "constant"
    });
    check_keys_apply(kind, raw)?;
    let entry = Entry {
        name,
        raw,
        warmup: raw.warmup.unwrap_or(false),
    };
    match kind {
        "constant" => Ok(vec![entry.phase(
            name,
            Shape::Constant(rate("rate", raw.rate.as_ref())?),
            duration("duration", raw.duration.as_ref())?,
        )]),
        "ramp" => {
            let shape = Shape::Ramp {
                from: rate("from", raw.from.as_ref())?,
                to: rate("to", raw.to.as_ref())?,
            };
            let length = duration("duration", raw.duration.as_ref())?;
            Ok(vec![entry.phase(name, shape, length)])
        }
        "step" => entry.steps(),
        "spike" => entry.spike(),
        "replay" => entry.replay(base),
        other => Err(err(
            "shape",
            format!("`{other}` is not a load shape"),
            "use constant, ramp, step, spike or replay",
        )),
    }
}

/// One `[[phases]]` entry being expanded.
struct Entry<'a> {
    name: &'a str,
    raw: &'a RawPhase,
    warmup: bool,
}

impl Entry<'_> {
    fn phase(&self, name: &str, shape: Shape, duration: Duration) -> Phase {
        Phase {
            name: name.to_string(),
            shape,
            duration,
            warmup: self.warmup,
        }
    }

    /// `step`: the duration split evenly over the rates, one constant segment each.
    fn steps(&self) -> Result<Vec<Phase>, ShapeError> {
        let raw = self.raw;
        let rates = raw
            .rates
            .as_ref()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                err(
                    "rates",
                    "a step phase needs its rates",
                    "add rates = [\"10k/s\", \"20k/s\", \"40k/s\"]",
                )
            })?;
        let total = duration("duration", raw.duration.as_ref())?;
        let each = total / u32::try_from(rates.len()).unwrap_or(u32::MAX);
        if each < MIN_STEP {
            return Err(err(
                "rates",
                format!(
                    "{} steps in {} leave less than 1 ms per step",
                    rates.len(),
                    crate::scenario::units::format_duration(total)
                ),
                "use fewer rates or a longer duration (each step at least 1 ms)",
            ));
        }
        rates
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let shape = Shape::Constant(rate(&format!("rates[{i}]"), Some(r))?);
                Ok(self.phase(self.name, shape, each))
            })
            .collect()
    }

    /// `spike`: the base rate, a burst of `factor` times it, then the base rate again.
    fn spike(&self) -> Result<Vec<Phase>, ShapeError> {
        let (raw, name) = (self.raw, self.name);
        let base_rate = rate("rate", raw.rate.as_ref())?;
        let total = duration("duration", raw.duration.as_ref())?;
        let factor = raw
            .factor
            .filter(|f| f.is_finite() && *f > 0.0)
            .ok_or_else(|| {
                err(
                    "factor",
                    "a spike phase needs a factor above 0",
                    "add factor = 3 (the burst is 3 times the base rate)",
                )
            })?;
        let at = raw
            .spike_at
            .as_ref()
            .map_or(Ok(Duration::ZERO), |t| bounded_duration("spike_at", t))?;
        let length = duration("spike_duration", raw.spike_duration.as_ref())?;
        let spiked = bounded_rate("factor", Rate(base_rate.0 * factor))?;
        if at.saturating_add(length) > total {
            return Err(err(
                "spike_duration",
                "the spike runs past the end of the phase",
                "keep spike_at + spike_duration within duration",
            ));
        }
        let mut parts = Vec::new();
        if !at.is_zero() {
            parts.push(self.phase(name, Shape::Constant(base_rate), at));
        }
        parts.push(self.phase(&format!("{name}:spike"), Shape::Constant(spiked), length));
        if at + length < total {
            parts.push(self.phase(name, Shape::Constant(base_rate), total - at - length));
        }
        Ok(parts)
    }

    /// `replay`: a recorded traffic curve (CSV), scaled, as ramps between its points.
    fn replay(&self, base: &Path) -> Result<Vec<Phase>, ShapeError> {
        let raw = self.raw;
        let file = raw.csv.as_ref().ok_or_else(|| {
            err(
                "csv",
                "a replay phase needs its traffic curve",
                "add csv = \"last-black-friday.csv\" (rows: seconds,events_per_second)",
            )
        })?;
        let scale = raw.scale.unwrap_or(1.0);
        if !(scale.is_finite() && scale > 0.0) {
            return Err(err(
                "scale",
                format!("{scale} is not a scale"),
                "use a number above 0, e.g. 1.2",
            ));
        }
        let points = read_curve(&base.join(file)).map_err(|problem| {
            err(
                "csv",
                problem,
                "fix the CSV: rows of seconds,events_per_second starting at 0",
            )
        })?;
        let peak = points.iter().map(|p| p.1).fold(0.0, f64::max);
        bounded_rate("scale", Rate(peak * scale))?;
        Ok(points
            .windows(2)
            .map(|pair| {
                let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
                let shape = if r0 == r1 {
                    Shape::Constant(Rate(r0 * scale))
                } else {
                    Shape::Ramp {
                        from: Rate(r0 * scale),
                        to: Rate(r1 * scale),
                    }
                };
                self.phase(self.name, shape, Duration::from_secs_f64(t1 - t0))
            })
            .collect())
    }
}
