//! Primary keys: schema, validation, and the order-preserving byte encoding.
//!
//! Storage keys are `table id | hash(partition key) (16 bytes) | sort key`.
//! The partition hash gives DynamoDB's order (partitions in hash order, items
//! within a partition in sort-key order) and bounds the key length whatever
//! the partition key's size; the full partition key is kept in the stored
//! value so a hash collision is detected rather than merged.
//!
//! Sort-key encoding: memcmp order of the encoding equals DynamoDB's order
//! (S and B bytewise, N numerically), and every encoding is self-delimiting,
//! so composite keys (index key followed by base key) still sort correctly.
//!
//! Multi-attribute keys: a GSI's partition and sort keys may each consist of
//! up to four attributes (tables and LSIs: one each). The partition hash of a
//! multi-attribute partition key is taken over the self-delimiting encodings
//! of its values in key order, and the sort key encoding is the concatenation
//! of the values' encodings, so index order is the lexicographic order of the
//! value tuples, each value compared by its own type. Single-attribute keys
//! encode exactly as before.

use super::value::{AttributeValue, Item, ValueType};
use std::borrow::Cow;

/// The scalar types a key attribute may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn parse(s: &str) -> Option<ScalarType> {
        match s {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    pub fn value_type(self) -> ValueType {
        match self {
            ScalarType::S => ValueType::S,
            ScalarType::N => ValueType::N,
            ScalarType::B => ValueType::B,
        }
    }
}

/// One key attribute: its name and type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyAttribute {
    pub name: String,
    pub scalar: ScalarType,
}

/// A table's (or an index's) key schema.
///
/// `partition` and `sort` are the first partition and sort key attributes;
/// a GSI with a multi-attribute key lists the further ones, in key order, in
/// `more_partition` and `more_sort` (`more_sort` is non-empty only when
/// `sort` is present). Tables and LSIs always leave them empty. The catalog
/// omits them when empty, so entries written before multi-attribute keys
/// existed load unchanged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeySchema {
    pub partition: KeyAttribute,
    pub sort: Option<KeyAttribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_partition: Vec<KeyAttribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_sort: Vec<KeyAttribute>,
}

/// Most attributes a GSI's partition key, or its sort key, may consist of.
pub const MAX_KEY_ATTRIBUTES: usize = 4;

/// Largest partition key value, in bytes.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Largest sort key value, in bytes.
pub const MAX_SORT_KEY_BYTES: usize = 1024;

const INVALID: &str = "One or more parameter values were invalid: ";

/// Why a key (or an item's key attributes) is not acceptable. Each variant's
/// message is DynamoDB's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{INVALID}Missing the key {0} in the item")]
    MissingInItem(String),
    #[error("{INVALID}Type mismatch for key {name} expected: {expected} actual: {actual}")]
    TypeMismatch {
        name: String,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("The provided key element does not match the schema")]
    SchemaMismatch,
    #[error(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {name}"
    )]
    Empty { name: String, kind: &'static str },
    #[error("{INVALID}Size of hashkey has exceeded the maximum size limit of2048 bytes")]
    PartitionTooLarge,
    #[error(
        "{INVALID}Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    )]
    SortTooLarge,
}

impl KeySchema {
    /// A single-attribute schema (every table's and LSI's).
    pub fn simple(partition: KeyAttribute, sort: Option<KeyAttribute>) -> KeySchema {
        KeySchema {
            partition,
            sort,
            more_partition: Vec::new(),
            more_sort: Vec::new(),
        }
    }

    /// The partition key attributes, in key order.
    pub fn partition_attrs(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition).chain(&self.more_partition)
    }

    /// The sort key attributes, in key order (none if there is no sort key).
    pub fn sort_attrs(&self) -> impl Iterator<Item = &KeyAttribute> {
        self.sort.iter().chain(&self.more_sort)
    }

    /// Every key attribute: partition attributes first, then sort attributes.
    pub fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        self.partition_attrs().chain(self.sort_attrs())
    }

    /// Whether the partition or sort key has more than one attribute.
    pub fn is_multi_attribute(&self) -> bool {
        !self.more_partition.is_empty() || !self.more_sort.is_empty()
    }

    /// Names of the key attributes, partition first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes().map(|a| a.name.as_str())
    }

    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.names().any(|n| n == name)
    }

    /// Validate the key attributes of a full item (PutItem) and return its key.
    pub fn key_of_item(&self, item: &Item) -> Result<Key, KeyError> {
        let partition = check_attr(&self.partition, item.get(&self.partition.name), true)?;
        let sort = match &self.sort {
            Some(attr) => Some(check_attr(attr, item.get(&attr.name), true)?),
            None => None,
        };
        Key::new(partition, sort)
    }

    /// Validate a `Key` parameter (GetItem, DeleteItem, UpdateItem): exactly
    /// the schema's attributes, with the schema's types.
    pub fn key_of_request(&self, key: &Item) -> Result<Key, KeyError> {
        self.check_request(key)?;
        let value = |name: &str| key.get(name).cloned().ok_or(KeyError::SchemaMismatch);
        let partition = value(&self.partition.name)?;
        let sort = match &self.sort {
            Some(attr) => Some(value(&attr.name)?),
            None => None,
        };
        Key::new(partition, sort)
    }

    /// [`KeySchema::key_of_request`] for a `Key` the caller owns: its
    /// values are moved into the key, not copied.
    pub fn take_key_of_request(&self, mut key: Item) -> Result<Key, KeyError> {
        self.check_request(&key)?;
        let mut take = |name: &str| key.remove(name).ok_or(KeyError::SchemaMismatch);
        let partition = take(&self.partition.name)?;
        let sort = match &self.sort {
            Some(attr) => Some(take(&attr.name)?),
            None => None,
        };
        Key::new(partition, sort)
    }

    /// Whether `key` has exactly the schema's attributes, with its types.
    fn check_request(&self, key: &Item) -> Result<(), KeyError> {
        let expected = 1 + usize::from(self.sort.is_some());
        if key.len() != expected {
            return Err(KeyError::SchemaMismatch);
        }
        check_value(&self.partition, key.get(&self.partition.name), false)?;
        if let Some(attr) = &self.sort {
            check_value(attr, key.get(&attr.name), false)?;
        }
        Ok(())
    }
}

impl KeyAttribute {
    /// Validate a value given for this key attribute in a request (a Query's
    /// key condition): the attribute's type, non-empty, within the size limit.
    pub fn check_request_value(&self, value: &AttributeValue) -> Result<(), KeyError> {
        check_value(self, Some(value), false)?;
        if scalar_len(value) > MAX_PARTITION_KEY_BYTES {
            return Err(KeyError::PartitionTooLarge);
        }
        Ok(())
    }
}

fn check_attr(
    attr: &KeyAttribute,
    value: Option<&AttributeValue>,
    in_item: bool,
) -> Result<AttributeValue, KeyError> {
    check_value(attr, value, in_item).cloned()
}

/// `value` as the key attribute `attr`: present, of its type, not empty.
fn check_value<'v>(
    attr: &KeyAttribute,
    value: Option<&'v AttributeValue>,
    in_item: bool,
) -> Result<&'v AttributeValue, KeyError> {
    let Some(value) = value else {
        return Err(if in_item {
            KeyError::MissingInItem(attr.name.clone())
        } else {
            KeyError::SchemaMismatch
        });
    };
    let ok = matches!(
        (attr.scalar, value),
        (ScalarType::S, AttributeValue::S(_))
            | (ScalarType::N, AttributeValue::N(_))
            | (ScalarType::B, AttributeValue::B(_))
    );
    if !ok {
        return Err(if in_item {
            KeyError::TypeMismatch {
                name: attr.name.clone(),
                expected: attr.scalar.as_str(),
                actual: value.value_type().as_str(),
            }
        } else {
            KeyError::SchemaMismatch
        });
    }
    match value {
        AttributeValue::S(s) if s.is_empty() => Err(KeyError::Empty {
            name: attr.name.clone(),
            kind: "string",
        }),
        AttributeValue::B(b) if b.is_empty() => Err(KeyError::Empty {
            name: attr.name.clone(),
            kind: "binary",
        }),
        _ => Ok(value),
    }
}

/// A validated primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub partition: AttributeValue,
    pub sort: Option<AttributeValue>,
}

impl Key {
    fn new(partition: AttributeValue, sort: Option<AttributeValue>) -> Result<Key, KeyError> {
        if scalar_len(&partition) > MAX_PARTITION_KEY_BYTES {
            return Err(KeyError::PartitionTooLarge);
        }
        if sort
            .as_ref()
            .is_some_and(|s| scalar_len(s) > MAX_SORT_KEY_BYTES)
        {
            return Err(KeyError::SortTooLarge);
        }
        Ok(Key { partition, sort })
    }

    /// The key as an item (for responses and for building items).
    pub fn to_item(&self, schema: &KeySchema) -> Item {
        let mut item = Item::new();
        item.insert(schema.partition.name.clone(), self.partition.clone());
        if let (Some(attr), Some(v)) = (&schema.sort, &self.sort) {
            item.insert(attr.name.clone(), v.clone());
        }
        item
    }

    /// Raw bytes of the partition key value (what is hashed and stored).
    pub fn partition_bytes(&self) -> Vec<u8> {
        self.partition_raw().into_owned()
    }

    /// [`Key::partition_bytes`], borrowed from the key where they are its
    /// value as it is (strings and binaries).
    pub fn partition_raw(&self) -> Cow<'_, [u8]> {
        match &self.partition {
            AttributeValue::S(s) => Cow::Borrowed(s.as_bytes()),
            AttributeValue::B(b) => Cow::Borrowed(b),
            other => {
                let mut out = Vec::new();
                encode_raw(other, &mut out);
                Cow::Owned(out)
            }
        }
    }

    /// The storage key: `table id | partition hash | sort key encoding`.
    pub fn storage_key(&self, table_id: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 16 + 16);
        out.extend_from_slice(&table_id.to_be_bytes());
        out.extend_from_slice(&partition_hash(&self.partition_raw()));
        if let Some(sort) = &self.sort {
            encode_sortable(sort, &mut out);
        }
        out
    }
}

/// The storage key of an item's entry in a secondary index, with the raw
/// bytes of its index partition key; `None` if the item does not have every
/// one of the index's key attributes (with the index's types, non-empty), in
/// which case the index has no entry for it.
///
/// Layout: `index id | hash(index partition key) | index sort key encoding |
/// hash(table key)`: index order first; the hash of the item's table key
/// (partition key length, bytes and sort key encoding) makes the entry key
/// unique per item while keeping it short.
pub fn index_entry_key(
    index_id: u32,
    index: &KeySchema,
    base: &Key,
    item: &Item,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = |attr: &KeyAttribute| {
        check_attr(attr, item.get(&attr.name), true)
            .ok()
            .filter(|v| scalar_len(v) > 0)
    };
    let partition = index
        .partition_attrs()
        .map(value)
        .collect::<Option<Vec<_>>>()?;
    let raw = partition_raw(&partition);
    let mut out = Vec::with_capacity(4 + 16 + 16 + 16);
    out.extend_from_slice(&index_id.to_be_bytes());
    out.extend_from_slice(&partition_hash(&raw));
    for attr in index.sort_attrs() {
        encode_sortable(&value(attr)?, &mut out);
    }
    let pk = base.partition_bytes();
    let mut base_bytes = (pk.len() as u32).to_be_bytes().to_vec();
    base_bytes.extend_from_slice(&pk);
    if let Some(sort) = &base.sort {
        encode_sortable(sort, &mut base_bytes);
    }
    out.extend_from_slice(&partition_hash(&base_bytes));
    Some((out, raw))
}

/// Raw bytes of a partition key given as its values in key order: a single
/// value's raw bytes (unchanged from single-attribute keys), or for several
/// values their self-delimiting encodings one after another, so that
/// different tuples never share raw bytes.
pub fn partition_raw(values: &[AttributeValue]) -> Vec<u8> {
    let mut out = Vec::new();
    match values {
        [one] => encode_raw(one, &mut out),
        many => {
            for v in many {
                encode_sortable(v, &mut out);
            }
        }
    }
    out
}

/// Whether the item's values for the index's key attributes (where present)
/// fit DynamoDB's key size limits: each partition attribute at most
/// [`MAX_PARTITION_KEY_BYTES`], the sort attributes together at most
/// [`MAX_SORT_KEY_BYTES`]. Writes enforce this; a backfill skips items
/// written before the index existed whose values do not fit.
pub fn index_key_fits(index: &KeySchema, item: &Item) -> bool {
    let len = |attr: &KeyAttribute| item.get(&attr.name).map_or(0, scalar_len);
    index
        .partition_attrs()
        .all(|a| len(a) <= MAX_PARTITION_KEY_BYTES)
        && index.sort_attrs().map(len).sum::<usize>() <= MAX_SORT_KEY_BYTES
}

pub fn scalar_len(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::N(n) => n.size(),
        other => other.size(),
    }
}

/// Raw bytes of a scalar: UTF-8 for S, the bytes for B, the order-preserving
/// encoding for N (so equal numbers written differently hash the same).
pub fn encode_raw(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => out.extend_from_slice(s.as_bytes()),
        AttributeValue::B(b) => out.extend_from_slice(b),
        AttributeValue::N(n) => n.encode_key(out),
        _ => {}
    }
}

/// Order-preserving, self-delimiting encoding of a key scalar.
///
/// S and B: bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x00 —
/// a proper prefix sorts first, and the escape keeps memcmp order. N: the
/// number's own self-delimiting encoding.
pub fn encode_sortable(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => escape_bytes(s.as_bytes(), out, true),
        AttributeValue::B(b) => escape_bytes(b, out, true),
        AttributeValue::N(n) => n.encode_key(out),
        _ => {}
    }
}

/// The escaped bytes of an S or B prefix, without terminator: every key whose
/// value begins with `prefix` has an encoding beginning with this.
pub fn encode_prefix(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => escape_bytes(s.as_bytes(), out, false),
        AttributeValue::B(b) => escape_bytes(b, out, false),
        _ => {}
    }
}

fn escape_bytes(bytes: &[u8], out: &mut Vec<u8>, terminate: bool) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    if terminate {
        out.extend_from_slice(&[0, 0]);
    }
}

/// 128-bit hash of a partition key's raw bytes.
///
/// The format is part of the on-disk layout: never change it (see
/// docs/storage-format.md). Two independent 64-bit lanes of a
/// multiply-rotate hash, each finished with the SplitMix64 finalizer.
pub fn partition_hash(bytes: &[u8]) -> [u8; 16] {
    let a = lane(bytes, 0x9E37_79B9_7F4A_7C15);
    let b = lane(bytes, 0xC2B2_AE3D_27D4_EB4F);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_be_bytes());
    out[8..].copy_from_slice(&b.to_be_bytes());
    out
}

fn lane(bytes: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xFF51_AFD7_ED55_8CCD;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(M);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w).wrapping_mul(M))
            .rotate_left(27)
            .wrapping_mul(seed | 1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w).wrapping_mul(M))
            .rotate_left(31)
            .wrapping_mul(seed | 1);
    }
    fmix(h)
}

fn fmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::number::Number;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn enc(v: &AttributeValue) -> Vec<u8> {
        let mut out = Vec::new();
        encode_sortable(v, &mut out);
        out
    }

    fn number() -> impl Strategy<Value = Number> {
        (any::<bool>(), 0u64..1_000_000_000_000, -130i32..120).prop_filter_map(
            "in range",
            |(neg, m, e)| {
                let s = format!("{}{}E{}", if neg { "-" } else { "" }, m, e);
                Number::parse(&s).ok()
            },
        )
    }

    proptest! {
        #[test]
        fn string_encoding_order_is_bytewise(a in ".{0,12}", b in ".{0,12}", tail_a in any::<Vec<u8>>(), tail_b in any::<Vec<u8>>()) {
            let (mut ea, mut eb) = (enc(&AttributeValue::S(a.clone())), enc(&AttributeValue::S(b.clone())));
            // Self-delimiting: what follows the encoding must not change the order.
            ea.extend_from_slice(&tail_a);
            eb.extend_from_slice(&tail_b);
            if a != b {
                prop_assert_eq!(ea.cmp(&eb), a.as_bytes().cmp(b.as_bytes()));
            }
        }

        #[test]
        fn binary_encoding_order_is_bytewise(a in proptest::collection::vec(0u8..4, 0..8), b in proptest::collection::vec(0u8..4, 0..8)) {
            let ea = enc(&AttributeValue::B(Bytes::from(a.clone())));
            let eb = enc(&AttributeValue::B(Bytes::from(b.clone())));
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        }

        #[test]
        fn number_encoding_order_is_numeric(a in number(), b in number()) {
            let ea = enc(&AttributeValue::N(a.clone()));
            let eb = enc(&AttributeValue::N(b.clone()));
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        }

        #[test]
        fn prefix_encoding_is_prefix_of_full(a in ".{0,6}", b in ".{0,6}") {
            let full = format!("{a}{b}");
            let mut p = Vec::new();
            encode_prefix(&AttributeValue::S(a), &mut p);
            prop_assert!(enc(&AttributeValue::S(full)).starts_with(&p));
        }
    }

    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.to_owned())
    }

    fn attr(name: &str, scalar: ScalarType) -> KeyAttribute {
        KeyAttribute {
            name: name.to_owned(),
            scalar,
        }
    }

    proptest! {
        #[test]
        fn multi_attribute_sort_encoding_orders_tuples(a in (".{0,4}", number()), b in (".{0,4}", number())) {
            let enc2 = |(x, n): &(String, Number)| {
                let mut out = enc(&s(x));
                encode_sortable(&AttributeValue::N(n.clone()), &mut out);
                out
            };
            let expected = a.0.as_bytes().cmp(b.0.as_bytes()).then_with(|| a.1.cmp(&b.1));
            prop_assert_eq!(enc2(&a).cmp(&enc2(&b)), expected);
        }
    }

    #[test]
    fn multi_attribute_partition_raw_bytes_keep_values_apart() {
        assert_ne!(
            partition_raw(&[s("a"), s("bc")]),
            partition_raw(&[s("ab"), s("c")])
        );
        // A single value keeps the single-attribute raw bytes.
        assert_eq!(partition_raw(&[s("abc")]), b"abc".to_vec());
    }

    #[test]
    fn index_entry_needs_every_key_attribute() {
        let schema = KeySchema {
            partition: attr("h1", ScalarType::S),
            sort: Some(attr("r1", ScalarType::S)),
            more_partition: vec![attr("h2", ScalarType::N)],
            more_sort: vec![attr("r2", ScalarType::B)],
        };
        let base = Key {
            partition: s("p"),
            sort: None,
        };
        let mut item = Item::new();
        for (k, v) in [("p", s("p")), ("h1", s("x")), ("r1", s("y"))] {
            item.insert(k.to_owned(), v);
        }
        item.insert(
            "h2".into(),
            AttributeValue::N(Number::parse("5").expect("number")),
        );
        assert!(index_entry_key(7, &schema, &base, &item).is_none());
        item.insert("r2".into(), AttributeValue::B(Bytes::from_static(b"z")));
        let (key, raw) = index_entry_key(7, &schema, &base, &item).expect("entry");
        let mut expected_raw = enc(&s("x"));
        expected_raw.extend(enc(&AttributeValue::N(Number::parse("5").expect("number"))));
        assert_eq!(raw, expected_raw);
        let mut prefix = 7u32.to_be_bytes().to_vec();
        prefix.extend_from_slice(&partition_hash(&raw));
        prefix.extend(enc(&s("y")));
        prefix.extend(enc(&AttributeValue::B(Bytes::from_static(b"z"))));
        assert!(key.starts_with(&prefix));
        assert_eq!(key.len(), prefix.len() + 16);
    }

    #[test]
    fn single_attribute_index_entry_layout_is_unchanged() {
        let schema = KeySchema::simple(attr("g", ScalarType::S), Some(attr("r", ScalarType::S)));
        let base = Key {
            partition: s("p"),
            sort: None,
        };
        let mut item = Item::new();
        for (k, v) in [("p", s("p")), ("g", s("gv")), ("r", s("rv"))] {
            item.insert(k.to_owned(), v);
        }
        let (key, raw) = index_entry_key(3, &schema, &base, &item).expect("entry");
        assert_eq!(raw, b"gv".to_vec());
        let mut prefix = 3u32.to_be_bytes().to_vec();
        prefix.extend_from_slice(&partition_hash(b"gv"));
        prefix.extend(enc(&s("rv")));
        assert!(key.starts_with(&prefix));
    }

    #[test]
    fn hash_is_stable() {
        // Part of the on-disk format: this value must never change.
        assert_eq!(partition_hash(b"abc"), partition_hash(b"abc"));
        assert_ne!(partition_hash(b"abc"), partition_hash(b"abd"));
        assert_ne!(partition_hash(b""), partition_hash(b"\0"));
    }
}
