//! What the store tells its operators: per-table metrics ([`metrics`]) and
//! contributor insights ([`insights`]).
//!
//! [`Telemetry`] is owned by the store and shared by its clones. Every
//! request passes through [`Telemetry::observe`] once it is answered
//! (latency of successes, errors by kind); the operations report what only
//! they know — consumed capacity, returned items, accessed keys — through
//! the small hooks below. Nothing here can fail a request: a poisoned lock
//! or an unparsable body only loses a count.

pub mod insights;
pub mod metrics;

use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntGaugeVec, Opts, Registry};

use crate::engine::Health;

use crate::api::{ApiError, ErrorCode, Operation};
use crate::clock::Clock;
use crate::model::value::{AttributeValue, Item};

pub use insights::{Event, Insights, Tracker};
pub use metrics::Metrics;

/// The store's metrics and insights.
pub struct Telemetry {
    pub metrics: Metrics,
    pub insights: Insights,
    /// `ferrodyn_store_engine_state{state}`: 1 for the storage engine's
    /// current state (`ok`, `storage_full`, `poisoned`), 0 for the others.
    engine_state: IntGaugeVec,
    registry: Registry,
    clock: Arc<dyn Clock>,
}

impl Telemetry {
    /// Register the store's metrics in `registry`.
    pub fn new(registry: &Registry, clock: Arc<dyn Clock>) -> prometheus::Result<Telemetry> {
        let engine_state = IntGaugeVec::new(
            Opts::new(
                "ferrodyn_store_engine_state",
                "The storage engine's state: 1 for the current one (ok, storage_full: writes refused until space is freed, poisoned: writes refused until restart)",
            ),
            &["state"],
        )?;
        registry.register(Box::new(engine_state.clone()))?;
        Ok(Telemetry {
            metrics: Metrics::register(registry)?,
            insights: Insights::default(),
            engine_state,
            registry: registry.clone(),
            clock,
        })
    }

    /// Set the engine-state gauge to `health`.
    pub fn engine_health(&self, health: Health) {
        for (state, h) in [
            ("ok", Health::Ok),
            ("storage_full", Health::StorageFull),
            ("poisoned", Health::Poisoned),
        ] {
            self.engine_state
                .with_label_values(&[state])
                .set(i64::from(h == health));
        }
    }

    /// The registry the metrics are in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Record an answered `op` against the table it named, if that is a
    /// well-formed table name (not an ARN): only those get series.
    pub fn observe(
        &self,
        op: Operation,
        table: Option<&str>,
        result: Result<(), &ApiError>,
        elapsed: Duration,
    ) {
        match result {
            Ok(()) => {
                if let Some(t) = table {
                    self.metrics.success(t, op, elapsed);
                }
            }
            Err(e) => match e.code {
                ErrorCode::ConditionalCheckFailed => {
                    if let Some(t) = table {
                        self.metrics.table(t).conditional_check_failed.inc();
                    }
                }
                ErrorCode::TransactionConflict => {
                    if let Some(t) = table {
                        self.metrics.table(t).transaction_conflicts.inc();
                    }
                }
                ErrorCode::TransactionCanceled if cancelled_by_conflict(e) => {
                    if let Some(t) = table {
                        self.metrics.table(t).transaction_conflicts.inc();
                    }
                }
                ErrorCode::ProvisionedThroughputExceeded
                | ErrorCode::Throttling
                | ErrorCode::RequestLimitExceeded => {
                    if let Some(s) = table.map(|t| self.metrics.table(t)) {
                        if let Some(o) = s.op(op) {
                            o.throttled_requests.inc();
                        }
                    }
                }
                code if code.http_status() >= 500 => {
                    if let Some(s) = table.map(|t| self.metrics.table(t)) {
                        if let Some(o) = s.op(op) {
                            o.system_errors.inc();
                        }
                    }
                }
                _ => self.metrics.user_error(op),
            },
        }
    }

    /// `units` of read capacity consumed on `table` (`index`: a GSI's).
    pub fn consumed_read(&self, table: &str, index: Option<&str>, units: f64) {
        let t = self.metrics.table(table);
        match index {
            None => t.capacity.consumed_read.inc_by(units),
            Some(i) => t.index(i).consumed_read.inc_by(units),
        }
    }

    /// `units` of write capacity consumed on `table` (`index`: a GSI's).
    pub fn consumed_write(&self, table: &str, index: Option<&str>, units: f64) {
        let t = self.metrics.table(table);
        match index {
            None => t.capacity.consumed_write.inc_by(units),
            Some(i) => t.index(i).consumed_write.inc_by(units),
        }
    }

    /// `n` items returned by `op` (Query, Scan) on `table`.
    pub fn returned_items(&self, table: &str, op: Operation, n: usize) {
        if let Some(o) = self.metrics.table(table).op(op) {
            o.returned_items.inc_by(n as u64);
        }
    }

    /// `n` items of `table` deleted by Time to Live.
    pub fn ttl_deleted(&self, table: &str, n: usize) {
        self.metrics.table(table).ttl_deleted.inc_by(n as u64);
    }

    /// `n` stream records of `table` returned by GetRecords.
    pub fn stream_records(&self, table: &str, n: usize) {
        self.metrics.table(table).stream_records.inc_by(n as u64);
    }

    /// An access to the item `key` names (its key attributes are picked by
    /// name; other attributes are ignored), consuming `units` of
    /// `ConsumedThroughputUnits`, if insights are enabled there.
    pub fn access(&self, table: &str, index: Option<&str>, key: &Item, units: f64) {
        if let Some(t) = self.insights.tracker(table, index) {
            t.record(key, Event::Access(throughput_units(units)), self.now_ms());
        }
    }

    /// An access to a whole partition (a Query), consuming `units`.
    pub fn access_partition(
        &self,
        table: &str,
        index: Option<&str>,
        pk: &AttributeValue,
        units: f64,
    ) {
        if let Some(t) = self.insights.tracker(table, index) {
            t.record_partition(pk, Event::Access(throughput_units(units)), self.now_ms());
        }
    }

    /// A request on `table` (`index`: refused for one of its GSIs) throttled
    /// for the item `key` names: counts a read or write throttle event and,
    /// if insights are enabled there, the key's throttle.
    pub fn throttled(&self, table: &str, index: Option<&str>, key: &Item, write: bool) {
        self.throttled_at(table, index, ThrottledAt::Item(key), write);
    }

    /// As [`Telemetry::throttled`], for a request that names an item or
    /// only a partition (a Query), or neither (a Scan).
    pub fn throttled_at(&self, table: &str, index: Option<&str>, at: ThrottledAt<'_>, write: bool) {
        let t = self.metrics.table(table);
        let index_series;
        let series = match index {
            None => &t.capacity,
            Some(i) => {
                index_series = t.index(i);
                &*index_series
            }
        };
        if write {
            series.write_throttle_events.inc();
        } else {
            series.read_throttle_events.inc();
        }
        if let Some(tracker) = self.insights.tracker(table, index) {
            match at {
                ThrottledAt::Item(key) => tracker.record(key, Event::Throttle, self.now_ms()),
                ThrottledAt::Partition(pk) => {
                    tracker.record_partition(pk, Event::Throttle, self.now_ms())
                }
                ThrottledAt::Table => {}
            }
        }
    }
}

/// What a throttled request was about, for contributor insights.
#[derive(Debug, Clone, Copy)]
pub enum ThrottledAt<'a> {
    /// The item these key attributes name.
    Item(&'a Item),
    /// A partition (a Query).
    Partition(&'a AttributeValue),
    /// No key (a Scan).
    Table,
}

/// Whether a cancelled transaction lost to a conflicting one.
fn cancelled_by_conflict(e: &ApiError) -> bool {
    e.extra
        .as_ref()
        .and_then(|m| m.get("CancellationReasons"))
        .and_then(|r| r.as_array())
        .is_some_and(|reasons| {
            reasons
                .iter()
                .any(|r| r.get("Code").and_then(|c| c.as_str()) == Some("TransactionConflict"))
        })
}

/// Whole units, at least one (the summaries count integers).
fn throughput_units(units: f64) -> u64 {
    if units.is_finite() && units > 1.0 {
        units.ceil() as u64
    } else {
        1
    }
}

/// The table a request names: its first `"TableName": "<name>"` member, or
/// for a batch, the first table of `RequestItems`. Found by scanning, not
/// parsing: in DynamoDB's JSON only a table-name member is an object key
/// `TableName` with a string value (attribute maps hold objects, names in
/// `ExpressionAttributeNames` are under `#` keys). A name that is not a
/// well-formed table name is ignored.
pub fn table_named(op: Operation, body: &[u8]) -> Option<&str> {
    let member: &[u8] = match op {
        Operation::BatchGetItem | Operation::BatchWriteItem => b"\"RequestItems\"",
        _ => b"\"TableName\"",
    };
    let mut from = 0;
    while let Some(at) = find(&body[from..], member) {
        let mut i = from + at + member.len();
        i = skip_ws(body, i);
        if body.get(i) != Some(&b':') {
            from = i;
            continue;
        }
        i = skip_ws(body, i + 1);
        if member == b"\"RequestItems\"" {
            if body.get(i) != Some(&b'{') {
                return None;
            }
            i = skip_ws(body, i + 1);
        }
        if body.get(i) != Some(&b'"') {
            from = i;
            continue;
        }
        let start = i + 1;
        let len = body.get(start..)?.iter().position(|&b| b == b'"')?;
        let name = std::str::from_utf8(&body[start..start + len]).ok()?;
        return crate::api::validate::is_table_name(name).then_some(name);
    }
    None
}

fn skip_ws(body: &[u8], mut i: usize) -> usize {
    while body.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_table_a_request_names() {
        let get = br##"{"Key":{"TableName":{"S":"x"}},"ExpressionAttributeNames":{"#t":"TableName"},"TableName" : "users"}"##;
        assert_eq!(table_named(Operation::GetItem, get), Some("users"));
        let batch = br#"{"RequestItems": { "orders": {"Keys": []}, "users": {}}}"#;
        assert_eq!(table_named(Operation::BatchGetItem, batch), Some("orders"));
        let transact =
            br#"{"TransactItems":[{"Put":{"Item":{"TableName":{"S":"a"}},"TableName":"tx1"}}]}"#;
        assert_eq!(
            table_named(Operation::TransactWriteItems, transact),
            Some("tx1")
        );
        assert_eq!(
            table_named(Operation::GetItem, br#"{"TableName":"a b"}"#),
            None
        );
        assert_eq!(table_named(Operation::GetItem, br#"{"TableName":"#), None);
        assert_eq!(table_named(Operation::GetItem, b""), None);
    }

    #[test]
    fn throughput_units_round_up_to_at_least_one() {
        assert_eq!(throughput_units(0.5), 1);
        assert_eq!(throughput_units(3.0), 3);
        assert_eq!(throughput_units(3.5), 4);
        assert_eq!(throughput_units(f64::NAN), 1);
    }
}
