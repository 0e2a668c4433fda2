//! Key conditions: the restricted conditions of Query (KeyConditionExpression
//! and legacy KeyConditions), checked against the table's or index's key.
//!
//! Owns the shape rules and their messages: an equality on the partition
//! key, optionally ANDed with one condition on the sort key (`=`, `<`, `<=`,
//! `>`, `>=`, BETWEEN, begins_with), each comparing the key attribute to a
//! value. Checking values against the key schema's types needs the schema,
//! so it is a separate step (`KeyCondition::check_types`).

use super::condition::{begins_with, order, CmpOp, Condition, Operand};
use super::path::{DocPath, PathStep};
use super::ExprError;
use crate::model::value::{AttributeValue, ValueType};

/// The key attribute names of the table or index being queried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNames {
    pub partition: String,
    pub sort: Option<String>,
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

#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    pub partition_value: AttributeValue,
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
pub(crate) fn parts(c: &Condition) -> Result<Vec<Part>, ExprError> {
    let mut out: Vec<Part> = Vec::new();
    collect(c, &mut out)?;
    if out.len() > 2 {
        return Err(err("Conditions can be of length 1 or 2 only"));
    }
    Ok(out)
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
    if parts.is_empty() || parts.len() > 2 {
        return Err(err("Conditions can be of length 1 or 2 only"));
    }
    if key.sort.is_none() && parts.len() > 1 {
        return Err(err("Query key condition not supported"));
    }
    let many = parts.len() > 1;
    let find = |attr: &str| parts.iter().find(|p| p.attr == attr);
    let partition_value = match find(&key.partition) {
        None => {
            return Err(err(format!(
                "Query condition missed key schema element: {}",
                key.partition
            )))
        }
        Some(Part { test: None, .. }) => {
            return Err(err(
                "Attempted conditional constraint is not an indexable operation",
            ))
        }
        Some(Part {
            test: Some(SortKeyCondition::Eq(v)),
            ..
        }) => v.clone(),
        Some(_) => return Err(err("Query key condition not supported")),
    };
    let sort = match &key.sort {
        None => None,
        Some(s) => match find(s) {
            None if many => {
                return Err(err(format!(
                    "Query condition missed key schema element: {s}"
                )))
            }
            None => None,
            Some(Part { test: None, .. }) => {
                return Err(err(
                    "Attempted conditional constraint is not an indexable operation",
                ))
            }
            Some(Part { test: Some(t), .. }) => Some(t.clone()),
        },
    };
    Ok(KeyCondition {
        partition_value,
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
    /// (`sort`: the sort key's type, if the table or index has one).
    pub fn check_types(
        &self,
        partition: ValueType,
        sort: Option<ValueType>,
    ) -> Result<(), ExprError> {
        let mismatch = || {
            err("One or more parameter values were invalid: Condition parameter type does not match schema type")
        };
        if self.partition_value.value_type() != partition {
            return Err(mismatch());
        }
        if let (Some(c), Some(t)) = (&self.sort, sort) {
            if c.values().iter().any(|v| v.value_type() != t) {
                return Err(mismatch());
            }
        }
        Ok(())
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
