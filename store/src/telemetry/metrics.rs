//! The store's per-table metrics: CloudWatch's DynamoDB metrics under
//! Prometheus names (`ferrodyn_store_*`), labelled by table and by global
//! secondary index or operation.
//!
//! Table names are user input, so labels are bounded: the first
//! [`MAX_LABELLED_TABLES`] tables seen get series of their own; every later
//! one is counted under `table="_other"` (index labels of such tables fold
//! into `index="_other"` too). Operations are a closed set.
//!
//! A request resolves its table's series once (one read lock and a hash
//! lookup on the table name, no allocation) and its operation's series from
//! a slot indexed by the operation, filled on first use; only the first
//! request naming a table, index or operation looks series up by label.
//! Gauges (provisioned capacity, item count, size) are set when `/metrics`
//! is scraped, from the catalog ([`Metrics::refresh`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use prometheus::{
    Counter, CounterVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGaugeVec, Opts, Registry,
};

use crate::api::Operation;

/// Series by table (or index) name, looked up on every request (hence
/// foldhash, not SipHash).
type Named<T> = HashMap<String, Arc<T>, foldhash::fast::RandomState>;

/// Tables with series of their own; later ones are counted as [`OTHER`].
pub const MAX_LABELLED_TABLES: usize = 100;
/// The label value of tables (and their indexes) past the cap.
pub const OTHER: &str = "_other";
/// Slots for per-operation series (more than there are operations).
const SLOTS: usize = 128;

struct Families {
    consumed_read: CounterVec,
    consumed_write: CounterVec,
    provisioned_read: IntGaugeVec,
    provisioned_write: IntGaugeVec,
    read_throttle_events: IntCounterVec,
    write_throttle_events: IntCounterVec,
    throttled_requests: IntCounterVec,
    latency: HistogramVec,
    returned_items: IntCounterVec,
    system_errors: IntCounterVec,
    user_errors: IntCounterVec,
    conditional_check_failed: IntCounterVec,
    transaction_conflicts: IntCounterVec,
    ttl_deleted: IntCounterVec,
    stream_records: IntCounterVec,
    item_count: IntGaugeVec,
    size_bytes: IntGaugeVec,
}

/// One operation's series on one table.
pub struct OpSeries {
    pub latency: Histogram,
    pub throttled_requests: IntCounter,
    pub returned_items: IntCounter,
    pub system_errors: IntCounter,
}

/// Capacity series of a table itself (`index=""`) or of one of its GSIs.
pub struct CapacitySeries {
    pub consumed_read: Counter,
    pub consumed_write: Counter,
    pub read_throttle_events: IntCounter,
    pub write_throttle_events: IntCounter,
}

/// Every series of one table label.
pub struct TableSeries {
    label: String,
    families: Arc<Families>,
    pub capacity: CapacitySeries,
    pub conditional_check_failed: IntCounter,
    pub transaction_conflicts: IntCounter,
    pub ttl_deleted: IntCounter,
    pub stream_records: IntCounter,
    ops: Box<[OnceLock<OpSeries>]>,
    indexes: RwLock<Named<CapacitySeries>>,
}

impl TableSeries {
    /// `op`'s series on this table.
    pub fn op(&self, op: Operation) -> Option<&OpSeries> {
        let slot = self.ops.get(op as usize)?;
        Some(slot.get_or_init(|| {
            let labels = [self.label.as_str(), op.name()];
            let f = &self.families;
            OpSeries {
                latency: f.latency.with_label_values(&labels),
                throttled_requests: f.throttled_requests.with_label_values(&labels),
                returned_items: f.returned_items.with_label_values(&labels),
                system_errors: f.system_errors.with_label_values(&labels),
            }
        }))
    }

    /// The capacity series of `index` (a GSI of this table).
    pub fn index(&self, index: &str) -> Arc<CapacitySeries> {
        if let Some(s) = self.indexes.read().ok().and_then(|m| m.get(index).cloned()) {
            return s;
        }
        let label = if self.label == OTHER { OTHER } else { index };
        let series = Arc::new(capacity_series(&self.families, &self.label, label));
        if let Ok(mut m) = self.indexes.write() {
            return m.entry(index.to_owned()).or_insert(series).clone();
        }
        series
    }
}

fn capacity_series(f: &Families, table: &str, index: &str) -> CapacitySeries {
    let labels = [table, index];
    CapacitySeries {
        consumed_read: f.consumed_read.with_label_values(&labels),
        consumed_write: f.consumed_write.with_label_values(&labels),
        read_throttle_events: f.read_throttle_events.with_label_values(&labels),
        write_throttle_events: f.write_throttle_events.with_label_values(&labels),
    }
}

/// What a table looks like to the gauges, read from the catalog.
pub struct TableGauges<'a> {
    pub table: &'a str,
    /// `None`: the table itself; else a GSI's name.
    pub index: Option<&'a str>,
    /// Provisioned (read, write) units; (0, 0) on demand.
    pub provisioned: (u64, u64),
    pub item_count: u64,
    pub size_bytes: u64,
}

/// The store's metric handles. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    families: Arc<Families>,
    tables: Arc<RwLock<Named<TableSeries>>>,
    other: Arc<OnceLock<Arc<TableSeries>>>,
    user_errors: Arc<[OnceLock<IntCounter>]>,
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let tbl_idx = &["table", "index"];
        let tbl_op = &["table", "operation"];
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let units = |name: &str, help: &str| {
            let c = CounterVec::new(Opts::new(name, help), tbl_idx)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), tbl_idx)?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "ferrodyn_store_successful_request_latency_seconds",
                "Time to answer successful requests, by table and operation (SuccessfulRequestLatency)",
            )
            .buckets(vec![
                0.000_02, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
                0.05, 0.1, 0.25, 1.0,
            ]),
            tbl_op,
        )?;
        registry.register(Box::new(latency.clone()))?;
        let families = Families {
            consumed_read: units(
                "ferrodyn_store_consumed_read_capacity_units_total",
                "Read capacity units consumed, by table and GSI (ConsumedReadCapacityUnits)",
            )?,
            consumed_write: units(
                "ferrodyn_store_consumed_write_capacity_units_total",
                "Write capacity units consumed, by table and GSI (ConsumedWriteCapacityUnits)",
            )?,
            provisioned_read: gauge(
                "ferrodyn_store_provisioned_read_capacity_units",
                "Provisioned read capacity units, by table and GSI; 0 on demand (ProvisionedReadCapacityUnits)",
            )?,
            provisioned_write: gauge(
                "ferrodyn_store_provisioned_write_capacity_units",
                "Provisioned write capacity units, by table and GSI; 0 on demand (ProvisionedWriteCapacityUnits)",
            )?,
            read_throttle_events: counter(
                "ferrodyn_store_read_throttle_events_total",
                "Read requests over the table's or GSI's capacity (ReadThrottleEvents)",
                tbl_idx,
            )?,
            write_throttle_events: counter(
                "ferrodyn_store_write_throttle_events_total",
                "Write requests over the table's or GSI's capacity (WriteThrottleEvents)",
                tbl_idx,
            )?,
            throttled_requests: counter(
                "ferrodyn_store_throttled_requests_total",
                "Requests refused for throughput, by table and operation (ThrottledRequests)",
                tbl_op,
            )?,
            latency,
            returned_items: counter(
                "ferrodyn_store_returned_item_count_total",
                "Items returned by Query and Scan, by table and operation (ReturnedItemCount)",
                tbl_op,
            )?,
            system_errors: counter(
                "ferrodyn_store_system_errors_total",
                "Requests answered with an internal fault (HTTP 500), by table and operation (SystemErrors)",
                tbl_op,
            )?,
            user_errors: counter(
                "ferrodyn_store_user_errors_total",
                "Requests refused as invalid (HTTP 400 other than throttling, conditional check failures and transaction conflicts), by operation (UserErrors)",
                &["operation"],
            )?,
            conditional_check_failed: counter(
                "ferrodyn_store_conditional_check_failed_requests_total",
                "Writes whose condition failed, by table (ConditionalCheckFailedRequests)",
                &["table"],
            )?,
            transaction_conflicts: counter(
                "ferrodyn_store_transaction_conflicts_total",
                "Requests refused for a conflicting transaction, by table (TransactionConflict)",
                &["table"],
            )?,
            ttl_deleted: counter(
                "ferrodyn_store_time_to_live_deleted_items_total",
                "Items deleted by Time to Live, by table (TimeToLiveDeletedItemCount)",
                &["table"],
            )?,
            stream_records: counter(
                "ferrodyn_store_stream_returned_records_total",
                "Stream records returned by GetRecords, by table (ReturnedRecordsCount)",
                &["table"],
            )?,
            item_count: gauge(
                "ferrodyn_store_item_count",
                "Items in the table or GSI (ItemCount)",
            )?,
            size_bytes: gauge(
                "ferrodyn_store_table_size_bytes",
                "Bytes of items in the table or GSI (TableSizeBytes)",
            )?,
        };
        Ok(Metrics {
            families: Arc::new(families),
            tables: Default::default(),
            other: Default::default(),
            user_errors: (0..SLOTS).map(|_| OnceLock::new()).collect(),
        })
    }

    /// The series of `table` (its own, or `_other`'s past the cap).
    pub fn table(&self, table: &str) -> Arc<TableSeries> {
        if let Some(s) = self.tables.read().ok().and_then(|m| m.get(table).cloned()) {
            return s;
        }
        let Ok(mut tables) = self.tables.write() else {
            return self.other();
        };
        if let Some(s) = tables.get(table) {
            return s.clone();
        }
        if tables.len() >= MAX_LABELLED_TABLES {
            return self.other();
        }
        let series = Arc::new(self.new_table(table));
        tables.insert(table.to_owned(), series.clone());
        series
    }

    fn other(&self) -> Arc<TableSeries> {
        self.other
            .get_or_init(|| Arc::new(self.new_table(OTHER)))
            .clone()
    }

    fn new_table(&self, label: &str) -> TableSeries {
        let f = &self.families;
        TableSeries {
            label: label.to_owned(),
            families: f.clone(),
            capacity: capacity_series(f, label, ""),
            conditional_check_failed: f.conditional_check_failed.with_label_values(&[label]),
            transaction_conflicts: f.transaction_conflicts.with_label_values(&[label]),
            ttl_deleted: f.ttl_deleted.with_label_values(&[label]),
            stream_records: f.stream_records.with_label_values(&[label]),
            ops: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            indexes: Default::default(),
        }
    }

    /// A request of `op` refused as the client's fault.
    pub fn user_error(&self, op: Operation) {
        if let Some(slot) = self.user_errors.get(op as usize) {
            slot.get_or_init(|| self.families.user_errors.with_label_values(&[op.name()]))
                .inc();
        }
    }

    /// A successful request of `op` on `table` that took `elapsed`.
    pub fn success(&self, table: &str, op: Operation, elapsed: Duration) {
        if let Some(s) = self.table(table).op(op) {
            s.latency.observe(elapsed.as_secs_f64());
        }
    }

    /// Set the gauges from the catalog: every table and GSI in `tables`
    /// (series of tables no longer listed are dropped; tables past the cap
    /// are summed into `_other`).
    pub fn refresh(&self, tables: &[TableGauges<'_>]) {
        let f = &self.families;
        for g in [
            &f.provisioned_read,
            &f.provisioned_write,
            &f.item_count,
            &f.size_bytes,
        ] {
            g.reset();
        }
        for t in tables {
            let series = self.table(t.table);
            let table = series.label.as_str();
            let index = match t.index {
                None => "",
                Some(_) if table == OTHER => OTHER,
                Some(i) => i,
            };
            let labels = [table, index];
            let add = |g: &IntGaugeVec, v: u64| {
                g.with_label_values(&labels)
                    .add(i64::try_from(v).unwrap_or(i64::MAX));
            };
            add(&f.provisioned_read, t.provisioned.0);
            add(&f.provisioned_write, t.provisioned.1);
            add(&f.item_count, t.item_count);
            add(&f.size_bytes, t.size_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_past_the_cap_share_the_other_label() {
        let registry = Registry::new();
        let m = Metrics::register(&registry).expect("register");
        for i in 0..MAX_LABELLED_TABLES + 5 {
            m.table(&format!("t{i}")).capacity.consumed_read.inc_by(1.0);
        }
        let mut text = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut text,
        )
        .expect("encode");
        let text = String::from_utf8(text).expect("utf-8");
        let read: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ferrodyn_store_consumed_read_capacity_units_total{"))
            .collect();
        assert_eq!(read.len(), MAX_LABELLED_TABLES + 1);
        assert!(read.contains(
            &"ferrodyn_store_consumed_read_capacity_units_total{index=\"\",table=\"_other\"} 5"
        ));
        // A table already labelled keeps its own series.
        assert!(Arc::ptr_eq(&m.table("t0"), &m.table("t0")));
    }
}
