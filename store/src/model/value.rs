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
