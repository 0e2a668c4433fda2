//! A token bucket measured in capacity units.
//!
//! Refilled continuously at `rate` units per second up to `cap` units.
//! A request is admitted while the balance is positive and pays for what it
//! actually consumed afterwards, so the balance may go negative: the debt
//! is repaid by refill before the next request is admitted. This is how a
//! read whose size is only known after reading it (a Query, a Scan, a
//! GetItem of a large item) is charged fairly, as DynamoDB does.

/// One bucket; the owner serialises access (a mutex).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    rate: f64,
    cap: f64,
    last_ms: u64,
}

impl Bucket {
    /// A bucket refilled at `rate` units per second, holding at most
    /// `bank_secs` seconds of it, starting full at time `now_ms`.
    pub fn full(rate: f64, bank_secs: f64, now_ms: u64) -> Bucket {
        let cap = rate * bank_secs;
        Bucket {
            tokens: cap,
            rate,
            cap,
            last_ms: now_ms,
        }
    }

    /// The same balance under a new rate and bank (a throughput change takes
    /// effect at once; the balance is kept, bounded by the new bank).
    pub fn resized(&self, rate: f64, bank_secs: f64) -> Bucket {
        let cap = rate * bank_secs;
        Bucket {
            tokens: self.tokens.min(cap),
            rate,
            cap,
            last_ms: self.last_ms,
        }
    }

    fn refill(&mut self, now_ms: u64) {
        // A clock that went backwards refills nothing (and does not move
        // `last_ms` back, so no time is counted twice).
        if now_ms > self.last_ms {
            let elapsed = (now_ms - self.last_ms) as f64 / 1000.0;
            self.tokens = (self.tokens + self.rate * elapsed).min(self.cap);
            self.last_ms = now_ms;
        }
    }

    /// Whether a request may start now.
    pub fn admits(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        self.tokens > 0.0
    }

    /// Take `units` (the balance may go negative).
    pub fn spend(&mut self, units: f64, now_ms: u64) {
        self.refill(now_ms);
        self.tokens -= units;
    }

    /// The current balance (for tests and diagnostics).
    pub fn balance(&mut self, now_ms: u64) -> f64 {
        self.refill(now_ms);
        self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_full_and_admits_until_the_bank_is_spent() {
        let mut b = Bucket::full(5.0, 300.0, 0);
        let mut admitted = 0;
        while b.admits(0) {
            b.spend(1.0, 0);
            admitted += 1;
        }
        assert_eq!(admitted, 1500);
    }

    #[test]
    fn refills_at_the_rate_and_never_beyond_the_bank() {
        let mut b = Bucket::full(5.0, 300.0, 0);
        b.spend(1500.0, 0);
        assert!(!b.admits(0));
        assert_eq!(b.balance(1000), 5.0);
        assert_eq!(b.balance(1_000_000), 1500.0);
    }

    #[test]
    fn debt_blocks_until_repaid() {
        let mut b = Bucket::full(10.0, 1.0, 0);
        assert!(b.admits(0));
        b.spend(30.0, 0);
        assert!(!b.admits(1000));
        assert!(!b.admits(2000));
        assert!(b.admits(2001));
    }

    #[test]
    fn a_clock_going_back_refills_nothing() {
        let mut b = Bucket::full(1.0, 10.0, 5000);
        b.spend(10.0, 5000);
        assert_eq!(b.balance(1000), 0.0);
        assert_eq!(b.balance(6000), 1.0);
    }

    #[test]
    fn resizing_keeps_the_balance_within_the_new_bank() {
        let mut b = Bucket::full(10.0, 300.0, 0);
        b.spend(100.0, 0);
        let mut smaller = b.resized(1.0, 300.0);
        assert_eq!(smaller.balance(0), 300.0);
        let mut larger = b.resized(100.0, 300.0);
        assert_eq!(larger.balance(0), 2900.0);
    }
}
