//! The key generators produce the distributions they are named after,
//! checked with Pearson's chi-square test at the 0.1% level (the seeds are
//! fixed, so a pass is a pass every time).

// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use ferrodyn_bench::keys::{Distribution, KeyChooser};
use ferrodyn_bench::rng::Rng;

/// Chi-square critical value for `df` degrees of freedom at p = 0.001
/// (Wilson–Hilferty approximation, accurate to a few percent for df ≥ 10).
fn critical(df: usize) -> f64 {
    let k = df as f64;
    let z = 3.090_2;
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// Draw `samples` items in `0..count` and test them against `expected`
/// probabilities (which must sum to 1).
fn assert_fits(chooser: &KeyChooser, count: u64, expected: &[f64], samples: u64, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut observed = vec![0u64; expected.len()];
    for _ in 0..samples {
        let k = chooser.next(&mut rng, count) as usize;
        assert!(k < expected.len(), "item {k} out of range");
        observed[k] += 1;
    }
    check(&observed, expected);
}

/// Pearson's test of counted draws against probabilities summing to 1.
fn check(observed: &[u64], expected: &[f64]) {
    let total: f64 = expected.iter().sum();
    assert!(
        (total - 1.0).abs() < 1e-9,
        "expected probabilities sum to {total}"
    );
    let samples: u64 = observed.iter().sum();
    let mut stat = 0.0;
    for (o, p) in observed.iter().zip(expected) {
        let e = p * samples as f64;
        assert!(e >= 5.0, "bin too small for chi-square: expected {e}");
        stat += (*o as f64 - e).powi(2) / e;
    }
    let crit = critical(expected.len() - 1);
    assert!(
        stat < crit,
        "chi-square {stat:.1} ≥ critical {crit:.1} (df {}); observed head {:?}",
        expected.len() - 1,
        &observed[..observed.len().min(8)]
    );
}

fn zipf_probabilities(n: usize, theta: f64) -> Vec<f64> {
    let weights: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(theta)).collect();
    let sum: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / sum).collect()
}

#[test]
fn uniform_is_uniform() {
    let n = 500;
    let chooser = KeyChooser::new(Distribution::Uniform, n);
    assert_fits(&chooser, n, &vec![1.0 / n as f64; n as usize], 100_000, 1);
}

#[test]
fn zipfian_matches_power_law_for_several_thetas() {
    for (theta, seed) in [(0.99, 2), (0.5, 3), (1.0, 4), (1.3, 5)] {
        let n = 100;
        let chooser = KeyChooser::new(Distribution::Zipfian { theta }, n);
        let p = zipf_probabilities(n as usize, theta);
        // Keep bins with at least 5 expected draws.
        let samples = (5.0 / p[p.len() - 1]).ceil() as u64 * 4;
        assert_fits(&chooser, n, &p, samples.max(100_000), seed);
    }
}

#[test]
fn zipfian_over_many_items_puts_mass_on_the_head() {
    let n = 1_000_000;
    let chooser = KeyChooser::new(Distribution::Zipfian { theta: 0.99 }, n);
    let mut rng = Rng::new(9);
    let draws = 200_000;
    let top = (0..draws)
        .filter(|_| chooser.next(&mut rng, n) == 0)
        .count() as f64;
    // P(rank 0) = 1 / H(n, 0.99) ≈ 0.0675 for a million items.
    let h: f64 = (1..=n).map(|k| 1.0 / (k as f64).powf(0.99)).sum();
    let expected = draws as f64 / h;
    assert!(
        (top - expected).abs() < 5.0 * expected.sqrt(),
        "top {top}, expected {expected:.0}"
    );
}

#[test]
fn latest_favours_the_newest_items() {
    let initial = 100;
    let chooser = KeyChooser::new(Distribution::Latest { theta: 0.99 }, initial);
    // After 20 inserts the newest item (119) is the most popular, with the
    // zipfian law over recency.
    let count = initial + 20;
    let mut p = vec![0.0; count as usize];
    for (rank, q) in zipf_probabilities(initial as usize, 0.99)
        .into_iter()
        .enumerate()
    {
        p[(count - 1) as usize - rank] = q;
    }
    // Items older than the zipfian window (0..20) are never drawn.
    let mut rng = Rng::new(6);
    let mut observed = vec![0u64; count as usize];
    for _ in 0..200_000 {
        observed[chooser.next(&mut rng, count) as usize] += 1;
    }
    assert!(
        observed[..20].iter().all(|&o| o == 0),
        "items older than the window were drawn"
    );
    check(&observed[20..], &p[20..]);
}

#[test]
fn hotspot_sends_the_hot_fraction_of_ops_to_the_hot_set() {
    let n = 1000u64;
    let (hot_set, hot_ops) = (0.2, 0.8);
    let chooser = KeyChooser::new(Distribution::Hotspot { hot_set, hot_ops }, n);
    let hot = (n as f64 * hot_set) as usize;
    let p: Vec<f64> = (0..n as usize)
        .map(|i| {
            if i < hot {
                hot_ops / hot as f64
            } else {
                (1.0 - hot_ops) / (n as usize - hot) as f64
            }
        })
        .collect();
    assert_fits(&chooser, n, &p, 200_000, 7);
}

#[test]
fn distributions_reject_bad_parameters() {
    assert!(Distribution::Zipfian { theta: 0.0 }.validate().is_err());
    assert!(Distribution::Latest { theta: f64::NAN }.validate().is_err());
    assert!(Distribution::Hotspot {
        hot_set: 1.5,
        hot_ops: 0.5
    }
    .validate()
    .is_err());
    assert!(Distribution::Hotspot {
        hot_set: 0.1,
        hot_ops: 0.9
    }
    .validate()
    .is_ok());
}
