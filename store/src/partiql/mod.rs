//! DynamoDB's PartiQL dialect: parse a statement, then plan it as the JSON
//! operation that does the same thing.
//!
//! * **parse** (`lexer`, `parser`, `ast`, `cache`): text → [`Statement`],
//!   cached by text like expressions are, since applications send the same
//!   few statements with different parameters.
//! * **plan** (`plan`, `render`, `literal`): statement + parameters + the
//!   table's key schema → a [`Plan`] holding a typed GetItem, Query, Scan,
//!   PutItem, UpdateItem or DeleteItem input. Conditions, update actions and
//!   projections are rendered as expressions with `#name`/`:value`
//!   placeholders, so the store's one expression parser, resolver and
//!   evaluator run them: PartiQL has no evaluator of its own.
//!
//! Nothing here touches storage or knows about requests; `ops::partiql`
//! executes plans, and the proxy uses the same plans to classify statements.

mod ast;
mod cache;
mod lexer;
mod literal;
mod parser;
mod plan;
mod render;

#[cfg(test)]
mod tests;

pub use ast::{
    CmpOp, Delete, Expr, Function, Insert, Literal, Operand, Order, Path, Returning, Select,
    SetValue, Statement, Step, Update, UpdateAction,
};
pub use literal::bind;
pub use plan::{plan, Plan, KEY_REQUIRED};

/// Longest statement DynamoDB accepts, in characters.
pub const MAX_STATEMENT_CHARS: usize = 8192;

/// Why a statement cannot run, worded as DynamoDB words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartiqlError {
    /// The text is not a statement of the dialect.
    #[error("Statement wasn't well formed, can't be processed: {0}")]
    Syntax(String),
    /// A well-formed statement that cannot run as written.
    #[error("{0}")]
    Validation(String),
}

impl PartiqlError {
    pub(crate) fn syntax(detail: impl Into<String>) -> PartiqlError {
        PartiqlError::Syntax(detail.into())
    }

    pub(crate) fn parameter_count() -> PartiqlError {
        PartiqlError::Validation(
            "Number of parameters in request and statement don't match.".into(),
        )
    }
}

/// Parse `text` through the statement cache.
pub fn parse(text: &str) -> Result<std::sync::Arc<Statement>, PartiqlError> {
    cache::parse_cached(text)
}

/// Parse `text` without the cache: what a never-seen statement costs.
pub fn parse_uncached(text: &str) -> Result<Statement, PartiqlError> {
    parser::parse(text)
}
