//! Recording and summarizing: per-operation HdrHistograms and error counts.
//!
//! Latencies are recorded in ticks of 100 ns (0.1 µs to 1 hour, 3
//! significant digits): a loopback request takes tens of microseconds, and
//! whole microseconds would round its percentiles by several percent.
//!
//! Two histograms per operation: `latency` is what the report shows — in
//! open-loop mode it runs from the *intended* send time, so a
//! stalled server is charged for the requests it kept from being sent
//! (coordinated-omission correction, as wrk2) — and `service` runs from the
//! actual send, for comparison. In closed-loop mode the two are equal.
//! Only successes are recorded in the histograms; failures are counted by
//! kind and never as throughput.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::workload::Op;

/// Histogram values per millisecond (a tick is 100 ns).
pub const TICKS_PER_MS: u64 = 10_000;

const MAX_TICKS: u64 = 3_600_000 * TICKS_PER_MS;

fn histogram() -> Histogram<u64> {
    // Bounds are constant and valid, so construction cannot fail; fall back
    // to an auto-resizing histogram rather than panic regardless.
    Histogram::new_with_bounds(1, MAX_TICKS, 3)
        .or_else(|_| Histogram::new(3))
        .unwrap_or_else(|_| unreachable!("3 significant digits is always valid"))
}

/// `d` as a histogram value.
pub fn ticks(d: Duration) -> u64 {
    u64::try_from(d.as_nanos() / 100)
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_TICKS)
}

/// A histogram value in milliseconds.
pub fn ticks_ms(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_MS as f64
}

/// One operation's results.
#[derive(Debug, Clone)]
pub struct OpStats {
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
}

impl Default for OpStats {
    fn default() -> Self {
        OpStats {
            latency: histogram(),
            service: histogram(),
            errors: BTreeMap::new(),
        }
    }
}

impl OpStats {
    pub fn successes(&self) -> u64 {
        self.latency.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn merge(&mut self, other: &OpStats) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }
}

/// Results of one phase (one target, one round), or of several merged.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    pub ops: BTreeMap<Op, OpStats>,
    /// Wall-clock time the results cover (summed when merging phases).
    pub elapsed: Duration,
}

impl Recorder {
    pub fn success(&mut self, op: Op, latency: Duration, service: Duration) {
        let s = self.ops.entry(op).or_default();
        s.latency.saturating_record(ticks(latency));
        s.service.saturating_record(ticks(service));
    }

    pub fn failure(&mut self, op: Op, kind: &str) {
        let s = self.ops.entry(op).or_default();
        *s.errors.entry(kind.to_owned()).or_default() += 1;
    }

    /// Add `other`'s counts; elapsed time adds up.
    pub fn merge(&mut self, other: &Recorder) {
        for (op, s) in &other.ops {
            self.ops.entry(*op).or_default().merge(s);
        }
        self.elapsed += other.elapsed;
    }

    /// Add a concurrent worker's counts; elapsed time is the longest.
    pub fn merge_concurrent(&mut self, other: &Recorder) {
        let elapsed = self.elapsed.max(other.elapsed);
        self.merge(other);
        self.elapsed = elapsed;
    }

    pub fn successes(&self) -> u64 {
        self.ops.values().map(OpStats::successes).sum()
    }

    pub fn errors(&self) -> u64 {
        self.ops.values().map(OpStats::error_count).sum()
    }

    /// Successful operations per second.
    pub fn throughput(&self) -> f64 {
        per_second(self.successes(), self.elapsed)
    }

    /// All operations' latencies in one histogram.
    pub fn all_latency(&self) -> Histogram<u64> {
        let mut h = histogram();
        for s in self.ops.values() {
            let _ = h.add(&s.latency);
        }
        h
    }
}

pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

/// The percentiles every report shows, with their labels.
pub const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("p99.99", 99.99),
];

/// p50, p90, p99, p99.9, p99.99 and max in milliseconds.
pub fn summary_ms(h: &Histogram<u64>) -> [f64; 6] {
    let mut out = [0.0; 6];
    for (i, (_, p)) in PERCENTILES.iter().enumerate() {
        out[i] = ticks_ms(h.value_at_percentile(*p));
    }
    out[5] = ticks_ms(h.max());
    out
}

/// The median of `values` (the upper one of an even count; NaN for none):
/// what a cell of a table of interleaved rounds shows.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_keep_a_tenth_of_a_microsecond() {
        let mut r = Recorder::default();
        for nanos in [18_340, 18_360, 18_390] {
            let d = Duration::from_nanos(nanos);
            r.success(Op::Get, d, d);
        }
        let s = summary_ms(&r.all_latency());
        assert!((s[0] - 0.0183).abs() < 1e-9, "p50 {} ms", s[0]);
        assert!((s[5] - 0.0183).abs() < 1e-9, "max {} ms", s[5]);
    }

    #[test]
    fn latencies_beyond_an_hour_are_kept_at_an_hour() {
        assert_eq!(ticks(Duration::from_secs(7200)), MAX_TICKS);
        assert_eq!(ticks(Duration::ZERO), 1);
        assert!((ticks_ms(ticks(Duration::from_millis(350))) - 350.0).abs() < 1e-9);
    }
}
