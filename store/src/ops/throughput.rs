//! The throughput settings of CreateTable and UpdateTable besides
//! ProvisionedThroughput: `OnDemandThroughput` (enforced by
//! [`crate::capacity`]), `WarmThroughput` (reported), and the record of
//! provisioned increases and decreases with DynamoDB's daily limit on
//! decreases.

use crate::api::tables::{OnDemandThroughputDescription, WarmThroughputDescription};
use crate::api::types::{OnDemandThroughput, WarmThroughput};
use crate::api::validate::Violations;
use crate::model::table::{OnDemandMeta, ThroughputChanges, WarmMeta};

/// Decreases allowed in the first hour of a UTC day (with none before).
const FREE_DECREASES: u32 = 4;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 86_400_000;
/// Warm throughput DynamoDB reports for a table without one of its own.
pub(super) const DEFAULT_WARM_READ: u64 = 12_000;
pub(super) const DEFAULT_WARM_WRITE: u64 = 4_000;

/// Member constraints of `OnDemandThroughput` (at least 1, or -1 to remove).
pub(super) fn check_on_demand(o: &OnDemandThroughput, path: &str, v: &mut Violations) {
    for (value, member) in [
        (o.max_read_request_units, "maxReadRequestUnits"),
        (o.max_write_request_units, "maxWriteRequestUnits"),
    ] {
        if let Some(n) = value {
            if n < 1 && n != -1 {
                v.push(
                    &format!("'{n}'"),
                    &format!("{path}.{member}"),
                    "Member must have value greater than or equal to -1",
                );
            }
        }
    }
}

/// `current` with the maximums of `o` applied (-1 removes one).
pub(super) fn on_demand(current: OnDemandMeta, o: Option<&OnDemandThroughput>) -> OnDemandMeta {
    let Some(o) = o else { return current };
    let apply = |now: Option<u64>, asked: Option<i64>| match asked {
        None => now,
        Some(n) if n < 1 => None,
        Some(n) => Some(n as u64),
    };
    OnDemandMeta {
        max_read: apply(current.max_read, o.max_read_request_units),
        max_write: apply(current.max_write, o.max_write_request_units),
    }
}

/// Member constraints of `WarmThroughput` (at least 1).
pub(super) fn check_warm(w: &WarmThroughput, path: &str, v: &mut Violations) {
    for (value, member) in [
        (w.read_units_per_second, "readUnitsPerSecond"),
        (w.write_units_per_second, "writeUnitsPerSecond"),
    ] {
        if let Some(n) = value {
            if n < 1 {
                v.push(
                    &format!("'{n}'"),
                    &format!("{path}.{member}"),
                    "Member must have value greater than or equal to 1",
                );
            }
        }
    }
}

/// `current` with the values of `w` applied. Warm throughput only grows.
pub(super) fn warm(current: Option<WarmMeta>, w: Option<&WarmThroughput>) -> Option<WarmMeta> {
    let Some(w) = w else { return current };
    let base = current.unwrap_or(WarmMeta {
        read: DEFAULT_WARM_READ,
        write: DEFAULT_WARM_WRITE,
    });
    let at_least = |now: u64, asked: Option<i64>| asked.map_or(now, |n| now.max(n.max(1) as u64));
    Some(WarmMeta {
        read: at_least(base.read, w.read_units_per_second),
        write: at_least(base.write, w.write_units_per_second),
    })
}

/// What DescribeTable reports: the warm throughput set, else DynamoDB's
/// default, never below the provisioned throughput.
pub(super) fn warm_description(
    warm: Option<WarmMeta>,
    provisioned: Option<(u64, u64)>,
) -> WarmThroughputDescription {
    let w = warm.unwrap_or(WarmMeta {
        read: DEFAULT_WARM_READ,
        write: DEFAULT_WARM_WRITE,
    });
    let (r, wr) = provisioned.unwrap_or((0, 0));
    WarmThroughputDescription {
        read_units_per_second: w.read.max(r),
        write_units_per_second: w.write.max(wr),
        status: "ACTIVE",
    }
}

pub(super) fn on_demand_description(o: OnDemandMeta) -> OnDemandThroughputDescription {
    let n = |v: Option<u64>| v.map_or(-1, |v| v as i64);
    OnDemandThroughputDescription {
        max_read_request_units: n(o.max_read),
        max_write_request_units: n(o.max_write),
    }
}

/// Decreases counted today, as `NumberOfDecreasesToday` reports it.
pub(super) fn decreases_today(c: &ThroughputChanges, now_ms: u64) -> u32 {
    match c.last_decrease_ms {
        Some(last) if last / DAY_MS == now_ms / DAY_MS => c.decreases_that_day,
        _ => 0,
    }
}

/// A decrease beyond DynamoDB's daily limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DecreaseLimited {
    pub today: u32,
    pub last_ms: u64,
    pub next_ms: u64,
}

/// Record a change of provisioned throughput from `old` to `new` (read,
/// write) at `now_ms`, refusing a decrease beyond DynamoDB's daily limit:
/// four in the first hour of a UTC day, then one per hour.
pub(super) fn record_change(
    c: &mut ThroughputChanges,
    old: (u64, u64),
    new: (u64, u64),
    now_ms: u64,
) -> Result<(), DecreaseLimited> {
    let decrease = new.0 < old.0 || new.1 < old.1;
    let increase = new.0 > old.0 || new.1 > old.1;
    if decrease {
        let today = decreases_today(c, now_ms);
        if today >= FREE_DECREASES {
            let last_ms = c.last_decrease_ms.unwrap_or(0);
            let next_ms = last_ms + HOUR_MS;
            if now_ms < next_ms {
                return Err(DecreaseLimited {
                    today,
                    last_ms,
                    next_ms,
                });
            }
        }
        c.decreases_that_day = today + 1;
        c.last_decrease_ms = Some(now_ms);
    }
    if increase {
        c.last_increase_ms = Some(now_ms);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_decreases_then_one_per_hour() {
        let mut c = ThroughputChanges::default();
        let t0 = 10 * DAY_MS;
        for i in 0..4 {
            record_change(&mut c, (10, 10), (5, 5), t0 + i).expect("free decrease");
        }
        assert_eq!(decreases_today(&c, t0 + 10), 4);
        let err = record_change(&mut c, (10, 10), (5, 5), t0 + 10).expect_err("limited");
        assert_eq!(err.today, 4);
        assert_eq!(err.next_ms, t0 + 3 + HOUR_MS);
        record_change(&mut c, (10, 10), (5, 5), t0 + 3 + HOUR_MS).expect("an hour later");
        assert_eq!(decreases_today(&c, t0 + 3 + HOUR_MS), 5);
        assert_eq!(decreases_today(&c, t0 + DAY_MS), 0);
    }

    #[test]
    fn increases_are_not_limited() {
        let mut c = ThroughputChanges::default();
        for i in 0..10 {
            record_change(&mut c, (1, 1), (2, 2), i).expect("increase");
        }
        assert_eq!(c.last_increase_ms, Some(9));
        assert_eq!(decreases_today(&c, 9), 0);
    }
}
