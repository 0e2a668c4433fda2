//! The planner: a statement, its parameters and the table's key schema →
//! the JSON operation that does the same thing, as DynamoDB plans it.
//!
//! * SELECT with equality on the whole primary key (and nothing else) is a
//!   GetItem; with equality on the partition key of the table or the named
//!   index it is a Query (one sort-key condition becomes part of the key
//!   condition, the rest a filter); anything else is a Scan with the whole
//!   WHERE clause as its filter. A Query whose remaining conditions read a
//!   key attribute is a Scan too: a Query's filter may not name key
//!   attributes, and the Scan returns the same items.
//! * INSERT is a PutItem that must not find the key, UPDATE an UpdateItem
//!   that must find it, DELETE a DeleteItem; their WHERE clauses name the
//!   whole primary key by equality, and any further conditions become the
//!   write's condition.
//!
//! The plan is a typed value holding the operation's typed input, so the
//! store executes it through its existing operations and a cache in front
//! of the store can classify a statement by what it reads or writes.

use super::ast::{CmpOp, Expr, Function, Literal, Operand, Select, Statement};
use super::literal::bind;
use super::render::Render;
use super::PartiqlError;
use crate::api::keys::TableKeys;
use crate::api::types::{
    DeleteItemInput, GetItemInput, PutItemInput, QueryInput, ScanInput, UpdateItemInput,
};
use crate::model::value::{AttributeValue, Item};

/// What a statement does, as a JSON operation's input.
#[derive(Debug, Clone)]
pub enum Plan {
    Get(GetItemInput),
    Query(QueryInput),
    Scan(ScanInput),
    /// A PutItem conditioned on the key being absent.
    Insert(PutItemInput),
    Update(UpdateItemInput),
    Delete(DeleteItemInput),
}

impl Plan {
    pub fn is_read(&self) -> bool {
        matches!(self, Plan::Get(_) | Plan::Query(_) | Plan::Scan(_))
    }
}

/// DynamoDB's message for a write whose WHERE clause does not fix the key.
pub const KEY_REQUIRED: &str =
    "Where clause does not contain a mandatory equality on all key attributes";

/// Plan `stmt` against a table whose keys are `keys`.
pub fn plan(
    stmt: &Statement,
    params: &[AttributeValue],
    keys: &TableKeys,
) -> Result<Plan, PartiqlError> {
    if params.len() != stmt.parameters() {
        return Err(PartiqlError::parameter_count());
    }
    match stmt {
        Statement::Select(s) => plan_select(s, params, keys),
        Statement::Insert(s) => {
            let AttributeValue::M(item) = bind(&s.item, params)? else {
                return Err(PartiqlError::Validation(
                    "Unsupported value: INSERT takes one item, written as a tuple {...}".into(),
                ));
            };
            let mut r = Render::new(params);
            let condition = format!("attribute_not_exists({})", r.name(&keys.partition));
            let (names, _) = r.finish();
            Ok(Plan::Insert(PutItemInput {
                table_name: Some(s.table.clone()),
                item: Some(item),
                condition_expression: Some(condition),
                expression_attribute_names: names,
                ..Default::default()
            }))
        }
        Statement::Update(s) => {
            let (key, rest) = write_key(&s.filter, params, keys)?;
            let mut r = Render::new(params);
            let update = r.update(&s.actions)?;
            let exists = format!("attribute_exists({})", r.name(&keys.partition));
            let condition = match r.all(&rest)? {
                None => exists,
                Some(c) => format!("{exists} AND ({c})"),
            };
            let (names, values) = r.finish();
            Ok(Plan::Update(UpdateItemInput {
                table_name: Some(s.table.clone()),
                key: Some(key),
                update_expression: Some(update),
                condition_expression: Some(condition),
                expression_attribute_names: names,
                expression_attribute_values: values,
                return_values: s.returning.map(|r| r.return_values().to_owned()),
                ..Default::default()
            }))
        }
        Statement::Delete(s) => {
            if let Some(r) = s.returning.filter(|r| *r != super::ast::Returning::AllOld) {
                return Err(PartiqlError::Validation(format!(
                    "Invalid returning clause: RETURNING {} * is not supported in DELETE statements; only RETURNING ALL OLD * is",
                    r.text()
                )));
            }
            let (key, rest) = write_key(&s.filter, params, keys)?;
            let mut r = Render::new(params);
            // A DELETE of an absent item succeeds with nothing deleted; its
            // conditions only apply to an item that exists.
            let condition = r
                .all(&rest)?
                .map(|c| format!("attribute_not_exists({}) OR ({c})", r.name(&keys.partition)));
            let (names, values) = r.finish();
            Ok(Plan::Delete(DeleteItemInput {
                table_name: Some(s.table.clone()),
                key: Some(key),
                condition_expression: condition,
                expression_attribute_names: names,
                expression_attribute_values: values,
                return_values: s.returning.map(|_| "ALL_OLD".to_owned()),
                ..Default::default()
            }))
        }
    }
}

/// The equality `attr = literal` (either way round) that `e` is, if any.
fn equality<'e>(e: &'e Expr, attr: &str) -> Option<&'e Literal> {
    match e {
        Expr::Cmp(Operand::Path(p), CmpOp::Eq, Operand::Value(v))
        | Expr::Cmp(Operand::Value(v), CmpOp::Eq, Operand::Path(p))
            if p.attribute() == Some(attr) =>
        {
            Some(v)
        }
        _ => None,
    }
}

/// Whether `e` is a condition a Query's key condition can hold on the sort
/// attribute `attr`.
fn sort_condition(e: &Expr, attr: &str) -> bool {
    let is_attr = |o: &Operand| matches!(o, Operand::Path(p) if p.attribute() == Some(attr));
    let is_value = |o: &Operand| matches!(o, Operand::Value(_));
    match e {
        Expr::Cmp(a, op, b) => {
            *op != CmpOp::Ne && ((is_attr(a) && is_value(b)) || (is_value(a) && is_attr(b)))
        }
        Expr::Between(a, lo, hi) => is_attr(a) && is_value(lo) && is_value(hi),
        Expr::Call(Function::BeginsWith, p, arg) => p.attribute() == Some(attr) && is_value(arg),
        _ => false,
    }
}

/// The sort-key condition `e` as key-condition text, with the attribute on
/// the left as a key condition requires.
fn render_sort(r: &mut Render<'_>, e: &Expr) -> Result<String, PartiqlError> {
    if let Expr::Cmp(Operand::Value(v), op, Operand::Path(p)) = e {
        let p = r.path(p);
        let v = r.literal(v)?;
        return Ok(format!("{p} {} {v}", op.flipped().symbol()));
    }
    r.expr(e)
}

/// The key a write statement's WHERE clause fixes, and its other conditions.
fn write_key<'e>(
    filter: &'e Expr,
    params: &[AttributeValue],
    keys: &TableKeys,
) -> Result<(Item, Vec<&'e Expr>), PartiqlError> {
    let mut conj = filter.conjuncts();
    let mut key = Item::new();
    for attr in std::iter::once(&keys.partition).chain(keys.sort.as_ref()) {
        let i = conj
            .iter()
            .position(|e| equality(e, attr).is_some())
            .ok_or_else(|| PartiqlError::Validation(KEY_REQUIRED.into()))?;
        let e = conj.remove(i);
        if let Some(lit) = equality(e, attr) {
            key.insert(attr.clone(), bind(lit, params)?);
        }
    }
    Ok((key, conj))
}

fn plan_select(
    s: &Select,
    params: &[AttributeValue],
    keys: &TableKeys,
) -> Result<Plan, PartiqlError> {
    let mut r = Render::new(params);
    let projection = project(&mut r, s);
    let conj = s.filter.as_ref().map(Expr::conjuncts).unwrap_or_default();
    let target = keys.target(s.index.as_deref());
    if let Some((partition, sort)) = target.as_ref().filter(|_| s.filter.is_some()) {
        let mut used = vec![false; conj.len()];
        let mut partition_found = true;
        for attr in partition {
            match (0..conj.len()).find(|&i| !used[i] && equality(conj[i], attr).is_some()) {
                Some(i) => used[i] = true,
                None => partition_found = false,
            }
        }
        if partition_found {
            // The whole primary key by equality, and nothing else: GetItem.
            if s.index.is_none() {
                let mut get_used = used.clone();
                let sort_found = sort.iter().all(|attr| {
                    match (0..conj.len())
                        .find(|&i| !get_used[i] && equality(conj[i], attr).is_some())
                    {
                        Some(i) => {
                            get_used[i] = true;
                            true
                        }
                        None => false,
                    }
                });
                if sort_found && get_used.iter().all(|u| *u) {
                    let mut key = Item::new();
                    for attr in partition.iter().chain(sort) {
                        if let Some(lit) = conj.iter().find_map(|e| equality(e, attr)) {
                            key.insert(attr.clone(), bind(lit, params)?);
                        }
                    }
                    check_order(s, sort, true)?;
                    let (names, _) = r.finish();
                    return Ok(Plan::Get(GetItemInput {
                        table_name: Some(s.table.clone()),
                        key: Some(key),
                        projection_expression: projection,
                        expression_attribute_names: names,
                        ..Default::default()
                    }));
                }
            }
            let mut key_parts = Vec::new();
            for attr in partition {
                if let Some(i) =
                    (0..conj.len()).find(|&i| used[i] && equality(conj[i], attr).is_some())
                {
                    let p = r.name(attr);
                    let v = match equality(conj[i], attr) {
                        Some(lit) => r.literal(lit)?,
                        None => continue,
                    };
                    key_parts.push(format!("{p} = {v}"));
                }
            }
            if let [attr] = sort.as_slice() {
                if let Some(i) =
                    (0..conj.len()).find(|&i| !used[i] && sort_condition(conj[i], attr))
                {
                    used[i] = true;
                    key_parts.push(render_sort(&mut r, conj[i])?);
                }
            }
            let rest: Vec<&Expr> = (0..conj.len())
                .filter(|&i| !used[i])
                .map(|i| conj[i])
                .collect();
            let key_attrs: Vec<&String> = partition
                .iter()
                .chain(sort)
                .chain(std::iter::once(&keys.partition))
                .chain(keys.sort.as_ref())
                .collect();
            let touches_key = rest.iter().any(|e| {
                e.roots()
                    .iter()
                    .any(|root| key_attrs.iter().any(|k| k == root))
            });
            if !touches_key {
                check_order(s, sort, true)?;
                let filter = r.all(&rest)?;
                let (names, values) = r.finish();
                return Ok(Plan::Query(QueryInput {
                    table_name: Some(s.table.clone()),
                    index_name: s.index.clone(),
                    key_condition_expression: Some(key_parts.join(" AND ")),
                    filter_expression: filter,
                    projection_expression: projection,
                    expression_attribute_names: names,
                    expression_attribute_values: values,
                    scan_index_forward: s.order.as_ref().map(|o| !o.descending),
                    ..Default::default()
                }));
            }
        }
    }
    check_order(s, &[], false)?;
    // A fresh rendering: a Query attempt may have used placeholders.
    let mut r = Render::new(params);
    let projection = project(&mut r, s);
    let filter = match &s.filter {
        Some(f) => Some(r.expr(f)?),
        None => None,
    };
    let (names, values) = r.finish();
    Ok(Plan::Scan(ScanInput {
        table_name: Some(s.table.clone()),
        index_name: s.index.clone(),
        filter_expression: filter,
        projection_expression: projection,
        expression_attribute_names: names,
        expression_attribute_values: values,
        ..Default::default()
    }))
}

/// ORDER BY needs a plan that reads one partition in key order, and a key
/// attribute to order by.
fn check_order(s: &Select, sort: &[String], keyed: bool) -> Result<(), PartiqlError> {
    let Some(order) = &s.order else {
        return Ok(());
    };
    if !keyed {
        return Err(PartiqlError::Validation(
            "Must have WHERE clause in the statement when using ORDER BY clause.".into(),
        ));
    }
    let by = order.path.attribute();
    if sort.is_empty() || by.is_some_and(|b| sort.iter().any(|k| k == b)) {
        return Ok(());
    }
    Err(PartiqlError::Validation(
        "Variable reference in ORDER BY clause must be a key attribute".into(),
    ))
}

/// The ProjectionExpression of a SELECT's attribute list (`None`: `*`).
fn project(r: &mut Render<'_>, s: &Select) -> Option<String> {
    s.projection.as_ref().map(|paths| {
        paths
            .iter()
            .map(|p| r.path(p))
            .collect::<Vec<_>>()
            .join(", ")
    })
}
