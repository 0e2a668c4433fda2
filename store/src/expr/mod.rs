//! DynamoDB's expression language: condition, filter, key-condition, update
//! and projection expressions, and the legacy parameters that predate them.
//!
//! Three phases, each in its own files:
//!
//! * **parse** (`lexer`, `parser`, `ast`, `reserved`, `cache`): text → `Ast`.
//!   Depends only on the text, so results are cached by (kind, text).
//! * **resolve** (`resolve`): `#name`/`:value` substitution and the checks
//!   that need the values (operand types, BETWEEN bounds, key-condition
//!   shape). The `Resolver` also tracks which names and values were used, so
//!   that `finish` rejects unused ones across all of a request's expressions.
//! * **evaluate** (`path`, `condition`, `update`, `projection`, `key`):
//!   pure functions over `Item`s. `Update::apply(old) -> new` never touches
//!   storage, so a conditional write is validated and computed before commit.
//!
//! `legacy` translates Expected, QueryFilter/ScanFilter, KeyConditions,
//! AttributeUpdates and AttributesToGet into the same evaluable types.
//!
//! Every error is an `ExprError` carrying DynamoDB's exact ValidationException
//! message. Nothing here panics or recurses without bound on client input.
//!
//! Checks that need the table (key attribute types, filters on key
//! attributes in Query, mixing legacy and expression parameters) belong to
//! the operations layer; this module supplies the pieces and the messages
//! (`KeyCondition::check_types`, `Condition::attributes`,
//! `key_in_filter_error`, `only_with_expressions_error`,
//! `legacy::mixed_error`, `legacy::conditional_operator_alone_error`).
//!
//! Tests: `tests/` (one file per topic, against DynamoDB's recorded
//! behaviour and messages) and `proptests` (print/parse round trips,
//! comparison order, totality).

mod ast;
mod cache;
mod condition;
mod key;
pub mod legacy;
mod lexer;
mod parser;
mod path;
mod projection;
mod reserved;
mod resolve;
mod update;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use ast::{Ast, Kind};
pub use condition::{CmpOp, Condition, Operand};
pub use key::{KeyCondition, KeyNames, SortKeyCondition};
pub use path::{DocPath, PathStep};
pub use projection::Projection;
pub use reserved::is_reserved;
pub use resolve::Resolver;
pub use update::{Update, UpdateAction, UpdateValue};

/// The message of a ValidationException raised by an expression, worded as
/// DynamoDB words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExprError(pub String);

impl ExprError {
    pub(crate) fn new(msg: impl Into<String>) -> ExprError {
        ExprError(msg.into())
    }
}

/// Parses `text` as an expression of `kind` (through the cache). Exposed for
/// tools and tests; requests go through `Resolver`.
pub fn parse(kind: Kind, text: &str) -> Result<std::sync::Arc<Ast>, ExprError> {
    cache::parse_cached(kind, text)
}

/// Parses `text` without consulting or filling the cache: what a request
/// with a never-seen expression pays. Exposed for benchmarks.
pub fn parse_uncached(kind: Kind, text: &str) -> Result<Ast, ExprError> {
    parser::parse(kind, text)
}

/// DynamoDB's error for ExpressionAttributeNames (`values == false`) or
/// ExpressionAttributeValues sent with none of the request's expressions.
///
/// `expression_params` names the expression parameters of the operation
/// that take values, in DynamoDB's order (e.g. `["UpdateExpression",
/// "ConditionExpression"]` for UpdateItem; ProjectionExpression never).
pub fn only_with_expressions_error(values: bool, expression_params: &[&str]) -> ExprError {
    if !values {
        return ExprError::new(
            "ExpressionAttributeNames can only be specified when using expressions",
        );
    }
    let verb = if expression_params.len() > 1 {
        "are"
    } else {
        "is"
    };
    ExprError(format!(
        "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
        expression_params.join(" and ")
    ))
}

/// DynamoDB's error for a Query filter that reads a key attribute
/// (`legacy`: QueryFilter rather than FilterExpression).
pub fn key_in_filter_error(attr: &str, legacy: bool) -> ExprError {
    if legacy {
        ExprError(format!(
            "QueryFilter can only contain non-key attributes: Primary key attribute: {attr}"
        ))
    } else {
        ExprError(format!("Filter Expression can only contain non-primary key attributes: Primary key attribute: {attr}"))
    }
}
