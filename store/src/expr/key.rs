//! Key conditions: the restricted conditions of Query (KeyConditionExpression
//! and legacy KeyConditions), checked against the table's or index's key.
//!
//! Owns the shape rules and their messages: an equality on the partition
//! key, optionally ANDed with one condition on the sort key (`=`, `<`, `<=`,
//! `>`, `>=`, BETWEEN, begins_with), each comparing the key attribute to a
//! value. Checking values against the key schema's types needs the schema,
//! so it is a separate step (`KeyCondition::check_types`).
//!
//! A GSI with a multi-attribute key needs an equality on every partition
//! attribute; its sort attributes may be constrained from the first one on
//! without gaps, all by equality except the last constrained one, which may
//! have any sort key condition.

use super::condition::{begins_with, order, CmpOp, Condition, Operand};
use super::path::{DocPath, PathStep};
use super::ExprError;
use crate::model::value::{AttributeValue, Item, ValueType};

/// The key attribute names of the table or index being queried, in key
/// order: one partition attribute and at most one sort attribute, except
/// for a GSI with a multi-attribute key (up to four of each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNames {
    pub partition: Vec<String>,
    pub sort: Vec<String>,
}

impl KeyNames {
    fn is_multi_attribute(&self) -> bool {
        self.partition.len() > 1 || self.sort.len() > 1
    }

    /// Most primitive conditions a key condition on this key may have.
    pub(crate) fn max_parts(&self) -> usize {
        if self.is_multi_attribute() {
            self.partition.len() + self.sort.len()
        } else {
            2
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SortKeyCondition {
    Eq(AttributeValue),
    Lt(AttributeValue),
    Le(AttributeValue),
    Gt(AttributeValue),
    Ge(AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

/// A validated key condition: the partition key's values (one per partition
/// attribute, in key order), the values the leading sort attributes must
/// equal, and the condition on the sort attribute that follows them.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    pub partition_values: Vec<AttributeValue>,
    pub sort_prefix: Vec<AttributeValue>,
    pub sort: Option<SortKeyCondition>,
}

/// One primitive condition: which attribute, and what it asks of it
/// (`None`: an operator no key condition supports, from KeyConditions).
pub(crate) struct Part {
    pub attr: String,
    pub test: Option<SortKeyCondition>,
}

fn err(msg: impl Into<String>) -> ExprError {
    ExprError::new(msg)
}

fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

/// Splits a resolved KeyConditionExpression into its primitive parts, with
/// DynamoDB's messages for everything a key condition cannot express.
/// `max`: the most parts the queried key allows ([`KeyNames::max_parts`]).
pub(crate) fn parts(c: &Condition, max: usize) -> Result<Vec<Part>, ExprError> {
    let mut out: Vec<Part> = Vec::new();
    collect(c, &mut out)?;
    if out.len() > max {
        return Err(too_many(max));
    }
    Ok(out)
}

fn too_many(max: usize) -> ExprError {
    if max <= 2 {
        err("Conditions can be of length 1 or 2 only")
    } else {
        err(format!("Conditions can be of length 1 to {max} only"))
    }
}

fn collect(c: &Condition, out: &mut Vec<Part>) -> Result<(), ExprError> {
    let invalid_op = |op: &str| {
        err(format!(
            "Invalid operator used in KeyConditionExpression: {op}"
        ))
    };
    let (name, operands): (&str, Vec<&Operand>) = match c {
        Condition::And(cs) => {
            for c in cs {
                collect(c, out)?;
            }
            return Ok(());
        }
        Condition::Or(_) => return Err(invalid_op("OR")),
        Condition::Not(_) => return Err(invalid_op("NOT")),
        Condition::In(..) => return Err(invalid_op("IN")),
        Condition::Cmp(CmpOp::Ne, ..) => return Err(invalid_op("<>")),
        Condition::Exists(_) => return Err(invalid_op("attribute_exists")),
        Condition::NotExists(_) => return Err(invalid_op("attribute_not_exists")),
        Condition::Type(..) => return Err(invalid_op("attribute_type")),
        Condition::Contains(..) => return Err(invalid_op("contains")),
        Condition::True => return Ok(()),
        Condition::Cmp(op, a, b) => (op.symbol(), vec![a, b]),
        Condition::Between(x, lo, hi) => ("BETWEEN", vec![x, lo, hi]),
        Condition::BeginsWith(a, b) => ("begins_with", vec![a, b]),
    };
    if operands.iter().any(|o| matches!(o, Operand::Size(_))) {
        return Err(err(
            "KeyConditionExpressions cannot contain nested operations",
        ));
    }
    if matches!(c, Condition::Between(..) | Condition::BeginsWith(..))
        && !matches!(operands[0], Operand::Path(_))
    {
        return Err(err(format!(
            "Invalid condition in KeyConditionExpression: {name} operator must have the key attribute as its first operand"
        )));
    }
    let mut attr: Option<(&DocPath, usize)> = None;
    for (i, o) in operands.iter().enumerate() {
        if let Operand::Path(p) = o {
            if attr.is_some() {
                return Err(err("Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"));
            }
            if !p.is_top_level() {
                return Err(err(
                    "KeyConditionExpressions cannot have conditions on nested attributes",
                ));
            }
            attr = Some((p, i));
        }
    }
    let Some((path, position)) = attr else {
        return Err(err(
            "Invalid condition in KeyConditionExpression: No key attribute specified",
        ));
    };
    let name = match path.steps().first() {
        Some(PathStep::Attr(a)) => a.clone(),
        _ => String::new(),
    };
    if out.iter().any(|p| p.attr == name) {
        return Err(err(
            "KeyConditionExpressions must only contain one condition per key",
        ));
    }
    let value = |o: &Operand| match o {
        Operand::Value(v) => v.clone(),
        _ => AttributeValue::Null,
    };
    let test = match c {
        Condition::Cmp(op, a, b) => {
            let (op, v) = if position == 0 {
                (*op, value(b))
            } else {
                (mirror(*op), value(a))
            };
            match op {
                CmpOp::Eq => SortKeyCondition::Eq(v),
                CmpOp::Lt => SortKeyCondition::Lt(v),
                CmpOp::Le => SortKeyCondition::Le(v),
                CmpOp::Gt => SortKeyCondition::Gt(v),
                CmpOp::Ge => SortKeyCondition::Ge(v),
                CmpOp::Ne => return Err(invalid_op("<>")),
            }
        }
        Condition::Between(_, lo, hi) => SortKeyCondition::Between(value(lo), value(hi)),
        Condition::BeginsWith(_, p) => SortKeyCondition::BeginsWith(value(p)),
        _ => return Ok(()),
    };
    out.push(Part {
        attr: name,
        test: Some(test),
    });
    Ok(())
}

/// Assembles primitive parts into a key condition for `key`, checking them
/// against the key schema the way DynamoDB does: partition key first.
pub(crate) fn assemble(parts: Vec<Part>, key: &KeyNames) -> Result<KeyCondition, ExprError> {
    if key.is_multi_attribute() {
        return assemble_multi(parts, key);
    }
    if parts.is_empty() || parts.len() > 2 {
        return Err(err("Conditions can be of length 1 or 2 only"));
    }
    let partition_name = key
        .partition
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let sort_name = key.sort.first();
    if sort_name.is_none() && parts.len() > 1 {
        return Err(err("Query key condition not supported"));
    }
    let many = parts.len() > 1;
    let find = |attr: &str| parts.iter().find(|p| p.attr == attr);
    let partition_value = match find(partition_name) {
        None => {
            return Err(err(format!(
                "Query condition missed key schema element: {partition_name}"
            )))
        }
        Some(Part { test: None, .. }) => return Err(not_indexable()),
        Some(Part {
            test: Some(SortKeyCondition::Eq(v)),
            ..
        }) => v.clone(),
        Some(_) => return Err(err("Query key condition not supported")),
    };
    let sort = match sort_name {
        None => None,
        Some(s) => match find(s) {
            None if many => {
                return Err(err(format!(
                    "Query condition missed key schema element: {s}"
                )))
            }
            None => None,
            Some(Part { test: None, .. }) => return Err(not_indexable()),
            Some(Part { test: Some(t), .. }) => Some(t.clone()),
        },
    };
    Ok(KeyCondition {
        partition_values: vec![partition_value],
        sort_prefix: Vec::new(),
        sort,
    })
}

fn not_indexable() -> ExprError {
    err("Attempted conditional constraint is not an indexable operation")
}

/// [`assemble`] for a multi-attribute key.
fn assemble_multi(parts: Vec<Part>, key: &KeyNames) -> Result<KeyCondition, ExprError> {
    if parts.is_empty() || parts.len() > key.max_parts() {
        return Err(too_many(key.max_parts()));
    }
    if let Some(p) = parts
        .iter()
        .find(|p| !key.partition.contains(&p.attr) && !key.sort.contains(&p.attr))
    {
        return Err(err(format!(
            "Query key condition not supported: {} is not a key attribute of the index",
            p.attr
        )));
    }
    let find = |attr: &str| parts.iter().find(|p| p.attr == attr);
    let mut partition_values = Vec::with_capacity(key.partition.len());
    for name in &key.partition {
        match find(name) {
            Some(Part { test: None, .. }) => return Err(not_indexable()),
            Some(Part {
                test: Some(SortKeyCondition::Eq(v)),
                ..
            }) => partition_values.push(v.clone()),
            _ => {
                return Err(err(format!(
                    "Query key condition not supported: every HASH key attribute needs an equality condition, and {name} has none"
                )))
            }
        }
    }
    // The sort attributes with a condition must be the leading ones, in key
    // order; all but the last of them compared by equality.
    let constrained: Vec<(usize, &SortKeyCondition)> = key
        .sort
        .iter()
        .enumerate()
        .filter_map(|(i, name)| find(name).map(|p| (i, p)))
        .map(|(i, p)| p.test.as_ref().map(|t| (i, t)).ok_or_else(not_indexable))
        .collect::<Result<_, _>>()?;
    let mut sort_prefix = Vec::new();
    let mut sort = None;
    for (position, (i, test)) in constrained.iter().enumerate() {
        let later = |j: usize| key.sort.get(j).map(String::as_str).unwrap_or_default();
        if *i != position {
            return Err(err(format!(
                "Query key condition not supported: RANGE key attribute {} needs an equality condition when the later RANGE key attribute {} has a condition",
                later(position),
                later(*i)
            )));
        }
        let last = position + 1 == constrained.len();
        match test {
            SortKeyCondition::Eq(v) if !last => sort_prefix.push(v.clone()),
            _ if !last => {
                return Err(err(format!(
                    "Query key condition not supported: RANGE key attribute {} needs an equality condition when the later RANGE key attribute {} has a condition",
                    later(position),
                    later(position + 1)
                )))
            }
            t => sort = Some((*t).clone()),
        }
    }
    Ok(KeyCondition {
        partition_values,
        sort_prefix,
        sort,
    })
}

impl SortKeyCondition {
    fn values(&self) -> Vec<&AttributeValue> {
        match self {
            SortKeyCondition::Eq(v)
            | SortKeyCondition::Lt(v)
            | SortKeyCondition::Le(v)
            | SortKeyCondition::Gt(v)
            | SortKeyCondition::Ge(v)
            | SortKeyCondition::BeginsWith(v) => vec![v],
            SortKeyCondition::Between(a, b) => vec![a, b],
        }
    }
}

impl KeyCondition {
    /// DynamoDB's error if a value's type differs from the key schema's
    /// (`partition`, `sort`: the types of the partition and sort attributes,
    /// in key order).
    pub fn check_types(
        &self,
        partition: &[ValueType],
        sort: &[ValueType],
    ) -> Result<(), ExprError> {
        let mismatch = || {
            err("One or more parameter values were invalid: Condition parameter type does not match schema type")
        };
        if self
            .partition_values
            .iter()
            .zip(partition)
            .any(|(v, t)| v.value_type() != *t)
        {
            return Err(mismatch());
        }
        if self
            .sort_prefix
            .iter()
            .zip(sort)
            .any(|(v, t)| v.value_type() != *t)
        {
            return Err(mismatch());
        }
        if let (Some(c), Some(t)) = (&self.sort, sort.get(self.sort_prefix.len())) {
            if c.values().iter().any(|v| v.value_type() != *t) {
                return Err(mismatch());
            }
        }
        Ok(())
    }

    /// Whether the condition says anything of the sort key (otherwise every
    /// item of the partition satisfies it).
    pub fn has_sort_part(&self) -> bool {
        !self.sort_prefix.is_empty() || self.sort.is_some()
    }

    /// Whether an item's (or a key's) sort attributes, named in key order by
    /// `sort_names`, satisfy the sort part of the condition (true if none).
    pub fn sort_matches_item(&self, item: &Item, sort_names: &[String]) -> bool {
        use std::cmp::Ordering::Equal;
        let value = |i: usize| sort_names.get(i).and_then(|n| item.get(n));
        let prefix_ok = self
            .sort_prefix
            .iter()
            .enumerate()
            .all(|(i, x)| value(i).is_some_and(|v| order(v, x) == Some(Equal)));
        prefix_ok
            && (self.sort.is_none()
                || value(self.sort_prefix.len()).is_some_and(|v| self.sort_matches(v)))
    }

    /// Whether a sort key value satisfies the sort condition (true if none).
    pub fn sort_matches(&self, v: &AttributeValue) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match &self.sort {
            None => true,
            Some(SortKeyCondition::Eq(x)) => order(v, x) == Some(Equal),
            Some(SortKeyCondition::Lt(x)) => order(v, x) == Some(Less),
            Some(SortKeyCondition::Le(x)) => matches!(order(v, x), Some(Less | Equal)),
            Some(SortKeyCondition::Gt(x)) => order(v, x) == Some(Greater),
            Some(SortKeyCondition::Ge(x)) => matches!(order(v, x), Some(Greater | Equal)),
            Some(SortKeyCondition::Between(lo, hi)) => {
                matches!(order(lo, v), Some(Less | Equal))
                    && matches!(order(v, hi), Some(Less | Equal))
            }
            Some(SortKeyCondition::BeginsWith(p)) => begins_with(v, p),
        }
    }
}
