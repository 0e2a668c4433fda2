//! Where the operations report to [`crate::telemetry`]: the request as a
//! whole (in [`Store::handle`]), consumed capacity split between a table
//! and its GSIs, accessed keys, and the throttle hook the capacity code
//! calls for every request it refuses.
//!
//! Local secondary indexes share their table's capacity, as in DynamoDB, so
//! their units count on the table; a GSI's count on the GSI.

use std::collections::BTreeMap;

use super::capacity::Spent;
use super::Store;
use crate::api::{ApiResult, Operation};
use crate::capacity::{Access, Throttled};
use crate::model::key::Key;
use crate::model::table::TableMeta;
use crate::model::value::{AttributeValue, Item};
use crate::telemetry::metrics::TableGauges;
use crate::telemetry::ThrottledAt;

/// What a request that may be throttled is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum Throttlee<'a> {
    /// One item, by its key.
    Key(&'a Key),
    /// A partition (a Query), or none (a Scan).
    Partition(Option<&'a AttributeValue>),
}

/// DynamoDB's `ConsumedThroughputUnits` weigh a write unit three times a
/// read unit.
const WRITE_WEIGHT: f64 = 3.0;

impl Store {
    /// Record an answered request (latency, errors by kind) against `table`
    /// (the one it names, if its name is well formed); forget the insights
    /// of a deleted table.
    pub(super) fn observe(
        &self,
        op: Operation,
        table: Option<&str>,
        body: &[u8],
        result: &ApiResult<Vec<u8>>,
        elapsed: std::time::Duration,
    ) {
        let t = &self.telemetry;
        t.observe(op, table, result.as_ref().map(|_| ()), elapsed);
        if result.is_err() {
            return;
        }
        match op {
            Operation::DeleteTable => {
                if let Some(name) = crate::telemetry::table_named(op, body) {
                    t.insights.forget(name);
                }
            }
            // A deleted GSI (or one deleted and created again) loses its
            // insights with its catalog entry.
            Operation::UpdateTable => {
                if let Some(name) = crate::telemetry::table_named(op, body) {
                    let meta = self.engine.table(name);
                    for index in t.insights.tracked_indexes(name) {
                        let enabled = meta.as_ref().is_some_and(|m| {
                            m.global_indexes.iter().any(|g| {
                                g.name == index
                                    && g.contributor_insights.as_ref().is_some_and(|c| c.enabled)
                            })
                        });
                        if !enabled {
                            t.insights.disable(name, Some(&index));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Read capacity `spent` on `table`, and an access to the item `key`
    /// names (turned into an item only where contributor insights are
    /// enabled).
    pub(super) fn count_key_read(&self, table: &TableMeta, spent: &Spent, key: &Key) {
        self.count_spent(&table.name, spent, false);
        self.count_key_access(table, key, own(spent));
    }

    /// Write capacity `spent` on `table`, and an access to the item `key`
    /// names (an item, or just its key).
    pub(super) fn count_write(&self, table: &str, spent: &Spent, key: Option<&Item>) {
        self.count_spent(table, spent, true);
        if let Some(key) = key {
            self.telemetry
                .access(table, None, key, WRITE_WEIGHT * own(spent));
        }
    }

    /// Units per table of a batch or transaction (reads, or writes).
    pub(super) fn count_units(&self, units: &BTreeMap<String, f64>, write: bool) {
        for (name, u) in units {
            self.count_spent(name, &Spent::table(*u), write);
        }
    }

    /// An access to `key` of `table` costing `units` of reads (a batch's
    /// key): turned into an item only if insights are enabled there.
    pub(super) fn count_key_access(&self, table: &TableMeta, key: &Key, units: f64) {
        if self.telemetry.insights.tracker(&table.name, None).is_some() {
            self.telemetry
                .access(&table.name, None, &key.to_item(&table.key), units);
        }
    }

    /// A Query (`partition`: the partition it read) or Scan of `table` or
    /// of its `index` (global or not, and its name) that returned
    /// `returned` items.
    pub(super) fn count_range_read(
        &self,
        table: &str,
        index: Option<&(bool, String)>,
        partition: Option<&AttributeValue>,
        spent: &Spent,
        returned: usize,
    ) {
        self.count_spent(table, spent, false);
        let op = if partition.is_some() {
            Operation::Query
        } else {
            Operation::Scan
        };
        self.telemetry.returned_items(table, op, returned);
        if let Some(pk) = partition {
            let gsi = index.filter(|(global, _)| *global).map(|(_, n)| n.as_str());
            self.telemetry
                .access_partition(table, gsi, pk, total(spent));
        }
    }

    fn count_spent(&self, table: &str, spent: &Spent, write: bool) {
        let t = &self.telemetry;
        let count = |index: Option<&str>, units: f64| {
            if write {
                t.consumed_write(table, index, units);
            } else {
                t.consumed_read(table, index, units);
            }
        };
        let own = own(spent);
        if own > 0.0 || spent.global.is_empty() {
            count(None, own);
        }
        for (name, units) in &spent.global {
            count(Some(name), *units);
        }
    }

    /// Record a request refused for throughput: a read or write throttle
    /// event on `table` (`index`: refused for one of its GSIs) and, if
    /// contributor insights are enabled there, a throttle of the item `key`
    /// names (its key attributes are picked by name). The capacity code
    /// calls this once per throttled request (a batch: per throttled key).
    pub fn record_throttle(&self, table: &str, index: Option<&str>, key: &Item, write: bool) {
        self.telemetry.throttled(table, index, key, write);
    }

    /// [`Store::admit`] for a request about the item `key` names, on the
    /// table itself; answers the partition the capacity code charges later.
    pub(super) fn admit_key(
        &self,
        table: &TableMeta,
        access: Access,
        key: &Key,
    ) -> Result<Option<Vec<u8>>, Throttled> {
        let partition = self.capacity.partition_of(|| key.partition_bytes());
        self.admit(
            table,
            None,
            access,
            partition.as_deref(),
            Throttlee::Key(key),
        )?;
        Ok(partition)
    }

    /// The store's one throttling decision ([`Capacity::admit`]): a refusal
    /// is counted in `table`'s throttle metrics and, where contributor
    /// insights are enabled, against the key `at` names.
    ///
    /// [`Capacity::admit`]: crate::capacity::Capacity::admit
    pub(super) fn admit(
        &self,
        table: &TableMeta,
        index: Option<&str>,
        access: Access,
        partition: Option<&[u8]>,
        at: Throttlee<'_>,
    ) -> Result<(), Throttled> {
        let refused = self.capacity.admit(table, index, access, partition);
        if refused.is_err() {
            let item;
            let at = match at {
                Throttlee::Key(key) => {
                    item = key.to_item(&table.key);
                    ThrottledAt::Item(&item)
                }
                Throttlee::Partition(Some(pk)) => ThrottledAt::Partition(pk),
                Throttlee::Partition(None) => ThrottledAt::Table,
            };
            self.telemetry
                .throttled_at(&table.name, index, at, access == Access::Write);
        }
        refused
    }

    /// Set the metric gauges (provisioned capacity, item count, size) from
    /// the catalog, and the engine's state; called when `/metrics` is
    /// scraped.
    pub fn refresh_gauges(&self) {
        let tables = self.engine.tables();
        let mut stats = Vec::with_capacity(tables.len());
        for meta in &tables {
            let read = self.engine.read(|r| {
                let own = r.stats(meta.id)?;
                let gsis = meta
                    .global_indexes
                    .iter()
                    .map(|i| r.stats(i.id))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((own, gsis))
            });
            if let Ok(s) = read {
                stats.push((meta, s));
            }
        }
        let mut gauges = Vec::new();
        for (meta, (own, gsis)) in &stats {
            let provisioned = match meta.billing {
                crate::model::table::Billing::Provisioned { read, write } => (read, write),
                crate::model::table::Billing::PayPerRequest => (0, 0),
            };
            gauges.push(TableGauges {
                table: &meta.name,
                index: None,
                provisioned,
                item_count: own.item_count,
                size_bytes: own.size_bytes,
            });
            for (index, s) in meta.global_indexes.iter().zip(gsis) {
                gauges.push(TableGauges {
                    table: &meta.name,
                    index: Some(&index.name),
                    provisioned: index.provisioned.unwrap_or((0, 0)),
                    item_count: s.item_count,
                    size_bytes: s.size_bytes,
                });
            }
        }
        self.telemetry.metrics.refresh(&gauges);
        self.telemetry.engine_health(self.health());
    }
}

/// Units spent on the table itself and its local indexes (which share its
/// capacity).
fn own(spent: &Spent) -> f64 {
    spent.table.unwrap_or(0.0) + spent.local.values().sum::<f64>()
}

fn total(spent: &Spent) -> f64 {
    spent.table.unwrap_or(0.0)
        + spent.global.values().sum::<f64>()
        + spent.local.values().sum::<f64>()
}
