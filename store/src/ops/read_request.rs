//! The parameters Query and Scan share: their opening checks (TableName,
//! Limit, Select, AttributesToGet, IndexName, ConditionalOperator), the
//! consistency and Select rules, and the resolution of the request's
//! expressions (or their legacy forms) into a key condition, a filter and a
//! projection, with DynamoDB's rules for mixing the two styles. The proxy's
//! query cache keys reads on the same resolution ([`resolve_query`],
//! [`resolve_scan`]).

use super::item::{mixed, refuse_empty_table_name};
use crate::api::types::{
    ConditionalOperator, Conditions, Names, QueryInput, ScanInput, Select, Values,
};
use crate::api::validate::{Violations, WireEnum};
use crate::api::{ApiError, ApiResult};
use crate::expr::{self, legacy, Condition, KeyCondition, KeyNames, Projection, Resolver};

/// DynamoDB's rules tying Select to the projection parameters: what the
/// read returns, given the Select it asks for.
fn select(
    value: Option<Select>,
    attributes_to_get: bool,
    projection_expression: bool,
    verb: &str,
    index: bool,
) -> ApiResult<Select> {
    let projected = attributes_to_get || projection_expression;
    let param = if attributes_to_get {
        "AttributesToGet"
    } else {
        "ProjectionExpression"
    };
    match value {
        None if projected => Ok(Select::SpecificAttributes),
        None if index => Ok(Select::AllProjectedAttributes),
        None => Ok(Select::AllAttributes),
        Some(Select::AllProjectedAttributes) if index && !projected => {
            Ok(Select::AllProjectedAttributes)
        }
        Some(Select::AllProjectedAttributes) if !index => Err(ApiError::validation(format!(
            "ALL_PROJECTED_ATTRIBUTES can be used only when {verb} using an IndexName"
        ))),
        Some(Select::AllAttributes) if !projected => Ok(Select::AllAttributes),
        Some(Select::SpecificAttributes) if projected => Ok(Select::SpecificAttributes),
        Some(Select::SpecificAttributes) => Err(ApiError::validation(
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
        )),
        Some(Select::Count) if !projected => Ok(Select::Count),
        Some(Select::Count) => Err(ApiError::validation(format!(
            "Cannot specify the {param} when choosing to get only the Count"
        ))),
        Some(other) => Err(ApiError::validation(format!(
            "Cannot specify the {param} when choosing to get {}",
            other.wire_name()
        ))),
    }
}

/// The members Query and Scan share, as sent.
pub(super) struct CommonMembers<'a> {
    pub(super) table_name: Option<&'a str>,
    pub(super) limit: Option<i64>,
    pub(super) select: Option<&'a str>,
    pub(super) attributes_to_get: Option<&'a [String]>,
    pub(super) projection_expression: bool,
    pub(super) index_name: Option<&'a str>,
    pub(super) conditional_operator: Option<&'a str>,
    pub(super) consistent_read: Option<bool>,
}

/// The [`CommonMembers`] of a Query or Scan input.
macro_rules! common_members {
    ($input:ident) => {
        CommonMembers {
            table_name: $input.table_name.as_deref(),
            limit: $input.limit,
            select: $input.select.as_deref(),
            attributes_to_get: $input.attributes_to_get.as_deref(),
            projection_expression: $input.projection_expression.is_some(),
            index_name: $input.index_name.as_deref(),
            conditional_operator: $input.conditional_operator.as_deref(),
            consistent_read: $input.consistent_read,
        }
    };
}
pub(super) use common_members;

impl CommonMembers<'_> {
    /// The checks Query and Scan open with: an empty TableName or a Limit
    /// below 1 is refused alone; then the shared members' violations are
    /// recorded. Gives those violations, for the operation to add its own
    /// and report them, and the Select asked for.
    pub(super) fn check(&self) -> ApiResult<(Violations, Option<Select>)> {
        refuse_empty_table_name(self.table_name, true)?;
        // A Limit below 1 is refused in the form that names the member
        // without its value.
        if self.limit.is_some_and(|l| l < 1) {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'Limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
            ));
        }
        let mut v = Violations::new();
        v.table_name_or_arn(self.table_name, "tableName");
        if self.attributes_to_get.is_some_and(|a| a.is_empty()) {
            v.push(
                "'[]'",
                "attributesToGet",
                "Member must have length greater than or equal to 1",
            );
        }
        let select = v.parse(self.select, "select");
        // An index name follows the same rules as a table name.
        if self.index_name.is_some() {
            v.table_name(self.index_name, "indexName");
        }
        v.parse::<ConditionalOperator>(self.conditional_operator, "conditionalOperator");
        Ok((v, select))
    }

    /// The consistency and the Select of a read of a table or index
    /// (`index`: an index; `global`: a global one) whose Select asked for
    /// is `requested`, by DynamoDB's rules. `verb` names the operation in
    /// messages ("Querying", "Scanning").
    pub(super) fn read_mode(
        &self,
        requested: Option<Select>,
        index: bool,
        global: bool,
        verb: &str,
    ) -> ApiResult<(bool, Select)> {
        let consistent = self.consistent_read.unwrap_or(false);
        if consistent && global {
            return Err(ApiError::validation(
                "Consistent reads are not supported on global secondary indexes",
            ));
        }
        let select = select(
            requested,
            self.attributes_to_get.is_some(),
            self.projection_expression,
            verb,
            index,
        )?;
        Ok((consistent, select))
    }
}

fn legacy_conditions(
    conds: &Conditions,
    param: &str,
) -> ApiResult<std::collections::BTreeMap<String, legacy::LegacyCondition>> {
    let mut v = Violations::new();
    for (name, c) in conds {
        if c.comparison_operator.is_none() {
            v.null(&format!("{param}.{name}.member.comparisonOperator"));
        }
    }
    v.finish()?;
    Ok(conds
        .iter()
        .map(|(name, c)| {
            (
                name.clone(),
                legacy::LegacyCondition {
                    comparison_operator: c.comparison_operator.clone().unwrap_or_default(),
                    attribute_value_list: c.attribute_value_list.clone(),
                },
            )
        })
        .collect())
}

/// The parts of a read request that are expressions or their legacy forms.
struct Expressions<'a> {
    key_condition: Option<&'a str>,
    key_conditions: Option<&'a Conditions>,
    filter: Option<&'a str>,
    legacy_filter: Option<&'a Conditions>,
    legacy_filter_name: &'static str,
    /// As sent: Query and Scan have checked it; the proxy has not.
    conditional_operator: Option<&'a str>,
    projection: Option<&'a str>,
    attributes_to_get: Option<&'a [String]>,
    names: Option<&'a Names>,
    values: Option<&'a Values>,
}

/// A read request's expressions (or their legacy forms), resolved: no
/// `#name`/`:value` placeholders left, so two requests that resolve equal
/// read the same thing (the proxy's query cache keys on this).
#[derive(Debug)]
pub struct Resolved {
    pub key: Option<KeyCondition>,
    pub filter: Option<Condition>,
    pub projection: Option<Projection>,
}

/// The [`Expressions`] of a Query or Scan input: `$key_condition` and
/// `$key_conditions` (a Query's, `None` for a Scan) and the legacy filter
/// member `$filter` (named `$filter_name` in messages).
macro_rules! read_expressions {
    ($input:ident, $key_condition:expr, $key_conditions:expr, $filter:ident, $filter_name:literal) => {
        Expressions {
            key_condition: $key_condition,
            key_conditions: $key_conditions,
            filter: $input.filter_expression.as_deref(),
            legacy_filter: $input.$filter.as_ref(),
            legacy_filter_name: $filter_name,
            conditional_operator: $input.conditional_operator.as_deref(),
            projection: $input.projection_expression.as_deref(),
            attributes_to_get: $input.attributes_to_get.as_deref(),
            names: $input.expression_attribute_names.as_ref(),
            values: $input.expression_attribute_values.as_ref(),
        }
    };
}

/// Resolve a Query's key condition (against the key of the table or index
/// it reads), filter and projection, with every check `Query` makes on them.
pub fn resolve_query(input: &QueryInput, key: &KeyNames) -> ApiResult<Resolved> {
    read_expressions!(
        input,
        input.key_condition_expression.as_deref(),
        input.key_conditions.as_ref(),
        query_filter,
        "queryFilter"
    )
    .resolve(Some(key))
}

/// Resolve a Scan's filter and projection, as `Scan` does.
pub fn resolve_scan(input: &ScanInput) -> ApiResult<Resolved> {
    read_expressions!(input, None, None, scan_filter, "scanFilter").resolve(None)
}

impl Expressions<'_> {
    /// Resolve everything with one resolver, so unused names and values are
    /// judged across all of the request's expressions.
    fn resolve(&self, key_names: Option<&KeyNames>) -> ApiResult<Resolved> {
        let legacy_filter_param = if self.legacy_filter_name == "queryFilter" {
            "QueryFilter"
        } else {
            "ScanFilter"
        };
        // Mixing the two styles. KeyConditions alone goes with expressions
        // (DynamoDB accepts it with FilterExpression or ProjectionExpression).
        let mut legacy_used = Vec::new();
        let mut expr_used = Vec::new();
        if self.attributes_to_get.is_some() {
            legacy_used.push("AttributesToGet");
        }
        if self.conditional_operator.is_some() {
            legacy_used.push("ConditionalOperator");
        }
        if self.key_conditions.is_some() && self.key_condition.is_some() {
            legacy_used.push("KeyConditions");
        }
        if self.legacy_filter.is_some() {
            legacy_used.push(legacy_filter_param);
        }
        if self.filter.is_some() {
            expr_used.push("FilterExpression");
        }
        if self.key_condition.is_some() {
            expr_used.push("KeyConditionExpression");
        }
        if self.projection.is_some() {
            expr_used.push("ProjectionExpression");
        }
        if !legacy_used.is_empty() && !expr_used.is_empty() {
            return Err(mixed(&legacy_used, &expr_used));
        }
        let mut resolver = if expr_used.is_empty() {
            if self.names.is_some() {
                return Err(expr::only_with_expressions_error(false, &[]).into());
            }
            if self.values.is_some() {
                let params: &[&str] = if key_names.is_some() {
                    &["KeyConditionExpression", "FilterExpression"]
                } else {
                    &["FilterExpression"]
                };
                return Err(expr::only_with_expressions_error(true, params).into());
            }
            None
        } else {
            Some(Resolver::new(self.names, self.values)?)
        };
        let key = match (
            key_names,
            self.key_condition,
            self.key_conditions,
            &mut resolver,
        ) {
            (Some(k), Some(text), _, Some(r)) => Some(r.key_condition(text, k)?),
            (Some(k), None, Some(c), _) => Some(legacy::key_conditions(
                &legacy_conditions(c, "keyConditions")?,
                k,
            )?),
            _ => None,
        };
        let filter = match (self.filter, self.legacy_filter, &mut resolver) {
            (Some(text), _, Some(r)) => Some(r.filter(text)?),
            (None, Some(f), _) => {
                let conds = legacy_conditions(f, self.legacy_filter_name)?;
                let mut v = Violations::new();
                let operator = v.parse(self.conditional_operator, "conditionalOperator");
                v.finish()?;
                Some(if key_names.is_some() {
                    legacy::filter(&conds, operator)?
                } else {
                    legacy::scan_filter(&conds, operator)?
                })
            }
            _ => {
                if self.conditional_operator.is_some() {
                    return Err(legacy::conditional_operator_alone_error().into());
                }
                None
            }
        };
        let projection = match (self.projection, self.attributes_to_get, &mut resolver) {
            (Some(text), _, Some(r)) => Some(r.projection(text)?),
            (None, Some(a), _) => Some(legacy::attributes_to_get(a)?),
            _ => None,
        };
        if let Some(r) = resolver {
            r.finish()?;
        }
        Ok(Resolved {
            key,
            filter,
            projection,
        })
    }
}
