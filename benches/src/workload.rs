//! Workloads: the operation mix, and how item numbers become DynamoDB
//! requests.
//!
//! YCSB's core workloads map onto DynamoDB as: read → `GetItem`, update →
//! `UpdateItem` (one field), insert → `PutItem` of a new item, scan → `Query`
//! of a short range within one partition, read-modify-write → `GetItem` then
//! `UpdateItem`. `--mix` replaces the mix with any weights over these plus
//! `put` (overwrite an existing item with `PutItem`) and `scan` (`Scan` with
//! a `Limit`).
//!
//! The table has a string partition key `pk` and a numeric sort key `sk`.
//! Item number `i` lives at `pk = "p" + hex(fnv64(i / per_partition))`,
//! `sk = i % per_partition`: partitions are spread over the hash space the
//! way YCSB spreads record names, and each holds a sorted run that `Query`
//! can range over. Request bodies are raw DynamoDB JSON.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use crate::keys::{Distribution, DistributionKind};
use crate::rng::{fnv64, Rng};

pub const PARTITION_KEY: &str = "pk";
pub const SORT_KEY: &str = "sk";

/// One kind of operation the generator issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Get,
    Put,
    Insert,
    Update,
    Query,
    Scan,
    ReadModifyWrite,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::Get,
        Op::Put,
        Op::Insert,
        Op::Update,
        Op::Query,
        Op::Scan,
        Op::ReadModifyWrite,
    ];

    /// The name in reports: the DynamoDB operation, qualified where two
    /// workload operations share one.
    pub fn label(self) -> &'static str {
        match self {
            Op::Get => "GetItem",
            Op::Put => "PutItem",
            Op::Insert => "PutItem(insert)",
            Op::Update => "UpdateItem",
            Op::Query => "Query",
            Op::Scan => "Scan",
            Op::ReadModifyWrite => "ReadModifyWrite",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Op, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "get" | "read" | "getitem" => Ok(Op::Get),
            "put" | "putitem" => Ok(Op::Put),
            "insert" => Ok(Op::Insert),
            "update" | "updateitem" => Ok(Op::Update),
            "query" => Ok(Op::Query),
            "scan" => Ok(Op::Scan),
            "rmw" | "readmodifywrite" => Ok(Op::ReadModifyWrite),
            other => Err(format!(
                "unknown operation {other:?} (get, put, insert, update, query, scan, rmw)"
            )),
        }
    }
}

/// Weighted operation mix.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    entries: Vec<(Op, f64)>,
    total: f64,
}

impl Mix {
    pub fn new(entries: Vec<(Op, f64)>) -> Result<Mix, String> {
        let entries: Vec<(Op, f64)> = entries.into_iter().filter(|(_, w)| *w > 0.0).collect();
        if entries.iter().any(|(_, w)| !w.is_finite()) {
            return Err("mix weights must be finite".into());
        }
        let total: f64 = entries.iter().map(|(_, w)| w).sum();
        if entries.is_empty() || total <= 0.0 {
            return Err("the mix needs at least one operation with a positive weight".into());
        }
        Ok(Mix { entries, total })
    }

    pub fn pick(&self, rng: &mut Rng) -> Op {
        let mut x = rng.next_f64() * self.total;
        for (op, w) in &self.entries {
            if x < *w {
                return *op;
            }
            x -= w;
        }
        self.entries[self.entries.len() - 1].0
    }

    pub fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        self.entries.iter().map(|(op, _)| *op)
    }
}

impl FromStr for Mix {
    type Err = String;
    /// `get=50,update=50`.
    fn from_str(s: &str) -> Result<Mix, String> {
        let mut entries = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("mix entry {part:?} is not op=weight"))?;
            let weight: f64 = weight
                .trim()
                .parse()
                .map_err(|_| format!("mix weight {weight:?} is not a number"))?;
            if weight < 0.0 {
                return Err(format!("mix weight {weight} is negative"));
            }
            entries.push((name.parse()?, weight));
        }
        Mix::new(entries)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(op, w)| format!("{op} {:.0}%", 100.0 * w / self.total))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// YCSB's core workloads A–F.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ycsb {
    A,
    B,
    C,
    D,
    E,
    F,
}

impl FromStr for Ycsb {
    type Err = String;
    fn from_str(s: &str) -> Result<Ycsb, String> {
        match s.to_ascii_lowercase().as_str() {
            "a" => Ok(Ycsb::A),
            "b" => Ok(Ycsb::B),
            "c" => Ok(Ycsb::C),
            "d" => Ok(Ycsb::D),
            "e" => Ok(Ycsb::E),
            "f" => Ok(Ycsb::F),
            other => Err(format!("unknown workload {other:?} (a, b, c, d, e, f)")),
        }
    }
}

impl Ycsb {
    /// The operation mix and default key distribution.
    pub fn defaults(self) -> (Mix, DistributionKind) {
        use DistributionKind::{Latest, Zipfian};
        let (entries, dist) = match self {
            Ycsb::A => (vec![(Op::Get, 50.0), (Op::Update, 50.0)], Zipfian),
            Ycsb::B => (vec![(Op::Get, 95.0), (Op::Update, 5.0)], Zipfian),
            Ycsb::C => (vec![(Op::Get, 100.0)], Zipfian),
            Ycsb::D => (vec![(Op::Get, 95.0), (Op::Insert, 5.0)], Latest),
            Ycsb::E => (vec![(Op::Query, 95.0), (Op::Insert, 5.0)], Zipfian),
            Ycsb::F => (vec![(Op::Get, 50.0), (Op::ReadModifyWrite, 50.0)], Zipfian),
        };
        // The entries above are constant and valid.
        let mix = Mix {
            total: entries.iter().map(|(_, w)| w).sum(),
            entries,
        };
        (mix, dist)
    }
}

/// Everything that shapes requests, shared by all workers.
#[derive(Debug, Clone)]
pub struct Shape {
    pub table: String,
    pub per_partition: u64,
    pub fields: usize,
    pub field_bytes: usize,
    pub consistent_read: bool,
    pub max_scan_length: u64,
    pub distribution: Distribution,
}

impl Shape {
    pub fn key(&self, item: u64) -> Value {
        let per = self.per_partition.max(1);
        json!({
            PARTITION_KEY: {"S": partition_name(item / per)},
            SORT_KEY: {"N": (item % per).to_string()},
        })
    }

    /// A fresh field value: printable, `field_bytes` long.
    pub fn field_value(&self, rng: &mut Rng) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..self.field_bytes.max(1))
            .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    /// Item `item`: its key and `fields` fresh string fields.
    pub fn item(&self, item: u64, rng: &mut Rng) -> serde_json::Map<String, Value> {
        let mut attrs = serde_json::Map::new();
        if let Value::Object(key) = self.key(item) {
            attrs.extend(key);
        }
        for f in 0..self.fields {
            attrs.insert(format!("field{f}"), json!({"S": self.field_value(rng)}));
        }
        attrs
    }

    pub fn put_item(&self, item: u64, rng: &mut Rng) -> Vec<u8> {
        body(json!({"TableName": self.table, "Item": self.item(item, rng)}))
    }

    pub fn get_item(&self, item: u64) -> Vec<u8> {
        body(json!({
            "TableName": self.table,
            "Key": self.key(item),
            "ConsistentRead": self.consistent_read,
        }))
    }

    pub fn update_item(&self, item: u64, rng: &mut Rng) -> Vec<u8> {
        let field = rng.below(self.fields.max(1) as u64);
        body(json!({
            "TableName": self.table,
            "Key": self.key(item),
            "UpdateExpression": "SET #f = :v",
            "ExpressionAttributeNames": {"#f": format!("field{field}")},
            "ExpressionAttributeValues": {":v": {"S": self.field_value(rng)}},
        }))
    }

    /// A range of up to `max_scan_length` items within `item`'s partition,
    /// starting at `item`.
    pub fn query(&self, item: u64, rng: &mut Rng) -> Vec<u8> {
        let per = self.per_partition.max(1);
        let limit = 1 + rng.below(self.max_scan_length.max(1));
        body(json!({
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :p AND #sk >= :s",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {
                ":p": {"S": partition_name(item / per)},
                ":s": {"N": (item % per).to_string()},
            },
            "Limit": limit,
            "ConsistentRead": self.consistent_read,
        }))
    }

    /// The first page of `Limit` `per_partition` items of one partition:
    /// the whole partition.
    pub fn partition_page(&self, partition: u64) -> Vec<u8> {
        body(json!({
            "TableName": self.table,
            "KeyConditionExpression": "#pk = :p",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":p": {"S": partition_name(partition)}},
            "Limit": self.per_partition.max(1),
            "ConsistentRead": self.consistent_read,
        }))
    }

    pub fn scan(&self, rng: &mut Rng) -> Vec<u8> {
        let limit = 1 + rng.below(self.max_scan_length.max(1));
        body(json!({
            "TableName": self.table,
            "Limit": limit,
            "ConsistentRead": self.consistent_read,
        }))
    }

    pub fn create_table(&self) -> Vec<u8> {
        body(json!({
            "TableName": self.table,
            "KeySchema": [
                {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": SORT_KEY, "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }))
    }

    pub fn describe_table(&self) -> Vec<u8> {
        body(json!({"TableName": self.table}))
    }
}

fn partition_name(partition: u64) -> String {
    format!("p{:016x}", fnv64(partition))
}

fn body(v: Value) -> Vec<u8> {
    // Serializing a `Value` built from strings and numbers cannot fail.
    serde_json::to_vec(&v).unwrap_or_default()
}
