//! What a sample of records says about the traffic it came from: sizes at evenly spaced
//! quantiles, and the key space (how many keys, uniform or Zipf, which exponent). Pure
//! functions of counts: no I/O.
//!
//! The key figures come from exact counts over the bounded sample (one counter per distinct
//! key seen), not from a sketch: the skew fit needs the top keys' counts, and an exact count of
//! a bounded sample adds no error of its own. What a sample cannot see directly is how many
//! keys the traffic draws from: a key drawn rarely may be missing from it. That number is the
//! key count whose law (uniform, or the fitted Zipf) would show, in a sample of this size, as
//! many distinct keys as this one did; its interval is where the distinct count would fall
//! within two standard deviations, under the exponent two standard errors either side.

/// How many points [`quantiles`] returns: every 5%, from the smallest to the largest.
pub const QUANTILE_POINTS: usize = 21;

/// The most keys surge draws from per aggregate ([`crate::workload::MAX_KEYS`]).
const MAX_KEYS: u64 = crate::workload::MAX_KEYS;

/// `points` values at evenly spaced quantiles of `values` (the first the smallest, the last the
/// largest), by linear interpolation between order statistics. Empty for no values.
pub fn quantiles(values: &mut [u32], points: usize) -> Vec<u64> {
    if values.is_empty() || points < 2 {
        return Vec::new();
    }
    values.sort_unstable();
    let last = (values.len() - 1) as f64;
    (0..points)
        .map(|i| {
            let at = last * i as f64 / (points - 1) as f64;
            let (low, high) = (values[at.floor() as usize], values[at.ceil() as usize]);
            let part = at - at.floor();
            (low as f64 + (high as f64 - low as f64) * part).round() as u64
        })
        .collect()
}

/// The value at quantile `q` (0..=1) of a table of [`QUANTILE_POINTS`]-style evenly spaced
/// quantiles, read linearly between its points.
pub fn quantile_of(table: &[u64], q: f64) -> f64 {
    match table {
        [] => 0.0,
        [only] => *only as f64,
        _ => {
            let at = q.clamp(0.0, 1.0) * (table.len() - 1) as f64;
            let low = at.floor() as usize;
            let high = (low + 1).min(table.len() - 1);
            table[low] as f64 + (table[high] as f64 - table[low] as f64) * (at - low as f64)
        }
    }
}

/// How the keys of a sample are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyLaw {
    Uniform,
    Zipf { exponent: f64 },
}

/// What a sample says about its key space.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyFit {
    /// Records in the sample.
    pub sampled: u64,
    /// Distinct keys among them.
    pub distinct: u64,
    pub law: KeyLaw,
    /// The key count the traffic draws from (see the module's notes).
    pub keys: u64,
    /// Its interval: the key counts whose expected distinct count lies within two standard
    /// deviations of the one seen, under the exponent two standard errors either side of the
    /// fitted one. `None` for the upper end when the sample cannot bound it (nearly every
    /// record had a key of its own).
    pub keys_low: u64,
    pub keys_high: Option<u64>,
    /// The share of the sample held by its most frequent 1% of distinct keys (at least one).
    pub top_share: f64,
}

/// Fits the key space to the per-key counts of a sample. `None` for an empty sample.
pub fn fit_keys(counts: &[u32]) -> Option<KeyFit> {
    let sampled: u64 = counts.iter().map(|&c| c as u64).sum();
    if sampled == 0 {
        return None;
    }
    let mut sorted: Vec<u32> = counts.iter().copied().filter(|&c| c > 0).collect();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let distinct = sorted.len() as u64;
    let top = (sorted.len() / 100).max(1);
    let top_share = sorted[..top].iter().map(|&c| c as f64).sum::<f64>() / sampled as f64;
    let uniform_keys = solve_keys(KeyLaw::Uniform, sampled, distinct as f64);
    // The law, and the laws at the ends of its exponent's interval (two standard errors).
    let (law, flatter, steeper) = if looks_uniform(&sorted, sampled, uniform_keys) {
        (KeyLaw::Uniform, KeyLaw::Uniform, KeyLaw::Uniform)
    } else {
        let (exponent, error) = zipf_exponent(&sorted);
        let zipf = |exponent: f64| KeyLaw::Zipf {
            exponent: exponent.max(0.01),
        };
        (
            zipf(exponent),
            zipf(exponent - 2.0 * error),
            zipf(exponent + 2.0 * error),
        )
    };
    let solved = solve_keys(law, sampled, distinct as f64);
    // The distinct count's spread at the solution, or at the most keys surge draws from when
    // the sample cannot bound the count (then the lower end is all it can say).
    let spread = 2.0 * distinct_deviation(law, solved.unwrap_or(MAX_KEYS), sampled);
    let keys_low = solve_keys(flatter, sampled, (distinct as f64 - spread).max(1.0))
        .unwrap_or(MAX_KEYS)
        .max(distinct);
    let keys = solved.unwrap_or(keys_low);
    let keys_high = solved.and(solve_keys(steeper, sampled, distinct as f64 + spread));
    Some(KeyFit {
        sampled,
        distinct,
        law,
        keys,
        keys_low: keys_low.min(keys),
        keys_high: keys_high.map(|high| high.max(keys)),
        top_share,
    })
}

/// Whether the counts are what a uniform draw from `keys` keys gives: their dispersion
/// (Pearson's statistic over every key, the unseen ones counted as zeros) within six standard
/// deviations of a uniform draw's. No bound on the keys (every record its own key) is uniform.
fn looks_uniform(sorted: &[u32], sampled: u64, keys: Option<u64>) -> bool {
    let Some(keys) = keys else { return true };
    if keys < 2 {
        return true;
    }
    let expected = sampled as f64 / keys as f64;
    let unseen = keys.saturating_sub(sorted.len() as u64) as f64;
    let statistic = sorted
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum::<f64>()
        + unseen * expected;
    let freedom = (keys - 1) as f64;
    (statistic - freedom) / (2.0 * freedom).sqrt() < 6.0
}

/// The Zipf exponent that best explains the most frequent keys, with its standard error: the
/// maximum-likelihood exponent of a Zipf law over the top ranks, those seen at least 8 times
/// (at least 3 ranks), where a key's rank in the sample is its rank in the traffic. The error
/// is the inverse square root of the Fisher information, n times the variance of ln(rank).
fn zipf_exponent(sorted: &[u32]) -> (f64, f64) {
    let ranks = sorted.iter().take_while(|&&c| c >= 8).count().max(3);
    let top = &sorted[..ranks.min(sorted.len())];
    let n: f64 = top.iter().map(|&c| c as f64).sum();
    let log_sum: f64 = top
        .iter()
        .enumerate()
        .map(|(i, &c)| c as f64 * ((i + 1) as f64).ln())
        .sum();
    // The mean and variance of ln(rank) under exponent s, over the top ranks.
    let moments = |s: f64| {
        let (mut weight, mut sum, mut squares) = (0.0, 0.0, 0.0);
        for r in 1..=top.len() {
            let (p, log) = ((r as f64).powf(-s), (r as f64).ln());
            weight += p;
            sum += p * log;
            squares += p * log * log;
        }
        let mean = sum / weight;
        (mean, squares / weight - mean * mean)
    };
    // The log-likelihood's slope in s: n * E_s[ln r] - log_sum, which falls as s grows.
    let slope = |s: f64| n * moments(s).0 - log_sum;
    let (mut low, mut high) = (0.0_f64, 6.0_f64);
    for _ in 0..60 {
        let mid = (low + high) / 2.0;
        if slope(mid) > 0.0 {
            low = mid;
        } else {
            high = mid;
        }
    }
    let exponent = (low + high) / 2.0;
    (exponent, 1.0 / (n * moments(exponent).1).max(1e-12).sqrt())
}

/// Keys drawn `sampled` times from `keys` keys by `law`: the expected number of distinct ones.
fn expected_distinct(law: KeyLaw, keys: u64, sampled: u64) -> f64 {
    sum_over_keys(law, keys, |p| seen(p, sampled))
}

/// The standard deviation of the distinct count (keys seen independently of one another).
fn distinct_deviation(law: KeyLaw, keys: u64, sampled: u64) -> f64 {
    sum_over_keys(law, keys, |p| {
        let seen = seen(p, sampled);
        seen * (1.0 - seen)
    })
    .sqrt()
}

/// The chance that a key of probability `p` is among `sampled` draws.
fn seen(p: f64, sampled: u64) -> f64 {
    -(sampled as f64 * (-p).ln_1p()).exp_m1()
}

/// Ranks summed term by term under a Zipf law; past them, the sum is an integral.
const EXACT_RANKS: u64 = 10_000;
/// Simpson intervals of that integral (over the logarithm of the rank, where it is smooth).
const TAIL_STEPS: u32 = 2_000;

/// The sum over every key of `term(its probability)`: in closed form for a uniform law; for a
/// Zipf law, term by term over the first [`EXACT_RANKS`] ranks and as an integral over the
/// rest (the sum of a smooth, slowly varying function is its integral from half a rank before
/// the first to half a rank after the last), so that ten million keys cost what ten thousand do.
fn sum_over_keys(law: KeyLaw, keys: u64, term: impl Fn(f64) -> f64) -> f64 {
    let exponent = match law {
        KeyLaw::Uniform => return keys as f64 * term(1.0 / keys as f64),
        KeyLaw::Zipf { exponent } => exponent,
    };
    let weight = |rank: f64| rank.powf(-exponent);
    let head = keys.min(EXACT_RANKS);
    let (from, to) = (head as f64 + 0.5, keys as f64 + 0.5);
    let tail_weight = if keys <= head {
        0.0
    } else if (exponent - 1.0).abs() < 1e-9 {
        (to / from).ln()
    } else {
        (to.powf(1.0 - exponent) - from.powf(1.0 - exponent)) / (1.0 - exponent)
    };
    let total = (1..=head).map(|r| weight(r as f64)).sum::<f64>() + tail_weight;
    let exact: f64 = (1..=head).map(|r| term(weight(r as f64) / total)).sum();
    if keys <= head {
        return exact;
    }
    let (a, b) = (from.ln(), to.ln());
    let step = (b - a) / TAIL_STEPS as f64;
    let at = |u: f64| {
        let rank = u.exp();
        term(weight(rank) / total) * rank
    };
    let inner: f64 = (1..TAIL_STEPS)
        .map(|i| at(a + i as f64 * step) * if i % 2 == 1 { 4.0 } else { 2.0 })
        .sum();
    exact + (at(a) + at(b) + inner) * step / 3.0
}

/// The key count whose law would show `distinct` distinct keys in `sampled` records; `None`
/// when even [`MAX_KEYS`] keys would show fewer (the sample cannot bound the count). The upper
/// end is found by doubling, so a small key space costs little.
fn solve_keys(law: KeyLaw, sampled: u64, distinct: f64) -> Option<u64> {
    let mut high = (distinct.ceil() as u64).clamp(1, MAX_KEYS);
    while expected_distinct(law, high, sampled) < distinct {
        if high == MAX_KEYS {
            return None;
        }
        high = (high * 2).min(MAX_KEYS);
    }
    let mut low = 1_u64;
    while low < high {
        let mid = low + (high - low) / 2;
        if expected_distinct(law, mid, sampled) < distinct {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    Some(low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::distr::Distribution;
    use rand::rngs::SmallRng;
    use rand_distr::Zipf;

    /// Per-key counts of `draws` keys drawn from `keys` keys by `law`, seeded.
    fn sample(law: KeyLaw, keys: u64, draws: u64, seed: u64) -> Vec<u32> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut counts = vec![0_u32; keys as usize];
        for _ in 0..draws {
            let index = match law {
                KeyLaw::Uniform => rand::RngExt::random_range(&mut rng, 0..keys),
                KeyLaw::Zipf { exponent } => {
                    Zipf::new(keys as f64, exponent).unwrap().sample(&mut rng) as u64 - 1
                }
            };
            counts[index as usize] += 1;
        }
        counts
    }

    #[test]
    fn quantiles_run_from_the_smallest_to_the_largest() {
        let mut values: Vec<u32> = (1..=101).collect();
        let table = quantiles(&mut values, QUANTILE_POINTS);
        assert_eq!(table.len(), 21);
        assert_eq!(
            (table[0], table[10], table[19], table[20]),
            (1, 51, 96, 101)
        );
        assert_eq!(quantile_of(&table, 0.5), 51.0);
        assert_eq!(quantile_of(&table, 0.975), 98.5);
        assert!(quantiles(&mut [], 21).is_empty());
    }

    #[test]
    fn a_uniform_key_space_is_called_uniform_and_counted() {
        for (keys, draws) in [(2_000, 12_000), (500, 3_000), (20_000, 100_000)] {
            let fit = fit_keys(&sample(KeyLaw::Uniform, keys, draws, keys)).unwrap();
            assert_eq!(fit.law, KeyLaw::Uniform, "{fit:?}");
            let error = (fit.keys as f64 / keys as f64 - 1.0).abs();
            assert!(error < 0.05, "{keys} keys: {fit:?}");
            assert!(
                fit.keys_low <= keys && fit.keys_high.unwrap() >= keys,
                "{fit:?}"
            );
        }
    }

    #[test]
    fn a_zipf_key_space_gives_its_exponent_and_key_count() {
        for (keys, exponent, draws) in [
            (1_000, 1.0, 15_000),
            (5_000, 1.2, 30_000),
            (3_000, 0.8, 40_000),
        ] {
            let law = KeyLaw::Zipf { exponent };
            let fit = fit_keys(&sample(law, keys, draws, keys + 7)).unwrap();
            let KeyLaw::Zipf { exponent: fitted } = fit.law else {
                panic!("{keys} keys, s={exponent}: called uniform: {fit:?}");
            };
            assert!((fitted - exponent).abs() < 0.1, "s={exponent}: {fit:?}");
            let error = (fit.keys as f64 / keys as f64 - 1.0).abs();
            assert!(error < 0.1, "{keys} keys, s={exponent}: {fit:?}");
            let high = fit.keys_high.unwrap();
            assert!(
                fit.keys_low <= keys && keys <= high,
                "{keys} keys outside: {fit:?}"
            );
        }
    }

    #[test]
    fn the_integral_tail_of_a_large_zipf_key_space_matches_the_exact_sum() {
        for (keys, exponent) in [(50_000_u64, 1.0), (200_000, 0.8), (100_000, 1.3)] {
            let law = KeyLaw::Zipf { exponent };
            let total: f64 = (1..=keys).map(|r| (r as f64).powf(-exponent)).sum();
            let exact: f64 = (1..=keys)
                .map(|r| seen((r as f64).powf(-exponent) / total, 30_000))
                .sum();
            let fast = expected_distinct(law, keys, 30_000);
            assert!(
                (fast / exact - 1.0).abs() < 1e-4,
                "{keys}, s={exponent}: {fast} against {exact}"
            );
        }
    }

    #[test]
    fn every_record_with_its_own_key_bounds_the_count_from_below_only() {
        let counts = vec![1_u32; 5_000];
        let fit = fit_keys(&counts).unwrap();
        assert_eq!(fit.law, KeyLaw::Uniform);
        assert_eq!(fit.keys_high, None, "{fit:?}");
        assert!(fit.keys >= 5_000, "{fit:?}");
        // A larger sample with every key its own says at least as much.
        let larger = fit_keys(&vec![1_u32; 50_000]).unwrap();
        assert!(larger.keys >= fit.keys, "{larger:?} against {fit:?}");
        assert!(fit_keys(&[]).is_none());
    }
}
