//! Throughput enforcement: DynamoDB's capacity rules applied to every read
//! and write.
//!
//! Owns the token buckets (one for reads and one for writes per table and
//! per global secondary index, plus per-partition-key slots when
//! `--partition-limits` is on) and the single throttling decision,
//! [`Capacity::admit`]. It does not compute what a request costs (that is
//! `ops::capacity`, by DynamoDB's unit rules) and knows nothing of the wire.
//!
//! The rules:
//! * PROVISIONED tables and GSIs refill at their RCU/WCU per second and bank
//!   up to 300 seconds of unused capacity (burst capacity); a new table
//!   starts with its bank full.
//! * PAY_PER_REQUEST tables with `OnDemandThroughput` refill at
//!   MaxRead/MaxWriteRequestUnits per second and bank one second of it.
//! * With partition limits, each partition key value gets at most 3,000 RCU
//!   and 1,000 WCU per second (one second banked): adaptive capacity isolates
//!   a hot key, so only that key throttles while the rest of the table goes
//!   on. Keys map onto a fixed number of slots, so memory stays bounded.
//! * A request is admitted while every bucket it draws from is positive and
//!   pays what it actually consumed afterwards ([`Capacity::charge`]); the
//!   balance may go negative and the debt throttles the next requests.
//! * A write is also refused while any GSI of its table is out of write
//!   capacity: an index that cannot absorb its writes throttles the base
//!   table, as in DynamoDB.
//!
//! Invariants: the buckets of a table are rebuilt when its settings change
//! (UpdateTable takes effect at once, balances carried over); the hot path
//! takes one read lock and one mutex per bucket and allocates nothing.

mod bucket;
mod throttle;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, RwLock};

pub use bucket::Bucket;
pub use throttle::{LimitType, Reason, Resource, Throttled};

use crate::clock::Clock;
use crate::model::key::partition_hash;
use crate::model::table::{Billing, IndexMeta, TableMeta};

/// Seconds of unused provisioned capacity DynamoDB banks (burst capacity).
pub const BURST_SECS: f64 = 300.0;
/// Seconds of an on-demand maximum (or a partition's limit) banked.
pub const SHORT_BANK_SECS: f64 = 1.0;
/// A partition's read limit, RCU per second.
pub const PARTITION_READ_UNITS: f64 = 3000.0;
/// A partition's write limit, WCU per second.
pub const PARTITION_WRITE_UNITS: f64 = 1000.0;
/// Slots partition keys are hashed onto, per table and per GSI.
const PARTITION_SLOTS: usize = 1024;

/// `--capacity`: whether throughput settings are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Enforcement {
    /// Throttle as DynamoDB does.
    #[default]
    Enforce,
    /// Accept throughput settings but never throttle.
    Off,
}

/// How the store treats throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapacityConfig {
    pub enforcement: Enforcement,
    /// Enforce DynamoDB's per-partition maximums (`--partition-limits`).
    pub partition_limits: bool,
}

/// The flags of both binaries.
#[derive(clap::Args, Debug, Clone)]
pub struct CapacityArgs {
    /// Throughput settings: `enforce` throttles reads and writes beyond a
    /// table's provisioned (or on-demand maximum) throughput as DynamoDB
    /// does; `off` accepts the settings and never throttles.
    #[arg(long = "capacity", env = "FERRODYN_CAPACITY", value_enum, default_value_t = Enforcement::Enforce)]
    pub capacity: Enforcement,
    /// Also enforce DynamoDB's per-partition limits (3,000 RCU and 1,000 WCU
    /// per second for one partition key value), to test a key design
    /// against hot-partition throttling.
    #[arg(long, env = "FERRODYN_PARTITION_LIMITS")]
    pub partition_limits: bool,
}

impl CapacityArgs {
    pub fn config(&self) -> CapacityConfig {
        CapacityConfig {
            enforcement: self.capacity,
            partition_limits: self.partition_limits,
        }
    }
}

/// Reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// How one bucket is refilled, and what hitting it means.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rule {
    rate: f64,
    bank_secs: f64,
    limit: LimitType,
}

/// The read and write rules of a table or GSI (`None`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rules {
    read: Option<Rule>,
    write: Option<Rule>,
}

impl Rules {
    fn provisioned(read: u64, write: u64) -> Rules {
        let rule = |rate: u64| Rule {
            rate: rate as f64,
            bank_secs: BURST_SECS,
            limit: LimitType::ProvisionedThroughputExceeded,
        };
        Rules {
            read: Some(rule(read)),
            write: Some(rule(write)),
        }
    }

    fn on_demand(read: Option<u64>, write: Option<u64>) -> Rules {
        let rule = |rate: u64| Rule {
            rate: rate as f64,
            bank_secs: SHORT_BANK_SECS,
            limit: LimitType::MaxOnDemandThroughputExceeded,
        };
        Rules {
            read: read.map(rule),
            write: write.map(rule),
        }
    }

    fn of_table(meta: &TableMeta) -> Rules {
        match meta.billing {
            Billing::Provisioned { read, write } => Rules::provisioned(read, write),
            Billing::PayPerRequest => {
                Rules::on_demand(meta.on_demand.max_read, meta.on_demand.max_write)
            }
        }
    }

    fn of_index(meta: &TableMeta, index: &IndexMeta) -> Rules {
        match (&meta.billing, index.provisioned) {
            (Billing::Provisioned { .. }, Some((read, write))) => Rules::provisioned(read, write),
            _ => Rules::on_demand(index.on_demand.max_read, index.on_demand.max_write),
        }
    }
}

/// A bucket and the rule it was made for.
#[derive(Debug)]
struct Meter {
    rule: Rule,
    bucket: Mutex<Bucket>,
}

impl Meter {
    fn new(rule: Rule, previous: Option<&Meter>, now_ms: u64) -> Meter {
        let bucket = match previous.and_then(|p| p.bucket.lock().ok().map(|b| *b)) {
            Some(b) => b.resized(rule.rate, rule.bank_secs),
            None => Bucket::full(rule.rate, rule.bank_secs, now_ms),
        };
        Meter {
            rule,
            bucket: Mutex::new(bucket),
        }
    }

    fn admits(&self, now_ms: u64) -> bool {
        match self.bucket.lock() {
            Ok(mut b) => b.admits(now_ms),
            // A panic elsewhere while holding the lock: do not throttle.
            Err(_) => true,
        }
    }

    fn spend(&self, units: f64, now_ms: u64) {
        if let Ok(mut b) = self.bucket.lock() {
            b.spend(units, now_ms);
        }
    }
}

/// The meters of one table or GSI.
#[derive(Debug)]
struct Meters {
    read: Option<Meter>,
    write: Option<Meter>,
    /// Per-partition-key slots (read, write), with `--partition-limits`.
    partitions: Option<Box<[Mutex<[Bucket; 2]>]>>,
}

impl Meters {
    fn new(rules: Rules, previous: Option<&Meters>, partition_limits: bool, now_ms: u64) -> Meters {
        let make = |rule: Option<Rule>, prev: Option<&Meter>| {
            rule.map(|r| Meter::new(r, prev.filter(|p| p.rule.limit == r.limit), now_ms))
        };
        let partitions = partition_limits.then(|| {
            (0..PARTITION_SLOTS)
                .map(|_| {
                    Mutex::new([
                        Bucket::full(PARTITION_READ_UNITS, SHORT_BANK_SECS, now_ms),
                        Bucket::full(PARTITION_WRITE_UNITS, SHORT_BANK_SECS, now_ms),
                    ])
                })
                .collect()
        });
        Meters {
            read: make(rules.read, previous.and_then(|p| p.read.as_ref())),
            write: make(rules.write, previous.and_then(|p| p.write.as_ref())),
            partitions,
        }
    }

    fn rules(&self) -> Rules {
        Rules {
            read: self.read.as_ref().map(|m| m.rule),
            write: self.write.as_ref().map(|m| m.rule),
        }
    }

    fn meter(&self, access: Access) -> Option<&Meter> {
        match access {
            Access::Read => self.read.as_ref(),
            Access::Write => self.write.as_ref(),
        }
    }

    fn slot(&self, partition: Option<&[u8]>) -> Option<&Mutex<[Bucket; 2]>> {
        let slots = self.partitions.as_ref()?;
        let hash = partition_hash(partition?);
        let mut low = [0u8; 8];
        low.copy_from_slice(&hash[..8]);
        let i = (u64::from_be_bytes(low) % slots.len() as u64) as usize;
        slots.get(i)
    }
}

fn access_index(access: Access) -> usize {
    match access {
        Access::Read => 0,
        Access::Write => 1,
    }
}

#[derive(Debug)]
struct IndexState {
    name: String,
    arn: String,
    meters: Meters,
}

/// The meters of a table and of its GSIs.
#[derive(Debug)]
struct TableState {
    arn: String,
    table: Meters,
    indexes: Vec<IndexState>,
}

impl TableState {
    /// Whether these meters were made for `meta`'s current settings
    /// (compared without allocating).
    fn matches(&self, meta: &TableMeta) -> bool {
        self.table.rules() == Rules::of_table(meta)
            && self.indexes.len() == meta.global_indexes.len()
            && self
                .indexes
                .iter()
                .zip(&meta.global_indexes)
                .all(|(s, i)| s.name == i.name && s.meters.rules() == Rules::of_index(meta, i))
    }

    fn index(&self, name: &str) -> Option<&IndexState> {
        self.indexes.iter().find(|i| i.name == name)
    }
}

/// Hashes a table id: ids are small distinct integers, so one multiply
/// spreads them well enough, and costs far less than SipHash on the hot
/// path. Table ids are assigned by the store, never by a client.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type TableMap = HashMap<u32, Arc<TableState>, BuildHasherDefault<IdHasher>>;

/// The throughput accounting of the whole store. Cheap to share.
#[derive(Debug)]
pub struct Capacity {
    config: CapacityConfig,
    clock: Arc<dyn Clock>,
    tables: RwLock<TableMap>,
}

impl Capacity {
    pub fn new(config: CapacityConfig, clock: Arc<dyn Clock>) -> Capacity {
        Capacity {
            config,
            clock,
            tables: RwLock::new(TableMap::default()),
        }
    }

    pub fn config(&self) -> CapacityConfig {
        self.config
    }

    /// The partition-key bytes the partition limits need, computed only
    /// when they are enforced (`key_bytes` is called only then).
    pub fn partition_of(&self, key_bytes: impl FnOnce() -> Vec<u8>) -> Option<Vec<u8>> {
        (self.config.enforcement == Enforcement::Enforce && self.config.partition_limits)
            .then(key_bytes)
    }

    /// Whether a request may read from or write to `table` now — the one
    /// throttling decision of the store.
    ///
    /// `index`: a read of that index (a GSI's own capacity; an LSI reads the
    /// table's). `partition`: the partition key's bytes (see
    /// [`Capacity::partition_of`]), for the per-partition limits. A write
    /// is also refused while any GSI of the table is out of write capacity.
    pub fn admit(
        &self,
        table: &TableMeta,
        index: Option<&str>,
        access: Access,
        partition: Option<&[u8]>,
    ) -> Result<(), Throttled> {
        if self.config.enforcement == Enforcement::Off {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let state = self.state(table, now);
        let gsi = index.and_then(|name| state.index(name));
        let meters = gsi.map_or(&state.table, |i| &i.meters);
        // The ARN is copied only when the request is refused.
        let resource = || match gsi {
            Some(i) => Resource::Index { arn: i.arn.clone() },
            None => Resource::Table {
                arn: state.arn.clone(),
            },
        };
        let throttled = |resource: Resource, limit: LimitType| Throttled {
            reason: Reason {
                resource,
                access,
                limit,
            },
        };
        if let Some(m) = meters.meter(access) {
            if !m.admits(now) {
                return Err(throttled(resource(), m.rule.limit));
            }
        }
        if access == Access::Write {
            for i in &state.indexes {
                if let Some(m) = i.meters.write.as_ref() {
                    if !m.admits(now) {
                        let arn = i.arn.clone();
                        return Err(throttled(Resource::Index { arn }, m.rule.limit));
                    }
                }
            }
        }
        if let Some(slot) = meters.slot(partition) {
            let ok = match slot.lock() {
                Ok(mut b) => b[access_index(access)].admits(now),
                Err(_) => true,
            };
            if !ok {
                return Err(throttled(resource(), LimitType::KeyRangeThroughputExceeded));
            }
        }
        Ok(())
    }

    /// Pay `units` consumed on `table` (or its GSI `index`; an LSI's units
    /// are the table's) after the work was done.
    pub fn charge(
        &self,
        table: &TableMeta,
        index: Option<&str>,
        access: Access,
        units: f64,
        partition: Option<&[u8]>,
    ) {
        if self.config.enforcement == Enforcement::Off || units <= 0.0 {
            return;
        }
        let now = self.clock.now_ms();
        let state = self.state(table, now);
        let meters = match index.and_then(|name| state.index(name)) {
            Some(i) => &i.meters,
            None => &state.table,
        };
        if let Some(m) = meters.meter(access) {
            m.spend(units, now);
        }
        if let Some(slot) = meters.slot(partition) {
            if let Ok(mut b) = slot.lock() {
                b[access_index(access)].spend(units, now);
            }
        }
    }

    /// Drop the meters of a deleted table.
    pub fn forget(&self, table_id: u32) {
        if let Ok(mut tables) = self.tables.write() {
            tables.remove(&table_id);
        }
    }

    /// The meters of `meta`, made (or remade after a settings change) on
    /// first use.
    fn state(&self, meta: &TableMeta, now_ms: u64) -> Arc<TableState> {
        let current = self
            .tables
            .read()
            .ok()
            .and_then(|t| t.get(&meta.id).cloned());
        if let Some(s) = current.as_ref().filter(|s| s.matches(meta)) {
            return s.clone();
        }
        let previous = current.as_deref();
        let limits = self.config.partition_limits;
        let state = Arc::new(TableState {
            arn: meta.arn(),
            table: Meters::new(
                Rules::of_table(meta),
                previous.map(|p| &p.table),
                limits,
                now_ms,
            ),
            indexes: meta
                .global_indexes
                .iter()
                .map(|i| IndexState {
                    name: i.name.clone(),
                    arn: format!("{}/index/{}", meta.arn(), i.name),
                    meters: Meters::new(
                        Rules::of_index(meta, i),
                        previous.and_then(|p| p.index(&i.name)).map(|s| &s.meters),
                        limits,
                        now_ms,
                    ),
                })
                .collect(),
        });
        if let Ok(mut tables) = self.tables.write() {
            tables.insert(meta.id, state.clone());
        }
        state
    }
}
