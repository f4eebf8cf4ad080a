//! Numbers, durations, rates and percentages as every report and the console print them.

/// A number with at most three decimals and no trailing zeros.
pub fn format_number(value: f64) -> String {
    let text = format!("{:.3}", value);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A measured value beside its limit: as [`format_number`], with more decimals when that would
/// print a value that differs from the limit as the limit itself (0.98995 against 0.99).
pub fn format_against(value: f64, limit: f64) -> String {
    let short = format_number(value);
    if value == limit || short != format_number(limit) {
        short
    } else {
        // The shortest text that reads back as exactly this value.
        format!("{value}")
    }
}

/// Microseconds as `850us`, `12.5ms` or `1.2s`.
pub fn format_micros(micros: f64) -> String {
    if micros < 1_000.0 {
        format!("{}us", format_number(micros))
    } else if micros < 1_000_000.0 {
        format!("{}ms", format_number(micros / 1_000.0))
    } else {
        format!("{}s", format_number(micros / 1_000_000.0))
    }
}

/// `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds for a table cell, as `850µs`, `12.5ms`, `36.0ms` or `1.20s`, or `-` when
/// nothing was recorded: always three significant digits (the precision the HDR histograms
/// keep), so that every cell of a column reads to the same precision.
pub fn micros(value: u64, count: u64) -> String {
    if count == 0 {
        return "-".into();
    }
    let value = significant(value as f64);
    let (scaled, unit) = if value < 1_000.0 {
        (value, "µs")
    } else if value < 1_000_000.0 {
        (value / 1_000.0, "ms")
    } else {
        (value / 1_000_000.0, "s")
    };
    let decimals = if scaled >= 100.0 {
        0
    } else if scaled >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.decimals$}{unit}")
}

/// A value rounded to three significant digits.
pub fn significant(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(2 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

/// Events per second, whole: `12,500/s`.
pub fn per_second(rate: f64) -> String {
    format!("{}/s", thousands(rate as u64))
}

/// Dollars to the cent, without trailing zeros: `$20`, `$4.17`.
pub fn usd(value: f64) -> String {
    format!("${}", format_number((value * 100.0).round() / 100.0))
}

/// A relative change: `+12.3%`, `-4%`.
pub fn percent_change(change: f64) -> String {
    let sign = if change > 0.0 { "+" } else { "" };
    format!("{sign}{}%", format_number((change * 1000.0).round() / 10.0))
}

/// A share of a limit as a whole percentage; a share too small to round to 1% is `<1%`, not
/// `0%`, so it does not read as nothing at all.
pub fn share_percent(share: f64) -> String {
    if share > 0.0 && share < 0.01 {
        "<1%".into()
    } else {
        format!("{:.0}%", share * 100.0)
    }
}

/// Milliseconds on a chart axis: fewer decimals the larger the value.
pub fn axis_millis(value: &f64) -> String {
    if *value >= 100.0 {
        format!("{value:.0}")
    } else if *value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The percentile at `1/(1-p)` on a chart axis: 100 reads `p99`, 1000 reads `p99.9`.
pub fn axis_percentile(inverse: &f64) -> String {
    format!("p{}", format_number(100.0 - 100.0 / inverse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_beside_its_limit_never_prints_as_the_limit() {
        assert_eq!(format_against(0.98995, 0.99), "0.98995");
        assert_eq!(format_against(0.99, 0.99), "0.99");
        assert_eq!(format_against(0.5, 0.99), "0.5");
        assert_eq!(format_against(10_000.000_1, 10_000.0), "10000.0001");
    }

    #[test]
    fn numbers_read_as_the_reports_print_them() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_micros(850.0), "850us");
        assert_eq!(format_micros(12_500.0), "12.5ms");
        assert_eq!(format_micros(1_200_000.0), "1.2s");
        assert_eq!(micros(33_449, 1), "33.4ms");
        assert_eq!(micros(33_449, 0), "-");
        // Three significant digits in every cell of a column, in one unit spelling.
        assert_eq!(micros(36_000, 1), "36.0ms");
        assert_eq!(micros(574, 1), "574µs");
        assert_eq!(micros(1_204_000, 1), "1.20s");
        assert_eq!(micros(5, 1), "5.00µs");
        assert_eq!(per_second(12_500.9), "12,500/s");
        assert_eq!(usd(4.1666), "$4.17");
        assert_eq!(percent_change(0.123), "+12.3%");
        assert_eq!(percent_change(-0.04), "-4%");
        assert_eq!(share_percent(0.004), "<1%");
        assert_eq!(share_percent(0.334), "33%");
        assert_eq!(axis_percentile(&100.0), "p99");
        assert_eq!(axis_percentile(&1000.0), "p99.9");
        assert_eq!(axis_millis(&0.5), "0.50");
    }
}
