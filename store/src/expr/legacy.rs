//! The legacy conditional parameters — Expected, QueryFilter/ScanFilter,
//! KeyConditions, AttributeUpdates, AttributesToGet — translated into the
//! same evaluable types as expressions.
//!
//! Owns their validation (operator names, argument counts, argument types)
//! with DynamoDB's "One or more parameter values were invalid: ..." wording,
//! and the few places where legacy semantics differ from expressions
//! (legacy ADD appends to lists; NOT_CONTAINS needs the attribute to exist).
//! The input types are plain Rust: the api layer fills them from JSON.

use std::collections::BTreeMap;

use super::condition::{CmpOp, Condition, Operand};
use super::key::{self, KeyCondition, KeyNames, Part, SortKeyCondition};
use super::path::DocPath;
use super::projection::Projection;
use super::update::{Update, UpdateAction};
use super::ExprError;
use crate::model::value::{AttributeValue, ValueType};

/// One entry of `Expected`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpectedAttributeValue {
    pub value: Option<AttributeValue>,
    pub exists: Option<bool>,
    pub comparison_operator: Option<String>,
    pub attribute_value_list: Option<Vec<AttributeValue>>,
}

/// One entry of `QueryFilter`, `ScanFilter` or `KeyConditions`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegacyCondition {
    pub comparison_operator: String,
    pub attribute_value_list: Option<Vec<AttributeValue>>,
}

/// `ConditionalOperator`: how the conditions of `Expected`, `QueryFilter`
/// or `ScanFilter` combine (all of them when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionalOperator {
    And,
    Or,
}

/// One entry of `AttributeUpdates`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeValueUpdate {
    pub value: Option<AttributeValue>,
    pub action: Option<String>,
}

fn invalid(msg: impl std::fmt::Display) -> ExprError {
    ExprError(format!("One or more parameter values were invalid: {msg}"))
}

/// The thirteen legacy comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
    NotNull,
    Null,
    Contains,
    NotContains,
    BeginsWith,
    In,
    Between,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "EQ" => Op::Eq,
            "NE" => Op::Ne,
            "LE" => Op::Le,
            "LT" => Op::Lt,
            "GE" => Op::Ge,
            "GT" => Op::Gt,
            "NOT_NULL" => Op::NotNull,
            "NULL" => Op::Null,
            "CONTAINS" => Op::Contains,
            "NOT_CONTAINS" => Op::NotContains,
            "BEGINS_WITH" => Op::BeginsWith,
            "IN" => Op::In,
            "BETWEEN" => Op::Between,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Op::Eq => "EQ",
            Op::Ne => "NE",
            Op::Le => "LE",
            Op::Lt => "LT",
            Op::Ge => "GE",
            Op::Gt => "GT",
            Op::NotNull => "NOT_NULL",
            Op::Null => "NULL",
            Op::Contains => "CONTAINS",
            Op::NotContains => "NOT_CONTAINS",
            Op::BeginsWith => "BEGINS_WITH",
            Op::In => "IN",
            Op::Between => "BETWEEN",
        }
    }
}

/// `path` locates the operator in the request for the validation message,
/// e.g. `expected.a.member.comparisonOperator`.
fn parse_op(s: &str, path: &str) -> Result<Op, ExprError> {
    Op::parse(s).ok_or_else(|| {
        ExprError(format!(
            "1 validation error detected: Value '{s}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
        ))
    })
}

fn is_scalar(t: ValueType) -> bool {
    matches!(t, ValueType::N | ValueType::S | ValueType::B)
}

/// Checks argument count and types, and builds the condition on `attr`.
fn build(attr: &str, op: Op, args: &[AttributeValue]) -> Result<Condition, ExprError> {
    let count_ok = match op {
        Op::NotNull | Op::Null => args.is_empty(),
        Op::Between => args.len() == 2,
        Op::In => !args.is_empty(),
        _ => args.len() == 1,
    };
    if !count_ok {
        return Err(invalid(format_args!(
            "Invalid number of argument(s) for the {} ComparisonOperator",
            op.name()
        )));
    }
    let type_ok = |v: &AttributeValue| -> bool {
        let t = v.value_type();
        match op {
            Op::Eq | Op::Ne => true,
            Op::Le | Op::Lt | Op::Ge | Op::Gt | Op::Between | Op::In => is_scalar(t),
            Op::Contains | Op::NotContains => is_scalar(t),
            Op::BeginsWith => matches!(t, ValueType::S | ValueType::B),
            Op::NotNull | Op::Null => true,
        }
    };
    if let Some(first) = args.first() {
        if args.iter().any(|v| v.value_type() != first.value_type()) {
            return Err(invalid(
                "AttributeValues inside AttributeValueList must be of same type",
            ));
        }
    }
    for v in args {
        if !type_ok(v) {
            return Err(invalid(format_args!(
                "ComparisonOperator {} is not valid for {} AttributeValue type",
                op.name(),
                v.value_type().as_str()
            )));
        }
    }
    if op == Op::Between
        && super::condition::order(&args[0], &args[1]) == Some(std::cmp::Ordering::Greater)
    {
        return Err(ExprError::new(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    let path = || Operand::Path(DocPath::attr(attr));
    let val = |i: usize| Operand::Value(args[i].clone());
    Ok(match op {
        Op::Eq => Condition::Cmp(CmpOp::Eq, path(), val(0)),
        Op::Ne => Condition::Cmp(CmpOp::Ne, path(), val(0)),
        Op::Le => Condition::Cmp(CmpOp::Le, path(), val(0)),
        Op::Lt => Condition::Cmp(CmpOp::Lt, path(), val(0)),
        Op::Ge => Condition::Cmp(CmpOp::Ge, path(), val(0)),
        Op::Gt => Condition::Cmp(CmpOp::Gt, path(), val(0)),
        Op::NotNull => Condition::Exists(DocPath::attr(attr)),
        Op::Null => Condition::NotExists(DocPath::attr(attr)),
        Op::Contains => Condition::Contains(path(), val(0)),
        // NOT_CONTAINS is false, not true, when the attribute is missing.
        Op::NotContains => Condition::And(vec![
            Condition::Exists(DocPath::attr(attr)),
            Condition::Not(Box::new(Condition::Contains(path(), val(0)))),
        ]),
        Op::BeginsWith => Condition::BeginsWith(path(), val(0)),
        Op::In => Condition::In(path(), args.iter().cloned().map(Operand::Value).collect()),
        Op::Between => Condition::Between(path(), val(0), val(1)),
    })
}

fn combine(conds: Vec<Condition>, conditional_operator: Option<ConditionalOperator>) -> Condition {
    match conds.len() {
        0 => Condition::True,
        1 => conds.into_iter().next().unwrap_or(Condition::True),
        _ if conditional_operator == Some(ConditionalOperator::Or) => Condition::Or(conds),
        _ => Condition::And(conds),
    }
}

/// `Expected` (with `ConditionalOperator`) as a condition.
pub fn expected(
    e: &BTreeMap<String, ExpectedAttributeValue>,
    conditional_operator: Option<ConditionalOperator>,
) -> Result<Condition, ExprError> {
    for (attr, x) in e {
        if let Some(op) = &x.comparison_operator {
            parse_op(op, &format!("expected.{attr}.member.comparisonOperator"))?;
        }
    }
    check_conditional_operator(conditional_operator, e.len())?;
    let mut conds = Vec::with_capacity(e.len());
    for (attr, x) in e {
        conds.push(expected_one(attr, x)?);
    }
    Ok(combine(conds, conditional_operator))
}

/// ConditionalOperator is only meaningful with two or more conditions.
fn check_conditional_operator(
    op: Option<ConditionalOperator>,
    conditions: usize,
) -> Result<(), ExprError> {
    if op.is_some() && conditions < 2 {
        return Err(ExprError::new(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        ));
    }
    Ok(())
}

/// DynamoDB's error for a ConditionalOperator sent without Expected,
/// QueryFilter or ScanFilter.
pub fn conditional_operator_alone_error() -> ExprError {
    ExprError::new("ConditionalOperator cannot be used without Filter or Expected")
}

fn expected_one(attr: &str, x: &ExpectedAttributeValue) -> Result<Condition, ExprError> {
    if x.value.is_some() && x.attribute_value_list.is_some() {
        return Err(invalid(format_args!(
            "Value and AttributeValueList cannot be used together for Attribute: {attr}"
        )));
    }
    if let Some(op) = &x.comparison_operator {
        let op = parse_op(op, &format!("expected.{attr}.member.comparisonOperator"))?;
        if x.exists.is_some() {
            return Err(invalid(format_args!(
                "Exists and ComparisonOperator cannot be used together for Attribute: {attr}"
            )));
        }
        let args: Vec<AttributeValue> = match (&x.value, &x.attribute_value_list) {
            (Some(v), _) => vec![v.clone()],
            (None, Some(l)) => l.clone(),
            (None, None) if matches!(op, Op::Null | Op::NotNull) => Vec::new(),
            (None, None) => {
                return Err(invalid(format_args!(
                    "Value or AttributeValueList must be used with ComparisonOperator: {} for Attribute: {attr}",
                    op.name()
                )))
            }
        };
        return build(attr, op, &args);
    }
    if x.attribute_value_list.is_some() {
        return Err(invalid(format_args!(
            "AttributeValueList can only be used with a ComparisonOperator for Attribute: {attr}"
        )));
    }
    match (x.exists, &x.value) {
        (Some(false), Some(_)) => Err(invalid(format_args!(
            "Value cannot be used when Exists is false for Attribute: {attr}"
        ))),
        (Some(false), None) => Ok(Condition::NotExists(DocPath::attr(attr))),
        (_, Some(v)) => Ok(Condition::Cmp(
            CmpOp::Eq,
            Operand::Path(DocPath::attr(attr)),
            Operand::Value(v.clone()),
        )),
        (exists, None) => Err(invalid(format_args!(
            "Value must be provided when Exists is {} for Attribute: {attr}",
            if exists.is_some() { "true" } else { "null" }
        ))),
    }
}

/// `QueryFilter` (with `ConditionalOperator`) as a condition.
pub fn filter(
    conds: &BTreeMap<String, LegacyCondition>,
    conditional_operator: Option<ConditionalOperator>,
) -> Result<Condition, ExprError> {
    filter_param("queryFilter", conds, conditional_operator)
}

/// `ScanFilter` (with `ConditionalOperator`) as a condition.
pub fn scan_filter(
    conds: &BTreeMap<String, LegacyCondition>,
    conditional_operator: Option<ConditionalOperator>,
) -> Result<Condition, ExprError> {
    filter_param("scanFilter", conds, conditional_operator)
}

fn filter_param(
    param: &str,
    conds: &BTreeMap<String, LegacyCondition>,
    conditional_operator: Option<ConditionalOperator>,
) -> Result<Condition, ExprError> {
    let mut ops = Vec::with_capacity(conds.len());
    for (attr, c) in conds {
        ops.push(parse_op(
            &c.comparison_operator,
            &format!("{param}.{attr}.member.comparisonOperator"),
        )?);
    }
    check_conditional_operator(conditional_operator, conds.len())?;
    let mut out = Vec::with_capacity(conds.len());
    for ((attr, c), op) in conds.iter().zip(ops) {
        out.push(build(
            attr,
            op,
            c.attribute_value_list.as_deref().unwrap_or(&[]),
        )?);
    }
    Ok(combine(out, conditional_operator))
}

/// `KeyConditions` as a key condition for `key`.
pub fn key_conditions(
    conds: &BTreeMap<String, LegacyCondition>,
    key: &KeyNames,
) -> Result<KeyCondition, ExprError> {
    let mut parts = Vec::with_capacity(conds.len());
    for (attr, c) in conds {
        let op = parse_op(
            &c.comparison_operator,
            &format!("keyConditions.{attr}.member.comparisonOperator"),
        )?;
        let args = c.attribute_value_list.as_deref().unwrap_or(&[]);
        // The argument checks are those of the other legacy parameters.
        build(attr, op, args)?;
        let arg = |i: usize| args.get(i).cloned().unwrap_or(AttributeValue::Null);
        let test = match op {
            Op::Eq => Some(SortKeyCondition::Eq(arg(0))),
            Op::Le => Some(SortKeyCondition::Le(arg(0))),
            Op::Lt => Some(SortKeyCondition::Lt(arg(0))),
            Op::Ge => Some(SortKeyCondition::Ge(arg(0))),
            Op::Gt => Some(SortKeyCondition::Gt(arg(0))),
            Op::BeginsWith => Some(SortKeyCondition::BeginsWith(arg(0))),
            Op::Between => Some(SortKeyCondition::Between(arg(0), arg(1))),
            _ => None,
        };
        parts.push(Part {
            attr: attr.clone(),
            test,
        });
    }
    key::assemble(parts, key)
}

/// `AttributeUpdates` as an update.
pub fn attribute_updates(u: &BTreeMap<String, AttributeValueUpdate>) -> Result<Update, ExprError> {
    let mut actions = Vec::with_capacity(u.len());
    for (attr, x) in u {
        let action = x.action.as_deref().unwrap_or("PUT");
        actions.push(match (action, &x.value) {
            ("PUT", Some(v)) => UpdateAction::Set(DocPath::attr(attr), super::update::UpdateValue::Value(v.clone())),
            ("PUT" | "ADD", None) => {
                return Err(invalid("Only DELETE action is allowed when no attribute value is specified"))
            }
            ("DELETE", None) => UpdateAction::Remove(DocPath::attr(attr)),
            ("DELETE", Some(v)) => {
                if !matches!(v, AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) {
                    return Err(invalid(format_args!(
                        "DELETE action with value is not supported for the type {}",
                        v.value_type().as_str()
                    )));
                }
                UpdateAction::LegacyDelete(attr.clone(), v.clone())
            }
            ("ADD", Some(v)) => {
                if !matches!(
                    v,
                    AttributeValue::N(_) | AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) | AttributeValue::L(_)
                ) {
                    return Err(invalid(format_args!(
                        "ADD action is not supported for the type {}",
                        v.value_type().as_str()
                    )));
                }
                UpdateAction::LegacyAdd(attr.clone(), v.clone())
            }
            (other, _) => {
                return Err(ExprError(format!(
                    "1 validation error detected: Value '{other}' at 'attributeUpdates.{attr}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
                )))
            }
        });
    }
    Ok(Update::from_distinct(actions))
}

/// `AttributesToGet` as a projection.
pub fn attributes_to_get(names: &[String]) -> Result<Projection, ExprError> {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if !seen.insert(n.as_str()) {
            return Err(invalid(format_args!(
                "Duplicate value in attribute name: {n}"
            )));
        }
    }
    Ok(Projection::from_paths_lenient(
        names.iter().map(DocPath::attr).collect(),
    ))
}

/// DynamoDB's error for mixing legacy and expression parameters in one
/// request, e.g. `mixed_error(&["Expected"], &["ConditionExpression"])`.
pub fn mixed_error(legacy_names: &[&str], expression_names: &[&str]) -> ExprError {
    ExprError(format!(
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
        legacy_names.join(", "),
        expression_names.join(", ")
    ))
}

/// Standard base64, for rendering binary values in messages.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
