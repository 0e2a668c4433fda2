//! Key distributions: which item an operation touches.
//!
//! Items are numbered `0..n`; a [`KeyChooser`] picks a number. The numbering
//! to DynamoDB keys is [`crate::workload`]'s business. Distributions follow
//! YCSB's core workloads:
//!
//! * `uniform` — every item equally likely.
//! * `zipfian` — item of rank `k` (0-based) has probability ∝ 1/(k+1)^θ,
//!   drawn exactly by rejection-inversion; θ > 0 (YCSB's default 0.99).
//! * `latest` — zipfian over recency: the most recently inserted item is the
//!   most popular (YCSB's `SkewedLatestGenerator`, with the zipfian drawn over
//!   the initial item count).
//! * `hotspot` — a fraction of the items (the hot set, the lowest numbers)
//!   receives a fraction of the operations, uniformly within each set.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::rng::Rng;

/// A key distribution as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    Uniform,
    Zipfian { theta: f64 },
    Latest { theta: f64 },
    Hotspot { hot_set: f64, hot_ops: f64 },
}

/// The distribution names `--distribution` accepts; parameters come from
/// their own flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistributionKind {
    Uniform,
    Zipfian,
    Latest,
    Hotspot,
}

impl FromStr for DistributionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "uniform" => Ok(DistributionKind::Uniform),
            "zipfian" | "zipf" => Ok(DistributionKind::Zipfian),
            "latest" => Ok(DistributionKind::Latest),
            "hotspot" => Ok(DistributionKind::Hotspot),
            other => Err(format!(
                "unknown distribution {other:?} (uniform, zipfian, latest, hotspot)"
            )),
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Distribution::Uniform => write!(f, "uniform"),
            Distribution::Zipfian { theta } => write!(f, "zipfian(θ={theta})"),
            Distribution::Latest { theta } => write!(f, "latest(θ={theta})"),
            Distribution::Hotspot { hot_set, hot_ops } => {
                write!(f, "hotspot({hot_set} of items get {hot_ops} of ops)")
            }
        }
    }
}

impl Distribution {
    /// Check the parameters; the message names the offending flag.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Distribution::Uniform => Ok(()),
            Distribution::Zipfian { theta } | Distribution::Latest { theta } => {
                if theta > 0.0 && theta.is_finite() {
                    Ok(())
                } else {
                    Err(format!("--zipf-theta must be positive, got {theta}"))
                }
            }
            Distribution::Hotspot { hot_set, hot_ops } => {
                if !(hot_set > 0.0 && hot_set < 1.0) {
                    return Err(format!("--hot-set must be in (0, 1), got {hot_set}"));
                }
                if !(0.0..=1.0).contains(&hot_ops) {
                    return Err(format!("--hot-ops must be in [0, 1], got {hot_ops}"));
                }
                Ok(())
            }
        }
    }
}

/// Zipfian ranks over `0..n` (rank 0 most popular), drawn exactly and in
/// O(1) by rejection-inversion (Hörmann and Derflinger, 1996), so no O(n)
/// table is needed however many items there are.
#[derive(Debug)]
pub struct Zipfian {
    n: f64,
    theta: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    s: f64,
}

impl Zipfian {
    pub fn new(n: u64, theta: f64) -> Zipfian {
        let n = n.max(1) as f64;
        let mut z = Zipfian {
            n,
            theta,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            s: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n + 0.5);
        z.s = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.next_f64() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.s || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64 - 1;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        (-self.theta * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        expm1_over_x((1.0 - self.theta) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.theta)).max(-1.0);
        (ln1p_over_x(t) * x).exp()
    }
}

/// `expm1(x) / x`, continuous at 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

/// `ln(1 + x) / x`, continuous at 0.
fn ln1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// Picks item numbers. Cheap to clone: the zipfian tables are shared.
#[derive(Debug, Clone)]
pub enum KeyChooser {
    Uniform,
    Zipfian(Arc<Zipfian>),
    Latest(Arc<Zipfian>),
    Hotspot { hot_set: f64, hot_ops: f64 },
}

impl KeyChooser {
    /// A chooser for `dist` over the `initial` items loaded before the run.
    pub fn new(dist: Distribution, initial: u64) -> KeyChooser {
        match dist {
            Distribution::Uniform => KeyChooser::Uniform,
            Distribution::Zipfian { theta } => {
                KeyChooser::Zipfian(Arc::new(Zipfian::new(initial, theta)))
            }
            Distribution::Latest { theta } => {
                KeyChooser::Latest(Arc::new(Zipfian::new(initial, theta)))
            }
            Distribution::Hotspot { hot_set, hot_ops } => KeyChooser::Hotspot { hot_set, hot_ops },
        }
    }

    /// An item number in `0..count`, where `count` is the number of items
    /// that exist now (the initial ones plus those inserted since).
    pub fn next(&self, rng: &mut Rng, count: u64) -> u64 {
        let count = count.max(1);
        match self {
            KeyChooser::Uniform => rng.below(count),
            KeyChooser::Zipfian(z) => z.sample(rng).min(count - 1),
            KeyChooser::Latest(z) => (count - 1).saturating_sub(z.sample(rng)),
            KeyChooser::Hotspot { hot_set, hot_ops } => {
                let hot = ((count as f64 * hot_set) as u64).clamp(1, count);
                if rng.next_f64() < *hot_ops || hot == count {
                    rng.below(hot)
                } else {
                    hot + rng.below(count - hot)
                }
            }
        }
    }
}
