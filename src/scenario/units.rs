//! Typed values of the scenario format (rates, durations, sizes), parsed once.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A scalar as written in a TOML file: a string such as `"10k/s"` or a bare number.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    /// A TOML integer.
    Int(i64),
    /// A TOML float.
    Float(f64),
    /// A TOML string.
    Text(String),
    /// A TOML boolean (only meaningful for pass-through client properties).
    Bool(bool),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::Float(v) => write!(f, "{v}"),
            Scalar::Text(v) => write!(f, "{v}"),
            Scalar::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// A rate in events per second.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Rate(pub f64);

impl Rate {
    /// Events per second.
    pub fn per_sec(self) -> f64 {
        self.0
    }
}

impl FromStr for Rate {
    type Err = String;

    /// Accepts `10000`, `10000/s`, `10k/s`, `2.5k`, `1M/s`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hint = "expected a rate such as 10k/s, 2500/s or 1M/s";
        let trimmed = text.trim();
        let number = trimmed.strip_suffix("/s").unwrap_or(trimmed).trim();
        let (digits, factor) = match number.char_indices().last() {
            Some((i, 'k' | 'K')) => (&number[..i], 1e3),
            Some((i, 'm' | 'M')) => (&number[..i], 1e6),
            _ => (number, 1.0),
        };
        let value: f64 = digits
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a rate: {hint}"))?;
        let rate = value * factor;
        if !rate.is_finite() || rate < 0.0 {
            return Err(format!("`{text}` is not a rate: {hint}, at least 0"));
        }
        Ok(Rate(rate))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        if r >= 1e6 && (r / 1e6).fract() == 0.0 {
            write!(f, "{}M/s", r / 1e6)
        } else if r >= 1e3 && ((r / 1e3) * 10.0).fract() == 0.0 {
            write!(f, "{}k/s", r / 1e3)
        } else {
            write!(f, "{}/s", (r * 100.0).round() / 100.0)
        }
    }
}

/// A size in bytes, written `512B`, `2KiB` or `1MB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if let Ok(bytes) = trimmed.parse::<u64>() {
            return Ok(Size(bytes));
        }
        trimmed
            .parse::<bytesize::ByteSize>()
            .map(|size| Size(size.as_u64()))
            .map_err(|_| format!("`{text}` is not a size: expected e.g. 512B, 2KiB or 1MB"))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}B", self.0)
    }
}

/// Parses `30s`, `2m`, `100ms`, `1us`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|_| {
        format!(
            "`{}` is not a duration: expected e.g. 30s, 2m, 100ms or 50us",
            crate::input::quote(text, 40)
        )
    })
}

/// Formats a duration the way a scenario file writes it.
pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// A multiplier given on the command line, such as `--rate-scale 0.1`.
pub fn parse_scale(text: &str) -> Result<f64, String> {
    let shown = crate::input::quote(text, 40);
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{shown}` is not a number: expected e.g. 0.1 or 2"))?;
    if !value.is_finite() || !(1e-6..=1e6).contains(&value) {
        return Err(format!(
            "`{shown}` must be a number from 0.000001 to 1000000, e.g. 0.1 or 2"
        ));
    }
    Ok(value)
}

/// A percentage written with its sign, `10%`, as a fraction (0.1). Above 0, at most 1000%.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| format!("`{text}` is not a percentage: write it with %, e.g. 10%"))?;
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage: expected e.g. 10%"))?;
    if !value.is_finite() || value <= 0.0 || value > 1000.0 {
        return Err(format!(
            "`{text}` must be above 0% and at most 1000%, e.g. 10%"
        ));
    }
    Ok(value / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_need_their_sign_and_a_sane_value() {
        assert_eq!(parse_percent("10%"), Ok(0.1));
        assert_eq!(parse_percent(" 2.5 %"), Ok(0.025));
        assert!(parse_percent("10").unwrap_err().contains("with %"));
        assert!(parse_percent("0%").unwrap_err().contains("above 0%"));
        assert!(parse_percent("-5%").is_err());
        assert!(parse_percent("NaN%").is_err());
        assert!(parse_percent("abc%").is_err());
    }

    #[test]
    fn rates_parse_with_suffixes() {
        assert_eq!("10k/s".parse::<Rate>().unwrap(), Rate(10_000.0));
        assert_eq!("2.5k".parse::<Rate>().unwrap(), Rate(2_500.0));
        assert_eq!("1M/s".parse::<Rate>().unwrap(), Rate(1_000_000.0));
        assert_eq!("750/s".parse::<Rate>().unwrap(), Rate(750.0));
        assert!("fast".parse::<Rate>().unwrap_err().contains("10k/s"));
        assert!("-5/s".parse::<Rate>().is_err());
    }

    #[test]
    fn rates_display_compactly() {
        assert_eq!(Rate(10_000.0).to_string(), "10k/s");
        assert_eq!(Rate(2_500.0).to_string(), "2.5k/s");
        assert_eq!(Rate(100_000.0).to_string(), "100k/s");
        assert_eq!(Rate(2_000_000.0).to_string(), "2M/s");
        assert_eq!(Rate(333.0).to_string(), "333/s");
    }

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!("512B".parse::<Size>().unwrap(), Size(512));
        assert_eq!("2KiB".parse::<Size>().unwrap(), Size(2048));
        assert_eq!("1000".parse::<Size>().unwrap(), Size(1000));
        assert!("big".parse::<Size>().is_err());
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1us").unwrap(), Duration::from_micros(1));
        assert!(parse_duration("soon").is_err());
        assert!(parse_scale("0").is_err());
        assert_eq!(parse_scale("0.1").unwrap(), 0.1);
    }
}
