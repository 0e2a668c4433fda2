//! `AttributeValue`: DynamoDB's typed value, decoded once at the edge.
//!
//! Owns the value tree and the rules that do not depend on a table schema: set
//! uniqueness and non-emptiness, nesting depth, item size. Key rules (which
//! attributes, which types) live in `model::key`.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::number::Number;

/// An item or a map value: attribute name to value, ordered by name so that
/// output and size computations are deterministic.
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB value.
///
/// Sets keep their members in insertion order (DynamoDB returns set members in
/// an unspecified order; the decoder rejects duplicates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Bytes),
    Bool(bool),
    Null,
    M(Item),
    L(Vec<AttributeValue>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Bytes>),
}

/// The ten type descriptors, as they appear on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    S,
    N,
    B,
    Bool,
    Null,
    M,
    L,
    Ss,
    Ns,
    Bs,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::S => "S",
            ValueType::N => "N",
            ValueType::B => "B",
            ValueType::Bool => "BOOL",
            ValueType::Null => "NULL",
            ValueType::M => "M",
            ValueType::L => "L",
            ValueType::Ss => "SS",
            ValueType::Ns => "NS",
            ValueType::Bs => "BS",
        }
    }

    pub fn parse(s: &str) -> Option<ValueType> {
        Some(match s {
            "S" => ValueType::S,
            "N" => ValueType::N,
            "B" => ValueType::B,
            "BOOL" => ValueType::Bool,
            "NULL" => ValueType::Null,
            "M" => ValueType::M,
            "L" => ValueType::L,
            "SS" => ValueType::Ss,
            "NS" => ValueType::Ns,
            "BS" => ValueType::Bs,
            _ => return None,
        })
    }
}

impl AttributeValue {
    pub fn value_type(&self) -> ValueType {
        match self {
            AttributeValue::S(_) => ValueType::S,
            AttributeValue::N(_) => ValueType::N,
            AttributeValue::B(_) => ValueType::B,
            AttributeValue::Bool(_) => ValueType::Bool,
            AttributeValue::Null => ValueType::Null,
            AttributeValue::M(_) => ValueType::M,
            AttributeValue::L(_) => ValueType::L,
            AttributeValue::Ss(_) => ValueType::Ss,
            AttributeValue::Ns(_) => ValueType::Ns,
            AttributeValue::Bs(_) => ValueType::Bs,
        }
    }

    /// Size in bytes by DynamoDB's rules, not counting the attribute name.
    ///
    /// Strings and binaries count their length; numbers their significant
    /// digits; booleans and nulls one byte; maps and lists three bytes of
    /// overhead plus one per element, plus their contents (map keys count).
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.size(),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| 1 + k.len() + v.size()).sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + v.size()).sum::<usize>(),
            AttributeValue::Ss(v) => v.iter().map(|s| s.len()).sum(),
            AttributeValue::Ns(v) => v.iter().map(|n| n.size()).sum(),
            AttributeValue::Bs(v) => v.iter().map(|b| b.len()).sum(),
        }
    }
}

/// Size of a whole item: each attribute's name plus its value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// Approximate bytes of process memory an item occupies once decoded: its
/// own heap allocations, rounded as the allocator rounds them, and the
/// B-tree nodes of every map. Caches weigh entries by this rather than by
/// [`item_size`] (DynamoDB's billing size), which undercounts a decoded
/// item of small attributes about threefold.
pub fn heap_size(item: &Item) -> usize {
    map_nodes(item.len())
        + item
            .iter()
            .map(|(k, v)| alloc(k.len()) + v.heap_size())
            .sum::<usize>()
}

impl AttributeValue {
    /// Heap bytes behind this value (not counting the value itself).
    fn heap_size(&self) -> usize {
        const VALUE: usize = std::mem::size_of::<AttributeValue>();
        const STRING: usize = std::mem::size_of::<String>();
        const NUMBER: usize = std::mem::size_of::<Number>();
        const BYTES: usize = std::mem::size_of::<Bytes>();
        match self {
            AttributeValue::S(s) => alloc(s.capacity()),
            AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => 0,
            // A Bytes built from a Vec owns one allocation plus, once
            // shared, a small control block.
            AttributeValue::B(b) => alloc(b.len()) + 32,
            AttributeValue::M(m) => heap_size(m),
            AttributeValue::L(l) => {
                alloc(l.capacity() * VALUE) + l.iter().map(AttributeValue::heap_size).sum::<usize>()
            }
            AttributeValue::Ss(ss) => {
                alloc(ss.capacity() * STRING)
                    + ss.iter().map(|s| alloc(s.capacity())).sum::<usize>()
            }
            AttributeValue::Ns(ns) => alloc(ns.capacity() * NUMBER),
            AttributeValue::Bs(bs) => {
                alloc(bs.capacity() * BYTES) + bs.iter().map(|b| alloc(b.len()) + 32).sum::<usize>()
            }
        }
    }
}

/// Bytes malloc hands out for a request of `len` (glibc on 64-bit: an
/// 8-byte header, 16-byte granules, 32 bytes at least).
fn alloc(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        (len + 8).div_ceil(16).max(2) * 16
    }
}

/// Bytes of the B-tree nodes holding `n` entries of an [`Item`]: leaves of
/// up to 11 entries, usually between half and fully occupied (counted as
/// 8), and internal nodes that add 12 child pointers.
fn map_nodes(n: usize) -> usize {
    const CAPACITY: usize = 11;
    const LEAF: usize =
        CAPACITY * (std::mem::size_of::<String>() + std::mem::size_of::<AttributeValue>()) + 16;
    if n == 0 {
        return 0;
    }
    if n <= CAPACITY {
        return alloc(LEAF);
    }
    let leaves = n.div_ceil(8);
    let internal = leaves.div_ceil(8);
    leaves * alloc(LEAF) + internal * alloc(LEAF + 12 * 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(fields: usize, len: usize) -> Item {
        (0..fields)
            .map(|i| (format!("field{i}"), AttributeValue::S("v".repeat(len))))
            .collect()
    }

    #[test]
    fn heap_size_counts_allocations_and_map_nodes() {
        assert_eq!(heap_size(&Item::new()), 0);
        // One attribute: one leaf node, the name's and the value's chunks.
        let one = heap_size(&item(1, 100));
        assert_eq!(
            one,
            alloc(11 * 24 + 11 * std::mem::size_of::<AttributeValue>() + 16) + 32 + 112
        );
        // A decoded item of small attributes costs well above its billing size.
        let many = item(10, 92);
        assert!(heap_size(&many) > 2 * item_size(&many));
        // Nested values count.
        let nested = Item::from([("m".to_owned(), AttributeValue::M(many.clone()))]);
        assert!(heap_size(&nested) > heap_size(&many));
    }
}
